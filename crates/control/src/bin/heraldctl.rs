//! `heraldctl`: the command line for Herald's control plane (`herald.admin.v1.AdminService`).
//!
//! `get`, `msg`, `route explain`, `drain`, `apply -f rules.yaml`, `audit` and `opt-outs`
//! (export, import, add, remove, history); human tables by
//! default, `-o json|yaml`. Errors print the gRPC code and message and exit with 1. See
//! `docs/control.md`.
#![forbid(unsafe_code)]

#[path = "heraldctl/dead_letters.rs"]
mod dead_letters;
#[path = "heraldctl/opt_outs.rs"]
mod opt_outs;
#[path = "heraldctl/porting.rs"]
mod porting;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use herald_proto::admin::v1 as api;
use herald_proto::admin::v1::admin_service_client::AdminServiceClient;
use herald_rules::{
    Account, Carrier, MoRoute, Network, OptOutList, PasswordHash, Route, RulesObject,
};
use serde_json::{Map, Value};
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Status};

/// Herald's control plane from the command line.
#[derive(Debug, Parser)]
#[command(name = "heraldctl", version, about)]
struct Cli {
    /// The control node's AdminService URL.
    #[arg(
        long,
        env = "HERALDCTL_SERVER",
        default_value = "http://127.0.0.1:9092",
        global = true
    )]
    server: String,
    /// The bearer token (one of the control node's `control.tokens_file`).
    #[arg(long, env = "HERALDCTL_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    #[command(flatten)]
    tls: TlsArgs,
    /// The output format.
    #[arg(short, long, value_enum, default_value_t = Output::Table, global = true)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

/// TLS to a control node that sets `control.tls` (an `https://` server URL).
#[derive(Debug, clap::Args)]
struct TlsArgs {
    /// CA certificate (PEM) that signed the control node's certificate; needed for
    /// `https://`.
    #[arg(long = "ca", env = "HERALDCTL_CA", global = true)]
    ca: Option<PathBuf>,
    /// Client certificate (PEM) for mTLS: it authenticates the calls instead of a token.
    #[arg(long, env = "HERALDCTL_CERT", global = true, requires = "key")]
    cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, env = "HERALDCTL_KEY", global = true, requires = "cert")]
    key: Option<PathBuf>,
    /// The name the control node's certificate must carry, when not the server URL's host.
    #[arg(long, env = "HERALDCTL_TLS_SERVER_NAME", global = true)]
    tls_server_name: Option<String>,
}

impl TlsArgs {
    /// The client TLS settings for `server`: `None` for `http://`.
    fn client_config(&self, server: &str) -> anyhow::Result<Option<ClientTlsConfig>> {
        let https = server.starts_with("https://");
        let any_set = self.ca.is_some() || self.cert.is_some() || self.tls_server_name.is_some();
        if !https {
            if any_set {
                bail!(
                    "--ca, --cert and --tls-server-name need an https:// server URL, not {server:?}"
                );
            }
            return Ok(None);
        }
        let Some(ca) = &self.ca else {
            bail!(
                "an https:// server needs --ca: the CA certificate that signed the control node's certificate"
            );
        };
        let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)?));
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        if let Some(name) = &self.tls_server_name {
            config = config.domain_name(name.clone());
        }
        Ok(Some(config))
    }
}

fn read(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Lists rules objects, nodes, sessions or binds.
    Get {
        /// What to list.
        what: What,
        /// Sessions and binds: only this node's.
        #[arg(long, default_value = "")]
        node: String,
    },
    /// A message's status history.
    Msg {
        /// The message id.
        id: String,
    },
    /// Route decisions.
    Route {
        #[command(subcommand)]
        command: RouteCommand,
    },
    /// Drains a node (as SIGTERM would).
    Drain {
        /// The node id.
        node: String,
    },
    /// Makes the rules match a YAML file: creates and updates its objects (compare-and-swap
    /// on the revision read), deletes the others of its kinds with `--prune`.
    Apply {
        /// The rules file (keys accounts, carriers, routes, mo_routes, networks, opt_outs).
        #[arg(short, long)]
        file: PathBuf,
        /// Prints the plan, changes nothing.
        #[arg(long)]
        dry_run: bool,
        /// Deletes objects of the file's kinds that the file does not hold.
        #[arg(long)]
        prune: bool,
    },
    /// The audit log: who changed what through the admin API, newest first.
    Audit {
        /// At most this many records.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Subscriber opt-outs: export, import, add, remove, history.
    OptOuts {
        #[command(subcommand)]
        command: opt_outs::OptOutCommand,
    },
    /// An account's given-up receipts and MO: list, replay to its webhook.
    DeadLetters {
        #[command(subcommand)]
        command: dead_letters::DeadLetterCommand,
    },
    /// Ported numbers (number portability): import a CSV.
    Porting {
        #[command(subcommand)]
        command: porting::PortingCommand,
    },
}

#[derive(Debug, Subcommand)]
enum RouteCommand {
    /// Explains the route decision for a message.
    Explain {
        /// The sending account.
        #[arg(long)]
        account: String,
        /// The destination address.
        #[arg(long)]
        to: String,
        /// The source address.
        #[arg(long, default_value = "")]
        from: String,
        /// The data_coding.
        #[arg(long, default_value_t = 0)]
        coding: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum What {
    Accounts,
    Carriers,
    Routes,
    MoRoutes,
    Networks,
    OptOuts,
    Nodes,
    Sessions,
    Binds,
}

/// A rules kind as heraldctl names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RulesKind {
    Carrier,
    Network,
    Account,
    Route,
    MoRoute,
    OptOut,
}

impl RulesKind {
    /// In the order apply writes them.
    const ALL: [RulesKind; 6] = [
        RulesKind::Carrier,
        RulesKind::Network,
        RulesKind::Account,
        RulesKind::Route,
        RulesKind::MoRoute,
        RulesKind::OptOut,
    ];

    fn api(self) -> api::Kind {
        match self {
            RulesKind::Account => api::Kind::Account,
            RulesKind::Carrier => api::Kind::Carrier,
            RulesKind::Route => api::Kind::Route,
            RulesKind::MoRoute => api::Kind::MoRoute,
            RulesKind::OptOut => api::Kind::OptOut,
            RulesKind::Network => api::Kind::Network,
        }
    }

    /// The singular name in plans.
    fn name(self) -> &'static str {
        match self {
            RulesKind::Account => "account",
            RulesKind::Carrier => "carrier",
            RulesKind::Route => "route",
            RulesKind::MoRoute => "mo_route",
            RulesKind::OptOut => "opt_out",
            RulesKind::Network => "network",
        }
    }

    /// The key in a rules file and in `get -o json|yaml`.
    fn key(self) -> &'static str {
        match self {
            RulesKind::Account => "accounts",
            RulesKind::Carrier => "carriers",
            RulesKind::Route => "routes",
            RulesKind::MoRoute => "mo_routes",
            RulesKind::OptOut => "opt_outs",
            RulesKind::Network => "networks",
        }
    }

    fn from_key(key: &str) -> Option<RulesKind> {
        RulesKind::ALL
            .into_iter()
            .find(|k| k.key() == key || k.key().replace('_', "-") == key)
    }

    /// The table columns after id: header and JSON pointer.
    fn columns(self) -> &'static [(&'static str, &'static str)] {
        match self {
            RulesKind::Account => &[
                ("NAME", "/name"),
                ("TPS", "/quota/tps"),
                ("WINDOW", "/window"),
                ("MAX_BINDS", "/max_binds"),
            ],
            RulesKind::Carrier => &[
                ("HOST", "/host"),
                ("PORT", "/port"),
                ("SYSTEM_ID", "/system_id"),
                ("BINDS", "/binds"),
                ("TPS", "/throughput/tps"),
            ],
            RulesKind::Route => &[
                ("PRIORITY", "/priority"),
                ("ENABLED", "/enabled"),
                ("ACTION", "/action/type"),
                ("CARRIER", "/action/carrier"),
            ],
            RulesKind::MoRoute => &[
                ("PRIORITY", "/priority"),
                ("ENABLED", "/enabled"),
                ("DESTINATION", "/destination"),
            ],
            RulesKind::Network => &[("NAME", "/name"), ("PREFIXES", "/prefixes")],
            RulesKind::OptOut => &[("ACCOUNT", "/account"), ("NUMBERS", "/numbers")],
        }
    }

    /// `document` decoded, validated and re-encoded as the server stores it (defaults
    /// filled in), so that it compares with the server's document.
    fn canonical(self, document: &Value) -> anyhow::Result<Value> {
        fn canonical<T: RulesObject>(document: &Value) -> anyhow::Result<Value> {
            let object: T = serde_json::from_value(document.clone())?;
            object.validate()?;
            Ok(serde_json::to_value(&object)?)
        }
        match self {
            RulesKind::Account => canonical::<Account>(document),
            RulesKind::Carrier => canonical::<Carrier>(document),
            RulesKind::Route => canonical::<Route>(document),
            RulesKind::MoRoute => canonical::<MoRoute>(document),
            RulesKind::Network => canonical::<Network>(document),
            RulesKind::OptOut => canonical::<OptOutList>(document),
        }
    }
}

/// A failed call: its gRPC code and message, printed as `code: message`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", code_name(.0.code()), .0.message())]
struct CallError(Status);

impl CallError {
    /// What likely went wrong when the call failed below gRPC (the connection was cut
    /// rather than answered): TLS trouble the transport error does not name. (tonic says
    /// so only in words, hence the matching on them.)
    fn hint(&self, tls: bool, client_cert: bool) -> Option<&'static str> {
        // What tonic and hyper say when the connection dies under a call.
        const CUT: [&str; 3] = [
            "transport error",
            "h2 protocol error",
            "operation was canceled",
        ];
        let cut = matches!(
            self.0.code(),
            Code::Cancelled | Code::Unknown | Code::Internal
        ) && CUT.iter().any(|m| self.0.message().contains(m));
        if !cut {
            return None;
        }
        Some(if tls && client_cert {
            "the connection was cut: the control node may have refused the client certificate (--cert)"
        } else if tls {
            "the connection was cut: the control node may want a client certificate it trusts, or not serve TLS"
        } else {
            "the connection was cut: if the control node serves TLS (control.tls), use an https:// URL and --ca"
        })
    }
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid argument",
        Code::DeadlineExceeded => "deadline exceeded",
        Code::NotFound => "not found",
        Code::AlreadyExists => "already exists",
        Code::PermissionDenied => "permission denied",
        Code::ResourceExhausted => "resource exhausted",
        Code::FailedPrecondition => "failed precondition",
        Code::Aborted => "conflict",
        Code::OutOfRange => "out of range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The AdminService client with the bearer token (over TLS for an `https://` server).
struct Admin {
    client: AdminServiceClient<Channel>,
    token: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl Admin {
    async fn connect(server: &str, token: Option<&str>, tls: &TlsArgs) -> anyhow::Result<Admin> {
        let token = token
            .map(|t| format!("Bearer {}", t.trim()).parse())
            .transpose()
            .context("the token is not valid in a header")?;
        let mut endpoint = Endpoint::from_shared(server.to_owned())
            .with_context(|| format!("invalid server URL {server:?}"))?
            .connect_timeout(std::time::Duration::from_secs(5));
        if let Some(config) = tls.client_config(server)? {
            endpoint = endpoint
                .tls_config(config)
                .context("the TLS settings were refused")?;
        }
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("cannot connect to {server}"))?;
        Ok(Admin {
            client: AdminServiceClient::new(channel),
            token,
        })
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(token) = &self.token {
            request
                .metadata_mut()
                .insert("authorization", token.clone());
        }
        request
    }

    async fn list(&mut self, kind: RulesKind) -> anyhow::Result<Vec<api::Object>> {
        let request = self.request(api::ListRequest {
            kind: kind.api().into(),
        });
        let response = self.client.list(request).await.map_err(CallError)?;
        Ok(response.into_inner().objects)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let tls = cli.server.starts_with("https://");
    let client_cert = cli.tls.cert.is_some();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("heraldctl: {error:#}");
            let hint = error
                .downcast_ref::<CallError>()
                .and_then(|e| e.hint(tls, client_cert));
            if let Some(hint) = hint {
                eprintln!("heraldctl: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut admin = Admin::connect(&cli.server, cli.token.as_deref(), &cli.tls).await?;
    let output = cli.output;
    match cli.command {
        Command::Get { what, node } => get(&mut admin, output, what, node).await,
        Command::Msg { id } => message(&mut admin, output, id).await,
        Command::Route {
            command:
                RouteCommand::Explain {
                    account,
                    to,
                    from,
                    coding,
                },
        } => {
            let request = admin.request(api::ExplainRouteRequest {
                account_id: account,
                source: from,
                destination: to,
                data_coding: coding,
            });
            let answer = admin
                .client
                .explain_route(request)
                .await
                .map_err(CallError)?
                .into_inner();
            let value = serde_json::json!({
                "rule_id": answer.rule_id,
                "carrier_id": answer.carrier_id,
                "reason": answer.reason,
                "rules_revision": answer.rules_revision,
                "route_quota": answer.route_quota,
                "sender": answer.sender,
                "sender_rule": answer.sender_rule,
                "network": answer.network,
                "ported": answer.ported,
                "candidates": answer.candidates.iter().map(|c| serde_json::json!({
                    "carrier_id": c.carrier_id, "healthy": c.healthy,
                    "price": c.price, "note": c.note,
                })).collect::<Vec<_>>(),
            });
            if output != Output::Table {
                return print_value(output, &value);
            }
            println!("rule:     {}", or_dash(&answer.rule_id));
            println!("carrier:  {}", or_dash(&answer.carrier_id));
            println!("reason:   {}", answer.reason);
            if !answer.route_quota.is_empty() {
                println!(
                    "quota:    {} (the route's, cluster-wide)",
                    answer.route_quota
                );
            }
            if !answer.network.is_empty() {
                println!("network:  {}", answer.network);
            }
            if !answer.ported.is_empty() {
                println!("ported:   {}", answer.ported);
            }
            if !answer.sender.is_empty() {
                println!(
                    "sender:   {} (the carrier's {})",
                    answer.sender, answer.sender_rule
                );
            }
            println!("revision: {}", answer.rules_revision);
            if !answer.candidates.is_empty() {
                println!();
                let rows = answer
                    .candidates
                    .iter()
                    .map(|c| {
                        vec![
                            c.carrier_id.clone(),
                            c.healthy.to_string(),
                            c.price.to_string(),
                            c.note.clone(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(&["CANDIDATE", "HEALTHY", "PRICE", "NOTE"], rows)
                );
            }
            Ok(())
        }
        Command::Drain { node } => {
            let request = admin.request(api::DrainNodeRequest {
                node_id: node.clone(),
            });
            let answer = admin
                .client
                .drain_node(request)
                .await
                .map_err(CallError)?
                .into_inner();
            if output != Output::Table {
                return print_value(output, &serde_json::json!({ "draining": answer.draining }));
            }
            if answer.draining {
                println!("node {node} is draining");
            } else {
                println!("node {node} did not start draining");
            }
            Ok(())
        }
        Command::Apply {
            file,
            dry_run,
            prune,
        } => apply(&mut admin, file, dry_run, prune).await,
        Command::Audit { limit } => audit(&mut admin, output, limit).await,
        Command::OptOuts { command } => opt_outs::run(&mut admin, output, command).await,
        Command::Porting { command } => porting::run(&mut admin, command).await,
        Command::DeadLetters { command } => dead_letters::run(&mut admin, output, command).await,
    }
}

async fn audit(admin: &mut Admin, output: Output, limit: u32) -> anyhow::Result<()> {
    let request = admin.request(api::ListAuditRequest { limit });
    let records = admin
        .client
        .list_audit(request)
        .await
        .map_err(CallError)?
        .into_inner()
        .records;
    let revision = |r: i64| {
        if r == 0 {
            "-".to_owned()
        } else {
            r.to_string()
        }
    };
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let at = std::time::UNIX_EPOCH
                + std::time::Duration::from_millis(u64::try_from(r.at_unix_ms).unwrap_or(0));
            vec![
                humantime::format_rfc3339_millis(at).to_string(),
                r.who.clone(),
                or_dash(&r.role).to_owned(),
                r.action.clone(),
                r.kind.clone(),
                r.id.clone(),
                revision(r.old_revision),
                revision(r.new_revision),
            ]
        })
        .collect();
    let headers = [
        "AT",
        "WHO",
        "ROLE",
        "ACTION",
        "KIND",
        "ID",
        "OLD_REVISION",
        "NEW_REVISION",
    ];
    print_rows(output, "audit", &headers, rows)
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// A cell from `document` at `pointer`: strings as they are, lists joined, absent `-`.
fn cell(document: &Value, pointer: &str) -> String {
    match document.pointer(pointer) {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => or_dash(s).to_owned(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// Aligned columns, two spaces apart.
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, value) in widths.iter_mut().zip(row) {
            *width = (*width).max(value.chars().count());
        }
    }
    let mut out = String::new();
    let header = headers.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (value, width)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(value);
            } else {
                let _ = write!(line, "{value:<width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn print_value(output: Output, value: &Value) -> anyhow::Result<()> {
    match output {
        Output::Yaml => print!("{}", serde_yaml::to_string(value)?),
        Output::Json | Output::Table => println!("{}", serde_json::to_string_pretty(value)?),
    }
    Ok(())
}

/// A server document as JSON; one that does not parse is an error, not a panic.
fn document(object: &api::Object) -> anyhow::Result<Value> {
    serde_json::from_str(&object.json)
        .with_context(|| format!("the server sent an invalid document for {:?}", object.id))
}

async fn get(admin: &mut Admin, output: Output, what: What, node: String) -> anyhow::Result<()> {
    let kind = match what {
        What::Accounts => RulesKind::Account,
        What::Carriers => RulesKind::Carrier,
        What::Routes => RulesKind::Route,
        What::MoRoutes => RulesKind::MoRoute,
        What::Networks => RulesKind::Network,
        What::OptOuts => RulesKind::OptOut,
        What::Nodes => return nodes(admin, output).await,
        What::Sessions => return sessions(admin, output, node).await,
        What::Binds => return binds(admin, output, node).await,
    };
    let objects = admin.list(kind).await?;
    if output != Output::Table {
        let documents = objects
            .iter()
            .map(document)
            .collect::<Result<Vec<_>, _>>()?;
        return print_value(output, &serde_json::json!({ kind.key(): documents }));
    }
    let mut headers = vec!["ID"];
    headers.extend(kind.columns().iter().map(|(h, _)| *h));
    headers.push("REVISION");
    let mut rows = Vec::new();
    for object in &objects {
        let doc = document(object)?;
        let mut row = vec![object.id.clone()];
        row.extend(kind.columns().iter().map(|(_, p)| cell(&doc, p)));
        row.push(object.mod_revision.to_string());
        rows.push(row);
    }
    print!("{}", table(&headers, rows));
    Ok(())
}

async fn nodes(admin: &mut Admin, output: Output) -> anyhow::Result<()> {
    let request = admin.request(api::ListNodesRequest::default());
    let nodes = admin
        .client
        .list_nodes(request)
        .await
        .map_err(CallError)?
        .into_inner()
        .nodes;
    if output != Output::Table {
        let value: Vec<Value> = nodes
            .iter()
            .map(|n| {
                serde_json::json!({
                    "node_id": n.node_id, "role": n.role, "version": n.version,
                    "region": n.region, "rules_revision": n.rules_revision,
                    "sessions": n.sessions, "addresses": n.addresses,
                })
            })
            .collect();
        return print_value(output, &serde_json::json!({ "nodes": value }));
    }
    let rows = nodes
        .iter()
        .map(|n| {
            vec![
                n.node_id.clone(),
                n.role.clone(),
                n.version.clone(),
                n.region.clone(),
                n.rules_revision.to_string(),
                n.sessions.map(|s| s.to_string()).unwrap_or_default(),
                n.addresses.join(","),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "ID",
                "ROLE",
                "VERSION",
                "REGION",
                "RULES_REVISION",
                "SESSIONS",
                "ADDRESSES"
            ],
            rows
        )
    );
    Ok(())
}

async fn sessions(admin: &mut Admin, output: Output, node: String) -> anyhow::Result<()> {
    let request = admin.request(api::ListSessionsRequest {
        node_id: node,
        account_id: String::new(),
    });
    let sessions = admin
        .client
        .list_sessions(request)
        .await
        .map_err(CallError)?
        .into_inner()
        .sessions;
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                s.node_id.clone(),
                s.session_id.clone(),
                s.account_id.clone(),
                s.bind_mode.clone(),
                s.peer.clone(),
            ]
        })
        .collect();
    let headers = ["NODE", "SESSION", "ACCOUNT", "BIND_MODE", "PEER"];
    print_rows(output, "sessions", &headers, rows)
}

async fn binds(admin: &mut Admin, output: Output, node: String) -> anyhow::Result<()> {
    let request = admin.request(api::ListBindsRequest {
        node_id: node,
        carrier_id: String::new(),
    });
    let binds = admin
        .client
        .list_binds(request)
        .await
        .map_err(CallError)?
        .into_inner()
        .binds;
    let rows: Vec<Vec<String>> = binds
        .iter()
        .map(|b| {
            vec![
                b.node_id.clone(),
                b.carrier_id.clone(),
                b.slot.to_string(),
                b.state.clone(),
            ]
        })
        .collect();
    print_rows(output, "binds", &["NODE", "CARRIER", "SLOT", "STATE"], rows)
}

/// Rows as a table, or as a list of objects keyed by the lower-cased headers.
fn print_rows(
    output: Output,
    key: &str,
    headers: &[&str],
    rows: Vec<Vec<String>>,
) -> anyhow::Result<()> {
    if output == Output::Table {
        print!("{}", table(headers, rows));
        return Ok(());
    }
    let items: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            Value::Object(
                headers
                    .iter()
                    .map(|h| h.to_lowercase())
                    .zip(row.into_iter().map(Value::String))
                    .collect(),
            )
        })
        .collect();
    print_value(output, &serde_json::json!({ key: items }))
}

async fn message(admin: &mut Admin, output: Output, id: String) -> anyhow::Result<()> {
    let request = admin.request(api::GetMessageRequest { message_id: id });
    let answer = admin
        .client
        .get_message(request)
        .await
        .map_err(CallError)?
        .into_inner();
    if output != Output::Table {
        let history: Vec<Value> = answer
            .history
            .iter()
            .map(|h| serde_json::json!({ "state": h.state, "at_unix_ms": h.at_unix_ms, "detail": h.detail }))
            .collect();
        return print_value(
            output,
            &serde_json::json!({
                "message_id": answer.message_id, "account_id": answer.account_id,
                "carrier_id": answer.carrier_id, "state": answer.state, "history": history,
            }),
        );
    }
    println!("message:  {}", answer.message_id);
    println!("account:  {}", or_dash(&answer.account_id));
    println!("carrier:  {}", or_dash(&answer.carrier_id));
    println!("state:    {}", or_dash(&answer.state));
    println!();
    let rows = answer
        .history
        .iter()
        .map(|h| {
            vec![
                format_unix_ms(h.at_unix_ms),
                h.state.clone(),
                h.detail.clone(),
            ]
        })
        .collect();
    print!("{}", table(&["AT", "STATE", "DETAIL"], rows));
    Ok(())
}

/// `at` (Unix milliseconds) as UTC `YYYY-MM-DD HH:MM:SS.mmm`.
fn format_unix_ms(at: i64) -> String {
    let secs = at.div_euclid(1000);
    let millis = at.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let time = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{millis:03}",
        time / 3600,
        time % 3600 / 60,
        time % 60
    )
}

/// One step of an apply plan.
#[derive(Debug)]
enum Step {
    Create {
        kind: RulesKind,
        id: String,
        document: Value,
    },
    Update {
        kind: RulesKind,
        id: String,
        document: Value,
        revision: i64,
        fields: Vec<String>,
    },
    Unchanged {
        kind: RulesKind,
        id: String,
    },
    Delete {
        kind: RulesKind,
        id: String,
        revision: i64,
    },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Create { kind, id, .. } => write!(f, "+ {} {id}", kind.name()),
            Step::Update {
                kind, id, fields, ..
            } => write!(f, "~ {} {id} ({})", kind.name(), fields.join(", ")),
            Step::Unchanged { kind, id } => write!(f, "= {} {id}", kind.name()),
            Step::Delete { kind, id, .. } => write!(f, "- {} {id}", kind.name()),
        }
    }
}

/// The rules file: its objects by kind, in file order.
fn read_rules_file(path: &std::path::Path) -> anyhow::Result<BTreeMap<RulesKind, Vec<Value>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let root: Value = serde_json::to_value(yaml)
        .with_context(|| format!("{}: not a JSON-compatible document", path.display()))?;
    let Value::Object(root) = root else {
        bail!("{}: expected a mapping at the top", path.display());
    };
    let mut kinds = BTreeMap::new();
    for (key, value) in root {
        let Some(kind) = RulesKind::from_key(&key) else {
            eprintln!("heraldctl: ignoring key {key:?} of {}", path.display());
            continue;
        };
        let Value::Array(items) = value else {
            bail!("{}: {key} must be a list", path.display());
        };
        kinds.insert(kind, items);
    }
    Ok(kinds)
}

/// The id of a document in the file.
fn id_of(kind: RulesKind, document: &Value) -> anyhow::Result<String> {
    match document.get("id") {
        Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
        _ => bail!("a {} in the file has no id", kind.name()),
    }
}

/// Replaces an account's clear `password` with its `password_hash`: the current one if it
/// matches the password (so an unchanged password is not a change), else a new hash.
fn hash_password(document: &mut Value, current: Option<&Value>) -> anyhow::Result<()> {
    let Some(map) = document.as_object_mut() else {
        return Ok(());
    };
    let Some(clear) = map.remove("password") else {
        return Ok(());
    };
    let clear = clear
        .as_str()
        .context("an account password must be a string")?;
    let kept = current
        .and_then(|c| c.get("password_hash"))
        .and_then(Value::as_str)
        .filter(|phc| PasswordHash::from_phc(*phc).verify(clear))
        .map(str::to_owned);
    let hash = match kept {
        Some(phc) => phc,
        None => PasswordHash::hash(clear)?.as_phc().to_owned(),
    };
    map.insert("password_hash".into(), Value::String(hash));
    Ok(())
}

/// The top-level fields that differ between two documents.
fn changed_fields(old: &Value, new: &Value) -> Vec<String> {
    let empty = Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    let mut fields: Vec<String> = old
        .keys()
        .chain(new.keys())
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

async fn plan(
    admin: &mut Admin,
    file: BTreeMap<RulesKind, Vec<Value>>,
    prune: bool,
) -> anyhow::Result<Vec<Step>> {
    let mut steps = Vec::new();
    let mut deletes = Vec::new();
    for (kind, documents) in file {
        let mut current: BTreeMap<String, (Value, i64)> = BTreeMap::new();
        for object in admin.list(kind).await? {
            current.insert(object.id.clone(), (document(&object)?, object.mod_revision));
        }
        let mut seen = std::collections::BTreeSet::new();
        for mut doc in documents {
            let id = id_of(kind, &doc)?;
            if !seen.insert(id.clone()) {
                bail!("{} {id} is in the file twice", kind.name());
            }
            let existing = current.get(&id);
            if kind == RulesKind::Account {
                hash_password(&mut doc, existing.map(|(d, _)| d))?;
            }
            let doc = kind
                .canonical(&doc)
                .with_context(|| format!("{} {id}", kind.name()))?;
            steps.push(match existing {
                None => Step::Create {
                    kind,
                    id,
                    document: doc,
                },
                Some((old, _)) if *old == doc => Step::Unchanged { kind, id },
                Some((old, revision)) => Step::Update {
                    kind,
                    fields: changed_fields(old, &doc),
                    id,
                    document: doc,
                    revision: *revision,
                },
            });
        }
        if prune {
            for (id, (_, revision)) in current {
                if !seen.contains(&id) {
                    deletes.push(Step::Delete { kind, id, revision });
                }
            }
        }
    }
    deletes.reverse();
    steps.extend(deletes);
    Ok(steps)
}

async fn apply(admin: &mut Admin, file: PathBuf, dry_run: bool, prune: bool) -> anyhow::Result<()> {
    let rules = read_rules_file(&file)?;
    let steps = plan(admin, rules, prune).await?;
    let (mut create, mut update, mut delete, mut unchanged) = (0, 0, 0, 0);
    for step in &steps {
        println!("{step}");
        match step {
            Step::Create { .. } => create += 1,
            Step::Update { .. } => update += 1,
            Step::Delete { .. } => delete += 1,
            Step::Unchanged { .. } => unchanged += 1,
        }
    }
    println!(
        "plan: {create} to create, {update} to update, {delete} to delete, {unchanged} unchanged"
    );
    if dry_run {
        println!("dry run: nothing changed");
        return Ok(());
    }
    for step in steps {
        let described = step.to_string();
        let result = match step {
            Step::Unchanged { .. } => continue,
            Step::Create { kind, id, document } => put(admin, kind, id, document, 0).await,
            Step::Update {
                kind,
                id,
                document,
                revision,
                ..
            } => put(admin, kind, id, document, revision).await,
            Step::Delete { kind, id, revision } => {
                let request = admin.request(api::DeleteRequest {
                    kind: kind.api().into(),
                    id,
                    expected_revision: revision,
                });
                admin.client.delete(request).await.map(|_| ())
            }
        };
        result
            .map_err(CallError)
            .with_context(|| format!("applying {described}"))?;
    }
    println!("applied");
    Ok(())
}

async fn put(
    admin: &mut Admin,
    kind: RulesKind,
    id: String,
    document: Value,
    expected_revision: i64,
) -> Result<(), Status> {
    let request = admin.request(api::PutRequest {
        object: Some(api::Object {
            kind: kind.api().into(),
            id,
            json: document.to_string(),
            mod_revision: 0,
        }),
        expected_revision,
    });
    admin.client.put(request).await.map(|_| ())
}
