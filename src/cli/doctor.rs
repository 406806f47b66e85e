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
/// Exits 1 when something required (tmux, a usable registry location) is missing;
/// missing agents or skills only warn.
#[derive(Debug, Args)]
pub struct DoctorArgs {
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
    let report = doctor::run(&probe);
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
