//! The only module with `unsafe`: memory-mapping a capture file and telling
//! the kernel when mapped pages are no longer needed.
#![allow(unsafe_code)]

use memmap2::Mmap;
use std::fs::File;
use std::io;
use std::sync::Arc;

/// Granularity used to keep `DontNeed` advice strictly inside a batch's range.
const PAGE: u64 = 4096;

/// A read-only map of a whole capture file.
pub(crate) struct MappedFile {
    map: Mmap,
}

impl MappedFile {
    pub(crate) fn open(file: &File) -> io::Result<MappedFile> {
        // SAFETY: the map is read-only and only ever read through `&[u8]`.
        // memmap2 cannot rule out another process truncating or rewriting the
        // file while it is mapped (that would be undefined behaviour, typically
        // SIGBUS); like ripgrep, we accept this for regular files, which is the
        // documented trade-off of memory-mapped input, and callers can choose
        // `Capture::open_streamed` instead.
        let map = unsafe { Mmap::map(file)? };
        #[cfg(unix)]
        {
            // Purely a hint; failure is harmless.
            let _ = map.advise(memmap2::Advice::Sequential);
        }
        Ok(MappedFile { map })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Advises the kernel that the whole pages inside `start..end` are not
    /// needed any more, so the resident set stays small on huge files.
    pub(crate) fn release(&self, start: u64, end: u64) {
        let len = u64::try_from(self.map.len()).unwrap_or(u64::MAX);
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
            // the file with identical contents. No memory is invalidated.
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
