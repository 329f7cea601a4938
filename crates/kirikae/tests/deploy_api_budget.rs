//! Several services deployed at once share one API-call budget (`--max-api-calls-per-second`): the calls the
//! sandbox counts never outrun the budget, whatever the number of services.
//!
//! Timing-robust by construction: the assertions are an upper bound on the rate the sandbox saw (a slow
//! machine can only lower it) and a lower bound on how long the run took (a slow machine can only raise it).

mod deploy_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use deploy_support::{Sandbox, Stack};

const RATE: u64 = 5;
/// `--max-api-calls-per-second N` allows a burst of 2 N.
const BURST: u64 = 2 * RATE;
/// Longest plausible time between a call getting its turn in kirikae and the sandbox counting it; calls
/// delayed in between may be counted together.
const TRANSIT: f64 = 2.0;

/// `(asked, answered, total calls)`: the sandbox's count lies somewhere between the two instants.
type Sample = (Instant, Instant, u64);

fn sample_calls(sandbox: &Sandbox, stop: &AtomicBool) -> Vec<Sample> {
    let mut samples = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let asked = Instant::now();
        let total = sandbox.calls()["total"].as_u64().expect("total");
        samples.push((asked, Instant::now(), total));
        std::thread::sleep(Duration::from_millis(50));
    }
    samples
}

#[tokio::test(flavor = "multi_thread")]
async fn services_deployed_together_share_one_api_call_budget() {
    let stack = Arc::new(Stack::new().await);
    let others = ["api", "jobs", "mail"];
    for name in others {
        stack.add_load_balancer(name).await;
    }
    let projects: Vec<_> = others.iter().map(|n| stack.project_for(n)).collect();
    for p in &projects {
        p.write();
    }
    let configs: Vec<String> = projects
        .iter()
        .map(|p| p.path("kirikae.yml").to_str().unwrap().to_string())
        .collect();
    let mut args: Vec<&str> = configs.iter().flat_map(|c| ["-c", c.as_str()]).collect();
    let rate = RATE.to_string();
    args.extend(["--max-api-calls-per-second", &rate, "--output", "json"]);

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (stack, stop) = (stack.clone(), stop.clone());
        std::thread::spawn(move || sample_calls(&stack.sandbox, &stop))
    };
    let before = stack.sandbox.calls()["total"].as_u64().unwrap();
    let started = Instant::now();
    let run = stack.project().deploy(&args);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let samples = sampler.join().expect("sampler");
    let total = stack.sandbox.calls()["total"].as_u64().unwrap() - before;

    run.assert_exit(0);
    let doc = run.json();
    let deploys = doc["deploys"].as_array().expect("four deploys");
    assert_eq!(deploys.len(), 4, "{doc:#}");
    assert!(
        deploys.iter().all(|d| d["result"] == "succeeded"),
        "{doc:#}"
    );

    // The budget was binding: four services need more calls than one burst and a couple of seconds.
    assert!(
        total > BURST + 2 * RATE,
        "only {total} calls: too few to test the budget"
    );
    // So the run cannot have been faster than the budget allows.
    let least = (total - BURST) as f64 / RATE as f64;
    assert!(
        elapsed >= least - 0.5,
        "{total} calls in {elapsed:.1} s: more than {RATE}/s after a burst of {BURST}"
    );
    // And no window saw more than the budget allows (plus calls still in transit).
    let mut worst = (0.0f64, 0u64, 0u64);
    for (i, &(asked_i, _, calls_i)) in samples.iter().enumerate() {
        for &(_, answered_j, calls_j) in &samples[i + 1..] {
            let window = answered_j.duration_since(asked_i).as_secs_f64();
            let allowed = BURST + (RATE as f64 * (window + TRANSIT)).floor() as u64;
            let seen = calls_j - calls_i;
            if seen > allowed {
                worst = (window, seen, allowed);
            }
        }
    }
    assert!(
        worst.1 == 0,
        "{} calls within {:.2} s, budget allows {}",
        worst.1,
        worst.0,
        worst.2
    );
    eprintln!(
        "{total} calls in {elapsed:.1} s ({:.1}/s) with --max-api-calls-per-second {RATE}; {} samples",
        total as f64 / elapsed,
        samples.len()
    );
}
