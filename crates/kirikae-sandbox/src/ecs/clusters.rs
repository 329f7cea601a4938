//! Clusters: CreateCluster, DescribeClusters, ListClusters, DeleteCluster. A cluster holds its services
//! and tasks. Deleted clusters stay describable as INACTIVE, as on AWS.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};

use super::services::Service;
use super::tags::{self, Tag};
use super::tasks::Task;
use super::{arns, errors, io};
use crate::protocol::ApiError;
use crate::world::Ctx;

pub struct Cluster {
    pub name: String,
    pub arn: String,
    pub active: bool,
    pub tags: Vec<Tag>,
    pub settings: Value,
    pub configuration: Option<Value>,
    pub capacity_providers: Value,
    pub default_capacity_provider_strategy: Value,
    pub service_connect_defaults: Option<Value>,
    /// ACTIVE and DRAINING services by name.
    pub services: BTreeMap<String, Service>,
    /// INACTIVE (deleted) services, oldest first; kept describable for a while, as AWS does.
    pub retired_services: VecDeque<Service>,
    /// Every task by id, including STOPPED ones until they expire.
    pub tasks: BTreeMap<String, Task>,
}

/// How many deleted services a cluster keeps describable.
const RETIRED_SERVICES_KEPT: usize = 100;

impl Cluster {
    pub fn retire(&mut self, service: Service) {
        self.retired_services.push_back(service);
        while self.retired_services.len() > RETIRED_SERVICES_KEPT {
            self.retired_services.pop_front();
        }
    }

    fn to_json(&self, with_tags: bool) -> Value {
        let running = self.tasks.values().filter(|t| t.is_running()).count();
        let pending = self.tasks.values().filter(|t| t.is_pending()).count();
        let mut v = json!({
            "clusterArn": self.arn,
            "clusterName": self.name,
            "status": if self.active { "ACTIVE" } else { "INACTIVE" },
            "registeredContainerInstancesCount": 0,
            "runningTasksCount": running,
            "pendingTasksCount": pending,
            "activeServicesCount": self.services.values().filter(|s| s.is_active()).count(),
            "statistics": [],
            "settings": self.settings,
            "capacityProviders": self.capacity_providers,
            "defaultCapacityProviderStrategy": self.default_capacity_provider_strategy,
            "configuration": self.configuration,
            "serviceConnectDefaults": self.service_connect_defaults,
        });
        if with_tags {
            v["tags"] = tags::to_json(&self.tags);
        }
        io::compact(v)
    }
}

#[derive(Default)]
pub struct Clusters {
    by_name: BTreeMap<String, Cluster>,
}

impl Clusters {
    /// The ACTIVE cluster a name-or-ARN reference names.
    pub fn active(&self, reference: &str) -> Result<&Cluster, ApiError> {
        match self.by_name.get(&arns::cluster_name(reference)) {
            Some(c) if c.active => Ok(c),
            Some(_) => Err(errors::cluster_inactive()),
            None => Err(errors::cluster_not_found()),
        }
    }

    pub fn active_mut(&mut self, reference: &str) -> Result<&mut Cluster, ApiError> {
        match self.by_name.get_mut(&arns::cluster_name(reference)) {
            Some(c) if c.active => Ok(c),
            Some(_) => Err(errors::cluster_inactive()),
            None => Err(errors::cluster_not_found()),
        }
    }

    /// A cluster by exact name, active or not.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Cluster> {
        self.by_name.get_mut(name)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Cluster> {
        self.by_name.values_mut()
    }
}

pub fn create(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let name = input
        .get("clusterName")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    if !arns::valid_name(&name) {
        return Err(errors::invalid(
            "Cluster name can have up to 255 characters: letters (uppercase and lowercase), numbers, hyphens and underscores.",
        ));
    }
    let tags = tags::from_input(input)?;
    let clusters = &mut cx.region.ecs.clusters;
    // CreateCluster is idempotent: an ACTIVE cluster of that name is answered as it is.
    if let Some(existing) = clusters.by_name.get(&name).filter(|c| c.active) {
        return Ok(json!({ "cluster": existing.to_json(true) }));
    }
    let cluster = Cluster {
        arn: arns::cluster(&cx.region.key, &name),
        name: name.clone(),
        active: true,
        tags,
        settings: input
            .get("settings")
            .cloned()
            .unwrap_or_else(|| json!([{ "name": "containerInsights", "value": "disabled" }])),
        configuration: input.get("configuration").cloned(),
        capacity_providers: input
            .get("capacityProviders")
            .cloned()
            .unwrap_or_else(|| json!([])),
        default_capacity_provider_strategy: input
            .get("defaultCapacityProviderStrategy")
            .cloned()
            .unwrap_or_else(|| json!([])),
        service_connect_defaults: input.get("serviceConnectDefaults").cloned(),
        services: BTreeMap::new(),
        retired_services: VecDeque::new(),
        tasks: BTreeMap::new(),
    };
    let out = json!({ "cluster": cluster.to_json(true) });
    clusters.by_name.insert(name, cluster);
    Ok(out)
}

pub fn describe(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let refs: Vec<String> = match input.get("clusters") {
        Some(v) if v.as_array().is_some_and(|a| !a.is_empty()) => io::parse(v)?,
        _ => vec!["default".to_string()],
    };
    let with_tags = io::includes_tags(input);
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for r in refs {
        let name = arns::cluster_name(&r);
        match cx.region.ecs.clusters.by_name.get(&name) {
            Some(c) => found.push(c.to_json(with_tags)),
            None => failures
                .push(json!({ "arn": arns::cluster(&cx.region.key, &name), "reason": "MISSING" })),
        }
    }
    Ok(json!({ "clusters": found, "failures": failures }))
}

pub fn list(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let arns: Vec<String> = cx
        .region
        .ecs
        .clusters
        .by_name
        .values()
        .filter(|c| c.active)
        .map(|c| c.arn.clone())
        .collect();
    let (page, next) = io::page(arns, input, 100)?;
    Ok(io::compact(
        json!({ "clusterArns": page, "nextToken": next }),
    ))
}

pub fn delete(cx: &mut Ctx, input: &Value) -> Result<Value, ApiError> {
    let cluster = cx
        .region
        .ecs
        .clusters
        .active_mut(input["cluster"].as_str().unwrap_or_default())?;
    if !cluster.services.is_empty() {
        return Err(ApiError::new(
            "ClusterContainsServicesException",
            "The Cluster cannot be deleted while Services are active.",
        ));
    }
    if cluster.tasks.values().any(|t| !t.is_stopped()) {
        return Err(ApiError::new(
            "ClusterContainsTasksException",
            "The Cluster cannot be deleted while Tasks are active.",
        ));
    }
    cluster.active = false;
    cluster.tasks.clear();
    cluster.retired_services.clear();
    Ok(json!({ "cluster": cluster.to_json(true) }))
}
