//! Starting a program as a pane's own command: in a new session, a new window or a
//! split. The program is exec'd by tmux (never typed into a shell, which would race the
//! shell's rc files), and the ids tmux prints with `-P -F` are kept because names are
//! rewritten by tmux.
//!
//! A pane that needs user options or `remain-on-exit` is started in two steps: first
//! with a placeholder `sleep`, then one batch sets the options and `respawn-pane -k`
//! swaps in the real program. Setting them after starting the program directly would
//! race it: a program that fails at once takes its pane with it before `remain-on-exit`
//! is on, and its exit status is lost. tmux gives no way to name the new pane inside the
//! batch that creates it (the default target is the "best" session, not the new pane).

use std::path::PathBuf;

use super::command::{check_option_name, escape_format};
use super::format::{self, Field};
use super::{Batch, Cmd, PaneId, SessionId, Target, Tmux, WindowId, unexpected};
use crate::error::{Error, Result};

/// Holds a pane open until its real program replaces it, two tmux calls later. Only the
/// shell's own `read` (which waits for a line nobody types), so it needs nothing on PATH:
/// the pane may get the caller's PATH, which need not hold `sleep`.
const PLACEHOLDER: [&str; 3] = ["/bin/sh", "-c", "read -r _"];

/// What to run in a new pane, and how to set the pane up around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    argv: Vec<String>,
    cwd: Option<PathBuf>,
    env: Vec<(String, String)>,
    options: Vec<(String, String)>,
    remain_on_exit: bool,
    layout: Option<String>,
    window_size: Option<(u16, u16)>,
}

impl Launch {
    /// Runs `argv` directly (`execvp`), with no shell in between.
    pub fn new<I, S>(argv: I) -> Launch
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Launch {
            argv: argv.into_iter().map(Into::into).collect(),
            cwd: None,
            env: Vec::new(),
            options: Vec::new(),
            remain_on_exit: false,
            layout: None,
            window_size: None,
        }
    }

    /// The program's working directory; it must exist (tmux would silently use `$HOME`).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Launch {
        self.cwd = Some(dir.into());
        self
    }

    /// One environment variable for the pane only (`-e K=V`).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Launch {
        self.env.push((key.into(), value.into()));
        self
    }

    /// A pane user option (`@cafleet_member`) set before the program starts.
    pub fn option(mut self, name: impl Into<String>, value: impl Into<String>) -> Launch {
        self.options.push((name.into(), value.into()));
        self
    }

    /// Keep the pane after its program exits, so the exit shows as `pane_dead`.
    pub fn remain_on_exit(mut self, on: bool) -> Launch {
        self.remain_on_exit = on;
        self
    }

    /// Re-apply this layout to the pane's window once the pane is in it.
    pub fn layout(mut self, layout: impl Into<String>) -> Launch {
        self.layout = Some(layout.into());
        self
    }

    /// The size of a new session's windows while no terminal is attached (`new-session
    /// -x -y`, and the session's `default-size` for the windows opened later). Only a new
    /// session uses it: an existing session keeps the size it has.
    pub fn window_size(mut self, width: u16, height: u16) -> Launch {
        self.window_size = Some((width, height));
        self
    }

    /// A `PATH` among the variables must reach tmux as its client's own PATH: tmux
    /// gives new panes the client's PATH and ignores `-e PATH=…`.
    fn with_client_path(&self, batch: Batch) -> Batch {
        match self.env.iter().rev().find(|(key, _)| key == "PATH") {
            Some((_, path)) => batch.client_path(path.clone()),
            None => batch,
        }
    }

    #[cfg(test)]
    fn check(&self) -> Result<()> {
        self.check_for(true)
    }

    fn needs_setup(&self) -> bool {
        !self.options.is_empty() || self.remain_on_exit || self.layout.is_some()
    }

    /// `local`: the pane starts on this machine, so its folder can be checked here.
    fn check_for(&self, local: bool) -> Result<()> {
        if self.argv.first().is_none_or(|program| program.is_empty()) {
            return Err(Error::usage("the command for a new pane is empty"));
        }
        if let [program] = self.argv.as_slice()
            && program.contains('=')
        {
            return Err(Error::usage(format!(
                "cannot run `{program}` without a shell: a one-word command with `=`"
            ))
            .hint("give the program's full path or at least one argument"));
        }
        for (key, _) in &self.env {
            if key.is_empty() || key.contains('=') {
                return Err(Error::usage(format!(
                    "`{}` is not a valid environment variable name",
                    key.escape_debug()
                )));
            }
        }
        for (name, _) in &self.options {
            check_option_name(name)?;
        }
        if let Some(dir) = &self.cwd
            && local
            && !dir.is_dir()
        {
            return Err(Error::failure(format!(
                "working directory `{}` does not exist",
                dir.display()
            )));
        }
        Ok(())
    }

    /// `-c DIR -e K=V… -- ARGV` for new-session/new-window/split-window/respawn-pane.
    fn process_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(dir) = &self.cwd {
            args.push("-c".to_string());
            args.push(escape_format(&dir.to_string_lossy()));
        }
        for (key, value) in &self.env {
            args.push("-e".to_string());
            args.push(format!("{key}={value}"));
        }
        args.push("--".to_string());
        // tmux hands a one-word command to `sh -c`; `env` keeps it a plain exec.
        if self.argv.len() == 1 {
            args.push("env".to_string());
            args.push("--".to_string());
        }
        args.extend(self.argv.iter().cloned());
        args
    }
}

/// Which way `split-window` divides the target pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Side by side (`-h`).
    Horizontal,
    /// One above the other (`-v`).
    Vertical,
}

/// The ids of a freshly started pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spawned {
    pub session: SessionId,
    pub window: WindowId,
    pub pane: PaneId,
    /// The program's pid, which leads the pane's process group.
    pub pid: Option<u32>,
}

const SPAWNED: [Field<'static>; 4] = [
    Field::Plain("session_id"),
    Field::Plain("window_id"),
    Field::Plain("pane_id"),
    Field::Plain("pane_pid"),
];

impl Tmux {
    /// `new-session -d` named `name` (tmux turns `.` and `:` into `_`), starting the
    /// server if needed.
    pub fn new_session(
        &self,
        name: &str,
        window_name: Option<&str>,
        launch: &Launch,
    ) -> Result<Spawned> {
        let mut cmd = Cmd::new("new-session")
            .arg("-d")
            .arg("-s")
            .arg(escape_format(&format::clean(name)));
        if let Some(window_name) = window_name {
            cmd = cmd
                .arg("-n")
                .arg(escape_format(&format::clean(window_name)));
        }
        if let Some((width, height)) = launch.window_size {
            cmd = cmd
                .arg("-x")
                .arg(width.to_string())
                .arg("-y")
                .arg(height.to_string());
        }
        // `new-session -e` would also set the variables for the whole session, so the
        // environment goes to the pane alone through `respawn-pane -e`.
        self.spawn(cmd, launch, !launch.env.is_empty())
    }

    /// `new-window -d` at the next free index of `session`.
    pub fn new_window(
        &self,
        session: SessionId,
        window_name: Option<&str>,
        launch: &Launch,
    ) -> Result<Spawned> {
        // `$N:` names the session and leaves the index to tmux.
        let mut cmd = Cmd::new("new-window")
            .arg("-d")
            .arg("-t")
            .arg(format!("{session}:"));
        if let Some(window_name) = window_name {
            cmd = cmd
                .arg("-n")
                .arg(escape_format(&format::clean(window_name)));
        }
        self.spawn(cmd, launch, false)
    }

    /// `split-window -d` of a pane (or of a window's active pane), leaving focus alone.
    pub fn split_window(
        &self,
        target: impl Into<Target>,
        split: Split,
        launch: &Launch,
    ) -> Result<Spawned> {
        let cmd = Cmd::new("split-window")
            .arg("-d")
            .arg(match split {
                Split::Horizontal => "-h",
                Split::Vertical => "-v",
            })
            .target(target);
        self.spawn(cmd, launch, false)
    }

    fn spawn(&self, create: Cmd, launch: &Launch, two_steps: bool) -> Result<Spawned> {
        launch.check_for(!self.is_remote())?;
        let create = create.arg("-P").arg("-F").arg(format::format(&SPAWNED));
        if !two_steps && !launch.needs_setup() {
            let out =
                self.run(launch.with_client_path(create.args(launch.process_args()).into()))?;
            return parse_spawned(&out).map_err(|e| unexpected("-P -F", e));
        }
        let out = self.run(create.arg("--").args(PLACEHOLDER))?;
        let held = parse_spawned(&out).map_err(|e| unexpected("-P -F", e))?;
        match self.set_up(&held, launch) {
            Ok(pid) => Ok(Spawned { pid, ..held }),
            Err(err) => {
                // Leave no placeholder behind; the error that matters is the first one.
                let _ = self.kill_pane(held.pane);
                Err(err)
            }
        }
    }

    /// One tmux process: options, remain-on-exit, the real program, layout, its pid.
    fn set_up(&self, held: &Spawned, launch: &Launch) -> Result<Option<u32>> {
        let mut batch = Batch::new();
        if let Some((width, height)) = launch.window_size {
            // Windows opened later in this session get the same size (until a terminal
            // attaches and tmux sizes them to it).
            batch.push(
                Cmd::new("set-option")
                    .target(held.session)
                    .arg("default-size")
                    .arg(format!("{width}x{height}")),
            );
        }
        for (name, value) in &launch.options {
            batch.push(Cmd::set_pane_option(held.pane, name, value)?);
        }
        if launch.remain_on_exit {
            batch.push(Cmd::remain_on_exit(held.pane, true));
        }
        batch.push(
            Cmd::new("respawn-pane")
                .arg("-k")
                .target(held.pane)
                .args(launch.process_args()),
        );
        if let Some(layout) = &launch.layout {
            batch.push(Cmd::select_layout(held.window, layout));
        }
        batch.push(
            Cmd::new("display-message")
                .arg("-p")
                .target(held.pane)
                .arg(format::format(&[Field::Plain("pane_pid")])),
        );
        let out = self.run(launch.with_client_path(batch))?;
        let records = format::records(&out, 1).map_err(|e| unexpected("display-message", e))?;
        Ok(records
            .first()
            .and_then(|fields| fields[0].parse().ok())
            .filter(|pid| *pid != 0))
    }
}

fn parse_spawned(output: &str) -> Result<Spawned, String> {
    let records = format::records(output, SPAWNED.len())?;
    let [fields] = records.as_slice() else {
        return Err(format!("{} records instead of one", records.len()));
    };
    let bad = |what: &str, value: &str| format!("bad {what} {}", format::excerpt(value));
    Ok(Spawned {
        session: fields[0]
            .parse()
            .map_err(|_| bad("session id", fields[0]))?,
        window: fields[1].parse().map_err(|_| bad("window id", fields[1]))?,
        pane: fields[2].parse().map_err(|_| bad("pane id", fields[2]))?,
        pid: fields[3].parse().ok().filter(|pid| *pid != 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_word_commands_skip_the_shell() {
        let args = Launch::new(["cat"]).process_args();
        assert_eq!(args, ["--", "env", "--", "cat"]);
        let args = Launch::new(["sh", "-c", "x;"])
            .cwd("/tmp/#x")
            .env("A", "b c")
            .process_args();
        assert_eq!(
            args,
            ["-c", "/tmp/##x", "-e", "A=b c", "--", "sh", "-c", "x;"]
        );
    }

    #[test]
    fn rejects_what_tmux_would_misread() {
        assert!(Launch::new(Vec::<String>::new()).check().is_err());
        assert!(Launch::new([""]).check().is_err());
        assert!(Launch::new(["A=1"]).check().is_err());
        assert!(Launch::new(["A=1", "x"]).check().is_ok());
        assert!(Launch::new(["x"]).env("A=B", "c").check().is_err());
        assert!(Launch::new(["x"]).option("cafleet", "c").check().is_err());
        assert!(
            Launch::new(["x"])
                .cwd("/nonexistent/cafleet")
                .check()
                .is_err()
        );
    }

    #[test]
    fn parses_spawn_output() {
        let ok = parse_spawned("$1\x1f@2\x1f%3\x1f99\x1e\n").unwrap();
        assert_eq!(ok.pane, PaneId::new(3));
        assert_eq!(ok.pid, Some(99));
        assert!(parse_spawned("").is_err());
        assert!(parse_spawned("$1\x1f@2\x1f%3\x1f99\x1e\n$1\x1f@2\x1f%4\x1f9\x1e\n").is_err());
        assert!(parse_spawned("%1\x1f@2\x1f%3\x1f99\x1e\n").is_err());
    }
}
