//! DescribeServices and ListServices.

use serde_json::{Value, json};

use crate::ecs::{arns, io};
use crate::protocol::ApiError;
use crate::world::Ctx;

pub fn describe(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let refs: Vec<String> = io::parse(&input["services"])?;
    let with_tags = io::includes_tags(input);
    let key = cx.region.key.clone();
    let cluster = cx.region.ecs.clusters.active(io::cluster_ref(input))?;
    let mut services = Vec::new();
    let mut failures = Vec::new();
    for r in refs {
        let (arn_cluster, name) = arns::service_name(&r);
        let in_cluster = arn_cluster.is_none_or(|c| c == cluster.name);
        let found = cluster
            .services
            .get(&name)
            .or_else(|| {
                cluster
                    .retired_services
                    .iter()
                    .rev()
                    .find(|s| s.name == name)
            })
            .filter(|_| in_cluster);
        match found {
            Some(s) => services.push(s.to_json(&cluster.tasks, with_tags)),
            None => failures.push(
                json!({ "arn": arns::service(&key, &cluster.name, &name), "reason": "MISSING" }),
            ),
        }
    }
    Ok(json!({ "services": services, "failures": failures }))
}

pub fn list(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let cluster = cx.region.ecs.clusters.active(io::cluster_ref(input))?;
    let launch_type = input.get("launchType").and_then(Value::as_str);
    let strategy = input.get("schedulingStrategy").and_then(Value::as_str);
    let arns: Vec<String> = cluster
        .services
        .values()
        .filter(|s| {
            launch_type.is_none_or(|lt| s.primary_spec().launch_type.as_deref() == Some(lt))
        })
        .filter(|s| strategy.is_none_or(|st| s.scheduling_strategy == st))
        .map(|s| s.arn.clone())
        .collect();
    let (page, next) = io::page(arns, input, 10)?;
    Ok(io::compact(
        json!({ "serviceArns": page, "nextToken": next }),
    ))
}
