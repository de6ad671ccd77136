//! The pcapx dissector-plugin C ABI, version 1.
//!
//! This crate is the Rust mirror of `include/pcapx_plugin.h`: plain `#[repr(C)]`
//! data and `extern "C"` function-pointer types, no dependencies and no code. A
//! test compiles the header with the system C compiler and checks every size,
//! member offset and constant against these definitions.
//!
//! * The plugin exports one function, [`ENTRY_SYMBOL`] (`pcapx_plugin_v1`): the ABI's
//!   **major** version is part of its name. A library exporting another
//!   `pcapx_plugin_vN` is refused without being called.
//! * The entry returns a [`PluginDecl`] that declares the plugin's protocols
//!   ([`ProtocolDecl`]): their fields ([`FieldDecl`]), dispatch bindings
//!   ([`BindingDecl`]), heuristic tables, hand-off tables and anomalies
//!   ([`AnomalyDecl`]), plus the `dissect`/`accepts`/`summary` callbacks.
//! * Per packet the host calls [`DissectFn`] with the layer's bytes (pointer +
//!   length), a [`LayerInfo`], the host's callback table [`HostApi`] with an
//!   opaque context, and an [`OutcomeOut`] to fill.
//!
//! Every structure starts with (or, for [`PluginDecl`], follows the magic with)
//! a `size` member: minor versions only append members, and each side reads only
//! the members that lie within the `size` the other side wrote. Arrays of
//! declarations are walked with each element's `size` as the stride.
//!
//! Memory: whatever one side allocates, that side frees. Declarations returned
//! by the entry point stay valid for the life of the process (plugins are never
//! unloaded); pointers passed into a callback are valid only during that call.

#![no_std]

use core::ffi::{c_char, c_void};

/// Major version: part of the entry symbol's name; bumped on incompatible change.
pub const ABI_MAJOR: u16 = 1;
/// Minor version: bumped when members are appended to structures.
pub const ABI_MINOR: u16 = 1;
/// `"PCXP"`: first member of [`PluginDecl`], guards against a mistyped entry symbol.
pub const PLUGIN_MAGIC: u32 = 0x5043_5850;
/// The entry symbol of this major version, NUL-terminated.
pub const ENTRY_SYMBOL: &[u8] = b"pcapx_plugin_v1\0";
/// Prefix of every major version's entry symbol.
pub const ENTRY_PREFIX: &str = "pcapx_plugin_v";

/// Field types (the same numbering as `pcapx_core::FieldType`).
pub const FT_U8: u8 = 1;
pub const FT_U16: u8 = 2;
pub const FT_U32: u8 = 3;
pub const FT_U64: u8 = 4;
pub const FT_I64: u8 = 5;
pub const FT_F64: u8 = 6;
pub const FT_BOOL: u8 = 7;
pub const FT_IPV4: u8 = 8;
pub const FT_IPV6: u8 = 9;
pub const FT_MAC: u8 = 10;
pub const FT_BYTES: u8 = 11;
pub const FT_STR: u8 = 12;
/// Absolute time, signed nanoseconds since the Unix epoch.
pub const FT_TIME: u8 = 13;
/// ABI 1.1: signed integers narrower than 64 bits, emitted with `add_i64`.
pub const FT_I8: u8 = 14;
pub const FT_I16: u8 = 15;
pub const FT_I32: u8 = 16;

/// How `show` prints an integer field.
pub const BASE_DEC: u8 = 0;
pub const BASE_HEX: u8 = 1;

/// [`OutcomeOut::next`]: nothing recognisable follows (the rest is `data`).
pub const NEXT_END: u32 = 0;
/// Look [`OutcomeOut::key`] up in table [`OutcomeOut::table`].
pub const NEXT_TABLE: u32 = 1;
/// Transport ports [`OutcomeOut::src_port`]/[`OutcomeOut::dst_port`] in table
/// [`OutcomeOut::table`] (lower port first, then the higher, then heuristics).
pub const NEXT_PORTS: u32 = 2;
/// ABI 1.1: "not mine" — the bytes are not this protocol's (bad magic on a
/// bound port); emit nothing before returning it. The host withdraws the
/// layer and tries the next candidate (the other port, the heuristics), else
/// the bytes become `data`. A plugin that emitted values first gets
/// `plugin-failed`.
pub const NEXT_NOT_MINE: u32 = 3;

/// "No length" in [`LayerInfo::declared_len`] and [`OutcomeOut::payload_len`].
pub const NO_LEN: u64 = u64::MAX;

/// Return codes of [`DissectFn`].
pub const STATUS_OK: i32 = 0;
/// The plugin gave up on this packet (the packet gets the `plugin-failed` anomaly).
pub const STATUS_FAILED: i32 = 1;
/// A Rust plugin panicked (caught by the SDK's shim).
pub const STATUS_PANICKED: i32 = 2;

/// [`PluginDecl::flags`]: the host must never call this plugin from two
/// threads at once (it serialises calls with a mutex).
pub const PLUGIN_SINGLE_THREADED: u32 = 1;

/// [`LayerInfo::flags`]: the layer is inside a quoted packet (ICMP error copy).
pub const LAYER_QUOTED: u32 = 1;

/// A borrowed string (not NUL-terminated), valid during the call only.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct StrRef {
    pub ptr: *const c_char,
    pub len: usize,
}

/// One field of a protocol. Its index in [`ProtocolDecl::fields`] is the id the
/// plugin passes to [`HostApi`]'s `add_*` callbacks.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct FieldDecl {
    /// `size_of::<FieldDecl>()` as the plugin was compiled.
    pub size: u32,
    /// `FT_*`.
    pub ftype: u8,
    /// `BASE_*`.
    pub base: u8,
    pub alias_count: u16,
    /// Filter name, NUL-terminated: `ntp.stratum` (must start with the protocol's name).
    pub name: *const c_char,
    /// Display name: "Peer Clock Stratum".
    pub display: *const c_char,
    /// One-line description (may be NULL).
    pub description: *const c_char,
    /// `alias_count` NUL-terminated short names (may be NULL when the count is 0).
    pub aliases: *const *const c_char,
    /// ABI 1.1: number of [`ValueNameDecl`]s in `value_names` (members from
    /// here on are read only when `size >= FIELD_DECL_SIZE_1_1`).
    pub value_name_count: u32,
    /// ABI 1.1: names of an integer field's values (Wireshark's
    /// `value_string`): `2` → `MOVE`; may be NULL when the count is 0.
    pub value_names: *const ValueNameDecl,
}

/// `FieldDecl::size` of an ABI 1.0 plugin: the host reads the members this
/// covers and treats the rest as zero (no value names).
pub const FIELD_DECL_SIZE_1_0: usize = core::mem::offset_of!(FieldDecl, value_name_count);
/// `FieldDecl::size` from ABI 1.1 on.
pub const FIELD_DECL_SIZE_1_1: usize = core::mem::size_of::<FieldDecl>();

/// ABI 1.1: one name of an integer field's value.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct ValueNameDecl {
    /// `size_of::<ValueNameDecl>()` as the plugin was compiled.
    pub size: u32,
    /// The value; a signed field's value as its two's-complement 64-bit
    /// pattern (`-1` is `u64::MAX`).
    pub value: u64,
    /// NUL-terminated name, shown by `show` (`type = 2 (MOVE)`), by default
    /// summaries and by tables with `--names`.
    pub name: *const c_char,
}

/// A dispatch binding: `("udp.port", 123)`.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct BindingDecl {
    pub size: u32,
    /// `linktype`, `ethertype`, `ip.proto`, `tcp.port`, `udp.port`, or any table
    /// another dissector hands off into.
    pub table: *const c_char,
    pub key: u64,
}

/// A protocol-specific anomaly (`ntp.bad-version`); its index in
/// [`ProtocolDecl::anomalies`] is what [`HostApi::anomaly`] takes.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct AnomalyDecl {
    pub size: u32,
    pub name: *const c_char,
    pub description: *const c_char,
}

/// What the host tells the plugin about the layer being dissected.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct LayerInfo {
    pub size: u32,
    /// `LAYER_*` bits.
    pub flags: u32,
    /// 1-based frame number.
    pub frame_number: u64,
    /// Byte offset of this layer within the frame.
    pub offset: u64,
    /// Payload length the layer below declared for this one, or [`NO_LEN`].
    pub declared_len: u64,
    /// Name of the protocol of the layer below (`udp`), empty if none.
    pub prev_proto: StrRef,
}

/// What the plugin reports about the layer it dissected. The host zero-fills
/// it (with `next = NEXT_END`, `payload_len = NO_LEN`) and sets `size` before
/// the call.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct OutcomeOut {
    pub size: u32,
    /// `NEXT_*`.
    pub next: u32,
    /// Bytes of this layer's header; must not exceed the input length.
    pub header_len: u64,
    /// Payload length the header declares, or [`NO_LEN`] for "everything that follows".
    pub payload_len: u64,
    /// Index into [`ProtocolDecl::tables`] for `NEXT_TABLE`/`NEXT_PORTS`.
    pub table: u32,
    pub src_port: u16,
    pub dst_port: u16,
    /// Key for `NEXT_TABLE`.
    pub key: u64,
}

/// `add_u64(cx, field, value)`: unsigned fields (`FT_U8`..`FT_U64`); the value must fit the width.
pub type AddU64Fn = unsafe extern "C" fn(cx: *mut c_void, field: u32, value: u64);
/// `FT_I64` and `FT_TIME` (nanoseconds since the epoch) fields.
pub type AddI64Fn = unsafe extern "C" fn(cx: *mut c_void, field: u32, value: i64);
pub type AddF64Fn = unsafe extern "C" fn(cx: *mut c_void, field: u32, value: f64);
/// `FT_BOOL`; any non-zero value is true.
pub type AddBoolFn = unsafe extern "C" fn(cx: *mut c_void, field: u32, value: i32);
/// `FT_BYTES`, `FT_STR`, and addresses (`FT_IPV4` 4 bytes, `FT_IPV6` 16, `FT_MAC` 6).
/// The host copies the bytes before returning.
pub type AddBytesFn = unsafe extern "C" fn(cx: *mut c_void, field: u32, ptr: *const u8, len: usize);
/// Does the job want this field? (1 yes, 0 no) Lets a plugin skip costly work.
pub type WantsFn = unsafe extern "C" fn(cx: *mut c_void, field: u32) -> i32;
/// Record a declared anomaly (index into [`ProtocolDecl::anomalies`]).
pub type AnomalyFn = unsafe extern "C" fn(cx: *mut c_void, anomaly: u32);
/// `short`: the layer needed bytes that are not there (the host records
/// `truncated` or `malformed`); `malformed`: the header is invalid.
pub type FlagFn = unsafe extern "C" fn(cx: *mut c_void);
/// ABI 1.1: the message of a panic the plugin caught in this call (UTF-8,
/// not NUL-terminated); called just before returning [`STATUS_PANICKED`], so
/// the host can report the first one with its packet.
pub type MessageFn = unsafe extern "C" fn(cx: *mut c_void, ptr: *const u8, len: usize);
/// ABI 1.1: is the calling thread inside a call from the host into a plugin
/// (1 yes, 0 no)? Callable at any time, from any thread, without a `cx`: a
/// plugin's panic hook asks it to stay silent for panics its shim catches and
/// reports through [`MessageFn`], and to print those raised anywhere else.
pub type InCallFn = unsafe extern "C" fn() -> i32;

/// The host's callbacks, valid during a [`DissectFn`] call with its `cx`.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct HostApi {
    pub size: u32,
    pub abi_minor: u32,
    pub add_u64: AddU64Fn,
    pub add_i64: AddI64Fn,
    pub add_f64: AddF64Fn,
    pub add_bool: AddBoolFn,
    pub add_time: AddI64Fn,
    pub add_bytes: AddBytesFn,
    pub add_str: AddBytesFn,
    pub wants: WantsFn,
    pub anomaly: AnomalyFn,
    pub short: FlagFn,
    pub malformed: FlagFn,
    /// ABI 1.1 (present when `size >= HOST_API_SIZE_1_1`).
    pub panic_message: MessageFn,
    /// ABI 1.1 (present when `size >= HOST_API_SIZE_1_1`).
    pub in_plugin_call: InCallFn,
}

/// `HostApi::size` of an ABI 1.0 host: a plugin uses only the members a
/// host's `size` covers.
pub const HOST_API_SIZE_1_0: usize = core::mem::offset_of!(HostApi, panic_message);
/// `HostApi::size` from ABI 1.1 on.
pub const HOST_API_SIZE_1_1: usize = core::mem::size_of::<HostApi>();

/// Dissect one layer: read `data[0..len]` only, emit fields through `api`
/// with `cx`, fill `out`, return `STATUS_OK` (or `STATUS_FAILED`).
pub type DissectFn = unsafe extern "C" fn(
    user: *mut c_void,
    data: *const u8,
    len: usize,
    info: *const LayerInfo,
    api: *const HostApi,
    cx: *mut c_void,
    out: *mut OutcomeOut,
) -> i32;

/// Heuristic: is this payload ours? 1 yes, 0 no (negative: error, treated as no).
pub type AcceptsFn = unsafe extern "C" fn(
    user: *mut c_void,
    data: *const u8,
    len: usize,
    info: *const LayerInfo,
) -> i32;

/// One-line summary of a layer whose bytes start at `data` (to the end of the
/// captured frame): write at most `cap` bytes of UTF-8 to `buf` (host-owned)
/// and return the count, or 0 to be shown by the protocol's summary name.
pub type SummaryFn = unsafe extern "C" fn(
    user: *mut c_void,
    data: *const u8,
    len: usize,
    header_len: usize,
    buf: *mut c_char,
    cap: usize,
) -> isize;

/// One protocol (becomes one dissector in the host).
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct ProtocolDecl {
    pub size: u32,
    pub field_count: u32,
    pub binding_count: u32,
    pub heuristic_count: u32,
    pub table_count: u32,
    pub anomaly_count: u32,
    /// Filter name, lower case: `ntp`.
    pub name: *const c_char,
    /// Long name: "Network Time Protocol".
    pub display: *const c_char,
    /// Name in one-line summaries (Scapy's class name): `NTPHeader`.
    pub summary_name: *const c_char,
    pub fields: *const FieldDecl,
    pub bindings: *const BindingDecl,
    /// Names of the tables whose unclaimed payloads `accepts` is offered.
    pub heuristics: *const *const c_char,
    /// Names of the tables this protocol hands off into ([`OutcomeOut::table`] indexes this).
    pub tables: *const *const c_char,
    pub anomalies: *const AnomalyDecl,
    /// Passed back to every callback; immutable after the entry returns unless
    /// the plugin is `PLUGIN_SINGLE_THREADED`.
    pub user: *mut c_void,
    pub dissect: Option<DissectFn>,
    pub accepts: Option<AcceptsFn>,
    pub summary: Option<SummaryFn>,
}

/// What the entry point returns.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct PluginDecl {
    /// [`PLUGIN_MAGIC`].
    pub magic: u32,
    pub size: u32,
    /// [`ABI_MAJOR`] and [`ABI_MINOR`] as the plugin was compiled.
    pub abi_major: u16,
    pub abi_minor: u16,
    /// `PLUGIN_*` bits.
    pub flags: u32,
    /// Plugin name, lower case (`ntp`); shown by `pcapx plugins` and as field origin.
    pub name: *const c_char,
    pub version: *const c_char,
    pub description: *const c_char,
    pub protocol_count: u32,
    pub protocols: *const ProtocolDecl,
}

/// What the host tells the plugin at load time.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct HostInfo {
    pub size: u32,
    pub abi_major: u16,
    pub abi_minor: u16,
    /// The host's version string, e.g. `0.1.0`.
    pub host_version: *const c_char,
    /// ABI 1.1 (present when `size` covers it): the host's callbacks, the
    /// same table every `dissect` call receives, valid while the plugin is
    /// loaded. Lets a plugin reach [`HostApi::in_plugin_call`] outside a call.
    pub api: *const HostApi,
}

/// The entry point's type: `const pcapx_plugin *pcapx_plugin_v1(const pcapx_host_info *)`.
/// Returns NULL when the plugin cannot initialise (a load error).
pub type EntryFn = unsafe extern "C" fn(host: *const HostInfo) -> *const PluginDecl;
