//! The environment of every process the sandbox starts (task containers and hook commands). The
//! sandbox's API has no authentication, so whatever a caller puts in a task definition must not be
//! able to take over the process the sandbox runs for it, and nothing of the operator's own
//! environment (AWS credentials, tokens) may leak into it. A process starts from nothing:
//!
//! 1. [`INHERITED`]: the few variables programs need to run at all, from the sandbox's environment;
//! 2. the task definition's `environment` (tasks only), without [`is_blocked`] names;
//! 3. what the sandbox itself sets (`HOST`, `PORT`, `KIRIKAE_*`, and for hooks `AWS_ENDPOINT_URL`
//!    with fixed dummy credentials), which wins over both.

use std::collections::HashSet;
use std::ffi::OsString;
use std::sync::Mutex;

/// Variables passed on from the sandbox's environment, and why each one:
///
/// - `PATH`: image and hook commands name programs (`python3`, `sh`) as the operator's shell finds them;
/// - `HOME`: tools look for their per-user installs and caches there (pyenv, pip `--user`, npm);
/// - `LANG`, `LC_*`: the locale, so programs decode and print text (UTF-8) as in the operator's shell;
/// - `TZ`: local time in what programs print;
/// - `TMPDIR`: where temporary files go;
/// - `USER`, `LOGNAME`: the user name, which some tools ask for instead of looking it up.
///
/// Not passed, among others: `AWS_*` (credentials, profiles, config files), `GITHUB_TOKEN` and every
/// other secret, `SSH_AUTH_SOCK`, `TERM` (output never goes to a terminal), `PYTHONPATH` and friends.
pub const INHERITED: &[&str] = &[
    "PATH", "HOME", "LANG", "LC_*", "TZ", "TMPDIR", "USER", "LOGNAME",
];

/// Task definition variables that make a dynamic loader, shell or language runtime load or run code
/// other than the command's own. They are dropped (and logged by name, once per task definition).
/// A trailing `*` matches any suffix.
pub const BLOCKED: &[&str] = &[
    // Dynamic loaders (glibc, musl, macOS) and glibc's own code-loading knobs.
    "LD_*",
    "DYLD_*",
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    // Shells: startup files, exported functions, word splitting, trace prompts, `cd` search path.
    "BASH_ENV",
    "ENV",
    "BASH_FUNC_*",
    "IFS",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "CDPATH",
    // Python (PYTHONWARNINGS can import any module; with BROWSER it runs any command).
    "PYTHONWARNINGS",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONINSPECT",
    "PYTHONBREAKPOINT",
    "BROWSER",
    // Node.js.
    "NODE_OPTIONS",
    "NODE_PATH",
    // Perl.
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "PERL5DB",
    // Ruby.
    "RUBYOPT",
    "RUBYLIB",
    // Java.
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    // PHP.
    "PHPRC",
    "PHP_INI_SCAN_DIR",
];

fn matches(patterns: &[&str], name: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *p,
    })
}

/// Whether a task definition may not set `name` (see [`BLOCKED`]).
pub fn is_blocked(name: &str) -> bool {
    matches(BLOCKED, name)
}

/// What the sandbox passes on from its own environment (see [`INHERITED`]).
pub fn inherited() -> Vec<(OsString, OsString)> {
    std::env::vars_os()
        .filter(|(name, _)| name.to_str().is_some_and(|n| matches(INHERITED, n)))
        .collect()
}

/// Set on every process, after everything else, so that an AWS SDK or CLI in it never finds the
/// operator's real account: no shared config or credentials files, no instance metadata service (on an
/// EC2 host it would hand out the instance role's credentials).
pub const NO_REAL_AWS: &[(&str, &str)] = &[
    ("AWS_CONFIG_FILE", "/dev/null"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// A fresh environment: [`inherited`] plus `given` minus blocked names. Returns the environment and the
/// names it dropped.
pub fn build(given: &[(String, String)]) -> (Vec<(OsString, OsString)>, Vec<String>) {
    let mut env = inherited();
    let mut dropped = Vec::new();
    for (name, value) in given {
        if is_blocked(name) {
            if !dropped.contains(name) {
                dropped.push(name.clone());
            }
            continue;
        }
        env.retain(|(n, _)| n.as_os_str() != name.as_str());
        env.push((name.into(), value.into()));
    }
    (env, dropped)
}

/// Remembers which dropped variables were already reported, so each is logged once per task definition.
#[derive(Default)]
pub struct DropLog {
    seen: Mutex<HashSet<(String, String)>>,
}

impl DropLog {
    /// Log (warn) each of `dropped` not yet logged for `task_definition`. Names only, never values.
    pub fn report(&self, task_definition: &str, container: &str, dropped: &[String]) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        for name in dropped {
            if seen.insert((task_definition.to_string(), name.clone())) {
                tracing::warn!(
                    task_definition,
                    container,
                    variable = %name,
                    "environment variable {name} not passed to the container: it can make a loader, shell or interpreter run other code (the kirikae sandbox drops such variables)"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_and_interpreter_injection_is_blocked() {
        for name in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "DYLD_INSERT_LIBRARIES",
            "BASH_ENV",
            "ENV",
            "BASH_FUNC_ls%%",
            "NODE_OPTIONS",
            "PYTHONWARNINGS",
            "PERL5OPT",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "IFS",
            "PS4",
        ] {
            assert!(is_blocked(name), "{name}");
        }
        for name in [
            "PORT",
            "DEMO_HEALTH",
            "LD",
            "ENVIRONMENT",
            "PATH",
            "NODE_ENV",
            "AWS_REGION",
        ] {
            assert!(!is_blocked(name), "{name}");
        }
    }

    #[test]
    fn only_the_allow_list_is_inherited() {
        assert!(matches(INHERITED, "LC_ALL"));
        assert!(matches(INHERITED, "LC_CTYPE"));
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "GITHUB_TOKEN",
            "SSH_AUTH_SOCK",
            "LD_PRELOAD",
            "PYTHONPATH",
            "TERM",
        ] {
            assert!(!matches(INHERITED, name), "{name}");
        }
    }

    #[test]
    fn given_variables_override_inherited_ones_and_blocked_ones_are_dropped() {
        let given = vec![
            ("GREETING".to_string(), "hello".to_string()),
            ("LD_PRELOAD".to_string(), "/tmp/evil.so".to_string()),
            ("LD_PRELOAD".to_string(), "/tmp/evil2.so".to_string()),
            ("PATH".to_string(), "/opt/bin".to_string()),
        ];
        let (env, dropped) = build(&given);
        assert_eq!(dropped, ["LD_PRELOAD"]);
        let get = |k: &str| {
            env.iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("GREETING"), ["hello"]);
        assert_eq!(get("PATH"), ["/opt/bin"]);
        assert!(get("LD_PRELOAD").is_empty());
    }
}
