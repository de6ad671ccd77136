//! Unit tests of the whole reader/writer, built with the crate's writers or
//! byte literals. Every input is read both streamed and memory-mapped, and the
//! two readings must agree.

use crate::*;
use std::io::{Cursor, Write};

/// An owned copy of a record, for comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rec {
    number: u64,
    ts_ns: i64,
    caplen: u32,
    wirelen: u32,
    linktype: u32,
    interface: u32,
    section: u32,
    offset: u64,
    data: Vec<u8>,
    comment: Option<String>,
    raw_len: usize,
}

impl Rec {
    fn of(r: &Record<'_>) -> Rec {
        assert_eq!(r.data.len(), usize::try_from(r.caplen).unwrap());
        Rec {
            number: r.number,
            ts_ns: r.ts_ns,
            caplen: r.caplen,
            wirelen: r.wirelen,
            linktype: r.linktype,
            interface: r.interface,
            section: r.section,
            offset: r.offset,
            data: r.data.to_vec(),
            comment: r.comment.map(str::to_owned),
            raw_len: r.raw.len(),
        }
    }
}

#[derive(Debug)]
struct Read {
    recs: Vec<Rec>,
    damage: Vec<Damage>,
    info: CaptureInfo,
}

fn read_with(mut cap: Capture) -> Read {
    let mut recs = Vec::new();
    let n = cap.for_each(|r| recs.push(Rec::of(r))).unwrap();
    assert_eq!(n, u64::try_from(recs.len()).unwrap());
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(
            r.number,
            u64::try_from(i + 1).unwrap(),
            "numbering is 1-based and dense"
        );
    }
    assert_eq!(
        cap.damage_count(),
        u64::try_from(cap.damage().len()).unwrap()
    );
    Read {
        recs,
        damage: cap.damage().to_vec(),
        info: cap.info().clone(),
    }
}

fn write_temp(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

/// Reads `bytes` streamed and mapped; asserts both agree; returns the result.
fn read(bytes: &[u8]) -> Result<Read, String> {
    let streamed = Capture::from_reader("mem", Cursor::new(bytes.to_vec()));
    let f = write_temp(bytes);
    let mapped = Capture::open(f.path());
    match (streamed, mapped) {
        (Ok(s), Ok(m)) => {
            assert!(!s.is_mapped());
            assert_eq!(m.is_mapped(), m.info().compression == Compression::None);
            let s = read_with(s);
            let m = read_with(m);
            assert_eq!(s.recs, m.recs, "streamed and mapped records differ");
            assert_eq!(s.damage, m.damage, "streamed and mapped damage differ");
            assert_eq!(s.info.sections, m.info.sections);
            assert_eq!(s.info.interfaces, m.info.interfaces);
            Ok(s)
        }
        (Err(s), Err(m)) => {
            let (s, m) = (s.to_string(), m.to_string());
            assert_eq!(
                s.strip_prefix("mem"),
                m.strip_prefix(&*f.path().display().to_string())
            );
            Err(s)
        }
        (s, m) => panic!("streamed {s:?} vs mapped {m:?}"),
    }
}

fn payload(seed: u8, len: usize) -> Vec<u8> {
    // 0xA0..0xAF never forms a plausible pcap length/timestamp or pcapng type.
    (0..len)
        .map(|i| 0xa0 | ((seed ^ u8::try_from(i % 16).unwrap()) & 0x0f))
        .collect()
}

/// (timestamp ns, original length, data)
type Pkt = (i64, u32, Vec<u8>);
/// Damages a file given the offset of the block to damage.
type Corrupt = Box<dyn Fn(&mut Vec<u8>, usize)>;

const T0: i64 = 1_700_000_000_123_456_000;

fn pcap_bytes(h: PcapHeader, pkts: &[Pkt]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), h).unwrap();
    for (ts, wire, data) in pkts {
        w.write_packet(*ts, *wire, data).unwrap();
    }
    w.into_inner()
}

fn five_packets() -> Vec<Pkt> {
    (0..5u8)
        .map(|i| {
            let len = 20 + usize::from(i) * 7;
            (
                T0 + i64::from(i) * 1_000_000,
                u32::try_from(len).unwrap() + 4,
                payload(i, len),
            )
        })
        .collect()
}

/// Offsets of the records of a pcap file written by `pcap_bytes`.
fn pcap_offsets(pkts: &[Pkt]) -> Vec<u64> {
    let mut off = 24u64;
    pkts.iter()
        .map(|p| {
            let o = off;
            off += 16 + u64::try_from(p.2.len()).unwrap();
            o
        })
        .collect()
}

#[test]
fn pcap_byte_orders_and_resolutions() {
    let pkts = five_packets();
    for byte_order in [ByteOrder::Little, ByteOrder::Big] {
        for nanos in [false, true] {
            let h = PcapHeader {
                nanos,
                byte_order,
                snaplen: 65535,
                linktype: 113,
            };
            let r = read(&pcap_bytes(h, &pkts)).unwrap();
            assert!(r.damage.is_empty());
            assert_eq!(r.recs.len(), 5);
            let offsets = pcap_offsets(&pkts);
            for (i, (rec, p)) in r.recs.iter().zip(&pkts).enumerate() {
                assert_eq!(
                    rec.ts_ns, p.0,
                    "µs-exact timestamps survive both resolutions"
                );
                assert_eq!(rec.wirelen, p.1);
                assert_eq!(rec.data, p.2);
                assert_eq!(rec.linktype, 113);
                assert_eq!(rec.offset, offsets[i]);
                assert_eq!(rec.raw_len, 16 + p.2.len());
                assert_eq!(rec.comment, None);
            }
            let info = &r.info;
            assert_eq!(
                info.format,
                if nanos {
                    Format::PcapNano
                } else {
                    Format::PcapMicro
                }
            );
            assert_eq!(info.byte_order(), byte_order);
            assert_eq!(info.version(), (2, 4));
            assert_eq!(info.snaplen, Some(65535));
            assert_eq!(info.section_count(), 1);
            assert_eq!(info.compression, Compression::None);
            assert_eq!(info.interfaces.len(), 1);
            assert_eq!(
                info.interfaces[0].tsresol,
                if nanos {
                    TsResolution::NANO
                } else {
                    TsResolution::MICRO
                }
            );
        }
    }
}

#[test]
fn pcap_nanosecond_precision_and_raw_magic_bytes() {
    // Big-endian nanosecond magic as it appears on disk.
    let mut b = vec![0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0];
    b.extend_from_slice(&[0, 0, 0xff, 0xff, 0, 0, 0, 1]);
    b.extend_from_slice(&[
        0x65, 0x53, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x07, 0, 0, 0, 2, 0, 0, 0, 3,
    ]);
    b.extend_from_slice(&[0xaa, 0xbb]);
    let r = read(&b).unwrap();
    assert_eq!(r.info.format, Format::PcapNano);
    assert_eq!(r.info.byte_order(), ByteOrder::Big);
    assert_eq!(r.recs.len(), 1);
    assert_eq!(r.recs[0].ts_ns, 0x6553_f100 * 1_000_000_000 + 7);
    assert_eq!((r.recs[0].caplen, r.recs[0].wirelen), (2, 3));
    assert_eq!(r.recs[0].data, vec![0xaa, 0xbb]);
}

#[test]
fn pcap_linktype_field_is_masked_and_fcs_kept() {
    fn check(field: u32, linktype: u32, fcs: Option<u8>) {
        let h = PcapHeader {
            linktype: field,
            ..PcapHeader::default()
        };
        let r = read(&pcap_bytes(h, &five_packets())).unwrap();
        assert!(r.recs.iter().all(|p| p.linktype == linktype), "{field:#x}");
        assert_eq!(r.info.linktype_field, Some(field));
        assert_eq!(r.info.interfaces[0].linktype, linktype);
        assert_eq!(r.info.interfaces[0].fcs_len, fcs, "{field:#x}");
    }
    check(1, 1, None);
    check(0x0400_0001, 1, Some(0));
    check(0x3000_0001, 1, None);
    check(0x4400_0001, 1, Some(4));
    check(0x300_00e5, 229, None);
    check(0xffff_ffff, 0xffff, Some(15));
}

#[test]
fn pcap_caplen_above_snaplen_is_tolerated() {
    let h = PcapHeader {
        snaplen: 9,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::new(Vec::new(), h).unwrap();
    // caplen > snaplen, and caplen > wirelen: both seen in real files.
    w.write_record_raw(1_700_000_000, 5, 40, 30, &payload(1, 40))
        .unwrap();
    w.write_record_raw(1_700_000_000, 6, 1000, 2000, &payload(2, 1000))
        .unwrap();
    let r = read(&w.into_inner()).unwrap();
    assert!(r.damage.is_empty(), "{:?}", r.damage);
    assert_eq!(r.recs.len(), 2);
    assert_eq!((r.recs[0].caplen, r.recs[0].wirelen), (40, 30));
    assert_eq!(r.recs[1].caplen, 1000);
}

#[test]
fn header_only_captures_have_no_packets() {
    let pcap = pcap_bytes(PcapHeader::default(), &[]);
    let r = read(&pcap).unwrap();
    assert!(r.recs.is_empty() && r.damage.is_empty());
    let mut w = PcapNgWriter::new(Vec::new(), ByteOrder::Little).unwrap();
    w.add_interface(&InterfaceSpec::default()).unwrap();
    let r = read(&w.into_inner()).unwrap();
    assert!(r.recs.is_empty() && r.damage.is_empty());
    assert_eq!(r.info.interfaces.len(), 1);
    assert_eq!(r.info.format, Format::PcapNg);
}

#[test]
fn not_a_capture_error_message() {
    fn check(bytes: &[u8]) {
        let f = write_temp(bytes);
        let name = f.path().display().to_string();
        for cap in [Capture::open(f.path()), Capture::open_streamed(f.path())] {
            let e = cap.unwrap_err();
            assert_eq!(e.to_string(), format!("{name}: not a pcap or pcapng file"));
            assert_eq!(e.path(), name);
        }
    }
    check(b"");
    check(b"hello, this is plain text and certainly not a capture\n");
    check(&[0xd4, 0xc3, 0xb2]);
    // pcapng block type but no valid byte-order magic
    check(&[0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0]);
    let e = Capture::from_reader(STDIN_NAME, Cursor::new(Vec::new())).unwrap_err();
    assert_eq!(e.to_string(), "<stdin>: not a pcap or pcapng file");
    let e = Capture::open("/nonexistent/x.pcap").unwrap_err();
    assert!(e.to_string().starts_with("/nonexistent/x.pcap: "), "{e}");
}

#[test]
fn truncated_file_headers_are_errors() {
    let pcap = pcap_bytes(PcapHeader::default(), &[]);
    let e = read(&pcap[..10]).unwrap_err();
    assert!(e.contains("damaged file header"), "{e}");
}

fn ng_two_sections() -> (Vec<u8>, Vec<Rec>) {
    let mut w = PcapNgWriter::new(Vec::new(), ByteOrder::Little).unwrap();
    let eth = w
        .add_interface(&InterfaceSpec {
            name: Some("eth0".into()),
            snaplen: 65535,
            ..InterfaceSpec::default()
        })
        .unwrap();
    w.write_packet(eth, T0, 100, &payload(1, 60), Some("first packet"))
        .unwrap();
    w.write_packet(eth, T0 + 1_000, 61, &payload(2, 61), None)
        .unwrap();
    w.new_section(ByteOrder::Big).unwrap();
    let sll = w
        .add_interface(&InterfaceSpec {
            linktype: 113,
            name: Some("any".into()),
            tsresol: TsResolution::NANO,
            ..InterfaceSpec::default()
        })
        .unwrap();
    let pow2 = w
        .add_interface(&InterfaceSpec {
            linktype: 228,
            tsresol: TsResolution(0x80 | 10),
            tsoffset: 1_000,
            fcs_len: Some(4),
            ..InterfaceSpec::default()
        })
        .unwrap();
    w.write_packet(
        pow2,
        1_000_000_000_000 + 1_000_000_000 + 500_000_000,
        3,
        &payload(3, 3),
        Some("ünïcödé"),
    )
    .unwrap();
    w.write_packet(sll, T0 + 7, 40, &payload(4, 40), None)
        .unwrap();
    let bytes = w.into_inner();
    let expected = vec![
        (T0, 60, 100, 1, 0, 0, Some("first packet")),
        (T0 + 1_000, 61, 61, 1, 0, 0, None),
        (1_001_500_000_000, 3, 3, 228, 1, 1, Some("ünïcödé")),
        (T0 + 7, 40, 40, 113, 0, 1, None),
    ];
    let mut off = 0u64;
    let mut recs = Vec::new();
    let r = read(&bytes).unwrap();
    for (i, (ts, cap, wire, lt, iface, sec, comment)) in expected.into_iter().enumerate() {
        recs.push(Rec {
            number: u64::try_from(i + 1).unwrap(),
            ts_ns: ts,
            caplen: cap,
            wirelen: wire,
            linktype: lt,
            interface: iface,
            section: sec,
            offset: r.recs.get(i).map_or(0, |x| x.offset),
            data: payload(u8::try_from(i + 1).unwrap(), usize::try_from(cap).unwrap()),
            comment: comment.map(str::to_owned),
            raw_len: r.recs.get(i).map_or(0, |x| x.raw_len),
        });
        off += 1;
    }
    assert_eq!(off, 4);
    (bytes, recs)
}

#[test]
fn pcapng_sections_interfaces_resolutions_comments() {
    let (bytes, expected) = ng_two_sections();
    let r = read(&bytes).unwrap();
    assert!(r.damage.is_empty(), "{:?}", r.damage);
    assert_eq!(r.recs, expected);
    let info = &r.info;
    assert_eq!(info.format, Format::PcapNg);
    assert_eq!(info.section_count(), 2);
    assert_eq!(info.byte_orders(), vec![ByteOrder::Little, ByteOrder::Big]);
    assert_eq!(info.version(), (1, 0));
    assert_eq!(info.interfaces.len(), 3);
    let i0 = &info.interfaces[0];
    assert_eq!(
        (i0.section, i0.id, i0.linktype, i0.snaplen),
        (0, 0, 1, 65535)
    );
    assert_eq!(i0.name.as_deref(), Some("eth0"));
    let i2 = &info.interfaces[2];
    assert_eq!((i2.section, i2.id, i2.linktype), (1, 1, 228));
    assert_eq!(i2.tsresol, TsResolution(0x8a));
    assert_eq!(i2.tsoffset, 1000);
    assert_eq!(i2.fcs_len, Some(4));
    assert_eq!(info.interfaces[1].tsresol, TsResolution::NANO);
    // offsets point at the blocks: each raw block starts with the EPB type.
    let f = write_temp(&bytes);
    let mut cap = Capture::open(f.path()).unwrap();
    cap.for_each(|rec| {
        let o = usize::try_from(rec.offset).unwrap();
        assert_eq!(&bytes[o..o + rec.raw.len()], rec.raw);
        let t = if rec.section == 0 {
            [6, 0, 0, 0]
        } else {
            [0, 0, 0, 6]
        };
        assert_eq!(rec.raw[..4], t);
    })
    .unwrap();
}

/// An EPB body with raw timestamp units, for exact resolution checks.
fn epb_body(o: ByteOrder, iface: u32, units: u64, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    o.put_u32(&mut b, iface);
    o.put_u32(&mut b, u32::try_from(units >> 32).unwrap());
    o.put_u32(&mut b, u32::try_from(units & 0xffff_ffff).unwrap());
    o.put_u32(&mut b, u32::try_from(data.len()).unwrap());
    o.put_u32(&mut b, u32::try_from(data.len()).unwrap());
    b.extend_from_slice(data);
    b
}

#[test]
fn pcapng_tsresol_and_tsoffset_variants() {
    fn check(tsresol: u8, tsoffset: i64, units: u64, expected_ns: i64) {
        for o in [ByteOrder::Little, ByteOrder::Big] {
            let mut w = PcapNgWriter::new(Vec::new(), o).unwrap();
            w.add_interface(&InterfaceSpec {
                tsresol: TsResolution(tsresol),
                tsoffset,
                ..InterfaceSpec::default()
            })
            .unwrap();
            w.write_block(6, &epb_body(o, 0, units, &[1, 2, 3]))
                .unwrap();
            let r = read(&w.into_inner()).unwrap();
            assert_eq!(r.recs.len(), 1);
            assert_eq!(
                r.recs[0].ts_ns, expected_ns,
                "resol {tsresol:#x} units {units}"
            );
        }
    }
    check(6, 0, 1_700_000_000_000_001, 1_700_000_000_000_001_000);
    check(9, 0, 1_700_000_000_000_000_001, 1_700_000_000_000_000_001);
    check(3, 0, 1_500, 1_500_000_000);
    check(0, 0, 2, 2_000_000_000);
    check(12, 0, 1_234_567, 1_234);
    check(0x80 | 10, 0, 1536, 1_500_000_000);
    check(0x80 | 20, 0, 1 << 20, 1_000_000_000);
    check(0x80 | 32, 0, 3 << 31, 1_500_000_000);
    check(6, 100, 1_000_000, 101_000_000_000);
    check(6, -1, 1_000_000, 0);
    // saturation instead of overflow
    check(0, 0, u64::MAX, i64::MAX);
    check(6, i64::MAX, 1, i64::MAX);
    check(6, i64::MIN, 1, i64::MIN + 1000);
}

#[test]
fn pcapng_simple_and_obsolete_packet_blocks() {
    let mut w = PcapNgWriter::new(Vec::new(), ByteOrder::Big).unwrap();
    w.add_interface(&InterfaceSpec {
        snaplen: 4,
        ..InterfaceSpec::default()
    })
    .unwrap();
    w.write_simple_packet(10, &payload(1, 10)).unwrap();
    w.write_obsolete_packet(0, T0, 9, &payload(2, 5), Some("old"))
        .unwrap();
    let r = read(&w.into_inner()).unwrap();
    assert!(r.damage.is_empty(), "{:?}", r.damage);
    assert_eq!(r.recs.len(), 2);
    // SPB: captured length = min(original length, snaplen), no timestamp.
    assert_eq!(
        (r.recs[0].caplen, r.recs[0].wirelen, r.recs[0].ts_ns),
        (4, 10, 0)
    );
    assert_eq!(r.recs[0].data, payload(1, 4));
    assert_eq!(r.recs[1].ts_ns, T0);
    assert_eq!((r.recs[1].caplen, r.recs[1].wirelen), (5, 9));
    assert_eq!(r.recs[1].comment.as_deref(), Some("old"));

    // Unlimited snaplen: the padding is not part of the packet.
    let mut w = PcapNgWriter::new(Vec::new(), ByteOrder::Little).unwrap();
    w.add_interface(&InterfaceSpec::default()).unwrap();
    w.write_simple_packet(5, &payload(3, 5)).unwrap();
    w.write_simple_packet(100, &payload(4, 7)).unwrap();
    let r = read(&w.into_inner()).unwrap();
    assert_eq!(r.recs[0].data, payload(3, 5));
    assert_eq!(
        (r.recs[1].caplen, r.recs[1].wirelen),
        (8, 100),
        "bounded by the block"
    );
}

#[test]
fn pcapng_unknown_blocks_are_skipped_and_kept_as_headers() {
    let mut w = PcapNgWriter::new(Vec::new(), ByteOrder::Little).unwrap();
    w.add_interface(&InterfaceSpec::default()).unwrap();
    w.write_packet(0, T0, 10, &payload(1, 10), None).unwrap();
    w.write_block(0x1234_5678, b"whatever this is").unwrap();
    w.write_block(5, &[0u8; 20]).unwrap(); // ISB
    w.write_packet(0, T0 + 1, 10, &payload(2, 10), None)
        .unwrap();
    let bytes = w.into_inner();
    let r = read(&bytes).unwrap();
    assert!(r.damage.is_empty());
    assert_eq!(r.recs.len(), 2);
    let mut cap = Capture::from_reader("mem", Cursor::new(bytes)).unwrap();
    let b = cap.next_batch(100, 1 << 20).unwrap().unwrap();
    let kinds: Vec<(usize, u32)> = b
        .headers()
        .map(|h| {
            (
                h.before,
                u32::from_le_bytes(h.bytes[..4].try_into().unwrap()),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![(0, 0x0a0d_0d0a), (0, 1), (1, 0x1234_5678), (1, 5)]
    );
}

#[test]
fn pcapng_packet_with_unknown_interface_is_reported() {
    let mut w = PcapNgWriter::new(Vec::new(), ByteOrder::Little).unwrap();
    w.add_interface(&InterfaceSpec::default()).unwrap();
    w.write_packet(0, T0, 10, &payload(1, 10), None).unwrap();
    w.write_block(6, &epb_body(ByteOrder::Little, 7, 5, &payload(2, 8)))
        .unwrap();
    w.write_packet(0, T0, 10, &payload(3, 10), None).unwrap();
    let r = read(&w.into_inner()).unwrap();
    assert_eq!(r.recs.len(), 2);
    assert_eq!(r.damage.len(), 1);
    assert_eq!(r.damage[0].kind, DamageKind::UnknownInterface);
    assert_eq!(r.damage[0].packet, 2);
}

/// Cutting a file anywhere never panics; complete records are kept; a cut
/// inside a record is one `Truncated` damage event.
fn check_every_truncation(bytes: &[u8], boundaries: &[usize], min_ok: usize) {
    for cut in 0..=bytes.len() {
        let r = read(&bytes[..cut]);
        let Ok(r) = r else {
            assert!(cut < min_ok, "cut at {cut} failed: {r:?}");
            continue;
        };
        let complete = boundaries.iter().filter(|&&end| end <= cut).count();
        assert_eq!(r.recs.len(), complete, "cut at {cut}");
        let at_boundary = cut == min_ok || boundaries.contains(&cut);
        if at_boundary {
            assert!(r.damage.is_empty(), "cut at {cut}: {:?}", r.damage);
        } else {
            assert_eq!(r.damage.len(), 1, "cut at {cut}: {:?}", r.damage);
            assert_eq!(r.damage[0].kind, DamageKind::Truncated, "cut at {cut}");
            assert_eq!(r.damage[0].packet, u64::try_from(complete + 1).unwrap());
        }
    }
}

#[test]
fn pcap_truncated_at_every_length() {
    let pkts = five_packets();
    for byte_order in [ByteOrder::Little, ByteOrder::Big] {
        let h = PcapHeader {
            byte_order,
            ..PcapHeader::default()
        };
        let bytes = pcap_bytes(h, &pkts);
        let ends: Vec<usize> = pcap_offsets(&pkts)
            .iter()
            .zip(&pkts)
            .map(|(o, p)| usize::try_from(*o).unwrap() + 16 + p.2.len())
            .collect();
        check_every_truncation(&bytes, &ends, 24);
    }
}

#[test]
fn pcapng_truncated_at_every_length() {
    let (bytes, expected) = ng_two_sections();
    let ends: Vec<usize> = expected
        .iter()
        .map(|r| usize::try_from(r.offset).unwrap() + r.raw_len)
        .collect();
    // Cuts at block boundaries other than packet ends are also clean.
    let mut boundaries = Vec::new();
    let mut at = 0usize;
    let mut order = ByteOrder::Little;
    while at < bytes.len() {
        if bytes[at..at + 4] == [0x0a, 0x0d, 0x0d, 0x0a] {
            order = if bytes[at + 8] == 0x1a {
                ByteOrder::Big
            } else {
                ByteOrder::Little
            };
        }
        at += usize::try_from(order.u32(&bytes, at + 4).unwrap()).unwrap();
        boundaries.push(at);
    }
    let shb_len = boundaries[0];
    for cut in 0..=bytes.len() {
        let r = read(&bytes[..cut]);
        let Ok(r) = r else {
            assert!(cut < shb_len, "cut at {cut}: {r:?}");
            continue;
        };
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        assert_eq!(r.recs.len(), complete, "cut at {cut}");
        assert_eq!(r.recs[..], expected[..complete]);
        if boundaries.contains(&cut) {
            assert!(r.damage.is_empty(), "cut at {cut}: {:?}", r.damage);
        } else {
            assert_eq!(r.damage.len(), 1, "cut at {cut}: {:?}", r.damage);
            assert_eq!(r.damage[0].kind, DamageKind::Truncated);
        }
    }
}

/// Five pcap packets with one record header patched by `patch`.
fn pcap_patched(patch: impl Fn(&mut [u8])) -> (Vec<u8>, Vec<Pkt>, Vec<u64>) {
    let pkts = five_packets();
    let mut bytes = pcap_bytes(PcapHeader::default(), &pkts);
    let offsets = pcap_offsets(&pkts);
    patch(&mut bytes[usize::try_from(offsets[2]).unwrap()..]);
    (bytes, pkts, offsets)
}

#[test]
fn pcap_absurd_caplen_resyncs() {
    let (bytes, pkts, offsets) =
        pcap_patched(|rec| rec[8..12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes()));
    let r = read(&bytes).unwrap();
    let data: Vec<&Vec<u8>> = r.recs.iter().map(|x| &x.data).collect();
    assert_eq!(data, vec![&pkts[0].2, &pkts[1].2, &pkts[3].2, &pkts[4].2]);
    assert_eq!(r.recs[2].offset, offsets[3]);
    assert_eq!(r.recs[2].number, 3);
    assert_eq!(r.damage.len(), 1);
    let d = &r.damage[0];
    assert_eq!(
        (d.kind, d.packet, d.offset),
        (DamageKind::BadLength, 3, offsets[2])
    );
    assert!(d.message.contains("resynchronised"), "{}", d.message);
}

#[test]
fn pcap_caplen_beyond_eof_resyncs() {
    let (bytes, pkts, offsets) =
        pcap_patched(|rec| rec[8..12].copy_from_slice(&5000u32.to_le_bytes()));
    let r = read(&bytes).unwrap();
    assert_eq!(r.recs.len(), 4);
    assert_eq!(r.recs[3].data, pkts[4].2);
    assert_eq!(r.damage.len(), 1);
    assert_eq!(
        (r.damage[0].kind, r.damage[0].offset),
        (DamageKind::BadLength, offsets[2])
    );
}

#[test]
fn pcap_small_lying_caplen_resyncs_forward() {
    // caplen says 4 bytes too many: the next "header" is misaligned garbage.
    let (bytes, pkts, _) = pcap_patched(|rec| {
        let cap = u32::from_le_bytes(rec[8..12].try_into().unwrap());
        rec[8..12].copy_from_slice(&(cap + 4).to_le_bytes());
        rec[12..16].copy_from_slice(&(cap + 4).to_le_bytes());
    });
    let r = read(&bytes).unwrap();
    // record 3 is read with 4 extra bytes; record 4 is lost; record 5 found again.
    assert_eq!(r.recs.len(), 4);
    assert_eq!(r.recs[3].data, pkts[4].2);
    assert_eq!(r.damage.len(), 1);
}

#[test]
fn garbage_mid_file_then_resync() {
    let pkts = five_packets();
    let garbage: Vec<u8> = (0..37u8).map(|i| i.wrapping_mul(97) ^ 0x5a).collect();
    // pcap
    for byte_order in [ByteOrder::Little, ByteOrder::Big] {
        let h = PcapHeader {
            byte_order,
            nanos: true,
            ..PcapHeader::default()
        };
        let mut w = PcapWriter::new(Vec::new(), h).unwrap();
        for (i, p) in pkts.iter().enumerate() {
            if i == 2 {
                w.write_raw(&garbage).unwrap();
            }
            w.write_packet(p.0, p.1, &p.2).unwrap();
        }
        let r = read(&w.into_inner()).unwrap();
        assert_eq!(r.recs.len(), 5, "{:?}", r.damage);
        for (rec, p) in r.recs.iter().zip(&pkts) {
            assert_eq!((rec.ts_ns, &rec.data), (p.0, &p.2));
        }
        assert_eq!(r.damage.len(), 1);
        let garbage_at = pcap_offsets(&pkts)[2];
        assert_eq!((r.damage[0].packet, r.damage[0].offset), (3, garbage_at));
        assert!(
            r.damage[0].message.contains("skipping 37 bytes"),
            "{}",
            r.damage[0].message
        );
    }
    // pcapng, both byte orders, garbage of a length that is not a multiple of 4
    for o in [ByteOrder::Little, ByteOrder::Big] {
        let mut w = PcapNgWriter::new(Vec::new(), o).unwrap();
        w.add_interface(&InterfaceSpec::default()).unwrap();
        for (i, p) in pkts.iter().enumerate() {
            if i == 2 {
                w.write_raw(&garbage).unwrap();
            }
            w.write_packet(0, p.0, p.1, &p.2, None).unwrap();
        }
        let r = read(&w.into_inner()).unwrap();
        assert_eq!(r.recs.len(), 5, "{:?}", r.damage);
        assert_eq!(r.damage.len(), 1);
        assert!(
            r.damage[0].message.contains("skipping 37 bytes"),
            "{}",
            r.damage[0].message
        );
    }
}

#[test]
fn pcapng_bad_lengths_and_trailers_resync() {
    fn build(corrupt: impl Fn(&mut Vec<u8>, usize)) -> (Vec<u8>, usize) {
        let mut w = PcapNgWriter::new(Vec::new(), ByteOrder::Little).unwrap();
        w.add_interface(&InterfaceSpec::default()).unwrap();
        let mut starts = Vec::new();
        let mut bytes = Vec::new();
        for i in 0..4u8 {
            starts.push(w.get_ref().len());
            w.write_packet(0, T0 + i64::from(i), 30, &payload(i, 30), None)
                .unwrap();
        }
        bytes.extend_from_slice(&w.into_inner());
        corrupt(&mut bytes, starts[1]);
        (bytes, starts[1])
    }
    let cases: Vec<(DamageKind, Corrupt)> = vec![
        (DamageKind::BadLength, Box::new(|b, at| b[at + 4] = 0x3d)), // not a multiple of 4
        (
            DamageKind::BadLength,
            Box::new(|b, at| b[at + 4..at + 8].copy_from_slice(&8u32.to_le_bytes())),
        ),
        (DamageKind::BadLength, Box::new(|b, at| b[at + 7] = 0x7f)), // huge
        (
            DamageKind::TrailerMismatch,
            Box::new(|b, at| b[at + 4] += 4),
        ),
        (
            DamageKind::TrailerMismatch,
            Box::new(|b, at| b[at + 60] ^= 0xff),
        ), // trailer byte
        (DamageKind::BadBlock, Box::new(|b, at| b[at + 20] = 0xff)), // caplen beyond block
    ];
    for (i, (kind, corrupt)) in cases.into_iter().enumerate() {
        let (bytes, at) = build(corrupt);
        let r = read(&bytes).unwrap();
        assert_eq!(r.recs.len(), 3, "case {i}: {:?}", r.damage);
        assert_eq!(r.damage.len(), 1, "case {i}");
        assert_eq!(r.damage[0].kind, kind, "case {i}: {:?}", r.damage);
        assert_eq!(r.damage[0].offset, u64::try_from(at).unwrap(), "case {i}");
        assert_eq!(r.recs[1].data, payload(2, 30), "case {i}");
    }
}

#[test]
fn reader_always_advances() {
    // A pcapng block claiming length 0, and pcapng with a zero-length block
    // repeated: the reader must finish, not spin.
    let mut w = PcapNgWriter::new(Vec::new(), ByteOrder::Little).unwrap();
    w.add_interface(&InterfaceSpec::default()).unwrap();
    w.write_raw(&[6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0].repeat(1000))
        .unwrap();
    let r = read(&w.into_inner()).unwrap();
    assert!(r.recs.is_empty());
    assert_eq!(r.damage.len(), 1);
    // Zero-length pcap records are legal and each advances 16 bytes.
    let mut b = pcap_bytes(PcapHeader::default(), &[]);
    b.extend_from_slice(&[0u8; 16 * 500]);
    let r = read(&b).unwrap();
    assert_eq!(r.recs.len(), 500);
    // A record header that loops back on itself is impossible: lengths only
    // move forward. A caplen of u32::MAX is rejected, not wrapped.
    let mut b = pcap_bytes(PcapHeader::default(), &[]);
    b.extend_from_slice(&[0xff; 64]);
    let r = read(&b).unwrap();
    assert!(r.recs.is_empty());
    assert_eq!(r.damage.len(), 1);
}

/// A file opened memory-mapped or streamed, as asked.
fn open_as(path: &std::path::Path, mapped: bool) -> Capture {
    let cap = if mapped {
        Capture::open(path).unwrap()
    } else {
        Capture::open_streamed(path).unwrap()
    };
    assert_eq!(cap.is_mapped(), mapped);
    cap
}

#[test]
fn batches_are_bounded_ordered_and_incremental() {
    let pkts: Vec<Pkt> = (0..1000u32)
        .map(|i| {
            (
                T0 + i64::from(i),
                100,
                payload(
                    u8::try_from(i % 251).unwrap(),
                    usize::try_from(i % 97).unwrap(),
                ),
            )
        })
        .collect();
    let bytes = pcap_bytes(PcapHeader::default(), &pkts);
    let f = write_temp(&bytes);
    for mapped in [true, false] {
        let mut cap = open_as(f.path(), mapped);
        let first = cap.next_batch(10, 1 << 20).unwrap().unwrap();
        assert_eq!(first.len(), 10);
        assert_eq!(first.headers().count(), 1, "the file header comes first");
        assert!(cap.records_read() <= 11, "indexing is incremental");
        let mut next = 11u64;
        let mut prev_end = first.byte_range().end;
        drop(first);
        while let Some(b) = cap.next_batch(64, 2000).unwrap() {
            assert!(b.len() <= 64);
            let bytes_in: usize = b.iter().map(|r| r.raw.len()).sum();
            assert!(bytes_in <= 2000 || b.len() == 1);
            assert_eq!(b.byte_range().start, prev_end);
            prev_end = b.byte_range().end;
            for r in b.iter() {
                assert_eq!(r.number, next);
                assert_eq!(r.data, &pkts[usize::try_from(next - 1).unwrap()].2[..]);
                next += 1;
            }
            // Batches can go to another thread.
            let handle = std::thread::spawn(move || b.len());
            handle.join().unwrap();
        }
        assert_eq!(next, 1001);
        assert_eq!(prev_end, u64::try_from(bytes.len()).unwrap());
        assert!(cap.next_batch(10, 10).unwrap().is_none());
    }
}

#[test]
fn empty_capture_still_yields_its_header_batch() {
    let bytes = pcap_bytes(PcapHeader::default(), &[]);
    let mut cap = Capture::from_reader("mem", Cursor::new(bytes.clone())).unwrap();
    let b = cap.next_batch(10, 100).unwrap().unwrap();
    assert!(b.is_empty());
    assert_eq!(b.headers().next().unwrap().bytes, &bytes[..]);
    assert!(cap.next_batch(10, 100).unwrap().is_none());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).unwrap()
}

#[test]
fn gzip_and_zstd_inputs() {
    let (ng, expected) = ng_two_sections();
    let pcap = pcap_bytes(PcapHeader::default(), &five_packets());
    for plain in [ng, pcap] {
        let want = read(&plain).unwrap();
        for (kind, packed) in [
            (Compression::Gzip, gzip(&plain)),
            (Compression::Zstd, zstd(&plain)),
        ] {
            let r = read(&packed).unwrap();
            assert_eq!(r.recs, want.recs);
            assert!(r.damage.is_empty());
            assert_eq!(r.info.compression, kind);
            assert!(!r.info.mapped, "compressed files are streamed");
        }
    }
    assert_eq!(read(&ng_two_sections().0).unwrap().recs, expected);
    // multi-member gzip
    let plain = pcap_bytes(PcapHeader::default(), &five_packets());
    let mut two = gzip(&plain[..100]);
    two.extend_from_slice(&gzip(&plain[100..]));
    assert_eq!(read(&two).unwrap().recs.len(), 5);
}

#[test]
fn truncated_compressed_input_keeps_good_packets() {
    // Incompressible payloads, so that half of the compressed file holds
    // complete compressed blocks.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state.to_le_bytes()[0]
    };
    let pkts: Vec<Pkt> = (0..2000u32)
        .map(|i| (T0 + i64::from(i), 200, (0..200).map(|_| noise()).collect()))
        .collect();
    let plain = pcap_bytes(PcapHeader::default(), &pkts);
    for packed in [gzip(&plain), zstd(&plain)] {
        let cut = &packed[..packed.len() / 2];
        let r = read(cut).unwrap();
        assert!(!r.recs.is_empty() && r.recs.len() < 2000);
        for rec in &r.recs {
            assert_eq!(rec.data, pkts[usize::try_from(rec.number - 1).unwrap()].2);
        }
        assert!(!r.damage.is_empty());
        assert!(
            r.damage
                .iter()
                .any(|d| matches!(d.kind, DamageKind::Decompression | DamageKind::Truncated)),
            "{:?}",
            r.damage
        );
    }
    // Not a capture inside a valid gzip.
    let f = write_temp(&gzip(b"just some text, long enough to be looked at"));
    let e = Capture::open(f.path()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}: not a pcap or pcapng file", f.path().display())
    );
}

#[test]
fn pcap_writer_round_trip() {
    for byte_order in [ByteOrder::Little, ByteOrder::Big] {
        for nanos in [false, true] {
            let h = PcapHeader {
                nanos,
                byte_order,
                snaplen: 1234,
                linktype: 101,
            };
            let pkts = vec![
                (0i64, 0u32, Vec::new()),
                (1_999_999_999, 7, vec![1, 2, 3]),
                (i64::from(u32::MAX) * 1_000_000_000, 1, vec![9]),
            ];
            let r = read(&pcap_bytes(h, &pkts)).unwrap();
            let got: Vec<Pkt> = r
                .recs
                .iter()
                .map(|x| (x.ts_ns, x.wirelen, x.data.clone()))
                .collect();
            let mut want = pkts.clone();
            if !nanos {
                want[1].0 = 1_999_999_000;
            }
            assert_eq!(got, want);
            assert_eq!(r.info.snaplen, Some(1234));
            assert_eq!(r.recs[0].linktype, 101);
        }
    }
}

/// copy_through output for a predicate, read back.
fn filtered(input: &[u8], keep: impl Fn(&Record<'_>) -> bool) -> (Vec<u8>, CopyStats) {
    let mut cap = Capture::from_reader("mem", Cursor::new(input.to_vec())).unwrap();
    let mut out = Vec::new();
    let stats = copy_through(&mut cap, &mut out, keep).unwrap();
    (out, stats)
}

#[test]
fn copy_through_is_byte_exact() {
    let (ng, _) = ng_two_sections();
    let pcap = pcap_bytes(
        PcapHeader {
            byte_order: ByteOrder::Big,
            ..PcapHeader::default()
        },
        &five_packets(),
    );
    for input in [ng, pcap] {
        let orig = read(&input).unwrap();
        // everything: identical bytes
        let (all, stats) = filtered(&input, |_| true);
        assert_eq!(all, input);
        assert_eq!(stats.read, stats.written);
        // every other packet: same headers, selected records byte for byte
        let (odd, stats) = filtered(&input, |r| r.number % 2 == 1);
        assert_eq!(
            stats.written,
            u64::try_from(orig.recs.len().div_ceil(2)).unwrap()
        );
        let back = read(&odd).unwrap();
        assert!(back.damage.is_empty());
        assert_eq!(back.info.sections.len(), orig.info.sections.len());
        assert_eq!(back.info.interfaces, orig.info.interfaces);
        let want: Vec<(i64, Vec<u8>, Option<String>)> = orig
            .recs
            .iter()
            .filter(|r| r.number % 2 == 1)
            .map(|r| (r.ts_ns, r.data.clone(), r.comment.clone()))
            .collect();
        let got: Vec<(i64, Vec<u8>, Option<String>)> = back
            .recs
            .iter()
            .map(|r| (r.ts_ns, r.data.clone(), r.comment.clone()))
            .collect();
        assert_eq!(got, want);
        // nothing: a valid capture with only its headers
        let (none, stats) = filtered(&input, |_| false);
        assert_eq!(stats.written, 0);
        let back = read(&none).unwrap();
        assert!(back.recs.is_empty() && back.damage.is_empty());
        assert_eq!(back.info.sections.len(), orig.info.sections.len());
        assert_eq!(back.info.interfaces, orig.info.interfaces);
        // compressed input, uncompressed output
        let (from_gz, _) = filtered(&gzip(&input), |r| r.number % 2 == 1);
        assert_eq!(from_gz, odd);
    }
}

#[test]
fn copy_through_drops_damage() {
    let (bytes, pkts, _) =
        pcap_patched(|rec| rec[8..12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes()));
    let (out, stats) = filtered(&bytes, |_| true);
    assert_eq!(stats.written, 4);
    let back = read(&out).unwrap();
    assert!(back.damage.is_empty());
    assert_eq!(back.recs[2].data, pkts[3].2);
}

#[test]
fn capture_writer_with_batches_and_selection() {
    let (ng, _) = ng_two_sections();
    let mut cap = Capture::from_reader("mem", Cursor::new(ng.clone())).unwrap();
    let mut w = CaptureWriter::new(Vec::new());
    while let Some(b) = cap.next_batch(1, 1).unwrap() {
        w.write_batch(&b, |i, r| i == 0 && r.section == 1).unwrap();
    }
    assert_eq!(w.records_written(), 2);
    let out = w.finish().unwrap();
    let back = read(&out).unwrap();
    assert_eq!(back.recs.len(), 2);
    assert!(back.recs.iter().all(|r| r.section == 1));
}

mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn read_any(bytes: &[u8]) {
        // Must return (Ok or Err) without panicking or looping.
        if let Ok(mut cap) = Capture::from_reader("p", Cursor::new(bytes.to_vec())) {
            let mut n = 0u64;
            cap.for_each(|r| {
                n += 1;
                assert_eq!(r.number, n);
                assert_eq!(r.data.len(), usize::try_from(r.caplen).unwrap());
            })
            .unwrap();
            assert!(n <= u64::try_from(bytes.len()).unwrap() / 12);
        }
    }

    fn valid_prefixes() -> Vec<Vec<u8>> {
        let mut ng = PcapNgWriter::new(Vec::new(), ByteOrder::Little).unwrap();
        ng.add_interface(&InterfaceSpec::default()).unwrap();
        let mut ngb = PcapNgWriter::new(Vec::new(), ByteOrder::Big).unwrap();
        ngb.add_interface(&InterfaceSpec::default()).unwrap();
        vec![
            Vec::new(),
            pcap_bytes(PcapHeader::default(), &[]),
            pcap_bytes(
                PcapHeader {
                    nanos: true,
                    byte_order: ByteOrder::Big,
                    ..PcapHeader::default()
                },
                &[],
            ),
            ng.into_inner(),
            ngb.into_inner(),
        ]
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(prefix in 0usize..5, tail in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let mut bytes = valid_prefixes().swap_remove(prefix);
            bytes.extend_from_slice(&tail);
            read_any(&bytes);
        }

        #[test]
        fn mutated_files_never_panic(
            flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..12),
            cut in any::<proptest::sample::Index>(),
            ng in any::<bool>(),
        ) {
            let mut bytes = if ng { ng_two_sections().0 } else { pcap_bytes(PcapHeader::default(), &five_packets()) };
            for (at, v) in flips {
                let i = at.index(bytes.len());
                bytes[i] = v;
            }
            let len = cut.index(bytes.len() + 1);
            bytes.truncate(len.max(bytes.len() / 2));
            read_any(&bytes);
            let f = write_temp(&bytes);
            if let Ok(mut cap) = Capture::open(f.path()) {
                cap.for_each(|_| {}).unwrap();
            }
        }
    }
}

/// A reading of `cap` in batches of the given limits, one line per batch,
/// record (with its bytes when `raw`) and damage event, for comparison.
fn reading(cap: &mut Capture, max_records: usize, max_bytes: usize, raw: bool) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(b) = cap.next_batch(max_records, max_bytes).unwrap() {
        out.push(format!("batch {:?}", b.byte_range()));
        for r in b.iter() {
            let bytes = if raw {
                format!(" {:?}", r.raw)
            } else {
                String::new()
            };
            out.push(format!(
                "{} {} {} {} {}{bytes}",
                r.number, r.ts_ns, r.caplen, r.wirelen, r.offset
            ));
        }
    }
    for d in cap.damage() {
        out.push(format!("{d:?}"));
    }
    out
}

/// The mapped reader's fast loop (`Parser::run_pcap`) hands every record it
/// cannot judge alone to the record-by-record parser: damage in the middle
/// of a file (a lying captured length, odd header fields, a cut last record)
/// reads the same mapped as streamed, batch by batch.
#[test]
fn mapped_fast_path_reads_damage_as_the_streamed_parser_does() {
    let pkts: Vec<Pkt> = (0..300u32)
        .map(|i| {
            (
                T0 + i64::from(i),
                60 + i % 40,
                payload(
                    u8::try_from(i % 251).unwrap(),
                    60 + usize::try_from(i % 40).unwrap(),
                ),
            )
        })
        .collect();
    let clean = pcap_bytes(PcapHeader::default(), &pkts);
    let mut variants = vec![clean.clone()];
    // A captured length over the limit at record 100's header.
    let at = 24 + (0..100).map(|i| 16 + 60 + (i % 40)).sum::<usize>();
    let mut v = clean.clone();
    v[at + 8..at + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    variants.push(v);
    // Odd fields (caplen > wirelen) at the same record.
    let mut v = clean.clone();
    v[at + 12..at + 16].copy_from_slice(&1u32.to_le_bytes());
    variants.push(v);
    // A fraction of a second ≥ 1 s.
    let mut v = clean.clone();
    v[at + 4..at + 8].copy_from_slice(&2_000_000u32.to_le_bytes());
    variants.push(v);
    // The last record cut short, and a header cut short.
    variants.push(clean[..clean.len() - 5].to_vec());
    let mut v = clean.clone();
    v.extend_from_slice(&[1, 2, 3]);
    variants.push(v);
    for (n, bytes) in variants.iter().enumerate() {
        let f = write_temp(bytes);
        for (max_records, max_bytes) in [(1, 1 << 20), (7, 500), (64, 1 << 20)] {
            let seen = [true, false].map(|mapped| {
                reading(&mut open_as(f.path(), mapped), max_records, max_bytes, true)
            });
            assert_eq!(
                seen[0], seen[1],
                "variant {n}, limits {max_records}/{max_bytes}"
            );
            let damaged = seen[0].iter().any(|l| l.starts_with("Damage"));
            // Odd fields followed by a good header are accepted as libpcap
            // accepts them (variants 2 and 3: slow path, no damage).
            assert_eq!(damaged, matches!(n, 1 | 4 | 5), "variant {n}");
        }
    }
}

/// The mapped reader's scouts (`crate::scout`) walk the record chain ahead
/// of it from guessed offsets: on a file large enough for many of them,
/// with payloads that hold chains of fake but plausible record headers (a
/// scout may synchronise on them) and damage in the middle, the mapped
/// reading still equals the streamed, record-by-record one, batch by batch.
#[test]
fn scouts_ahead_of_the_mapped_reader_change_nothing_it_reads() {
    let n = 9000u32;
    let pkts: Vec<Pkt> = (0..n)
        .map(|i| {
            let len = 100 + (i * 131) % 1300;
            let mut data = payload(
                u8::try_from(i % 251).unwrap(),
                usize::try_from(len).unwrap(),
            );
            if i % 5 == 0 {
                // Four plausible headers chained 24 bytes apart (what a
                // scout's synchronisation asks for).
                for j in 0..4usize {
                    let q = 3 + j * 24;
                    data[q..q + 4].copy_from_slice(&1_700_000_000u32.to_le_bytes());
                    data[q + 4..q + 8].copy_from_slice(&5u32.to_le_bytes());
                    data[q + 8..q + 12].copy_from_slice(&8u32.to_le_bytes());
                    data[q + 12..q + 16].copy_from_slice(&8u32.to_le_bytes());
                }
            }
            (T0 + i64::from(i) * 1_000_000, len, data)
        })
        .collect();
    let clean = pcap_bytes(PcapHeader::default(), &pkts);
    assert!(clean.len() > 6 << 20, "{}", clean.len());
    let offset = |k: u32| 24 + (0..k).map(|i| 16 + 100 + (i * 131) % 1300).sum::<u32>();
    let at = |k: u32| usize::try_from(offset(k)).unwrap();
    let mut variants = vec![clean.clone()];
    // A lying captured length in the middle.
    let mut v = clean.clone();
    v[at(4000) + 8..at(4000) + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    variants.push(v);
    // Garbage over a run of records further on.
    let mut v = clean.clone();
    v[at(6000)..at(6010)].fill(0xff);
    variants.push(v);
    // The last record cut short.
    variants.push(clean[..clean.len() - 7].to_vec());
    for (k, bytes) in variants.iter().enumerate() {
        let f = write_temp(bytes);
        for (max_records, max_bytes) in [(4096, 4 << 20), (7, 5000)] {
            let seen = [true, false].map(|mapped| {
                reading(
                    &mut open_as(f.path(), mapped),
                    max_records,
                    max_bytes,
                    false,
                )
            });
            assert_eq!(
                seen[0], seen[1],
                "variant {k}, limits {max_records}/{max_bytes}"
            );
            let records = seen[0]
                .iter()
                .filter(|l| !l.starts_with("batch") && !l.starts_with("Damage"))
                .count();
            assert!(
                records + 20 >= usize::try_from(n).unwrap(),
                "variant {k}: {records}"
            );
        }
    }
}
