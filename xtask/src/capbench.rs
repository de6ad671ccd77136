//! Live capture under load: `tcpreplay --topspeed` replays the benchmark
//! capture onto a veth in a private network namespace while pcapx (and, in a
//! separate run, tcpdump) captures on the peer in a second namespace.
//! Reports packets sent/captured, kernel drops and CPU time per packet.
//! Needs root, ip, tcpreplay and tcpdump. The namespaces are deleted on drop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::Result;

/// The section heading in BENCHMARKS.md (replaced in place by `bench-capture`).
pub const HEADING: &str = "## Live capture under load";

struct Netns {
    a: String,
    b: String,
}

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

fn run_ok(args: &[&str]) -> Result<()> {
    let o = Command::new(args[0]).args(&args[1..]).output()?;
    if !o.status.success() {
        return Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )
        .into());
    }
    Ok(())
}

fn netns() -> Result<Netns> {
    let tag = format!("pcapx-bench-{}", std::process::id());
    let n = Netns {
        a: format!("{tag}-a"),
        b: format!("{tag}-b"),
    };
    for ns in [&n.a, &n.b] {
        run_ok(&["ip", "netns", "add", ns])?;
        run_ok(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        for key in ["all", "default"] {
            run_ok(&[
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{key}.disable_ipv6=1"),
            ])?;
        }
    }
    run_ok(&[
        "ip", "-n", &n.a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &n.b,
    ])?;
    run_ok(&["ip", "-n", &n.a, "link", "set", "va", "up"])?;
    run_ok(&["ip", "-n", &n.b, "link", "set", "vb", "up"])?;
    Ok(n)
}

/// One capture run's numbers.
struct Run {
    sent: u64,
    captured: u64,
    received: u64,
    dropped: u64,
    cpu_s: f64,
    replay_s: f64,
}

fn clk_tck() -> f64 {
    let v = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        });
    v.unwrap_or(100.0)
}

/// utime + stime of `pid` in seconds (/proc/PID/stat fields 14 and 15).
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    // After "pid (comm)", field 3 is index 0; utime is field 14, stime 15.
    let ut: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let st: f64 = f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    Ok((ut + st) / clk_tck())
}

fn counter(err: &str, what: &str) -> u64 {
    err.lines()
        .find(|l| l.contains(what))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn start(ns: &str, prog: &str, args: &[&str]) -> Result<(Child, mpsc::Receiver<String>)> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, prog])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let err = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err)
            .lines()
            .map_while(std::result::Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    Ok((child, rx))
}

fn one_run(n: &Netns, data: &Path, limit: u64, prog: &str, args: &[&str]) -> Result<Run> {
    let (mut child, rx) = start(&n.b, prog, args)?;
    let mut err = String::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => {
                let ready = l.contains("listening on");
                err.push_str(&l);
                err.push('\n');
                if ready {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{prog} did not start: {err}").into());
            }
        }
    }
    let t = std::time::Instant::now();
    let mut replay = Command::new("ip");
    replay.args(["netns", "exec", &n.a, "tcpreplay", "--topspeed", "-i", "va"]);
    if limit > 0 {
        replay.arg(format!("--limit={limit}"));
    }
    let o = replay.arg(data).output()?;
    let replay_s = t.elapsed().as_secs_f64();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    if !o.status.success() {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("tcpreplay: {out} {}", String::from_utf8_lossy(&o.stderr)).into());
    }
    let sent = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Successful packets:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    std::thread::sleep(Duration::from_millis(1500));
    let cpu_s = cpu_seconds(child.id())?;
    run_ok(&["kill", "-INT", &child.id().to_string()])?;
    let _ = child.wait();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(2)) {
        err.push_str(&l);
        err.push('\n');
    }
    Ok(Run {
        sent,
        captured: counter(&err, "captured"),
        received: counter(&err, "received by filter"),
        dropped: counter(&err, "dropped by kernel"),
        cpu_s,
        replay_s,
    })
}

/// Runs pcapx and tcpdump alternately `runs` times each; returns the
/// Markdown section.
pub fn section(pcapx: &str, data: &Path, limit: u64, runs: usize) -> Result<String> {
    use std::fmt::Write as _;
    let n = netns()?;
    let mut rows: Vec<(&str, Run)> = Vec::new();
    for _ in 0..runs.max(1) {
        eprintln!("bench: live capture, pcapx");
        let r = one_run(
            &n,
            data,
            limit,
            pcapx,
            &["capture", "-i", "vb", "-B", "4", "-w", "/dev/null"],
        )?;
        rows.push(("pcapx", r));
        eprintln!("bench: live capture, tcpdump");
        let r = one_run(
            &n,
            data,
            limit,
            "tcpdump",
            &[
                "-i",
                "vb",
                "-B",
                "4096",
                "-n",
                "-Z",
                "root",
                "-w",
                "/dev/null",
            ],
        )?;
        rows.push(("tcpdump", r));
    }
    let size = std::fs::metadata(data).map_or(0, |m| m.len());
    let mut m = String::new();
    writeln!(m, "{HEADING}\n")?;
    #[allow(clippy::cast_precision_loss)]
    let mb = size as f64 / 1e6;
    writeln!(
        m,
        "`cargo xtask bench-capture --limit {limit}`: `tcpreplay --topspeed -i va{}` replays `{}` ({mb:.0} MB file{}) onto one end of a veth pair in a private network namespace; the capturing program listens on the other end in a second namespace with a 4 MiB kernel buffer and writes to /dev/null (`pcapx capture -i vb -B 4 -w /dev/null`; `tcpdump -i vb -B 4096 -w /dev/null`). Runs alternate. CPU is the capturing process's user + system time (from /proc) over the whole run, divided by the packets it captured.\n",
        if limit > 0 {
            format!(" --limit={limit}")
        } else {
            String::new()
        },
        data.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        if limit > 0 {
            format!(", the first {limit} packets")
        } else {
            String::new()
        }
    )?;
    writeln!(
        m,
        "| run | sent | captured | received by filter | dropped by kernel | captured/sent | CPU | CPU per packet | replay time |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    for (who, r) in &rows {
        #[allow(clippy::cast_precision_loss)]
        let ratio = if r.sent > 0 {
            r.captured as f64 / r.sent as f64 * 100.0
        } else {
            0.0
        };
        #[allow(clippy::cast_precision_loss)]
        let per = if r.captured > 0 {
            r.cpu_s / r.captured as f64 * 1e9
        } else {
            0.0
        };
        writeln!(
            m,
            "| {who} | {} | {} | {} | {} | {ratio:.1} % | {:.2} s | {per:.0} ns | {:.2} s |",
            r.sent, r.captured, r.received, r.dropped, r.cpu_s, r.replay_s
        )?;
    }
    writeln!(
        m,
        "\nThe sender and both capturing programs share the machine's {} cores, so drops depend on how much CPU the sender leaves; compare the rows pairwise.",
        crate::bench::nproc()
    )?;
    Ok(m)
}

/// `cargo xtask bench-capture [--packets N] [--limit L] [--runs R]`: runs only
/// this job and replaces its section of BENCHMARKS.md.
pub fn run(args: &[String]) -> Result<std::process::ExitCode> {
    let root = crate::workspace_root();
    let mut packets: u64 = 1_000_000;
    let mut limit: u64 = 0;
    let mut runs: usize = 1;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--packets" => {
                packets = crate::value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--packets: {e}"))?;
            }
            "--limit" => {
                limit = crate::value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--limit: {e}"))?;
            }
            "--runs" => {
                runs = crate::value(&mut it, a)?
                    .parse()
                    .map_err(|e| format!("--runs: {e}"))?;
            }
            other => return Err(format!("bench-capture: unknown argument '{other}'").into()),
        }
    }
    let data = crate::bench::ensure_data(&root, packets)?;
    let bin = crate::bench::build_release(&root)?;
    let sec = section(&bin, &data, limit, runs)?;
    let path = root.join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, crate::bench::replace_section(&old, &sec))?;
    eprintln!("bench-capture: updated {}", path.display());
    print!("{sec}");
    Ok(std::process::ExitCode::SUCCESS)
}
