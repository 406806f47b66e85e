//! The monitor loop's row per fleet: who runs it (pid), its settings, its last tick, and
//! why it stopped. One loop per fleet is enforced here, atomically.

use serde::Serialize;

use super::Registry;
use super::engine::{Exec, params};
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct MonitorRow {
    pub fleet_id: i64,
    pub pid: Option<i64>,
    pub status: String,
    pub interval_ms: i64,
    pub stall_after_ms: i64,
    pub started_at: Option<String>,
    pub last_tick_at: Option<String>,
    pub stopped_at: Option<String>,
    pub stop_reason: Option<String>,
}

impl Registry {
    pub fn monitor(&self, fleet_id: i64) -> Result<Option<MonitorRow>> {
        self.db().row(
            "SELECT fleet_id, pid, status, interval_ms, stall_after_ms, started_at, last_tick_at,
                        stopped_at, stop_reason
                 FROM monitors WHERE fleet_id = ?1",
            params![fleet_id],
            |r| {
                Ok(MonitorRow {
                    fleet_id: r.get(0)?,
                    pid: r.get(1)?,
                    status: r.get(2)?,
                    interval_ms: r.get(3)?,
                    stall_after_ms: r.get(4)?,
                    started_at: r.get(5)?,
                    last_tick_at: r.get(6)?,
                    stopped_at: r.get(7)?,
                    stop_reason: r.get(8)?,
                })
            },
        )
    }

    /// Records `pid` as the fleet's running monitor. The caller holds the fleet's monitor
    /// lock ([`crate::registry::lock::monitor_name`]), which is what makes it the only one; a row
    /// left `running` by a loop that was killed is simply taken over. Settings given
    /// override the stored ones; absent ones keep them (or the defaults).
    pub fn claim_monitor(
        &mut self,
        fleet_id: i64,
        pid: u32,
        interval_ms: Option<i64>,
        stall_after_ms: Option<i64>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO monitors (fleet_id, pid, status, started_at, last_tick_at, stopped_at, stop_reason)
                 VALUES (?1, ?2, 'running', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), NULL, NULL, NULL)
                 ON CONFLICT (fleet_id) DO UPDATE SET pid = excluded.pid, status = 'running',
                    started_at = excluded.started_at, last_tick_at = NULL, stopped_at = NULL, stop_reason = NULL",
                params![fleet_id, pid],
            )?;
            if let Some(ms) = interval_ms {
                tx.execute("UPDATE monitors SET interval_ms = ?2 WHERE fleet_id = ?1", params![fleet_id, ms])?;
            }
            if let Some(ms) = stall_after_ms {
                tx.execute("UPDATE monitors SET stall_after_ms = ?2 WHERE fleet_id = ?1", params![fleet_id, ms])?;
            }
            Ok(())
        })
    }

    /// Changes the settings a running (or future) loop reads on its next tick.
    pub fn configure_monitor(
        &mut self,
        fleet_id: i64,
        interval_ms: Option<i64>,
        stall_after_ms: Option<i64>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO monitors (fleet_id) VALUES (?1) ON CONFLICT (fleet_id) DO NOTHING",
                params![fleet_id],
            )?;
            if let Some(ms) = interval_ms {
                tx.execute(
                    "UPDATE monitors SET interval_ms = ?2 WHERE fleet_id = ?1",
                    params![fleet_id, ms],
                )?;
            }
            if let Some(ms) = stall_after_ms {
                tx.execute(
                    "UPDATE monitors SET stall_after_ms = ?2 WHERE fleet_id = ?1",
                    params![fleet_id, ms],
                )?;
            }
            Ok(())
        })
    }

    pub fn monitor_ticked(&mut self, fleet_id: i64) -> Result<()> {
        self.db().execute(
            "UPDATE monitors SET last_tick_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE fleet_id = ?1",
            params![fleet_id],
        )?;
        Ok(())
    }
}

impl Registry {
    /// The pid of the fleet's monitor loop when the registry says it is running.
    pub fn running_monitor_pid(&self, fleet_id: i64) -> Result<Option<i64>> {
        Ok(self
            .db()
            .row(
                "SELECT pid FROM monitors WHERE fleet_id = ?1 AND status = 'running'",
                params![fleet_id],
                |r| r.get::<Option<i64>>(0),
            )?
            .flatten())
    }

    pub fn mark_monitor_stopped(&mut self, fleet_id: i64, reason: &str) -> Result<()> {
        self.db().execute(
            "UPDATE monitors SET status = 'stopped', stopped_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                                 stop_reason = ?2
             WHERE fleet_id = ?1",
            params![fleet_id, reason],
        )?;
        Ok(())
    }
}
