//! [`CarrierHealth`]: which carriers can take traffic now, as the routing engine sees it.
//!
//! Health is not a rule (it changes by the second and is reported by connectors, not
//! written by operators), so it is an input to each evaluation rather than part of the
//! snapshot. A carrier is healthy unless marked unhealthy: an unknown carrier, or one no
//! connector reports on, takes traffic. The router keeps an [`UnhealthyCarriers`] set
//! current from the connectors' reports (see `docs/router.md`) and swaps it atomically.

use std::collections::HashSet;
use std::sync::Arc;

/// Whether a carrier can take traffic. Failover and least-cost routes put healthy carriers
/// first; weighted routes pick among healthy carriers while any is left.
pub trait CarrierHealth {
    /// Whether `carrier` is up (has a healthy bind somewhere in the cluster).
    fn is_healthy(&self, carrier: &str) -> bool;
}

/// Every carrier is healthy (tests, tools, the edge's no-route check).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllHealthy;

impl CarrierHealth for AllHealthy {
    fn is_healthy(&self, _carrier: &str) -> bool {
        true
    }
}

/// Every carrier is healthy except the ones listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnhealthyCarriers {
    down: HashSet<String>,
}

impl UnhealthyCarriers {
    /// The carriers in `down` are unhealthy, every other one healthy.
    pub fn new(down: impl IntoIterator<Item = impl Into<String>>) -> Self {
        UnhealthyCarriers {
            down: down.into_iter().map(Into::into).collect(),
        }
    }

    /// The carriers marked unhealthy.
    pub fn down(&self) -> impl Iterator<Item = &str> {
        self.down.iter().map(String::as_str)
    }

    /// Whether no carrier is marked.
    pub fn is_empty(&self) -> bool {
        self.down.is_empty()
    }
}

impl CarrierHealth for UnhealthyCarriers {
    fn is_healthy(&self, carrier: &str) -> bool {
        self.down.is_empty() || !self.down.contains(carrier)
    }
}

impl<T: CarrierHealth + ?Sized> CarrierHealth for &T {
    fn is_healthy(&self, carrier: &str) -> bool {
        (**self).is_healthy(carrier)
    }
}

impl<T: CarrierHealth + ?Sized> CarrierHealth for Arc<T> {
    fn is_healthy(&self, carrier: &str) -> bool {
        (**self).is_healthy(carrier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_unless_marked() {
        assert!(AllHealthy.is_healthy("a"));
        let h = UnhealthyCarriers::new(["a"]);
        assert!(!h.is_healthy("a"));
        assert!(h.is_healthy("b"));
        assert!(Arc::new(h.clone()).is_healthy("b"));
        assert!(!CarrierHealth::is_healthy(&&h, "a"));
        assert_eq!(h.down().collect::<Vec<_>>(), ["a"]);
        assert!(UnhealthyCarriers::default().is_empty());
    }
}
