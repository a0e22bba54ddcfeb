//! Rebalancing: an edge that holds clearly more than its share of the cluster's SMPP
//! sessions sheds some, so that ESMEs reconnect through the load balancer to edges added
//! since they bound. SMPP sessions live for days; without this, a scaled-up edge
//! Deployment would carry only the binds made after it grew.
//!
//! Every `edge.rebalance_interval` an edge writes its session count into its node
//! registration and reads the other edges' counts from theirs. With `edge.rebalance` on,
//! it then sheds what [`sheds`] says: down to its share (the cluster's sessions over the
//! edges that report a count, rounded up), only while it holds more than its share plus a
//! tenth (at least one session more, so a cluster balanced to within one session never
//! churns), and at most `edge.rebalance_max_sheds` each interval. The newest binds go
//! first; each is unbound as a drain unbinds one, after its in-flight requests are
//! answered, so nothing it sent is lost and its receipts wait on the bus for its return.
//!
//! A shed ESME takes a while to come back, and meanwhile it is on no edge: the sessions an
//! edge shed within [`in_transit_for`] still count in the cluster's
//! total (not in its own), so that the share does not shrink under it and it does not
//! shed again what is only in transit. Counts are as old as an interval, so an edge may
//! still shed a little more than exact figures would say; the bound per interval keeps
//! that small. Edges of releases that register no count are left out of the figures.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use herald_rules::{NodeRegistration, RulesClient};
use herald_telemetry::names;

use crate::server::Shared;

/// Where an edge says how many sessions it holds, and reads how many the others hold: its
/// node registration, and the registrations of every edge.
#[derive(Clone)]
pub struct Peers {
    registration: Arc<NodeRegistration>,
    client: RulesClient,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers")
            .field("registration", &self.registration.key())
            .finish_non_exhaustive()
    }
}

impl Peers {
    /// The edges as `client` lists them, this one registered with `registration`.
    pub fn new(registration: Arc<NodeRegistration>, client: RulesClient) -> Self {
        Peers {
            registration,
            client,
        }
    }

    /// The session counts the other edges registered; `None` when etcd cannot say.
    async fn others(&self) -> Option<Vec<u32>> {
        let me = self.registration.info().id;
        match self.client.list_nodes(Some("edge")).await {
            Ok(nodes) => Some(
                nodes
                    .into_iter()
                    .filter(|node| node.id != me)
                    .filter_map(|node| node.sessions)
                    .collect(),
            ),
            Err(error) => {
                tracing::debug!(%error, "edge registrations unreadable; not rebalancing this round");
                None
            }
        }
    }
}

/// How long a shed session counts as in transit: four intervals, and at least a minute,
/// long enough for an ESME to reconnect (most retry within seconds to tens of seconds)
/// and for the edge it reached to register it.
pub fn in_transit_for(interval: Duration) -> Duration {
    (interval * 4).max(Duration::from_secs(60))
}

/// How many sessions an edge holding `mine` sheds when the other edges hold `others` and
/// `in_transit` sessions it shed lately have not yet bound anywhere: down to its share
/// (all sessions over all edges, rounded up), only when it holds more than its share plus
/// a tenth of it (at least one), and at most `max_sheds`.
pub fn sheds(mine: u32, others: &[u32], in_transit: u32, max_sheds: u32) -> u32 {
    let edges = others.len() as u64 + 1;
    let total = u64::from(mine)
        + u64::from(in_transit)
        + others.iter().copied().map(u64::from).sum::<u64>();
    let share = total.div_ceil(edges);
    let slack = (share / 10).max(1);
    let mine = u64::from(mine);
    if mine <= share + slack {
        return 0;
    }
    u32::try_from((mine - share).min(u64::from(max_sheds))).unwrap_or(max_sheds)
}

/// Registers the session count and sheds what [`sheds`] says, every interval, until the
/// task is aborted.
pub(crate) async fn run(shared: Arc<Shared>, peers: Peers) {
    let interval = shared.config.rebalance_interval.max(Duration::from_secs(1));
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let shed_total = metrics::counter!(names::EDGE_SESSIONS_SHED_TOTAL);
    // What was shed lately, and when: in transit for in_transit_for(interval).
    let in_transit_for = in_transit_for(interval);
    let mut shed: VecDeque<(Instant, u32)> = VecDeque::new();
    loop {
        ticks.tick().await;
        let mut sessions = shared.sessions.all();
        let mine = u32::try_from(sessions.len()).unwrap_or(u32::MAX);
        peers.registration.set_sessions(mine);
        if !shared.config.rebalance {
            continue;
        }
        let Some(others) = peers.others().await else {
            continue;
        };
        let now = Instant::now();
        while shed
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= in_transit_for)
        {
            shed.pop_front();
        }
        let in_transit = shed.iter().map(|(_, n)| *n).sum();
        let count = sheds(mine, &others, in_transit, shared.config.rebalance_max_sheds);
        if count == 0 {
            continue;
        }
        shed.push_back((now, count));
        tracing::info!(
            sessions = mine,
            edges = others.len() + 1,
            in_transit,
            cluster_sessions = u64::from(mine) + others.iter().copied().map(u64::from).sum::<u64>(),
            shedding = count,
            "more than this edge's share of sessions: unbinding the newest"
        );
        sessions.sort_by_key(|entry| std::cmp::Reverse(entry.info().bound_at));
        for entry in sessions.into_iter().take(count as usize) {
            shed_total.increment(1);
            tracing::debug!(session = entry.info().id, account = %entry.info().account, "shedding session");
            // Unbinding answers its in-flight requests first; others go on meanwhile.
            tokio::spawn(async move { entry.unbind().await });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_edge_or_a_balanced_cluster_sheds_nothing() {
        assert_eq!(sheds(500, &[], 0, 4), 0);
        assert_eq!(sheds(0, &[0, 0], 0, 4), 0);
        assert_eq!(sheds(100, &[100, 100], 0, 4), 0);
        // Within a tenth of the share (at least one session): no churn.
        assert_eq!(sheds(110, &[95, 95], 0, 4), 0);
        assert_eq!(sheds(3, &[2, 2], 0, 4), 0);
        assert_eq!(sheds(2, &[1, 0], 0, 4), 0);
    }

    #[test]
    fn an_edge_beyond_its_share_sheds_down_to_it_a_few_at_a_time() {
        // Two edges added to one holding six: share 2, all four beyond it, in one round.
        assert_eq!(sheds(6, &[0, 0], 0, 4), 4);
        // At most max_sheds a round.
        assert_eq!(sheds(6, &[0, 0], 0, 2), 2);
        assert_eq!(sheds(300, &[0, 0], 0, 4), 4);
        // Never below the share: 120 of 300 over three edges sheds 20, not more.
        assert_eq!(sheds(120, &[90, 90], 0, 100), 20);
    }

    #[test]
    fn what_is_in_transit_keeps_the_share_from_shrinking() {
        // Nine on one edge, two joined: four shed in the first round and not back yet.
        // Without them the share would be two and five would look far beyond it.
        assert_eq!(sheds(5, &[0, 0], 0, 4), 3);
        // Counted in transit, the share stays three: two more, and no further.
        assert_eq!(sheds(5, &[0, 0], 4, 4), 2);
        assert_eq!(sheds(3, &[0, 0], 6, 4), 0);
        // Once back on the other edges, they count there.
        assert_eq!(sheds(3, &[3, 3], 0, 4), 0);
    }

    #[test]
    fn counts_past_u32_do_not_overflow() {
        assert_eq!(sheds(u32::MAX, &[0], 0, 4), 4);
        assert_eq!(sheds(u32::MAX, &[0], u32::MAX, 4), 0);
        assert_eq!(sheds(u32::MAX, &[u32::MAX, u32::MAX], 0, 4), 0);
    }
}
