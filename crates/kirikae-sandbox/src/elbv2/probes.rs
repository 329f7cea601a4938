//! The background half of target health, run from `reconcile`: start due health checks (as tokio
//! tasks, outside the world lock), fold their outcomes into each target's state, end drains, and start
//! health over for targets whose group no load balancer uses any more.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::Request;
use hyper_util::rt::TokioIo;

use super::health::{HealthTrack, Matcher, Outcome};
use crate::world::{Ctx, RegionKey, Shared};

/// Scaling the clock shortens the wait between checks, not how fast a real process answers: a check
/// gets at least this much real time, so a busy machine does not read as a failing target.
const MIN_REAL_TIMEOUT: Duration = Duration::from_secs(1);

/// One health check to run.
struct Probe {
    key: RegionKey,
    tg_arn: String,
    target: (String, u16),
    generation: u64,
    addr: SocketAddr,
    path: String,
    timeout: Duration,
    matcher: Matcher,
}

pub fn reconcile(cx: &mut Ctx) {
    let now = cx.now;
    let scale = cx.shared.clock.scale();
    let usage: BTreeMap<String, Vec<String>> = cx.region.elbv2.usage();
    let mut due = Vec::new();
    for tg in cx.region.elbv2.target_groups.values_mut() {
        // Drained targets leave the group once their deregistration delay (AWS time) has passed.
        tg.targets
            .retain(|t| t.draining.is_none_or(|d| now < d.since + d.delay / scale));
        if !usage.contains_key(&tg.arn) {
            for t in tg.targets.iter_mut().filter(|t| t.draining.is_none()) {
                if t.health != HealthTrack::default() || t.probing {
                    t.start_over(now);
                }
            }
            continue;
        }
        let hc = &tg.settings.health_check;
        if !hc.enabled {
            continue;
        }
        let matcher = Matcher::parse(hc.matcher.as_deref().unwrap_or("200"))
            .unwrap_or_else(|| Matcher::parse("200").expect("200 is a matcher"));
        for t in tg
            .targets
            .iter_mut()
            .filter(|t| t.draining.is_none() && !t.probing && t.next_check <= now)
        {
            t.probing = true;
            t.next_check = now + hc.interval as f64 / scale;
            let port = hc.port.parse().unwrap_or(t.port);
            due.push(Probe {
                key: cx.region.key.clone(),
                tg_arn: tg.arn.clone(),
                target: (t.id.clone(), t.port),
                generation: t.generation,
                addr: SocketAddr::new(t.ip, port),
                path: hc.path.clone().unwrap_or_else(|| "/".into()),
                timeout: cx
                    .shared
                    .clock
                    .real(hc.timeout as f64)
                    .max(MIN_REAL_TIMEOUT),
                matcher: matcher.clone(),
            });
        }
    }
    for probe in due {
        let shared = cx.shared.clone();
        tokio::spawn(async move {
            let stop = shared.shutdown.clone();
            tokio::select! {
                _ = stop.cancelled() => {}
                outcome = check(probe.addr, &probe.path, probe.timeout, &probe.matcher) => apply(&shared, &probe, outcome),
            }
        });
    }
}

/// Fold an outcome into the target it was for, unless the target started over meanwhile.
fn apply(shared: &Arc<Shared>, probe: &Probe, outcome: Outcome) {
    let mut world = shared.world();
    let st = &mut world.region(&probe.key).elbv2;
    let Some(tg) = st.target_groups.get_mut(&probe.tg_arn) else {
        return;
    };
    let (healthy, unhealthy) = (
        tg.settings.health_check.healthy_threshold as u32,
        tg.settings.health_check.unhealthy_threshold as u32,
    );
    let (id, port) = &probe.target;
    let Some(t) = tg
        .targets
        .iter_mut()
        .find(|t| t.is(id, *port) && t.generation == probe.generation)
    else {
        return;
    };
    t.probing = false;
    if t.draining.is_some() {
        return;
    }
    let before = t.health.verdict;
    t.health.record(outcome, healthy, unhealthy);
    if t.health.verdict != before {
        tracing::info!(target = %probe.addr, group = %probe.tg_arn, verdict = ?t.health.verdict, "target health changed");
        drop(world);
        shared.wake.notify_one();
    }
}

/// One HTTP health check: `GET http://addr{path}` on a fresh connection, within `timeout`.
async fn check(addr: SocketAddr, path: &str, timeout: Duration, matcher: &Matcher) -> Outcome {
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(conn);
        let req = Request::get(path)
            .header(http::header::HOST, addr.to_string())
            .header(http::header::USER_AGENT, "ELB-HealthChecker/2.0")
            .header(http::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .ok()?;
        let resp = sender.send_request(req).await.ok()?;
        Some(resp.status().as_u16())
    };
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => Outcome::TimedOut,
        Ok(None) => Outcome::Failed,
        Ok(Some(code)) if matcher.accepts(code) => Outcome::Passed,
        Ok(Some(code)) => Outcome::CodeMismatch(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve_once_per_connection(status: u16) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req| async move {
                        let mut r = hyper::Response::new(http_body_util::Full::new(
                            Bytes::from_static(b"ok"),
                        ));
                        *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        Ok::<_, std::convert::Infallible>(r)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn checks_classify_answers() {
        let ok = Matcher::parse("200").unwrap();
        let t = Duration::from_secs(2);
        let good = serve_once_per_connection(200).await;
        assert_eq!(check(good, "/health", t, &ok).await, Outcome::Passed);
        let bad = serve_once_per_connection(500).await;
        assert_eq!(
            check(bad, "/health", t, &ok).await,
            Outcome::CodeMismatch(500)
        );
        // Nothing listens on a port we just freed.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert_eq!(check(closed, "/", t, &ok).await, Outcome::Failed);
        // Accepts but never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_addr = silent.local_addr().unwrap();
        assert_eq!(
            check(silent_addr, "/", Duration::from_millis(200), &ok).await,
            Outcome::TimedOut
        );
        drop(silent);
    }
}
