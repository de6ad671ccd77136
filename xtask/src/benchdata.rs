//! `cargo xtask bench-data [--packets N] [--out DIR] [--pcapng] [--seed S]`:
//! large deterministic captures for benchmarks.
//!
//! The traffic is a realistic mix driven by a seeded PRNG: mostly TCP
//! conversations with options (MSS/SACK/timestamps, window scale, occasional
//! SACK blocks) whose payloads go up to 1448 bytes, DNS over UDP, ICMP echo,
//! ARP, IPv6 TCP/UDP, 802.1Q-tagged IPv4 and padded minimum-size frames, from
//! about 1000 client hosts chosen with a skew (a few talk a lot). Packets are
//! streamed through a buffered writer, so memory stays bounded whatever the
//! packet count.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::{DataLink, Endianness, TsResolution};
use pnet_packet::tcp::TcpOption;

use crate::Result;
use crate::packets::{
    BROADCAST, Dir, Dns, Endpoint, Ipv4, Ipv6, Mac, Tag, TcpConv, arp, ether, ethertype, flags,
    icmp_echo, ipv4, ipv6, pad_min, proto, rr, udp,
};

/// Command-line options of `bench-data`.
#[derive(Clone, Debug)]
pub struct Options {
    pub packets: u64,
    pub out: PathBuf,
    pub pcapng: bool,
    pub seed: u64,
    /// Application traffic: TCP conversations are TLS on 443 and HTTP/1.1
    /// on 80 (`bench-app-N.pcap`), for the application-field benchmark.
    pub app: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            packets: 1_000_000,
            out: crate::workspace_root().join("bench-data"),
            pcapng: false,
            seed: 0x7063_6170_7862_656e, // "pcapxben"
            app: false,
        }
    }
}

/// What was written.
#[derive(Clone, Debug)]
pub struct Summary {
    pub path: PathBuf,
    pub packets: u64,
    pub bytes: u64,
    pub frame_bytes: u64,
    pub elapsed: Duration,
}

/// A small, seedable PRNG (SplitMix64): deterministic across platforms.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `0..n` as usize.
    pub fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(u64::try_from(n).unwrap_or(u64::MAX))).unwrap_or(0)
    }

    /// True with probability `permille`/1000.
    pub fn chance(&mut self, permille: u64) -> bool {
        self.below(1000) < permille
    }

    /// Skewed index in `0..n`: small indices are much more likely.
    pub fn skewed(&mut self, n: usize) -> usize {
        let outer = self.index(n) + 1;
        let inner = self.index(outer) + 1;
        self.index(inner)
    }

    pub fn u16(&mut self) -> u16 {
        self.next_u64().to_le_bytes()[0..2]
            .iter()
            .fold(0, |a, &b| (a << 8) | u16::from(b))
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(
            self.next_u64().to_le_bytes()[0..4]
                .try_into()
                .unwrap_or([0; 4]),
        )
    }
}

const CLIENTS: usize = 1000;
const SERVERS: usize = 64;
const FLOWS: usize = 256;
const MSS_PAYLOAD: usize = 1448;

/// The flavour of a TCP conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// IPv4 with timestamps.
    V4,
    /// IPv4 without timestamps; pure ACKs are 54 bytes and get padded to 60.
    V4Padded,
    /// IPv4 on VLAN 100..=115.
    V4Vlan,
    /// IPv6 with timestamps.
    V6,
}

struct Flow {
    conv: TcpConv,
    kind: Kind,
    sent: u32,
    /// Payload segments each side sent (application mode: the first ones
    /// are the TLS hellos).
    said: [u32; 2],
    /// Index into `NAMES` (SNI, Host).
    name: usize,
    /// Data segments left before the close.
    left: u32,
}

/// The traffic model: host tables, active flows, PRNG and clock.
struct Traffic {
    rng: Rng,
    flows: Vec<Flow>,
    next_port: u16,
    ip_id: u16,
    /// Frames produced but not yet emitted (a conversation step can make several).
    queue: Vec<Vec<u8>>,
    payload: Vec<u8>,
    app: bool,
}

fn client_mac(i: usize) -> Mac {
    let b = u32::try_from(i).unwrap_or(0).to_be_bytes();
    [0x02, 0x42, b[0], b[1], b[2], b[3]]
}

const ROUTER_MAC: Mac = [0x00, 0x1b, 0x21, 0x3a, 0x4c, 0x5e];

fn client_v4(i: usize) -> Ipv4Addr {
    let n = u32::try_from(i).unwrap_or(0);
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 20, 0, 10)) + n)
}

fn client_v6(i: usize) -> Ipv6Addr {
    let n = u16::try_from(i).unwrap_or(0);
    Ipv6Addr::new(0x2001, 0xdb8, 0x20, 0, 0, 0, 0x1000, n)
}

fn server_v4(i: usize) -> Ipv4Addr {
    let n = u32::try_from(i).unwrap_or(0);
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 1)) + n * 7)
}

fn server_v6(i: usize) -> Ipv6Addr {
    let n = u16::try_from(i).unwrap_or(0);
    Ipv6Addr::new(0x2001, 0xdb8, 0xf00, n, 0, 0, 0, 1)
}

/// Server ports whose payload tshark treats as opaque (TLS on 443/993/853,
/// iperf3 on 5201), so random payload bytes do not look like broken HTTP or SSH.
const SERVER_PORTS: [u16; 6] = [443, 443, 443, 993, 853, 5201];
const NAMES: [&str; 8] = [
    "example.com",
    "www.example.org",
    "cdn.example.net",
    "api.example.com",
    "mail.example.org",
    "static.example.net",
    "login.example.com",
    "updates.example.org",
];
/// Server ports of application mode: TLS and HTTP, half each.
const APP_PORTS: [u16; 2] = [443, 80];

/// Application-mode payload of about `n` bytes for `flow` into `out`:
/// TLS (port 443) — the client's first segment a ClientHello with the
/// flow's SNI, the server's first a ServerHello and ChangeCipherSpec, then
/// one application-data record per segment; HTTP (port 80) — each client
/// segment a GET with Host and User-Agent, each server segment a whole
/// response whose `Content-Length` body fills it. Every segment holds
/// whole records/messages.
fn app_payload(flow: &Flow, client: bool, n: usize, out: &mut Vec<u8>) {
    let name = NAMES[flow.name % NAMES.len()];
    let first = flow.said[usize::from(!client)] == 0;
    let body_byte = u8::try_from(flow.sent % 251).unwrap_or(0);
    out.clear();
    if flow.conv.server.port == 443 {
        if first && client {
            client_hello(name, u8::try_from(flow.name).unwrap_or(0), out);
        } else if first {
            server_hello(out);
        } else {
            let len = n.clamp(32, 1400) - 5;
            out.extend_from_slice(&[23, 3, 3]);
            out.extend_from_slice(&u16::try_from(len).unwrap_or(0).to_be_bytes());
            out.resize(5 + len, body_byte);
        }
        return;
    }
    if client {
        out.extend_from_slice(
            format!(
                "GET /static/{}/item{}.js HTTP/1.1\r\nHost: {name}\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) bench/1.0\r\nAccept: */*\r\nCookie: session={:08x}\r\n\r\n",
                flow.name, flow.sent, flow.conv.client.port
            )
            .as_bytes(),
        );
    } else {
        let head = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/javascript\r\nContent-Length: ";
        let body = n.saturating_sub(head.len() + 8).max(1);
        out.extend_from_slice(format!("{head}{body}\r\n\r\n").as_bytes());
        out.resize(out.len() + body, b'a' + body_byte % 26);
    }
}

/// A TLS 1.3-style ClientHello record (SNI, groups, signature algorithms,
/// ALPN h2/http/1.1, supported versions, an X25519 key share).
fn client_hello(name: &str, seed: u8, out: &mut Vec<u8>) {
    fn ext(out: &mut Vec<u8>, ty: u16, body: &[u8]) {
        out.extend_from_slice(&ty.to_be_bytes());
        out.extend_from_slice(&u16::try_from(body.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(body);
    }
    let mut exts = Vec::new();
    let host = name.as_bytes();
    let hl = u16::try_from(host.len()).unwrap_or(0);
    let mut sni = (hl + 3).to_be_bytes().to_vec();
    sni.push(0);
    sni.extend_from_slice(&hl.to_be_bytes());
    sni.extend_from_slice(host);
    ext(&mut exts, 0, &sni);
    ext(&mut exts, 10, &[0, 6, 0, 0x1d, 0, 0x17, 0, 0x18]);
    ext(&mut exts, 11, &[1, 0]);
    ext(&mut exts, 13, &[0, 8, 4, 3, 8, 4, 4, 1, 5, 3]);
    ext(&mut exts, 16, b"\x00\x0c\x02h2\x08http/1.1");
    ext(&mut exts, 43, &[4, 3, 4, 3, 3]);
    let mut ks = vec![0, 36, 0, 0x1d, 0, 32];
    ks.extend((0..32u8).map(|i| i.wrapping_mul(seed | 1)));
    ext(&mut exts, 51, &ks);
    let mut body = vec![3, 3];
    body.extend((0..32u8).map(|i| i ^ seed));
    body.push(32);
    body.extend((0..32u8).map(|i| i.wrapping_add(seed)));
    let suites: [u16; 8] = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0x009c,
    ];
    body.extend_from_slice(&u16::try_from(suites.len() * 2).unwrap_or(0).to_be_bytes());
    for c in suites {
        body.extend_from_slice(&c.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&u16::try_from(exts.len()).unwrap_or(0).to_be_bytes());
    body.extend_from_slice(&exts);
    handshake_record(1, &body, 0x0301, out);
}

/// A ServerHello (TLS 1.3: supported_versions, key share) and a
/// ChangeCipherSpec record.
fn server_hello(out: &mut Vec<u8>) {
    let mut body = vec![3, 3];
    body.extend(0..32u8);
    body.push(32);
    body.extend(32..64u8);
    body.extend_from_slice(&[0x13, 0x01, 0]);
    let mut exts = vec![0, 43, 0, 2, 3, 4, 0, 51, 0, 36, 0, 0x1d, 0, 32];
    exts.extend(64..96u8);
    body.extend_from_slice(&u16::try_from(exts.len()).unwrap_or(0).to_be_bytes());
    body.extend_from_slice(&exts);
    handshake_record(2, &body, 0x0303, out);
    out.extend_from_slice(&[20, 3, 3, 0, 1, 1]);
}

fn handshake_record(ty: u8, body: &[u8], version: u16, out: &mut Vec<u8>) {
    let len = u32::try_from(body.len()).unwrap_or(0);
    out.push(22);
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&u16::try_from(body.len() + 4).unwrap_or(0).to_be_bytes());
    out.push(ty);
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(body);
}

const RESOLVER: Ipv4Addr = Ipv4Addr::new(10, 20, 0, 1);

impl Traffic {
    fn new(seed: u64, app: bool) -> Self {
        let mut t = Self {
            rng: Rng::new(seed),
            flows: Vec::with_capacity(FLOWS),
            next_port: 32_768,
            ip_id: 1,
            queue: Vec::new(),
            payload: Vec::with_capacity(MSS_PAYLOAD),
            app,
        };
        for _ in 0..FLOWS {
            let f = t.new_flow();
            t.flows.push(f);
        }
        t
    }

    fn port(&mut self) -> u16 {
        self.next_port = if self.next_port >= 60_999 {
            32_768
        } else {
            self.next_port + 1
        };
        self.next_port
    }

    fn new_flow(&mut self) -> Flow {
        let kind = match self.rng.below(100) {
            0..70 => Kind::V4,
            70..80 => Kind::V4Padded,
            80..90 => Kind::V4Vlan,
            _ => Kind::V6,
        };
        let c = self.rng.skewed(CLIENTS);
        let s = self.rng.skewed(SERVERS);
        let sport = if self.app {
            APP_PORTS[self.rng.index(APP_PORTS.len())]
        } else {
            SERVER_PORTS[self.rng.index(SERVER_PORTS.len())]
        };
        let (cip, sip): (IpAddr, IpAddr) = match kind {
            Kind::V6 => (client_v6(c).into(), server_v6(s).into()),
            _ => (client_v4(c).into(), server_v4(s).into()),
        };
        let cport = self.port();
        let client = Endpoint {
            mac: client_mac(c),
            ip: cip,
            port: cport,
            ttl: 64,
        };
        let server = Endpoint {
            mac: ROUTER_MAC,
            ip: sip,
            port: sport,
            ttl: 52,
        };
        let isn = [self.rng.u32(), self.rng.u32()];
        let mut conv = TcpConv::new(client, server, isn);
        conv.ip_id = [self.rng.u16(), self.rng.u16()];
        match kind {
            Kind::V4Padded => {
                conv.tsval = None;
                conv.pad = true;
            }
            Kind::V4Vlan => {
                let vid = 100 + u16::try_from(self.rng.below(16)).unwrap_or(0);
                conv.tags = vec![Tag::dot1q(vid)];
                conv.tsval = Some([self.rng.u32(), self.rng.u32()]);
            }
            Kind::V4 | Kind::V6 => conv.tsval = Some([self.rng.u32(), self.rng.u32()]),
        }
        // Mostly short conversations, some long transfers.
        let left = if self.rng.chance(150) {
            200 + self.rng.below(2000)
        } else {
            4 + self.rng.below(60)
        };
        Flow {
            conv,
            kind,
            sent: 0,
            said: [0, 0],
            name: self.rng.index(NAMES.len()),
            left: u32::try_from(left).unwrap_or(u32::MAX),
        }
    }

    fn payload_len(&mut self) -> usize {
        match self.rng.below(100) {
            0..80 => MSS_PAYLOAD,
            80..92 => 1 + self.rng.index(MSS_PAYLOAD),
            _ => 1 + self.rng.index(300),
        }
    }

    fn fill_payload(&mut self, len: usize) {
        self.payload.clear();
        let seed = self.rng.next_u64();
        self.payload.extend(
            (0..len)
                .map(|i| (seed.rotate_left(u32::try_from(i % 64).unwrap_or(0))).to_le_bytes()[0]),
        );
    }

    /// Advances one TCP conversation by one step (one or three frames).
    fn tcp_step(&mut self) {
        let i = self.rng.index(self.flows.len());
        let data_len = self.payload_len();
        self.fill_payload(data_len);
        let sack = self.rng.chance(30);
        let client_talks = self.rng.chance(60);
        let Some(flow) = self.flows.get_mut(i) else {
            return;
        };
        let frame = match flow.sent {
            0 => flow.conv.segment(Dir::ToServer, flags::SYN, &[]),
            1 => flow
                .conv
                .segment(Dir::ToClient, flags::SYN | flags::ACK, &[]),
            2 => flow.conv.segment(Dir::ToServer, flags::ACK, &[]),
            _ if flow.left == 0 => {
                // Close: FIN, FIN, ACK; then the slot gets a fresh conversation.
                let close = flow.conv.close();
                self.queue.extend(close.into_iter().rev());
                let fresh = self.new_flow();
                if let Some(slot) = self.flows.get_mut(i) {
                    *slot = fresh;
                }
                return;
            }
            n if n % 4 == 0 => {
                // The receiver acknowledges; sometimes with a SACK block.
                if sack && flow.kind != Kind::V4Padded {
                    let ack = flow.conv.seq[1];
                    let (ts_c, ts_s) = flow.conv.tsval.map_or((0, 0), |t| (t[0], t[1]));
                    let mut opts = crate::packets::ts_options(ts_c, ts_s);
                    let lo = ack.wrapping_add(2896);
                    opts.extend([
                        TcpOption::nop(),
                        TcpOption::nop(),
                        TcpOption::selective_ack(&[lo, lo.wrapping_add(1448)]),
                    ]);
                    flow.conv
                        .segment_with(Dir::ToServer, flags::ACK, &opts, &[])
                } else {
                    flow.conv.segment(Dir::ToServer, flags::ACK, &[])
                }
            }
            _ if client_talks => {
                let n = self.payload.len().min(400);
                if self.app {
                    app_payload(flow, true, n, &mut self.payload);
                }
                flow.said[0] += 1;
                flow.conv
                    .segment(Dir::ToServer, flags::PSH | flags::ACK, &self.payload)
            }
            _ => {
                flow.left -= 1;
                if self.app {
                    let n = self.payload.len();
                    app_payload(flow, false, n, &mut self.payload);
                }
                flow.said[1] += 1;
                flow.conv.segment(Dir::ToClient, flags::ACK, &self.payload)
            }
        };
        flow.sent += 1;
        self.queue.push(frame);
    }

    fn next_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1);
        self.ip_id
    }

    fn dns(&mut self) {
        let c = self.rng.skewed(CLIENTS);
        let (cip, mac) = (client_v4(c), client_mac(c));
        let name = NAMES[self.rng.index(NAMES.len())];
        let qtype = if self.rng.chance(300) {
            rr::AAAA
        } else {
            rr::A
        };
        let id = self.rng.u16();
        let port = self.port();
        let q = Dns::query(id, name, qtype);
        let qid = self.next_id();
        let d = udp(cip.into(), RESOLVER.into(), port, 53, &q.b);
        self.queue.push(ether(
            ROUTER_MAC,
            mac,
            ethertype::IPV4,
            &ipv4(&Ipv4::new(cip, RESOLVER, proto::UDP, qid), &d),
        ));
        let answers = 1 + u16::try_from(self.rng.below(3)).unwrap_or(0);
        let mut r = Dns::new(id, 0x8180, [1, answers, 0, 0]);
        r.name(name).u16(qtype).u16(1);
        for k in 0..answers {
            let ttl = 60 + u32::from(k) * 30;
            if qtype == rr::A {
                r.answer_a(12, ttl, Ipv4Addr::from(self.rng.u32()));
            } else {
                r.answer_aaaa(
                    12,
                    ttl,
                    Ipv6Addr::new(0x2001, 0xdb8, 0xd, k, 0, 0, 0, self.rng.u16()),
                );
            }
        }
        let rid = self.next_id();
        let d = udp(RESOLVER.into(), cip.into(), 53, port, &r.b);
        // The response comes out later, after the query.
        self.queue.insert(
            0,
            ether(
                mac,
                ROUTER_MAC,
                ethertype::IPV4,
                &ipv4(&Ipv4::new(RESOLVER, cip, proto::UDP, rid), &d),
            ),
        );
    }

    fn ping(&mut self) {
        let c = self.rng.skewed(CLIENTS);
        let (cip, mac) = (client_v4(c), client_mac(c));
        let sip = server_v4(self.rng.skewed(SERVERS));
        let seq = self.rng.u16();
        let body: Vec<u8> = (0..56u8).collect();
        let id = self.next_id();
        let req = ipv4(
            &Ipv4::new(cip, sip, proto::ICMP, id),
            &icmp_echo(false, 0x0100, seq, &body),
        );
        self.queue
            .push(ether(ROUTER_MAC, mac, ethertype::IPV4, &req));
        let mut h = Ipv4::new(sip, cip, proto::ICMP, id ^ 0x5555);
        h.ttl = 52;
        let rep = ipv4(&h, &icmp_echo(true, 0x0100, seq, &body));
        self.queue
            .insert(0, ether(mac, ROUTER_MAC, ethertype::IPV4, &rep));
    }

    fn arp(&mut self) {
        let c = self.rng.skewed(CLIENTS);
        let (cip, mac) = (client_v4(c), client_mac(c));
        if self.rng.chance(500) {
            self.queue.push(ether(
                BROADCAST,
                ROUTER_MAC,
                ethertype::ARP,
                &arp(1, ROUTER_MAC, RESOLVER, [0; 6], cip),
            ));
        } else {
            let reply = ether(
                ROUTER_MAC,
                mac,
                ethertype::ARP,
                &arp(2, mac, cip, ROUTER_MAC, RESOLVER),
            );
            self.queue.push(pad_min(reply, 0));
        }
    }

    fn udp6(&mut self) {
        let c = self.rng.skewed(CLIENTS);
        let (cip, mac) = (client_v6(c), client_mac(c));
        let sip = server_v6(self.rng.skewed(SERVERS));
        let port = self.port();
        let len = 20 + self.rng.index(1230);
        self.fill_payload(len);
        // A QUIC short header's first byte (fixed bit set), as UDP/443 traffic carries.
        // The second byte's high bit keeps tshark's CLTP heuristic (TPDU type 4) off it.
        if let [first, second, ..] = self.payload.as_mut_slice() {
            *first = 0x40 | (*first & 0x3f);
            *second |= 0x80;
        }
        let to_server = self.rng.chance(400);
        let (src, dst, sp, dp, smac, dmac) = if to_server {
            (cip, sip, port, 443, mac, ROUTER_MAC)
        } else {
            (sip, cip, 443, port, ROUTER_MAC, mac)
        };
        let d = udp(src.into(), dst.into(), sp, dp, &self.payload);
        let mut h = Ipv6::new(src, dst, proto::UDP);
        h.flow_label = self.rng.u32() & 0xf_ffff;
        self.queue
            .push(ether(dmac, smac, ethertype::IPV6, &ipv6(&h, &d)));
    }

    /// Produces the next frame.
    fn next_frame(&mut self) -> Vec<u8> {
        loop {
            if let Some(f) = self.queue.pop() {
                return f;
            }
            match self.rng.below(1000) {
                0..40 => self.dns(),
                40..50 => self.ping(),
                50..56 => self.arp(),
                56..80 => self.udp6(),
                _ => self.tcp_step(),
            }
        }
    }
}

enum Sink {
    Pcap(PcapWriter<BufWriter<File>>),
    PcapNg(PcapNgWriter<BufWriter<File>>),
}

/// Generates the capture described by `opts`.
pub fn run(opts: &Options) -> Result<Summary> {
    std::fs::create_dir_all(&opts.out)
        .map_err(|e| format!("creating {}: {e}", opts.out.display()))?;
    let ext = if opts.pcapng { "pcapng" } else { "pcap" };
    let stem = if opts.app { "bench-app" } else { "bench" };
    let path = opts.out.join(format!("{stem}-{}.{ext}", opts.packets));
    let file = File::create(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    let buf = BufWriter::with_capacity(1 << 20, file);
    let start = Instant::now();
    let mut sink = if opts.pcapng {
        let mut w = PcapNgWriter::with_endianness(buf, Endianness::Little)?;
        w.write_pcapng_block(InterfaceDescriptionBlock {
            linktype: DataLink::ETHERNET,
            snaplen: 262_144,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Borrowed("bench0")),
                InterfaceDescriptionOption::IfTsResol(6),
            ],
        })?;
        Sink::PcapNg(w)
    } else {
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: 262_144,
            datalink: DataLink::ETHERNET,
            ts_resolution: TsResolution::MicroSecond,
            endianness: Endianness::Little,
        };
        Sink::Pcap(PcapWriter::with_header(buf, header)?)
    };
    let mut traffic = Traffic::new(opts.seed, opts.app);
    let mut ts_us: u64 = 1_700_000_000 * 1_000_000;
    let mut frame_bytes = 0u64;
    for _ in 0..opts.packets {
        let frame = traffic.next_frame();
        ts_us += 1 + traffic.rng.below(20);
        let len = u32::try_from(frame.len())?;
        frame_bytes += u64::from(len);
        match &mut sink {
            Sink::Pcap(w) => {
                w.write_packet(&PcapPacket::new(Duration::from_micros(ts_us), len, &frame))?;
            }
            Sink::PcapNg(w) => {
                // pcap-file writes the raw count; the interface's unit is 1 µs.
                w.write_pcapng_block(EnhancedPacketBlock {
                    interface_id: 0,
                    timestamp: Duration::from_nanos(ts_us),
                    original_len: len,
                    data: Cow::Borrowed(&frame),
                    options: Vec::new(),
                })?;
            }
        }
    }
    let mut buf = match sink {
        Sink::Pcap(w) => w.into_writer(),
        Sink::PcapNg(w) => w.into_inner(),
    };
    buf.flush()?;
    drop(buf);
    let bytes = std::fs::metadata(&path)?.len();
    Ok(Summary {
        path,
        packets: opts.packets,
        bytes,
        frame_bytes,
        elapsed: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_spread() {
        let mut a = Rng::new(1);
        let mut b = Rng::new(1);
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut counts = [0u32; 10];
        for _ in 0..10_000 {
            counts[a.index(10)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn skew_favours_low_indices() {
        let mut r = Rng::new(7);
        let low = (0..10_000).filter(|_| r.skewed(1000) < 100).count();
        assert!(low > 4_000, "{low}");
    }

    #[test]
    fn traffic_mix_has_the_advertised_shape() {
        let mut t = Traffic::new(42, false);
        let n = 20_000;
        let (mut total, mut ipv6, mut vlan, mut arp, mut padded) = (0usize, 0, 0, 0, 0);
        let mut sources = std::collections::HashSet::new();
        for _ in 0..n {
            let f = t.next_frame();
            total += f.len();
            assert!(f.len() >= 60 || f.len() >= 42, "runt frame");
            assert!(f.len() <= 14 + 4 + 40 + 60 + 1448);
            match &f[12..14] {
                [0x86, 0xdd] => ipv6 += 1,
                [0x81, 0x00] => vlan += 1,
                [0x08, 0x06] => arp += 1,
                [0x08, 0x00] => {
                    sources.insert([f[26], f[27], f[28], f[29]]);
                }
                _ => panic!("unexpected ethertype"),
            }
            if f.len() == 60 {
                padded += 1;
            }
        }
        let avg = total / n;
        assert!((750..950).contains(&avg), "average frame {avg}");
        assert!(
            ipv6 > n / 50 && vlan > n / 50 && arp > 0 && padded > n / 100,
            "{ipv6} {vlan} {arp} {padded}"
        );
        assert!(sources.len() > 300, "{} sources", sources.len());
    }

    #[test]
    fn run_writes_a_readable_capture() {
        let dir = tempfile::tempdir().unwrap();
        for pcapng in [false, true] {
            let opts = Options {
                packets: 500,
                out: dir.path().to_owned(),
                pcapng,
                seed: 3,
                app: false,
            };
            let s = run(&opts).unwrap();
            assert_eq!(s.packets, 500);
            let data = std::fs::read(&s.path).unwrap();
            assert_eq!(data.len() as u64, s.bytes);
            let overhead = if pcapng { 32 } else { 16 };
            assert!(s.bytes >= s.frame_bytes + 500 * overhead);
            let count = if pcapng {
                let mut r = pcap_file::pcapng::PcapNgReader::new(&data[..]).unwrap();
                let mut n = 0;
                while let Some(b) = r.next_block() {
                    if matches!(b.unwrap(), pcap_file::pcapng::Block::EnhancedPacket(_)) {
                        n += 1;
                    }
                }
                n
            } else {
                let mut r = pcap_file::pcap::PcapReader::new(&data[..]).unwrap();
                let mut n = 0;
                while let Some(p) = r.next_packet() {
                    p.unwrap();
                    n += 1;
                }
                n
            };
            assert_eq!(count, 500);
        }
    }

    #[test]
    fn app_mode_segments_hold_whole_records_and_messages() {
        let mut t = Traffic::new(9, true);
        let (mut tls, mut http) = (0, 0);
        for _ in 0..20_000 {
            t.next_frame();
        }
        let mut out = Vec::new();
        for f in &t.flows {
            for (client, said) in [(true, 0), (false, 0), (true, 3), (false, 3)] {
                let f2 = Flow {
                    conv: f.conv.clone(),
                    kind: f.kind,
                    sent: f.sent,
                    said: [said, said],
                    name: f.name,
                    left: f.left,
                };
                app_payload(&f2, client, 700, &mut out);
                if f.conv.server.port == 443 {
                    // Records tile the payload exactly.
                    let mut off = 0;
                    while off < out.len() {
                        assert!(matches!(out[off], 20..=23));
                        let len = usize::from(u16::from_be_bytes([out[off + 3], out[off + 4]]));
                        off += 5 + len;
                    }
                    assert_eq!(off, out.len());
                    tls += 1;
                } else {
                    let text = String::from_utf8_lossy(&out);
                    let end = text.find("\r\n\r\n").unwrap() + 4;
                    let body = text
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .map_or(0, |n| n.parse::<usize>().unwrap());
                    assert_eq!(end + body, out.len());
                    http += 1;
                }
            }
        }
        assert!(tls > 0 && http > 0);
    }
}
