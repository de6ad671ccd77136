//! `cargo xtask test-fixtures [--check]`: the small captures in `fixtures/`.
//!
//! [`FIXTURES`] is the whole list: file name, container format, one line on
//! what the file exercises, and the function producing its packets. The same
//! table renders `fixtures/README.md`, so the documentation cannot drift from
//! the files. Everything is deterministic: fixed timestamps, fixed addresses,
//! no clock and no randomness.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::{DataLink, Endianness, TsResolution};
use pnet_packet::tcp::TcpOption;

use crate::Result;
use crate::packets::{
    self, BROADCAST, Dir, Dns, Endpoint, Ipv4, Ipv6, Mac, Tag, Tcp, TcpConv, arp, ether,
    ether_tagged, ethertype, flags, icmp, icmp_echo, icmpv6, ipv4, ipv6, pad_min, proto, rr, sll,
    sll_type, tcp, udp,
};

/// Link-layer header types (LINKTYPE_*).
pub mod link {
    pub const ETHERNET: u32 = 1;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
}

/// One packet of a fixture.
#[derive(Clone, Debug)]
pub struct Pkt {
    /// Time since the epoch.
    pub ts: Duration,
    /// Captured bytes.
    pub data: Vec<u8>,
    /// Length on the wire when larger than `data` (snaplen cuts).
    pub orig_len: Option<u32>,
    /// pcapng interface index.
    pub iface: u32,
    /// pcapng packet comment.
    pub comment: Option<&'static str>,
}

/// A pcapng interface description.
#[derive(Clone, Copy, Debug)]
pub struct Iface {
    pub link: u32,
    /// if_tsresol: timestamps are in units of 10^-tsresol seconds.
    pub tsresol: u8,
    pub name: &'static str,
    pub snaplen: u32,
}

/// What a fixture's bytes are.
#[derive(Clone, Copy, Debug)]
pub enum Format {
    /// Classic pcap. `cut_last` cuts the file in the middle of the last record's data.
    Pcap {
        big_endian: bool,
        nanos: bool,
        link: u32,
        snaplen: u32,
        cut_last: bool,
    },
    /// pcapng with one section and the given interfaces.
    PcapNg {
        big_endian: bool,
        ifaces: &'static [Iface],
    },
    /// gzip (mtime 0) of another fixture generated earlier in the table.
    Gzip { of: &'static str },
    /// A plain text file.
    Text(&'static str),
}

impl Format {
    fn describe(&self) -> String {
        match *self {
            Format::Pcap {
                big_endian,
                nanos,
                link,
                snaplen,
                cut_last,
            } => {
                let mut s = format!(
                    "pcap {}, {}, {}",
                    if nanos { "ns" } else { "µs" },
                    if big_endian {
                        "big-endian"
                    } else {
                        "little-endian"
                    },
                    link_name(link)
                );
                if snaplen != 65535 {
                    s.push_str(&format!(", snaplen {snaplen}"));
                }
                if cut_last {
                    s.push_str(", last record cut");
                }
                s
            }
            Format::PcapNg { big_endian, ifaces } => {
                let list: Vec<String> = ifaces
                    .iter()
                    .map(|i| format!("{} {} tsresol {}", i.name, link_name(i.link), i.tsresol))
                    .collect();
                format!(
                    "pcapng {}, {}",
                    if big_endian {
                        "big-endian"
                    } else {
                        "little-endian"
                    },
                    list.join("; ")
                )
            }
            Format::Gzip { of } => format!("gzip of {of}"),
            Format::Text(_) => "text".to_owned(),
        }
    }
}

fn link_name(link: u32) -> &'static str {
    match link {
        link::ETHERNET => "Ethernet (1)",
        link::LINUX_SLL => "Linux SLL (113)",
        link::IPV4 => "raw IPv4 (228)",
        _ => "other",
    }
}

/// One fixture file.
pub struct Fixture {
    pub name: &'static str,
    pub format: Format,
    pub about: &'static str,
    pub packets: fn() -> Vec<Pkt>,
}

const fn pcap(link: u32) -> Format {
    Format::Pcap {
        big_endian: false,
        nanos: false,
        link,
        snaplen: 65535,
        cut_last: false,
    }
}

const ETH: Format = pcap(link::ETHERNET);

const MULTI_IFACES: &[Iface] = &[
    Iface {
        link: link::ETHERNET,
        tsresol: 6,
        name: "eth0",
        snaplen: 262_144,
    },
    Iface {
        link: link::IPV4,
        tsresol: 9,
        name: "tun0",
        snaplen: 262_144,
    },
    Iface {
        link: link::LINUX_SLL,
        tsresol: 6,
        name: "any",
        snaplen: 262_144,
    },
];

const ONE_ETH_IFACE: &[Iface] = &[Iface {
    link: link::ETHERNET,
    tsresol: 6,
    name: "eth0",
    snaplen: 262_144,
}];

fn none() -> Vec<Pkt> {
    Vec::new()
}

/// The fixture table. Order matters only for `Format::Gzip`, which needs its source first.
pub const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "tutorial.pcap",
        format: ETH,
        about: "The Scapy tutorial's small mixed capture: ARP request/reply, DNS A/AAAA for example.com, \
                an HTTP session to 93.184.216.34:80 and an HTTPS session 10.169.226.59 → 216.58.205.132:443 \
                (SYN, SYN-ACK, ACK, PSH-ACK data, FIN), an ICMP echo pair and one IPv6 UDP DNS query.",
        packets: tutorial,
    },
    Fixture {
        name: "padded-min-frames.pcap",
        format: ETH,
        about: "Frames shorter than 60 bytes padded to the Ethernet minimum after TCP ACK/RST, UDP (empty and \
                4-byte payloads), ICMP, ARP and an 802.1Q-tagged ACK; one frame has non-zero padding bytes.",
        packets: padded_min_frames,
    },
    Fixture {
        name: "ipv4-options.pcap",
        format: ETH,
        about: "IPv4 header options: record route (empty and filled), timestamp (timestamps only, and \
                address+timestamp), router alert on IGMPv2, loose source route, NOP/EOL padding.",
        packets: ipv4_options,
    },
    Fixture {
        name: "fragments.pcap",
        format: ETH,
        about: "A 3008-byte IPv4 UDP datagram in 3 fragments (MF, offsets 0/185/370) and a 2008-byte IPv6 UDP \
                datagram in 2 fragments (Fragment extension header).",
        packets: fragments,
    },
    Fixture {
        name: "icmp-errors.pcap",
        format: ETH,
        about: "ICMP errors quoting the offending packet: port unreachable quoting a whole UDP datagram, time \
                exceeded and fragmentation needed quoting IPv4 + 8 bytes of TCP, ICMPv6 packet too big \
                (quote cut at 1280 bytes) and ICMPv6 port unreachable quoting UDP; each after its trigger.",
        packets: icmp_errors,
    },
    Fixture {
        name: "vlan.pcap",
        format: ETH,
        about: "802.1Q tags (VID 100; PCP 5 on VID 10; tagged ARP and IPv6), QinQ 802.1ad + 802.1Q, and a triple tag.",
        packets: vlan,
    },
    Fixture {
        name: "tcp-options.pcap",
        format: ETH,
        about: "TCP options: Linux and other SYN option lists (MSS, SACK-permitted, timestamps, NOP, window scale), \
                SACK with 1, 2 and 3 blocks (40 option bytes), retransmissions, an EOL-terminated list, TCP Fast \
                Open cookie, an experimental option (kind 253) and an MSS-only SYN.",
        packets: tcp_options,
    },
    Fixture {
        name: "dns.pcap",
        format: ETH,
        about: "DNS over UDP with name compression: A via CNAME, AAAA, MX with additional records, TXT with two \
                strings, PTR, NXDOMAIN with SOA; DNS over TCP with the 2-byte length prefix; and one response whose \
                answer name is a compression pointer to itself (a loop; malformed on purpose).",
        packets: dns,
    },
    Fixture {
        name: "snaplen-truncated.pcap",
        format: Format::Pcap {
            big_endian: false,
            nanos: false,
            link: link::ETHERNET,
            snaplen: 68,
            cut_last: false,
        },
        about: "Captured with snaplen 68: SYNs, TCP data, DNS and ICMP are cut (incl_len 68 < orig_len), \
                66-byte ACKs are whole.",
        packets: snaplen_truncated,
    },
    Fixture {
        name: "multi-interface-le.pcapng",
        format: Format::PcapNg {
            big_endian: false,
            ifaces: MULTI_IFACES,
        },
        about: "pcapng little-endian, 3 interfaces with different link types (Ethernet, raw IPv4, Linux SLL), \
                if_tsresol 6 and 9, packets interleaved across interfaces, packet comments.",
        packets: multi_interface,
    },
    Fixture {
        name: "multi-interface-be.pcapng",
        format: Format::PcapNg {
            big_endian: true,
            ifaces: MULTI_IFACES,
        },
        about: "The same packets as multi-interface-le.pcapng in a big-endian section.",
        packets: multi_interface,
    },
    Fixture {
        name: "nanosecond.pcap",
        format: Format::Pcap {
            big_endian: false,
            nanos: true,
            link: link::ETHERNET,
            snaplen: 65535,
            cut_last: false,
        },
        about: "Nanosecond pcap (magic a1b23c4d): timestamps with sub-microsecond digits, two packets 1 ns apart.",
        packets: nanosecond,
    },
    Fixture {
        name: "big-endian.pcap",
        format: Format::Pcap {
            big_endian: true,
            nanos: false,
            link: link::ETHERNET,
            snaplen: 65535,
            cut_last: false,
        },
        about: "Big-endian microsecond pcap (magic a1b2c3d4 written big-endian): DNS and ICMP.",
        packets: big_endian,
    },
    Fixture {
        name: "tutorial.pcap.gz",
        format: Format::Gzip {
            of: "tutorial.pcap",
        },
        about: "tutorial.pcap compressed with gzip (mtime 0).",
        packets: none,
    },
    Fixture {
        name: "sll.pcap",
        format: pcap(link::LINUX_SLL),
        about: "Linux cooked capture v1: outgoing/host/broadcast/otherhost packet types, IPv4 TCP, ARP, IPv6 UDP, \
                ICMP, and a loopback (ARPHRD_LOOPBACK) packet.",
        packets: sll_fixture,
    },
    Fixture {
        name: "ipv6-ext.pcapng",
        format: Format::PcapNg {
            big_endian: false,
            ifaces: ONE_ETH_IFACE,
        },
        about: "IPv6 extension headers: Hop-by-Hop router alert before an MLDv2 report, Destination Options before UDP, \
                a Segment Routing header before TCP, and Hop-by-Hop + Destination Options + an atomic Fragment header.",
        packets: ipv6_ext,
    },
    Fixture {
        name: "bad-checksums.pcap",
        format: ETH,
        about: "Four IPv4 packets; the third has a wrong IPv4 header checksum (all transport checksums are correct).",
        packets: bad_checksums,
    },
    Fixture {
        name: "truncated-record.pcap",
        format: Format::Pcap {
            big_endian: false,
            nanos: false,
            link: link::ETHERNET,
            snaplen: 65535,
            cut_last: true,
        },
        about: "Five records; the file ends in the middle of the fifth record's data (an interrupted capture).",
        packets: truncated_record,
    },
    Fixture {
        name: "not-a-capture.pcap",
        format: Format::Text(
            "This is not a packet capture.\n\
             It is a plain text file with a .pcap name, for format detection and error messages.\n",
        ),
        about: "A text file named .pcap (bad magic).",
        packets: none,
    },
];

// ---------------------------------------------------------------------------
// Generation and checking

/// Renders every fixture and the README, in table order.
pub fn generate() -> Result<Vec<(String, Vec<u8>)>> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut rows = Vec::new();
    for fx in FIXTURES {
        let pkts = (fx.packets)();
        let bytes = match fx.format {
            Format::Pcap {
                big_endian,
                nanos,
                link,
                snaplen,
                cut_last,
            } => write_pcap(&pkts, big_endian, nanos, link, snaplen, cut_last)?,
            Format::PcapNg { big_endian, ifaces } => write_pcapng(&pkts, big_endian, ifaces)?,
            Format::Gzip { of } => {
                let src = out.iter().find(|(n, _)| n == of).ok_or_else(|| {
                    format!(
                        "{}: gzip source {of} must come earlier in the table",
                        fx.name
                    )
                })?;
                gzip(&src.1)?
            }
            Format::Text(t) => t.as_bytes().to_vec(),
        };
        let count = match fx.format {
            Format::Gzip { of } => FIXTURES
                .iter()
                .find(|f| f.name == of)
                .map_or(0, |f| (f.packets)().len()),
            _ => pkts.len(),
        };
        rows.push(format!(
            "| `{}` | {} | {} | {} |",
            fx.name,
            count,
            fx.format.describe(),
            fx.about
        ));
        out.push((fx.name.to_owned(), bytes));
    }
    out.push(("README.md".to_owned(), readme(&rows).into_bytes()));
    Ok(out)
}

fn readme(rows: &[String]) -> String {
    let mut s = String::from(
        "# Test fixtures\n\n\
         Generated by `cargo xtask test-fixtures` from the table in `xtask/src/fixtures.rs`; do not edit by hand.\n\
         `cargo xtask test-fixtures --check` (also run by `cargo test -p xtask`) fails when these files drift\n\
         from the generator. All timestamps and addresses are fixed; checksums are correct unless a fixture says\n\
         otherwise.\n\n\
         | File | Packets | Format | Exercises |\n\
         |---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

/// Writes all fixtures into `dir`.
pub fn write_all(dir: &Path) -> Result<Vec<(String, usize)>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, bytes) in generate()? {
        std::fs::write(dir.join(&name), &bytes)
            .map_err(|e| format!("writing {}: {e}", dir.join(&name).display()))?;
        written.push((name, bytes.len()));
    }
    Ok(written)
}

/// Regenerates in memory and returns the names of files in `dir` that are
/// missing or differ. gzip files are compared by their decompressed bytes,
/// because deflate output depends on the flate2 backend selected by feature
/// unification.
pub fn check(dir: &Path) -> Result<Vec<String>> {
    let mut drift = Vec::new();
    for (name, want) in generate()? {
        let path = dir.join(&name);
        let same = match std::fs::read(&path) {
            Ok(have) if name.ends_with(".gz") => gunzip(&have).ok() == Some(gunzip(&want)?),
            Ok(have) => have == want,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(format!("reading {}: {e}", path.display()).into()),
        };
        if !same {
            drift.push(name);
        }
    }
    Ok(drift)
}

/// The folder `fixtures/` of the workspace.
pub fn default_dir() -> std::path::PathBuf {
    crate::workspace_root().join("fixtures")
}

fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(data)?;
    Ok(enc.finish()?)
}

fn gunzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out)?;
    Ok(out)
}

fn endianness(big: bool) -> Endianness {
    if big {
        Endianness::Big
    } else {
        Endianness::Little
    }
}

fn orig_len(p: &Pkt) -> Result<u32> {
    match p.orig_len {
        Some(n) => Ok(n),
        None => Ok(u32::try_from(p.data.len())?),
    }
}

fn write_pcap(
    pkts: &[Pkt],
    big_endian: bool,
    nanos: bool,
    link: u32,
    snaplen: u32,
    cut_last: bool,
) -> Result<Vec<u8>> {
    let header = PcapHeader {
        version_major: 2,
        version_minor: 4,
        ts_correction: 0,
        ts_accuracy: 0,
        snaplen,
        datalink: DataLink::from(link),
        ts_resolution: if nanos {
            TsResolution::NanoSecond
        } else {
            TsResolution::MicroSecond
        },
        endianness: endianness(big_endian),
    };
    let mut w = PcapWriter::with_header(Vec::new(), header)?;
    for p in pkts {
        let data = p
            .data
            .get(..p.data.len().min(usize::try_from(snaplen)?))
            .unwrap_or(&p.data);
        let orig = orig_len(p)?.max(u32::try_from(p.data.len())?);
        w.write_packet(&PcapPacket::new(p.ts, orig, data))?;
    }
    let mut bytes = w.into_writer();
    if cut_last {
        let last = pkts.last().ok_or("cut_last on an empty fixture")?;
        let keep = bytes.len() - (last.data.len() - last.data.len() / 2);
        bytes.truncate(keep);
    }
    Ok(bytes)
}

/// pcap-file 2 writes `EnhancedPacketBlock::timestamp` as a raw count of
/// nanoseconds whatever the interface's if_tsresol, so the timestamp is given
/// to it already scaled to the interface's units.
fn scaled_ts(ts: Duration, tsresol: u8) -> Result<Duration> {
    let div = 10u128.pow(9u32.saturating_sub(u32::from(tsresol)));
    let units = ts.as_nanos() / div;
    if units * div != ts.as_nanos() {
        return Err(format!("timestamp {ts:?} is finer than if_tsresol {tsresol}").into());
    }
    Ok(Duration::from_nanos(u64::try_from(units)?))
}

fn write_pcapng(pkts: &[Pkt], big_endian: bool, ifaces: &[Iface]) -> Result<Vec<u8>> {
    let shb = SectionHeaderBlock {
        endianness: endianness(big_endian),
        major_version: 1,
        minor_version: 0,
        section_length: -1,
        options: vec![
            SectionHeaderOption::Comment(Cow::Borrowed("pcapx test fixture")),
            SectionHeaderOption::UserApplication(Cow::Borrowed("pcapx xtask test-fixtures")),
        ],
    };
    let mut w = PcapNgWriter::with_section_header(Vec::new(), shb)?;
    for i in ifaces {
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: DataLink::from(i.link),
            snaplen: i.snaplen,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Borrowed(i.name)),
                InterfaceDescriptionOption::IfTsResol(i.tsresol),
            ],
        })?;
    }
    for p in pkts {
        let iface = ifaces
            .get(usize::try_from(p.iface)?)
            .ok_or_else(|| format!("packet on undeclared interface {}", p.iface))?;
        let mut options = Vec::new();
        if let Some(c) = p.comment {
            options.push(EnhancedPacketOption::Comment(Cow::Borrowed(c)));
        }
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: p.iface,
            timestamp: scaled_ts(p.ts, iface.tsresol)?,
            original_len: orig_len(p)?,
            data: Cow::Borrowed(&p.data),
            options,
        })?;
    }
    Ok(w.into_inner())
}

// ---------------------------------------------------------------------------
// Building blocks for the packet lists

/// Collects packets with a clock that only moves forward by fixed steps.
struct Cap {
    t: Duration,
    pkts: Vec<Pkt>,
}

impl Cap {
    /// Starts at `secs` after the epoch.
    fn at(secs: u64) -> Self {
        Self {
            t: Duration::from_secs(secs),
            pkts: Vec::new(),
        }
    }

    /// Adds a packet `us` microseconds after the previous one.
    fn add(&mut self, us: u64, data: Vec<u8>) -> &mut Pkt {
        self.add_ns(us * 1000, data)
    }

    fn add_ns(&mut self, ns: u64, data: Vec<u8>) -> &mut Pkt {
        self.t += Duration::from_nanos(ns);
        self.pkts.push(Pkt {
            ts: self.t,
            data,
            orig_len: None,
            iface: 0,
            comment: None,
        });
        let last = self.pkts.len() - 1;
        &mut self.pkts[last]
    }

    /// Adds a packet `us` microseconds after the previous one plus `ns`
    /// nanoseconds that the clock does not keep (for a nanosecond interface
    /// among microsecond ones).
    fn fine(&mut self, us: u64, ns: u64, data: Vec<u8>) -> &mut Pkt {
        let p = self.add(us, data);
        p.ts += Duration::from_nanos(ns);
        p
    }

    /// Adds several packets `us` microseconds apart.
    fn add_all(&mut self, us: u64, frames: Vec<Vec<u8>>) {
        for f in frames {
            self.add(us, f);
        }
    }

    fn done(self) -> Vec<Pkt> {
        self.pkts
    }
}

// 2023-11-14 22:13:20 UTC and later: a fixed, plausible capture time.
const T0: u64 = 1_700_000_000;

const fn v4(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

const fn v6(s: [u16; 8]) -> Ipv6Addr {
    Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
}

const HOST_MAC: Mac = [0x3c, 0x22, 0xfb, 0x9b, 0x5c, 0x10];
const GW_MAC: Mac = [0x00, 0x1a, 0x8c, 0x3e, 0x7f, 0x01];
const HOST: Ipv4Addr = v4(10, 169, 226, 59);
const GW: Ipv4Addr = v4(10, 169, 226, 1);
const GOOGLE: Ipv4Addr = v4(216, 58, 205, 132);
const EXAMPLE: Ipv4Addr = v4(93, 184, 216, 34);
const EXAMPLE6: Ipv6Addr = v6([0x2606, 0x2800, 0x220, 1, 0x248, 0x1893, 0x25c8, 0x1946]);
const HOST6: Ipv6Addr = v6([0x2001, 0xdb8, 0x1, 0, 0, 0, 0, 0x59]);
const GDNS6: Ipv6Addr = v6([0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888]);

const LAN_A_MAC: Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const LAN_B_MAC: Mac = [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef];
const LAN_A: Ipv4Addr = v4(192, 168, 1, 10);
const LAN_B: Ipv4Addr = v4(192, 168, 1, 1);

fn ep(mac: Mac, ip: impl Into<IpAddr>, port: u16, ttl: u8) -> Endpoint {
    Endpoint {
        mac,
        ip: ip.into(),
        port,
        ttl,
    }
}

/// Ethernet + IPv4 + UDP from `a` to `b`.
#[allow(clippy::too_many_arguments)] // one flat call per frame keeps the tables readable
fn eth_udp4(
    smac: Mac,
    dmac: Mac,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    id: u16,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let d = udp(src.into(), dst.into(), sport, dport, payload);
    ether(
        dmac,
        smac,
        ethertype::IPV4,
        &ipv4(&Ipv4::new(src, dst, proto::UDP, id), &d),
    )
}

/// Ethernet + IPv4 + ICMP echo.
fn eth_ping4(
    smac: Mac,
    dmac: Mac,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ip_id: u16,
    reply: bool,
    seq: u16,
) -> Vec<u8> {
    let body = ping_body(seq);
    let mut h = Ipv4::new(src, dst, proto::ICMP, ip_id);
    if reply {
        h.ttl = 117;
        h.flags = 0;
    }
    ether(
        dmac,
        smac,
        ethertype::IPV4,
        &ipv4(&h, &icmp_echo(reply, 0x1f2e, seq, &body)),
    )
}

/// The 56-byte body of a Linux `ping`: 8 bytes of time then 0x10, 0x11, ...
fn ping_body(seq: u16) -> Vec<u8> {
    let mut b = vec![0u8; 56];
    b[..8].copy_from_slice(&(0x6553_f100_0004_a2c0u64 + u64::from(seq)).to_le_bytes());
    for (i, x) in b.iter_mut().enumerate().skip(8) {
        *x = i.to_le_bytes()[0];
    }
    b
}

/// A minimal but well-formed TLS 1.2 ClientHello with an SNI extension.
fn tls_client_hello(sni: &str) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend(packets::filler(32, 0x5a));
    body.push(32);
    body.extend(packets::filler(32, 0x11));
    let suites = [
        0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30, 0xcc, 0xa9, 0xcc, 0xa8, 0x00, 0x9c, 0x00,
        0x9d,
    ];
    body.extend(u16_be(suites.len()));
    body.extend(suites);
    body.extend([1, 0]);
    let name = sni.as_bytes();
    let mut ext = vec![0, 0];
    ext.extend(u16_be(name.len() + 5));
    ext.extend(u16_be(name.len() + 3));
    ext.push(0);
    ext.extend(u16_be(name.len()));
    ext.extend(name);
    ext.extend([0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]); // ec_point_formats: uncompressed
    ext.extend([0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x1d]); // supported_groups: x25519
    body.extend(u16_be(ext.len()));
    body.extend(ext);
    tls_record(0x16, 0x0301, &tls_handshake(1, &body))
}

/// A TLS 1.2 ServerHello followed by an application data record.
fn tls_server_hello_and_data(data_len: usize) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend(packets::filler(32, 0x77));
    body.push(32);
    body.extend(packets::filler(32, 0x11));
    body.extend([0xc0, 0x2f, 0]);
    body.extend([0x00, 0x05, 0xff, 0x01, 0x00, 0x01, 0x00]); // renegotiation_info
    let mut out = tls_record(0x16, 0x0303, &tls_handshake(2, &body));
    out.extend(tls_record(0x17, 0x0303, &packets::filler(data_len, 0x3c)));
    out
}

fn tls_handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap_or(0).to_be_bytes();
    let mut h = vec![ty, len[1], len[2], len[3]];
    h.extend(body);
    h
}

fn tls_record(ty: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ty];
    r.extend(version.to_be_bytes());
    r.extend(u16_be(body.len()));
    r.extend(body);
    r
}

fn u16_be(n: usize) -> [u8; 2] {
    u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes()
}

// ---------------------------------------------------------------------------
// The fixtures' packets

fn tutorial() -> Vec<Pkt> {
    let mut c = Cap::at(T0);
    // ARP for the gateway.
    c.add(
        0,
        ether(
            BROADCAST,
            HOST_MAC,
            ethertype::ARP,
            &arp(1, HOST_MAC, HOST, [0; 6], GW),
        ),
    );
    c.add(
        1_412,
        pad_min(
            ether(
                HOST_MAC,
                GW_MAC,
                ethertype::ARP,
                &arp(2, GW_MAC, GW, HOST_MAC, HOST),
            ),
            0,
        ),
    );
    // DNS A and AAAA for example.com.
    let q = Dns::query(0x3f21, "example.com", rr::A);
    c.add(
        95,
        eth_udp4(HOST_MAC, GW_MAC, HOST, GW, 0x6b1a, 53_211, 53, &q.b),
    );
    let mut r = Dns::new(0x3f21, 0x8180, [1, 1, 0, 0]);
    r.name("example.com")
        .u16(rr::A)
        .u16(1)
        .answer_a(12, 3_271, EXAMPLE);
    c.add(
        18_204,
        eth_udp4(GW_MAC, HOST_MAC, GW, HOST, 0x0000, 53, 53_211, &r.b),
    );
    let q = Dns::query(0x3f22, "example.com", rr::AAAA);
    c.add(
        133,
        eth_udp4(HOST_MAC, GW_MAC, HOST, GW, 0x6b1b, 53_212, 53, &q.b),
    );
    let mut r = Dns::new(0x3f22, 0x8180, [1, 1, 0, 0]);
    r.name("example.com")
        .u16(rr::AAAA)
        .u16(1)
        .answer_aaaa(12, 3_271, EXAMPLE6);
    c.add(
        17_950,
        eth_udp4(GW_MAC, HOST_MAC, GW, HOST, 0x0000, 53, 53_212, &r.b),
    );
    // HTTP to example.com.
    let mut http = TcpConv::new(
        ep(HOST_MAC, HOST, 49_812, 64),
        ep(GW_MAC, EXAMPLE, 80, 56),
        [0x8c3e_11a0, 0x2f00_d1b7],
    );
    let hs = http.handshake();
    c.add(210, hs[0].clone());
    c.add(88_410, hs[1].clone());
    c.add(61, hs[2].clone());
    let get =
        b"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    c.add(
        84,
        http.segment(Dir::ToServer, flags::PSH | flags::ACK, get),
    );
    c.add(88_730, http.segment(Dir::ToClient, flags::ACK, &[]));
    let html = "<!doctype html>\n<html>\n<head>\n    <title>Example Domain</title>\n</head>\n<body>\n<div>\n    \
                <h1>Example Domain</h1>\n    <p>This domain is for use in illustrative examples in documents.</p>\n\
                </div>\n</body>\n</html>\n";
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Length: {}\r\n\
         Cache-Control: max-age=604800\r\n\r\n{html}",
        html.len()
    );
    c.add(
        1_204,
        http.segment(Dir::ToClient, flags::PSH | flags::ACK, resp.as_bytes()),
    );
    c.add(40, http.segment(Dir::ToServer, flags::ACK, &[]));
    let close = http.close();
    c.add(1_860, close[0].clone());
    c.add(88_120, close[1].clone());
    c.add(52, close[2].clone());
    // HTTPS to Google.
    let mut tls = TcpConv::new(
        ep(HOST_MAC, HOST, 51_234, 64),
        ep(GW_MAC, GOOGLE, 443, 117),
        [0x1d2c_3b4a, 0x9a8b_7c6d],
    );
    let hs = tls.handshake();
    c.add(24_310, hs[0].clone());
    c.add(21_660, hs[1].clone());
    c.add(70, hs[2].clone());
    c.add(
        1_390,
        tls.segment(
            Dir::ToServer,
            flags::PSH | flags::ACK,
            &tls_client_hello("www.google.com"),
        ),
    );
    c.add(21_800, tls.segment(Dir::ToClient, flags::ACK, &[]));
    c.add(
        1_920,
        tls.segment(
            Dir::ToClient,
            flags::PSH | flags::ACK,
            &tls_server_hello_and_data(1_100),
        ),
    );
    c.add(45, tls.segment(Dir::ToServer, flags::ACK, &[]));
    let close = tls.close();
    c.add(30_004, close[0].clone());
    c.add(21_530, close[1].clone());
    c.add(38, close[2].clone());
    // ping.
    c.add(
        5_000,
        eth_ping4(HOST_MAC, GW_MAC, HOST, GOOGLE, 0x9e01, false, 1),
    );
    c.add(
        21_340,
        eth_ping4(GW_MAC, HOST_MAC, GOOGLE, HOST, 0x0000, true, 1),
    );
    // One IPv6 packet: a DNS AAAA query to Google's resolver.
    let q = Dns::query(0x7b7b, "example.com", rr::AAAA);
    let d = udp(HOST6.into(), GDNS6.into(), 41_000, 53, &q.b);
    c.add(
        3_100,
        ether(
            GW_MAC,
            HOST_MAC,
            ethertype::IPV6,
            &ipv6(&Ipv6::new(HOST6, GDNS6, proto::UDP), &d),
        ),
    );
    c.done()
}

fn padded_min_frames() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 100);
    let (a, b) = (LAN_A, LAN_B);
    let ack = |flags: u8, seq: u32, dport: u16| {
        let seg = tcp(
            b.into(),
            a.into(),
            &Tcp {
                sport: 80,
                dport,
                seq,
                ack: 0x0102_0304,
                flags,
                window: 501,
                ..Tcp::default()
            },
        );
        ipv4(&Ipv4::new(b, a, proto::TCP, 0x1111), &seg)
    };
    c.add(
        0,
        pad_min(
            ether(
                LAN_A_MAC,
                LAN_B_MAC,
                ethertype::IPV4,
                &ack(flags::ACK, 1000, 50_000),
            ),
            0,
        ),
    );
    c.add(
        300,
        pad_min(
            ether(
                LAN_A_MAC,
                LAN_B_MAC,
                ethertype::IPV4,
                &ack(flags::RST | flags::ACK, 1000, 50_000),
            ),
            0,
        ),
    );
    c.add(
        300,
        pad_min(
            eth_udp4(LAN_A_MAC, LAN_B_MAC, a, b, 0x2001, 40_000, 7, b"ping"),
            0,
        ),
    );
    c.add(
        300,
        pad_min(
            eth_udp4(LAN_A_MAC, LAN_B_MAC, a, b, 0x2002, 40_001, 9, b""),
            0,
        ),
    );
    let ping = ipv4(
        &Ipv4::new(a, b, proto::ICMP, 0x2003),
        &icmp_echo(false, 1, 1, b"hi"),
    );
    c.add(
        300,
        pad_min(ether(LAN_B_MAC, LAN_A_MAC, ethertype::IPV4, &ping), 0),
    );
    c.add(
        300,
        pad_min(
            ether(
                LAN_A_MAC,
                LAN_B_MAC,
                ethertype::ARP,
                &arp(2, LAN_B_MAC, b, LAN_A_MAC, a),
            ),
            0,
        ),
    );
    // Some NICs leave stale bytes in the padding.
    c.add(
        300,
        pad_min(
            ether(
                LAN_A_MAC,
                LAN_B_MAC,
                ethertype::IPV4,
                &ack(flags::ACK, 7000, 50_001),
            ),
            0xaa,
        ),
    );
    let tagged = ether_tagged(
        LAN_A_MAC,
        LAN_B_MAC,
        &[Tag::dot1q(20)],
        ethertype::IPV4,
        &ack(flags::ACK, 9000, 50_002),
    );
    c.add(300, pad_min(tagged, 0));
    c.done()
}

fn ipv4_options() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 200);
    let (a, b) = (LAN_A, v4(198, 51, 100, 20));
    let r1 = v4(192, 168, 1, 1);
    let r2 = v4(203, 0, 113, 9);
    let body = ping_body(1);
    // Record route, empty (ping -R): 9 slots, pointer 4, then EOL.
    let mut rr_empty = vec![7, 39, 4];
    rr_empty.resize(39, 0);
    let mut h = Ipv4::new(a, b, proto::ICMP, 0x5001);
    h.options = &rr_empty;
    c.add(
        0,
        ether(
            LAN_B_MAC,
            LAN_A_MAC,
            ethertype::IPV4,
            &ipv4(&h, &icmp_echo(false, 0x77, 1, &body)),
        ),
    );
    // Record route on the reply with three hops filled in.
    let mut rr_full = vec![7, 39, 16];
    for hop in [r1, r2, b] {
        rr_full.extend(hop.octets());
    }
    rr_full.resize(39, 0);
    let mut h = Ipv4::new(b, a, proto::ICMP, 0x9a01);
    h.options = &rr_full;
    h.ttl = 55;
    c.add(
        23_000,
        ether(
            LAN_A_MAC,
            LAN_B_MAC,
            ethertype::IPV4,
            &ipv4(&h, &icmp_echo(true, 0x77, 1, &body)),
        ),
    );
    // Timestamp, timestamps only (flag 0), one of two slots filled.
    let ts1 = 36_000_123u32.to_be_bytes();
    let ts_only = [68, 12, 9, 0x00, ts1[0], ts1[1], ts1[2], ts1[3], 0, 0, 0, 0];
    let mut h = Ipv4::new(a, b, proto::ICMP, 0x5002);
    h.options = &ts_only;
    c.add(
        1_000_000,
        ether(
            LAN_B_MAC,
            LAN_A_MAC,
            ethertype::IPV4,
            &ipv4(&h, &icmp_echo(false, 0x78, 1, &body)),
        ),
    );
    // Timestamp with addresses (flag 1), first pair filled.
    let mut ts_addr = vec![68, 20, 13, 0x01];
    ts_addr.extend(r1.octets());
    ts_addr.extend(ts1);
    ts_addr.resize(20, 0);
    let mut h = Ipv4::new(a, b, proto::ICMP, 0x5003);
    h.options = &ts_addr;
    c.add(
        1_000_000,
        ether(
            LAN_B_MAC,
            LAN_A_MAC,
            ethertype::IPV4,
            &ipv4(&h, &icmp_echo(false, 0x79, 1, &body)),
        ),
    );
    // Router alert on an IGMPv2 membership report.
    let group = v4(239, 255, 255, 250);
    let mut h = Ipv4::new(a, group, proto::IGMP, 0x0000);
    h.options = &[148, 4, 0, 0];
    h.ttl = 1;
    h.tos = 0xc0;
    let mcast_mac = [0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa];
    c.add(
        500_000,
        pad_min(
            ether(
                mcast_mac,
                LAN_A_MAC,
                ethertype::IPV4,
                &ipv4(&h, &packets::igmp(0x16, 0, group)),
            ),
            0,
        ),
    );
    // Loose source route after a NOP, as the source sends it: the IPv4
    // destination is the first hop r1, the option lists the rest of the route
    // (r2) and ends with the final destination b, which the UDP pseudo header uses.
    let mut lsrr = vec![1, 131, 11, 4];
    lsrr.extend(r2.octets());
    lsrr.extend(b.octets());
    let d = udp(a.into(), b.into(), 33_000, 7, b"lsrr");
    let mut h = Ipv4::new(a, r1, proto::UDP, 0x5004);
    h.options = &lsrr;
    c.add(
        500_000,
        ether(LAN_B_MAC, LAN_A_MAC, ethertype::IPV4, &ipv4(&h, &d)),
    );
    // NOP, NOP, NOP, EOL on a TCP SYN.
    let seg = tcp(
        a.into(),
        b.into(),
        &Tcp {
            sport: 44_000,
            dport: 80,
            seq: 7,
            flags: flags::SYN,
            window: 64_240,
            options: &[TcpOption::mss(1460)],
            ..Tcp::default()
        },
    );
    let mut h = Ipv4::new(a, b, proto::TCP, 0x5005);
    h.options = &[1, 1, 1, 0];
    c.add(
        500_000,
        ether(LAN_B_MAC, LAN_A_MAC, ethertype::IPV4, &ipv4(&h, &seg)),
    );
    c.done()
}

fn fragments() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 300);
    let (a, b) = (v4(10, 1, 1, 1), v4(10, 1, 1, 2));
    let dgram = udp(a.into(), b.into(), 40_000, 5_000, &packets::filler(3000, 3));
    let pieces: [(usize, usize, bool); 3] =
        [(0, 1480, true), (1480, 2960, true), (2960, 3008, false)];
    for (from, to, more) in pieces {
        let mut h = Ipv4::new(a, b, proto::UDP, 0x1c46);
        h.flags = u8::from(more);
        h.frag = u16::try_from(from / 8).unwrap_or(0);
        c.add(
            40,
            ether(
                LAN_B_MAC,
                LAN_A_MAC,
                ethertype::IPV4,
                &ipv4(&h, &dgram[from..to]),
            ),
        );
    }
    let (a6, b6) = (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 2]),
    );
    let dgram = udp(
        a6.into(),
        b6.into(),
        40_001,
        5_000,
        &packets::filler(2000, 9),
    );
    for (from, to, more) in [(0usize, 1232usize, true), (1232, 2008, false)] {
        let frag = packets::ipv6_frag(
            proto::UDP,
            u16::try_from(from / 8).unwrap_or(0),
            more,
            0xdead_beef,
            &dgram[from..to],
        );
        c.add(
            55,
            ether(
                LAN_B_MAC,
                LAN_A_MAC,
                ethertype::IPV6,
                &ipv6(&Ipv6::new(a6, b6, proto::FRAGMENT), &frag),
            ),
        );
    }
    c.done()
}

fn icmp_errors() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 400);
    let me = v4(10, 0, 0, 5);
    let peer = v4(10, 0, 0, 9);
    let router = v4(10, 0, 0, 1);
    let far = v4(198, 51, 100, 7);
    // UDP to a closed port, and the port unreachable quoting all of it.
    let probe = ipv4(
        &Ipv4::new(me, peer, proto::UDP, 0x3001),
        &udp(me.into(), peer.into(), 45_678, 33_434, &[0x40; 32]),
    );
    c.add(0, ether(LAN_B_MAC, LAN_A_MAC, ethertype::IPV4, &probe));
    let mut h = Ipv4::new(peer, me, proto::ICMP, 0x7a01);
    h.flags = 0;
    h.tos = 0xc0;
    c.add(
        310,
        ether(
            LAN_A_MAC,
            LAN_B_MAC,
            ethertype::IPV4,
            &ipv4(&h, &icmp(3, 3, 0, &probe)),
        ),
    );
    // A TCP SYN with TTL 1, and the router's time exceeded quoting IP + 8 bytes.
    let syn_opts = packets::linux_syn_options(1460, 0x11, 0, 7);
    let seg = tcp(
        me.into(),
        far.into(),
        &Tcp {
            sport: 44_321,
            dport: 80,
            seq: 0x7f00_0001,
            flags: flags::SYN,
            window: 64_240,
            options: &syn_opts,
            ..Tcp::default()
        },
    );
    let mut h = Ipv4::new(me, far, proto::TCP, 0x3002);
    h.ttl = 1;
    let syn = ipv4(&h, &seg);
    c.add(1_000, ether(LAN_B_MAC, LAN_A_MAC, ethertype::IPV4, &syn));
    let mut h = Ipv4::new(router, me, proto::ICMP, 0x0101);
    h.flags = 0;
    h.tos = 0xc0;
    c.add(
        620,
        ether(
            LAN_A_MAC,
            LAN_B_MAC,
            ethertype::IPV4,
            &ipv4(&h, &icmp(11, 0, 0, &syn[..28])),
        ),
    );
    // A full-size DF TCP segment and "fragmentation needed" with next-hop MTU 1400.
    let seg = tcp(
        me.into(),
        far.into(),
        &Tcp {
            sport: 44_322,
            dport: 80,
            seq: 0x1000,
            ack: 0x2000,
            flags: flags::ACK,
            window: 501,
            payload: &packets::filler(1460, 1),
            ..Tcp::default()
        },
    );
    let big = ipv4(&Ipv4::new(me, far, proto::TCP, 0x3003), &seg);
    c.add(1_000, ether(LAN_B_MAC, LAN_A_MAC, ethertype::IPV4, &big));
    let mut h = Ipv4::new(router, me, proto::ICMP, 0x0102);
    h.flags = 0;
    h.tos = 0xc0;
    c.add(
        600,
        ether(
            LAN_A_MAC,
            LAN_B_MAC,
            ethertype::IPV4,
            &ipv4(&h, &icmp(3, 4, 1400, &big[..28])),
        ),
    );
    // IPv6: packet too big quoting as much as fits in 1280 bytes.
    let me6 = v6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10]);
    let far6 = v6([0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x20]);
    let rtr6 = v6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 1]);
    let seg = tcp(
        me6.into(),
        far6.into(),
        &Tcp {
            sport: 50_100,
            dport: 443,
            seq: 0x5000,
            ack: 0x6000,
            flags: flags::ACK,
            window: 501,
            payload: &packets::filler(1400, 2),
            ..Tcp::default()
        },
    );
    let big6 = ipv6(&Ipv6::new(me6, far6, proto::TCP), &seg);
    c.add(1_000, ether(LAN_B_MAC, LAN_A_MAC, ethertype::IPV6, &big6));
    let quote = &big6[..1280 - 48];
    let msg = icmpv6(rtr6, me6, 2, 0, 1280, quote);
    c.add(
        700,
        ether(
            LAN_A_MAC,
            LAN_B_MAC,
            ethertype::IPV6,
            &ipv6(&Ipv6::new(rtr6, me6, proto::ICMPV6), &msg),
        ),
    );
    // IPv6 UDP to a closed port and the destination unreachable (port) quoting it.
    let probe6 = ipv6(
        &Ipv6::new(me6, far6, proto::UDP),
        &udp(me6.into(), far6.into(), 50_000, 33_434, &[0x40; 24]),
    );
    c.add(1_000, ether(LAN_B_MAC, LAN_A_MAC, ethertype::IPV6, &probe6));
    let msg = icmpv6(far6, me6, 1, 4, 0, &probe6);
    let mut h = Ipv6::new(far6, me6, proto::ICMPV6);
    h.hop_limit = 58;
    c.add(
        9_000,
        ether(LAN_A_MAC, LAN_B_MAC, ethertype::IPV6, &ipv6(&h, &msg)),
    );
    c.done()
}

fn vlan() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 500);
    let (a, b) = (v4(10, 100, 0, 5), v4(10, 100, 0, 1));
    let ping_req = ipv4(
        &Ipv4::new(a, b, proto::ICMP, 0x0a01),
        &icmp_echo(false, 5, 1, &ping_body(1)),
    );
    let mut h = Ipv4::new(b, a, proto::ICMP, 0x0b01);
    h.flags = 0;
    let ping_rep = ipv4(&h, &icmp_echo(true, 5, 1, &ping_body(1)));
    c.add(
        0,
        ether_tagged(
            LAN_B_MAC,
            LAN_A_MAC,
            &[Tag::dot1q(100)],
            ethertype::IPV4,
            &ping_req,
        ),
    );
    c.add(
        420,
        ether_tagged(
            LAN_A_MAC,
            LAN_B_MAC,
            &[Tag::dot1q(100)],
            ethertype::IPV4,
            &ping_rep,
        ),
    );
    // Priority-tagged (PCP 5) TCP SYN on VLAN 10.
    let voice = Tag {
        tpid: ethertype::VLAN,
        pcp: 5,
        dei: false,
        vid: 10,
    };
    let syn_opts = packets::linux_syn_options(1460, 0x22, 0, 7);
    let seg = tcp(
        a.into(),
        b.into(),
        &Tcp {
            sport: 5_060,
            dport: 5_061,
            seq: 1,
            flags: flags::SYN,
            window: 64_240,
            options: &syn_opts,
            ..Tcp::default()
        },
    );
    c.add(
        1_000,
        ether_tagged(
            LAN_B_MAC,
            LAN_A_MAC,
            &[voice],
            ethertype::IPV4,
            &ipv4(&Ipv4::new(a, b, proto::TCP, 0x0a02), &seg),
        ),
    );
    // Tagged ARP request, padded.
    c.add(
        1_000,
        pad_min(
            ether_tagged(
                BROADCAST,
                LAN_A_MAC,
                &[Tag::dot1q(100)],
                ethertype::ARP,
                &arp(1, LAN_A_MAC, a, [0; 6], b),
            ),
            0,
        ),
    );
    // QinQ: service tag 200 (802.1ad) outside customer tag 100 (802.1Q).
    let qinq = [Tag::dot1ad(200), Tag::dot1q(100)];
    let q = Dns::query(0x0c0c, "example.org", rr::A);
    let d = ipv4(
        &Ipv4::new(a, b, proto::UDP, 0x0a03),
        &udp(a.into(), b.into(), 52_000, 53, &q.b),
    );
    c.add(
        1_000,
        ether_tagged(LAN_B_MAC, LAN_A_MAC, &qinq, ethertype::IPV4, &d),
    );
    let mut r = Dns::new(0x0c0c, 0x8180, [1, 1, 0, 0]);
    r.name("example.org")
        .u16(rr::A)
        .u16(1)
        .answer_a(12, 300, v4(96, 7, 128, 198));
    let mut h = Ipv4::new(b, a, proto::UDP, 0x0b02);
    h.flags = 0;
    let d = ipv4(&h, &udp(b.into(), a.into(), 53, 52_000, &r.b));
    c.add(
        900,
        ether_tagged(LAN_A_MAC, LAN_B_MAC, &qinq, ethertype::IPV4, &d),
    );
    // Triple tag.
    let triple = [Tag::dot1ad(300), Tag::dot1q(200), Tag::dot1q(100)];
    let d = ipv4(
        &Ipv4::new(a, b, proto::UDP, 0x0a04),
        &udp(a.into(), b.into(), 52_001, 9, b"three tags"),
    );
    c.add(
        1_000,
        ether_tagged(LAN_B_MAC, LAN_A_MAC, &triple, ethertype::IPV4, &d),
    );
    // IPv6 on VLAN 100: ICMPv6 echo request.
    let (a6, b6) = (
        v6([0xfd00, 0x100, 0, 0, 0, 0, 0, 5]),
        v6([0xfd00, 0x100, 0, 0, 0, 0, 0, 1]),
    );
    let msg = icmpv6(a6, b6, 128, 0, 0x0006_0001, &ping_body(1));
    let p = ipv6(&Ipv6::new(a6, b6, proto::ICMPV6), &msg);
    c.add(
        1_000,
        ether_tagged(
            LAN_B_MAC,
            LAN_A_MAC,
            &[Tag::dot1q(100)],
            ethertype::IPV6,
            &p,
        ),
    );
    c.done()
}

fn tcp_options() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 600);
    let client = ep(LAN_A_MAC, LAN_A, 51_000, 64);
    let server = ep(LAN_B_MAC, v4(192, 168, 1, 80), 80, 64);
    let mut conv = TcpConv::new(client, server, [0x0100_0000, 0x0200_0000]);
    conv.tsval = None; // explicit options below
    let (mut ts_c, mut ts_s) = (1_000_000u32, 2_000_000u32);
    c.add(
        0,
        conv.segment_with(
            Dir::ToServer,
            flags::SYN,
            &packets::linux_syn_options(1460, ts_c, 0, 7),
            &[],
        ),
    );
    let synack_opts = [
        TcpOption::mss(1380),
        TcpOption::nop(),
        TcpOption::nop(),
        TcpOption::sack_perm(),
        TcpOption::timestamp(ts_s, ts_c),
        TcpOption::nop(),
        TcpOption::wscale(9),
    ];
    c.add(
        350,
        conv.segment_with(Dir::ToClient, flags::SYN | flags::ACK, &synack_opts, &[]),
    );
    ts_c += 1;
    c.add(
        40,
        conv.segment_with(
            Dir::ToServer,
            flags::ACK,
            &packets::ts_options(ts_c, ts_s),
            &[],
        ),
    );
    let get = b"GET /big.bin HTTP/1.1\r\nHost: 192.168.1.80\r\n\r\n";
    c.add(
        60,
        conv.segment_with(
            Dir::ToServer,
            flags::PSH | flags::ACK,
            &packets::ts_options(ts_c, ts_s),
            get,
        ),
    );
    // Seven 1368-byte segments A..G; B, D and F are lost the first time.
    ts_s += 1;
    let mut starts = Vec::new();
    let mut segs = Vec::new();
    for i in 0..7u8 {
        starts.push(conv.seq[1]);
        segs.push(conv.segment_with(
            Dir::ToClient,
            flags::ACK,
            &packets::ts_options(ts_s, ts_c),
            &packets::filler(1368, i),
        ));
    }
    let end = |i: usize| starts.get(i).map_or(0, |s| s.wrapping_add(1368));
    let lost_at = starts[1];
    let client_ack = |conv: &mut TcpConv, ts_c: u32, ts_s: u32, blocks: &[u32]| {
        let saved = conv.seq[1];
        conv.seq[1] = lost_at;
        let mut opts = packets::ts_options(ts_c, ts_s);
        opts.extend([
            TcpOption::nop(),
            TcpOption::nop(),
            TcpOption::selective_ack(blocks),
        ]);
        let f = conv.segment_with(Dir::ToServer, flags::ACK, &opts, &[]);
        conv.seq[1] = saved;
        f
    };
    c.add(800, segs[0].clone());
    c.add(30, segs[2].clone());
    ts_c += 1;
    c.add(25, client_ack(&mut conv, ts_c, ts_s, &[starts[2], end(2)]));
    c.add(30, segs[4].clone());
    c.add(
        25,
        client_ack(
            &mut conv,
            ts_c,
            ts_s,
            &[starts[4], end(4), starts[2], end(2)],
        ),
    );
    c.add(30, segs[6].clone());
    c.add(
        25,
        client_ack(
            &mut conv,
            ts_c,
            ts_s,
            &[starts[6], end(6), starts[4], end(4), starts[2], end(2)],
        ),
    );
    // Retransmissions fill the holes; a cumulative ACK follows.
    c.add(400, segs[1].clone());
    c.add(30, segs[3].clone());
    c.add(30, segs[5].clone());
    ts_c += 1;
    c.add(
        25,
        conv.segment_with(
            Dir::ToServer,
            flags::ACK,
            &packets::ts_options(ts_c, ts_s),
            &[],
        ),
    );
    // FIN with an EOL-terminated option list.
    let fin_opts = [TcpOption::timestamp(ts_c, ts_s), packets::tcp_opt_eol()];
    c.add(
        1_000,
        conv.segment_with(Dir::ToServer, flags::FIN | flags::ACK, &fin_opts, &[]),
    );
    c.add(
        200,
        conv.segment_with(
            Dir::ToClient,
            flags::FIN | flags::ACK,
            &packets::ts_options(ts_s + 1, ts_c),
            &[],
        ),
    );
    c.add(
        40,
        conv.segment_with(
            Dir::ToServer,
            flags::ACK,
            &packets::ts_options(ts_c + 1, ts_s + 1),
            &[],
        ),
    );
    // TCP Fast Open cookie request plus an experimental option (kind 253, ExID 0x1234; 0xf989 would be TFO).
    let mut tfo = TcpConv::new(
        ep(LAN_A_MAC, LAN_A, 51_001, 64),
        server,
        [0x0300_0000, 0x0400_0000],
    );
    tfo.tsval = None;
    let syn_opts = [
        TcpOption::mss(1460),
        TcpOption::nop(),
        TcpOption::wscale(8),
        TcpOption::sack_perm(),
        TcpOption::timestamp(7, 0),
        packets::tcp_opt_raw(34, &[]),
        packets::tcp_opt_raw(253, &[0x12, 0x34]),
    ];
    c.add(
        10_000,
        tfo.segment_with(Dir::ToServer, flags::SYN, &syn_opts, &[]),
    );
    let synack_opts = [
        TcpOption::mss(1460),
        TcpOption::nop(),
        TcpOption::wscale(8),
        TcpOption::sack_perm(),
        TcpOption::timestamp(9, 7),
        packets::tcp_opt_raw(34, &[0x5c, 0x1e, 0x97, 0x20, 0x0d, 0x7a, 0x44, 0x31]),
    ];
    c.add(
        300,
        tfo.segment_with(Dir::ToClient, flags::SYN | flags::ACK, &synack_opts, &[]),
    );
    c.add(40, tfo.segment_with(Dir::ToServer, flags::RST, &[], &[]));
    // An old stack: MSS only, answered with a RST-ACK.
    let mut old = TcpConv::new(
        ep(LAN_A_MAC, LAN_A, 1_025, 64),
        ep(LAN_B_MAC, v4(192, 168, 1, 80), 23, 64),
        [0x0500_0000, 0],
    );
    old.tsval = None;
    c.add(
        10_000,
        old.segment_with(Dir::ToServer, flags::SYN, &[TcpOption::mss(536)], &[]),
    );
    c.add(
        200,
        old.segment_with(Dir::ToClient, flags::RST | flags::ACK, &[], &[]),
    );
    c.done()
}

fn dns() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 700);
    let (cl, sv) = (LAN_A, LAN_B);
    let mut port = 40_100u16;
    let mut ip_id = 0x4400u16;
    let mut exchange = |c: &mut Cap, q: &Dns, r: &Dns| {
        port += 1;
        ip_id += 1;
        c.add(
            2_000,
            eth_udp4(LAN_A_MAC, LAN_B_MAC, cl, sv, ip_id, port, 53, &q.b),
        );
        c.add(
            12_000,
            eth_udp4(LAN_B_MAC, LAN_A_MAC, sv, cl, ip_id ^ 0x0f0f, 53, port, &r.b),
        );
    };
    // A via CNAME: www.example.com (offset 12) -> example.com (offset 16, inside the question name).
    let q = Dns::query(0x1a2b, "www.example.com", rr::A);
    let mut r = Dns::new(0x1a2b, 0x8180, [1, 2, 0, 0]);
    r.name("www.example.com").u16(rr::A).u16(1);
    r.ptr(12).rr(rr::CNAME, 3_600).rdata(|d| {
        d.ptr(16);
    });
    r.answer_a(16, 3_600, EXAMPLE);
    exchange(&mut c, &q, &r);
    // AAAA.
    let q = Dns::query(0x1a2c, "example.com", rr::AAAA);
    let mut r = Dns::new(0x1a2c, 0x8180, [1, 1, 0, 0]);
    r.name("example.com")
        .u16(rr::AAAA)
        .u16(1)
        .answer_aaaa(12, 3_600, EXAMPLE6);
    exchange(&mut c, &q, &r);
    // MX with additional A records; exchange names compressed against the question.
    let q = Dns::query(0x1a2d, "example.com", rr::MX);
    let mut r = Dns::new(0x1a2d, 0x8180, [1, 2, 0, 2]);
    r.name("example.com").u16(rr::MX).u16(1);
    let mut mail_at = 0;
    r.ptr(12).rr(rr::MX, 300).rdata(|d| {
        d.u16(10);
        mail_at = d.here();
        d.labels("mail").ptr(12);
    });
    let mut mx2_at = 0;
    r.ptr(12).rr(rr::MX, 300).rdata(|d| {
        d.u16(20);
        mx2_at = d.here();
        d.labels("mx2").ptr(12);
    });
    r.answer_a(mail_at, 300, v4(93, 184, 216, 40));
    r.answer_a(mx2_at, 300, v4(93, 184, 216, 41));
    exchange(&mut c, &q, &r);
    // TXT with two character strings.
    let q = Dns::query(0x1a2e, "example.com", rr::TXT);
    let mut r = Dns::new(0x1a2e, 0x8180, [1, 1, 0, 0]);
    r.name("example.com").u16(rr::TXT).u16(1);
    r.ptr(12).rr(rr::TXT, 86_400).rdata(|d| {
        for s in ["v=spf1 -all", "pcapx fixture"] {
            d.bytes(&[u8::try_from(s.len()).unwrap_or(0)])
                .bytes(s.as_bytes());
        }
    });
    exchange(&mut c, &q, &r);
    // PTR.
    let q = Dns::query(0x1a2f, "34.216.184.93.in-addr.arpa", rr::PTR);
    let mut r = Dns::new(0x1a2f, 0x8180, [1, 1, 0, 0]);
    r.name("34.216.184.93.in-addr.arpa").u16(rr::PTR).u16(1);
    r.ptr(12).rr(rr::PTR, 21_600).rdata(|d| {
        d.name("example.com");
    });
    exchange(&mut c, &q, &r);
    // NXDOMAIN with the zone's SOA in the authority section.
    let q = Dns::query(0x1a30, "nonexistent.example.com", rr::A);
    let mut r = Dns::new(0x1a30, 0x8183, [1, 0, 1, 0]);
    r.name("nonexistent.example.com").u16(rr::A).u16(1);
    let zone = 12 + 12; // "example.com" after the 12-byte "nonexistent" label
    r.ptr(zone).rr(rr::SOA, 3_600).rdata(|d| {
        let icann = d.here() + 3;
        d.name("ns.icann.org");
        d.labels("noc.dns").ptr(icann);
        d.u32(2_023_111_401)
            .u32(7_200)
            .u32(3_600)
            .u32(1_209_600)
            .u32(3_600);
    });
    exchange(&mut c, &q, &r);
    // DNS over TCP: handshake, length-prefixed query and response, close.
    let mut conv = TcpConv::new(
        ep(LAN_A_MAC, cl, 40_200, 64),
        ep(LAN_B_MAC, sv, 53, 64),
        [0x0dd0_0000, 0x0ee0_0000],
    );
    c.add_all(300, conv.handshake());
    let q = Dns::query(0x2b3c, "example.com", rr::A);
    c.add(
        80,
        conv.segment(Dir::ToServer, flags::PSH | flags::ACK, &q.tcp_framed()),
    );
    let mut r = Dns::new(0x2b3c, 0x8180, [1, 1, 0, 0]);
    r.name("example.com")
        .u16(rr::A)
        .u16(1)
        .answer_a(12, 3_600, EXAMPLE);
    c.add(
        11_000,
        conv.segment(Dir::ToClient, flags::PSH | flags::ACK, &r.tcp_framed()),
    );
    c.add(50, conv.segment(Dir::ToServer, flags::ACK, &[]));
    c.add_all(200, conv.close());
    // A response whose answer name is a pointer to itself: a compression loop.
    let q = Dns::query(0x1a31, "loop.example.com", rr::A);
    let mut r = Dns::new(0x1a31, 0x8180, [1, 1, 0, 0]);
    r.name("loop.example.com").u16(rr::A).u16(1);
    let self_at = r.here();
    r.ptr(self_at).rr(rr::A, 60).rdata(|d| {
        d.bytes(&[192, 0, 2, 1]);
    });
    exchange(&mut c, &q, &r);
    c.done()
}

fn snaplen_truncated() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 800);
    let mut conv = TcpConv::new(
        ep(HOST_MAC, HOST, 49_900, 64),
        ep(GW_MAC, EXAMPLE, 80, 56),
        [0x4000_0000, 0x5000_0000],
    );
    c.add_all(20_000, conv.handshake());
    let get = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: pcapx\r\nAccept: */*\r\n\r\n";
    c.add(
        100,
        conv.segment(Dir::ToServer, flags::PSH | flags::ACK, get),
    );
    c.add(20_000, conv.segment(Dir::ToClient, flags::ACK, &[]));
    let mut body = b"HTTP/1.1 200 OK\r\nContent-Length: 1300\r\n\r\n".to_vec();
    body.extend(vec![b'x'; 1300]);
    c.add(
        500,
        conv.segment(Dir::ToClient, flags::PSH | flags::ACK, &body),
    );
    c.add(40, conv.segment(Dir::ToServer, flags::ACK, &[]));
    let q = Dns::query(0x5151, "www.example.com", rr::A);
    c.add(
        5_000,
        eth_udp4(HOST_MAC, GW_MAC, HOST, GW, 0x6c00, 53_300, 53, &q.b),
    );
    c.add(
        5_000,
        eth_ping4(HOST_MAC, GW_MAC, HOST, GOOGLE, 0x6c01, false, 1),
    );
    c.done()
}

fn multi_interface() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 900);
    // Interface 0: Ethernet.
    c.add(
        0,
        ether(
            BROADCAST,
            LAN_A_MAC,
            ethertype::ARP,
            &arp(1, LAN_A_MAC, LAN_A, [0; 6], LAN_B),
        ),
    )
    .comment = Some("ARP on the Ethernet interface");
    // Interface 1: raw IPv4 with nanosecond timestamps.
    let (t1, t2) = (v4(10, 8, 0, 2), v4(10, 8, 0, 1));
    let p = c.fine(
        250,
        123,
        ipv4(
            &Ipv4::new(t1, t2, proto::ICMP, 0x0101),
            &icmp_echo(false, 9, 1, &ping_body(1)),
        ),
    );
    p.iface = 1;
    p.comment = Some("raw IPv4, if_tsresol 9");
    // Interface 2: Linux cooked.
    let q = Dns::query(0x6060, "example.net", rr::A);
    let d = ipv4(
        &Ipv4::new(LAN_A, LAN_B, proto::UDP, 0x0202),
        &udp(LAN_A.into(), LAN_B.into(), 45_000, 53, &q.b),
    );
    c.add(
        1_000,
        sll(sll_type::OUTGOING, 1, &LAN_A_MAC, ethertype::IPV4, &d),
    )
    .iface = 2;
    let mut conv = TcpConv::new(
        ep(LAN_A_MAC, LAN_A, 45_001, 64),
        ep(LAN_B_MAC, v4(192, 168, 1, 80), 80, 64),
        [1_000, 2_000],
    );
    let hs = conv.handshake();
    c.add(1_000, hs[0].clone());
    let mut h = Ipv4::new(t2, t1, proto::ICMP, 0x0102);
    h.flags = 0;
    let p = c.fine(120, 7, ipv4(&h, &icmp_echo(true, 9, 1, &ping_body(1))));
    p.iface = 1;
    let mut r = Dns::new(0x6060, 0x8180, [1, 1, 0, 0]);
    r.name("example.net")
        .u16(rr::A)
        .u16(1)
        .answer_a(12, 600, v4(93, 184, 215, 14));
    let d = ipv4(
        &Ipv4::new(LAN_B, LAN_A, proto::UDP, 0x0303),
        &udp(LAN_B.into(), LAN_A.into(), 53, 45_000, &r.b),
    );
    let p = c.add(
        1_000,
        sll(sll_type::HOST, 1, &LAN_B_MAC, ethertype::IPV4, &d),
    );
    p.iface = 2;
    p.comment = Some("DNS answer seen on the cooked interface");
    c.add(1_000, hs[1].clone());
    let d = ipv4(
        &Ipv4::new(t1, t2, proto::UDP, 0x0103),
        &udp(t1.into(), t2.into(), 40_700, 9, b"tunnel keepalive"),
    );
    c.fine(333, 333, d).iface = 1;
    let (a6, b6) = (
        v6([0xfe80, 0, 0, 0, 0x5054, 0xff, 0xfe12, 0x3456]),
        v6([0xfe80, 0, 0, 0, 0x5054, 0xff, 0xfeab, 0xcdef]),
    );
    let msg = icmpv6(a6, b6, 128, 0, 0x0007_0001, &ping_body(1));
    let p = c.add(
        1_000,
        sll(
            sll_type::OUTGOING,
            1,
            &LAN_A_MAC,
            ethertype::IPV6,
            &ipv6(&Ipv6::new(a6, b6, proto::ICMPV6), &msg),
        ),
    );
    p.iface = 2;
    c.done()
}

fn nanosecond() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 1_000);
    c.add_ns(
        123_456_789,
        eth_ping4(LAN_A_MAC, LAN_B_MAC, LAN_A, LAN_B, 0x0001, false, 1),
    );
    c.add_ns(
        1,
        eth_ping4(LAN_A_MAC, LAN_B_MAC, LAN_A, LAN_B, 0x0002, false, 2),
    );
    c.add_ns(
        87_654_321,
        eth_ping4(LAN_B_MAC, LAN_A_MAC, LAN_B, LAN_A, 0x0003, true, 1),
    );
    c.add_ns(
        999,
        eth_ping4(LAN_B_MAC, LAN_A_MAC, LAN_B, LAN_A, 0x0004, true, 2),
    );
    c.done()
}

fn big_endian() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 1_100);
    let q = Dns::query(0x0be0, "example.com", rr::A);
    c.add(
        0,
        eth_udp4(LAN_A_MAC, LAN_B_MAC, LAN_A, LAN_B, 0x0e01, 40_500, 53, &q.b),
    );
    let mut r = Dns::new(0x0be0, 0x8180, [1, 1, 0, 0]);
    r.name("example.com")
        .u16(rr::A)
        .u16(1)
        .answer_a(12, 3_600, EXAMPLE);
    c.add(
        9_876,
        eth_udp4(LAN_B_MAC, LAN_A_MAC, LAN_B, LAN_A, 0x0e02, 53, 40_500, &r.b),
    );
    c.add(
        100_000,
        eth_ping4(LAN_A_MAC, LAN_B_MAC, LAN_A, EXAMPLE, 0x0e03, false, 1),
    );
    c.add(
        88_888,
        eth_ping4(LAN_B_MAC, LAN_A_MAC, EXAMPLE, LAN_A, 0x0e04, true, 1),
    );
    c.done()
}

fn sll_fixture() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 1_200);
    let mut conv = TcpConv::new(
        ep(LAN_A_MAC, LAN_A, 46_000, 64),
        ep(LAN_B_MAC, v4(192, 168, 1, 80), 22, 64),
        [0xa000, 0xb000],
    );
    let hs = conv.handshake();
    // Strip the 14-byte Ethernet header the conversation adds.
    let ip_of = |f: &[u8]| f.get(14..).unwrap_or_default().to_vec();
    c.add(
        0,
        sll(
            sll_type::OUTGOING,
            1,
            &LAN_A_MAC,
            ethertype::IPV4,
            &ip_of(&hs[0]),
        ),
    );
    c.add(
        400,
        sll(
            sll_type::HOST,
            1,
            &LAN_B_MAC,
            ethertype::IPV4,
            &ip_of(&hs[1]),
        ),
    );
    c.add(
        1_000,
        sll(
            sll_type::BROADCAST,
            1,
            &LAN_B_MAC,
            ethertype::ARP,
            &arp(1, LAN_B_MAC, LAN_B, [0; 6], LAN_A),
        ),
    );
    let (a6, b6) = (
        v6([0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x10]),
        v6([0x2001, 0xdb8, 0, 1, 0, 0, 0, 1]),
    );
    let q = Dns::query(0x5111, "example.com", rr::AAAA);
    let p = ipv6(
        &Ipv6::new(b6, a6, proto::UDP),
        &udp(b6.into(), a6.into(), 47_000, 53, &q.b),
    );
    c.add(
        1_000,
        sll(sll_type::HOST, 1, &LAN_B_MAC, ethertype::IPV6, &p),
    );
    let lo = v4(127, 0, 0, 1);
    let p = ipv4(
        &Ipv4::new(lo, lo, proto::UDP, 0x7001),
        &udp(lo.into(), lo.into(), 48_000, 8_125, b"metric:1|c"),
    );
    c.add(
        1_000,
        sll(sll_type::HOST, 772, &[0; 6], ethertype::IPV4, &p),
    );
    let other = v4(192, 168, 1, 77);
    let mut h = Ipv4::new(other, LAN_B, proto::ICMP, 0x7002);
    h.ttl = 128;
    let p = ipv4(&h, &icmp_echo(false, 1, 44, &ping_body(44)));
    c.add(
        1_000,
        sll(
            sll_type::OTHERHOST,
            1,
            &[0x00, 0x11, 0x22, 0x33, 0x44, 0x55],
            ethertype::IPV4,
            &p,
        ),
    );
    c.done()
}

fn ipv6_ext() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 1_300);
    let a6 = v6([0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 1]);
    let b6 = v6([0x2001, 0xdb8, 0xb, 0, 0, 0, 0, 2]);
    // Hop-by-Hop router alert (MLD) + MLDv2 report joining ff02::fb.
    let mld_dst = v6([0xff02, 0, 0, 0, 0, 0, 0, 0x16]);
    let link_local = v6([0xfe80, 0, 0, 0, 0x5054, 0xff, 0xfe12, 0x3456]);
    let mut record = vec![4, 0, 0, 0];
    record.extend(v6([0xff02, 0, 0, 0, 0, 0, 0, 0xfb]).octets());
    let mld = icmpv6(link_local, mld_dst, 143, 0, 1, &record);
    let hbh = packets::ipv6_ext(proto::ICMPV6, &[5, 2, 0, 0], &mld);
    let mut h = Ipv6::new(link_local, mld_dst, proto::HOPOPT);
    h.hop_limit = 1;
    c.add(
        0,
        ether(
            [0x33, 0x33, 0, 0, 0, 0x16],
            LAN_A_MAC,
            ethertype::IPV6,
            &ipv6(&h, &hbh),
        ),
    );
    // Destination Options (PadN only) + UDP.
    let d = udp(a6.into(), b6.into(), 40_000, 7, b"dstopts");
    let dst = packets::ipv6_ext(proto::UDP, &[], &d);
    c.add(
        1_000,
        ether(
            LAN_B_MAC,
            LAN_A_MAC,
            ethertype::IPV6,
            &ipv6(&Ipv6::new(a6, b6, proto::DSTOPTS), &dst),
        ),
    );
    // Segment Routing header (type 4), two segments, one left, before a TCP SYN.
    let via = v6([0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 3]);
    let syn = tcp(
        a6.into(),
        b6.into(),
        &Tcp {
            sport: 40_001,
            dport: 443,
            seq: 1,
            flags: flags::SYN,
            window: 64_800,
            options: &[TcpOption::mss(1440)],
            ..Tcp::default()
        },
    );
    let mut srh = vec![proto::TCP, 4, 4, 1, 1, 0, 0, 0];
    srh.extend(b6.octets());
    srh.extend(via.octets());
    srh.extend(&syn);
    c.add(
        1_000,
        ether(
            LAN_B_MAC,
            LAN_A_MAC,
            ethertype::IPV6,
            &ipv6(&Ipv6::new(a6, via, proto::ROUTING), &srh),
        ),
    );
    // Hop-by-Hop, Destination Options, atomic Fragment header, UDP.
    let d = udp(a6.into(), b6.into(), 40_002, 7, b"chain");
    let frag = packets::ipv6_frag(proto::UDP, 0, false, 0x0000_0042, &d);
    let dst = packets::ipv6_ext(proto::FRAGMENT, &[], &frag);
    let hbh = packets::ipv6_ext(proto::DSTOPTS, &[], &dst);
    c.add(
        1_000,
        ether(
            LAN_B_MAC,
            LAN_A_MAC,
            ethertype::IPV6,
            &ipv6(&Ipv6::new(a6, b6, proto::HOPOPT), &hbh),
        ),
    );
    c.done()
}

fn bad_checksums() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 1_400);
    c.add(
        0,
        eth_ping4(LAN_A_MAC, LAN_B_MAC, LAN_A, LAN_B, 0x0c01, false, 1),
    );
    c.add(
        500,
        eth_ping4(LAN_B_MAC, LAN_A_MAC, LAN_B, LAN_A, 0x0c02, true, 1),
    );
    let mut bad = eth_udp4(
        LAN_A_MAC,
        LAN_B_MAC,
        LAN_A,
        LAN_B,
        0x0c03,
        40_600,
        9,
        b"bad ip checksum",
    );
    // IPv4 header checksum at Ethernet 14 + 10.
    bad[24] ^= 0x5a;
    c.add(500, bad);
    c.add(
        500,
        eth_udp4(
            LAN_A_MAC,
            LAN_B_MAC,
            LAN_A,
            LAN_B,
            0x0c04,
            40_601,
            9,
            b"good ip checksum",
        ),
    );
    c.done()
}

fn truncated_record() -> Vec<Pkt> {
    let mut c = Cap::at(T0 + 1_500);
    c.add(
        0,
        eth_ping4(LAN_A_MAC, LAN_B_MAC, LAN_A, LAN_B, 0x0d01, false, 1),
    );
    c.add(
        700,
        eth_ping4(LAN_B_MAC, LAN_A_MAC, LAN_B, LAN_A, 0x0d02, true, 1),
    );
    c.add(
        1_000_000,
        eth_ping4(LAN_A_MAC, LAN_B_MAC, LAN_A, LAN_B, 0x0d03, false, 2),
    );
    c.add(
        700,
        eth_ping4(LAN_B_MAC, LAN_A_MAC, LAN_B, LAN_A, 0x0d04, true, 2),
    );
    c.add(
        1_000_000,
        eth_ping4(LAN_A_MAC, LAN_B_MAC, LAN_A, LAN_B, 0x0d05, false, 3),
    );
    c.done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_small() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a, b);
        let total: usize = a.iter().map(|(_, v)| v.len()).sum();
        assert!(total < 1_000_000, "fixtures are {total} bytes");
        assert_eq!(a.len(), FIXTURES.len() + 1);
    }

    #[test]
    fn scaled_timestamps_follow_tsresol() {
        let t = Duration::new(5, 123_456_000);
        assert_eq!(scaled_ts(t, 6).unwrap(), Duration::from_nanos(5_123_456));
        assert_eq!(scaled_ts(t, 9).unwrap(), t);
        assert!(scaled_ts(Duration::new(5, 1), 6).is_err());
    }

    #[test]
    fn truncated_record_ends_inside_the_last_record() {
        let all = generate().unwrap();
        let bytes = &all
            .iter()
            .find(|(n, _)| n == "truncated-record.pcap")
            .unwrap()
            .1;
        let pkts = truncated_record();
        let whole: usize = 24 + pkts.iter().map(|p| 16 + p.data.len()).sum::<usize>();
        let last = pkts.last().unwrap().data.len();
        assert_eq!(bytes.len(), whole - (last - last / 2));
    }

    #[test]
    fn checksums_are_correct_except_where_intended() {
        use crate::packets::{ipv4_checksum_ok, tcp_checksum_ok, udp_checksum_ok};
        for fx in FIXTURES {
            for (i, p) in (fx.packets)().iter().enumerate() {
                let (l3, ty) = match fx.format {
                    Format::Pcap {
                        link: link::ETHERNET,
                        ..
                    }
                    | Format::PcapNg { .. }
                        if p.iface == 0 =>
                    {
                        // Skip VLAN tags.
                        let mut at = 12;
                        while matches!(p.data.get(at..at + 2), Some([0x81, 0x00] | [0x88, 0xa8])) {
                            at += 4;
                        }
                        (p.data.get(at + 2..), p.data.get(at..at + 2))
                    }
                    _ => continue,
                };
                if ty == Some(&[0x86, 0xdd]) {
                    check_ipv6(fx.name, i, l3.unwrap());
                    continue;
                }
                if ty != Some(&[0x08, 0x00]) {
                    continue;
                }
                let l3 = l3.unwrap();
                let bad_expected = fx.name == "bad-checksums.pcap" && i == 2;
                let truncated = p.orig_len.is_some() || fx.name == "snaplen-truncated.pcap";
                if truncated {
                    continue;
                }
                assert_eq!(
                    ipv4_checksum_ok(l3),
                    !bad_expected,
                    "{} packet {}",
                    fx.name,
                    i + 1
                );
                let ihl = usize::from(l3[0] & 0x0f) * 4;
                let frag = u16::from_be_bytes([l3[6], l3[7]]) & 0x3fff;
                if frag != 0 {
                    continue;
                }
                let src = Ipv4Addr::new(l3[12], l3[13], l3[14], l3[15]);
                let mut dst = Ipv4Addr::new(l3[16], l3[17], l3[18], l3[19]);
                if fx.name == "ipv4-options.pcap" && l3.get(20..22) == Some(&[1, 131]) {
                    dst = Ipv4Addr::new(198, 51, 100, 20); // source route: final destination
                }
                let total = usize::from(u16::from_be_bytes([l3[2], l3[3]]));
                let l4 = &l3[ihl..total];
                match l3[9] {
                    proto::TCP => assert!(
                        tcp_checksum_ok(src.into(), dst.into(), l4),
                        "{} packet {}",
                        fx.name,
                        i + 1
                    ),
                    proto::UDP => assert!(
                        udp_checksum_ok(src.into(), dst.into(), l4),
                        "{} packet {}",
                        fx.name,
                        i + 1
                    ),
                    proto::ICMP => assert!(
                        packets::icmp_checksum_ok(l4),
                        "{} packet {}",
                        fx.name,
                        i + 1
                    ),
                    _ => {}
                }
            }
        }
    }

    /// Checks the transport checksum of an IPv6 packet without extension headers.
    fn check_ipv6(name: &str, i: usize, l3: &[u8]) {
        use crate::packets::{icmpv6_checksum_ok, tcp_checksum_ok, udp_checksum_ok};
        let src = Ipv6Addr::from(<[u8; 16]>::try_from(&l3[8..24]).unwrap());
        let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&l3[24..40]).unwrap());
        let l4 = &l3[40..];
        let ok = match l3[6] {
            proto::TCP => tcp_checksum_ok(src.into(), dst.into(), l4),
            proto::UDP => udp_checksum_ok(src.into(), dst.into(), l4),
            proto::ICMPV6 => icmpv6_checksum_ok(src, dst, l4),
            _ => true,
        };
        assert!(ok, "{name} packet {}", i + 1);
    }

    #[test]
    fn check_reports_drift() {
        let dir = tempfile::tempdir().unwrap();
        write_all(dir.path()).unwrap();
        assert_eq!(check(dir.path()).unwrap(), Vec::<String>::new());
        std::fs::write(dir.path().join("vlan.pcap"), b"changed").unwrap();
        std::fs::remove_file(dir.path().join("README.md")).unwrap();
        assert_eq!(
            check(dir.path()).unwrap(),
            vec!["vlan.pcap".to_owned(), "README.md".to_owned()]
        );
    }

    /// Whether an oracle tool is installed; under `CI` a missing tool fails.
    fn have(tool: &str) -> bool {
        let ok = std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            assert!(
                std::env::var_os("CI").is_none(),
                "{tool} is required under CI"
            );
            println!("skipped: {tool} not installed");
        }
        ok
    }

    /// tshark reads every committed fixture with the expected packet count and
    /// no malformed packets; tcpdump agrees where libpcap reads the format.
    #[test]
    fn oracles_read_the_fixtures() {
        if !have("tshark") || !have("tcpdump") {
            return;
        }
        let dir = default_dir();
        for fx in FIXTURES {
            let path = dir.join(fx.name);
            let want = (fx.packets)().len();
            let (want, readable) = match fx.format {
                Format::Text(_) => (0, false),
                Format::Gzip { of } => (
                    FIXTURES
                        .iter()
                        .find(|f| f.name == of)
                        .map_or(0, |f| (f.packets)().len()),
                    true,
                ),
                Format::Pcap { cut_last: true, .. } => (want - 1, false),
                _ => (want, true),
            };
            let out = std::process::Command::new("tshark")
                .arg("-r")
                .arg(&path)
                .args(["-T", "fields", "-e", "frame.number", "-e", "_ws.malformed"])
                .output()
                .unwrap();
            assert_eq!(out.status.success(), readable, "{}: tshark status", fx.name);
            let text = String::from_utf8_lossy(&out.stdout);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), want, "{}: tshark packet count", fx.name);
            assert!(
                lines
                    .iter()
                    .all(|l| l.trim_end().split('\t').nth(1).is_none_or(str::is_empty)),
                "{}: malformed packets:\n{text}",
                fx.name
            );
            let libpcap_reads = match fx.format {
                Format::PcapNg { ifaces, .. } => ifaces.iter().all(|i| i.link == ifaces[0].link),
                Format::Pcap { .. } => true,
                Format::Gzip { .. } | Format::Text(_) => false,
            };
            if libpcap_reads {
                let out = std::process::Command::new("tcpdump")
                    .arg("-nr")
                    .arg(&path)
                    .output()
                    .unwrap();
                let n = String::from_utf8_lossy(&out.stdout).lines().count();
                assert_eq!(n, want, "{}: tcpdump packet count", fx.name);
            }
        }
    }
}
