//! The `command_id` of every SMPP 3.4 and 5.0 operation (SMPP 5.0 §4.7.5).
//!
//! A response's id is its request's id with bit 31 set. Ids outside the table are kept as
//! [`CommandId::Unknown`] so the session can answer them with `generic_nack`.

use std::fmt;

macro_rules! command_ids {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $wire:literal; )*) => {
        /// An SMPP operation, as carried in the `command_id` header field.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum CommandId {
            $( $(#[$doc])* $name, )*
            /// A value this implementation does not know (reserved or vendor-specific).
            Unknown(u32),
        }

        impl CommandId {
            /// The operation for a wire value.
            pub const fn from_u32(value: u32) -> Self {
                match value {
                    $( $value => Self::$name, )*
                    other => Self::Unknown(other),
                }
            }

            /// The wire value.
            pub const fn as_u32(self) -> u32 {
                match self {
                    $( Self::$name => $value, )*
                    Self::Unknown(v) => v,
                }
            }

            /// The specification's name, such as `submit_sm_resp`.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Self::$name => $wire, )*
                    Self::Unknown(_) => "unknown",
                }
            }

            /// Every known operation.
            pub const ALL: &'static [CommandId] = &[ $( Self::$name, )* ];
        }
    };
}

command_ids! {
    /// `generic_nack`.
    GenericNack = 0x8000_0000, "generic_nack";
    /// `bind_receiver`.
    BindReceiver = 0x0000_0001, "bind_receiver";
    /// `bind_receiver_resp`.
    BindReceiverResp = 0x8000_0001, "bind_receiver_resp";
    /// `bind_transmitter`.
    BindTransmitter = 0x0000_0002, "bind_transmitter";
    /// `bind_transmitter_resp`.
    BindTransmitterResp = 0x8000_0002, "bind_transmitter_resp";
    /// `query_sm`.
    QuerySm = 0x0000_0003, "query_sm";
    /// `query_sm_resp`.
    QuerySmResp = 0x8000_0003, "query_sm_resp";
    /// `submit_sm`.
    SubmitSm = 0x0000_0004, "submit_sm";
    /// `submit_sm_resp`.
    SubmitSmResp = 0x8000_0004, "submit_sm_resp";
    /// `deliver_sm`.
    DeliverSm = 0x0000_0005, "deliver_sm";
    /// `deliver_sm_resp`.
    DeliverSmResp = 0x8000_0005, "deliver_sm_resp";
    /// `unbind`.
    Unbind = 0x0000_0006, "unbind";
    /// `unbind_resp`.
    UnbindResp = 0x8000_0006, "unbind_resp";
    /// `replace_sm`.
    ReplaceSm = 0x0000_0007, "replace_sm";
    /// `replace_sm_resp`.
    ReplaceSmResp = 0x8000_0007, "replace_sm_resp";
    /// `cancel_sm`.
    CancelSm = 0x0000_0008, "cancel_sm";
    /// `cancel_sm_resp`.
    CancelSmResp = 0x8000_0008, "cancel_sm_resp";
    /// `bind_transceiver`.
    BindTransceiver = 0x0000_0009, "bind_transceiver";
    /// `bind_transceiver_resp`.
    BindTransceiverResp = 0x8000_0009, "bind_transceiver_resp";
    /// `outbind` (no response).
    Outbind = 0x0000_000B, "outbind";
    /// `enquire_link`.
    EnquireLink = 0x0000_0015, "enquire_link";
    /// `enquire_link_resp`.
    EnquireLinkResp = 0x8000_0015, "enquire_link_resp";
    /// `submit_multi`.
    SubmitMulti = 0x0000_0021, "submit_multi";
    /// `submit_multi_resp`.
    SubmitMultiResp = 0x8000_0021, "submit_multi_resp";
    /// `alert_notification` (no response).
    AlertNotification = 0x0000_0102, "alert_notification";
    /// `data_sm`.
    DataSm = 0x0000_0103, "data_sm";
    /// `data_sm_resp`.
    DataSmResp = 0x8000_0103, "data_sm_resp";
    /// `broadcast_sm` (SMPP 5.0).
    BroadcastSm = 0x0000_0111, "broadcast_sm";
    /// `broadcast_sm_resp` (SMPP 5.0).
    BroadcastSmResp = 0x8000_0111, "broadcast_sm_resp";
    /// `query_broadcast_sm` (SMPP 5.0).
    QueryBroadcastSm = 0x0000_0112, "query_broadcast_sm";
    /// `query_broadcast_sm_resp` (SMPP 5.0).
    QueryBroadcastSmResp = 0x8000_0112, "query_broadcast_sm_resp";
    /// `cancel_broadcast_sm` (SMPP 5.0).
    CancelBroadcastSm = 0x0000_0113, "cancel_broadcast_sm";
    /// `cancel_broadcast_sm_resp` (SMPP 5.0).
    CancelBroadcastSmResp = 0x8000_0113, "cancel_broadcast_sm_resp";
}

impl CommandId {
    /// True when bit 31 is set: this is a response (including `generic_nack`).
    pub const fn is_response(self) -> bool {
        self.as_u32() & 0x8000_0000 != 0
    }

    /// The response a request is answered with, or `None` for responses and for the two
    /// requests that have none (`outbind`, `alert_notification`). Unknown requests are
    /// answered with `generic_nack`.
    pub const fn response(self) -> Option<CommandId> {
        match self {
            Self::Outbind | Self::AlertNotification => None,
            Self::Unknown(_) if !self.is_response() => Some(Self::GenericNack),
            _ if self.is_response() => None,
            _ => Some(Self::from_u32(self.as_u32() | 0x8000_0000)),
        }
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(v) => write!(f, "unknown(0x{v:08X})"),
            known => f.write_str(known.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for &id in CommandId::ALL {
            assert_eq!(CommandId::from_u32(id.as_u32()), id);
        }
        assert_eq!(CommandId::ALL.len(), 33);
    }

    #[test]
    fn every_request_but_two_has_its_response() {
        for &id in CommandId::ALL.iter().filter(|id| !id.is_response()) {
            match id.response() {
                Some(resp) => {
                    assert_eq!(resp.as_u32(), id.as_u32() | 0x8000_0000);
                    assert!(!matches!(resp, CommandId::Unknown(_)), "{id}");
                }
                None => assert!(matches!(
                    id,
                    CommandId::Outbind | CommandId::AlertNotification
                )),
            }
        }
        assert_eq!(
            CommandId::from_u32(0x77).response(),
            Some(CommandId::GenericNack)
        );
        assert_eq!(CommandId::SubmitSmResp.response(), None);
    }
}
