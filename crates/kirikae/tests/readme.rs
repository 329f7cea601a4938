//! The README stays true: its first lines are the two commands a newcomer runs (the second being exactly
//! what CI runs), and every `kirikae` command and flag it shows exists in the binary.

use std::collections::BTreeSet;
use std::process::Command;

const README: &str = include_str!("../../../README.md");
const CI: &str = include_str!("../../../.ci/run");

/// The command part of a shell line: without a trailing `# comment`.
fn command_of(line: &str) -> &str {
    line.split("  #").next().unwrap_or(line).trim()
}

/// Lines of the README's ```sh blocks.
fn sh_lines() -> Vec<&'static str> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in README.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            inside = !inside && t == "```sh";
            continue;
        }
        if inside {
            lines.push(t);
        }
    }
    lines
}

fn help_of(subcommand: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kirikae"))
        .args([subcommand, "--help"])
        .output()
        .expect("run kirikae");
    assert!(
        out.status.success(),
        "`kirikae {subcommand}` does not exist, but the README shows it"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `--flag` tokens of a text (values after `=` dropped).
fn flags_in(text: &str) -> BTreeSet<String> {
    text.split(|c: char| c.is_whitespace() || "`[],|".contains(c))
        .filter(|t| t.starts_with('-') && t.len() > 1 && t != &"--")
        .map(|t| t.split('=').next().unwrap_or(t).to_string())
        .collect()
}

#[test]
fn the_first_lines_are_the_two_newcomer_commands_and_ci_runs_the_second() {
    let first_block: Vec<&str> = README
        .split("```sh\n")
        .nth(1)
        .expect("a ```sh block at the top")
        .split("```")
        .next()
        .unwrap()
        .lines()
        .collect();
    assert_eq!(
        first_block.len(),
        2,
        "exactly two commands: {first_block:?}"
    );
    assert!(
        README.find("```sh").unwrap() < README.find("\n## ").unwrap(),
        "the two commands come before any section"
    );
    let main_job = command_of(first_block[0]);
    assert!(
        main_job.starts_with("cargo run --release -p kirikae -- "),
        "{main_job}"
    );
    let test_command = command_of(first_block[1]);
    let ci_test_command = CI
        .lines()
        .skip_while(|l| !l.starts_with("step \"tests\""))
        .nth(1)
        .expect("the tests step in .ci/run");
    // CI may quieten pip, nothing else.
    assert_eq!(
        ci_test_command.replace(" --quiet --disable-pip-version-check", ""),
        test_command,
        "README's test command and .ci/run's differ"
    );
}

#[test]
fn every_kirikae_command_and_flag_the_readme_shows_exists() {
    let mut checked = 0;
    let mut shown: Vec<String> = sh_lines()
        .into_iter()
        .filter_map(|l| {
            // Leading `NAME=value` assignments are environment for the command.
            let c = command_of(l)
                .split_whitespace()
                .skip_while(|t| t.contains('=') && !t.starts_with('-'))
                .collect::<Vec<_>>()
                .join(" ");
            c.strip_prefix("kirikae ")
                .or_else(|| c.split_once("-p kirikae -- ").map(|(_, rest)| rest))
                .map(str::to_string)
        })
        .collect();
    // Flag tables document `deploy`.
    shown.extend(
        README
            .lines()
            .filter(|l| l.starts_with("| `-"))
            .map(|l| format!("deploy {}", l.split(" | ").next().unwrap())),
    );
    for line in shown {
        let subcommand = line.split_whitespace().next().unwrap().to_string();
        let help = help_of(&subcommand);
        for flag in flags_in(&line) {
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag},")),
                "README shows `kirikae {subcommand} {flag}`, which `kirikae {subcommand} --help` does not list"
            );
            checked += 1;
        }
    }
    assert!(
        checked > 10,
        "only {checked} flags found: is the README parsed right?"
    );
}
