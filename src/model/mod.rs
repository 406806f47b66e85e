//! The scripted model behind `cafleet model serve`: a loopback HTTP server that speaks
//! the streaming APIs the agent CLIs call — Anthropic Messages (claude), OpenAI Responses
//! (codex) and OpenAI chat completions (opencode) — and answers from a TOML script
//! instead of a model, so a team can be rehearsed with no account and no network.
//!
//! Each request carries its whole conversation, so the server keeps no state: it finds
//! the last real user message, counts the shell tool calls made since, and answers the
//! script's next step (`script`). `conversation` is the API-neutral view of a request;
//! `anthropic`, `responses` and `chat` read and write each wire format; `server` is the
//! axum side; `point` says how to point each CLI at a running server.

pub mod anthropic;
pub mod chat;
pub mod conversation;
pub mod point;
pub mod responses;
pub mod script;
pub mod server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub use point::{Pointing, point_at};
pub use script::Script;

/// The model name the printed instructions use.
pub const DEFAULT_MODEL: &str = "scripted";

/// The API a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Anthropic,
    Responses,
    Chat,
}

impl Api {
    /// The name written in the log.
    pub fn name(self) -> &'static str {
        match self {
            Api::Anthropic => "anthropic",
            Api::Responses => "responses",
            Api::Chat => "chat",
        }
    }
}

pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) fn now_secs() -> u64 {
    now_millis() / 1000
}

/// A fresh id such as `msg_19a2b3c4d5e0003`: the time in ms and a process-wide counter.
pub(crate) fn new_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{:x}{n:04x}", now_millis())
}
