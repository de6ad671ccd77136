//! TCP (RFC 9293), `ip.proto` 6, with its options (MSS, window scale,
//! SACK-permitted, SACK, timestamps, NOP/EOL; other kinds skipped by length).
//!
//! Sequence and acknowledgment numbers are the raw wire values: pcapx keeps no
//! per-connection state, so there are no relative numbers (tshark needs
//! `-o tcp.relative_sequence_numbers:FALSE` to print the same).
//!
//! Desegmentation is the stateful pass's ([`pcapx_core::TcpDeseg`]): for an
//! application dissector that frames PDUs, a segment completing PDUs hands
//! their reassembled bytes to the application layer, and a segment in the
//! middle of one keeps its payload inside the TCP layer.

use pcapx_core::dissector::{PacketView, TableId};
use pcapx_core::{
    AnomalyId, Ctx, Dissector, FieldId, FieldMask, Next, Outcome, Registrar, RegistryError, Source,
    TcpDeseg, Value,
};
use pcapx_core::{IpProto, keys::tables};

use super::{be16, be32, len64};

const MIN_HDR: usize = 20;

/// Scapy's flag letters, bit 0 (FIN) first.
const FLAG_LETTERS: &[u8; 9] = b"FSRPAUECN";

pcapx_core::field_table! {
    struct Fields {
        srcport = ("tcp.srcport", "Source Port", U16, "").alias("sport"),
        dstport = ("tcp.dstport", "Destination Port", U16, "").alias("dport"),
        seq = ("tcp.seq", "Sequence Number", U32,
            "Raw sequence number (pcapx does not compute relative numbers)").alias("seq"),
        seq_raw = ("tcp.seq_raw", "Sequence Number (raw)", U32, ""),
        ack = ("tcp.ack", "Acknowledgment Number", U32,
            "Raw acknowledgment number (not relative)").alias("ack"),
        ack_raw = ("tcp.ack_raw", "Acknowledgment number (raw)", U32, ""),
        hdr_len = ("tcp.hdr_len", "Header Length", U8, "TCP header length in bytes"),
        dataofs = ("tcp.dataofs", "Data Offset", U8,
            "pcapx: header length in 32-bit words (Scapy's dataofs)").alias("dataofs"),
        reserved = ("tcp.reserved", "Reserved", U8,
            "pcapx: the 3 reserved bits after the data offset (Scapy's reserved)").alias("reserved"),
        flags = ("tcp.flags", "Flags", U16, "The 12 flag bits").hex(),
        flag_res = ("tcp.flags.res", "Reserved", Bool, ""),
        flag_ae = ("tcp.flags.ae", "Accurate ECN", Bool, ""),
        flag_cwr = ("tcp.flags.cwr", "Congestion Window Reduced", Bool, ""),
        flag_ece = ("tcp.flags.ece", "ECN-Echo", Bool, ""),
        flag_urg = ("tcp.flags.urg", "Urgent", Bool, ""),
        flag_ack = ("tcp.flags.ack", "Acknowledgment", Bool, ""),
        flag_push = ("tcp.flags.push", "Push", Bool, ""),
        flag_reset = ("tcp.flags.reset", "Reset", Bool, ""),
        flag_syn = ("tcp.flags.syn", "Syn", Bool, ""),
        flag_fin = ("tcp.flags.fin", "Fin", Bool, ""),
        window = ("tcp.window_size_value", "Window", U16,
            "Window field as sent (not scaled)").alias("window"),
        checksum = ("tcp.checksum", "Checksum", U16, "").hex().alias("tcp.chksum"),
        urgent = ("tcp.urgent_pointer", "Urgent Pointer", U16, "").alias("urgptr"),
        opt_count = ("tcp.opt.count", "Option Count", U8,
            "pcapx: number of options, NOP and EOL included (len(TCP.options) in Scapy)",
        ).alias("tcp.options"),
        option_kind = ("tcp.option_kind", "Kind", U8, "Kind of each option"),
        mss = ("tcp.options.mss_val", "MSS Value", U16, ""),
        wscale_shift = ("tcp.options.wscale.shift", "Shift count", U8, ""),
        wscale_mult = ("tcp.options.wscale.multiplier", "Multiplier", U16, ""),
        sack_perm = ("tcp.options.sack_perm", "TCP Option - SACK permitted", Bool,
            "Present when the SACK-permitted option is"),
        sack_le = ("tcp.options.sack_le", "TCP SACK Left Edge", U32, ""),
        sack_re = ("tcp.options.sack_re", "TCP SACK Right Edge", U32, ""),
        sack_count = ("tcp.options.sack.count", "TCP SACK Count", U8, ""),
        tsval = ("tcp.options.timestamp.tsval", "Timestamp value", U32, ""),
        tsecr = ("tcp.options.timestamp.tsecr", "Timestamp echo reply", U32, ""),
        len = ("tcp.len", "TCP Segment Len", U32,
            "Payload length: IP payload length minus the TCP header length").alias("payload"),
        payload = ("tcp.payload", "TCP payload", Bytes, ""),
        // Filled by a per-file pass outside the engine (pcapx-flow's
        // numbering), only when a table asks for it.
        stream = ("tcp.stream", "Stream index", U32,
            "The TCP conversation's index in order of first appearance, numbered as tshark does (a new SYN on reused ports starts a new one)",
        ),
        // tshark's sequence analysis (pcapx-flow's `analysis`), filled by
        // the same per-file pass; present (true) only on flagged segments.
        an_retrans = ("tcp.analysis.retransmission", "Retransmission", Bool,
            "tshark's (suspected) retransmission; also set on fast and spurious retransmissions"),
        an_fast_retrans = ("tcp.analysis.fast_retransmission", "Fast retransmission", Bool,
            "tshark's (suspected) fast retransmission: after two or more duplicate ACKs for this sequence number, within 20 ms (tshark 4.0 flags a few more)"),
        an_spurious = ("tcp.analysis.spurious_retransmission", "Spurious retransmission", Bool,
            "tshark's (suspected) spurious retransmission: every byte was already acknowledged"),
        an_ooo = ("tcp.analysis.out_of_order", "Out-of-order", Bool,
            "tshark's (suspected) out-of-order segment"),
        an_lost = ("tcp.analysis.lost_segment", "Previous segment not captured", Bool,
            "tshark's lost segment: this segment starts beyond the highest sequence number seen in its direction"),
        an_dup_ack = ("tcp.analysis.duplicate_ack", "Duplicate ACK", Bool,
            "tshark's duplicate ACK (present once; tshark -T fields repeats it)"),
        an_keep_alive = ("tcp.analysis.keep_alive", "Keep-alive", Bool, "tshark's TCP keep-alive segment"),
        an_keep_alive_ack = ("tcp.analysis.keep_alive_ack", "Keep-alive ACK", Bool,
            "tshark's ACK to a TCP keep-alive segment"),
        an_zero_window = ("tcp.analysis.zero_window", "Zero window", Bool, "tshark's TCP zero window segment"),
        an_zwp = ("tcp.analysis.zero_window_probe", "Zero window probe", Bool, "tshark's TCP zero window probe"),
        an_zwp_ack = ("tcp.analysis.zero_window_probe_ack", "Zero window probe ACK", Bool,
            "tshark's ACK to a TCP zero window probe"),
    }
}

/// The TCP dissector.
pub struct Tcp {
    f: Fields,
    /// res, ae, cwr, ece, urg, ack, push, reset, syn, fin (mask order).
    flag_bits: [FieldId; 10],
    bad_option: AnomalyId,
    bad_hdr_len: AnomalyId,
    port_table: TableId,
    /// `tcp.flags` and its bits.
    flag_mask: FieldMask,
    /// The ten flag-bit fields alone, and for each bit of their word the
    /// flag it stands for (`u8::MAX`: none), so that only the wanted flag
    /// bits are visited (the tutorial table wants one of the ten).
    bits_mask: FieldMask,
    flag_of_bit: [u8; 64],
    /// Every field the option walk fills in (`tcp.option_kind`, the option
    /// values, the option count).
    opt_mask: FieldMask,
}

/// Masks of the 12-bit flags word, in the order of [`Tcp::flag_bits`].
const FLAG_MASKS: [u16; 10] = [
    0x0E00, 0x0100, 0x0080, 0x0040, 0x0020, 0x0010, 0x0008, 0x0004, 0x0002, 0x0001,
];

impl Tcp {
    pub fn new() -> Tcp {
        Tcp {
            f: Fields::UNSET,
            flag_bits: [FieldId::UNSET; 10],
            bad_option: AnomalyId(u32::MAX),
            bad_hdr_len: AnomalyId(u32::MAX),
            port_table: TableId(u32::MAX),
            flag_mask: FieldMask::Always,
            bits_mask: FieldMask::Always,
            flag_of_bit: [u8::MAX; 64],
            opt_mask: FieldMask::Always,
        }
    }

    /// Walk the options; returns Scapy's option count (`len(TCP.options)`).
    fn options(&self, opts: &[u8], cx: &mut Ctx<'_>) -> u64 {
        let mut count = 0u64;
        walk_options(opts, |step| {
            count += 1;
            cx.add(self.f.option_kind, Value::U64(u64::from(step.kind())));
            match step {
                OptStep::BadLen(_) | OptStep::Overrun(_) => cx.anomaly(self.bad_option),
                OptStep::Option(kind, body) => self.option(kind, body, cx),
                OptStep::End | OptStep::Nop => {}
            }
        });
        count
    }

    /// The option walk when no option field is wanted: the same anomalies as
    /// [`Tcp::options`], in the same order, and nothing else.
    fn check_options(&self, opts: &[u8], cx: &mut Ctx<'_>) {
        walk_options(opts, |step| match step {
            OptStep::BadLen(_) | OptStep::Overrun(_) => cx.anomaly(self.bad_option),
            OptStep::Option(kind, body) if !option_len_ok(kind, body.len()) => {
                cx.anomaly(self.bad_option);
            }
            _ => {}
        });
    }

    fn option(&self, kind: u8, body: &[u8], cx: &mut Ctx<'_>) {
        let ok = match (kind, body.len()) {
            (2, 2) => {
                cx.add(
                    self.f.mss,
                    Value::U64(u64::from(be16(body, 0).unwrap_or(0))),
                );
                true
            }
            (3, 1) => {
                let shift = body.first().copied().unwrap_or(0);
                cx.add(self.f.wscale_shift, Value::U64(u64::from(shift)));
                let mult = 1u64.checked_shl(u32::from(shift)).unwrap_or(0);
                cx.add(
                    self.f.wscale_mult,
                    Value::U64(mult.min(u64::from(u16::MAX))),
                );
                true
            }
            (4, 0) => {
                cx.add(self.f.sack_perm, Value::Bool(true));
                true
            }
            (5, n) if n % 8 == 0 => {
                cx.add(self.f.sack_count, Value::U64(len64(n / 8)));
                for block in body.chunks_exact(8) {
                    let le = be32(block, 0).unwrap_or(0);
                    let re = be32(block, 4).unwrap_or(0);
                    cx.add(self.f.sack_le, Value::U64(u64::from(le)));
                    cx.add(self.f.sack_re, Value::U64(u64::from(re)));
                }
                true
            }
            (8, 8) => {
                cx.add(
                    self.f.tsval,
                    Value::U64(u64::from(be32(body, 0).unwrap_or(0))),
                );
                cx.add(
                    self.f.tsecr,
                    Value::U64(u64::from(be32(body, 4).unwrap_or(0))),
                );
                true
            }
            _ => option_len_ok(kind, body.len()),
        };
        if !ok {
            cx.anomaly(self.bad_option);
        }
    }
}

/// One step of the TCP option walk, shared by the decoding walk and the
/// checking walk so that both see the same options and the same anomalies.
#[derive(Copy, Clone)]
enum OptStep<'a> {
    /// End of option list (kind 0); the walk stops.
    End,
    /// No-operation (kind 1).
    Nop,
    /// An option whose length byte is below 2 or missing: Scapy assumes 2
    /// and goes on.
    BadLen(u8),
    /// An option whose length runs past the header; the walk stops.
    Overrun(u8),
    /// A well-formed option: kind and body (after kind and length).
    Option(u8, &'a [u8]),
}

impl OptStep<'_> {
    fn kind(self) -> u8 {
        match self {
            OptStep::End => 0,
            OptStep::Nop => 1,
            OptStep::BadLen(k) | OptStep::Overrun(k) | OptStep::Option(k, _) => k,
        }
    }
}

/// Walk the options area `opts`, calling `f` once per option.
#[inline(always)]
fn walk_options<'a>(opts: &'a [u8], mut f: impl FnMut(OptStep<'a>)) {
    let mut i = 0usize;
    while let Some(&kind) = opts.get(i) {
        match kind {
            0 => {
                f(OptStep::End);
                break;
            }
            1 => {
                f(OptStep::Nop);
                i += 1;
                continue;
            }
            _ => {}
        }
        let declared = opts.get(i + 1).copied().map_or(0, usize::from);
        if declared < 2 {
            f(OptStep::BadLen(kind));
            i += 2;
            continue;
        }
        let Some(body) = opts.get(i + 2..i + declared) else {
            f(OptStep::Overrun(kind));
            break;
        };
        f(OptStep::Option(kind, body));
        i += declared;
    }
}

/// Is `len` a valid body length for option `kind`? (Kinds pcapx does not
/// decode are skipped by their length, whatever it is.)
fn option_len_ok(kind: u8, len: usize) -> bool {
    match (kind, len) {
        (2, 2) | (3, 1) | (4, 0) | (8, 8) => true,
        (5, n) => n % 8 == 0,
        (2..=5 | 8, _) => false,
        _ => true,
    }
}

impl Default for Tcp {
    fn default() -> Self {
        Self::new()
    }
}

impl Dissector for Tcp {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        r.protocol("tcp", "Transmission Control Protocol", "TCP")?;
        self.f = Fields::register(r)?;
        let f = &self.f;
        self.flag_bits = [
            f.flag_res,
            f.flag_ae,
            f.flag_cwr,
            f.flag_ece,
            f.flag_urg,
            f.flag_ack,
            f.flag_push,
            f.flag_reset,
            f.flag_syn,
            f.flag_fin,
        ];
        self.bad_option = r.anomaly(
            "tcp.bad-option",
            "a TCP option's length is invalid or runs past the header",
            false,
        )?;
        self.bad_hdr_len = r.anomaly(
            "tcp.bad-header-length",
            "the TCP data offset is below 5 words or beyond the segment",
            false,
        )?;
        // The fast walk adds the wanted bits in field-id order: only when
        // that is the flags' order (and they share a word).
        let ascending = self
            .flag_bits
            .windows(2)
            .all(|p| p[0].index() < p[1].index());
        self.bits_mask = if ascending {
            FieldMask::of(&self.flag_bits)
        } else {
            FieldMask::Always
        };
        if matches!(self.bits_mask, FieldMask::Word { .. }) {
            for (i, id) in self.flag_bits.iter().enumerate() {
                self.flag_of_bit[id.index() % 64] = u8::try_from(i).unwrap_or(u8::MAX);
            }
        }
        self.flag_mask = FieldMask::of(&[
            self.f.flags,
            self.flag_bits[0],
            self.flag_bits[1],
            self.flag_bits[2],
            self.flag_bits[3],
            self.flag_bits[4],
            self.flag_bits[5],
            self.flag_bits[6],
            self.flag_bits[7],
            self.flag_bits[8],
            self.flag_bits[9],
        ]);
        self.opt_mask = FieldMask::of(&[
            self.f.opt_count,
            self.f.option_kind,
            self.f.mss,
            self.f.wscale_shift,
            self.f.wscale_mult,
            self.f.sack_perm,
            self.f.sack_le,
            self.f.sack_re,
            self.f.sack_count,
            self.f.tsval,
            self.f.tsecr,
        ]);
        self.port_table = r.declare_table(tables::TCP_PORT);
        r.bind(tables::IP_PROTO, IpProto::TCP);
        Ok(())
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let (Some(sport), Some(dport)) = (be16(data, 0), be16(data, 2)) else {
            if let Some(sport) = be16(data, 0) {
                cx.add(self.f.srcport, Value::U64(u64::from(sport)));
            }
            cx.short();
            return Outcome::end(data.len());
        };
        cx.add(self.f.srcport, Value::U64(u64::from(sport)));
        cx.add(self.f.dstport, Value::U64(u64::from(dport)));
        let Some(seq) = be32(data, 4) else {
            cx.short();
            return Outcome::end(data.len());
        };
        cx.add(self.f.seq, Value::U64(u64::from(seq)));
        cx.add(self.f.seq_raw, Value::U64(u64::from(seq)));
        let Some(ack) = be32(data, 8) else {
            cx.short();
            return Outcome::end(data.len());
        };
        cx.add(self.f.ack, Value::U64(u64::from(ack)));
        cx.add(self.f.ack_raw, Value::U64(u64::from(ack)));
        let Some(word) = be16(data, 12) else {
            cx.short();
            return Outcome::end(data.len());
        };
        let dataofs = word >> 12;
        let hdr_len = usize::from(dataofs) * 4;
        cx.add(self.f.hdr_len, Value::U64(u64::from(dataofs) * 4));
        cx.add(self.f.dataofs, Value::U64(u64::from(dataofs)));
        cx.add(self.f.reserved, Value::U64(u64::from((word >> 9) & 0x7)));
        let flags = word & 0x0FFF;
        if cx.wants_any(self.flag_mask) {
            cx.add(self.f.flags, Value::U64(u64::from(flags)));
            match cx.wanted_bits(self.bits_mask) {
                // Only the wanted bits, lowest field id first (the order
                // the loop below adds them in: ids ascend with the flags).
                Some(mut w) => {
                    while w != 0 {
                        let b = w.trailing_zeros() as usize;
                        w &= w - 1;
                        let i = usize::from(self.flag_of_bit[b % 64]);
                        if let (Some(&id), Some(&mask)) = (self.flag_bits.get(i), FLAG_MASKS.get(i))
                        {
                            cx.add(id, Value::Bool(flags & mask != 0));
                        }
                    }
                }
                None => {
                    for (&id, mask) in self.flag_bits.iter().zip(FLAG_MASKS) {
                        cx.add(id, Value::Bool(flags & mask != 0));
                    }
                }
            }
        }
        let Some(window) = be16(data, 14) else {
            cx.short();
            return Outcome::end(data.len());
        };
        cx.add(self.f.window, Value::U64(u64::from(window)));
        let Some(checksum) = be16(data, 16) else {
            cx.short();
            return Outcome::end(data.len());
        };
        cx.add(self.f.checksum, Value::U64(u64::from(checksum)));
        let Some(urgent) = be16(data, 18) else {
            cx.short();
            return Outcome::end(data.len());
        };
        cx.add(self.f.urgent, Value::U64(u64::from(urgent)));

        // The segment as the IP layer declares it (captured bytes may be fewer).
        let segment = cx.declared_len().unwrap_or(data.len());
        if hdr_len < MIN_HDR || hdr_len > segment {
            cx.anomaly(self.bad_hdr_len);
            cx.malformed();
            return Outcome::end(data.len().min(MIN_HDR));
        }
        let opts_end = hdr_len.min(data.len());
        let opts = data.get(MIN_HDR..opts_end).unwrap_or(&[]);
        if cx.wants_any(self.opt_mask) {
            let count = self.options(opts, cx);
            cx.add(self.f.opt_count, Value::U64(count));
        } else {
            self.check_options(opts, cx);
        }
        let tcp_len = segment - hdr_len;
        cx.add(self.f.len, Value::U64(len64(tcp_len)));
        if hdr_len > data.len() {
            cx.short();
            return Outcome::end(data.len());
        }
        let out = super::transport_payload(
            cx,
            data,
            hdr_len,
            tcp_len,
            self.f.payload,
            self.port_table,
            sport,
            dport,
        );
        if !matches!(out.next, Next::Ports(..)) {
            // A FIN without payload completes a PDU that runs to the end of
            // the stream (an HTTP response without a length).
            if tcp_len == 0
                && let TcpDeseg::Pdus { .. } = cx.take_tcp_deseg()
                && cx.continue_in(Source::Tcp)
            {
                return Outcome {
                    next: Next::Ports(self.port_table, sport, dport),
                    ..out
                };
            }
            return out;
        }
        // TCP desegmentation (the stateful pass, for an application
        // dissector that frames PDUs): the application layer appears at the
        // segment that completes PDUs, with their bytes; a segment in the
        // middle of a PDU keeps its payload as TCP's own (tshark's "TCP
        // segment data").
        match cx.take_tcp_deseg() {
            TcpDeseg::AsIs => out,
            TcpDeseg::Partial => Outcome {
                header_len: hdr_len + tcp_len,
                payload_len: Some(0),
                next: Next::End,
            },
            TcpDeseg::Pdus { .. } => {
                cx.continue_in(Source::Tcp);
                out
            }
        }
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Some((sport, dport)) = super::summary_ports(view, layer, "tcp.srcport", "tcp.dstport")
        else {
            return false;
        };
        out.push_str("TCP ");
        super::write_endpoints(view, layer, out, sport, dport, false);
        out.push(' ');
        let flags = view
            .get(layer, "tcp.flags")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        for (bit, &letter) in FLAG_LETTERS.iter().enumerate() {
            if flags & (1 << bit) != 0 {
                out.push(char::from(letter));
            }
        }
        true
    }

    fn layer_name(&self, view: &PacketView<'_>, layer: usize) -> Option<&'static str> {
        view.layer(layer)
            .is_some_and(|l| l.quoted)
            .then_some("TCPerror")
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{check_ip, ipv4, run, truncations};

    /// SYN from 10.0.0.1:36112 to 10.0.0.2:443 with MSS, SACK-permitted,
    /// timestamps, NOP and window scale.
    const SYN: &[u8] = &[
        0x8d, 0x10, 0x01, 0xbb, // ports
        0x12, 0x34, 0x56, 0x78, // seq
        0x00, 0x00, 0x00, 0x00, // ack
        0xa0, 0x02, 0xfa, 0xf0, // dataofs 10, SYN, window 64240
        0xbe, 0xef, 0x00, 0x00, // checksum, urgent
        0x02, 0x04, 0x05, 0xb4, // MSS 1460
        0x04, 0x02, // SACK permitted
        0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // TS 1/0
        0x01, // NOP
        0x03, 0x03, 0x07, // WS 7
    ];

    #[test]
    fn syn_with_options() {
        let pkt = ipv4(6, SYN);
        check_ip(
            &pkt,
            &[
                ("tcp.srcport", "36112"),
                ("sport", "36112"),
                ("tcp.dstport", "443"),
                ("tcp.seq", "305419896"),
                ("tcp.ack", "0"),
                ("tcp.hdr_len", "40"),
                ("tcp.dataofs", "10"),
                ("tcp.reserved", "0"),
                ("tcp.flags", "2"),
                ("tcp.flags.syn", "1"),
                ("tcp.flags.ack", "0"),
                ("tcp.window_size_value", "64240"),
                ("tcp.checksum", "48879"),
                ("tcp.options.mss_val", "1460"),
                ("tcp.options.sack_perm", "1"),
                ("tcp.options.timestamp.tsval", "1"),
                ("tcp.options.timestamp.tsecr", "0"),
                ("tcp.options.wscale.shift", "7"),
                ("tcp.options.wscale.multiplier", "128"),
                ("tcp.opt.count", "5"),
                ("tcp.len", "0"),
                ("payload", "0"),
            ],
        );
        let (eng, f) = run(&pkt);
        assert!(f.anomalies().is_empty(), "{:?}", f.anomalies());
        assert_eq!(
            eng.summary_line(&f, &pkt, false),
            "IP / TCP 10.0.0.1:36112 > 10.0.0.2:https S"
        );
        assert_eq!(
            eng.summary_line(&f, &pkt, true),
            "IP / TCP 10.0.0.1:36112 > 10.0.0.2:443 S"
        );
    }

    #[test]
    fn payload_sack_and_flags() {
        let mut seg = vec![
            0x01, 0xbb, 0x8d, 0x10, 0, 0, 0, 5, 0, 0, 0, 9, //
            0x81, 0xff, 0, 1, 0, 0, 0, 7, // dataofs 8, reserved 0, AE+all flags
            0x01, 0x01, 0x05, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2, // NOP NOP SACK 1 block
        ];
        seg.extend_from_slice(b"hello");
        let pkt = ipv4(6, &seg);
        check_ip(
            &pkt,
            &[
                ("tcp.flags", "511"),
                ("tcp.flags.ae", "1"),
                ("tcp.flags.res", "0"),
                ("tcp.flags.fin", "1"),
                ("tcp.flags.cwr", "1"),
                ("tcp.urgent_pointer", "7"),
                ("tcp.options.sack_le", "1"),
                ("tcp.options.sack_re", "2"),
                ("tcp.options.sack.count", "1"),
                ("tcp.opt.count", "3"),
                ("tcp.len", "5"),
                ("tcp.payload", "68656c6c6f"),
                ("data.data", "68656c6c6f"),
            ],
        );
        let (eng, f) = run(&pkt);
        let line = eng.summary_line(&f, &pkt, false);
        assert!(
            line.ends_with("TCP 10.0.0.1:https > 10.0.0.2:36112 FSRPAUECN / Raw"),
            "{line}"
        );
    }

    #[test]
    fn malformed_options_do_not_loop() {
        // zero-length option, then an option running past the header
        let seg = [
            0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x70, 0x10, 0, 1, 0, 0, 0, 0, //
            0x22, 0x00, 0x01, 0x22, 0x09, 0, 0, 0,
        ];
        let pkt = ipv4(6, &seg);
        check_ip(
            &pkt,
            &[("tcp.opt.count", "3"), ("tcp.option_kind", "34,1,34")],
        );
        let (eng, f) = run(&pkt);
        let bad = eng.registry().anomaly_by_name("tcp.bad-option").unwrap();
        assert!(f.anomalies().iter().any(|a| a.id == bad));
    }

    #[test]
    fn bad_data_offset() {
        let seg = [
            0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x10, 0, 1, 0, 0, 0, 0,
        ];
        let pkt = ipv4(6, &seg);
        check_ip(&pkt, &[("tcp.hdr_len", "16"), ("tcp.dstport", "2")]);
        let (eng, f) = run(&pkt);
        let bad = eng
            .registry()
            .anomaly_by_name("tcp.bad-header-length")
            .unwrap();
        assert!(f.anomalies().iter().any(|a| a.id == bad));
    }

    #[test]
    fn every_truncation() {
        truncations(
            6,
            SYN,
            40,
            &[
                (2, "tcp.srcport"),
                (4, "tcp.dstport"),
                (8, "tcp.seq"),
                (20, "tcp.urgent_pointer"),
            ],
        );
    }

    /// With no option field wanted, the lean walk must raise exactly the
    /// anomalies of the full one (same names, layers, order) and the engine
    /// must see the same layers — over hand-picked edge cases and
    /// pseudo-random option areas of every length.
    #[test]
    fn lean_option_walk_matches_full_walk() {
        use pcapx_core::{PacketMeta, Wanted};
        let eng = crate::testutil::engine();
        let len_id = eng.registry().field_by_name("tcp.len").expect("tcp.len");
        let mut some = Wanted::none(eng.registry().field_count());
        some.insert(len_id);
        let mut all_f = eng.new_fields(Wanted::All);
        let mut some_f = eng.new_fields(some);
        let mut cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x01, 0x01, 0x01, 0x01],
            vec![0x02, 0x00, 0x01, 0x01],
            vec![0x02, 0x01, 0x01, 0x01],
            vec![0x02, 0x03, 0x05, 0x01],
            vec![0x05, 0x06, 0, 0, 0, 0, 0x01, 0x01],
            vec![0x05, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2, 0x01, 0x01],
            vec![0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2, 0x01, 0x00],
            vec![0x08, 0x0c, 0, 0, 0, 1, 0, 0, 0, 2, 0x01, 0x00],
            vec![0x1e, 0x04, 0xaa, 0xbb],
            vec![0x03, 0x03, 0x07, 0xff],
            vec![0x04, 0x03, 0x00, 0x00],
            vec![0x00, 0x02, 0x00, 0x00],
            vec![0x01, 0x02],
        ];
        let mut x: u32 = 0x1234_5678;
        for n in 0..400usize {
            let len = (n % 10) * 4;
            let mut o = Vec::with_capacity(len);
            for _ in 0..len {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let b = (x >> 24).to_be_bytes()[3];
                // Bias towards the option kinds and lengths that matter.
                o.push(if b < 0x80 { b % 12 } else { b });
            }
            cases.push(o);
        }
        for opts in cases {
            let mut tcp = SYN[..20].to_vec();
            let words = u8::try_from(5 + opts.len() / 4).expect("small header");
            tcp[12] = (words << 4) | (tcp[12] & 0x0f);
            tcp.extend_from_slice(&opts);
            tcp.extend_from_slice(b"data");
            let pkt = ipv4(6, &tcp);
            let (_, reference) = run(&pkt);
            let meta = PacketMeta {
                number: 1,
                caplen: u32::try_from(pkt.len()).expect("small"),
                wirelen: u32::try_from(pkt.len()).expect("small"),
                linktype: 228,
                ..PacketMeta::default()
            };
            eng.dissect(&meta, &pkt, &mut all_f);
            eng.dissect(&meta, &pkt, &mut some_f);
            assert_eq!(reference.anomalies(), all_f.anomalies(), "{opts:02x?}");
            assert_eq!(all_f.anomalies(), some_f.anomalies(), "{opts:02x?}");
            assert_eq!(all_f.layers(), some_f.layers(), "{opts:02x?}");
            assert_eq!(
                all_f.first(len_id).map(|v| v.to_string()),
                some_f.first(len_id).map(|v| v.to_string())
            );
        }
    }
}
