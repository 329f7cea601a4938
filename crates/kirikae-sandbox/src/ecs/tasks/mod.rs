//! Tasks: their state, how DescribeTasks shows them, and the task APIs (`api`). The scheduler moves
//! them through their lifecycle (`super::scheduler::lifecycle`).

pub mod api;
pub mod launch;
#[cfg(test)]
mod tests;

use std::net::Ipv4Addr;

use serde_json::{Value, json};

use super::io;
use super::tags::{self, Tag};

/// `lastStatus`, in the order a task goes through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskStatus {
    Provisioning,
    Pending,
    Running,
    Deactivating,
    Stopping,
    Deprovisioning,
    Stopped,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Provisioning => "PROVISIONING",
            TaskStatus::Pending => "PENDING",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Deactivating => "DEACTIVATING",
            TaskStatus::Stopping => "STOPPING",
            TaskStatus::Deprovisioning => "DEPROVISIONING",
            TaskStatus::Stopped => "STOPPED",
        }
    }
}

/// Where a task is registered as a load balancer target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub target_group_arn: String,
    pub port: u16,
}

/// The task's elastic network interface (awsvpc), or just its own address (other network modes).
#[derive(Clone, Debug)]
pub struct Eni {
    pub awsvpc: bool,
    pub ip: Ipv4Addr,
    pub id: String,
    pub attachment_id: String,
    pub mac: String,
    pub subnet: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ContainerState {
    pub name: String,
    pub image: String,
    pub arn: String,
    pub runtime_id: String,
    pub essential: bool,
    pub port: Option<u16>,
    pub environment: Vec<(String, String)>,
    /// RunTask's `containerOverrides[].command` (Docker's CMD: the arguments the image's entrypoint
    /// runs with); empty: the image's own.
    pub command: Vec<String>,
    pub cpu: Option<i64>,
    pub memory: Option<i64>,
    /// `PENDING`, `RUNNING` or `STOPPED`.
    pub last_status: &'static str,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    /// Its process has exited (or was never started).
    pub exited: bool,
}

#[derive(Clone, Debug)]
pub struct Task {
    pub id: String,
    pub arn: String,
    pub cluster_arn: String,
    pub task_definition_arn: String,
    pub family: String,
    pub group: String,
    pub started_by: Option<String>,
    /// The service (name) and deployment / task set (id) that own the task.
    pub service: Option<String>,
    pub set_id: Option<String>,
    pub launch_type: Option<String>,
    pub platform_version: Option<String>,
    pub capacity_provider_name: Option<String>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub eni: Eni,
    pub containers: Vec<ContainerState>,
    pub last_status: TaskStatus,
    /// `desiredStatus` is STOPPED (else RUNNING).
    pub desired_stopped: bool,
    pub created_at: f64,
    pub pull_started_at: Option<f64>,
    pub pull_stopped_at: Option<f64>,
    pub started_at: Option<f64>,
    pub connectivity_at: Option<f64>,
    pub stopping_at: Option<f64>,
    pub stopped_at: Option<f64>,
    pub execution_stopped_at: Option<f64>,
    pub stop_code: Option<&'static str>,
    pub stopped_reason: Option<String>,
    /// When the current timed step (provisioning, pull, drain, stop timeout, …) ends, epoch seconds.
    pub next_at: f64,
    /// Where the task is to be registered once RUNNING, and where it is registered now.
    pub lb_targets: Vec<Target>,
    pub registered: Vec<Target>,
    /// Since when a load balancer has reported the task unhealthy (epoch seconds).
    pub unhealthy_since: Option<f64>,
    /// AWS SIGTERM→SIGKILL seconds (the essential container's `stopTimeout`, default 30).
    pub stop_timeout: f64,
    pub version: i64,
    pub tags: Vec<Tag>,
    pub overrides: Value,
    /// RunTask's `clientToken`: a retry with the same token gets these tasks instead of new ones.
    pub client_token: Option<String>,
}

impl Task {
    pub fn is_running(&self) -> bool {
        self.last_status == TaskStatus::Running && !self.desired_stopped
    }

    pub fn is_pending(&self) -> bool {
        matches!(
            self.last_status,
            TaskStatus::Provisioning | TaskStatus::Pending
        ) && !self.desired_stopped
    }

    /// Counts toward its service: desired RUNNING (whatever its last status).
    pub fn is_live(&self) -> bool {
        !self.desired_stopped
    }

    pub fn is_stopped(&self) -> bool {
        self.last_status == TaskStatus::Stopped
    }

    pub fn belongs_to(&self, service: &str, set_id: &str) -> bool {
        self.service.as_deref() == Some(service) && self.set_id.as_deref() == Some(set_id)
    }

    pub fn ip(&self) -> String {
        self.eni.ip.to_string()
    }

    /// A state change worth a new `version` (clients compare versions to order task events).
    pub fn bump(&mut self) {
        self.version += 1;
    }

    pub fn to_json(&self, region: &str, with_tags: bool) -> Value {
        let containers: Vec<Value> = self
            .containers
            .iter()
            .map(|c| self.container_json(c))
            .collect();
        let mut v = json!({
            "taskArn": self.arn,
            "clusterArn": self.cluster_arn,
            "taskDefinitionArn": self.task_definition_arn,
            "group": self.group,
            "startedBy": self.started_by,
            "launchType": self.launch_type,
            "capacityProviderName": self.capacity_provider_name,
            "platformVersion": self.platform_version,
            "platformFamily": self.platform_version.as_ref().map(|_| "Linux"),
            "availabilityZone": format!("{region}a"),
            "cpu": self.cpu,
            "memory": self.memory,
            "lastStatus": self.last_status.as_str(),
            "desiredStatus": if self.desired_stopped { "STOPPED" } else { "RUNNING" },
            // No container health checks run in the sandbox; AWS reports UNKNOWN then.
            "healthStatus": "UNKNOWN",
            "connectivity": self.connectivity_at.map(|_| "CONNECTED"),
            "connectivityAt": self.connectivity_at,
            "createdAt": self.created_at,
            "pullStartedAt": self.pull_started_at,
            "pullStoppedAt": self.pull_stopped_at,
            "startedAt": self.started_at,
            "stoppingAt": self.stopping_at,
            "stoppedAt": self.stopped_at,
            "executionStoppedAt": self.execution_stopped_at,
            "stopCode": self.stop_code,
            "stoppedReason": self.stopped_reason,
            "containers": containers,
            "attachments": if self.eni.awsvpc { json!([self.eni_attachment()]) } else { json!([]) },
            "attributes": [{ "name": "ecs.cpu-architecture", "value": "x86_64" }],
            "enableExecuteCommand": false,
            "overrides": self.overrides,
            "version": self.version,
        });
        if self.launch_type.as_deref() == Some("FARGATE") {
            v["ephemeralStorage"] = json!({ "sizeInGiB": 20 });
        }
        if with_tags {
            v["tags"] = tags::to_json(&self.tags);
        }
        io::compact(v)
    }

    fn eni_attachment(&self) -> Value {
        let status = match self.last_status {
            TaskStatus::Provisioning => "PRECREATED",
            TaskStatus::Deprovisioning => "DELETING",
            TaskStatus::Stopped => "DELETED",
            _ => "ATTACHED",
        };
        let ip = self.ip();
        let mut details = Vec::new();
        if let Some(subnet) = &self.eni.subnet {
            details.push(json!({ "name": "subnetId", "value": subnet }));
        }
        details.extend([
            json!({ "name": "networkInterfaceId", "value": self.eni.id }),
            json!({ "name": "macAddress", "value": self.eni.mac }),
            json!({ "name": "privateDnsName", "value": format!("ip-{}.ec2.internal", ip.replace('.', "-")) }),
            json!({ "name": "privateIPv4Address", "value": ip }),
        ]);
        json!({ "id": self.eni.attachment_id, "type": "ElasticNetworkInterface", "status": status, "details": details })
    }

    fn container_json(&self, c: &ContainerState) -> Value {
        let (interfaces, bindings) = if self.eni.awsvpc {
            (
                json!([{ "attachmentId": self.eni.attachment_id, "privateIpv4Address": self.ip() }]),
                json!([]),
            )
        } else {
            let bindings: Vec<Value> = c
                .port
                .iter()
                .map(|p| json!({ "bindIP": self.ip(), "containerPort": p, "hostPort": p, "protocol": "tcp" }))
                .collect();
            (json!([]), json!(bindings))
        };
        io::compact(json!({
            "containerArn": c.arn,
            "taskArn": self.arn,
            "name": c.name,
            "image": c.image,
            "runtimeId": c.runtime_id,
            "lastStatus": c.last_status,
            "exitCode": c.exit_code,
            "reason": c.reason,
            "networkBindings": bindings,
            "networkInterfaces": interfaces,
            "healthStatus": "UNKNOWN",
            "cpu": c.cpu.unwrap_or(0).to_string(),
            "memory": c.memory.map(|m| m.to_string()),
        }))
    }
}
