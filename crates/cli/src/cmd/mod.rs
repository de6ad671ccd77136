//! One module per command; [`run`] dispatches.

mod convert;
mod count;
mod describe;
mod fields;
mod info;
mod show;
mod stats;
mod summary;
mod unique;

use std::process::ExitCode;

use anyhow::Result;
use pcapx_core::Engine;

use crate::cli::{Cli, Command, Input};
use crate::filter::PacketFilter;

/// What every capture-reading command needs: the frozen engine.
pub struct Ctx {
    pub engine: Engine,
}

impl Ctx {
    pub fn new() -> Result<Ctx> {
        Ok(Ctx {
            engine: crate::engine::build()?,
        })
    }

    /// The packet filter for `--filter` (compiled per link type on first use).
    pub fn filter(&self, input: &Input) -> Result<PacketFilter> {
        PacketFilter::new(input.filter.as_deref())
    }
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Command::Fields(a) => fields::run(&a),
        Command::Summary(a) => summary::run(&a, &Ctx::new()?),
        Command::Show(a) => show::run(&a, &Ctx::new()?),
        Command::Count(a) => count::run(&a, &Ctx::new()?),
        Command::Info(a) => info::run(&a, &Ctx::new()?),
        Command::Convert(a) => convert::run(&a, &Ctx::new()?),
        Command::Stats(a) => stats::run(&a, &Ctx::new()?),
        Command::Describe(a) => describe::run(&a, &Ctx::new()?),
        Command::Unique(a) => unique::run(&a, &Ctx::new()?),
    }
}
