//! `cafleet doctor` for the other hosts members run on (`host = "NAME"`): for each one,
//! through the same ssh command and shared connection `up` uses, whether it answers,
//! its tmux (3.3 or newer), its `cafleet` (the same version as this one, since the
//! agent there runs it), the programs of the members placed there, and whether the
//! registry can be reached from there (that host's own `cafleet doctor` says so).

use std::time::Duration;

use super::{Check, Status};
use crate::tmux::Remote;

/// One host to check, and what the fleet will run there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTarget {
    pub host: String,
    /// `[fleet] ssh_command`, if the file sets one (`CAFLEET_SSH_COMMAND` wins).
    pub ssh_command: Option<String>,
    /// The programs of the members placed there (`claude`, a `command`'s program…).
    pub programs: Vec<String>,
}

/// The checks of every host, side by side (one slow host costs one timeout).
pub fn check_hosts(targets: &[HostTarget], db: Option<&str>, timeout: Duration) -> Vec<Check> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|target| scope.spawn(move || check_host(target, db, timeout)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Check::new("host", Status::Fail, "the check crashed")])
            })
            .collect()
    })
}

fn words(argv: &[&str]) -> Vec<String> {
    argv.iter().map(|w| w.to_string()).collect()
}

/// Whether `tmux 3.3a` (or `tmux next-3.4`) is 3.3 or newer.
pub fn tmux_new_enough(line: &str) -> bool {
    let version = line.trim().trim_start_matches("tmux").trim();
    let version = version.trim_start_matches("next-");
    let mut parts = version.split('.');
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts
        .next()
        .map(|p| p.trim_end_matches(|c: char| c.is_ascii_alphabetic()))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    (major, minor) >= (3, 3)
}

fn check_host(target: &HostTarget, db: Option<&str>, timeout: Duration) -> Vec<Check> {
    let name = format!("host.{}", target.host);
    let remote = match Remote::new(&target.host, target.ssh_command.as_deref()) {
        Ok(remote) => remote,
        Err(err) => {
            let mut check = Check::new(&name, Status::Fail, err.message);
            if let Some(hint) = err.hints.first() {
                check = check.fix(hint.clone());
            }
            return vec![check];
        }
    };
    let run = |argv: &[&str]| remote.output(&words(argv), timeout);
    let first_line = |out: &std::process::Output| {
        let text = if out.stdout.is_empty() {
            &out.stderr
        } else {
            &out.stdout
        };
        String::from_utf8_lossy(text)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .to_string()
    };
    let mut checks = Vec::new();
    match run(&["true"]) {
        Ok(out) if out.status.success() => {
            checks.push(Check::new(&name, Status::Ok, "answers over ssh"));
        }
        Ok(out) => {
            return vec![Check::new(
                &name,
                Status::Fail,
                format!("ssh works but `true` failed there: {}", first_line(&out)),
            )];
        }
        Err(err) => {
            return vec![Check::new(&name, Status::Fail, err.message).fix(format!(
                "make `ssh {}` work without a password (a key, an entry in ~/.ssh/config)",
                target.host
            ))];
        }
    }
    match run(&["tmux", "-V"]) {
        Ok(out) if out.status.success() && tmux_new_enough(&first_line(&out)) => checks.push(
            Check::new(format!("{name}.tmux"), Status::Ok, first_line(&out))
                .version(first_line(&out).trim_start_matches("tmux ").to_string()),
        ),
        Ok(out) if out.status.success() => checks.push(
            Check::new(
                format!("{name}.tmux"),
                Status::Fail,
                format!("{} there; cafleet needs 3.3 or newer", first_line(&out)),
            )
            .fix(format!("upgrade tmux on {}", target.host)),
        ),
        Ok(_) | Err(_) => checks.push(
            Check::new(
                format!("{name}.tmux"),
                Status::Fail,
                "tmux is not on that host's PATH",
            )
            .fix(format!(
                "install tmux 3.3 or newer on {} ({})",
                target.host,
                super::tmux_install_hint()
            )),
        ),
    }
    let ours = format!("cafleet {}", env!("CARGO_PKG_VERSION"));
    let cafleet_ok = match run(&["cafleet", "--version"]) {
        Ok(out) if out.status.success() && first_line(&out) == ours => {
            checks.push(
                Check::new(format!("{name}.cafleet"), Status::Ok, first_line(&out))
                    .version(env!("CARGO_PKG_VERSION")),
            );
            true
        }
        Ok(out) if out.status.success() => {
            checks.push(
                Check::new(
                    format!("{name}.cafleet"),
                    Status::Fail,
                    format!("{} there, {ours} here", first_line(&out)),
                )
                .fix(format!("install the same cafleet on {}", target.host)),
            );
            false
        }
        Ok(_) | Err(_) => {
            checks.push(
                Check::new(
                    format!("{name}.cafleet"),
                    Status::Fail,
                    "cafleet is not on that host's PATH (the agents there run it)",
                )
                .fix(format!(
                    "install cafleet {} on {} (cargo install --path .)",
                    env!("CARGO_PKG_VERSION"),
                    target.host
                )),
            );
            false
        }
    };
    for program in &target.programs {
        // `command -v` through `sh`, with the program as an argument, never as code.
        match run(&["sh", "-c", "command -v \"$1\"", "sh", program]) {
            Ok(out) if out.status.success() => checks.push(
                Check::new(
                    format!("{name}.program.{program}"),
                    Status::Ok,
                    first_line(&out),
                )
                .path(first_line(&out)),
            ),
            _ => checks.push(
                Check::new(
                    format!("{name}.program.{program}"),
                    Status::Fail,
                    format!("`{program}` is not on that host's PATH; its members there would die at once"),
                )
                .fix(format!("install `{program}` on {}", target.host)),
            ),
        }
    }
    if cafleet_ok && let Some(db) = db {
        checks.push(check_registry(&name, &remote, db, timeout));
    }
    checks
}

/// The registry as the agents on the host will see it: that host's `cafleet doctor`,
/// given the same registry URL.
fn check_registry(name: &str, remote: &Remote, db: &str, timeout: Duration) -> Check {
    let check_name = format!("{name}.database");
    let argv = words(&[
        "env",
        &format!("CAFLEET_DATABASE_URL={db}"),
        "cafleet",
        "doctor",
        "--json",
    ]);
    let report = remote
        .output(&argv, timeout + super::VERSION_TIMEOUT)
        .ok()
        .and_then(|out| serde_json::from_slice::<serde_json::Value>(&out.stdout).ok());
    let database = report.as_ref().and_then(|r| {
        r["checks"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == "database")
            .cloned()
    });
    match database {
        Some(c) if c["status"] == "ok" => Check::new(
            check_name,
            Status::Ok,
            format!("reaches the registry: {}", c["message"].as_str().unwrap_or("")),
        ),
        // Not created yet, but it can be from there.
        Some(c) if c["status"] == "warn" => Check::new(
            check_name,
            Status::Warn,
            format!("the registry as that host sees it: {}", c["message"].as_str().unwrap_or("")),
        ),
        Some(c) => Check::new(
            check_name,
            Status::Fail,
            format!("the registry as that host sees it: {}", c["message"].as_str().unwrap_or("")),
        )
        .fix("share one registry between the hosts: a PostgreSQL URL in CAFLEET_DATABASE_URL (see docs/scale-out.md)"),
        None => Check::new(
            check_name,
            Status::Fail,
            "`cafleet doctor` there gave no answer about the registry",
        )
        .fix("run `cafleet doctor` on that host to see why"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmux_versions() {
        for (line, ok) in [
            ("tmux 3.3a", true),
            ("tmux 3.4", true),
            ("tmux 3.2a", false),
            ("tmux next-3.6", true),
            ("tmux 2.9", false),
            ("tmux 10.0", true),
            ("", false),
        ] {
            assert_eq!(tmux_new_enough(line), ok, "{line}");
        }
    }

    #[test]
    fn a_bad_host_name_fails_without_running_ssh() {
        let checks = check_hosts(
            &[HostTarget {
                host: "-oProxyCommand=touch /tmp/x".into(),
                ssh_command: None,
                programs: vec![],
            }],
            None,
            Duration::from_secs(1),
        );
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].status, Status::Fail);
    }
}
