//! `kirikae demo --controller ecs`: the same demo on ECS-native Blue/Green — the service has the ECS
//! deployment controller, v2 is an UpdateService whose service deployment ECS runs itself (the
//! production rule's weights move), followed by the engine's native path exactly as `kirikae deploy -c
//! examples/kirikae-ecs.yml` runs it.

use kirikae_engine::error::Error;
use kirikae_engine::interrupt::Interrupt;
use kirikae_engine::native::{self, NativePlan};

use kirikae_engine::fleet::Ready;

use super::{
    DemoError, Deploy, Narrator, Options, Report, V2, demo_flags, deploy_one, examples, stack,
    v2_under_load,
};

/// The listener of a listener rule ARN (`…:listener-rule/app/LB/ID/LISTENER/RULE` → `…:listener/app/LB/ID/LISTENER`).
fn listener_of(rule_arn: &str) -> String {
    native::gate::listener_of_rule(rule_arn).unwrap_or_else(|| rule_arn.to_string())
}

pub(super) async fn run(
    options: &Options,
    narrator: &dyn Narrator,
    cancel: Interrupt,
) -> Result<Report, DemoError> {
    let dir = match &options.examples {
        Some(dir) => dir.clone(),
        None => examples::write(&options.work_dir).map_err(Error::Config)?,
    };
    let prod_port = examples::production_port();
    let vars = |deploy: Deploy| examples::Vars {
        version: deploy.version(),
        healthy: true,
        deployment_config: &options.deployment_config,
        prod_port,
    };
    let stack_file = stack::load(
        &dir.join(examples::STACK),
        &examples::templater(&vars(Deploy::V1)),
    )
    .map_err(Error::Config)?;
    let config = dir.join(examples::CONFIG_ECS);
    let plan_of = |deploy: Deploy| -> Result<NativePlan, Error> {
        let flags = demo_flags();
        let templater = examples::templater_with_strategy(
            &vars(deploy),
            &examples::ecs_strategy(&options.deployment_config),
        );
        native::plan::build(&config, &flags, &templater)?.ok_or_else(|| Error::Conflict {
            message: format!("{} has no `ecs:` block", config.display()),
            hint: None,
        })
    };
    let (plan_v1, mut plan_v2) = (plan_of(Deploy::V1)?, plan_of(Deploy::V2)?);
    // v2 only: v1 creates the service, whose first service deployment would pause at the gate too, and
    // the gate's checks expect v2.
    if options.gate {
        with_gate(&mut plan_v2)?;
    }

    let aws = super::clients(&options.endpoint_url).await;
    let provisioned = stack::provision(&aws, &stack_file).await?;
    stack::forward_to_both(&aws, &provisioned).await?;
    narrator.step(&format!(
        "provisioned {}: {provisioned}; the listeners forward to both groups (1/0) for ECS to move the weights",
        dir.join(examples::STACK).display()
    ));
    narrator.step(&format!(
        "deploying v1 with kirikae deploy -c {} (ECS controller)",
        config.display()
    ));
    let checked = native::prepare_with(plan_v1, aws.clone()).await;
    let checked = checked.map(|p| Ready::Native(Box::new(p)));
    let v1 = deploy_one(checked, Deploy::V1, narrator, &cancel).await?;
    if !v1.result.is_success() {
        return Err(DemoError::V1(Box::new(v1)));
    }

    let prepared = native::prepare_with(plan_v2, aws.clone()).await?;
    let v2 = V2 {
        prod_listener: listener_of(&prepared.remote.production_rule),
        target_groups: prepared.remote.target_groups.clone(),
        what: format!(
            "deploying v2 ECS-native Blue/Green ({}) while the load runs{}",
            prepared.plan.ecs.strategy.as_str(),
            if options.gate {
                "; a gate checks green through the test listener at a pause before production moves"
            } else {
                ""
            }
        ),
        ready: Ready::Native(Box::new(prepared)),
    };
    v2_under_load(options, &aws, v1, v2, narrator, &cancel).await
}

/// `--gate` on the ECS controller: the same checks as [`super::with_gate`], held at the pause kirikae
/// adds at POST_TEST_TRAFFIC_SHIFT ([`native::gate`]). Checked as `gate:` in a config is.
fn with_gate(plan: &mut NativePlan) -> Result<(), Error> {
    let gate = super::demo_gate();
    native::gate::check(&plan.config_path, &gate, &plan.ecs, &plan.wait)?;
    plan.gate = Some(gate);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_listener_of_a_rule() {
        assert_eq!(
            super::listener_of(
                "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/demo/abc/def/ghi"
            ),
            "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/demo/abc/def"
        );
    }
}
