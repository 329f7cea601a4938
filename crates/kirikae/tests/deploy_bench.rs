//! A benchmark, not a test (ignored by default): the notice lag of `kirikae deploy`, i.e. the time from
//! the sandbox marking a deployment Succeeded (its `completeTime`, wall-clock) to the CLI exiting, and the
//! API calls made while waiting.
//!
//! ```sh
//! cargo test -p kirikae --test deploy_bench -- --ignored --nocapture
//! ```

mod deploy_support;

use std::time::{SystemTime, UNIX_EPOCH};

use deploy_support::{Stack, block_on};

const RUNS: usize = 8;
const WAIT_OPS: &[&str] = &[
    "codedeploy.BatchGetDeployments",
    "codedeploy.GetDeploymentTarget",
];

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn notice_lag() {
    let stack = Stack::new().await;
    stack.project().deploy(&[]).assert_exit(0);
    let mut lags = Vec::new();
    let mut polls = Vec::new();
    println!("run  deployment   wall s  lag ms  BatchGetDeployments+GetDeploymentTarget calls");
    for i in 0..RUNS {
        let before: u64 = WAIT_OPS.iter().map(|op| stack.calls_of(op)).sum();
        let run = stack
            .project()
            .image(&format!("v{}", i + 2))
            .deploy(&["--output", "json"]);
        let exited = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        run.assert_exit(0);
        let calls: u64 = WAIT_OPS.iter().map(|op| stack.calls_of(op)).sum::<u64>() - before;
        let id = run.json()["deployment_id"].as_str().unwrap().to_string();
        let dep = block_on(stack.codedeploy.get_deployment().deployment_id(&id).send()).unwrap();
        let completed = dep
            .deployment_info()
            .unwrap()
            .complete_time()
            .unwrap()
            .as_secs_f64();
        let lag = exited - completed;
        println!(
            "{i:>3}  {id}  {:>6.2}  {:>6.0}  {calls}",
            run.elapsed.as_secs_f64(),
            lag * 1000.0
        );
        lags.push(lag);
        polls.push(calls);
    }
    lags.sort_by(f64::total_cmp);
    let mean = lags.iter().sum::<f64>() / lags.len() as f64;
    println!(
        "notice lag: mean {:.0} ms, median {:.0} ms, max {:.0} ms; calls while waiting per deploy: {:?}",
        mean * 1000.0,
        lags[lags.len() / 2] * 1000.0,
        lags[lags.len() - 1] * 1000.0,
        polls
    );
}
