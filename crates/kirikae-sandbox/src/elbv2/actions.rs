//! Listener and rule actions: `forward` (one target group or a weighted `ForwardConfig`),
//! `fixed-response` and `redirect`. Parsed once from the input into a typed form the proxy routes by,
//! and echoed back the way AWS describes them.

use serde_json::{Map, Value, json};

use super::{errors, params};
use crate::protocol::ApiError;

#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// `Order`; AWS fills in 1 for a lone action given without one.
    pub order: i64,
    pub kind: ActionKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    Forward(Forward),
    FixedResponse(FixedResponse),
    Redirect(Redirect),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Forward {
    pub groups: Vec<WeightedGroup>,
    pub stickiness_enabled: bool,
    pub stickiness_duration: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WeightedGroup {
    pub arn: String,
    pub weight: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FixedResponse {
    pub status_code: String,
    pub content_type: Option<String>,
    pub message_body: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Redirect {
    pub protocol: Option<String>,
    pub host: Option<String>,
    pub port: Option<String>,
    pub path: Option<String>,
    pub query: Option<String>,
    /// `HTTP_301` or `HTTP_302`.
    pub status_code: String,
}

/// Parse an `Actions`/`DefaultActions` list. `known_group` says whether a target group ARN exists.
pub fn parse(
    list: Option<&Value>,
    known_group: impl Fn(&str) -> bool,
) -> Result<Vec<Action>, ApiError> {
    let items = list
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if items.is_empty() {
        return Err(errors::validation("At least one action must be specified"));
    }
    let mut actions = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let kind = match params::str_opt(item, "Type").unwrap_or_default() {
            "forward" => ActionKind::Forward(parse_forward(item)?),
            "fixed-response" => ActionKind::FixedResponse(parse_fixed_response(item)?),
            "redirect" => ActionKind::Redirect(parse_redirect(item)?),
            other => {
                // Authentication and JWT actions need an HTTPS listener, which the sandbox does not serve.
                return Err(ApiError::new(
                    "InvalidLoadBalancerActionException",
                    format!("The action type '{other}' is supported only on HTTPS listeners"),
                ));
            }
        };
        let order = params::i64_opt(item, "Order").unwrap_or(i as i64 + 1);
        actions.push(Action { order, kind });
    }
    // Every rule ends in exactly one routing action; without authentication actions that is the only one.
    if actions.len() > 1 {
        return Err(ApiError::new(
            "InvalidLoadBalancerActionException",
            "A rule can have only one forward, redirect or fixed-response action",
        ));
    }
    for arn in target_groups(&actions) {
        if !known_group(arn) {
            return Err(errors::target_group_not_found(arn));
        }
    }
    Ok(actions)
}

fn parse_forward(item: &Value) -> Result<Forward, ApiError> {
    let single = params::str_opt(item, "TargetGroupArn");
    let config = item.get("ForwardConfig");
    let mut groups = Vec::new();
    let tuples = config
        .and_then(|c| c.get("TargetGroups"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for tuple in tuples {
        let arn = params::str_opt(tuple, "TargetGroupArn").ok_or_else(|| {
            errors::validation("A target group ARN must be specified in ForwardConfig")
        })?;
        if groups.iter().any(|g: &WeightedGroup| g.arn == arn) {
            return Err(errors::validation(format!(
                "Target group '{arn}' is specified more than once in ForwardConfig"
            )));
        }
        // "The range is 0 to 999" (model); AWS refuses other weights with these words, and so a
        // weighted forward whose groups lack weights. A lone group without one is taken as weight 1.
        let weight = match params::i64_opt(tuple, "Weight") {
            Some(w) if (0..=999).contains(&w) => w as u32,
            None if tuples.len() == 1 => 1,
            _ => {
                return Err(errors::validation(
                    "The weight for each target group must be between 0 and 999, inclusive",
                ));
            }
        };
        groups.push(WeightedGroup {
            arn: arn.to_string(),
            weight,
        });
    }
    match (single, groups.is_empty()) {
        (None, true) => {
            return Err(errors::validation(
                "A target group ARN must be specified for a forward action",
            ));
        }
        (Some(arn), true) => groups.push(WeightedGroup {
            arn: arn.to_string(),
            weight: 1,
        }),
        (Some(arn), false) if groups.len() != 1 || groups[0].arn != arn => {
            return Err(errors::validation(
                "You can specify both TargetGroupArn and ForwardConfig only with the same single target group",
            ));
        }
        _ => {}
    }
    let stickiness = config.and_then(|c| c.get("TargetGroupStickinessConfig"));
    Ok(Forward {
        groups,
        stickiness_enabled: stickiness
            .and_then(|s| params::bool_opt(s, "Enabled"))
            .unwrap_or(false),
        stickiness_duration: stickiness.and_then(|s| params::i64_opt(s, "DurationSeconds")),
    })
}

fn parse_fixed_response(item: &Value) -> Result<FixedResponse, ApiError> {
    let config = item.get("FixedResponseConfig").ok_or_else(|| {
        errors::validation("A fixed-response action requires FixedResponseConfig")
    })?;
    let status_code = params::str_opt(config, "StatusCode")
        .unwrap_or_default()
        .to_string();
    let valid = status_code.len() == 3
        && status_code.bytes().all(|b| b.is_ascii_digit())
        && matches!(status_code.as_bytes()[0], b'2' | b'4' | b'5');
    if !valid {
        return Err(errors::validation(format!(
            "Fixed-response status code '{status_code}' must be 2XX, 4XX or 5XX"
        )));
    }
    Ok(FixedResponse {
        status_code,
        content_type: params::str_opt(config, "ContentType").map(str::to_string),
        message_body: params::str_opt(config, "MessageBody").map(str::to_string),
    })
}

fn parse_redirect(item: &Value) -> Result<Redirect, ApiError> {
    let config = item
        .get("RedirectConfig")
        .ok_or_else(|| errors::validation("A redirect action requires RedirectConfig"))?;
    let get = |k| params::str_opt(config, k).map(str::to_string);
    if let Some(path) = get("Path")
        && !path.starts_with('/')
    {
        return Err(errors::validation("A redirect path must start with a '/'"));
    }
    Ok(Redirect {
        protocol: get("Protocol"),
        host: get("Host"),
        port: get("Port"),
        path: get("Path"),
        query: get("Query"),
        status_code: get("StatusCode").unwrap_or_else(|| "HTTP_302".into()),
    })
}

/// Every target group the actions forward to (weight 0 included: such a group is still in use).
pub fn target_groups(actions: &[Action]) -> impl Iterator<Item = &str> {
    actions.iter().flat_map(|a| match &a.kind {
        ActionKind::Forward(f) => f.groups.iter().map(|g| g.arn.as_str()).collect::<Vec<_>>(),
        _ => Vec::new(),
    })
}

/// The action that decides a request's fate (the last by `Order`).
pub fn routing_action(actions: &[Action]) -> Option<&Action> {
    actions.iter().max_by_key(|a| a.order)
}

pub fn to_json(actions: &[Action]) -> Value {
    Value::Array(actions.iter().map(Action::to_json).collect())
}

impl Action {
    /// As AWS describes it: a single-group forward carries both `TargetGroupArn` and a one-entry
    /// `ForwardConfig`; a weighted forward carries `ForwardConfig` only.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        match &self.kind {
            ActionKind::Forward(f) => {
                out.insert("Type".into(), json!("forward"));
                if let [only] = f.groups.as_slice() {
                    out.insert("TargetGroupArn".into(), json!(only.arn));
                }
                let mut stickiness = json!({"Enabled": f.stickiness_enabled});
                if let Some(d) = f.stickiness_duration {
                    stickiness["DurationSeconds"] = json!(d);
                }
                let groups: Vec<Value> = f
                    .groups
                    .iter()
                    .map(|g| json!({"TargetGroupArn": g.arn, "Weight": g.weight}))
                    .collect();
                out.insert(
                    "ForwardConfig".into(),
                    json!({"TargetGroups": groups, "TargetGroupStickinessConfig": stickiness}),
                );
            }
            ActionKind::FixedResponse(r) => {
                out.insert("Type".into(), json!("fixed-response"));
                let mut config = json!({"StatusCode": r.status_code});
                if let Some(t) = &r.content_type {
                    config["ContentType"] = json!(t);
                }
                if let Some(b) = &r.message_body {
                    config["MessageBody"] = json!(b);
                }
                out.insert("FixedResponseConfig".into(), config);
            }
            ActionKind::Redirect(r) => {
                out.insert("Type".into(), json!("redirect"));
                // AWS echoes the placeholders it filled in for omitted components.
                out.insert(
                    "RedirectConfig".into(),
                    json!({
                        "Protocol": r.protocol.as_deref().unwrap_or("#{protocol}"),
                        "Host": r.host.as_deref().unwrap_or("#{host}"),
                        "Port": r.port.as_deref().unwrap_or("#{port}"),
                        "Path": r.path.as_deref().unwrap_or("/#{path}"),
                        "Query": r.query.as_deref().unwrap_or("#{query}"),
                        "StatusCode": r.status_code,
                    }),
                );
            }
        }
        out.insert("Order".into(), json!(self.order));
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(_: &str) -> bool {
        true
    }

    #[test]
    fn single_forward_echoes_both_forms() {
        let a = parse(
            Some(&json!([{"Type": "forward", "TargetGroupArn": "tg-a"}])),
            any,
        )
        .unwrap();
        assert_eq!(
            to_json(&a),
            json!([{
                "Type": "forward",
                "TargetGroupArn": "tg-a",
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": "tg-a", "Weight": 1}],
                    "TargetGroupStickinessConfig": {"Enabled": false}
                },
                "Order": 1
            }])
        );
    }

    #[test]
    fn weighted_forward_echoes_forward_config_only() {
        let input = json!([{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": "green", "Weight": 100}, {"TargetGroupArn": "blue", "Weight": 0}
        ], "TargetGroupStickinessConfig": {"Enabled": false}}}]);
        let a = parse(Some(&input), any).unwrap();
        let out = to_json(&a);
        assert!(out[0].get("TargetGroupArn").is_none());
        assert_eq!(
            out[0]["ForwardConfig"]["TargetGroups"][1],
            json!({"TargetGroupArn": "blue", "Weight": 0})
        );
        assert_eq!(target_groups(&a).collect::<Vec<_>>(), vec!["green", "blue"]);
    }

    #[test]
    fn weights_outside_0_to_999_are_refused_not_clamped() {
        let forward =
            |groups: Value| json!([{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]);
        for bad in [
            json!([{"TargetGroupArn": "a", "Weight": 1000}, {"TargetGroupArn": "b", "Weight": 0}]),
            json!([{"TargetGroupArn": "a", "Weight": -1}, {"TargetGroupArn": "b", "Weight": 1}]),
            json!([{"TargetGroupArn": "a", "Weight": 1000}]),
            // A weighted forward needs a weight for each group.
            json!([{"TargetGroupArn": "a", "Weight": 1}, {"TargetGroupArn": "b"}]),
        ] {
            let e = parse(Some(&forward(bad.clone())), any).unwrap_err();
            assert_eq!(e.code, "ValidationError", "{bad}");
            assert_eq!(
                e.message,
                "The weight for each target group must be between 0 and 999, inclusive"
            );
        }
        for good in [
            json!([{"TargetGroupArn": "a", "Weight": 999}, {"TargetGroupArn": "b", "Weight": 0}]),
            json!([{"TargetGroupArn": "a"}]),
        ] {
            parse(Some(&forward(good.clone())), any).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn invalid_actions_are_rejected() {
        let unknown = parse(
            Some(&json!([{"Type": "forward", "TargetGroupArn": "ghost"}])),
            |_| false,
        );
        assert_eq!(unknown.unwrap_err().code, "TargetGroupNotFoundException");
        let both = json!([{"Type": "forward", "TargetGroupArn": "a",
                           "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "b"}]}}]);
        assert_eq!(parse(Some(&both), any).unwrap_err().code, "ValidationError");
        assert_eq!(
            parse(Some(&json!([])), any).unwrap_err().code,
            "ValidationError"
        );
        let two = json!([{"Type": "forward", "TargetGroupArn": "a"}, {"Type": "forward", "TargetGroupArn": "b"}]);
        assert_eq!(
            parse(Some(&two), any).unwrap_err().code,
            "InvalidLoadBalancerActionException"
        );
        let fixed =
            json!([{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "302"}}]);
        assert_eq!(
            parse(Some(&fixed), any).unwrap_err().code,
            "ValidationError"
        );
        let oidc = json!([{"Type": "authenticate-oidc"}]);
        assert_eq!(
            parse(Some(&oidc), any).unwrap_err().code,
            "InvalidLoadBalancerActionException"
        );
    }
}
