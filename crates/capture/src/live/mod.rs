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
pub use linux::ring_block_to_epbs;

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
