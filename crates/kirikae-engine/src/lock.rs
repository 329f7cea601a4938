//! One deploy at a time per service, on AWS state (not a local file): two kirikae runs, on two CI
//! runners or laptops, must not both go through the window from the first change (application, task
//! definition, service, deployment group) to CreateDeployment.
//!
//! **What is atomic in AWS.** CodeDeploy allows one active deployment per group (CreateDeployment
//! answers DeploymentLimitExceededException), so once a deployment exists CodeDeploy arbitrates. Before
//! it, nothing is: AWS has no conditional write on any of these resources. So the lock is a tag on the
//! ECS cluster (which exists before any deploy) with a key of its own per run —
//! `kirikae:lock/<service>/<run id>` = `at=<ms> expires=<s> by=<caller> from=<where>` — and
//! compare-after-write: write our tag, list the cluster's tags, and go on only when no other live lock
//! of the same service is there. Tags are never overwritten (every run has its own key), so of two runs
//! that both went on, the later writer's read would have seen the earlier's tag: at most one goes on.
//! When two see each other, the later (by `at`, then run id) removes its tag and the earlier waits for
//! it to go; so one of them wins instead of both backing off.
//!
//! **On the ECS controller** (an `ecs:` config) the same lock guards the window from the task
//! definition to UpdateService / CreateService; ECS starts a second service deployment where CodeDeploy
//! would refuse one, so "a running deployment" is a service deployment still going on
//! (ListServiceDeployments: PENDING, IN_PROGRESS, STOP_REQUESTED, ROLLBACK_*) and the lock is released
//! once the one our call started exists. Both flows meet here through [`Guarded`].
//!
//! **A running deployment** is looked for before the lock is written (so queueing behind one writes
//! nothing) and again under the lock (another run may have created one since): then this run stops
//! (exit 1, naming it and who started it) or, with `--wait-for-active`, releases the lock, waits for it
//! to end, and starts over with fresh checks.
//!
//! **Release** is removing the tag, right after CreateDeployment (or the new service) — from then on
//! CodeDeploy arbitrates — or at any earlier ending. **A holder that died** leaves its tag: it is
//! ignored after it expires ([`TTL`], far longer than the window it guards) and removed by the next run
//! that takes the lock; a person removes it at once with
//! `aws ecs untag-resource --resource-arn <cluster ARN> --tag-keys <key>` (the refusal names both).

use std::future::Future;
use std::time::Duration;

use aws_sdk_codedeploy::operation::list_deployments::ListDeploymentsError;
use aws_sdk_codedeploy::types::DeploymentStatus;
use aws_sdk_ecs::types::Tag;

use crate::audit::Record;
use crate::aws::failed;
use crate::connection::Clients;
use crate::deploy::Prepared;
use crate::error::Error;
use crate::history::StartedBy;
use crate::interrupt::Interrupt;
use crate::operate::active_statuses;
use crate::plan::{GroupDrift, Plan};
use crate::progress::{Event, Observer, now_epoch};

/// How long a lock is honoured: the window it guards takes seconds; a holder that died is ignored after.
pub const TTL: Duration = Duration::from_secs(10 * 60);
const PREFIX: &str = "kirikae:lock/";
/// ECS tag limits (model: TagKey 1..128, TagValue 0..256, both `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`).
const KEY_MAX: usize = 128;
const VALUE_MAX: usize = 256;
/// ECS: "maximum number of tags per resource: 50" (TagResource reference).
const MAX_TAGS: usize = 50;
/// How long the earlier of two contenders waits for the later one to withdraw.
const CONTENTION_WAIT: Duration = Duration::from_secs(5);

/// Another run's lock, as its tag says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub key: String,
    pub run_id: String,
    /// When it was written (epoch milliseconds).
    pub at_ms: u64,
    /// When it stops being honoured (epoch seconds).
    pub expires: u64,
    pub by: String,
    pub from: String,
}

impl Holder {
    fn live(&self, now: f64) -> bool {
        (self.expires as f64) > now
    }

    /// Said for a person.
    pub fn said(&self) -> String {
        format!(
            "kirikae run {} (by {}, from {})",
            self.run_id, self.by, self.from
        )
    }
}

/// The tag key of `run_id`'s lock on `service`; a long service name is shortened to a hash.
fn key(service: &str, run_id: &str) -> String {
    let plain = format!("{PREFIX}{service}/{run_id}");
    if plain.len() <= KEY_MAX && allowed(service) {
        return plain;
    }
    format!("{PREFIX}{}/{run_id}", service_id(service))
}

fn service_id(service: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(service.as_bytes());
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The key prefix of every lock on `service`.
fn service_prefix(service: &str) -> String {
    let k = key(service, "");
    k.trim_end_matches('/').to_string() + "/"
}

fn allowed(s: &str) -> bool {
    s.chars().all(allowed_char)
}

fn allowed_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

/// A tag value ECS accepts: other characters become `_`, at most 256 characters.
fn tag_value(s: &str) -> String {
    s.chars()
        .map(|c| if allowed_char(c) { c } else { '_' })
        .take(VALUE_MAX)
        .collect()
}

/// The lock's tag value. The CI's user has a field of its own: ECS allows no parentheses in a tag, so
/// `who()`'s "caller (actor)" would read back as "caller _actor_".
fn value(at_ms: u64, expires: u64, audit: &Record) -> String {
    let actor = audit
        .actor
        .as_deref()
        .map(|a| format!(" actor={a}"))
        .unwrap_or_default();
    tag_value(&format!(
        "at={at_ms} expires={expires} by={}{actor} from={}",
        audit.by.as_deref().unwrap_or("unknown caller"),
        audit.from_where()
    ))
}

fn parse(service: &str, key: &str, value: &str) -> Option<Holder> {
    let run_id = key.strip_prefix(&service_prefix(service))?.to_string();
    let rest = value.strip_prefix("at=")?;
    let (at, rest) = rest.split_once(" expires=")?;
    let (expires, rest) = rest.split_once(" by=")?;
    let (by, from) = rest.split_once(" from=").unwrap_or((rest, "unknown"));
    let by = match by.split_once(" actor=") {
        Some((caller, actor)) => format!("{caller} ({actor})"),
        None => by.to_string(),
    };
    Some(Holder {
        key: key.to_string(),
        run_id,
        at_ms: at.parse().ok()?,
        expires: expires.parse().ok()?,
        by,
        from: from.to_string(),
    })
}

/// This run's lock; [`Lock::release`] it once CodeDeploy arbitrates (or the run ends before).
pub struct Lock {
    aws: Clients,
    cluster_arn: String,
    key: String,
}

impl Lock {
    /// Removes the tag. Best effort: a tag left behind expires, and the warning says how to remove it.
    pub async fn release(self, observer: &dyn Observer) {
        if let Err(e) = untag(&self.aws, &self.cluster_arn, &self.key).await {
            observer.on_event(&Event::Warning {
                message: format!(
                    "could not remove this run's lock ({e}); it expires by itself within {} min, or: aws ecs untag-resource --resource-arn {} --tag-keys {}",
                    TTL.as_secs() / 60,
                    self.cluster_arn,
                    self.key
                ),
            });
        }
    }
}

/// A prepared deploy the lock guards: CodeDeploy's [`Prepared`] or a native one
/// ([`crate::native::NativePrepared`]).
pub trait Guarded: Sized + Send + Sync {
    fn aws(&self) -> &Clients;
    fn cluster(&self) -> &str;
    fn service(&self) -> &str;
    /// `--wait-for-active`: queue behind another run's lock or a running deployment.
    fn wait_for_active(&self) -> bool;
    fn poll_interval(&self) -> Duration;
    /// The run's `--timeout` (or its default), which bounds the queueing too.
    fn timeout(&self) -> Duration;
    /// Whether the run will change nothing at all (the idempotent "nothing to deploy"): then there is
    /// no window to guard.
    fn changes_nothing(&self) -> bool;
    /// The deployment running on the service, with who started it.
    fn active(&self) -> impl Future<Output = Result<Option<Active>, Error>> + Send;
    /// The refusal of this deploy while `a` runs.
    fn active_refusal(&self, a: &Active) -> Error;
    /// Every check again, after waiting: what was checked before may have changed.
    fn checked_again(self) -> impl Future<Output = Result<Self, Error>> + Send;
}

impl Guarded for Prepared {
    fn aws(&self) -> &Clients {
        &self.aws
    }
    fn cluster(&self) -> &str {
        &self.plan.cluster
    }
    fn service(&self) -> &str {
        &self.plan.service
    }
    fn wait_for_active(&self) -> bool {
        self.plan.wait.wait_for_active
    }
    fn poll_interval(&self) -> Duration {
        self.plan.wait.poll_interval
    }
    fn timeout(&self) -> Duration {
        Prepared::timeout(self)
    }
    fn changes_nothing(&self) -> bool {
        changes_nothing(self)
    }
    async fn active(&self) -> Result<Option<Active>, Error> {
        active_deployment(&self.aws, &self.plan).await
    }
    fn active_refusal(&self, a: &Active) -> Error {
        active_refusal(&self.plan, a)
    }
    async fn checked_again(self) -> Result<Self, Error> {
        crate::deploy::prepare_with(self.plan, self.aws.clone()).await
    }
}

/// How taking the lock ended.
pub enum Taken<P = Prepared> {
    /// Ours, with the checks as they are under it; no lock when the run changes nothing (a lock
    /// would itself be the only change).
    Held(Box<P>, Option<Lock>),
    /// Not ours, nothing changed: the error says who holds it (or which deployment runs).
    Refused(Error),
    /// Interrupted while waiting; nothing changed.
    Interrupted,
    /// `--wait-for-active` waited until the run's timeout; nothing changed.
    TimedOut(String),
}

impl<P> Taken<P> {
    /// The deploy and its lock when taken; else the run's outcome (nothing was changed), with the
    /// interrupt's exit status when it was one.
    pub fn held_or_outcome(
        self,
        facts: &mut crate::deploy::ending::Facts,
        interrupt: &Interrupt,
    ) -> Result<(P, Option<Lock>), Box<crate::outcome::Outcome>> {
        facts.interrupt_code = interrupt.exit_code();
        let outcome = match self {
            Taken::Held(p, lock) => return Ok((*p, lock)),
            Taken::Refused(e) => facts.failed(&e, None),
            Taken::TimedOut(message) => {
                facts.before_deployment(crate::outcome::Result::TimedOut, message)
            }
            Taken::Interrupted => facts.before_deployment(
                crate::outcome::Result::Interrupted,
                "interrupted while waiting for the deploy lock; nothing was changed".into(),
            ),
        };
        Err(Box::new(outcome))
    }
}

/// Takes the service's lock and checks, under it, that no deployment is active in the group. With
/// `--wait-for-active` (the plan's `wait.wait_for_active`), waits for another run's lock or the group's
/// active deployment to go, saying what it waits for, then checks everything again; else refuses.
pub async fn take<P: Guarded>(
    prepared: P,
    run_id: &str,
    audit: &Record,
    observer: &dyn Observer,
    interrupt: &Interrupt,
) -> Taken<P> {
    if prepared.changes_nothing() {
        return Taken::Held(Box::new(prepared), None);
    }
    let queue = prepared.wait_for_active();
    let deadline = tokio::time::Instant::now() + prepared.timeout();
    let poll = prepared.poll_interval().max(Duration::from_millis(200));
    let cluster_arn = match cluster_arn(prepared.aws(), prepared.cluster()).await {
        Ok(a) => a,
        Err(e) => return Taken::Refused(e),
    };
    let mut waited = false;
    let mut said = String::new();
    loop {
        let blocked = match attempt(&prepared, &cluster_arn, run_id, audit, observer).await {
            Err(e) => return Taken::Refused(e),
            Ok(Err(blocked)) => blocked,
            Ok(Ok(lock)) if waited => {
                // What was checked before waiting may have changed: check again, under the lock.
                match prepared.checked_again().await {
                    Ok(p) => return Taken::Held(Box::new(p), Some(lock)),
                    Err(e) => {
                        lock.release(observer).await;
                        return Taken::Refused(e);
                    }
                }
            }
            Ok(Ok(lock)) => return Taken::Held(Box::new(prepared), Some(lock)),
        };
        // A full cluster is congestion, not another deploy of this service: always waited out.
        if !queue && !matches!(blocked, Blocked::Crowded) {
            return Taken::Refused(blocked.refusal(&prepared, &cluster_arn));
        }
        let message = blocked.waiting(&prepared);
        if message != said {
            observer.on_event(&Event::Step {
                message: message.clone(),
            });
            said = message;
        }
        waited = true;
        let pause = match &blocked {
            Blocked::Deployment(_) => poll.max(Duration::from_secs(2)),
            Blocked::Lock(_) | Blocked::Crowded => poll,
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = interrupt.raised() => return Taken::Interrupted,
        }
        if tokio::time::Instant::now() >= deadline {
            return Taken::TimedOut(format!(
                "still {} after {} s (--timeout); nothing was changed",
                said.trim_start_matches("waiting for "),
                prepared.timeout().as_secs()
            ));
        }
    }
}

/// One attempt: a deployment already running is seen first (read-only, so queueing behind one writes
/// nothing), then the lock, then the group again under the lock (a deployment may have been created
/// between the two).
async fn attempt<P: Guarded>(
    prepared: &P,
    cluster_arn: &str,
    run_id: &str,
    audit: &Record,
    observer: &dyn Observer,
) -> Result<Result<Lock, Blocked>, Error> {
    let aws = prepared.aws();
    if let Some(active) = prepared.active().await? {
        return Ok(Err(Blocked::Deployment(Box::new(active))));
    }
    let lock = match try_take(aws, cluster_arn, prepared.service(), run_id, audit).await? {
        Attempt::Busy(holder) => return Ok(Err(Blocked::Lock(holder))),
        Attempt::Crowded => return Ok(Err(Blocked::Crowded)),
        Attempt::Held(lock) => lock,
    };
    match prepared.active().await {
        Ok(None) => Ok(Ok(lock)),
        Ok(Some(active)) => {
            lock.release(observer).await;
            Ok(Err(Blocked::Deployment(Box::new(active))))
        }
        Err(e) => {
            lock.release(observer).await;
            Err(e)
        }
    }
}

/// Whether the run will change nothing at all (the idempotent "nothing to deploy"): then there is no
/// window to guard.
fn changes_nothing(p: &Prepared) -> bool {
    p.remote.application_exists
        && p.remote.group.is_some()
        && (p.group_changes.is_empty() || p.plan.group_drift == GroupDrift::Warn)
        && p.remote.up_to_date.is_some()
        && !p.plan.force
        && p.desired_count_change().is_none()
        && p.settings_changes().is_empty()
}

/// What stands in the way.
enum Blocked {
    Lock(Holder),
    // Boxed: an `Active` carries its whole audit record, and `Blocked` travels in every attempt's result.
    Deployment(Box<Active>),
    /// No room for the lock tag on the cluster (other services' deploys hold theirs).
    Crowded,
}

impl Blocked {
    fn refusal(&self, p: &impl Guarded, cluster_arn: &str) -> Error {
        match self {
            Blocked::Lock(h) => Error::Conflict {
                message: format!(
                    "another deploy of {}/{} is under way: {} holds its lock until {}",
                    p.cluster(),
                    p.service(),
                    h.said(),
                    rfc3339(h.expires as f64)
                ),
                hint: Some(format!(
                    "wait for it (kirikae deploy --wait-for-active queues behind it); if that run died, its lock expires by itself, or remove it: aws ecs untag-resource --resource-arn {cluster_arn} --tag-keys {}",
                    h.key
                )),
            },
            Blocked::Deployment(a) => p.active_refusal(a),
            // Waited out rather than refused (see `take`); said all the same.
            Blocked::Crowded => Error::Conflict {
                message: format!(
                    "cluster {} has the {MAX_TAGS} tags ECS allows: no room for the deploy lock",
                    p.cluster()
                ),
                hint: Some("remove a tag from the cluster, or deploy fewer services at once (--concurrency)".into()),
            },
        }
    }

    fn waiting(&self, p: &impl Guarded) -> String {
        match self {
            Blocked::Lock(h) => format!(
                "waiting for another deploy of {}/{} to create its deployment: {} (--wait-for-active)",
                p.cluster(),
                p.service(),
                h.said()
            ),
            Blocked::Deployment(a) => format!(
                "waiting for deployment {} ({}, started by {}, from {}) to end before deploying (--wait-for-active)",
                a.id,
                a.status,
                a.who(),
                a.started_by.from
            ),
            Blocked::Crowded => format!(
                "waiting for room on cluster {} for the deploy lock: it has the {MAX_TAGS} tags ECS allows (other services' deploys hold locks there)",
                p.cluster()
            ),
        }
    }
}

/// The deployment running on the service (CodeDeploy: the group's active one; ECS: a service
/// deployment still going on) and who started it.
#[derive(Debug, Clone)]
pub struct Active {
    pub id: String,
    pub status: String,
    pub started_by: StartedBy,
}

impl Active {
    pub fn who(&self) -> &str {
        &self.started_by.who
    }
}

enum Attempt {
    Held(Lock),
    Busy(Holder),
    /// The cluster has as many tags as ECS allows: no room for the lock until one goes.
    Crowded,
}

/// One compare-after-write round.
async fn try_take(
    aws: &Clients,
    cluster_arn: &str,
    service: &str,
    run_id: &str,
    audit: &Record,
) -> Result<Attempt, Error> {
    // Check before writing, so a held lock is not contended at all.
    let (live, expired, count) = locks(aws, cluster_arn, service, run_id).await?;
    if let Some(h) = earliest(live) {
        return Ok(Attempt::Busy(h));
    }
    if count - expired.len() >= MAX_TAGS {
        return Ok(Attempt::Crowded);
    }
    for h in expired {
        // A holder that died: its tag is no longer honoured; tidy it away (best effort).
        if let Err(e) = untag(aws, cluster_arn, &h.key).await {
            tracing::warn!("could not remove the expired lock {}: {e}", h.key);
        }
    }
    let at_ms = (now_epoch() * 1000.0) as u64;
    let expires = now_epoch() as u64 + TTL.as_secs();
    let mine = key(service, run_id);
    aws.ecs
        .tag_resource()
        .resource_arn(cluster_arn)
        .tags(
            Tag::builder()
                .key(&mine)
                .value(value(at_ms, expires, audit))
                .build(),
        )
        .send()
        .await
        .map_err(|e| failed("ecs:TagResource", e))?;
    let lock = Lock {
        aws: aws.clone(),
        cluster_arn: cluster_arn.to_string(),
        key: mine,
    };
    let started = tokio::time::Instant::now();
    loop {
        let others = match locks(aws, cluster_arn, service, run_id).await {
            Ok((live, _, _)) => live,
            Err(e) => {
                let _ = untag(aws, cluster_arn, &lock.key).await;
                return Err(e);
            }
        };
        let Some(first) = earliest(others) else {
            return Ok(Attempt::Held(lock));
        };
        // Both wrote: the later withdraws; the earlier waits (briefly) for it to.
        let we_are_first = (at_ms, run_id) < (first.at_ms, first.run_id.as_str());
        if !we_are_first || started.elapsed() >= CONTENTION_WAIT {
            untag(aws, cluster_arn, &lock.key).await?;
            return Ok(Attempt::Busy(first));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The earliest-written holder.
fn earliest(mut holders: Vec<Holder>) -> Option<Holder> {
    holders.sort_by(|a, b| (a.at_ms, &a.run_id).cmp(&(b.at_ms, &b.run_id)));
    holders.into_iter().next()
}

/// Other runs' locks on `service`: (live, expired).
async fn locks(
    aws: &Clients,
    cluster_arn: &str,
    service: &str,
    run_id: &str,
) -> Result<(Vec<Holder>, Vec<Holder>, usize), Error> {
    let out = aws
        .ecs
        .list_tags_for_resource()
        .resource_arn(cluster_arn)
        .send()
        .await
        .map_err(|e| failed("ecs:ListTagsForResource", e))?;
    let now = now_epoch();
    let mine = key(service, run_id);
    let (live, expired) = out
        .tags()
        .iter()
        .filter(|t| t.key() != Some(mine.as_str()))
        .filter_map(|t| parse(service, t.key()?, t.value().unwrap_or_default()))
        .partition(|h| h.live(now));
    Ok((live, expired, out.tags().len()))
}

async fn untag(aws: &Clients, cluster_arn: &str, key: &str) -> Result<(), Error> {
    aws.ecs
        .untag_resource()
        .resource_arn(cluster_arn)
        .tag_keys(key)
        .send()
        .await
        .map_err(|e| failed("ecs:UntagResource", e))?;
    Ok(())
}

async fn cluster_arn(aws: &Clients, cluster: &str) -> Result<String, Error> {
    let out = aws
        .ecs
        .describe_clusters()
        .clusters(cluster)
        .send()
        .await
        .map_err(|e| failed("ecs:DescribeClusters", e))?;
    out.clusters()
        .iter()
        .find_map(|c| c.cluster_arn().map(str::to_string))
        .ok_or_else(|| Error::Conflict {
            message: format!("ECS cluster `{cluster}` no longer exists"),
            hint: None,
        })
}

/// The refusal of a deploy while deployment `a` runs in the group, naming who started it and from where.
pub fn active_refusal(plan: &Plan, a: &Active) -> Error {
    Error::Conflict {
        message: format!(
            "deployment group `{}` already has an active deployment {} (started by {}, from {})",
            plan.deployment_group,
            a.id,
            a.who(),
            a.started_by.from
        ),
        hint: Some(format!(
            "kirikae deploy --wait-for-active queues behind it; kirikae watch follows it; or stop it: aws deploy stop-deployment --deployment-id {} --auto-rollback-enabled",
            a.id
        )),
    }
}

/// The group's deployment that has not ended, with its record (a group or application that does not
/// exist yet has none).
pub async fn active_deployment(aws: &Clients, plan: &Plan) -> Result<Option<Active>, Error> {
    let out = aws
        .codedeploy
        .list_deployments()
        .application_name(&plan.application)
        .deployment_group_name(&plan.deployment_group)
        .set_include_only_statuses(Some(active_statuses()))
        .send()
        .await;
    let out = match out {
        Ok(o) => o,
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(
                    ListDeploymentsError::ApplicationDoesNotExistException(_)
                        | ListDeploymentsError::DeploymentGroupDoesNotExistException(_)
                )
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(failed("codedeploy:ListDeployments", e)),
    };
    let Some(id) = out.deployments().first().cloned() else {
        return Ok(None);
    };
    let got = aws
        .codedeploy
        .batch_get_deployments()
        .deployment_ids(&id)
        .send()
        .await
        .map_err(|e| failed("codedeploy:BatchGetDeployments", e))?;
    let info = got.deployments_info().first();
    if info
        .and_then(|d| d.status())
        .is_some_and(|s| !active_statuses().contains(s))
    {
        // It ended between the two calls.
        return Ok(None);
    }
    Ok(Some(Active {
        status: info
            .and_then(|d| d.status())
            .map_or("InProgress", DeploymentStatus::as_str)
            .to_string(),
        started_by: match info {
            Some(d) => StartedBy::of(d),
            None => StartedBy {
                audit: None,
                who: crate::history::NOT_KIRIKAE.to_string(),
                from: "unknown".into(),
            },
        },
        id,
    }))
}

fn rfc3339(epoch: f64) -> String {
    aws_sdk_codedeploy::primitives::DateTime::from_secs(epoch as i64)
        .fmt(aws_sdk_codedeploy::primitives::DateTimeFormat::DateTime)
        .unwrap_or_else(|_| format!("{epoch}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_tag_is_what_ecs_accepts_and_reads_back() {
        let mut audit = Record::from_env(|_| None);
        audit.by = Some("arn:aws:iam::123456789012:role/deployer".into());
        audit.run_url = Some("https://ci.example/run?id=4#x".into());
        let k = key("web", "0f8e");
        assert_eq!(k, "kirikae:lock/web/0f8e");
        let v = value(1_700_000_000_123, 1_700_000_600, &audit);
        assert!(v.len() <= VALUE_MAX && allowed(&v), "{v}");
        let h = parse("web", &k, &v).expect("parses");
        assert_eq!(h.run_id, "0f8e");
        assert_eq!(h.at_ms, 1_700_000_000_123);
        assert_eq!(h.by, "arn:aws:iam::123456789012:role/deployer");
        assert!(
            h.from.contains("https://ci.example/run_id=4_x"),
            "{}",
            h.from
        );
        // The CI's user reads back as who() says it, not mangled by ECS's tag characters.
        audit.actor = Some("octocat".into());
        let v = value(1_700_000_000_123, 1_700_000_600, &audit);
        assert!(allowed(&v), "{v}");
        let h = parse("web", &k, &v).expect("parses");
        assert_eq!(h.by, audit.who());
        // Another service's lock is not this one's.
        assert_eq!(parse("we", &k, &v), None);
        assert_eq!(parse("web-api", &k, &v), None);
    }

    #[test]
    fn a_long_service_name_is_hashed_into_a_key_that_fits() {
        let long = "s".repeat(200);
        let k = key(&long, "0f8e4c2a-0000-4000-8000-000000000000");
        assert!(k.len() <= KEY_MAX, "{k}");
        assert!(k.starts_with(&service_prefix(&long)));
    }

    #[test]
    fn the_earliest_writer_wins_a_contention() {
        let h = |at_ms, run: &str| Holder {
            key: key("web", run),
            run_id: run.into(),
            at_ms,
            expires: u64::MAX,
            by: String::new(),
            from: String::new(),
        };
        let first = earliest(vec![h(2, "a"), h(1, "b"), h(1, "c")]).unwrap();
        assert_eq!(first.run_id, "b");
    }
}
