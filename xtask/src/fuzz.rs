//! `cargo xtask fuzz`: the coverage-guided fuzz targets in `fuzz/` (a
//! cargo-fuzz project with its own workspace), their seed corpora, and runs.
//!
//! Adding a target is one line in [`TARGETS`] plus `fuzz/src/bin/NAME.rs`
//! (a test checks that the two agree).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use crate::{Result, workspace_root};

/// Where a target's seeds come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seeds {
    /// Whole capture files: `fixtures/` and the small files of the corpus.
    Captures,
    /// One frame per file, prefixed by the dissect target's link-type choice
    /// and a flags byte, taken from the packets of the fixtures.
    Frames,
    /// TCP (`false`) or UDP (`true`) payloads of the packets of
    /// `fixtures/app/`, each after a port-choice byte and a flags byte (the
    /// application-layer targets' input format).
    Payloads(bool),
    /// Only the fuzzer's own inputs (the target builds its input from a
    /// grammar); a few fixed byte strings start it.
    Grammar,
}

/// A fuzz target: `fuzz/src/bin/{name}.rs`.
pub struct Target {
    pub name: &'static str,
    pub seeds: Seeds,
    pub about: &'static str,
}

/// Every fuzz target, one line each.
pub const TARGETS: &[Target] = &[
    Target {
        name: "capture",
        seeds: Seeds::Captures,
        about: "capture reader: pcap, pcapng, gzip/zstd, streamed, byte-exact copy read back",
    },
    Target {
        name: "scouts",
        seeds: Seeds::Captures,
        about: "classic-pcap reader's scouts (speculative record chains ahead of it): records taken from them equal the ones read",
    },
    Target {
        name: "dissect",
        seeds: Seeds::Frames,
        about: "dissection engine on every link type: summary, show, all fields materialised",
    },
    Target {
        name: "filter",
        seeds: Seeds::Grammar,
        about: "filter compiler on grammar-drawn expressions, programs run on random packets (metamorphic checks)",
    },
    Target {
        name: "app_udp",
        seeds: Seeds::Grammar,
        about: "UDP application dissectors (DHCP/BOOTP, DHCPv6, NBNS, NBDGM) and SSH on random payloads behind a valid IP/UDP or TCP header",
    },
    Target {
        name: "live_ring",
        seeds: Seeds::Grammar,
        about: "live capture's TPACKET_V3 ring-block walker (ring_block_to_epbs, and ring_block_to_records: capture -w's direct path, equal to the EPBs) on generated and raw blocks, output read back as pcapng and pcap",
    },
    Target {
        name: "flow",
        seeds: Seeds::Grammar,
        about: "cheap header parse, tshark stream numbering and the flow table on frame sequences (every packet in one flow)",
    },
    Target {
        name: "reassembly",
        seeds: Seeds::Grammar,
        about: "TCP reassembly Stream on chosen segments (bytes delivered intact, events tile the stream, window bound)",
    },
    Target {
        name: "defrag",
        seeds: Seeds::Grammar,
        about: "IP defragmentation + TCP desegmentation + dissect_with on fragment/segment sequences (bounds hold)",
    },
    Target {
        name: "plugin_decl",
        seeds: Seeds::Grammar,
        about: "plugin declaration parser and validator (check_declaration) on generated declarations",
    },
    Target {
        name: "tls",
        seeds: Seeds::Payloads(false),
        about: "TLS records, handshakes, extensions, JA3/JA4 over TCP",
    },
    Target {
        name: "http",
        seeds: Seeds::Payloads(false),
        about: "HTTP/1.x heads, pipelining, chunked framing over TCP",
    },
    Target {
        name: "quic",
        seeds: Seeds::Payloads(true),
        about: "QUIC headers and Initial decryption over UDP",
    },
];

/// The link types of `fuzz/src/lib.rs`'s `LINKTYPES`, in order (the dissect
/// target's first byte picks one by index).
const FUZZ_LINKTYPES: &[u32] = &[0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];

const INSTALL: &str = "cargo-fuzz is not installed: run `cargo install --locked cargo-fuzz` \
(libFuzzer is built by the libfuzzer-sys crate; no nightly toolchain is needed with --sanitizer none)";

pub fn run(args: &[String]) -> Result<ExitCode> {
    let mut target = None;
    let mut seconds = 60u64;
    let mut list = false;
    let mut seeds_only = false;
    let mut seed: Option<u64> = None;
    let mut runs: Option<u64> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--list" => list = true,
            "--seconds" => {
                seconds = crate::value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?;
            }
            "--runs" => {
                runs = Some(
                    crate::value(&mut it, a)?
                        .parse()
                        .map_err(|e| format!("--runs: {e}"))?,
                );
            }
            "--seeds" => seeds_only = true,
            "--seed" => {
                seed = Some(
                    crate::value(&mut it, a)?
                        .parse()
                        .map_err(|e| format!("--seed: {e}"))?,
                );
            }
            other if !other.starts_with('-') && target.is_none() => target = Some(other.to_owned()),
            other => return Err(format!("fuzz: unknown argument '{other}'").into()),
        }
    }
    if list {
        for t in TARGETS {
            println!("{}", t.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(name) = target else {
        return Err(
            "usage: cargo xtask fuzz --list | cargo xtask fuzz TARGET [--seconds N] [--runs N] [--seed N] [--seeds]"
                .into(),
        );
    };
    let Some(t) = TARGETS.iter().find(|t| t.name == name) else {
        return Err(format!("no fuzz target '{name}' (cargo xtask fuzz --list)").into());
    };
    let root = workspace_root();
    let corpus = root.join("fuzz/corpus").join(t.name);
    let n = write_seeds(t, &root, &corpus)?;
    println!(
        "fuzz {} ({}): {n} seed files in {}",
        t.name,
        t.about,
        corpus.display()
    );
    if seeds_only {
        return Ok(ExitCode::SUCCESS);
    }
    let has_cargo_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_cargo_fuzz {
        return Err(INSTALL.into());
    }
    let artifacts = root.join("fuzz/artifacts").join(t.name);
    fs::create_dir_all(&artifacts)?;
    let max_time = format!("-max_total_time={seconds}");
    let artifact_prefix = format!("-artifact_prefix={}/", artifacts.display());
    // A fixed libFuzzer seed makes the run a reproducible sequence of inputs
    // (CI uses one, so a run can only fail on a real regression).
    let seed_arg = seed.map(|s| format!("-seed={s}"));
    // A campaign stops at whichever comes first: N executions or the time.
    let runs_arg = runs.map(|n| format!("-runs={n}"));
    let out = Command::new("cargo")
        .current_dir(&root)
        .args(["fuzz", "run", "--fuzz-dir", "fuzz", "--sanitizer", "none"])
        .arg(t.name)
        .arg(&corpus)
        .args([
            "--",
            max_time.as_str(),
            "-timeout=10",
            "-rss_limit_mb=2048",
            "-malloc_limit_mb=1024",
            "-max_len=262144",
            "-print_final_stats=1",
            artifact_prefix.as_str(),
        ])
        .args(seed_arg.as_deref())
        .args(runs_arg.as_deref())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .output()?;
    let log = String::from_utf8_lossy(&out.stderr);
    eprint!("{log}");
    let execs = log
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .map(str::trim)
        .or_else(|| {
            // libFuzzer's progress lines: `#123456 DONE ...` / `#123 pulse ...`.
            log.lines().rev().find_map(|l| {
                l.strip_prefix('#')
                    .and_then(|r| r.split_whitespace().next())
            })
        })
        .unwrap_or("unknown");
    // libFuzzer's last line: `Done 10000000 runs in 123 second(s)`.
    let took = log
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("Done ")?.split(" runs in ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("?");
    println!(
        "fuzz {}: {execs} executions in {took} s (limit {seconds} s{})",
        t.name,
        runs.map(|n| format!(" or {n} executions"))
            .unwrap_or_default()
    );
    if out.status.success() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "fuzz {}: FAILED ({}): crash, timeout or out-of-memory; the input is in {}",
            t.name,
            out.status,
            artifacts.display()
        );
        Ok(ExitCode::from(1))
    }
}

/// Fills `dir` with the target's seeds (files already there are kept, so a
/// corpus grown by earlier runs survives). Returns the number of files.
fn write_seeds(t: &Target, root: &Path, dir: &Path) -> Result<usize> {
    fs::create_dir_all(dir)?;
    let captures = capture_files(root);
    match t.seeds {
        Seeds::Captures => {
            for p in &captures {
                let name = seed_name(p);
                fs::copy(p, dir.join(name))?;
            }
        }
        Seeds::Frames => {
            for p in &captures {
                for (i, (lt, frame)) in frames(p).into_iter().enumerate().take(64) {
                    let Some(idx) = FUZZ_LINKTYPES.iter().position(|&l| l == lt) else {
                        continue;
                    };
                    let mut seed = vec![u8::try_from(idx).unwrap_or(0), 0];
                    seed.extend_from_slice(&frame);
                    fs::write(dir.join(format!("{}-{i}", seed_name(p))), seed)?;
                }
            }
        }
        Seeds::Payloads(udp) => {
            let app = root.join("fixtures/app");
            let mut files: Vec<PathBuf> = fs::read_dir(&app)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            files.sort();
            for p in &files {
                for (i, (lt, frame)) in frames(p).into_iter().enumerate() {
                    let Some(payload) = l4_payload(lt, &frame, udp) else {
                        continue;
                    };
                    let mut seed = vec![0, 0];
                    seed.extend_from_slice(payload);
                    fs::write(dir.join(format!("{}-{i}", seed_name(p))), seed)?;
                }
            }
        }
        Seeds::Grammar => {
            for (i, s) in [
                &b"\x01\x00\x02\x03\x05"[..],
                b"\x01\x01\x00\x40\x06\x01\x02\x00\x00\x40",
                b"\x00",
                b"\xff\xff\xff\xff",
            ]
            .iter()
            .enumerate()
            {
                fs::write(dir.join(format!("seed-{i}")), s)?;
            }
        }
    }
    // Every past finding of this target (`fuzz/findings/TARGET-*`) is a
    // seed, so each run (CI's 20-second ones included) replays them all.
    for p in findings(root, t.name)? {
        if let Some(name) = p.file_name() {
            fs::copy(&p, dir.join(name))?;
        }
    }
    Ok(fs::read_dir(dir)?.count())
}

/// The inputs kept in `fuzz/findings/` for target `name` (`NAME-crash-…`).
fn findings(root: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let dir = root.join("fuzz/findings");
    let prefix = format!("{name}-");
    let mut v: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&prefix))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    v.sort();
    Ok(v)
}

/// The TCP or UDP payload of an Ethernet/IPv4 frame (other frames: `None`).
fn l4_payload(linktype: u32, f: &[u8], udp: bool) -> Option<&[u8]> {
    if linktype != 1 || f.get(12..14)? != [8, 0] {
        return None;
    }
    let ip = f.get(14..)?;
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let l4 = ip.get(ihl..total.min(ip.len()))?;
    let payload = match (ip.get(9)?, udp) {
        (6, false) => l4.get(usize::from(l4.get(12)? >> 4) * 4..)?,
        (17, true) => l4.get(8..)?,
        _ => return None,
    };
    (!payload.is_empty()).then_some(payload)
}

fn seed_name(p: &Path) -> String {
    p.to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('_')
        .to_owned()
}

/// `fixtures/` captures and the corpus's captures under 256 KiB.
fn capture_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    // `$PCAPX_CORPUS`, else `shared/corpus` next to the checkout (or next to
    // the folder of worktrees).
    let corpus = std::env::var_os("PCAPX_CORPUS").map_or_else(
        || {
            [
                root.join("../shared/corpus"),
                root.join("../../shared/corpus"),
            ]
            .into_iter()
            .find(|p| p.is_dir())
            .unwrap_or_default()
        },
        PathBuf::from,
    );
    let mut stack = vec![root.join("fixtures"), corpus];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(".pcap") || n.ends_with(".cap"))
                && e.metadata().is_ok_and(|m| m.len() <= 256 << 10)
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The frames of a plain pcap or pcapng file with their link types
/// (compressed or unreadable files give none).
fn frames(p: &Path) -> Vec<(u32, Vec<u8>)> {
    let Ok(bytes) = fs::read(p) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Ok(r) = pcap_file::pcap::PcapReader::new(std::io::Cursor::new(&bytes)) {
        let lt = u32::from(r.header().datalink);
        let mut r = r;
        while let Some(Ok(pkt)) = r.next_packet() {
            out.push((lt, pkt.data.into_owned()));
        }
    } else if let Ok(mut r) = pcap_file::pcapng::PcapNgReader::new(std::io::Cursor::new(&bytes)) {
        let mut lts = Vec::new();
        while let Some(Ok(block)) = r.next_block() {
            match block {
                pcap_file::pcapng::Block::InterfaceDescription(i) => {
                    lts.push(u32::from(i.linktype))
                }
                pcap_file::pcapng::Block::EnhancedPacket(e) => {
                    if let Some(&lt) = lts.get(e.interface_id as usize) {
                        out.push((lt, e.data.into_owned()));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_has_a_file_and_every_file_a_target() {
        let bin = workspace_root().join("fuzz/src/bin");
        let mut files: Vec<String> = fs::read_dir(&bin)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".rs")
                    .map(str::to_owned)
            })
            .collect();
        files.sort();
        let mut names: Vec<String> = TARGETS.iter().map(|t| t.name.to_owned()).collect();
        names.sort();
        assert_eq!(files, names, "fuzz/src/bin/*.rs and xtask's TARGETS differ");
    }

    #[test]
    fn every_kept_finding_names_a_target_and_is_seeded() {
        let root = workspace_root();
        let kept: Vec<String> = fs::read_dir(root.join("fuzz/findings"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        assert!(!kept.is_empty(), "fuzz/findings holds the kept inputs");
        for name in &kept {
            let t = TARGETS
                .iter()
                .find(|t| name.starts_with(&format!("{}-", t.name)))
                .unwrap_or_else(|| panic!("fuzz/findings/{name} names no target"));
            let seeded = findings(&root, t.name).unwrap();
            assert!(
                seeded
                    .iter()
                    .any(|p| p.file_name().and_then(|n| n.to_str()) == Some(name)),
                "{name} is not among {}'s seeds",
                t.name
            );
        }
    }

    #[test]
    fn linktype_table_matches_the_fuzz_crate() {
        let lib = fs::read_to_string(workspace_root().join("fuzz/src/lib.rs")).unwrap();
        let list = FUZZ_LINKTYPES
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        assert!(
            lib.contains(&format!("pub const LINKTYPES: &[u32] = &[{list}];")),
            "fuzz/src/lib.rs LINKTYPES differs from xtask's FUZZ_LINKTYPES"
        );
    }
}
