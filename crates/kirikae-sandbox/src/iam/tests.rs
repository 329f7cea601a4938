//! IAM through its handler and through the awsQuery codec, as clients reach it.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::sts::{Refusal, assume_role};
use super::*;
use crate::model::Service;
use crate::protocol::{self, Call};

const ACCOUNT: &str = "123456789012";
const NOW: f64 = 1_700_000_000.0;
const CD: &str = "codedeploy.amazonaws.com";

fn iam() -> IamState {
    IamState::new(ACCOUNT, NOW)
}

fn call(iam: &mut IamState, op: &str, input: Value) -> Result<Value, ApiError> {
    handle(iam, NOW, op, &input)
}

fn ok(iam: &mut IamState, op: &str, input: Value) -> Value {
    call(iam, op, input).unwrap_or_else(|e| panic!("{op}: {e}"))
}

fn code(iam: &mut IamState, op: &str, input: Value) -> String {
    call(iam, op, input).expect_err(op).code
}

fn trust(service: &str) -> String {
    policy::trust_document(service)
}

/// `%XX` decoding, as boto3 reads IAM's policy documents.
fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn every_account_starts_with_the_roles_the_ecs_guides_name() {
    let mut iam = iam();
    for (name, service, policy) in DEFAULT_ROLES {
        let role = &ok(&mut iam, "GetRole", json!({"RoleName": name}))["Role"];
        assert_eq!(role["Arn"], format!("arn:aws:iam::{ACCOUNT}:role/{name}"));
        assert_eq!(role["Path"], "/");
        let id = role["RoleId"].as_str().unwrap();
        assert!(id.starts_with("AROA") && id.len() == 21, "{id}");
        assert_eq!(role["CreateDate"], NOW);
        let doc: Value = serde_json::from_str(&url_decode(
            role["AssumeRolePolicyDocument"].as_str().unwrap(),
        ))
        .unwrap();
        assert_eq!(doc["Statement"][0]["Principal"]["Service"], service);
        let attached = ok(
            &mut iam,
            "ListAttachedRolePolicies",
            json!({"RoleName": name}),
        );
        assert_eq!(attached["AttachedPolicies"][0]["PolicyArn"], policy);
        assert_eq!(attached["IsTruncated"], false);
    }
    assert!(
        assume_role(
            &iam,
            &format!("arn:aws:iam::{ACCOUNT}:role/ecsCodeDeployRole"),
            CD
        )
        .is_ok()
    );
    // Names are case-insensitive, as in IAM (the ECS guide's CLI steps spell it `ecsCodedeployRole`).
    assert!(
        assume_role(
            &iam,
            &format!("arn:aws:iam::{ACCOUNT}:role/ecsCodedeployRole"),
            CD
        )
        .is_ok()
    );
}

#[test]
fn roles_and_their_policies_from_creation_to_deletion() {
    let mut iam = iam();
    let created = ok(
        &mut iam,
        "CreateRole",
        json!({"RoleName": "deployer", "Path": "/ci/", "AssumeRolePolicyDocument": trust(CD),
               "Description": "CI", "Tags": [{"Key": "team", "Value": "web"}]}),
    );
    assert_eq!(
        created["Role"]["Arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/ci/deployer")
    );
    assert_eq!(created["Role"]["Tags"][0]["Key"], "team");
    assert_eq!(
        code(
            &mut iam,
            "CreateRole",
            json!({"RoleName": "DEPLOYER", "AssumeRolePolicyDocument": trust(CD)})
        ),
        "EntityAlreadyExistsException"
    );
    let got = ok(&mut iam, "GetRole", json!({"RoleName": "deployer"}));
    assert_eq!(got["Role"]["Description"], "CI");
    assert_eq!(
        url_decode(got["Role"]["AssumeRolePolicyDocument"].as_str().unwrap()),
        trust(CD)
    );

    let ecs = "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS";
    let attach = |policy: &str| json!({"RoleName": "deployer", "PolicyArn": policy});
    ok(&mut iam, "AttachRolePolicy", attach(ecs));
    ok(&mut iam, "AttachRolePolicy", attach(ecs)); // attaching again changes nothing
    let attached = ok(
        &mut iam,
        "ListAttachedRolePolicies",
        json!({"RoleName": "deployer"}),
    );
    assert_eq!(
        attached["AttachedPolicies"],
        json!([{"PolicyName": "AWSCodeDeployRoleForECS", "PolicyArn": ecs}])
    );
    // Unknown (or wrongly pathed) policies do not exist, as in AWS; a non-ARN is invalid input.
    for missing in [
        "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForECS",
        "arn:aws:iam::123456789012:policy/mine",
    ] {
        assert_eq!(
            code(&mut iam, "AttachRolePolicy", attach(missing)),
            "NoSuchEntityException"
        );
    }
    assert_eq!(
        code(
            &mut iam,
            "AttachRolePolicy",
            attach("AWSCodeDeployRoleForECS")
        ),
        "InvalidInputException"
    );
    assert_eq!(
        code(
            &mut iam,
            "AttachRolePolicy",
            json!({"RoleName": "nobody", "PolicyArn": ecs})
        ),
        "NoSuchEntityException"
    );

    assert_eq!(
        code(&mut iam, "DeleteRole", json!({"RoleName": "deployer"})),
        "DeleteConflictException"
    );
    ok(&mut iam, "DetachRolePolicy", attach(ecs));
    assert_eq!(
        code(&mut iam, "DetachRolePolicy", attach(ecs)),
        "NoSuchEntityException"
    );
    ok(&mut iam, "DeleteRole", json!({"RoleName": "deployer"}));
    for op in ["GetRole", "DeleteRole", "ListAttachedRolePolicies"] {
        assert_eq!(
            code(&mut iam, op, json!({"RoleName": "deployer"})),
            "NoSuchEntityException",
            "{op}"
        );
    }
}

#[test]
fn bad_trust_policies_and_names_are_refused() {
    let mut iam = iam();
    let create = |name: &str, doc: &str| json!({"RoleName": name, "AssumeRolePolicyDocument": doc});
    assert_eq!(
        code(
            &mut iam,
            "CreateRole",
            create("r", "{\"Version\": \"2012-10-17\"")
        ),
        "MalformedPolicyDocumentException"
    );
    let err = call(&mut iam, "CreateRole", create("bad name", &trust(CD))).unwrap_err();
    assert_eq!(err.code, "ValidationError");
    assert!(err.message.contains("at 'roleName'"), "{}", err.message);
    let err = call(
        &mut iam,
        "CreateRole",
        json!({"RoleName": "r", "Path": "ci", "AssumeRolePolicyDocument": trust(CD)}),
    )
    .unwrap_err();
    assert_eq!(err.code, "ValidationError");
    assert_eq!(
        code(
            &mut iam,
            "UpdateAssumeRolePolicy",
            json!({"RoleName": "ecsCodeDeployRole", "PolicyDocument": "{}"})
        ),
        "MalformedPolicyDocumentException"
    );
    assert_eq!(
        code(&mut iam, "CreateUser", json!({"UserName": "u"})),
        "InvalidAction"
    );
}

#[test]
fn list_roles_pages_with_markers() {
    let mut iam = iam();
    for name in ["a", "b", "c"] {
        ok(
            &mut iam,
            "CreateRole",
            json!({"RoleName": name, "Path": "/team/", "AssumeRolePolicyDocument": trust(CD)}),
        );
    }
    let all = ok(&mut iam, "ListRoles", json!({}));
    assert_eq!(
        all["Roles"].as_array().unwrap().len(),
        3 + DEFAULT_ROLES.len()
    );
    assert!(all["Roles"][0].get("Tags").is_none());
    let first = ok(
        &mut iam,
        "ListRoles",
        json!({"PathPrefix": "/team/", "MaxItems": 2}),
    );
    assert_eq!(first["IsTruncated"], true);
    let names = |v: &Value| -> Vec<String> {
        v["Roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["RoleName"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&first), ["a", "b"]);
    let rest = ok(
        &mut iam,
        "ListRoles",
        json!({"PathPrefix": "/team/", "MaxItems": 2, "Marker": first["Marker"]}),
    );
    assert_eq!(names(&rest), ["c"]);
    assert_eq!(rest["IsTruncated"], false);
    assert_eq!(
        code(&mut iam, "ListRoles", json!({"Marker": "nope"})),
        "InvalidInputException"
    );
}

#[test]
fn services_assume_only_roles_of_their_account_that_trust_them() {
    let mut iam = iam();
    let arn = |name: &str| format!("arn:aws:iam::{ACCOUNT}:role/{name}");
    ok(
        &mut iam,
        "CreateRole",
        json!({"RoleName": "tasks", "AssumeRolePolicyDocument": trust("ecs-tasks.amazonaws.com")}),
    );
    ok(
        &mut iam,
        "CreateRole",
        json!({"RoleName": "pathed", "Path": "/cd/", "AssumeRolePolicyDocument": trust(CD)}),
    );
    assert_eq!(
        assume_role(&iam, &arn("tasks"), CD).unwrap_err(),
        Refusal::NotTrusted {
            name: "tasks".into()
        }
    );
    assert!(assume_role(&iam, &arn("tasks"), "ecs-tasks.amazonaws.com").is_ok());
    assert_eq!(
        assume_role(&iam, &arn("nobody"), CD).unwrap_err(),
        Refusal::NoSuchRole {
            name: "nobody".into()
        }
    );
    // The path is part of the ARN.
    assert!(assume_role(&iam, &arn("cd/pathed"), CD).is_ok());
    assert!(matches!(
        assume_role(&iam, &arn("pathed"), CD),
        Err(Refusal::NoSuchRole { .. })
    ));
    assert_eq!(
        assume_role(&iam, "arn:aws:iam::000000000000:role/ecsCodeDeployRole", CD).unwrap_err(),
        Refusal::OtherAccount {
            account: "000000000000".into()
        }
    );
    assert_eq!(
        assume_role(&iam, "ecsCodeDeployRole", CD).unwrap_err(),
        Refusal::Malformed
    );
    // Trust can be fixed, and a default role can be deleted like any other.
    ok(
        &mut iam,
        "UpdateAssumeRolePolicy",
        json!({"RoleName": "tasks", "PolicyDocument": trust(CD)}),
    );
    assert!(assume_role(&iam, &arn("tasks"), CD).is_ok());
    ok(
        &mut iam,
        "DetachRolePolicy",
        json!({"RoleName": "ecsCodeDeployRole", "PolicyArn": DEFAULT_ROLES[0].2}),
    );
    ok(
        &mut iam,
        "DeleteRole",
        json!({"RoleName": "ecsCodeDeployRole"}),
    );
    assert!(matches!(
        assume_role(&iam, &arn("ecsCodeDeployRole"), CD),
        Err(Refusal::NoSuchRole { .. })
    ));
}

// ---- On the wire ------------------------------------------------------------------------------------

fn decode(form: &str) -> Result<Call, protocol::Rejected> {
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_static(
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x",
        ),
    );
    protocol::decode("/", &h, &Bytes::from(form.to_string()))
}

fn body(resp: &http::Response<Bytes>) -> String {
    String::from_utf8_lossy(resp.body()).into_owned()
}

#[test]
fn create_role_from_a_form_and_get_role_as_xml() {
    let mut iam = iam();
    let doc = trust(CD);
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "CreateRole")
        .append_pair("Version", "2010-05-08")
        .append_pair("RoleName", "web")
        .append_pair("AssumeRolePolicyDocument", &doc)
        .append_pair("Tags.member.1.Key", "team")
        .append_pair("Tags.member.1.Value", "web")
        .finish();
    let c = decode(&form).unwrap_or_else(|r| panic!("{}", r.error));
    assert_eq!(
        (c.service, c.operation.as_str()),
        (Service::Iam, "CreateRole")
    );
    assert_eq!(c.input["AssumeRolePolicyDocument"], doc);
    handle(&mut iam, NOW, &c.operation, &c.input).unwrap();

    let c = decode("Action=GetRole&Version=2010-05-08&RoleName=web")
        .unwrap_or_else(|r| panic!("{}", r.error));
    let out = handle(&mut iam, NOW, &c.operation, &c.input).unwrap();
    let xml = body(&protocol::encode_output(&c, out));
    assert!(
        xml.starts_with("<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetRoleResult><Role>"),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("<Arn>arn:aws:iam::{ACCOUNT}:role/web</Arn>")),
        "{xml}"
    );
    assert!(
        xml.contains("<AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22"),
        "{xml}"
    );
    assert!(
        xml.contains("<CreateDate>2023-11-14T22:13:20.000Z</CreateDate>"),
        "{xml}"
    );
    assert!(
        xml.contains("<Tags><member><Key>team</Key><Value>web</Value></member></Tags>"),
        "{xml}"
    );
}

#[test]
fn errors_carry_iams_codes_and_statuses() {
    let wire = |shape: &str| {
        let resp = protocol::encode_error(
            Some(Service::Iam),
            protocol::Protocol::AwsQuery,
            false,
            &ApiError::new(shape, "m"),
        );
        let xml = body(&resp);
        let code = xml
            .split("<Code>")
            .nth(1)
            .and_then(|r| r.split("</Code>").next())
            .unwrap()
            .to_string();
        (resp.status().as_u16(), code)
    };
    assert_eq!(wire("NoSuchEntityException"), (404, "NoSuchEntity".into()));
    assert_eq!(
        wire("EntityAlreadyExistsException"),
        (409, "EntityAlreadyExists".into())
    );
    assert_eq!(
        wire("DeleteConflictException"),
        (409, "DeleteConflict".into())
    );
    assert_eq!(
        wire("MalformedPolicyDocumentException"),
        (400, "MalformedPolicyDocument".into())
    );
    assert_eq!(
        wire("LimitExceededException"),
        (409, "LimitExceeded".into())
    );
    assert_eq!(wire("InvalidInputException"), (400, "InvalidInput".into()));
    assert_eq!(wire("ValidationError"), (400, "ValidationError".into()));

    // Model validation happens in the codec, worded as IAM words it.
    let Err(rejected) = decode("Action=CreateRole&Version=2010-05-08&RoleName=r") else {
        panic!("CreateRole without a trust policy was accepted")
    };
    assert_eq!(rejected.error.code, "ValidationError");
    assert!(
        rejected
            .error
            .message
            .contains("Value null at 'assumeRolePolicyDocument' failed to satisfy constraint"),
        "{}",
        rejected.error.message
    );
}
