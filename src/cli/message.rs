//! `cafleet message send|broadcast|inbox|ack|show|list`: what agents call from their
//! shell tool many times a minute. Every verb resolves who is speaking (see `identity`),
//! calls the registry or the broker and prints one short line a result, or JSON.
//!
//! `send` and `broadcast` commit the rows, hand the keystrokes to the fleet's courier
//! and return; `--sync` notifies in-process and reports what happened to each pane.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Subcommand;

use super::identity::IdentityArgs;
use super::{Globals, print, print_json};
use crate::broker::{self, Sent};
use crate::error::{Error, Result};
use crate::registry::messages::{ListFilter, MessageRow, STATES};

/// Bodies larger than this are refused: a message is a note, not a file transfer.
const MAX_BODY: usize = 1 << 20;

#[derive(Debug, Subcommand)]
pub enum MessageCommand {
    /// Store a message for a member and notify its pane
    Send(SendArgs),
    /// Send a message to every other live member of the fleet
    Broadcast(BroadcastArgs),
    /// Print my unread messages and mark them read (--unacked: also the read, unacked ones)
    Inbox(InboxArgs),
    /// Acknowledge messages in my inbox
    Ack(AckArgs),
    /// Print one message I sent or received
    Show(ShowArgs),
    /// List the messages I sent and received (history and threads)
    List(ListArgs),
}

/// Where a message body comes from: TEXT, `--file F`, or `-` for stdin. The body is
/// stored byte-for-byte.
#[derive(Debug, clap::Args)]
pub struct BodyArgs {
    /// The message; `-` reads it from stdin (put `--` before text that starts with `-`)
    #[arg(value_name = "TEXT", value_parser = clap::value_parser!(OsString))]
    pub text: Option<OsString>,

    /// Read the message from a file (`-`: stdin)
    #[arg(long, value_name = "FILE", conflicts_with = "text")]
    pub file: Option<PathBuf>,
}

/// At most one byte more than [`MAX_BODY`] from stdin (so "too large" is still seen).
fn read_stdin() -> Result<Vec<u8>> {
    let mut body = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|err| Error::failure(format!("cannot read stdin: {err}")))?;
    Ok(body)
}

impl BodyArgs {
    fn read(&self) -> Result<Vec<u8>> {
        let body = match (&self.text, &self.file) {
            (_, Some(path)) if path.as_os_str() == "-" => read_stdin()?,
            (_, Some(path)) => std::fs::read(path).map_err(|err| {
                Error::failure(format!("cannot read `{}`: {err}", path.display()))
                    .hint("pass an existing file, or `-` to read the message from stdin")
            })?,
            (Some(text), None) if text == "-" => read_stdin()?,
            (Some(text), None) => text.as_bytes().to_vec(),
            (None, None) => {
                return Err(Error::usage("no message given")
                    .hint("pass the text, `--file FILE`, or `-` to read stdin"));
            }
        };
        if body.is_empty() {
            return Err(Error::usage("the message is empty"));
        }
        if body.len() > MAX_BODY {
            return Err(Error::usage(format!(
                "the message is larger than {} KiB",
                MAX_BODY / 1024
            ))
            .hint("send a path to a file instead of its contents"));
        }
        Ok(body)
    }
}

/// Store a message for a member and notify its pane.
///
/// The message is committed first (state `queued`); the fleet's courier then types a
/// one-line preview into the recipient's pane (state `notified` once the agent takes
/// it). Prints
/// `message #ID to NAME: STATE`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The recipient
    #[arg(long, value_name = "MEMBER")]
    pub to: String,

    #[command(flatten)]
    pub body: BodyArgs,

    /// Wait for the pane notification and report its outcome
    #[arg(long)]
    pub sync: bool,

    /// Print JSON (stable field names) instead of text
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub who: IdentityArgs,
}

/// Send a message to every other live member of the fleet (one row each, sharing a
/// broadcast id); their panes are notified in parallel.
#[derive(Debug, clap::Args)]
pub struct BroadcastArgs {
    #[command(flatten)]
    pub body: BodyArgs,

    /// Wait for the pane notifications and report each outcome
    #[arg(long)]
    pub sync: bool,

    /// Print JSON (stable field names) instead of text
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub who: IdentityArgs,
}

/// Print my unread messages, oldest first, and mark them read.
#[derive(Debug, clap::Args)]
pub struct InboxArgs {
    /// Every message addressed to me, not only the unread ones
    #[arg(long, conflicts_with = "unacked")]
    pub all: bool,

    /// Every message addressed to me not acknowledged yet, read ones included
    #[arg(long)]
    pub unacked: bool,

    /// Block until an unread message arrives
    #[arg(long)]
    pub wait: bool,

    /// Give up waiting after this long (`30s`, `5m`) with exit code 4
    #[arg(long, value_name = "DURATION", requires = "wait")]
    pub timeout: Option<String>,

    /// Print JSON (stable field names) instead of text
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub who: IdentityArgs,
}

/// Acknowledge messages in my inbox (all of them or none).
#[derive(Debug, clap::Args)]
pub struct AckArgs {
    /// Message ids (`12` or `#12`)
    #[arg(value_name = "ID", required = true, value_parser = parse_id)]
    pub ids: Vec<i64>,

    /// Print JSON (stable field names) instead of text
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub who: IdentityArgs,
}

/// Print one message I sent or received; the body is printed byte-for-byte.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The message id (`12` or `#12`)
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: i64,

    /// Print JSON (stable field names) instead of text
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub who: IdentityArgs,
}

/// List the messages I sent and received, oldest first.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only messages in this state
    #[arg(long, value_name = "STATE", value_parser = clap::builder::PossibleValuesParser::new(STATES))]
    pub state: Option<String>,

    /// Only the thread between me and this member
    #[arg(long, value_name = "MEMBER")]
    pub with: Option<String>,

    /// At most this many (the newest)
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,

    /// Print JSON (stable field names) instead of text
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub who: IdentityArgs,
}

fn parse_id(text: &str) -> std::result::Result<i64, String> {
    text.strip_prefix('#')
        .unwrap_or(text)
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| format!("`{text}` is not a message id"))
}

pub fn run(globals: &Globals, cmd: MessageCommand) -> Result<ExitCode> {
    match cmd {
        MessageCommand::Send(args) => send(globals, args),
        MessageCommand::Broadcast(args) => broadcast(globals, args),
        MessageCommand::Inbox(args) => inbox(globals, args),
        MessageCommand::Ack(args) => ack(globals, args),
        MessageCommand::Show(args) => show(globals, args),
        MessageCommand::List(args) => list(globals, args),
    }?;
    Ok(ExitCode::SUCCESS)
}

/// One line a sent message: its id, recipient, state and why it is still queued.
fn sent_line(sent: &Sent) -> String {
    match &sent.reason {
        Some(reason) => format!(
            "message #{} to {}: {} ({reason})\n",
            sent.id, sent.recipient, sent.state
        ),
        None => format!(
            "message #{} to {}: {}\n",
            sent.id, sent.recipient, sent.state
        ),
    }
}

fn send(globals: &Globals, args: SendArgs) -> Result<()> {
    let body = args.body.read()?;
    let mut registry = globals.registry()?;
    let (fleet, me) = args.who.speaker(&registry)?;
    let sent = if args.to == crate::team::OPERATOR {
        // The operator has no pane: the reply waits in its inbox (the web UI, or
        // `message inbox --as operator`), announced to nobody.
        broker::send_to_operator(&mut registry, &fleet, &me.name, &body)?
    } else {
        let to = registry.require_agent(fleet.id, &fleet.name, &args.to)?;
        broker::send(
            &mut registry,
            globals.tmux_socket.as_deref(),
            &fleet,
            &me.name,
            &to,
            &body,
            args.sync,
        )?
    };
    if args.json {
        print_json(&sent)
    } else {
        print(&sent_line(&sent))
    }
}

fn broadcast(globals: &Globals, args: BroadcastArgs) -> Result<()> {
    let body = args.body.read()?;
    let mut registry = globals.registry()?;
    let (fleet, me) = args.who.speaker(&registry)?;
    let sent = broker::broadcast(
        &mut registry,
        globals.tmux_socket.as_deref(),
        &fleet,
        &me.name,
        &body,
        args.sync,
    )?;
    if args.json {
        print_json(&sent)
    } else {
        print(&sent.iter().map(sent_line).collect::<String>())
    }
}

fn inbox(globals: &Globals, args: InboxArgs) -> Result<()> {
    let timeout = match &args.timeout {
        None => None,
        Some(text) => Some(crate::manifest::duration::parse(text).ok_or_else(|| {
            Error::usage(format!("invalid --timeout `{text}`"))
                .hint("use a number and a unit: `500ms`, `30s`, `5m`")
        })?),
    };
    let mut registry = globals.registry()?;
    let (fleet, me) = args.who.speaker(&registry)?;
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    let messages = loop {
        // Poll with a read; take the write lock only when there is something to take.
        if !args.wait || registry.unread_count(fleet.id, &me.name)? > 0 {
            let rows = if args.unacked {
                registry.take_unacked(fleet.id, &me.name)?
            } else {
                registry.take_inbox(fleet.id, &me.name, args.all)?
            };
            if !args.wait
                || rows
                    .iter()
                    .any(|m| matches!(&*m.state, "queued" | "notified"))
            {
                break rows;
            }
        }
        if let Some(limit) = timeout {
            let waited = started.elapsed();
            if waited >= limit {
                return Err(Error::timeout(format!(
                    "no message for `{}` within {}",
                    me.name,
                    args.timeout.as_deref().unwrap_or_default()
                ))
                .hint("try again, or wait longer with a bigger --timeout"));
            }
            pause = pause.min(limit - waited);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(250));
    };
    if args.json {
        return print_json(&messages);
    }
    if messages.is_empty() {
        return print(if args.all {
            "no messages\n"
        } else if args.unacked {
            "no unacknowledged messages\n"
        } else {
            "no unread messages\n"
        });
    }
    let mut out: Vec<u8> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        let kind = if m.kind == "message" {
            String::new()
        } else {
            format!(" ({})", m.kind)
        };
        out.extend_from_slice(
            format!(
                "#{} from {}{kind} at {}\n",
                m.id,
                crate::safe_text::line(&m.sender),
                m.created_at
            )
            .as_bytes(),
        );
        push_body(&mut out, &m.body);
    }
    print_bytes(&out)
}

fn ack(globals: &Globals, args: AckArgs) -> Result<()> {
    let mut registry = globals.registry()?;
    let (fleet, me) = args.who.speaker(&registry)?;
    let rows = registry.ack_messages(fleet.id, &me.name, &args.ids)?;
    if args.json {
        return print_json(&rows);
    }
    print(
        &rows
            .iter()
            .map(|m| format!("message #{} acked\n", m.id))
            .collect::<String>(),
    )
}

fn show(globals: &Globals, args: ShowArgs) -> Result<()> {
    let registry = globals.registry()?;
    let (fleet, me) = args.who.reader(&registry)?;
    let m = registry.show_message(fleet.id, &me.name, args.id)?;
    if args.json {
        return print_json(&m);
    }
    let mut out = format!(
        "message #{}\nfrom: {}\nto: {}\nkind: {}\nstate: {}\ncreated: {}\n",
        m.id, m.sender, m.recipient, m.kind, m.state, m.created_at
    );
    for (label, value) in [
        ("reason", &m.state_reason),
        ("notified", &m.notified_at),
        ("read", &m.read_at),
        ("acked", &m.acked_at),
    ] {
        if let Some(value) = value {
            out.push_str(&format!("{label}: {value}\n"));
        }
    }
    if let Some(b) = m.broadcast_id {
        out.push_str(&format!("broadcast: #{b}\n"));
    }
    out.push('\n');
    let mut out = out.into_bytes();
    push_body(&mut out, &m.body);
    print_bytes(&out)
}

fn list(globals: &Globals, args: ListArgs) -> Result<()> {
    let registry = globals.registry()?;
    let (fleet, me) = args.who.reader(&registry)?;
    // `operator` (the web UI, and the recipient of `cafleet done`) has no agent row.
    if let Some(with) = args.with.as_deref().filter(|w| *w != crate::team::OPERATOR) {
        registry.require_agent(fleet.id, &fleet.name, with)?;
    }
    let rows = registry.list_messages(
        fleet.id,
        &me.name,
        &ListFilter {
            state: args.state.as_deref(),
            with: args.with.as_deref(),
            limit: args.limit.map(i64::from),
        },
    )?;
    if args.json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        return print("no messages\n");
    }
    print(&rows.iter().map(list_line).collect::<String>())
}

fn list_line(m: &MessageRow) -> String {
    format!(
        "#{:<5} {} → {}  {:<8} {}  {}\n",
        m.id,
        m.sender,
        m.recipient,
        m.state,
        m.created_at,
        broker::preview::excerpt(&m.body_text(), 60)
    )
}

/// Appends a body as stored, ending it with a newline if it has none.
fn push_body(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(body);
    if !body.ends_with(b"\n") {
        out.push(b'\n');
    }
}

/// Prints bodies and headers with [`crate::safe_text`]'s stand-ins (`--json` has the
/// exact bytes).
fn print_bytes(bytes: &[u8]) -> Result<()> {
    print(&crate::safe_text::bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_take_an_optional_hash() {
        assert_eq!(parse_id("12"), Ok(12));
        assert_eq!(parse_id("#12"), Ok(12));
        assert!(parse_id("0").is_err());
        assert!(parse_id("x").is_err());
        assert!(parse_id("##12").is_err());
    }
}
