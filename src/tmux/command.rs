//! tmux commands as data, and batches of them run by one tmux process.
//!
//! tmux reads its arguments as a command list: an argument ending in `;` ends a command
//! (so `send-keys -l -- 'ls;'` would send `ls` and start a new, empty command). [`argv`]
//! escapes every trailing `;` as `\;` — tmux turns `\;` at the end of an argument back
//! into `;`, so the rule holds for any text — and joins batched commands with bare `;`
//! arguments. A batch stops at its first failing command, like a shell `&&` chain.

use std::fmt;

use super::format::clean;
use super::ids::{PaneId, Target, WindowId};
use crate::error::{Error, Result};

/// One tmux command with its arguments, not yet escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    args: Vec<String>,
}

impl Cmd {
    /// A command named `name` (`set-option`, `kill-pane`, …) with no arguments yet.
    pub fn new(name: &str) -> Cmd {
        Cmd {
            args: vec![name.to_string()],
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Cmd {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds `-t TARGET`.
    pub fn target(self, target: impl Into<Target>) -> Cmd {
        self.arg("-t").arg(target.into().to_string())
    }

    /// The arguments as given, without escaping.
    pub fn as_args(&self) -> &[String] {
        &self.args
    }

    /// `set-option -p -t %N NAME VALUE`; the value loses bytes that would break `-F`
    /// parsing (see `format`), so it reads back exactly.
    pub fn set_pane_option(pane: PaneId, name: &str, value: &str) -> Result<Cmd> {
        check_option_name(name)?;
        Ok(Cmd::new("set-option")
            .arg("-p")
            .target(pane)
            .arg("--")
            .arg(name)
            .arg(clean(value)))
    }

    /// `set-option -p -u -t %N NAME`: removes a user option from a pane.
    pub fn unset_pane_option(pane: PaneId, name: &str) -> Result<Cmd> {
        check_option_name(name)?;
        Ok(Cmd::new("set-option")
            .arg("-p")
            .arg("-u")
            .target(pane)
            .arg("--")
            .arg(name))
    }

    /// `remain-on-exit` for one pane: when on, a pane whose process exited stays, with
    /// `#{pane_dead}` set and `#{pane_dead_status}` holding the exit status.
    pub fn remain_on_exit(pane: PaneId, on: bool) -> Cmd {
        Cmd::new("set-option")
            .arg("-p")
            .target(pane)
            .arg("remain-on-exit")
            .arg(if on { "on" } else { "off" })
    }

    /// `select-layout -t @N -- LAYOUT`.
    pub fn select_layout(window: WindowId, layout: &str) -> Cmd {
        Cmd::new("select-layout")
            .target(window)
            .arg("--")
            .arg(layout)
    }
}

/// Several commands for one tmux process, plus what that process reads on stdin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    commands: Vec<Cmd>,
    stdin: Option<Vec<u8>>,
    client_path: Option<String>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    pub fn push(&mut self, cmd: Cmd) -> &mut Batch {
        self.commands.push(cmd);
        self
    }

    pub fn with(mut self, cmd: Cmd) -> Batch {
        self.commands.push(cmd);
        self
    }

    /// Bytes written to tmux's stdin, for a command reading `-` (`load-buffer -b B -`).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Batch {
        self.stdin = Some(bytes.into());
        self
    }

    /// The PATH of the tmux client process. tmux gives a new pane the PATH of the client
    /// that asked for it, whatever `-e PATH=…` says (checked on 3.3a).
    pub fn client_path(mut self, path: impl Into<String>) -> Batch {
        self.client_path = Some(path.into());
        self
    }

    pub(crate) fn client_path_value(&self) -> Option<&str> {
        self.client_path.as_deref()
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    pub fn len(&self) -> usize {
        self.commands.len()
    }

    pub(crate) fn stdin_bytes(&self) -> Option<&[u8]> {
        self.stdin.as_deref()
    }

    /// The escaped arguments after `tmux -u -S …`.
    pub fn argv(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, cmd) in self.commands.iter().enumerate() {
            if i > 0 {
                out.push(";".to_string());
            }
            out.extend(cmd.args.iter().map(|arg| escape_arg(arg)));
        }
        out
    }
}

impl From<Cmd> for Batch {
    fn from(cmd: Cmd) -> Batch {
        Batch::new().with(cmd)
    }
}

impl FromIterator<Cmd> for Batch {
    fn from_iter<I: IntoIterator<Item = Cmd>>(iter: I) -> Batch {
        Batch {
            commands: iter.into_iter().collect(),
            stdin: None,
            client_path: None,
        }
    }
}

/// `text` with a trailing `;` written as `\;`, which tmux reads back as `;`.
pub(crate) fn escape_arg(text: &str) -> String {
    match text.strip_suffix(';') {
        Some(head) => format!("{head}\\;"),
        None => text.to_string(),
    }
}

/// tmux expands formats (`#{…}`) in some arguments that are names or paths to cafleet:
/// `-s`, `-n` and `-c` of new-session/new-window/split-window. `##` is a literal `#`.
pub(crate) fn escape_format(text: &str) -> String {
    text.replace('#', "##")
}

/// User option names go inside `#{…}` formats, so they are kept to a plain spelling.
pub(crate) fn check_option_name(name: &str) -> Result<()> {
    let ok = name.len() > 1
        && name.starts_with('@')
        && name[1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "`{}` is not a valid tmux user option name",
            name.escape_debug()
        ))
        .hint("user options are spelled `@` followed by letters, digits, `_` or `-`"))
    }
}

/// A command line as a user could paste it into a shell, for error messages. The value
/// of every `-e NAME=VALUE` shows as `NAME=…`: it may be a secret (the registry's URL
/// with its password, an `env_from` variable), and errors end up in events and logs.
pub(crate) struct Shown<'a>(pub &'a [String]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let masked;
            let arg = match arg.split_once('=') {
                Some((name, _)) if i > 0 && self.0[i - 1] == "-e" => {
                    masked = format!("{name}=…");
                    &masked
                }
                _ => arg,
            };
            let plain = !arg.is_empty()
                && arg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"%@-_=./:,+".contains(&b));
            if plain {
                f.write_str(arg)?;
            } else {
                // Control bytes are shown escaped; the rest is what the shell would get.
                let visible: String = arg
                    .chars()
                    .map(|c| {
                        if c.is_control() {
                            c.escape_debug().to_string()
                        } else {
                            c.to_string()
                        }
                    })
                    .collect();
                write!(f, "'{}'", visible.replace('\'', "'\\''"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_trailing_semicolons_only() {
        assert_eq!(escape_arg("ls;"), "ls\\;");
        assert_eq!(escape_arg(";"), "\\;");
        assert_eq!(escape_arg("a;b"), "a;b");
        // tmux turns a final `\;` into `;`, so `a\;` must travel as `a\\;`.
        assert_eq!(escape_arg("a\\;"), "a\\\\;");
        assert_eq!(escape_arg(""), "");
    }

    #[test]
    fn batch_joins_with_separators() {
        let pane = PaneId::new(3);
        let batch: Batch = [
            Cmd::set_pane_option(pane, "@cafleet_fleet", "shop;").unwrap(),
            Cmd::remain_on_exit(pane, true),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            batch.argv(),
            [
                "set-option",
                "-p",
                "-t",
                "%3",
                "--",
                "@cafleet_fleet",
                "shop\\;",
                ";",
                "set-option",
                "-p",
                "-t",
                "%3",
                "remain-on-exit",
                "on"
            ]
        );
    }

    #[test]
    fn option_names_are_checked_and_values_cleaned() {
        assert!(Cmd::set_pane_option(PaneId::new(1), "cafleet", "x").is_err());
        assert!(Cmd::set_pane_option(PaneId::new(1), "@", "x").is_err());
        assert!(Cmd::set_pane_option(PaneId::new(1), "@a}b", "x").is_err());
        let cmd = Cmd::set_pane_option(PaneId::new(1), "@a-b_1", "x\x1fy\nz").unwrap();
        assert_eq!(cmd.as_args().last().map(String::as_str), Some("xyz"));
    }

    #[test]
    fn shows_a_pasteable_command_line() {
        let args: Vec<String> = [
            "tmux",
            "-S",
            "/tmp/a b",
            "send-keys",
            "-t",
            "%1",
            "it's",
            "$x",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            Shown(&args).to_string(),
            r#"tmux -S '/tmp/a b' send-keys -t %1 'it'\''s' '$x'"#
        );
    }

    #[test]
    fn environment_values_are_never_shown() {
        let args: Vec<String> = [
            "tmux",
            "new-window",
            "-e",
            "CAFLEET_DATABASE_URL=postgres://u:secret@db/x",
            "-e",
            "TOKEN=abc",
            "--",
            "A=b",
        ]
        .map(String::from)
        .to_vec();
        let shown = Shown(&args).to_string();
        assert!(
            !shown.contains("secret") && !shown.contains("abc"),
            "{shown}"
        );
        assert!(shown.contains("CAFLEET_DATABASE_URL=…"), "{shown}");
        assert!(
            shown.ends_with("-- A=b"),
            "only values after -e are masked: {shown}"
        );
    }
}
