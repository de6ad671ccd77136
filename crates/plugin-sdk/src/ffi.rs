//! The `extern "C"` shims between the host and a [`Protocol`], and [`Cx`], the
//! safe wrapper over the host's callbacks. The only `unsafe` code of the SDK:
//! turning the host's pointers (valid for the duration of one call) into a
//! slice and references, and calling the host's function pointers.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::abi;
use crate::{Anomaly, Field, Info, Next, Outcome, Protocol};

/// The per-layer context a [`Protocol::dissect`] emits through.
pub struct Cx<'a> {
    api: &'a abi::HostApi,
    cx: *mut c_void,
    info: Info<'a>,
}

impl Cx<'_> {
    /// Unsigned integer field (`U8`..`U64`); the value must fit the field's width.
    #[inline]
    pub fn add_u64(&mut self, f: Field, v: u64) {
        // SAFETY: `api` and `cx` were handed to the shim by the host for this
        // call and `Cx` cannot outlive it (it is created and dropped inside the shim).
        unsafe { (self.api.add_u64)(self.cx, f.0, v) }
    }
    #[inline]
    pub fn add_i64(&mut self, f: Field, v: i64) {
        // SAFETY: as in `add_u64`.
        unsafe { (self.api.add_i64)(self.cx, f.0, v) }
    }
    #[inline]
    pub fn add_f64(&mut self, f: Field, v: f64) {
        // SAFETY: as in `add_u64`.
        unsafe { (self.api.add_f64)(self.cx, f.0, v) }
    }
    #[inline]
    pub fn add_bool(&mut self, f: Field, v: bool) {
        // SAFETY: as in `add_u64`.
        unsafe { (self.api.add_bool)(self.cx, f.0, i32::from(v)) }
    }
    /// Time field: nanoseconds since the Unix epoch.
    #[inline]
    pub fn add_time(&mut self, f: Field, ns: i64) {
        // SAFETY: as in `add_u64`.
        unsafe { (self.api.add_time)(self.cx, f.0, ns) }
    }
    /// `Bytes` field (the host copies the bytes).
    #[inline]
    pub fn add_bytes(&mut self, f: Field, b: &[u8]) {
        // SAFETY: as in `add_u64`; `b` is valid for `b.len()` bytes during the call.
        unsafe { (self.api.add_bytes)(self.cx, f.0, b.as_ptr(), b.len()) }
    }
    #[inline]
    pub fn add_ipv4(&mut self, f: Field, a: [u8; 4]) {
        self.add_bytes(f, &a);
    }
    #[inline]
    pub fn add_ipv6(&mut self, f: Field, a: [u8; 16]) {
        self.add_bytes(f, &a);
    }
    #[inline]
    pub fn add_mac(&mut self, f: Field, a: [u8; 6]) {
        self.add_bytes(f, &a);
    }
    /// `Str` field from raw bytes (invalid UTF-8 is replaced by the host).
    #[inline]
    pub fn add_str(&mut self, f: Field, s: &[u8]) {
        // SAFETY: as in `add_bytes`.
        unsafe { (self.api.add_str)(self.cx, f.0, s.as_ptr(), s.len()) }
    }
    /// Does the job want this field?
    #[inline]
    pub fn wants(&self, f: Field) -> bool {
        // SAFETY: as in `add_u64`.
        unsafe { (self.api.wants)(self.cx, f.0) != 0 }
    }
    /// Record a declared anomaly on this layer.
    pub fn anomaly(&mut self, a: Anomaly) {
        // SAFETY: as in `add_u64`.
        unsafe { (self.api.anomaly)(self.cx, a.0) }
    }
    /// The header is cut short (`truncated` when the snaplen cut the frame,
    /// `malformed` otherwise).
    pub fn short(&mut self) {
        // SAFETY: as in `add_u64`.
        unsafe { (self.api.short)(self.cx) }
    }
    /// The header is invalid.
    pub fn malformed(&mut self) {
        // SAFETY: as in `add_u64`.
        unsafe { (self.api.malformed)(self.cx) }
    }
    pub fn info(&self) -> &Info<'_> {
        &self.info
    }
}

/// Copy the host's layer info into an [`Info`] borrowing its string.
///
/// # Safety
/// `info` must be null or point to a valid `LayerInfo` whose `prev_proto` is
/// valid for `'a`.
unsafe fn read_info<'a>(info: *const abi::LayerInfo) -> Option<Info<'a>> {
    // SAFETY: the caller guarantees `info` is null or valid for the call.
    let i = unsafe { info.as_ref() }?;
    let prev: &[u8] = if i.prev_proto.ptr.is_null() || i.prev_proto.len == 0 {
        &[]
    } else {
        // SAFETY: the host passes `prev_proto` as a (pointer, length) pair into
        // its registry's UTF-8 string, valid for the call.
        unsafe { std::slice::from_raw_parts(i.prev_proto.ptr.cast::<u8>(), i.prev_proto.len) }
    };
    Some(Info {
        frame_number: i.frame_number,
        offset: i.offset,
        declared_len: (i.declared_len != abi::NO_LEN).then_some(i.declared_len),
        quoted: i.flags & abi::LAYER_QUOTED != 0,
        prev_proto_bytes: prev,
    })
}

/// # Safety
/// `data` must be null or valid for reads of `len` bytes for `'a`.
unsafe fn bytes<'a>(data: *const u8, len: usize) -> &'a [u8] {
    if data.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: the caller guarantees `data` is valid for `len` bytes.
    unsafe { std::slice::from_raw_parts(data, len) }
}

/// The host's callback table, from the entry point's `HostInfo` (ABI 1.1
/// hosts), for the panic hook; null until then or with a 1.0 host.
static HOST_API: AtomicPtr<abi::HostApi> = AtomicPtr::new(std::ptr::null_mut());

/// At load: installs (once) a panic hook that stays silent for panics inside
/// a call from the host (the shim catches them and the host reports the
/// first with its packet, then counts), and passes every other panic (a
/// plugin's own thread, its entry point) to the previous hook. Whether the
/// panicking thread is inside a call is asked of the host
/// (`in_plugin_call`), so the calls themselves carry no per-call marker: a
/// thread-local in a `cdylib` costs a `__tls_get_addr` call per access, a
/// third of a null layer's boundary cost. With an ABI 1.0 host every panic
/// is printed, as before ABI 1.1.
pub(crate) fn install_panic_hook(host: *const abi::HostInfo) {
    // SAFETY: the host passes a valid `HostInfo` (or null) for the call;
    // `api` is read only when its `size` covers the member (ABI 1.1).
    let api = unsafe {
        host.as_ref()
            .filter(|h| h.size as usize >= std::mem::size_of::<abi::HostInfo>())
            .map_or(std::ptr::null(), |h| h.api)
    };
    // SAFETY: a non-null `api` is the host's static table, valid while the
    // plugin is loaded; `in_plugin_call` is read only when `size` covers it.
    let usable = unsafe { api.as_ref() }.is_some_and(|a| a.size as usize >= abi::HOST_API_SIZE_1_1);
    if usable {
        HOST_API.store(api.cast_mut(), Ordering::Release);
    }
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let api = HOST_API.load(Ordering::Acquire);
            // SAFETY: non-null only when set above from a 1.1 host's table,
            // which outlives the plugin; `in_plugin_call` takes no arguments
            // and may be called from any thread.
            let in_call =
                unsafe { api.as_ref() }.is_some_and(|a| unsafe { (a.in_plugin_call)() } == 1);
            if !in_call {
                prev(info);
            }
        }));
    });
}

/// Runs `f` catching panics (see [`install_panic_hook`] for their messages).
fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, Box<dyn std::any::Any + Send>> {
    catch_unwind(AssertUnwindSafe(f))
}

/// The text of a panic payload (`panic!("…")` gives `&str` or `String`).
fn panic_text(p: &(dyn std::any::Any + Send)) -> &str {
    p.downcast_ref::<&str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}

fn to_u64(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// `DissectFn` for protocol `P`.
///
/// # Safety
/// Called by the host with `user` = the leaked `P` from `__protocol::<P>`, and
/// the other pointers valid for the duration of the call (ABI contract).
pub(crate) unsafe extern "C" fn dissect_shim<P: Protocol>(
    user: *mut c_void,
    data: *const u8,
    len: usize,
    info: *const abi::LayerInfo,
    api: *const abi::HostApi,
    cx: *mut c_void,
    out: *mut abi::OutcomeOut,
) -> i32 {
    let run = || {
        // SAFETY: `user` is the `&'static P` leaked by `__protocol::<P>`,
        // immutable and `Sync`, so sharing it across threads is sound.
        let Some(p) = (unsafe { user.cast::<P>().cast_const().as_ref() }) else {
            return abi::STATUS_FAILED;
        };
        // SAFETY: the ABI contract: `data` is valid for `len` bytes, and `info`,
        // `api` and `out` are valid (or null) for the duration of the call.
        let (data, info, api, out) = unsafe {
            (
                bytes(data, len),
                read_info(info),
                api.as_ref(),
                out.as_mut(),
            )
        };
        let (Some(info), Some(api), Some(out)) = (info, api, out) else {
            return abi::STATUS_FAILED;
        };
        if (api.size as usize) < abi::HOST_API_SIZE_1_0
            || (out.size as usize) < std::mem::size_of::<abi::OutcomeOut>()
        {
            return abi::STATUS_FAILED;
        }
        let mut c = Cx { api, cx, info };
        let o: Outcome = p.dissect(data, &mut c);
        out.header_len = to_u64(o.header_len);
        out.payload_len = o.payload_len.map_or(abi::NO_LEN, to_u64);
        match o.next {
            Next::End => out.next = abi::NEXT_END,
            Next::NotMine => out.next = abi::NEXT_NOT_MINE,
            Next::Table(t, key) => {
                out.next = abi::NEXT_TABLE;
                out.table = t.0;
                out.key = key;
            }
            Next::Ports(t, s, d) => {
                out.next = abi::NEXT_PORTS;
                out.table = t.0;
                out.src_port = s;
                out.dst_port = d;
            }
        }
        abi::STATUS_OK
    };
    match guarded(run) {
        Ok(status) => status,
        Err(payload) => {
            // SAFETY: as above: `api` is null or the host's table, valid for
            // the call; `panic_message` is read only when the host's `size`
            // says its table has it (ABI 1.1).
            unsafe {
                if let Some(api) = api.as_ref()
                    && api.size as usize >= abi::HOST_API_SIZE_1_1
                {
                    let m = panic_text(&*payload);
                    (api.panic_message)(cx, m.as_ptr(), m.len());
                }
            }
            abi::STATUS_PANICKED
        }
    }
}

/// `AcceptsFn` for protocol `P`.
///
/// # Safety
/// As for [`dissect_shim`].
pub(crate) unsafe extern "C" fn accepts_shim<P: Protocol>(
    user: *mut c_void,
    data: *const u8,
    len: usize,
    info: *const abi::LayerInfo,
) -> i32 {
    let run = || {
        // SAFETY: see `dissect_shim`.
        let Some(p) = (unsafe { user.cast::<P>().cast_const().as_ref() }) else {
            return -1;
        };
        // SAFETY: see `dissect_shim`.
        let (data, info) = unsafe { (bytes(data, len), read_info(info)) };
        let Some(info) = info else { return -1 };
        i32::from(p.accepts(data, &info))
    };
    guarded(run).unwrap_or(-1)
}

/// `SummaryFn` for protocol `P`.
///
/// # Safety
/// As for [`dissect_shim`]; `buf` must be valid for writes of `cap` bytes.
pub(crate) unsafe extern "C" fn summary_shim<P: Protocol>(
    user: *mut c_void,
    data: *const u8,
    len: usize,
    header_len: usize,
    buf: *mut c_char,
    cap: usize,
) -> isize {
    let run = || {
        // SAFETY: see `dissect_shim`.
        let Some(p) = (unsafe { user.cast::<P>().cast_const().as_ref() }) else {
            return -1;
        };
        // SAFETY: see `dissect_shim`.
        let data = unsafe { bytes(data, len) };
        let mut s = String::new();
        if !p.summary(data, header_len, &mut s) || buf.is_null() {
            return 0;
        }
        let mut n = s.len().min(cap);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        // SAFETY: `buf` is host-owned and valid for `cap` bytes; `n <= cap` and
        // `s` (plugin-owned) is valid for `n` bytes; the regions cannot overlap.
        unsafe { std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), n) };
        isize::try_from(n).unwrap_or(0)
    };
    guarded(run).unwrap_or(-1)
}
