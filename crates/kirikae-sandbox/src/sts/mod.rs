//! STS: GetCallerIdentity only — who a client's credentials are, which tools record (kirikae writes it
//! into the deployments it creates). The sandbox accepts any credentials and has no IAM users, so every
//! caller is the account's root user, answered as AWS answers root credentials (STS API reference,
//! GetCallerIdentity: `UserId` is the account id and `Arn` is `arn:aws:iam::ACCOUNT:root`). The account
//! is the one the access key names (see [`crate::protocol::DEFAULT_ACCOUNT`]).

use serde_json::{Value, json};

use crate::protocol::ApiError;

/// One STS call from `account`.
pub fn handle(account: &str, op: &str) -> Result<Value, ApiError> {
    match op {
        "GetCallerIdentity" => Ok(json!({
            "UserId": account,
            "Account": account,
            "Arn": format!("arn:aws:iam::{account}:root"),
        })),
        _ => Err(ApiError::new(
            "InvalidAction",
            format!(
                "sts:{op} is not implemented in the kirikae sandbox (it answers GetCallerIdentity only)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_is_the_accounts_root_user() {
        let out = handle("123456789012", "GetCallerIdentity").unwrap();
        assert_eq!(out["Arn"], "arn:aws:iam::123456789012:root");
        assert_eq!(out["Account"], "123456789012");
        let err = handle("123456789012", "AssumeRole").unwrap_err();
        assert_eq!(err.code, "InvalidAction");
    }
}
