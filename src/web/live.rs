//! Live updates: one task polls the registry every [`POLL`] — SQLite's `data_version`,
//! and only when another connection committed, the change markers
//! (`Registry::versions`, one cheap statement) — and publishes them on a watch channel; every
//! open page holds a server-sent-events stream of them and refetches only the parts
//! whose marker moved. Messages sent by the CLI or by agents therefore show up within a
//! poll, without the writers knowing the UI exists.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::State as AppState;

pub const POLL: Duration = Duration::from_millis(300);

/// Starts the poller on the current runtime. It only queries while a page is listening.
pub fn spawn_poller(state: AppState) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(POLL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seen: Option<i64> = None;
        loop {
            ticks.tick().await;
            if state.versions.receiver_count() == 0 {
                // Nobody listens: the next listener gets a fresh look.
                seen = None;
                continue;
            }
            let polled = state.clone();
            let versions = tokio::task::spawn_blocking(move || {
                let registry = polled.registry.lock().map_err(|_| ())?;
                let data_version = registry.data_version().map_err(|_| ())?;
                if seen == Some(data_version) {
                    return Ok((data_version, None));
                }
                let versions = registry.versions().map_err(|_| ())?;
                Ok::<_, ()>((data_version, Some(versions)))
            })
            .await;
            // A failed poll (registry busy, thread gone) just waits for the next tick.
            if let Ok(Ok((data_version, Some(versions)))) = versions {
                seen = Some(data_version);
                state.versions.send_if_modified(|current| {
                    let changed = *current != versions;
                    *current = versions;
                    changed
                });
            }
        }
    });
}

/// `GET /api/live`: an `event: versions` with the current markers at once, then one
/// each time they change.
pub async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut rx = state.versions.subscribe();
    rx.mark_changed();
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let versions = rx.borrow_and_update().clone();
        let event = Event::default()
            .event("versions")
            .json_data(&versions)
            .unwrap_or_else(|_| Event::default().comment("unencodable"));
        Some((Ok(event), rx))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
