//! `kirikae setup`: creates what the config's Blue/Green still lacks, and nothing else. First a
//! [`Setup`] plan from read-only calls (every problem found there is an error before any change), then
//! [`execute`] carries out only the steps marked `create` or `modify`, in order:
//!
//! - [`target_group`]: the second target group, copied from the first;
//! - [`role`]: CodeDeploy's service role (trusting `codedeploy.amazonaws.com`, with the managed policy
//!   `AWSCodeDeployRoleForECS`) or, for an `ecs:` block, ECS's infrastructure role (trusting
//!   `ecs.amazonaws.com`, with `AmazonECSInfrastructureRolePolicyForLoadBalancers`);
//! - [`listener`]: for an `ecs:` block, the production listener's default action rewritten to forward to
//!   both groups, weights 1 on the serving one and 0 on the other (what ECS-native requires; traffic goes
//!   where it went) — the one change to something that exists, named in the plan; then the test listener
//!   on the configured port (to the group not serving production, or weighted 1/0 for ECS-native).
//!
//! Nothing else that exists is changed: a listener on the test port forwarding elsewhere, or a role that
//! does not trust its service, is an error naming it. [`service`] states where the service stands (a
//! rolling one: the way to Blue/Green). Everything created is tagged [`CREATED_BY`]; a second run finds
//! it and creates nothing.

pub mod listener;
pub mod role;
pub mod service;
pub mod target_group;

use std::path::Path;

use serde::Serialize;

use crate::config::ListenerRef;
use crate::connection::Clients;
use crate::error::{ConfigError, Error};
use crate::init::network;
use crate::native::NativePlan;
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
    /// `exists` (nothing to do), `create`, `modify` (the one change to something that exists), or
    /// `note` (said, not done by setup).
    pub action: &'static str,
    pub detail: String,
}

/// What a run would do, and the state of the rest.
#[derive(Debug, Clone)]
pub struct Setup {
    pub steps: Vec<Step>,
    target_group: Option<target_group::Copy>,
    role: Option<(role::RoleRef, role::Kind)>,
    rewrite: Option<listener::Rewrite>,
    listener: Option<listener::NewListener>,
}

impl Setup {
    pub fn creates_anything(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.action == "create" || s.action == "modify")
    }
}

/// What was created or changed, and the error that stopped the run, if any.
#[derive(Debug)]
pub struct Executed {
    pub created: Vec<String>,
    pub error: Option<Error>,
}

/// What a config asks setup for, whichever block it has.
struct Wanted<'a> {
    config_path: &'a Path,
    cluster: &'a str,
    service: &'a str,
    /// `codedeploy` or `ecs`, for the fields errors name.
    block: &'static str,
    target_groups: [String; 2],
    production_listener: &'a ListenerRef,
    test_listener: Option<&'a ListenerRef>,
    role_arn: &'a str,
    role_kind: role::Kind,
    /// CodeDeploy's application and group, which `kirikae deploy` creates (CodeDeploy configs only).
    codedeploy_names: Option<(&'a str, &'a str)>,
}

/// The plan for a config with a `codedeploy:` block: read-only calls only.
pub async fn plan(plan: &Plan, aws: &Clients) -> Result<Setup, Error> {
    let cd = &plan.codedeploy;
    plan_for(
        &Wanted {
            config_path: &plan.config_path,
            cluster: &plan.cluster,
            service: &plan.service,
            block: "codedeploy",
            target_groups: [cd.target_groups[0].clone(), cd.target_groups[1].clone()],
            production_listener: &cd.production_listener,
            test_listener: cd.test_listener.as_ref(),
            role_arn: &cd.service_role,
            role_kind: role::Kind::CodeDeploy,
            codedeploy_names: Some((&plan.application, &plan.deployment_group)),
        },
        aws,
    )
    .await
}

/// The plan for a config with an `ecs:` block (ECS-native Blue/Green): read-only calls only.
pub async fn plan_native(plan: &NativePlan, aws: &Clients) -> Result<Setup, Error> {
    let ecs = &plan.ecs;
    let pair: Vec<String> = ecs.target_groups.iter().map(|t| last_segment(t)).collect();
    let [a, b] = <[String; 2]>::try_from(pair).map_err(|_| {
        Error::from(
            ConfigError::in_file(&plan.config_path, "needs exactly two target groups")
                .field("ecs.target_groups"),
        )
    })?;
    plan_for(
        &Wanted {
            config_path: &plan.config_path,
            cluster: &plan.cluster,
            service: &plan.service,
            block: "ecs",
            target_groups: [a, b],
            production_listener: &ecs.production_listener,
            test_listener: ecs.test_listener.as_ref(),
            role_arn: &ecs.infrastructure_role,
            role_kind: role::Kind::EcsInfrastructure,
            codedeploy_names: None,
        },
        aws,
    )
    .await
}

/// A target group named by ARN or name: its name (`…:targetgroup/NAME/ID` → `NAME`).
fn last_segment(t: &str) -> String {
    match t.split_once(":targetgroup/") {
        Some((_, rest)) => rest.split('/').next().unwrap_or(rest).to_string(),
        None => t.to_string(),
    }
}

async fn plan_for(w: &Wanted<'_>, aws: &Clients) -> Result<Setup, Error> {
    let cfg = w.config_path;
    let native = w.role_kind == role::Kind::EcsInfrastructure;
    let field = |f: &str| format!("{}.{f}", w.block);
    let mut steps = Vec::new();
    let step = |resource: String, action: &'static str, detail: String| Step {
        resource,
        action,
        detail,
    };

    // The target group pair: both there, or one there to copy the other from.
    let names = &w.target_groups;
    let mut found = Vec::new();
    for n in names {
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
            for n in names {
                steps.push(step(format!("target group {n}"), "exists", String::new()));
            }
        }
        (None, None) => {
            return Err(ConfigError::in_file(
                cfg,
                format!(
                    "neither target group of the pair exists ({} and {})",
                    names[0], names[1]
                ),
            )
            .field(field("target_groups"))
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
    let prod_ref = w.production_listener;
    let found_prod = listener::find(aws, prod_ref).await?;
    let prod_forwards = match &found_prod {
        listener::Found::Exists(l) => network::forwards(l),
        listener::Found::Rule(f) if native => f.clone(),
        other => {
            return Err(missing_listener(
                cfg,
                &field("production_listener"),
                prod_ref,
                other,
                "setup creates only the test listener: the production listener is the one your users reach",
            ));
        }
    };
    let serves = |arn: &Option<String>| {
        arn.as_deref().is_some_and(|a| {
            prod_forwards
                .iter()
                .any(|(f, w)| f == a && w.is_none_or(|w| w > 0))
        })
    };
    let serving: Vec<usize> = (0..2).filter(|i| serves(&arns[*i])).collect();
    let production = match serving.as_slice() {
        [one] => *one,
        [] => {
            return Err(ConfigError::in_file(
                cfg,
                format!(
                    "production listener {prod_ref} forwards to neither {} nor {}",
                    names[0], names[1]
                ),
            )
            .field(field("production_listener"))
            .hint("its default action must forward to the group the service is behind; setup never points the production listener elsewhere")
            .into());
        }
        _ => {
            return Err(ConfigError::in_file(
                cfg,
                format!(
                    "production listener {prod_ref} splits its traffic across {} and {}",
                    names[0], names[1]
                ),
            )
            .field(field("production_listener"))
            .hint("Blue/Green moves traffic from one group to the other: make it forward 100% to one of the pair")
            .into());
        }
    };
    let (serving_name, other_name) = (&names[production], &names[1 - production]);
    let to_both = arns
        .iter()
        .flatten()
        .all(|a| prod_forwards.iter().any(|(f, _)| f == a))
        && arns.iter().all(Option::is_some);
    let weighted = listener::Forward::Weighted {
        serving: serving_name.clone(),
        other: other_name.clone(),
    };
    let mut rewrite = None;
    match (&found_prod, native && !to_both) {
        (_, false) => steps.push(step(
            format!("production listener {prod_ref}"),
            "exists",
            if native {
                format!("forwards to both groups, {serving_name} serving")
            } else {
                format!("forwards to {serving_name}")
            },
        )),
        (listener::Found::Exists(l), true) => {
            steps.push(step(
                format!("production listener {prod_ref}"),
                "modify",
                format!(
                    "default action rewritten {} — the weighted form ECS-native Blue/Green requires; traffic still all goes to {serving_name}",
                    weighted.describe()
                ),
            ));
            rewrite = Some(listener::Rewrite {
                listener_arn: l.listener_arn().unwrap_or_default().to_string(),
                forward: weighted.clone(),
            });
        }
        _ => {
            return Err(ConfigError::in_file(
                cfg,
                format!("listener rule {prod_ref} does not forward to both {} and {}", names[0], names[1]),
            )
            .field(field("production_listener"))
            .hint("ECS-native needs the production rule to forward to both groups, weights 1/0; setup rewrites only a listener's default rule: name the listener, or change the rule yourself")
            .into());
        }
    }

    // The test listener, on the configured port.
    let mut new_listener = None;
    match w.test_listener {
        None => steps.push(step(
            "test listener".into(),
            "note",
            format!("none in the config: green is checked only by {other_name}'s health checks before production moves to it; name one in {} and setup creates it", field("test_listener")),
        )),
        Some(r) => match listener::find(aws, r).await? {
            listener::Found::Exists(l) => {
                let forwards = network::forwards(&l);
                let to_pair = arns
                    .iter()
                    .flatten()
                    .any(|a| forwards.iter().any(|(f, _)| f == a));
                if !to_pair {
                    return Err(ConfigError::in_file(
                        cfg,
                        format!(
                            "a listener on {r} already exists and forwards to neither {} nor {}",
                            names[0], names[1]
                        ),
                    )
                    .field(field("test_listener"))
                    .hint("setup never changes an existing listener: give the test listener a free port")
                    .into());
                }
                steps.push(step(format!("test listener {r}"), "exists", String::new()));
            }
            listener::Found::Rule(_) if native => {
                steps.push(step(format!("test listener rule {r}"), "exists", String::new()));
            }
            listener::Found::Missing {
                load_balancer_arn,
                port,
            } => {
                let like = match &found_prod {
                    listener::Found::Exists(l) => l.clone(),
                    _ => {
                        return Err(ConfigError::in_file(cfg, format!("{r}: no listener on port {port}"))
                            .field(field("test_listener"))
                            .hint("name the production listener (not a rule) so setup can create the test listener like it")
                            .into());
                    }
                };
                let forward = if native {
                    weighted.clone()
                } else {
                    listener::Forward::To(other_name.clone())
                };
                let l = listener::NewListener {
                    load_balancer_arn,
                    port,
                    like,
                    forward,
                };
                steps.push(step(
                    format!("test listener {r}"),
                    "create",
                    format!("{} {}", l.protocol(), l.forward.describe()),
                ));
                new_listener = Some(l);
            }
            other => {
                return Err(missing_listener(
                    cfg,
                    &field("test_listener"),
                    r,
                    &other,
                    "name the test listener by {load_balancer, port} so setup can create it on an existing load balancer",
                ));
            }
        },
    }

    // The role.
    let role_field = if native {
        "infrastructure_role"
    } else {
        "service_role"
    };
    let Some(role_ref) = role::RoleRef::parse(w.role_arn) else {
        return Err(
            ConfigError::in_file(cfg, format!("`{}` is not an IAM role ARN", w.role_arn))
                .field(field(role_field))
                .hint("e.g. arn:aws:iam::123456789012:role/NAME (setup creates it when missing)")
                .into(),
        );
    };
    let kind = w.role_kind;
    let mut new_role = None;
    match role::state(aws, &role_ref, kind).await? {
        role::State::Trusted => steps.push(step(
            format!("IAM role {}", role_ref.name),
            "exists",
            format!("trusts {}", kind.principal()),
        )),
        role::State::Untrusted => {
            return Err(ConfigError::in_file(
                cfg,
                format!(
                    "IAM role `{}` exists and does not trust {}",
                    role_ref.name,
                    kind.principal()
                ),
            )
            .field(field(role_field))
            .hint(format!(
                "setup never changes an existing role: add {} to its trust policy, or name a role setup may create",
                kind.principal()
            ))
            .into());
        }
        role::State::Missing => {
            steps.push(step(
                format!("IAM role {}", role_ref.name),
                "create",
                format!(
                    "path {}, trusting {}, managed policy {}",
                    role_ref.path,
                    kind.principal(),
                    kind.managed_policy()
                ),
            ));
            new_role = Some((role_ref, kind));
        }
    }

    // The service, and what deploy creates.
    let named = service::Named {
        config_path: cfg,
        cluster: w.cluster,
        service: w.service,
        native,
    };
    let standing = service::standing(&named, aws).await?;
    steps.push(step(
        format!("service {}/{}", w.cluster, w.service),
        "note",
        service::statement(&named, &standing, serving_name),
    ));
    if let Some((app, group)) = w.codedeploy_names {
        steps.push(step(
            format!("CodeDeploy application {app} and deployment group {group}"),
            "note",
            "`kirikae deploy` creates or updates them from the config".into(),
        ));
    }
    Ok(Setup {
        steps,
        target_group: copy,
        role: new_role,
        rewrite,
        listener: new_listener,
    })
}

fn missing_listener(
    cfg: &Path,
    field: &str,
    r: &ListenerRef,
    found: &listener::Found,
    hint: &str,
) -> Error {
    let message = match found {
        listener::Found::NoLoadBalancer(lb) => format!("load balancer `{lb}` does not exist"),
        listener::Found::NoSuchArn(arn) => format!("listener `{arn}` does not exist"),
        listener::Found::Missing { port, .. } => format!("{r}: no listener on port {port}"),
        listener::Found::Rule(_) => format!("{r} is a listener rule; a listener is needed here"),
        listener::Found::Exists(_) => format!("{r}"),
    };
    ConfigError::in_file(cfg, message)
        .field(field.to_string())
        .hint(hint.to_string())
        .into()
}

/// Carries out the plan's `create` and `modify` steps, in order; stops at the first failure, saying
/// what was done.
pub async fn execute(setup: &Setup, aws: &Clients) -> Executed {
    let mut created = Vec::new();
    let result = async {
        let mut new_group = None;
        if let Some(c) = &setup.target_group {
            let arn = c.create(aws).await?;
            created.push(format!("target group {} ({arn})", c.name));
            new_group = Some((c.name.clone(), arn));
        }
        if let Some((r, kind)) = &setup.role {
            let arn = role::create(aws, r, *kind).await?;
            created.push(format!("IAM role {} ({arn})", r.name));
            if arn != r.arn {
                return Err(Error::Conflict {
                    message: format!(
                        "IAM created the role as {arn}, but the config names {}",
                        r.arn
                    ),
                    hint: Some(
                        "put the created role's ARN in the config (the account id differs)".into(),
                    ),
                });
            }
        }
        if setup.rewrite.is_none() && setup.listener.is_none() {
            return Ok(());
        }
        // The groups' ARNs by name, the new one included.
        let mut arns: Vec<(String, String)> = new_group.into_iter().collect();
        for name in setup.group_names() {
            if arns.iter().all(|(n, _)| *n != name)
                && let Some(t) = network::target_group(aws, &name).await?
            {
                arns.push((name, t.target_group_arn().unwrap_or_default().to_string()));
            }
        }
        let lookup = |name: &str| {
            arns.iter()
                .find(|(n, _)| n == name)
                .map(|(_, a)| a.clone())
                .unwrap_or_default()
        };
        if let Some(rw) = &setup.rewrite {
            rw.apply(aws, &lookup).await?;
            created.push(format!(
                "production listener's default action {} ({})",
                rw.forward.describe(),
                rw.listener_arn
            ));
        }
        if let Some(l) = &setup.listener {
            let arn = l.create(aws, &lookup).await?;
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

impl Setup {
    /// The group names the listener steps forward to.
    fn group_names(&self) -> Vec<String> {
        let of = |f: &listener::Forward| match f {
            listener::Forward::To(g) => vec![g.clone()],
            listener::Forward::Weighted { serving, other } => vec![serving.clone(), other.clone()],
        };
        let mut names: Vec<String> = self
            .rewrite
            .iter()
            .flat_map(|r| of(&r.forward))
            .chain(self.listener.iter().flat_map(|l| of(&l.forward)))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}
