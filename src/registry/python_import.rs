//! The Python cafleet's registry (0.22, SQLAlchemy + alembic): recognising one, so that
//! cafleet refuses it with the file untouched instead of failing half-way through its
//! own migration, and bringing its fleets, members and full message history over
//! (`cafleet db import-python`).
//!
//! The source is opened read-only and never written. What maps to what:
//!
//! | Python | cafleet |
//! |---|---|
//! | `fleets` row (`deleted_at` kept) | a `cli` fleet, `down`, deleted when it was deleted |
//! | `members` row, its `member_placements` | an agent: `stopped` (`removed` if deregistered), backend = its coding agent |
//! | the fleet's `director_member_id` | the agent `director`, role `director` |
//! | `unicast` message `input_required` | a message `notified` (unread, never announced again) |
//! | `unicast` message `completed` | a message `acked`, acknowledged at its `status_timestamp` |
//! | broadcast deliveries (`origin_message_id`) | `broadcast` rows sharing a `broadcast_id` |
//! | `broadcast_summary` rows | no row (their text is "Broadcast sent to N recipients"); their id maps to the broadcast |
//!
//! Names are made valid cafleet names (lower case, `[a-z0-9_-]`, 32 characters; `-2`,
//! `-3` … when two would clash), a fleet whose name a live cafleet fleet has takes a
//! `-py` suffix, timestamps become cafleet's UTC format. Every imported fleet gets an
//! `import.python` event holding the source file, the Python fleet id and the map from
//! every Python message id to its cafleet id; a second import of the same file is
//! refused while those events exist.

use std::collections::{BTreeMap, HashMap, HashSet};

use camino::Utf8Path;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;

use super::Registry;
use super::engine::{Exec, Tx, params as values};
use crate::error::{Error, Result};

/// The event kind each imported fleet gets.
pub const IMPORT_EVENT: &str = "import.python";

/// Whether `conn` holds a Python cafleet registry: its alembic version table, or its
/// `members` and `member_placements` tables.
pub fn is_python_registry(conn: &Connection) -> rusqlite::Result<bool> {
    let count: i64 = conn.query_row(
        "SELECT
            (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version')
          + (SELECT count(*) FROM sqlite_master WHERE type = 'table'
                AND name IN ('members', 'member_placements', 'asset_installs')) / 2",
        [],
        |r| r.get(0),
    )?;
    Ok(count > 0)
}

/// The error every command gets on a Python registry.
pub fn refuse_python_registry(path: &Utf8Path) -> Error {
    Error::failure(format!(
        "`{path}` is a registry of the Python cafleet (0.22), which this cafleet cannot use in place"
    ))
    .hint("it was left untouched; point --db or CAFLEET_DATABASE_URL at another file (unset, cafleet uses ~/.local/share/cafleet/cafleet.db)")
    .hint(format!(
        "bring its fleets, members and messages over with `cafleet --db NEW.db db import-python {path}` (a dry run; add --apply to write)"
    ))
}

/// What an import brings over (or, in a dry run, would).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub source: String,
    /// The alembic revision of the source.
    pub revision: Option<String>,
    pub fleets: Vec<FleetSummary>,
    /// Whether anything was written.
    pub applied: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FleetSummary {
    pub python_id: i64,
    pub python_name: Option<String>,
    /// Its name in cafleet.
    pub name: String,
    pub deleted: bool,
    /// Python member name → cafleet agent name, for the names that changed.
    pub renamed_members: BTreeMap<String, String>,
    pub members: usize,
    pub messages: usize,
    pub unread: usize,
    pub broadcasts: usize,
    /// Set after `--apply`: the new fleet's id.
    pub id: Option<i64>,
}

struct PyFleet {
    id: i64,
    name: Option<String>,
    created_at: String,
    deleted_at: Option<String>,
    director: Option<i64>,
}

struct PyMember {
    id: i64,
    fleet: i64,
    name: String,
    description: String,
    status: String,
    registered_at: String,
    deregistered_at: Option<String>,
    backend: Option<String>,
    pane: Option<String>,
    session: Option<String>,
}

struct PyMessage {
    id: i64,
    owner: i64,
    from: i64,
    to: Option<i64>,
    kind: String,
    created_at: String,
    state: String,
    state_at: String,
    origin: Option<i64>,
    text: String,
}

/// Everything read from the source.
struct Source {
    revision: Option<String>,
    fleets: Vec<PyFleet>,
    members: Vec<PyMember>,
    messages: Vec<PyMessage>,
}

fn read_source(path: &Utf8Path) -> Result<Source> {
    if !path.as_std_path().is_file() {
        return Err(Error::not_found(format!("no file `{path}`"))
            .hint("the Python cafleet's registry is ~/.local/share/cafleet/cafleet_v5.db unless CAFLEET_DATABASE_URL said otherwise"));
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|err| Error::failure(format!("cannot open `{path}`: {err}")))?;
    let not_python = || {
        Error::usage(format!("`{path}` is not a Python cafleet registry"))
            .hint("pass the file the Python cafleet's CAFLEET_DATABASE_URL named (default ~/.local/share/cafleet/cafleet_v5.db)")
    };
    if !is_python_registry(&conn).map_err(|_| not_python())? {
        return Err(not_python());
    }
    let read = |err: rusqlite::Error| {
        Error::failure(format!(
            "cannot read `{path}` as a Python cafleet 0.22 registry: {err}"
        ))
        .hint("upgrade it with the Python cafleet 0.22 first (`cafleet db init` there), then import again")
    };
    let revision = conn
        .query_row("SELECT version_num FROM alembic_version", [], |r| r.get(0))
        .optional()
        .unwrap_or(None);
    let fleets = conn
        .prepare(
            "SELECT fleet_id, name, created_at, deleted_at, director_member_id FROM fleets ORDER BY fleet_id",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |r| {
                Ok(PyFleet {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    created_at: r.get(2)?,
                    deleted_at: r.get(3)?,
                    director: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(read)?;
    let members = conn
        .prepare(
            "SELECT m.member_id, m.fleet_id, m.name, m.description, m.status, m.registered_at,
                    m.deregistered_at, p.coding_agent, p.mux_pane_id, p.mux_session
             FROM members m LEFT JOIN member_placements p ON p.member_id = m.member_id
             ORDER BY m.member_id",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |r| {
                Ok(PyMember {
                    id: r.get(0)?,
                    fleet: r.get(1)?,
                    name: r.get(2)?,
                    description: r.get(3)?,
                    status: r.get(4)?,
                    registered_at: r.get(5)?,
                    deregistered_at: r.get(6)?,
                    backend: r.get(7)?,
                    pane: r.get(8)?,
                    session: r.get(9)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(read)?;
    let messages = conn
        .prepare(
            "SELECT message_id, owner_member_id, from_member_id, to_member_id, type, created_at,
                    status_state, status_timestamp, origin_message_id, text
             FROM messages ORDER BY message_id",
        )
        .and_then(|mut stmt| {
            stmt.query_map([], |r| {
                Ok(PyMessage {
                    id: r.get(0)?,
                    owner: r.get(1)?,
                    from: r.get(2)?,
                    to: r.get(3)?,
                    kind: r.get(4)?,
                    created_at: r.get(5)?,
                    state: r.get(6)?,
                    state_at: r.get(7)?,
                    origin: r.get(8)?,
                    text: r.get(9)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(read)?;
    Ok(Source {
        revision,
        fleets,
        members,
        messages,
    })
}

/// A valid cafleet name from any text: lower case, `[a-z0-9_-]`, starting with a letter
/// or digit, at most `max` characters; `fallback` when nothing is left.
fn clean_name(text: &str, max: usize, fallback: &str) -> String {
    let mut out = String::new();
    for c in text.trim().chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_start_matches(['-', '_']).trim_end_matches('-');
    let out: String = out.chars().take(max).collect();
    if out.is_empty() {
        fallback.to_string()
    } else {
        out
    }
}

/// `base`, or `base-2`, `base-3` … (kept within `max`) — the first that `taken` lacks.
fn unique(base: &str, max: usize, taken: &HashSet<String>) -> String {
    if !taken.contains(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| {
            let suffix = format!("-{n}");
            let keep = max.saturating_sub(suffix.len());
            format!("{}{suffix}", &base[..base.len().min(keep)])
        })
        .find(|name| !taken.contains(name))
        .unwrap_or_else(|| base.to_string())
}

/// One fleet's plan: its name, its members' names and its messages in order.
struct FleetPlan<'a> {
    fleet: &'a PyFleet,
    summary: FleetSummary,
    /// Python member id → cafleet name, role.
    names: HashMap<i64, (String, &'static str)>,
    members: Vec<&'a PyMember>,
    messages: Vec<&'a PyMessage>,
    summaries: Vec<&'a PyMessage>,
}

fn plan<'a>(source: &'a Source, live_names: &HashSet<String>) -> Vec<FleetPlan<'a>> {
    let mut taken: HashSet<String> = live_names.clone();
    let mut plans = Vec::new();
    for fleet in &source.fleets {
        let fallback = format!("python-{}", fleet.id);
        let base = clean_name(fleet.name.as_deref().unwrap_or(""), 32, &fallback);
        let deleted = fleet.deleted_at.is_some();
        // A deleted fleet may share a name; a live one needs its own.
        let name = if deleted {
            base
        } else {
            let name = if taken.contains(&base) {
                unique(&format!("{}-py", &base[..base.len().min(29)]), 32, &taken)
            } else {
                base
            };
            taken.insert(name.clone());
            name
        };
        let members: Vec<&PyMember> = source
            .members
            .iter()
            .filter(|m| m.fleet == fleet.id)
            .collect();
        let mut names = HashMap::new();
        let mut used: HashSet<String> = ["operator".to_string()].into();
        let mut renamed = BTreeMap::new();
        // The Director first, so it gets the name `director`.
        let mut ordered = members.clone();
        ordered.sort_by_key(|m| (Some(m.id) != fleet.director, m.id));
        for m in &ordered {
            let (wanted, role) = if Some(m.id) == fleet.director {
                ("director".to_string(), "director")
            } else {
                (
                    clean_name(&m.name, 32, &format!("member-{}", m.id)),
                    "member",
                )
            };
            let reserved = ["director", "monitor", "all", "operator"];
            let wanted = if role == "member" && reserved.contains(&wanted.as_str()) {
                format!("{wanted}-py")
            } else {
                wanted
            };
            let name = unique(&wanted, 32, &used);
            used.insert(name.clone());
            if name != m.name {
                renamed.insert(format!("{} (#{})", m.name, m.id), name.clone());
            }
            names.insert(m.id, (name, role));
        }
        let ids: HashSet<i64> = members.iter().map(|m| m.id).collect();
        let mine: Vec<&PyMessage> = source
            .messages
            .iter()
            .filter(|m| ids.contains(&m.owner) || ids.contains(&m.from))
            .collect();
        let (summaries, messages): (Vec<&PyMessage>, Vec<&PyMessage>) = mine
            .into_iter()
            .partition(|m| m.kind == "broadcast_summary" || m.to.is_none());
        let summary = FleetSummary {
            python_id: fleet.id,
            python_name: fleet.name.clone(),
            name,
            deleted,
            renamed_members: renamed,
            members: members.len(),
            messages: messages.len(),
            unread: messages
                .iter()
                .filter(|m| m.state == "input_required")
                .count(),
            broadcasts: summaries.len(),
            id: None,
        };
        plans.push(FleetPlan {
            fleet,
            summary,
            names,
            members,
            messages,
            summaries,
        });
    }
    plans
}

impl Registry {
    /// Reads the Python registry at `source` and imports it into this registry when
    /// `apply`, else only says what it would import. A file imported before (its
    /// `import.python` events still here) is refused.
    pub fn import_python(&mut self, source: &Utf8Path, apply: bool) -> Result<Summary> {
        let source_name = source.to_string();
        let data = read_source(source)?;
        // The events of earlier imports, their source read in Rust (the same on SQLite
        // and PostgreSQL, whose JSON functions differ).
        let mut before: Vec<(String, String)> = self
            .db()
            .rows(
                "SELECT f.name, e.created_at, e.detail FROM events e JOIN fleets f ON f.id = e.fleet_id
                 WHERE e.kind = ?1 ORDER BY f.name, e.id",
                values![IMPORT_EVENT],
                |r| Ok((r.get(0)?, r.get(1)?, r.get::<String>(2)?)),
            )?
            .into_iter()
            .filter(|(_, _, detail)| {
                serde_json::from_str::<serde_json::Value>(detail)
                    .is_ok_and(|d| d["source"].as_str() == Some(source_name.as_str()))
            })
            .map(|(name, at, _)| (name, at))
            .collect();
        before.dedup();
        if let Some((_, when)) = before.first() {
            let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::failure(format!(
                "`{source_name}` was already imported at {when} (fleets {})",
                names.join(", ")
            ))
            .hint(
                "nothing was changed; to import it again, erase those first: `cafleet fleet delete --purge NAME` for each",
            ));
        }
        let live: HashSet<String> = self.fleets()?.into_iter().map(|f| f.name).collect();
        let mut plans = plan(&data, &live);
        if apply {
            // Timestamps are read with SQLite's date functions whatever the registry is.
            let clock = Connection::open_in_memory()?;
            self.write(|tx| {
                for p in &mut plans {
                    p.summary.id = Some(write_fleet(tx, &clock, &source_name, p)?);
                }
                Ok(())
            })?;
        }
        let fleets = plans.into_iter().map(|p| p.summary).collect();
        Ok(Summary {
            source: source_name,
            revision: data.revision.clone(),
            fleets,
            applied: apply,
        })
    }
}

/// A timestamp in cafleet's format (`2026-01-02T03:04:05.678Z`), or as it was when SQLite
/// cannot read it.
const TS: &str = "COALESCE(strftime('%Y-%m-%dT%H:%M:%fZ', ?), ?)";

fn ts(clock: &Connection, text: &str) -> rusqlite::Result<String> {
    clock.query_row(&format!("SELECT {TS}"), params![text, text], |r| r.get(0))
}

fn write_fleet(tx: &Tx<'_>, clock: &Connection, source: &str, p: &FleetPlan<'_>) -> Result<i64> {
    let ts = |text: &str| ts(clock, text);
    let created = ts(&p.fleet.created_at)?;
    let deleted = match &p.fleet.deleted_at {
        Some(at) => Some(ts(at)?),
        None => None,
    };
    let session = p
        .members
        .iter()
        .find_map(|m| m.session.clone())
        .unwrap_or_else(|| p.summary.name.clone());
    let fleet_id: i64 = tx.value(
        "INSERT INTO fleets (name, origin, session, socket, status, created_at, updated_at, deleted_at)
         VALUES (?1, 'cli', ?2, '', 'down', ?3, ?3, ?4) RETURNING id",
        values![&p.summary.name, session, created, deleted],
    )?;
    for m in &p.members {
        let (name, role) = &p.names[&m.id];
        let deregistered = m.status != "active";
        let since = match (&m.deregistered_at, deregistered) {
            (Some(at), true) => ts(at)?,
            _ => ts(&m.registered_at)?,
        };
        tx.execute(
            "INSERT INTO agents (fleet_id, name, role, backend, description, origin, pane_id,
                                 status, status_reason, status_since, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'cli', NULL, ?6, ?7, ?8, ?9, ?8)",
            values![
                fleet_id,
                name,
                *role,
                m.backend.as_deref().unwrap_or("claude"),
                &m.description,
                if deregistered { "removed" } else { "stopped" },
                format!(
                    "imported from the Python cafleet (member #{}{})",
                    m.id,
                    m.pane
                        .as_deref()
                        .map(|p| format!(", pane {p}"))
                        .unwrap_or_default()
                ),
                since,
                ts(&m.registered_at)?,
            ],
        )?;
    }
    let name_of = |id: i64| -> String {
        p.names
            .get(&id)
            .map_or_else(|| format!("python-member-{id}"), |(n, _)| n.clone())
    };
    let mut ids: BTreeMap<i64, i64> = BTreeMap::new();
    // A Python broadcast's summary id → the cafleet broadcast id (its first row's id).
    let mut broadcasts: HashMap<i64, i64> = HashMap::new();
    for m in &p.messages {
        let created = ts(&m.created_at)?;
        let at = ts(&m.state_at)?;
        let acked = m.state != "input_required";
        let kind = if m.origin.is_some() {
            "broadcast"
        } else {
            "message"
        };
        let broadcast_id = m.origin.and_then(|o| broadcasts.get(&o).copied());
        let id: i64 = tx.value(
            "INSERT INTO messages (fleet_id, sender, recipient, body, kind, state, broadcast_id,
                                   created_at, notified_at, read_at, acked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?9) RETURNING id",
            values![
                fleet_id,
                name_of(m.from),
                name_of(m.to.unwrap_or(m.owner)),
                m.text.as_bytes(),
                kind,
                if acked { "acked" } else { "notified" },
                broadcast_id,
                created,
                acked.then_some(at),
            ],
        )?;
        if let Some(origin) = m.origin
            && broadcast_id.is_none()
        {
            broadcasts.insert(origin, id);
            tx.execute(
                "UPDATE messages SET broadcast_id = ?1 WHERE id = ?1",
                values![id],
            )?;
        }
        ids.insert(m.id, id);
    }
    let summaries: BTreeMap<i64, Option<i64>> = p
        .summaries
        .iter()
        .map(|s| (s.id, broadcasts.get(&s.id).copied()))
        .collect();
    tx.execute(
        "INSERT INTO events (fleet_id, agent, kind, detail) VALUES (?1, NULL, ?2, ?3)",
        values![
            fleet_id,
            IMPORT_EVENT,
            json!({
                "source": source,
                "python_fleet_id": p.fleet.id,
                "python_name": p.fleet.name,
                "messages": ids,
                "broadcast_summaries": summaries,
                "renamed_members": p.summary.renamed_members,
            })
            .to_string()
        ],
    )?;
    Ok(fleet_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_valid_and_unique() {
        assert_eq!(clean_name("Director", 32, "x"), "director");
        assert_eq!(clean_name("My Team!", 32, "x"), "my-team");
        assert_eq!(clean_name("  ", 32, "python-3"), "python-3");
        assert_eq!(clean_name("--a", 32, "x"), "a");
        let taken: HashSet<String> = ["a".to_string(), "a-2".to_string()].into();
        assert_eq!(unique("a", 32, &taken), "a-3");
        assert_eq!(unique("b", 32, &taken), "b");
        let long = "x".repeat(32);
        let taken: HashSet<String> = [long.clone()].into();
        let next = unique(&long, 32, &taken);
        assert_eq!(next.len(), 32);
        assert!(next.ends_with("-2"));
    }

    #[test]
    fn a_cafleet_registry_is_not_a_python_one() {
        let registry = Registry::in_memory().unwrap();
        assert!(!is_python_registry(registry.conn()).unwrap());
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE alembic_version (version_num TEXT)")
            .unwrap();
        assert!(is_python_registry(&conn).unwrap());
    }
}
