//! AWS service models (botocore's `service-2.json`, documentation stripped by `tools/strip-models.py`).
//!
//! The models drive everything that is about the wire rather than about behaviour: which operations
//! exist, how a query form or CBOR map becomes typed JSON, how output becomes XML, which error code and
//! HTTP status an exception has, and the input validation AWS performs before any service logic runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde::Deserialize;

/// The services the sandbox emulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Ecs,
    Elbv2,
    CodeDeploy,
    CloudWatch,
    /// IAM roles: a global service (state per account, not per region).
    Iam,
    /// STS GetCallerIdentity (no state).
    Sts,
}

impl Service {
    pub const ALL: [Service; 6] = [
        Service::Ecs,
        Service::Elbv2,
        Service::CodeDeploy,
        Service::CloudWatch,
        Service::Iam,
        Service::Sts,
    ];

    /// Short name used in logs, ARNs and the call counters.
    pub fn name(self) -> &'static str {
        match self {
            Service::Ecs => "ecs",
            Service::Elbv2 => "elasticloadbalancing",
            Service::CodeDeploy => "codedeploy",
            Service::CloudWatch => "monitoring",
            Service::Iam => "iam",
            Service::Sts => "sts",
        }
    }

    pub fn model(self) -> &'static ServiceModel {
        static MODELS: OnceLock<[ServiceModel; 6]> = OnceLock::new();
        let models = MODELS.get_or_init(|| {
            [
                parse(include_str!("../models/ecs.json")),
                parse(include_str!("../models/elbv2.json")),
                parse(include_str!("../models/codedeploy.json")),
                parse(include_str!("../models/cloudwatch.json")),
                parse(include_str!("../models/iam.json")),
                parse(include_str!("../models/sts.json")),
            ]
        });
        &models[self as usize]
    }

    /// The service whose JSON/CBOR target prefix (e.g. `AmazonEC2ContainerServiceV20141113`) this is.
    pub fn by_target_prefix(prefix: &str) -> Option<Service> {
        Service::ALL
            .into_iter()
            .find(|s| s.model().metadata.target_prefix.as_deref() == Some(prefix))
    }

    /// The service a SigV4 credential scope names (`…/us-east-1/iam/aws4_request`): the model's
    /// `signingName`, else its `endpointPrefix` (`elasticloadbalancing`, `monitoring`, `iam`).
    pub fn by_signing_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| {
            let m = &s.model().metadata;
            m.signing_name.as_deref().unwrap_or(&m.endpoint_prefix) == name
        })
    }

    /// Whether the service answers awsQuery (form in, XML out).
    pub fn speaks_query(self) -> bool {
        self.model().metadata.protocols.iter().any(|p| p == "query")
    }

    /// The service an awsQuery `Version=` belongs to.
    pub fn by_query_version(version: &str) -> Option<Service> {
        Service::ALL
            .into_iter()
            .find(|s| s.speaks_query() && s.model().metadata.api_version == version)
    }
}

fn parse(text: &str) -> ServiceModel {
    serde_json::from_str(text).expect("embedded AWS service model is valid JSON")
}

#[derive(Debug, Deserialize)]
pub struct ServiceModel {
    pub metadata: Metadata,
    pub operations: HashMap<String, Operation>,
    pub shapes: HashMap<String, Shape>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub api_version: String,
    pub endpoint_prefix: String,
    pub signing_name: Option<String>,
    #[serde(default)]
    pub protocols: Vec<String>,
    pub target_prefix: Option<String>,
    pub json_version: Option<String>,
    pub xml_namespace: Option<String>,
    pub aws_query_compatible: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct Operation {
    pub input: Option<ShapeRef>,
    pub output: Option<ShapeRef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShapeRef {
    pub shape: String,
    pub result_wrapper: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Shape {
    #[serde(rename = "type")]
    pub kind: ShapeKind,
    #[serde(default)]
    pub members: BTreeMap<String, ShapeRef>,
    pub member: Option<ShapeRef>,
    pub key: Option<ShapeRef>,
    pub value: Option<ShapeRef>,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub error: Option<ErrorTrait>,
    #[serde(default)]
    pub fault: bool,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ShapeKind {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Boolean,
    Double,
    Float,
    Timestamp,
    Blob,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorTrait {
    pub code: Option<String>,
    pub http_status_code: Option<u16>,
}

impl ServiceModel {
    pub fn shape(&self, name: &str) -> &Shape {
        self.shapes
            .get(name)
            .unwrap_or_else(|| panic!("shape {name} missing from the service model"))
    }

    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }

    /// `application/x-amz-json-1.0` or `-1.1`, as the model's `jsonVersion` says.
    pub fn json_content_type(&self) -> String {
        format!(
            "application/x-amz-json-{}",
            self.metadata.json_version.as_deref().unwrap_or("1.1")
        )
    }

    pub fn is_query_compatible(&self) -> bool {
        self.metadata.aws_query_compatible.is_some()
    }

    /// Wire code and HTTP status of a modeled exception shape; unmodeled codes (AWS's common errors
    /// such as `ValidationError` or `UnknownOperationException`) keep their name and answer 400.
    pub fn error_wire(&self, shape_name: &str) -> (String, u16, bool) {
        let shape = self.shapes.get(shape_name);
        // A fault (server-side error) is the Receiver's; everything else is the Sender's.
        let fault = shape.is_some_and(|s| s.fault);
        let error = shape.and_then(|s| s.error.as_ref());
        let code = error
            .and_then(|e| e.code.clone())
            .unwrap_or_else(|| shape_name.to_string());
        let status =
            error
                .and_then(|e| e.http_status_code)
                .unwrap_or(if fault { 500 } else { 400 });
        (code, status, !fault)
    }
}
