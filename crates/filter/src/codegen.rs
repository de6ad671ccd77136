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

/// How many headers `protochain` walks before giving up (no match).
pub const PROTOCHAIN_STEPS: usize = 8;

/// Supported DLT values.
pub(crate) const DLT_NULL: u32 = 0;
pub(crate) const DLT_EN10MB: u32 = 1;
pub(crate) const DLT_RAW: u32 = 12;
pub(crate) const DLT_RAW_OPENBSD: u32 = 14;
pub(crate) const DLT_LOOP: u32 = 108;
pub(crate) const DLT_LINUX_SLL: u32 = 113;
pub(crate) const DLT_IPV4: u32 = 228;
pub(crate) const DLT_IPV6: u32 = 229;
pub(crate) const DLT_LINUX_SLL2: u32 = 276;
pub(crate) const LINKTYPE_RAW: u32 = 101;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Ethernet,
    Sll,
    Sll2,
    Null,
    Loop,
    Raw,
    Ipv4,
    Ipv6,
    Ppp,
}

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
    },
    Bin(u16, Box<Arith>, Box<Arith>),
    Neg(Box<Arith>),
}

/// An arithmetic value plus the protocol checks that must hold for it to exist.
#[derive(Clone, Debug)]
pub(crate) struct ArithV {
    pub e: Arith,
    pub guards: Vec<Cond>,
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
        return Cond::True;
    };
    for c in it {
        acc = Cond::and(acc, c);
    }
    acc
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

fn dlt_description(dlt: u32) -> String {
    match dlt {
        DLT_NULL => "BSD loopback".into(),
        DLT_EN10MB => "Ethernet".into(),
        DLT_RAW | DLT_RAW_OPENBSD | LINKTYPE_RAW => "Raw IP".into(),
        DLT_LOOP => "OpenBSD loopback".into(),
        DLT_LINUX_SLL => "Linux cooked v1".into(),
        DLT_LINUX_SLL2 => "Linux cooked v2".into(),
        DLT_IPV4 => "Raw IPv4".into(),
        DLT_IPV6 => "Raw IPv6".into(),
        other => format!("DLT {other}"),
    }
}

fn ethertype_to_ppptype(p: u32) -> u32 {
    match p {
        ETHERTYPE_IP => 0x0021,
        ETHERTYPE_IPV6 => 0x0057,
        ETHERTYPE_DN => 0x0027,
        ETHERTYPE_ATALK => 0x0029,
        ETHERTYPE_IPX | LLCSAP_IPX => 0x002b,
        LLCSAP_ISONS => 0x0023,
        LLCSAP_8021D => 0x0031,
        other => other,
    }
}

/// Code generator state (libpcap's `compiler_state_t` offsets).
pub(crate) struct Gen {
    dlt: u32,
    link: Link,
    off_linkhdr: Off,
    off_linktype: Off,
    off_linkpl: Off,
    off_nl: u32,
    off_nl_nosnap: u32,
    label_stack_depth: u32,
    null_order: NullByteOrder,
    /// Set once `protochain` was used: libpcap's optimizer cannot see through its
    /// loop, so it never reports "expression rejects all packets" for it.
    pub used_protochain: std::cell::Cell<bool>,
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
    /// Set up for a DLT; `None` if the link type is not supported.
    pub fn new(dlt: u32, null_order: NullByteOrder) -> Option<Gen> {
        let (link, off_linktype, off_linkpl, off_nl_nosnap) = match dlt {
            DLT_EN10MB => (Link::Ethernet, 12, 14, 3),
            DLT_LINUX_SLL => (Link::Sll, 14, 16, 3),
            DLT_LINUX_SLL2 => (Link::Sll2, 0, 20, 3),
            DLT_NULL => (Link::Null, 0, 4, 0),
            DLT_LOOP => (Link::Loop, 0, 4, 0),
            DLT_RAW | DLT_RAW_OPENBSD | LINKTYPE_RAW => (Link::Raw, u32::MAX, 0, 0),
            DLT_IPV4 => (Link::Ipv4, u32::MAX, 0, 0),
            DLT_IPV6 => (Link::Ipv6, u32::MAX, 0, 0),
            _ => return None,
        };
        Some(Gen {
            dlt,
            link,
            off_linkhdr: Off::abs(0),
            off_linktype: Off::abs(off_linktype),
            off_linkpl: Off::abs(off_linkpl),
            off_nl: 0,
            off_nl_nosnap,
            label_stack_depth: 0,
            null_order,
            used_protochain: std::cell::Cell::new(false),
            used_encap: false,
            encap: false,
            reg_floor: crate::cfg::PC_NH,
        })
    }

    fn desc(&self) -> String {
        dlt_description(self.dlt)
    }

    /// Scratch slots from this one up carry state across blocks.
    pub fn scratch_limit(&self) -> u32 {
        self.reg_floor
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
            }))
        })
    }

    /// `c`, preceded by the encapsulated-Ethernet check when needed.
    fn with_ll_check(&self, c: Cond) -> Cond {
        match self.encap_ll_check() {
            Some(chk) => Cond::and(chk, c),
            None => c,
        }
    }

    fn linkhdr(&self, k: u32) -> Off {
        self.off_linkhdr.add(k)
    }
    fn linktype_off(&self, k: u32) -> Off {
        self.off_linktype.add(k)
    }
    /// OR_LINKPL: relative to the network-layer header.
    fn nl(&self, k: u32) -> Off {
        self.off_linkpl.add(self.off_nl).add(k)
    }
    /// OR_LLC: relative to the link-layer payload.
    fn llc_off(&self, k: u32) -> Off {
        self.off_linkpl.add(k)
    }
    fn nosnap(&self, k: u32) -> Off {
        self.off_linkpl.add(self.off_nl_nosnap).add(k)
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
        match self.null_order {
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
            Link::Ethernet => self.ether_linktype(p),
            Link::Sll | Link::Sll2 => self.sll_linktype(p),
            Link::Null | Link::Loop => {
                let net = self.link == Link::Loop;
                match p {
                    ETHERTYPE_IP => self.loopback_linktype(2, net),
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
        })
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
            Pq::Stp => self.linktype(LLCSAP_8021D),
            Pq::Ipx => self.linktype(LLCSAP_IPX),
            Pq::Netbeui => self.linktype(LLCSAP_NETBEUI),
            Pq::Radio => Err("'radio' is not a valid protocol type".into()),
            Pq::Default => Err("syntax error".into()),
        }
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
            Pq::Link => self.linktype(v),
            Pq::Ip => Ok(Cond::and(
                self.linktype(ETHERTYPE_IP)?,
                cmp(self.nl(9), BPF_B, v),
            )),
            Pq::Ip6 => {
                let frag = Cond::and(
                    cmp(self.nl(6), BPF_B, IPPROTO_FRAGMENT),
                    cmp(self.nl(40), BPF_B, v),
                );
                let b1 = Cond::or(cmp(self.nl(6), BPF_B, v), frag);
                Ok(Cond::and(self.linktype(ETHERTYPE_IPV6)?, b1))
            }
            Pq::Iso => Ok(Cond::and(
                self.linktype(LLCSAP_ISONS)?,
                cmp(self.nosnap(0), BPF_B, v),
            )),
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
        for _ in 0..PROTOCHAIN_STEPS {
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
            Pq::Decnet => Err("DECnet addresses are not supported by pcapx".into()),
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
        let words = (0..4u32).map(|i| {
            let iu = usize::try_from(i).unwrap_or(0);
            mcmp(self.nl(off + 4 * i), BPF_W, word(addr, iu), word(mask, iu))
        });
        Ok(Cond::and(self.linktype(ETHERTYPE_IPV6)?, and_all(words)))
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
        if !self.is_ethernet() {
            return Err("ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel".into());
        }
        let c = match dir {
            Dir::Src => bcmp(self.linkhdr(6), mac),
            Dir::Dst => bcmp(self.linkhdr(0), mac),
            Dir::And => Cond::and(bcmp(self.linkhdr(6), mac), bcmp(self.linkhdr(0), mac)),
            Dir::Default | Dir::Or => {
                Cond::or(bcmp(self.linkhdr(6), mac), bcmp(self.linkhdr(0), mac))
            }
            other => return Err(wlan_dir_error(other, true)),
        };
        Ok(self.with_ll_check(c))
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
                if self.is_ethernet() {
                    Ok(self.with_ll_check(bcmp(self.linkhdr(0), &[0xff; 6])))
                } else {
                    Err("not a broadcast link".into())
                }
            }
            Pq::Ip => {
                // tcpdump reading a file passes netmask 0, so the host mask is all ones.
                let b1 = Cond::or(
                    mcmp(self.nl(16), BPF_W, 0, 0xffff_ffff),
                    mcmp(self.nl(16), BPF_W, 0xffff_ffff, 0xffff_ffff),
                );
                Ok(Cond::and(self.linktype(ETHERTYPE_IP)?, b1))
            }
            _ => Err("only link-layer/IP broadcast filters supported".into()),
        }
    }

    pub fn multicast(&self, p: Pq) -> GResult<Cond> {
        match p {
            Pq::Default | Pq::Link => {
                if self.is_ethernet() {
                    Ok(self.with_ll_check(test(ld(BPF_B, self.linkhdr(0)), BPF_JSET, 1)))
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
    pub fn byteop(&self, opc: char, idx: u32, val: u32) -> Cond {
        let off = self.linkhdr(idx);
        match opc {
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
        }
    }

    pub fn inbound(&self, outbound: bool) -> GResult<Cond> {
        let c = match self.link {
            Link::Sll if self.off_linkhdr == Off::abs(0) => {
                cmp(Off::abs(0), BPF_H, LINUX_SLL_OUTGOING)
            }
            Link::Sll2 if self.off_linkhdr == Off::abs(0) => {
                cmp(Off::abs(10), BPF_B, LINUX_SLL_OUTGOING)
            }
            _ => {
                return Err(format!(
                    "inbound/outbound not supported on linktype {} (the link-layer header carries no direction)",
                    self.desc()
                ));
            }
        };
        Ok(if outbound { c } else { Cond::not(c) })
    }

    pub fn vlan(&mut self, id: Option<u32>) -> GResult<Cond> {
        if self.link != Link::Ethernet || self.label_stack_depth > 0 {
            return Err(format!("no VLAN support for {}", self.desc()));
        }
        let lt = self.linktype_off(0);
        let tpid = Cond::or(
            Cond::or(
                cmp(lt, BPF_H, ETHERTYPE_8021Q),
                cmp(lt, BPF_H, ETHERTYPE_8021AD),
            ),
            cmp(lt, BPF_H, ETHERTYPE_8021QINQ),
        );
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
                Link::Ethernet => self.linktype(ETHERTYPE_MPLS)?,
                Link::Ppp => self.linktype(0x0281)?,
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
        let alu = |op: u16, k: u32| Insn::stmt(BPF_ALU | op | BPF_K, k);
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
        // Then A = start of the tunnel header (after the 8-byte UDP header).
        let tail: Vec<Insn> = match kind {
            Encap::Geneve => vec![
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
            ],
            Encap::Vxlan => vec![
                alu(BPF_ADD, nl.k.wrapping_add(8)),
                alu(BPF_ADD, 8),
                Insn::stmt(BPF_ST, hdr),
                alu(BPF_ADD, 12),
                Insn::stmt(BPF_ST, lt),
                alu(BPF_ADD, 2),
                Insn::stmt(BPF_ST, pl),
            ],
        };
        let mut fams = checks.into_iter().zip([false, true]).map(|(c, v6)| {
            let mut s = ip_len(v6);
            s.extend_from_slice(&tail);
            Cond::and(c, always(s))
        });
        let (Some(v4), Some(v6)) = (fams.next(), fams.next()) else {
            return Err("internal error: missing tunnel family".into());
        };
        let mut c = Cond::or(v4, v6);
        if kind == Encap::Geneve {
            let teb = test(
                vec![
                    Insn::stmt(BPF_LDX | BPF_MEM, lt),
                    Insn::stmt(BPF_LD | BPF_H | BPF_IND, 0),
                ],
                BPF_JEQ,
                ETHERTYPE_TEB,
            );
            let ethernet = always(vec![
                Insn::stmt(BPF_LD | BPF_MEM, hdr),
                alu(BPF_ADD, 12),
                Insn::stmt(BPF_ST, lt),
                alu(BPF_ADD, 2),
                Insn::stmt(BPF_ST, pl),
            ]);
            let bare = always(vec![
                Insn::stmt(BPF_LD | BPF_MEM, hdr),
                Insn::stmt(BPF_ST, pl),
            ]);
            c = Cond::and(
                c,
                Cond::If(Box::new(teb), Box::new(ethernet), Box::new(bare)),
            );
        }
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

    pub fn llc(&self) -> GResult<Cond> {
        if self.link == Link::Ethernet {
            let b0 = Cond::not(cmp_gt(self.linktype_off(0), BPF_H, ETHERMTU));
            let b1 = Cond::not(cmp(self.llc_off(0), BPF_H, 0xffff));
            Ok(Cond::and(b0, b1))
        } else {
            Err(format!("'llc' not supported for {}", self.desc()))
        }
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
        let ArithV { e: idx, mut guards } = index;
        let idx = Box::new(idx);
        match p {
            Pq::Link => Ok(ArithV {
                e: Arith::Load {
                    tran: false,
                    base: self.linkhdr(0),
                    index: idx,
                    size,
                },
                guards,
            }),
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
                guards.push(self.proto_abbrev(p)?);
                Ok(ArithV {
                    e: Arith::Load {
                        tran: false,
                        base: self.nl(0),
                        index: idx,
                        size,
                    },
                    guards,
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
                let mut g = vec![self.linktype(ETHERTYPE_IP)?];
                g.append(&mut guards);
                g.push(self.proto_abbrev(p)?);
                g.push(self.ipfrag());
                Ok(ArithV {
                    e: Arith::Load {
                        tran: true,
                        base: self.nl(0),
                        index: idx,
                        size,
                    },
                    guards: g,
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
                    },
                    guards,
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
    let mut guards = a.guards;
    guards.extend(b.guards);
    if let (Arith::Const(x), Arith::Const(y)) = (&a.e, &b.e) {
        let v = crate::cfg::fold_alu(op, *x, *y).ok_or_else(|| "division by zero".to_string())?;
        return Ok(ArithV {
            e: Arith::Const(v),
            guards,
        });
    }
    Ok(ArithV {
        e: Arith::Bin(op, Box::new(a.e), Box::new(b.e)),
        guards,
    })
}

/// Compile an arithmetic expression into statements leaving its value in A,
/// using scratch slots from `depth` upwards, below `limit`.
fn compile_arith(e: &Arith, depth: u32, limit: u32, out: &mut Vec<Insn>) -> GResult<()> {
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
        } => match (tran, index.as_ref()) {
            (false, Arith::Const(i)) => out.extend(ld(*size, base.add(*i))),
            (true, Arith::Const(i)) => {
                out.extend(loadx_iphdrlen(*base));
                out.push(Insn::stmt(BPF_LD | size | BPF_IND, base.k.wrapping_add(*i)));
            }
            (false, idx) => {
                compile_arith(idx, depth, limit, out)?;
                if let Some(r) = base.reg {
                    out.push(Insn::stmt(BPF_LDX | BPF_MEM, r));
                    out.push(Insn::stmt(BPF_ALU | crate::insn::BPF_ADD | BPF_X, 0));
                }
                out.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                out.push(Insn::stmt(BPF_LD | size | BPF_IND, base.k));
            }
            (true, idx) => {
                compile_arith(idx, depth, limit, out)?;
                out.push(Insn::stmt(BPF_ST, depth));
                out.extend(loadx_iphdrlen(*base));
                out.push(Insn::stmt(BPF_LD | BPF_MEM, depth));
                out.push(Insn::stmt(BPF_ALU | crate::insn::BPF_ADD | BPF_X, 0));
                out.push(Insn::stmt(BPF_MISC | BPF_TAX, 0));
                out.push(Insn::stmt(BPF_LD | size | BPF_IND, base.k));
            }
        },
        Arith::Bin(op, l, r) => {
            if let Arith::Const(k) = r.as_ref() {
                compile_arith(l, depth, limit, out)?;
                out.push(Insn::stmt(BPF_ALU | op | BPF_K, *k));
            } else {
                compile_arith(r, depth, limit, out)?;
                out.push(Insn::stmt(BPF_ST, depth));
                compile_arith(l, depth + 1, limit, out)?;
                out.push(Insn::stmt(BPF_LDX | BPF_MEM, depth));
                out.push(Insn::stmt(BPF_ALU | op | BPF_X, 0));
            }
        }
        Arith::Neg(a) => {
            compile_arith(a, depth, limit, out)?;
            out.push(Insn::stmt(BPF_ALU | BPF_NEG, 0));
        }
    }
    Ok(())
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
pub(crate) fn relation(op: Relop, a0: ArithV, a1: ArithV, limit: u32) -> GResult<Cond> {
    let (jop, negate) = match op {
        Relop::Gt => (BPF_JGT, false),
        Relop::Ge => (BPF_JGE, false),
        Relop::Eq => (BPF_JEQ, false),
        Relop::Lt => (BPF_JGE, true),
        Relop::Le => (BPF_JGT, true),
        Relop::Ne => (BPF_JEQ, true),
    };
    let mut stmts = Vec::new();
    let t = if let Arith::Const(k) = a1.e {
        compile_arith(&a0.e, 0, limit, &mut stmts)?;
        Cond::Test(Test {
            stmts,
            code: BPF_JMP | jop | BPF_K,
            k,
        })
    } else {
        compile_arith(&a1.e, 0, limit, &mut stmts)?;
        stmts.push(Insn::stmt(BPF_ST, 0));
        compile_arith(&a0.e, 1, limit, &mut stmts)?;
        stmts.push(Insn::stmt(BPF_LDX | BPF_MEM, 0));
        Cond::Test(Test {
            stmts,
            code: BPF_JMP | jop | BPF_X,
            k: 0,
        })
    };
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
