//! The packet filter (`--filter EXPR`) lives in `pcapx_facade::filter`,
//! shared with the Python package.

pub use pcapx_facade::filter::{PacketFilter, filter_error};
