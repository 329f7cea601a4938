//! The reads that the services of one run make at the same moment, merged into AWS's batch operations:
//! `BatchGetDeployments` (up to 25 deployments a call) and `DescribeServices` (up to 10 services of one
//! cluster a call). Every poll of a deployment or a new service goes through a [`Batcher`]; the
//! [`super::Poller`] starts polls on a shared grid, so polls of many services fall together and cost
//! one call instead of one each. (ECS's deployment target APIs take one target per call: those stay
//! single calls.)

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_codedeploy::types::DeploymentInfo;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::aws::{CallFailure, call_failure};

/// How long a batch waits for more asks after its first.
const WINDOW: Duration = Duration::from_millis(40);
/// AWS's limits per call.
const DEPLOYMENTS_PER_CALL: usize = 25;
const SERVICES_PER_CALL: usize = 10;

type Reply<T> = oneshot::Sender<Result<Option<T>, CallFailure>>;

struct Ask<K, T> {
    key: K,
    reply: Reply<T>,
}

/// Batches reads for one account and region.
#[derive(Debug)]
pub struct Batcher {
    deployments: mpsc::UnboundedSender<Ask<String, DeploymentInfo>>,
    services: mpsc::UnboundedSender<Ask<(String, String), aws_sdk_ecs::types::Service>>,
}

/// The poll's SDK config: one retry only, since the poller itself keeps asking (and says so) while AWS
/// is away.
pub fn codedeploy_poll_config() -> aws_sdk_codedeploy::config::Builder {
    aws_sdk_codedeploy::config::Builder::default().retry_config(
        aws_sdk_codedeploy::config::retry::RetryConfig::standard()
            .with_max_attempts(2)
            .with_initial_backoff(Duration::from_millis(200)),
    )
}

fn ecs_poll_config() -> aws_sdk_ecs::config::Builder {
    aws_sdk_ecs::config::Builder::default().retry_config(
        aws_sdk_ecs::config::retry::RetryConfig::standard()
            .with_max_attempts(2)
            .with_initial_backoff(Duration::from_millis(200)),
    )
}

impl Batcher {
    /// Starts the batching tasks; they end when the last handle is dropped.
    pub fn start(codedeploy: aws_sdk_codedeploy::Client, ecs: aws_sdk_ecs::Client) -> Arc<Batcher> {
        let (deployments, rx) = mpsc::unbounded_channel();
        tokio::spawn(collect(rx, move |ids: Vec<String>| {
            let client = codedeploy.clone();
            async move { get_deployments(&client, ids).await }
        }));
        let (services, rx) = mpsc::unbounded_channel();
        tokio::spawn(collect(rx, move |keys: Vec<(String, String)>| {
            let client = ecs.clone();
            async move { describe_services(&client, keys).await }
        }));
        Arc::new(Batcher {
            deployments,
            services,
        })
    }

    /// A deployment, as GetDeployment would give it (`None`: AWS does not know it).
    pub async fn deployment(&self, id: &str) -> Result<Option<DeploymentInfo>, CallFailure> {
        ask(&self.deployments, id.to_string()).await
    }

    /// A service, as DescribeServices would give it (`None`: not found in the cluster).
    pub async fn service(
        &self,
        cluster: &str,
        service: &str,
    ) -> Result<Option<aws_sdk_ecs::types::Service>, CallFailure> {
        ask(&self.services, (cluster.to_string(), service.to_string())).await
    }
}

async fn ask<K, T>(
    tx: &mpsc::UnboundedSender<Ask<K, T>>,
    key: K,
) -> Result<Option<T>, CallFailure> {
    let (reply, answer) = oneshot::channel();
    if tx.send(Ask { key, reply }).is_err() {
        unreachable!("the batching task lives as long as its handle");
    }
    answer
        .await
        .expect("the batching task answers every ask it takes")
}

/// Collects asks for [`WINDOW`] after the first, then runs the batch (in its own task, so a slow call
/// never holds up the next batch) and answers each ask.
async fn collect<K, T, F, Fut>(mut rx: mpsc::UnboundedReceiver<Ask<K, T>>, run: F)
where
    K: Ord + Clone + Send + 'static,
    T: Clone + Send + 'static,
    F: Fn(Vec<K>) -> Fut,
    Fut: Future<Output = Result<BTreeMap<K, T>, CallFailure>> + Send + 'static,
{
    while let Some(first) = rx.recv().await {
        let mut asks = vec![first];
        let until = Instant::now() + WINDOW;
        loop {
            tokio::select! {
                a = rx.recv() => match a {
                    Some(a) => asks.push(a),
                    None => break,
                },
                _ = tokio::time::sleep_until(until) => break,
            }
        }
        let mut keys: Vec<K> = asks.iter().map(|a| a.key.clone()).collect();
        keys.sort();
        keys.dedup();
        let batch = run(keys);
        tokio::spawn(async move {
            let answer = batch.await;
            for a in asks {
                let r = match &answer {
                    Ok(found) => Ok(found.get(&a.key).cloned()),
                    Err(f) => Err(f.clone()),
                };
                let _ = a.reply.send(r);
            }
        });
    }
}

async fn get_deployments(
    client: &aws_sdk_codedeploy::Client,
    ids: Vec<String>,
) -> Result<BTreeMap<String, DeploymentInfo>, CallFailure> {
    let calls = ids.chunks(DEPLOYMENTS_PER_CALL).map(|chunk| {
        client
            .batch_get_deployments()
            .set_deployment_ids(Some(chunk.to_vec()))
            .customize()
            .config_override(codedeploy_poll_config())
            .send()
    });
    let mut found = BTreeMap::new();
    for out in futures_join(calls).await {
        let out = out.map_err(|e| call_failure("codedeploy:BatchGetDeployments", e))?;
        for d in out.deployments_info() {
            if let Some(id) = d.deployment_id() {
                found.insert(id.to_string(), d.clone());
            }
        }
    }
    Ok(found)
}

async fn describe_services(
    client: &aws_sdk_ecs::Client,
    keys: Vec<(String, String)>,
) -> Result<BTreeMap<(String, String), aws_sdk_ecs::types::Service>, CallFailure> {
    let mut by_cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (c, s) in keys {
        by_cluster.entry(c).or_default().push(s);
    }
    let mut calls = Vec::new();
    for (cluster, services) in by_cluster {
        for chunk in services.chunks(SERVICES_PER_CALL) {
            let call = client
                .describe_services()
                .cluster(&cluster)
                .set_services(Some(chunk.to_vec()))
                .customize()
                .config_override(ecs_poll_config())
                .send();
            let cluster = cluster.clone();
            calls.push(async move { (cluster, call.await) });
        }
    }
    let mut found = BTreeMap::new();
    for (cluster, out) in futures_join(calls).await {
        let out = out.map_err(|e| call_failure("ecs:DescribeServices", e))?;
        for s in out.services() {
            // Asked by name; a service's name is unique in its cluster (ARNs too carry it).
            if let Some(name) = s.service_name() {
                found.insert((cluster.clone(), name.to_string()), s.clone());
            }
        }
    }
    Ok(found)
}

/// Runs futures concurrently, answers in order (a few per batch: no extra dependency for it).
async fn futures_join<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("a batch call does not panic"));
    }
    out
}

/// One batcher per region for every service of a run (shared by clones of a connection).
#[derive(Clone, Default)]
pub struct Batchers(Arc<Mutex<HashMap<String, Arc<Batcher>>>>);

impl std::fmt::Debug for Batchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Batchers")
    }
}

impl Batchers {
    /// The region's batcher, started with these clients the first time it is asked for.
    pub fn for_region(
        &self,
        region: &str,
        codedeploy: &aws_sdk_codedeploy::Client,
        ecs: &aws_sdk_ecs::Client,
    ) -> Arc<Batcher> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(region.to_string())
            .or_insert_with(|| Batcher::start(codedeploy.clone(), ecs.clone()))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn asks_made_together_cost_one_call_and_each_gets_its_answer() {
        let calls = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::unbounded_channel::<Ask<String, String>>();
        let counted = calls.clone();
        tokio::spawn(collect(rx, move |keys: Vec<String>| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                // AWS leaves unknown ids out of a batch answer.
                Ok(keys
                    .into_iter()
                    .filter(|k| k != "d-gone")
                    .map(|k| (k.clone(), format!("info of {k}")))
                    .collect())
            }
        }));
        let ids = ["d-1", "d-2", "d-1", "d-gone", "d-3"];
        let answers = futures_join(ids.map(|id| {
            let tx = tx.clone();
            async move { ask(&tx, id.to_string()).await }
        }))
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(answers[0], Ok(Some("info of d-1".to_string())));
        assert_eq!(answers[2], Ok(Some("info of d-1".to_string())));
        assert_eq!(answers[3], Ok(None));
        assert_eq!(answers[4], Ok(Some("info of d-3".to_string())));
        // A later ask is a new batch.
        tokio::time::sleep(WINDOW * 2).await;
        assert_eq!(ask(&tx, "d-2".into()).await, Ok(Some("info of d-2".into())));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
