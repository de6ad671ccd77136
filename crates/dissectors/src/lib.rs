//! Built-in dissectors. Each protocol is one module; every dissector registers
//! through [`pcapx_core::EngineBuilder::add`], the same path plugins take.
//!
//! Architecture invariant: dissectors never panic on input and never read outside
//! the slice they are given.

pub mod app;
pub mod infra;
pub mod net;
pub mod transport;

#[cfg(test)]
pub(crate) mod testutil;

use pcapx_core::{Dissector, EngineBuilder, RegistryError};

/// Every built-in dissector, in registration order (which is also the order in
/// which a shared alias such as `sport` tries its fields).
pub fn builtins() -> Vec<Box<dyn Dissector>> {
    let mut v = net::all();
    v.extend(transport::all());
    v.extend(app::all());
    v.extend(infra::all());
    v
}

/// An engine builder with all built-ins registered.
pub fn builder() -> Result<EngineBuilder, RegistryError> {
    let mut b = EngineBuilder::new();
    for d in builtins() {
        b.add(d, "built-in")?;
    }
    Ok(b)
}
