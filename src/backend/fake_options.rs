//! The `fake = { … }` table of a `backend = "fake"` agent: how the built-in stand-in agent
//! behaves. It is parsed from the fleet file and handed to `cafleet agent fake` as JSON.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Options of the built-in stand-in agent, so CI and demos can run a whole team with no
/// account or API key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FakeOptions {
    /// The screen it shows once started: `composer` (ready for input, the default),
    /// `permission` (a permission question), `trust` (a trust-this-folder dialog),
    /// `login` (a sign-in gate) or `working` (busy with a turn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen: Option<FakeScreen>,

    /// How long it takes before the ready screen appears, as a duration (`"2s"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = crate::manifest::rules::schema_duration)]
    pub ready_after: Option<String>,

    /// When a message preview is submitted it runs `cafleet message inbox`; with `reply`
    /// set it then answers each message's sender with this text. `{n}` is replaced with
    /// the number of the reply (1, 2, …) and `{from}` with the sender's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,

    /// Acknowledge every message it read (`cafleet message ack`), as an agent that has
    /// handled its inbox would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<bool>,

    /// A cafleet command, as its arguments without `cafleet`, run after each inbox read
    /// that returned messages: `["done", "all green"]` plays a Director that ends a
    /// `cafleet run` once it hears back from its team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_message: Option<Vec<String>>,

    /// Stop replying after this many replies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replies: Option<u32>,

    /// A message sent once, when the agent is ready: `{ to = "pong", text = "ping" }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opener: Option<FakeOpener>,

    /// Exit by itself this long after starting (`"5s"`), to play a crashing agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = crate::manifest::rules::schema_duration)]
    pub exit_after: Option<String>,

    /// The exit status used with `exit_after` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,

    /// Stop redrawing the screen this long after starting, to play a stalled agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = crate::manifest::rules::schema_duration)]
    pub freeze_after: Option<String>,
}

/// The screens the fake agent can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FakeScreen {
    Composer,
    Permission,
    Trust,
    Login,
    Working,
}

/// A message the fake sends once it is ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FakeOpener {
    /// The member to send to.
    pub to: String,
    /// The message body.
    pub text: String,
}
