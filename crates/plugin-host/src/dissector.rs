//! [`PluginDissector`]: one plugin protocol behind the same [`Dissector`] trait
//! the built-ins implement, with every plugin result checked.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pcapx_core::dissector::{PacketView, TableId};
use pcapx_core::{
    AnomalyId, Ctx, Dissector, FieldDef, FieldId, FieldType, Next, Outcome, Registrar,
    RegistryError, Value,
};
use pcapx_plugin_abi as abi;

use crate::desc::ProtoDesc;
use crate::ffi::ProtoFns;

/// A plugin's caught panics, counted over all its protocols and threads:
/// the first is reported at once with its packet, the rest are counted and
/// summarised at exit ([`crate::failure_report`]).
#[derive(Debug, Default)]
pub struct Failures {
    panics: AtomicU64,
    reported: AtomicBool,
}

impl Failures {
    /// Packets on which the plugin panicked.
    pub fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    /// Prints the plugin's first panic (`message` when the plugin sent one);
    /// later calls print nothing.
    fn report_first(&self, plugin: &str, file: &str, packet: u64, message: Option<&str>) {
        if self.reported.swap(true, Ordering::Relaxed) {
            return;
        }
        let input = crate::crash::input_name();
        let of = if input.is_empty() {
            String::new()
        } else {
            format!(" of {input}")
        };
        match message {
            Some(m) => eprintln!(
                "pcapx: plugin {plugin} ({file}) panicked on packet {packet}{of}: {m} \
                 (later panics of this plugin are counted, not shown)"
            ),
            None => eprintln!(
                "pcapx: plugin {plugin} ({file}) panicked on packet {packet}{of} \
                 (later panics of this plugin are counted, not shown)"
            ),
        }
    }
}

/// A plugin protocol as a [`Dissector`].
pub struct PluginDissector {
    plugin: String,
    file: String,
    crash_id: u32,
    failures: Arc<Failures>,
    desc: Arc<ProtoDesc>,
    fns: ProtoFns,
    /// Held around every call for `PLUGIN_SINGLE_THREADED` plugins (shared by
    /// all protocols of the plugin).
    lock: Option<Arc<Mutex<()>>>,
    fields: Vec<(FieldId, FieldType)>,
    anomalies: Vec<AnomalyId>,
    tables: Vec<TableId>,
    plugin_failed: AnomalyId,
}

impl std::fmt::Debug for PluginDissector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginDissector")
            .field("plugin", &self.plugin)
            .field("protocol", &self.desc.name)
            .finish_non_exhaustive()
    }
}

impl PluginDissector {
    pub(crate) fn new(
        plugin: &str,
        file: &str,
        desc: Arc<ProtoDesc>,
        fns: ProtoFns,
        lock: Option<Arc<Mutex<()>>>,
        crash_id: u32,
        failures: Arc<Failures>,
    ) -> PluginDissector {
        PluginDissector {
            plugin: plugin.to_owned(),
            file: file.to_owned(),
            crash_id,
            failures,
            desc,
            fns,
            lock,
            fields: Vec::new(),
            anomalies: Vec::new(),
            tables: Vec::new(),
            plugin_failed: AnomalyId(0),
        }
    }

    /// The protocol's filter name.
    pub fn protocol(&self) -> &str {
        &self.desc.name
    }

    fn guard(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        self.lock
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn info(cx: &Ctx<'_>) -> abi::LayerInfo {
        let prev = cx.prev_name().unwrap_or("");
        abi::LayerInfo {
            size: u32::try_from(std::mem::size_of::<abi::LayerInfo>()).unwrap_or(u32::MAX),
            flags: if cx.quoted() { abi::LAYER_QUOTED } else { 0 },
            frame_number: cx.meta().number,
            offset: u64::try_from(cx.offset()).unwrap_or(u64::MAX),
            declared_len: cx
                .declared_len()
                .map_or(abi::NO_LEN, |l| u64::try_from(l).unwrap_or(abi::NO_LEN)),
            // Points into the frozen registry, which outlives the call.
            prev_proto: abi::StrRef {
                ptr: prev.as_ptr().cast(),
                len: prev.len(),
            },
        }
    }

    /// Turn the plugin's outcome into the engine's, or `None` if it is invalid.
    fn outcome(&self, out: &abi::OutcomeOut, len: usize) -> Option<Outcome> {
        let header_len = usize::try_from(out.header_len).ok().filter(|&h| h <= len)?;
        let payload_len = if out.payload_len == abi::NO_LEN {
            None
        } else {
            Some(usize::try_from(out.payload_len).ok()?)
        };
        let table = || self.tables.get(usize::try_from(out.table).ok()?).copied();
        let next = match out.next {
            abi::NEXT_END => Next::End,
            abi::NEXT_NOT_MINE => Next::NotMine,
            abi::NEXT_TABLE => Next::Table(table()?, out.key),
            abi::NEXT_PORTS => Next::Ports(table()?, out.src_port, out.dst_port),
            _ => return None,
        };
        Some(Outcome {
            header_len,
            payload_len,
            next,
        })
    }
}

impl Dissector for PluginDissector {
    fn register(&mut self, r: &mut Registrar<'_>) -> Result<(), RegistryError> {
        let d = Arc::clone(&self.desc);
        r.protocol(&d.name, &d.display, &d.summary_name)?;
        self.fields.clear();
        for f in &d.fields {
            let mut def = FieldDef::new(&f.name, &f.display, f.ftype, &f.description);
            if f.hex {
                def = def.hex();
            }
            def.value_names.clone_from(&f.value_names);
            for a in &f.aliases {
                // `+sport`: join the existing alias group (checked at load).
                def = def.alias(a.strip_prefix('+').unwrap_or(a));
            }
            self.fields.push((r.field(def)?, f.ftype));
        }
        self.anomalies.clear();
        for a in &d.anomalies {
            self.anomalies
                .push(r.anomaly(&a.name, &a.description, false)?);
        }
        self.plugin_failed = r.anomaly(
            "plugin-failed",
            "a plugin dissector failed (panicked or returned invalid results) on this packet",
            true,
        )?;
        self.tables = d.tables.iter().map(|t| r.declare_table(t)).collect();
        for (t, k) in &d.bindings {
            r.bind(t, *k);
        }
        if self.fns.has_accepts() {
            for t in &d.heuristics {
                r.heuristic(t);
            }
        }
        Ok(())
    }

    fn accepts(&self, data: &[u8], cx: &Ctx<'_>) -> bool {
        let info = Self::info(cx);
        let _g = self.guard();
        let _in = crate::crash::enter(self.crash_id, Some(cx.meta().number));
        self.fns.accepts(data, &info)
    }

    fn dissect(&self, data: &[u8], cx: &mut Ctx<'_>) -> Outcome {
        let info = Self::info(cx);
        let (status, out, failed) = {
            let _g = self.guard();
            let packet = cx.meta().number;
            let _in = crate::crash::enter(self.crash_id, Some(packet));
            let mut call = CallCx {
                cx,
                owner: self,
                packet,
                failed: false,
                emitted: false,
            };
            let (status, out) = self.fns.dissect(data, &info, &mut call);
            if status == abi::STATUS_PANICKED {
                self.failures.panics.fetch_add(1, Ordering::Relaxed);
                // A plugin built before ABI 1.1 sends no message.
                self.failures
                    .report_first(&self.plugin, &self.file, packet, None);
            }
            // "Not mine" is only valid before anything was recorded.
            let late = out.next == abi::NEXT_NOT_MINE && call.emitted;
            (status, out, call.failed || late)
        };
        match self.outcome(&out, data.len()) {
            Some(o) if status == abi::STATUS_OK && !failed => o,
            _ => {
                cx.anomaly(self.plugin_failed);
                Outcome::end(data.len())
            }
        }
    }

    fn summary(&self, view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Some(rec) = view.layer(layer) else {
            return false;
        };
        let Some(data) = view.data.get(rec.offset as usize..) else {
            return false;
        };
        let mut buf = [0u8; 512];
        let _g = self.guard();
        let _in = crate::crash::enter(self.crash_id, None);
        let Some(n) = self.fns.summary(data, rec.header_len as usize, &mut buf) else {
            return Self::named_summary(view, layer, out);
        };
        match buf.get(..n).map(std::str::from_utf8) {
            Some(Ok(s)) => {
                out.push_str(s);
                true
            }
            _ => false,
        }
    }
}

impl PluginDissector {
    /// The summary of a layer the plugin leaves to the host: the protocol's
    /// summary name followed by the names of its named values in field
    /// order (`GameX MOVE`), as Scapy shows an enum field's name; `false`
    /// (just the summary name) when no value of the layer has a name.
    fn named_summary(view: &PacketView<'_>, layer: usize, out: &mut String) -> bool {
        let Ok(l16) = u16::try_from(layer) else {
            return false;
        };
        let start = out.len();
        for e in view.fields.layer_entries(l16) {
            if let Some(name) = view
                .registry
                .field(e.field)
                .value_name(view.fields.value(e))
            {
                out.push(' ');
                out.push_str(name);
            }
        }
        if out.len() == start {
            return false;
        }
        let Some(rec) = view.layer(layer) else {
            out.truncate(start);
            return false;
        };
        let proto = view.registry.protocol(rec.proto);
        let head = if proto.summary_name.is_empty() {
            &proto.name
        } else {
            &proto.summary_name
        };
        out.insert_str(start, head);
        true
    }
}

/// The state behind the `cx` handle a plugin's `dissect` emits through:
/// every value is checked against the field's registered type.
pub(crate) struct CallCx<'a, 'b> {
    cx: &'a mut Ctx<'b>,
    /// The dissector being called: its fields, anomalies and failure sink.
    owner: &'a PluginDissector,
    packet: u64,
    failed: bool,
    /// Something was recorded (a value, an anomaly): "not mine" is too late.
    emitted: bool,
}

impl CallCx<'_, '_> {
    /// ABI 1.1: the plugin caught a panic; its message.
    pub(crate) fn panic_message(&mut self, msg: &[u8]) {
        let o = self.owner;
        o.failures.report_first(
            &o.plugin,
            &o.file,
            self.packet,
            Some(&String::from_utf8_lossy(msg)),
        );
    }

    /// The plugin broke the contract on this packet.
    pub(crate) fn fail(&mut self) {
        self.failed = true;
    }

    fn field(&mut self, i: u32, ok: impl FnOnce(FieldType) -> bool) -> Option<FieldId> {
        self.typed(i, ok).map(|(id, _)| id)
    }

    fn typed(
        &mut self,
        i: u32,
        ok: impl FnOnce(FieldType) -> bool,
    ) -> Option<(FieldId, FieldType)> {
        match usize::try_from(i)
            .ok()
            .and_then(|i| self.owner.fields.get(i))
        {
            Some(&(id, t)) if ok(t) => {
                self.emitted = true;
                Some((id, t))
            }
            _ => {
                self.failed = true;
                None
            }
        }
    }

    pub(crate) fn add_u64(&mut self, i: u32, v: u64) {
        if let Some(id) = self.field(i, |t| Value::U64(v).fits(t)) {
            self.cx.add(id, Value::U64(v));
        }
    }
    pub(crate) fn add_i64(&mut self, i: u32, v: i64) {
        if let Some(id) = self.field(i, |t| Value::I64(v).fits(t)) {
            self.cx.add(id, Value::I64(v));
        }
    }
    pub(crate) fn add_f64(&mut self, i: u32, v: f64) {
        if let Some(id) = self.field(i, |t| t == FieldType::F64) {
            self.cx.add(id, Value::F64(v));
        }
    }
    pub(crate) fn add_bool(&mut self, i: u32, v: bool) {
        if let Some(id) = self.field(i, |t| t == FieldType::Bool) {
            self.cx.add(id, Value::Bool(v));
        }
    }
    pub(crate) fn add_time(&mut self, i: u32, v: i64) {
        if let Some(id) = self.field(i, |t| t == FieldType::Time) {
            self.cx.add(id, Value::Time(v));
        }
    }
    pub(crate) fn add_bytes(&mut self, i: u32, b: &[u8]) {
        let Some((id, t)) = self.typed(i, |t| {
            matches!(
                t,
                FieldType::Bytes | FieldType::Ipv4 | FieldType::Ipv6 | FieldType::Mac
            )
        }) else {
            return;
        };
        let v = match t {
            FieldType::Ipv4 => <[u8; 4]>::try_from(b).ok().map(Value::Ipv4),
            FieldType::Ipv6 => <[u8; 16]>::try_from(b).ok().map(Value::Ipv6),
            FieldType::Mac => <[u8; 6]>::try_from(b).ok().map(Value::Mac),
            _ => Some(Value::Bytes(b)),
        };
        match v {
            Some(v) => self.cx.add(id, v),
            None => self.failed = true,
        }
    }
    pub(crate) fn add_str(&mut self, i: u32, b: &[u8]) {
        let Some(id) = self.field(i, |t| t == FieldType::Str) else {
            return;
        };
        match std::str::from_utf8(b) {
            Ok(s) => self.cx.add(id, Value::Str(s)),
            Err(_) => self.cx.add_str_with(id, |out| {
                out.extend(b.iter().map(|&c| if c.is_ascii() { c } else { b'?' }));
            }),
        }
    }
    pub(crate) fn wants(&mut self, i: u32) -> bool {
        match usize::try_from(i)
            .ok()
            .and_then(|i| self.owner.fields.get(i))
        {
            Some(&(id, _)) => self.cx.wants(id),
            None => {
                self.failed = true;
                false
            }
        }
    }
    pub(crate) fn anomaly(&mut self, i: u32) {
        self.emitted = true;
        match usize::try_from(i)
            .ok()
            .and_then(|i| self.owner.anomalies.get(i))
        {
            Some(&id) => self.cx.anomaly(id),
            None => self.failed = true,
        }
    }
    pub(crate) fn short(&mut self) {
        self.emitted = true;
        self.cx.short();
    }
    pub(crate) fn malformed(&mut self) {
        self.emitted = true;
        self.cx.malformed();
    }
}
