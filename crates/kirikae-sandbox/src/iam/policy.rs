//! Trust policies (a role's `AssumeRolePolicyDocument`): validated as IAM validates them when a role is
//! created or its trust is updated (`MalformedPolicyDocument` otherwise), and asked one question: may a
//! given AWS service `sts:AssumeRole` it? Conditions are accepted and not evaluated (trust policies use
//! them to narrow who may assume, e.g. `aws:SourceAccount`; the sandbox has one caller per account).

use serde_json::{Map, Value};

/// A parsed trust policy: its statements, in order.
#[derive(Clone, Debug)]
pub struct TrustPolicy {
    statements: Vec<Statement>,
}

#[derive(Clone, Debug)]
struct Statement {
    allow: bool,
    /// `Principal` (`false`: `NotPrincipal`).
    principal_listed: bool,
    principals: Principals,
    /// `Action` (`false`: `NotAction`), lower-cased.
    action_listed: bool,
    actions: Vec<String>,
}

#[derive(Clone, Debug)]
enum Principals {
    /// `"*"`, or `{"AWS": "*"}`: everyone.
    Everyone,
    /// Service principals (`codedeploy.amazonaws.com`), lower-cased; other kinds are kept out: no
    /// service ever matches them.
    Services(Vec<String>),
}

/// The trust policy AWS's guides give a role that `service` assumes.
pub fn trust_document(service: &str) -> String {
    // Written out rather than through `json!`, whose maps sort keys: `Version` reads best first.
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":{}}},"Action":"sts:AssumeRole"}}]}}"#,
        Value::from(service)
    )
}

/// Parse and validate a trust policy; `Err` is the `MalformedPolicyDocument` message.
pub fn parse_trust(document: &str) -> Result<TrustPolicy, String> {
    let doc: Value = serde_json::from_str(document)
        .map_err(|_| "This policy contains invalid Json".to_string())?;
    let Some(doc) = doc.as_object() else {
        return Err(syntax());
    };
    if let Some(key) = doc
        .keys()
        .find(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement"))
    {
        return Err(format!("Syntax errors in policy. Unknown field {key}"));
    }
    match doc.get("Version") {
        None => {}
        Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
        Some(_) => return Err("The policy failed legacy parsing".to_string()),
    }
    let statements = match doc.get("Statement") {
        Some(Value::Array(items)) if !items.is_empty() => items.iter().collect::<Vec<_>>(),
        Some(item @ Value::Object(_)) => vec![item],
        Some(_) => return Err(syntax()),
        None => return Err("Missing required field Statement".to_string()),
    };
    let statements = statements
        .into_iter()
        .map(|s| s.as_object().ok_or_else(syntax).and_then(statement))
        .collect::<Result<_, _>>()?;
    Ok(TrustPolicy { statements })
}

fn syntax() -> String {
    "Syntax errors in policy.".to_string()
}

fn statement(s: &Map<String, Value>) -> Result<Statement, String> {
    const FIELDS: [&str; 8] = [
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Condition",
        "Resource",
    ];
    if let Some(key) = s.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("Syntax errors in policy. Unknown field {key}"));
    }
    if s.contains_key("Resource") {
        return Err("Has prohibited field Resource".to_string());
    }
    if s.get("Sid").is_some_and(|v| !v.is_string()) {
        return Err(syntax());
    }
    let allow = match s.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => true,
        Some(Value::String(e)) if e == "Deny" => false,
        Some(_) => return Err(syntax()),
        None => return Err("Missing required field Effect".to_string()),
    };
    let (principal_listed, principal) = match (s.get("Principal"), s.get("NotPrincipal")) {
        (Some(p), None) => (true, p),
        (None, Some(p)) => (false, p),
        (None, None) => return Err("Missing required field Principal".to_string()),
        (Some(_), Some(_)) => return Err(syntax()),
    };
    let principals = principals(principal)?;
    let (action_listed, actions) = match (s.get("Action"), s.get("NotAction")) {
        (Some(a), None) => (true, a),
        (None, Some(a)) => (false, a),
        (None, None) => return Err("Policy statement must contain actions.".to_string()),
        (Some(_), Some(_)) => return Err(syntax()),
    };
    let actions = strings(actions).ok_or_else(syntax)?;
    if actions.is_empty() {
        return Err("Policy statement must contain actions.".to_string());
    }
    if actions.iter().any(|a| a != "*" && !a.contains(':')) {
        return Err(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
                .to_string(),
        );
    }
    if s.get("Condition").is_some_and(|c| !c.is_object()) {
        return Err(syntax());
    }
    Ok(Statement {
        allow,
        principal_listed,
        principals,
        action_listed,
        actions: actions.iter().map(|a| a.to_lowercase()).collect(),
    })
}

/// A string or a non-empty list of strings.
fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

fn principals(p: &Value) -> Result<Principals, String> {
    match p {
        Value::String(s) if s == "*" => return Ok(Principals::Everyone),
        Value::Object(_) => {}
        _ => return Err(syntax()),
    }
    let mut services = Vec::new();
    let mut everyone = false;
    for (kind, values) in p.as_object().into_iter().flatten() {
        let values = strings(values)
            .filter(|v| !v.is_empty())
            .ok_or_else(syntax)?;
        let invalid = |v: &str| {
            format!(
                "Invalid principal in policy: \"{}\":\"{v}\"",
                kind.to_uppercase()
            )
        };
        for v in values {
            match kind.as_str() {
                "Service" => {
                    if !is_service_principal(&v) {
                        return Err(invalid(&v));
                    }
                    services.push(v.to_lowercase());
                }
                "AWS" => {
                    if v == "*" {
                        everyone = true;
                    } else if !is_aws_principal(&v) {
                        return Err(invalid(&v));
                    }
                }
                "Federated" | "CanonicalUser" => {
                    if v.is_empty() {
                        return Err(invalid(&v));
                    }
                }
                _ => return Err(syntax()),
            }
        }
    }
    Ok(if everyone {
        Principals::Everyone
    } else {
        Principals::Services(services)
    })
}

/// `name.amazonaws.com` (or a regional `name.REGION.amazonaws.com`, `….amazonaws.com.cn`).
fn is_service_principal(v: &str) -> bool {
    let host = v
        .strip_suffix(".amazonaws.com")
        .or_else(|| v.strip_suffix(".amazonaws.com.cn"));
    host.is_some_and(|h| {
        !h.is_empty()
            && h.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    })
}

/// A 12-digit account id or an IAM ARN (`arn:aws:iam::123456789012:root`, `…:role/x`, `…:user/x`).
fn is_aws_principal(v: &str) -> bool {
    if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let parts: Vec<&str> = v.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && matches!(parts[2], "iam" | "sts")
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty()
}

impl TrustPolicy {
    /// Whether AWS service `service` (e.g. `codedeploy.amazonaws.com`) may `sts:AssumeRole` the role:
    /// an `Allow` statement names it (or everyone) for that action, and no `Deny` statement does.
    pub fn lets_service_assume(&self, service: &str) -> bool {
        let service = service.to_lowercase();
        let applies = |s: &Statement| {
            s.principal_listed == s.principals.include(&service)
                && s.action_listed == s.actions.iter().any(|a| glob(a, "sts:assumerole"))
        };
        self.statements.iter().any(|s| s.allow && applies(s))
            && !self.statements.iter().any(|s| !s.allow && applies(s))
    }
}

impl Principals {
    fn include(&self, service: &str) -> bool {
        match self {
            Principals::Everyone => true,
            Principals::Services(names) => names.iter().any(|n| same_service(n, service)),
        }
    }
}

/// `codedeploy.amazonaws.com` also answers to its regional form `codedeploy.us-east-1.amazonaws.com`.
fn same_service(principal: &str, service: &str) -> bool {
    if principal == service {
        return true;
    }
    let (Some(name), Some(rest)) = (
        service.strip_suffix(".amazonaws.com"),
        principal.strip_suffix(".amazonaws.com"),
    ) else {
        return false;
    };
    rest.strip_prefix(name)
        .and_then(|r| r.strip_prefix('.'))
        .is_some_and(|region| !region.is_empty() && !region.contains('.'))
}

/// IAM's wildcard match (`*` any run, `?` one character); both sides lower-cased by the caller.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trusts(doc: Value, service: &str) -> bool {
        parse_trust(&doc.to_string())
            .unwrap_or_else(|e| panic!("{e}: {doc}"))
            .lets_service_assume(service)
    }

    fn malformed(doc: &str) -> String {
        parse_trust(doc).expect_err(doc)
    }

    const CD: &str = "codedeploy.amazonaws.com";

    #[test]
    fn the_guides_trust_policies_let_their_service_assume_the_role() {
        let doc: Value = serde_json::from_str(&trust_document(CD)).unwrap();
        assert!(trusts(doc.clone(), CD));
        assert!(!trusts(doc, "ecs-tasks.amazonaws.com"));
        // The ECS guide's form: a list of services, an empty Sid.
        let guide = json!({"Version": "2012-10-17", "Statement": [{"Sid": "", "Effect": "Allow",
            "Principal": {"Service": ["codedeploy.amazonaws.com"]}, "Action": "sts:AssumeRole"}]});
        assert!(trusts(guide, CD));
    }

    #[test]
    fn principals_actions_wildcards_and_denials() {
        let st = |principal: Value, action: Value| json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": principal, "Action": action}});
        assert!(trusts(st(json!("*"), json!("sts:AssumeRole")), CD));
        assert!(trusts(st(json!({"AWS": "*"}), json!("sts:*")), CD));
        assert!(trusts(
            st(
                json!({"Service": "CodeDeploy.amazonaws.com"}),
                json!("STS:assumerole")
            ),
            CD
        ));
        assert!(trusts(
            st(
                json!({"Service": "codedeploy.eu-west-1.amazonaws.com"}),
                json!("*")
            ),
            CD
        ));
        assert!(trusts(
            st(
                json!({"Service": [CD, "ecs.amazonaws.com"]}),
                json!(["sts:TagSession", "sts:Assume*"])
            ),
            CD
        ));
        assert!(!trusts(
            st(
                json!({"Service": "ecs-tasks.amazonaws.com"}),
                json!("sts:AssumeRole")
            ),
            CD
        ));
        assert!(!trusts(
            st(
                json!({"AWS": "arn:aws:iam::123456789012:root"}),
                json!("sts:AssumeRole")
            ),
            CD
        ));
        assert!(!trusts(
            st(
                json!({"Service": CD}),
                json!("sts:AssumeRoleWithWebIdentity")
            ),
            CD
        ));
        assert!(!trusts(
            st(
                json!({"Service": "xcodedeploy.amazonaws.com"}),
                json!("sts:AssumeRole")
            ),
            CD
        ));

        let denied = json!({"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"Service": CD}, "Action": "sts:*"}
        ]});
        assert!(!trusts(denied.clone(), CD));
        assert!(trusts(denied, "ecs.amazonaws.com"));
        let not_action = json!({"Statement": {"Effect": "Allow", "Principal": {"Service": CD}, "NotAction": "sts:TagSession"}});
        assert!(trusts(not_action, CD));
        // Conditions are accepted, not evaluated.
        let conditional = json!({"Statement": {"Effect": "Allow", "Principal": {"Service": CD}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "000000000000"}}}});
        assert!(trusts(conditional, CD));
    }

    #[test]
    fn malformed_documents_are_refused_in_iams_words() {
        assert_eq!(malformed("{not json"), "This policy contains invalid Json");
        assert_eq!(malformed("[]"), "Syntax errors in policy.");
        assert_eq!(
            malformed(r#"{"Version": "2012-10-17"}"#),
            "Missing required field Statement"
        );
        assert_eq!(
            malformed(r#"{"Version": "2019-01-01", "Statement": []}"#),
            "The policy failed legacy parsing"
        );
        assert_eq!(
            malformed(r#"{"Statement": {"Principal": "*", "Action": "sts:AssumeRole"}}"#),
            "Missing required field Effect"
        );
        assert_eq!(
            malformed(r#"{"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole"}}"#),
            "Missing required field Principal"
        );
        assert_eq!(
            malformed(r#"{"Statement": {"Effect": "Allow", "Principal": "*"}}"#),
            "Policy statement must contain actions."
        );
        assert_eq!(
            malformed(
                r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "AssumeRole"}}"#
            ),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
        );
        assert_eq!(
            malformed(
                r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}}"#
            ),
            "Has prohibited field Resource"
        );
        assert_eq!(
            malformed(
                r#"{"Statement": {"Effect": "Allow", "Principal": {"Service": "codedeploy"}, "Action": "sts:AssumeRole"}}"#
            ),
            "Invalid principal in policy: \"SERVICE\":\"codedeploy\""
        );
        assert_eq!(
            malformed(
                r#"{"Statement": {"Effect": "Permit", "Principal": "*", "Action": "sts:AssumeRole"}}"#
            ),
            "Syntax errors in policy."
        );
    }

    #[test]
    fn glob_matches_like_iam() {
        assert!(glob("sts:*", "sts:assumerole"));
        assert!(glob("*", "sts:assumerole"));
        assert!(glob("sts:assume?ole", "sts:assumerole"));
        assert!(glob("*:*role", "sts:assumerole"));
        assert!(!glob("sts:assume", "sts:assumerole"));
        assert!(!glob("iam:*", "sts:assumerole"));
    }
}
