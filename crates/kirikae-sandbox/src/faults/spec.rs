//! A fault as users write it: a JSON object (the control API, `--fault '{…}'`) or the same keys as
//! comma-separated `key=value` pairs (`--fault action=error,operation=GetDeployment,count=3`). Both
//! forms become one [`FaultSpec`], checked completely here, so an accepted fault can always fire as
//! written and a typo is refused up front instead of silently matching nothing.

use serde_json::{Map, Value, json};

use crate::model::Service;

/// What a fault does to the calls (or connections) it hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Answer an AWS error instead of running the call.
    Error,
    /// Run the call (its effects happen), then answer an error instead of its result.
    Ambiguous,
    /// Close the endpoint's listening socket for the window: connections are refused.
    Refuse,
    /// Answer nothing for the window, then close the connection.
    Hang,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Error => "error",
            Action::Ambiguous => "ambiguous",
            Action::Refuse => "refuse",
            Action::Hang => "hang",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        [
            Action::Error,
            Action::Ambiguous,
            Action::Refuse,
            Action::Hang,
        ]
        .into_iter()
        .find(|a| a.name() == s)
    }
}

/// One fault, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    pub action: Action,
    /// Only calls to this service (any service when absent).
    pub service: Option<Service>,
    /// Only calls of this operation (any operation when absent).
    pub operation: Option<String>,
    /// `error` / `ambiguous`: the AWS error code answered (`InternalFailure` unless given).
    pub code: Option<String>,
    pub message: Option<String>,
    /// HTTP status of the error; absent: the model's for a modeled code, else AWS's for the code.
    pub status: Option<u16>,
    /// Fire at most this many times.
    pub count: Option<u64>,
    /// Active for this many real seconds.
    pub seconds: Option<f64>,
    /// Active from this many real seconds after being added.
    pub after_seconds: Option<f64>,
}

/// Why a fault spec was refused; worded for a person typing `--fault` or a curl command.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum FaultSpecError {
    #[error("not a JSON object: {0}")]
    Json(String),
    #[error("a fault must be a JSON object (or key=value pairs on the command line)")]
    NotAnObject,
    #[error("`{0}` is not key=value (e.g. action=error,operation=GetDeployment,count=3)")]
    NotKeyValue(String),
    #[error("`{0}` is given twice")]
    Duplicate(String),
    #[error(
        "unknown key `{0}`; a fault has action, service, operation, code, message, status, count, seconds, after_seconds"
    )]
    UnknownKey(String),
    #[error("`action` is required: error, ambiguous, refuse or hang")]
    MissingAction,
    #[error("unknown action `{0}`: error, ambiguous, refuse or hang")]
    UnknownAction(String),
    #[error("unknown service `{0}`: ecs, elbv2, codedeploy, cloudwatch or iam")]
    UnknownService(String),
    #[error("{service} has no operation `{operation}`")]
    UnknownOperation {
        service: &'static str,
        operation: String,
    },
    #[error("no emulated service has an operation `{0}`")]
    NoSuchOperation(String),
    #[error("`{key}` must be {what}, got {got}")]
    Invalid {
        key: &'static str,
        what: &'static str,
        got: String,
    },
    #[error("action {0} needs `seconds`: how long its window lasts")]
    NeedsSeconds(&'static str),
    #[error("action {action} does not take `{key}`: {why}")]
    NotForAction {
        action: &'static str,
        key: &'static str,
        why: &'static str,
    },
}

const KEYS: [&str; 9] = [
    "action",
    "service",
    "operation",
    "code",
    "message",
    "status",
    "count",
    "seconds",
    "after_seconds",
];

/// Longest window or delay accepted, so deadlines stay far from `Instant` overflow.
const MAX_SECONDS: f64 = 365.0 * 86_400.0;

/// The name a fault uses for a service (the call counters' `Service::name()` forms are accepted too).
pub fn service_key(service: Service) -> &'static str {
    match service {
        Service::Ecs => "ecs",
        Service::Elbv2 => "elbv2",
        Service::CodeDeploy => "codedeploy",
        Service::CloudWatch => "cloudwatch",
        Service::Iam => "iam",
        Service::Sts => "sts",
    }
}

fn parse_service(s: &str) -> Option<Service> {
    let s = s.to_ascii_lowercase();
    Service::ALL
        .into_iter()
        .find(|&svc| service_key(svc) == s || svc.name() == s)
}

impl std::str::FromStr for FaultSpec {
    type Err = FaultSpecError;

    /// `{…}` is read as JSON; anything else as `key=value,…`.
    fn from_str(s: &str) -> Result<FaultSpec, FaultSpecError> {
        if s.trim_start().starts_with('{') {
            let value: Value =
                serde_json::from_str(s).map_err(|e| FaultSpecError::Json(e.to_string()))?;
            return FaultSpec::from_json(&value);
        }
        FaultSpec::from_json(&Value::Object(key_values(s)?))
    }
}

/// `action=error,count=3` as the JSON object it stands for: numbers for the numeric keys, strings
/// for the rest (a `message` with a comma needs the JSON form).
fn key_values(s: &str) -> Result<Map<String, Value>, FaultSpecError> {
    let mut map = Map::new();
    for pair in s.split(',') {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(FaultSpecError::NotKeyValue(pair.to_string()));
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(FaultSpecError::NotKeyValue(pair.to_string()));
        }
        let typed = match key {
            "count" | "status" => value
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(value.to_string())),
            "seconds" | "after_seconds" => value
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(value.to_string())),
            _ => Value::String(value.to_string()),
        };
        if map.insert(key.to_string(), typed).is_some() {
            return Err(FaultSpecError::Duplicate(key.to_string()));
        }
    }
    Ok(map)
}

impl FaultSpec {
    /// A fault from its JSON object. `null` values count as absent, so a fault listed by
    /// `GET /_kirikae/faults` can be posted back once its `id`, `fired` and `active` are removed.
    pub fn from_json(value: &Value) -> Result<FaultSpec, FaultSpecError> {
        let Value::Object(map) = value else {
            return Err(FaultSpecError::NotAnObject);
        };
        if let Some(unknown) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(FaultSpecError::UnknownKey(unknown.clone()));
        }
        let get = |key: &str| map.get(key).filter(|v| !v.is_null());

        let action = match get("action") {
            None => return Err(FaultSpecError::MissingAction),
            Some(v) => {
                let name = string(v, "action")?;
                Action::parse(&name).ok_or(FaultSpecError::UnknownAction(name))?
            }
        };
        let service = match get("service") {
            None => None,
            Some(v) => {
                let name = string(v, "service")?;
                Some(parse_service(&name).ok_or(FaultSpecError::UnknownService(name))?)
            }
        };
        let operation = get("operation")
            .map(|v| string(v, "operation"))
            .transpose()?;
        if let Some(op) = &operation {
            check_operation(service, op)?;
        }
        let code = get("code").map(|v| string(v, "code")).transpose()?;
        if let Some(code) = &code
            && (code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'))
        {
            return Err(invalid(
                "code",
                "an AWS error code (letters and digits)",
                code,
            ));
        }
        let message = get("message").map(|v| string(v, "message")).transpose()?;
        let status = match get("status") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|s| (400..=599).contains(s))
                    .and_then(|s| u16::try_from(s).ok())
                    .ok_or_else(|| invalid("status", "an HTTP error status (400-599)", v))?,
            ),
        };
        let count = match get("count") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| invalid("count", "a whole number of at least 1", v))?,
            ),
        };
        let seconds = match get("seconds") {
            None => None,
            Some(v) => Some(
                v.as_f64()
                    .filter(|&s| s > 0.0 && s <= MAX_SECONDS)
                    .ok_or_else(|| invalid("seconds", "a positive number of seconds", v))?,
            ),
        };
        let after_seconds = match get("after_seconds") {
            None => None,
            Some(v) => Some(
                v.as_f64()
                    .filter(|&s| (0.0..=MAX_SECONDS).contains(&s))
                    .ok_or_else(|| {
                        invalid("after_seconds", "a number of seconds (0 or more)", v)
                    })?,
            ),
        };

        let spec = FaultSpec {
            action,
            service,
            operation,
            code,
            message,
            status,
            count,
            seconds,
            after_seconds,
        };
        spec.for_action()
    }

    /// Checks the keys an action takes, and fills in its defaults.
    fn for_action(mut self) -> Result<FaultSpec, FaultSpecError> {
        let action = self.action.name();
        let not = |key, why| Err(FaultSpecError::NotForAction { action, key, why });
        match self.action {
            Action::Error | Action::Ambiguous => {
                self.code.get_or_insert_with(|| "InternalFailure".into());
            }
            Action::Refuse | Action::Hang => {
                if self.seconds.is_none() {
                    return Err(FaultSpecError::NeedsSeconds(action));
                }
                let answers = "it answers no error";
                for (key, given) in [
                    ("code", self.code.is_some()),
                    ("message", self.message.is_some()),
                    ("status", self.status.is_some()),
                ] {
                    if given {
                        return not(key, answers);
                    }
                }
            }
        }
        if self.action == Action::Refuse {
            // The listening socket is shared by every service and closed before any call is read.
            let whole = "it closes the whole endpoint, before any call is read";
            for (key, given) in [
                ("service", self.service.is_some()),
                ("operation", self.operation.is_some()),
                ("count", self.count.is_some()),
            ] {
                if given {
                    return not(key, whole);
                }
            }
        }
        Ok(self)
    }

    /// The fault's keys as the control API shows them (every key, `null` when absent).
    pub fn to_json(&self) -> Map<String, Value> {
        let json = json!({
            "action": self.action.name(),
            "service": self.service.map(service_key),
            "operation": self.operation,
            "code": self.code,
            "message": self.message,
            "status": self.status,
            "count": self.count,
            "seconds": self.seconds,
            "after_seconds": self.after_seconds,
        });
        match json {
            Value::Object(map) => map,
            _ => unreachable!("json! of an object literal is an object"),
        }
    }
}

fn check_operation(service: Option<Service>, op: &str) -> Result<(), FaultSpecError> {
    match service {
        Some(s) if s.model().operation(op).is_none() => Err(FaultSpecError::UnknownOperation {
            service: service_key(s),
            operation: op.to_string(),
        }),
        None if !Service::ALL
            .iter()
            .any(|s| s.model().operation(op).is_some()) =>
        {
            Err(FaultSpecError::NoSuchOperation(op.to_string()))
        }
        _ => Ok(()),
    }
}

fn string(v: &Value, key: &'static str) -> Result<String, FaultSpecError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| invalid(key, "a string", v))
}

fn invalid(key: &'static str, what: &'static str, got: impl std::fmt::Display) -> FaultSpecError {
    FaultSpecError::Invalid {
        key,
        what,
        got: got.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<FaultSpec, FaultSpecError> {
        s.parse()
    }

    #[test]
    fn key_values_and_json_are_the_same_fault() {
        let kv = parse(
            "action=error, operation=GetDeployment,code=ServiceUnavailable,count=3,seconds=1.5",
        )
        .unwrap();
        let js = parse(
            r#"{"action":"error","operation":"GetDeployment","code":"ServiceUnavailable","count":3,"seconds":1.5}"#,
        )
        .unwrap();
        assert_eq!(kv, js);
        assert_eq!(kv.action, Action::Error);
        assert_eq!(kv.operation.as_deref(), Some("GetDeployment"));
        assert_eq!(kv.count, Some(3));
        assert_eq!(kv.seconds, Some(1.5));
        assert_eq!(kv.service, None);
    }

    #[test]
    fn defaults_and_service_names() {
        let f = parse("action=ambiguous").unwrap();
        assert_eq!(f.code.as_deref(), Some("InternalFailure"));
        assert_eq!(f.status, None);
        for (name, service) in [
            ("ecs", Service::Ecs),
            ("elbv2", Service::Elbv2),
            ("elasticloadbalancing", Service::Elbv2),
            ("codedeploy", Service::CodeDeploy),
            ("cloudwatch", Service::CloudWatch),
            ("monitoring", Service::CloudWatch),
            ("iam", Service::Iam),
            ("ECS", Service::Ecs),
        ] {
            let f = parse(&format!("action=error,service={name}")).unwrap();
            assert_eq!(f.service, Some(service), "{name}");
        }
        // Listed with the short names, every key present.
        let listed = parse("action=error,service=monitoring").unwrap().to_json();
        assert_eq!(listed["service"], "cloudwatch");
        assert_eq!(listed["count"], Value::Null);
        assert_eq!(listed.len(), KEYS.len());
    }

    #[test]
    fn a_listed_fault_posts_back_as_the_same_fault() {
        let f = parse("action=hang,service=ecs,operation=ListClusters,seconds=2,count=1").unwrap();
        assert_eq!(FaultSpec::from_json(&Value::Object(f.to_json())), Ok(f));
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        use FaultSpecError::*;
        let cases: &[(&str, FaultSpecError)] = &[
            ("action=error,cuont=3", UnknownKey("cuont".into())),
            ("action=explode", UnknownAction("explode".into())),
            ("code=Throttling", MissingAction),
            ("action=error,service=s3", UnknownService("s3".into())),
            (
                "action=error,service=ecs,operation=GetDeployment",
                UnknownOperation {
                    service: "ecs",
                    operation: "GetDeployment".into(),
                },
            ),
            (
                "action=error,operation=Nope",
                NoSuchOperation("Nope".into()),
            ),
            ("action=refuse", NeedsSeconds("refuse")),
            ("action=hang", NeedsSeconds("hang")),
            ("action=error,count", NotKeyValue("count".into())),
            ("action=error,action=hang", Duplicate("action".into())),
            ("[1]", NotKeyValue("[1]".into())),
        ];
        for (spec, want) in cases {
            assert_eq!(parse(spec).as_ref(), Err(want), "{spec}");
        }
        for (spec, key) in [
            ("action=error,count=0", "count"),
            ("action=error,count=x", "count"),
            ("action=error,status=200", "status"),
            ("action=error,status=600", "status"),
            ("action=error,seconds=0", "seconds"),
            ("action=error,seconds=-1", "seconds"),
            ("action=error,after_seconds=-1", "after_seconds"),
            ("action=error,code=Bad;Code", "code"),
            (r#"{"action":"error","count":"3"}"#, "count"),
            (r#"{"action":1}"#, "action"),
        ] {
            match parse(spec) {
                Err(Invalid { key: k, .. }) => assert_eq!(k, key, "{spec}"),
                other => panic!("{spec}: {other:?}"),
            }
        }
        for (spec, key) in [
            ("action=refuse,seconds=1,service=ecs", "service"),
            (
                "action=refuse,seconds=1,operation=ListClusters",
                "operation",
            ),
            ("action=refuse,seconds=1,count=1", "count"),
            ("action=hang,seconds=1,code=Throttling", "code"),
            ("action=hang,seconds=1,status=500", "status"),
        ] {
            match parse(spec) {
                Err(NotForAction { key: k, .. }) => assert_eq!(k, key, "{spec}"),
                other => panic!("{spec}: {other:?}"),
            }
        }
        assert!(matches!(parse("{nope"), Err(Json(_))));
        assert_eq!(FaultSpec::from_json(&json!([1])), Err(NotAnObject));
        // Messages name the problem.
        assert_eq!(
            parse("action=error,count=0").unwrap_err().to_string(),
            "`count` must be a whole number of at least 1, got 0"
        );
    }

    #[test]
    fn hang_takes_filters_and_refuse_takes_a_delay() {
        let hang =
            parse("action=hang,service=codedeploy,operation=GetDeployment,seconds=3,count=2")
                .unwrap();
        assert_eq!(hang.service, Some(Service::CodeDeploy));
        assert_eq!(hang.code, None);
        let refuse = parse("action=refuse,seconds=2,after_seconds=0.5").unwrap();
        assert_eq!(refuse.after_seconds, Some(0.5));
    }
}
