//! `cafleet run --rehearse SCRIPT`: the same team against the scripted model. A child
//! `cafleet model serve` is started on a free loopback port (in its own process group,
//! ended when the run ends), and every claude, codex and opencode agent of the loaded
//! fleet is pointed at it through its environment and command line only
//! ([`crate::model::point_at`]) — no file of the user's is edited. Each agent asks for its
//! own `model` (the script can answer per model; for opencode the part after
//! `provider/`), or [`crate::model::DEFAULT_MODEL`].
//!
//! A rehearsal needs no credentials: `[fleet] env_from` is dropped (not checked, nothing
//! passed through), so the same fleet file serves the rehearsal and the real run.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use camino::Utf8Path;

use crate::error::{Error, Result};
use crate::manifest::{BackendName, Fleet, LaunchSpec};

/// The running scripted model; dropping it stops it.
pub struct Rehearsal {
    pub base: String,
    child: Child,
}

impl Drop for Rehearsal {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let _ = self.child.wait();
    }
}

/// Starts the scripted model with `script` and points `fleet`'s agents at it.
pub fn prepare(script: &Utf8Path, log: Option<&Utf8Path>, fleet: &mut Fleet) -> Result<Rehearsal> {
    use std::os::unix::process::CommandExt;
    // Checked here for a clear error with the script's line, before anything starts.
    crate::model::Script::load(script, false)?;
    let exe = std::env::current_exe()
        .map_err(|err| Error::failure(format!("cannot find the cafleet executable: {err}")))?;
    let mut command = Command::new(exe);
    command.args(["model", "serve", "--script", script.as_str()]);
    if let Some(log) = log {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(|err| {
                Error::failure(format!("cannot create `{dir}`: {err}"))
                    .hint("pass a writable folder to --report")
            })?;
        }
        command.args(["--log", log.as_str()]);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // Its own group: a Ctrl-C for `run` must not end the model before the report.
        .process_group(0)
        .spawn()
        .map_err(|err| Error::failure(format!("cannot start the scripted model: {err}")))?;
    let mut first = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut first);
    }
    let Some(base) = first.trim().strip_prefix("listening on ").map(String::from) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(
            Error::failure("the scripted model did not start").hint(format!(
                "try it alone: `cafleet model serve --script {script}`"
            )),
        );
    };
    fleet.env_from.clear();
    for agent in &mut fleet.agents {
        agent.spec.env_from.clear();
        point(&mut agent.spec, &base);
        agent.hash = agent.spec.hash();
    }
    Ok(Rehearsal { base, child })
}

/// Points one agent's launch spec at the server at `base` (a no-op for `fake` and
/// `command`): the variables into its env, the extra arguments right after the program,
/// and the model name for `--model`.
pub fn point(spec: &mut LaunchSpec, base: &str) {
    // opencode names models `provider/model`: the scripted model sees the part after the
    // provider, as the other CLIs' model names are seen whole.
    let model = spec
        .model
        .as_deref()
        .map(|m| m.rsplit('/').next().unwrap_or(m).to_string())
        .unwrap_or_else(|| crate::model::DEFAULT_MODEL.to_string());
    let Some(pointing) = crate::model::point_at(spec.backend, base, &model) else {
        return;
    };
    spec.env.extend(pointing.env);
    if spec.argv.is_empty() {
        return;
    }
    match spec.argv.iter().position(|a| a == "--model") {
        Some(i) if i + 1 < spec.argv.len() => spec.argv[i + 1] = pointing.model.clone(),
        _ => {
            spec.argv
                .splice(1..1, ["--model".to_string(), pointing.model.clone()]);
        }
    }
    spec.argv.splice(1..1, pointing.args);
    spec.model = Some(pointing.model);
    debug_assert!(spec.backend != BackendName::Fake);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn spec(backend: BackendName, argv: &[&str], model: Option<&str>) -> LaunchSpec {
        LaunchSpec {
            backend,
            model: model.map(String::from),
            effort: None,
            argv: argv.iter().map(|s| s.to_string()).collect(),
            cwd: "/tmp".into(),
            env: BTreeMap::new(),
            prompt: String::new(),
            env_from: Vec::new(),
            host: None,
            ssh_command: None,
        }
    }

    #[test]
    fn each_backend_is_pointed_through_env_and_argv() {
        let mut codex = spec(
            BackendName::Codex,
            &["codex", "--model", "gpt", "--", "hi"],
            Some("gpt"),
        );
        point(&mut codex, "http://127.0.0.1:9");
        assert_eq!(codex.argv[1], "-c");
        assert!(codex.argv[2].contains("base_url=\"http://127.0.0.1:9/v1\""));
        assert_eq!(&codex.argv[codex.argv.len() - 2..], ["--", "hi"]);
        assert!(codex.env.contains_key(crate::model::point::CODEX_KEY_ENV));

        let mut opencode = spec(BackendName::Opencode, &["opencode"], None);
        point(&mut opencode, "http://127.0.0.1:9");
        assert_eq!(opencode.argv, ["opencode", "--model", "cafleet/scripted"]);
        let mut opencode = spec(
            BackendName::Opencode,
            &["opencode", "--model", "openai/oc"],
            Some("openai/oc"),
        );
        point(&mut opencode, "http://127.0.0.1:9");
        assert_eq!(opencode.argv, ["opencode", "--model", "cafleet/oc"]);
        assert!(opencode.env.contains_key("OPENCODE_CONFIG_CONTENT"));

        let mut claude = spec(BackendName::Claude, &["claude", "--name", "a"], None);
        point(&mut claude, "http://127.0.0.1:9");
        assert_eq!(claude.env["ANTHROPIC_BASE_URL"], "http://127.0.0.1:9");

        let mut fake = spec(BackendName::Fake, &["cafleet", "agent", "fake"], None);
        let before = fake.clone();
        point(&mut fake, "http://127.0.0.1:9");
        assert_eq!(fake, before);
    }
}
