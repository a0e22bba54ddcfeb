//! The `command_status` table of SMPP 5.0 §4.7.6 (a superset of SMPP 3.4 §5.1.3).
//!
//! Every response PDU carries one of these. Unknown and vendor values (0x400–0x4FF) are kept
//! as numbers so that a router can pass a carrier's status on unchanged.

use std::fmt;

macro_rules! statuses {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $text:literal; )*) => {
        /// An SMPP `command_status` value, with the spec's name and meaning on each variant.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
        #[allow(non_camel_case_types)]
        pub enum CommandStatus {
            $( $(#[$doc])* $name, )*
            /// A value the specification reserves or leaves to SMSC vendors (0x400–0x4FF).
            Other(u32),
        }

        impl CommandStatus {
            /// The status for a wire value; values outside the table become [`CommandStatus::Other`].
            pub const fn from_u32(value: u32) -> Self {
                match value {
                    $( $value => Self::$name, )*
                    other => Self::Other(other),
                }
            }

            /// The wire value.
            pub const fn as_u32(self) -> u32 {
                match self {
                    $( Self::$name => $value, )*
                    Self::Other(v) => v,
                }
            }

            /// The specification's name, such as `ESME_RTHROTTLED`.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Self::$name => stringify!($name), )*
                    Self::Other(v) if v >= 0x400 && v <= 0x4FF => "VENDOR_SPECIFIC",
                    Self::Other(_) => "RESERVED",
                }
            }

            /// The specification's one-line description.
            pub const fn description(self) -> &'static str {
                match self {
                    $( Self::$name => $text, )*
                    Self::Other(v) if v >= 0x400 && v <= 0x4FF => "SMSC vendor-specific error",
                    Self::Other(_) => "reserved status",
                }
            }

            /// Every status of the table, in wire order (without `Other`).
            pub const ALL: &'static [CommandStatus] = &[ $( Self::$name, )* ];
        }
    };
}

statuses! {
    /// No error.
    #[default]
    ESME_ROK = 0x0000_0000, "No Error";
    /// Message length is invalid.
    ESME_RINVMSGLEN = 0x0000_0001, "Message Length is invalid";
    /// Command length is invalid.
    ESME_RINVCMDLEN = 0x0000_0002, "Command Length is invalid";
    /// Invalid command ID.
    ESME_RINVCMDID = 0x0000_0003, "Invalid Command ID";
    /// Incorrect bind status for the given command.
    ESME_RINVBNDSTS = 0x0000_0004, "Incorrect BIND Status for given command";
    /// The ESME is already in a bound state.
    ESME_RALYBND = 0x0000_0005, "ESME Already in Bound State";
    /// Invalid priority flag.
    ESME_RINVPRTFLG = 0x0000_0006, "Invalid Priority Flag";
    /// Invalid registered delivery flag.
    ESME_RINVREGDLVFLG = 0x0000_0007, "Invalid Registered Delivery Flag";
    /// System error.
    ESME_RSYSERR = 0x0000_0008, "System Error";
    /// Invalid source address.
    ESME_RINVSRCADR = 0x0000_000A, "Invalid Source Address";
    /// Invalid destination address.
    ESME_RINVDSTADR = 0x0000_000B, "Invalid Dest Addr";
    /// Message ID is invalid.
    ESME_RINVMSGID = 0x0000_000C, "Message ID is invalid";
    /// Bind failed.
    ESME_RBINDFAIL = 0x0000_000D, "Bind Failed";
    /// Invalid password.
    ESME_RINVPASWD = 0x0000_000E, "Invalid Password";
    /// Invalid system ID.
    ESME_RINVSYSID = 0x0000_000F, "Invalid System ID";
    /// cancel_sm failed.
    ESME_RCANCELFAIL = 0x0000_0011, "Cancel SM Failed";
    /// replace_sm failed.
    ESME_RREPLACEFAIL = 0x0000_0013, "Replace SM Failed";
    /// Message queue full.
    ESME_RMSGQFUL = 0x0000_0014, "Message Queue Full";
    /// Invalid service type.
    ESME_RINVSERTYP = 0x0000_0015, "Invalid Service Type";
    /// Invalid number of destinations.
    ESME_RINVNUMDESTS = 0x0000_0033, "Invalid number of destinations";
    /// Invalid distribution list name.
    ESME_RINVDLNAME = 0x0000_0034, "Invalid Distribution List name";
    /// Destination flag is invalid (submit_multi).
    ESME_RINVDESTFLAG = 0x0000_0040, "Destination flag is invalid (submit_multi)";
    /// Invalid "submit with replace" request.
    ESME_RINVSUBREP = 0x0000_0042, "Invalid 'submit with replace' request";
    /// Invalid esm_class field data.
    ESME_RINVESMCLASS = 0x0000_0043, "Invalid esm_class field data";
    /// Cannot submit to a distribution list.
    ESME_RCNTSUBDL = 0x0000_0044, "Cannot Submit to Distribution List";
    /// submit_sm, data_sm or submit_multi failed.
    ESME_RSUBMITFAIL = 0x0000_0045, "submit_sm, data_sm or submit_multi failed";
    /// Invalid source address TON.
    ESME_RINVSRCTON = 0x0000_0048, "Invalid Source address TON";
    /// Invalid source address NPI.
    ESME_RINVSRCNPI = 0x0000_0049, "Invalid Source address NPI";
    /// Invalid destination address TON.
    ESME_RINVDSTTON = 0x0000_0050, "Invalid Destination address TON";
    /// Invalid destination address NPI.
    ESME_RINVDSTNPI = 0x0000_0051, "Invalid Destination address NPI";
    /// Invalid system_type field.
    ESME_RINVSYSTYP = 0x0000_0053, "Invalid system_type field";
    /// Invalid replace_if_present flag.
    ESME_RINVREPFLAG = 0x0000_0054, "Invalid replace_if_present flag";
    /// Invalid number of messages.
    ESME_RINVNUMMSGS = 0x0000_0055, "Invalid number of messages";
    /// Throttling error: the ESME exceeded its allowed message limits.
    ESME_RTHROTTLED = 0x0000_0058, "Throttling error (ESME has exceeded allowed message limits)";
    /// Invalid scheduled delivery time.
    ESME_RINVSCHED = 0x0000_0061, "Invalid Scheduled Delivery Time";
    /// Invalid message validity period (expiry time).
    ESME_RINVEXPIRY = 0x0000_0062, "Invalid message validity period (Expiry time)";
    /// Predefined message invalid or not found.
    ESME_RINVDFTMSGID = 0x0000_0063, "Predefined Message Invalid or Not Found";
    /// ESME receiver temporary application error.
    ESME_RX_T_APPN = 0x0000_0064, "ESME Receiver Temporary App Error Code";
    /// ESME receiver permanent application error.
    ESME_RX_P_APPN = 0x0000_0065, "ESME Receiver Permanent App Error Code";
    /// ESME receiver reject message error.
    ESME_RX_R_APPN = 0x0000_0066, "ESME Receiver Reject Message Error Code";
    /// query_sm request failed.
    ESME_RQUERYFAIL = 0x0000_0067, "query_sm request failed";
    /// Error in the optional part of the PDU body.
    ESME_RINVTLVSTREAM = 0x0000_00C0, "Error in the optional part of the PDU Body";
    /// TLV not allowed.
    ESME_RTLVNOTALLWD = 0x0000_00C1, "TLV not allowed";
    /// Invalid parameter length.
    ESME_RINVTLVLEN = 0x0000_00C2, "Invalid Parameter Length";
    /// Expected TLV missing.
    ESME_RMISSINGTLV = 0x0000_00C3, "Expected TLV missing";
    /// Invalid TLV value.
    ESME_RINVTLVVAL = 0x0000_00C4, "Invalid TLV Value";
    /// Transaction delivery failure (data_sm).
    ESME_RDELIVERYFAILURE = 0x0000_00FE, "Transaction Delivery Failure";
    /// Unknown error.
    ESME_RUNKNOWNERR = 0x0000_00FF, "Unknown Error";
    /// ESME not authorised to use the specified service_type.
    ESME_RSERTYPUNAUTH = 0x0000_0100, "ESME Not authorised to use specified service_type";
    /// ESME prohibited from using the specified operation.
    ESME_RPROHIBITED = 0x0000_0101, "ESME Prohibited from using specified operation";
    /// The specified service_type is unavailable.
    ESME_RSERTYPUNAVAIL = 0x0000_0102, "Specified service_type is unavailable";
    /// The specified service_type is denied.
    ESME_RSERTYPDENIED = 0x0000_0103, "Specified service_type is denied";
    /// Invalid data coding scheme.
    ESME_RINVDCS = 0x0000_0104, "Invalid Data Coding Scheme";
    /// Source address subunit is invalid.
    ESME_RINVSRCADDRSUBUNIT = 0x0000_0105, "Source Address Sub unit is Invalid";
    /// Destination address subunit is invalid.
    ESME_RINVDSTADDRSUBUNIT = 0x0000_0106, "Destination Address Sub unit is Invalid";
    /// Broadcast frequency interval is invalid.
    ESME_RINVBCASTFREQINT = 0x0000_0107, "Broadcast Frequency Interval is invalid";
    /// Broadcast alias name is invalid.
    ESME_RINVBCASTALIAS_NAME = 0x0000_0108, "Broadcast Alias Name is invalid";
    /// Broadcast area format is invalid.
    ESME_RINVBCASTAREAFMT = 0x0000_0109, "Broadcast Area Format is invalid";
    /// Number of broadcast areas is invalid.
    ESME_RINVNUMBCAST_AREAS = 0x0000_010A, "Number of Broadcast Areas is invalid";
    /// Broadcast content type is invalid.
    ESME_RINVBCASTCNTTYPE = 0x0000_010B, "Broadcast Content Type is invalid";
    /// Broadcast message class is invalid.
    ESME_RINVBCASTMSGCLASS = 0x0000_010C, "Broadcast Message Class is invalid";
    /// broadcast_sm operation failed.
    ESME_RBCASTFAIL = 0x0000_010D, "broadcast_sm operation failed";
    /// query_broadcast_sm operation failed.
    ESME_RBCASTQUERYFAIL = 0x0000_010E, "query_broadcast_sm operation failed";
    /// cancel_broadcast_sm operation failed.
    ESME_RBCASTCANCELFAIL = 0x0000_010F, "cancel_broadcast_sm operation failed";
    /// Number of repeated broadcasts is invalid.
    ESME_RINVBCAST_REP = 0x0000_0110, "Number of Repeated Broadcasts is invalid";
    /// Broadcast service group is invalid.
    ESME_RINVBCASTSRVGRP = 0x0000_0111, "Broadcast Service Group is invalid";
    /// Broadcast channel indicator is invalid.
    ESME_RINVBCASTCHANIND = 0x0000_0112, "Broadcast Channel Indicator is invalid";
}

impl CommandStatus {
    /// True for `ESME_ROK`.
    pub const fn is_ok(self) -> bool {
        self.as_u32() == 0
    }

    /// True for statuses that mean "try again later" rather than "this message is bad":
    /// throttling, queue full, system error and the receiver's temporary application error.
    pub const fn is_transient(self) -> bool {
        matches!(
            self,
            Self::ESME_RTHROTTLED | Self::ESME_RMSGQFUL | Self::ESME_RSYSERR | Self::ESME_RX_T_APPN
        )
    }
}

impl From<u32> for CommandStatus {
    fn from(value: u32) -> Self {
        Self::from_u32(value)
    }
}

impl From<CommandStatus> for u32 {
    fn from(value: CommandStatus) -> Self {
        value.as_u32()
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:08X})", self.name(), self.as_u32())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_status_round_trips_and_has_a_name() {
        for &status in CommandStatus::ALL {
            assert_eq!(CommandStatus::from_u32(status.as_u32()), status);
            assert!(status.name().starts_with("ESME_"));
        }
        assert_eq!(CommandStatus::ALL.len(), 67);
    }

    #[test]
    fn vendor_values_are_kept() {
        let s = CommandStatus::from_u32(0x0000_0401);
        assert_eq!(s, CommandStatus::Other(0x401));
        assert_eq!(s.as_u32(), 0x401);
        assert_eq!(s.name(), "VENDOR_SPECIFIC");
        assert_eq!(CommandStatus::from_u32(0x09).name(), "RESERVED");
    }

    #[test]
    fn display_names_the_value() {
        assert_eq!(
            CommandStatus::ESME_RTHROTTLED.to_string(),
            "ESME_RTHROTTLED (0x00000058)"
        );
    }
}
