//! Live capture on Linux: `AF_PACKET` sockets with a TPACKET_V3 ring, the
//! filter compiled by `pcapx-filter` attached in the kernel, packets encoded
//! as pcapng blocks so that [`crate::Capture`] parses them into ordinary
//! [`crate::Batch`]es (the same path as a file). All `unsafe` is in `sys`.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
mod sys;

use std::time::Duration;

/// Default `-B`: ring size in bytes.
pub const DEFAULT_BUFFER_BYTES: usize = 4 << 20;
/// Default `-s` (tcpdump's).
pub const DEFAULT_SNAPLEN: u32 = 262_144;
/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// LINKTYPE_LINUX_SLL2 (cooked capture with interface index and direction).
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// What to capture and how.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Interface names; `any` captures on every interface (cooked, LINUX_SLL2).
    pub interfaces: Vec<String>,
    /// Bytes kept per packet (0: [`DEFAULT_SNAPLEN`]).
    pub snaplen: u32,
    /// Kernel ring size per interface, bytes.
    pub buffer_bytes: usize,
    /// Put the interfaces in promiscuous mode.
    pub promisc: bool,
    /// tcpdump filter expression, compiled per interface link type and
    /// attached in the kernel where possible.
    pub filter: Option<String>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// End cleanly on SIGINT/SIGTERM (installs handlers).
    pub stop_on_signals: bool,
    /// Timestamp resolution written in the interface descriptions (6 or 9).
    pub tsresol: u8,
    /// End cleanly (as on a stop signal) once this flag is set: for callers
    /// that own the process's signals (the Python package's Ctrl-C).
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl LiveConfig {
    /// Capture on `interfaces` with tcpdump's defaults.
    pub fn new(interfaces: Vec<String>) -> LiveConfig {
        LiveConfig {
            interfaces,
            snaplen: 0,
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            promisc: true,
            filter: None,
            duration: None,
            stop_on_signals: false,
            tsresol: 9,
            stop: None,
        }
    }
}

/// Where the filter runs on one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterPlace {
    /// No filter.
    None,
    /// Attached to the socket: only matching packets reach user space.
    Kernel,
    /// The kernel filter rejects everything (the expression can match no
    /// packet of this link type).
    RejectAll,
    /// Run in user space with the same interpreter; the reason.
    User(String),
}

/// One interface of a running capture.
#[derive(Clone, Debug)]
pub struct LiveInterface {
    /// Name as given (`any` for the pseudo-device).
    pub name: String,
    /// Kernel interface index (0 for `any`).
    pub ifindex: i32,
    /// Link type of the records (Ethernet or LINUX_SLL2).
    pub linktype: u32,
    /// Snapshot length.
    pub snaplen: u32,
    /// Where the filter runs.
    pub filter: FilterPlace,
}

/// Counters of one interface: what the kernel saw and dropped, what pcapx
/// handed on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Packets the kernel filter accepted (libpcap's `ps_recv`, which
    /// includes the drops).
    pub received: u64,
    /// Packets dropped because the ring was full (`ps_drop`).
    pub dropped: u64,
    /// Packets read from the ring that passed the filter.
    pub delivered: u64,
}

/// One line of `--list-interfaces`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceListing {
    /// Interface index.
    pub index: u32,
    /// Name.
    pub name: String,
    /// IFF_UP.
    pub up: bool,
    /// IFF_RUNNING.
    pub running: bool,
    /// IFF_LOOPBACK.
    pub loopback: bool,
    /// The link type pcapx captures it as.
    pub linktype: u32,
}

#[cfg(target_os = "linux")]
pub(crate) use linux::LiveSource;
#[cfg(target_os = "linux")]
pub use linux::list_interfaces;
#[cfg(target_os = "linux")]
#[doc(hidden)]
pub use linux::{ring_block_to_epbs, ring_block_to_records};

/// One captured packet as it lies in the kernel's ring block, ready to be
/// recorded without copying: the record is `data` with `head` inserted at
/// `insert_at` (the 802.1Q tag the kernel took out, put back after the MAC
/// addresses; or the LINUX_SLL2 header in front of a cooked packet), cut to
/// `caplen`. Obtained from [`crate::Capture::live_direct`].
#[derive(Clone, Copy, Debug)]
pub struct RingPacket<'a> {
    /// Interface id (position in the capture's interface list).
    pub interface: u32,
    /// Nanoseconds since the epoch.
    pub ts_ns: u64,
    /// Length on the wire (with the inserted bytes).
    pub wirelen: u32,
    /// Bytes recorded (at most the snap length).
    pub caplen: u32,
    /// Bytes inserted into the packet (`head_len` of them).
    pub head: [u8; 20],
    /// How many bytes of `head` are inserted.
    pub head_len: u8,
    /// Where in `data` they go.
    pub insert_at: u16,
    /// The packet bytes in the ring.
    pub data: &'a [u8],
}

impl<'a> RingPacket<'a> {
    /// The record's bytes in order (some may be empty): `data` up to the
    /// insertion point, the inserted bytes, the rest of `data`; together
    /// exactly `caplen` bytes.
    pub fn parts(&self) -> [&[u8]; 3] {
        let cap = self.caplen as usize;
        let at = usize::from(self.insert_at).min(self.data.len()).min(cap);
        let head = &self.head[..usize::from(self.head_len).min(20).min(cap - at)];
        let rest = cap - at - head.len();
        let tail_end = at.saturating_add(rest).min(self.data.len());
        [&self.data[..at], head, &self.data[at..tail_end]]
    }

    /// Appends the record's bytes to `out`.
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        for p in self.parts() {
            out.extend_from_slice(p);
        }
    }
}

/// How records are framed in the output file: pcap record headers or pcapng
/// Enhanced Packet Blocks, little-endian, nanosecond or microsecond
/// timestamps (the file's header says which).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordFraming {
    /// pcapng (Enhanced Packet Blocks) rather than pcap.
    pub pcapng: bool,
    /// Nanosecond timestamps (pcap's ns magic, pcapng `if_tsresol` 9).
    pub nanos: bool,
}

impl RecordFraming {
    /// Bytes the record of `p` takes in the file.
    pub fn record_len(&self, p: &RingPacket<'_>) -> usize {
        let cap = p.caplen as usize;
        if self.pcapng {
            28 + cap.next_multiple_of(4) + 4
        } else {
            16 + cap
        }
    }

    /// Frames `pkts` for a vectored write straight from the ring: the record
    /// headers (and pcapng padding and trailers) go into `arena`, and `iov`
    /// receives, in file order, slices of `arena` and of the packets' own
    /// bytes in the ring. `ends` receives the file offset (relative to the
    /// first record) where each record ends, so a short write can be cut
    /// back to whole records.
    pub fn frame<'a>(
        &self,
        pkts: &'a [RingPacket<'a>],
        arena: &'a mut Vec<u8>,
        iov: &mut Vec<std::io::IoSlice<'a>>,
        ends: &mut Vec<usize>,
    ) {
        arena.clear();
        let per = if self.pcapng { 28 + 8 } else { 16 };
        arena.reserve(pkts.len() * per);
        // (header start, header length, trailer start, trailer length)
        let mut at = Vec::with_capacity(pkts.len());
        for p in pkts {
            let ts = if self.nanos { p.ts_ns } else { p.ts_ns / 1000 };
            let h = arena.len();
            if self.pcapng {
                let cap = p.caplen as usize;
                let total = self.record_len(p);
                let total32 = u32::try_from(total).unwrap_or(u32::MAX);
                for v in [
                    6u32,
                    total32,
                    p.interface,
                    u32::try_from(ts >> 32).unwrap_or(0),
                    u32::try_from(ts & 0xffff_ffff).unwrap_or(0),
                    p.caplen,
                    p.wirelen,
                ] {
                    arena.extend_from_slice(&v.to_le_bytes());
                }
                let t = arena.len();
                let pad = cap.next_multiple_of(4) - cap;
                arena.extend_from_slice(&[0u8; 3][..pad]);
                arena.extend_from_slice(&total32.to_le_bytes());
                at.push((h, 28, t, pad + 4));
            } else {
                let (sec, frac) = if self.nanos {
                    (ts / 1_000_000_000, ts % 1_000_000_000)
                } else {
                    (ts / 1_000_000, ts % 1_000_000)
                };
                for v in [
                    u32::try_from(sec).unwrap_or(u32::MAX),
                    u32::try_from(frac).unwrap_or(0),
                    p.caplen,
                    p.wirelen,
                ] {
                    arena.extend_from_slice(&v.to_le_bytes());
                }
                at.push((h, 16, 0, 0));
            }
        }
        let arena: &'a [u8] = arena;
        let mut end = 0usize;
        for (p, &(h, hl, t, tl)) in pkts.iter().zip(&at) {
            iov.push(std::io::IoSlice::new(&arena[h..h + hl]));
            for part in p.parts() {
                if !part.is_empty() {
                    iov.push(std::io::IoSlice::new(part));
                }
            }
            if tl > 0 {
                iov.push(std::io::IoSlice::new(&arena[t..t + tl]));
            }
            end += self.record_len(p);
            ends.push(end);
        }
    }
}

/// The message for every other system.
pub const UNSUPPORTED: &str = "live capture is supported on Linux only";

#[cfg(not(target_os = "linux"))]
pub(crate) struct LiveSource;

#[cfg(not(target_os = "linux"))]
impl LiveSource {
    pub(crate) fn open(_cfg: &LiveConfig) -> Result<LiveSource, crate::CaptureError> {
        Err(crate::CaptureError::Live {
            iface: String::from("live"),
            message: UNSUPPORTED.to_owned(),
        })
    }
    pub(crate) fn fill(&mut self, _out: &mut Vec<u8>, _wait: bool) -> std::io::Result<bool> {
        Ok(true)
    }
    pub(crate) fn interfaces(&self) -> impl Iterator<Item = &LiveInterface> {
        std::iter::empty()
    }
    pub(crate) fn stats(&self) -> Vec<LiveStats> {
        Vec::new()
    }
    pub(crate) fn drain_direct(
        &mut self,
        _wait: bool,
        _f: &mut dyn FnMut(&[RingPacket<'_>]) -> std::io::Result<bool>,
    ) -> std::io::Result<bool> {
        Ok(true)
    }
    pub(crate) fn name(&self) -> &str {
        ""
    }
}

/// Lists the interfaces (not on this system).
#[cfg(not(target_os = "linux"))]
pub fn list_interfaces() -> Result<Vec<InterfaceListing>, crate::CaptureError> {
    Err(crate::CaptureError::Live {
        iface: String::from("live"),
        message: UNSUPPORTED.to_owned(),
    })
}
