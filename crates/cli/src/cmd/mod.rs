//! One module per command; [`run`] dispatches.

mod capture;
mod conversations;
mod convert;
mod count;
mod describe;
mod fields;
mod filter;
mod flows;
mod follow;
mod info;
mod plugins;
mod show;
mod stats;
mod summary;
mod unique;

use std::process::ExitCode;

use anyhow::Result;
use pcapx_core::Engine;

pub use capture::{announce, live_config};
pub use info::linktype_name;

use crate::cli::{Cli, Command};

/// What every capture-reading command needs: the frozen engine (built-ins
/// plus any plugins).
pub struct Ctx {
    pub engine: Engine,
}

impl Ctx {
    pub fn new(plugins: &[std::path::PathBuf]) -> Result<Ctx> {
        Ok(Ctx {
            engine: crate::engine::build(plugins)?,
        })
    }
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let p = &cli.plugins;
    // The plugin loader's minor warnings: under -v, and always for `plugins`.
    pcapx_plugin_host::set_verbose(match &cli.cmd {
        Command::Convert(a) => a.verbose,
        Command::Filter(a) => a.verbose,
        Command::Flows(a) => a.verbose,
        Command::Plugins(_) => true,
        _ => false,
    });
    match cli.cmd {
        Command::Fields(a) => fields::run(&a, &Ctx::new(p)?),
        Command::Summary(a) => summary::run(&a, &Ctx::new(p)?),
        Command::Show(a) => show::run(&a, &Ctx::new(p)?),
        Command::Count(a) => count::run(&a, &Ctx::new(p)?),
        Command::Info(a) => info::run(&a, &Ctx::new(p)?),
        Command::Convert(a) => convert::run(&a, &Ctx::new(p)?),
        Command::Stats(a) => stats::run(&a, &Ctx::new(p)?),
        Command::Describe(a) => describe::run(&a, &Ctx::new(p)?),
        Command::Unique(a) => unique::run(&a, &Ctx::new(p)?),
        Command::Flows(a) => flows::run(&a, &Ctx::new(p)?),
        Command::Follow(a) => follow::run(&a, &Ctx::new(p)?),
        Command::Filter(a) => filter::run(&a),
        Command::Capture(a) => capture::run(&a, p),
        Command::Plugins(a) => plugins::run(&a, p),
    }
}
