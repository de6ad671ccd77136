//! `convert -o DIR --partition-by date|hour|file`: the table as a
//! Hive-partitioned Parquet dataset (`DIR/date=2024-01-31/part-00000.parquet`,
//! `DIR/date=2024-01-31/hour=13/…`, `DIR/file=trace.pcap/…`) that Spark,
//! DuckDB and pyarrow read as one table, the partition columns coming from
//! the directory names (not stored in the files, as Hive does).
//!
//! **All or nothing**: the dataset is written into a temporary directory
//! next to DIR (`.pcapx-tmp-PID-N-NAME`, same file system), every file is
//! synced, and the directory is renamed to DIR at the end; an error, a
//! signal or a panic removes it (`Drop`), so DIR is complete or absent. DIR
//! must not exist or be an empty directory, and may not be inside (or be)
//! an input.
//!
//! **Bounded memory when rows arrive out of partition order**: each
//! partition being written has one open Parquet writer, which holds at most
//! one row group (128 Ki rows) before writing it out; at most
//! [`MAX_OPEN`] writers are open at once. When a row needs a partition
//! whose writer is not open and the cap is reached, the least recently used
//! writer is finished (its file is complete) and a later row of that
//! partition starts its next file (`part-00001.parquet`, …). Captures in
//! time order keep one or two partitions open; interleaved input costs
//! more, smaller files — never more memory.

use std::collections::HashMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pcapx_output::{ColumnBatch, ParquetWriter, TableSpec};

use crate::Error;

/// At most this many partition files are open (each holds up to a row group).
pub const MAX_OPEN: usize = 8;

/// How rows are split into partitions.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PartitionBy {
    /// `date=YYYY-MM-DD` (UTC) of the packet's capture time.
    Date,
    /// `date=YYYY-MM-DD/hour=H` (UTC, 0–23).
    Hour,
    /// `file=NAME`: the input file's name, sanitised.
    File,
}

/// A row's partition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Day(i64),
    Hour(i64, u8),
    File(Arc<str>),
}

const NS_PER_HOUR: i64 = 3_600_000_000_000;

// (year, month, day) of a day number since 1970-01-01 (proleptic
// Gregorian), the same conversion the time columns print with.
use pcapx_core::value::civil_from_days as civil;

/// A file name as a partition value: letters, digits, `.`, `_`, `-` kept,
/// anything else `_` (no `/`, `=`, `%` or spaces in directory names).
pub fn sanitise(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    let s: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match s.as_str() {
        "" | "." | ".." => format!("_{s}"),
        _ => s,
    }
}

struct Part {
    /// The partition's directory, relative to the dataset.
    rel: PathBuf,
    /// Files started so far.
    files: u32,
    writer: Option<ParquetWriter<BufWriter<std::fs::File>>>,
    used: u64,
}

/// A partitioned dataset being written (see the module documentation).
pub struct Dataset {
    by: PartitionBy,
    spec: TableSpec,
    target: PathBuf,
    tmp: PathBuf,
    parts: HashMap<Key, Part>,
    /// Sanitised file names taken, and by which input.
    file_names: HashMap<String, Arc<str>>,
    file_keys: HashMap<Arc<str>, String>,
    open: usize,
    tick: u64,
    rows: u64,
    committed: bool,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Write {
        path: path.display().to_string(),
        source,
    }
}

impl Dataset {
    /// Prepare `dir` for the rows of `spec`: refused when it exists and is
    /// not an empty directory, or when it is (or is inside) one of
    /// `inputs` (files or directories as the user gave them).
    pub fn create<S: AsRef<str>>(
        dir: &Path,
        inputs: &[S],
        by: PartitionBy,
        spec: &TableSpec,
    ) -> Result<Dataset, Error> {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Usage(format!("{}: not a directory name", dir.display())))?;
        let parent = match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let parent_abs = parent.canonicalize().map_err(io_err(&parent))?;
        let abs = parent_abs.join(name);
        for input in inputs {
            let input = input.as_ref();
            if input == "-" {
                continue;
            }
            let Ok(i) = Path::new(input).canonicalize() else {
                continue;
            };
            if abs == i || abs.starts_with(&i) {
                return Err(Error::Usage(format!(
                    "output {} is inside the input {input}",
                    dir.display()
                )));
            }
        }
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.is_dir() => {
                if std::fs::read_dir(dir)
                    .map_err(io_err(dir))?
                    .next()
                    .is_some()
                {
                    return Err(Error::Usage(format!(
                        "output directory {} exists and is not empty",
                        dir.display()
                    )));
                }
            }
            Ok(_) => {
                return Err(Error::Usage(format!(
                    "output {} exists and is not a directory",
                    dir.display()
                )));
            }
            Err(_) => {}
        }
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = parent_abs.join(format!(".pcapx-tmp-{}-{n}-{name}", std::process::id()));
        std::fs::create_dir(&tmp).map_err(io_err(&tmp))?;
        Ok(Dataset {
            by,
            spec: spec.clone(),
            target: parent_abs.join(name),
            tmp,
            parts: HashMap::new(),
            file_names: HashMap::new(),
            file_keys: HashMap::new(),
            open: 0,
            tick: 0,
            rows: 0,
            committed: false,
        })
    }

    /// The temporary directory (for tests and crash clean-up).
    pub fn temporary(&self) -> &Path {
        &self.tmp
    }

    fn key(&mut self, ts_ns: i64, file: &Arc<str>) -> Key {
        match self.by {
            PartitionBy::Date => Key::Day(ts_ns.div_euclid(NS_PER_HOUR * 24)),
            PartitionBy::Hour => {
                let h = ts_ns.div_euclid(NS_PER_HOUR);
                Key::Hour(
                    h.div_euclid(24),
                    u8::try_from(h.rem_euclid(24)).unwrap_or(0),
                )
            }
            PartitionBy::File => Key::File(Arc::clone(file)),
        }
    }

    fn rel(&mut self, key: &Key) -> PathBuf {
        let date = |d: i64| {
            let (y, m, dd) = civil(d);
            format!("date={y:04}-{m:02}-{dd:02}")
        };
        match key {
            Key::Day(d) => PathBuf::from(date(*d)),
            Key::Hour(d, h) => PathBuf::from(date(*d)).join(format!("hour={h}")),
            Key::File(f) => {
                if let Some(n) = self.file_keys.get(f) {
                    return PathBuf::from(format!("file={n}"));
                }
                let base = sanitise(f);
                let mut n = base.clone();
                let mut i = 2;
                while self.file_names.contains_key(&n) {
                    n = format!("{base}_{i}");
                    i += 1;
                }
                self.file_names.insert(n.clone(), Arc::clone(f));
                self.file_keys.insert(Arc::clone(f), n.clone());
                PathBuf::from(format!("file={n}"))
            }
        }
    }

    /// Add a batch of rows: `times[i]` is row i's capture time, `file` the
    /// input the batch was read from.
    pub fn write(
        &mut self,
        mut rows: ColumnBatch,
        times: &[i64],
        file: &Arc<str>,
    ) -> Result<(), Error> {
        let n = usize::try_from(rows.rows()).unwrap_or(usize::MAX);
        if n != times.len() {
            return Err(Error::Usage(format!(
                "partitioning: {n} rows but {} times",
                times.len()
            )));
        }
        let mut at = 0;
        while at < n {
            let key = self.key(times[at], file);
            let mut end = at + 1;
            while end < n && self.key(times[end], file) == key {
                end += 1;
            }
            let tail = rows.split_off(u64::try_from(end - at).unwrap_or(u64::MAX));
            self.write_run(key, rows)?;
            rows = tail;
            at = end;
        }
        Ok(())
    }

    fn write_run(&mut self, key: Key, rows: ColumnBatch) -> Result<(), Error> {
        self.tick += 1;
        self.rows += rows.rows();
        if !self.parts.contains_key(&key) {
            let rel = self.rel(&key);
            self.parts.insert(
                key.clone(),
                Part {
                    rel,
                    files: 0,
                    writer: None,
                    used: 0,
                },
            );
        }
        let open_now = self.parts.get(&key).is_some_and(|p| p.writer.is_some());
        if !open_now {
            if self.open >= MAX_OPEN {
                self.close_lru()?;
            }
            let tmp = self.tmp.clone();
            let spec = self.spec.clone();
            let Some(p) = self.parts.get_mut(&key) else {
                return Ok(());
            };
            let dir = tmp.join(&p.rel);
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            let path = dir.join(format!("part-{:05}.parquet", p.files));
            let f = std::fs::File::create(&path).map_err(io_err(&path))?;
            p.writer = Some(ParquetWriter::new(
                BufWriter::with_capacity(1 << 16, f),
                &spec,
            )?);
            p.files += 1;
            self.open += 1;
        }
        let tick = self.tick;
        if let Some(p) = self.parts.get_mut(&key)
            && let Some(w) = p.writer.as_mut()
        {
            p.used = tick;
            w.write(rows)?;
        }
        Ok(())
    }

    fn close_lru(&mut self) -> Result<(), Error> {
        let lru = self
            .parts
            .iter()
            .filter(|(_, p)| p.writer.is_some())
            .min_by_key(|(_, p)| p.used)
            .map(|(k, _)| k.clone());
        if let Some(k) = lru
            && let Some(p) = self.parts.get_mut(&k)
            && let Some(w) = p.writer.take()
        {
            w.finish()?;
            self.open -= 1;
        }
        Ok(())
    }

    /// Finish every file, sync them, and rename the dataset to its name.
    /// Returns the rows written.
    pub fn commit(mut self) -> Result<u64, Error> {
        let mut keys: Vec<Key> = self.parts.keys().cloned().collect();
        keys.sort();
        for k in &keys {
            if let Some(p) = self.parts.get_mut(k)
                && let Some(w) = p.writer.take()
            {
                w.finish()?;
            }
        }
        self.open = 0;
        crate::interrupt::check()?;
        sync_tree(&self.tmp)?;
        if std::fs::symlink_metadata(&self.target).is_ok() {
            // An empty directory (checked at the start): rename replaces it.
            if std::fs::read_dir(&self.target)
                .map_err(io_err(&self.target))?
                .next()
                .is_some()
            {
                return Err(Error::Usage(format!(
                    "output directory {} was filled meanwhile",
                    self.target.display()
                )));
            }
        }
        std::fs::rename(&self.tmp, &self.target).map_err(io_err(&self.target))?;
        self.committed = true;
        if let Some(parent) = self.target.parent()
            && let Ok(d) = std::fs::File::open(parent)
        {
            let _ = d.sync_all();
        }
        Ok(self.rows)
    }
}

/// fsync every file and directory under `dir` (depth first).
fn sync_tree(dir: &Path) -> Result<(), Error> {
    for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let p = e.map_err(io_err(dir))?.path();
        if p.is_dir() {
            sync_tree(&p)?;
        } else {
            std::fs::File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(io_err(&p))?;
        }
    }
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_err(dir))
}

impl Drop for Dataset {
    fn drop(&mut self) {
        if !self.committed {
            for p in self.parts.values_mut() {
                p.writer = None;
            }
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_753), (2024, 1, 31));
        assert_eq!(civil(19_782), (2024, 2, 29));
        assert_eq!(civil(-1), (1969, 12, 31));
        assert_eq!(civil(11_016), (2000, 2, 29));
    }

    #[test]
    fn sanitised_names() {
        assert_eq!(sanitise("dir/trace 1.pcap"), "trace_1.pcap");
        assert_eq!(sanitise("a=b%c.pcap.gz"), "a_b_c.pcap.gz");
        assert_eq!(sanitise(".."), "_..");
    }
}
