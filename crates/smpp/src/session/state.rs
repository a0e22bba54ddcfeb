//! Session states and the operation matrix (SMPP 5.0 §2.3–§2.4): which requests each side
//! may send in which state. Pure logic, shared by the tokio engine and by anyone who wants
//! to check a PDU before sending it.

use crate::CommandId;

/// Which end of the session a party is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The application end: binds, submits, receives deliveries (Herald's connector).
    Esme,
    /// The message centre end: accepts binds and submits, delivers (Herald's edge).
    Smsc,
}

impl Side {
    /// The other end.
    pub const fn peer(self) -> Side {
        match self {
            Side::Esme => Side::Smsc,
            Side::Smsc => Side::Esme,
        }
    }
}

/// How an ESME is bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindMode {
    /// `bind_transmitter`: ESME → SMSC traffic only.
    Transmitter,
    /// `bind_receiver`: SMSC → ESME traffic only.
    Receiver,
    /// `bind_transceiver`: both directions.
    Transceiver,
}

impl BindMode {
    /// The mode a bind request asks for.
    pub const fn from_command(id: CommandId) -> Option<BindMode> {
        match id {
            CommandId::BindTransmitter => Some(BindMode::Transmitter),
            CommandId::BindReceiver => Some(BindMode::Receiver),
            CommandId::BindTransceiver => Some(BindMode::Transceiver),
            _ => None,
        }
    }

    /// The request that asks for this mode.
    pub const fn bind_command(self) -> CommandId {
        match self {
            BindMode::Transmitter => CommandId::BindTransmitter,
            BindMode::Receiver => CommandId::BindReceiver,
            BindMode::Transceiver => CommandId::BindTransceiver,
        }
    }

    /// True when the ESME may submit (transmitter or transceiver).
    pub const fn esme_sends(self) -> bool {
        matches!(self, BindMode::Transmitter | BindMode::Transceiver)
    }

    /// True when the SMSC may deliver (receiver or transceiver).
    pub const fn smsc_sends(self) -> bool {
        matches!(self, BindMode::Receiver | BindMode::Transceiver)
    }

    /// The lowercase name used in logs and metrics labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            BindMode::Transmitter => "transmitter",
            BindMode::Receiver => "receiver",
            BindMode::Transceiver => "transceiver",
        }
    }
}

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Connected, not yet bound.
    Open,
    /// Bound in a mode.
    Bound(BindMode),
    /// An unbind is under way (either side started it).
    Unbinding,
    /// The connection is gone.
    Closed,
}

/// May `sender` send request `id` while the session is in `state`? This is the operation
/// matrix of SMPP 5.0 §2.4; responses are not covered (they are always allowed in answer to
/// a request).
pub const fn may_send(sender: Side, state: SessionState, id: CommandId) -> bool {
    use CommandId as C;
    let bound = match state {
        SessionState::Bound(mode) => Some(mode),
        _ => None,
    };
    match id {
        C::BindTransmitter | C::BindReceiver | C::BindTransceiver => {
            matches!(sender, Side::Esme) && matches!(state, SessionState::Open)
        }
        C::Outbind => matches!(sender, Side::Smsc) && matches!(state, SessionState::Open),
        C::EnquireLink => matches!(state, SessionState::Open | SessionState::Bound(_)),
        C::Unbind => bound.is_some(),
        C::SubmitSm
        | C::SubmitMulti
        | C::QuerySm
        | C::CancelSm
        | C::ReplaceSm
        | C::BroadcastSm
        | C::QueryBroadcastSm
        | C::CancelBroadcastSm => match (sender, bound) {
            (Side::Esme, Some(mode)) => mode.esme_sends(),
            _ => false,
        },
        C::DeliverSm | C::AlertNotification => match (sender, bound) {
            (Side::Smsc, Some(mode)) => mode.smsc_sends(),
            _ => false,
        },
        C::DataSm => match (sender, bound) {
            (Side::Esme, Some(mode)) => mode.esme_sends(),
            (Side::Smsc, Some(mode)) => mode.smsc_sends(),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CommandId as C;

    const TX: SessionState = SessionState::Bound(BindMode::Transmitter);
    const RX: SessionState = SessionState::Bound(BindMode::Receiver);
    const TRX: SessionState = SessionState::Bound(BindMode::Transceiver);

    #[test]
    fn submits_need_a_transmitting_bind() {
        assert!(may_send(Side::Esme, TX, C::SubmitSm));
        assert!(may_send(Side::Esme, TRX, C::SubmitSm));
        assert!(!may_send(Side::Esme, RX, C::SubmitSm));
        assert!(!may_send(Side::Esme, SessionState::Open, C::SubmitSm));
        assert!(!may_send(Side::Smsc, TRX, C::SubmitSm));
    }

    #[test]
    fn deliveries_need_a_receiving_bind() {
        assert!(may_send(Side::Smsc, RX, C::DeliverSm));
        assert!(may_send(Side::Smsc, TRX, C::DeliverSm));
        assert!(!may_send(Side::Smsc, TX, C::DeliverSm));
        assert!(!may_send(Side::Esme, TRX, C::DeliverSm));
        assert!(may_send(Side::Smsc, RX, C::DataSm));
        assert!(may_send(Side::Esme, TX, C::DataSm));
        assert!(!may_send(Side::Esme, RX, C::DataSm));
    }

    #[test]
    fn binds_only_when_open_and_keepalive_always() {
        assert!(may_send(Side::Esme, SessionState::Open, C::BindTransceiver));
        assert!(!may_send(Side::Esme, TRX, C::BindTransceiver));
        assert!(!may_send(Side::Smsc, SessionState::Open, C::BindReceiver));
        assert!(may_send(Side::Smsc, SessionState::Open, C::Outbind));
        for state in [SessionState::Open, TX, RX, TRX] {
            assert!(may_send(Side::Esme, state, C::EnquireLink));
            assert!(may_send(Side::Smsc, state, C::EnquireLink));
        }
        assert!(!may_send(Side::Esme, SessionState::Open, C::Unbind));
        assert!(may_send(Side::Smsc, RX, C::Unbind));
        assert!(!may_send(Side::Esme, SessionState::Closed, C::EnquireLink));
    }
}
