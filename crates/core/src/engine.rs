//! The [`Engine`]: frozen registry + dissectors + dispatch tables, and the loop
//! that decodes one packet layer by layer.

use crate::dissector::{Ctx, Dissector, Next, Outcome, PacketView, Registrar, TableDecl, TableId};
use crate::fields::{FieldMask, Fields, LayerRecord, Wanted};
use crate::keys::tables;
use crate::reassembled::{PduCx, PduLen, Reassembled, Source};
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

/// A dissector that frames a byte stream's PDUs ([`Engine::stream_framer`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Framer(usize);

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
    pub anomaly: FieldId,
    pub malformed: FieldId,
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

/// Why [`EngineBuilder::build`] refused to freeze the engine.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    /// A dissector binds (or offers a heuristic) into a table that no
    /// dissector declares: most likely a misspelt table name.
    #[error(
        "dissector '{protocol}' ({origin}) {}dispatch table '{table}', which no dissector declares",
        if *.heuristic { "offers a heuristic in " } else { "binds into " }
    )]
    UndeclaredTable {
        table: String,
        /// The binding dissector's protocol name.
        protocol: String,
        /// `built-in` or the plugin's name.
        origin: String,
        heuristic: bool,
    },
}

impl BuildError {
    /// `built-in` or the name of the plugin whose dissector is at fault.
    pub fn origin(&self) -> &str {
        match self {
            BuildError::UndeclaredTable { origin, .. } => origin,
        }
    }
}

/// Collects dissectors; [`EngineBuilder::build`] freezes everything.
pub struct EngineBuilder {
    registry: Registry,
    dissectors: Vec<Box<dyn Dissector>>,
    protos: Vec<ProtoId>,
    tables: Vec<TableDecl>,
    bindings: Vec<(TableId, u64, usize)>,
    heuristics: Vec<(TableId, usize)>,
    /// Per dissector, the tables it declared (the only ones it hands off into).
    handoffs: Vec<Vec<TableId>>,
    /// Per dissector, the other protocols whose fields it fills.
    also: Vec<Vec<String>>,
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
        let anomaly = f(
            &mut r,
            FieldDef::new(
                "frame.anomaly",
                "Anomalies",
                FieldType::Str,
                "pcapx: the name of each anomaly found in the packet (truncated, malformed, \
                 plugin-failed, dns.pointer-loop, …), once per kind, in the order found",
            )
            .alias("anomaly"),
        )?;
        let malformed = f(
            &mut r,
            FieldDef::new(
                "frame.malformed",
                "Malformed",
                FieldType::Bool,
                "pcapx: present (1) when a layer of the packet is malformed: a length or offset \
                 points past its data, or a header is invalid (tshark's _ws.malformed)",
            ),
        )?;
        // Declared only: the engine dissects one record and knows no file;
        // the reader (pcapx-facade) adds it to table rows when asked, from
        // the input each batch came from.
        f(
            &mut r,
            FieldDef::new(
                "frame.file",
                "File",
                FieldType::Str,
                "pcapx: the capture file the frame was read from (the path as given on the command \
                 line, or as a directory or glob expanded to); Wireshark has no such field",
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
            // The engine itself hands each record to this table.
            tables: vec![TableDecl {
                name: tables::LINKTYPE.to_owned(),
                declared: true,
            }],
            bindings: Vec::new(),
            heuristics: Vec::new(),
            handoffs: Vec::new(),
            also: Vec::new(),
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
                anomaly,
                malformed,
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
        let mut declared = Vec::new();
        let mut also = Vec::new();
        let proto = {
            let mut r = Registrar {
                registry: &mut self.registry,
                proto: None,
                tables: &mut self.tables,
                bindings: &mut bindings,
                heuristics: &mut heur,
                declared: &mut declared,
                also: &mut also,
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
        self.handoffs.push(declared);
        self.also.push(also);
        self.dissectors.push(d);
        self.protos.push(proto);
        Ok(proto)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Is every binding and heuristic aimed at a declared table? The first
    /// one that is not names the table and the dissector. [`Self::build`]
    /// runs this; a plugin loader may run it first to blame the plugin.
    pub fn check(&self) -> Result<(), BuildError> {
        let bound = self.bindings.iter().map(|&(t, _, d)| (t, d, false));
        let heur = self.heuristics.iter().map(|&(t, d)| (t, d, true));
        for (t, d, heuristic) in bound.chain(heur) {
            let decl = &self.tables[t.0 as usize];
            if !decl.declared {
                let p = self.registry.protocol(self.protos[d]);
                return Err(BuildError::UndeclaredTable {
                    table: decl.name.clone(),
                    protocol: p.name.clone(),
                    origin: p.origin.clone(),
                    heuristic,
                });
            }
        }
        Ok(())
    }

    /// Freeze: after this the registry and tables never change. Fails if a
    /// dissector binds into a table nobody declares ([`Self::check`]).
    pub fn build(self) -> Result<Engine, BuildError> {
        self.check()?;
        let mut tables: Vec<Table> = self
            .tables
            .iter()
            .map(|n| Table {
                name: n.name.clone(),
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
        let linktype = tables.iter().position(|t| t.name == tables::LINKTYPE);
        // Names of protocols registered by no dissector fill nothing.
        let also = self
            .also
            .iter()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| self.registry.proto_by_name(n))
                    .collect()
            })
            .collect();
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
        Ok(Engine {
            frame_mask,
            registry: self.registry,
            dissectors: self.dissectors,
            protos: self.protos,
            handoffs: self.handoffs,
            also,
            by_proto,
            tables,
            linktype,
            frame: self.frame,
            anomalies: self.anomalies,
        })
    }
}

/// The frozen dissection engine, shared read-only by every worker.
pub struct Engine {
    registry: Registry,
    dissectors: Vec<Box<dyn Dissector>>,
    protos: Vec<ProtoId>,
    /// Per dissector, the tables it may hand off into.
    handoffs: Vec<Vec<TableId>>,
    /// Per dissector, the other protocols whose fields it fills.
    also: Vec<Vec<ProtoId>>,
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

    /// A sink for a job that reads only the `wanted` fields and the layers of
    /// the protocols in `keep` (a table: its columns, the protocol a row
    /// requires, the protocols its transport columns follow). The walk then
    /// stops at a hand-off from which no dissector that can follow — through
    /// any chain of hand-offs — has a wanted field or is kept: the bytes
    /// stay one `data` layer instead of being probed by every heuristic and
    /// decoded into fields nobody reads (a header table skips the whole
    /// application layer). Every wanted value and every kept layer is the
    /// same as with [`Engine::new_fields`]; what differs is what the job does
    /// not read — layers past the stop and their anomalies. So a job that
    /// reads `frame.protocols`, `data`, `padding`, anomalies (wanted or
    /// tallied) must not use this; wanting one of those fields (or
    /// [`Wanted::All`]) turns the stopping off, and so does a loaded plugin.
    pub fn new_fields_for(&self, wanted: Wanted, keep: &[ProtoId]) -> Fields {
        let stops = self.walk_stops(&wanted, keep);
        let ff = &self.frame;
        // Anomalies reach such a sink only through these two fields; a
        // plugin's layers may read whatever was recorded before them.
        let verify =
            wanted.contains(ff.anomaly) || wanted.contains(ff.malformed) || self.has_plugins();
        let mut f = Fields::new(self.registry.field_count(), wanted);
        f.set_stop_tables(stops);
        f.set_verify(verify);
        f
    }

    /// Is any protocol registered by a plugin (not built in)?
    pub fn has_plugins(&self) -> bool {
        self.registry
            .protocols()
            .iter()
            .any(|p| p.origin != "built-in")
    }

    /// May a layer of protocol `layer` hold fields of protocol `owner`? Its
    /// own, the engine's `frame` fields (added after the walk), and those of
    /// the protocols its dissector declared with `Registrar::also_fills`.
    pub fn fills(&self, layer: ProtoId, owner: ProtoId) -> bool {
        layer == owner
            || owner == self.frame.proto
            || self
                .by_proto
                .get(layer.index())
                .and_then(|&d| self.also.get(d))
                .is_some_and(|a| a.contains(&owner))
    }

    /// Per table: may the walk stop before choosing from it? (Empty: never.)
    fn walk_stops(&self, wanted: &Wanted, keep: &[ProtoId]) -> Vec<bool> {
        let ff = &self.frame;
        let whole_walk = [
            ff.protocols,
            ff.anomaly,
            ff.malformed,
            ff.data,
            ff.data_len,
            ff.padding,
            ff.padding_len,
        ];
        if whole_walk.iter().any(|&f| wanted.contains(f)) {
            return Vec::new();
        }
        // A plugin runs on every packet it is bound to, whatever the job
        // reads: it was loaded to run (its failures are reported and
        // counted), and it is code this engine cannot vouch for.
        if self.has_plugins() {
            return Vec::new();
        }
        let mut needed = vec![false; self.registry.protocols().len()];
        for (i, def) in self.registry.fields().iter().enumerate() {
            let id = FieldId(u32::try_from(i).unwrap_or(u32::MAX));
            if wanted.contains(id)
                && let Some(n) = needed.get_mut(def.proto.index())
            {
                *n = true;
            }
        }
        for p in keep {
            if let Some(n) = needed.get_mut(p.index()) {
                *n = true;
            }
        }
        // A table is reached when one of its dissectors is needed or hands
        // off into a reached table: grow the set until it stops changing
        // (at most one pass per table).
        let mut reached = vec![false; self.tables.len()];
        loop {
            let mut changed = false;
            for (t, tab) in self.tables.iter().enumerate() {
                if reached[t] {
                    continue;
                }
                let mut members = tab
                    .bound
                    .iter()
                    .map(|&(_, d)| d)
                    .chain(tab.heuristics.iter().copied());
                if members.any(|d| {
                    needed[self.protos[d].index()]
                        || self.also[d].iter().any(|p| needed[p.index()])
                        || self.handoffs[d]
                            .iter()
                            .any(|u| reached.get(u.0 as usize).copied().unwrap_or(true))
                }) {
                    reached[t] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        reached.iter().map(|r| !r).collect()
    }

    /// The dissector that owns `proto`, if it is not a pseudo-protocol.
    pub fn dissector(&self, proto: ProtoId) -> Option<&dyn Dissector> {
        let i = *self.by_proto.get(proto.index())?;
        self.dissectors.get(i).map(|d| d.as_ref())
    }

    /// A dispatch table by name (`tcp.port`), for the stateful pass.
    pub fn table(&self, name: &str) -> Option<TableId> {
        let i = self.tables.iter().position(|t| t.name == name)?;
        u32::try_from(i).ok().map(TableId)
    }

    /// The dissector that frames the PDUs of a byte stream carried with
    /// ports `a` and `b` in `table` (TCP desegmentation): the lower port's
    /// binding, else the higher port's — the same choice as the walk's
    /// [`Next::Ports`] — else the first of the table's heuristics that
    /// frames `data`. `None` when the chosen dissector does not frame
    /// `data` ([`Dissector::pdu_len`] says [`PduLen::NotMine`]).
    pub fn stream_framer(
        &self,
        table: TableId,
        a: u16,
        b: u16,
        data: &[u8],
        cx: &PduCx,
    ) -> Option<Framer> {
        let t = table.0 as usize;
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let frames = |d: usize| self.dissectors[d].pdu_len(data, cx) != PduLen::NotMine;
        if let Some(d) = self
            .lookup(t, u64::from(lo))
            .or_else(|| self.lookup(t, u64::from(hi)))
        {
            return frames(d).then_some(Framer(d));
        }
        let tab = self.tables.get(t)?;
        tab.heuristics
            .iter()
            .copied()
            .find(|&d| frames(d))
            .map(Framer)
    }

    /// A fresh [`crate::reassembled::DatagramState`] of every dissector
    /// that keeps state across UDP datagrams, with its protocol, in
    /// registration order (for the stateful pass).
    pub fn datagram_states(&self) -> Vec<(ProtoId, Box<dyn crate::reassembled::DatagramState>)> {
        self.dissectors
            .iter()
            .zip(&self.protos)
            .filter_map(|(d, &p)| d.datagram_state().map(|s| (p, s)))
            .collect()
    }

    /// [`Dissector::pdu_len`] of a framer found by [`Engine::stream_framer`].
    pub fn pdu_len(&self, f: Framer, data: &[u8], cx: &PduCx) -> PduLen {
        match self.dissectors.get(f.0) {
            Some(d) => d.pdu_len(data, cx),
            None => PduLen::NotMine,
        }
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

    /// The first heuristic of table `t` that accepts `data`. A probe only
    /// reads: `accepts` gets the walk's context by shared reference, so it
    /// cannot record anything (and no scratch sink is built per probe).
    fn heuristic(&self, t: usize, data: &[u8], cx: &Ctx<'_>, skip: &[usize]) -> Option<usize> {
        let tab = self.tables.get(t)?;
        tab.heuristics
            .iter()
            .copied()
            .find(|&d| !skip.contains(&d) && self.dissectors[d].accepts(data, cx))
    }

    /// Decode one packet into `out` (which is cleared first).
    ///
    /// The steps, in order: the `frame` pseudo-layer; the walk down the
    /// dissector chain from the link type ([`Engine::walk_layers`]); what no
    /// dissector claimed becomes a `data` layer, bytes past the first declared
    /// length a `padding` layer; last, `frame.protocols` names the layers.
    pub fn dissect(&self, meta: &PacketMeta<'_>, data: &[u8], out: &mut Fields) {
        self.dissect_with(meta, data, &Reassembled::default(), out);
    }

    /// [`Engine::dissect`] with the stateful pass's side input for this
    /// packet: layers that take it (IP fragments, TCP with a framing
    /// application dissector) continue the walk in the reassembled bytes.
    pub fn dissect_with(
        &self,
        meta: &PacketMeta<'_>,
        data: &[u8],
        side: &Reassembled<'_>,
        out: &mut Fields,
    ) {
        out.clear();
        self.frame_layer(meta, out);
        let end = self.walk_layers(meta, data, side, out);
        let buf = match end.source {
            Source::Frame => data,
            s => side.bytes(s),
        };
        self.data_layer(buf, &end, out);
        self.padding_layer(data, end.padding, out);
        self.protocols_field(out);
        self.anomaly_fields(out);
    }

    /// `frame.anomaly` (each kind found, once, in the order found) and
    /// `frame.malformed`, from the anomalies the walk recorded.
    #[inline]
    fn anomaly_fields(&self, out: &mut Fields) {
        let ff = &self.frame;
        if out.wants(ff.anomaly) {
            let n = out.anomalies().len();
            for i in 0..n {
                let id = out.anomalies()[i].id;
                if out.anomalies()[..i].iter().any(|h| h.id == id) {
                    continue;
                }
                out.add(ff.anomaly, Value::Str(&self.registry.anomaly(id).name));
            }
        }
        // Present only on malformed packets, like tshark's `_ws.malformed`.
        if out.wants(ff.malformed) {
            let m = self.anomalies.malformed;
            if out.anomalies().iter().any(|h| h.id == m) {
                out.add(ff.malformed, Value::Bool(true));
            }
        }
    }

    /// Layer 0: the `frame` pseudo-protocol and the record's own facts.
    #[inline]
    fn frame_layer(&self, meta: &PacketMeta<'_>, out: &mut Fields) {
        let ff = &self.frame;
        out.push_layer(LayerRecord {
            proto: ff.proto,
            offset: 0,
            header_len: 0,
            quoted: false,
            source: Source::Frame,
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
    }

    /// Run the dissector chain: the link-layer dissector first, then whatever
    /// each layer hands off to, until a layer ends the chain, nobody claims
    /// the hand-off, or [`MAX_LAYERS`] is reached. Returns where the walk
    /// stopped.
    #[inline]
    fn walk_layers(
        &self,
        meta: &PacketMeta<'_>,
        frame: &[u8],
        side: &Reassembled<'_>,
        out: &mut Fields,
    ) -> WalkEnd {
        let mut data = frame;
        let mut walk = Walk {
            start: 0,
            end: data.len(),
            cut_by: None,
            padding: None,
        };
        // One context for the whole packet: each step updates the few things
        // that change per layer (offset, protocol below, declared length).
        let mut cx = Ctx {
            fields: out,
            meta,
            registry: &self.registry,
            prev: None,
            declared_len: None,
            quoted: false,
            offset: 0,
            end: data.len(),
            cut_by: None,
            truncated_id: self.anomalies.truncated,
            malformed_id: self.anomalies.malformed,
            side,
            ip_taken: false,
            tcp_taken: false,
            datagram_taken: false,
            source: Source::Frame,
            switch_to: None,
            ports: None,
        };
        let mut chosen = self.link_dissector(meta, cx.fields);
        let mut depth = 0usize;
        // How the current candidate was chosen, and who at this position
        // already said "not mine" (the next candidate skips them).
        let mut selector: Option<Next> = None;
        let mut declined = [usize::MAX; 8];
        let mut n_declined = 0usize;
        while let Some(di) = chosen {
            if depth >= MAX_LAYERS {
                cx.fields.anomaly(self.anomalies.too_deep);
                break;
            }
            depth += 1;
            let slice = data.get(walk.start..walk.end).unwrap_or(&[]);
            let (prev, declared) = (cx.prev, cx.declared_len);
            let outcome = self.decode_layer(di, slice, &walk, &mut cx);
            if outcome.next == Next::NotMine && cx.fields.pop_empty_layer() {
                cx.switch_to = None;
                cx.prev = prev;
                cx.declared_len = declared;
                cx.offset = walk.start;
                chosen = match selector {
                    Some(sel) if n_declined < declined.len() => {
                        declined[n_declined] = di;
                        n_declined += 1;
                        self.choose_among(&sel, slice, &mut cx, &declined[..n_declined])
                    }
                    _ => None,
                };
                continue;
            }
            n_declined = 0;
            walk.advance(&outcome, cx.quoted, self.protos[di]);
            if matches!(outcome.next, Next::End | Next::NotMine) {
                cx.switch_to = None;
                break;
            }
            if let Some(src) = cx.switch_to.take() {
                // The layer handed off reassembled bytes: the rest of the
                // walk is in them (padding stays the frame's).
                data = side.bytes(src);
                cx.source = src;
                walk.start = 0;
                walk.end = data.len();
                walk.cut_by = None;
                cx.declared_len = None;
            }
            if let Next::Table(t, _) | Next::Ports(t, _, _) = outcome.next
                && cx.fields.stops_at(t)
            {
                // Nothing this job reads can follow: the rest stays data.
                break;
            }
            let rest = data.get(walk.start..walk.end).unwrap_or(&[]);
            cx.offset = walk.start;
            selector = Some(outcome.next);
            cx.ports = match outcome.next {
                Next::Ports(_, src, dst) => Some((src, dst)),
                _ => None,
            };
            chosen = self.choose(&outcome.next, rest, &mut cx);
        }
        WalkEnd {
            start: walk.start,
            end: walk.end,
            padding: walk.padding,
            quoted: cx.quoted,
            source: cx.source,
        }
    }

    /// The dissector bound to the record's link type; `unknown-linktype` on
    /// the frame when there is none.
    #[inline]
    fn link_dissector(&self, meta: &PacketMeta<'_>, out: &mut Fields) -> Option<usize> {
        let link = self
            .linktype
            .and_then(|t| self.lookup(t, u64::from(meta.linktype)));
        if link.is_none() {
            out.anomaly_at_frame(self.anomalies.unknown_linktype);
        }
        link
    }

    /// Who decodes the bytes a layer handed off: the table binding (for
    /// ports, the lower port first, then the higher), then the table's
    /// heuristics in registration order. An unclaimed table hand-off of
    /// non-empty, unquoted bytes is an `unknown-next` anomaly on the layer
    /// that handed off.
    ///
    /// (`next` by reference: passed by value it was copied out of the
    /// walk's `Option<Next>` with wide loads of narrow stores, a
    /// store-forwarding stall per layer.)
    #[inline]
    fn choose(&self, next: &Next, rest: &[u8], cx: &mut Ctx<'_>) -> Option<usize> {
        self.choose_among(next, rest, cx, &[])
    }

    /// [`Engine::choose`] skipping the dissectors in `declined` (they said
    /// "not mine" for these bytes).
    fn choose_among(
        &self,
        next: &Next,
        rest: &[u8],
        cx: &mut Ctx<'_>,
        declined: &[usize],
    ) -> Option<usize> {
        let ok = |d: &usize| !declined.contains(d);
        match *next {
            Next::End | Next::NotMine => None,
            Next::Table(t, key) => {
                let t = t.0 as usize;
                let d = self
                    .lookup(t, key)
                    .filter(ok)
                    .or_else(|| self.heuristic(t, rest, cx, declined));
                if d.is_none() && declined.is_empty() && !rest.is_empty() && !cx.quoted {
                    cx.fields.anomaly(self.anomalies.unknown_next);
                }
                d
            }
            Next::Ports(t, a, b) => {
                let t = t.0 as usize;
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                self.lookup(t, u64::from(lo))
                    .filter(ok)
                    .or_else(|| self.lookup(t, u64::from(hi)).filter(ok))
                    .or_else(|| self.heuristic(t, rest, cx, declined))
            }
        }
    }

    /// Open a layer for dissector `di` where the walk stands, run it on
    /// `slice`, and record its header length (clamped to the slice). The
    /// context then describes this layer to the next: its protocol and
    /// declared length.
    #[inline]
    fn decode_layer(&self, di: usize, slice: &[u8], walk: &Walk, cx: &mut Ctx<'_>) -> Outcome {
        let proto = self.protos[di];
        let offset = walk.start;
        let layer = cx.fields.push_layer(LayerRecord {
            proto,
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            header_len: 0,
            quoted: cx.quoted,
            source: cx.source,
        });
        cx.offset = offset;
        cx.end = walk.end;
        cx.cut_by = walk.cut_by;
        let mut outcome = self.dissectors[di].dissect(slice, cx);
        outcome.header_len = outcome.header_len.min(slice.len());
        cx.fields
            .set_header_len(layer, u32::try_from(outcome.header_len).unwrap_or(u32::MAX));
        cx.declared_len = outcome.payload_len;
        cx.prev = Some(proto);
        // Changed in place, not rebuilt: a copy of `next` would be one wide
        // load of what the dissector stored in parts (a store-forwarding
        // stall on every layer).
        outcome
    }

    /// What the walk left unclaimed, `data[start..end]`, as a `data` layer.
    #[inline]
    fn data_layer(&self, data: &[u8], end: &WalkEnd, out: &mut Fields) {
        let ff = &self.frame;
        let Some(rest) = data.get(end.start..end.end).filter(|r| !r.is_empty()) else {
            return;
        };
        out.push_layer(LayerRecord {
            proto: ff.data_proto,
            offset: u32::try_from(end.start).unwrap_or(u32::MAX),
            header_len: u32::try_from(rest.len()).unwrap_or(u32::MAX),
            quoted: end.quoted,
            source: end.source,
        });
        out.add(ff.data, Value::Bytes(rest));
        out.add(ff.data_len, Value::U64(rest.len() as u64));
    }

    /// The bytes past the first declared length (Ethernet padding, trailers)
    /// as a `padding` layer.
    #[inline]
    fn padding_layer(&self, data: &[u8], padding: Option<(usize, usize)>, out: &mut Fields) {
        let ff = &self.frame;
        let Some(pad) = padding.and_then(|(ps, pe)| data.get(ps..pe)) else {
            return;
        };
        let offset = padding.map_or(0, |(ps, _)| ps);
        out.push_layer(LayerRecord {
            proto: ff.padding_proto,
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            header_len: u32::try_from(pad.len()).unwrap_or(u32::MAX),
            quoted: false,
            source: Source::Frame,
        });
        out.add(ff.padding, Value::Bytes(pad));
        out.add(ff.padding_len, Value::U64(pad.len() as u64));
    }

    /// `frame.protocols`: the layers after `frame`, outermost first, joined
    /// by `:` (written straight into the sink's arena).
    #[inline]
    fn protocols_field(&self, out: &mut Fields) {
        let reg = &self.registry;
        out.add_str_from_layers(self.frame.protocols, |layers, b| {
            for (i, l) in layers.iter().skip(1).enumerate() {
                if i > 0 {
                    b.push(b':');
                }
                b.extend_from_slice(reg.protocol(l.proto).name.as_bytes());
            }
        });
    }

    /// Scapy-style one-line summary of a dissected packet (`fields` must have
    /// been filled with [`Wanted::All`]).
    pub fn summary_line(&self, fields: &Fields, data: &[u8], numeric: bool) -> String {
        let mut line = String::new();
        self.summary_into(fields, data, numeric, &mut line);
        line
    }

    /// [`Engine::summary_line`] appended to `out`: with a reused `out` this
    /// allocates nothing once the string has grown to its working size.
    ///
    /// The innermost layer with a summary of its own gives its summary; the
    /// layers around it give their names, joined by ` / `.
    pub fn summary_into(&self, fields: &Fields, data: &[u8], numeric: bool, out: &mut String) {
        self.summary_into_with(fields, data, &Reassembled::default(), numeric, out);
    }

    /// [`Engine::summary_into`] for a packet dissected with
    /// [`Engine::dissect_with`] (`side` is the same side input).
    pub fn summary_into_with(
        &self,
        fields: &Fields,
        data: &[u8],
        side: &Reassembled<'_>,
        numeric: bool,
        out: &mut String,
    ) {
        let view = PacketView {
            fields,
            registry: &self.registry,
            data,
            reassembled: *side,
            numeric,
        };
        let layers = fields.layers();
        let base = out.len();
        // Parts are written innermost first after `base`, then copied out in
        // packet order and the scratch copies dropped.
        let mut parts = [(0usize, 0usize); SUMMARY_PARTS];
        let mut n = 0;
        let mut found = false;
        for i in (1..layers.len()).rev() {
            let start = out.len();
            let proto = layers[i].proto;
            let d = self.dissector(proto);
            let own = match (found, d) {
                (false, Some(d)) => d.summary(&view, i, out),
                _ => false,
            };
            if own {
                found = true;
            } else {
                out.truncate(start);
                if !d.is_some_and(|d| d.write_layer_name(&view, i, out)) {
                    out.truncate(start);
                    match d.and_then(|d| d.layer_name(&view, i)) {
                        Some(name) => out.push_str(name),
                        None => out.push_str(&self.registry.protocol(proto).summary_name),
                    }
                }
            }
            // Layers with an empty summary name (raw IP's pseudo link layer) are
            // not shown, as in Scapy.
            if out.len() > start
                && let Some(slot) = parts.get_mut(n)
            {
                *slot = (start, out.len());
                n += 1;
            }
        }
        let mut buf = std::mem::take(out).into_bytes();
        let scratch_end = buf.len();
        for (k, &(s, e)) in parts[..n].iter().rev().enumerate() {
            if k > 0 {
                buf.extend_from_slice(b" / ");
            }
            buf.extend_from_within(s..e);
        }
        buf.drain(base..scratch_end);
        // Only `&str`s were written, so this is valid UTF-8.
        *out = String::from_utf8(buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    }
}

/// Most parts a summary line can have: every layer the walk may record
/// (`frame` is never shown; the chain, `data` and `padding` are).
const SUMMARY_PARTS: usize = MAX_LAYERS + 2;

/// The walk's position: the current layer's bytes are `data[start..end]`.
struct Walk {
    start: usize,
    end: usize,
    /// The layer whose declared length set `end` (`None`: the frame's end).
    cut_by: Option<ProtoId>,
    /// Bytes past the first (outermost, unquoted) declared length.
    padding: Option<(usize, usize)>,
}

impl Walk {
    /// Step past a decoded layer: the next layer starts after its header and
    /// ends where the layer's declared payload length says, if that is before
    /// the captured end; the bytes cut off the first time are padding.
    #[inline]
    fn advance(&mut self, outcome: &Outcome, quoted: bool, proto: ProtoId) {
        let payload_start = self.start + outcome.header_len;
        if let Some(len) = outcome.payload_len {
            let declared_end = payload_start.saturating_add(len);
            if declared_end < self.end {
                if self.padding.is_none() && !quoted {
                    self.padding = Some((declared_end, self.end));
                }
                self.end = declared_end;
                self.cut_by = Some(proto);
            }
        }
        self.start = payload_start;
    }
}

/// Where [`Engine::walk_layers`] stopped.
struct WalkEnd {
    /// Unclaimed bytes: `data[start..end]`.
    start: usize,
    end: usize,
    padding: Option<(usize, usize)>,
    /// The walk was inside a quoted packet when it stopped.
    quoted: bool,
    /// The buffer `start..end` refer to.
    source: Source,
}

#[cfg(test)]
mod tests {
    //! The engine's walk with tiny test-only dissectors over a made-up link
    //! layer: byte 0 is a key into `toy.type`, byte 1 the declared payload
    //! length (`0xff`: none).
    use super::*;

    const TYPE: &str = "toy.type";
    const PORT: &str = "toy.port";

    type Step = fn(&[u8], &mut Ctx<'_>, TableId) -> Outcome;

    /// A dissector made of a name, its registrations and one step function.
    struct Toy {
        name: &'static str,
        declares: &'static str,
        binds: &'static [(&'static str, u64)],
        heuristic: Option<(&'static str, u8)>,
        step: Step,
        table: TableId,
    }

    impl Dissector for Toy {
        fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
            r.protocol(self.name, self.name, self.name)?;
            self.table = r.declare_table(self.declares);
            for &(t, k) in self.binds {
                r.bind(t, k);
            }
            if let Some((t, _)) = self.heuristic {
                r.heuristic(t);
            }
            Ok(())
        }
        fn accepts(&self, data: &[u8], _cx: &Ctx<'_>) -> bool {
            self.heuristic
                .is_some_and(|(_, first)| data.first() == Some(&first))
        }
        fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
            (self.step)(data, cx, self.table)
        }
    }

    fn toy(name: &'static str, binds: &'static [(&'static str, u64)], step: Step) -> Toy {
        Toy {
            name,
            declares: TYPE,
            binds,
            heuristic: None,
            step,
            table: TableId(0),
        }
    }

    fn end1(d: &[u8], cx: &mut Ctx<'_>, _: TableId) -> Outcome {
        if d.is_empty() {
            cx.short();
        }
        Outcome::end(1)
    }

    fn builder() -> EngineBuilder {
        let mut b = EngineBuilder::new();
        let mut add = |d: Toy| b.add(Box::new(d), "test").map(|_| ()).unwrap();
        add(toy("link", &[(tables::LINKTYPE, 1)], |d, _, t| Outcome {
            header_len: 2,
            payload_len: d.get(1).filter(|&&l| l != 0xff).map(|&l| usize::from(l)),
            next: Next::Table(t, d.first().map_or(0, |&k| u64::from(k))),
        }));
        add(toy("a", &[(TYPE, 1)], end1));
        add(Toy {
            declares: PORT,
            ..toy("ports", &[(TYPE, 2)], |d, _, t| {
                let port = |i: usize| {
                    d.get(i..i + 2)
                        .map_or(0, |p| u16::from_be_bytes([p[0], p[1]]))
                };
                Outcome::next(4, Next::Ports(t, port(0), port(2)))
            })
        });
        add(toy("p80", &[(PORT, 80)], end1));
        add(toy("p443", &[(PORT, 443)], end1));
        add(Toy {
            heuristic: Some((PORT, b'H')),
            ..toy("h1", &[], end1)
        });
        add(Toy {
            heuristic: Some((PORT, b'H')),
            ..toy("h2", &[], end1)
        });
        add(Toy {
            heuristic: Some((TYPE, b'Z')),
            ..toy("hz", &[], end1)
        });
        add(toy("quote", &[(TYPE, 5)], |_, cx, t| {
            cx.set_quoted();
            // The quoted copy: a `toy.type` layer whose declared length lies.
            Outcome {
                header_len: 1,
                payload_len: Some(1),
                next: Next::Table(t, 1),
            }
        }));
        add(toy("loop", &[(TYPE, 9)], |_, _, t| {
            Outcome::next(1, Next::Table(t, 9))
        }));
        // Port 7: only payloads starting with 'M' are its own.
        add(toy("picky", &[(PORT, 7)], |d, cx, t| {
            if d.first() == Some(&b'M') {
                end1(d, cx, t)
            } else {
                Outcome::not_mine()
            }
        }));
        // Port 8: records an anomaly, then says "not mine" (too late).
        add(toy("sloppy", &[(PORT, 8)], |_, cx, _| {
            cx.malformed();
            Outcome::not_mine()
        }));
        b
    }

    struct Decoded {
        engine_protocols: String,
        layers: Vec<(String, u32, u32, bool)>,
        anomalies: Vec<(String, Option<String>)>,
        fields: Fields,
    }

    fn dissect_with(engine: &Engine, linktype: u32, data: &[u8], wanted: Wanted) -> Decoded {
        let reg = engine.registry();
        let mut out = engine.new_fields(wanted);
        let meta = PacketMeta {
            number: 1,
            caplen: u32::try_from(data.len()).unwrap(),
            wirelen: u32::try_from(data.len()).unwrap(),
            linktype,
            ..PacketMeta::default()
        };
        engine.dissect(&meta, data, &mut out);
        let name = |p: ProtoId| reg.protocol(p).name.clone();
        let layers = out
            .layers()
            .iter()
            .map(|l| (name(l.proto), l.offset, l.header_len, l.quoted))
            .collect();
        let anomalies = out
            .anomalies()
            .iter()
            .map(|h| {
                let layer = out
                    .layers()
                    .get(usize::from(h.layer))
                    .map(|l| name(l.proto));
                (reg.anomaly(h.id).name.clone(), layer)
            })
            .collect();
        let engine_protocols = match out.first(engine.frame_fields().protocols) {
            Some(Value::Str(s)) => s.to_owned(),
            _ => String::new(),
        };
        Decoded {
            engine_protocols,
            layers,
            anomalies,
            fields: out,
        }
    }

    fn dissect(data: &[u8]) -> Decoded {
        let engine = builder().build().unwrap();
        dissect_with(&engine, 1, data, Wanted::All)
    }

    fn protocols(data: &[u8]) -> String {
        dissect(data).engine_protocols
    }

    fn anomalies(data: &[u8]) -> Vec<(String, Option<String>)> {
        dissect(data).anomalies
    }

    fn layer(name: &str, offset: u32, header_len: u32, quoted: bool) -> (String, u32, u32, bool) {
        (name.to_owned(), offset, header_len, quoted)
    }

    fn hit(anomaly: &str, layer: &str) -> (String, Option<String>) {
        (anomaly.to_owned(), Some(layer.to_owned()))
    }

    #[test]
    fn dispatches_by_table_key_and_keeps_the_rest_as_data() {
        let d = dissect(&[1, 0xff, 0xaa, 0xbb]);
        assert_eq!(
            d.layers,
            [
                layer("frame", 0, 0, false),
                layer("link", 0, 2, false),
                layer("a", 2, 1, false),
                layer("data", 3, 1, false),
            ]
        );
        assert_eq!(d.engine_protocols, "link:a:data");
        assert!(d.anomalies.is_empty());
    }

    #[test]
    fn ports_try_the_lower_bound_port_first_then_the_higher() {
        // 443 and 80 are both bound: the lower wins whichever side it is on.
        assert_eq!(
            protocols(&[2, 0xff, 1, 0xbb, 0, 80, b'x']),
            "link:ports:p80"
        );
        assert_eq!(
            protocols(&[2, 0xff, 0, 80, 1, 0xbb, b'x']),
            "link:ports:p80"
        );
        // 8080 is not bound: the higher port's binding is used.
        assert_eq!(
            protocols(&[2, 0xff, 0x1f, 0x90, 1, 0xbb, b'x']),
            "link:ports:p443"
        );
    }

    #[test]
    fn not_mine_hands_the_bytes_to_the_next_candidate() {
        // Its own payload.
        assert_eq!(protocols(&[2, 0xff, 0, 1, 0, 7, b'M']), "link:ports:picky");
        // Declined: the heuristics are next, then `data`.
        assert_eq!(protocols(&[2, 0xff, 0, 1, 0, 7, b'H']), "link:ports:h1");
        let d = dissect(&[2, 0xff, 0, 1, 0, 7, b'x']);
        assert_eq!(d.engine_protocols, "link:ports:data");
        assert!(d.anomalies.is_empty());
        // The lower port declines: the higher port's dissector is tried.
        assert_eq!(protocols(&[2, 0xff, 0, 7, 0, 80, b'x']), "link:ports:p80");
        // "Not mine" after recording something ends the walk on that layer.
        let d = dissect(&[2, 0xff, 0, 1, 0, 8, b'H']);
        assert_eq!(d.engine_protocols, "link:ports:sloppy:data");
        assert_eq!(d.anomalies, [hit("malformed", "sloppy")]);
    }

    #[test]
    fn heuristics_run_after_bindings_in_registration_order() {
        // No port bound: h1 and h2 both accept 'H'; h1 registered first.
        assert_eq!(protocols(&[2, 0xff, 0, 1, 0, 2, b'H']), "link:ports:h1");
        // A binding beats a willing heuristic.
        assert_eq!(protocols(&[2, 0xff, 0, 1, 0, 80, b'H']), "link:ports:p80");
        // Nobody: data, and unclaimed ports are not an anomaly.
        let d = dissect(&[2, 0xff, 0, 1, 0, 2, b'G']);
        assert_eq!(d.engine_protocols, "link:ports:data");
        assert!(d.anomalies.is_empty());
        // A table hand-off nobody is bound to is offered to the table's heuristics…
        assert_eq!(protocols(&[7, 0xff, b'Z']), "link:hz");
        // …and is `unknown-next` on the layer that handed off when none accepts.
        let d = dissect(&[7, 0xff, b'Y']);
        assert_eq!(d.engine_protocols, "link:data");
        assert_eq!(d.anomalies, [hit("unknown-next", "link")]);
        // No bytes to hand off: nothing unknown about it.
        assert!(anomalies(&[7, 0xff]).is_empty());
    }

    #[test]
    fn the_depth_cap_stops_a_chain_that_never_ends() {
        let mut frame = vec![9, 0xff];
        frame.extend(std::iter::repeat_n(0u8, 60));
        let d = dissect(&frame);
        assert_eq!(
            d.layers.iter().filter(|l| l.0 == "loop").count(),
            MAX_LAYERS - 1
        );
        // Frame, link, 47 loops, the rest as data.
        assert_eq!(d.layers.len(), 1 + MAX_LAYERS + 1);
        assert_eq!(d.layers.last(), Some(&layer("data", 49, 13, false)));
        assert_eq!(d.anomalies, [hit("too-deep", "loop")]);
    }

    #[test]
    fn bytes_past_the_declared_length_are_padding() {
        // The link layer declares 1 byte of payload; 3 more are captured.
        let d = dissect(&[1, 1, 0xaa, 0, 0, 0]);
        assert_eq!(
            d.layers,
            [
                layer("frame", 0, 0, false),
                layer("link", 0, 2, false),
                layer("a", 2, 1, false),
                layer("padding", 3, 3, false),
            ]
        );
        let padding_len = d.fields.first(d_field("padding.len"));
        assert_eq!(padding_len, Some(Value::U64(3)));
        assert_eq!(d.engine_protocols, "link:a:padding");
        // A declared length beyond the captured bytes cuts nothing.
        assert_eq!(protocols(&[1, 9, 0xaa, 0xbb]), "link:a:data");
        // Declared zero: the payload is empty, so the hand-off reaches `a`
        // with no bytes (it reports itself short) and all else is padding.
        let d = dissect(&[1, 0, 0xaa]);
        assert_eq!(d.engine_protocols, "link:a:padding");
        assert_eq!(d.anomalies, [hit("malformed", "a")]);
    }

    fn d_field(name: &str) -> FieldId {
        builder().registry().field_by_name(name).unwrap()
    }

    #[test]
    fn layers_after_a_quote_are_quoted_and_never_padding_or_unknown() {
        // quote → a (quoted, declared length 1 of 3 bytes: no padding).
        let d = dissect(&[5, 0xff, 0x00, 0xaa, 0xbb, 0xcc]);
        assert_eq!(
            d.layers,
            [
                layer("frame", 0, 0, false),
                layer("link", 0, 2, false),
                layer("quote", 2, 1, false),
                layer("a", 3, 1, true),
            ]
        );
        assert_eq!(d.engine_protocols, "link:quote:a");
        // The data after a quoted layer is itself quoted.
        let mut b = EngineBuilder::new();
        b.add(
            Box::new(toy("link", &[(tables::LINKTYPE, 1)], |_, cx, t| {
                cx.set_quoted();
                Outcome::next(1, Next::Table(t, 77))
            })),
            "test",
        )
        .unwrap();
        let quoted_link = b.build().unwrap();
        let d = dissect_with(&quoted_link, 1, &[0, 0xaa], Wanted::All);
        assert_eq!(d.layers.last(), Some(&layer("data", 1, 1, true)));
        // No `unknown-next` inside a quote.
        assert!(d.anomalies.is_empty());
    }

    #[test]
    fn a_short_layer_records_where_its_bytes_ended_and_why() {
        use crate::fields::{Cut, Limit};
        let engine = builder().build().unwrap();
        let link = engine.registry().proto_by_name("link").unwrap();
        let cut_of = |d: &Decoded| d.fields.anomalies().first().and_then(|h| h.cut);
        // The link layer declares 0 payload bytes: `a` gets none, cut at byte 2
        // by the link's declared length.
        let d = dissect_with(&engine, 1, &[1, 0, 0xaa], Wanted::All);
        assert_eq!(d.anomalies, [hit("malformed", "a")]);
        assert_eq!(
            cut_of(&d),
            Some(Cut {
                at: 2,
                limit: Limit::Declared(link)
            })
        );
        // The frame simply ends.
        let d = dissect_with(&engine, 1, &[1, 0xff], Wanted::All);
        assert_eq!(
            cut_of(&d),
            Some(Cut {
                at: 2,
                limit: Limit::FrameEnd
            })
        );
        // The snaplen kept 2 of 60 bytes: `truncated`, cut by the capture.
        let mut out = engine.new_fields(Wanted::All);
        let meta = PacketMeta {
            caplen: 2,
            wirelen: 60,
            linktype: 1,
            ..PacketMeta::default()
        };
        engine.dissect(&meta, &[1, 0xff], &mut out);
        let hits = out.anomalies();
        assert_eq!(hits.len(), 1);
        assert_eq!(engine.registry().anomaly(hits[0].id).name, "truncated");
        assert_eq!(
            hits[0].cut,
            Some(Cut {
                at: 2,
                limit: Limit::Snaplen { caplen: 2 }
            })
        );
    }

    #[test]
    fn an_unknown_link_type_is_a_frame_anomaly_and_all_data() {
        let engine = builder().build().unwrap();
        let d = dissect_with(&engine, 147, &[1, 2, 3], Wanted::All);
        assert_eq!(d.engine_protocols, "data");
        assert_eq!(d.anomalies, [("unknown-linktype".to_owned(), None)]);
        assert!(!engine.knows_linktype(147));
        assert!(engine.knows_linktype(1));
    }

    #[test]
    fn frame_protocols_is_stored_only_when_wanted() {
        let engine = builder().build().unwrap();
        let protocols = engine.frame_fields().protocols;
        let d = dissect_with(&engine, 1, &[1, 0xff, 0], Wanted::none(0));
        assert!(!d.fields.has(protocols));
        assert_eq!(d.layers.len(), 3, "layers are recorded all the same");
        let mut w = Wanted::none(engine.registry().field_count());
        w.insert(protocols);
        let d = dissect_with(&engine, 1, &[1, 0xff, 0], w);
        assert_eq!(d.engine_protocols, "link:a");
        assert_eq!(d.fields.entries().len(), 1);
    }

    #[test]
    fn a_binding_into_an_undeclared_table_fails_build_naming_both() {
        let mut b = builder();
        b.add(Box::new(toy("typo", &[("toy.prot", 8080)], end1)), "test")
            .unwrap();
        let err = b.build().err().expect("a misspelt table must not build");
        assert_eq!(
            err,
            BuildError::UndeclaredTable {
                table: "toy.prot".into(),
                protocol: "typo".into(),
                origin: "test".into(),
                heuristic: false,
            }
        );
        assert_eq!(
            err.to_string(),
            "dissector 'typo' (test) binds into dispatch table 'toy.prot', which no dissector declares"
        );
        // The same for a heuristic.
        let mut b = builder();
        b.add(
            Box::new(Toy {
                heuristic: Some(("udp.prot", 0)),
                ..toy("typo", &[], end1)
            }),
            "plugin-x",
        )
        .unwrap();
        assert_eq!(
            b.build().err().map(|e| e.to_string()).as_deref(),
            Some(
                "dissector 'typo' (plugin-x) offers a heuristic in dispatch table 'udp.prot', which no dissector declares"
            )
        );
        // Binding before the owner declares is fine: only the frozen state counts.
        let mut b = EngineBuilder::new();
        b.add(Box::new(toy("early", &[("late.table", 1)], end1)), "test")
            .unwrap();
        b.add(
            Box::new(Toy {
                declares: "late.table",
                ..toy("owner", &[], end1)
            }),
            "test",
        )
        .unwrap();
        assert!(b.build().is_ok());
    }
}
