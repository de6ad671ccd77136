//! The input of a reading job: one or more captures read in order as one
//! stream (`pcapx summary a.pcap b.pcap dir/ 'day-*.pcap'`).
//!
//! [`expand`] turns the arguments into files: a directory stands for its
//! capture files (names ending in `.pcap`, `.pcapng`, `.cap` or `.dmp`,
//! optionally `.gz`/`.zst`; in byte order of their names; not recursive), a
//! pattern with `*`, `?` or `[…]` that names no existing file is expanded by
//! pcapx (so it works when the shell did not, e.g. quoted), in name order;
//! anything else is a file (`-` is standard input, at most once).
//!
//! [`Source`] opens the files one at a time, in argument order, as
//! `mergecap -a` would concatenate them: record numbers continue across files
//! (the first record of the second file is numbered after the last of the
//! first), the filter and the `-c` limit apply to the whole stream, and the
//! stateful passes (stream numbering, defragmentation, desegmentation,
//! flows) carry their state from one file to the next. Every batch comes
//! from exactly one file ([`Source::file`], the `frame.file` field).

use std::sync::Arc;

use pcapx_capture::{Batch, Capture, CaptureError, DEFAULT_BATCH_BYTES, DEFAULT_BATCH_RECORDS};

use crate::input::{open_file, report_damage};
use crate::{Error, PacketFilter};

/// File name endings a directory's capture files have (before an optional
/// `.gz`/`.zst`).
pub const CAPTURE_SUFFIXES: [&str; 4] = [".pcap", ".pcapng", ".cap", ".dmp"];

/// Whether a directory entry of this name is read as a capture file.
pub fn is_capture_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let base = lower
        .strip_suffix(".gz")
        .or_else(|| lower.strip_suffix(".zst"))
        .unwrap_or(&lower);
    CAPTURE_SUFFIXES.iter().any(|s| base.ends_with(s))
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// A directory's capture files, in byte order of their names.
fn dir_files(dir: &str) -> Result<Vec<String>, Error> {
    let io = |err| {
        Error::Capture(CaptureError::Io {
            path: dir.to_owned(),
            err,
        })
    };
    let mut names: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !is_capture_name(&name) {
            continue;
        }
        // Directories named like captures are not descended into.
        if entry.path().is_dir() {
            continue;
        }
        names.push(name);
    }
    if names.is_empty() {
        return Err(Error::Usage(format!(
            "{dir}: no capture files in this directory (names ending in .pcap, .pcapng, .cap or .dmp, optionally .gz/.zst)"
        )));
    }
    names.sort_unstable();
    let sep = if dir.ends_with('/') { "" } else { "/" };
    Ok(names
        .into_iter()
        .map(|n| format!("{dir}{sep}{n}"))
        .collect())
}

/// The files the arguments name, in order (see the module documentation).
/// A missing file is an error naming it, before anything is read.
pub fn expand<S: AsRef<str>>(args: &[S]) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for arg in args {
        let arg = arg.as_ref();
        if arg == "-" {
            out.push(arg.to_owned());
            continue;
        }
        let meta = std::fs::metadata(arg);
        if meta.as_ref().is_ok_and(std::fs::Metadata::is_dir) {
            out.extend(dir_files(arg)?);
            continue;
        }
        if meta.is_err() && has_glob_chars(arg) {
            let paths =
                glob::glob(arg).map_err(|e| Error::Usage(format!("{arg}: bad pattern: {e}")))?;
            let mut found = Vec::new();
            for p in paths {
                let p = p.map_err(|e| {
                    let path = e.path().display().to_string();
                    Error::Capture(CaptureError::Io {
                        path,
                        err: e.into(),
                    })
                })?;
                let s = p.display().to_string();
                if p.is_dir() {
                    found.extend(dir_files(&s)?);
                } else {
                    found.push(s);
                }
            }
            if found.is_empty() {
                return Err(Error::Usage(format!("{arg}: no file matches")));
            }
            out.extend(found);
            continue;
        }
        if let Err(err) = meta {
            return Err(Error::Capture(CaptureError::Io {
                path: arg.to_owned(),
                err,
            }));
        }
        out.push(arg.to_owned());
    }
    if out.iter().filter(|p| *p == "-").count() > 1 {
        return Err(Error::Usage(
            "standard input (`-`) can be read only once".to_owned(),
        ));
    }
    if out.is_empty() {
        return Err(Error::Usage("no capture given".to_owned()));
    }
    Ok(out)
}

/// One or more captures read in order as one stream, with the packet
/// filter compiled for each (see the module documentation).
pub struct Source {
    paths: Vec<Arc<str>>,
    /// Index of the current file in `paths`.
    at: usize,
    cap: Capture,
    expr: Option<String>,
    filter: PacketFilter,
    /// Records of the files before the current one.
    base: u64,
    /// Damage events of the files before the current one.
    damaged: u64,
    /// The current file's damage was reported.
    reported: bool,
}

impl Source {
    /// Expand `args` ([`expand`]) and open the first file, with the filter
    /// expression `expr` (checked here, so a bad one fails before any
    /// output).
    pub fn open<S: AsRef<str>>(args: &[S], expr: Option<&str>) -> Result<Source, Error> {
        let paths: Vec<Arc<str>> = expand(args)?.into_iter().map(Arc::from).collect();
        let first = paths
            .first()
            .cloned()
            .ok_or_else(|| Error::Usage("no capture given".to_owned()))?;
        let cap = open_file(&first)?;
        Source::new(paths, cap, expr)
    }

    /// The source of `paths` with the first already open as `cap`.
    fn new(paths: Vec<Arc<str>>, cap: Capture, expr: Option<&str>) -> Result<Source, Error> {
        let name = paths.first().map_or("", |p| &**p);
        let filter = PacketFilter::for_capture(name, expr, &cap)?;
        Ok(Source {
            paths,
            at: 0,
            cap,
            expr: expr.map(str::to_owned),
            filter,
            base: 0,
            damaged: 0,
            reported: false,
        })
    }

    /// A source of one capture already open (a live capture), named `name`
    /// in messages.
    pub fn from_capture(cap: Capture, name: &str, expr: Option<&str>) -> Result<Source, Error> {
        Source::new(vec![Arc::from(name)], cap, expr)
    }

    /// The files, in reading order.
    pub fn paths(&self) -> &[Arc<str>] {
        &self.paths
    }

    /// The file being read (the one the last batch came from).
    pub fn file(&self) -> &Arc<str> {
        &self.paths[self.at.min(self.paths.len() - 1)]
    }

    /// The inputs for messages about the whole stream: the file, or the
    /// files joined by `, `.
    pub fn label(&self) -> String {
        self.paths
            .iter()
            .map(|p| &**p)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The capture being read.
    pub fn capture(&self) -> &Capture {
        &self.cap
    }

    /// The capture being read and its filter.
    pub fn parts(&mut self) -> (&mut Capture, &mut PacketFilter) {
        (&mut self.cap, &mut self.filter)
    }

    /// The current file's packet filter.
    pub fn filter_mut(&mut self) -> &mut PacketFilter {
        &mut self.filter
    }

    /// A live capture (one interface set, never several files).
    pub fn is_live(&self) -> bool {
        self.cap.is_live()
    }

    /// Damage events over every file read so far.
    pub fn damage_count(&self) -> u64 {
        self.damaged + self.cap.damage_count()
    }

    /// Tell the user what the reader skipped in the current file (earlier
    /// files were reported when the next one was opened); once per file.
    pub fn report_damage(&mut self) {
        if !self.reported {
            report_damage(&self.cap);
            self.reported = true;
        }
    }

    /// Everything read so far from the current file is still the file's own
    /// ([`Capture::check_intact`]).
    pub fn check_intact(&self) -> Result<(), CaptureError> {
        self.cap.check_intact()
    }

    /// Finish the current file and open the next one; `false` when the
    /// current one was the last.
    pub fn advance(&mut self) -> Result<bool, Error> {
        if self.at + 1 >= self.paths.len() {
            return Ok(false);
        }
        self.cap.check_intact()?;
        self.report_damage();
        self.damaged += self.cap.damage_count();
        self.base += self.cap.records_read();
        let next = Arc::clone(&self.paths[self.at + 1]);
        let mut cap = open_file(&next)?;
        cap.set_number_base(self.base);
        self.filter = PacketFilter::for_capture(&next, self.expr.as_deref(), &cap)?;
        self.cap = cap;
        self.at += 1;
        self.reported = false;
        Ok(true)
    }

    /// The next batch of the stream (moving on to the next file at the end
    /// of one), or `None` at the end of the last.
    pub fn next_batch(&mut self) -> Result<Option<Batch>, Error> {
        loop {
            if let Some(b) = self
                .cap
                .next_batch(DEFAULT_BATCH_RECORDS, DEFAULT_BATCH_BYTES)?
            {
                return Ok(Some(b));
            }
            if !self.advance()? {
                return Ok(None);
            }
        }
    }
}
