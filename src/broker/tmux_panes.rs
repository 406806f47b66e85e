//! [`Panes`] on a real tmux server, through the `tmux` module (which owns every tmux
//! invocation). A pane id that does not parse as `%N` is treated as a pane that is gone.

use super::{FLEET_TAG, MEMBER_TAG, PaneInfo, PaneKey, Panes};
use crate::error::Result;
use crate::registry::agents::AgentRow;
use crate::tmux::{Key, PaneId, Tmux};

fn pane_id(pane: &str) -> Result<PaneId> {
    pane.parse::<PaneId>()
        .map_err(|_| crate::error::Error::failure(format!("`{pane}` is not a tmux pane id")))
}

impl Panes for Tmux {
    fn info(&self, pane: &str) -> Result<Option<PaneInfo>> {
        let Ok(id) = pane.parse::<PaneId>() else {
            return Ok(None);
        };
        Ok(self
            .pane(id, &[FLEET_TAG, MEMBER_TAG])?
            .map(|found| PaneInfo {
                dead: found.exited(),
                fleet: found.option(FLEET_TAG).map(str::to_owned),
                member: found.option(MEMBER_TAG).map(str::to_owned),
            }))
    }

    fn capture(&self, pane: &str) -> Result<String> {
        self.capture_pane(pane_id(pane)?, None)
    }

    fn type_text(&self, pane: &str, text: &str) -> Result<()> {
        self.send_text(pane_id(pane)?, text)
    }

    fn press(&self, pane: &str, key: PaneKey) -> Result<()> {
        let key = match key {
            PaneKey::Escape => Key::Escape,
            PaneKey::Enter => Key::Enter,
            PaneKey::Tab => Key::Tab,
            PaneKey::ClearLine => Key::CtrlU,
        };
        self.send_keys(pane_id(pane)?, &[key])
    }

    fn for_agent(&self, agent: &AgentRow) -> Result<Option<Box<dyn Panes>>> {
        if self.is_remote() || crate::apply::host_of(agent).is_none() {
            return Ok(None);
        }
        let tmux = crate::apply::Servers::new(self.clone()).for_agent(agent)?;
        Ok(Some(Box::new(tmux)))
    }
}
