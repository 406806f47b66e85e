//! The admin web UI behind `cafleet web`: one embedded page (HTML, vanilla JS, CSS via
//! `include_str!`, nothing fetched from elsewhere) over a small JSON API under `/api/`,
//! with live updates over server-sent events. It reads through `registry` and
//! `apply::fleet_status`, and sends through the same broker calls as `cafleet message`.
//!
//! It is the only async code in cafleet: [`serve`] builds a `current_thread` tokio
//! runtime for this command alone. SQLite and tmux calls run on the blocking pool, so a
//! slow tmux never stalls the event loop. It listens on loopback by default; any other
//! address needs a token, and `auth` checks the token, the `Host` header and, on every
//! request that changes something, the `Origin`. `cafleet web` makes a random token
//! unless told `--token T` or `--no-token` (then loopback only).

mod api;
mod assets;
mod auth;
mod limit;
mod live;
mod send;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use camino::Utf8PathBuf;

use crate::error::{Error, Result};
use crate::registry::Registry;

pub use auth::{HostPolicy, random_token};

/// The port `cafleet web` listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8719;

/// How and what to serve.
#[derive(Debug, Clone)]
pub struct Options {
    pub bind: IpAddr,
    pub port: u16,
    pub token: Option<String>,
    pub db: Utf8PathBuf,
    /// `--tmux-socket`, overriding the socket each fleet recorded.
    pub tmux_socket: Option<String>,
}

impl Options {
    /// Refuses to expose the UI beyond this machine without a token.
    pub fn check(&self) -> Result<()> {
        if let Some(token) = &self.token
            && (token.len() < 8
                || !token
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)))
        {
            return Err(Error::usage(
                "the token must be at least 8 characters of letters, digits, `-`, `.`, `_` or `~`",
            )
            .hint("pass --token \"$(openssl rand -hex 16)\""));
        }
        if !self.bind.is_loopback() && self.token.is_none() {
            return Err(Error::usage(format!(
                "refusing to serve on {} without a token: anyone who can reach it could read and send messages",
                self.bind
            ))
            .hint("drop --no-token (a random token is the default; open the printed URL once, it sets a cookie), or keep the default --bind 127.0.0.1"));
        }
        Ok(())
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    pub db: Utf8PathBuf,
    pub tmux_socket: Option<String>,
    pub token: Option<String>,
    pub hosts: HostPolicy,
    /// One connection for the reads; held only for the length of one query.
    pub registry: Mutex<Registry>,
    pub versions: tokio::sync::watch::Sender<crate::registry::timeline::Versions>,
    /// The rate limit of the send routes (see `limit`).
    pub sends: limit::Bucket,
}

pub(crate) type State = Arc<Shared>;

/// What every request shares, with the registry open. Called outside the tokio runtime:
/// the PostgreSQL client blocks on a runtime of its own, which tokio refuses to start
/// inside another (so registry calls run on the blocking pool, and the last handle on
/// the connection is dropped outside the runtime too).
fn shared(options: &Options, local: SocketAddr) -> Result<State> {
    let registry = Registry::open(&options.db)?;
    let versions = registry.versions()?;
    let (tx, _) = tokio::sync::watch::channel(versions);
    Ok(Arc::new(Shared {
        db: options.db.clone(),
        tmux_socket: options.tmux_socket.clone(),
        token: options.token.clone(),
        hosts: HostPolicy::new(options.bind, local.port()),
        registry: Mutex::new(registry),
        versions: tx,
        sends: limit::Bucket::new(limit::BURST, limit::PER_SECOND),
    }))
}

/// The HTTP application: the page, its assets, the API and the live stream. Must be
/// called inside a tokio runtime: it starts the live-update poller there.
fn router(shared: &State) -> axum::Router {
    api::routes(shared.clone())
}

/// Builds the runtime, binds, calls `ready` with the address actually bound (for `--port
/// 0` and for printing), then serves until the process is stopped.
pub fn serve(options: &Options, ready: impl FnOnce(SocketAddr) -> Result<()>) -> Result<()> {
    options.check()?;
    // Bound before the runtime starts, so the registry can be opened outside it.
    let addr = SocketAddr::new(options.bind, options.port);
    let listener = std::net::TcpListener::bind(addr).map_err(|err| {
        Error::failure(format!("cannot listen on {addr}: {err}"))
            .hint("pick another port with --port P (0 picks a free one)")
    })?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    // Declared before the runtime: dropped after it, outside any runtime.
    let shared = shared(options, local)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|err| Error::failure(format!("cannot start the web server's runtime: {err}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let app = router(&shared);
        ready(local)?;
        accept_loop(listener, app).await
    })
}

/// How long a client may take to send a request's whole header: a connection that sends
/// half a header and stalls is closed after this, instead of being held open for good.
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves every connection with hyper's HTTP/1, with [`HEADER_TIMEOUT`] (axum's own
/// `serve` gives hyper no timer, and without one hyper never times a header out).
async fn accept_loop(listener: tokio::net::TcpListener, app: axum::Router) -> Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors and the like: wait a moment rather than spin.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = http.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            // A client that went away or timed out is not the server's failure.
            let _ = connection.await;
        });
    }
}

/// Starts [`serve`]'s machinery on a thread of its own for tests: returns the bound
/// address once it accepts connections. The server lives until the process exits.
#[doc(hidden)]
pub fn spawn_for_tests(options: Options) -> Result<SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let done = tx.clone();
        let outcome = serve(&options, move |addr| {
            let _ = tx.send(Ok(addr));
            Ok(())
        });
        if let Err(err) = outcome {
            let _ = done.send(Err(err));
        }
    });
    rx.recv()
        .map_err(|_| Error::failure("the test web server thread ended"))?
}
