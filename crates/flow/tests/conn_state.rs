//! Zeek-style `conn_state` and `history` on handcrafted TCP exchanges, one per
//! state, plus timeouts, port reuse and ordering of the flow table.

use pcapx_flow::key::Addr;
use pcapx_flow::packet::tcp_flags::{ACK, FIN, RST, SYN};
use pcapx_flow::packet::{L4, PacketInfo};
use pcapx_flow::table::{EndReason, FlowConfig, FlowRecord, FlowTable};

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];

/// One TCP packet: `from_a` A:1111 → B:80, else the reverse.
fn tcp(from_a: bool, flags: u8, seq: u32, len: u32) -> PacketInfo {
    let (s, d, sp, dp) = if from_a {
        (A, B, 1111, 80)
    } else {
        (B, A, 80, 1111)
    };
    PacketInfo {
        src: Some(Addr::v4(s)),
        dst: Some(Addr::v4(d)),
        proto: 6,
        l4: L4::Tcp {
            sport: sp,
            dport: dp,
            seq,
            ack: 0,
            flags,
            window: 1000,
        },
        payload_len: len,
        ..PacketInfo::default()
    }
}

fn run(pkts: &[PacketInfo]) -> Vec<FlowRecord> {
    let mut t = FlowTable::new(FlowConfig::default());
    let mut out = Vec::new();
    for (i, p) in pkts.iter().enumerate() {
        let n = i as u64 + 1;
        t.packet(
            n,
            i64::try_from(n).unwrap() * 1_000_000,
            60 + p.payload_len,
            p,
            &mut out,
        );
    }
    t.finish(&mut out);
    out
}

fn check(pkts: &[PacketInfo], state: &str, history: &str) {
    let out = run(pkts);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        (out[0].conn_state.as_str(), out[0].history.as_str()),
        (state, history)
    );
}

// Client A (ISN 100), server B (ISN 500).
fn syn() -> PacketInfo {
    tcp(true, SYN, 100, 0)
}
fn synack() -> PacketInfo {
    tcp(false, SYN | ACK, 500, 0)
}
fn ack() -> PacketInfo {
    tcp(true, ACK, 101, 0)
}
fn established() -> Vec<PacketInfo> {
    vec![syn(), synack(), ack()]
}

#[test]
fn s0_attempt_without_reply() {
    check(&[syn()], "S0", "S");
}

#[test]
fn rej_rejected() {
    check(&[syn(), tcp(false, RST | ACK, 0, 0)], "REJ", "Sr");
}

#[test]
fn s1_established() {
    check(&established(), "S1", "ShA");
}

#[test]
fn sf_normal() {
    let mut p = established();
    p.extend([
        tcp(true, ACK, 101, 10),
        tcp(false, ACK, 501, 0),
        tcp(false, ACK, 501, 20),
        tcp(true, ACK, 111, 0),
        tcp(true, FIN | ACK, 111, 0),
        tcp(false, FIN | ACK, 521, 0),
        tcp(true, ACK, 112, 0),
    ]);
    check(&p, "SF", "ShADadFf");
    let r = &run(&p)[0];
    assert_eq!((r.orig.packets, r.resp.packets), (6, 4));
    assert_eq!((r.orig.payload_bytes, r.resp.payload_bytes), (10, 20));
    assert_eq!((r.sport, r.dport), (1111, 80));
}

#[test]
fn s2_s3_half_closed() {
    let mut p = established();
    p.push(tcp(true, FIN | ACK, 101, 0));
    check(&p, "S2", "ShAF");
    let mut p = established();
    p.push(tcp(false, FIN | ACK, 501, 0));
    check(&p, "S3", "ShAf");
}

#[test]
fn rsto_rstr_aborted() {
    let mut p = established();
    p.push(tcp(true, RST, 101, 0));
    check(&p, "RSTO", "ShAR");
    let mut p = established();
    p.push(tcp(false, RST, 501, 0));
    check(&p, "RSTR", "ShAr");
}

#[test]
fn rstos0_syn_then_rst() {
    check(&[syn(), tcp(true, RST, 101, 0)], "RSTOS0", "SR");
}

#[test]
fn rstrh_synack_then_rst() {
    // The first packet is a SYN-ACK from B: the flow is flipped (A is the
    // originator) and B's RST follows without any SYN from A.
    check(&[synack(), tcp(false, RST, 501, 0)], "RSTRH", "^hr");
    let r = &run(&[synack(), tcp(false, RST, 501, 0)])[0];
    assert_eq!((r.src, r.sport, r.dport), (Addr::v4(A), 1111, 80));
}

#[test]
fn sh_shr_half_open() {
    check(&[syn(), tcp(true, FIN, 101, 0)], "SH", "SF");
    check(&[synack(), tcp(false, FIN | ACK, 501, 0)], "SHR", "^hf");
}

#[test]
fn oth_midstream() {
    check(
        &[tcp(true, ACK, 5000, 100), tcp(false, ACK, 9000, 0)],
        "OTH",
        "Da",
    );
}

#[test]
fn retransmission_and_loss_counted() {
    let mut p = established();
    p.extend([
        tcp(true, ACK, 101, 10),
        tcp(true, ACK, 101, 10), // retransmission
        tcp(true, ACK, 131, 10), // 111..131 lost
        tcp(true, ACK, 111, 10), // fills part of the hole: out of order
    ]);
    let r = &run(&p)[0];
    assert_eq!(r.orig.retransmissions, 1);
    assert_eq!(r.orig.lost_segments, 1);
    assert_eq!(r.orig.out_of_order, 1);
    assert!(r.history.contains('T'), "{}", r.history);
}

#[test]
fn port_reuse_splits_the_flow() {
    let mut p = established();
    p.extend([
        tcp(true, FIN | ACK, 101, 0),
        tcp(false, FIN | ACK, 501, 0),
        tcp(true, ACK, 102, 0),
    ]);
    p.extend([tcp(true, SYN, 9000, 0), tcp(false, SYN | ACK, 7000, 0)]);
    let out = run(&p);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].end, EndReason::PortReuse);
    assert_eq!(out[0].conn_state.as_str(), "SF");
    assert_eq!((out[1].first_frame, out[1].history.as_str()), (7, "Sh"));
    // A retransmitted SYN (same sequence number) does not split.
    assert_eq!(run(&[syn(), syn(), synack()]).len(), 1);
}

#[test]
fn idle_and_active_timeouts() {
    let cfg = FlowConfig {
        udp_idle_ns: 10,
        active_ns: 1000,
        ..FlowConfig::default()
    };
    let udp = |from_a: bool| PacketInfo {
        src: Some(Addr::v4(if from_a { A } else { B })),
        dst: Some(Addr::v4(if from_a { B } else { A })),
        proto: 17,
        l4: L4::Udp {
            sport: if from_a { 5000 } else { 53 },
            dport: if from_a { 53 } else { 5000 },
        },
        payload_len: 30,
        ..PacketInfo::default()
    };
    let mut t = FlowTable::new(cfg);
    let mut out = Vec::new();
    t.packet(1, 0, 72, &udp(true), &mut out);
    t.packet(2, 5, 72, &udp(false), &mut out);
    assert!(out.is_empty());
    t.packet(3, 100, 72, &udp(true), &mut out); // 95 ns idle > 10: new flow
    assert_eq!(out.len(), 1);
    assert_eq!(
        (
            out[0].end,
            out[0].conn_state.as_str(),
            out[0].history.as_str()
        ),
        (EndReason::Idle, "SF", "Dd")
    );
    // A packet every 8 ns: never idle, but older than 1000 ns at frame 130.
    let mut split = None;
    for i in 0..140u64 {
        t.packet(
            4 + i,
            105 + i64::try_from(i).unwrap() * 8,
            72,
            &udp(true),
            &mut out,
        );
        if split.is_none() && out.len() == 2 {
            split = Some(4 + i);
        }
    }
    assert_eq!(out[1].end, EndReason::Active);
    assert_eq!(split, Some(4 + 125)); // 105 + 125 * 8 = 1105 > 100 + 1000
    t.finish(&mut out);
    assert_eq!(out.len(), 3);
    assert_eq!(out[2].first_frame, 129);
    assert_eq!(t.live(), 0);
}

#[test]
fn many_half_open_flows_expire() {
    // A SYN flood from distinct ports: the table never holds more than the
    // flows inside one idle timeout.
    let cfg = FlowConfig {
        tcp_idle_ns: 1_000,
        ..FlowConfig::default()
    };
    let mut t = FlowTable::new(cfg);
    let mut out = Vec::new();
    for i in 0..20_000u32 {
        let mut p = syn();
        p.l4 = L4::Tcp {
            sport: u16::try_from(i % 60_000).unwrap(),
            dport: 80,
            seq: i,
            ack: 0,
            flags: SYN,
            window: 0,
        };
        t.packet(u64::from(i) + 1, i64::from(i) * 100, 60, &p, &mut out);
        assert!(t.live() <= 11);
    }
    t.finish(&mut out);
    assert_eq!(out.len(), 20_000);
    assert!(out.iter().all(|r| r.conn_state.as_str() == "S0"));
}

#[test]
fn community_id_of_flow() {
    // The spec README's TCP example, as a flow.
    let p = PacketInfo {
        src: Some(Addr::v4([1, 2, 3, 4])),
        dst: Some(Addr::v4([5, 6, 7, 8])),
        proto: 6,
        l4: L4::Tcp {
            sport: 1122,
            dport: 3344,
            seq: 1,
            ack: 0,
            flags: SYN,
            window: 1,
        },
        ..PacketInfo::default()
    };
    let out = run(&[p]);
    assert_eq!(out[0].community_id, "1:wCb3OG7yAFWelaUydu0D+125CLM=");
}
