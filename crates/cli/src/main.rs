//! `pcapx` — read, filter, inspect, tabulate and summarise packet captures.
//!
//! This binary is the only place that uses `anyhow`; every library crate
//! reports `thiserror` errors. `main` prints the whole cause chain prefixed by
//! `pcapx: ` and exits 2; a closed pipe (`pcapx summary big.pcap | head`) exits
//! quietly with 0.

mod cli;
mod cmd;
mod engine;
mod filter;
mod input;
mod table;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cmd::run(args) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let mut msg = format!("pcapx: {e}");
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            eprintln!("{msg}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.to_string().contains("Broken pipe")
    })
}
