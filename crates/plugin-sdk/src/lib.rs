//! Write pcapx dissector plugins in ordinary safe Rust.
//!
//! Implement [`Protocol`] for a type (declare fields in [`Protocol::declare`],
//! decode one layer in [`Protocol::dissect`]) and name it in [`pcapx_plugin!`],
//! which exports the C entry point `pcapx_plugin_v1` and the `extern "C"` shims
//! the host calls. The shims catch panics (`catch_unwind`): a panicking plugin
//! costs its packet a `plugin-failed` anomaly, never the process.
//!
//! ```text
//! use pcapx_plugin_sdk::{pcapx_plugin, Cx, Declare, Field, FieldSpec, FieldType, Outcome, Protocol};
//!
//! struct Echo { seq: Field }
//!
//! impl Protocol for Echo {
//!     fn declare(d: &mut Declare) -> Echo {
//!         d.protocol("echo", "Echo Protocol", "Echo");
//!         d.bind("udp.port", 7);
//!         Echo { seq: d.field(FieldSpec::new("echo.seq", "Sequence", FieldType::U32, "")) }
//!     }
//!     fn dissect(&self, data: &[u8], cx: &mut Cx<'_>) -> Outcome {
//!         let Some(b) = data.get(..4) else { cx.short(); return Outcome::end(data.len()) };
//!         cx.add_u64(self.seq, u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])));
//!         Outcome::end(4)
//!     }
//! }
//!
//! pcapx_plugin! { name: "echo", version: "1.0.0", description: "Echo", protocols: [Echo] }
//! ```
//!
//! Threads: one instance of each protocol type serves every worker thread
//! (`&self`, `Send + Sync`); keep it immutable after `declare`, or pass
//! `single_threaded: true` to the macro and the host serialises calls.
//!
//! This crate depends only on `pcapx-plugin-abi`. Its one module with `unsafe`
//! code, `ffi`, turns the host's pointers into slices and references.

mod ffi;

use std::ffi::CString;
use std::sync::OnceLock;

pub use pcapx_plugin_abi as abi;

pub use ffi::Cx;

/// A field's type (mirrors the ABI's `FT_*`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FieldType {
    U8,
    U16,
    U32,
    U64,
    /// ABI 1.1 (emit with `add_i64`; the value must fit).
    I8,
    I16,
    I32,
    I64,
    F64,
    Bool,
    Ipv4,
    Ipv6,
    Mac,
    Bytes,
    Str,
    /// Absolute time, nanoseconds since the Unix epoch.
    Time,
}

impl FieldType {
    fn code(self) -> u8 {
        match self {
            FieldType::U8 => abi::FT_U8,
            FieldType::U16 => abi::FT_U16,
            FieldType::U32 => abi::FT_U32,
            FieldType::U64 => abi::FT_U64,
            FieldType::I8 => abi::FT_I8,
            FieldType::I16 => abi::FT_I16,
            FieldType::I32 => abi::FT_I32,
            FieldType::I64 => abi::FT_I64,
            FieldType::F64 => abi::FT_F64,
            FieldType::Bool => abi::FT_BOOL,
            FieldType::Ipv4 => abi::FT_IPV4,
            FieldType::Ipv6 => abi::FT_IPV6,
            FieldType::Mac => abi::FT_MAC,
            FieldType::Bytes => abi::FT_BYTES,
            FieldType::Str => abi::FT_STR,
            FieldType::Time => abi::FT_TIME,
        }
    }
}

/// Handle of a declared field (its index in the protocol's field list).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Field(pub u32);
/// Handle of a table this protocol hands off into.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Table(pub u32);
/// Handle of a declared anomaly.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Anomaly(pub u32);

/// A field declaration: Wireshark-style filter name, display name, type, description.
#[derive(Clone, Debug)]
pub struct FieldSpec {
    name: String,
    display: String,
    ftype: FieldType,
    description: String,
    hex: bool,
    aliases: Vec<String>,
    value_names: Vec<(u64, String)>,
}

impl FieldSpec {
    pub fn new(name: &str, display: &str, ftype: FieldType, description: &str) -> FieldSpec {
        FieldSpec {
            name: name.to_owned(),
            display: display.to_owned(),
            ftype,
            description: description.to_owned(),
            hex: false,
            aliases: Vec::new(),
            value_names: Vec::new(),
        }
    }
    /// Hex display (Wireshark's `BASE_HEX`): `show` prints `0x…`, and so do
    /// tables written with `--display-base` (as `tshark -T fields` does).
    pub fn hex(mut self) -> FieldSpec {
        self.hex = true;
        self
    }
    /// A short alias (`sport`).
    pub fn alias(mut self, a: &str) -> FieldSpec {
        self.aliases.push(a.to_owned());
        self
    }
    /// Names of an integer field's values (Wireshark's `value_string`):
    /// `.names(&[(1, "JOIN"), (2, "MOVE")])`. `show` prints `type = 2 (MOVE)`,
    /// a summary the plugin leaves to the host shows `MOVE`, and tables
    /// written with `--names` hold `MOVE`. Signed fields name negative values
    /// as they are (`(-1, "NONE")`).
    pub fn names<V: Copy + Into<i128>>(mut self, names: &[(V, &str)]) -> FieldSpec {
        for &(v, n) in names {
            // A negative value travels as its two's-complement pattern.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let key = v.into() as u64;
            self.value_names.retain(|(k, _)| *k != key);
            self.value_names.push((key, n.to_owned()));
        }
        self
    }
}

/// Registration of one protocol, handed to [`Protocol::declare`].
#[derive(Debug, Default)]
pub struct Declare {
    name: String,
    display: String,
    summary_name: String,
    fields: Vec<FieldSpec>,
    bindings: Vec<(String, u64)>,
    heuristics: Vec<String>,
    tables: Vec<String>,
    anomalies: Vec<(String, String)>,
}

fn index(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl Declare {
    /// Name the protocol: filter name (`ntp`), long name, summary name (`NTP`).
    pub fn protocol(&mut self, name: &str, display: &str, summary_name: &str) {
        name.clone_into(&mut self.name);
        display.clone_into(&mut self.display);
        summary_name.clone_into(&mut self.summary_name);
    }
    pub fn field(&mut self, spec: FieldSpec) -> Field {
        self.fields.push(spec);
        Field(index(self.fields.len() - 1))
    }
    /// Be called for `key` in `table` (`("udp.port", 123)`).
    pub fn bind(&mut self, table: &str, key: u64) {
        self.bindings.push((table.to_owned(), key));
    }
    /// Be offered (through [`Protocol::accepts`]) payloads of `table` nobody claimed.
    pub fn heuristic(&mut self, table: &str) {
        self.heuristics.push(table.to_owned());
    }
    /// A table this protocol hands off into (for [`Outcome::next`]/[`Outcome::ports`]).
    pub fn table(&mut self, name: &str) -> Table {
        if let Some(i) = self.tables.iter().position(|t| t == name) {
            return Table(index(i));
        }
        self.tables.push(name.to_owned());
        Table(index(self.tables.len() - 1))
    }
    /// A protocol-specific anomaly (`ntp.bad-length`).
    pub fn anomaly(&mut self, name: &str, description: &str) -> Anomaly {
        self.anomalies
            .push((name.to_owned(), description.to_owned()));
        Anomaly(index(self.anomalies.len() - 1))
    }
}

/// What follows the layer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Next {
    End,
    Table(Table, u64),
    Ports(Table, u16, u16),
    /// Not this protocol's bytes: see [`Outcome::not_mine`].
    NotMine,
}

/// The result of dissecting one layer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub header_len: usize,
    pub payload_len: Option<usize>,
    pub next: Next,
}

impl Outcome {
    /// The layer ends the dissection after `header_len` bytes; the rest is `data`.
    pub fn end(header_len: usize) -> Outcome {
        Outcome {
            header_len,
            payload_len: None,
            next: Next::End,
        }
    }
    /// "Not mine": these bytes are not this protocol's (bad magic on a bound
    /// port). Return it before emitting anything: pcapx withdraws the layer
    /// and offers the bytes to the next candidate (the other port, then the
    /// heuristics), else they become `data`.
    pub fn not_mine() -> Outcome {
        Outcome {
            header_len: 0,
            payload_len: None,
            next: Next::NotMine,
        }
    }
    /// Hand the rest to whoever is bound to `key` in `table`.
    pub fn next(header_len: usize, table: Table, key: u64) -> Outcome {
        Outcome {
            header_len,
            payload_len: None,
            next: Next::Table(table, key),
        }
    }
    /// Hand the rest to whoever is bound to the lower, then the higher port.
    pub fn ports(header_len: usize, table: Table, src: u16, dst: u16) -> Outcome {
        Outcome {
            header_len,
            payload_len: None,
            next: Next::Ports(table, src, dst),
        }
    }
    /// The header declares the payload length (bytes past it become padding).
    pub fn with_payload_len(mut self, len: usize) -> Outcome {
        self.payload_len = Some(len);
        self
    }
}

/// One protocol of a plugin.
pub trait Protocol: Send + Sync + Sized + 'static {
    /// Declare the protocol and its fields; called once, at load time.
    fn declare(d: &mut Declare) -> Self;
    /// Decode one layer from `data`; emit fields through `cx`.
    fn dissect(&self, data: &[u8], cx: &mut Cx<'_>) -> Outcome;
    /// Heuristic (only asked when [`Declare::heuristic`] was called): is this ours?
    fn accepts(&self, _data: &[u8], _info: &Info<'_>) -> bool {
        false
    }
    /// Scapy-style one-line summary of this layer (`data` runs from the layer's
    /// first byte to the end of the frame). Return `false` to be shown by name.
    fn summary(&self, _data: &[u8], _header_len: usize, _out: &mut String) -> bool {
        false
    }
}

/// What the host says about the layer being dissected.
#[derive(Copy, Clone, Debug)]
pub struct Info<'a> {
    pub frame_number: u64,
    /// Offset of the layer within the frame.
    pub offset: u64,
    /// Payload length the layer below declared for us.
    pub declared_len: Option<u64>,
    /// Inside a quoted packet (an ICMP error's copy).
    pub quoted: bool,
    /// The protocol below, as bytes (validated lazily by [`Info::prev_proto`]).
    pub prev_proto_bytes: &'a [u8],
}

impl Info<'_> {
    /// The protocol below (`udp`), empty if none.
    pub fn prev_proto(&self) -> &str {
        std::str::from_utf8(self.prev_proto_bytes).unwrap_or("")
    }
}

/// Plugin metadata given to [`pcapx_plugin!`].
#[derive(Copy, Clone, Debug)]
pub struct PluginMeta {
    pub name: &'static str,
    pub version: &'static str,
    pub description: &'static str,
    pub single_threaded: bool,
}

/// Declares the plugin and exports `pcapx_plugin_v1`.
///
/// ```text
/// pcapx_plugin! {
///     name: "ntp",
///     version: env!("CARGO_PKG_VERSION"),
///     description: "Network Time Protocol",
///     protocols: [Ntp],
///     // optional: single_threaded: true,
/// }
/// ```
#[macro_export]
macro_rules! pcapx_plugin {
    (
        name: $name:expr,
        version: $version:expr,
        description: $description:expr,
        protocols: [$($proto:ty),+ $(,)?]
        $(, single_threaded: $st:expr)?
        $(,)?
    ) => {
        /// The pcapx plugin entry point (ABI major version 1).
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        pub extern "C" fn pcapx_plugin_v1(
            host: *const $crate::abi::HostInfo,
        ) -> *const $crate::abi::PluginDecl {
            static DECL: ::std::sync::OnceLock<usize> = ::std::sync::OnceLock::new();
            let meta = $crate::PluginMeta {
                name: $name,
                version: $version,
                description: $description,
                single_threaded: false $(|| $st)?,
            };
            $crate::__entry(&DECL, host, meta, &[$($crate::__protocol::<$proto>),+])
        }
    };
}

/// A protocol's leaked declaration (built once at load time; never freed,
/// since the plugin is never unloaded).
#[doc(hidden)]
pub type ProtocolBuilder = fn() -> Option<abi::ProtocolDecl>;

fn cstr(s: &str) -> Option<*const std::ffi::c_char> {
    CString::new(s).ok().map(|c| c.into_raw().cast_const())
}

fn leak<T>(v: Vec<T>) -> *const T {
    if v.is_empty() {
        return std::ptr::null();
    }
    Box::leak(v.into_boxed_slice()).as_ptr()
}

fn cstr_array(v: &[String]) -> Option<*const *const std::ffi::c_char> {
    let ptrs = v.iter().map(|s| cstr(s)).collect::<Option<Vec<_>>>()?;
    Some(leak(ptrs))
}

fn value_names(v: &[(u64, String)]) -> Option<*const abi::ValueNameDecl> {
    let decls = v
        .iter()
        .map(|(value, name)| {
            Some(abi::ValueNameDecl {
                size: size_of_u32::<abi::ValueNameDecl>(),
                value: *value,
                name: cstr(name)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(leak(decls))
}

fn size_of_u32<T>() -> u32 {
    u32::try_from(std::mem::size_of::<T>()).unwrap_or(u32::MAX)
}

/// Build one protocol's declaration (used by [`pcapx_plugin!`]).
#[doc(hidden)]
pub fn __protocol<P: Protocol>() -> Option<abi::ProtocolDecl> {
    let mut d = Declare::default();
    let proto = P::declare(&mut d);
    let mut fields = Vec::with_capacity(d.fields.len());
    for f in &d.fields {
        fields.push(abi::FieldDecl {
            size: size_of_u32::<abi::FieldDecl>(),
            ftype: f.ftype.code(),
            base: if f.hex { abi::BASE_HEX } else { abi::BASE_DEC },
            alias_count: u16::try_from(f.aliases.len()).ok()?,
            name: cstr(&f.name)?,
            display: cstr(&f.display)?,
            description: cstr(&f.description)?,
            aliases: cstr_array(&f.aliases)?,
            value_name_count: index(f.value_names.len()),
            value_names: value_names(&f.value_names)?,
        });
    }
    let mut bindings = Vec::with_capacity(d.bindings.len());
    for (t, k) in &d.bindings {
        bindings.push(abi::BindingDecl {
            size: size_of_u32::<abi::BindingDecl>(),
            table: cstr(t)?,
            key: *k,
        });
    }
    let mut anomalies = Vec::with_capacity(d.anomalies.len());
    for (n, desc) in &d.anomalies {
        anomalies.push(abi::AnomalyDecl {
            size: size_of_u32::<abi::AnomalyDecl>(),
            name: cstr(n)?,
            description: cstr(desc)?,
        });
    }
    let heuristic = !d.heuristics.is_empty();
    let user: &'static mut P = Box::leak(Box::new(proto));
    Some(abi::ProtocolDecl {
        size: size_of_u32::<abi::ProtocolDecl>(),
        field_count: index(fields.len()),
        binding_count: index(bindings.len()),
        heuristic_count: index(d.heuristics.len()),
        table_count: index(d.tables.len()),
        anomaly_count: index(anomalies.len()),
        name: cstr(&d.name)?,
        display: cstr(&d.display)?,
        summary_name: cstr(&d.summary_name)?,
        fields: leak(fields),
        bindings: leak(bindings),
        heuristics: cstr_array(&d.heuristics)?,
        tables: cstr_array(&d.tables)?,
        anomalies: leak(anomalies),
        user: std::ptr::from_mut(user).cast(),
        dissect: Some(ffi::dissect_shim::<P>),
        accepts: if heuristic {
            Some(ffi::accepts_shim::<P>)
        } else {
            None
        },
        summary: Some(ffi::summary_shim::<P>),
    })
}

/// The body of the generated entry point: build (once) and return the
/// plugin declaration; NULL if declaring panicked or a name had a NUL byte.
#[doc(hidden)]
pub fn __entry(
    cell: &'static OnceLock<usize>,
    host: *const abi::HostInfo,
    meta: PluginMeta,
    protocols: &[ProtocolBuilder],
) -> *const abi::PluginDecl {
    ffi::install_panic_hook(host);
    let build = || -> Option<usize> {
        let protos = protocols.iter().map(|b| b()).collect::<Option<Vec<_>>>()?;
        let decl = abi::PluginDecl {
            magic: abi::PLUGIN_MAGIC,
            size: size_of_u32::<abi::PluginDecl>(),
            abi_major: abi::ABI_MAJOR,
            abi_minor: abi::ABI_MINOR,
            flags: if meta.single_threaded {
                abi::PLUGIN_SINGLE_THREADED
            } else {
                0
            },
            name: cstr(meta.name)?,
            version: cstr(meta.version)?,
            description: cstr(meta.description)?,
            protocol_count: index(protos.len()),
            protocols: leak(protos),
        };
        let decl: &'static abi::PluginDecl = Box::leak(Box::new(decl));
        Some(std::ptr::from_ref(decl) as usize)
    };
    let addr = cell.get_or_init(|| std::panic::catch_unwind(build).ok().flatten().unwrap_or(0));
    *addr as *const abi::PluginDecl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declare_hands_out_indices() {
        let mut d = Declare::default();
        d.protocol("x", "X", "X");
        let a = d.field(FieldSpec::new("x.a", "A", FieldType::U8, ""));
        let b = d.field(FieldSpec::new("x.b", "B", FieldType::Str, "").alias("bee"));
        assert_eq!((a, b), (Field(0), Field(1)));
        let t = d.table("udp.port");
        assert_eq!(d.table("ip.proto"), Table(1));
        assert_eq!(d.table("udp.port"), t);
        assert_eq!(d.anomaly("x.bad", "bad"), Anomaly(0));
    }
}
