//! Owned copies of a plugin's declarations (nothing here points into the plugin).

use pcapx_core::FieldType;

#[derive(Clone, Debug)]
pub(crate) struct FieldDesc {
    pub name: String,
    pub display: String,
    pub ftype: FieldType,
    pub description: String,
    pub aliases: Vec<String>,
    pub hex: bool,
    /// Value names sorted by value (ABI 1.1).
    pub value_names: Vec<(u64, String)>,
}

#[derive(Clone, Debug)]
pub(crate) struct AnomalyDesc {
    pub name: String,
    pub description: String,
}

#[derive(Clone, Debug)]
pub(crate) struct ProtoDesc {
    pub name: String,
    pub display: String,
    pub summary_name: String,
    pub fields: Vec<FieldDesc>,
    pub bindings: Vec<(String, u64)>,
    pub heuristics: Vec<String>,
    pub tables: Vec<String>,
    pub anomalies: Vec<AnomalyDesc>,
}

#[derive(Clone, Debug)]
pub(crate) struct PluginDesc {
    pub name: String,
    pub version: String,
    pub description: String,
    pub abi_major: u16,
    pub abi_minor: u16,
    pub single_threaded: bool,
    pub protocols: Vec<ProtoDesc>,
}
