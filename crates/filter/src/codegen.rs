//! Code generation for the primitives, after libpcap 1.10's `gencode.c`: each
//! function returns a [`Cond`] built from tests on absolute packet offsets. The
//! generator carries libpcap's mutable offset state, so layer-shifting primitives
//! (`vlan`, `mpls`, `pppoes`) move the offsets of everything parsed after them.

use crate::cfg::{Cond, Test};
use crate::insn::{
    BPF_ABS, BPF_ALU, BPF_AND, BPF_B, BPF_H, BPF_IMM, BPF_IND, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP,
    BPF_JSET, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_MEM, BPF_MISC, BPF_MSH, BPF_NEG, BPF_ST,
    BPF_STX, BPF_TAX, BPF_W, BPF_X, Insn,
};
use crate::names;

pub(crate) type GResult<T> = Result<T, String>;

pub(crate) const ETHERTYPE_IP: u32 = 0x0800;
pub(crate) const ETHERTYPE_IPV6: u32 = 0x86dd;
pub(crate) const ETHERTYPE_ARP: u32 = 0x0806;
pub(crate) const ETHERTYPE_REVARP: u32 = 0x8035;
const ETHERTYPE_ATALK: u32 = 0x809b;
const ETHERTYPE_AARP: u32 = 0x80f3;
const ETHERTYPE_DN: u32 = 0x6003;
const ETHERTYPE_SCA: u32 = 0x6007;
const ETHERTYPE_LAT: u32 = 0x6004;
const ETHERTYPE_MOPDL: u32 = 0x6001;
const ETHERTYPE_MOPRC: u32 = 0x6002;
const ETHERTYPE_IPX: u32 = 0x8137;
const ETHERTYPE_8021Q: u32 = 0x8100;
const ETHERTYPE_8021AD: u32 = 0x88a8;
const ETHERTYPE_8021QINQ: u32 = 0x9100;
const ETHERTYPE_MPLS: u32 = 0x8847;
const ETHERTYPE_PPPOED: u32 = 0x8863;
const ETHERTYPE_PPPOES: u32 = 0x8864;
const ETHERMTU: u32 = 1500;
const LLCSAP_IP: u32 = 0x06;
const LLCSAP_ISONS: u32 = 0xfe;
const LLCSAP_NETBEUI: u32 = 0xf0;
const LLCSAP_IPX: u32 = 0xe0;
const LLCSAP_8021D: u32 = 0x42;
const LINUX_SLL_P_802_3: u32 = 0x0001;
const LINUX_SLL_P_802_2: u32 = 0x0004;
const LINUX_SLL_OUTGOING: u32 = 4;
pub(crate) const IPPROTO_TCP: u32 = 6;
pub(crate) const IPPROTO_UDP: u32 = 17;
pub(crate) const IPPROTO_SCTP: u32 = 132;
const IPPROTO_ICMP: u32 = 1;
const IPPROTO_IGMP: u32 = 2;
const IPPROTO_IGRP: u32 = 9;
const IPPROTO_PIM: u32 = 103;
const IPPROTO_VRRP: u32 = 112;
const IPPROTO_ICMPV6: u32 = 58;
const IPPROTO_AH: u32 = 51;
const IPPROTO_ESP: u32 = 50;
const IPPROTO_FRAGMENT: u32 = 44;
const ISO9542_ESIS: u32 = 0x82;
const ISO10589_ISIS: u32 = 0x83;
const ISO8473_CLNP: u32 = 0x81;
const ISIS_L1_LAN_IIH: u32 = 15;
const ISIS_L2_LAN_IIH: u32 = 16;
const ISIS_PTP_IIH: u32 = 17;
const ISIS_L1_LSP: u32 = 18;
const ISIS_L2_LSP: u32 = 20;
const ISIS_L1_CSNP: u32 = 24;
const ISIS_L2_CSNP: u32 = 25;
const ISIS_L1_PSNP: u32 = 26;
const ISIS_L2_PSNP: u32 = 27;

/// The most headers a `protochain` walk follows before giving up (no match):
/// the walk is unrolled, with as many steps (up to this) as fit in
/// `BPF_MAXINSNS` instructions; libpcap's own loop has no bound.
pub const PROTOCHAIN_STEPS: usize = 128;

/// Supported DLT values.
pub(crate) const DLT_NULL: u32 = 0;
pub(crate) const DLT_EN10MB: u32 = 1;
pub(crate) const DLT_RAW: u32 = 12;
pub(crate) const DLT_LOOP: u32 = 108;
pub(crate) const DLT_LINUX_SLL: u32 = 113;
pub(crate) const DLT_IPV4: u32 = 228;
pub(crate) const DLT_IPV6: u32 = 229;
pub(crate) const DLT_LINUX_SLL2: u32 = 276;

/// How the 4-byte address family of `DLT_NULL` is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NullByteOrder {
    /// Unknown (the default): accept the value in either byte order.
    #[default]
    Either,
    /// Little-endian (written by a little-endian host; a pcap file with magic `d4 c3 b2 a1`).
    Little,
    /// Big-endian.
    Big,
}

/// How `gen_linktype()` tests the link-layer payload type (libpcap's switch on
/// the DLT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// EN10MB, NETANALYZER, NETANALYZER_TRANSPARENT.
    Ethernet,
    Sll,
    Sll2,
    /// NULL and ENC: a 4-byte address family in the writer's byte order.
    Null,
    /// LOOP: the address family in network byte order.
    Loop,
    /// RAW, SLIP, SLIP_BSDOS: the IP version nibble.
    Raw,
    Ipv4,
    Ipv6,
    /// PPP, PPP_PPPD, PPP_SERIAL, PPP_ETHER (and after `pppoes`).
    Ppp,
    PppBsdos,
    /// C_HDLC, HDLC: an EtherType, 0xfefe for OSI.
    Chdlc,
    /// FDDI, token ring, LLC-encapsulated ATM, IP over Fibre Channel: 802.2 LLC.
    Llc,
    /// SUNATM: the ATM pseudo-header's protocol, then LLC.
    SunAtm,
    Arcnet,
    Ltalk,
    Frelay,
    MsTp,
    Ipnet,
    Juniper,
    /// 802.11, bare or after a radio header (PRISM, AVS, radiotap, PPI): the
    /// radio header length and the 802.11 header length are computed at run
    /// time by a prologue (libpcap's `insert_compute_vloffsets()`).
    Wlan,
    /// PFLOG (OpenBSD pf's log header): its length is the first byte,
    /// rounded up to a multiple of 4 at run time by a prologue into a
    /// scratch register (libpcap's `gen_load_pflog_llprefixlen`); the
    /// protocol is the address family at byte 1.
    Pflog,
    /// Link types for which libpcap reports "... link-layer type filtering not
    /// implemented" (the message prefix).
    NotImpl(&'static str),
    /// Anything else libpcap accepts: an EtherType at `off_linktype` if it has
    /// one, otherwise only `len` and `link[...]`.
    Other,
}

/// libpcap's `OFFSET_NOT_SET`; adding to it wraps around like libpcap's `u_int`.
pub(crate) const NOT_SET: u32 = u32::MAX;

/// Protocol qualifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pq {
    Default,
    Link,
    Ip,
    Ip6,
    Arp,
    Rarp,
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmp6,
    Igmp,
    Igrp,
    Pim,
    Vrrp,
    Carp,
    Ah,
    Esp,
    Atalk,
    Aarp,
    Decnet,
    Lat,
    Sca,
    Moprc,
    Mopdl,
    Iso,
    Esis,
    Isis,
    IsisL1,
    IsisL2,
    IsisIih,
    IsisLsp,
    IsisSnp,
    IsisCsnp,
    IsisPsnp,
    Clnp,
    Stp,
    Ipx,
    Netbeui,
    Radio,
}

impl Pq {
    pub fn name(self) -> &'static str {
        match self {
            Pq::Default => "",
            Pq::Link => "link",
            Pq::Ip => "ip",
            Pq::Ip6 => "ip6",
            Pq::Arp => "arp",
            Pq::Rarp => "rarp",
            Pq::Tcp => "tcp",
            Pq::Udp => "udp",
            Pq::Sctp => "sctp",
            Pq::Icmp => "icmp",
            Pq::Icmp6 => "icmp6",
            Pq::Igmp => "igmp",
            Pq::Igrp => "igrp",
            Pq::Pim => "pim",
            Pq::Vrrp => "vrrp",
            Pq::Carp => "carp",
            Pq::Ah => "ah",
            Pq::Esp => "esp",
            Pq::Atalk => "atalk",
            Pq::Aarp => "aarp",
            Pq::Decnet => "decnet",
            Pq::Lat => "lat",
            Pq::Sca => "sca",
            Pq::Moprc => "moprc",
            Pq::Mopdl => "mopdl",
            Pq::Iso => "iso",
            Pq::Esis => "esis",
            Pq::Isis => "isis",
            Pq::IsisL1 => "l1",
            Pq::IsisL2 => "l2",
            Pq::IsisIih => "iih",
            Pq::IsisLsp => "lsp",
            Pq::IsisSnp => "snp",
            Pq::IsisCsnp => "csnp",
            Pq::IsisPsnp => "psnp",
            Pq::Clnp => "clnp",
            Pq::Stp => "stp",
            Pq::Ipx => "ipx",
            Pq::Netbeui => "netbeui",
            Pq::Radio => "radio",
        }
    }
}

/// Direction qualifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    Default,
    Src,
    Dst,
    Or,
    And,
    Addr1,
    Addr2,
    Addr3,
    Addr4,
    Ra,
    Ta,
}

/// Address-type qualifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Addr {
    Default,
    Host,
    Net,
    Port,
    Portrange,
    Gateway,
    Proto,
    Protochain,
}

/// The qualifiers of a primitive; `None` in `addr` is libpcap's `qerr` (a
/// primitive without qualifiers, whose bare successors cannot reuse them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Qual {
    pub proto: Pq,
    pub dir: Dir,
    pub addr: Option<Addr>,
}

impl Qual {
    pub const ERR: Qual = Qual {
        proto: Pq::Default,
        dir: Dir::Default,
        addr: None,
    };
}

/// An arithmetic expression (`arth` in the grammar).
#[derive(Clone, Debug)]
pub(crate) enum Arith {
    Const(u32),
    Len,
    /// Load `size` bytes at `base + index`, or, with `tran`, at
    /// `base + IPv4 header length (read at base) + index`.
    Load {
        tran: bool,
        base: Off,
        index: Box<Arith>,
        size: u16,
        /// The scratch register libpcap computed the index into (see
        /// [`RegSim`]); an optimised program keeps it there when the IPv4
        /// header length is computed in A (after a run-time link offset).
        index_reg: u32,
    },
    /// `l op r`; the last field is the scratch register libpcap holds `l`
    /// in while it computes `r` (see [`RegSim`]).
    Bin(u16, Box<Arith>, Box<Arith>, u32),
    Neg(Box<Arith>),
}

/// An arithmetic value plus the protocol checks that must hold for it to exist.
#[derive(Clone, Debug)]
pub(crate) struct ArithV {
    pub e: Arith,
    pub guards: Vec<Cond>,
    /// The scratch register libpcap would hold this value in (see [`RegSim`]).
    pub reg: u32,
    /// libpcap's unoptimised statements computing the value into that
    /// register (registers marked with [`RAW_REG`]): the program when libpcap's
    /// optimiser is off.
    pub raw: Vec<Insn>,
}

/// Marks a scratch register that already has libpcap's number (unoptimised
/// arithmetic), so the final renumbering leaves it.
pub(crate) const RAW_REG: u32 = 0x100;

/// `st M[r]` / `ld M[r]` / `ldx M[r]` for a libpcap arithmetic register.
pub(crate) fn raw_st(r: u32) -> Insn {
    Insn::stmt(BPF_ST, r | RAW_REG)
}
pub(crate) fn raw_ld(r: u32) -> Insn {
    Insn::stmt(BPF_LD | BPF_MEM, r | RAW_REG)
}
pub(crate) fn raw_ldx(r: u32) -> Insn {
    Insn::stmt(BPF_LDX | BPF_MEM, r | RAW_REG)
}

/// libpcap's gen_load_internal() statements for an indexed load at `base`
/// (`tran`: after the IPv4 header), the index in register `idx`.
fn raw_load(tran: bool, base: Off, size: u16, idx: u32) -> Vec<Insn> {
    use crate::insn::BPF_ADD;
    let mut s = if tran {
        loadx_iphdrlen(base)
    } else {
        match base.reg {
            Some(r) => vec![Insn::stmt(BPF_LDX | BPF_MEM, r)],
            None => Vec::new(),
        }
    };
    if s.is_empty() {
        s.push(raw_ldx(idx));
    } else {
        s.extend([
            raw_ld(idx),
            Insn::stmt(BPF_ALU | BPF_ADD | BPF_X, 0),
            Insn::stmt(BPF_MISC | BPF_TAX, 0),
        ]);
    }
    s.push(Insn::stmt(BPF_LD | size | BPF_IND, base.k));
    s
}

/// libpcap's scratch register allocator (`alloc_reg`/`free_reg`): the first
/// free register at or after the last one handed out, cyclically. pcapx
/// replays libpcap's allocations (arithmetic values, run-time header offsets)
/// in libpcap's order, so the registers of a compiled program can be
/// renumbered to the ones `tcpdump -d` prints.
#[derive(Clone, Debug, Default)]
pub(crate) struct RegSim {
    used: [bool; 16],
    cur: usize,
    /// More registers than libpcap has were asked for.
    overflow: bool,
    /// pcapx's register -> libpcap's, for the run-time offsets.
    map: [Option<u32>; 16],
}

impl RegSim {
    pub fn alloc(&mut self) -> u32 {
        for _ in 0..16 {
            if self.used[self.cur] {
                self.cur = (self.cur + 1) % 16;
            } else {
                self.used[self.cur] = true;
                return u32::try_from(self.cur).unwrap_or(0);
            }
        }
        self.overflow = true;
        0
    }
    pub fn free(&mut self, r: u32) {
        if let Some(u) = self.used.get_mut(r as usize) {
            *u = false;
        }
    }
    /// libpcap's numbers of the run-time offset registers (a bit each).
    pub fn images(&self) -> u16 {
        self.map
            .iter()
            .flatten()
            .filter(|&&r| r < 16)
            .fold(0, |m, &r| m | (1 << r))
    }
    /// The renumbering of pcapx's registers to libpcap's: a permutation of
    /// 0..16 (the run-time offsets go where libpcap put them, whatever used
    /// those registers in pcapx takes their place), or `None` when nothing
    /// moves.
    pub fn permutation(&self) -> Option<[u32; 16]> {
        if self.overflow || self.map.iter().all(Option::is_none) {
            return None;
        }
        let mut p: [u32; 16] = std::array::from_fn(|i| u32::try_from(i).unwrap_or(0));
        for (r, to) in self.map.iter().enumerate() {
            let Some(to) = *to else { continue };
            // swap the images of r and of whoever maps to `to` now
            let Some(holder) = p.iter().position(|&v| v == to) else {
                continue;
            };
            p.swap(r, holder);
        }
        Some(p)
    }
}

/// An absolute packet offset: a constant, plus the run-time value of a scratch
/// register when a variable-length header (Geneve, VXLAN) precedes it (libpcap's
/// `bpf_abs_offset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Off {
    pub reg: Option<u32>,
    pub k: u32,
}

impl Off {
    pub const fn abs(k: u32) -> Off {
        Off { reg: None, k }
    }
    pub fn add(self, k: u32) -> Off {
        Off {
            reg: self.reg,
            k: self.k.wrapping_add(k),
        }
    }
}

/// Load `size` bytes at `off` into A (`ld [k]`, or `ldx M[r]; ld [x + k]`).
fn ld(size: u16, off: Off) -> Vec<Insn> {
    match off.reg {
        None => vec![Insn::stmt(BPF_LD | size | BPF_ABS, off.k)],
        Some(r) => vec![
            Insn::stmt(BPF_LDX | BPF_MEM, r),
            Insn::stmt(BPF_LD | size | BPF_IND, off.k),
        ],
    }
}

/// X = length of the IPv4 header at `nl` (plus the variable part of `nl`, if any),
/// like libpcap's `gen_loadx_iphdrlen()`.
fn loadx_iphdrlen(nl: Off) -> Vec<Insn> {
    use crate::insn::{BPF_ADD, BPF_LSH};
    match nl.reg {
        None => vec![Insn::stmt(BPF_LDX | BPF_MSH | BPF_B, nl.k)],
        Some(r) => vec![
            Insn::stmt(BPF_LDX | BPF_MEM, r),
            Insn::stmt(BPF_LD | BPF_B | BPF_IND, nl.k),
            Insn::stmt(BPF_ALU | BPF_AND | BPF_K, 0xf),
            Insn::stmt(BPF_ALU | BPF_LSH | BPF_K, 2),
            Insn::stmt(BPF_ALU | BPF_ADD | BPF_X, 0),
            Insn::stmt(BPF_MISC | BPF_TAX, 0),
        ],
    }
}

fn test(stmts: Vec<Insn>, op: u16, k: u32) -> Cond {
    Cond::Test(Test {
        stmts,
        code: BPF_JMP | op | BPF_K,
        k,
        arith: false,
        x_const: None,
        vn: None,
    })
}

/// `[off:size] == v`
fn cmp(off: Off, size: u16, v: u32) -> Cond {
    test(ld(size, off), BPF_JEQ, v)
}

/// `[off:size] & mask == v`
fn mcmp(off: Off, size: u16, v: u32, mask: u32) -> Cond {
    let mut stmts = ld(size, off);
    if mask != 0xffff_ffff {
        stmts.push(Insn::stmt(BPF_ALU | BPF_AND | BPF_K, mask));
    }
    test(stmts, BPF_JEQ, v)
}

fn cmp_gt(off: Off, size: u16, v: u32) -> Cond {
    test(ld(size, off), BPF_JGT, v)
}

fn cmp_ge(off: Off, size: u16, v: u32) -> Cond {
    test(ld(size, off), BPF_JGE, v)
}

fn and_all(conds: impl IntoIterator<Item = Cond>) -> Cond {
    let mut it = conds.into_iter();
    let Some(mut acc) = it.next() else {
        return Cond::Join;
    };
    for c in it {
        acc = Cond::and(acc, c);
    }
    acc
}

/// A test that is always true, run for the side effects of `stmts`.
fn always(mut stmts: Vec<Insn>) -> Cond {
    stmts.push(Insn::stmt(BPF_LD | BPF_IMM, 0));
    test(stmts, BPF_JGE, 0)
}

/// Does any statement of `c` read scratch slot `r`?
fn uses_reg(c: &Cond, r: u32) -> bool {
    match c {
        Cond::True | Cond::False | Cond::Join => false,
        Cond::Test(t) => t.stmts.iter().any(|s| {
            matches!(s.code & 0x07, BPF_LD | BPF_LDX) && s.code & 0xe0 == BPF_MEM && s.k == r
        }),
        Cond::And(a, b) | Cond::Or(a, b) => uses_reg(a, r) || uses_reg(b, r),
        Cond::Not(a) => uses_reg(a, r),
        Cond::Shared(a) => uses_reg(a, r),
        Cond::If(a, b, d) => uses_reg(a, r) || uses_reg(b, r) || uses_reg(d, r),
        Cond::Dual(a, b) => uses_reg(a, r) || uses_reg(b, r),
    }
}

/// A `struct pfloghdr` primitive and its value.
pub enum PfField<'a> {
    Ifname(&'a str),
    Ruleset(&'a str),
    Rnr(u32),
    Srnr(u32),
    Reason(u32),
    Action(u32),
}

/// libpcap's `pflog_reasons` (the names every platform has).
pub fn pf_reason(name: &str) -> Option<u32> {
    const NAMES: [&str; 15] = [
        "match",
        "bad-offset",
        "fragment",
        "short",
        "normalize",
        "memory",
        "bad-timestamp",
        "congestion",
        "ip-option",
        "proto-cksum",
        "state-mismatch",
        "state-insert",
        "state-limit",
        "src-limit",
        "synproxy",
    ];
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(name))
        .and_then(|i| u32::try_from(i).ok())
}

/// libpcap's `pflog_actions` (the names every platform has).
pub fn pf_action(name: &str) -> Option<u32> {
    Some(match name.to_ascii_lowercase().as_str() {
        "pass" | "accept" => 0,
        "drop" | "block" => 1,
        "scrub" => 2,
        "noscrub" => 3,
        "nat" => 4,
        "nonat" => 5,
        "binat" => 6,
        "nobinat" => 7,
        "rdr" => 8,
        "nordr" => 9,
        "synproxy-drop" => 10,
        _ => return None,
    })
}

/// libpcap 1.11's `assert_maxval`: values that cannot fit the field are an
/// error (libpcap 1.10 accepted them and compiled a test that never matches).
fn max_val(name: &str, v: u32, max: u32) -> GResult<()> {
    if v > max {
        return Err(format!("{name} {v} greater than maximum {max}"));
    }
    Ok(())
}

/// Compare bytes at `off` with `bytes`, as libpcap's `gen_bcmp` (last word first).
fn bcmp(off: Off, bytes: &[u8]) -> Cond {
    let mut parts = Vec::new();
    let mut size = bytes.len();
    while size >= 4 {
        let p = &bytes[size - 4..size];
        let v = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
        parts.push(cmp(off.add(u32::try_from(size - 4).unwrap_or(0)), BPF_W, v));
        size -= 4;
    }
    while size >= 2 {
        let p = &bytes[size - 2..size];
        let v = u32::from(u16::from_be_bytes([p[0], p[1]]));
        parts.push(cmp(off.add(u32::try_from(size - 2).unwrap_or(0)), BPF_H, v));
        size -= 2;
    }
    if size > 0 {
        parts.push(cmp(off, BPF_B, u32::from(bytes[0])));
    }
    and_all(parts)
}

fn ethertype_to_ppptype(p: u32) -> u32 {
    match p {
        ETHERTYPE_IP => 0x0021,
        ETHERTYPE_IPV6 => 0x0057,
        ETHERTYPE_DN => 0x0027,
        ETHERTYPE_ATALK => 0x0029,
        // ETHERTYPE_NS (Xerox NS IDP) -> PPP_NS
        0x0600 => 0x0025,
        LLCSAP_IPX => 0x002b,
        LLCSAP_ISONS => 0x0023,
        LLCSAP_8021D => 0x0031,
        other => other,
    }
}

/// Code generator state (libpcap's `compiler_state_t` offsets).
pub(crate) struct Gen {
    dlt: u32,
    /// The capture's link type (libpcap's `outermostlinktype`): `dlt` changes
    /// after `pppoes`, `geneve`, `vxlan`; the run-time header prologue does not.
    outer_dlt: u32,
    link: Link,
    off_linkhdr: Off,
    off_linktype: Off,
    off_linkpl: Off,
    off_nl: u32,
    off_nl_nosnap: u32,
    /// Offset of the MTP2 header for the SS7 primitives (`sio`, `opc`, ...),
    /// when the link type carries one.
    ss7: Option<u32>,
    label_stack_depth: u32,
    null_order: NullByteOrder,
    /// Set once `protochain` was used: libpcap's optimizer cannot see through its
    /// loop, so it never reports "expression rejects all packets" for it.
    pub used_protochain: std::cell::Cell<bool>,
    /// How many headers a `protochain` walk follows (unrolled).
    pub protochain_steps: usize,
    /// A live Linux capture (libpcap's "not a savefile"): `inbound`/`outbound`
    /// on link types without a direction in the data read the socket's
    /// packet type (`SKF_AD_PKTTYPE`).
    pub live: bool,
    /// Estimated instructions per unrolled step of all walks generated.
    pub protochain_cost: std::cell::Cell<usize>,
    /// Set once `geneve`/`vxlan` was used: libpcap disables its optimizer for
    /// them, so it never reports "expression rejects all packets" either.
    pub used_encap: bool,
    /// libpcap's `is_geneve`/`is_encap`: the link layer was pushed by
    /// `geneve`/`vxlan`, so Ethernet address tests first check that the
    /// encapsulated packet has an Ethernet header.
    encap: bool,
    /// Scratch slots from here up hold offsets computed at run time (allocated
    /// downwards from `PC_NH`); arithmetic temporaries stay below.
    reg_floor: u32,
    /// 802.11 link types: the registers holding the radio header length (if
    /// any) and the 802.11 payload offset, filled in by [`Gen::with_prologue`].
    wlan_regs: Option<(Option<u32>, u32)>,
    /// PFLOG: the scratch register holding the header length.
    pflog_reg: Option<u32>,
    /// SUNATM after `lane`: the ATM pseudo-header primitives still apply.
    atm: bool,
    /// libpcap's register allocations, replayed (see [`RegSim`]).
    pub sim: std::cell::RefCell<RegSim>,
    /// Registers of run-time offsets that libpcap allocates on first use.
    lazy: [bool; 16],
    /// libpcap turned its optimiser off (`cstate->no_optimize`).
    pub no_optimize: std::cell::Cell<bool>,
}

/// Tunnel encapsulations whose payload the rest of the expression looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encap {
    Geneve,
    Vxlan,
}

const GENEVE_PORT: u32 = 6081;
const VXLAN_PORT: u32 = 4789;
const ETHERTYPE_TEB: u32 = 0x6558;
/// Scratch slots always left for arithmetic temporaries.
const MIN_TEMPORARIES: u32 = 2;

impl Gen {
    /// Set up for a LINKTYPE_/DLT_ value (libpcap's `init_linktype()`).
    ///
    /// # Errors
    /// libpcap's "unknown data link type" for values it has no code for.
    pub fn new(linktype: u32, null_order: NullByteOrder) -> GResult<Gen> {
        use crate::linktypes::{MATCHING_MAX, MATCHING_MIN};
        let dlt = crate::linktypes::linktype_to_dlt(linktype);
        let n = NOT_SET;
        let mut off_linkhdr = 0;
        let mut ss7 = None;
        // (link, off_linktype, off_linkpl, off_nl, off_nl_nosnap)
        let (link, lt, pl, nl, nosnap) = match dlt {
            7 => (Link::Arcnet, 2, 6, 0, 0),
            129 => (Link::Arcnet, 4, 8, 0, 0),
            DLT_EN10MB => (Link::Ethernet, 12, 14, 0, 3),
            8 => (Link::Raw, n, 16, 0, 0),
            15 => (Link::Raw, n, 24, 0, 0),
            DLT_NULL => (Link::Null, 0, 4, 0, 0),
            DLT_LOOP => (Link::Loop, 0, 4, 0, 0),
            109 => (Link::Null, 0, 12, 0, 0),
            9 | 166 | 50 => (Link::Ppp, 2, 4, 0, 0),
            104 | 112 => (Link::Chdlc, 2, 4, 0, 0),
            51 => (Link::Ppp, 6, 8, 0, 0),
            16 => (Link::PppBsdos, 5, 24, 0, 0),
            10 => (Link::Llc, 13, 13, 8, 3),
            6 => (Link::Llc, 14, 14, 8, 3),
            105 | 119 | 127 | 163 | 192 => (Link::Wlan, 24, 0, 8, 3),
            11 | 19 => (Link::Llc, 0, 0, 8, 3),
            123 => (Link::SunAtm, 4, 4, 8, 3),
            DLT_RAW | DLT_IPV4 | DLT_IPV6 => (
                match dlt {
                    DLT_IPV4 => Link::Ipv4,
                    DLT_IPV6 => Link::Ipv6,
                    _ => Link::Raw,
                },
                n,
                0,
                0,
                0,
            ),
            DLT_LINUX_SLL => (Link::Sll, 14, 16, 0, 0),
            DLT_LINUX_SLL2 => (Link::Sll2, 0, 20, 0, 0),
            114 => (Link::Ltalk, n, 0, 0, 0),
            122 => (Link::Llc, 16, 16, 8, 3),
            107 => (Link::Frelay, n, 0, 0, 0),
            182 => (Link::NotImpl("Multi-link Frame Relay"), n, 0, 4, 0),
            138 => (Link::Other, 16, 18, 0, 0),
            99 => (Link::Other, 6, 44, 0, 0),
            117 => (Link::Pflog, 0, 0, 0, 0),
            134 | 131 | 130 | 179 | 181 | 180 => (Link::Juniper, 4, 4, 0, n),
            137 => (Link::Juniper, 4, 4, 0, 10),
            135 => (Link::Juniper, 8, 8, 0, 10),
            167 | 178 => (Link::Juniper, 16, 14, 18, 21),
            168 => (Link::Juniper, 4, 6, 0, n),
            133 => (Link::Juniper, 6, 12, 0, n),
            132 => (Link::Juniper, 6, n, n, n),
            164 => (Link::Juniper, 12, 12, 0, n),
            165 => (Link::MsTp, n, n, n, n),
            136 => (Link::Juniper, 12, n, n, n),
            183 | 200 => (Link::Juniper, 18, n, n, n),
            194 | 232 | 233 | 234 | 238 => (Link::Juniper, 8, n, n, n),
            140 | 139 | 197 => {
                // (li, li_hsl, sio, opc, dpc, sls) relative to the link header
                let base = match dlt {
                    140 => 0,
                    139 => 4,
                    _ => 20,
                };
                ss7 = Some(base);
                (
                    Link::NotImpl(match dlt {
                        197 => "ERF",
                        _ => "MTP2",
                    }),
                    n,
                    n,
                    n,
                    n,
                )
            }
            246 => (Link::NotImpl("PFSYNC"), n, 4, 0, 0),
            202 => (Link::NotImpl("AX.25"), n, n, n, n),
            226 => (Link::Ipnet, 1, 24, 0, n),
            // libpcap 1.11: Ethernet with a 4-byte switch tag after the
            // source address (libpcap 1.10 only allows `len`/`link[...]`)
            281 | 284 => (Link::Ethernet, 16, 18, 0, 3),
            240 => {
                off_linkhdr = 4;
                (Link::Ethernet, 16, 18, 0, 3)
            }
            241 => {
                off_linkhdr = 12;
                (Link::Ethernet, 24, 26, 0, 3)
            }
            MATCHING_MIN..=MATCHING_MAX => {
                let link = match dlt {
                    144 => Link::NotImpl("IrDA"),
                    143 => Link::NotImpl("DOCSIS"),
                    177 => Link::NotImpl("LAPD"),
                    186 | 189 | 220 | 249 => Link::NotImpl("USB"),
                    187 | 201 => Link::NotImpl("Bluetooth"),
                    190 | 227 => Link::NotImpl("CAN"),
                    195 | 191 | 215 | 230 | 283 => Link::NotImpl("IEEE 802.15.4"),
                    193 => Link::NotImpl("IEEE 802.16"),
                    196 => Link::NotImpl("SITA"),
                    198 => Link::NotImpl("RAIF1"),
                    199 | 209 => Link::NotImpl("IPMB"),
                    239 => Link::NotImpl("NFLOG"),
                    _ => Link::Other,
                };
                (link, n, n, n, n)
            }
            _ => {
                return Err(format!(
                    "unknown data link type {dlt} (min {MATCHING_MIN}, max {MATCHING_MAX})"
                ));
            }
        };
        let mut g = Gen {
            dlt,
            outer_dlt: dlt,
            link,
            off_linkhdr: Off::abs(off_linkhdr),
            off_linktype: Off::abs(lt),
            off_linkpl: Off::abs(pl),
            off_nl: nl,
            off_nl_nosnap: nosnap,
            ss7,
            label_stack_depth: 0,
            null_order,
            used_protochain: std::cell::Cell::new(false),
            protochain_steps: PROTOCHAIN_STEPS,
            live: false,
            protochain_cost: std::cell::Cell::new(0),
            used_encap: false,
            encap: false,
            reg_floor: crate::cfg::PC_NH,
            wlan_regs: None,
            pflog_reg: None,
            atm: false,
            sim: std::cell::RefCell::new(RegSim::default()),
            lazy: [false; 16],
            // libpcap's Prism prologue turns the optimiser off for every
            // program, whether or not it needs the header length.
            no_optimize: std::cell::Cell::new(dlt == 119),
        };
        if link == Link::Wlan {
            // the 802.11 header length (payload offset) and, after a radio
            // header, the radio header length live in scratch registers
            let pl = g.alloc_reg()?;
            let hdr = if g.radio_header() {
                let r = g.alloc_reg()?;
                g.off_linkhdr = Off { reg: Some(r), k: 0 };
                Some(r)
            } else {
                None
            };
            g.off_linkpl = Off {
                reg: Some(pl),
                k: 0,
            };
            g.wlan_regs = Some((hdr, pl));
            g.lazy[pl as usize] = true;
            if let Some(r) = hdr {
                g.lazy[r as usize] = true;
            }
        }
        if link == Link::Pflog {
            let pl = g.alloc_reg()?;
            g.off_linkpl = Off {
                reg: Some(pl),
                k: 0,
            };
            g.pflog_reg = Some(pl);
            g.lazy[pl as usize] = true;
        }
        Ok(g)
    }

    fn desc(&self) -> String {
        crate::linktypes::description(self.dlt)
    }

    /// Scratch slots from this one up carry state across blocks.
    pub fn scratch_limit(&self) -> u32 {
        self.reg_floor
    }

    /// The registers a run-time header prologue stores once before any
    /// test (PFLOG's header length, the radio/802.11 header lengths), as a
    /// bit per slot: loading them is a pure function of the packet.
    pub fn prologue_regs(&self) -> u16 {
        let mut m = 0u16;
        let mut add = |r: u32| {
            if r < 16 {
                m |= 1 << r;
            }
        };
        if let Some(r) = self.pflog_reg {
            add(r);
        }
        if let Some((hdr, pl)) = self.wlan_regs {
            if let Some(h) = hdr {
                add(h);
            }
            add(pl);
        }
        m
    }

    fn alloc_reg(&mut self) -> GResult<u32> {
        if self.reg_floor <= MIN_TEMPORARIES {
            return Err("too many registers needed to evaluate expression".into());
        }
        self.reg_floor -= 1;
        Ok(self.reg_floor)
    }

    /// libpcap's `gen_geneve_ll_check()`: after `geneve`/`vxlan`, does the
    /// encapsulated packet start with an Ethernet header (link header offset
    /// differs from the payload offset)? `None` when not encapsulated.
    fn encap_ll_check(&self) -> Option<Cond> {
        let (Some(hdr), Some(pl)) = (self.off_linkhdr.reg, self.off_linkpl.reg) else {
            return None;
        };
        self.encap.then(|| {
            Cond::not(Cond::Test(Test {
                stmts: vec![
                    Insn::stmt(BPF_LD | BPF_MEM, hdr),
                    Insn::stmt(BPF_LDX | BPF_MEM, pl),
                ],
                code: BPF_JMP | BPF_JEQ | BPF_X,
                k: 0,
                arith: false,
                x_const: None,
                vn: None,
            }))
        })
    }

    /// `c`, preceded by the encapsulated-Ethernet check when needed, or after
    /// `lane` by libpcap's `gen_prevlinkhdr_check()` (not an LE Control frame).
    fn with_ll_check(&self, c: Cond) -> Cond {
        if self.atm && self.link == Link::Ethernet {
            return Cond::and(Cond::not(cmp(Off::abs(4), BPF_H, 0xff00)), c);
        }
        match self.encap_ll_check() {
            Some(chk) => Cond::and(chk, c),
            None => c,
        }
    }

    /// libpcap's `gen_abs_offset_varpart()`: the register of a run-time
    /// offset is allocated when code first uses it.
    fn touch(&self, off: Off) -> Off {
        if let Some(r) = off.reg
            && self.lazy.get(r as usize) == Some(&true)
        {
            let mut sim = self.sim.borrow_mut();
            if sim.map[r as usize].is_none() {
                let n = sim.alloc();
                sim.map[r as usize] = Some(n);
            }
        }
        off
    }
    /// A scratch register libpcap allocates for an arithmetic value.
    pub fn sim_alloc(&self) -> u32 {
        self.sim.borrow_mut().alloc()
    }
    /// libpcap frees an arithmetic value's register.
    pub fn sim_free(&self, r: u32) {
        self.sim.borrow_mut().free(r);
    }
    /// The slots optimised arithmetic may use (see [`ArithSlots`]).
    pub fn arith_slots(&self) -> ArithSlots {
        ArithSlots {
            limit: self.scratch_limit(),
            avoid: self.sim.borrow().images(),
        }
    }

    fn linkhdr(&self, k: u32) -> Off {
        self.touch(self.off_linkhdr.add(k))
    }
    fn linktype_off(&self, k: u32) -> Off {
        self.touch(self.off_linktype.add(k))
    }
    /// OR_LINKPL: relative to the network-layer header.
    fn nl(&self, k: u32) -> Off {
        self.touch(self.off_linkpl.add(self.off_nl).add(k))
    }
    /// OR_LLC: relative to the link-layer payload.
    fn llc_off(&self, k: u32) -> Off {
        self.touch(self.off_linkpl.add(k))
    }
    fn nosnap(&self, k: u32) -> Off {
        self.touch(self.off_linkpl.add(self.off_nl_nosnap).add(k))
    }
    /// Does the record start with a radio header (PRISM, AVS, radiotap, PPI)
    /// whose length libpcap reads at run time?
    fn radio_header(&self) -> bool {
        matches!(self.dlt, 119 | 127 | 163 | 192)
    }

    /// Is the current link layer Ethernet (the capture's, or one pushed by
    /// `geneve`/`vxlan`; not after `pppoes`)?
    fn is_ethernet(&self) -> bool {
        self.link == Link::Ethernet
    }

    // ----- link-layer type tests ------------------------------------------------

    fn snap(&self, orgcode: u32, ptype: u32) -> Cond {
        let [_, o1, o2, o3] = orgcode.to_be_bytes();
        let [_, _, p1, p2] = ptype.to_be_bytes();
        bcmp(self.llc_off(0), &[0xaa, 0xaa, 0x03, o1, o2, o3, p1, p2])
    }

    fn ether_linktype(&self, p: u32) -> Cond {
        let lt = self.linktype_off(0);
        let not_len = || Cond::not(cmp_gt(lt, BPF_H, ETHERMTU));
        match p {
            LLCSAP_ISONS | LLCSAP_IP | LLCSAP_NETBEUI => {
                Cond::and(not_len(), cmp(self.llc_off(0), BPF_H, (p << 8) | p))
            }
            LLCSAP_IPX => {
                let b1 = Cond::or(
                    cmp(self.llc_off(0), BPF_B, LLCSAP_IPX),
                    cmp(self.llc_off(0), BPF_H, 0xffff),
                );
                let b1 = Cond::or(self.snap(0, ETHERTYPE_IPX), b1);
                let b1 = Cond::and(not_len(), b1);
                Cond::or(cmp(lt, BPF_H, ETHERTYPE_IPX), b1)
            }
            ETHERTYPE_ATALK | ETHERTYPE_AARP => {
                let s = if p == ETHERTYPE_ATALK {
                    self.snap(0x080007, ETHERTYPE_ATALK)
                } else {
                    self.snap(0, ETHERTYPE_AARP)
                };
                Cond::or(cmp(lt, BPF_H, p), Cond::and(not_len(), s))
            }
            _ if p <= ETHERMTU => Cond::and(not_len(), cmp(lt.add(2), BPF_B, p)),
            _ => cmp(lt, BPF_H, p),
        }
    }

    fn sll_linktype(&self, p: u32) -> Cond {
        let lt = self.linktype_off(0);
        match p {
            LLCSAP_ISONS | LLCSAP_IP | LLCSAP_NETBEUI => Cond::and(
                cmp(lt, BPF_H, LINUX_SLL_P_802_2),
                cmp(self.llc_off(0), BPF_H, (p << 8) | p),
            ),
            LLCSAP_IPX => {
                let b1 = Cond::or(
                    cmp(self.llc_off(0), BPF_B, LLCSAP_IPX),
                    self.snap(0, ETHERTYPE_IPX),
                );
                let b1 = Cond::and(cmp(lt, BPF_H, LINUX_SLL_P_802_2), b1);
                let b1 = Cond::or(cmp(lt, BPF_H, LINUX_SLL_P_802_3), b1);
                Cond::or(cmp(lt, BPF_H, ETHERTYPE_IPX), b1)
            }
            ETHERTYPE_ATALK | ETHERTYPE_AARP => {
                let s = if p == ETHERTYPE_ATALK {
                    self.snap(0x080007, ETHERTYPE_ATALK)
                } else {
                    self.snap(0, ETHERTYPE_AARP)
                };
                Cond::or(
                    cmp(lt, BPF_H, p),
                    Cond::and(cmp(lt, BPF_H, LINUX_SLL_P_802_2), s),
                )
            }
            _ if p <= ETHERMTU => Cond::and(
                cmp(lt, BPF_H, LINUX_SLL_P_802_2),
                cmp(self.llc_off(0), BPF_B, p),
            ),
            _ => cmp(lt, BPF_H, p),
        }
    }

    fn loopback_linktype(&self, family: u32, network_order: bool) -> Cond {
        let off = self.linkhdr(0);
        if network_order {
            return cmp(off, BPF_W, family);
        }
        // A live capture has no savefile byte order: the AF_ value is in
        // this host's order (libpcap's htonl() of it).
        let order = match self.null_order {
            NullByteOrder::Either if self.live && cfg!(target_endian = "little") => {
                NullByteOrder::Little
            }
            NullByteOrder::Either if self.live => NullByteOrder::Big,
            o => o,
        };
        match order {
            NullByteOrder::Big => cmp(off, BPF_W, family),
            NullByteOrder::Little => cmp(off, BPF_W, family.swap_bytes()),
            NullByteOrder::Either => Cond::or(
                cmp(off, BPF_W, family.swap_bytes()),
                cmp(off, BPF_W, family),
            ),
        }
    }

    /// libpcap's `gen_linktype()`: "is the link-layer payload protocol `p`?"
    pub fn linktype(&self, p: u32) -> GResult<Cond> {
        if self.label_stack_depth > 0 {
            let version = match p {
                ETHERTYPE_IP | 0x0021 => 0x40,
                ETHERTYPE_IPV6 | 0x0057 => 0x60,
                _ => return Err("unsupported protocol over mpls".into()),
            };
            // bottom of stack set, then the IP version nibble
            let bos = mcmp(self.nl(0u32.wrapping_sub(2)), BPF_B, 0x01, 0x01);
            return Ok(Cond::and(bos, mcmp(self.nl(0), BPF_B, version, 0xf0)));
        }
        Ok(match self.link {
            Link::Ethernet if self.atm => self.with_ll_check(self.ether_linktype(p)),
            Link::Ethernet => self.ether_linktype(p),
            Link::Sll => self.sll_linktype(p),
            // libpcap (1.10 and current) has no SLL2 case in gen_linktype: the
            // protocol field is compared as an Ethernet type, whatever the value.
            Link::Sll2 => cmp(self.linktype_off(0), BPF_H, p),
            Link::Null | Link::Loop => {
                let net = self.link == Link::Loop;
                match p {
                    ETHERTYPE_IP => self.loopback_linktype(2, net),
                    // A live capture (pcap_open_dead, `tcpdump -d`) checks
                    // only this platform's AF_INET6 (Linux: 10); a savefile
                    // the three BSD values.
                    ETHERTYPE_IPV6 if self.live => self.loopback_linktype(10, net),
                    ETHERTYPE_IPV6 => Cond::or(
                        Cond::or(
                            self.loopback_linktype(24, net),
                            self.loopback_linktype(28, net),
                        ),
                        self.loopback_linktype(30, net),
                    ),
                    _ => Cond::False,
                }
            }
            Link::Raw => match p {
                ETHERTYPE_IP => mcmp(self.linkhdr(0), BPF_B, 0x40, 0xf0),
                ETHERTYPE_IPV6 => mcmp(self.linkhdr(0), BPF_B, 0x60, 0xf0),
                _ => Cond::False,
            },
            Link::Ipv4 => {
                if p == ETHERTYPE_IP {
                    Cond::True
                } else {
                    Cond::False
                }
            }
            Link::Ipv6 => {
                if p == ETHERTYPE_IPV6 {
                    Cond::True
                } else {
                    Cond::False
                }
            }
            Link::Ppp => cmp(self.linktype_off(0), BPF_H, ethertype_to_ppptype(p)),
            Link::PppBsdos => {
                let lt = self.linktype_off(0);
                if p == ETHERTYPE_IP {
                    // also Van Jacobson compressed and uncompressed TCP/IP
                    Cond::or(
                        Cond::or(cmp(lt, BPF_H, 0x0021), cmp(lt, BPF_H, 0x002d)),
                        cmp(lt, BPF_H, 0x002f),
                    )
                } else {
                    cmp(lt, BPF_H, ethertype_to_ppptype(p))
                }
            }
            Link::Chdlc => {
                let p = if p == LLCSAP_ISONS { (p << 8) | p } else { p };
                cmp(self.linktype_off(0), BPF_H, p)
            }
            Link::Llc => self.llc_linktype(p),
            Link::SunAtm => Cond::and(
                // the pseudo-header's protocol type is LLC (PT_LLC)
                mcmp(self.linkhdr(0), BPF_B, 2, 0x0f),
                self.llc_linktype(p),
            ),
            Link::Arcnet => {
                let lt = self.linktype_off(0);
                match p {
                    ETHERTYPE_IPV6 => cmp(lt, BPF_B, 0xc4),
                    ETHERTYPE_IP => Cond::or(cmp(lt, BPF_B, 0xd4), cmp(lt, BPF_B, 0xf0)),
                    ETHERTYPE_ARP => Cond::or(cmp(lt, BPF_B, 0xd5), cmp(lt, BPF_B, 0xf1)),
                    ETHERTYPE_REVARP => cmp(lt, BPF_B, 0xd6),
                    ETHERTYPE_ATALK => cmp(lt, BPF_B, 0xdd),
                    _ => Cond::False,
                }
            }
            Link::Ltalk => {
                if p == ETHERTYPE_ATALK {
                    Cond::True
                } else {
                    Cond::False
                }
            }
            Link::Frelay => {
                let nlpid = |v: u32| cmp(self.linkhdr(2), BPF_H, (0x03 << 8) | v);
                match p {
                    ETHERTYPE_IP => nlpid(0xcc),
                    ETHERTYPE_IPV6 => nlpid(0x8e),
                    LLCSAP_ISONS => Cond::or(
                        nlpid(ISO8473_CLNP),
                        Cond::or(nlpid(ISO9542_ESIS), nlpid(ISO10589_ISIS)),
                    ),
                    _ => Cond::False,
                }
            }
            Link::Juniper => mcmp(self.linkhdr(0), BPF_W, 0x4d47_4300, 0xffff_ff00),
            Link::MsTp => mcmp(self.linkhdr(0), BPF_W, 0x55ff_0000, 0xffff_0000),
            Link::Ipnet => match p {
                ETHERTYPE_IP => cmp(self.linktype_off(0), BPF_B, 2),
                ETHERTYPE_IPV6 => cmp(self.linktype_off(0), BPF_B, 26),
                _ => Cond::False,
            },
            Link::Wlan => Cond::and(self.wlan_data_frame(), self.llc_linktype(p)),
            // struct pfloghdr's af, in the byte order of the host that wrote
            // it; libpcap compares with this host's AF_INET/AF_INET6 (Linux: 2, 10)
            Link::Pflog => match p {
                ETHERTYPE_IP => cmp(self.linkhdr(1), BPF_B, 2),
                ETHERTYPE_IPV6 => cmp(self.linkhdr(1), BPF_B, 10),
                _ => Cond::False,
            },
            Link::NotImpl(what) => {
                return Err(format!("{what} link-layer type filtering not implemented"));
            }
            Link::Other => {
                if self.off_linktype.k == NOT_SET && self.off_linktype.reg.is_none() {
                    return Err(format!(
                        "{} link-layer type filtering not implemented",
                        self.desc()
                    ));
                }
                cmp(self.linktype_off(0), BPF_H, p)
            }
        })
    }

    /// libpcap's `gen_llc_linktype()`: 802.2 LLC (FDDI, token ring, ATM, ...).
    fn llc_linktype(&self, p: u32) -> Cond {
        match p {
            LLCSAP_IP | LLCSAP_ISONS | LLCSAP_NETBEUI => cmp(self.llc_off(0), BPF_H, (p << 8) | p),
            LLCSAP_IPX => cmp(self.llc_off(0), BPF_B, LLCSAP_IPX),
            ETHERTYPE_ATALK => self.snap(0x080007, ETHERTYPE_ATALK),
            _ if p <= ETHERMTU => cmp(self.llc_off(0), BPF_B, p),
            _ => cmp(self.llc_off(6), BPF_H, p),
        }
    }

    // ----- protocols -------------------------------------------------------------

    /// `gen_proto_abbrev()`: a bare protocol keyword.
    pub fn proto_abbrev(&self, p: Pq) -> GResult<Cond> {
        match p {
            Pq::Sctp => self.proto(IPPROTO_SCTP, Pq::Default, Dir::Default),
            Pq::Tcp => self.proto(IPPROTO_TCP, Pq::Default, Dir::Default),
            Pq::Udp => self.proto(IPPROTO_UDP, Pq::Default, Dir::Default),
            Pq::Icmp => self.proto(IPPROTO_ICMP, Pq::Ip, Dir::Default),
            Pq::Igmp => self.proto(IPPROTO_IGMP, Pq::Ip, Dir::Default),
            Pq::Igrp => self.proto(IPPROTO_IGRP, Pq::Ip, Dir::Default),
            Pq::Pim => self.proto(IPPROTO_PIM, Pq::Default, Dir::Default),
            Pq::Vrrp | Pq::Carp => self.proto(IPPROTO_VRRP, Pq::Ip, Dir::Default),
            Pq::Ip => self.linktype(ETHERTYPE_IP),
            Pq::Arp => self.linktype(ETHERTYPE_ARP),
            Pq::Rarp => self.linktype(ETHERTYPE_REVARP),
            Pq::Link => Err("link layer applied in wrong context".into()),
            Pq::Atalk => self.linktype(ETHERTYPE_ATALK),
            Pq::Aarp => self.linktype(ETHERTYPE_AARP),
            Pq::Decnet => self.linktype(ETHERTYPE_DN),
            Pq::Sca => self.linktype(ETHERTYPE_SCA),
            Pq::Lat => self.linktype(ETHERTYPE_LAT),
            Pq::Mopdl => self.linktype(ETHERTYPE_MOPDL),
            Pq::Moprc => self.linktype(ETHERTYPE_MOPRC),
            Pq::Ip6 => self.linktype(ETHERTYPE_IPV6),
            Pq::Icmp6 => self.proto(IPPROTO_ICMPV6, Pq::Ip6, Dir::Default),
            Pq::Ah => self.proto(IPPROTO_AH, Pq::Default, Dir::Default),
            Pq::Esp => self.proto(IPPROTO_ESP, Pq::Default, Dir::Default),
            Pq::Iso => self.linktype(LLCSAP_ISONS),
            Pq::Esis => self.proto(ISO9542_ESIS, Pq::Iso, Dir::Default),
            Pq::Isis => self.proto(ISO10589_ISIS, Pq::Iso, Dir::Default),
            Pq::Clnp => self.proto(ISO8473_CLNP, Pq::Iso, Dir::Default),
            Pq::IsisL1 => self.isis_any(&[
                ISIS_L1_LAN_IIH,
                ISIS_PTP_IIH,
                ISIS_L1_LSP,
                ISIS_L1_CSNP,
                ISIS_L1_PSNP,
            ]),
            Pq::IsisL2 => self.isis_any(&[
                ISIS_L2_LAN_IIH,
                ISIS_PTP_IIH,
                ISIS_L2_LSP,
                ISIS_L2_CSNP,
                ISIS_L2_PSNP,
            ]),
            Pq::IsisIih => self.isis_any(&[ISIS_L1_LAN_IIH, ISIS_L2_LAN_IIH, ISIS_PTP_IIH]),
            Pq::IsisLsp => self.isis_any(&[ISIS_L1_LSP, ISIS_L2_LSP]),
            Pq::IsisSnp => self.isis_any(&[ISIS_L1_CSNP, ISIS_L2_CSNP, ISIS_L1_PSNP, ISIS_L2_PSNP]),
            Pq::IsisCsnp => self.isis_any(&[ISIS_L1_CSNP, ISIS_L2_CSNP]),
            Pq::IsisPsnp => self.isis_any(&[ISIS_L1_PSNP, ISIS_L2_PSNP]),
            Pq::Stp => self.linktype(LLCSAP_8021D),
            Pq::Ipx => self.linktype(LLCSAP_IPX),
            Pq::Netbeui => self.linktype(LLCSAP_NETBEUI),
            Pq::Radio => Err("'radio' is not a valid protocol type".into()),
            Pq::Default => Err("syntax error".into()),
        }
    }

    /// Any of the IS-IS PDU types, ORed in libpcap's order.
    fn isis_any(&self, types: &[u32]) -> GResult<Cond> {
        let mut it = types.iter();
        let Some(&first) = it.next() else {
            return Ok(Cond::False);
        };
        let mut acc = self.proto(first, Pq::Isis, Dir::Default)?;
        if let Some(&second) = it.next() {
            acc = Cond::or(acc, self.proto(second, Pq::Isis, Dir::Default)?);
        }
        for &t in it {
            acc = Cond::or(self.proto(t, Pq::Isis, Dir::Default)?, acc);
        }
        Ok(acc)
    }

    /// `gen_proto()`: `[ip|ip6|ether|iso] proto N`.
    pub fn proto(&self, v: u32, p: Pq, dir: Dir) -> GResult<Cond> {
        if dir != Dir::Default {
            return Err("direction applied to 'proto'".into());
        }
        match p {
            Pq::Default => {
                let b0 = self.proto(v, Pq::Ip, dir)?;
                let b1 = self.proto(v, Pq::Ip6, dir)?;
                Ok(Cond::or(b0, b1))
            }
            Pq::Link => {
                // libpcap 1.11's gen_linktype range checks
                match self.link {
                    Link::Ppp => max_val("PPP protocol", v, 0xffff)?,
                    Link::Chdlc => max_val("HDLC protocol", v, 0xffff)?,
                    Link::Ethernet if v <= ETHERMTU => max_val("LLC DSAP", v, 0xff)?,
                    Link::Ethernet => max_val("EtherType", v, 0xffff)?,
                    _ => {}
                }
                self.linktype(v)
            }
            Pq::Ip | Pq::Ip6 if v > 0xff => {
                Err(format!("protocol number {v} greater than maximum 255"))
            }
            Pq::Ip => Ok(Cond::and(
                self.linktype(ETHERTYPE_IP)?,
                cmp(self.nl(9), BPF_B, v),
            )),
            Pq::Ip6 => {
                let b0 = self.linktype(ETHERTYPE_IPV6)?;
                let frag = Cond::and(
                    cmp(self.nl(6), BPF_B, IPPROTO_FRAGMENT),
                    cmp(self.nl(40), BPF_B, v),
                );
                let b1 = Cond::or(cmp(self.nl(6), BPF_B, v), frag);
                Ok(Cond::and(b0, b1))
            }
            Pq::Iso if v > 0xff => Err(format!("ISO protocol {v} greater than maximum 255")),
            Pq::Isis if v > 0x1f => Err(format!("IS-IS PDU type {v} greater than maximum 31")),
            Pq::Iso => Ok(match self.link {
                // the NLPID after a UI control byte
                Link::Frelay => cmp(self.linkhdr(2), BPF_H, (0x03 << 8) | v),
                // OSI in Cisco HDLC is stuffed with a fudge byte
                Link::Chdlc => {
                    Cond::and(self.linktype(LLCSAP_ISONS)?, cmp(self.nosnap(1), BPF_B, v))
                }
                _ => Cond::and(self.linktype(LLCSAP_ISONS)?, cmp(self.nosnap(0), BPF_B, v)),
            }),
            Pq::Isis => Ok(Cond::and(
                self.proto(ISO10589_ISIS, Pq::Iso, Dir::Default)?,
                cmp(self.nosnap(4), BPF_B, v),
            )),
            Pq::Clnp => Err("'clnp proto' is not supported".into()),
            Pq::Esis => Err("'esis proto' is bogus".into()),
            Pq::Arp => Err("arp does not encapsulate another protocol".into()),
            Pq::Rarp => Err("rarp does not encapsulate another protocol".into()),
            Pq::Atalk => Err("AppleTalk encapsulation is not specifiable".into()),
            Pq::Decnet => Err("DECNET encapsulation is not specifiable".into()),
            Pq::Sca => Err("SCA encapsulation is not specifiable".into()),
            Pq::Lat => Err("LAT encapsulation is not specifiable".into()),
            Pq::Moprc => Err("MOPRC encapsulation is not specifiable".into()),
            Pq::Mopdl => Err("MOPDL encapsulation is not specifiable".into()),
            Pq::Aarp => Err("aarp does not encapsulate another protocol".into()),
            Pq::Stp => Err("'stp proto' is bogus".into()),
            Pq::Ipx => Err("'ipx proto' is bogus".into()),
            Pq::Netbeui => Err("'netbeui proto' is bogus".into()),
            Pq::Radio => Err("'radio proto' is bogus".into()),
            other => Err(format!("'{} proto' is bogus", other.name())),
        }
    }

    /// `protochain N`: walk IPv6 extension headers (and IPv4 AH) to protocol `v`.
    pub fn protochain(&self, v: u32, p: Pq) -> GResult<Cond> {
        if self.off_linkpl.reg.is_some() {
            return Err("'protochain' not supported with variable length headers".into());
        }
        self.used_protochain.set(true);
        match p {
            Pq::Default => Ok(Cond::or(
                self.protochain(v, Pq::Ip)?,
                self.protochain(v, Pq::Ip6)?,
            )),
            Pq::Ip | Pq::Ip6 => {
                max_val("protocol number", v, 0xff)?;
                let v6 = p == Pq::Ip6;
                let guard = self.linktype(if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IP })?;
                Ok(Cond::and(guard, self.protochain_walk(v, v6)))
            }
            _ => Err("bad protocol applied for 'protochain'".into()),
        }
    }

    /// The header walk of libpcap's `gen_protochain()`. Classic BPF has no
    /// backward jumps (libpcap emits one, which only its own interpreter
    /// follows), so the loop is unrolled [`PROTOCHAIN_STEPS`] times. The walk
    /// state lives in the reserved slots M[14] (next-header value) and M[15]
    /// (offset of the current header from the network header). The AH step
    /// reproduces libpcap 1.10 exactly, including its non-cumulative offset.
    fn protochain_walk(&self, v: u32, v6: bool) -> Cond {
        use crate::cfg::{PC_NH, PC_OFF};
        use crate::insn::{BPF_ADD, BPF_MUL, BPF_TXA};
        // Only called with constant offsets (see `protochain`).
        let nl = self.nl(0).k;
        let nh = |val: u32| test(vec![Insn::stmt(BPF_LD | BPF_MEM, PC_NH)], BPF_JEQ, val);
        let always = |mut stmts: Vec<Insn>| {
            stmts.push(Insn::stmt(BPF_LD | BPF_IMM, 0));
            test(stmts, BPF_JGE, 0)
        };
        let init = if v6 {
            vec![
                Insn::stmt(BPF_LD | BPF_B | BPF_ABS, nl.wrapping_add(6)),
                Insn::stmt(BPF_ST, PC_NH),
                Insn::stmt(BPF_LDX | BPF_IMM, 40),
                Insn::stmt(BPF_STX, PC_OFF),
            ]
        } else {
            vec![
                Insn::stmt(BPF_LD | BPF_B | BPF_ABS, nl.wrapping_add(9)),
                Insn::stmt(BPF_ST, PC_NH),
                Insn::stmt(BPF_LDX | BPF_MSH | BPF_B, nl),
                Insn::stmt(BPF_STX, PC_OFF),
            ]
        };
        let adv_ext = || {
            always(vec![
                Insn::stmt(BPF_LDX | BPF_MEM, PC_OFF),
                Insn::stmt(BPF_LD | BPF_B | BPF_IND, nl),
                Insn::stmt(BPF_ST, PC_NH),
                Insn::stmt(BPF_LD | BPF_B | BPF_IND, nl.wrapping_add(1)),
                Insn::stmt(BPF_ALU | BPF_ADD | BPF_K, 1),
                Insn::stmt(BPF_ALU | BPF_MUL | BPF_K, 8),
                Insn::stmt(BPF_ALU | BPF_ADD | BPF_X, 0),
                Insn::stmt(BPF_ST, PC_OFF),
            ])
        };
        let adv_ah = || {
            always(vec![
                Insn::stmt(BPF_LDX | BPF_MEM, PC_OFF),
                Insn::stmt(BPF_LD | BPF_B | BPF_IND, nl),
                Insn::stmt(BPF_ST, PC_NH),
                Insn::stmt(BPF_MISC | BPF_TXA, 0),
                Insn::stmt(BPF_ALU | BPF_ADD | BPF_K, 1),
                Insn::stmt(BPF_MISC | BPF_TAX, 0),
                Insn::stmt(BPF_LD | BPF_B | BPF_IND, nl),
                Insn::stmt(BPF_ALU | BPF_ADD | BPF_K, 2),
                Insn::stmt(BPF_ALU | BPF_MUL | BPF_K, 4),
                Insn::stmt(BPF_ST, PC_OFF),
            ])
        };
        let ife = |c: Cond, a: Cond, b: Cond| Cond::If(Box::new(c), Box::new(a), Box::new(b));
        let mut next = Cond::False;
        self.protochain_cost
            .set(self.protochain_cost.get() + if v6 { 36 } else { 19 });
        for _ in 0..self.protochain_steps {
            let shared = Cond::Shared(std::rc::Rc::new(next));
            let ah = ife(nh(51), Cond::and(adv_ah(), shared.clone()), Cond::False);
            let advance = if v6 {
                let ext = Cond::or(Cond::or(nh(0), nh(60)), Cond::or(nh(43), nh(44)));
                ife(ext, Cond::and(adv_ext(), shared), ah)
            } else {
                ah
            };
            next = ife(nh(v), Cond::True, ife(nh(59), Cond::False, advance));
        }
        Cond::and(always(init), next)
    }

    // ----- hosts and networks --------------------------------------------------

    fn hostop(
        &self,
        addr: u32,
        mask: u32,
        dir: Dir,
        ll: u32,
        src_off: u32,
        dst_off: u32,
    ) -> GResult<Cond> {
        let off = match dir {
            Dir::Src => src_off,
            Dir::Dst => dst_off,
            Dir::And => {
                let b0 = self.hostop(addr, mask, Dir::Src, ll, src_off, dst_off)?;
                let b1 = self.hostop(addr, mask, Dir::Dst, ll, src_off, dst_off)?;
                return Ok(Cond::and(b0, b1));
            }
            Dir::Default | Dir::Or => {
                let b0 = self.hostop(addr, mask, Dir::Src, ll, src_off, dst_off)?;
                let b1 = self.hostop(addr, mask, Dir::Dst, ll, src_off, dst_off)?;
                return Ok(Cond::or(b0, b1));
            }
            other => return Err(wlan_dir_error(other, false)),
        };
        Ok(Cond::and(
            self.linktype(ll)?,
            mcmp(self.nl(off), BPF_W, addr, mask),
        ))
    }

    /// `gen_host()` for IPv4 hosts and networks.
    pub fn host(&self, addr: u32, mask: u32, p: Pq, dir: Dir, typ: Addr) -> GResult<Cond> {
        let typestr = if typ == Addr::Net { "net" } else { "host" };
        match p {
            Pq::Default => {
                let b0 = self.host(addr, mask, Pq::Ip, dir, typ)?;
                if self.label_stack_depth > 0 {
                    return Ok(b0);
                }
                let b1 = Cond::or(b0, self.host(addr, mask, Pq::Arp, dir, typ)?);
                Ok(Cond::or(b1, self.host(addr, mask, Pq::Rarp, dir, typ)?))
            }
            Pq::Link => Err(format!("link-layer modifier applied to {typestr}")),
            Pq::Ip => self.hostop(addr, mask, dir, ETHERTYPE_IP, 12, 16),
            Pq::Rarp => self.hostop(addr, mask, dir, ETHERTYPE_REVARP, 14, 24),
            Pq::Arp => self.hostop(addr, mask, dir, ETHERTYPE_ARP, 14, 24),
            Pq::Ip6 => Err("'ip6' modifier applied to ip host".into()),
            Pq::Decnet => self.dnhost(addr, dir),
            Pq::Lat => Err("LAT host filtering not implemented".into()),
            Pq::Sca => Err("SCA host filtering not implemented".into()),
            Pq::Moprc => Err("MOPRC host filtering not implemented".into()),
            Pq::Mopdl => Err("MOPDL host filtering not implemented".into()),
            Pq::Atalk => Err("AppleTalk host filtering not implemented".into()),
            other => Err(format!("'{}' modifier applied to {typestr}", other.name())),
        }
    }

    fn hostop6(
        &self,
        addr: &[u8; 16],
        mask: &[u8; 16],
        dir: Dir,
        src_off: u32,
        dst_off: u32,
    ) -> GResult<Cond> {
        let off = match dir {
            Dir::Src => src_off,
            Dir::Dst => dst_off,
            Dir::And => {
                let b0 = self.hostop6(addr, mask, Dir::Src, src_off, dst_off)?;
                return Ok(Cond::and(
                    b0,
                    self.hostop6(addr, mask, Dir::Dst, src_off, dst_off)?,
                ));
            }
            Dir::Default | Dir::Or => {
                let b0 = self.hostop6(addr, mask, Dir::Src, src_off, dst_off)?;
                return Ok(Cond::or(
                    b0,
                    self.hostop6(addr, mask, Dir::Dst, src_off, dst_off)?,
                ));
            }
            other => return Err(wlan_dir_error(other, false)),
        };
        let word = |b: &[u8; 16], i: usize| {
            u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
        };
        // libpcap generates the address words (last first) before the
        // link-layer type check, which matters for its register numbers.
        let mut words: Vec<Cond> = (0..4u32)
            .rev()
            .map(|i| {
                let iu = usize::try_from(i).unwrap_or(0);
                mcmp(self.nl(off + 4 * i), BPF_W, word(addr, iu), word(mask, iu))
            })
            .collect();
        words.reverse();
        Ok(Cond::and(self.linktype(ETHERTYPE_IPV6)?, and_all(words)))
    }

    /// libpcap's `gen_dnhostop()`: a DECnet data packet to or from `addr`
    /// (area << 10 | node), with or without padding, long or short header.
    pub fn dnhost(&self, addr: u32, dir: Dir) -> GResult<Cond> {
        let (sh, lh) = match dir {
            Dir::Dst => (1, 7),
            Dir::Src => (3, 15),
            Dir::And => {
                return Ok(Cond::and(
                    self.dnhost(addr, Dir::Src)?,
                    self.dnhost(addr, Dir::Dst)?,
                ));
            }
            Dir::Default | Dir::Or => {
                return Ok(Cond::or(
                    self.dnhost(addr, Dir::Src)?,
                    self.dnhost(addr, Dir::Dst)?,
                ));
            }
            other => return Err(wlan_dir_error(other, false)),
        };
        // libpcap generates the link-layer type test first (which matters
        // for the order its run-time offset registers are allocated in)
        let lt = self.linktype(ETHERTYPE_DN)?;
        // the address is little-endian in the packet (libpcap's ntohs on x86)
        let a = ((addr & 0xff) << 8) | ((addr >> 8) & 0xff);
        let long_pad = Cond::and(
            mcmp(self.nl(2), BPF_H, 0x8106, 0xff07),
            cmp(self.nl(2 + 1 + lh), BPF_H, a),
        );
        let long = Cond::and(
            mcmp(self.nl(2), BPF_B, 0x06, 0x07),
            cmp(self.nl(2 + lh), BPF_H, a),
        );
        let b1 = Cond::or(long, long_pad);
        let short_pad = Cond::and(
            mcmp(self.nl(2), BPF_H, 0x8102, 0xff07),
            cmp(self.nl(2 + 1 + sh), BPF_H, a),
        );
        let b1 = Cond::or(short_pad, b1);
        let short = Cond::and(
            mcmp(self.nl(2), BPF_B, 0x02, 0x07),
            cmp(self.nl(2 + sh), BPF_H, a),
        );
        let b1 = Cond::or(short, b1);
        Ok(Cond::and(lt, b1))
    }

    /// `gen_host6()`.
    pub fn host6(
        &self,
        addr: &[u8; 16],
        mask: &[u8; 16],
        p: Pq,
        dir: Dir,
        typ: Addr,
    ) -> GResult<Cond> {
        let typestr = if typ == Addr::Net { "net" } else { "host" };
        match p {
            Pq::Default | Pq::Ip6 => self.hostop6(addr, mask, dir, 8, 24),
            Pq::Link => Err(format!("link-layer modifier applied to ip6 {typestr}")),
            other => Err(format!(
                "'{}' modifier applied to ip6 {typestr}",
                other.name()
            )),
        }
    }

    /// `gen_ehostop()`: Ethernet addresses.
    pub fn ehost(&self, mac: &[u8; 6], dir: Dir) -> GResult<Cond> {
        if self.link == Link::Wlan {
            return Ok(self.wlan_host(mac, dir));
        }
        let Some((src, dst)) = self.mac48_offsets() else {
            return Err("ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel".into());
        };
        let (s, d) = (bcmp(self.linkhdr(src), mac), bcmp(self.linkhdr(dst), mac));
        let c = match dir {
            Dir::Src => s,
            Dir::Dst => d,
            Dir::And => Cond::and(s, d),
            Dir::Default | Dir::Or => Cond::or(s, d),
            other => return Err(wlan_dir_error(other, true)),
        };
        Ok(self.with_ll_check(c))
    }

    /// The frame control byte (`fc`, 0) or flags byte (1) of the 802.11 header.
    fn wlan_fc(&self, byte: u32, bit: u32) -> Cond {
        test(ld(BPF_B, self.linkhdr(byte)), BPF_JSET, bit)
    }

    /// libpcap's `gen_check_802_11_data_frame()`.
    fn wlan_data_frame(&self) -> Cond {
        Cond::and(Cond::not(self.wlan_fc(0, 0x04)), self.wlan_fc(0, 0x08))
    }

    /// The address test shape of libpcap's `gen_wlanhostop()`: `to_ds` when
    /// To DS is set, else `not_to_ds`; for source addresses also the From DS
    /// split (`from_ds_clear` when From DS is clear); `non_data` for
    /// management/control frames; never for frames of the reserved type.
    fn wlan_by_ds(
        &self,
        to_ds: Cond,
        not_to_ds: Cond,
        from_ds_clear: Option<Cond>,
        non_data: Cond,
    ) -> Cond {
        let mut b0 = Cond::and(self.wlan_fc(1, 0x01), to_ds);
        b0 = Cond::or(Cond::and(Cond::not(self.wlan_fc(1, 0x01)), not_to_ds), b0);
        if let Some(c) = from_ds_clear {
            b0 = Cond::and(self.wlan_fc(1, 0x02), b0);
            b0 = Cond::or(Cond::and(Cond::not(self.wlan_fc(1, 0x02)), c), b0);
        }
        b0 = Cond::and(self.wlan_fc(0, 0x08), b0);
        b0 = Cond::or(Cond::and(Cond::not(self.wlan_fc(0, 0x08)), non_data), b0);
        Cond::and(Cond::not(self.wlan_fc(0, 0x04)), b0)
    }

    /// libpcap's `gen_wlanhostop()`: 802.11 source/destination/addr1..4/ra/ta.
    fn wlan_host(&self, mac: &[u8; 6], dir: Dir) -> Cond {
        let at = |k: u32| bcmp(self.linkhdr(k), mac);
        // neither a control frame, nor a CTS or ACK
        let not_ctl_cts_ack = || {
            let b0 = Cond::not(mcmp(self.linkhdr(0), BPF_B, 0x04, 0x0c));
            let b1 = Cond::not(mcmp(self.linkhdr(0), BPF_B, 0xc0, 0xf0));
            let b2 = Cond::not(mcmp(self.linkhdr(0), BPF_B, 0xd0, 0xf0));
            Cond::or(b0, Cond::and(b1, b2))
        };
        match dir {
            Dir::Src => self.wlan_by_ds(at(24), at(16), Some(at(10)), at(10)),
            Dir::Dst => self.wlan_by_ds(at(16), at(4), None, at(4)),
            Dir::And => Cond::and(self.wlan_host(mac, Dir::Src), self.wlan_host(mac, Dir::Dst)),
            Dir::Default | Dir::Or => {
                Cond::or(self.wlan_host(mac, Dir::Src), self.wlan_host(mac, Dir::Dst))
            }
            Dir::Addr1 => at(4),
            Dir::Addr2 => Cond::and(not_ctl_cts_ack(), at(10)),
            Dir::Addr3 => Cond::and(Cond::not(mcmp(self.linkhdr(0), BPF_B, 0x04, 0x0c)), at(16)),
            Dir::Addr4 => Cond::and(mcmp(self.linkhdr(1), BPF_B, 0x03, 0x03), at(24)),
            Dir::Ra => Cond::and(self.wlan_fc(0, 0x08), at(4)),
            // libpcap tests the data-frame bit before the frame type
            Dir::Ta => Cond::and(Cond::and(self.wlan_fc(0, 0x08), not_ctl_cts_ack()), at(10)),
        }
    }

    /// `type T [subtype S]` / `subtype S` (libpcap's `gen_p80211_type()`).
    pub fn wlan_type(&self, value: u32, mask: u32) -> GResult<Cond> {
        if self.link != Link::Wlan {
            return Err("802.11 link-layer types supported only on 802.11".into());
        }
        Ok(mcmp(self.linkhdr(0), BPF_B, value, mask))
    }

    /// `dir D` (libpcap's `gen_p80211_fcdir()`).
    pub fn wlan_dir(&self, value: u32) -> GResult<Cond> {
        if self.link != Link::Wlan {
            return Err("frame direction supported only with 802.11 headers".into());
        }
        Ok(mcmp(self.linkhdr(1), BPF_B, value, 0x03))
    }

    /// Prepend the computation of the run-time 802.11 offsets, when the program
    /// uses them (libpcap's `insert_compute_vloffsets()`): the radio header
    /// length, then the 802.11 header length (24, +2 for QoS data frames, and
    /// for radiotap rounded up to 4 when the radiotap flags say so).
    /// Does [`Gen::with_prologue`] add code to `cond`?
    pub fn has_prologue(&self, cond: &Cond) -> bool {
        if let Some(r) = self.pflog_reg {
            return uses_reg(cond, r);
        }
        self.wlan_regs
            .is_some_and(|(hdr, pl)| uses_reg(cond, pl) || hdr.is_some_and(|r| uses_reg(cond, r)))
    }

    /// libpcap's gen_ppi_dlt_check(), put in front of everything: a PPI
    /// record carries 802.11 (DLT 105, the header's little-endian `pph_dlt`).
    pub fn with_ppi_check(&self, cond: Cond) -> Cond {
        // (not for the empty expression, which libpcap compiles to a bare
        // `ret`)
        if self.dlt != 192 || matches!(cond, Cond::True | Cond::Join) {
            return cond;
        }
        Cond::and(
            test(
                vec![Insn::stmt(BPF_LD | BPF_W | BPF_ABS, 4)],
                BPF_JEQ,
                0x6900_0000,
            ),
            cond,
        )
    }

    pub fn with_prologue(&self, cond: Cond) -> Cond {
        if let Some(r) = self.pflog_reg {
            if !uses_reg(&cond, r) {
                return cond;
            }
            // libpcap's gen_load_pflog_llprefixlen: the length byte, rounded
            // up to a 4-byte boundary (BPF_WORDALIGN)
            return Cond::and(
                always(vec![
                    Insn::stmt(BPF_LD | BPF_B | BPF_ABS, 0),
                    Insn::stmt(BPF_ALU | crate::insn::BPF_ADD | BPF_K, 3),
                    Insn::stmt(BPF_ALU | crate::insn::BPF_AND | BPF_K, 0xffff_fffc),
                    Insn::stmt(BPF_ST, r),
                ]),
                cond,
            );
        }
        let Some((hdr, pl)) = self.wlan_regs else {
            return cond;
        };
        let pl_used = uses_reg(&cond, pl);
        let hdr_used = hdr.is_some_and(|r| pl_used || uses_reg(&cond, r));
        if !pl_used && !hdr_used {
            return cond;
        }
        // libpcap's insert_compute_vloffsets(): the payload offset includes
        // the radio header length, whose register is allocated now if no
        // code used it yet.
        if let (true, Some(r)) = (pl_used, hdr) {
            self.touch(Off { reg: Some(r), k: 0 });
        }
        use crate::insn::{BPF_ADD, BPF_LSH, BPF_OR, BPF_TXA};
        let alu = |op: u16, k: u32| Insn::stmt(BPF_ALU | op | BPF_K, k);
        let tax = || Insn::stmt(BPF_MISC | BPF_TAX, 0);
        let mut parts = Vec::new();
        // The statements that end libpcap's radio header prologue (the length
        // is in A): they start the next block.
        let mut tail = Vec::new();
        if let (Some(r), true) = (hdr, hdr_used) {
            let store = [Insn::stmt(BPF_ST, r), tax()];
            match self.outer_dlt {
                // radiotap and PPI: 16-bit little-endian length at offset 2
                127 | 192 => {
                    tail = vec![
                        Insn::stmt(BPF_LD | BPF_B | BPF_ABS, 3),
                        alu(BPF_LSH, 8),
                        tax(),
                        Insn::stmt(BPF_LD | BPF_B | BPF_ABS, 2),
                        Insn::stmt(BPF_ALU | BPF_OR | BPF_X, 0),
                    ];
                    tail.extend(store);
                }
                // AVS: 32-bit big-endian length at offset 4
                163 => {
                    tail = vec![Insn::stmt(BPF_LD | BPF_W | BPF_ABS, 4)];
                    tail.extend(store);
                }
                // Prism: 144 bytes, unless it is really an AVS header
                // (libpcap turns its optimiser off for this one).
                _ => {
                    self.no_optimize.set(true);
                    parts.push(Cond::If(
                        Box::new(test(
                            vec![
                                Insn::stmt(BPF_LD | BPF_W | BPF_ABS, 0),
                                alu(BPF_AND, 0xffff_f000),
                            ],
                            BPF_JEQ,
                            0x8021_1000,
                        )),
                        Box::new(always(vec![Insn::stmt(BPF_LD | BPF_W | BPF_ABS, 4)])),
                        Box::new(always(vec![Insn::stmt(BPF_LD | BPF_IMM, 144)])),
                    ));
                    tail = store.to_vec();
                }
            }
        }
        if !pl_used {
            parts.push(always(tail));
            parts.push(cond);
            return and_all(parts);
        }
        // libpcap's gen_load_802_11_header_len() (which turns the optimiser
        // off): 24 bytes, 2 more for QoS data frames, rounded up to 4 for
        // radiotap when the flags say the frame is padded. One load of the
        // frame control byte serves its three tests.
        self.no_optimize.set(true);
        if hdr.is_none() {
            tail.push(Insn::stmt(BPF_LDX | BPF_IMM, 0));
        }
        tail.extend([
            Insn::stmt(BPF_MISC | BPF_TXA, 0),
            alu(BPF_ADD, 24),
            Insn::stmt(BPF_ST, pl),
            Insn::stmt(BPF_LD | BPF_B | BPF_IND, 0),
        ]);
        let first = test(tail, BPF_JSET, 0x08);
        let fc = |bit: u32| test(Vec::new(), BPF_JSET, bit);
        let datapad = if self.outer_dlt == 127 {
            let round = Cond::Shared(std::rc::Rc::new(always(vec![
                Insn::stmt(BPF_LD | BPF_MEM, pl),
                alu(BPF_ADD, 3),
                alu(BPF_AND, !3),
                Insn::stmt(BPF_ST, pl),
            ])));
            let flags_at = |k: u32| {
                Cond::If(
                    Box::new(test(
                        vec![Insn::stmt(BPF_LD | BPF_B | BPF_ABS, k)],
                        BPF_JSET,
                        0x20,
                    )),
                    Box::new(round.clone()),
                    Box::new(Cond::Join),
                )
            };
            // the `present` word: flags (bit 1), extended (bit 31), TSFT (bit 0)
            let tsft = Cond::If(
                Box::new(fc(0x0100_0000)),
                Box::new(flags_at(16)),
                Box::new(flags_at(8)),
            );
            let no_ext = Cond::If(
                Box::new(fc(0x0000_0080)),
                Box::new(Cond::Join),
                Box::new(tsft),
            );
            Cond::If(
                Box::new(test(
                    vec![Insn::stmt(BPF_LD | BPF_W | BPF_ABS, 4)],
                    BPF_JSET,
                    0x0200_0000,
                )),
                Box::new(no_ext),
                Box::new(Cond::Join),
            )
        } else {
            Cond::Join
        };
        let datapad = Cond::Shared(std::rc::Rc::new(datapad));
        let qos = Cond::If(
            Box::new(fc(0x80)),
            Box::new(Cond::and(
                always(vec![
                    Insn::stmt(BPF_LD | BPF_MEM, pl),
                    alu(BPF_ADD, 2),
                    Insn::stmt(BPF_ST, pl),
                ]),
                datapad.clone(),
            )),
            Box::new(datapad),
        );
        parts.push(Cond::If(
            Box::new(first),
            Box::new(Cond::If(
                Box::new(fc(0x04)),
                Box::new(Cond::Join),
                Box::new(qos),
            )),
            Box::new(Cond::Join),
        ));
        parts.push(cond);
        and_all(parts)
    }

    /// Offsets of the source and destination MAC-48 addresses in the link
    /// header (libpcap's `gen_ehostop`, `gen_fhostop`, `gen_thostop`,
    /// `gen_ipfchostop`), or `None` if the link type has none pcapx handles.
    fn mac48_offsets(&self) -> Option<(u32, u32)> {
        if self.is_ethernet() {
            return Some((6, 0));
        }
        if self.link != Link::Llc {
            return None;
        }
        match self.dlt {
            10 => Some((7, 1)),
            6 => Some((8, 2)),
            122 => Some((10, 2)),
            _ => None,
        }
    }

    pub fn is_arcnet(&self) -> bool {
        self.link == Link::Arcnet || self.link == Link::MsTp
    }

    /// libpcap's `gen_acode()` for `link host $XX` (libpcap 1.11 semantics:
    /// libpcap 1.10 mis-parses the address, e.g. `$c0` as 0xdc).
    pub fn ahost_code(&self, addr: u8, dir: Dir) -> GResult<Cond> {
        if !self.is_arcnet() {
            return Err("aid supported only on ARCnet".into());
        }
        self.ahost(addr, dir)
    }

    /// `fisu`, `lssu`, `msu` and their high-speed-link variants (libpcap's
    /// `gen_mtp2type_abbrev()`): the MTP2 length indicator.
    pub fn mtp2type(&self, kw: &str) -> GResult<Cond> {
        let hsl = kw.starts_with('h');
        let Some(base) = self.ss7 else {
            return Err(format!(
                "'{kw}' supported only on {}",
                if hsl { "MTP2_HSL" } else { "MTP2" }
            ));
        };
        let ncmp = |off: u32, size: u16, mask: u32, op: u16, rev: bool, v: u32| {
            let mut st = ld(size, Off::abs(off));
            st.push(Insn::stmt(BPF_ALU | BPF_AND | BPF_K, mask));
            let t = test(st, op, v);
            if rev { Cond::not(t) } else { t }
        };
        let (li, li_hsl) = (base + 2, base + 4);
        Ok(match kw {
            "fisu" => ncmp(li, BPF_B, 0x3f, BPF_JEQ, false, 0),
            "lssu" | "lsu" => Cond::and(
                ncmp(li, BPF_B, 0x3f, BPF_JGT, false, 0),
                ncmp(li, BPF_B, 0x3f, BPF_JGT, true, 2),
            ),
            "msu" => ncmp(li, BPF_B, 0x3f, BPF_JGT, false, 2),
            "hfisu" => ncmp(li_hsl, BPF_H, 0xff80, BPF_JEQ, false, 0),
            "hlssu" => Cond::and(
                ncmp(li_hsl, BPF_H, 0xff80, BPF_JGT, false, 0),
                ncmp(li_hsl, BPF_H, 0xff80, BPF_JGT, true, 0x0100),
            ),
            _ => ncmp(li_hsl, BPF_H, 0xff80, BPF_JGT, false, 0x0100),
        })
    }

    /// `ifindex N` (libpcap's `gen_ifindex()`): the interface index of the
    /// Linux cooked v2 header; other link types carry none in a savefile, and
    /// read the socket's in a live capture.
    pub fn ifindex(&self, n: u32) -> GResult<Cond> {
        if self.link == Link::Sll2 && self.off_linkhdr == Off::abs(0) {
            return Ok(cmp(self.linkhdr(4), BPF_W, n));
        }
        // libpcap on Linux, live capture: the socket's interface index
        // (`ld [ifidx]`, SKF_AD_IFINDEX), on every link type.
        if self.live && self.link != Link::Sll2 {
            return Ok(cmp(
                self.linkhdr(crate::insn::SKF_AD_OFF + crate::insn::SKF_AD_IFINDEX),
                BPF_W,
                n,
            ));
        }
        Err(format!(
            "ifindex not supported on {} when reading savefiles",
            self.desc()
        ))
    }

    /// `vpi`/`vci` (SUNATM) or the SS7 fields, compared with `op`.
    pub fn field_code(&self, field: &str, v: u32, op: u16, rev: bool) -> GResult<Cond> {
        match field {
            "vpi" | "vci" => {
                if self.dlt != 123 && !self.atm {
                    return Err(format!("'{field}' supported only on raw ATM"));
                }
                let (off, size) = if field == "vpi" {
                    max_val("VPI", v, 0xff)?;
                    (1, BPF_B)
                } else {
                    max_val("VCI", v, 0xffff)?;
                    (2, BPF_H)
                };
                let t = test(ld(size, self.linkhdr(off)), op, v);
                // libpcap 1.10 negates only `<`/`<=`, so its `!=` is `==`;
                // libpcap 1.11 fixed that, and pcapx follows it
                Ok(if rev { Cond::not(t) } else { t })
            }
            _ => self.mtp3field(field, v, op, rev),
        }
    }

    /// The SUNATM abbreviations (libpcap's `gen_atmtype_abbrev()` and
    /// `gen_atmmulti_abbrev()`); `lane` makes what follows apply to the LAN
    /// Emulation Ethernet frame.
    pub fn atm_abbrev(&mut self, kw: &str) -> GResult<Cond> {
        if self.dlt != 123 && !self.atm {
            let what = match kw {
                "oamf4sc" => "oam4sc",
                "oamf4ec" => "oam4ec",
                k => k,
            };
            return Err(format!("'{what}' supported only on raw ATM"));
        }
        // relative to the link header, as libpcap does (even after `lane`)
        let vpi = |v: u32| cmp(self.linkhdr(1), BPF_B, v);
        let vci = |v: u32| cmp(self.linkhdr(2), BPF_H, v);
        let msg = |v: u32| cmp(self.linkhdr(4 + 5), BPF_B, v);
        let msgs = |types: &[u32]| {
            let mut acc = Cond::or(msg(types[0]), msg(types[1]));
            for &t in &types[2..] {
                acc = Cond::or(msg(t), acc);
            }
            acc
        };
        Ok(match kw {
            "metac" => Cond::and(vpi(0), vci(1)),
            "bcc" => Cond::and(vpi(0), vci(2)),
            "oamf4sc" => Cond::and(vpi(0), vci(3)),
            "oamf4ec" => Cond::and(vpi(0), vci(4)),
            "sc" => Cond::and(vpi(0), vci(5)),
            "ilmic" => Cond::and(vpi(0), vci(16)),
            "oam" | "oamf4" => Cond::and(vpi(0), Cond::or(vci(3), vci(4))),
            "connectmsg" => Cond::and(
                Cond::and(vpi(0), vci(5)),
                msgs(&[0x05, 0x02, 0x07, 0x0f, 0x4d, 0x5a]),
            ),
            "metaconnect" => Cond::and(
                Cond::and(vpi(0), vci(1)),
                msgs(&[0x05, 0x02, 0x07, 0x4d, 0x5a]),
            ),
            _ => {
                // lane: PT_LANE, then an Ethernet header after a 2-byte LE header
                let c = mcmp(self.linkhdr(0), BPF_B, 0x01, 0x0f);
                self.atm = true;
                self.dlt = DLT_EN10MB;
                self.link = Link::Ethernet;
                self.off_linkhdr = Off::abs(4 + 2);
                self.off_linktype = Off::abs(4 + 2 + 12);
                self.off_linkpl = Off::abs(4 + 2 + 14);
                self.off_nl = 0;
                self.off_nl_nosnap = 3;
                c
            }
        })
    }

    /// `sio`, `opc`, `dpc`, `sls` and the `h...` variants for high-speed links
    /// (libpcap's `gen_mtp3field_code()`), compared with `op` (negated if `rev`).
    pub fn mtp3field(&self, field: &str, v: u32, op: u16, rev: bool) -> GResult<Cond> {
        let (hsl, name) = match field.strip_prefix('h') {
            Some(n) => (3, n),
            None => (0, field),
        };
        let Some(base) = self.ss7 else {
            return Err(format!("'{name}' supported only on SS7"));
        };
        let (off, size, mask, max, val) = match name {
            "sio" => (base + 3, BPF_B, 0xffff_ffff, 255, v),
            "opc" => (
                base + 4,
                BPF_W,
                0x00c0_ff0f,
                16383,
                ((v & 0x3c00) >> 10) + ((v & 0x03fc) << 6) + ((v & 0x3) << 22),
            ),
            "dpc" => (
                base + 4,
                BPF_W,
                0xff3f_0000,
                16383,
                ((v & 0xff) << 24) + ((v & 0x3f00) << 8),
            ),
            _ => (base + 7, BPF_B, 0xf0, 15, v << 4),
        };
        if v > max {
            return Err(format!("{name} value {v} too big; max value = {max}"));
        }
        let mut st = ld(size, Off::abs(off + hsl));
        if mask != 0xffff_ffff {
            st.push(Insn::stmt(BPF_ALU | BPF_AND | BPF_K, mask));
        }
        let t = test(st, op, val);
        // libpcap 1.10 negates only `<`/`<=` here, so its `!=` is `==`;
        // libpcap 1.11 fixed that, and pcapx follows it
        Ok(if rev { Cond::not(t) } else { t })
    }

    /// `gen_ahostop()`: one-byte ARCnet addresses (source first, destination second).
    /// On MS/TP (libpcap 1.11) the destination is at 3 and the source at 4.
    pub fn ahost(&self, addr: u8, dir: Dir) -> GResult<Cond> {
        let (so, doff) = match self.link {
            Link::Arcnet => (0, 1),
            Link::MsTp => (4, 3),
            _ => return Err("aid supported only on ARCnet".into()),
        };
        let (s, d) = (
            cmp(self.linkhdr(so), BPF_B, u32::from(addr)),
            cmp(self.linkhdr(doff), BPF_B, u32::from(addr)),
        );
        Ok(match dir {
            Dir::Src => s,
            Dir::Dst => d,
            Dir::And => Cond::and(s, d),
            Dir::Default | Dir::Or => Cond::or(s, d),
            other => return Err(wlan_dir_error(other, true)),
        })
    }

    // ----- ports -------------------------------------------------------------------

    fn ipfrag(&self) -> Cond {
        Cond::not(test(ld(BPF_H, self.nl(6)), BPF_JSET, 0x1fff))
    }

    fn tran4(&self, off: u32, size: u16) -> Vec<Insn> {
        let mut s = loadx_iphdrlen(self.nl(0));
        s.push(Insn::stmt(BPF_LD | size | BPF_IND, self.nl(off).k));
        s
    }

    /// Load from the transport header (OR_TRAN_IPV4 / OR_TRAN_IPV6).
    fn tran(&self, v6: bool, off: u32, size: u16) -> Vec<Insn> {
        if v6 {
            ld(size, self.nl(40u32.wrapping_add(off)))
        } else {
            self.tran4(off, size)
        }
    }

    fn port_atom(&self, v6: bool, off: u32, lo: u32, hi: Option<u32>) -> Cond {
        let stmts = if v6 {
            ld(BPF_H, self.nl(40 + off))
        } else {
            self.tran4(off, BPF_H)
        };
        match hi {
            None => test(stmts, BPF_JEQ, lo),
            Some(hi) => Cond::and(
                test(stmts.clone(), BPF_JGE, lo),
                Cond::not(test(stmts, BPF_JGT, hi)),
            ),
        }
    }

    fn portop(&self, v6: bool, lo: u32, hi: Option<u32>, proto: u32, dir: Dir) -> GResult<Cond> {
        let b0 = if v6 {
            cmp(self.nl(6), BPF_B, proto)
        } else {
            Cond::and(cmp(self.nl(9), BPF_B, proto), self.ipfrag())
        };
        let b1 = match dir {
            Dir::Src => self.port_atom(v6, 0, lo, hi),
            Dir::Dst => self.port_atom(v6, 2, lo, hi),
            Dir::Default | Dir::Or => {
                Cond::or(self.port_atom(v6, 0, lo, hi), self.port_atom(v6, 2, lo, hi))
            }
            Dir::And => Cond::and(self.port_atom(v6, 0, lo, hi), self.port_atom(v6, 2, lo, hi)),
            other => return Err(wlan_dir_error(other, false)),
        };
        Ok(Cond::and(b0, b1))
    }

    fn port_family(
        &self,
        v6: bool,
        lo: u32,
        hi: Option<u32>,
        proto: Option<u32>,
        dir: Dir,
    ) -> GResult<Cond> {
        let b0 = self.linktype(if v6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IP })?;
        let b1 = match proto {
            Some(p) => self.portop(v6, lo, hi, p, dir)?,
            None => {
                let tcp_udp = Cond::or(
                    self.portop(v6, lo, hi, IPPROTO_TCP, dir)?,
                    self.portop(v6, lo, hi, IPPROTO_UDP, dir)?,
                );
                Cond::or(self.portop(v6, lo, hi, IPPROTO_SCTP, dir)?, tcp_udp)
            }
        };
        Ok(Cond::and(b0, b1))
    }

    /// `port N` / `portrange A-B` (IPv6 first, then IPv4, as libpcap orders them).
    pub fn port(&self, lo: u32, hi: Option<u32>, proto: Option<u32>, dir: Dir) -> GResult<Cond> {
        let v4 = self.port_family(false, lo, hi, proto, dir)?;
        let v6 = self.port_family(true, lo, hi, proto, dir)?;
        Ok(Cond::or(v6, v4))
    }

    // ----- other primitives --------------------------------------------------------

    pub fn broadcast(&self, p: Pq) -> GResult<Cond> {
        match p {
            Pq::Default | Pq::Link => {
                if self.link == Link::Arcnet {
                    return self.ahost(0, Dir::Dst);
                }
                // libpcap 1.11: MS/TP broadcast is destination 0xff
                if self.link == Link::MsTp {
                    return self.ahost(0xff, Dir::Dst);
                }
                if self.link == Link::Wlan {
                    return Ok(self.wlan_host(&[0xff; 6], Dir::Dst));
                }
                match self.mac48_offsets() {
                    Some((_, dst)) => Ok(self.with_ll_check(bcmp(self.linkhdr(dst), &[0xff; 6]))),
                    None => Err("not a broadcast link".into()),
                }
            }
            Pq::Ip => {
                // tcpdump reading a file passes netmask 0, so the host mask is all ones.
                let b0 = self.linktype(ETHERTYPE_IP)?;
                let b1 = Cond::or(
                    mcmp(self.nl(16), BPF_W, 0, 0xffff_ffff),
                    mcmp(self.nl(16), BPF_W, 0xffff_ffff, 0xffff_ffff),
                );
                Ok(Cond::and(b0, b1))
            }
            _ => Err("only link-layer/IP broadcast filters supported".into()),
        }
    }

    pub fn multicast(&self, p: Pq) -> GResult<Cond> {
        match p {
            Pq::Default | Pq::Link => {
                if self.link == Link::Arcnet {
                    return self.ahost(0, Dir::Dst);
                }
                if self.link == Link::Wlan {
                    let mc = |k: u32| test(ld(BPF_B, self.linkhdr(k)), BPF_JSET, 1);
                    return Ok(self.wlan_by_ds(mc(16), mc(4), None, mc(4)));
                }
                if let Some((_, dst)) = self.mac48_offsets() {
                    Ok(self.with_ll_check(test(ld(BPF_B, self.linkhdr(dst)), BPF_JSET, 1)))
                } else {
                    Err("link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel".into())
                }
            }
            Pq::Ip => Ok(Cond::and(self.linktype(ETHERTYPE_IP)?, cmp_ge(self.nl(16), BPF_B, 224))),
            Pq::Ip6 => Ok(Cond::and(self.linktype(ETHERTYPE_IPV6)?, cmp(self.nl(24), BPF_B, 255))),
            _ => Err("link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel".into()),
        }
    }

    pub fn less(n: u32) -> Cond {
        Cond::not(test(
            vec![Insn::stmt(BPF_LD | BPF_W | BPF_LEN, 0)],
            BPF_JGT,
            n,
        ))
    }

    pub fn greater(n: u32) -> Cond {
        test(vec![Insn::stmt(BPF_LD | BPF_W | BPF_LEN, 0)], BPF_JGE, n)
    }

    /// `byte IDX OP VAL` on the link-layer header.
    pub fn byteop(&self, opc: char, idx: u32, val: u32) -> GResult<Cond> {
        max_val("byte argument", val, 0xff)?;
        let off = self.linkhdr(idx);
        Ok(match opc {
            '=' => cmp(off, BPF_B, val),
            '<' => Cond::not(cmp_ge(off, BPF_B, val)),
            '>' => cmp_gt(off, BPF_B, val),
            '|' => Cond::not(test(
                {
                    let mut s = ld(BPF_B, off);
                    s.push(Insn::stmt(BPF_ALU | crate::insn::BPF_OR | BPF_K, val));
                    s
                },
                BPF_JEQ,
                0,
            )),
            _ => test(ld(BPF_B, off), BPF_JSET, val),
        })
    }

    pub fn inbound(&self, outbound: bool) -> GResult<Cond> {
        let c = match self.link {
            Link::Sll if self.off_linkhdr == Off::abs(0) => {
                cmp(Off::abs(0), BPF_H, LINUX_SLL_OUTGOING)
            }
            Link::Sll2 if self.off_linkhdr == Off::abs(0) => {
                cmp(Off::abs(10), BPF_B, LINUX_SLL_OUTGOING)
            }
            // libpcap 1.10: inbound is `link[0] == 0`, outbound its negation
            // (libpcap 1.11 compares with 1 for outbound instead). It is an
            // arithmetic relation (gen_relation): libpcap indexes `link[0]`
            // through X, which holds the 0 after it (`Test::x_const`).
            _ if self.dlt == 8 => Cond::Test(Test {
                stmts: ld(BPF_B, self.linkhdr(0)),
                code: BPF_JMP | BPF_JEQ | BPF_K,
                k: 0,
                arith: true,
                x_const: Some(0),
                vn: Some(vn_relation(
                    &Arith::Load {
                        tran: false,
                        base: self.linkhdr(0),
                        index: Box::new(Arith::Const(0)),
                        size: BPF_B,
                        index_reg: 0,
                    },
                    None,
                )),
            }),
            _ if self.dlt == 226 => {
                return Ok(cmp(self.linkhdr(2), BPF_H, if outbound { 1 } else { 2 }));
            }
            // struct pfloghdr's dir: PF_IN 1, PF_OUT 2
            _ if self.dlt == 117 => {
                return Ok(cmp(self.linkhdr(60), BPF_B, if outbound { 2 } else { 1 }));
            }
            _ if self.dlt == 166 => {
                return Ok(cmp(self.linkhdr(0), BPF_B, if outbound { 1 } else { 0 }));
            }
            Link::Juniper => {
                return Ok(mcmp(self.linkhdr(3), BPF_B, u32::from(!outbound), 0x01));
            }
            // libpcap 1.11: the direction bits of the switch tag
            _ if self.dlt == 281 => {
                return Ok(mcmp(
                    self.linkhdr(12),
                    BPF_B,
                    if outbound { 0x20 } else { 0 },
                    0xe0,
                ));
            }
            _ if self.dlt == 284 => {
                return Ok(if outbound {
                    mcmp(self.linkhdr(12), BPF_B, 0x40, 0xc0)
                } else {
                    mcmp(self.linkhdr(12), BPF_B, 0, 0x40)
                });
            }
            // libpcap on Linux, live capture: the packet type the socket
            // reports (`ldh [type]`, SKF_AD_PKTTYPE) is PACKET_OUTGOING or not.
            _ if self.live => {
                let c = cmp(
                    self.linkhdr(crate::insn::SKF_AD_OFF + crate::insn::SKF_AD_PKTTYPE),
                    BPF_H,
                    crate::insn::PACKET_OUTGOING,
                );
                return Ok(if outbound { c } else { Cond::not(c) });
            }
            _ => {
                return Err(format!(
                    "inbound/outbound not supported on {} when reading savefiles",
                    self.desc()
                ));
            }
        };
        Ok(if outbound == (self.dlt == 8) {
            Cond::not(c)
        } else {
            c
        })
    }

    /// libpcap's `gen_pf_*`: the fields of `struct pfloghdr` (`ifname`/`on`,
    /// `ruleset`/`rset` as byte strings, `rnr`/`srnr` 32-bit, `reason` and
    /// `action` one byte).
    pub fn pf_field(&self, field: PfField) -> GResult<Cond> {
        let name = match field {
            PfField::Ifname(_) => "ifname",
            PfField::Ruleset(_) => "ruleset",
            PfField::Rnr(_) => "rnr",
            PfField::Srnr(_) => "srnr",
            PfField::Reason(_) => "reason",
            PfField::Action(_) => "action",
        };
        if self.dlt != 117 {
            return Err(format!("{name} supported only on PF linktype"));
        }
        Ok(match field {
            PfField::Ifname(s) => {
                if s.len() >= 16 {
                    return Err("ifname interface names can only be 15 characters".into());
                }
                bcmp(self.linkhdr(4), s.as_bytes())
            }
            PfField::Ruleset(s) => {
                if s.len() >= 16 {
                    return Err("ruleset names can only be 15 characters".into());
                }
                bcmp(self.linkhdr(20), s.as_bytes())
            }
            PfField::Rnr(n) => cmp(self.linkhdr(36), BPF_W, n),
            PfField::Srnr(n) => cmp(self.linkhdr(40), BPF_W, n),
            PfField::Reason(n) => cmp(self.linkhdr(3), BPF_B, n),
            PfField::Action(n) => cmp(self.linkhdr(2), BPF_B, n),
        })
    }

    pub fn vlan(&mut self, id: Option<u32>) -> GResult<Cond> {
        // libpcap: "can't check for VLAN-encapsulated packets inside MPLS"
        if self.label_stack_depth > 0 {
            return Err("no VLAN match after MPLS".to_string());
        }
        let tpid = match self.link {
            Link::Ethernet if !self.atm => {
                let lt = self.linktype_off(0);
                Cond::or(
                    Cond::or(
                        cmp(lt, BPF_H, ETHERTYPE_8021Q),
                        cmp(lt, BPF_H, ETHERTYPE_8021AD),
                    ),
                    cmp(lt, BPF_H, ETHERTYPE_8021QINQ),
                )
            }
            // libpcap 1.10: 802.11 except PPI (and LANE), through gen_linktype()
            Link::Wlan | Link::Ethernet if self.dlt != 192 => Cond::or(
                Cond::or(
                    self.linktype(ETHERTYPE_8021Q)?,
                    self.linktype(ETHERTYPE_8021AD)?,
                ),
                self.linktype(ETHERTYPE_8021QINQ)?,
            ),
            _ => return Err(format!("no VLAN support for {}", self.desc())),
        };
        let c = match id {
            Some(v) if v > 0x0fff => return Err(format!("VLAN tag {v} greater than maximum 4095")),
            Some(v) => Cond::and(tpid, mcmp(self.nl(0), BPF_H, v, 0x0fff)),
            None => tpid,
        };
        self.off_linkpl = self.off_linkpl.add(4);
        self.off_linktype = self.off_linktype.add(4);
        Ok(c)
    }

    pub fn mpls(&mut self, label: Option<u32>) -> GResult<Cond> {
        let mut c = if self.label_stack_depth > 0 {
            mcmp(
                self.nl(0u32.wrapping_sub(4).wrapping_add(2)),
                BPF_B,
                0,
                0x01,
            )
        } else {
            match self.link {
                Link::Ethernet | Link::Chdlc => self.linktype(ETHERTYPE_MPLS)?,
                Link::Ppp if self.dlt == 9 => self.linktype(0x0281)?,
                _ => return Err(format!("no MPLS support for {}", self.desc())),
            }
        };
        if let Some(l) = label {
            if l > 0xfffff {
                return Err(format!("MPLS label {l} greater than maximum 1048575"));
            }
            c = Cond::and(c, mcmp(self.nl(0), BPF_W, l << 12, 0xffff_f000));
        }
        self.off_nl_nosnap = self.off_nl_nosnap.wrapping_add(4);
        self.off_nl = self.off_nl.wrapping_add(4);
        self.label_stack_depth += 1;
        Ok(c)
    }

    pub fn pppoed(&self) -> GResult<Cond> {
        self.linktype(ETHERTYPE_PPPOED)
    }

    pub fn pppoes(&mut self, sess: Option<u32>) -> GResult<Cond> {
        let mut c = self.linktype(ETHERTYPE_PPPOES)?;
        if let Some(s) = sess {
            if s > 0xffff {
                return Err(format!(
                    "PPPoE session number {s} greater than maximum 65535"
                ));
            }
            c = Cond::and(c, mcmp(self.nl(0), BPF_W, s, 0xffff));
        }
        let hdr = self.nl(6);
        self.dlt = 9;
        self.link = Link::Ppp;
        self.off_linkhdr = hdr;
        self.off_linktype = hdr;
        self.off_linkpl = hdr.add(2);
        self.off_nl = 0;
        self.off_nl_nosnap = 0;
        self.encap = false;
        Ok(c)
    }

    /// `geneve [vni]` / `vxlan [vni]` (libpcap 1.10 `gen_geneve()`, libpcap 1.11
    /// `gen_vxlan()`): UDP to the tunnel port over IPv4 or IPv6, a valid tunnel
    /// header and the VNI if given. Everything after it applies to the
    /// encapsulated packet, whose offsets depend on the outer IPv4 header length
    /// and, for Geneve, the options length: they are computed at run time into
    /// three scratch registers (link-layer type, link-layer header, link-layer
    /// payload) that later loads go through (`ldx M[r]; ld [x + k]`).
    ///
    /// For Geneve the payload is an Ethernet frame when the protocol type is
    /// Transparent Ethernet Bridging (0x6558); otherwise the protocol type field
    /// itself serves as the EtherType of a payload without link header, and the
    /// link header and payload offsets are equal.
    pub fn encap(&mut self, kind: Encap, vni: Option<u32>) -> GResult<Cond> {
        use crate::insn::{BPF_ADD, BPF_MUL, BPF_TXA};
        let (port, name) = match kind {
            Encap::Geneve => (GENEVE_PORT, "Geneve"),
            Encap::Vxlan => (VXLAN_PORT, "VXLAN"),
        };
        let mut checks = Vec::new();
        for v6 in [false, true] {
            let mut c = self.port_family(v6, port, None, Some(IPPROTO_UDP), Dir::Dst)?;
            let mut flags = self.tran(v6, 8, BPF_B);
            let flags = match kind {
                // version 0
                Encap::Geneve => {
                    flags.push(Insn::stmt(BPF_ALU | BPF_AND | BPF_K, 0xc0));
                    test(flags, BPF_JEQ, 0)
                }
                // only the I flag
                Encap::Vxlan => test(flags, BPF_JEQ, 0x08),
            };
            c = Cond::and(c, flags);
            if let Some(v) = vni {
                if v > 0x00ff_ffff {
                    return Err(format!("{name} VNI {v} greater than maximum 16777215"));
                }
                let mut s = self.tran(v6, 12, BPF_W);
                s.push(Insn::stmt(BPF_ALU | BPF_AND | BPF_K, 0xffff_ff00));
                c = Cond::and(c, test(s, BPF_JEQ, v << 8));
            }
            checks.push(c);
        }
        let lt = self.alloc_reg()?;
        let hdr = self.alloc_reg()?;
        let pl = self.alloc_reg()?;
        let nl = self.nl(0);
        // libpcap allocates the three registers here, in this order.
        {
            let mut sim = self.sim.borrow_mut();
            for r in [lt, hdr, pl] {
                let n = sim.alloc();
                sim.map[r as usize] = Some(n);
            }
        }
        let alu = |op: u16, k: u32| Insn::stmt(BPF_ALU | op | BPF_K, k);
        let c = if kind == Encap::Geneve {
            // libpcap 1.10's gen_geneve4/6 and gen_geneve_offsets, as its
            // code generator writes them (it turns its optimiser off): each
            // family leaves the outer IP header length in A and X (a test of
            // A == X that always holds joins them), then the offsets.
            let carry = |v6: bool| {
                let stmts = match (v6, nl.reg) {
                    (true, None) => vec![
                        Insn::stmt(BPF_LD | BPF_IMM, 40),
                        Insn::stmt(BPF_MISC | BPF_TAX, 0),
                    ],
                    (true, Some(r)) => vec![
                        Insn::stmt(BPF_LDX | BPF_MEM, r),
                        Insn::stmt(BPF_LD | BPF_IMM, 40),
                        Insn::stmt(BPF_ALU | BPF_ADD | BPF_X, 0),
                        Insn::stmt(BPF_MISC | BPF_TAX, 0),
                    ],
                    (false, _) => {
                        let mut s = loadx_iphdrlen(nl);
                        s.push(Insn::stmt(BPF_MISC | BPF_TXA, 0));
                        s
                    }
                };
                Cond::Test(Test {
                    stmts,
                    code: BPF_JMP | BPF_JEQ | BPF_X,
                    k: 0,
                    arith: false,
                    x_const: None,
                    vn: None,
                })
            };
            let mut fams = checks
                .into_iter()
                .zip([false, true])
                .map(|(c, v6)| Cond::and(c, carry(v6)));
            let (Some(v4), Some(v6)) = (fams.next(), fams.next()) else {
                return Err("internal error: missing tunnel family".into());
            };
            let offsets = test(
                vec![
                    alu(BPF_ADD, nl.k.wrapping_add(8)),
                    Insn::stmt(BPF_MISC | BPF_TAX, 0),
                    alu(BPF_ADD, 2),
                    Insn::stmt(BPF_ST, lt),
                    Insn::stmt(BPF_LD | BPF_B | BPF_IND, 0),
                    alu(BPF_AND, 0x3f),
                    alu(BPF_MUL, 4),
                    alu(BPF_ADD, 8),
                    Insn::stmt(BPF_ALU | BPF_ADD | BPF_X, 0),
                    Insn::stmt(BPF_ST, hdr),
                    Insn::stmt(BPF_LD | BPF_H | BPF_IND, 2),
                    Insn::stmt(BPF_LDX | BPF_MEM, hdr),
                ],
                BPF_JEQ,
                ETHERTYPE_TEB,
            );
            // Transparent Ethernet Bridging: an Ethernet header follows.
            let teb = always(vec![
                Insn::stmt(BPF_MISC | BPF_TXA, 0),
                alu(BPF_ADD, 12),
                Insn::stmt(BPF_ST, lt),
                alu(BPF_ADD, 2),
                Insn::stmt(BPF_MISC | BPF_TAX, 0),
            ]);
            // X is the payload offset; libpcap's gen_true() follows.
            let joint = Cond::Shared(std::rc::Rc::new(test(
                vec![Insn::stmt(BPF_STX, pl), Insn::stmt(BPF_LD | BPF_IMM, 0)],
                BPF_JEQ,
                0,
            )));
            Cond::and(
                Cond::or(v4, v6),
                Cond::If(
                    Box::new(offsets),
                    Box::new(Cond::and(teb, joint.clone())),
                    Box::new(joint),
                ),
            )
        } else {
            let always = |mut stmts: Vec<Insn>| {
                stmts.push(Insn::stmt(BPF_LD | BPF_IMM, 0));
                test(stmts, BPF_JGE, 0)
            };
            // A = outer IP header length plus the variable part of its offset.
            let ip_len = |v6: bool| -> Vec<Insn> {
                match (v6, nl.reg) {
                    (true, None) => vec![Insn::stmt(BPF_LD | BPF_IMM, 40)],
                    (true, Some(r)) => vec![
                        Insn::stmt(BPF_LDX | BPF_MEM, r),
                        Insn::stmt(BPF_LD | BPF_IMM, 40),
                        Insn::stmt(BPF_ALU | BPF_ADD | BPF_X, 0),
                    ],
                    (false, _) => {
                        let mut s = loadx_iphdrlen(nl);
                        s.push(Insn::stmt(BPF_MISC | BPF_TXA, 0));
                        s
                    }
                }
            };
            // Then A = start of the VXLAN header (after the 8-byte UDP header).
            let tail = vec![
                alu(BPF_ADD, nl.k.wrapping_add(8)),
                alu(BPF_ADD, 8),
                Insn::stmt(BPF_ST, hdr),
                alu(BPF_ADD, 12),
                Insn::stmt(BPF_ST, lt),
                alu(BPF_ADD, 2),
                Insn::stmt(BPF_ST, pl),
            ];
            let mut fams = checks.into_iter().zip([false, true]).map(|(c, v6)| {
                let mut s = ip_len(v6);
                s.extend_from_slice(&tail);
                Cond::and(c, always(s))
            });
            let (Some(v4), Some(v6)) = (fams.next(), fams.next()) else {
                return Err("internal error: missing tunnel family".into());
            };
            Cond::or(v4, v6)
        };
        self.dlt = DLT_EN10MB;
        self.link = Link::Ethernet;
        self.off_linkhdr = Off {
            reg: Some(hdr),
            k: 0,
        };
        self.off_linktype = Off {
            reg: Some(lt),
            k: 0,
        };
        self.off_linkpl = Off {
            reg: Some(pl),
            k: 0,
        };
        self.off_nl = 0;
        self.encap = true;
        self.used_encap = true;
        Ok(c)
    }

    /// libpcap's `gen_llc_internal()`: does the frame have an 802.2 LLC header?
    pub fn llc(&self) -> GResult<Cond> {
        match self.dlt {
            DLT_EN10MB | 281 | 284 => {
                let b0 = Cond::not(cmp_gt(self.linktype_off(0), BPF_H, ETHERMTU));
                let b1 = Cond::not(cmp(self.llc_off(0), BPF_H, 0xffff));
                Ok(Cond::and(b0, b1))
            }
            123 => Ok(mcmp(self.linkhdr(0), BPF_B, 2, 0x0f)),
            105 | 119 | 127 | 163 | 192 => Ok(self.wlan_data_frame()),
            6 | 10 | 11 => Ok(Cond::True),
            _ => Err(format!("'llc' not supported for {}", self.desc())),
        }
    }

    /// `llc i`: an LLC information frame (control byte bit 0 clear).
    pub fn llc_i(&self) -> GResult<Cond> {
        let b0 = self.llc()?;
        let b1 = Cond::not(test(ld(BPF_B, self.llc_off(2)), BPF_JSET, 0x01));
        Ok(Cond::and(b0, b1))
    }

    /// `llc s` / `llc u`: supervisory (0x01) or unnumbered (0x03) format.
    pub fn llc_format(&self, fmt: u32) -> GResult<Cond> {
        Ok(Cond::and(
            self.llc()?,
            mcmp(self.llc_off(2), BPF_B, fmt, 0x03),
        ))
    }

    /// `llc rr|rnr|rej` (`mask` 0x0f) and `llc ui|ua|disc|...` (`mask` 0xef).
    pub fn llc_subtype(&self, subtype: u32, mask: u32) -> GResult<Cond> {
        Ok(Cond::and(
            self.llc()?,
            mcmp(self.llc_off(2), BPF_B, subtype, mask),
        ))
    }

    // ----- arithmetic --------------------------------------------------------------

    /// `proto[index:size]`.
    pub fn load(&self, p: Pq, index: ArithV, size: u32) -> GResult<ArithV> {
        let size = match size {
            1 => BPF_B,
            2 => BPF_H,
            4 => BPF_W,
            _ => return Err("data size must be 1, 2, or 4".into()),
        };
        let ArithV {
            e: idx,
            mut guards,
            reg: idx_reg,
            raw: idx_raw,
        } = index;
        let idx = Box::new(idx);
        // libpcap's gen_load(): a register for the loaded value, the index's
        // freed, then the offsets in the order libpcap generates them.
        let reg = self.sim_alloc();
        self.sim_free(idx_reg);
        let raw = |tran: bool, base: Off| {
            let mut r = idx_raw.clone();
            r.extend(raw_load(tran, base, size, idx_reg));
            r.push(raw_st(reg));
            r
        };
        match p {
            Pq::Radio if matches!(self.dlt, 119 | 127 | 163) => Ok(ArithV {
                e: Arith::Load {
                    tran: false,
                    base: Off::abs(0),
                    index: idx,
                    size,
                    index_reg: idx_reg,
                },
                guards,
                reg,
                raw: raw(false, Off::abs(0)),
            }),
            Pq::Radio => Err("radio information not present in capture".into()),
            Pq::Link => {
                let base = self.linkhdr(0);
                Ok(ArithV {
                    e: Arith::Load {
                        tran: false,
                        base,
                        index: idx,
                        size,
                        index_reg: idx_reg,
                    },
                    guards,
                    reg,
                    raw: raw(false, base),
                })
            }
            Pq::Ip
            | Pq::Arp
            | Pq::Rarp
            | Pq::Atalk
            | Pq::Decnet
            | Pq::Sca
            | Pq::Lat
            | Pq::Moprc
            | Pq::Mopdl
            | Pq::Ip6 => {
                let base = self.nl(0);
                guards.push(self.proto_abbrev(p)?);
                Ok(ArithV {
                    e: Arith::Load {
                        tran: false,
                        base,
                        index: idx,
                        size,
                        index_reg: idx_reg,
                    },
                    guards,
                    reg,
                    raw: raw(false, base),
                })
            }
            Pq::Sctp
            | Pq::Tcp
            | Pq::Udp
            | Pq::Icmp
            | Pq::Igmp
            | Pq::Igrp
            | Pq::Pim
            | Pq::Vrrp
            | Pq::Carp => {
                let base = self.nl(0);
                let mut g = vec![self.linktype(ETHERTYPE_IP)?];
                g.append(&mut guards);
                g.push(self.proto_abbrev(p)?);
                g.push(self.ipfrag());
                Ok(ArithV {
                    e: Arith::Load {
                        tran: true,
                        base,
                        index: idx,
                        size,
                        index_reg: idx_reg,
                    },
                    guards: g,
                    reg,
                    raw: raw(true, base),
                })
            }
            Pq::Icmp6 => {
                guards.push(self.proto_abbrev(Pq::Ip6)?);
                guards.push(cmp(self.nl(6), BPF_B, IPPROTO_ICMPV6));
                Ok(ArithV {
                    e: Arith::Load {
                        tran: false,
                        base: self.nl(40),
                        index: idx,
                        size,
                        index_reg: idx_reg,
                    },
                    guards,
                    reg,
                    raw: raw(false, self.nl(40)),
                })
            }
            _ => Err("unsupported index operation".into()),
        }
    }
}

fn wlan_dir_error(d: Dir, mac: bool) -> String {
    let (q, long) = match d {
        Dir::Addr1 => ("addr1", "address1"),
        Dir::Addr2 => ("addr2", "address2"),
        Dir::Addr3 => ("addr3", "address3"),
        Dir::Addr4 => ("addr4", "address4"),
        Dir::Ra => ("ra", "ra"),
        _ => ("ta", "ta"),
    };
    let what = if q == long {
        format!("'{q}'")
    } else {
        format!("'{q}' and '{long}'")
    };
    if mac {
        format!(
            "{what} {} only supported on 802.11 with 802.11 headers",
            if q == long { "is" } else { "are" }
        )
    } else {
        format!(
            "{what} {} not valid qualifiers for addresses other than 802.11 MAC addresses",
            if q == long { "is" } else { "are" }
        )
    }
}

/// Fold a binary arithmetic operation on constants, with libpcap's compile-time errors.
pub(crate) fn arith_bin(op: u16, a: ArithV, b: ArithV) -> GResult<ArithV> {
    use crate::insn::{BPF_DIV, BPF_LSH, BPF_MOD, BPF_RSH};
    if let Arith::Const(k) = b.e {
        match op {
            BPF_DIV if k == 0 => return Err("division by zero".into()),
            BPF_MOD if k == 0 => return Err("modulus by zero".into()),
            BPF_LSH | BPF_RSH if k > 31 => return Err("shift by more than 31 bits".into()),
            _ => {}
        }
    }
    // libpcap's gen_arth() returns the left operand's `arth` with only its
    // protocol checks (`a0->b`): the right operand's checks are dropped, in
    // every libpcap version, so `tcp[0] + arp[7] < 1` on a NULL link checks
    // for TCP and loads `arp[7]` unguarded. Verdicts follow that.
    let guards = a.guards;
    if let (Arith::Const(x), Arith::Const(y)) = (&a.e, &b.e) {
        let v = crate::cfg::fold_alu(op, *x, *y).ok_or_else(|| "division by zero".to_string())?;
        return Ok(ArithV {
            e: Arith::Const(v),
            guards,
            reg: a.reg,
            raw: Vec::new(),
        });
    }
    Ok(ArithV {
        e: Arith::Bin(op, Box::new(a.e), Box::new(b.e), a.reg),
        guards,
        reg: a.reg,
        raw: Vec::new(),
    })
}

/// The scratch slots an optimised arithmetic computation may use: those
/// below `limit` (above it, state across blocks), except `avoid` (a bit per
/// slot: libpcap's numbers of the run-time offset registers, which the final
/// renumbering swaps with pcapx's).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ArithSlots {
    pub limit: u32,
    pub avoid: u16,
}

/// A load at a constant index (`proto[i]`), the same in optimised and
/// libpcap-order arithmetic.
fn const_index_load(tran: bool, base: Off, i: u32, size: u16, out: &mut Vec<Insn>) {
    match (tran, base.reg) {
        // (`ld #0; add x` is `txa`, which libpcap's value numbering drops)
        (false, None) => out.extend(ld(size, base.add(i))),
        (false, Some(_)) if i == 0 => out.extend(ld(size, base.add(i))),
        // After a run-time offset libpcap keeps the index separate (its
        // peephole only folds `ld #k; add x`).
        (false, Some(r)) => {
            out.push(Insn::stmt(BPF_LD | BPF_IMM, i));
            out.push(Insn::stmt(BPF_LDX | BPF_MEM, r));
            out.push(Insn::stmt(BPF_ALU | crate::insn::BPF_ADD | BPF_X, 0));
            out.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
            out.push(Insn::stmt(BPF_LD | size | BPF_IND, base.k));
        }
        (true, _) => {
            out.extend(loadx_iphdrlen(base));
            out.push(Insn::stmt(BPF_LD | size | BPF_IND, base.k.wrapping_add(i)));
        }
    }
}

/// Compile an arithmetic expression into statements leaving its value in A,
/// using scratch slots from `depth` upwards, below `slots.limit`.
fn compile_arith(e: &Arith, depth: u32, slots: ArithSlots, out: &mut Vec<Insn>) -> GResult<()> {
    let limit = slots.limit;
    if depth >= limit {
        return Err("too many registers needed to evaluate expression".into());
    }
    match e {
        Arith::Const(k) => out.push(Insn::stmt(BPF_LD | BPF_IMM, *k)),
        Arith::Len => out.push(Insn::stmt(BPF_LD | BPF_W | BPF_LEN, 0)),
        Arith::Load {
            tran,
            base,
            index,
            size,
            index_reg,
        } => match (tran, index.as_ref()) {
            (_, Arith::Const(i)) => const_index_load(*tran, *base, *i, *size, out),
            (false, idx) => {
                compile_arith(idx, depth, slots, out)?;
                if let Some(r) = base.reg {
                    out.push(Insn::stmt(BPF_LDX | BPF_MEM, r));
                    out.push(Insn::stmt(BPF_ALU | crate::insn::BPF_ADD | BPF_X, 0));
                }
                out.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                out.push(Insn::stmt(BPF_LD | size | BPF_IND, base.k));
            }
            (true, idx) => {
                compile_arith(idx, depth, slots, out)?;
                // libpcap's gen_load_internal() reloads the index from the
                // register it was computed into; where the IPv4 header
                // length is computed in A (a run-time link offset: PFLOG)
                // that store survives its optimiser, so keep libpcap's
                // number when no enclosing computation holds a slot.
                let slot =
                    if depth == 0 && *index_reg < limit && slots.avoid & (1 << *index_reg) == 0 {
                        *index_reg
                    } else {
                        depth
                    };
                out.push(Insn::stmt(BPF_ST, slot));
                out.extend(loadx_iphdrlen(*base));
                out.push(Insn::stmt(BPF_LD | BPF_MEM, slot));
                out.push(Insn::stmt(BPF_ALU | crate::insn::BPF_ADD | BPF_X, 0));
                out.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                out.push(Insn::stmt(BPF_LD | size | BPF_IND, base.k));
            }
        },
        Arith::Bin(op, l, r, _) => {
            if let Arith::Const(k) = r.as_ref() {
                compile_arith(l, depth, slots, out)?;
                out.push(Insn::stmt(BPF_ALU | op | BPF_K, *k));
            } else {
                compile_arith(r, depth, slots, out)?;
                out.push(Insn::stmt(BPF_ST, depth));
                compile_arith(l, depth + 1, slots, out)?;
                out.push(Insn::stmt(BPF_LDX | BPF_MEM, depth));
                out.push(Insn::stmt(BPF_ALU | op | BPF_X, 0));
            }
        }
        Arith::Neg(a) => {
            compile_arith(a, depth, slots, out)?;
            out.push(Insn::stmt(BPF_ALU | BPF_NEG, 0));
        }
    }
    Ok(())
}

/// Can `e` be computed in libpcap's own scratch registers ([`compile_arith_lib`])?
/// Every register libpcap keeps a value in while computing `e` must be one
/// optimised arithmetic may use (below `slots.limit`, not a run-time offset's).
fn lib_regs_ok(e: &Arith, slots: ArithSlots) -> bool {
    let ok = |r: u32| r < slots.limit && r < 16 && slots.avoid & (1 << r) == 0;
    match e {
        Arith::Const(_) | Arith::Len => true,
        Arith::Load {
            tran,
            index,
            index_reg,
            ..
        } => {
            (!*tran || matches!(index.as_ref(), Arith::Const(_)) || ok(*index_reg))
                && lib_regs_ok(index, slots)
        }
        Arith::Bin(_, l, r, lreg) => ok(*lreg) && lib_regs_ok(l, slots) && lib_regs_ok(r, slots),
        Arith::Neg(a) => lib_regs_ok(a, slots),
    }
}

/// Compile `e` in libpcap's order (`gen_arth`: the left operand into its
/// register, the right operand, `tax`, the left operand back, `op x`), with
/// libpcap's register numbers, before [`local_opt`] removes what libpcap's
/// value numbering and dead-code passes remove. Only where [`lib_regs_ok`].
fn compile_arith_lib(e: &Arith, out: &mut Vec<Insn>) {
    match e {
        Arith::Const(k) => out.push(Insn::stmt(BPF_LD | BPF_IMM, *k)),
        Arith::Len => out.push(Insn::stmt(BPF_LD | BPF_W | BPF_LEN, 0)),
        Arith::Load {
            tran,
            base,
            index,
            size,
            index_reg,
        } => match (tran, index.as_ref()) {
            (_, Arith::Const(i)) => const_index_load(*tran, *base, *i, *size, out),
            (false, idx) => {
                compile_arith_lib(idx, out);
                if let Some(r) = base.reg {
                    out.push(Insn::stmt(BPF_LDX | BPF_MEM, r));
                    out.push(Insn::stmt(BPF_ALU | crate::insn::BPF_ADD | BPF_X, 0));
                }
                out.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                out.push(Insn::stmt(BPF_LD | size | BPF_IND, base.k));
            }
            (true, idx) => {
                compile_arith_lib(idx, out);
                out.push(Insn::stmt(BPF_ST, *index_reg));
                out.extend(loadx_iphdrlen(*base));
                out.push(Insn::stmt(BPF_LD | BPF_MEM, *index_reg));
                out.push(Insn::stmt(BPF_ALU | crate::insn::BPF_ADD | BPF_X, 0));
                out.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                out.push(Insn::stmt(BPF_LD | size | BPF_IND, base.k));
            }
        },
        Arith::Bin(op, l, r, lreg) => match (l.as_ref(), r.as_ref()) {
            (_, Arith::Const(k)) => {
                compile_arith_lib(l, out);
                out.push(Insn::stmt(BPF_ALU | op | BPF_K, *k));
            }
            // libpcap's constant propagation: `ld M[r]` of a stored
            // constant becomes `ld #k`, its store then dead
            (Arith::Const(k), _) => {
                compile_arith_lib(r, out);
                out.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                out.push(Insn::stmt(BPF_LD | BPF_IMM, *k));
                out.push(Insn::stmt(BPF_ALU | op | BPF_X, 0));
            }
            _ => {
                compile_arith_lib(l, out);
                out.push(Insn::stmt(BPF_ST, *lreg));
                compile_arith_lib(r, out);
                out.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                out.push(Insn::stmt(BPF_LD | BPF_MEM, *lreg));
                out.push(Insn::stmt(BPF_ALU | op | BPF_X, 0));
            }
        },
        Arith::Neg(a) => {
            compile_arith_lib(a, out);
            out.push(Insn::stmt(BPF_ALU | BPF_NEG, 0));
        }
    }
}

/// libpcap's optimiser on one relation's straight-line statements (all its
/// scratch registers local to them; A and X read by the jump): value
/// numbering turns a load of the value a register already holds into a
/// no-op (`vstore`), then statements whose result nothing reads go
/// (`opt_deadstores`), until nothing changes.
fn local_opt(mut stmts: Vec<Insn>) -> Vec<Insn> {
    use std::collections::HashMap;
    // a value: a number; keys of computed values -> numbers
    type Key = (u16, u32, u32, u32);
    loop {
        let mut table: HashMap<Key, u32> = HashMap::new();
        let mut next = 0u32;
        let fresh = |next: &mut u32| {
            *next += 1;
            *next
        };
        let val = |key: Key, table: &mut HashMap<Key, u32>, next: &mut u32| {
            *table.entry(key).or_insert_with(|| {
                *next += 1;
                *next
            })
        };
        let mut a = fresh(&mut next);
        let mut x = fresh(&mut next);
        let mut mem = [0u32; 16];
        for m in &mut mem {
            *m = fresh(&mut next);
        }
        let mut written = [false; 16];
        let mut keep = vec![true; stmts.len()];
        for (i, s) in stmts.iter().enumerate() {
            let c = s.code;
            let slot = (s.k as usize) % 16;
            match crate::insn::class(c) {
                BPF_LD => {
                    let v = match crate::insn::mode(c) {
                        BPF_MEM => mem[slot],
                        BPF_IND => val((c, x, s.k, 0), &mut table, &mut next),
                        _ => val((c, s.k, 0, 0), &mut table, &mut next),
                    };
                    if v == a && (crate::insn::mode(c) != BPF_MEM || written[slot]) {
                        keep[i] = false;
                    }
                    a = v;
                }
                BPF_LDX => {
                    let v = match crate::insn::mode(c) {
                        BPF_MEM => mem[slot],
                        _ => val((c, s.k, 0, 0), &mut table, &mut next),
                    };
                    // a run-time offset's register (not stored here): left
                    // to the block-level passes (index folding follows them)
                    if v == x && (crate::insn::mode(c) != BPF_MEM || written[slot]) {
                        keep[i] = false;
                    }
                    x = v;
                }
                BPF_ST => {
                    if mem[slot] == a {
                        keep[i] = false;
                    }
                    mem[slot] = a;
                    written[slot] = true;
                }
                BPF_STX => {
                    if mem[slot] == x {
                        keep[i] = false;
                    }
                    mem[slot] = x;
                    written[slot] = true;
                }
                BPF_ALU => {
                    let b = if c & BPF_X != 0 { x } else { s.k };
                    a = val((c, a, b, 1), &mut table, &mut next);
                }
                _ => {
                    if c & crate::insn::BPF_TXA != 0 {
                        if a == x {
                            keep[i] = false;
                        }
                        a = x;
                    } else {
                        if x == a {
                            keep[i] = false;
                        }
                        x = a;
                    }
                }
            }
        }
        // dead code, backwards: A and X live at the end, no register
        let (mut a_live, mut x_live, mut m_live) = (true, true, [false; 16]);
        for (i, s) in stmts.iter().enumerate().rev() {
            if !keep[i] {
                continue;
            }
            let c = s.code;
            let slot = (s.k as usize) % 16;
            match crate::insn::class(c) {
                BPF_LD => {
                    if !a_live {
                        keep[i] = false;
                        continue;
                    }
                    a_live = false;
                    match crate::insn::mode(c) {
                        BPF_MEM => m_live[slot] = true,
                        BPF_IND => x_live = true,
                        _ => {}
                    }
                }
                BPF_LDX => {
                    if !x_live {
                        keep[i] = false;
                        continue;
                    }
                    x_live = false;
                    if crate::insn::mode(c) == BPF_MEM {
                        m_live[slot] = true;
                    }
                }
                BPF_ST | BPF_STX => {
                    if !m_live[slot] {
                        keep[i] = false;
                        continue;
                    }
                    m_live[slot] = false;
                    if crate::insn::class(c) == BPF_ST {
                        a_live = true;
                    } else {
                        x_live = true;
                    }
                }
                BPF_ALU => {
                    if !a_live {
                        keep[i] = false;
                        continue;
                    }
                    if c & BPF_X != 0 && crate::insn::op(c) != BPF_NEG {
                        x_live = true;
                    }
                }
                _ => {
                    if c & crate::insn::BPF_TXA != 0 {
                        if !a_live {
                            keep[i] = false;
                            continue;
                        }
                        a_live = false;
                        x_live = true;
                    } else {
                        if !x_live {
                            keep[i] = false;
                            continue;
                        }
                        x_live = false;
                        a_live = true;
                    }
                }
            }
        }
        if keep.iter().all(|&k| k) {
            return stmts;
        }
        let mut it = keep.into_iter();
        stmts.retain(|_| it.next().unwrap_or(true));
    }
}

/// The constant libpcap's code for `e` leaves in X when its optimiser starts
/// altering statements (its second phase), where pcapx's code for `e` leaves
/// X alone: libpcap indexes `proto[i]` through X (`ldx #i; ld [x + off]`;
/// pcapx: `ld [off + i]`) and takes the right operand of `e op k` from X
/// (`ldx #k; op x`; pcapx: `op #k`). libpcap's first phase does not alter
/// statements (only its peephole runs), so those `ldx` are still read and
/// kept; the relation's own `ldx` of its constant right side is not (the
/// peephole compares with the constant instead, then the `ldx` is dead).
/// `None` where X is as pcapx's statements leave it.
fn libpcap_x_after(e: &Arith) -> Option<u32> {
    match e {
        Arith::Load {
            tran: false,
            base,
            index,
            ..
        } if base.reg.is_none() => match index.as_ref() {
            Arith::Const(i) => Some(*i),
            _ => None,
        },
        Arith::Bin(_, _, r, _) => match r.as_ref() {
            Arith::Const(k) => Some(*k),
            _ => None,
        },
        Arith::Neg(a) => libpcap_x_after(a),
        _ => None,
    }
}

/// libpcap's value of `e` in its first optimiser phase, as a description
/// (statements compared for equality only, never run): its code generator's
/// form before `opt_stmt` alters anything. `proto[i]` is indexed through X
/// (`gen_load`: the index into A, plus the run-time part of the offset or
/// the IPv4 header length, `tax`, `ld [x + off]`), and a binary operation
/// takes its right operand from X (`gen_arth`: `op x`), described by both
/// operands as the redundant load pass does.
fn vn_arith(e: &Arith, out: &mut Vec<Insn>) {
    use crate::cfg::OPERAND;
    match e {
        Arith::Const(k) => out.push(Insn::stmt(BPF_LD | BPF_IMM, *k)),
        Arith::Len => out.push(Insn::stmt(BPF_LD | BPF_W | BPF_LEN, 0)),
        Arith::Load {
            tran,
            base,
            index,
            size,
            ..
        } => {
            vn_arith(index, out);
            if *tran {
                out.extend(loadx_iphdrlen(*base));
                out.push(Insn::stmt(BPF_ALU | crate::insn::BPF_ADD | BPF_X, 0));
            } else if let Some(r) = base.reg {
                out.push(Insn::stmt(BPF_LDX | BPF_MEM, r));
                out.push(Insn::stmt(BPF_ALU | crate::insn::BPF_ADD | BPF_X, 0));
            }
            out.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
            out.push(Insn::stmt(BPF_LD | *size | BPF_IND, base.k));
        }
        Arith::Bin(op, l, r, _) => {
            vn_arith(l, out);
            let mut d = Vec::new();
            vn_arith(r, &mut d);
            out.push(Insn::stmt(
                OPERAND,
                u32::try_from(d.len()).unwrap_or(u32::MAX),
            ));
            out.extend(d);
            out.push(Insn::stmt(BPF_ALU | op | BPF_X, 0));
        }
        Arith::Neg(a) => {
            vn_arith(a, out);
            out.push(Insn::stmt(BPF_ALU | BPF_NEG, 0));
        }
    }
}

/// The description [`Test::vn`] of a relation `a0 op a1` (`a1` `None`: a
/// constant, which libpcap's peephole moves into the jump in its first
/// phase), by [`vn_arith`].
fn vn_relation(a0: &Arith, a1: Option<&Arith>) -> Vec<Insn> {
    let mut out = Vec::new();
    vn_arith(a0, &mut out);
    if let Some(a1) = a1 {
        let mut d = Vec::new();
        vn_arith(a1, &mut d);
        out.push(Insn::stmt(
            crate::cfg::OPERAND,
            u32::try_from(d.len()).unwrap_or(u32::MAX),
        ));
        out.extend(d);
    }
    out
}

/// Relational operators of the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Relop {
    Gt,
    Ge,
    Eq,
    Lt,
    Le,
    Ne,
}

/// `gen_relation()`: the guards of both sides, then the comparison.
/// Scratch slots from `limit` up hold state across blocks and are not used.
pub(crate) fn relation(op: Relop, a0: ArithV, a1: ArithV, slots: ArithSlots) -> GResult<Cond> {
    let (jop, negate) = match op {
        Relop::Gt => (BPF_JGT, false),
        Relop::Ge => (BPF_JGE, false),
        Relop::Eq => (BPF_JEQ, false),
        Relop::Lt => (BPF_JGE, true),
        Relop::Le => (BPF_JGT, true),
        Relop::Ne => (BPF_JEQ, true),
    };
    // libpcap's unoptimised gen_relation(): both values, `X = a1`, `A = a0`,
    // then `A - X == 0` or `A op X`.
    let mut raw = a0.raw.clone();
    raw.extend_from_slice(&a1.raw);
    raw.extend([raw_ldx(a1.reg), raw_ld(a0.reg)]);
    let raw_t = if jop == BPF_JEQ {
        raw.push(Insn::stmt(BPF_ALU | crate::insn::BPF_SUB | BPF_X, 0));
        test(raw, BPF_JEQ, 0)
    } else {
        Cond::Test(Test {
            stmts: raw,
            code: BPF_JMP | jop | BPF_X,
            k: 0,
            arith: false,
            x_const: None,
            vn: None,
        })
    };
    let mut stmts = Vec::new();
    let t = if let Arith::Const(k) = a1.e {
        compile_arith(&a0.e, 0, slots, &mut stmts)?;
        if lib_regs_ok(&a0.e, slots) {
            let mut lib = Vec::new();
            compile_arith_lib(&a0.e, &mut lib);
            stmts = local_opt(lib);
        }
        Cond::Test(Test {
            stmts,
            code: BPF_JMP | jop | BPF_K,
            k,
            arith: true,
            x_const: libpcap_x_after(&a0.e),
            vn: Some(vn_relation(&a0.e, None)),
        })
    } else {
        // libpcap's order: `a0` into its register, `a1`, `tax` (its peephole
        // makes `st M[r1]; ldx M[r1]` one), `a0` back (`ld #k` for a
        // constant, whose own code is then dead). Where `a1` needs scratch
        // slots of its own or `a0`'s register is not free here, `a1` first
        // into slot 0, then `a0`, then `ldx M[0]`.
        let mut right = Vec::new();
        compile_arith(&a1.e, 0, slots, &mut right)?;
        let r0 = a0.reg;
        let r0_free = r0 < slots.limit && r0 < 16 && slots.avoid & (1 << r0) == 0;
        let right_pure = !right
            .iter()
            .any(|s| matches!(crate::insn::class(s.code), BPF_ST | crate::insn::BPF_STX));
        if let (Arith::Const(k), true) = (&a0.e, right_pure) {
            stmts = right;
            stmts.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
            stmts.push(Insn::stmt(BPF_LD | BPF_IMM, *k));
        } else if r0_free && right_pure {
            compile_arith(&a0.e, 0, slots, &mut stmts)?;
            stmts.push(Insn::stmt(BPF_ST, r0));
            stmts.extend(right);
            stmts.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
            stmts.push(Insn::stmt(BPF_LD | BPF_MEM, r0));
        } else {
            stmts = right;
            stmts.push(Insn::stmt(BPF_ST, 0));
            compile_arith(&a0.e, 1, slots, &mut stmts)?;
            stmts.push(Insn::stmt(BPF_LDX | BPF_MEM, 0));
        }
        if r0_free && lib_regs_ok(&a0.e, slots) && lib_regs_ok(&a1.e, slots) {
            // libpcap's gen_relation(): `a0` into its register, `a1`, `tax`,
            // `a0` back, then its optimiser
            let mut lib = Vec::new();
            if let Arith::Const(k) = a0.e {
                compile_arith_lib(&a1.e, &mut lib);
                lib.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                lib.push(Insn::stmt(BPF_LD | BPF_IMM, k));
            } else {
                compile_arith_lib(&a0.e, &mut lib);
                lib.push(Insn::stmt(BPF_ST, r0));
                compile_arith_lib(&a1.e, &mut lib);
                lib.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                lib.push(Insn::stmt(BPF_LD | BPF_MEM, r0));
            }
            stmts = local_opt(lib);
        }
        Cond::Test(Test {
            stmts,
            code: BPF_JMP | jop | BPF_X,
            k: 0,
            arith: false,
            x_const: None,
            vn: Some(vn_relation(&a0.e, Some(&a1.e))),
        })
    };
    let t = Cond::Dual(Box::new(t), Box::new(raw_t));
    let t = if negate { Cond::not(t) } else { t };
    let mut guards = a0.guards;
    guards.extend(a1.guards);
    guards.push(t);
    Ok(and_all(guards))
}

/// Parse a dotted IPv4 prefix like libpcap's `__pcap_atoin`: value and bit length.
pub(crate) fn atoin(s: &str) -> Option<(u32, u32)> {
    let mut addr: u32 = 0;
    let mut len = 0;
    for part in s.split('.') {
        let n: u32 = part.parse().ok()?;
        if n > 255 {
            return None;
        }
        addr = (addr << 8) | n;
        len += 8;
    }
    (len <= 32).then_some((addr, len))
}

/// Parse a DECnet address `area.node` like libpcap's `__pcap_atodn`.
pub(crate) fn atodn(s: &str) -> Option<u32> {
    let mut it = s.split('.');
    let area: u32 = it.next()?.parse().ok()?;
    let node: u32 = it.next()?.parse().ok()?;
    Some(((area << 10) & 0o176_000) | (node & 0o1777))
}

/// Look up a protocol name for `proto`/`protochain` (libpcap's `lookup_proto`).
pub(crate) fn lookup_proto(name: &str, p: Pq) -> GResult<u32> {
    match p {
        Pq::Default | Pq::Ip | Pq::Ip6 => {
            names::ip_proto(name).ok_or_else(|| format!("unknown ip proto '{name}'"))
        }
        Pq::Link => names::ether_proto(name).ok_or_else(|| format!("unknown ether proto '{name}'")),
        Pq::Iso => match name {
            "esis" => Ok(ISO9542_ESIS),
            "isis" => Ok(ISO10589_ISIS),
            "clnp" => Ok(ISO8473_CLNP),
            _ => Err(format!("unknown osi proto '{name}'")),
        },
        _ => Ok(0),
    }
}
