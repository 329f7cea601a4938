//! Application revisions: CodeDeploy registers every revision a deployment uses, and tools read them
//! back (ecspresso finds a deployment's task definition with `GetApplicationRevision`).

use serde_json::{Value, json};

use super::{application_name, applications, err, ids, opt_str, sha256};
use crate::protocol::ApiError;
use crate::world::Ctx;

pub struct RevisionRecord {
    pub application: String,
    key: String,
    revision: Value,
    description: Option<String>,
    deployment_groups: Vec<String>,
    register_time: f64,
    first_used: Option<f64>,
    last_used: Option<f64>,
}

/// What identifies a revision: its type and content (inline revisions are identified by content).
fn key(revision: &Value) -> String {
    let kind = revision
        .get("revisionType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let content = match kind {
        "AppSpecContent" => revision.pointer("/appSpecContent/content"),
        "String" => revision.pointer("/string/content"),
        _ => None,
    };
    match content.and_then(Value::as_str) {
        Some(c) => format!("{kind}:{}", sha256::hex(c.as_bytes())),
        None => format!("{kind}:{revision}"),
    }
}

/// The revision with its sha256 filled in, as CodeDeploy reports inline revisions.
fn completed(revision: &Value) -> Value {
    let mut r = revision.clone();
    for (kind, member) in [("AppSpecContent", "appSpecContent"), ("String", "string")] {
        if r.get("revisionType").and_then(Value::as_str) == Some(kind)
            && let Some(body) = r.get_mut(member)
            && let Some(content) = body
                .get("content")
                .and_then(Value::as_str)
                .map(String::from)
            && body.get("sha256").is_none()
        {
            body["sha256"] = json!(sha256::hex(content.as_bytes()));
        }
    }
    r
}

fn upsert<'a>(cx: &'a mut Ctx, app: &str, revision: &Value) -> &'a mut RevisionRecord {
    let k = key(revision);
    let now = cx.now;
    let list = &mut cx.region.codedeploy.revisions;
    let pos = match list.iter().position(|r| r.application == app && r.key == k) {
        Some(p) => p,
        None => {
            list.push(RevisionRecord {
                application: app.to_string(),
                key: k,
                revision: completed(revision),
                description: None,
                deployment_groups: Vec::new(),
                register_time: now,
                first_used: None,
                last_used: None,
            });
            list.len() - 1
        }
    };
    &mut list[pos]
}

/// A deployment used `revision`: register it as CodeDeploy does.
pub fn record_use(
    cx: &mut Ctx,
    app: &str,
    revision: &Value,
    group: &str,
    description: Option<&str>,
) {
    let now = cx.now;
    let r = upsert(cx, app, revision);
    r.first_used.get_or_insert(now);
    r.last_used = Some(now);
    if !r.deployment_groups.iter().any(|g| g == group) {
        r.deployment_groups.push(group.to_string());
    }
    if let Some(d) = description {
        r.description = Some(d.to_string());
    }
}

impl RevisionRecord {
    fn generic_info(&self) -> Value {
        let mut v = json!({ "deploymentGroups": self.deployment_groups, "registerTime": self.register_time });
        if let Some(d) = &self.description {
            v["description"] = json!(d);
        }
        if let Some(t) = self.first_used {
            v["firstUsedTime"] = json!(t);
        }
        if let Some(t) = self.last_used {
            v["lastUsedTime"] = json!(t);
        }
        v
    }
}

fn revision_arg(input: &Value) -> Result<&Value, ApiError> {
    input
        .get("revision")
        .filter(|v| v.is_object())
        .ok_or_else(|| {
            err(
                "RevisionRequiredException",
                "The revision ID was not specified.",
            )
        })
}

fn find<'a>(cx: &'a Ctx, app: &str, revision: &Value) -> Option<&'a RevisionRecord> {
    let k = key(revision);
    cx.region
        .codedeploy
        .revisions
        .iter()
        .find(|r| r.application == app && r.key == k)
}

pub fn register(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let app = application_name(input)?;
    applications::existing(cx, app)?;
    let revision = revision_arg(input)?.clone();
    let description = opt_str(input, "description").map(String::from);
    let r = upsert(cx, app, &revision);
    if description.is_some() {
        r.description = description;
    }
    Ok(json!({}))
}

pub fn get(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let app = application_name(input)?;
    applications::existing(cx, app)?;
    let revision = revision_arg(input)?;
    let r = find(cx, app, revision).ok_or_else(|| {
        err(
            "RevisionDoesNotExistException",
            "The named revision does not exist with the IAM user or AWS account.",
        )
    })?;
    Ok(json!({ "applicationName": app, "revision": r.revision, "revisionInfo": r.generic_info() }))
}

pub fn batch_get(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let app = application_name(input)?;
    applications::existing(cx, app)?;
    let wanted = input
        .get("revisions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if wanted.is_empty() {
        return Err(err(
            "RevisionRequiredException",
            "The revision ID was not specified.",
        ));
    }
    if wanted.len() > 25 {
        return Err(err(
            "BatchLimitExceededException",
            "The maximum number of names or IDs allowed for this request (25) was exceeded.",
        ));
    }
    let mut infos = Vec::new();
    let mut missing = 0;
    for w in &wanted {
        match find(cx, app, w) {
            Some(r) => infos.push(
                json!({ "revisionLocation": r.revision, "genericRevisionInfo": r.generic_info() }),
            ),
            None => missing += 1,
        }
    }
    let mut out = json!({ "applicationName": app, "revisions": infos });
    if missing > 0 {
        out["errorMessage"] = json!(format!(
            "{missing} of the requested revisions were not found."
        ));
    }
    Ok(out)
}

pub fn list(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let app = application_name(input)?;
    applications::existing(cx, app)?;
    let all: Vec<Value> = cx
        .region
        .codedeploy
        .revisions
        .iter()
        .filter(|r| r.application == app)
        .map(|r| r.revision.clone())
        .collect();
    let (page, next) = ids::page(&all, ids::next_token(input))?;
    let mut out = json!({ "revisions": page });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}
