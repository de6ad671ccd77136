//! pcapx statistics: exact, mergeable aggregates over the rows of a field table.
//!
//! * [`group`] — [`GroupSpec`] / [`GroupPartial`] / [`GroupTable`]: pandas-style
//!   `groupby` with `count`, `sum`, `mean`, `min`, `max`, `nunique`.
//! * [`distinct`] — [`Distinct`]: exact value → count maps in first-seen order,
//!   behind `unique` and `describe`.
//! * [`describe`] — pandas `describe()` of one column ([`Summary`]).
//! * [`key`] — the compact binary encoding of values that keys every map, and
//!   [`Scalar`], the owned value it decodes into.
//! * [`render`] — aligned tables, CSV and JSON for the results.
//! * [`plot`] — horizontal bar charts: SVG, PNG, and Unicode blocks for a terminal.
//!
//! Every accumulator is `Default + AddAssign`: workers build one partial per
//! batch of packets and the partials are merged in batch order, so results are
//! exact and identical for any thread count. Memory grows with the number of
//! groups and distinct values, never with the number of packets.
//!
//! Architecture invariant: this crate reads no input; the only I/O is
//! [`plot::png`] writing the file it is asked for.

pub mod describe;
pub mod distinct;
pub mod fxhash;
pub mod group;
pub mod key;
pub mod plot;
pub mod render;

pub use describe::{Summary, describe};
pub use distinct::Distinct;
pub use group::{
    AggKind, GroupError, GroupPartial, GroupRow, GroupSpec, GroupTable, KeyBuilder, Order, Stat,
};
pub use key::Scalar;
pub use plot::{Bar, Bars, PlotError};
pub use render::OutFormat;
