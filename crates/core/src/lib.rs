//! pcapx core: the vocabulary every other crate speaks.
//!
//! * [`registry`] — the field registry in the spirit of Wireshark's `hf_register_info`:
//!   protocols, typed fields with filter names (`ip.src`), display names, descriptions
//!   and short aliases (`src`), plus the anomaly vocabulary. Built once, then frozen.
//! * [`dissector`] — the object-safe [`Dissector`] trait that built-in and plugin
//!   dissectors implement, and the [`Registrar`] they register through.
//! * [`fields`] — [`Fields`], the reusable per-packet sink that dissectors push typed
//!   values into (no per-packet heap allocation once warm).
//! * [`keys`] — names of the built-in dispatch tables and newtypes for their keys
//!   ([`EtherType`], [`IpProto`], [`Port`], [`LinkType`]).
//! * [`field_table!`] — a protocol's fields declared once, as data: one line per
//!   field yields a struct of ids and the function that registers them.
//! * [`engine`] — [`Engine`], which walks the dispatch tables from the link type down,
//!   one layer at a time.
//!
//! Architecture invariant: this crate does no I/O and never panics on packet bytes.

mod declare;
pub mod dissector;
pub mod engine;
pub mod fields;
pub mod keys;
pub mod reassembled;
pub mod registry;
pub mod value;

pub use dissector::{Ctx, Dissector, Next, Outcome, Registrar};
pub use engine::{BuildError, Engine, EngineBuilder, Framer, PacketMeta};
pub use fields::{AnomalyTally, Cut, Entry, FieldMask, Fields, LayerRecord, Limit, Wanted};
pub use keys::{EtherType, IpProto, LinkType, Port};
pub use reassembled::{
    DatagramCx, DatagramState, IpDefrag, PduCx, PduLen, Reassembled, Source, TcpDeseg,
};
pub use registry::{
    AnomalyDef, AnomalyId, Column, FieldDef, FieldId, ProtoId, ProtocolDef, Registry, RegistryError,
};
pub use value::{Base, FieldType, Value};
