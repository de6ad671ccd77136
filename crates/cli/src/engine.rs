//! Building the dissection engine: built-ins, then plugins (PCAPX_PLUGIN_PATH
//! folders, then `--plugin` files), then freeze. Plugins are loaded once, here,
//! before any worker runs, and never unloaded.

use std::path::PathBuf;

use anyhow::{Context, Result};
use pcapx_core::Engine;

/// The engine with every built-in dissector and plugin registered and the
/// registry frozen.
pub fn build(plugins: &[PathBuf]) -> Result<Engine> {
    let mut b = pcapx_dissectors::builder().context("registering the built-in dissectors")?;
    let loaded = pcapx_plugin_host::load_all(plugins)?;
    if !loaded.is_empty() {
        // A plugin that crashes the process first removes our temporaries.
        pcapx_plugin_host::crash::set_cleanup(pcapx_output::atomic::remove_temporaries_now);
    }
    pcapx_plugin_host::add_all(&loaded, &mut b)?;
    b.build().context("freezing the dissector registry")
}
