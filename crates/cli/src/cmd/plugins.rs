//! `pcapx plugins`: what is loaded — name, version, ABI version, protocols,
//! fields, bindings.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::PluginsArgs;

pub fn run(a: &PluginsArgs, plugins: &[PathBuf]) -> Result<ExitCode> {
    let loaded = pcapx_plugin_host::load_all(plugins)?;
    // Registering them checks the same things a real run would (duplicate
    // names, clashes with built-ins).
    let mut b = pcapx_dissectors::builder()?;
    pcapx_plugin_host::add_all(&loaded, &mut b)?;
    let engine = b.build()?;
    let mut listing = pcapx_plugin_host::Listing::new(&loaded);
    // A binding a built-in (or an earlier plugin) holds never dispatches.
    listing.mark_shadowed(&engine);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.json {
        writeln!(out, "{}", listing.to_json())?;
    } else {
        write!(out, "{}", listing.render_text())?;
    }
    Ok(ExitCode::SUCCESS)
}
