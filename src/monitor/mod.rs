//! The monitor: the scan → ping → sleep heartbeat of a fleet's monitoring member. It
//! watches every agent's pane and inbox, records states (`working`, `idle`,
//! `waiting-input`, `stalled`, `dead`, `crash-loop`), nudges the Director when the team
//! stalls or an agent dies, and restarts agents whose `restart` policy asks for it.

pub mod run;
pub mod start;
pub mod stop;
pub mod tracker;
