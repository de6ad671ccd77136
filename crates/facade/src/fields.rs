//! Every registered field (`pcapx fields`, `pcapx.fields()`): the answer to
//! Scapy's `fields_desc` and `tshark -G fields`.

use pcapx_core::{ProtoId, Registry};

use crate::Error;

/// One field of the registry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FieldInfo<'a> {
    pub protocol: &'a str,
    pub name: &'a str,
    pub display: &'a str,
    #[serde(rename = "type")]
    pub ftype: &'a str,
    /// The aliases that can stand for this field.
    pub aliases: Vec<&'a str>,
    pub description: &'a str,
    /// `built-in`, or the plugin that registered it.
    pub origin: &'a str,
    /// `hex` for a `BASE_HEX` integer (shown as `0x…` by `show` and by
    /// `convert --display-base`); absent for decimal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<&'static str>,
    /// The field's value names (Wireshark's value_string); absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub value_names: Vec<ValueName<'a>>,
}

/// One value name of an integer field: `{"value": 2, "name": "MOVE"}`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ValueName<'a> {
    pub value: i128,
    pub name: &'a str,
}

/// The fields of every protocol (or of `layer` only), in registry order.
pub fn list<'r>(reg: &'r Registry, layer: Option<&str>) -> Result<Vec<FieldInfo<'r>>, Error> {
    if let Some(l) = layer
        && reg.proto_by_name(l).is_none()
    {
        return Err(Error::Usage(format!(
            "unknown protocol '{l}' (protocols: {})",
            reg.protocols()
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    // An alias is listed on every field it can stand for.
    let alias_of = |id| -> Vec<&str> {
        reg.aliases()
            .iter()
            .filter(|c| c.fields.contains(&id))
            .map(|c| c.name.as_str())
            .collect()
    };
    let mut rows = Vec::new();
    for (pi, p) in reg.protocols().iter().enumerate() {
        if layer.is_some_and(|l| l != p.name) {
            continue;
        }
        let pid =
            ProtoId(u32::try_from(pi).map_err(|_| Error::Usage("too many protocols".into()))?);
        for (id, f) in reg.fields_of(pid) {
            rows.push(FieldInfo {
                protocol: &p.name,
                name: &f.name,
                display: &f.display,
                ftype: f.ftype.name(),
                aliases: alias_of(id),
                description: &f.description,
                origin: &p.origin,
                base: (f.base == pcapx_core::Base::Hex && f.ftype.is_integer()).then_some("hex"),
                value_names: f
                    .value_names
                    .iter()
                    .map(|(k, n)| ValueName {
                        // A signed field's key is its two's-complement pattern.
                        #[allow(clippy::cast_possible_wrap)]
                        value: if f.ftype.is_signed() {
                            i128::from(*k as i64)
                        } else {
                            i128::from(*k)
                        },
                        name: n,
                    })
                    .collect(),
            });
        }
    }
    Ok(rows)
}
