//! The field registry: protocols, typed fields, aliases and anomalies.
//!
//! Modelled on Wireshark's `proto_register_protocol` / `hf_register_info`: every
//! field has a filter name (`tcp.srcport`), a display name ("Source Port"), a type,
//! a description and optional short aliases (`sport`). The registry is built by
//! [`crate::EngineBuilder`] while dissectors register, then frozen into an
//! immutable [`Registry`] that is shared (read-only) by every worker thread.

use std::collections::HashMap;

use crate::value::{Base, FieldType};

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtoId(pub u32);

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub u32);

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AnomalyId(pub u32);

impl FieldId {
    /// A placeholder for an id not registered yet; the field store ignores it.
    pub const UNSET: FieldId = FieldId(u32::MAX);

    pub fn index(self) -> usize {
        self.0 as usize
    }
}
impl ProtoId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}
impl AnomalyId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A protocol (one dissector's layer).
#[derive(Clone, Debug)]
pub struct ProtocolDef {
    /// Filter name, lower case: `ip`, `tcp`, `dns`.
    pub name: String,
    /// Long name: "Internet Protocol Version 4".
    pub display: String,
    /// The layer's name in one-line summaries and `show` headings (Scapy's class
    /// name: `Ether`, `IP`, `TCP`, `DNS`).
    pub summary_name: String,
    /// Where it came from: `built-in` or the plugin's name.
    pub origin: String,
}

/// A registered field.
#[derive(Clone, Debug)]
pub struct FieldDef {
    /// Wireshark filter name, e.g. `ip.src`.
    pub name: String,
    /// Display name, e.g. "Source Address".
    pub display: String,
    pub ftype: FieldType,
    pub base: Base,
    pub description: String,
    /// Short names (the Scapy tutorial's): `src`, `sport`, …
    pub aliases: Vec<String>,
    /// Owning protocol (filled in by the registrar).
    pub proto: ProtoId,
    /// Names of an integer field's values, sorted by value (Wireshark's
    /// `value_string`); a signed value is keyed by its two's-complement
    /// pattern. Shown by `show`, default plugin summaries and `--names`.
    pub value_names: Vec<(u64, String)>,
    /// Hex digits for a `Base::Hex` field narrower than its type (Wireshark's
    /// `FT_UINT24`: `0x025bab` for a flow label); 0: the type's width.
    pub hex_digits: u8,
}

impl FieldDef {
    pub fn new(name: &str, display: &str, ftype: FieldType, description: &str) -> FieldDef {
        FieldDef {
            name: name.to_owned(),
            display: display.to_owned(),
            ftype,
            base: Base::Dec,
            description: description.to_owned(),
            aliases: Vec::new(),
            proto: ProtoId(0),
            value_names: Vec::new(),
            hex_digits: 0,
        }
    }

    /// Hex display with `digits` digits (a 24-bit value in a 32-bit field).
    pub fn hex_digits(mut self, digits: u8) -> FieldDef {
        self.base = Base::Hex;
        self.hex_digits = digits;
        self
    }

    /// Digits of a `Base::Hex` unsigned field's `0x…` form, as tshark pads
    /// it; `None` for decimal or non-unsigned fields.
    pub fn hex_width(&self) -> Option<usize> {
        if self.base != Base::Hex {
            return None;
        }
        let by_type = self.ftype.hex_digits()?;
        Some(if self.hex_digits == 0 {
            by_type
        } else {
            usize::from(self.hex_digits)
        })
    }

    /// Name the field's values (sorted here; the last of a repeated value wins).
    pub fn names<V: Copy + Into<i128>>(mut self, names: &[(V, &str)]) -> FieldDef {
        for &(v, n) in names {
            let key = value_key(v.into());
            match self.value_names.binary_search_by_key(&key, |&(k, _)| k) {
                Ok(i) => n.clone_into(&mut self.value_names[i].1),
                Err(i) => self.value_names.insert(i, (key, n.to_owned())),
            }
        }
        self
    }

    /// The name of integer value `v` (a `Value::U64` or `Value::I64`), if declared.
    pub fn value_name(&self, v: crate::Value<'_>) -> Option<&str> {
        if self.value_names.is_empty() {
            return None;
        }
        let key = match v {
            crate::Value::U64(x) => x,
            crate::Value::I64(x) => value_key(i128::from(x)),
            _ => return None,
        };
        self.value_names
            .binary_search_by_key(&key, |&(k, _)| k)
            .ok()
            .map(|i| self.value_names[i].1.as_str())
    }

    pub fn hex(mut self) -> FieldDef {
        self.base = Base::Hex;
        self
    }

    pub fn alias(mut self, a: &str) -> FieldDef {
        self.aliases.push(a.to_owned());
        self
    }
}

/// The 64-bit key of a value name: unsigned values as they are, negative
/// ones as their two's-complement pattern (the plugin ABI's convention).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn value_key(v: i128) -> u64 {
    v as u64
}

/// A registered anomaly kind (the vocabulary of "what can go wrong").
#[derive(Clone, Debug)]
pub struct AnomalyDef {
    /// `truncated`, `malformed`, `ip.bad-checksum`, `dns.pointer-loop`, …
    pub name: String,
    pub description: String,
    pub proto: Option<ProtoId>,
}

/// What a column name resolves to: one field, or — for an alias that several
/// fields of the same type declare (`sport` is declared by `tcp.srcport` and
/// `udp.srcport`) — whichever of them occurs first (outermost) in the packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub fields: Vec<FieldId>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("protocol '{0}' is already registered")]
    DuplicateProtocol(String),
    #[error("field '{0}' is already registered")]
    DuplicateField(String),
    #[error("field name '{name}' must start with its protocol's name '{proto}.'")]
    FieldOutsideProtocol { name: String, proto: String },
    #[error("alias '{alias}' is declared by fields of different types ({first} and {second})")]
    AliasTypeClash {
        alias: String,
        first: String,
        second: String,
    },
    #[error("alias '{0}' is also the name of a field")]
    AliasShadowsField(String),
    #[error(
        "'{0}' is not a valid name (use lower-case letters, digits, '.', '_' and '-'; field names may also have upper-case letters after the protocol's name)"
    )]
    BadName(String),
    #[error("anomaly '{0}' is already registered")]
    DuplicateAnomaly(String),
}

/// The frozen registry. Ids index directly into its vectors.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    protos: Vec<ProtocolDef>,
    fields: Vec<FieldDef>,
    anomalies: Vec<AnomalyDef>,
    by_name: HashMap<String, FieldId>,
    proto_by_name: HashMap<String, ProtoId>,
    anomaly_by_name: HashMap<String, AnomalyId>,
    aliases: Vec<Column>,
    alias_by_name: HashMap<String, usize>,
    /// Per protocol, the header field it returns as its payload length
    /// (`IPv4 total length`), for saying what cut a layer short.
    length_names: Vec<(ProtoId, String)>,
}

pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_' || b == b'-'
        })
        && !s.starts_with('.')
        && !s.ends_with('.')
}

/// A field's filter name: as [`valid_name`], and upper-case letters after
/// the protocol's part, as Wireshark spells some (`x509af.serialNumber`,
/// `x509sat.CountryName`). Names are case-sensitive, as in Wireshark.
pub(crate) fn valid_field_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        && !s.starts_with('.')
        && !s.ends_with('.')
}

impl Registry {
    pub(crate) fn add_protocol(&mut self, def: ProtocolDef) -> Result<ProtoId, RegistryError> {
        if !valid_name(&def.name) {
            return Err(RegistryError::BadName(def.name));
        }
        if self.proto_by_name.contains_key(&def.name) {
            return Err(RegistryError::DuplicateProtocol(def.name));
        }
        let id = ProtoId(u32::try_from(self.protos.len()).unwrap_or(u32::MAX));
        self.proto_by_name.insert(def.name.clone(), id);
        self.protos.push(def);
        Ok(id)
    }

    pub(crate) fn add_field(
        &mut self,
        proto: ProtoId,
        mut def: FieldDef,
    ) -> Result<FieldId, RegistryError> {
        if !valid_field_name(&def.name) {
            return Err(RegistryError::BadName(def.name));
        }
        let pname = &self.protos[proto.index()].name;
        if def.name != *pname && !def.name.starts_with(&format!("{pname}.")) {
            return Err(RegistryError::FieldOutsideProtocol {
                name: def.name,
                proto: pname.clone(),
            });
        }
        if self.by_name.contains_key(&def.name) {
            return Err(RegistryError::DuplicateField(def.name));
        }
        for a in &def.aliases {
            if !valid_name(a) {
                return Err(RegistryError::BadName(a.clone()));
            }
            if self.by_name.contains_key(a) {
                return Err(RegistryError::AliasShadowsField(a.clone()));
            }
            if let Some(&col) = self.alias_by_name.get(a) {
                let first = self.aliases[col].fields[0];
                if self.fields[first.index()].ftype != def.ftype {
                    return Err(RegistryError::AliasTypeClash {
                        alias: a.clone(),
                        first: self.fields[first.index()].name.clone(),
                        second: def.name.clone(),
                    });
                }
            }
        }
        if self.alias_by_name.contains_key(&def.name) {
            return Err(RegistryError::AliasShadowsField(def.name));
        }
        def.proto = proto;
        if def.description.is_empty() {
            // Like Wireshark's blurb-less fields: the display name is the description.
            def.description.clone_from(&def.display);
        }
        let id = FieldId(u32::try_from(self.fields.len()).unwrap_or(u32::MAX));
        for a in &def.aliases {
            match self.alias_by_name.get(a) {
                Some(&col) => self.aliases[col].fields.push(id),
                None => {
                    self.alias_by_name.insert(a.clone(), self.aliases.len());
                    self.aliases.push(Column {
                        name: a.clone(),
                        fields: vec![id],
                    });
                }
            }
        }
        self.by_name.insert(def.name.clone(), id);
        self.fields.push(def);
        Ok(id)
    }

    pub(crate) fn add_anomaly(&mut self, def: AnomalyDef) -> Result<AnomalyId, RegistryError> {
        if let Some(&id) = self.anomaly_by_name.get(&def.name) {
            // Generic anomalies may be "registered" by several dissectors: same id.
            if def.proto.is_none() && self.anomalies[id.index()].proto.is_none() {
                return Ok(id);
            }
            return Err(RegistryError::DuplicateAnomaly(def.name));
        }
        let id = AnomalyId(u32::try_from(self.anomalies.len()).unwrap_or(u32::MAX));
        self.anomaly_by_name.insert(def.name.clone(), id);
        self.anomalies.push(def);
        Ok(id)
    }

    pub fn protocols(&self) -> &[ProtocolDef] {
        &self.protos
    }
    pub fn fields(&self) -> &[FieldDef] {
        &self.fields
    }
    pub fn anomalies(&self) -> &[AnomalyDef] {
        &self.anomalies
    }
    pub fn aliases(&self) -> &[Column] {
        &self.aliases
    }
    pub fn field(&self, id: FieldId) -> &FieldDef {
        &self.fields[id.index()]
    }
    pub fn protocol(&self, id: ProtoId) -> &ProtocolDef {
        &self.protos[id.index()]
    }
    /// The header field `id` declares its payload length with, if named
    /// (see [`crate::Registrar::length_field`]).
    pub fn length_name(&self, id: ProtoId) -> Option<&str> {
        self.length_names
            .iter()
            .find(|(p, _)| *p == id)
            .map(|(_, n)| n.as_str())
    }
    pub(crate) fn set_length_name(&mut self, id: ProtoId, name: &str) {
        self.length_names.retain(|(p, _)| *p != id);
        self.length_names.push((id, name.to_owned()));
    }
    pub fn anomaly(&self, id: AnomalyId) -> &AnomalyDef {
        &self.anomalies[id.index()]
    }
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }
    pub fn field_by_name(&self, name: &str) -> Option<FieldId> {
        self.by_name.get(name).copied()
    }
    pub fn proto_by_name(&self, name: &str) -> Option<ProtoId> {
        self.proto_by_name.get(name).copied()
    }
    pub fn anomaly_by_name(&self, name: &str) -> Option<AnomalyId> {
        self.anomaly_by_name.get(name).copied()
    }

    /// Fields of one protocol, in registration order.
    pub fn fields_of(&self, proto: ProtoId) -> impl Iterator<Item = (FieldId, &FieldDef)> {
        self.fields
            .iter()
            .enumerate()
            .filter(move |(_, f)| f.proto == proto)
            .map(|(i, f)| (FieldId(u32::try_from(i).unwrap_or(u32::MAX)), f))
    }

    /// Resolve a user-given column name: a field's filter name first, then an alias.
    pub fn resolve(&self, name: &str) -> Option<Column> {
        if let Some(id) = self.field_by_name(name) {
            return Some(Column {
                name: name.to_owned(),
                fields: vec![id],
            });
        }
        self.alias_by_name
            .get(name)
            .map(|&i| self.aliases[i].clone())
    }

    /// The closest known field or alias name, for "did you mean" hints.
    pub fn suggest(&self, name: &str) -> Option<&str> {
        let candidates = self
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .chain(self.aliases.iter().map(|c| c.name.as_str()));
        let mut best: Option<(usize, &str)> = None;
        for c in candidates {
            let d = edit_distance(name, c);
            let limit = (name.len().max(c.len()) / 3).max(1);
            if d <= limit && best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc)) {
                best = Some((d, c));
            }
        }
        best.map(|(_, c)| c)
    }
}

/// Levenshtein distance (small strings only; used for error hints).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg() -> Registry {
        let mut r = Registry::default();
        let tcp = r
            .add_protocol(ProtocolDef {
                name: "tcp".into(),
                display: "TCP".into(),
                summary_name: "TCP".into(),
                origin: "test".into(),
            })
            .unwrap();
        let udp = r
            .add_protocol(ProtocolDef {
                name: "udp".into(),
                display: "UDP".into(),
                summary_name: "UDP".into(),
                origin: "test".into(),
            })
            .unwrap();
        r.add_field(
            tcp,
            FieldDef::new("tcp.srcport", "Source Port", FieldType::U16, "").alias("sport"),
        )
        .unwrap();
        r.add_field(
            udp,
            FieldDef::new("udp.srcport", "Source Port", FieldType::U16, "").alias("sport"),
        )
        .unwrap();
        r
    }

    #[test]
    fn alias_coalesces_in_registration_order() {
        let r = reg();
        let c = r.resolve("sport").unwrap();
        assert_eq!(c.fields, vec![FieldId(0), FieldId(1)]);
        assert_eq!(r.resolve("tcp.srcport").unwrap().fields, vec![FieldId(0)]);
    }

    #[test]
    fn rejects_duplicates_and_clashes() {
        let mut r = reg();
        let tcp = r.proto_by_name("tcp").unwrap();
        assert_eq!(
            r.add_field(tcp, FieldDef::new("tcp.srcport", "x", FieldType::U16, "")),
            Err(RegistryError::DuplicateField("tcp.srcport".into()))
        );
        assert!(matches!(
            r.add_field(
                tcp,
                FieldDef::new("tcp.x", "x", FieldType::U32, "").alias("sport")
            ),
            Err(RegistryError::AliasTypeClash { .. })
        ));
        assert!(matches!(
            r.add_field(tcp, FieldDef::new("udp.y", "x", FieldType::U32, "")),
            Err(RegistryError::FieldOutsideProtocol { .. })
        ));
    }

    #[test]
    fn suggests_close_names() {
        let r = reg();
        assert_eq!(r.suggest("sprt"), Some("sport"));
        assert_eq!(r.suggest("tcp.srcprt"), Some("tcp.srcport"));
        assert_eq!(r.suggest("zzzzzzzz"), None);
    }
}
