//! Everything that differs between the agents cafleet can run: claude, codex, opencode,
//! an arbitrary command, and the built-in fake.

pub mod fake;
pub mod fake_options;
