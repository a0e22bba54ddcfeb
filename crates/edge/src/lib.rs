//! The edge role: the SMPP server that ESMEs bind to.
//!
//! The edge is stateless: any ESME may bind to any edge replica, and everything it accepts
//! is on the bus before the ESME hears OK.
//!
//! - [`message_id`]: cluster-unique, time-sortable message ids made without coordination.
//! - [`submit`]: checks a `submit_sm` field by field, with the status the specification
//!   gives each fault, and turns it into the bus envelope.
#![forbid(unsafe_code)]

pub mod message_id;
pub mod submit;
