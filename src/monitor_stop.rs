//! Ending a fleet's monitor loop from `down`: the loop's pid is recorded in the registry;
//! it is signalled only while the row says it is running and the pid is alive.

use crate::error::Result;
use crate::registry::Registry;
use crate::registry::fleets::FleetRow;

pub fn stop(registry: &mut Registry, fleet: &FleetRow) -> Result<()> {
    if let Some(pid) = registry.running_monitor_pid(fleet.id)? {
        if let Ok(pid) = u32::try_from(pid)
            && crate::process::is_alive(pid)
        {
            crate::process::terminate(pid, std::time::Duration::from_secs(2))?;
        }
        registry.mark_monitor_stopped(fleet.id, "fleet brought down")?;
    }
    Ok(())
}
