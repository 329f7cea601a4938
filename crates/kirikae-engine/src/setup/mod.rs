//! `kirikae setup`: creates what the config's Blue/Green through CodeDeploy still lacks, and nothing
//! else. First a [`Setup`] plan from read-only calls (every problem found there is an error before any
//! change), then [`execute`] creates only the steps marked `create`, in order:
//!
//! - [`target_group`]: the second target group, copied from the first;
//! - [`role`]: the CodeDeploy service role (trusting `codedeploy.amazonaws.com`, with the managed
//!   policy `AWSCodeDeployRoleForECS`);
//! - [`listener`]: the test listener on the configured port, forwarding to the group that does not
//!   serve production.
//!
//! Existing resources are never changed: a listener on the test port forwarding elsewhere, or a role
//! that does not trust CodeDeploy, is an error naming it. [`service`] states where the service stands
//! (a rolling one: the way to Blue/Green). Everything created is tagged [`CREATED_BY`]; a second run
//! finds it and creates nothing.

pub mod listener;
pub mod role;
pub mod service;
pub mod target_group;

use serde::Serialize;

use crate::config::ListenerRef;
use crate::connection::Clients;
use crate::error::{ConfigError, Error};
use crate::init::network;
use crate::plan::Plan;

/// The tag on everything `setup` creates.
pub const CREATED_BY: (&str, &str) = ("kirikae:created-by", "kirikae setup");

fn created_by_elb() -> aws_sdk_elasticloadbalancingv2::types::Tag {
    aws_sdk_elasticloadbalancingv2::types::Tag::builder()
        .key(CREATED_BY.0)
        .value(CREATED_BY.1)
        .build()
}

/// One line of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// `target group web-green`, `test listener web-alb:8080`, `IAM role …`, `service demo/web`, …
    pub resource: String,
    /// `exists` (nothing to do), `create`, or `note` (said, not done by setup).
    pub action: &'static str,
    pub detail: String,
}

/// What a run would create, and the state of the rest.
#[derive(Debug, Clone)]
pub struct Setup {
    pub steps: Vec<Step>,
    target_group: Option<target_group::Copy>,
    role: Option<role::RoleRef>,
    listener: Option<listener::NewListener>,
}

impl Setup {
    pub fn creates_anything(&self) -> bool {
        self.steps.iter().any(|s| s.action == "create")
    }
}

/// What was created, and the error that stopped the run, if any.
#[derive(Debug)]
pub struct Executed {
    pub created: Vec<String>,
    pub error: Option<Error>,
}

/// The plan: read-only calls only.
pub async fn plan(plan: &Plan, aws: &Clients) -> Result<Setup, Error> {
    let cfg = &plan.config_path;
    let cd = &plan.codedeploy;
    let mut steps = Vec::new();
    let step = |resource: String, action: &'static str, detail: String| Step {
        resource,
        action,
        detail,
    };

    // The target group pair: both there, or one there to copy the other from.
    let names = [cd.target_groups[0].clone(), cd.target_groups[1].clone()];
    let mut found = Vec::new();
    for n in &names {
        found.push(network::target_group(aws, n).await?);
    }
    let mut copy = None;
    let arns: Vec<Option<String>> = found
        .iter()
        .map(|t| {
            t.as_ref()
                .and_then(|t| t.target_group_arn())
                .map(str::to_string)
        })
        .collect();
    match (&found[0], &found[1]) {
        (Some(_), Some(_)) => {
            for n in &names {
                steps.push(step(format!("target group {n}"), "exists", String::new()));
            }
        }
        (None, None) => {
            return Err(ConfigError::in_file(
                cfg,
                format!("neither target group of the pair exists ({} and {})", names[0], names[1]),
            )
            .field("codedeploy.target_groups")
            .hint("setup copies the second group from the first: name the group your service (or production listener) uses first")
            .into());
        }
        (Some(source), None) | (None, Some(source)) => {
            let (from, to) = if found[0].is_some() { (0, 1) } else { (1, 0) };
            let c = target_group::plan_copy(aws, &names[to], source.clone()).await?;
            steps.push(step(
                format!("target group {}", names[from]),
                "exists",
                String::new(),
            ));
            steps.push(step(
                format!("target group {}", names[to]),
                "create",
                c.describe(),
            ));
            copy = Some(c);
        }
    }

    // The production listener must exist and send its traffic to one group of the pair.
    let prod = match listener::find(aws, &cd.production_listener).await? {
        listener::Found::Exists(l) => l,
        other => {
            return Err(missing_listener(
                plan,
                "production_listener",
                &cd.production_listener,
                &other,
                "setup creates only the test listener: the production listener is the one your users reach",
            ));
        }
    };
    let serving: Vec<usize> = (0..2)
        .filter(|i| {
            arns[*i]
                .as_deref()
                .is_some_and(|a| network::serves(&prod, a))
        })
        .collect();
    let production = match serving.as_slice() {
        [one] => *one,
        [] => {
            return Err(ConfigError::in_file(
                cfg,
                format!(
                    "production listener {} forwards to neither {} nor {}",
                    cd.production_listener, names[0], names[1]
                ),
            )
            .field("codedeploy.production_listener")
            .hint("its default action must forward to the group the service is behind; setup never changes the production listener")
            .into());
        }
        _ => {
            return Err(ConfigError::in_file(
                cfg,
                format!(
                    "production listener {} splits its traffic across {} and {}",
                    cd.production_listener, names[0], names[1]
                ),
            )
            .field("codedeploy.production_listener")
            .hint("CodeDeploy shifts traffic from one group to the other: make it forward 100% to one of the pair")
            .into());
        }
    };
    let (serving_name, other_name) = (&names[production], &names[1 - production]);
    steps.push(step(
        format!("production listener {}", cd.production_listener),
        "exists",
        format!("forwards to {serving_name}"),
    ));

    // The test listener, on the configured port, to the group that does not serve production.
    let mut new_listener = None;
    match &cd.test_listener {
        None => steps.push(step(
            "test listener".into(),
            "note",
            format!("none in the config: green is checked only by {other_name}'s health checks before production moves to it; name one in codedeploy.test_listener and setup creates it"),
        )),
        Some(r) => match listener::find(aws, r).await? {
            listener::Found::Exists(l) => {
                let to_pair = arns
                    .iter()
                    .flatten()
                    .any(|a| network::forwards(&l).iter().any(|(f, _)| f == a));
                if !to_pair {
                    return Err(ConfigError::in_file(
                        cfg,
                        format!("a listener on {r} already exists and forwards to neither {} nor {}", names[0], names[1]),
                    )
                    .field("codedeploy.test_listener")
                    .hint("setup never changes an existing listener: give codedeploy.test_listener a free port")
                    .into());
                }
                steps.push(step(format!("test listener {r}"), "exists", String::new()));
            }
            listener::Found::Missing {
                load_balancer_arn,
                port,
            } => {
                let l = listener::NewListener {
                    load_balancer_arn,
                    port,
                    like: prod.clone(),
                    forward_to: other_name.clone(),
                };
                steps.push(step(
                    format!("test listener {r}"),
                    "create",
                    format!("{} forwarding to {other_name} (the group not serving production)", l.protocol()),
                ));
                new_listener = Some(l);
            }
            other => return Err(missing_listener(plan, "test_listener", r, &other, "name the test listener by {load_balancer, port} so setup can create it on an existing load balancer")),
        },
    }

    // The CodeDeploy service role.
    let Some(role_ref) = role::RoleRef::parse(&cd.service_role) else {
        return Err(ConfigError::in_file(
            cfg,
            format!("`{}` is not an IAM role ARN", cd.service_role),
        )
        .field("codedeploy.service_role")
        .hint(
            "e.g. arn:aws:iam::123456789012:role/ecsCodeDeployRole (setup creates it when missing)",
        )
        .into());
    };
    let mut new_role = None;
    match role::state(aws, &role_ref).await? {
        role::State::Trusted => steps.push(step(
            format!("IAM role {}", role_ref.name),
            "exists",
            format!("trusts {}", role::CODEDEPLOY),
        )),
        role::State::Untrusted => {
            return Err(ConfigError::in_file(
                cfg,
                format!("IAM role `{}` exists and does not trust {}", role_ref.name, role::CODEDEPLOY),
            )
            .field("codedeploy.service_role")
            .hint("setup never changes an existing role: add codedeploy.amazonaws.com to its trust policy, or name a role setup may create")
            .into());
        }
        role::State::Missing => {
            steps.push(step(
                format!("IAM role {}", role_ref.name),
                "create",
                format!(
                    "path {}, trusting {}, managed policy {}",
                    role_ref.path,
                    role::CODEDEPLOY,
                    role::MANAGED_POLICY
                ),
            ));
            new_role = Some(role_ref);
        }
    }

    // The service, and what deploy creates.
    let standing = service::standing(plan, aws).await?;
    let (_, said) = service::statement(plan, &standing, serving_name);
    steps.push(step(
        format!("service {}/{}", plan.cluster, plan.service),
        "note",
        said,
    ));
    steps.push(step(
        format!(
            "CodeDeploy application {} and deployment group {}",
            plan.application, plan.deployment_group
        ),
        "note",
        "`kirikae deploy` creates or updates them from the config".into(),
    ));
    Ok(Setup {
        steps,
        target_group: copy,
        role: new_role,
        listener: new_listener,
    })
}

fn missing_listener(
    plan: &Plan,
    field: &str,
    r: &ListenerRef,
    found: &listener::Found,
    hint: &str,
) -> Error {
    let message = match found {
        listener::Found::NoLoadBalancer(lb) => format!("load balancer `{lb}` does not exist"),
        listener::Found::NoSuchArn(arn) => format!("listener `{arn}` does not exist"),
        listener::Found::Missing { port, .. } => format!("{r}: no listener on port {port}"),
        listener::Found::Exists(_) => format!("{r}"),
    };
    ConfigError::in_file(&plan.config_path, message)
        .field(format!("codedeploy.{field}"))
        .hint(hint.to_string())
        .into()
}

/// Creates the plan's `create` steps, in order; stops at the first failure, saying what was created.
pub async fn execute(setup: &Setup, aws: &Clients) -> Executed {
    let mut created = Vec::new();
    let result = async {
        let mut green_arn = None;
        if let Some(c) = &setup.target_group {
            let arn = c.create(aws).await?;
            created.push(format!("target group {} ({arn})", c.name));
            green_arn = Some((c.name.clone(), arn));
        }
        if let Some(r) = &setup.role {
            let arn = role::create(aws, r).await?;
            created.push(format!("IAM role {} ({arn})", r.name));
            if arn != r.arn {
                return Err(Error::Conflict {
                    message: format!(
                        "IAM created the role as {arn}, but the config names {}",
                        r.arn
                    ),
                    hint: Some("put the created role's ARN in codedeploy.service_role (the account id differs)".into()),
                });
            }
        }
        if let Some(l) = &setup.listener {
            let tg = match &green_arn {
                Some((name, arn)) if *name == l.forward_to => arn.clone(),
                _ => network::target_group(aws, &l.forward_to)
                    .await?
                    .and_then(|t| t.target_group_arn().map(str::to_string))
                    .unwrap_or_default(),
            };
            let arn = l.create(aws, &tg).await?;
            created.push(format!("test listener on port {} ({arn})", l.port));
        }
        Ok::<(), Error>(())
    }
    .await;
    Executed {
        created,
        error: result.err(),
    }
}
