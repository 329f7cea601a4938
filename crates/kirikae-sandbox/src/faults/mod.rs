//! Fault injection: rehearse how clients behave when AWS misbehaves. Faults are added at start
//! (`--fault`) or through `/_kirikae/faults`, and applied by the server to each decoded call before
//! the throttle and the service run (`error`, `ambiguous`, `hang`), or to the endpoint itself
//! (`refuse`, see [`listener`]).
//!
//! Windows (`seconds`, `after_seconds`) run on the real clock, not the sandbox's scaled one: they
//! are about clients' timeouts and retries, which wait in real time.

pub(crate) mod listener;
mod spec;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::model::Service;
use crate::protocol::ApiError;

pub use spec::{Action, FaultSpec, FaultSpecError, service_key};

/// Every fault of a sandbox, in the order added (the first that matches a call fires).
pub struct Faults {
    state: Mutex<State>,
    /// Bumped on every change, so a closed endpoint or a hung call notices a fault cleared early.
    changes: watch::Sender<u64>,
    /// Requests answered (or not answered) by a fault, ever; `/_kirikae/calls` reports it.
    faulted: AtomicU64,
}

#[derive(Default)]
struct State {
    next_id: u64,
    list: Vec<Fault>,
}

struct Fault {
    id: String,
    spec: FaultSpec,
    added: Instant,
    fired: u64,
}

/// What a fault does to one call.
#[derive(Debug, PartialEq)]
pub enum Hit {
    /// Answer this error instead of running the call.
    Error(ApiError),
    /// Run the call, then answer this error instead of its result.
    Ambiguous(ApiError),
    /// Answer nothing until `until` (or until the fault is cleared), then close the connection.
    Hang { id: String, until: Instant },
}

/// Whether the endpoint accepts connections, as the `refuse` faults have it.
#[derive(Debug, PartialEq)]
pub(crate) enum Refusal {
    /// Closed until then (the latest end among the windows open now).
    Now {
        until: Instant,
    },
    /// Open, and to close at this time.
    From(Instant),
    Never,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            state: Mutex::default(),
            changes: watch::Sender::new(0),
            faulted: AtomicU64::new(0),
        }
    }
}

impl Fault {
    fn starts(&self) -> Instant {
        self.added + secs(self.spec.after_seconds.unwrap_or(0.0))
    }

    fn ends(&self) -> Option<Instant> {
        self.spec.seconds.map(|s| self.starts() + secs(s))
    }

    /// Whether it can still fire (now or once its delay has passed).
    fn active(&self, now: Instant) -> bool {
        let spent = self.spec.count.is_some_and(|c| self.fired >= c);
        !spent && self.ends().is_none_or(|end| now < end)
    }

    fn firing(&self, now: Instant) -> bool {
        self.active(now) && now >= self.starts()
    }

    fn matches(&self, service: Service, operation: &str) -> bool {
        self.spec.service.is_none_or(|s| s == service)
            && self
                .spec
                .operation
                .as_deref()
                .is_none_or(|op| op == operation)
    }

    fn to_json(&self, now: Instant) -> Value {
        let mut map = serde_json::Map::new();
        map.insert("id".into(), json!(self.id));
        map.extend(self.spec.to_json());
        map.insert("fired".into(), json!(self.fired));
        map.insert("active".into(), json!(self.active(now)));
        Value::Object(map)
    }

    /// The error this fault answers for a call to `service`.
    fn error(&self, service: Service) -> ApiError {
        let code = self.spec.code.as_deref().unwrap_or("InternalFailure");
        let message = self
            .spec
            .message
            .clone()
            .unwrap_or_else(|| format!("injected by sandbox fault {}", self.id));
        let error = ApiError::new(code, message);
        // A code the service models keeps the model's status unless one is given, so an injected
        // error is indistinguishable from the service raising it.
        let modeled = service
            .model()
            .shapes
            .get(code)
            .is_some_and(|s| s.error.is_some() || s.fault);
        match self.spec.status {
            Some(status) => error.with_status(status),
            None if modeled => error,
            None => error.with_status(default_status(code, service)),
        }
    }
}

/// The HTTP status AWS answers an unmodeled common error code with.
fn default_status(code: &str, service: Service) -> u16 {
    match code {
        "ServiceUnavailable" | "ServiceUnavailableException" => 503,
        "InternalFailure" | "InternalServerException" | "InternalError" | "ServerException" => 500,
        // Query-protocol services answer their `AccessDenied` with 403; awsJson ones use 400.
        "AccessDenied"
            if service
                .model()
                .metadata
                .protocols
                .iter()
                .any(|p| p == "query") =>
        {
            403
        }
        _ => 400,
    }
}

fn secs(s: f64) -> Duration {
    // Specs are checked to be finite, non-negative and at most a year.
    Duration::from_secs_f64(s)
}

impl Faults {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// A receiver that sees every later change (added or cleared faults).
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Adds a fault, its windows counting from now; answers it as listed.
    pub fn add(&self, spec: FaultSpec) -> Value {
        self.add_at(spec, Instant::now())
    }

    fn add_at(&self, spec: FaultSpec, now: Instant) -> Value {
        let listed = {
            let mut state = self.state();
            state.next_id += 1;
            let fault = Fault {
                id: format!("f{}", state.next_id),
                spec,
                added: now,
                fired: 0,
            };
            let spec = Value::Object(fault.spec.to_json());
            tracing::info!(id = %fault.id, %spec, "fault added");
            let listed = fault.to_json(now);
            state.list.push(fault);
            listed
        };
        self.changed();
        listed
    }

    pub fn list(&self) -> Value {
        let now = Instant::now();
        let faults: Vec<Value> = self.state().list.iter().map(|f| f.to_json(now)).collect();
        json!({ "faults": faults })
    }

    /// Removes every fault; answers how many there were.
    pub fn clear(&self) -> usize {
        let n = std::mem::take(&mut self.state().list).len();
        self.changed();
        n
    }

    /// Removes one fault; false if there is none with that id.
    pub fn remove(&self, id: &str) -> bool {
        let removed = {
            let mut state = self.state();
            let before = state.list.len();
            state.list.retain(|f| f.id != id);
            state.list.len() < before
        };
        if removed {
            self.changed();
        }
        removed
    }

    pub fn faulted(&self) -> u64 {
        self.faulted.load(Ordering::Relaxed)
    }

    /// The fault (if any) that fires for a call; counts it as fired.
    pub fn hit(&self, service: Service, operation: &str) -> Option<Hit> {
        self.hit_at(service, operation, Instant::now())
    }

    fn hit_at(&self, service: Service, operation: &str, now: Instant) -> Option<Hit> {
        let mut state = self.state();
        let fault = state.list.iter_mut().find(|f| {
            f.spec.action != Action::Refuse && f.firing(now) && f.matches(service, operation)
        })?;
        fault.fired += 1;
        self.faulted.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(id = %fault.id, service = service.name(), operation, "fault fired");
        Some(match fault.spec.action {
            Action::Error => Hit::Error(fault.error(service)),
            Action::Ambiguous => Hit::Ambiguous(fault.error(service)),
            Action::Hang => Hit::Hang {
                id: fault.id.clone(),
                until: fault.ends().expect("hang faults have seconds"),
            },
            Action::Refuse => unreachable!("refuse faults are filtered out above"),
        })
    }

    /// Whether a request that arrived on an already-open connection is to be dropped because the
    /// endpoint is refusing connections; counts it as fired.
    pub fn refuses_request(&self) -> bool {
        let now = Instant::now();
        let mut state = self.state();
        let Some(fault) = state
            .list
            .iter_mut()
            .find(|f| f.spec.action == Action::Refuse && f.firing(now))
        else {
            return false;
        };
        fault.fired += 1;
        self.faulted.fetch_add(1, Ordering::Relaxed);
        true
    }

    pub(crate) fn refusal(&self, now: Instant) -> Refusal {
        let state = self.state();
        let refusing = || {
            state
                .list
                .iter()
                .filter(|f| f.spec.action == Action::Refuse && f.active(now))
        };
        if let Some(until) = refusing()
            .filter(|f| f.firing(now))
            .filter_map(Fault::ends)
            .max()
        {
            return Refusal::Now { until };
        }
        refusing()
            .map(Fault::starts)
            .min()
            .map_or(Refusal::Never, Refusal::From)
    }

    /// Waits out a hung call: until its fault's window ends, the fault is cleared, or shutdown.
    pub async fn hang(&self, id: &str, until: Instant, shutdown: &CancellationToken) {
        let mut changes = self.subscribe();
        while Instant::now() < until && self.state().list.iter().any(|f| f.id == id) {
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = changes.changed() => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// The control API: `path` is what follows `/_kirikae/` (`faults` or `faults/{id}`). Answers an
    /// HTTP status and a JSON body.
    pub fn control(&self, method: &http::Method, path: &str, body: &[u8]) -> (u16, Value) {
        use http::Method;
        let error = |status: u16, message: String| (status, json!({ "error": message }));
        match (path.strip_prefix("faults"), method) {
            (Some(""), &Method::GET) => (200, self.list()),
            (Some(""), &Method::POST) => {
                let spec = serde_json::from_slice::<Value>(body)
                    .map_err(|e| FaultSpecError::Json(e.to_string()))
                    .and_then(|v| FaultSpec::from_json(&v));
                match spec {
                    Ok(spec) => (200, self.add(spec)),
                    Err(e) => error(400, format!("bad fault: {e}")),
                }
            }
            (Some(""), &Method::DELETE) => (200, json!({ "cleared": self.clear() })),
            (Some(rest), method) if rest.starts_with('/') => {
                let id = &rest[1..];
                match *method {
                    Method::GET => {
                        let now = Instant::now();
                        let state = self.state();
                        match state.list.iter().find(|f| f.id == id) {
                            Some(f) => (200, f.to_json(now)),
                            None => error(404, format!("no fault {id}")),
                        }
                    }
                    Method::DELETE if self.remove(id) => (200, json!({ "cleared": 1 })),
                    Method::DELETE => error(404, format!("no fault {id}")),
                    _ => error(
                        405,
                        format!("{method} /_kirikae/faults/{id}: use GET or DELETE"),
                    ),
                }
            }
            (Some(""), method) => error(
                405,
                format!("{method} /_kirikae/faults: use GET, POST or DELETE"),
            ),
            _ => error(404, format!("unknown sandbox endpoint /_kirikae/{path}")),
        }
    }

    /// Installs faults given at start (`--fault`).
    pub fn add_all(&self, specs: impl IntoIterator<Item = FaultSpec>) {
        let now = Instant::now();
        for spec in specs {
            self.add_at(spec, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> FaultSpec {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn count_limits_firings_then_the_fault_is_inactive() {
        let faults = Faults::default();
        let t = Instant::now();
        let listed = faults.add_at(spec("action=error,code=ThrottlingException,count=2"), t);
        assert_eq!(listed["id"], "f1");
        assert_eq!(listed["active"], true);
        for _ in 0..2 {
            let Some(Hit::Error(e)) = faults.hit_at(Service::Ecs, "ListClusters", t) else {
                panic!("no hit")
            };
            assert_eq!(
                (e.code.as_str(), e.status),
                ("ThrottlingException", Some(400))
            );
        }
        assert_eq!(faults.hit_at(Service::Ecs, "ListClusters", t), None);
        let f = &faults.list()["faults"][0];
        assert_eq!(
            (f["fired"].as_u64(), f["active"].as_bool()),
            (Some(2), Some(false))
        );
        assert_eq!(faults.faulted(), 2);
    }

    #[test]
    fn windows_open_after_the_delay_and_close_after_seconds() {
        let faults = Faults::default();
        let t = Instant::now();
        faults.add_at(spec("action=error,seconds=1,after_seconds=0.5"), t);
        let hit = |at| {
            faults
                .hit_at(Service::Ecs, "ListClusters", t + at)
                .is_some()
        };
        assert!(!hit(ms(100)), "before the delay");
        assert!(hit(ms(600)));
        assert!(hit(ms(1400)));
        assert!(!hit(ms(1500)), "after the window");
        // Pending faults are active (they can still fire); expired ones are not.
        let f = Faults::default();
        f.add_at(
            spec("action=error,seconds=1,after_seconds=60"),
            Instant::now(),
        );
        assert_eq!(f.list()["faults"][0]["active"], true);
        f.add_at(spec("action=error,seconds=0.001"), Instant::now() - ms(10));
        assert_eq!(f.list()["faults"][1]["active"], false);
    }

    #[test]
    fn service_and_operation_filters() {
        let faults = Faults::default();
        let t = Instant::now();
        faults.add_at(
            spec("action=error,service=codedeploy,operation=GetDeployment,code=ServiceUnavailable"),
            t,
        );
        faults.add_at(spec("action=ambiguous,service=elbv2"), t);
        assert_eq!(faults.hit_at(Service::Ecs, "GetDeployment", t), None);
        assert_eq!(
            faults.hit_at(Service::CodeDeploy, "ListApplications", t),
            None
        );
        let Some(Hit::Error(e)) = faults.hit_at(Service::CodeDeploy, "GetDeployment", t) else {
            panic!("no hit")
        };
        assert_eq!(
            (e.code.as_str(), e.status),
            ("ServiceUnavailable", Some(503))
        );
        assert!(e.message.contains("f1"), "{}", e.message);
        let Some(Hit::Ambiguous(e)) = faults.hit_at(Service::Elbv2, "CreateTargetGroup", t) else {
            panic!("no hit")
        };
        assert_eq!((e.code.as_str(), e.status), ("InternalFailure", Some(500)));
    }

    #[test]
    fn statuses_follow_the_code_the_model_or_the_spec() {
        let t = Instant::now();
        let status = |s: &str, service| {
            let f = Faults::default();
            f.add_at(spec(s), t);
            match f.hit_at(service, "DescribeAlarms", t) {
                Some(Hit::Error(e)) => e.status,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            status("action=error,code=AccessDenied", Service::Elbv2),
            Some(403)
        );
        assert_eq!(
            status("action=error,code=AccessDenied", Service::CloudWatch),
            Some(403)
        );
        assert_eq!(
            status("action=error,code=AccessDeniedException", Service::Ecs),
            Some(400)
        );
        assert_eq!(
            status("action=error,code=InternalError", Service::Ecs),
            Some(500)
        );
        assert_eq!(
            status("action=error,code=ExpiredTokenException", Service::Ecs),
            Some(400)
        );
        assert_eq!(
            status("action=error,code=Throttling,status=429", Service::Elbv2),
            Some(429)
        );
        // Modeled codes keep the model's status (CloudWatch's ResourceNotFound is 404 there).
        assert_eq!(
            status("action=error,code=ResourceNotFound", Service::CloudWatch),
            None
        );
        assert_eq!(
            status("action=error,code=ServerException", Service::Ecs),
            None
        );
    }

    #[test]
    fn hang_and_refuse_windows() {
        let faults = Faults::default();
        let t = Instant::now();
        assert_eq!(faults.refusal(t), Refusal::Never);
        faults.add_at(spec("action=refuse,seconds=2,after_seconds=1"), t);
        faults.add_at(spec("action=refuse,seconds=2,after_seconds=2"), t);
        assert_eq!(faults.refusal(t), Refusal::From(t + ms(1000)));
        assert_eq!(
            faults.refusal(t + ms(1500)),
            Refusal::Now {
                until: t + ms(3000)
            }
        );
        assert_eq!(
            faults.refusal(t + ms(2500)),
            Refusal::Now {
                until: t + ms(4000)
            }
        );
        assert_eq!(faults.refusal(t + ms(4000)), Refusal::Never);
        // Refuse faults never answer calls; hang faults hang the calls they match.
        assert_eq!(
            faults.hit_at(Service::Ecs, "ListClusters", t + ms(1500)),
            None
        );
        faults.add_at(
            spec("action=hang,operation=ListClusters,seconds=3,count=1"),
            t,
        );
        assert_eq!(
            faults.hit_at(Service::Ecs, "ListClusters", t + ms(100)),
            Some(Hit::Hang {
                id: "f3".into(),
                until: t + ms(3000)
            })
        );
        assert_eq!(
            faults.hit_at(Service::Ecs, "ListClusters", t + ms(200)),
            None
        );
    }

    #[test]
    fn the_control_api() {
        use http::Method;
        let faults = Faults::default();
        let (status, body) = faults.control(
            &Method::POST,
            "faults",
            br#"{"action":"error","operation":"CreateCluster","count":1}"#,
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], "f1");
        assert_eq!(body["code"], "InternalFailure");
        assert_eq!(body["fired"], 0);
        let (status, body) = faults.control(&Method::POST, "faults", br#"{"action":"nope"}"#);
        assert_eq!(status, 400);
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("unknown action `nope`"),
            "{body}"
        );
        let (status, _) = faults.control(&Method::POST, "faults", b"action=error");
        assert_eq!(status, 400);
        faults.control(&Method::POST, "faults", br#"{"action":"hang","seconds":1}"#);
        let (_, listed) = faults.control(&Method::GET, "faults", b"");
        assert_eq!(listed["faults"].as_array().unwrap().len(), 2);
        assert_eq!(
            faults.control(&Method::GET, "faults/f2", b"").1["action"],
            "hang"
        );
        assert_eq!(faults.control(&Method::DELETE, "faults/f1", b"").0, 200);
        assert_eq!(faults.control(&Method::DELETE, "faults/f1", b"").0, 404);
        assert_eq!(faults.control(&Method::PUT, "faults", b"").0, 405);
        assert_eq!(
            faults.control(&Method::DELETE, "faults", b"").1["cleared"],
            1
        );
        assert_eq!(
            faults.control(&Method::GET, "faults", b"").1,
            json!({"faults": []})
        );
        // Ids are not reused after clearing.
        let (_, body) = faults.control(&Method::POST, "faults", br#"{"action":"error"}"#);
        assert_eq!(body["id"], "f3");
    }

    #[tokio::test]
    async fn a_hung_call_is_released_when_its_fault_is_cleared() {
        let faults = std::sync::Arc::new(Faults::default());
        faults.add(spec("action=hang,seconds=60"));
        let Some(Hit::Hang { id, until }) = faults.hit(Service::Ecs, "ListClusters") else {
            panic!("no hang")
        };
        let waiting = {
            let faults = faults.clone();
            tokio::spawn(async move {
                faults.hang(&id, until, &CancellationToken::new()).await;
            })
        };
        tokio::time::sleep(ms(50)).await;
        assert!(!waiting.is_finished());
        faults.clear();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("released")
            .unwrap();
    }
}
