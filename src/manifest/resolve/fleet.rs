//! The fleet-wide settings of `[fleet]`: the root folder, the tmux layout, panes per
//! window, the window size and the tmux socket, each checked against `rules` and falling
//! back to its default after reporting a problem.

use camino::Utf8PathBuf;

use super::Resolver;
use crate::manifest::rules;

impl Resolver<'_> {
    pub(super) fn resolve_root(&mut self) -> Utf8PathBuf {
        let Some(root) = &self.raw.fleet.root else {
            return self.dir.clone();
        };
        match self.existing_dir(&self.dir.clone(), root.get()) {
            Some(dir) => dir,
            None => {
                self.error(
                    root.span(),
                    format!("root `{}` is not a directory", root.get()),
                    Some("`root` is relative to the fleet file".into()),
                );
                self.dir.clone()
            }
        }
    }

    /// The structural check already refused a layout not in [`rules::LAYOUTS`] (the
    /// schema lists them as an enum).
    pub(super) fn layout(&mut self) -> String {
        match &self.raw.fleet.layout {
            Some(layout) => layout.get().clone(),
            None => "tiled".into(),
        }
    }

    pub(super) fn panes_per_window(&mut self) -> usize {
        let Some(n) = &self.raw.fleet.panes_per_window else {
            return 4;
        };
        let (min, max) = rules::PANES_PER_WINDOW;
        match usize::try_from(*n.get()) {
            Ok(value) if (min..=max).contains(n.get()) => value,
            _ => {
                self.error(
                    n.span(),
                    format!(
                        "panes_per_window must be between {min} and {max}, not {}",
                        n.get()
                    ),
                    None,
                );
                4
            }
        }
    }

    pub(super) fn window_size(&mut self, layout: &str, panes_per_window: usize) -> (u16, u16) {
        let default = crate::manifest::default_window_size(layout, panes_per_window);
        let Some(size) = &self.raw.fleet.size else {
            return default;
        };
        match rules::parse_size(size.get()) {
            Some(parsed) if rules::size_in_range(parsed) => parsed,
            _ => {
                self.error(
                    size.span(),
                    format!("invalid window size `{}`", size.get().escape_debug()),
                    Some(format!(
                        "write WIDTHxHEIGHT in cells, {}–{} by {}–{} (without it: \"{}x{}\")",
                        rules::WINDOW_WIDTH.0,
                        rules::WINDOW_WIDTH.1,
                        rules::WINDOW_HEIGHT.0,
                        rules::WINDOW_HEIGHT.1,
                        default.0,
                        default.1
                    )),
                );
                default
            }
        }
    }

    pub(super) fn socket(&mut self) -> String {
        let Some(socket) = &self.raw.fleet.socket else {
            return String::new();
        };
        let name = socket.get();
        if !rules::is_valid_socket(name) {
            self.error(
                socket.span(),
                format!("invalid tmux socket name `{name}`"),
                Some(
                    "use letters, digits, `_`, `.` and `-`, or \"\" for the default server".into(),
                ),
            );
        }
        name.clone()
    }
}
