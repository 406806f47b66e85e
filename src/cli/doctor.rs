//! `cafleet doctor`: print the checks of `crate::doctor`, one line each, and fail when a
//! required one did.

use std::process::ExitCode;

use clap::Args;

use super::{Globals, print, print_json};
use crate::doctor::{self, Probe, Status};
use crate::error::{Error, Result};

/// Check tmux, the coding agents on PATH, the registry, the installed skills and the
/// running monitors; say how to fix each problem
///
/// With a fleet file (or --host), also each other host its members run on, over ssh:
/// that it answers, its tmux (3.3+), its cafleet (this version), the members' programs
/// and the registry as seen from there. Exits 1 when something required (tmux, a usable
/// registry location, a host) is missing; missing agents or skills only warn.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// A fleet file: check the hosts its members run on (`host = "NAME"`)
    #[arg(value_name = "FILE")]
    pub file: Option<camino::Utf8PathBuf>,

    /// Check this ssh host too, as `~/.ssh/config` knows it (repeatable)
    #[arg(long = "host", value_name = "NAME")]
    pub hosts: Vec<String>,

    /// Print the checks as JSON (`ok`, then `checks`: name, status, message, path,
    /// version, fix)
    #[arg(long)]
    pub json: bool,
}

pub fn run(globals: &Globals, args: DoctorArgs) -> Result<ExitCode> {
    let env = |key: &str| std::env::var(key).ok();
    let probe = Probe {
        path_var: std::env::var_os("PATH"),
        env: &env,
        db_path: globals.db_path(),
        timeout: doctor::VERSION_TIMEOUT,
    };
    let mut report = doctor::run(&probe);
    let targets = host_targets(globals, &args)?;
    if !targets.is_empty() {
        let db = globals
            .db_path()
            .ok()
            .map(|p| crate::apply::absolute_db(&p).to_string());
        let checks = doctor::hosts::check_hosts(&targets, db.as_deref(), doctor::VERSION_TIMEOUT);
        report.ok &= checks.iter().all(|c| c.status != Status::Fail);
        report.checks.extend(checks);
    }
    if args.json {
        print_json(&report)?;
    } else {
        let width = report
            .checks
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for check in &report.checks {
            out.push_str(&format!(
                "{:<4}  {:<width$}  {}\n",
                check.status.label(),
                check.name,
                check.message
            ));
            if let (Some(fix), true) = (&check.fix, check.status != Status::Ok) {
                out.push_str(&format!("      {:<width$}  fix: {fix}\n", ""));
            }
        }
        out.push_str(&format!(
            "{} ok, {} warnings, {} failed\n",
            report.count(Status::Ok),
            report.count(Status::Warn),
            report.count(Status::Fail)
        ));
        print(&out)?;
    }
    if report.ok {
        return Ok(ExitCode::SUCCESS);
    }
    let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
    let mut err = Error::failure(format!(
        "{} required check{} failed: {}",
        failed.len(),
        if failed.len() == 1 { "" } else { "s" },
        failed.join(", ")
    ));
    for check in report.failures() {
        if let Some(fix) = &check.fix {
            err = err.hint(format!("{}: {fix}", check.name));
        }
    }
    Err(err)
}

/// The hosts to check: those of the file's members (with the programs they run there),
/// then each `--host`.
fn host_targets(globals: &Globals, args: &DoctorArgs) -> Result<Vec<doctor::hosts::HostTarget>> {
    let mut targets: Vec<doctor::hosts::HostTarget> = Vec::new();
    if let Some(file) = &args.file {
        let fleet = super::config::load(globals, file)?;
        for agent in &fleet.agents {
            let Some(host) = &agent.spec.host else {
                continue;
            };
            let program = match agent.spec.backend {
                crate::manifest::BackendName::Fake => None,
                _ => agent.spec.argv.first().cloned(),
            };
            match targets.iter_mut().find(|t| &t.host == host) {
                Some(target) => {
                    if let Some(p) = program
                        && !target.programs.contains(&p)
                    {
                        target.programs.push(p);
                    }
                }
                None => targets.push(doctor::hosts::HostTarget {
                    host: host.clone(),
                    ssh_command: agent.spec.ssh_command.clone(),
                    programs: program.into_iter().collect(),
                }),
            }
        }
    }
    for host in &args.hosts {
        crate::tmux::remote::check_host(host)?;
        if !targets.iter().any(|t| &t.host == host) {
            targets.push(doctor::hosts::HostTarget {
                host: host.clone(),
                ssh_command: None,
                programs: Vec::new(),
            });
        }
    }
    Ok(targets)
}
