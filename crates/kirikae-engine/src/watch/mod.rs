//! Following what a deploy created until AWS finishes it: one [`Poller`] (pacing, throttling, lost
//! contact, deadline, interrupt, heartbeats) under two explicit state machines, [`deployment::Follow`]
//! (a CodeDeploy deployment and the rollback CodeDeploy may start for it) and [`service`] (a new
//! CODE_DEPLOY service starting).
//!
//! Nothing here returns `Err`: every way a wait can end is a value ([`Stop`] inside the state machines'
//! endings), so the deploy can always say what AWS is doing now.

pub mod batch;
pub mod deployment;
pub mod native;
pub mod pace;
pub mod service;

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::aws::{CallFailure, Healing};
use crate::interrupt::Interrupt;
use crate::progress::{Event, Observer, now_epoch};

/// The longest pause between polls while AWS throttles.
const MAX_THROTTLED_INTERVAL: Duration = Duration::from_secs(16);
/// How often to ask again while AWS cannot be reached.
const RETRY_WHILE_LOST: Duration = Duration::from_secs(2);
/// Polls start on this grid (from one origin for the whole process), so that the polls of the services
/// of a run fall together and are batched ([`batch`]); it delays a poll by this much at most.
const GRID: Duration = Duration::from_millis(250);

/// `at`, rounded up to the next point of [`GRID`].
fn on_grid(at: Instant) -> Instant {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    let since = at.saturating_duration_since(origin).as_nanos();
    let grid = GRID.as_nanos();
    let steps = since.div_ceil(grid);
    origin + Duration::from_nanos((steps * grid) as u64)
}

/// Off a terminal, CI systems fail jobs that print nothing for minutes: say something at least this
/// often while waiting.
pub const HEARTBEAT: Duration = Duration::from_secs(50);

/// Why a wait stopped before AWS finished.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// The run's deadline (`--timeout`, or the default) passed.
    TimedOut,
    /// Ctrl-C, SIGTERM or SIGHUP.
    Interrupted,
    /// AWS could not be reached until the deadline, or refused to answer (credentials, permissions).
    LostContact(LostContact),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LostContact {
    /// When polls began to fail (epoch seconds).
    pub since: f64,
    /// The last failure.
    pub failure: CallFailure,
}

impl LostContact {
    /// Whether AWS answered "no" (it will say so again), rather than not answering.
    pub fn refused(&self) -> bool {
        self.failure.healing == Healing::Permanent
    }
}

struct Lost {
    since: f64,
    at: Instant,
    failure: CallFailure,
}

/// Polls one thing after another for a run until its deadline. Transient failures are retried (saying
/// so once, and once more when contact is back); throttling slows polling down; a failure that cannot
/// heal, the deadline or an interrupt ends the wait with a [`Stop`].
pub struct Poller<'a> {
    observer: &'a dyn Observer,
    interrupt: &'a Interrupt,
    deadline: Instant,
    /// The fastest pace (`--poll-interval`).
    pub base: Duration,
    throttled: Option<Duration>,
    lost: Option<Lost>,
    last_poll: Option<Instant>,
    last_said: Instant,
    started: Instant,
}

impl<'a> Poller<'a> {
    pub fn new(
        observer: &'a dyn Observer,
        interrupt: &'a Interrupt,
        deadline: Instant,
        base: Duration,
    ) -> Poller<'a> {
        let now = Instant::now();
        Poller {
            observer,
            interrupt,
            deadline,
            base,
            throttled: None,
            lost: None,
            last_poll: None,
            last_said: now,
            started: now,
        }
    }

    /// Tells the observer (and remembers that something was said, for heartbeats).
    pub fn say(&mut self, event: &Event) {
        self.last_said = Instant::now();
        self.observer.on_event(event);
    }

    pub fn observer(&self) -> &'a dyn Observer {
        self.observer
    }

    /// The run's interrupt (work between polls, e.g. a gate, stops on it too).
    pub fn interrupt(&self) -> &'a Interrupt {
        self.interrupt
    }

    /// When the run stops waiting.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Waits `pace` after the previous poll, then `fetch`es until it answers or the wait must stop.
    pub async fn next<T, F, Fut>(&mut self, pace: Duration, mut fetch: F) -> Result<T, Stop>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CallFailure>>,
    {
        let mut wait = pace;
        loop {
            let at = on_grid(self.last_poll.map_or_else(Instant::now, |t| t + wait));
            self.sleep_until(at).await?;
            self.last_poll = Some(Instant::now());
            let answer = tokio::select! {
                _ = self.interrupt.raised() => return Err(Stop::Interrupted),
                _ = tokio::time::sleep_until(self.deadline) => return Err(self.deadline_stop()),
                r = fetch() => r,
            };
            match answer {
                Ok(v) => {
                    self.throttled = None;
                    if let Some(lost) = self.lost.take() {
                        self.say(&Event::ContactRestored {
                            since: lost.since,
                            down_seconds: lost.at.elapsed().as_secs_f64(),
                        });
                    }
                    return Ok(v);
                }
                Err(f) => match f.healing {
                    Healing::Throttled => {
                        let backoff = self
                            .throttled
                            .map_or(self.base * 2, |d| d * 2)
                            .min(MAX_THROTTLED_INTERVAL);
                        self.throttled = Some(backoff);
                        wait = backoff.max(pace);
                        self.say(&Event::Throttled {
                            interval_seconds: wait.as_secs_f64(),
                        });
                    }
                    Healing::Transient => {
                        tracing::debug!(operation = f.operation, "poll failed: {}", f.message);
                        match &mut self.lost {
                            Some(lost) => lost.failure = f,
                            None => {
                                let since = now_epoch();
                                self.say(&Event::LostContact {
                                    since,
                                    operation: f.operation.to_string(),
                                    error: f.message.clone(),
                                });
                                self.lost = Some(Lost {
                                    since,
                                    at: Instant::now(),
                                    failure: f,
                                });
                            }
                        }
                        wait = RETRY_WHILE_LOST.max(self.base);
                    }
                    Healing::Permanent => {
                        let since = self.lost.as_ref().map_or_else(now_epoch, |l| l.since);
                        return Err(Stop::LostContact(LostContact { since, failure: f }));
                    }
                },
            }
        }
    }

    /// How the wait ends at the deadline: lost contact if AWS was unreachable then, else a time-out.
    fn deadline_stop(&mut self) -> Stop {
        match self.lost.take() {
            Some(l) => Stop::LostContact(LostContact {
                since: l.since,
                failure: l.failure,
            }),
            None => Stop::TimedOut,
        }
    }

    /// Sleeps until `at`, saying a heartbeat when nothing was said for a while.
    async fn sleep_until(&mut self, at: Instant) -> Result<(), Stop> {
        loop {
            let now = Instant::now();
            if now >= self.deadline {
                return Err(self.deadline_stop());
            }
            if now >= at {
                return Ok(());
            }
            let heartbeat = self.last_said + HEARTBEAT;
            let until = at.min(self.deadline).min(heartbeat);
            tokio::select! {
                _ = self.interrupt.raised() => return Err(Stop::Interrupted),
                _ = tokio::time::sleep_until(until) => {}
            }
            if Instant::now() >= heartbeat {
                let waited = self.started.elapsed().as_secs_f64();
                self.say(&Event::Heartbeat {
                    waited_seconds: waited,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Silent;
    use std::sync::Mutex;

    struct Recorder(Mutex<Vec<String>>);
    impl Observer for Recorder {
        fn on_event(&self, e: &Event) {
            let name = serde_json::to_value(e).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string();
            self.0.lock().unwrap().push(name);
        }
    }

    fn failure(healing: Healing) -> CallFailure {
        CallFailure {
            operation: "codedeploy:GetDeployment",
            healing,
            code: None,
            message: "connection refused".into(),
            hint: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_and_said_once_each_way() {
        let rec = Recorder(Mutex::new(Vec::new()));
        let interrupt = Interrupt::new();
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut p = Poller::new(&rec, &interrupt, deadline, Duration::from_secs(1));
        let mut n = 0;
        let got = p
            .next(Duration::from_secs(1), || {
                n += 1;
                let r = if n < 4 {
                    Err(failure(Healing::Transient))
                } else {
                    Ok(n)
                };
                async move { r }
            })
            .await;
        assert_eq!(got, Ok(4));
        assert_eq!(*rec.0.lock().unwrap(), ["lost_contact", "contact_restored"]);
    }

    #[tokio::test(start_paused = true)]
    async fn unreachable_until_the_deadline_is_lost_contact_not_a_time_out() {
        let interrupt = Interrupt::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut p = Poller::new(&Silent, &interrupt, deadline, Duration::from_secs(1));
        let got: Result<(), Stop> = p
            .next(Duration::from_secs(1), || async {
                Err(failure(Healing::Transient))
            })
            .await;
        assert!(matches!(got, Err(Stop::LostContact(l)) if !l.refused()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_that_cannot_heal_stops_at_once() {
        let interrupt = Interrupt::new();
        let deadline = Instant::now() + Duration::from_secs(3600);
        let mut p = Poller::new(&Silent, &interrupt, deadline, Duration::from_secs(1));
        let start = Instant::now();
        let got: Result<(), Stop> = p
            .next(Duration::from_secs(1), || async {
                Err(failure(Healing::Permanent))
            })
            .await;
        assert!(matches!(got, Err(Stop::LostContact(l)) if l.refused()));
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn quiet_waits_say_a_heartbeat() {
        let rec = Recorder(Mutex::new(Vec::new()));
        let interrupt = Interrupt::new();
        let deadline = Instant::now() + Duration::from_secs(3600);
        let mut p = Poller::new(&rec, &interrupt, deadline, Duration::from_secs(1));
        for _ in 0..12 {
            let _ = p
                .next(Duration::from_secs(10), || async {
                    Ok::<_, CallFailure>(())
                })
                .await;
        }
        let said = rec.0.lock().unwrap().clone();
        assert_eq!(
            said.iter().filter(|e| *e == "heartbeat").count(),
            2,
            "{said:?}"
        );
    }

    #[test]
    fn polls_start_on_a_shared_grid_never_earlier_and_at_most_one_step_later() {
        let now = Instant::now();
        for ms in [0u64, 1, 90, 249, 250, 251, 777] {
            let at = now + Duration::from_millis(ms);
            let g = on_grid(at);
            assert!(g >= at && g - at < GRID, "{ms}");
            assert_eq!(on_grid(g), g);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupt_ends_the_wait() {
        let interrupt = Interrupt::new();
        let deadline = Instant::now() + Duration::from_secs(3600);
        let mut p = Poller::new(&Silent, &interrupt, deadline, Duration::from_secs(1));
        let _ = p
            .next(Duration::ZERO, || async { Ok::<_, CallFailure>(()) })
            .await;
        interrupt.raise(143);
        let got = p
            .next(Duration::from_secs(5), || async {
                Ok::<_, CallFailure>(())
            })
            .await;
        assert_eq!(got, Err(Stop::Interrupted));
    }
}
