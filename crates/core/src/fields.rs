//! [`Fields`]: the reusable per-packet sink that dissectors push values into.
//!
//! One `Fields` lives per worker thread and is cleared between packets; its
//! vectors keep their capacity, so after the first few packets dissection does no
//! heap allocation. Only *wanted* fields are stored ([`Wanted`]), so a job that
//! needs five columns pays for five.

use crate::registry::{AnomalyId, Column, FieldId, ProtoId};
use crate::value::Value;

/// Which fields a job needs materialised.
#[derive(Clone, Debug)]
pub enum Wanted {
    All,
    /// Bitmap indexed by `FieldId`.
    Some(Vec<u64>),
}

impl Wanted {
    pub fn none(field_count: usize) -> Wanted {
        Wanted::Some(vec![0; field_count.div_ceil(64)])
    }
    pub fn insert(&mut self, f: FieldId) {
        if let Wanted::Some(bits) = self {
            let i = f.index();
            if bits.len() <= i / 64 {
                bits.resize(i / 64 + 1, 0);
            }
            bits[i / 64] |= 1 << (i % 64);
        }
    }
    #[inline]
    pub fn contains(&self, f: FieldId) -> bool {
        match self {
            Wanted::All => true,
            Wanted::Some(bits) => {
                let i = f.index();
                bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
            }
        }
    }
}

/// A group of fields tested together with [`Fields::wants_any`] (e.g. the
/// TCP flag bits, or every TCP option field), so that a dissector can skip
/// decoding work none of whose results is wanted with a single test.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FieldMask {
    /// All ids fall in 64-bit word `word` of the wanted bitmap.
    Word { word: usize, bits: u64 },
    /// The ids span several words (or none was given): the test always
    /// passes, which is always correct, just not a shortcut.
    Always,
}

impl FieldMask {
    /// The mask of `ids`. Ids a dissector registers one after another almost
    /// always share a word.
    pub fn of(ids: &[FieldId]) -> FieldMask {
        let Some(first) = ids.first() else {
            return FieldMask::Always;
        };
        let word = first.index() / 64;
        if ids.iter().any(|f| f.index() / 64 != word) {
            return FieldMask::Always;
        }
        FieldMask::Word {
            word,
            bits: ids.iter().fold(0, |m, f| m | 1 << (f.index() % 64)),
        }
    }
}

/// The type of a stored value; its bits live in [`Entry::a`]/[`Entry::b`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    U64,
    I64,
    F64,
    Bool,
    /// Big-endian in the low 32 bits of `a`.
    Ipv4,
    /// Big-endian: bytes 0–7 in `a`, 8–15 in `b`.
    Ipv6,
    /// Big-endian in the low 48 bits of `a`.
    Mac,
    /// Arena offset in `a`, length in `b`.
    Bytes,
    Str,
    Time,
}

/// A value split into a kind and two machine words, so that storing one is a
/// few register moves (no enum copy through memory).
#[inline(always)]
#[allow(clippy::cast_sign_loss)] // bit patterns, undone in `Fields::value`
fn split(v: Value<'_>) -> (Kind, u64, u64) {
    match v {
        Value::U64(x) => (Kind::U64, x, 0),
        Value::I64(x) => (Kind::I64, x as u64, 0),
        Value::F64(x) => (Kind::F64, x.to_bits(), 0),
        Value::Bool(x) => (Kind::Bool, u64::from(x), 0),
        Value::Ipv4(x) => (Kind::Ipv4, u64::from(u32::from_be_bytes(x)), 0),
        Value::Ipv6(x) => {
            let x = u128::from_be_bytes(x);
            #[allow(clippy::cast_possible_truncation)] // the two halves
            (Kind::Ipv6, (x >> 64) as u64, x as u64)
        }
        Value::Mac([a, b, c, d, e, f]) => {
            (Kind::Mac, u64::from_be_bytes([0, 0, a, b, c, d, e, f]), 0)
        }
        Value::Time(x) => (Kind::Time, x as u64, 0),
        // Slices are stashed in the arena first (see `Fields::add`).
        Value::Bytes(_) => (Kind::Bytes, 0, 0),
        Value::Str(_) => (Kind::Str, 0, 0),
    }
}

#[cold]
#[inline(never)]
fn grow_push(v: &mut Vec<Entry>, field: FieldId, layer: u16, kind: Kind, a: u64, b: u64) {
    v.push(Entry {
        field,
        layer,
        kind,
        a,
        b,
    });
}

/// One stored field value.
#[derive(Copy, Clone, Debug)]
pub struct Entry {
    pub field: FieldId,
    /// Index into [`Fields::layers`].
    pub layer: u16,
    kind: Kind,
    a: u64,
    b: u64,
}

impl Entry {
    /// The value when it is an unsigned integer — most cells of a table —
    /// tested with one compare instead of a jump on the kind.
    #[inline(always)]
    pub fn as_u64(&self) -> Option<u64> {
        (self.kind == Kind::U64).then_some(self.a)
    }

    /// The value when it is an IPv4 address (network order), likewise
    /// without building a [`Value`].
    #[inline(always)]
    #[allow(clippy::cast_possible_truncation)]
    pub fn as_ipv4(&self) -> Option<[u8; 4]> {
        // An IPv4 entry holds the address in the low 32 bits.
        (self.kind == Kind::Ipv4).then(|| (self.a as u32).to_be_bytes())
    }
}

/// One dissected layer of the packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LayerRecord {
    pub proto: ProtoId,
    /// Byte offset of the layer within the captured data.
    pub offset: u32,
    /// Bytes of this layer's own header (what `show --hex` highlights).
    pub header_len: u32,
    /// The layer is inside a quoted packet (the copy of the offending datagram
    /// in an ICMP error); Scapy calls these `IPerror`, `TCPerror`, ….
    pub quoted: bool,
    /// The buffer `offset` refers to: the frame, or bytes the stateful pass
    /// reassembled (`show --hex` highlights frame layers only).
    pub source: crate::reassembled::Source,
}

/// An anomaly hit in one packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AnomalyHit {
    pub id: AnomalyId,
    /// Layer index where it was found, or `u16::MAX` for the frame itself.
    pub layer: u16,
    /// For a layer cut short (`truncated`, `malformed` from
    /// [`crate::Ctx::short`]): where its bytes ended and what ended them.
    pub cut: Option<Cut>,
}

/// Where a layer's bytes ran out, and why.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    /// Byte offset in the frame where the layer's bytes end.
    pub at: u32,
    pub limit: Limit,
}

/// What limited the bytes a layer was given.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The capture's snaplen: only `caplen` bytes of the frame were kept.
    Snaplen { caplen: u32 },
    /// A length field of an enclosing layer (IPv4 total length, IPv6 payload
    /// length, UDP length, 802.3 length): the protocol that declared it.
    Declared(ProtoId),
    /// The frame itself ends there (nothing was cut by the capture).
    FrameEnd,
}

const NONE: u32 = u32::MAX;

/// The per-packet field store.
#[derive(Clone, Debug)]
pub struct Fields {
    wanted: Wanted,
    /// `wanted` as a plain bitmap (all ones for [`Wanted::All`]): one load and
    /// one test per `add`.
    bits: Vec<u64>,
    entries: Vec<Entry>,
    arena: Vec<u8>,
    layers: Vec<LayerRecord>,
    anomalies: Vec<AnomalyHit>,
    /// First and last entry index per field id (`NONE` when absent).
    first_last: Vec<[u32; 2]>,
    cur_layer: u16,
    /// Per dispatch table: the walk stops before choosing from it (see
    /// [`crate::Engine::new_fields_for`]; empty: never).
    stop_tables: Vec<bool>,
    /// Do dissectors verify checksums (only an anomaly comes of it)? Off
    /// for a sink that reads no anomaly ([`crate::Engine::new_fields_for`]).
    verify: bool,
}

impl Fields {
    pub fn new(field_count: usize, wanted: Wanted) -> Fields {
        let bits = match &wanted {
            Wanted::All => vec![u64::MAX; field_count.div_ceil(64)],
            Wanted::Some(b) => {
                let mut b = b.clone();
                b.resize(field_count.div_ceil(64), 0);
                b
            }
        };
        Fields {
            wanted,
            bits,
            entries: Vec::with_capacity(64),
            arena: Vec::with_capacity(1024),
            layers: Vec::with_capacity(16),
            anomalies: Vec::with_capacity(4),
            first_last: vec![[NONE; 2]; field_count],
            cur_layer: 0,
            stop_tables: Vec::new(),
            verify: true,
        }
    }

    pub(crate) fn set_stop_tables(&mut self, stops: Vec<bool>) {
        self.stop_tables = stops;
    }

    pub(crate) fn set_verify(&mut self, verify: bool) {
        self.verify = verify;
    }

    /// Should a dissector verify checksums? A bad one is only an anomaly;
    /// a sink that reads none skips the arithmetic (tshark does not verify
    /// IP checksums by default either).
    #[inline]
    pub fn verifies(&self) -> bool {
        self.verify
    }

    /// Does the walk stop before choosing a dissector from table `t`?
    #[inline]
    pub(crate) fn stops_at(&self, t: crate::dissector::TableId) -> bool {
        self.stop_tables.get(t.0 as usize).copied().unwrap_or(false)
    }

    /// Forget the previous packet, keeping all capacity.
    pub fn clear(&mut self) {
        for e in &self.entries {
            if let Some(fl) = self.first_last.get_mut(e.field.index()) {
                *fl = [NONE; 2];
            }
        }
        self.entries.clear();
        self.arena.clear();
        self.layers.clear();
        self.anomalies.clear();
        self.cur_layer = 0;
    }

    #[inline]
    pub fn wants(&self, f: FieldId) -> bool {
        let i = f.index();
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Is any field of `mask` wanted? One load and one test for the group.
    #[inline]
    pub fn wants_any(&self, mask: FieldMask) -> bool {
        match mask {
            FieldMask::Word { word, bits } => self.bits.get(word).is_some_and(|w| w & bits != 0),
            FieldMask::Always => true,
        }
    }

    /// The wanted bits of `mask`'s word, masked (for walking only the
    /// wanted members of a group); `None` for [`FieldMask::Always`].
    #[inline]
    pub fn wanted_bits(&self, mask: FieldMask) -> Option<u64> {
        match mask {
            FieldMask::Word { word, bits } => Some(self.bits.get(word).map_or(0, |w| w & bits)),
            FieldMask::Always => None,
        }
    }

    pub fn wanted(&self) -> &Wanted {
        &self.wanted
    }

    /// Start a new layer; later values belong to it. Returns its index.
    pub fn push_layer(&mut self, rec: LayerRecord) -> u16 {
        self.layers.push(rec);
        self.cur_layer = u16::try_from(self.layers.len() - 1).unwrap_or(u16::MAX);
        self.cur_layer
    }

    /// Withdraws the last layer if nothing was recorded on it (no value, no
    /// anomaly): a dissector said "not mine". Returns whether it was removed.
    pub fn pop_empty_layer(&mut self) -> bool {
        let Some(last) = self.layers.len().checked_sub(1) else {
            return false;
        };
        let layer = u16::try_from(last).unwrap_or(u16::MAX);
        let used = self.entries.last().is_some_and(|e| e.layer == layer)
            || self.anomalies.iter().any(|h| h.layer == layer);
        if used || last == 0 {
            return false;
        }
        self.layers.pop();
        self.cur_layer = layer - 1;
        true
    }

    /// Fix up the header length of the current layer once it is known.
    pub fn set_header_len(&mut self, layer: u16, len: u32) {
        if let Some(l) = self.layers.get_mut(usize::from(layer)) {
            l.header_len = len;
        }
    }

    /// Store a value if the field is wanted. Values whose type does not match the
    /// registry are the caller's bug; the engine checks plugin values before they
    /// get here.
    #[inline(always)]
    pub fn add(&mut self, f: FieldId, v: Value<'_>) {
        // The common case — a field the job does not want — is one bit test,
        // inlined into the dissector; a wanted scalar is stored inline too
        // (`v`'s variant is known at the call site, so the match folds away;
        // as a call, the store cost 38 instructions a value, inlined 31 —
        // callgrind, dissect-only, 100k packets: 310.4 → 295.1 M).
        if self.wants(f) {
            match v {
                Value::Bytes(b) => self.store_slice(f, Kind::Bytes, b),
                Value::Str(s) => self.store_slice(f, Kind::Str, s.as_bytes()),
                _ => {
                    let (kind, a, b) = split(v);
                    self.push_entry(f, kind, a, b);
                }
            }
        }
    }

    #[inline(never)]
    fn store_slice(&mut self, f: FieldId, kind: Kind, bytes: &[u8]) {
        if f.index() >= self.first_last.len() {
            return;
        }
        let (o, l) = self.stash(bytes);
        self.push_entry(f, kind, u64::from(o), u64::from(l));
    }

    #[inline(always)]
    fn push_entry(&mut self, f: FieldId, kind: Kind, a: u64, b: u64) {
        let Some(fl) = self.first_last.get_mut(f.index()) else {
            return;
        };
        let idx = u32::try_from(self.entries.len()).unwrap_or(NONE);
        if fl[0] == NONE {
            fl[0] = idx;
        }
        fl[1] = idx;
        let layer = self.cur_layer;
        // With spare capacity (every packet after the first few) the push
        // cannot grow the vector, so this path has no call in it and needs no
        // saved registers; growing is a call to a cold function.
        if self.entries.len() < self.entries.capacity() {
            self.entries.push(Entry {
                field: f,
                layer,
                kind,
                a,
                b,
            });
        } else {
            grow_push(&mut self.entries, f, layer, kind, a, b);
        }
    }

    /// Store a string built in place (e.g. a decompressed DNS name) without an
    /// intermediate allocation: `build` appends to the arena.
    pub fn add_str_with(&mut self, f: FieldId, build: impl FnOnce(&mut Vec<u8>)) {
        if !self.wants(f) || f.index() >= self.first_last.len() {
            return;
        }
        let start = self.arena.len();
        build(&mut self.arena);
        // Keep the arena valid UTF-8 per entry: replace anything the builder
        // produced that is not (builders should only write ASCII).
        if std::str::from_utf8(&self.arena[start..]).is_err() {
            for b in &mut self.arena[start..] {
                if !b.is_ascii() {
                    *b = b'?';
                }
            }
        }
        let o = u32::try_from(start).unwrap_or(0);
        let l = u32::try_from(self.arena.len() - start).unwrap_or(0);
        self.push_entry(f, Kind::Str, u64::from(o), u64::from(l));
    }

    /// [`Fields::add_str_with`] for a string made from the layers recorded
    /// so far (`frame.protocols`), without copying them anywhere.
    pub fn add_str_from_layers(
        &mut self,
        f: FieldId,
        build: impl FnOnce(&[LayerRecord], &mut Vec<u8>),
    ) {
        if !self.wants(f) {
            return;
        }
        // Moving the vector out and back is two pointer swaps, no allocation.
        let layers = std::mem::take(&mut self.layers);
        self.add_str_with(f, |b| build(&layers, b));
        self.layers = layers;
    }

    fn stash(&mut self, b: &[u8]) -> (u32, u32) {
        let o = self.arena.len();
        self.arena.extend_from_slice(b);
        (
            u32::try_from(o).unwrap_or(0),
            u32::try_from(b.len()).unwrap_or(0),
        )
    }

    pub fn anomaly(&mut self, id: AnomalyId) {
        self.push_anomaly(id, self.cur_layer, None);
    }

    /// Record an anomaly on the current layer with where and why its bytes
    /// ran out.
    pub fn anomaly_cut(&mut self, id: AnomalyId, cut: Cut) {
        self.push_anomaly(id, self.cur_layer, Some(cut));
    }

    pub fn anomaly_at_frame(&mut self, id: AnomalyId) {
        self.push_anomaly(id, u16::MAX, None);
    }

    /// Each anomaly is recorded once per layer (the first report wins).
    fn push_anomaly(&mut self, id: AnomalyId, layer: u16, cut: Option<Cut>) {
        if !self
            .anomalies
            .iter()
            .any(|h| h.id == id && h.layer == layer)
        {
            self.anomalies.push(AnomalyHit { id, layer, cut });
        }
    }

    #[inline]
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // undoes `split`
    pub fn value(&self, e: &Entry) -> Value<'_> {
        match e.kind {
            Kind::U64 => Value::U64(e.a),
            Kind::I64 => Value::I64(e.a as i64),
            Kind::F64 => Value::F64(f64::from_bits(e.a)),
            Kind::Bool => Value::Bool(e.a != 0),
            Kind::Ipv4 => Value::Ipv4((e.a as u32).to_be_bytes()),
            Kind::Ipv6 => Value::Ipv6(((u128::from(e.a) << 64) | u128::from(e.b)).to_be_bytes()),
            Kind::Mac => {
                let [_, _, a, b, c, d, e, f] = e.a.to_be_bytes();
                Value::Mac([a, b, c, d, e, f])
            }
            Kind::Time => Value::Time(e.a as i64),
            Kind::Bytes => Value::Bytes(self.slice(e.a, e.b)),
            Kind::Str => Value::Str(std::str::from_utf8(self.slice(e.a, e.b)).unwrap_or("")),
        }
    }

    #[inline]
    fn slice(&self, o: u64, l: u64) -> &[u8] {
        let (Ok(o), Ok(l)) = (usize::try_from(o), usize::try_from(l)) else {
            return &[];
        };
        self.arena.get(o..o.saturating_add(l)).unwrap_or(&[])
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
    pub fn layers(&self) -> &[LayerRecord] {
        &self.layers
    }
    pub fn anomalies(&self) -> &[AnomalyHit] {
        &self.anomalies
    }

    #[inline]
    pub fn has(&self, f: FieldId) -> bool {
        self.first_last
            .get(f.index())
            .is_some_and(|fl| fl[0] != NONE)
    }

    /// The entry of a field's first occurrence.
    #[inline]
    pub fn first_entry(&self, f: FieldId) -> Option<&Entry> {
        let i = self.first_last.get(f.index())?[0];
        self.entries.get(i as usize)
    }

    /// First occurrence of a field (what tshark's `-E occurrence=f` shows).
    #[inline]
    pub fn first(&self, f: FieldId) -> Option<Value<'_>> {
        let i = self.first_last.get(f.index())?[0];
        self.entries.get(i as usize).map(|e| self.value(e))
    }

    /// Last occurrence (`-E occurrence=l`).
    pub fn last(&self, f: FieldId) -> Option<Value<'_>> {
        let i = self.first_last.get(f.index())?[1];
        self.entries.get(i as usize).map(|e| self.value(e))
    }

    /// Every occurrence, in packet order.
    pub fn all(&self, f: FieldId) -> impl Iterator<Item = Value<'_>> {
        let [start, end] = self.first_last.get(f.index()).copied().unwrap_or([NONE; 2]);
        let range = if start == NONE {
            0..0
        } else {
            start as usize..end as usize + 1
        };
        self.entries
            .get(range)
            .unwrap_or(&[])
            .iter()
            .filter(move |e| e.field == f)
            .map(|e| self.value(e))
    }

    /// A column's value: of its fields, the one that occurs first in the packet
    /// (outermost layer), then that field's first occurrence. For a plain field
    /// this is just [`Fields::first`].
    pub fn column_first(&self, c: &Column) -> Option<Value<'_>> {
        self.column_field(c).and_then(|f| self.first(f))
    }

    /// The field of a column that occurs first in this packet.
    pub fn column_field(&self, c: &Column) -> Option<FieldId> {
        self.outermost(&c.fields)
    }

    /// Of `candidates`, the field whose first occurrence comes first.
    #[inline]
    pub fn outermost(&self, candidates: &[FieldId]) -> Option<FieldId> {
        self.outermost_entry(candidates).map(|e| e.field)
    }

    /// Of `candidates`, the first occurrence that comes first in the packet
    /// (entries are stored in packet order, so this is also the outermost).
    #[inline]
    pub fn outermost_entry(&self, candidates: &[FieldId]) -> Option<&Entry> {
        let mut best = NONE;
        for f in candidates {
            if let Some(fl) = self.first_last.get(f.index()) {
                best = best.min(fl[0]);
            }
        }
        // `NONE` is past the end of `entries`.
        self.entries.get(best as usize)
    }

    /// Entries belonging to layer `layer`.
    pub fn layer_entries(&self, layer: u16) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.layer == layer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_mask_tests_a_group_at_once() {
        let mut w = Wanted::none(200);
        w.insert(FieldId(70));
        let f = Fields::new(200, w);
        assert!(f.wants_any(FieldMask::of(&[FieldId(69), FieldId(70)])));
        assert!(!f.wants_any(FieldMask::of(&[FieldId(69), FieldId(71)])));
        assert!(!f.wants_any(FieldMask::of(&[FieldId(6), FieldId(7)])));
        // Ids in different words: no shortcut, the test always passes.
        assert_eq!(FieldMask::of(&[FieldId(1), FieldId(70)]), FieldMask::Always);
        assert_eq!(FieldMask::of(&[]), FieldMask::Always);
        assert!(f.wants_any(FieldMask::Always));
        let all = Fields::new(200, Wanted::All);
        assert!(all.wants_any(FieldMask::of(&[FieldId(130)])));
    }

    #[test]
    fn stores_only_wanted_and_clears() {
        let mut w = Wanted::none(4);
        w.insert(FieldId(1));
        w.insert(FieldId(3));
        let mut f = Fields::new(4, w);
        f.push_layer(LayerRecord {
            proto: ProtoId(0),
            offset: 0,
            header_len: 0,
            quoted: false,
            source: crate::reassembled::Source::Frame,
        });
        f.add(FieldId(0), Value::U64(7));
        f.add(FieldId(1), Value::Str("a.example"));
        f.add(FieldId(1), Value::Str("b.example"));
        f.add(FieldId(3), Value::Bytes(&[1, 2]));
        assert!(!f.has(FieldId(0)));
        assert_eq!(f.first(FieldId(1)), Some(Value::Str("a.example")));
        assert_eq!(f.last(FieldId(1)), Some(Value::Str("b.example")));
        assert_eq!(f.all(FieldId(1)).count(), 2);
        assert_eq!(f.first(FieldId(3)), Some(Value::Bytes(&[1, 2])));
        f.clear();
        assert!(!f.has(FieldId(1)));
        assert_eq!(f.all(FieldId(1)).count(), 0);
        assert_eq!(f.first(FieldId(9)), None);
    }

    #[test]
    fn every_value_type_round_trips() {
        let v6: [u8; 16] = std::array::from_fn(|i| u8::try_from(i * 17).unwrap_or(0));
        let values = [
            Value::U64(u64::MAX),
            Value::I64(i64::MIN),
            Value::I64(-1),
            Value::F64(-0.5),
            Value::F64(f64::INFINITY),
            Value::Bool(true),
            Value::Bool(false),
            Value::Ipv4([192, 0, 2, 255]),
            Value::Ipv6(v6),
            Value::Mac([0xff, 1, 2, 3, 4, 0xfe]),
            Value::Bytes(&[0, 1, 0xff]),
            Value::Str("héllo"),
            Value::Time(-1_234_567_890_123),
            Value::Bytes(&[]),
        ];
        let mut f = Fields::new(values.len(), Wanted::All);
        for (i, v) in values.iter().enumerate() {
            f.add(FieldId(u32::try_from(i).unwrap()), *v);
        }
        for (i, v) in values.iter().enumerate() {
            assert_eq!(f.first(FieldId(u32::try_from(i).unwrap())), Some(*v));
        }
    }

    #[test]
    fn builds_strings_in_place() {
        let mut f = Fields::new(1, Wanted::All);
        f.add_str_with(FieldId(0), |b| b.extend_from_slice(b"x\xffy"));
        assert_eq!(f.first(FieldId(0)), Some(Value::Str("x?y")));
    }
}

/// Packets per anomaly kind (a packet counts once per kind), for the totals
/// `info` and `-v` print. Sized to the registry's anomaly kinds once;
/// counting a packet allocates nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnomalyTally {
    counts: Vec<u64>,
}

impl AnomalyTally {
    pub fn new(registry: &crate::Registry) -> AnomalyTally {
        AnomalyTally {
            counts: vec![0; registry.anomalies().len()],
        }
    }

    /// Counts the anomaly kinds of the packet in `fields`.
    pub fn count(&mut self, fields: &Fields) {
        let hits = fields.anomalies();
        for (i, h) in hits.iter().enumerate() {
            if hits[..i].iter().any(|p| p.id == h.id) {
                continue;
            }
            if let Some(c) = self.counts.get_mut(h.id.index()) {
                *c += 1;
            }
        }
    }

    /// Adds another tally (of the same registry).
    pub fn merge(&mut self, other: &AnomalyTally) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// The kinds seen, in registry order, with their packet counts.
    pub fn iter<'r>(
        &'r self,
        registry: &'r crate::Registry,
    ) -> impl Iterator<Item = (&'r str, u64)> {
        registry
            .anomalies()
            .iter()
            .zip(&self.counts)
            .filter(|&(_, &n)| n > 0)
            .map(|(d, &n)| (d.name.as_str(), n))
    }

    /// `truncated 6, malformed 1`, or `none`.
    pub fn render(&self, registry: &crate::Registry) -> String {
        let parts: Vec<String> = self
            .iter(registry)
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    }
}
