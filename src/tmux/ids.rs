//! Typed tmux ids: `%N` panes, `@N` windows, `$N` sessions. They are the only targets
//! cafleet ever passes to tmux, because names are rewritten by tmux (`a.b:c` becomes
//! `a_b_c`) and matched by prefix, while ids are exact. They serialise as their tmux
//! spelling so the registry and `--json` output show what `tmux` itself prints.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

macro_rules! tmux_id {
    ($(#[$doc:meta])* $name:ident, $sigil:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u32);

        impl $name {
            /// The id with number `n`, as tmux would print it with this sigil.
            pub fn new(n: u32) -> Self {
                $name(n)
            }

            /// The number after the sigil.
            pub fn number(self) -> u32 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $sigil, self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Error> {
                s.strip_prefix($sigil)
                    .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|digits| digits.parse().ok())
                    .map($name)
                    .ok_or_else(|| {
                        Error::usage(format!(
                            concat!("`{}` is not a tmux ", $what, " id (expected `", $sigil, "N`)"),
                            s.escape_debug()
                        ))
                    })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

tmux_id!(
    /// A pane, `%N`: unique on its server for the server's lifetime, reused after a
    /// server restart (so callers check the pane's tags before acting on it).
    PaneId,
    "%",
    "pane"
);
tmux_id!(
    /// A window, `@N`.
    WindowId,
    "@",
    "window"
);
tmux_id!(
    /// A session, `$N`.
    SessionId,
    "$",
    "session"
);

/// Anything a tmux `-t` flag accepts from cafleet: always an id, never a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Pane(PaneId),
    Window(WindowId),
    Session(SessionId),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Pane(id) => id.fmt(f),
            Target::Window(id) => id.fmt(f),
            Target::Session(id) => id.fmt(f),
        }
    }
}

impl From<PaneId> for Target {
    fn from(id: PaneId) -> Self {
        Target::Pane(id)
    }
}

impl From<WindowId> for Target {
    fn from(id: WindowId) -> Self {
        Target::Window(id)
    }
}

impl From<SessionId> for Target {
    fn from(id: SessionId) -> Self {
        Target::Session(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text_and_json() {
        let pane: PaneId = "%12".parse().unwrap();
        assert_eq!(pane, PaneId::new(12));
        assert_eq!(pane.to_string(), "%12");
        assert_eq!(serde_json::to_string(&pane).unwrap(), r#""%12""#);
        assert_eq!(serde_json::from_str::<PaneId>(r#""%12""#).unwrap(), pane);
        assert_eq!("@3".parse::<WindowId>().unwrap().number(), 3);
        assert_eq!("$0".parse::<SessionId>().unwrap().to_string(), "$0");
    }

    #[test]
    fn rejects_anything_else() {
        for bad in [
            "",
            "%",
            "12",
            "@12",
            "%-1",
            "%+1",
            "% 1",
            "%1 ",
            "%1a",
            "%99999999999",
            "%١",
        ] {
            assert!(bad.parse::<PaneId>().is_err(), "{bad:?} parsed");
        }
        assert!("%1".parse::<WindowId>().is_err());
        assert!("@1".parse::<SessionId>().is_err());
        assert!(serde_json::from_str::<PaneId>(r#""@1""#).is_err());
        assert!(serde_json::from_str::<PaneId>("1").is_err());
    }
}
