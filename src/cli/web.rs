//! `cafleet web`: serve the admin web UI (see `crate::web`) until stopped.

use std::net::IpAddr;
use std::process::ExitCode;

use super::{Globals, print};
use crate::error::Result;
use crate::web;

/// Serve the admin web UI: fleets, agents, the message timeline and the event log, live;
/// send messages as `operator`
///
/// Listens on 127.0.0.1 unless told otherwise. Like Jupyter, every request must carry a
/// token, random unless --token gives one: open the printed URL (it ends in ?token=…)
/// once and a cookie keeps it. --no-token serves without one, on loopback only.
#[derive(Debug, clap::Args)]
pub struct WebArgs {
    /// The port to listen on (0 picks a free one)
    #[arg(long, default_value_t = web::DEFAULT_PORT)]
    pub port: u16,
    /// The address to listen on
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: IpAddr,
    /// The secret every request must carry (default: a random one, printed in the URL)
    #[arg(
        long,
        env = "CAFLEET_WEB_TOKEN",
        value_name = "T",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Serve without a token: any local process, the agents included, could then read
    /// every message and send as `operator` (loopback only)
    #[arg(long)]
    pub no_token: bool,
}

pub fn run(globals: &Globals, args: WebArgs) -> Result<ExitCode> {
    // The UI reads and sends in every fleet: not an agent's lane.
    if let Some(me) = super::identity::caller()? {
        return Err(crate::error::Error::usage(format!(
            "`{}` of fleet `{}` cannot serve the web UI: it reaches every fleet",
            me.member, me.fleet
        ))
        .hint("run `cafleet web` outside the agents' panes"));
    }
    let token = match (args.no_token, args.token) {
        (true, _) => None,
        (false, Some(token)) => Some(token),
        (false, None) => Some(web::random_token()?),
    };
    let options = web::Options {
        bind: args.bind,
        port: args.port,
        token,
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
