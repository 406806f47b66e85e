//! The routes: the page and its assets, and the JSON API the page uses. Field names are
//! stable (the same as `ps --json` and `events --json` where those exist). Errors are
//! `{"error": "...", "hints": ["..."]}` with 400, 404, 429 or 500.
//!
//! | route | what |
//! |---|---|
//! | `GET /` `/app.js` `/app.css` | the page |
//! | `GET /api/fleets` | every fleet with its agent count |
//! | `GET /api/fleets/{fleet}/agents` | role, backend, model, state, unread, pane of each agent |
//! | `GET /api/fleets/{fleet}/agents/{name}/pane?lines=N` | the agent's pane text |
//! | `GET /api/fleets/{fleet}/messages?member=M&after=ID&before=ID&limit=N` | a page of the timeline: previews, not bodies |
//! | `GET /api/fleets/{fleet}/messages/{id}` | one message with its whole body |
//! | `GET /api/fleets/{fleet}/events?after=ID&limit=N` | the event log |
//! | `GET /api/fleets/{fleet}/operator?limit=N` | the operator's inbox: `unread` and the newest messages to `operator` |
//! | `POST /api/fleets/{fleet}/operator/read` | marks the operator's unread messages read |
//! | `POST /api/fleets/{fleet}/send` `{"to": NAME, "body": TEXT, "from": F}` | send as `operator` (or `from` the fleet's Director) |
//! | `POST /api/fleets/{fleet}/broadcast` `{"body": TEXT, "from": F}` | broadcast as `operator` (or the Director) |
//!
//! The two sending routes share a rate limit (`limit`): 429 past it.
//! | `GET /api/live` | server-sent `versions` events |

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::State as AppState;
use super::{assets, auth, limit, live, send};
use crate::error::{Error, Kind, Result};
use crate::registry::Registry;
use crate::registry::fleets::FleetRow;

/// The most rows one listing returns.
const MAX_LIMIT: i64 = 1000;
/// The most messages one timeline page returns, and how many without `limit`.
const MAX_MESSAGES: i64 = 200;
const DEFAULT_MESSAGES: i64 = 100;
/// The longest body the page may send.
const MAX_BODY: usize = 64 * 1024;

pub fn routes(state: AppState) -> Router {
    live::spawn_poller(state.clone());
    Router::new()
        .route("/", get(assets::index))
        .route("/app.js", get(assets::script))
        .route("/app.css", get(assets::style))
        .route("/api/fleets", get(fleets))
        .route("/api/fleets/{fleet}/agents", get(agents))
        .route("/api/fleets/{fleet}/agents/{name}/pane", get(pane))
        .route("/api/fleets/{fleet}/messages", get(messages))
        .route("/api/fleets/{fleet}/messages/{id}", get(message))
        .route("/api/fleets/{fleet}/events", get(events))
        .route("/api/fleets/{fleet}/operator", get(operator_inbox))
        .route("/api/fleets/{fleet}/operator/read", post(operator_read))
        .merge(
            Router::new()
                .route("/api/fleets/{fleet}/send", post(send_one))
                .route("/api/fleets/{fleet}/broadcast", post(broadcast))
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    limit::limit,
                )),
        )
        .route("/api/live", get(live::stream))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        .with_state(state)
}

/// An [`Error`] as an HTTP response.
pub struct ApiError(Error);

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError(err)
    }
}

/// Query parameters whose rejection is a JSON error like every other API error (axum's
/// own `Query` answers a malformed one with plain text).
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for Params<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        match <axum::extract::Query<T> as axum::extract::FromRequestParts<S>>::from_request_parts(
            parts, state,
        )
        .await
        {
            Ok(axum::extract::Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(ApiError(
                Error::usage(format!("bad query parameters: {}", rejection.body_text()))
                    .hint("see docs/web.md for each route's parameters"),
            )),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self.0.kind {
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Usage => StatusCode::BAD_REQUEST,
            Kind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Kind::Unreachable => StatusCode::BAD_GATEWAY,
            Kind::Failure | Kind::TeamDied => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = serde_json::json!({ "error": self.0.message, "hints": self.0.hints });
        (status, Json(body)).into_response()
    }
}

type ApiResult<T> = std::result::Result<Json<T>, ApiError>;

async fn not_found() -> ApiError {
    ApiError(Error::not_found("no such page").hint("the UI lives at `/`, the API under `/api/`"))
}

/// Runs `f` on the blocking pool (SQLite and tmux block) and returns its value as JSON.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::result::Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| ApiError(Error::failure(format!("a request handler failed: {err}"))))?
        .map_err(ApiError)
}

/// Runs `f` with the shared read connection.
async fn read<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Registry) -> Result<T> + Send + 'static,
) -> std::result::Result<T, ApiError> {
    let state = state.clone();
    blocking(move || {
        let registry = state
            .registry
            .lock()
            .map_err(|_| Error::failure("the registry connection is poisoned"))?;
        f(&registry)
    })
    .await
}

#[derive(Debug, Serialize)]
struct FleetJson {
    #[serde(flatten)]
    fleet: FleetRow,
    agents: usize,
    unread: i64,
    /// Messages to `operator` nobody has read yet.
    operator_unread: i64,
}

async fn fleets(State(state): State<AppState>) -> ApiResult<Vec<FleetJson>> {
    let rows = read(&state, |registry| {
        let mut out = Vec::new();
        for fleet in registry.fleets()? {
            let agents = registry
                .agents(fleet.id)?
                .into_iter()
                .filter(|a| a.status != "removed")
                .count();
            let counts = registry.unread_counts(fleet.id)?;
            let operator_unread = counts.get(send::OPERATOR).copied().unwrap_or(0);
            let unread = counts.values().sum::<i64>() - operator_unread;
            out.push(FleetJson {
                fleet,
                agents,
                unread,
                operator_unread,
            });
        }
        Ok(out)
    })
    .await?;
    Ok(Json(rows))
}

async fn agents(
    State(state): State<AppState>,
    Path(fleet): Path<String>,
) -> ApiResult<Vec<crate::apply::AgentStatus>> {
    let socket = state.tmux_socket.clone();
    let db = state.db.clone();
    // A connection of its own, not the shared read one: `list-panes` may wait on a slow
    // or stopped tmux server (up to its timeout), and no other route may wait with it.
    // A server that does not answer makes the states `unknown`, with the reason.
    let rows = blocking(move || {
        let registry = Registry::open(&db)?;
        let fleet = registry.require_fleet(&fleet)?;
        crate::apply::fleet_status(socket.as_deref(), &registry, &fleet)
    })
    .await?;
    Ok(Json(rows))
}

#[derive(Debug, Deserialize)]
struct PaneQuery {
    lines: Option<u32>,
}

#[derive(Debug, Serialize)]
struct PaneJson {
    fleet: String,
    name: String,
    pane: Option<String>,
    text: String,
}

async fn pane(
    State(state): State<AppState>,
    Path((fleet, name)): Path<(String, String)>,
    Params(query): Params<PaneQuery>,
) -> ApiResult<PaneJson> {
    let (fleet, agent) = read(&state, move |registry| {
        let fleet = registry.require_fleet(&fleet)?;
        let agent = registry.require_agent(fleet.id, &fleet.name, &name)?;
        Ok((fleet, agent))
    })
    .await?;
    let socket = state.tmux_socket.clone();
    let last = query.lines.filter(|n| *n > 0).map(|n| n.min(10_000));
    let json = blocking(move || {
        let text = crate::apply::pane_text(socket.as_deref(), &fleet, &agent, last)?;
        Ok(PaneJson {
            fleet: fleet.name,
            name: agent.name,
            pane: agent.pane_id,
            text,
        })
    })
    .await?;
    Ok(Json(json))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    member: Option<String>,
    after: Option<i64>,
    before: Option<i64>,
    limit: Option<i64>,
}

impl ListQuery {
    fn limit(&self) -> i64 {
        self.limit.unwrap_or(200).clamp(1, MAX_LIMIT)
    }
}

/// A page of the timeline: the newest `limit` (default 100, at most 200) messages with
/// an id above `after` and below `before`, oldest first, each with a preview of its body.
async fn messages(
    State(state): State<AppState>,
    Path(fleet): Path<String>,
    Params(query): Params<ListQuery>,
) -> ApiResult<Vec<crate::registry::timeline::TimelineEntry>> {
    let rows = read(&state, move |registry| {
        let fleet = registry.require_fleet(&fleet)?;
        registry.timeline_page(
            fleet.id,
            &crate::registry::timeline::Page {
                member: query.member.as_deref().filter(|m| !m.is_empty()),
                after: query.after.unwrap_or(0),
                before: query.before,
                limit: query
                    .limit
                    .unwrap_or(DEFAULT_MESSAGES)
                    .clamp(1, MAX_MESSAGES),
            },
        )
    })
    .await?;
    Ok(Json(rows))
}

/// One message with its whole body.
async fn message(
    State(state): State<AppState>,
    Path((fleet, id)): Path<(String, i64)>,
) -> ApiResult<crate::registry::messages::MessageRow> {
    let row = read(&state, move |registry| {
        let fleet = registry.require_fleet(&fleet)?;
        registry
            .message(fleet.id, id)?
            .ok_or_else(|| Error::not_found(format!("no message #{id} in fleet `{}`", fleet.name)))
    })
    .await?;
    Ok(Json(row))
}

async fn events(
    State(state): State<AppState>,
    Path(fleet): Path<String>,
    Params(query): Params<ListQuery>,
) -> ApiResult<Vec<crate::registry::events::EventRow>> {
    let rows = read(&state, move |registry| {
        let fleet = registry.require_fleet(&fleet)?;
        match query.after {
            Some(after) => registry.events(Some(fleet.id), None, after, query.limit()),
            // Without `after`, the newest `limit` events.
            None => registry.recent_events(fleet.id, query.limit()),
        }
    })
    .await?;
    Ok(Json(rows))
}

#[derive(Debug, Serialize)]
struct OperatorInbox {
    unread: i64,
    /// The newest messages to `operator`, oldest first.
    messages: Vec<crate::registry::messages::MessageRow>,
}

async fn operator_inbox(
    State(state): State<AppState>,
    Path(fleet): Path<String>,
    Params(query): Params<ListQuery>,
) -> ApiResult<OperatorInbox> {
    let inbox = read(&state, move |registry| {
        let fleet = registry.require_fleet(&fleet)?;
        Ok(OperatorInbox {
            unread: registry.unread_count(fleet.id, send::OPERATOR)?,
            messages: registry.addressed_to(fleet.id, send::OPERATOR, query.limit())?,
        })
    })
    .await?;
    Ok(Json(inbox))
}

#[derive(Debug, Serialize)]
struct MarkedRead {
    read: Vec<i64>,
}

/// Marks what the operator has now seen read, like `message inbox --as operator` does.
async fn operator_read(
    State(state): State<AppState>,
    Path(fleet): Path<String>,
    headers: axum::http::HeaderMap,
) -> ApiResult<MarkedRead> {
    require_json(&headers)?;
    let fleet = read(&state, move |registry| registry.require_fleet(&fleet)).await?;
    let db = state.db.clone();
    let read = blocking(move || {
        let mut registry = Registry::open(&db)?;
        let rows = registry.take_inbox(fleet.id, send::OPERATOR, false)?;
        Ok(rows.into_iter().map(|m| m.id).collect())
    })
    .await?;
    Ok(Json(MarkedRead { read }))
}

#[derive(Debug, Deserialize)]
struct SendBody {
    to: String,
    body: String,
    /// `operator` (the default) or the fleet's Director.
    from: Option<String>,
}

#[derive(Debug, Deserialize)]
struct BroadcastBody {
    body: String,
    from: Option<String>,
}

fn check_body(body: &str) -> Result<()> {
    if body.trim().is_empty() {
        return Err(Error::usage("the message is empty").hint("type something to send"));
    }
    if body.len() > MAX_BODY {
        return Err(Error::usage(format!(
            "the message is {} bytes, more than the {MAX_BODY} the page may send",
            body.len()
        ))
        .hint("send long text with `cafleet message send --file F`"));
    }
    Ok(())
}

/// Parses a JSON body by hand so a malformed one gets the same error shape as the rest.
fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|err| {
        Error::usage(format!("the request body is not the expected JSON: {err}"))
            .hint("send `{\"to\": NAME, \"body\": TEXT}` (or `{\"body\": TEXT}` to broadcast)")
    })
}

async fn dispatch(
    state: AppState,
    fleet: String,
    from: Option<String>,
    to: Option<String>,
    body: String,
) -> ApiResult<send::Sent> {
    check_body(&body)?;
    let fleet = read(&state, move |registry| registry.require_fleet(&fleet)).await?;
    let db = state.db.clone();
    let socket = state.tmux_socket.clone();
    let sent = blocking(move || {
        send::send(
            &db,
            socket.as_deref(),
            &fleet,
            from.as_deref(),
            to.as_deref(),
            &body,
        )
    })
    .await?;
    Ok(Json(sent))
}

async fn send_one(
    State(state): State<AppState>,
    Path(fleet): Path<String>,
    headers: axum::http::HeaderMap,
    bytes: axum::body::Bytes,
) -> std::result::Result<(StatusCode, Json<send::Sent>), ApiError> {
    require_json(&headers)?;
    let request: SendBody = parse(&bytes)?;
    let Json(sent) = dispatch(state, fleet, request.from, Some(request.to), request.body).await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

async fn broadcast(
    State(state): State<AppState>,
    Path(fleet): Path<String>,
    headers: axum::http::HeaderMap,
    bytes: axum::body::Bytes,
) -> std::result::Result<(StatusCode, Json<send::Sent>), ApiError> {
    require_json(&headers)?;
    let request: BroadcastBody = parse(&bytes)?;
    let Json(sent) = dispatch(state, fleet, request.from, None, request.body).await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

/// A JSON content type cannot be sent cross-site without a CORS preflight, which this
/// server never grants: a second wall behind the `Origin` check.
fn require_json(headers: &axum::http::HeaderMap) -> Result<()> {
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        Ok(())
    } else {
        Err(Error::usage("the request body must be JSON")
            .hint("send `Content-Type: application/json`"))
    }
}
