//! The Linux live source: opens one packet socket + ring per interface and
//! turns ring blocks into pcapng bytes (SHB, IDBs, then EPBs). Safe code:
//! ring blocks are parsed with bounds-checked reads.

use std::io;
use std::time::Instant;

use pcapx_filter::insn::{
    BPF_ABS, BPF_B, BPF_H, BPF_IND, BPF_LD, BPF_LDX, BPF_LEN, BPF_MEM, BPF_MSH, BPF_ST, BPF_STX,
    BPF_W, SKF_AD_IFINDEX, SKF_AD_OFF, SKF_AD_PKTTYPE, SKF_AD_PROTOCOL, class, mode, size,
};
use pcapx_filter::{Ancillary, Insn, Options, Program};

use super::sys::{self, Ring, Socket};
use super::{
    FilterPlace, InterfaceListing, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL2, LiveConfig,
    LiveInterface, LiveStats, RecordFraming, RingPacket,
};
use crate::bytes::ByteOrder;
use crate::error::CaptureError;
use crate::time::TsResolution;
use crate::writer::{InterfaceSpec, PcapNgWriter};

/// Classic BPF's limit on program length (`BPF_MAXINSNS`).
const BPF_MAXINSNS: usize = 4096;
/// Per-frame slot size for `tpacket_req3` (V3 packs packets into blocks;
/// this only sets `tp_frame_nr`).
const FRAME_SIZE: u32 = 2048;
/// A partly filled block is handed over after this long.
const RETIRE_MS: u32 = 50;
/// Longest single wait, so the deadline and the stop flag are checked often.
const MAX_POLL_MS: u64 = 200;

const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
const IFF_UP: u32 = 0x1;
const IFF_LOOPBACK: u32 = 0x8;
const IFF_RUNNING: u32 = 0x40;

/// `tpacket3_hdr` is 48 bytes; the `sockaddr_ll` follows at
/// `TPACKET_ALIGN(48)` = 48.
const HDR_LEN: usize = 48;
const SLL_LEN: usize = 20;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
const ETH_P_8021Q: u16 = 0x8100;
/// The largest original length a record claims (see `Encode::ring_packet`).
const MAX_WIRELEN: u32 = 256 << 20;
/// EPB header before the packet data: type, length, interface, ts high,
/// ts low, caplen, wirelen.
const EPB_HEAD: usize = 28;

struct Iface {
    info: LiveInterface,
    cooked: bool,
    /// Declared before `sock`: unmapped before the socket closes.
    ring: Ring,
    sock: Socket,
    next: usize,
    /// The filter when it runs in user space.
    user_prog: Option<Program>,
    reject_all: bool,
    /// Kernel counters accumulated so far (the kernel resets them on each read).
    kernel: std::cell::Cell<(u64, u64)>,
    delivered: u64,
}

/// Packets from one or more interfaces as a pcapng byte stream.
pub(crate) struct LiveSource {
    ifaces: Vec<Iface>,
    name: String,
    deadline: Option<Instant>,
    stop_on_signals: bool,
    stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    headers: Option<Vec<u8>>,
    ended: bool,
    /// Set when a stop was requested: the rings are drained until then, so
    /// packets in a block the kernel had not yet retired are not lost.
    final_drain: Option<Instant>,
    /// The loopback interface's index: its outgoing copies are skipped, as
    /// libpcap does, since every packet also comes back in.
    lo_ifindex: Option<u32>,
    order: ByteOrder,
    tsresol: TsResolution,
    /// A packet for the user-space filter when bytes are inserted into it.
    scratch: Vec<u8>,
}

fn native_order() -> ByteOrder {
    if cfg!(target_endian = "big") {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    }
}

fn live_err(iface: &str, message: impl Into<String>) -> CaptureError {
    CaptureError::Live {
        iface: iface.to_owned(),
        message: message.into(),
    }
}

fn os_err(iface: &str, what: &str, e: &io::Error) -> CaptureError {
    let msg = match e.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => {
            "you don't have permission to capture on that device (needs root or CAP_NET_RAW)"
                .to_owned()
        }
        Some(libc::ENODEV | libc::ENXIO) => "no such interface".to_owned(),
        Some(libc::ENETDOWN) => "interface is down".to_owned(),
        _ => format!("{what}: {e}"),
    };
    live_err(iface, msg)
}

fn mentions_vlan(expr: &str) -> bool {
    expr.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case("vlan"))
}

/// Ring geometry for `bytes`: blocks of 256 KiB, at least two — libpcap's
/// (`MAXIMUM_SNAPLEN` rounded up to pages). Many small blocks rather than a
/// few large ones: a block goes back to the kernel only once all of it was
/// written out, so small blocks keep more of the ring free for the kernel
/// while user space works (with 1 MiB blocks pcapx dropped under load where
/// tcpdump did not).
fn geometry(bytes: usize) -> (u32, u32) {
    let block: u32 = 256 << 10;
    let nr = (bytes / block as usize).max(2);
    (block, u32::try_from(nr).unwrap_or(u32::MAX))
}

impl LiveSource {
    pub(crate) fn open(cfg: &LiveConfig) -> Result<LiveSource, CaptureError> {
        if cfg.interfaces.is_empty() {
            return Err(live_err("live", "no interface given"));
        }
        let snaplen = if cfg.snaplen == 0 {
            super::DEFAULT_SNAPLEN
        } else {
            cfg.snaplen
        };
        let expr = cfg
            .filter
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        let mut ifaces = Vec::with_capacity(cfg.interfaces.len());
        for name in &cfg.interfaces {
            ifaces.push(open_iface(name, cfg, snaplen, expr)?);
        }
        let tsresol = TsResolution(if cfg.tsresol == 6 { 6 } else { 9 });
        let order = native_order();
        let mut w =
            PcapNgWriter::new(Vec::new(), order).map_err(|e| os_err("live", "header", &e))?;
        for it in &ifaces {
            w.add_interface(&InterfaceSpec {
                linktype: u16::try_from(it.info.linktype).unwrap_or(1),
                snaplen,
                name: Some(it.info.name.clone()),
                tsresol,
                tsoffset: 0,
                fcs_len: None,
            })
            .map_err(|e| os_err(&it.info.name, "header", &e))?;
        }
        if cfg.stop_on_signals {
            sys::install_stop_handlers().map_err(|e| os_err("live", "signal handlers", &e))?;
        }
        Ok(LiveSource {
            name: cfg.interfaces.join(","),
            ifaces,
            deadline: cfg.duration.map(|d| Instant::now() + d),
            stop_on_signals: cfg.stop_on_signals,
            stop: cfg.stop.clone(),
            headers: Some(w.into_inner()),
            ended: false,
            final_drain: None,
            lo_ifindex: loopback_index(),
            order,
            tsresol,
            scratch: Vec::new(),
        })
    }

    /// The capture's name (the interfaces, comma-separated).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The interfaces, in id order.
    pub(crate) fn interfaces(&self) -> impl Iterator<Item = &LiveInterface> {
        self.ifaces.iter().map(|i| &i.info)
    }

    /// Reads the kernel counters (they reset on read, so they accumulate here).
    pub(crate) fn stats(&self) -> Vec<LiveStats> {
        self.ifaces
            .iter()
            .map(|it| {
                let (mut recv, mut drop) = it.kernel.get();
                if let Ok(k) = it.sock.stats() {
                    recv = recv.saturating_add(u64::from(k.packets));
                    drop = drop.saturating_add(u64::from(k.drops));
                    it.kernel.set((recv, drop));
                }
                LiveStats {
                    received: recv,
                    dropped: drop,
                    delivered: it.delivered,
                }
            })
            .collect()
    }

    fn should_stop(&self) -> bool {
        (self.stop_on_signals && sys::stop_requested())
            || self
                .stop
                .as_ref()
                .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
            || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Appends pcapng bytes to `out`: the headers on the first call, then
    /// every packet the rings hold. With `wait`, blocks until there is at
    /// least one packet or the capture ends. Returns `true` at the end
    /// (deadline passed or stop signal).
    pub(crate) fn fill(&mut self, out: &mut Vec<u8>, wait: bool) -> io::Result<bool> {
        if let Some(h) = self.headers.take() {
            out.extend_from_slice(&h);
            return Ok(false);
        }
        self.pump(wait, &mut |src| {
            let before = out.len();
            for i in 0..src.ifaces.len() {
                src.drain(i, out);
            }
            Ok((out.len() > before, false))
        })
    }

    /// Hands every packet the rings hold to `f`, one ring block at a time,
    /// as [`RingPacket`]s pointing into the block (which goes back to the
    /// kernel when `f` returns): for writing them out without copying. `f`
    /// returns `true` to stop. With `wait`, blocks until there is at least
    /// one packet or the capture ends. Returns `true` at the end (deadline,
    /// stop signal, or `f` asked to stop).
    pub(crate) fn drain_direct(
        &mut self,
        wait: bool,
        f: &mut dyn FnMut(&[RingPacket<'_>]) -> io::Result<bool>,
    ) -> io::Result<bool> {
        self.headers = None;
        self.pump(wait, &mut |src| {
            let mut got = false;
            for i in 0..src.ifaces.len() {
                let (g, stop) = src.drain_to(i, f)?;
                got |= g;
                if stop {
                    return Ok((true, true));
                }
            }
            Ok((got, false))
        })
    }

    /// Runs `step` (which moves packets out of the rings and says whether it
    /// got any and whether to stop) until it gets some, the capture ends, or,
    /// without `wait`, once.
    fn pump(
        &mut self,
        wait: bool,
        step: &mut dyn FnMut(&mut Self) -> io::Result<(bool, bool)>,
    ) -> io::Result<bool> {
        if self.ended {
            return Ok(true);
        }
        loop {
            let (got, stop) = step(self)?;
            if stop {
                self.ended = true;
                return Ok(true);
            }
            if got {
                return Ok(false);
            }
            if self.final_drain.is_none() && self.should_stop() {
                // The kernel retires a partly filled block after RETIRE_MS:
                // keep draining a little longer than that before ending.
                self.final_drain = Some(
                    Instant::now() + std::time::Duration::from_millis(u64::from(RETIRE_MS) + 30),
                );
            }
            if let Some(t) = self.final_drain
                && Instant::now() >= t
            {
                self.ended = true;
                return Ok(true);
            }
            if !wait {
                return Ok(false);
            }
            let mut timeout = MAX_POLL_MS;
            if let Some(d) = self.final_drain.or(self.deadline) {
                let left = d.saturating_duration_since(Instant::now());
                timeout = timeout.min(u64::try_from(left.as_millis()).unwrap_or(u64::MAX).max(1));
            }
            let socks: Vec<&Socket> = self.ifaces.iter().map(|i| &i.sock).collect();
            sys::poll(&socks, i32::try_from(timeout).unwrap_or(200))?;
        }
    }

    fn encoder(&self, i: usize) -> Option<Encode> {
        let it = self.ifaces.get(i)?;
        Some(Encode {
            order: self.order,
            micro: self.tsresol == TsResolution::MICRO,
            id: u32::try_from(i).unwrap_or(u32::MAX),
            cooked: it.cooked,
            snaplen: it.info.snaplen,
        })
    }

    /// Moves every block user space owns from interface `i`'s ring to `out`.
    fn drain(&mut self, i: usize, out: &mut Vec<u8>) {
        let lo = self.lo_ifindex;
        let Some(enc) = self.encoder(i) else {
            return;
        };
        let scratch = &mut self.scratch;
        let Some(it) = self.ifaces.get_mut(i) else {
            return;
        };
        let prog = if it.reject_all {
            Some(UserFilter::RejectAll)
        } else {
            it.user_prog.as_ref().map(UserFilter::Program)
        };
        let blocks = it.ring.blocks();
        for _ in 0..blocks {
            let b = it.next;
            let Some(block) = it.ring.user_block(b) else {
                break;
            };
            it.delivered += walk_block(block, &enc, lo, prog, scratch, out);
            it.ring.release(b);
            it.next = (b + 1) % blocks.max(1);
        }
    }

    /// Hands interface `i`'s blocks to `f` (see [`LiveSource::drain_direct`]);
    /// returns whether any packet went and whether `f` asked to stop.
    fn drain_to(
        &mut self,
        i: usize,
        f: &mut dyn FnMut(&[RingPacket<'_>]) -> io::Result<bool>,
    ) -> io::Result<(bool, bool)> {
        let lo = self.lo_ifindex;
        let Some(enc) = self.encoder(i) else {
            return Ok((false, false));
        };
        let scratch = &mut self.scratch;
        let Some(it) = self.ifaces.get_mut(i) else {
            return Ok((false, false));
        };
        let prog = if it.reject_all {
            Some(UserFilter::RejectAll)
        } else {
            it.user_prog.as_ref().map(UserFilter::Program)
        };
        let blocks = it.ring.blocks();
        let mut got = false;
        for _ in 0..blocks {
            let b = it.next;
            let Some(block) = it.ring.user_block(b) else {
                break;
            };
            let mut pkts = Vec::with_capacity(rd32(block, 12).unwrap_or(0).min(4096) as usize);
            let n = walk_packets(block, &enc, lo, prog, scratch, &mut |p| pkts.push(p));
            it.delivered += n;
            got |= n > 0;
            let stop = if pkts.is_empty() { Ok(false) } else { f(&pkts) };
            drop(pkts);
            it.ring.release(b);
            it.next = (b + 1) % blocks.max(1);
            if stop? {
                return Ok((got, true));
            }
        }
        Ok((got, false))
    }
}

/// What the user-space side of the filter does with a packet.
#[derive(Clone, Copy)]
enum UserFilter<'a> {
    RejectAll,
    Program(&'a Program),
}

/// Walks one TPACKET_V3 block as the kernel hands it over (`num_pkts` at
/// byte 12, the first packet's offset at 16, each `tpacket3_hdr` giving the
/// next one's offset) and calls `each` with every packet that is not the
/// loopback's outgoing copy and passes the user-space filter, as a
/// [`RingPacket`] pointing into the block (VLAN tag or LINUX_SLL2 header to
/// insert, snap length applied). `scratch` holds a packet for the user-space
/// filter when bytes are inserted. Every read is bounds-checked: a block that
/// lies about counts, offsets or lengths ends the walk, never reads outside
/// `block`. Returns the packets passed to `each`.
fn walk_packets<'a>(
    block: &'a [u8],
    enc: &Encode,
    lo: Option<u32>,
    filter: Option<UserFilter<'_>>,
    scratch: &mut Vec<u8>,
    each: &mut dyn FnMut(RingPacket<'a>),
) -> u64 {
    let mut kept = 0;
    let n = rd32(block, 12).unwrap_or(0);
    let mut off = rd32(block, 16).map_or(usize::MAX, |v| v as usize);
    for _ in 0..n {
        let Some(hdr) = off.checked_add(HDR_LEN).and_then(|e| block.get(off..e)) else {
            break;
        };
        let pkt = Packet::parse(hdr, block, off).filter(|p| !p.is_loopback_echo(lo));
        if let Some(p) = pkt {
            let rp = enc.ring_packet(&p);
            let keep = match filter {
                Some(UserFilter::RejectAll) => false,
                Some(UserFilter::Program(prog)) => {
                    let frame = if rp.head_len == 0 {
                        &rp.data[..rp.caplen as usize]
                    } else {
                        scratch.clear();
                        rp.copy_to(scratch);
                        &scratch[..]
                    };
                    prog.run_with(frame, rp.wirelen, &p.ancillary()) != 0
                }
                None => true,
            };
            if keep {
                each(rp);
                kept += 1;
            }
        }
        let next = rd32(hdr, 0).unwrap_or(0) as usize;
        if next == 0 {
            break;
        }
        off = off.saturating_add(next);
    }
    kept
}

/// [`walk_packets`], appending an EPB for each packet to `out`.
fn walk_block(
    block: &[u8],
    enc: &Encode,
    lo: Option<u32>,
    filter: Option<UserFilter<'_>>,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> u64 {
    walk_packets(block, enc, lo, filter, scratch, &mut |p| enc.epb(out, &p))
}

/// The live path's conversion of one TPACKET_V3 ring block (native byte
/// order, as the kernel writes it) into pcapng Enhanced Packet Blocks for
/// interface 0, appended to `out`: LINUX_SLL2 headers prepended when
/// `cooked`, stripped VLAN tags re-inserted otherwise, records cut to
/// `snaplen`, nanosecond timestamps, `filter` applied as the user-space
/// fallback does. Returns how many EPBs were appended. For the fuzz target
/// and tests; the capture itself calls the same walker on the mapped ring.
#[doc(hidden)]
pub fn ring_block_to_epbs(
    block: &[u8],
    cooked: bool,
    snaplen: u32,
    filter: Option<&Program>,
    out: &mut Vec<u8>,
) -> u64 {
    let enc = Encode {
        order: native_order(),
        micro: false,
        id: 0,
        cooked,
        snaplen,
    };
    let mut scratch = Vec::new();
    walk_block(
        block,
        &enc,
        None,
        filter.map(UserFilter::Program),
        &mut scratch,
        out,
    )
}

/// The direct path's output for one ring block: the pcap or pcapng records
/// (`framing`) that `capture -w` writes straight from the ring, concatenated
/// (what the vectored write puts in the file). Interface 0, Ethernet or
/// cooked as for [`ring_block_to_epbs`]. Returns how many records. For the
/// fuzz target and tests.
#[doc(hidden)]
pub fn ring_block_to_records(
    block: &[u8],
    cooked: bool,
    snaplen: u32,
    filter: Option<&Program>,
    framing: RecordFraming,
    out: &mut Vec<u8>,
) -> u64 {
    let enc = Encode {
        order: native_order(),
        micro: !framing.nanos,
        id: 0,
        cooked,
        snaplen,
    };
    let mut scratch = Vec::new();
    let mut pkts = Vec::new();
    let n = walk_packets(
        block,
        &enc,
        None,
        filter.map(UserFilter::Program),
        &mut scratch,
        &mut |p| pkts.push(p),
    );
    let mut arena = Vec::new();
    let mut iov = Vec::new();
    let mut ends = Vec::new();
    framing.frame(&pkts, &mut arena, &mut iov, &mut ends);
    for s in &iov {
        out.extend_from_slice(s);
    }
    n
}

fn rd32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

fn rd16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes([s[0], s[1]]))
}

/// The largest `tp_nsec` a ring packet is taken to claim.
const MAX_NSEC: u32 = 999_999_999;

/// One packet of a ring block.
struct Packet<'a> {
    sec: u32,
    nsec: u32,
    len: u32,
    status: u32,
    vlan_tci: u16,
    vlan_tpid: u16,
    sll: &'a [u8],
    data: &'a [u8],
}

/// `PACKET_OUTGOING` in `sll_pkttype`.
const PACKET_OUTGOING: u8 = 4;

fn loopback_index() -> Option<u32> {
    let list = sys::interfaces().ok()?;
    list.into_iter().find_map(|(idx, name)| {
        let (flags, _) = sys::interface_flags_and_type(&name).ok()?;
        (flags & IFF_LOOPBACK != 0).then_some(idx)
    })
}

impl<'a> Packet<'a> {
    /// What the kernel's filter reads at `SKF_AD_OFF + SKF_AD_*`, from the
    /// packet's `sockaddr_ll`, so the user-space filter decides as it would.
    fn ancillary(&self) -> Ancillary {
        Ancillary {
            pkttype: self.sll.get(10).map(|&t| u32::from(t)),
            ifindex: rd32(self.sll, 4),
            protocol: self
                .sll
                .get(2..4)
                .map(|b| u32::from(u16::from_be_bytes([b[0], b[1]]))),
        }
    }

    /// An outgoing packet on the loopback interface (it is seen again incoming).
    fn is_loopback_echo(&self, lo: Option<u32>) -> bool {
        lo.is_some() && self.sll.get(10) == Some(&PACKET_OUTGOING) && rd32(self.sll, 4) == lo
    }

    fn parse(hdr: &[u8], block: &'a [u8], off: usize) -> Option<Packet<'a>> {
        let snap = rd32(hdr, 12)? as usize;
        let mac = usize::from(rd16(hdr, 24)?);
        let start = off.checked_add(mac)?;
        let data = block.get(start..start.checked_add(snap)?)?;
        let sll_at = off.checked_add(HDR_LEN)?;
        let sll = block.get(sll_at..sll_at.checked_add(SLL_LEN)?)?;
        Some(Packet {
            sec: rd32(hdr, 4)?,
            // The kernel's tp_nsec is always below 10⁹; a block that claims
            // more has it clamped to 999 999 999 rather than carried into
            // the seconds, so the time stays within a pcap record's 32-bit
            // seconds (at most u32::MAX s + 999 999 999 ns) and the pcap and
            // pcapng outputs record the same instant (fuzz finding).
            nsec: rd32(hdr, 8)?.min(MAX_NSEC),
            len: rd32(hdr, 16)?,
            status: rd32(hdr, 20)?,
            vlan_tci: u16::try_from(rd32(hdr, 32)? & 0xffff).unwrap_or(0),
            vlan_tpid: rd16(hdr, 36)?,
            sll,
            data,
        })
    }
}

struct Encode {
    order: ByteOrder,
    micro: bool,
    id: u32,
    cooked: bool,
    snaplen: u32,
}

impl Encode {
    /// The packet as it will be recorded: the LINUX_SLL2 header in front
    /// when cooked, a VLAN tag the kernel stripped put back, cut to the snap
    /// length.
    fn ring_packet<'a>(&self, p: &Packet<'a>) -> RingPacket<'a> {
        let mut head = [0u8; 20];
        let (head_len, insert_at) = if self.cooked {
            // LINUX_SLL2: protocol, reserved, ifindex, ARPHRD type, packet
            // type, address length, 8 address bytes (all from sockaddr_ll).
            let s = p.sll;
            head[0..2].copy_from_slice(&s[2..4]); // sll_protocol, already big-endian
            let ifindex = rd32(s, 4).unwrap_or(0);
            head[4..8].copy_from_slice(&ifindex.to_be_bytes());
            let hatype = rd16(s, 8).unwrap_or(0);
            head[8..10].copy_from_slice(&hatype.to_be_bytes());
            head[10] = s[10];
            head[11] = s[11].min(8);
            head[12..20].copy_from_slice(&s[12..20]);
            (20u8, 0u16)
        } else if (p.status & TP_STATUS_VLAN_VALID != 0 || p.vlan_tci != 0) && p.data.len() >= 12 {
            // The kernel took the 802.1Q tag out of the frame; put it back
            // after the MAC addresses, as libpcap does.
            let tpid = if p.status & TP_STATUS_VLAN_TPID_VALID != 0 && p.vlan_tpid != 0 {
                p.vlan_tpid
            } else {
                ETH_P_8021Q
            };
            head[0..2].copy_from_slice(&tpid.to_be_bytes());
            head[2..4].copy_from_slice(&p.vlan_tci.to_be_bytes());
            (4, 12)
        } else {
            (0, 0)
        };
        let full = p.data.len().saturating_add(usize::from(head_len));
        let caplen = full.min(self.snaplen as usize);
        RingPacket {
            interface: self.id,
            ts_ns: u64::from(p.sec) * 1_000_000_000 + u64::from(p.nsec),
            // What the kernel says, kept plausible whatever a block claims:
            // never less than what is recorded, never beyond 256 MiB (the
            // readers take a larger one for a damaged record header).
            wirelen: p
                .len
                .saturating_add(u32::from(head_len))
                .min(MAX_WIRELEN)
                .max(u32::try_from(caplen).unwrap_or(u32::MAX)),
            caplen: u32::try_from(caplen).unwrap_or(u32::MAX),
            head,
            head_len,
            insert_at,
            data: p.data,
        }
    }

    /// Appends the packet as an EPB.
    fn epb(&self, out: &mut Vec<u8>, p: &RingPacket<'_>) {
        let start = out.len();
        out.resize(start + EPB_HEAD, 0);
        p.copy_to(out);
        let caplen = out.len() - start - EPB_HEAD;
        while !(out.len() - start).is_multiple_of(4) {
            out.push(0);
        }
        let total = out.len() - start + 4;
        let ts = if self.micro { p.ts_ns / 1000 } else { p.ts_ns };
        let o = self.order;
        let total32 = u32::try_from(total).unwrap_or(u32::MAX);
        let fields = [
            6u32,
            total32,
            self.id,
            u32::try_from(ts >> 32).unwrap_or(0),
            u32::try_from(ts & 0xffff_ffff).unwrap_or(0),
            u32::try_from(caplen).unwrap_or(u32::MAX),
            p.wirelen,
        ];
        for (k, v) in fields.iter().enumerate() {
            let bytes = match o {
                ByteOrder::Little => v.to_le_bytes(),
                ByteOrder::Big => v.to_be_bytes(),
            };
            out[start + 4 * k..start + 4 * k + 4].copy_from_slice(&bytes);
        }
        o.put_u32(out, total32);
    }
}

fn open_iface(
    name: &str,
    cfg: &LiveConfig,
    snaplen: u32,
    expr: Option<&str>,
) -> Result<Iface, CaptureError> {
    let any = name == "any";
    let (ifindex, cooked) = if any {
        (0, true)
    } else {
        let idx = sys::ifindex(name).map_err(|e| os_err(name, "interface", &e))?;
        let (flags, hw) =
            sys::interface_flags_and_type(name).map_err(|e| os_err(name, "interface", &e))?;
        if flags & IFF_UP == 0 {
            return Err(live_err(name, "interface is down"));
        }
        (idx, !matches!(hw, ARPHRD_ETHER | ARPHRD_LOOPBACK))
    };
    let linktype = if cooked {
        LINKTYPE_LINUX_SLL2
    } else {
        LINKTYPE_ETHERNET
    };
    let sock = Socket::open(cooked).map_err(|e| os_err(name, "socket", &e))?;
    sock.set_tpacket_v3()
        .map_err(|e| os_err(name, "PACKET_VERSION", &e))?;
    let (block, nr) = geometry(cfg.buffer_bytes);
    let ring = Ring::new(&sock, block, nr, FRAME_SIZE, RETIRE_MS)
        .map_err(|e| os_err(name, "PACKET_RX_RING", &e))?;
    let mut place = FilterPlace::None;
    let mut user_prog = None;
    let mut reject_all = false;
    if let Some(expr) = expr {
        let opts = Options {
            snaplen,
            live: true,
            ..Options::new(linktype)
        };
        match pcapx_filter::compile_with(expr, &opts) {
            Err(e) if e.message == "expression rejects all packets" => {
                // BPF_RET|BPF_K 0: nothing reaches user space.
                sock.attach_filter(&[(0x06, 0, 0, 0)])
                    .map_err(|e| os_err(name, "SO_ATTACH_FILTER", &e))?;
                place = FilterPlace::RejectAll;
                reject_all = true;
            }
            Err(e) => return Err(live_err(name, format!("filter: {e}"))),
            Ok(p) => {
                let kernel = if mentions_vlan(expr) {
                    Err("the kernel strips VLAN tags before its filter runs".to_owned())
                } else if p.insns().len() > BPF_MAXINSNS {
                    Err(format!(
                        "filter too long for the kernel ({} instructions, at most {BPF_MAXINSNS})",
                        p.insns().len()
                    ))
                } else if cooked {
                    cooked_kernel_program(p.insns())
                } else {
                    Ok(p.insns()
                        .iter()
                        .map(|i| (i.code, i.jt, i.jf, i.k))
                        .collect())
                };
                let why = match kernel {
                    Err(why) => Some(why),
                    Ok(insns) => match sock.attach_filter(&insns) {
                        Ok(()) => None,
                        Err(e) => Some(format!("the kernel refused the filter: {e}")),
                    },
                };
                match why {
                    None => place = FilterPlace::Kernel,
                    Some(w) => {
                        place = FilterPlace::User(w);
                        user_prog = Some(p);
                    }
                }
            }
        }
    }
    if cfg.promisc && !any {
        sock.add_promisc(ifindex)
            .map_err(|e| os_err(name, "PACKET_ADD_MEMBERSHIP", &e))?;
    }
    sock.bind(ifindex).map_err(|e| os_err(name, "bind", &e))?;
    Ok(Iface {
        info: LiveInterface {
            name: name.to_owned(),
            ifindex,
            linktype,
            snaplen,
            filter: place,
        },
        cooked,
        ring,
        sock,
        next: 0,
        user_prog,
        reject_all,
        kernel: std::cell::Cell::new((0, 0)),
        delivered: 0,
    })
}

/// LINUX_SLL2's header length.
const SLL2_HDR_LEN: u32 = 20;

/// The kernel program for a cooked (`SOCK_DGRAM`) socket, from a program
/// compiled for LINUX_SLL2 — libpcap's `fix_program`/`fix_offset` in
/// pcap-linux.c: the kernel's filter sees the packet from the network
/// header, without the LINUX_SLL2 header pcapx prepends afterwards, so loads
/// past the header move back by its 20 bytes, and loads of its protocol,
/// interface index and packet type fields become the ancillary loads
/// `SKF_AD_PROTOCOL`, `SKF_AD_IFINDEX` and `SKF_AD_PKTTYPE`. The program
/// cannot be translated (so it runs in user space; the reason is returned)
/// when it reads any other header byte, reads `len` (the kernel's length
/// lacks the 20 header bytes; libpcap leaves that load as it is), keeps values
/// in scratch memory (offsets computed at run time, which count the header:
/// `protochain`, `geneve`, `vxlan`), or loads at a run-time offset with a
/// constant part inside the header (libpcap would turn that into an
/// ancillary load too).
fn cooked_kernel_program(insns: &[Insn]) -> Result<Vec<(u16, u8, u8, u32)>, String> {
    let mut out = Vec::with_capacity(insns.len());
    for (n, i) in insns.iter().enumerate() {
        let mut k = i.k;
        let c = class(i.code);
        if matches!(c, BPF_ST | BPF_STX)
            || (matches!(c, BPF_LD | BPF_LDX) && mode(i.code) == BPF_MEM)
        {
            return Err(format!(
                "cooked capture: instruction {n} uses scratch memory (offsets computed at run time include the LINUX_SLL2 header the kernel does not see)"
            ));
        }
        if matches!(c, BPF_LD | BPF_LDX) {
            match mode(i.code) {
                BPF_LEN => {
                    return Err("cooked capture: the kernel's packet length lacks the LINUX_SLL2 header (`len`, `greater`, `less`)".to_owned());
                }
                BPF_ABS if k >= SKF_AD_OFF => {}
                BPF_ABS | BPF_IND | BPF_MSH if k >= SLL2_HDR_LEN => k -= SLL2_HDR_LEN,
                BPF_ABS => {
                    k = match (k, size(i.code)) {
                        (0, BPF_H) => SKF_AD_OFF + SKF_AD_PROTOCOL,
                        (4, BPF_W) => SKF_AD_OFF + SKF_AD_IFINDEX,
                        (10, BPF_B) => SKF_AD_OFF + SKF_AD_PKTTYPE,
                        _ => {
                            return Err(format!(
                                "cooked capture: instruction {n} reads byte {k} of the LINUX_SLL2 header, which the kernel filter cannot see"
                            ));
                        }
                    };
                }
                BPF_IND | BPF_MSH => {
                    return Err(format!(
                        "cooked capture: instruction {n} loads at a run-time offset inside the LINUX_SLL2 header"
                    ));
                }
                _ => {}
            }
        }
        out.push((i.code, i.jt, i.jf, k));
    }
    Ok(out)
}

/// The interfaces of this network namespace, like `tcpdump -D` (without
/// the `any` pseudo-device, which the caller lists).
pub fn list_interfaces() -> Result<Vec<InterfaceListing>, CaptureError> {
    let list = sys::interfaces().map_err(|e| os_err("live", "if_nameindex", &e))?;
    let mut out = Vec::with_capacity(list.len());
    for (index, name) in list {
        let (flags, hw) = sys::interface_flags_and_type(&name).unwrap_or((0, 0));
        out.push(InterfaceListing {
            index,
            up: flags & IFF_UP != 0,
            running: flags & IFF_RUNNING != 0,
            loopback: flags & IFF_LOOPBACK != 0,
            linktype: if matches!(hw, ARPHRD_ETHER | ARPHRD_LOOPBACK) {
                LINKTYPE_ETHERNET
            } else {
                LINKTYPE_LINUX_SLL2
            },
            name,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sll2(expr: &str) -> Vec<Insn> {
        pcapx_filter::compile(expr, LINKTYPE_LINUX_SLL2, 0)
            .unwrap()
            .insns()
            .to_vec()
    }

    #[test]
    fn cooked_programs_move_past_the_header() {
        // `inbound and udp` for LINUX_SLL2: the packet type, the protocol and
        // the IPv4/IPv6 next-header bytes, as libpcap's fix_program makes it.
        let got = cooked_kernel_program(&sll2("inbound and udp")).unwrap();
        let prog = sll2("inbound and udp");
        assert_eq!(got.len(), prog.len());
        assert_eq!(
            got[0],
            (
                prog[0].code,
                prog[0].jt,
                prog[0].jf,
                SKF_AD_OFF + SKF_AD_PKTTYPE
            )
        );
        assert_eq!(got[2].3, SKF_AD_OFF + SKF_AD_PROTOCOL);
        // ldb [29] (IPv4 protocol) becomes ldb [9].
        let i = prog.iter().position(|i| i.k == 29).unwrap();
        assert_eq!(got[i].3, 9);
        // Jumps and returns are unchanged.
        for (a, b) in got.iter().zip(&prog) {
            assert_eq!((a.0, a.1, a.2), (b.code, b.jt, b.jf));
        }
        let got = cooked_kernel_program(&sll2("ifindex 3")).unwrap();
        assert!(got.iter().any(|i| i.3 == SKF_AD_OFF + SKF_AD_IFINDEX));
        // tcp[...] loads at x + k past the header: k moves, x (the IPv4
        // header length) is relative already.
        let got = cooked_kernel_program(&sll2("tcp[13] & 2 != 0")).unwrap();
        let prog = sll2("tcp[13] & 2 != 0");
        for (a, b) in got.iter().zip(&prog) {
            if matches!(class(b.code), BPF_LD | BPF_LDX)
                && matches!(mode(b.code), BPF_ABS | BPF_IND | BPF_MSH)
                && b.k != 0
            {
                assert!(b.k >= 20, "{b:?}");
                assert_eq!(a.3, b.k - 20);
            }
        }
    }

    #[test]
    fn untranslatable_cooked_programs_say_why() {
        let why = |e: &str| cooked_kernel_program(&sll2(e)).unwrap_err();
        assert!(why("greater 100").contains("packet length"));
        assert!(why("ip protochain 6").contains("scratch memory"));
        assert!(why("geneve").contains("scratch memory"));
        // The hatype field (byte 8) has no translation in libpcap.
        assert!(why("link[8:2] = 1").contains("byte 8"));
    }
}

#[cfg(test)]
mod block_tests {
    use super::*;

    /// One block holding one Ethernet frame whose VLAN tag the kernel
    /// stripped (TP_STATUS_VLAN_VALID, TCI 0x0064).
    fn block(frame: &[u8], tp_len: u32) -> Vec<u8> {
        let mut b = vec![0u8; 48];
        b[12..16].copy_from_slice(&1u32.to_ne_bytes());
        b[16..20].copy_from_slice(&48u32.to_ne_bytes());
        let mut h = vec![0u8; HDR_LEN + SLL_LEN];
        h[4..8].copy_from_slice(&7u32.to_ne_bytes());
        h[8..12].copy_from_slice(&9u32.to_ne_bytes());
        h[12..16].copy_from_slice(&u32::try_from(frame.len()).unwrap().to_ne_bytes());
        h[16..20].copy_from_slice(&tp_len.to_ne_bytes());
        h[20..24].copy_from_slice(&TP_STATUS_VLAN_VALID.to_ne_bytes());
        h[24..26].copy_from_slice(&u16::try_from(HDR_LEN + SLL_LEN).unwrap().to_ne_bytes());
        h[32..36].copy_from_slice(&0x0064u32.to_ne_bytes());
        b.extend(h);
        b.extend_from_slice(frame);
        b
    }

    #[test]
    fn ring_block_to_epbs_puts_the_tag_back_and_cuts_to_snaplen() {
        let mut frame = vec![0xaa; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend(std::iter::repeat_n(0x45, 46));
        let mut out = Vec::new();
        let n = ring_block_to_epbs(&block(&frame, 60), false, 262_144, None, &mut out);
        assert_eq!(n, 1);
        // EPB: type 6, total length, interface 0, ts, caplen 64, wirelen 64.
        let rd = |out: &[u8], at: usize| u32::from_ne_bytes(out[at..at + 4].try_into().unwrap());
        assert_eq!(rd(&out, 0), 6);
        assert_eq!(rd(&out, 8), 0);
        assert_eq!((rd(&out, 20), rd(&out, 24)), (64, 64));
        assert_eq!(&out[28 + 12..28 + 16], &[0x81, 0x00, 0x00, 0x64]);
        let ts = (u64::from(rd(&out, 12)) << 32) | u64::from(rd(&out, 16));
        assert_eq!(ts, 7_000_000_009);
        // Cut to the snap length; the wire length is kept.
        out.clear();
        assert_eq!(
            ring_block_to_epbs(&block(&frame, 60), false, 20, None, &mut out),
            1
        );
        assert_eq!((rd(&out, 20), rd(&out, 24)), (20, 64));
        // A user-space filter that rejects it, and a block that lies.
        let prog = pcapx_filter::compile("arp", 1, 0).unwrap();
        out.clear();
        let n = ring_block_to_epbs(&block(&frame, 60), false, 262_144, Some(&prog), &mut out);
        assert_eq!(n, 0);
        assert!(out.is_empty());
        let mut lying = block(&frame, 60);
        lying[12..16].copy_from_slice(&1000u32.to_ne_bytes());
        lying[16..20].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(
            ring_block_to_epbs(&lying, false, 262_144, None, &mut out),
            0
        );
    }

    #[test]
    fn direct_records_are_the_epbs_and_pcap_records() {
        let mut frame = vec![0xaa; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend(std::iter::repeat_n(0x45, 47));
        for snaplen in [262_144, 20, 13, 12, 1] {
            let mut epbs = Vec::new();
            ring_block_to_epbs(&block(&frame, 61), false, snaplen, None, &mut epbs);
            let mut direct = Vec::new();
            let ng = RecordFraming {
                pcapng: true,
                nanos: true,
            };
            let n =
                ring_block_to_records(&block(&frame, 61), false, snaplen, None, ng, &mut direct);
            assert_eq!(n, 1);
            if cfg!(target_endian = "little") {
                assert_eq!(direct, epbs, "snaplen {snaplen}");
            }
            // pcap, microseconds: ts 7 s 9 ns, caplen, wirelen, then the EPB's data
            let mut recs = Vec::new();
            let pcap = RecordFraming {
                pcapng: false,
                nanos: false,
            };
            ring_block_to_records(&block(&frame, 61), false, snaplen, None, pcap, &mut recs);
            let le = |at: usize| u32::from_le_bytes(recs[at..at + 4].try_into().unwrap());
            let cap = (65u32).min(snaplen);
            assert_eq!((le(0), le(4), le(8), le(12)), (7, 0, cap, 65));
            let data_len = usize::try_from(cap).unwrap();
            assert_eq!(&recs[16..], &epbs[28..28 + data_len]);
        }
        // A block that claims an absurd length or less than it holds: the
        // records stay plausible (fuzz finding on the direct path).
        for (tp_len, wire) in [(u32::MAX, 256 << 20), (3, 65)] {
            let mut recs = Vec::new();
            let pcap = RecordFraming {
                pcapng: false,
                nanos: true,
            };
            ring_block_to_records(
                &block(&frame, tp_len),
                false,
                262_144,
                None,
                pcap,
                &mut recs,
            );
            assert_eq!(u32::from_le_bytes(recs[12..16].try_into().unwrap()), wire);
        }
    }

    /// A ring packet header that claims tp_nsec ≥ 10⁹ (with tp_sec at
    /// u32::MAX, the fuzz finding live_ring-crash-8e58dcb0…): the time is
    /// clamped to 999 999 999 ns, so the pcap records (32-bit seconds, ns or
    /// µs) and the EPBs (64-bit time) record the same instant.
    #[test]
    fn a_lying_tp_nsec_is_clamped_so_pcap_and_epbs_agree() {
        let mut frame = vec![0xaa; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend(std::iter::repeat_n(0x45, 46));
        let cases = [
            (u32::MAX, 0xff01_ff00, u32::MAX, 999_999_999),
            (u32::MAX, 1_000_000_000, u32::MAX, 999_999_999),
            (7, u32::MAX, 7, 999_999_999),
            (u32::MAX, 999_999_999, u32::MAX, 999_999_999),
            (u32::MAX, 5, u32::MAX, 5),
        ];
        for (tp_sec, tp_nsec, sec, nsec) in cases {
            let mut b = block(&frame, 60);
            b[48 + 4..48 + 8].copy_from_slice(&tp_sec.to_ne_bytes());
            b[48 + 8..48 + 12].copy_from_slice(&tp_nsec.to_ne_bytes());
            let mut epbs = Vec::new();
            assert_eq!(ring_block_to_epbs(&b, false, 262_144, None, &mut epbs), 1);
            let rd = |at: usize| u32::from_ne_bytes(epbs[at..at + 4].try_into().unwrap());
            let ts = (u64::from(rd(12)) << 32) | u64::from(rd(16));
            let want = u64::from(sec) * 1_000_000_000 + u64::from(nsec);
            assert_eq!(ts, want, "tp_sec {tp_sec} tp_nsec {tp_nsec}");
            for nanos in [true, false] {
                let mut recs = Vec::new();
                let pcap = RecordFraming {
                    pcapng: false,
                    nanos,
                };
                assert_eq!(
                    ring_block_to_records(&b, false, 262_144, None, pcap, &mut recs),
                    1
                );
                let le = |at: usize| u32::from_le_bytes(recs[at..at + 4].try_into().unwrap());
                let frac = if nanos { nsec } else { nsec / 1000 };
                assert_eq!(
                    (le(0), le(4)),
                    (sec, frac),
                    "tp_sec {tp_sec} tp_nsec {tp_nsec}"
                );
            }
        }
    }
}
