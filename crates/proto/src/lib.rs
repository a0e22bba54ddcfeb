//! Code generated from `proto/` at build time: the bus envelope and events
//! (`herald.bus.v1`), and the `AdminService` (`herald.admin.v1`) and `NodeService`
//! (`herald.node.v1`) gRPC definitions with their tonic clients and servers.
#![forbid(unsafe_code)]

/// `herald.bus.v1`: what travels on NATS JetStream.
pub mod bus {
    /// Version 1.
    #[allow(missing_docs, unreachable_pub, clippy::all, reason = "generated code")]
    pub mod v1 {
        tonic::include_proto!("herald.bus.v1");
    }
}

/// `herald.node.v1`: the service every node serves.
pub mod node {
    /// Version 1.
    #[allow(missing_docs, unreachable_pub, clippy::all, reason = "generated code")]
    pub mod v1 {
        tonic::include_proto!("herald.node.v1");
    }
}

/// `herald.admin.v1`: the control plane's API.
pub mod admin {
    /// Version 1.
    #[allow(missing_docs, unreachable_pub, clippy::all, reason = "generated code")]
    pub mod v1 {
        tonic::include_proto!("herald.admin.v1");
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::bus::v1::{Address, Event, MtMessage, Receipt, Segment, Tlv, event};

    #[test]
    fn envelope_round_trips_through_protobuf() {
        let mt = MtMessage {
            id: "0196f3a2c4e07a1b".into(),
            account_id: "acme".into(),
            source: Some(Address {
                addr: "Herald".into(),
                ton: 5,
                npi: 0,
            }),
            destination: Some(Address {
                addr: "447700900001".into(),
                ton: 1,
                npi: 1,
            }),
            data_coding: 8,
            payload: vec![0, 0x48, 0, 0x69],
            tlvs: vec![Tlv {
                tag: 0x1401,
                value: vec![1, 2, 3],
            }],
            segment: Some(Segment {
                reference: 7,
                total: 2,
                seq: 1,
            }),
            ..MtMessage::default()
        };
        let bytes = mt.encode_to_vec();
        assert_eq!(MtMessage::decode(bytes.as_slice()).unwrap(), mt);
    }

    #[test]
    fn events_carry_receipts_or_mo() {
        let event = Event {
            kind: Some(event::Kind::Receipt(Receipt {
                message_id: "m1".into(),
                state: super::bus::v1::MessageState::Delivered as i32,
                ..Receipt::default()
            })),
        };
        let decoded = Event::decode(event.encode_to_vec().as_slice()).unwrap();
        assert!(matches!(decoded.kind, Some(event::Kind::Receipt(r)) if r.message_id == "m1"));
    }
}
