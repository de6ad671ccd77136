//! Building the dissection engine: built-ins, then plugins (PCAPX_PLUGIN_PATH
//! folders, then the given plugin files), then freeze. Plugins are loaded
//! once, here, before any worker runs, and never unloaded.

use std::path::PathBuf;

use pcapx_core::Engine;

use crate::Error;

/// The engine with every built-in dissector and plugin registered and the
/// registry frozen.
pub fn build(plugins: &[PathBuf]) -> Result<Engine, Error> {
    let mut b = pcapx_dissectors::builder().map_err(|e| Error::Engine {
        context: "registering the built-in dissectors",
        source: Box::new(e),
    })?;
    let loaded = pcapx_plugin_host::load_all(plugins)?;
    if !loaded.is_empty() {
        // A plugin that crashes the process first removes our temporaries.
        pcapx_plugin_host::crash::set_cleanup(pcapx_output::atomic::remove_temporaries_now);
    }
    pcapx_plugin_host::add_all(&loaded, &mut b)?;
    b.build().map_err(|e| Error::Engine {
        context: "freezing the dissector registry",
        source: Box::new(e),
    })
}
