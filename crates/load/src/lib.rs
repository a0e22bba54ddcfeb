//! `herald-load`: an SMPP load generator for Herald or any SMPP server.
//!
//! It binds N sessions (transceivers by default), keeps a window of submits outstanding on
//! each, submits as fast as the server answers or at a paced target rate, for a count or a
//! duration, with a mix of GSM 7-bit, UCS-2 and long (concatenated) messages. With receipts
//! requested it matches each `deliver_sm` receipt to its submit by message id and measures
//! the end-to-end time; submits answered OK whose receipt never came within a grace period
//! are the loss. The [`Report`] prints for humans or as JSON.
//!
//! - [`config`]: what to run ([`LoadConfig`], [`MessageMix`], [`DestPattern`]).
//! - [`message`]: the submits of one message of the mix.
//! - [`pacing`]: the schedule of a paced run.
//! - [`report`]: latencies, percentiles and the report.
//! - [`run`](mod@run): binding, submitting, receipt matching ([`run()`], [`Counters`]).
//! - [`error`](mod@error): [`LoadError`].
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod message;
pub mod pacing;
pub mod report;
pub mod run;

pub use config::{BindKind, DestPattern, LoadConfig, MessageMix, Rate, parse_duration};
pub use error::LoadError;
pub use report::{Latencies, LatencySummary, Report};
pub use run::{Counters, Progress, run};
