//! Tags on applications and deployment groups, addressed by ARN
//! (`arn:aws:codedeploy:R:A:application:NAME`, `…:deploymentgroup:APP/GROUP`).

use serde_json::{Value, json};

use super::types::Tag;
use super::{applications, deployment_groups, err, member, opt_str, str_list};
use crate::protocol::ApiError;
use crate::world::Ctx;

fn tags_of<'a>(cx: &'a mut Ctx, input: &Value) -> Result<&'a mut Vec<Tag>, ApiError> {
    let arn = opt_str(input, "ResourceArn").ok_or_else(|| {
        err(
            "ResourceArnRequiredException",
            "The ARN of a resource is required, but was not found.",
        )
    })?;
    let prefix = cx.region.key.arn("codedeploy", "");
    let Some(resource) = arn.strip_prefix(&prefix) else {
        return Err(err(
            "InvalidArnException",
            format!(
                "The specified ARN {arn} is not in a valid format or does not belong to this account and region."
            ),
        ));
    };
    if let Some(app) = resource.strip_prefix("application:") {
        return cx
            .region
            .codedeploy
            .applications
            .get_mut(app)
            .map(|a| &mut a.tags)
            .ok_or_else(|| applications::not_found(app));
    }
    if let Some((app, group)) = resource
        .strip_prefix("deploymentgroup:")
        .and_then(|r| r.split_once('/'))
    {
        return cx
            .region
            .codedeploy
            .groups
            .iter_mut()
            .find(|g| g.application == app && g.name == group)
            .map(|g| &mut g.tags)
            .ok_or_else(|| deployment_groups::not_found(group));
    }
    Err(err(
        "ArnNotSupportedException",
        format!(
            "The specified ARN {arn} is not supported: tags apply to applications and deployment groups."
        ),
    ))
}

pub fn tag(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let new: Vec<Tag> = member(input, "Tags")?.unwrap_or_default();
    if new.is_empty() {
        return Err(err("TagRequiredException", "A tag was not specified."));
    }
    let tags = tags_of(cx, input)?;
    for t in new {
        match tags.iter_mut().find(|o| o.key == t.key) {
            Some(o) => o.value = t.value,
            None => tags.push(t),
        }
    }
    Ok(json!({}))
}

pub fn untag(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let keys = str_list(input, "TagKeys");
    let tags = tags_of(cx, input)?;
    tags.retain(|t| !keys.contains(&t.key));
    Ok(json!({}))
}

pub fn list(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let tags = tags_of(cx, input)?.clone();
    Ok(json!({ "Tags": tags }))
}
