//! Building the dissection engine: built-ins, then plugins, then freeze.

use anyhow::{Context, Result};
use pcapx_core::Engine;

/// The engine with every built-in dissector registered and the registry frozen.
pub fn build() -> Result<Engine> {
    let b = pcapx_dissectors::builder().context("registering the built-in dissectors")?;
    Ok(b.build())
}
