//! The `submit_sm`s of one message of the mix: one for a short GSM 7-bit or UCS-2 text,
//! several (a UDH with an 8-bit reference on each) for a long one.

use herald_smpp::concat::{SplitForm, SplitOptions, split_text};
use herald_smpp::pdu::SubmitSm;
use herald_smpp::text::{ConcatReference, Encoding, Packing};
use herald_smpp::{Address, DataCoding, EsmClass, RegisteredDelivery};

use crate::config::{LoadConfig, MessageKind};
use crate::error::LoadError;

/// A long text: 3 GSM 7-bit segments (153 septets each after the UDH).
const LONG_TEXT: &str = "Herald load test, long message. \
    Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
    incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud \
    exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure \
    dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. \
    Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia.";

/// Builds the submits of message number `index` under `config`.
///
/// # Errors
///
/// [`LoadError::Message`] if the text cannot be encoded or split (it always can for the
/// built-in texts).
pub fn build(config: &LoadConfig, index: u64) -> Result<Vec<SubmitSm>, LoadError> {
    let (text, encoding) = match config.mix.kind(index) {
        MessageKind::Gsm => (
            format!("Herald load test {index}: your code is 493817"),
            Encoding::GSM7,
        ),
        MessageKind::Ucs2 => (
            format!("Herald нагрузка {index} ✓ код 493817"),
            Encoding::Ucs2,
        ),
        MessageKind::Long => (format!("{index} {LONG_TEXT}"), Encoding::GSM7),
    };
    let options = SplitOptions {
        form: SplitForm::Udh,
        reference_size: ConcatReference::EightBit,
        reference: u16::try_from(index % 256).unwrap_or(0),
        packing: Packing::Unpacked,
    };
    let segments = split_text(&text, encoding, &options)?;
    let source = if config.source.chars().all(|c| c.is_ascii_digit()) {
        Address::international(&config.source)
    } else {
        Address::alphanumeric(&config.source)
    };
    let dest = Address::international(&config.destination.render(index));
    Ok(segments
        .into_iter()
        .map(|segment| SubmitSm {
            source: source.clone(),
            dest: dest.clone(),
            esm_class: EsmClass(0).with_udhi(segment.udhi),
            registered_delivery: RegisteredDelivery(u8::from(config.registered_delivery)),
            data_coding: DataCoding(encoding.data_coding()),
            short_message: segment.user_data,
            ..SubmitSm::default()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::config::MessageMix;

    #[test]
    fn each_kind_builds_its_segments() {
        let config = LoadConfig {
            mix: MessageMix {
                gsm: 34,
                ucs2: 33,
                long: 33,
            },
            ..LoadConfig::default()
        };
        let gsm = build(&config, 0).unwrap();
        assert_eq!(gsm.len(), 1);
        assert_eq!(gsm[0].data_coding.0, 0);
        assert_eq!(gsm[0].dest.addr.as_str(), Some("447700000000"));
        let ucs2 = build(&config, 40).unwrap();
        assert_eq!(ucs2.len(), 1);
        assert_eq!(ucs2[0].data_coding.0, 8);
        let long = build(&config, 99).unwrap();
        assert_eq!(long.len(), 3);
        assert!(
            long.iter()
                .all(|s| s.esm_class.udhi() && s.short_message.len() <= 160)
        );
        assert_eq!(long[0].registered_delivery.0, 1);
    }
}
