//! The report `cafleet run --report DIR` writes, on success, failure, timeout and
//! interruption alike, while the panes still exist (before `down`):
//!
//! | file | what |
//! |---|---|
//! | `summary.md` | outcome, the Director's summary, duration, each agent (backend, model, final state, restarts, messages sent/received), message counts |
//! | `messages.jsonl` | one JSON object per message of the run: `id`, `sender`, `recipient`, `body`, `kind`, `state`, `state_reason`, `broadcast_id`, `created_at`, `notified_at`, `read_at`, `acked_at` |
//! | `events.jsonl` | one JSON object per event of the run: `id`, `fleet`, `agent`, `kind`, `detail`, `created_at` |
//! | `panes/NAME.txt` | each agent's final pane text with its scrollback |
//! | `model.jsonl` | with `--rehearse`: the scripted model's log, one JSON line per request |
//! | `junit.xml` | one `<testsuite>` for the run: a case `run` (fails unless `done`) and one per agent (fails when it ended dead or in `crash-loop`) |
//!
//! The run's rows are those with ids above the high-water marks taken before `up`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use camino::Utf8Path;

use super::watch::{GONE_STATES, Marks, Outcome};
use crate::apply::AgentStatus;
use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::registry::fleets::FleetRow;
use crate::registry::messages::MessageRow;

/// How many lines of scrollback each pane capture keeps.
pub const SCROLLBACK: u32 = 10_000;

/// One agent as the report lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentLine {
    pub name: String,
    pub role: String,
    pub backend: String,
    pub model: Option<String>,
    pub state: String,
    pub reason: Option<String>,
    pub restarts: usize,
    pub sent: usize,
    pub received: usize,
}

/// Everything the report is written from, gathered while the team is still up.
pub struct Gathered {
    pub fleet: String,
    pub outcome: Outcome,
    pub duration: Duration,
    pub agents: Vec<AgentLine>,
    pub messages: Vec<MessageRow>,
    pub events: Vec<crate::registry::events::EventRow>,
    /// (agent, pane text); agents without a pane are left out.
    pub panes: Vec<(String, String)>,
}

/// Reads the run's rows, states and pane texts.
pub fn gather(
    registry: &Registry,
    tmux_socket: Option<&str>,
    fleet: &FleetRow,
    marks: Marks,
    outcome: Outcome,
    duration: Duration,
) -> Result<Gathered> {
    let messages = registry.fleet_messages_after(fleet.id, marks.message)?;
    let mut events = Vec::new();
    let mut after = marks.event;
    loop {
        let batch = registry.events(Some(fleet.id), None, after, 1000)?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        events.extend(batch);
    }
    let statuses: Vec<AgentStatus> = crate::apply::fleet_status(tmux_socket, registry, fleet)?;
    let restarts = registry.restart_counts(fleet.id)?;
    let mut panes = Vec::new();
    for row in registry.agents(fleet.id)? {
        if row.status == "removed" {
            continue;
        }
        if let Ok(text) = crate::apply::pane_text(tmux_socket, fleet, &row, Some(SCROLLBACK)) {
            panes.push((row.name.clone(), text));
        }
    }
    let agents = statuses
        .into_iter()
        .map(|s| AgentLine {
            restarts: restarts.get(&s.name).copied().unwrap_or(0),
            sent: messages.iter().filter(|m| m.sender == s.name).count(),
            received: messages.iter().filter(|m| m.recipient == s.name).count(),
            name: s.name,
            role: s.role,
            backend: s.backend,
            model: s.model,
            state: s.state,
            reason: s.reason,
        })
        .collect();
    Ok(Gathered {
        fleet: fleet.name.clone(),
        outcome,
        duration,
        agents,
        messages,
        events,
        panes,
    })
}

/// Writes the report's files into `dir` (created if needed; files there are replaced).
pub fn write(dir: &Utf8Path, report: &Gathered) -> Result<()> {
    let fail = |what: &str, err: std::io::Error| {
        Error::failure(format!(
            "cannot write the report's {what} in `{dir}`: {err}"
        ))
        .hint("pass a writable folder to --report")
    };
    let panes_dir = dir.join("panes");
    std::fs::create_dir_all(&panes_dir).map_err(|e| fail("folder", e))?;
    std::fs::write(dir.join("summary.md"), summary_md(report))
        .map_err(|e| fail("summary.md", e))?;
    let mut lines = String::new();
    for message in &report.messages {
        lines.push_str(&json_line(message)?);
    }
    std::fs::write(dir.join("messages.jsonl"), lines).map_err(|e| fail("messages.jsonl", e))?;
    let mut lines = String::new();
    for event in &report.events {
        lines.push_str(&json_line(event)?);
    }
    std::fs::write(dir.join("events.jsonl"), lines).map_err(|e| fail("events.jsonl", e))?;
    for (name, text) in &report.panes {
        // Agent names are `[a-z0-9_-]`, so they are safe file names.
        std::fs::write(panes_dir.join(format!("{name}.txt")), text)
            .map_err(|e| fail("pane text", e))?;
    }
    std::fs::write(dir.join("junit.xml"), junit_xml(report)).map_err(|e| fail("junit.xml", e))?;
    Ok(())
}

fn json_line(value: &impl serde::Serialize) -> Result<String> {
    let mut line = serde_json::to_string(value)
        .map_err(|err| Error::failure(format!("cannot encode JSON: {err}")))?;
    line.push('\n');
    Ok(line)
}

/// `summary.md`.
pub fn summary_md(report: &Gathered) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# cafleet run: {}\n", report.fleet);
    let _ = writeln!(
        s,
        "- Outcome: **{}** (exit {})",
        report.outcome.label(),
        report.outcome.exit_code()
    );
    let _ = writeln!(
        s,
        "- {}",
        report.outcome.describe().lines().next().unwrap_or_default()
    );
    let _ = writeln!(s, "- Duration: {:.1}s", report.duration.as_secs_f64());
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &report.messages {
        *by_state.entry(m.state.as_str()).or_default() += 1;
    }
    let states: Vec<String> = by_state.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = writeln!(
        s,
        "- Messages: {}{}",
        report.messages.len(),
        if states.is_empty() {
            String::new()
        } else {
            format!(" ({})", states.join(", "))
        }
    );
    let _ = writeln!(s, "- Events: {}\n", report.events.len());
    let _ = writeln!(s, "## Director's summary\n");
    match &report.outcome {
        Outcome::Done(done) if !done.summary.trim().is_empty() => {
            for line in done.summary.lines() {
                let _ = writeln!(s, "> {line}");
            }
        }
        Outcome::Done(_) => {
            let _ = writeln!(s, "(no summary given)");
        }
        _ => {
            let _ = writeln!(s, "(the Director did not call `cafleet done`)");
        }
    }
    let _ = writeln!(s, "\n## Agents\n");
    let _ = writeln!(
        s,
        "| agent | role | backend | model | final state | restarts | sent | received |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for a in &report.agents {
        let state = match &a.reason {
            Some(r) => format!("{} ({})", a.state, r.replace('|', "\\|")),
            None => a.state.clone(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {state} | {} | {} | {} |",
            a.name,
            a.role,
            a.backend,
            a.model.as_deref().unwrap_or("-"),
            a.restarts,
            a.sent,
            a.received
        );
    }
    let _ = writeln!(
        s,
        "\nFiles: `messages.jsonl`, `events.jsonl`, `panes/NAME.txt`, `junit.xml`."
    );
    s
}

/// Escapes text for XML attribute values and element content, dropping the characters
/// XML 1.0 cannot hold at all (control characters other than tab, LF and CR).
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `junit.xml`: one suite, a `run` case for the outcome and a case per agent.
pub fn junit_xml(report: &Gathered) -> String {
    let esc = xml_escape;
    let mut cases = String::new();
    let mut failures = 0;
    let secs = report.duration.as_secs_f64();
    let run_ok = matches!(&report.outcome, Outcome::Done(d) if !d.failed);
    let _ = write!(
        cases,
        "    <testcase classname=\"cafleet.{}\" name=\"run\" time=\"{secs:.3}\">",
        esc(&report.fleet)
    );
    if run_ok {
        cases.push('\n');
    } else {
        failures += 1;
        let _ = write!(
            cases,
            "\n      <failure type=\"{}\" message=\"{}\"/>\n",
            report.outcome.label(),
            esc(&report.outcome.describe())
        );
    }
    if let Outcome::Done(done) = &report.outcome {
        let _ = writeln!(
            cases,
            "      <system-out>{}</system-out>",
            esc(&done.summary)
        );
    }
    cases.push_str("    </testcase>\n");
    for a in &report.agents {
        let _ = write!(
            cases,
            "    <testcase classname=\"cafleet.{}.agents\" name=\"{}\" time=\"{secs:.3}\">\n      <properties><property name=\"backend\" value=\"{}\"/><property name=\"model\" value=\"{}\"/><property name=\"state\" value=\"{}\"/><property name=\"restarts\" value=\"{}\"/></properties>\n",
            esc(&report.fleet),
            esc(&a.name),
            esc(&a.backend),
            esc(a.model.as_deref().unwrap_or("")),
            esc(&a.state),
            a.restarts
        );
        if GONE_STATES.contains(&a.state.as_str()) && a.state != "stopped" {
            failures += 1;
            let _ = writeln!(
                cases,
                "      <failure type=\"{}\" message=\"{}\"/>",
                esc(&a.state),
                esc(a.reason.as_deref().unwrap_or(&a.state))
            );
        }
        cases.push_str("    </testcase>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"cafleet run {}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{secs:.3}\">\n{cases}  </testsuite>\n</testsuites>\n",
        esc(&report.fleet),
        report.agents.len() + 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping_covers_markup_quotes_and_control_characters() {
        assert_eq!(
            xml_escape("a<b>&\"c\"'d'\u{1b}[0m\tz\n"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;[0m\tz\n"
        );
        assert_eq!(xml_escape("]]>"), "]]&gt;");
    }

    #[test]
    fn junit_has_a_run_case_and_one_per_agent() {
        let report = Gathered {
            fleet: "f".into(),
            outcome: Outcome::Timeout,
            duration: Duration::from_millis(1500),
            agents: vec![AgentLine {
                name: "w<1>".into(),
                role: "member".into(),
                backend: "fake".into(),
                model: None,
                state: "dead".into(),
                reason: Some("exited with status 1".into()),
                restarts: 2,
                sent: 0,
                received: 0,
            }],
            messages: Vec::new(),
            events: Vec::new(),
            panes: Vec::new(),
        };
        let xml = junit_xml(&report);
        assert!(xml.contains("tests=\"2\" failures=\"2\""), "{xml}");
        assert!(xml.contains("name=\"w&lt;1&gt;\""), "{xml}");
        assert!(xml.contains("<failure type=\"timeout\""), "{xml}");
        let md = summary_md(&report);
        assert!(md.contains("**timeout** (exit 4)"), "{md}");
        assert!(
            md.contains("| w<1> | member | fake | - | dead (exited with status 1) | 2 | 0 | 0 |"),
            "{md}"
        );
    }
}
