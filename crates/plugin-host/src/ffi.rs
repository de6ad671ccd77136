//! Everything that crosses the C boundary: opening the library, finding and
//! calling the entry point, copying the declarations into owned Rust data,
//! calling `dissect`/`accepts`/`summary`, and the host callbacks the plugin
//! calls back into. The only module of this crate with `unsafe` code.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_void};
use std::path::Path;

use pcapx_plugin_abi as abi;

use crate::PluginError;
use crate::desc::{AnomalyDesc, FieldDesc, PluginDesc, ProtoDesc};
use crate::dissector::CallCx;

/// A loaded protocol's callbacks and state pointer.
#[derive(Copy, Clone, Debug)]
pub(crate) struct ProtoFns {
    dissect: abi::DissectFn,
    accepts: Option<abi::AcceptsFn>,
    summary: Option<abi::SummaryFn>,
    user: *mut c_void,
}

// SAFETY: the ABI contract (PLUGINS.md, pcapx_plugin.h) requires the plugin's
// callbacks to be callable from any thread with its immutable `user` state;
// plugins that cannot promise this set PLUGIN_SINGLE_THREADED and every call
// is then serialised by a mutex in `PluginDissector`.
unsafe impl Send for ProtoFns {}
// SAFETY: see `Send` above.
unsafe impl Sync for ProtoFns {}

impl ProtoFns {
    pub(crate) fn has_accepts(&self) -> bool {
        self.accepts.is_some()
    }

    /// Call the plugin's `dissect`: returns its status and outcome.
    pub(crate) fn dissect(
        &self,
        data: &[u8],
        info: &abi::LayerInfo,
        call: &mut CallCx<'_, '_>,
    ) -> (i32, abi::OutcomeOut) {
        let mut out = abi::OutcomeOut {
            size: size_u32::<abi::OutcomeOut>(),
            next: abi::NEXT_END,
            header_len: 0,
            payload_len: abi::NO_LEN,
            table: 0,
            src_port: 0,
            dst_port: 0,
            key: 0,
        };
        let cx = std::ptr::from_mut(call).cast::<c_void>();
        // SAFETY: `data`, `info`, `HOST_API`, `cx` and `out` are valid for the
        // whole call and the plugin may not keep them (ABI contract); `cx`
        // points to a live `CallCx` that only our callbacks dereference.
        let status = unsafe {
            (self.dissect)(
                self.user,
                data.as_ptr(),
                data.len(),
                info,
                &HOST_API,
                cx,
                &mut out,
            )
        };
        (status, out)
    }

    /// Call the plugin's heuristic, if any.
    pub(crate) fn accepts(&self, data: &[u8], info: &abi::LayerInfo) -> bool {
        let Some(f) = self.accepts else { return false };
        // SAFETY: `data` and `info` are valid for the call; the plugin reads only.
        unsafe { f(self.user, data.as_ptr(), data.len(), info) == 1 }
    }

    /// Call the plugin's summary into a host-owned buffer; the count written.
    pub(crate) fn summary(&self, data: &[u8], header_len: usize, buf: &mut [u8]) -> Option<usize> {
        let f = self.summary?;
        // SAFETY: `data` is valid for reads of its length and `buf` for writes
        // of its length during the call; the plugin writes at most `buf.len()`.
        let n = unsafe {
            f(
                self.user,
                data.as_ptr(),
                data.len(),
                header_len,
                buf.as_mut_ptr().cast::<c_char>(),
                buf.len(),
            )
        };
        usize::try_from(n).ok().filter(|&n| n > 0 && n <= buf.len())
    }
}

fn size_u32<T>() -> u32 {
    u32::try_from(std::mem::size_of::<T>()).unwrap_or(u32::MAX)
}

static HOST_VERSION: &CStr = c"0.1.0";

/// The callbacks every plugin gets.
#[allow(clippy::cast_possible_truncation)] // a record of 15 words always fits
const HOST_API_SIZE: u32 = std::mem::size_of::<abi::HostApi>() as u32;

static HOST_API: abi::HostApi = abi::HostApi {
    size: HOST_API_SIZE,
    abi_minor: abi::ABI_MINOR as u32,
    add_u64: cb_add_u64,
    add_i64: cb_add_i64,
    add_f64: cb_add_f64,
    add_bool: cb_add_bool,
    add_time: cb_add_time,
    add_bytes: cb_add_bytes,
    add_str: cb_add_str,
    wants: cb_wants,
    anomaly: cb_anomaly,
    short: cb_short,
    malformed: cb_malformed,
    panic_message: cb_panic_message,
    in_plugin_call: cb_in_plugin_call,
};

extern "C" fn cb_in_plugin_call() -> i32 {
    i32::from(crate::crash::in_plugin_call())
}

/// # Safety
/// `cx` must be the pointer `ProtoFns::dissect` passed, during that call.
unsafe fn call<'x>(cx: *mut c_void) -> Option<&'x mut CallCx<'x, 'x>> {
    // SAFETY: `cx` is null or the `&mut CallCx` that `ProtoFns::dissect`
    // handed to the plugin, alive (and not otherwise borrowed) for the whole
    // plugin call this callback is part of. The shortened lifetimes are never
    // used to store references into it.
    unsafe { cx.cast::<CallCx<'x, 'x>>().as_mut() }
}

unsafe extern "C" fn cb_panic_message(cx: *mut c_void, ptr: *const u8, len: usize) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: the plugin passes a message valid for `len` bytes during the
    // call (ABI contract); `cx` as in every callback.
    unsafe {
        if let Some(c) = call(cx) {
            c.panic_message(std::slice::from_raw_parts(ptr, len.min(4096)));
        }
    }
}

unsafe extern "C" fn cb_add_u64(cx: *mut c_void, field: u32, v: u64) {
    // SAFETY: called by the plugin with the `cx` of the current dissect call.
    if let Some(c) = unsafe { call(cx) } {
        c.add_u64(field, v);
    }
}
unsafe extern "C" fn cb_add_i64(cx: *mut c_void, field: u32, v: i64) {
    // SAFETY: as in `cb_add_u64`.
    if let Some(c) = unsafe { call(cx) } {
        c.add_i64(field, v);
    }
}
unsafe extern "C" fn cb_add_f64(cx: *mut c_void, field: u32, v: f64) {
    // SAFETY: as in `cb_add_u64`.
    if let Some(c) = unsafe { call(cx) } {
        c.add_f64(field, v);
    }
}
unsafe extern "C" fn cb_add_bool(cx: *mut c_void, field: u32, v: i32) {
    // SAFETY: as in `cb_add_u64`.
    if let Some(c) = unsafe { call(cx) } {
        c.add_bool(field, v != 0);
    }
}
unsafe extern "C" fn cb_add_time(cx: *mut c_void, field: u32, v: i64) {
    // SAFETY: as in `cb_add_u64`.
    if let Some(c) = unsafe { call(cx) } {
        c.add_time(field, v);
    }
}
/// # Safety
/// `ptr` must be null or valid for `len` bytes during the callback.
unsafe fn bytes<'x>(ptr: *const u8, len: usize) -> Option<&'x [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the plugin passes a pointer valid for `len` bytes (ABI contract).
    Some(unsafe { std::slice::from_raw_parts(ptr, len) })
}
unsafe extern "C" fn cb_add_bytes(cx: *mut c_void, field: u32, ptr: *const u8, len: usize) {
    // SAFETY: as in `cb_add_u64`: `cx` is the handle the host passed to this
    // very `dissect` call.
    if let Some(c) = unsafe { call(cx) } {
        // SAFETY: `ptr`/`len` describe bytes the plugin owns for the duration
        // of the callback (ABI contract).
        match unsafe { bytes(ptr, len) } {
            Some(b) => c.add_bytes(field, b),
            None => c.fail(),
        }
    }
}
unsafe extern "C" fn cb_add_str(cx: *mut c_void, field: u32, ptr: *const u8, len: usize) {
    // SAFETY: as in `cb_add_u64`: `cx` is the handle of this `dissect` call.
    if let Some(c) = unsafe { call(cx) } {
        // SAFETY: as in `cb_add_bytes`: the plugin's bytes, valid for the call.
        match unsafe { bytes(ptr, len) } {
            Some(b) => c.add_str(field, b),
            None => c.fail(),
        }
    }
}
unsafe extern "C" fn cb_wants(cx: *mut c_void, field: u32) -> i32 {
    // SAFETY: as in `cb_add_u64`.
    unsafe { call(cx) }.map_or(0, |c| i32::from(c.wants(field)))
}
unsafe extern "C" fn cb_anomaly(cx: *mut c_void, anomaly: u32) {
    // SAFETY: as in `cb_add_u64`.
    if let Some(c) = unsafe { call(cx) } {
        c.anomaly(anomaly);
    }
}
unsafe extern "C" fn cb_short(cx: *mut c_void) {
    // SAFETY: as in `cb_add_u64`.
    if let Some(c) = unsafe { call(cx) } {
        c.short();
    }
}
unsafe extern "C" fn cb_malformed(cx: *mut c_void) {
    // SAFETY: as in `cb_add_u64`.
    if let Some(c) = unsafe { call(cx) } {
        c.malformed();
    }
}

/// Open `path`, check its ABI version, call its entry point once and copy
/// its declarations. The library is leaked: plugins are never unloaded.
pub(crate) fn open(path: &Path) -> Result<(PluginDesc, Vec<ProtoFns>), PluginError> {
    let file = path.display().to_string();
    let plugin_file = path
        .file_stem()
        .map_or_else(|| file.clone(), |s| s.to_string_lossy().into_owned());
    if let Err(e) = std::fs::metadata(path) {
        return Err(PluginError::Open {
            path: file,
            message: e.to_string(),
        });
    }
    // SAFETY: loading a library runs its initialisers. Loading a plugin is
    // an explicit user decision (--plugin / PCAPX_PLUGIN_PATH); pcapx trusts
    // the code it is told to load, as any plugin host must.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| PluginError::Open {
        path: file.clone(),
        message: e.to_string(),
    })?;
    // SAFETY: we only take the symbol's address here; its type is checked
    // through the magic number of what it returns before anything else is read.
    let entry = unsafe { lib.get::<abi::EntryFn>(abi::ENTRY_SYMBOL) }
        .ok()
        .map(|s| *s);
    let Some(entry) = entry else {
        for major in (0u32..=64).filter(|&m| m != u32::from(abi::ABI_MAJOR)) {
            let sym = format!("{}{major}\0", abi::ENTRY_PREFIX);
            // SAFETY: the symbol is looked up, never called or dereferenced.
            if unsafe { lib.get::<*const c_void>(sym.as_bytes()) }.is_ok() {
                return Err(PluginError::AbiMismatch {
                    path: file,
                    plugin: plugin_file,
                    plugin_major: major,
                    host_major: u32::from(abi::ABI_MAJOR),
                });
            }
        }
        return Err(PluginError::NoEntry { path: file });
    };
    let info = abi::HostInfo {
        size: size_u32::<abi::HostInfo>(),
        abi_major: abi::ABI_MAJOR,
        abi_minor: abi::ABI_MINOR,
        host_version: HOST_VERSION.as_ptr(),
        api: &raw const HOST_API,
    };
    // SAFETY: `pcapx_plugin_v1` has type `EntryFn` by the ABI contract; `info`
    // is valid for the call. Plugins are loaded before any worker runs.
    let decl = unsafe { entry(&info) };
    // SAFETY: `decl` is what the plugin's entry point returned; the ABI
    // contract makes it NULL or a `pcapx_plugin` whose pointers stay valid.
    let parsed = unsafe { read_decl(decl, &file, &plugin_file) }?;
    // Never unloaded: the dissectors keep calling into it for the process's life.
    std::mem::forget(lib);
    Ok(parsed)
}

/// Validates a plugin declaration that is already in memory exactly as
/// [`crate::load`] does after calling a library's entry point (magic, size, ABI
/// version, every record, duplicate names), then registers its protocols
/// with `b` as [`crate::LoadedPlugin::add_to`] does. `name` stands for the file in
/// errors. This is the declaration parser's entry point for the fuzz target
/// (`fuzz/src/bin/plugin_decl.rs`) and tests; nothing is loaded or called.
///
/// # Safety
/// `decl` must be NULL or point to a `pcapx_plugin` that follows the ABI
/// contract as far as its own magic, size and counts say (strings NULL or
/// NUL-terminated, arrays of the declared length); its callbacks are stored
/// in the registered dissectors and called only if `b` is built and used.
pub unsafe fn check_declaration(
    decl: *const pcapx_plugin_abi::PluginDecl,
    name: &str,
    b: &mut pcapx_core::EngineBuilder,
) -> Result<crate::LoadedPlugin, PluginError> {
    // SAFETY: forwarded from this function's contract.
    let (desc, fns) = unsafe { read_decl(decl, name, name) }?;
    let plugin = crate::from_parts(desc, fns, name.to_owned())?;
    plugin.add_to(b)?;
    Ok(plugin)
}

/// Reads a plugin's declaration (what the entry point returned) into owned
/// data, checking magic, size, ABI version and every record. `file` and
/// `plugin_file` name the plugin in errors.
///
/// # Safety
/// `decl` must be NULL or point to memory that follows the ABI contract for
/// a `pcapx_plugin` as far as its own `size`, magic and counts say (strings
/// NULL or NUL-terminated, arrays of the declared length and record sizes).
pub(crate) unsafe fn read_decl(
    decl: *const abi::PluginDecl,
    file: &str,
    plugin_file: &str,
) -> Result<(PluginDesc, Vec<ProtoFns>), PluginError> {
    let file = file.to_owned();
    let plugin_file = plugin_file.to_owned();
    let bad = |reason: String| PluginError::BadEntry {
        path: file.clone(),
        reason,
    };
    if decl.is_null() {
        return Err(PluginError::Refused { path: file });
    }
    // SAFETY: a non-null result of the entry points to a `pcapx_plugin`; we
    // first read only its leading magic and size (8 bytes every version has).
    let (magic, size) = unsafe {
        let p = decl.cast::<u32>();
        (p.read_unaligned(), p.add(1).read_unaligned())
    };
    if magic != abi::PLUGIN_MAGIC {
        return Err(bad(format!(
            "`pcapx_plugin_v1` returned something that is not a pcapx_plugin (magic {magic:#010x}, expected {:#010x})",
            abi::PLUGIN_MAGIC
        )));
    }
    if (size as usize) < std::mem::size_of::<abi::PluginDecl>() {
        return Err(bad(format!(
            "pcapx_plugin.size is {size}, expected at least {}",
            std::mem::size_of::<abi::PluginDecl>()
        )));
    }
    // SAFETY: magic and size say this is a pcapx_plugin at least as large as ours.
    let d = unsafe { decl.read_unaligned() };
    if d.abi_major != abi::ABI_MAJOR {
        return Err(PluginError::AbiMismatch {
            path: file,
            plugin: plugin_file,
            plugin_major: u32::from(d.abi_major),
            host_major: u32::from(abi::ABI_MAJOR),
        });
    }
    let decl_err = |what: String| PluginError::Declaration {
        path: file.clone(),
        reason: what,
    };
    // SAFETY: declaration strings are NULL or NUL-terminated and stay valid
    // forever (ABI contract); this is the plugin's name.
    let name = unsafe { string(d.name) }
        .ok_or_else(|| decl_err("plugin name is missing or not UTF-8".into()))?;
    // SAFETY: as for `name`: a declaration string, NULL or NUL-terminated.
    let version = unsafe { string(d.version) }.unwrap_or_default();
    // SAFETY: as for `name`: a declaration string, NULL or NUL-terminated.
    let description = unsafe { string(d.description) }.unwrap_or_default();
    let mut protos = Vec::new();
    let mut fns = Vec::new();
    // SAFETY: `protocols` points to `protocol_count` pcapx_protocol records.
    for p in unsafe { array::<abi::ProtocolDecl>(d.protocols, d.protocol_count) }
        .map_err(|e| decl_err(format!("protocols: {e}")))?
    {
        // SAFETY: the record's members follow the ABI contract.
        let (desc, f) =
            unsafe { protocol(&p) }.map_err(|e| decl_err(format!("plugin '{name}': {e}")))?;
        protos.push(desc);
        fns.push(f);
    }
    Ok((
        PluginDesc {
            name,
            version,
            description,
            abi_major: d.abi_major,
            abi_minor: d.abi_minor,
            single_threaded: d.flags & abi::PLUGIN_SINGLE_THREADED != 0,
            protocols: protos,
        },
        fns,
    ))
}

/// # Safety
/// `p` must be NULL or a NUL-terminated string valid for the call.
unsafe fn string(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a valid NUL-terminated string.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .ok()
        .map(str::to_owned)
}

/// Records with a `size` member first (after `magic` only for pcapx_plugin).
trait Sized32: Copy {
    /// The record's size in ABI 1.0: a plugin built then wrote no more.
    const SIZE_1_0: usize = std::mem::size_of::<Self>();
    fn size(&self) -> u32;
}
impl Sized32 for abi::ProtocolDecl {
    fn size(&self) -> u32 {
        self.size
    }
}
impl Sized32 for abi::FieldDecl {
    const SIZE_1_0: usize = abi::FIELD_DECL_SIZE_1_0;
    fn size(&self) -> u32 {
        self.size
    }
}
impl Sized32 for abi::BindingDecl {
    fn size(&self) -> u32 {
        self.size
    }
}
impl Sized32 for abi::AnomalyDecl {
    fn size(&self) -> u32 {
        self.size
    }
}
impl Sized32 for abi::ValueNameDecl {
    fn size(&self) -> u32 {
        self.size
    }
}

/// Copy an array of `count` size-prefixed records, stepping by the size the
/// plugin wrote in the first one (later minor versions append members; a
/// record from an older minor version, smaller than this ABI's, is read as
/// far as it goes and the members it lacks are zero).
///
/// # Safety
/// `p` must be NULL (with `count == 0`) or point to `count` records of the
/// plugin's record size, each starting with a `u32` size member.
unsafe fn array<T: Sized32>(p: *const T, count: u32) -> Result<Vec<T>, String> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(format!("{count} records declared but the pointer is NULL"));
    }
    // SAFETY: at least one record; every record begins with its u32 size.
    let stride = unsafe { p.cast::<u32>().read_unaligned() } as usize;
    // This ABI's size or more (a later minor version), or exactly an
    // earlier minor version's size; anything between is no compiler's.
    if stride < std::mem::size_of::<T>() && stride != T::SIZE_1_0 {
        return Err(format!(
            "record size {stride} is neither ABI 1.0's {} nor at least this ABI's {}",
            T::SIZE_1_0,
            std::mem::size_of::<T>()
        ));
    }
    let take = stride.min(std::mem::size_of::<T>());
    let mut v = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        // SAFETY: every `T` here is a `#[repr(C)]` record of integers, raw
        // pointers and `Option<extern fn>`, for all of which all-zero bytes
        // are a valid value (0, NULL, None).
        let mut r: T = unsafe { std::mem::zeroed() };
        // SAFETY: record `i` lies at `i * stride` bytes and is `stride >=
        // take` bytes long; `r` is a distinct local of `size_of::<T>() >=
        // take` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                p.cast::<u8>().add(i * stride),
                std::ptr::from_mut(&mut r).cast::<u8>(),
                take,
            );
        }
        if r.size() as usize != stride {
            return Err(format!(
                "record {i} has size {}, record 0 has {stride}",
                r.size()
            ));
        }
        v.push(r);
    }
    Ok(v)
}

/// # Safety
/// `p` must be NULL (with `count == 0`) or point to `count` string pointers.
unsafe fn strings(p: *const *const c_char, count: u32, what: &str) -> Result<Vec<String>, String> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(format!("{what}: {count} declared but the pointer is NULL"));
    }
    (0..count as usize)
        .map(|i| {
            // SAFETY: `p` points to `count` pointers, each a valid C string.
            unsafe { string(p.add(i).read_unaligned()) }
                .ok_or_else(|| format!("{what}[{i}] is NULL or not UTF-8"))
        })
        .collect()
}

/// A field's value names, sorted by value; a value named twice is an error.
///
/// # Safety
/// `p` must be NULL (with `count == 0`) or point to `count` value-name
/// records whose names are NULL or NUL-terminated strings.
unsafe fn value_names(
    p: *const abi::ValueNameDecl,
    count: u32,
) -> Result<Vec<(u64, String)>, String> {
    // SAFETY: as the caller guarantees.
    let decls = unsafe { array(p, count) }.map_err(|e| format!("value names: {e}"))?;
    let mut names = Vec::with_capacity(decls.len());
    for (i, d) in decls.iter().enumerate() {
        // SAFETY: `d.name` is NULL or a NUL-terminated declaration string.
        let name = unsafe { string(d.name) }
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("value name {i} is NULL, empty or not UTF-8"))?;
        names.push((d.value, name));
    }
    names.sort_by_key(|&(v, _)| v);
    if let Some(w) = names.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("value {} is named twice", w[0].0));
    }
    Ok(names)
}

/// # Safety
/// The record's pointers must follow the ABI contract.
unsafe fn protocol(p: &abi::ProtocolDecl) -> Result<(ProtoDesc, ProtoFns), String> {
    // Every pointer in `p` (and in the records it points to) is NULL or valid
    // for as long as the plugin is loaded, which is forever: the caller
    // guarantees the ABI contract. Each block below relies on that for the
    // one pointer it reads.
    // SAFETY: `p.name` is a NULL or NUL-terminated declaration string.
    let name = unsafe { string(p.name) }.ok_or("a protocol has no name")?;
    let ctx = |e: String| format!("protocol '{name}': {e}");
    // SAFETY: `p.display` is a NULL or NUL-terminated declaration string.
    let display = unsafe { string(p.display) }.unwrap_or_else(|| name.clone());
    // SAFETY: `p.summary_name` is a NULL or NUL-terminated declaration string.
    let summary_name = unsafe { string(p.summary_name) }.unwrap_or_default();
    let mut fields = Vec::new();
    // SAFETY: `p.fields` points to `p.field_count` field records (or is NULL
    // with a zero count).
    let field_decls = unsafe { array(p.fields, p.field_count) }.map_err(ctx)?;
    for (i, f) in field_decls.iter().enumerate() {
        // SAFETY: `f.name` is a NULL or NUL-terminated declaration string.
        let fname =
            unsafe { string(f.name) }.ok_or_else(|| ctx(format!("field {i} has no name")))?;
        let ftype = pcapx_core::FieldType::from_u8(f.ftype)
            .ok_or_else(|| ctx(format!("field '{fname}' has unknown type {}", f.ftype)))?;
        // SAFETY: `f.display` is a NULL or NUL-terminated declaration string.
        let display = unsafe { string(f.display) }.unwrap_or_else(|| fname.clone());
        // SAFETY: `f.description` is a NULL or NUL-terminated declaration string.
        let description = unsafe { string(f.description) }.unwrap_or_default();
        // SAFETY: `f.aliases` points to `f.alias_count` string pointers (or is
        // NULL with a zero count).
        let aliases = unsafe { strings(f.aliases, u32::from(f.alias_count), "aliases") };
        // SAFETY: `f.value_names` points to `f.value_name_count` value-name
        // records (or is NULL with a zero count; a 1.0 record reads as 0).
        let names = unsafe { value_names(f.value_names, f.value_name_count) }
            .map_err(|e| ctx(format!("field '{fname}': {e}")))?;
        if !names.is_empty() && !ftype.is_integer() {
            return Err(ctx(format!(
                "field '{fname}' has value names but is not an integer field"
            )));
        }
        fields.push(FieldDesc {
            value_names: names,
            display,
            description,
            aliases: aliases.map_err(ctx)?,
            hex: f.base == abi::BASE_HEX,
            name: fname,
            ftype,
        });
    }
    let mut bindings = Vec::new();
    // SAFETY: `p.bindings` points to `p.binding_count` binding records (or is
    // NULL with a zero count).
    let binding_decls = unsafe { array(p.bindings, p.binding_count) }.map_err(ctx)?;
    for b in binding_decls {
        // SAFETY: `b.table` is a NULL or NUL-terminated declaration string.
        let t = unsafe { string(b.table) }.ok_or_else(|| ctx("a binding has no table".into()))?;
        bindings.push((t, b.key));
    }
    let mut anomalies = Vec::new();
    // SAFETY: `p.anomalies` points to `p.anomaly_count` anomaly records (or is
    // NULL with a zero count).
    let anomaly_decls = unsafe { array(p.anomalies, p.anomaly_count) }.map_err(ctx)?;
    for a in anomaly_decls {
        // SAFETY: `a.name` is a NULL or NUL-terminated declaration string.
        let name = unsafe { string(a.name) }.ok_or_else(|| ctx("an anomaly has no name".into()))?;
        // SAFETY: `a.description` is a NULL or NUL-terminated declaration string.
        let description = unsafe { string(a.description) }.unwrap_or_default();
        anomalies.push(AnomalyDesc { name, description });
    }
    // SAFETY: `p.heuristics` points to `p.heuristic_count` string pointers (or
    // is NULL with a zero count).
    let heuristics =
        unsafe { strings(p.heuristics, p.heuristic_count, "heuristics") }.map_err(ctx)?;
    // SAFETY: `p.tables` points to `p.table_count` string pointers (or is NULL
    // with a zero count).
    let tables = unsafe { strings(p.tables, p.table_count, "tables") }.map_err(ctx)?;
    let dissect = p.dissect.ok_or_else(|| ctx("no dissect callback".into()))?;
    if !heuristics.is_empty() && p.accepts.is_none() {
        return Err(ctx(
            "declares heuristic tables but no accepts callback".into()
        ));
    }
    Ok((
        ProtoDesc {
            name,
            display,
            summary_name,
            fields,
            bindings,
            heuristics,
            tables,
            anomalies,
        },
        ProtoFns {
            dissect,
            accepts: p.accepts,
            summary: p.summary,
            user: p.user,
        },
    ))
}
