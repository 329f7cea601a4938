//! The `codedeploy:` block's settings in ECS-native words (pure): the deployment group's traffic
//! routing → `strategy` (all at once → BLUE_GREEN, time-based linear → LINEAR, time-based canary →
//! CANARY, same percentages and minutes), the termination wait → `bake_time_minutes` (blue kept beside
//! green for a fast way back, in both), "wait for continue" at Ready → a PAUSE hook before production
//! traffic (`kirikae promote` continues either), alarms → the deployment's alarms. What has no ECS
//! equivalent is said, never dropped silently; AppSpec hooks are refused: ECS invokes Lambda hooks with
//! another contract and a role per hook, so the functions must be recreated first (AWS's migration guide:
//! "You must create new lifecycle hooks").

use crate::config::{CodeDeploySection, ReadyAction, RollbackEvent};
use crate::native::config::{Canary, EcsAlarms, EcsSection, Hook, HookAction, Linear, Strategy};

/// How the deployment group's config moves production traffic (CodeDeploy's `TrafficRoutingConfig`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Routing {
    AllAtOnce,
    /// `linearPercentage` every `linearInterval` minutes.
    Linear {
        percent: i32,
        minutes: i32,
    },
    /// `canaryPercentage`, then the rest after `canaryInterval` minutes.
    Canary {
        percent: i32,
        minutes: i32,
    },
}

/// A setting that cannot move as it is: `(field, message, hint)`.
pub type Problem = (String, String, String);

/// The `ecs:` block, and what is said about what did not carry over.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub ecs: EcsSection,
    pub notes: Vec<String>,
}

/// CodeDeploy's lifecycle events and the ECS stage each one's checks belong at (for the refusal's hint).
const HOOK_STAGES: &[(&str, &str)] = &[
    ("BeforeInstall", "PRE_SCALE_UP"),
    ("AfterInstall", "POST_SCALE_UP"),
    ("AfterAllowTestTraffic", "POST_TEST_TRAFFIC_SHIFT"),
    ("BeforeAllowTraffic", "PRE_PRODUCTION_TRAFFIC_SHIFT"),
    ("AfterAllowTraffic", "POST_PRODUCTION_TRAFFIC_SHIFT"),
];

pub fn map(
    cd: &CodeDeploySection,
    routing: Routing,
    infrastructure_role: &str,
) -> Result<Mapped, Problem> {
    let problem = |field: &str, message: String, hint: &str| {
        Err((format!("codedeploy.{field}"), message, hint.to_string()))
    };
    let mut notes = Vec::new();
    if let Some((event, _)) = cd.hooks.entries().first() {
        let stages: Vec<String> = cd
            .hooks
            .entries()
            .iter()
            .filter_map(|(e, _)| HOOK_STAGES.iter().find(|(n, _)| n == e))
            .map(|(e, s)| format!("{e} → {s}"))
            .collect();
        return problem(
            "hooks",
            format!(
                "names AppSpec hooks ({event}…); ECS invokes lifecycle hooks with another contract (the function returns hookStatus instead of calling PutLifecycleEventHookExecutionStatus) and a role of their own, so they cannot move as they are"
            ),
            &format!(
                "recreate the functions for ECS's contract, remove `hooks:` from the codedeploy block, migrate, then add them to ecs.hooks ({})",
                stages.join(", ")
            ),
        );
    }
    if cd.termination_wait_minutes > 1440 {
        return problem(
            "termination_wait_minutes",
            format!(
                "is {}; ECS's bake time (what keeps blue beside green after the switch) is at most 1440 minutes",
                cd.termination_wait_minutes
            ),
            "lower it to 1440 or less, then migrate",
        );
    }
    let (strategy, linear, canary) = match routing {
        Routing::AllAtOnce => (Strategy::BlueGreen, None, None),
        Routing::Linear { percent, minutes } => {
            if !(3..=100).contains(&percent) {
                return problem(
                    "deployment_config",
                    format!(
                        "`{}` shifts {percent}% at a time; ECS's LINEAR strategy shifts 3% to 100% per step",
                        cd.deployment_config
                    ),
                    "use a deployment config with steps of 3% or more, then migrate",
                );
            }
            if minutes > 1440 {
                return problem(
                    "deployment_config",
                    format!(
                        "`{}` waits {minutes} minutes between steps; ECS allows at most 1440",
                        cd.deployment_config
                    ),
                    "use a deployment config with a shorter interval, then migrate",
                );
            }
            let linear = Linear {
                step_percent: f64::from(percent),
                step_bake_time_minutes: minutes.max(0) as u32,
            };
            (Strategy::Linear, Some(linear), None)
        }
        Routing::Canary { percent, minutes } => {
            if !(1..=100).contains(&percent) || minutes > 1440 {
                return problem(
                    "deployment_config",
                    format!(
                        "`{}` ({percent}%, then the rest after {minutes} minutes) is outside ECS's CANARY bounds (0.1% to 100%, at most 1440 minutes)",
                        cd.deployment_config
                    ),
                    "use a deployment config within them, then migrate",
                );
            }
            let canary = Canary {
                canary_percent: f64::from(percent),
                canary_bake_time_minutes: minutes.max(0) as u32,
            };
            (Strategy::Canary, None, Some(canary))
        }
    };
    let mut hooks = Vec::new();
    if cd.ready.action == ReadyAction::StopDeployment {
        // CodeDeploy stops the deployment when nobody continues it in time; ECS's timeout action
        // ROLLBACK does the same to production traffic (it stays on blue).
        let timeout = (cd.ready.wait_minutes > 0).then_some(cd.ready.wait_minutes.min(20160));
        if timeout.is_none() {
            notes.push(
                "ready.wait_minutes is 0: the pause before production traffic waits ECS's default 1440 minutes".into(),
            );
        }
        hooks.push(Hook {
            stages: vec!["PRE_PRODUCTION_TRAFFIC_SHIFT".into()],
            function: None,
            role: None,
            pause: true,
            timeout_minutes: timeout,
            timeout_action: Some(HookAction::Rollback),
            details: None,
        });
    }
    let alarms = cd.alarms.as_ref().map(|a| {
        if a.ignore_poll_failure {
            notes.push(
                "alarms.ignore_poll_failure has no ECS equivalent: ECS reads the alarms itself"
                    .into(),
            );
        }
        EcsAlarms {
            names: a.names.clone(),
            rollback: cd
                .auto_rollback
                .contains(&RollbackEvent::DeploymentStopOnAlarm),
            enabled: a.enabled,
        }
    });
    if !cd.auto_rollback.contains(&RollbackEvent::DeploymentFailure) {
        notes.push(
            "auto_rollback without DEPLOYMENT_FAILURE: ECS always rolls a failed Blue/Green deployment back".into(),
        );
    }
    Ok(Mapped {
        ecs: EcsSection {
            strategy,
            bake_time_minutes: cd.termination_wait_minutes,
            linear,
            canary,
            target_groups: cd.target_groups.clone(),
            production_listener: cd.production_listener.clone(),
            test_listener: cd.test_listener.clone(),
            infrastructure_role: infrastructure_role.to_string(),
            hooks,
            alarms,
        },
        notes,
    })
}

/// The config's `gate:` carries over as it is (the rewrite keeps every line but the `codedeploy:`
/// block): on ECS it holds at a pause at POST_TEST_TRAFFIC_SHIFT ([`crate::native::gate`]), so the pause
/// CodeDeploy's Ready wait became moves there — test traffic on green, production on blue, as in Ready —
/// keeping `ready.wait_minutes` as its timeout, which bounded the gate before and bounds it still. One
/// pause, where the gate runs: a second one before production would hold again after the gate passed.
pub fn carry_gate(mapped: &mut Mapped) {
    use crate::native::gate::GATE_STAGE;
    for hook in mapped.ecs.hooks.iter_mut().filter(|h| h.pause) {
        for stage in hook.stages.iter_mut() {
            if stage == "PRE_PRODUCTION_TRAFFIC_SHIFT" {
                *stage = GATE_STAGE.to_string();
            }
        }
    }
    mapped.notes.push(format!(
        "gate: carried over: service deployments pause at {GATE_STAGE} (test traffic on green, production on the previous revision, as in Ready) while kirikae runs the gate — the move's own one included —, then continue or roll back; kirikae promote -c runs the gate's checks before it continues a pause"
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(extra: &str) -> CodeDeploySection {
        serde_yaml_ng::from_str(&format!(
            "service_role: arn:aws:iam::1:role/cd\ntarget_groups: [a, b]\nproduction_listener: {{load_balancer: lb, port: 80}}\n{extra}"
        ))
        .unwrap()
    }

    const ROLE: &str = "arn:aws:iam::1:role/infra";

    #[test]
    fn all_at_once_is_blue_green_with_the_termination_wait_as_bake() {
        let m = map(
            &section("termination_wait_minutes: 5\n"),
            Routing::AllAtOnce,
            ROLE,
        )
        .unwrap();
        assert_eq!(m.ecs.strategy, Strategy::BlueGreen);
        assert_eq!(m.ecs.bake_time_minutes, 5);
        assert_eq!(m.ecs.target_groups, ["a", "b"]);
        assert!(m.ecs.hooks.is_empty());
        assert_eq!(crate::native::config::check(&m.ecs), Ok(()));
    }

    #[test]
    fn linear_and_canary_keep_their_percentages_and_minutes() {
        let m = map(
            &section(""),
            Routing::Linear {
                percent: 10,
                minutes: 3,
            },
            ROLE,
        )
        .unwrap();
        assert_eq!(m.ecs.strategy, Strategy::Linear);
        assert_eq!(
            m.ecs.linear,
            Some(Linear {
                step_percent: 10.0,
                step_bake_time_minutes: 3
            })
        );
        let m = map(
            &section(""),
            Routing::Canary {
                percent: 10,
                minutes: 15,
            },
            ROLE,
        )
        .unwrap();
        assert_eq!(m.ecs.canary.unwrap().canary_bake_time_minutes, 15);
        let e = map(
            &section(""),
            Routing::Linear {
                percent: 1,
                minutes: 1,
            },
            ROLE,
        )
        .unwrap_err();
        assert_eq!(e.0, "codedeploy.deployment_config");
    }

    #[test]
    fn with_a_gate_the_ready_pause_is_where_the_gate_runs() {
        let mut m = map(
            &section("ready: {action: STOP_DEPLOYMENT, wait_minutes: 60}\n"),
            Routing::AllAtOnce,
            ROLE,
        )
        .unwrap();
        carry_gate(&mut m);
        assert_eq!(m.ecs.hooks.len(), 1);
        assert_eq!(m.ecs.hooks[0].stages, ["POST_TEST_TRAFFIC_SHIFT"]);
        assert_eq!(m.ecs.hooks[0].timeout_minutes, Some(60));
        assert!(m.notes.iter().any(|n| n.starts_with("gate: carried over")));
    }

    #[test]
    fn waiting_at_ready_is_a_pause_before_production_traffic() {
        let m = map(
            &section("ready: {action: STOP_DEPLOYMENT, wait_minutes: 60}\n"),
            Routing::AllAtOnce,
            ROLE,
        )
        .unwrap();
        let h = &m.ecs.hooks[0];
        assert!(h.pause);
        assert_eq!(h.stages, ["PRE_PRODUCTION_TRAFFIC_SHIFT"]);
        assert_eq!(h.timeout_minutes, Some(60));
        assert_eq!(crate::native::config::check(&m.ecs), Ok(()));
    }

    #[test]
    fn appspec_hooks_are_refused_with_their_stages() {
        let e = map(
            &section("hooks: {AfterAllowTestTraffic: smoke}\n"),
            Routing::AllAtOnce,
            ROLE,
        )
        .unwrap_err();
        assert_eq!(e.0, "codedeploy.hooks");
        assert!(
            e.2.contains("AfterAllowTestTraffic → POST_TEST_TRAFFIC_SHIFT"),
            "{}",
            e.2
        );
    }

    #[test]
    fn alarms_roll_back_when_the_group_did_on_alarm() {
        let m = map(
            &section("alarms: {names: [x]}\nauto_rollback: [DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM]\n"),
            Routing::AllAtOnce,
            ROLE,
        )
        .unwrap();
        assert_eq!(
            m.ecs.alarms,
            Some(EcsAlarms {
                names: vec!["x".into()],
                rollback: true,
                enabled: true
            })
        );
    }
}
