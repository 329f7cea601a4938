//! `kirikae sandbox`: serve the local AWS endpoint until Ctrl-C or SIGTERM, then stop every process it
//! started and free every address.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;

use kirikae_sandbox::{FaultSpec, ImageCommands, Sandbox, SandboxConfig};

use crate::exit::Status;

#[derive(clap::Args)]
pub struct Args {
    /// Address of the AWS endpoint (port 0 picks a free port; the URL is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:4747")]
    listen: SocketAddr,
    /// Allow --listen on an address other than loopback. The API has no authentication and starts
    /// processes: anyone who can reach it can run the commands the sandbox maps.
    #[arg(long)]
    allow_remote: bool,
    /// AWS seconds per real second: 60 makes an AWS minute last one second.
    #[arg(long, default_value_t = 1.0, value_parser = positive_f64)]
    time_scale: f64,
    /// Run IMAGE (with or without its tag) as the shell COMMAND; the task's address and port arrive
    /// as $HOST and $PORT, with the container's environment. Repeatable.
    #[arg(long = "image-command", value_name = "IMAGE=COMMAND", value_parser = image_command)]
    image_commands: Vec<(String, String)>,
    /// Run the hook Lambda FUNCTION (name as the AppSpec or an ECS lifecycle hook's hookTargetArn
    /// gives it, or its ARN's name) as the shell COMMAND (payload on stdin and in
    /// $KIRIKAE_HOOK_PAYLOAD, $AWS_ENDPOINT_URL set), or POST the payload to an http:// URL. A
    /// CodeDeploy hook reports with PutLifecycleEventHookExecutionStatus; an ECS hook answers with
    /// its output ({"hookStatus": …}), as a Lambda returns. Repeatable.
    #[arg(long = "hook", value_name = "FUNCTION=COMMAND_OR_URL", value_parser = hook)]
    hooks: Vec<(String, String)>,
    /// Throttle like AWS: answer calls beyond N per second (per account and region; bursts up to N)
    /// with the service's throttling error, to rehearse clients' back-off. Off by default.
    #[arg(long, value_name = "N", value_parser = positive_f64)]
    throttle_above: Option<f64>,
    /// Inject a fault from the start: a JSON object or key=value pairs, e.g.
    /// action=error,operation=GetDeployment,code=ServiceUnavailable,count=3 (README: fault
    /// injection). Repeatable; more can be added and cleared at /_kirikae/faults.
    #[arg(long = "fault", value_name = "SPEC", value_parser = fault)]
    faults: Vec<FaultSpec>,
}

fn fault(s: &str) -> Result<FaultSpec, String> {
    s.parse().map_err(|e| format!("bad fault: {e}"))
}

pub(crate) fn positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a positive number")),
    }
}

fn image_command(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((image, command)) if !image.is_empty() && !command.trim().is_empty() => {
            Ok((image.to_string(), command.to_string()))
        }
        _ => Err(format!(
            "`{s}` is not IMAGE=COMMAND (e.g. example/web=\"python3 -m http.server $PORT --bind $HOST\")"
        )),
    }
}

fn hook(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((function, target)) if !function.is_empty() && !target.trim().is_empty() => {
            Ok((function.to_string(), target.to_string()))
        }
        _ => Err(format!(
            "`{s}` is not FUNCTION=COMMAND_OR_URL (e.g. validate=./hooks/validate.sh or validate=http://127.0.0.1:9000/hook)"
        )),
    }
}

/// A sandbox configuration for this executable: image `kirikae/demo` runs its built-in demo app; no other
/// images, no hooks, no throttling.
pub fn config(listen: SocketAddr, time_scale: f64) -> Result<SandboxConfig, String> {
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find the kirikae executable to run the demo app: {e}"))?;
    Ok(SandboxConfig {
        listen,
        time_scale,
        images: ImageCommands {
            demo_app: vec![exe.to_string_lossy().into_owned(), "__demo-app".to_string()],
            images: BTreeMap::new(),
        },
        hooks: BTreeMap::new(),
        throttle_above: None,
        faults: Vec::new(),
    })
}

/// Loopback only, unless the operator says otherwise: the API is unauthenticated and starts processes.
fn check_listen(listen: SocketAddr, allow_remote: bool) -> Result<(), String> {
    if listen.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    if !allow_remote {
        return Err(format!(
            "--listen {listen} is not a loopback address. The sandbox's API has no authentication and starts processes, so anyone who can reach it could run commands on this machine as you. Listen on 127.0.0.1 (the default), or pass --allow-remote to expose it anyway."
        ));
    }
    eprintln!(
        "warning: listening on {listen} (--allow-remote): the sandbox's API has no authentication; anyone who can reach this address can start processes on this machine (the commands --image-command and --hook map) and use its load balancers."
    );
    Ok(())
}

pub async fn run(args: Args) -> ExitCode {
    if let Err(e) = check_listen(args.listen, args.allow_remote) {
        eprintln!("error: {e}");
        return Status::Usage.into();
    }
    let started = match config(args.listen, args.time_scale) {
        Ok(mut config) => {
            config.images.images = args.image_commands.into_iter().collect();
            config.hooks = args.hooks.into_iter().collect();
            config.throttle_above = args.throttle_above;
            config.faults = args.faults;
            Sandbox::start(config).await.map_err(|e| e.to_string())
        }
        Err(e) => Err(e),
    };
    let sandbox = match started {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Status::Failure.into();
        }
    };
    // Listen for the signals before saying ready: a SIGTERM right after the URL still stops cleanly.
    let stop = stop_signal();
    // The URL is the command's data: stdout, one line, so scripts can read it.
    println!("{}", sandbox.endpoint_url());
    eprintln!(
        "kirikae sandbox ready at {} (time scale {}x); set AWS_ENDPOINT_URL to use it. Ctrl-C stops it.",
        sandbox.endpoint_url(),
        args.time_scale
    );
    stop.await;
    eprintln!("stopping: killing task processes and closing listeners");
    sandbox.shutdown().await;
    Status::Success.into()
}

/// Resolves at the first SIGINT (Ctrl-C) or SIGTERM; both are handled from the moment this is called.
fn stop_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
}
