//! The [`Engine`]: frozen registry + dissectors + dispatch tables, and the loop
//! that decodes one packet layer by layer.

use crate::dissector::{Ctx, Dissector, Next, PacketView, Registrar, TableId};
use crate::fields::{FieldMask, Fields, LayerRecord, Wanted};
use crate::registry::{
    AnomalyDef, AnomalyId, FieldDef, FieldId, ProtoId, ProtocolDef, Registry, RegistryError,
};
use crate::value::{FieldType, Value};

/// Most layers one packet may have; a dissector chain that goes deeper (a
/// plugin that hands off to itself, a pathological tunnel) stops with an anomaly.
pub const MAX_LAYERS: usize = 48;

/// Per-record facts from the capture reader.
#[derive(Copy, Clone, Debug, Default)]
pub struct PacketMeta<'a> {
    /// 1-based frame number, as Wireshark counts.
    pub number: u64,
    /// Nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// Captured length (bytes present).
    pub caplen: u32,
    /// Original length on the wire.
    pub wirelen: u32,
    /// LINKTYPE_* of the record's interface.
    pub linktype: u32,
    /// pcapng interface id (0 for pcap).
    pub interface: u32,
    /// pcapng packet comment, if any.
    pub comment: Option<&'a str>,
}

/// Field ids of the pseudo-protocols the engine itself fills in.
#[derive(Copy, Clone, Debug)]
pub struct FrameFields {
    pub proto: ProtoId,
    pub number: FieldId,
    pub time_epoch: FieldId,
    pub len: FieldId,
    pub cap_len: FieldId,
    pub truncated: FieldId,
    pub interface_id: FieldId,
    pub linktype: FieldId,
    pub comment: FieldId,
    pub protocols: FieldId,
    pub data_proto: ProtoId,
    pub data: FieldId,
    pub data_len: FieldId,
    pub padding_proto: ProtoId,
    pub padding: FieldId,
    pub padding_len: FieldId,
}

/// Ids of the generic anomalies every dissector may raise.
#[derive(Copy, Clone, Debug)]
pub struct CoreAnomalies {
    pub truncated: AnomalyId,
    pub malformed: AnomalyId,
    pub unknown_linktype: AnomalyId,
    pub unknown_next: AnomalyId,
    pub too_deep: AnomalyId,
    pub bad_checksum: AnomalyId,
    pub plugin_failed: AnomalyId,
}

#[derive(Clone, Debug, Default)]
struct Table {
    name: String,
    /// (key, dissector index), sorted by key.
    bound: Vec<(u64, usize)>,
    /// Direct index for the keys below [`DENSE_KEYS`] (ports, EtherTypes,
    /// IP protocol numbers, link types): dissector index + 1, 0 when unbound.
    /// As long as the largest such bound key + 1; zero-filled, so pages never
    /// read are never touched.
    dense: Vec<u16>,
    heuristics: Vec<usize>,
}

/// Keys below this are looked up in [`Table::dense`], larger ones by binary
/// search in [`Table::bound`].
const DENSE_KEYS: u64 = 1 << 16;

/// Collects dissectors; [`EngineBuilder::build`] freezes everything.
pub struct EngineBuilder {
    registry: Registry,
    dissectors: Vec<Box<dyn Dissector>>,
    protos: Vec<ProtoId>,
    tables: Vec<String>,
    bindings: Vec<(TableId, u64, usize)>,
    heuristics: Vec<(TableId, usize)>,
    frame: FrameFields,
    anomalies: CoreAnomalies,
}

fn pseudo(
    reg: &mut Registry,
    name: &str,
    display: &str,
    summary: &str,
) -> Result<ProtoId, RegistryError> {
    reg.add_protocol(ProtocolDef {
        name: name.into(),
        display: display.into(),
        summary_name: summary.into(),
        origin: "built-in".into(),
    })
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EngineBuilder {
    pub fn new() -> EngineBuilder {
        Self::try_new()
            .unwrap_or_else(|e| unreachable!("core registrations are static and valid: {e}"))
    }

    fn try_new() -> Result<EngineBuilder, RegistryError> {
        let mut r = Registry::default();
        let frame = pseudo(&mut r, "frame", "Frame", "Frame")?;
        let f = |r: &mut Registry, d: FieldDef| r.add_field(frame, d);
        let number = f(
            &mut r,
            FieldDef::new(
                "frame.number",
                "Frame Number",
                FieldType::U64,
                "1-based number of the record in the capture file",
            )
            .alias("no"),
        )?;
        let time_epoch = f(
            &mut r,
            FieldDef::new(
                "frame.time_epoch",
                "Epoch Arrival Time",
                FieldType::Time,
                "Capture time, nanoseconds since 1970-01-01 UTC",
            )
            .alias("time"),
        )?;
        let len = f(
            &mut r,
            FieldDef::new(
                "frame.len",
                "Frame Length",
                FieldType::U32,
                "Length of the frame on the wire (original length)",
            )
            .alias("wirelen"),
        )?;
        let cap_len = f(
            &mut r,
            FieldDef::new(
                "frame.cap_len",
                "Capture Length",
                FieldType::U32,
                "Bytes of the frame present in the file",
            )
            .alias("caplen"),
        )?;
        let truncated = f(
            &mut r,
            FieldDef::new(
                "frame.truncated",
                "Truncated",
                FieldType::Bool,
                "pcapx: the capture length is less than the frame length (cut by the snaplen)",
            ),
        )?;
        let interface_id = f(
            &mut r,
            FieldDef::new(
                "frame.interface_id",
                "Interface Id",
                FieldType::U32,
                "pcapng interface the frame was captured on (0 for pcap)",
            ),
        )?;
        let linktype = f(
            &mut r,
            FieldDef::new(
                "frame.linktype",
                "Link Type",
                FieldType::U32,
                "pcapx: LINKTYPE_* value of the frame's interface",
            ),
        )?;
        let comment = f(
            &mut r,
            FieldDef::new(
                "frame.comment",
                "Comment",
                FieldType::Str,
                "pcapng packet comment",
            ),
        )?;
        let protocols = f(
            &mut r,
            FieldDef::new(
                "frame.protocols",
                "Protocols in frame",
                FieldType::Str,
                "The layers, outermost first, joined by ':'",
            ),
        )?;
        let data_proto = pseudo(&mut r, "data", "Data", "Raw")?;
        let data = r.add_field(
            data_proto,
            FieldDef::new(
                "data.data",
                "Data",
                FieldType::Bytes,
                "Payload bytes no dissector claimed",
            ),
        )?;
        let data_len = r.add_field(
            data_proto,
            FieldDef::new(
                "data.len",
                "Length",
                FieldType::U32,
                "Length of the undissected payload",
            ),
        )?;
        let padding_proto = pseudo(&mut r, "padding", "Padding", "Padding")?;
        let padding = r.add_field(
            padding_proto,
            FieldDef::new(
                "padding.data",
                "Padding",
                FieldType::Bytes,
                "Bytes after the end of the network-layer datagram (Ethernet padding, trailers)",
            ),
        )?;
        let padding_len = r.add_field(
            padding_proto,
            FieldDef::new(
                "padding.len",
                "Padding Length",
                FieldType::U32,
                "Number of padding/trailer bytes",
            ),
        )?;
        let mut a = |name: &str, d: &str| {
            r.add_anomaly(AnomalyDef {
                name: name.into(),
                description: d.into(),
                proto: None,
            })
        };
        let anomalies = CoreAnomalies {
            truncated: a("truncated", "a layer is cut short by the capture's snaplen")?,
            malformed: a(
                "malformed",
                "a length or offset field points past the data it describes, or a header is invalid",
            )?,
            unknown_linktype: a(
                "unknown-linktype",
                "the record's link type has no dissector; the frame is kept as raw data",
            )?,
            unknown_next: a(
                "unknown-next",
                "a layer names a next protocol that has no dissector; kept as raw data",
            )?,
            too_deep: a(
                "too-deep",
                "the packet has more layers than pcapx follows (48)",
            )?,
            bad_checksum: a("bad-checksum", "a header checksum does not verify")?,
            plugin_failed: a(
                "plugin-failed",
                "a plugin dissector failed (panicked or returned invalid results) on this packet",
            )?,
        };
        Ok(EngineBuilder {
            registry: r,
            dissectors: Vec::new(),
            protos: Vec::new(),
            tables: Vec::new(),
            bindings: Vec::new(),
            heuristics: Vec::new(),
            frame: FrameFields {
                proto: frame,
                number,
                time_epoch,
                len,
                cap_len,
                truncated,
                interface_id,
                linktype,
                comment,
                protocols,
                data_proto,
                data,
                data_len,
                padding_proto,
                padding,
                padding_len,
            },
            anomalies,
        })
    }

    /// Register one dissector (built-in or plugin: the same path). `origin` is
    /// `built-in` or the plugin's name, shown by `pcapx fields`/`plugins`.
    pub fn add(
        &mut self,
        mut d: Box<dyn Dissector>,
        origin: &str,
    ) -> Result<ProtoId, RegistryError> {
        let mut bindings = Vec::new();
        let mut heur = Vec::new();
        let proto = {
            let mut r = Registrar {
                registry: &mut self.registry,
                proto: None,
                tables: &mut self.tables,
                bindings: &mut bindings,
                heuristics: &mut heur,
                origin,
            };
            d.register(&mut r)?;
            r.proto.ok_or_else(|| {
                RegistryError::BadName(format!("<{origin}: no protocol registered>"))
            })?
        };
        let idx = self.dissectors.len();
        self.bindings
            .extend(bindings.into_iter().map(|(t, k)| (t, k, idx)));
        self.heuristics.extend(heur.into_iter().map(|t| (t, idx)));
        self.dissectors.push(d);
        self.protos.push(proto);
        Ok(proto)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Freeze: after this the registry and tables never change.
    pub fn build(self) -> Engine {
        let mut tables: Vec<Table> = self
            .tables
            .iter()
            .map(|n| Table {
                name: n.clone(),
                ..Table::default()
            })
            .collect();
        for (t, k, d) in self.bindings {
            let tab = &mut tables[t.0 as usize];
            // First binding wins (built-ins are added before plugins).
            if !tab.bound.iter().any(|&(kk, _)| kk == k) {
                tab.bound.push((k, d));
            }
        }
        for t in &mut tables {
            t.bound.sort_unstable_by_key(|&(k, _)| k);
            let small = t.bound.iter().filter(|&&(k, _)| k < DENSE_KEYS);
            if let Some(top) = small.clone().map(|&(k, _)| k).max() {
                let mut dense = vec![0u16; usize::try_from(top).unwrap_or(0) + 1];
                for &(k, d) in small {
                    if let (Ok(k), Ok(d1)) = (usize::try_from(k), u16::try_from(d + 1))
                        && let Some(slot) = dense.get_mut(k)
                    {
                        *slot = d1;
                    }
                }
                // Only trusted if every small key made it in (fewer than
                // 65535 dissectors); otherwise binary search everything.
                if dense.iter().filter(|&&d| d != 0).count()
                    == t.bound.iter().filter(|&&(k, _)| k < DENSE_KEYS).count()
                {
                    t.dense = dense;
                }
            }
        }
        for (t, d) in self.heuristics {
            tables[t.0 as usize].heuristics.push(d);
        }
        let mut by_proto = vec![usize::MAX; self.registry.protocols().len()];
        for (i, p) in self.protos.iter().enumerate() {
            by_proto[p.index()] = i;
        }
        let linktype = tables.iter().position(|t| t.name == "linktype");
        let f = &self.frame;
        let frame_ids = [
            f.number,
            f.time_epoch,
            f.len,
            f.cap_len,
            f.truncated,
            f.interface_id,
            f.linktype,
            f.comment,
        ];
        let frame_mask = FieldMask::of(&frame_ids);
        Engine {
            frame_mask,
            registry: self.registry,
            dissectors: self.dissectors,
            protos: self.protos,
            by_proto,
            tables,
            linktype,
            frame: self.frame,
            anomalies: self.anomalies,
        }
    }
}

/// The frozen dissection engine, shared read-only by every worker.
pub struct Engine {
    registry: Registry,
    dissectors: Vec<Box<dyn Dissector>>,
    protos: Vec<ProtoId>,
    by_proto: Vec<usize>,
    tables: Vec<Table>,
    linktype: Option<usize>,
    frame: FrameFields,
    /// The per-record frame fields: one test skips them all.
    frame_mask: FieldMask,
    anomalies: CoreAnomalies,
}

impl Engine {
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
    pub fn frame_fields(&self) -> &FrameFields {
        &self.frame
    }
    pub fn core_anomalies(&self) -> &CoreAnomalies {
        &self.anomalies
    }

    /// A fresh per-worker sink.
    pub fn new_fields(&self, wanted: Wanted) -> Fields {
        Fields::new(self.registry.field_count(), wanted)
    }

    /// The dissector that owns `proto`, if it is not a pseudo-protocol.
    pub fn dissector(&self, proto: ProtoId) -> Option<&dyn Dissector> {
        let i = *self.by_proto.get(proto.index())?;
        self.dissectors.get(i).map(|d| d.as_ref())
    }

    /// Does any dissector handle this link type?
    pub fn knows_linktype(&self, linktype: u32) -> bool {
        self.linktype.is_some_and(|t| {
            self.tables[t]
                .bound
                .binary_search_by_key(&u64::from(linktype), |&(k, _)| k)
                .is_ok()
        })
    }

    /// Names of the dispatch tables and what is bound in each: `(table, key, protocol)`.
    pub fn bindings(&self) -> Vec<(&str, u64, &str)> {
        let mut v = Vec::new();
        for t in &self.tables {
            for &(k, d) in &t.bound {
                v.push((
                    t.name.as_str(),
                    k,
                    self.registry.protocol(self.protos[d]).name.as_str(),
                ));
            }
            for &d in &t.heuristics {
                v.push((
                    t.name.as_str(),
                    u64::MAX,
                    self.registry.protocol(self.protos[d]).name.as_str(),
                ));
            }
        }
        v
    }

    #[inline]
    fn lookup(&self, t: usize, key: u64) -> Option<usize> {
        let tab = self.tables.get(t)?;
        if !tab.dense.is_empty() && key < DENSE_KEYS {
            let d = usize::try_from(key).ok().and_then(|k| tab.dense.get(k))?;
            return usize::from(*d).checked_sub(1);
        }
        tab.bound
            .binary_search_by_key(&key, |&(k, _)| k)
            .ok()
            .map(|i| tab.bound[i].1)
    }

    fn heuristic(&self, t: usize, data: &[u8], cx: &Ctx<'_>) -> Option<usize> {
        let tab = self.tables.get(t)?;
        tab.heuristics
            .iter()
            .copied()
            .find(|&d| self.dissectors[d].accepts(data, cx))
    }

    /// Decode one packet into `out` (which is cleared first).
    pub fn dissect(&self, meta: &PacketMeta<'_>, data: &[u8], out: &mut Fields) {
        out.clear();
        let ff = &self.frame;
        out.push_layer(LayerRecord {
            proto: ff.proto,
            offset: 0,
            header_len: 0,
            quoted: false,
        });
        if out.wants_any(self.frame_mask) {
            out.add(ff.number, Value::U64(meta.number));
            out.add(ff.time_epoch, Value::Time(meta.ts_ns));
            out.add(ff.len, Value::U64(u64::from(meta.wirelen)));
            out.add(ff.cap_len, Value::U64(u64::from(meta.caplen)));
            out.add(ff.truncated, Value::Bool(meta.caplen < meta.wirelen));
            out.add(ff.interface_id, Value::U64(u64::from(meta.interface)));
            out.add(ff.linktype, Value::U64(u64::from(meta.linktype)));
            if let Some(c) = meta.comment {
                out.add(ff.comment, Value::Str(c));
            }
        }

        let mut start = 0usize;
        let mut end = data.len();
        // The link-layer dissector, looked up once: the first turn of the loop
        // takes it instead of looking it up again.
        let mut link = self
            .linktype
            .and_then(|t| self.lookup(t, u64::from(meta.linktype)));
        if link.is_none() {
            out.anomaly_at_frame(self.anomalies.unknown_linktype);
        }
        let mut next = Next::End;
        let mut padding: Option<(usize, usize)> = None;
        let mut depth = 0usize;
        // One context for the whole packet: the loop updates the few things
        // that change per layer (offset, protocol below, declared length).
        let mut cx = Ctx {
            fields: out,
            meta,
            registry: &self.registry,
            prev: None,
            declared_len: None,
            quoted: false,
            offset: 0,
            truncated_id: self.anomalies.truncated,
            malformed_id: self.anomalies.malformed,
        };

        loop {
            let slice = data.get(start..end).unwrap_or(&[]);
            let probe = |cx: &Ctx<'_>| ProbeState {
                number: meta.number,
                prev: cx.prev,
                declared: cx.declared_len,
                quoted: cx.quoted,
                offset: start,
            };
            let chosen = match next {
                Next::End => link.take(),
                Next::Table(t, key) => {
                    let t = t.0 as usize;
                    let d = self
                        .lookup(t, key)
                        .or_else(|| self.heuristic_with(t, slice, probe(&cx)));
                    if d.is_none() && !slice.is_empty() && !cx.quoted {
                        cx.fields.anomaly(self.anomalies.unknown_next);
                    }
                    d
                }
                Next::Ports(t, a, b) => {
                    let t = t.0 as usize;
                    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                    self.lookup(t, u64::from(lo))
                        .or_else(|| self.lookup(t, u64::from(hi)))
                        .or_else(|| self.heuristic_with(t, slice, probe(&cx)))
                }
            };
            let Some(di) = chosen else { break };
            if depth >= MAX_LAYERS {
                cx.fields.anomaly(self.anomalies.too_deep);
                break;
            }
            depth += 1;
            let proto = self.protos[di];
            let layer = cx.fields.push_layer(LayerRecord {
                proto,
                offset: u32::try_from(start).unwrap_or(u32::MAX),
                header_len: 0,
                quoted: cx.quoted,
            });
            cx.offset = start;
            let outcome = self.dissectors[di].dissect(slice, &mut cx);
            let hl = outcome.header_len.min(slice.len());
            cx.fields
                .set_header_len(layer, u32::try_from(hl).unwrap_or(u32::MAX));
            let pstart = start + hl;
            let mut pend = end;
            if let Some(p) = outcome.payload_len {
                let declared_end = pstart.saturating_add(p);
                if declared_end < end {
                    if padding.is_none() && !cx.quoted {
                        padding = Some((declared_end, end));
                    }
                    pend = declared_end;
                }
            }
            cx.declared_len = outcome.payload_len;
            cx.prev = Some(proto);
            start = pstart;
            end = pend;
            next = outcome.next;
            if matches!(next, Next::End) {
                break;
            }
        }
        let quoted = cx.quoted;

        if start < end {
            let rest = &data[start..end];
            out.push_layer(LayerRecord {
                proto: ff.data_proto,
                offset: u32::try_from(start).unwrap_or(u32::MAX),
                header_len: u32::try_from(rest.len()).unwrap_or(u32::MAX),
                quoted,
            });
            out.add(ff.data, Value::Bytes(rest));
            out.add(ff.data_len, Value::U64(rest.len() as u64));
        }
        if let Some((ps, pe)) = padding
            && let Some(pad) = data.get(ps..pe)
        {
            {
                out.push_layer(LayerRecord {
                    proto: ff.padding_proto,
                    offset: u32::try_from(ps).unwrap_or(u32::MAX),
                    header_len: u32::try_from(pad.len()).unwrap_or(u32::MAX),
                    quoted: false,
                });
                out.add(ff.padding, Value::Bytes(pad));
                out.add(ff.padding_len, Value::U64(pad.len() as u64));
            }
        }
        if out.wants(ff.protocols) {
            let reg = &self.registry;
            let layers: Vec<ProtoId> = out.layers().iter().skip(1).map(|l| l.proto).collect();
            out.add_str_with(ff.protocols, |b| {
                for (i, p) in layers.iter().enumerate() {
                    if i > 0 {
                        b.push(b':');
                    }
                    b.extend_from_slice(reg.protocol(*p).name.as_bytes());
                }
            });
        }
    }

    // A heuristic probe only reads; it gets a context over a scratch sink so that
    // `accepts` cannot record anything.
    fn heuristic_with(&self, t: usize, slice: &[u8], p: ProbeState) -> Option<usize> {
        if self
            .tables
            .get(t)
            .is_none_or(|tab| tab.heuristics.is_empty())
        {
            return None;
        }
        let mut scratch = Fields::new(0, Wanted::none(0));
        let meta = PacketMeta {
            number: p.number,
            ..PacketMeta::default()
        };
        let cx = Ctx {
            fields: &mut scratch,
            meta: &meta,
            registry: &self.registry,
            prev: p.prev,
            declared_len: p.declared,
            quoted: p.quoted,
            offset: p.offset,
            truncated_id: self.anomalies.truncated,
            malformed_id: self.anomalies.malformed,
        };
        self.heuristic(t, slice, &cx)
    }

    /// Scapy-style one-line summary of a dissected packet (`fields` must have
    /// been filled with [`Wanted::All`]).
    pub fn summary_line(&self, fields: &Fields, data: &[u8], numeric: bool) -> String {
        let view = PacketView {
            fields,
            registry: &self.registry,
            data,
            numeric,
        };
        let layers = fields.layers();
        let mut parts: Vec<String> = Vec::with_capacity(layers.len());
        let mut found = false;
        for i in (1..layers.len()).rev() {
            let proto = layers[i].proto;
            let mut s = String::new();
            let mut own = false;
            let d = self.dissector(proto);
            if let (false, Some(d)) = (found, d) {
                own = d.summary(&view, i, &mut s);
            }
            if own {
                found = true;
            } else {
                s.clear();
                match d.and_then(|d| d.layer_name(&view, i)) {
                    Some(name) => s.push_str(name),
                    None => s.push_str(&self.registry.protocol(proto).summary_name),
                }
            }
            // Layers with an empty summary name (raw IP's pseudo link layer) are
            // not shown, as in Scapy.
            if !s.is_empty() {
                parts.push(s);
            }
        }
        parts.reverse();
        parts.join(" / ")
    }
}

#[derive(Copy, Clone)]
struct ProbeState {
    number: u64,
    prev: Option<ProtoId>,
    declared: Option<usize>,
    quoted: bool,
    offset: usize,
}
