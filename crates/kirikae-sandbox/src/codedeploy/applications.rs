//! Applications: a name and a compute platform that deployment groups and revisions hang from.

use serde_json::{Value, json};

use super::types::Tag;
use super::{application_name, err, ids, member, opt_str, str_list};
use crate::protocol::ApiError;
use crate::world::Ctx;

pub struct Application {
    pub id: String,
    pub name: String,
    /// `Server`, `Lambda` or `ECS`; only ECS applications can have deployment groups here.
    pub compute_platform: String,
    pub create_time: f64,
    pub tags: Vec<Tag>,
}

impl Application {
    fn info(&self) -> Value {
        json!({
            "applicationId": self.id,
            "applicationName": self.name,
            "createTime": self.create_time,
            "linkedToGitHub": false,
            "computePlatform": self.compute_platform,
        })
    }
}

/// Most applications per account and region (AWS's default quota).
const MAX_APPLICATIONS: usize = 1000;

pub fn not_found(name: &str) -> ApiError {
    err(
        "ApplicationDoesNotExistException",
        format!("No application found for name: {name}"),
    )
}

/// The application named `name`, or AWS's exception.
pub fn existing<'a>(cx: &'a Ctx, name: &str) -> Result<&'a Application, ApiError> {
    cx.region
        .codedeploy
        .applications
        .get(name)
        .ok_or_else(|| not_found(name))
}

pub fn create(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let name = application_name(input)?;
    let platform = opt_str(input, "computePlatform").unwrap_or("Server");
    let tags: Vec<Tag> = member(input, "tags")?.unwrap_or_default();
    let state = &mut cx.region.codedeploy;
    if state.applications.contains_key(name) {
        return Err(err(
            "ApplicationAlreadyExistsException",
            format!("The application {name} already exists with the IAM user or AWS account."),
        ));
    }
    if state.applications.len() >= MAX_APPLICATIONS {
        return Err(err(
            "ApplicationLimitExceededException",
            "More applications were attempted to be created than are allowed.",
        ));
    }
    let app = Application {
        id: ids::uuid(),
        name: name.to_string(),
        compute_platform: platform.to_string(),
        create_time: cx.now,
        tags,
    };
    let id = app.id.clone();
    state.applications.insert(name.to_string(), app);
    Ok(json!({ "applicationId": id }))
}

pub fn get(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let name = application_name(input)?;
    Ok(json!({ "application": existing(cx, name)?.info() }))
}

pub fn batch_get(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let names = str_list(input, "applicationNames");
    if names.len() > 100 {
        return Err(err(
            "BatchLimitExceededException",
            "The maximum number of names or IDs allowed for this request (100) was exceeded.",
        ));
    }
    let infos = names
        .iter()
        .map(|n| existing(cx, n).map(Application::info))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "applicationsInfo": infos }))
}

pub fn list(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let names: Vec<String> = cx.region.codedeploy.applications.keys().cloned().collect();
    let (page, next) = ids::page(&names, ids::next_token(input))?;
    let mut out = json!({ "applications": page });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(out)
}

pub fn update(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let Some(old) = opt_str(input, "applicationName") else {
        return Err(err(
            "ApplicationNameRequiredException",
            "The minimum number of required application names was not specified.",
        ));
    };
    let new = opt_str(input, "newApplicationName").unwrap_or(old);
    existing(cx, old)?;
    if old == new {
        return Ok(json!({}));
    }
    let state = &mut cx.region.codedeploy;
    if state.applications.contains_key(new) {
        return Err(err(
            "ApplicationAlreadyExistsException",
            format!("The application {new} already exists with the IAM user or AWS account."),
        ));
    }
    let mut app = state.applications.remove(old).expect("checked above");
    app.name = new.to_string();
    state.applications.insert(new.to_string(), app);
    for g in state.groups.iter_mut().filter(|g| g.application == old) {
        g.application = new.to_string();
    }
    for d in state
        .deployments
        .values_mut()
        .filter(|d| d.application == old)
    {
        d.application = new.to_string();
    }
    for r in state.revisions.iter_mut().filter(|r| r.application == old) {
        r.application = new.to_string();
    }
    Ok(json!({}))
}

/// Idempotent, as in AWS (the model has no does-not-exist error for it). Its groups and revisions go
/// with it; past deployments stay readable.
pub fn delete(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let name = application_name(input)?;
    let state = &mut cx.region.codedeploy;
    state.applications.remove(name);
    state.groups.retain(|g| g.application != name);
    state.revisions.retain(|r| r.application != name);
    Ok(json!({}))
}
