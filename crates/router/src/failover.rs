//! The hand-back contract: how a connector returns a message a carrier refused for good
//! (or kept timing out on) so a router can send it through the next carrier of its route.
//!
//! The connector, for a message it cannot deliver through `carrier`:
//!
//! 1. if the message's `route.candidates` lists a carrier that is neither `carrier` nor in
//!    `failed_carriers`, hands it back: the same envelope with `attempt + 1` and `carrier`
//!    appended to `failed_carriers` (everything else unchanged, `route` included),
//!    published to `herald.mt.<account>` (the accepted-MT subject, so the routers'
//!    consumer takes it) with dedup id `<id>:<attempt>` of the new attempt
//!    ([`hand_back`] builds it);
//! 2. otherwise sends the failure receipt itself;
//! 3. acknowledges its `HERALD_OUT` delivery only after that publish is acknowledged.
//!
//! The router treats a message with failed carriers as a failover: it routes it again by
//! the rules of now, never to a failed carrier, while `attempt < router.max_attempts` and
//! its validity period lasts; otherwise, or when the route has no carrier left, the
//! account gets a synthetic `UNDELIV` (or `EXPIRED`) receipt. The routed copy goes to the
//! new carrier's queue with dedup id `<id>:<attempt>`, distinct from every earlier attempt.
//!
//! Dedup ids never collide: the first publish to `HERALD_MT` is `<id>`, hand-backs are
//! `<id>:<n>` with n ≥ 1, and routed copies in `HERALD_OUT` (another stream, another
//! window) are `<id>:<n>`. A connector that crashes after publishing the hand-back but
//! before its ack is redelivered the same message and publishes the same hand-back again,
//! which the duplicate window drops.

use herald_bus::Outgoing;
use herald_proto::bus::v1::MtMessage;

/// The message to hand back after `carrier` failed on `mt`, or `None` when the route has
/// no other candidate (the connector then sends the failure receipt itself). The contract
/// is implemented once, in [`Outgoing::handed_back`]; connectors call that directly.
pub fn hand_back(mt: &MtMessage, carrier: &str) -> Option<Outgoing> {
    Outgoing::handed_back(mt, carrier)
}

#[cfg(test)]
mod tests {
    use herald_proto::bus::v1::RouteDecision;

    use super::*;

    #[test]
    fn hands_back_while_a_candidate_is_left() {
        let mt = MtMessage {
            id: "M1".into(),
            account_id: "acme".into(),
            route: Some(RouteDecision {
                candidates: vec!["a".into(), "b".into()],
                ..Default::default()
            }),
            ..Default::default()
        };
        let back = hand_back(&mt, "a").expect("b is left");
        assert_eq!(back.subject(), "herald.mt.acme");
        assert_eq!(back.id(), "M1:1");
        let mut next = mt.clone();
        next.attempt = 1;
        next.failed_carriers = vec!["a".into()];
        assert!(hand_back(&next, "b").is_none(), "nothing left");
        assert!(
            hand_back(&MtMessage::default(), "a").is_none(),
            "never routed"
        );
    }
}
