//! The [`Dissector`] trait and what a dissector sees: [`Registrar`] at start-up,
//! [`Ctx`] per layer.
//!
//! The trait is object-safe and its data plain, so a plugin loaded from a `.so`
//! is wrapped in exactly the same interface as a built-in.

use crate::engine::PacketMeta;
use crate::fields::{Cut, FieldMask, Fields, LayerRecord, Limit};
use crate::reassembled::{DatagramState, IpDefrag, PduCx, PduLen, Reassembled, Source, TcpDeseg};
use crate::registry::{
    AnomalyDef, AnomalyId, FieldDef, FieldId, ProtoId, ProtocolDef, Registry, RegistryError,
};
use crate::value::Value;

/// A named dispatch table (`ethertype`, `ip.proto`, `tcp.port`, `udp.port`,
/// `linktype`, …), numbered in order of first mention. A table exists once a
/// dissector declares it ([`Registrar::declare_table`]); binding into a table
/// nobody declares fails [`crate::EngineBuilder::build`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableId(pub u32);

/// What comes after this layer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Nothing recognisable follows; remaining payload bytes become a `data` layer.
    End,
    /// Look `key` up in `table`; if nobody is bound there, try the table's
    /// heuristics, then fall back to `data`.
    Table(TableId, u64),
    /// Transport ports: try the lower port, then the higher (Wireshark's
    /// "try low port first"), then the heuristics.
    Ports(TableId, u16, u16),
    /// "Not mine": the bytes are not this protocol's (bad magic on a bound
    /// port). The layer is withdrawn and the next candidate of the table
    /// that chose this dissector is tried (the other port, then the
    /// heuristics), else the bytes become `data`. Only valid before the
    /// dissector emitted anything; a layer that already has fields or
    /// anomalies ends there instead.
    NotMine,
}

/// The result of dissecting one layer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Length of this layer's header; the next layer starts here.
    pub header_len: usize,
    /// Length of the payload after the header as the header declares it (IPv4
    /// total length, IPv6 payload length, UDP length). Captured bytes past it are
    /// padding/trailer. `None`: everything that follows.
    pub payload_len: Option<usize>,
    pub next: Next,
}

impl Outcome {
    /// A layer that consumed `header_len` bytes and hands the rest to `next`.
    pub fn next(header_len: usize, next: Next) -> Outcome {
        Outcome {
            header_len,
            payload_len: None,
            next,
        }
    }
    /// The bytes are not this protocol's: see [`Next::NotMine`].
    pub fn not_mine() -> Outcome {
        Outcome {
            header_len: 0,
            payload_len: None,
            next: Next::NotMine,
        }
    }
    /// A layer that ends the dissection after `header_len` bytes.
    pub fn end(header_len: usize) -> Outcome {
        Outcome {
            header_len,
            payload_len: None,
            next: Next::End,
        }
    }
}

/// A protocol decoder. One instance serves every worker thread (`&self`).
pub trait Dissector: Send + Sync {
    /// Register the protocol, its fields, anomalies and dispatch bindings.
    /// Called once, before any packet, with exclusive access.
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError>;

    /// For heuristic dissectors: is this payload ours? Must not record anything.
    fn accepts(&self, _data: &[u8], _cx: &Ctx<'_>) -> bool {
        true
    }

    /// Decode one layer from `data` (which starts at this layer's first byte and
    /// ends at the last captured byte the parent assigns to it). Must never panic
    /// and never read outside `data`.
    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome;

    /// Scapy's `mysummary()`: write this layer's one-line summary and return
    /// `true`, or return `false` to be shown by its name only.
    fn summary(&self, _view: &PacketView<'_>, _layer: usize, _out: &mut String) -> bool {
        false
    }

    /// The layer's name in summaries when it differs per packet from the
    /// protocol's `summary_name` (Scapy's `Dot3` vs `Ether`, `Dot1AD` vs `Dot1Q`,
    /// `IPerror` for a quoted IP header). `None`: use `summary_name`.
    fn layer_name(&self, _view: &PacketView<'_>, _layer: usize) -> Option<&'static str> {
        None
    }

    /// The layer's name(s) in summaries when they are built per packet
    /// (Scapy shows a DHCPv6 message as one layer per option:
    /// `DHCP6_Solicit / DHCP6OptClientId / …`). Write them and return `true`.
    /// Unlike [`Dissector::summary`], this is a name: the layers below still
    /// give their own summaries (the UDP ports). `false`: use
    /// [`Dissector::layer_name`] or the protocol's `summary_name`.
    fn write_layer_name(&self, _view: &PacketView<'_>, _layer: usize, _out: &mut String) -> bool {
        false
    }

    /// For a protocol carried over a TCP byte stream (bound in `tcp.port` or
    /// a `tcp.port` heuristic): how long is the PDU that starts at `data[0]`?
    /// `data` is what the stream delivered from the PDU's first byte on,
    /// possibly spanning many segments. Returning anything but
    /// [`PduLen::NotMine`] turns on TCP desegmentation for the direction:
    /// `dissect` is then called at the segment that completes PDUs, with
    /// their bytes (see `crate::reassembled` and API-desegment.md). Must be
    /// cheap, never panic, and record nothing. Default: no framing.
    fn pdu_len(&self, _data: &[u8], _cx: &PduCx) -> PduLen {
        PduLen::NotMine
    }

    /// For a protocol carried in UDP datagrams that needs per-file state
    /// (QUIC connections): a fresh state for the stateful pass, which feeds
    /// it every UDP datagram in file order (see
    /// [`crate::reassembled::DatagramState`]). Default: stateless.
    fn datagram_state(&self) -> Option<Box<dyn DatagramState>> {
        None
    }
}

/// What `summary` can look at: the dissected packet with every field materialised.
pub struct PacketView<'a> {
    pub fields: &'a Fields,
    pub registry: &'a Registry,
    /// The captured frame (layers whose [`LayerRecord::source`] is
    /// [`Source::Frame`]; use [`PacketView::bytes`] for any layer).
    pub data: &'a [u8],
    /// What the stateful pass reassembled for this packet.
    pub reassembled: Reassembled<'a>,
    /// `-n`: numbers instead of service names.
    pub numeric: bool,
}

impl<'a> PacketView<'a> {
    /// First value of field `name` within layer `layer`.
    pub fn get(&self, layer: usize, name: &str) -> Option<Value<'_>> {
        let f = self.registry.field_by_name(name)?;
        let layer = u16::try_from(layer).ok()?;
        self.fields
            .layer_entries(layer)
            .find(|e| e.field == f)
            .map(|e| self.fields.value(e))
    }

    /// Name of the protocol at `layer`.
    pub fn proto_name(&self, layer: usize) -> Option<&str> {
        let rec = self.fields.layers().get(layer)?;
        Some(self.registry.protocol(rec.proto).name.as_str())
    }

    pub fn layer(&self, layer: usize) -> Option<&LayerRecord> {
        self.fields.layers().get(layer)
    }

    /// The bytes `layer`'s offsets refer to: the frame, or a reassembled
    /// datagram or PDU sequence.
    pub fn bytes(&self, layer: usize) -> &'a [u8] {
        match self.layer(layer).map(|l| l.source) {
            None | Some(Source::Frame) => self.data,
            Some(s) => self.reassembled.bytes(s),
        }
    }
}

/// Registration-time access to the registry, scoped to one protocol.
pub struct Registrar<'a> {
    pub(crate) registry: &'a mut Registry,
    pub(crate) proto: Option<ProtoId>,
    pub(crate) tables: &'a mut Vec<TableDecl>,
    pub(crate) bindings: &'a mut Vec<(TableId, u64)>,
    pub(crate) heuristics: &'a mut Vec<TableId>,
    /// The tables this dissector declared: the only ones it may hand off
    /// into (what a pruned walk's reachability is computed from).
    pub(crate) declared: &'a mut Vec<TableId>,
    /// Other protocols whose fields this dissector fills ([`Self::also_fills`]).
    pub(crate) also: &'a mut Vec<String>,
    pub(crate) origin: &'a str,
}

impl Registrar<'_> {
    /// Register this dissector's protocol. Call once, first.
    pub fn protocol(
        &mut self,
        name: &str,
        display: &str,
        summary_name: &str,
    ) -> Result<ProtoId, RegistryError> {
        if self.proto.is_some() {
            return Err(RegistryError::DuplicateProtocol(name.to_owned()));
        }
        let id = self.registry.add_protocol(ProtocolDef {
            name: name.to_owned(),
            display: display.to_owned(),
            summary_name: summary_name.to_owned(),
            origin: self.origin.to_owned(),
        })?;
        self.proto = Some(id);
        Ok(id)
    }

    /// Name the header field whose value this layer returns as
    /// [`Outcome::payload_len`] (`IPv4 total length`, `UDP length`): a layer
    /// above that is cut short by it says so in `pcapx show`.
    pub fn length_field(&mut self, name: &str) {
        if let Some(p) = self.proto {
            self.registry.set_length_name(p, name);
        }
    }

    /// Register a field of this protocol.
    pub fn field(&mut self, def: FieldDef) -> Result<FieldId, RegistryError> {
        let proto = self
            .proto
            .ok_or_else(|| RegistryError::BadName(def.name.clone()))?;
        self.registry.add_field(proto, def)
    }

    /// Register a protocol-specific anomaly (`dns.pointer-loop`), or reuse a
    /// generic one (`truncated`, `malformed`) by passing `generic = true`.
    pub fn anomaly(
        &mut self,
        name: &str,
        description: &str,
        generic: bool,
    ) -> Result<AnomalyId, RegistryError> {
        self.registry.add_anomaly(AnomalyDef {
            name: name.to_owned(),
            description: description.to_owned(),
            proto: if generic { None } else { self.proto },
        })
    }

    /// Declare a dispatch table this dissector hands off into (its own, like
    /// `tcp.port`, or a shared one, like `ethertype`) and get its id for
    /// [`Next::Table`]/[`Next::Ports`]. Declaring an existing table again
    /// returns the same id. A dissector hands off only into tables it
    /// declared: the engine relies on it to know which protocols can follow
    /// which ([`crate::Engine::new_fields_for`]).
    pub fn declare_table(&mut self, name: &str) -> TableId {
        let t = self.table_id(name);
        if let Some(decl) = self.tables.get_mut(t.0 as usize) {
            decl.declared = true;
        }
        if !self.declared.contains(&t) {
            self.declared.push(t);
        }
        t
    }

    /// This dissector also fills fields of protocol `name` in its own layer
    /// (QUIC decodes the TLS handshake its CRYPTO frames carry into
    /// `tls.handshake.*`). Every such protocol must be named: a job that
    /// reads only some protocols' fields skips the dissectors that fill
    /// none of them ([`crate::Engine::new_fields_for`]).
    pub fn also_fills(&mut self, name: &str) {
        if !self.also.iter().any(|n| n == name) {
            self.also.push(name.to_owned());
        }
    }

    /// A table by name, recorded (undeclared) on first mention.
    fn table_id(&mut self, name: &str) -> TableId {
        if let Some(i) = self.tables.iter().position(|t| t.name == name) {
            return TableId(u32::try_from(i).unwrap_or(u32::MAX));
        }
        self.tables.push(TableDecl {
            name: name.to_owned(),
            declared: false,
        });
        TableId(u32::try_from(self.tables.len() - 1).unwrap_or(u32::MAX))
    }

    /// Be called for `key` in `table`, e.g.
    /// `r.bind(tables::ETHERTYPE, EtherType::IPV4)` (see [`crate::keys`]).
    /// Some dissector must declare `table`, or building the engine fails.
    pub fn bind(&mut self, table: &str, key: impl Into<u64>) {
        let t = self.table_id(table);
        self.bindings.push((t, key.into()));
    }

    /// Be offered payloads of `table` that no binding claimed. Some dissector
    /// must declare `table`, or building the engine fails.
    pub fn heuristic(&mut self, table: &str) {
        let t = self.table_id(table);
        self.heuristics.push(t);
    }
}

/// A dispatch table as registration knows it.
#[derive(Clone, Debug)]
pub(crate) struct TableDecl {
    pub(crate) name: String,
    /// Some dissector declared it; only then may others bind into it.
    pub(crate) declared: bool,
}

/// Per-layer context handed to [`Dissector::dissect`].
pub struct Ctx<'a> {
    pub(crate) fields: &'a mut Fields,
    pub(crate) meta: &'a PacketMeta<'a>,
    pub(crate) registry: &'a Registry,
    pub(crate) prev: Option<ProtoId>,
    pub(crate) declared_len: Option<usize>,
    pub(crate) quoted: bool,
    pub(crate) offset: usize,
    /// Where this layer's bytes end in the frame, and the enclosing layer
    /// whose declared length set that end (`None`: the captured frame's end).
    pub(crate) end: usize,
    pub(crate) cut_by: Option<ProtoId>,
    pub(crate) truncated_id: AnomalyId,
    pub(crate) malformed_id: AnomalyId,
    /// The stateful pass's side input, and which parts were taken.
    pub(crate) side: &'a Reassembled<'a>,
    pub(crate) ip_taken: bool,
    pub(crate) tcp_taken: bool,
    pub(crate) datagram_taken: bool,
    /// The buffer this layer's bytes come from.
    pub(crate) source: Source,
    /// Set by [`Ctx::continue_in`]: the next layer's bytes.
    pub(crate) switch_to: Option<Source>,
    /// The (source, destination) ports the layer below handed off with
    /// ([`Next::Ports`]), for this layer.
    pub(crate) ports: Option<(u16, u16)>,
}

impl<'a> Ctx<'a> {
    /// Store a field value (ignored unless the job wants the field).
    #[inline(always)]
    pub fn add(&mut self, f: FieldId, v: Value<'_>) {
        self.fields.add(f, v);
    }

    /// Store a string built in place, only if wanted.
    #[inline]
    pub fn add_str_with(&mut self, f: FieldId, build: impl FnOnce(&mut Vec<u8>)) {
        self.fields.add_str_with(f, build);
    }

    /// Does the job want this field? Lets a dissector skip costly decoding.
    #[inline(always)]
    pub fn wants(&self, f: FieldId) -> bool {
        self.fields.wants(f)
    }

    /// Does the job want any field of `mask`? One test for a group of fields.
    #[inline(always)]
    pub fn wants_any(&self, mask: FieldMask) -> bool {
        self.fields.wants_any(mask)
    }

    /// The wanted members of `mask`'s group as bits of its word
    /// ([`Fields::wanted_bits`]).
    #[inline(always)]
    pub fn wanted_bits(&self, mask: FieldMask) -> Option<u64> {
        self.fields.wanted_bits(mask)
    }

    /// Record an anomaly on this layer.
    pub fn anomaly(&mut self, id: AnomalyId) {
        self.fields.anomaly(id);
    }

    /// The layer needed bytes that are not there. Counted as `truncated` when the
    /// frame was cut by the snaplen, `malformed` otherwise (a length field lies);
    /// nothing inside a quoted packet (an ICMP error's copy is short by design).
    /// The anomaly records where the layer's bytes end and what ended them:
    /// an enclosing layer's declared length, the snaplen, or the frame.
    pub fn short(&mut self) {
        if self.quoted {
            return;
        }
        let cut_by_capture = self.meta.caplen < self.meta.wirelen;
        let limit = match self.cut_by {
            Some(p) => Limit::Declared(p),
            None if cut_by_capture => Limit::Snaplen {
                caplen: self.meta.caplen,
            },
            None => Limit::FrameEnd,
        };
        let cut = Cut {
            at: u32::try_from(self.end).unwrap_or(u32::MAX),
            limit,
        };
        let id = if cut_by_capture {
            self.truncated_id
        } else {
            self.malformed_id
        };
        self.fields.anomaly_cut(id, cut);
    }

    /// Record `malformed` on this layer.
    pub fn malformed(&mut self) {
        self.fields.anomaly(self.malformed_id);
    }

    pub fn meta(&self) -> &PacketMeta<'a> {
        self.meta
    }

    /// The protocol of the layer below this one.
    pub fn prev_proto(&self) -> Option<ProtoId> {
        self.prev
    }

    /// Name of the protocol below (`"tcp"`), for dissectors that behave
    /// differently per carrier (DNS over TCP has a length prefix).
    /// The (source, destination) ports the transport layer below handed
    /// this layer off with (`None` when it was not a port hand-off).
    pub fn ports(&self) -> Option<(u16, u16)> {
        self.ports
    }

    pub fn prev_name(&self) -> Option<&str> {
        self.prev.map(|p| self.registry.protocol(p).name.as_str())
    }

    /// The payload length the layer below declared for us (may exceed the
    /// captured bytes when the frame was cut).
    pub fn declared_len(&self) -> Option<usize> {
        self.declared_len
    }

    /// Should checksums be verified? (Off when the job reads no anomaly.)
    #[inline]
    pub fn verifies(&self) -> bool {
        self.fields.verifies()
    }

    /// Is this layer inside a quoted packet (the copy inside an ICMP error)?
    pub fn quoted(&self) -> bool {
        self.quoted
    }

    /// Everything after this layer is a quoted copy of another packet.
    pub fn set_quoted(&mut self) {
        self.quoted = true;
    }

    /// Byte offset of this layer within its buffer ([`Ctx::source`]).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Where this layer's bytes come from: the frame, or bytes reassembled
    /// by the stateful pass.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The packet's side input (all of it; see [`Ctx::take_ip_defrag`]).
    pub fn reassembled(&self) -> &Reassembled<'a> {
        self.side
    }

    /// IP defragmentation's decision for this packet's outermost IP layer,
    /// once: the first fragment layer of the packet (from the frame) takes
    /// it, any later one (a tunnelled or quoted IP) sees [`IpDefrag::AsIs`].
    pub fn take_ip_defrag(&mut self) -> IpDefrag<'a> {
        if self.ip_taken || self.quoted || self.source != Source::Frame {
            return IpDefrag::AsIs;
        }
        self.ip_taken = true;
        self.side.ip
    }

    /// TCP desegmentation's decision for this packet's TCP payload, once:
    /// the first unquoted TCP layer takes it.
    pub fn take_tcp_deseg(&mut self) -> TcpDeseg<'a> {
        if self.tcp_taken || self.quoted || self.source == Source::Tcp {
            return TcpDeseg::AsIs;
        }
        self.tcp_taken = true;
        self.side.tcp
    }

    /// What `proto`'s [`DatagramState`] wrote for this datagram in the
    /// stateful pass, once: the first unquoted layer of `proto` takes it.
    /// `None` without a stateful pass (or when the state wrote nothing).
    pub fn take_datagram_state(&mut self, proto: ProtoId) -> Option<&'a [u8]> {
        if self.datagram_taken || self.quoted {
            return None;
        }
        match self.side.datagram {
            Some((p, b)) if p == proto => {
                self.datagram_taken = true;
                Some(b)
            }
            _ => None,
        }
    }

    /// The next layer's bytes are the reassembled buffer `source` (whole),
    /// not the rest of this one. Returns false (and changes nothing) when
    /// the packet has no such buffer.
    pub fn continue_in(&mut self, source: Source) -> bool {
        if source == Source::Frame || self.side.bytes(source).is_empty() {
            return false;
        }
        self.switch_to = Some(source);
        true
    }
}
