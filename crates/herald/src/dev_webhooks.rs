//! The webhook receiver `herald dev` runs for its demo account: every receipt and MO the
//! demo account's webhook posts is checked against the demo secret and printed, so the
//! webhook path is seen working locally (`deploy/dev/rules.yaml`, `webhook_sink`).

use std::path::Path;

use anyhow::Context as _;
use herald_webhook::sink::{self, Received};
use herald_webhook::{Secret, Signer};
use tokio::net::TcpListener;

/// The demo secret in `path`: read if the file exists, else 32 bytes from the OS random
/// source, written as `whsec_…` to a new file of mode 0600.
pub(crate) fn demo_secret(path: &Path) -> anyhow::Result<Secret> {
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return Secret::parse(&text).with_context(|| format!("{}", path.display()));
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("the OS random source: {e}"))?;
    let secret = Secret::from_key(&key)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    std::io::Write::write_all(&mut file, format!("{}\n", secret.to_whsec()).as_bytes())?;
    Ok(secret)
}

/// Receives on `listener` and prints one line per event, with whether its signature
/// verified against `secret`.
pub(crate) fn start(listener: TcpListener, secret: Secret) -> tokio::task::JoinHandle<()> {
    let (tx, mut received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(sink::serve(listener, tx));
    let signer = Signer::new(vec![secret]);
    tokio::spawn(async move {
        while let Some(request) = received.recv().await {
            println!("{}", describe(&request, signer.as_ref()));
        }
    })
}

/// One line for a delivery: its type, what it is about, and its signature's check.
fn describe(request: &Received, signer: Option<&Signer>) -> String {
    let id = request.header("webhook-id").unwrap_or("");
    let verified = match (
        signer,
        request
            .header("webhook-timestamp")
            .and_then(|t| t.parse::<i64>().ok()),
        request.header("webhook-signature"),
    ) {
        (Some(signer), Some(timestamp), Some(signature)) => {
            signer.verifies(id, timestamp, signature, &request.body)
        }
        _ => false,
    };
    let event: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let data = &event["data"];
    let what = match event["type"].as_str() {
        Some("message.receipt") => format!(
            "receipt for {} to {}: {}",
            data["message_id"].as_str().unwrap_or("?"),
            data["to"].as_str().unwrap_or("?"),
            data["state"].as_str().unwrap_or("?")
        ),
        Some("message.mo") => format!(
            "MO from {} to {}: {:?}",
            data["from"].as_str().unwrap_or("?"),
            data["to"].as_str().unwrap_or("?"),
            data["text"].as_str().unwrap_or("")
        ),
        _ => "an event of no known type".to_owned(),
    };
    let check = if verified {
        "signature ok"
    } else {
        "SIGNATURE DOES NOT VERIFY"
    };
    format!("webhook  {what} ({check}, webhook-id {id})")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn a_delivery_is_described_with_its_signature_checked() {
        let secret = Secret::from_key(&[7; 32]).unwrap();
        let signer = Signer::new(vec![secret]).unwrap();
        let body = br#"{"type":"message.receipt","version":1,"id":"m1:final","data":{"message_id":"m1","to":"447700900001","state":"delivered"}}"#;
        let headers = signer.headers("m1:final", 1_700_000_000, body);
        let request = Received {
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.clone()))
                .collect(),
            body: body.to_vec(),
            at: std::time::SystemTime::now(),
        };
        assert_eq!(
            describe(&request, Some(&signer)),
            "webhook  receipt for m1 to 447700900001: delivered (signature ok, webhook-id m1:final)"
        );
        let other = Signer::new(vec![Secret::from_key(&[8; 32]).unwrap()]).unwrap();
        assert!(describe(&request, Some(&other)).contains("DOES NOT VERIFY"));
    }

    #[test]
    fn the_demo_secret_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo-webhook-secret");
        let made = demo_secret(&path).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with("whsec_")
        );
        assert_eq!(demo_secret(&path).unwrap(), made);
    }
}
