//! How to point each agent CLI at a running scripted model server: the environment
//! variables and extra arguments a launch needs, and the model name to pass. Used by
//! `cafleet model serve` to tell users, and meant for launching agents against it.

use serde_json::json;

use crate::manifest::raw::BackendName;

/// The provider name cafleet registers with codex and opencode.
pub const PROVIDER: &str = "cafleet";
/// The environment variable codex reads the (ignored) API key from.
pub const CODEX_KEY_ENV: &str = "SCRIPTED_MODEL_KEY";
/// The token every CLI sends; the server accepts any.
pub const TOKEN: &str = "cafleet-scripted";

/// What launching one backend against the server takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointing {
    /// Variables to set in the agent's environment.
    pub env: Vec<(String, String)>,
    /// Arguments to add to its command line (before the prompt).
    pub args: Vec<String>,
    /// The value for the backend's `--model` / `-m`.
    pub model: String,
}

/// How to point `backend` at the server whose root is `base` (`http://127.0.0.1:PORT`,
/// no trailing slash), asking for `model`. `None` for backends that call no model
/// (`command`, `fake`).
pub fn point_at(backend: BackendName, base: &str, model: &str) -> Option<Pointing> {
    let base = base.trim_end_matches('/');
    let env = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    match backend {
        // claude appends /v1/messages itself. An auth token (not an API key) skips the
        // "use this API key?" dialog; the optional traffic (updates, telemetry) would
        // only time out offline.
        BackendName::Claude => Some(Pointing {
            env: env(&[
                ("ANTHROPIC_BASE_URL", base),
                ("ANTHROPIC_AUTH_TOKEN", TOKEN),
                ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ]),
            args: Vec::new(),
            model: model.to_string(),
        }),
        BackendName::Codex => Some(Pointing {
            env: env(&[(CODEX_KEY_ENV, TOKEN)]),
            args: vec![
                "-c".into(),
                format!(
                    "model_providers.{PROVIDER}={{name=\"{PROVIDER}\",base_url=\"{base}/v1\",env_key=\"{CODEX_KEY_ENV}\",wire_api=\"responses\"}}"
                ),
                "-c".into(),
                format!("model_provider={PROVIDER}"),
            ],
            model: model.to_string(),
        }),
        BackendName::Opencode => {
            let config = json!({
                "provider": {PROVIDER: {
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "cafleet scripted model",
                    "options": {"baseURL": format!("{base}/v1"), "apiKey": TOKEN},
                    "models": {model: {"name": model}},
                }}
            });
            Some(Pointing {
                env: env(&[
                    ("OPENCODE_CONFIG_CONTENT", &config.to_string()),
                    ("OPENCODE_DISABLE_MODELS_FETCH", "1"),
                ]),
                args: Vec::new(),
                model: format!("{PROVIDER}/{model}"),
            })
        }
        BackendName::Command | BackendName::Fake => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cli_gets_its_endpoint() {
        let claude = point_at(BackendName::Claude, "http://127.0.0.1:9/", "m").unwrap();
        assert!(
            claude
                .env
                .contains(&("ANTHROPIC_BASE_URL".into(), "http://127.0.0.1:9".into()))
        );
        let codex = point_at(BackendName::Codex, "http://127.0.0.1:9", "m").unwrap();
        assert!(codex.args[1].contains("base_url=\"http://127.0.0.1:9/v1\""));
        assert!(codex.args[1].contains("wire_api=\"responses\""));
        let opencode = point_at(BackendName::Opencode, "http://127.0.0.1:9", "m").unwrap();
        assert_eq!(opencode.model, "cafleet/m");
        let config: serde_json::Value = serde_json::from_str(&opencode.env[0].1).unwrap();
        assert_eq!(
            config.pointer("/provider/cafleet/options/baseURL"),
            Some(&json!("http://127.0.0.1:9/v1"))
        );
        assert_eq!(point_at(BackendName::Fake, "http://x", "m"), None);
    }
}
