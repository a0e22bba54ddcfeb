//! The messages a carrier's sender holds, pulled and not yet sent, in their two lanes.
//!
//! Urgent messages (one-time passwords, alerts: `MtMessage.urgent`) go before bulk ones,
//! so an OTP waits at most for a token and a window slot, not behind a marketing
//! backlog. Strict priority would let a steady urgent stream starve bulk for good, so
//! while both lanes hold messages at most [`URGENT_RUN`] urgent ones go in a row before a
//! bulk one: bulk keeps at least a tenth of the carrier's rate (ADR 0018).

use std::collections::VecDeque;

/// Urgent sends in a row while bulk waits, before bulk gets one.
pub(crate) const URGENT_RUN: u32 = 9;

/// The two lanes of ready messages and the run of urgent sends that bounds starvation.
#[derive(Debug)]
pub(super) struct Ready<T> {
    urgent: VecDeque<T>,
    bulk: VecDeque<T>,
    /// Urgent messages taken in a row while bulk ones waited.
    urgent_run: u32,
}

impl<T> Default for Ready<T> {
    fn default() -> Self {
        Ready {
            urgent: VecDeque::new(),
            bulk: VecDeque::new(),
            urgent_run: 0,
        }
    }
}

impl<T> Ready<T> {
    /// Queues `item` at the back of its lane.
    pub(super) fn push_back(&mut self, urgent: bool, item: T) {
        self.lane_mut(urgent).push_back(item);
    }

    /// Puts `item` back at the front of its lane (it was taken and could not be sent).
    pub(super) fn push_front(&mut self, urgent: bool, item: T) {
        self.lane_mut(urgent).push_front(item);
    }

    /// The message [`Ready::pop_front`] would take.
    pub(super) fn front(&self) -> Option<&T> {
        if self.next_is_urgent() {
            self.urgent.front()
        } else {
            self.bulk.front()
        }
    }

    /// Takes the next message to send: urgent first, but a bulk one after
    /// [`URGENT_RUN`] urgent ones in a row while bulk waited.
    pub(super) fn pop_front(&mut self) -> Option<T> {
        if self.next_is_urgent() {
            let item = self.urgent.pop_front()?;
            self.urgent_run = if self.bulk.is_empty() {
                0
            } else {
                self.urgent_run + 1
            };
            Some(item)
        } else {
            let item = self.bulk.pop_front()?;
            self.urgent_run = 0;
            Some(item)
        }
    }

    /// Messages held, both lanes.
    pub(super) fn len(&self) -> usize {
        self.urgent.len() + self.bulk.len()
    }

    /// Messages held in one lane.
    pub(super) fn lane_len(&self, urgent: bool) -> usize {
        if urgent {
            self.urgent.len()
        } else {
            self.bulk.len()
        }
    }

    /// Nothing held.
    pub(super) fn is_empty(&self) -> bool {
        self.urgent.is_empty() && self.bulk.is_empty()
    }

    /// Every message held, urgent first.
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.urgent.iter_mut().chain(self.bulk.iter_mut())
    }

    fn next_is_urgent(&self) -> bool {
        !self.urgent.is_empty() && (self.bulk.is_empty() || self.urgent_run < URGENT_RUN)
    }

    fn lane_mut(&mut self, urgent: bool) -> &mut VecDeque<T> {
        if urgent {
            &mut self.urgent
        } else {
            &mut self.bulk
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(ready: &mut Ready<&'static str>) -> Vec<&'static str> {
        std::iter::from_fn(|| ready.pop_front()).collect()
    }

    #[test]
    fn urgent_messages_overtake_bulk_ones_queued_before_them() {
        let mut ready = Ready::default();
        ready.push_back(false, "b1");
        ready.push_back(false, "b2");
        ready.push_back(true, "u1");
        assert_eq!(ready.front(), Some(&"u1"));
        assert_eq!(ready.len(), 3);
        assert_eq!(ready.lane_len(true), 1);
        assert_eq!(drain(&mut ready), ["u1", "b1", "b2"]);
        assert!(ready.is_empty());
    }

    #[test]
    fn bulk_gets_one_send_after_each_run_of_urgent_ones() {
        let mut ready = Ready::default();
        for _ in 0..3 {
            ready.push_back(false, "bulk");
        }
        for _ in 0..25 {
            ready.push_back(true, "urgent");
        }
        let order = drain(&mut ready);
        let bulk_at: Vec<usize> = order
            .iter()
            .enumerate()
            .filter(|(_, m)| **m == "bulk")
            .map(|(i, _)| i)
            .collect();
        // Nine urgent, one bulk, nine urgent, one bulk, the last seven urgent, the last bulk.
        assert_eq!(bulk_at, [9, 19, 27]);
        assert_eq!(order.len(), 28);
    }

    #[test]
    fn a_run_of_urgent_sends_with_no_bulk_waiting_does_not_count() {
        let mut ready = Ready::default();
        for _ in 0..20 {
            ready.push_back(true, "urgent");
        }
        for _ in 0..15 {
            assert_eq!(ready.pop_front(), Some("urgent"));
        }
        // Bulk arrives after a long urgent run: the run restarts from now.
        ready.push_back(false, "bulk");
        let order = drain(&mut ready);
        assert_eq!(order.iter().position(|m| *m == "bulk"), Some(5));
    }

    #[test]
    fn a_message_put_back_goes_first_in_its_lane() {
        let mut ready = Ready::default();
        ready.push_back(false, "b1");
        ready.push_front(false, "b0");
        ready.push_back(true, "u1");
        ready.push_front(true, "u0");
        assert_eq!(drain(&mut ready), ["u0", "u1", "b0", "b1"]);
    }
}
