//! Resource tags (`Tags` on every Create*, and Add/Remove/DescribeTags), kept apart from the resources
//! so every kind is tagged the same way.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{Elbv2State, errors, params};
use crate::protocol::ApiError;

/// AWS's quota of tags per resource.
const MAX_TAGS: usize = 50;

#[derive(Default)]
pub struct Tags {
    by_arn: HashMap<String, Vec<(String, Option<String>)>>,
}

impl Tags {
    /// Add or overwrite tags, in the order given (AWS keeps keys unique per resource).
    pub fn add(&mut self, arn: &str, tags: Vec<(String, Option<String>)>) -> Result<(), ApiError> {
        let mut merged = self.by_arn.get(arn).cloned().unwrap_or_default();
        for (k, v) in tags {
            match merged.iter_mut().find(|(key, _)| *key == k) {
                Some(existing) => existing.1 = v,
                None => merged.push((k, v)),
            }
        }
        if merged.len() > MAX_TAGS {
            return Err(ApiError::new(
                "TooManyTagsException",
                format!(
                    "The quota for the number of tags that can be assigned to a resource has been reached ({MAX_TAGS})"
                ),
            ));
        }
        self.by_arn.insert(arn.to_string(), merged);
        Ok(())
    }

    pub fn remove(&mut self, arn: &str, keys: &[String]) {
        if let Some(tags) = self.by_arn.get_mut(arn) {
            tags.retain(|(k, _)| !keys.contains(k));
        }
    }

    pub fn forget(&mut self, arn: &str) {
        self.by_arn.remove(arn);
    }

    pub fn to_json(&self, arn: &str) -> Value {
        let tags = self.by_arn.get(arn).map(Vec::as_slice).unwrap_or_default();
        Value::Array(
            tags.iter()
                .map(|(k, v)| match v {
                    Some(v) => json!({"Key": k, "Value": v}),
                    None => json!({"Key": k}),
                })
                .collect(),
        )
    }
}

/// The `Tags` member of an input, rejecting a key given twice as AWS does.
pub fn from_input(input: &Value) -> Result<Vec<(String, Option<String>)>, ApiError> {
    let mut tags: Vec<(String, Option<String>)> = Vec::new();
    for tag in input
        .get("Tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = params::str_opt(tag, "Key").unwrap_or_default().to_string();
        if tags.iter().any(|(k, _)| *k == key) {
            return Err(ApiError::new(
                "DuplicateTagKeysException",
                format!("Tag key '{key}' specified more than once"),
            ));
        }
        tags.push((key, params::str_opt(tag, "Value").map(str::to_string)));
    }
    Ok(tags)
}

pub fn add_tags(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let arns = params::strings(input, "ResourceArns").unwrap_or_default();
    let tags = from_input(input)?;
    for arn in &arns {
        st.check_resource(arn)?;
    }
    for arn in &arns {
        st.tags.add(arn, tags.clone())?;
    }
    Ok(json!({}))
}

pub fn remove_tags(st: &mut Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let arns = params::strings(input, "ResourceArns").unwrap_or_default();
    let keys = params::strings(input, "TagKeys").unwrap_or_default();
    for arn in &arns {
        st.check_resource(arn)?;
    }
    for arn in &arns {
        st.tags.remove(arn, &keys);
    }
    Ok(json!({}))
}

pub fn describe_tags(st: &Elbv2State, input: &Value) -> Result<Value, ApiError> {
    let arns = params::strings(input, "ResourceArns").unwrap_or_default();
    if arns.len() > 20 {
        return Err(errors::validation(
            "DescribeTags accepts at most 20 resource ARNs",
        ));
    }
    let mut out = Vec::new();
    for arn in &arns {
        st.check_resource(arn)?;
        out.push(json!({"ResourceArn": arn, "Tags": st.tags.to_json(arn)}));
    }
    Ok(json!({"TagDescriptions": out}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_overwrites_and_remove_deletes() {
        let mut t = Tags::default();
        t.add(
            "a",
            vec![("k".into(), Some("1".into())), ("j".into(), None)],
        )
        .unwrap();
        t.add("a", vec![("k".into(), Some("2".into()))]).unwrap();
        assert_eq!(
            t.to_json("a"),
            json!([{"Key": "k", "Value": "2"}, {"Key": "j"}])
        );
        t.remove("a", &["k".into()]);
        assert_eq!(t.to_json("a"), json!([{"Key": "j"}]));
        let dup = json!({"Tags": [{"Key": "x"}, {"Key": "x"}]});
        assert_eq!(
            from_input(&dup).unwrap_err().code,
            "DuplicateTagKeysException"
        );
        let many: Vec<_> = (0..51).map(|i| (format!("k{i}"), None)).collect();
        assert_eq!(t.add("b", many).unwrap_err().code, "TooManyTagsException");
    }
}
