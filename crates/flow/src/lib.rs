//! Conversations: the stateful layer over single packets.
//!
//! - [`community_id`] — Corelight Community ID v1 ([`CommunityId`]).
//! - [`packet`] — the cheap header parse ([`packet::parse`] → [`PacketInfo`])
//!   that picks a packet's flow without the dissection engine.
//! - [`defrag`] — IPv4/IPv6 defragmentation with tshark's overlap choices
//!   ([`defrag::Defragmenter`]), in bounded memory.
//! - [`deseg`] — TCP desegmentation for application dissectors that frame
//!   PDUs ([`deseg::Desegmenter`], tshark's `tcp_dissect_pdus` model).
//! - [`fasthash`] — the keyed fast hasher of the per-packet maps.
//! - [`key`] — the symmetric [`FlowKey`] and the address-pair shard hash.
//! - [`table`] — the [`FlowTable`]: bidirectional flows with Zeek's
//!   `conn_state` and `history`, idle/active timeouts, TCP port reuse.
//! - [`analysis`] — tshark's TCP sequence analysis (`tcp.analysis.*` flags).
//! - [`numbering`] — tshark's `tcp.stream`/`udp.stream` numbering and the
//!   per-packet Community ID, for packet tables.
//! - [`reassembly`] — per-direction TCP reassembly ([`Stream`]) for
//!   application dissectors, in bounded memory.
//!
//! This crate does no I/O.

pub mod analysis;
pub mod community_id;
pub mod defrag;
pub mod deseg;
pub mod fasthash;
pub mod key;
pub mod numbering;
pub mod packet;
pub mod reassembly;
pub mod table;

pub use community_id::CommunityId;
pub use key::{Addr, FlowKey};
pub use packet::{PacketInfo, parse};
pub use reassembly::{Stream, StreamConfig};
pub use table::{ConnState, FlowConfig, FlowRecord, FlowTable};
