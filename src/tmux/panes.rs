//! Looking at what the server holds — panes with their user options, windows, sessions —
//! and removing it. A target that no longer exists is an answer here (`None`, `false`),
//! not an error, because callers ask precisely to find out.

use std::collections::BTreeMap;

use super::command::check_option_name;
use super::format::{self, Field};
use super::{Batch, Cmd, PaneId, SessionId, Target, Tmux, WindowId, unexpected};
use crate::error::{Error, Result};

/// One pane as `list-panes` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pane {
    pub id: PaneId,
    pub window: WindowId,
    pub session: SessionId,
    /// As tmux stores it (`.`/`:` already replaced, control bytes escaped).
    pub session_name: String,
    pub window_index: u32,
    pub window_name: String,
    /// The pane's own process, which leads the pane's process group; kept after death.
    pub pid: Option<u32>,
    /// The process exited and `remain-on-exit` kept the pane.
    pub dead: bool,
    /// Exit status of a dead pane whose process exited normally.
    pub dead_status: Option<i32>,
    /// Signal that ended a dead pane's process.
    pub dead_signal: Option<i32>,
    /// The foreground process of the pane's terminal (`pane_current_command`).
    pub current_command: String,
    pub current_path: String,
    /// The requested user options that are set and not empty, by name (`@cafleet_fleet`).
    pub options: BTreeMap<String, String>,
    /// The host the pane is on, `None` for this machine (a pid on another host is that
    /// host's, never looked up here).
    pub host: Option<String>,
}

impl Pane {
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    /// Whether the pane's program is gone: tmux says the pane is dead, or its pid no
    /// longer runs (tmux notices an exit a moment after it happens). On another host
    /// only tmux's word counts: the pid is not this machine's.
    pub fn exited(&self) -> bool {
        self.dead || (self.host.is_none() && !self.pid.is_some_and(crate::apply::process::is_alive))
    }

    /// The pane's pid, when it is a process on this machine (not on another host).
    pub fn local_pid(&self) -> Option<u32> {
        if self.host.is_some() { None } else { self.pid }
    }
}

/// One window of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub id: WindowId,
    pub index: u32,
    pub name: String,
    pub panes: u32,
}

/// One session of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub name: String,
    pub windows: u32,
}

const PANE_FIELDS: [Field<'static>; 12] = [
    Field::Plain("pane_id"),
    Field::Plain("window_id"),
    Field::Plain("session_id"),
    Field::Plain("window_index"),
    Field::Plain("pane_pid"),
    Field::Plain("pane_dead"),
    Field::Plain("pane_dead_status"),
    Field::Plain("pane_dead_signal"),
    Field::Text("session_name"),
    Field::Text("window_name"),
    Field::Text("pane_current_command"),
    Field::Text("pane_current_path"),
];

fn pane_format(options: &[&str]) -> Result<String> {
    let mut fields = PANE_FIELDS.to_vec();
    for name in options {
        check_option_name(name)?;
        fields.push(Field::Text(name));
    }
    Ok(format::format(&fields))
}

/// Turns `list-panes` output into panes; pure, so it is tested without tmux.
pub(crate) fn parse_panes(output: &str, options: &[&str]) -> Result<Vec<Pane>, String> {
    let records = format::records(output, PANE_FIELDS.len() + options.len())?;
    let mut panes = Vec::with_capacity(records.len());
    for values in records {
        let bad = |what: &str, value: &str| format!("bad {what} {}", format::excerpt(value));
        let id = values[0].parse().map_err(|_| bad("pane id", values[0]))?;
        let window = values[1].parse().map_err(|_| bad("window id", values[1]))?;
        let session = values[2]
            .parse()
            .map_err(|_| bad("session id", values[2]))?;
        let window_index = values[3]
            .parse()
            .map_err(|_| bad("window index", values[3]))?;
        let optional = |text: &str| text.parse().ok().filter(|n| *n != 0);
        let pane_options = options
            .iter()
            .zip(&values[PANE_FIELDS.len()..])
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        panes.push(Pane {
            id,
            window,
            session,
            window_index,
            pid: optional(values[4]),
            dead: values[5] == "1",
            dead_status: values[6].parse().ok(),
            dead_signal: optional(values[7]).map(|n: u32| n as i32),
            session_name: values[8].to_string(),
            window_name: values[9].to_string(),
            current_command: values[10].to_string(),
            current_path: values[11].to_string(),
            options: pane_options,
            host: None,
        });
    }
    Ok(panes)
}

impl Tmux {
    /// Marks panes listed on another host with that host.
    fn mark(&self, mut panes: Vec<Pane>) -> Vec<Pane> {
        if let Some(host) = self.host() {
            for pane in &mut panes {
                pane.host = Some(host.to_string());
            }
        }
        panes
    }

    /// Every pane of the server (`list-panes -a`) with the values of `options`; no
    /// server means no panes.
    pub fn list_panes(&self, options: &[&str]) -> Result<Vec<Pane>> {
        let cmd = Cmd::new("list-panes")
            .arg("-a")
            .arg("-F")
            .arg(pane_format(options)?);
        match self.invoke(&cmd.into())? {
            Ok(out) => {
                Ok(self.mark(parse_panes(&out, options).map_err(|e| unexpected("list-panes", e))?))
            }
            Err(failed) if failed.no_server() => Ok(Vec::new()),
            Err(failed) => Err(failed.into_error()),
        }
    }

    /// One pane, or `None` when it does not exist. (`display -p -t %N` cannot answer
    /// this: for a missing pane it prints nothing and exits 0.)
    pub fn pane(&self, pane: PaneId, options: &[&str]) -> Result<Option<Pane>> {
        // `list-panes -t %N` lists the pane's whole window and fails for a missing pane.
        let cmd = Cmd::new("list-panes")
            .target(pane)
            .arg("-F")
            .arg(pane_format(options)?);
        match self.invoke(&cmd.into())? {
            Ok(out) => Ok(self
                .mark(parse_panes(&out, options).map_err(|e| unexpected("list-panes", e))?)
                .into_iter()
                .find(|p| p.id == pane)),
            Err(failed) if failed.no_server() || failed.no_target() => Ok(None),
            Err(failed) => Err(failed.into_error()),
        }
    }

    /// The pane exists, its process has not exited, and that process is still there.
    pub fn pane_alive(&self, pane: PaneId) -> Result<bool> {
        Ok(self.pane(pane, &[])?.is_some_and(|p| !p.exited()))
    }

    /// A pane's user option; unset and empty read the same.
    pub fn pane_option(&self, pane: PaneId, name: &str) -> Result<Option<String>> {
        let found = self
            .pane(pane, &[name])?
            .ok_or_else(|| Error::not_found(format!("tmux pane {pane} does not exist")))?;
        Ok(found.options.get(name).cloned())
    }

    /// Sets several user options of a pane in one tmux process.
    pub fn set_pane_options(&self, pane: PaneId, options: &[(&str, &str)]) -> Result<()> {
        let batch = options
            .iter()
            .map(|(name, value)| Cmd::set_pane_option(pane, name, value))
            .collect::<Result<Batch>>()?;
        if !batch.is_empty() {
            self.run(batch)?;
        }
        Ok(())
    }

    pub fn set_remain_on_exit(&self, pane: PaneId, on: bool) -> Result<()> {
        self.run(Cmd::remain_on_exit(pane, on)).map(drop)
    }

    pub fn select_layout(&self, window: WindowId, layout: &str) -> Result<()> {
        self.run(Cmd::select_layout(window, layout)).map(drop)
    }

    /// Every session of the server; no server means none.
    pub fn list_sessions(&self) -> Result<Vec<Session>> {
        let fields = [
            Field::Plain("session_id"),
            Field::Plain("session_windows"),
            Field::Text("session_name"),
        ];
        let cmd = Cmd::new("list-sessions")
            .arg("-F")
            .arg(format::format(&fields));
        let out = match self.invoke(&cmd.into())? {
            Ok(out) => out,
            Err(failed) if failed.no_server() => return Ok(Vec::new()),
            Err(failed) => return Err(failed.into_error()),
        };
        let parse = || -> Result<Vec<Session>, String> {
            format::records(&out, fields.len())?
                .into_iter()
                .map(|v| {
                    Ok(Session {
                        id: v[0]
                            .parse()
                            .map_err(|_| format!("bad session id `{}`", v[0]))?,
                        windows: v[1].parse().map_err(|_| format!("bad count `{}`", v[1]))?,
                        name: v[2].to_string(),
                    })
                })
                .collect()
        };
        parse().map_err(|e| unexpected("list-sessions", e))
    }

    /// The session whose name is exactly `name` (tmux's own `-t NAME` would also match
    /// prefixes and patterns).
    pub fn find_session(&self, name: &str) -> Result<Option<SessionId>> {
        Ok(self
            .list_sessions()?
            .into_iter()
            .find(|s| s.name == name)
            .map(|s| s.id))
    }

    pub fn has_session(&self, session: SessionId) -> Result<bool> {
        let cmd = Cmd::new("has-session").target(session);
        match self.invoke(&cmd.into())? {
            Ok(_) => Ok(true),
            Err(failed) if failed.no_server() || failed.no_target() => Ok(false),
            Err(failed) => Err(failed.into_error()),
        }
    }

    /// The windows of a session in index order, with their pane counts, so a caller
    /// can place a new pane by `panes_per_window`.
    pub fn list_windows(&self, session: SessionId) -> Result<Vec<Window>> {
        let fields = [
            Field::Plain("window_id"),
            Field::Plain("window_index"),
            Field::Plain("window_panes"),
            Field::Text("window_name"),
        ];
        let cmd = Cmd::new("list-windows")
            .target(session)
            .arg("-F")
            .arg(format::format(&fields));
        let out = self.run(cmd)?;
        let parse = || -> Result<Vec<Window>, String> {
            format::records(&out, fields.len())?
                .into_iter()
                .map(|v| {
                    Ok(Window {
                        id: v[0]
                            .parse()
                            .map_err(|_| format!("bad window id `{}`", v[0]))?,
                        index: v[1].parse().map_err(|_| format!("bad index `{}`", v[1]))?,
                        panes: v[2].parse().map_err(|_| format!("bad count `{}`", v[2]))?,
                        name: v[3].to_string(),
                    })
                })
                .collect()
        };
        let mut windows = parse().map_err(|e| unexpected("list-windows", e))?;
        windows.sort_by_key(|w| w.index);
        Ok(windows)
    }

    /// Kills a pane; `false` when it was already gone.
    pub fn kill_pane(&self, pane: PaneId) -> Result<bool> {
        self.kill("kill-pane", pane.into())
    }

    /// Kills a window and its panes; `false` when it was already gone.
    pub fn kill_window(&self, window: WindowId) -> Result<bool> {
        self.kill("kill-window", window.into())
    }

    /// Kills a session; `false` when it was already gone.
    pub fn kill_session(&self, session: SessionId) -> Result<bool> {
        self.kill("kill-session", session.into())
    }

    fn kill(&self, command: &str, target: Target) -> Result<bool> {
        match self.invoke(&Cmd::new(command).target(target).into())? {
            Ok(_) => Ok(true),
            Err(failed) if failed.no_server() || failed.no_target() => Ok(false),
            Err(failed) => Err(failed.into_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fields: &[&str]) -> String {
        format!("{}\x1e\n", fields.join("\x1f"))
    }

    #[test]
    fn parses_live_and_dead_panes_with_options() {
        let out = line(&[
            "%3",
            "@1",
            "$0",
            "0",
            "4242",
            "0",
            "",
            "",
            "cafleet-shop",
            "main",
            "claude",
            "/w",
            "shop",
            "",
        ]) + &line(&[
            "%4",
            "@1",
            "$0",
            "0",
            "4250",
            "1",
            "7",
            "",
            "a_b_c é 😀",
            "w",
            "sh",
            "/",
            "",
            "",
        ]);
        let panes = parse_panes(&out, &["@cafleet_fleet", "@cafleet_member"]).unwrap();
        assert_eq!(panes.len(), 2);
        let first = &panes[0];
        assert_eq!(first.id, PaneId::new(3));
        assert_eq!(first.session, SessionId::new(0));
        assert_eq!(first.pid, Some(4242));
        assert!(!first.dead);
        assert_eq!(first.dead_status, None);
        assert_eq!(first.option("@cafleet_fleet"), Some("shop"));
        assert_eq!(first.option("@cafleet_member"), None);
        let second = &panes[1];
        assert!(second.dead);
        assert_eq!(second.dead_status, Some(7));
        assert_eq!(second.session_name, "a_b_c é 😀");
        assert!(second.options.is_empty());
    }

    #[test]
    fn rejects_bad_ids_and_field_counts() {
        let good = ["%3", "@1", "$0", "0", "1", "0", "", "", "s", "w", "c", "/"];
        assert!(parse_panes(&line(&good), &[]).is_ok());
        for i in 0..4 {
            let mut bad = good;
            bad[i] = "x";
            assert!(parse_panes(&line(&bad), &[]).is_err(), "field {i}");
        }
        assert!(parse_panes(&line(&good), &["@a"]).is_err());
        assert!(parse_panes(&line(&good[..11]), &[]).is_err());
    }

    #[test]
    fn odd_numbers_do_not_fail_a_listing() {
        let out = line(&["%3", "@1", "$0", "0", "", "1", "", "9", "s", "w", "c", "/"]);
        let pane = &parse_panes(&out, &[]).unwrap()[0];
        assert_eq!(pane.pid, None);
        assert_eq!(pane.dead_status, None);
        assert_eq!(pane.dead_signal, Some(9));
    }
}
