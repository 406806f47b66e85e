//! Ending a fleet's monitor loop from `down`. The loop holds the fleet's monitor lock for
//! as long as it runs, so the recorded pid is signalled only while that lock is held: a
//! row left `running` by a loop that died (a reboot, SIGKILL) is just marked stopped, and
//! a pid reused by some other process is never touched.

use crate::error::Result;
use crate::registry::Registry;
use crate::registry::fleets::FleetRow;
use crate::registry::lock::monitor_name;

/// Whether a monitor loop of `fleet` is running now.
pub fn is_running(registry: &Registry, fleet: &str) -> Result<bool> {
    Ok(crate::registry::lock::is_held(
        registry.path(),
        &monitor_name(fleet),
    ))
}

pub fn stop(registry: &mut Registry, fleet: &FleetRow) -> Result<()> {
    let Some(pid) = registry.running_monitor_pid(fleet.id)? else {
        return Ok(());
    };
    if is_running(registry, &fleet.name)?
        && let Ok(pid) = u32::try_from(pid)
    {
        crate::apply::process::terminate(pid, std::time::Duration::from_secs(2))?;
    }
    registry.mark_monitor_stopped(fleet.id, "fleet brought down")?;
    Ok(())
}
