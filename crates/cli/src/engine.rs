//! Building the dissection engine lives in `pcapx_facade::engine`, shared
//! with the Python package.

pub use pcapx_facade::engine::build;
