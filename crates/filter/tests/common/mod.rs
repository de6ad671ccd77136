//! Shared by the tcpdump conformance tests: reading captures with
//! `pcapx-capture` and asking tcpdump which records an expression matches.

#![allow(dead_code)]

pub mod exprs;

use std::path::Path;
use std::process::Command;

use pcapx_capture::{ByteOrder, Capture as CaptureFile};

/// One input record.
pub struct Record {
    pub wirelen: u32,
    pub data: Vec<u8>,
}

/// An input capture with one link type.
pub struct Capture {
    pub linktype: u32,
    /// Snapshot length of the (first) interface.
    pub snaplen: u32,
    /// Byte order of the (first) section, for `DLT_NULL`.
    pub little_endian: bool,
    pub records: Vec<Record>,
}

impl Capture {
    /// Whole `frames` (captured length = original length) of `linktype`.
    pub fn of_frames(linktype: u32, frames: &[Vec<u8>]) -> Capture {
        Capture {
            linktype,
            snaplen: 65535,
            little_endian: true,
            records: frames
                .iter()
                .map(|f| Record {
                    wirelen: u32::try_from(f.len()).unwrap(),
                    data: f.clone(),
                })
                .collect(),
        }
    }

    /// Write the records as a little-endian pcap file (one record a
    /// second), for tcpdump to read.
    pub fn write_pcap(&self, path: &Path) {
        let mut b = Vec::new();
        b.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&self.snaplen.to_le_bytes());
        b.extend_from_slice(&self.linktype.to_le_bytes());
        for (i, r) in self.records.iter().enumerate() {
            b.extend_from_slice(&u32::try_from(i).unwrap().to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(&u32::try_from(r.data.len()).unwrap().to_le_bytes());
            b.extend_from_slice(&r.wirelen.to_le_bytes());
            b.extend_from_slice(&r.data);
        }
        std::fs::write(path, b).unwrap();
    }
}

/// Read a pcap or pcapng file with `pcapx-capture`. `None` for anything
/// unreadable or damaged, and for pcapng files whose interfaces have different
/// link types (tcpdump cannot read those).
pub fn read_capture(path: &Path) -> Option<Capture> {
    let mut file = CaptureFile::open(path).ok()?;
    let mut records = Vec::new();
    let mut linktypes = Vec::new();
    file.for_each(|rec| {
        if !linktypes.contains(&rec.linktype) {
            linktypes.push(rec.linktype);
        }
        records.push(Record {
            wirelen: rec.wirelen,
            data: rec.data.to_vec(),
        });
    })
    .ok()?;
    if file.damage_count() > 0 {
        return None;
    }
    let info = file.info();
    for i in &info.interfaces {
        if !linktypes.contains(&i.linktype) {
            linktypes.push(i.linktype);
        }
    }
    let [linktype] = linktypes[..] else {
        return None;
    };
    let little_endian = info.sections.first()?.byte_order == ByteOrder::Little;
    let snaplen = info.interfaces.first().map_or(0, |i| i.snaplen);
    Some(Capture {
        linktype,
        snaplen,
        little_endian,
        records,
    })
}

/// Minimal reader for tcpdump's pcap output: (original length, bytes) per record.
pub fn read_pcap_output(bytes: &[u8]) -> Option<Vec<(u32, &[u8])>> {
    let magic = bytes.get(..4)?;
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return None,
    };
    let u32_at = |off: usize| -> Option<u32> {
        let b: [u8; 4] = bytes.get(off..off + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let mut records = Vec::new();
    let mut off = 24;
    while off < bytes.len() {
        let incl = usize::try_from(u32_at(off + 8)?).ok()?;
        let orig_len = u32_at(off + 12)?;
        records.push((orig_len, bytes.get(off + 16..off + 16 + incl)?));
        off += 16 + incl;
    }
    Some(records)
}

pub enum Outcome {
    Refused(String),
    Matches(Vec<usize>),
}

/// Run tcpdump with `expr` and map its output records back to input indices.
pub fn tcpdump(file: &Path, expr: &str, input: &Capture) -> Outcome {
    let mut cmd = Command::new("tcpdump");
    cmd.arg("-r").arg(file).arg("-w").arg("-");
    if !expr.is_empty() {
        cmd.arg("--").arg(expr);
    }
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => return Outcome::Refused(format!("could not run tcpdump: {e}")),
    };
    if !out.status.success() {
        return Outcome::Refused(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    let Some(got) = read_pcap_output(&out.stdout) else {
        return Outcome::Refused("unreadable tcpdump output".into());
    };
    let mut idx = Vec::new();
    let mut j = 0;
    for &(orig_len, data) in &got {
        while j < input.records.len() {
            let c = &input.records[j];
            j += 1;
            if c.wirelen == orig_len && c.data == data {
                idx.push(j - 1);
                break;
            }
        }
    }
    Outcome::Matches(idx)
}

pub fn tcpdump_available() -> bool {
    Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `true` when tcpdump is here; otherwise prints a skip (or fails under CI,
/// where the oracle is required) and returns `false`.
#[allow(dead_code)] // not every test binary that shares this module uses it
pub fn tcpdump_or_skip() -> bool {
    if tcpdump_available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "tcpdump is required in CI"
    );
    println!("skipped: tcpdump not installed");
    false
}
