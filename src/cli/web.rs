//! `cafleet web`: serve the admin web UI (see `crate::web`) until stopped.

use std::net::IpAddr;
use std::process::ExitCode;

use super::{Globals, print};
use crate::error::Result;
use crate::web;

/// Serve the admin web UI: fleets, agents, the message timeline and the event log, live;
/// send messages as `operator`
///
/// Listens on 127.0.0.1 unless told otherwise; any other address needs --token, and then
/// every request must carry it (open the printed URL once: it sets a cookie).
#[derive(Debug, clap::Args)]
pub struct WebArgs {
    /// The port to listen on (0 picks a free one)
    #[arg(long, default_value_t = web::DEFAULT_PORT)]
    pub port: u16,
    /// The address to listen on
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: IpAddr,
    /// A secret every request must carry; required to bind beyond loopback
    #[arg(
        long,
        env = "CAFLEET_WEB_TOKEN",
        value_name = "T",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

pub fn run(globals: &Globals, args: WebArgs) -> Result<ExitCode> {
    let options = web::Options {
        bind: args.bind,
        port: args.port,
        token: args.token,
        db: globals.db_path()?,
        tmux_socket: globals.tmux_socket.clone(),
    };
    options.check()?;
    web::serve(&options, |addr| {
        let host = if addr.ip().is_unspecified() {
            format!("localhost:{}", addr.port())
        } else {
            addr.to_string()
        };
        let query = match &options.token {
            Some(token) => format!("?token={token}"),
            None => String::new(),
        };
        print(&format!("serving the web UI at http://{host}/{query}\n"))
    })?;
    Ok(ExitCode::SUCCESS)
}
