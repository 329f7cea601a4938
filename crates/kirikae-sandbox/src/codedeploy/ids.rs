//! Identifiers and pagination as CodeDeploy shapes them.

use rand::Rng;
use serde_json::Value;

use crate::protocol::ApiError;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `d-` + 9 uppercase alphanumerics, e.g. `d-RPCR1U3TW`.
pub fn deployment_id() -> String {
    let mut rng = rand::rng();
    let tail: String = (0..9)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
        .collect();
    format!("d-{tail}")
}

pub fn is_deployment_id(s: &str) -> bool {
    s.strip_prefix("d-")
        .is_some_and(|t| t.len() == 9 && t.bytes().all(|b| ALNUM.contains(&b)))
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An unguessable hook execution id (real ones are long opaque blobs).
pub fn hook_execution_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Items per page of a `List*` answer.
pub const PAGE: usize = 100;

/// One page of `items` after `token` (an opaque offset), and the token of the next page.
pub fn page<T: Clone>(
    items: &[T],
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match token {
        None | Some("") => 0,
        Some(t) => t
            .strip_prefix("kirikae-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                ApiError::new(
                    "InvalidNextTokenException",
                    "The next token was specified in an invalid format.",
                )
            })?,
    };
    let end = (start + PAGE).min(items.len());
    let next = (end < items.len()).then(|| format!("kirikae-{end}"));
    Ok((items[start..end].to_vec(), next))
}

/// The `nextToken` member of an input.
pub fn next_token(input: &Value) -> Option<&str> {
    input.get("nextToken").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_ids_look_like_aws_ones() {
        for _ in 0..100 {
            let id = deployment_id();
            assert!(is_deployment_id(&id), "{id}");
        }
        assert!(!is_deployment_id("d-abc"));
        assert!(!is_deployment_id("d-abcdefghi"));
    }

    #[test]
    fn pages_follow_tokens() {
        let items: Vec<usize> = (0..250).collect();
        let (a, t) = page(&items, None).unwrap();
        assert_eq!(a.len(), 100);
        let (b, t) = page(&items, t.as_deref()).unwrap();
        assert_eq!(b[0], 100);
        let (c, t) = page(&items, t.as_deref()).unwrap();
        assert_eq!(c.len(), 50);
        assert!(t.is_none());
        assert_eq!(
            page(&items, Some("x")).unwrap_err().code,
            "InvalidNextTokenException"
        );
    }
}
