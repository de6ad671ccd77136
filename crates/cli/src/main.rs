//! `pcapx` — read, filter, inspect, tabulate and summarise packet captures.
//!
//! This binary is the only place that uses `anyhow`; every library crate
//! reports `thiserror` errors. `main` prints the whole cause chain prefixed by
//! `pcapx: ` and exits 2; a closed pipe (`pcapx summary big.pcap | head`) exits
//! quietly with 0. SIGINT/SIGTERM stop the run at the next batch: exit 130
//! or 143, with no partial output file left behind (see `signals`).

mod cli;
mod cmd;
mod engine;
mod filter;
mod input;
mod outfile;
mod signals;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = signals::install().and_then(|()| cmd::run(args));
    // Plugin panics: the first was reported with its packet; the count now.
    for line in pcapx_plugin_host::failure_report() {
        eprintln!("pcapx: {line}");
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            if let Some(sig) = e
                .chain()
                .find_map(|c| c.downcast_ref::<signals::Interrupted>())
            {
                eprintln!(
                    "pcapx: {sig}; unfinished output files were removed (existing files are unchanged)"
                );
                return ExitCode::from(sig.exit_code());
            }
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

/// Is any cause in the chain an `io::Error` of kind `BrokenPipe`? Library
/// errors carry their I/O causes as `source()`, so no message is searched.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::is_broken_pipe;
    use std::io;

    fn pipe() -> io::Error {
        io::Error::from(io::ErrorKind::BrokenPipe)
    }

    #[test]
    fn a_broken_pipe_is_found_by_kind_anywhere_in_the_chain() {
        let read = pcapx_capture::CaptureError::Io {
            path: "<stdout>".into(),
            err: pipe(),
        };
        assert!(is_broken_pipe(&anyhow::Error::new(read).context("summary")));
        let write = pcapx_capture::CopyError::Write(pipe());
        assert!(is_broken_pipe(&anyhow::Error::new(write)));
        let out = pcapx_output::OutputError::Io(pipe());
        assert!(is_broken_pipe(
            &anyhow::Error::new(out).context("writing CSV")
        ));
    }

    #[test]
    fn other_errors_are_not_a_broken_pipe_whatever_their_text() {
        let denied = pcapx_capture::CaptureError::Io {
            path: "x.pcap".into(),
            err: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(!is_broken_pipe(&anyhow::Error::new(denied)));
        // Text is not evidence: only the kind counts.
        assert!(!is_broken_pipe(&anyhow::anyhow!(
            "Broken pipe (os error 32)"
        )));
    }
}
