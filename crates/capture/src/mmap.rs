//! The only module with `unsafe`: memory-mapping a capture file, telling the
//! kernel when mapped pages are no longer needed, and surviving a file that
//! shrinks while it is mapped.
//!
//! # Files that shrink under the map
//!
//! Touching a mapped page that lies past the end of a file truncated after it
//! was mapped raises SIGBUS. A process-wide SIGBUS handler (installed once,
//! on the first map) looks the faulting address up in a fixed table of the
//! live maps; for one of ours it maps an anonymous zero page over the faulting
//! page (`MAP_FIXED`), records the lowest faulting offset of that map, and
//! returns, so the read completes with zeros instead of killing the process.
//! Any other SIGBUS goes to the handler that was installed before (Rust's
//! runtime, or the default action, which terminates as before).
//!
//! Zeros are never mistaken for data: [`MappedFile::intact`] tells whether the
//! bytes up to an offset are still the file's (no fault at or below it, and
//! the file still at least that long); the reader checks it for each batch it
//! indexes, the consumers for each batch they processed, and a batch that
//! fails the check is reported as [`crate::CaptureError::Shrank`] instead of
//! being used. A stable file pays one `fstat` per batch and nothing per
//! packet. See ARCHITECTURE.md, "Inputs that change while read".
#![allow(unsafe_code)]

use memmap2::Mmap;
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Granularity used to keep `DontNeed` advice strictly inside a batch's range.
const PAGE: u64 = 4096;

/// How many maps can be live at once with SIGBUS protection; a file opened
/// beyond that is streamed instead of mapped.
const SLOTS: usize = 64;

/// One live map in the table the SIGBUS handler reads (lock-free: a signal
/// handler must not take locks or allocate).
struct Slot {
    /// Address of the first byte; 0 = free.
    start: AtomicUsize,
    /// Length in bytes; 0 while being claimed or released.
    len: AtomicUsize,
    /// Lowest offset (page-aligned) whose page was replaced by zeros.
    fault: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    fault: AtomicU64::new(u64::MAX),
};
static TABLE: [Slot; SLOTS] = [FREE; SLOTS];

/// The system page size, read once before the handler is installed.
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);

/// The SIGBUS disposition that was in place before ours (chained to for
/// faults outside our maps). `None` if installing failed.
static PREVIOUS: OnceLock<Option<libc::sigaction>> = OnceLock::new();

/// The SIGBUS handler (see the module docs). Only async-signal-safe work:
/// atomics, `mmap`, `sigaction`.
extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid `siginfo_t` to an SA_SIGINFO handler;
    // for SIGBUS `si_addr` is the faulting address.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE_SIZE.load(Ordering::Relaxed).max(1);
    for slot in &TABLE {
        let start = slot.start.load(Ordering::Acquire);
        let len = slot.len.load(Ordering::Acquire);
        if start == 0 || len == 0 || addr < start || addr - start >= len {
            continue;
        }
        let at = addr - addr % page;
        // SAFETY: `at..at + page` is a page inside one of our live read-only
        // file maps (the slot is cleared before the map is unmapped, and no
        // map is dropped while one of its bytes is being read). Replacing it
        // with a private anonymous zero page at the same address keeps every
        // `&[u8]` into the map valid (same address, readable, never written);
        // the bytes now read as zero, and `intact` reports the range as lost
        // so they are never used as data. `mmap` is async-signal-safe on Linux
        // (a plain system call).
        let p = unsafe {
            libc::mmap(
                at as *mut libc::c_void,
                page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            let off = u64::try_from(at.saturating_sub(start)).unwrap_or(u64::MAX);
            slot.fault.fetch_min(off, Ordering::AcqRel);
            return;
        }
        break;
    }
    chain(sig, info, ctx);
}

/// Hands a SIGBUS that is not ours to the previous disposition.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = PREVIOUS.get().copied().flatten();
    match prev {
        Some(p)
            if p.sa_sigaction != libc::SIG_DFL
                && p.sa_sigaction != libc::SIG_IGN
                && p.sa_flags & libc::SA_SIGINFO != 0 =>
        {
            // SAFETY: the previous handler was installed with SA_SIGINFO, so
            // `sa_sigaction` is a function of exactly this signature; we pass
            // on the arguments the kernel gave us.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(p.sa_sigaction) };
            f(sig, info, ctx);
        }
        Some(p) if p.sa_sigaction != libc::SIG_DFL && p.sa_sigaction != libc::SIG_IGN => {
            // SAFETY: without SA_SIGINFO, `sa_sigaction` holds a plain
            // `void (*)(int)` handler.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(p.sa_sigaction) };
            f(sig);
        }
        _ => {
            // Default action: restore it and return; the faulting access runs
            // again and the process dies of SIGBUS as it would have without us.
            // SAFETY: a zeroed `sigaction` with SIG_DFL (= 0) is a valid
            // disposition; the old-action pointer may be null.
            unsafe {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
    }
}

/// Installs the SIGBUS handler once; false if that failed.
fn install() -> bool {
    PREVIOUS
        .get_or_init(|| {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            if let Ok(p) = usize::try_from(page)
                && p > 0
            {
                PAGE_SIZE.store(p, Ordering::Relaxed);
            }
            // SAFETY: both structs are fully initialised (zeroed, then the
            // fields we use set); `on_sigbus` has the SA_SIGINFO signature and
            // only does async-signal-safe work. SA_ONSTACK lets it run on the
            // alternate stack Rust's runtime sets up for its own handlers.
            unsafe {
                let mut new: libc::sigaction = std::mem::zeroed();
                let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    on_sigbus;
                new.sa_sigaction = handler as libc::sighandler_t;
                new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut new.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGBUS, &new, &mut old) == 0 {
                    Some(old)
                } else {
                    None
                }
            }
        })
        .is_some()
}

/// A read-only map of a whole capture file, registered with the SIGBUS
/// handler.
pub(crate) struct MappedFile {
    map: Mmap,
    /// The open file, for `fstat` when checking that it did not shrink.
    file: File,
    slot: usize,
    /// The file as named by the caller, for errors.
    name: String,
}

impl MappedFile {
    /// Maps `file`; `Ok(None)` when it cannot be protected (handler not
    /// installed, or too many maps live): the caller streams it instead.
    pub(crate) fn open(file: &File, name: &str) -> io::Result<Option<MappedFile>> {
        if !install() {
            return Ok(None);
        }
        let Some(slot) = TABLE.iter().position(|s| {
            s.start
                .compare_exchange(0, usize::MAX, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        }) else {
            return Ok(None);
        };
        let file = match file.try_clone() {
            Ok(f) => f,
            Err(e) => {
                TABLE[slot].start.store(0, Ordering::Release);
                return Err(e);
            }
        };
        // SAFETY: the map is read-only and only ever read through `&[u8]`.
        // Another process may truncate the file while it is mapped; a read of
        // a page past the new end then raises SIGBUS, which `on_sigbus` turns
        // into a zero page plus a recorded fault (this map is registered in
        // the handler's table below before any byte of it is read), and
        // `intact` keeps those zeros from being used as data. A file
        // rewritten in place without shrinking cannot be detected: its new
        // bytes are read as they are, as with any reader.
        let map = match unsafe { Mmap::map(&file) } {
            Ok(m) => m,
            Err(e) => {
                TABLE[slot].start.store(0, Ordering::Release);
                return Err(e);
            }
        };
        #[cfg(unix)]
        {
            // Purely a hint; failure is harmless.
            let _ = map.advise(memmap2::Advice::Sequential);
        }
        let s = &TABLE[slot];
        s.fault.store(u64::MAX, Ordering::Release);
        s.len.store(0, Ordering::Release);
        s.start.store(map.as_ptr() as usize, Ordering::Release);
        s.len.store(map.len(), Ordering::Release);
        Ok(Some(MappedFile {
            map,
            file,
            slot,
            name: name.to_owned(),
        }))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The mapped length (the file's size when it was opened).
    pub(crate) fn len(&self) -> u64 {
        u64::try_from(self.map.len()).unwrap_or(u64::MAX)
    }

    /// The file's size now (`None` if `fstat` fails).
    pub(crate) fn current_len(&self) -> Option<u64> {
        self.file.metadata().ok().map(|m| m.len())
    }

    /// Whether the mapped bytes before `end` are the file's own: no page at
    /// or before `end` was replaced by zeros, and the file is still at least
    /// `end` bytes long (or as long as the map).
    pub(crate) fn intact(&self, end: u64) -> bool {
        let fault = TABLE[self.slot].fault.load(Ordering::Acquire);
        if fault < end {
            return false;
        }
        let end = end.min(self.len());
        self.current_len().is_none_or(|now| now >= end)
    }

    /// The error for a map that is no longer intact; `after` is the last
    /// packet read intact.
    pub(crate) fn shrank(&self, after: u64) -> crate::CaptureError {
        crate::CaptureError::Shrank {
            path: self.name.clone(),
            from: self.len(),
            to: self.current_len().unwrap_or(0),
            after,
        }
    }

    /// The reader is at `pos` and walks the map in order: map the pages
    /// ahead of it, [`POPULATE`] bytes at a time, and request the bytes up
    /// to [`PREFETCH`] ahead into the cache, so walking the chained record
    /// headers does not wait for memory at every record (it did: about
    /// 130 ns per record, a third of the reader thread's time,
    /// BENCHMARKS.md).
    ///
    /// The pages are mapped by reading one byte per [`FAULT_AROUND`]: each
    /// read faults once and the kernel maps the pages around it (its
    /// fault-around). That takes a quarter less of the reader's time than
    /// `MADV_POPULATE_READ`, which walks the pages one by one after its
    /// faults (measured on the bench capture: walking it 0.165 s → 0.152 s,
    /// the kernel's share 0.09 s → 0.065 s). A kernel that maps fewer pages
    /// per fault leaves the rest to the reader's own faults, as without
    /// this. A read past the end of a file that shrank meanwhile is caught
    /// like any other read of the map (a zero page, recorded, and the batch
    /// that reaches it is not [`MappedFile::intact`]).
    pub(crate) fn read_ahead(&self, ahead: &mut ReadAhead, pos: u64) {
        self.map_ahead(ahead, pos);
        let want = pos.saturating_add(PREFETCH).min(self.len());
        let mut line = ahead.prefetched.max(pos & !(LINE - 1));
        while line < want {
            prefetch(&self.map, line);
            line += STRIDE;
        }
        ahead.prefetched = line;
    }

    /// The page-mapping half of [`MappedFile::read_ahead`]: for a reader
    /// that does not wait on the bytes ahead (the classic-pcap fast path,
    /// whose scouts read the record headers ahead — `crate::scout` — and
    /// whose workers request each packet's bytes themselves), requesting
    /// every line into the cache only takes memory bandwidth: measured on
    /// the bench capture, `count --threads 1` 0.311 → 0.283 s.
    pub(crate) fn map_ahead(&self, ahead: &mut ReadAhead, pos: u64) {
        let len = self.len();
        let want = pos.saturating_add(PREFETCH).min(len);
        if want > ahead.populated {
            let start = ahead.populated.max(pos) / FAULT_AROUND * FAULT_AROUND;
            let end = pos.saturating_add(POPULATE).min(len);
            let mut at = start;
            while at < end {
                if let Some(b) = usize::try_from(at).ok().and_then(|i| self.map.get(i)) {
                    std::hint::black_box(*b);
                }
                at += FAULT_AROUND;
            }
            ahead.populated = end;
        }
    }

    /// Advises the kernel that the whole pages inside `start..end` are not
    /// needed any more, so the resident set stays small on huge files.
    pub(crate) fn release(&self, start: u64, end: u64) {
        let len = self.len();
        let start = start.saturating_add(PAGE - 1) / PAGE * PAGE;
        let end = end.min(len) / PAGE * PAGE;
        if end <= start {
            return;
        }
        let (Ok(offset), Ok(count)) = (usize::try_from(start), usize::try_from(end - start)) else {
            return;
        };
        #[cfg(unix)]
        {
            // SAFETY: `offset..offset + count` lies inside the map (clamped to
            // its length above). The mapping is a read-only file mapping that is
            // never written, so MADV_DONTNEED only drops the resident copies of
            // the pages: any later access (including through a `&[u8]` that
            // another batch or the reader still holds) faults them back in from
            // the file with identical contents (or, past a shrunk end, through
            // the SIGBUS handler as zeros that `intact` reports). No memory is
            // invalidated.
            let _ = unsafe {
                self.map
                    .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, count)
            };
        }
        #[cfg(not(unix))]
        {
            let _ = (offset, count);
        }
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        // Unregister before `map` is unmapped (fields drop after this body).
        let s = &TABLE[self.slot];
        s.len.store(0, Ordering::Release);
        s.fault.store(u64::MAX, Ordering::Release);
        s.start.store(0, Ordering::Release);
    }
}

/// Bytes ahead of the reader requested into the cache.
const PREFETCH: u64 = 32 << 10;
/// Bytes ahead of the reader whose pages are mapped at once: past where
/// the scouts start (`crate::scout::MAX_AHEAD` and one spacing), so their
/// reads find the pages mapped.
const POPULATE: u64 = 10 << 20;
const _: () = assert!(POPULATE >= crate::scout::MAX_AHEAD + crate::scout::SPACING);
/// The bytes the kernel maps around a page fault on a file (Linux's
/// `fault_around_bytes`, 64 KiB by default and at most).
const FAULT_AROUND: u64 = 64 << 10;
/// A cache line.
const LINE: u64 = 64;
/// One line in two is requested: the CPU's adjacent-line prefetcher brings
/// its pair (measured on the bench capture: every line and every other line
/// cost the same, every fourth left misses in the parser).
const STRIDE: u64 = 2 * LINE;

/// The reader's read-ahead cursors over a map (see [`MappedFile::read_ahead`]).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ReadAhead {
    /// The pages before this offset were mapped (faulted in).
    populated: u64,
    /// The cache lines before this offset were prefetched.
    prefetched: u64,
}

/// Asks the CPU to bring the cache line at `offset` of `map` into the cache
/// (a hint: it never faults, and is dropped for an unmapped page). The
/// pipeline's workers ask for the records a few ahead of the one they
/// dissect; anything else that walks many packets in a large buffer can too.
#[inline]
pub fn prefetch(map: &[u8], offset: u64) {
    let Some(byte) = usize::try_from(offset).ok().and_then(|o| map.get(o)) else {
        return;
    };
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch reads nothing architecturally and never
        // faults; the pointer is into the live map anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(byte).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = byte;
    }
}

/// The part of a map that one batch covers; dropping it releases the pages.
pub(crate) struct MappedRange {
    pub map: Arc<MappedFile>,
    pub start: u64,
    pub end: u64,
}

impl Drop for MappedRange {
    fn drop(&mut self) {
        self.map.release(self.start, self.end);
    }
}
