//! The pcapx plugin loader.
//!
//! [`load`] opens a shared library that implements the pcapx plugin C ABI v1
//! (`pcapx_plugin.h`, crate `pcapx-plugin-abi`), checks its ABI version, calls
//! its entry point once and returns a [`LoadedPlugin`]: metadata
//! ([`PluginInfo`], serialisable for `pcapx plugins --json`) and one
//! [`PluginDissector`] per declared protocol, which implements the same
//! [`pcapx_core::Dissector`] trait as the built-ins and is registered with
//! [`pcapx_core::EngineBuilder::add`] (see [`LoadedPlugin::add_to`]).
//!
//! Plugins are loaded once, at start-up, before any worker runs, and never
//! unloaded. Every result a plugin returns is checked: a panic (caught by the
//! SDK), a failure status, a header length past its input, an unknown field,
//! anomaly or table index, or a value of the wrong type gives the packet the
//! core `plugin-failed` anomaly and dissection goes on.
//!
//! Architecture invariant: `ffi` is the only module with `unsafe` code.

pub mod crash;
mod desc;
mod dissector;
mod ffi;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pcapx_core::{BuildError, Dissector, EngineBuilder, ProtoId, RegistryError};
use serde::Serialize;

pub use dissector::{Failures, PluginDissector};
#[doc(hidden)]
pub use ffi::check_declaration;

use desc::PluginDesc;
use ffi::ProtoFns;

/// Environment variable with `:`-separated folders whose `*.so` are loaded.
pub const PLUGIN_PATH_ENV: &str = "PCAPX_PLUGIN_PATH";

/// Why a plugin could not be loaded or registered. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {path}: cannot open: {message}")]
    Open { path: String, message: String },
    #[error(
        "plugin {path}: not a pcapx plugin (no `pcapx_plugin_v1` entry symbol and no other `pcapx_plugin_vN`)"
    )]
    NoEntry { path: String },
    #[error(
        "plugin '{plugin}' ({path}) is built for pcapx plugin ABI v{plugin_major}, but this pcapx supports ABI v{host_major}; rebuild it against pcapx_plugin.h v{host_major}"
    )]
    AbiMismatch {
        path: String,
        plugin: String,
        plugin_major: u32,
        host_major: u32,
    },
    #[error("plugin {path}: bad entry point: {reason}")]
    BadEntry { path: String, reason: String },
    #[error("plugin {path}: bad declaration: {reason}")]
    Declaration { path: String, reason: String },
    #[error("plugin '{plugin}' ({path}): {source}")]
    Register {
        path: String,
        plugin: String,
        #[source]
        source: RegistryError,
    },
    /// A protocol of the plugin binds into a dispatch table no dissector
    /// declares (a misspelt `udp.port`?).
    #[error("plugin '{plugin}' ({path}): {source}")]
    Bind {
        path: String,
        plugin: String,
        #[source]
        source: Box<BuildError>,
    },
    /// The entry point returned NULL: the plugin declined to load (e.g. a
    /// host it does not support). [`load_all`] skips it with a warning.
    #[error("plugin {path}: the entry point returned NULL (the plugin declined to load)")]
    Refused { path: String },
    /// A name of the plugin is taken by a built-in or an earlier plugin.
    #[error("plugin '{plugin}' ({path}): {kind} '{name}' is already registered by {holder}")]
    Taken {
        path: String,
        plugin: String,
        kind: &'static str,
        name: String,
        holder: String,
    },
    /// An alias the plugin declares is already an alias of other fields, and
    /// the plugin did not ask to join that group.
    #[error(
        "plugin '{plugin}' ({path}): alias '{alias}' of field '{field}' is already an alias of {holders}; \
         declare it as '+{alias}' to join that alias group (a column then shows whichever field occurs first)"
    )]
    AliasGroup {
        path: String,
        plugin: String,
        alias: String,
        field: String,
        holders: String,
    },
    #[error("plugin folder {dir} (from {PLUGIN_PATH_ENV}): {source}")]
    Dir {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

/// A field as `pcapx plugins` lists it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FieldInfo {
    pub name: String,
    pub display: String,
    /// `pcapx fields` type name (`uint8`, `time_ns`, `string`, …).
    #[serde(rename = "type")]
    pub ftype: String,
    pub description: String,
    pub aliases: Vec<String>,
}

/// A dispatch binding (`udp.port` = 123).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BindingInfo {
    pub table: String,
    pub key: u64,
    /// Who holds this binding instead (a built-in, or an earlier plugin: the
    /// first binding of a key wins), when the plugin's binding is inactive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadowed_by: Option<String>,
}

/// One protocol a plugin declares.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ProtocolInfo {
    pub name: String,
    pub display: String,
    pub summary_name: String,
    pub fields: Vec<FieldInfo>,
    pub bindings: Vec<BindingInfo>,
    /// Tables whose unclaimed payloads the protocol's heuristic is offered.
    pub heuristics: Vec<String>,
    pub anomalies: Vec<String>,
}

/// A loaded plugin's metadata.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub path: String,
    /// `major.minor` of the ABI the plugin was built against.
    pub abi: String,
    pub single_threaded: bool,
    pub protocols: Vec<ProtocolInfo>,
}

/// The data behind `pcapx plugins [--json]`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Listing {
    /// The plugin ABI this pcapx implements (`1.0`).
    pub host_abi: String,
    pub plugins: Vec<PluginInfo>,
}

impl Listing {
    pub fn new(plugins: &[LoadedPlugin]) -> Listing {
        Listing {
            host_abi: format!(
                "{}.{}",
                pcapx_plugin_abi::ABI_MAJOR,
                pcapx_plugin_abi::ABI_MINOR
            ),
            plugins: plugins.iter().map(|p| p.info.clone()).collect(),
        }
    }

    /// Marks every binding that another protocol holds in `engine` (built
    /// from the built-ins and these plugins) as shadowed: it is listed, but
    /// it never dispatches.
    pub fn mark_shadowed(&mut self, engine: &pcapx_core::Engine) {
        let reg = engine.registry();
        let active = engine.bindings();
        for p in &mut self.plugins {
            for pr in &mut p.protocols {
                for b in &mut pr.bindings {
                    let owner = active
                        .iter()
                        .find(|&&(t, k, _)| t == b.table && k == b.key)
                        .map(|&(_, _, owner)| owner);
                    if let Some(owner) = owner
                        && owner != pr.name
                        && let Some(id) = reg.proto_by_name(owner)
                    {
                        b.shadowed_by = Some(holder(owner, &reg.protocol(id).origin));
                    }
                }
            }
        }
    }

    /// Pretty JSON (`pcapx plugins --json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Human-readable text (`pcapx plugins`).
    pub fn render_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        if self.plugins.is_empty() {
            let _ = writeln!(
                s,
                "no plugins loaded (use --plugin PATH or {PLUGIN_PATH_ENV}; plugin ABI {})",
                self.host_abi
            );
            return s;
        }
        for p in &self.plugins {
            let _ = writeln!(
                s,
                "{} {} (ABI {}{}) {}",
                p.name,
                p.version,
                p.abi,
                if p.single_threaded {
                    ", single-threaded"
                } else {
                    ""
                },
                p.path
            );
            if !p.description.is_empty() {
                let _ = writeln!(s, "  {}", p.description);
            }
            for pr in &p.protocols {
                let mut binds: Vec<String> = pr
                    .bindings
                    .iter()
                    .map(|b| match &b.shadowed_by {
                        Some(h) => format!("{}={} (shadowed by {h})", b.table, b.key),
                        None => format!("{}={}", b.table, b.key),
                    })
                    .collect();
                binds.extend(pr.heuristics.iter().map(|h| format!("{h} (heuristic)")));
                let _ = writeln!(
                    s,
                    "  protocol {} \"{}\": {} fields; {}",
                    pr.name,
                    pr.display,
                    pr.fields.len(),
                    if binds.is_empty() {
                        "no bindings".to_owned()
                    } else {
                        binds.join(", ")
                    }
                );
                for f in &pr.fields {
                    let _ = writeln!(s, "    {:<28} {:<8} {}", f.name, f.ftype, f.display);
                }
            }
        }
        s
    }
}

/// A plugin that has been loaded (and is never unloaded).
pub struct LoadedPlugin {
    info: PluginInfo,
    desc: PluginDesc,
    fns: Vec<ProtoFns>,
    lock: Option<Arc<Mutex<()>>>,
    /// Index in the crash-report registry ([`crash`]).
    crash_id: u32,
    /// Failures counted across all of the plugin's protocols and threads.
    failures: Arc<Failures>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl LoadedPlugin {
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }
    pub fn name(&self) -> &str {
        &self.info.name
    }
    pub fn path(&self) -> &str {
        &self.info.path
    }

    /// One fresh dissector per protocol (they share the plugin's state); the
    /// plugin's name is their origin.
    pub fn dissectors(&self) -> Vec<Box<dyn Dissector>> {
        self.desc
            .protocols
            .iter()
            .zip(&self.fns)
            .map(|(d, f)| {
                Box::new(PluginDissector::new(
                    &self.info.name,
                    &self.info.path,
                    Arc::new(d.clone()),
                    *f,
                    self.lock.clone(),
                    self.crash_id,
                    Arc::clone(&self.failures),
                )) as Box<dyn Dissector>
            })
            .collect()
    }

    /// Register every protocol of the plugin with `b` (after the built-ins).
    /// A name clash (`ip.src` is taken) is an error naming the plugin file.
    pub fn add_to(&self, b: &mut EngineBuilder) -> Result<(), PluginError> {
        let err = |source| PluginError::Register {
            path: self.info.path.clone(),
            plugin: self.info.name.clone(),
            source,
        };
        let reg = b.registry();
        let taken = |kind: &'static str, name: &str, proto: ProtoId| {
            let p = reg.protocol(proto);
            PluginError::Taken {
                path: self.info.path.clone(),
                plugin: self.info.name.clone(),
                kind,
                name: name.to_owned(),
                holder: holder(&p.name, &p.origin),
            }
        };
        // Report a taken field name as such (before the protocol name clash
        // the registry would otherwise report first), naming who holds it.
        for p in &self.desc.protocols {
            if let Some((f, id)) = p
                .fields
                .iter()
                .find_map(|f| reg.field_by_name(&f.name).map(|id| (f, id)))
            {
                return Err(taken("field", &f.name, reg.field(id).proto));
            }
            if let Some(id) = reg.proto_by_name(&p.name) {
                return Err(taken("protocol", &p.name, id));
            }
            // Joining an existing alias group (`sport`) takes an explicit
            // `+sport`; a plain alias that is already taken is an error.
            for f in &p.fields {
                for a in f.aliases.iter().filter(|a| !a.starts_with('+')) {
                    if let Some(col) = reg.aliases().iter().find(|c| c.name == *a) {
                        let holders = col
                            .fields
                            .iter()
                            .map(|&id| {
                                let fd = reg.field(id);
                                let p = reg.protocol(fd.proto);
                                format!("{} ({})", fd.name, origin_text(&p.origin))
                            })
                            .collect::<Vec<_>>()
                            .join(", ");
                        return Err(PluginError::AliasGroup {
                            path: self.info.path.clone(),
                            plugin: self.info.name.clone(),
                            alias: a.clone(),
                            field: f.name.clone(),
                            holders,
                        });
                    }
                }
            }
        }
        for d in self.dissectors() {
            b.add(d, &self.info.name).map_err(err)?;
        }
        Ok(())
    }
}

/// "built-in protocol 'ip'" or "protocol 'ntp' of plugin 'ntp'".
fn holder(proto: &str, origin: &str) -> String {
    if origin == "built-in" {
        format!("built-in protocol '{proto}'")
    } else {
        format!("protocol '{proto}' of plugin '{origin}'")
    }
}

fn origin_text(origin: &str) -> String {
    if origin == "built-in" {
        "built-in".to_owned()
    } else {
        format!("plugin '{origin}'")
    }
}

/// Register several plugins, in order, then check their bindings: a binding
/// into a table no dissector (built-in or plugin) declares is an error naming
/// the plugin, the protocol and the table.
pub fn add_all(plugins: &[LoadedPlugin], b: &mut EngineBuilder) -> Result<(), PluginError> {
    plugins.iter().try_for_each(|p| p.add_to(b))?;
    if let Err(source) = b.check()
        && let Some(p) = plugins.iter().find(|p| p.info.name == source.origin())
    {
        return Err(PluginError::Bind {
            path: p.info.path.clone(),
            plugin: p.info.name.clone(),
            source: Box::new(source),
        });
    }
    // Anything else is not a plugin's mistake: `EngineBuilder::build` reports it.
    Ok(())
}

/// Load one plugin file. Call at start-up, before any worker runs.
pub fn load(path: impl AsRef<Path>) -> Result<LoadedPlugin, PluginError> {
    let path = path.as_ref();
    let (desc, fns) = ffi::open(path)?;
    from_parts(desc, fns, path.display().to_string())
}

pub(crate) fn from_parts(
    desc: PluginDesc,
    fns: Vec<ffi::ProtoFns>,
    file: String,
) -> Result<LoadedPlugin, PluginError> {
    check_names(&desc, &file)?;
    let info = PluginInfo {
        name: desc.name.clone(),
        version: desc.version.clone(),
        description: desc.description.clone(),
        path: file,
        abi: format!("{}.{}", desc.abi_major, desc.abi_minor),
        single_threaded: desc.single_threaded,
        protocols: desc
            .protocols
            .iter()
            .map(|p| ProtocolInfo {
                name: p.name.clone(),
                display: p.display.clone(),
                summary_name: p.summary_name.clone(),
                fields: p
                    .fields
                    .iter()
                    .map(|f| FieldInfo {
                        name: f.name.clone(),
                        display: f.display.clone(),
                        ftype: f.ftype.name().to_owned(),
                        description: f.description.clone(),
                        aliases: f.aliases.clone(),
                    })
                    .collect(),
                bindings: p
                    .bindings
                    .iter()
                    .map(|(t, k)| BindingInfo {
                        table: t.clone(),
                        key: *k,
                        shadowed_by: None,
                    })
                    .collect(),
                heuristics: p.heuristics.clone(),
                anomalies: p.anomalies.iter().map(|a| a.name.clone()).collect(),
            })
            .collect(),
    };
    let lock = desc.single_threaded.then(|| Arc::new(Mutex::new(())));
    let crash_id = crash::register(&info.name, &info.path);
    let failures = Arc::new(Failures::default());
    FAILURES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((info.name.clone(), Arc::clone(&failures)));
    Ok(LoadedPlugin {
        info,
        desc,
        fns,
        lock,
        crash_id,
        failures,
    })
}

static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Show the loader's minor warnings (a missing `PCAPX_PLUGIN_PATH` folder)
/// on standard error: the binary's `-v`.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn warn(msg: &str) {
    if VERBOSE.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("pcapx: warning: {msg}");
    }
}

/// Every loaded plugin's failure counters, for [`failure_report`].
static FAILURES: Mutex<Vec<(String, Arc<Failures>)>> = Mutex::new(Vec::new());

/// One line per plugin that panicked during the run (`plugin gamex
/// panicked on 5 packets`), for the binary to print at exit.
pub fn failure_report() -> Vec<String> {
    FAILURES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .filter(|(_, f)| f.panics() > 0)
        .map(|(name, f)| {
            let n = f.panics();
            format!(
                "plugin {name} panicked on {n} packet{}",
                if n == 1 { "" } else { "s" }
            )
        })
        .collect()
}

/// Duplicate names inside one plugin are reported at load time (clashes with
/// other dissectors are found when registering: [`LoadedPlugin::add_to`]).
fn check_names(desc: &PluginDesc, file: &str) -> Result<(), PluginError> {
    let mut protos = std::collections::HashSet::new();
    let mut fields = std::collections::HashSet::new();
    let err = |reason: String| PluginError::Declaration {
        path: file.to_owned(),
        reason: format!("plugin '{}': {reason}", desc.name),
    };
    if desc.protocols.is_empty() {
        return Err(err("declares no protocol".into()));
    }
    for p in &desc.protocols {
        if !protos.insert(p.name.as_str()) {
            return Err(err(format!("protocol '{}' is declared twice", p.name)));
        }
        for f in &p.fields {
            if !fields.insert(f.name.as_str()) {
                return Err(err(format!("field '{}' is declared twice", f.name)));
            }
        }
    }
    Ok(())
}

/// The `*.so` files of the folders in `PCAPX_PLUGIN_PATH`, each folder's
/// files sorted by name (folders in the variable's order).
pub fn env_plugin_files() -> Result<Vec<PathBuf>, PluginError> {
    match std::env::var_os(PLUGIN_PATH_ENV) {
        Some(var) => plugin_files_in(&var),
        None => Ok(Vec::new()),
    }
}

/// The `*.so` files of a `:`-separated list of folders (the format of
/// `PCAPX_PLUGIN_PATH`), each folder's files sorted by name.
pub fn plugin_files_in(list: &std::ffi::OsStr) -> Result<Vec<PathBuf>, PluginError> {
    let mut out = Vec::new();
    for dir in std::env::split_paths(list) {
        if dir.as_os_str().is_empty() {
            continue;
        }
        let io = |source| PluginError::Dir {
            dir: dir.display().to_string(),
            source,
        };
        // A folder that does not exist (the guide's `/opt/pcapx/plugins`
        // on a machine without it) is skipped, with a warning under `-v`.
        if !dir.exists() {
            warn(&format!(
                "plugin folder {} (from {PLUGIN_PATH_ENV}) does not exist; skipped",
                dir.display()
            ));
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        files.retain(|p| p.extension().is_some_and(|e| e == "so") && p.is_file());
        files.sort();
        out.extend(files);
    }
    Ok(out)
}

/// Load every plugin in `PCAPX_PLUGIN_PATH`.
pub fn load_from_env() -> Result<Vec<LoadedPlugin>, PluginError> {
    env_plugin_files()?.iter().map(load).collect()
}

/// Load the plugins of `PCAPX_PLUGIN_PATH` then the explicit `paths`
/// (`--plugin PATH`, repeatable); a file named twice is loaded once.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<LoadedPlugin>, PluginError> {
    let mut files = env_plugin_files()?;
    files.extend(paths.iter().cloned());
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for f in files {
        let key = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
        if seen.insert(key) {
            match load(&f) {
                Ok(p) => out.push(p),
                // The plugin said no: skip it, and say so.
                Err(e @ PluginError::Refused { .. }) => {
                    eprintln!("pcapx: warning: {e}; skipped");
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(out)
}
