//! The HTTP side of `cafleet model serve`: one axum router answering the three APIs from
//! the script, statelessly (each request carries its whole conversation), with an
//! optional JSON-lines log of what it answered. Runs on a `current_thread` tokio runtime
//! built for this command alone and stops on SIGINT or SIGTERM.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use axum::http::{Method, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::conversation::{Answer, Conversation, fitting_text, input_tokens};
use super::script::{Action, Script};
use super::{Api, anthropic, chat, responses};
use crate::error::{Error, Result};

/// What `serve` needs.
pub struct Options {
    pub listen: SocketAddr,
    pub script: Script,
    /// An open log file (append mode), one JSON line per request.
    pub log: Option<std::fs::File>,
}

struct Shared {
    script: Script,
    log: Option<Mutex<std::fs::File>>,
}

type AppState = Arc<Shared>;

/// The text a request without a shell tool gets (a title, say).
pub const SHORT_ANSWER: &str = "cafleet";

/// The router, for tests and for [`serve`].
fn router(shared: AppState) -> Router {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .route("/v1/responses", post(responses_api))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        // claude checks the base URL with `HEAD /` before its first request.
        .route("/", get(root))
        .fallback(unknown)
        .with_state(shared)
}

/// Builds the runtime, binds, calls `ready` with the bound address, then serves until
/// SIGINT or SIGTERM.
pub fn serve(options: Options, ready: impl FnOnce(SocketAddr) -> Result<()>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|err| Error::failure(format!("cannot start the model server's runtime: {err}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(|err| {
                Error::failure(format!("cannot listen on {}: {err}", options.listen)).hint(
                    "pick another address with --listen 127.0.0.1:PORT (port 0 picks a free one)",
                )
            })?;
        let local = listener.local_addr()?;
        let shared = Arc::new(Shared {
            script: options.script,
            log: options.log.map(Mutex::new),
        });
        let app = router(shared);
        let stop = stop_signal()?;
        ready(local)?;
        tokio::select! {
            outcome = axum::serve(listener, app) => outcome
                .map_err(|err| Error::failure(format!("the model server stopped: {err}"))),
            () = stop => Ok(()),
        }
    })
}

/// Resolves on the first SIGINT or SIGTERM.
fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|err| Error::failure(format!("cannot watch for SIGINT: {err}")))?;
    let mut terminate = signal(SignalKind::terminate())
        .map_err(|err| Error::failure(format!("cannot watch for SIGTERM: {err}")))?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Decides the answer: the script's next step for the conversation, or a short (JSON when
/// asked) text for requests that offer no shell tool.
pub fn decide(script: &Script, conversation: &Conversation) -> (Option<usize>, Answer, Duration) {
    let Some(shell) = &conversation.shell else {
        let text = fitting_text(
            conversation.json.as_ref(),
            &conversation.system,
            SHORT_ANSWER,
        );
        return (None, Answer::Text(text), Duration::ZERO);
    };
    let text = conversation.user_text.as_deref().unwrap_or_default();
    let step = script.step(text, &conversation.model, conversation.calls);
    let answer = match step.action {
        Action::Run(command) => Answer::Call {
            tool: shell.name.clone(),
            arguments: shell.arguments(&command),
            command,
        },
        Action::Reply(reply) if conversation.json.is_some() => Answer::Text(fitting_text(
            conversation.json.as_ref(),
            &conversation.system,
            &reply,
        )),
        Action::Reply(reply) => Answer::Text(reply),
    };
    (step.turn, answer, step.delay)
}

fn error(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    let message = message.into();
    (
        status,
        Json(json!({"type": "error", "error": {"type": kind, "message": message}})),
    )
        .into_response()
}

async fn messages(State(shared): State<AppState>, body: Bytes) -> Response {
    answer(&shared, Api::Anthropic, &body).await
}

async fn responses_api(State(shared): State<AppState>, body: Bytes) -> Response {
    answer(&shared, Api::Responses, &body).await
}

async fn chat_completions(State(shared): State<AppState>, body: Bytes) -> Response {
    answer(&shared, Api::Chat, &body).await
}

async fn count_tokens(body: Bytes) -> Response {
    Json(json!({"input_tokens": input_tokens(&body)})).into_response()
}

async fn root() -> &'static str {
    "cafleet scripted model: POST /v1/messages, /v1/responses or /v1/chat/completions\n"
}

async fn models() -> Response {
    Json(json!({"object": "list", "data": [
        {"id": super::DEFAULT_MODEL, "object": "model", "created": 0, "owned_by": "cafleet"}
    ]}))
    .into_response()
}

async fn unknown(State(shared): State<AppState>, method: Method, uri: Uri) -> Response {
    shared.log(
        json!({"api": null, "method": method.as_str(), "path": uri.to_string(), "status": 404}),
    );
    error(
        StatusCode::NOT_FOUND,
        "not_found_error",
        format!(
            "the scripted model serves POST /v1/messages, /v1/responses and /v1/chat/completions, not {method} {}",
            uri.path()
        ),
    )
}

impl Shared {
    fn log(&self, mut line: Value) {
        let Some(log) = &self.log else { return };
        line["time_ms"] = json!(super::now_millis());
        let mut text = line.to_string();
        text.push('\n');
        if let Ok(mut file) = log.lock() {
            // A full disk must not take the server down; the answer still goes out.
            let _ = file.write_all(text.as_bytes());
        }
    }
}

/// One step of the stream: an event, or a pause that keeps the agent "working".
enum Frame {
    Event(Event),
    Pause(Duration),
}

async fn answer(shared: &Shared, api: Api, body: &Bytes) -> Response {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(err) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!("the body is not JSON: {err}"),
            );
        }
    };
    let conversation = match api {
        Api::Anthropic => anthropic::read(&value),
        Api::Responses => responses::read(&value),
        Api::Chat => chat::read(&value),
    };
    let (turn, answer, delay) = decide(&shared.script, &conversation);
    let answered = match &answer {
        Answer::Call { command, .. } => json!({"command": command}),
        Answer::Text(text) => json!({"text": text}),
    };
    shared.log(json!({
        "api": api.name(), "model": conversation.model, "turn": turn,
        "calls_before": conversation.calls, "answer": answered,
        "last_tool_result": conversation.last_result, "user": conversation.user_text,
    }));
    let model = conversation.model.as_str();
    let tokens = input_tokens(body);
    if !conversation.stream {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let body = match api {
            Api::Anthropic => anthropic::body(&answer, model, tokens),
            Api::Responses => responses::body(&answer, model, tokens),
            Api::Chat => chat::body(&answer, model, tokens),
        };
        return Json(body).into_response();
    }
    let events = match api {
        Api::Anthropic => anthropic::events(&answer, model, tokens),
        Api::Responses => responses::events(&answer, model, tokens),
        Api::Chat => {
            let usage = value
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            chat::events(&answer, model, tokens, usage)
        }
    };
    let mut frames: std::collections::VecDeque<Frame> =
        events.into_iter().map(Frame::Event).collect();
    if !delay.is_zero() {
        // After the opening event: the CLI shows the model as answering meanwhile.
        frames.insert(1.min(frames.len()), Frame::Pause(delay));
    }
    let stream = futures_util::stream::unfold(frames, |mut frames| async move {
        loop {
            match frames.pop_front()? {
                Frame::Pause(delay) => tokio::time::sleep(delay).await,
                Frame::Event(event) => return Some((Ok::<_, Infallible>(event), frames)),
            }
        }
    });
    Sse::new(stream).into_response()
}
