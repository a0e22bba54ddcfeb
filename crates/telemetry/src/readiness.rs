//! Named readiness checks behind `/readyz`.
//!
//! Each component that must be up before the node takes traffic registers a check and
//! flips it (`readiness.register("bus")` → [`ReadyFlag`], then `flag.set(true)`). The node
//! is ready when every check is ready and it is not draining. A node with no checks is
//! ready. [`Readiness::drain`] makes the node not ready for good, so Kubernetes stops
//! sending it traffic while it finishes its work.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::names;

/// The node's readiness: a set of named checks and a draining switch. Cheap to clone;
/// every clone is the same state.
#[derive(Clone, Debug, Default)]
pub struct Readiness {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    checks: Mutex<Vec<(String, Arc<AtomicBool>)>>,
    draining: AtomicBool,
}

/// One registered check. Cheap to clone; every clone flips the same check.
#[derive(Clone, Debug)]
pub struct ReadyFlag {
    ready: Arc<AtomicBool>,
    readiness: Readiness,
}

impl Readiness {
    /// A readiness with no checks: ready until a check is registered or it drains.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a check named `name`, not ready until its flag is set. Registering a name
    /// twice returns a flag for the existing check.
    pub fn register(&self, name: impl Into<String>) -> ReadyFlag {
        let name = name.into();
        let ready = {
            let mut checks = self
                .inner
                .checks
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match checks.iter().find(|(n, _)| *n == name) {
                Some((_, ready)) => Arc::clone(ready),
                None => {
                    let ready = Arc::new(AtomicBool::new(false));
                    checks.push((name, Arc::clone(&ready)));
                    ready
                }
            }
        };
        self.publish();
        ReadyFlag {
            ready,
            readiness: self.clone(),
        }
    }

    /// Marks the node as draining: not ready from now on, whatever its checks say.
    pub fn drain(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
        self.publish();
    }

    /// Whether [`Readiness::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// Whether the node should receive traffic: not draining and every check ready.
    pub fn is_ready(&self) -> bool {
        self.not_ready().is_empty()
    }

    /// What stands between the node and ready: `draining` and the names of the checks
    /// that are not ready, in registration order. Empty when ready.
    pub fn not_ready(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if self.is_draining() {
            reasons.push("draining".to_owned());
        }
        let checks = self
            .inner
            .checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        reasons.extend(
            checks
                .iter()
                .filter(|(_, ready)| !ready.load(Ordering::SeqCst))
                .map(|(name, _)| name.clone()),
        );
        reasons
    }

    /// Every check with its state, in registration order.
    pub fn checks(&self) -> Vec<(String, bool)> {
        let checks = self
            .inner
            .checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        checks
            .iter()
            .map(|(name, ready)| (name.clone(), ready.load(Ordering::SeqCst)))
            .collect()
    }

    /// Mirrors the state in `herald_node_ready`.
    fn publish(&self) {
        let value = if self.is_ready() { 1.0 } else { 0.0 };
        metrics::gauge!(names::NODE_READY).set(value);
    }
}

impl ReadyFlag {
    /// Sets this check ready (`true`) or not (`false`).
    pub fn set(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
        self.readiness.publish();
    }

    /// Whether this check is ready.
    pub fn get(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}
