//! Task processes. Every container of an ECS task runs as a real local process listening on the task's
//! own loopback address; `kirikae/demo:<tag>` runs the built-in demo app, any other image runs the
//! command the sandbox config maps it to. Children die with the sandbox (`PR_SET_PDEATHSIG`) and are
//! killed by process group, so nothing outlives it. Processes start from a clean environment (`env`).

pub mod demo_app;
pub mod env;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::mpsc;

use crate::world::RegionKey;

/// What the sandbox runs for an image.
#[derive(Clone, Debug, Default)]
pub struct ImageCommands {
    /// Command line of the built-in demo app (normally `kirikae __demo-app`).
    pub demo_app: Vec<String>,
    /// Image (with or without tag) → shell command line.
    pub images: BTreeMap<String, String>,
}

/// How to run one image: the program with its arguments, and extra environment.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// `argv` is `sh -c LINE`: a container command follows as `$0`-less positional arguments (`$@`).
    pub shell: bool,
}

impl Resolved {
    /// The argv with a container's command (Docker's CMD) appended as the entrypoint's arguments: the
    /// demo app gets them as its own, a mapped image's line as `"$@"`. The command is never run by a
    /// shell itself, so a RunTask override cannot start a program the operator did not map.
    pub fn with_command(mut self, command: &[String]) -> Resolved {
        if command.is_empty() {
            return self;
        }
        if self.shell {
            self.argv.push("sh".into()); // `$0` of `sh -c`
        }
        self.argv.extend(command.iter().cloned());
        self
    }
}

impl ImageCommands {
    /// The program and arguments for `image`, or `None` when the sandbox cannot run it.
    pub fn resolve(&self, image: &str) -> Option<Resolved> {
        if let Some(tag) = image
            .strip_prefix("kirikae/demo:")
            .or_else(|| (image == "kirikae/demo").then_some("latest"))
        {
            return Some(Resolved {
                argv: self.demo_app.clone(),
                env: vec![("KIRIKAE_DEMO_TAG".into(), tag.into())],
                shell: false,
            });
        }
        let untagged = image
            .rsplit_once(':')
            .map(|(name, _)| name)
            .unwrap_or(image);
        let line = self
            .images
            .get(image)
            .or_else(|| self.images.get(untagged))?;
        // Plain `sh -c` (no `exec`) so multi-statement lines (`cd app && ./serve`) work and report
        // the exit status of their last command; the whole process group is signalled on stop.
        Some(Resolved {
            argv: vec!["/bin/sh".into(), "-c".into(), line.clone()],
            env: Vec::new(),
            shell: true,
        })
    }
}

/// One container to start.
#[derive(Clone, Debug)]
pub struct ContainerSpec {
    pub region: RegionKey,
    pub task_arn: String,
    pub task_id: String,
    /// The task definition it runs (dropped environment variables are reported once per definition).
    pub task_definition_arn: String,
    pub container_name: String,
    pub image: String,
    pub ip: Ipv4Addr,
    /// First container port, handed to the process as `PORT`.
    pub port: Option<u16>,
    pub environment: Vec<(String, String)>,
    /// The container's command override (arguments of the image's entrypoint); empty: none.
    pub command: Vec<String>,
}

/// Something a process did on its own.
#[derive(Clone, Debug)]
pub enum RuntimeEvent {
    Exited {
        region: RegionKey,
        task_arn: String,
        container_name: String,
        exit_code: Option<i32>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref {0}: not found (the kirikae sandbox runs kirikae/demo:<tag> itself; map other images to a local command with --image-command IMAGE=COMMAND)"
    )]
    UnknownImage(String),
    #[error("CannotStartContainerError: {0}")]
    Spawn(String),
}

pub struct Runtime {
    commands: ImageCommands,
    time_scale: f64,
    events: mpsc::UnboundedSender<RuntimeEvent>,
    /// task ARN → (container name, process group id) of its running containers.
    running: Mutex<HashMap<String, Vec<(String, i32)>>>,
    dropped: env::DropLog,
}

impl Runtime {
    pub fn new(
        commands: ImageCommands,
        time_scale: f64,
        events: mpsc::UnboundedSender<RuntimeEvent>,
    ) -> Runtime {
        Runtime {
            commands,
            time_scale,
            events,
            running: Mutex::new(HashMap::new()),
            dropped: env::DropLog::default(),
        }
    }

    /// Start one container process. Must be called from a tokio worker thread (not a blocking-pool
    /// thread): the parent-death signal is tied to the spawning thread.
    pub fn start(&self, spec: ContainerSpec) -> Result<(), StartError> {
        let Resolved {
            argv,
            env: extra_env,
            ..
        } = self
            .commands
            .resolve(&spec.image)
            .ok_or_else(|| StartError::UnknownImage(spec.image.clone()))?
            .with_command(&spec.command);
        let (environment, dropped) = env::build(&spec.environment);
        self.dropped
            .report(&spec.task_definition_arn, &spec.container_name, &dropped);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .env_clear()
            .envs(environment)
            .envs(extra_env)
            .env("HOST", spec.ip.to_string())
            .env("KIRIKAE_TASK_ARN", &spec.task_arn)
            .env("KIRIKAE_TASK_ID", &spec.task_id)
            .env("KIRIKAE_TIME_SCALE", self.time_scale.to_string())
            .envs(env::NO_REAL_AWS.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(false)
            .process_group(0);
        if let Some(port) = spec.port {
            cmd.env("PORT", port.to_string())
                .env("KIRIKAE_BIND", format!("{}:{port}", spec.ip));
        }
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the child when the
        // sandbox dies, so no task process outlives a crashed sandbox.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| StartError::Spawn(format!("{}: {e}", argv[0])))?;
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        self.running
            .lock()
            .expect("runtime lock")
            .entry(spec.task_arn.clone())
            .or_default()
            .push((spec.container_name.clone(), pid));
        let events = self.events.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            let exit_code = status.ok().and_then(|s| {
                use std::os::unix::process::ExitStatusExt;
                s.code().or_else(|| s.signal().map(|sig| 128 + sig))
            });
            let _ = events.send(RuntimeEvent::Exited {
                region: spec.region,
                task_arn: spec.task_arn,
                container_name: spec.container_name,
                exit_code,
            });
        });
        Ok(())
    }

    /// Stop a task's processes: SIGTERM now, SIGKILL after `stop_timeout` (ECS's `stopTimeout`).
    pub fn stop(&self, task_arn: &str, stop_timeout: Duration) {
        let Some(pgids) = self.running.lock().expect("runtime lock").remove(task_arn) else {
            return;
        };
        for (_, pgid) in &pgids {
            signal_group(*pgid, libc::SIGTERM);
        }
        tokio::spawn(async move {
            tokio::time::sleep(stop_timeout).await;
            for (_, pgid) in pgids {
                signal_group(pgid, libc::SIGKILL);
            }
        });
    }

    /// Kill every process this runtime started (shutdown), and wait (at most `within`) until they are
    /// gone, so that when the sandbox exits no task process and no task port is left behind.
    pub async fn kill_all(&self, within: Duration) {
        let all: Vec<i32> = self
            .running
            .lock()
            .expect("runtime lock")
            .drain()
            .flat_map(|(_, v)| v.into_iter().map(|(_, pgid)| pgid))
            .collect();
        for &pgid in &all {
            signal_group(pgid, libc::SIGKILL);
        }
        let deadline = tokio::time::Instant::now() + within;
        while all.iter().any(|&pgid| group_exists(pgid)) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Forget one container that exited by itself; the task's other containers stay tracked so a
    /// later stop still reaches them.
    pub fn forget(&self, task_arn: &str, container_name: &str) {
        let mut running = self.running.lock().expect("runtime lock");
        if let Some(containers) = running.get_mut(task_arn) {
            containers.retain(|(name, _)| name != container_name);
            if containers.is_empty() {
                running.remove(task_arn);
            }
        }
    }

    pub fn running_tasks(&self) -> usize {
        self.running.lock().expect("runtime lock").len()
    }
}

/// Whether any process of the group is still there (signal 0 only checks; a zombie not yet reaped by
/// its waiter counts as there).
fn group_exists(pgid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 sends nothing.
    pgid > 0 && unsafe { libc::kill(-pgid, 0) } == 0
}

fn signal_group(pgid: i32, signal: i32) {
    if pgid > 0 {
        // SAFETY: kill(2) with a negative pid signals the process group we created for the task.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_demo_and_mapped_images() {
        let mut c = ImageCommands {
            demo_app: vec!["/bin/kirikae".into(), "__demo-app".into()],
            ..Default::default()
        };
        c.images
            .insert("example/web".into(), "python3 -m http.server $PORT".into());
        let demo = c.resolve("kirikae/demo:v2").unwrap();
        assert_eq!(demo.argv, vec!["/bin/kirikae", "__demo-app"]);
        assert_eq!(
            demo.env,
            vec![("KIRIKAE_DEMO_TAG".to_string(), "v2".to_string())]
        );
        let mapped = c.resolve("example/web:1.4").unwrap();
        assert_eq!(mapped.argv[2], "python3 -m http.server $PORT");
        assert!(c.resolve("nginx:latest").is_none());
    }

    #[test]
    fn a_command_is_the_entrypoints_arguments_never_a_shell_line() {
        let c = ImageCommands {
            demo_app: vec!["/bin/kirikae".into(), "__demo-app".into()],
            images: [("example/app".to_string(), "./app \"$@\"".to_string())].into(),
        };
        let cmd = vec!["exit".to_string(), "3; rm -rf x".to_string()];
        let demo = c.resolve("kirikae/demo:v2").unwrap().with_command(&cmd);
        assert_eq!(
            demo.argv,
            ["/bin/kirikae", "__demo-app", "exit", "3; rm -rf x"]
        );
        let mapped = c.resolve("example/app:1").unwrap().with_command(&cmd);
        assert_eq!(
            mapped.argv,
            ["/bin/sh", "-c", "./app \"$@\"", "sh", "exit", "3; rm -rf x"]
        );
        let none = c.resolve("example/app:1").unwrap().with_command(&[]);
        assert_eq!(none.argv.len(), 3);
    }
}
