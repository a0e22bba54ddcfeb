//! What the control plane's tests share: a control node served on a free loopback port.

use std::net::SocketAddr;
use std::time::Duration;

use herald_bus::StatusStore;
use herald_config::ControlConfig;
use herald_control::{Control, ControlDeps, ControlError};
use herald_rules::{RulesClient, RulesStore};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A `heraldctl` command with none of its settings taken from this process's
/// environment (`HERALDCTL_*`): only what the test passes counts.
pub(crate) fn heraldctl() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_heraldctl"));
    for var in [
        "HERALDCTL_SERVER",
        "HERALDCTL_TOKEN",
        "HERALDCTL_CA",
        "HERALDCTL_CERT",
        "HERALDCTL_KEY",
        "HERALDCTL_TLS_SERVER_NAME",
    ] {
        command.env_remove(var);
    }
    command
}

/// The dependencies of a control node on `client`, `rules` and, for message lookup,
/// `status`.
pub(crate) fn deps(
    client: &RulesClient,
    rules: RulesStore,
    status: Option<StatusStore>,
) -> ControlDeps {
    ControlDeps {
        rules_client: client.clone(),
        rules,
        status,
        opt_outs: None,
        porting: None,
        dead_letters: None,
        node_timeout: Duration::from_secs(2),
        node_token: None,
        node_tls: None,
        route_time_zone: herald_rules::model::UtcOffset::UTC,
    }
}

/// A control node serving `config` with `deps` on a free loopback port.
pub(crate) struct Served {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    stop: oneshot::Sender<()>,
    serving: JoinHandle<Result<(), ControlError>>,
}

impl Served {
    /// Starts it; panics if `config` is refused.
    pub(crate) async fn start(config: &ControlConfig, deps: ControlDeps) -> Served {
        let control = Control::new(config, deps).expect("a valid control config");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound listener");
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(control.serve(listener, async {
            let _ = stopped.await;
        }));
        Served {
            addr,
            stop,
            serving,
        }
    }

    /// Stops it; it must have served without error.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        self.serving
            .await
            .expect("the serving task")
            .expect("served without error");
    }
}
