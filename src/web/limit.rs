//! The rate limit on the routes that send: a token bucket shared by every client, so a
//! runaway script (or an agent looping over `curl`) cannot store thousands of messages a
//! second and keep the fleet's courier typing for minutes. [`BURST`] sends at once, then [`PER_SECOND`] a
//! second; past that `429 Too Many Requests` with `Retry-After`, nothing stored.
//!
//! A dozen lines of arithmetic under a mutex rather than `tower_governor`: one global
//! bucket needs no per-IP keying (the UI serves one operator on loopback), and that crate
//! would bring `governor`, `forwarded-header-value` and their dependencies for it.

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::State as AppState;

/// Sends accepted at once after a quiet spell.
pub const BURST: f64 = 20.0;
/// Sends a second accepted after the burst.
pub const PER_SECOND: f64 = 5.0;

/// A token bucket: `tokens` refill at `rate` a second up to `capacity`.
#[derive(Debug)]
pub struct Bucket {
    capacity: f64,
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    pub fn new(capacity: f64, rate: f64) -> Bucket {
        Bucket {
            capacity,
            rate,
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    /// Takes one token at `now`; `Err(seconds)` until the next one when there is none.
    pub fn take(&self, now: Instant) -> Result<(), f64> {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (tokens, since) = *state;
        let elapsed = now.saturating_duration_since(since).as_secs_f64();
        let tokens = (tokens + elapsed * self.rate).min(self.capacity);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            Ok(())
        } else {
            *state = (tokens, now);
            Err((1.0 - tokens) / self.rate)
        }
    }
}

/// The middleware on the send routes.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.sends.take(Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let body = serde_json::json!({
                "error": format!(
                    "too many messages: at most {BURST} at once, then {PER_SECOND} a second"
                ),
                "hints": ["wait a moment and send again"],
            });
            let retry = (wait.ceil() as u64).max(1).to_string();
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, retry)],
                axum::Json(body),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate() {
        let bucket = Bucket::new(3.0, 2.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(bucket.take(t0).is_ok());
        }
        let wait = bucket.take(t0).unwrap_err();
        assert!((wait - 0.5).abs() < 1e-9, "{wait}");
        assert!(bucket.take(t0 + Duration::from_millis(400)).is_err());
        assert!(bucket.take(t0 + Duration::from_millis(600)).is_ok());
        // Never more than the capacity, however long the pause.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(bucket.take(later).is_ok());
        }
        assert!(bucket.take(later).is_err());
    }
}
