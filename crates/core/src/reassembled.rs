//! Side input of stateful dissection: the bytes a serial pass over the file
//! put together for one packet (an IP datagram from its fragments, TCP
//! application PDUs from their segments), and how dissectors frame PDUs.
//!
//! The pass itself lives outside the core (it needs every packet in file
//! order; see ARCHITECTURE.md, "Stateful dissection"). Dissectors see the
//! result through [`crate::Ctx`]: the IPv4 and IPv6-fragment dissectors take
//! [`Reassembled::ip`], the TCP dissector takes [`Reassembled::tcp`], and each
//! tells the engine to continue the walk in those bytes
//! ([`crate::Ctx::continue_in`]). The layers after that have
//! [`crate::LayerRecord::source`] set, and their offsets refer to that buffer.

/// Where a layer's bytes come from.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Source {
    /// The captured frame.
    #[default]
    Frame,
    /// The payload of an IP datagram reassembled from its fragments.
    Ip,
    /// Application PDUs reassembled from TCP segments.
    Tcp,
}

/// What IP defragmentation decided for the packet's outermost IP layer.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum IpDefrag<'a> {
    /// Not a fragment, defragmentation off, or a fragment not reassembled
    /// (cut by the snaplen): dissect the packet as it is.
    #[default]
    AsIs,
    /// A fragment of a datagram not complete at this packet: its payload
    /// is not handed to the transport layer (tshark's "Data").
    Held,
    /// The fragment that completes its datagram: `payload` is the whole
    /// datagram's payload (after the IP header, and for IPv6 after the
    /// fragment header), from `fragments` fragments.
    Complete { payload: &'a [u8], fragments: u32 },
}

/// What TCP desegmentation decided for the packet's TCP payload.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum TcpDeseg<'a> {
    /// No desegmentation for this segment: its payload is dissected as is.
    #[default]
    AsIs,
    /// The payload continues a PDU not complete at this segment: the
    /// application layer is not called here.
    Partial,
    /// This segment completes the PDUs in `data` (concatenated, from the
    /// first byte of the earliest), which span `segments` segments.
    Pdus { data: &'a [u8], segments: u32 },
}

/// One packet's side input. `Default` is "nothing reassembled": the packet
/// dissects exactly as without a stateful pass.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Reassembled<'a> {
    pub ip: IpDefrag<'a>,
    pub tcp: TcpDeseg<'a>,
    /// What a dissector's [`DatagramState`] wrote for this UDP datagram in
    /// the stateful pass: the protocol it belongs to and its bytes (taken
    /// with [`crate::Ctx::take_datagram_state`]).
    pub datagram: Option<(crate::ProtoId, &'a [u8])>,
}

impl<'a> Reassembled<'a> {
    /// The bytes of `source` (empty for the frame, which the caller holds).
    pub fn bytes(&self, source: Source) -> &'a [u8] {
        match (source, self.ip, self.tcp) {
            (Source::Ip, IpDefrag::Complete { payload, .. }, _) => payload,
            (Source::Tcp, _, TcpDeseg::Pdus { data, .. }) => data,
            _ => &[],
        }
    }
}

/// The answer of [`crate::Dissector::pdu_len`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PduLen {
    /// Not (or no longer) this protocol: the segment is dissected as is and
    /// the next segment is asked again from its first byte.
    NotMine,
    /// A PDU starts here but its length is not known yet.
    NeedMore,
    /// The PDU is this many bytes long (at least 1; may exceed the bytes
    /// given: the pass waits for the rest).
    Len(usize),
    /// The PDU runs to the end of this direction of the stream (an HTTP
    /// response without `Content-Length` or chunked encoding: tshark's
    /// `DESEGMENT_UNTIL_FIN`). It completes at the segment carrying the
    /// sender's FIN, which may have no payload; without a FIN it never
    /// completes.
    UntilFin,
}

/// What [`crate::Dissector::pdu_len`] may know about the stream.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PduCx {
    pub src_port: u16,
    pub dst_port: u16,
}

impl PduCx {
    pub fn new(src_port: u16, dst_port: u16) -> PduCx {
        PduCx { src_port, dst_port }
    }
}

/// A UDP datagram's endpoints, as the stateful pass gives them to a
/// [`DatagramState`]. Addresses are 16 bytes (IPv4 in the first four).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DatagramCx {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub sport: u16,
    pub dport: u16,
}

impl DatagramCx {
    pub fn new(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16) -> DatagramCx {
        DatagramCx {
            src,
            dst,
            sport,
            dport,
        }
    }
}

/// Per-file state a datagram protocol keeps across packets (QUIC: its
/// connections, their connection IDs and CRYPTO streams), made by
/// [`crate::Dissector::datagram_state`] and run by the stateful pass on
/// every UDP datagram in file order (one thread, so the result is the same
/// for any thread count). What it writes for a datagram reaches the
/// dissector's `dissect` through [`crate::Ctx::take_datagram_state`].
pub trait DatagramState: Send {
    /// One UDP datagram (`payload` the UDP payload as captured), in file
    /// order. Append this datagram's side input to `out` and return `true`,
    /// or return `false` (whatever was appended is discarded). Must be
    /// bounded in memory, never panic, and be cheap for datagrams that are
    /// not the protocol's.
    fn datagram(&mut self, cx: &DatagramCx, payload: &[u8], out: &mut Vec<u8>) -> bool;

    /// A warning for the end of the input (state given up on bounds), if any.
    fn report(&self) -> Option<String> {
        None
    }
}
