//! Roles and the managed policies attached to them, as IAM answers for them.

use rand::Rng;
use serde_json::{Value, json};

use super::policy::{self, TrustPolicy};
use super::{IamState, managed, page, pattern_violation, str_of};
use crate::protocol::ApiError;

/// Most roles an account may have (AWS's default quota).
const ROLES_PER_ACCOUNT: usize = 1000;
/// Most managed policies attached to one role (AWS's default quota).
const POLICIES_PER_ROLE: usize = 10;

const NAME_PATTERN: &str = r"[\w+=,.@-]+";
const PATH_PATTERN: &str = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)";

#[derive(Clone, Debug)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub id: String,
    pub arn: String,
    pub create_date: f64,
    /// The trust policy exactly as given (answered URL-encoded, as IAM does).
    pub trust_document: String,
    pub trust: TrustPolicy,
    pub description: Option<String>,
    pub max_session_duration: i64,
    pub permissions_boundary: Option<String>,
    pub tags: Vec<Value>,
    /// Attached managed policies' ARNs, in the order they were attached.
    pub attached: Vec<String>,
}

impl Role {
    pub fn new(
        account: &str,
        name: &str,
        path: &str,
        trust_document: String,
        trust: TrustPolicy,
        now: f64,
    ) -> Role {
        Role {
            name: name.to_string(),
            path: path.to_string(),
            id: role_id(),
            arn: format!("arn:aws:iam::{account}:role{path}{name}"),
            create_date: now,
            trust_document,
            trust,
            description: None,
            max_session_duration: 3600,
            permissions_boundary: None,
            tags: Vec::new(),
            attached: Vec::new(),
        }
    }

    /// The `Role` shape. `ListRoles` leaves out tags and last use, as IAM does.
    fn to_json(&self, full: bool) -> Value {
        let mut v = json!({
            "Path": self.path,
            "RoleName": self.name,
            "RoleId": self.id,
            "Arn": self.arn,
            "CreateDate": self.create_date,
            "AssumeRolePolicyDocument": url_encode(&self.trust_document),
            "MaxSessionDuration": self.max_session_duration,
        });
        if let Some(d) = &self.description {
            v["Description"] = json!(d);
        }
        if let Some(b) = &self.permissions_boundary {
            v["PermissionsBoundary"] =
                json!({"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": b});
        }
        if full {
            if !self.tags.is_empty() {
                v["Tags"] = json!(self.tags);
            }
            v["RoleLastUsed"] = json!({});
        }
        v
    }
}

/// `AROA` + 17 characters, as IAM's role ids look.
fn role_id() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::rng();
    let tail: String = (0..17)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect();
    format!("AROA{tail}")
}

/// IAM answers policy documents URL-encoded (clients such as boto3 decode them).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn no_such_role(name: &str) -> ApiError {
    ApiError::new(
        "NoSuchEntityException",
        format!("The role with name {name} cannot be found."),
    )
}

fn role_name(input: &Value) -> Result<&str, ApiError> {
    let name = str_of(input, "RoleName").unwrap_or_default();
    let ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(name)
    } else {
        Err(pattern_violation("roleName", name, NAME_PATTERN))
    }
}

fn existing<'a>(iam: &'a mut IamState, input: &Value) -> Result<&'a mut Role, ApiError> {
    let name = role_name(input)?;
    iam.roles
        .get_mut(&name.to_lowercase())
        .ok_or_else(|| no_such_role(name))
}

fn trust(document: &str) -> Result<TrustPolicy, ApiError> {
    policy::parse_trust(document).map_err(|m| ApiError::new("MalformedPolicyDocumentException", m))
}

pub fn create(iam: &mut IamState, now: f64, input: &Value) -> Result<Value, ApiError> {
    let name = role_name(input)?;
    let path = str_of(input, "Path").unwrap_or("/");
    let path_ok = path == "/"
        || (path.len() > 2
            && path.starts_with('/')
            && path.ends_with('/')
            && path.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    if !path_ok {
        return Err(pattern_violation("path", path, PATH_PATTERN));
    }
    let tags: Vec<Value> = input
        .get("Tags")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut keys: Vec<String> = tags
        .iter()
        .filter_map(|t| t.get("Key").and_then(Value::as_str))
        .map(str::to_lowercase)
        .collect();
    keys.sort();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(ApiError::new(
            "InvalidInputException",
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        ));
    }
    if iam.roles.contains_key(&name.to_lowercase()) {
        return Err(ApiError::new(
            "EntityAlreadyExistsException",
            format!("Role with name {name} already exists."),
        ));
    }
    let document = str_of(input, "AssumeRolePolicyDocument").unwrap_or_default();
    let trust = trust(document)?;
    let boundary = match str_of(input, "PermissionsBoundary") {
        Some(arn) if !managed::exists(arn) => {
            return Err(ApiError::new(
                "NoSuchEntityException",
                format!("Scope ARN: {arn} does not exist or is not attachable."),
            ));
        }
        b => b.map(str::to_string),
    };
    if iam.roles.len() >= ROLES_PER_ACCOUNT {
        return Err(ApiError::new(
            "LimitExceededException",
            format!("Cannot exceed quota for RolesPerAccount: {ROLES_PER_ACCOUNT}"),
        ));
    }
    let mut role = Role::new(&iam.account, name, path, document.to_string(), trust, now);
    role.description = str_of(input, "Description").map(str::to_string);
    if let Some(d) = input.get("MaxSessionDuration").and_then(Value::as_i64) {
        role.max_session_duration = d;
    }
    role.permissions_boundary = boundary;
    role.tags = tags;
    // CreateRole answers the tags it was given; ListRoles never shows them.
    let mut out = json!({ "Role": role.to_json(false) });
    if !role.tags.is_empty() {
        out["Role"]["Tags"] = json!(role.tags);
    }
    iam.roles.insert(name.to_lowercase(), role);
    Ok(out)
}

pub fn get(iam: &mut IamState, input: &Value) -> Result<Value, ApiError> {
    let role = existing(iam, input)?;
    Ok(json!({ "Role": role.to_json(true) }))
}

pub fn list(iam: &mut IamState, input: &Value) -> Result<Value, ApiError> {
    let prefix = str_of(input, "PathPrefix").unwrap_or("/");
    let roles: Vec<Value> = iam
        .roles
        .values()
        .filter(|r| r.path.starts_with(prefix))
        .map(|r| r.to_json(false))
        .collect();
    let (roles, marker) = page(roles, input)?;
    let mut out = json!({ "Roles": roles, "IsTruncated": marker.is_some() });
    if let Some(m) = marker {
        out["Marker"] = json!(m);
    }
    Ok(out)
}

pub fn delete(iam: &mut IamState, input: &Value) -> Result<Value, ApiError> {
    let role = existing(iam, input)?;
    if !role.attached.is_empty() {
        return Err(ApiError::new(
            "DeleteConflictException",
            "Cannot delete entity, must detach all policies first.",
        ));
    }
    let key = role.name.to_lowercase();
    iam.roles.remove(&key);
    Ok(json!({}))
}

pub fn update_assume_role_policy(iam: &mut IamState, input: &Value) -> Result<Value, ApiError> {
    let document = str_of(input, "PolicyDocument").unwrap_or_default();
    let role = existing(iam, input)?;
    role.trust = trust(document)?;
    role.trust_document = document.to_string();
    Ok(json!({}))
}

fn policy_arn(input: &Value) -> Result<&str, ApiError> {
    let arn = str_of(input, "PolicyArn").unwrap_or_default();
    if managed::is_policy_arn(arn) {
        Ok(arn)
    } else {
        Err(ApiError::new(
            "InvalidInputException",
            format!("ARN {arn} is not valid."),
        ))
    }
}

pub fn attach_policy(iam: &mut IamState, input: &Value) -> Result<Value, ApiError> {
    let arn = policy_arn(input)?;
    let role = existing(iam, input)?;
    if !managed::exists(arn) {
        return Err(ApiError::new(
            "NoSuchEntityException",
            format!("Policy {arn} does not exist or is not attachable."),
        ));
    }
    if role.attached.iter().any(|a| a == arn) {
        return Ok(json!({}));
    }
    if role.attached.len() >= POLICIES_PER_ROLE {
        return Err(ApiError::new(
            "LimitExceededException",
            format!("Cannot exceed quota for PoliciesPerRole: {POLICIES_PER_ROLE}"),
        ));
    }
    role.attached.push(arn.to_string());
    Ok(json!({}))
}

pub fn detach_policy(iam: &mut IamState, input: &Value) -> Result<Value, ApiError> {
    let arn = policy_arn(input)?;
    let role = existing(iam, input)?;
    let before = role.attached.len();
    role.attached.retain(|a| a != arn);
    if role.attached.len() == before {
        return Err(ApiError::new(
            "NoSuchEntityException",
            format!("Policy {arn} was not found."),
        ));
    }
    Ok(json!({}))
}

pub fn list_attached_policies(iam: &mut IamState, input: &Value) -> Result<Value, ApiError> {
    let prefix = str_of(input, "PathPrefix").unwrap_or("/").to_string();
    let role = existing(iam, input)?;
    let policies: Vec<Value> = role
        .attached
        .iter()
        .filter_map(|arn| {
            let (name, path) = managed::name_and_path(arn);
            path.starts_with(&prefix)
                .then(|| json!({"PolicyName": name, "PolicyArn": arn}))
        })
        .collect();
    let (policies, marker) = page(policies, input)?;
    let mut out = json!({ "AttachedPolicies": policies, "IsTruncated": marker.is_some() });
    if let Some(m) = marker {
        out["Marker"] = json!(m);
    }
    Ok(out)
}
