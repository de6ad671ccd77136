//! Live capture end to end, in network namespaces the tests create and
//! delete themselves: namespace A (`va`, 10.213.0.1) and namespace B (`vb`,
//! 10.213.0.2) joined by a veth pair, IPv6 off and static neighbours so the
//! only traffic is what the test sends. pcapx and tcpdump capture side by
//! side on `vb`; the files are read back with tshark, capinfos, Scapy and
//! pcapx. Needs root: skipped with a message without it, a failure under CI.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{ci, stderr, stdout, tool};

const PCAPX: &str = env!("CARGO_BIN_EXE_pcapx");

/// The receiving side in B: UDP sockets on 5001..5004 (so no ICMP errors)
/// and a TCP server on 7000 that reads one connection to the end and
/// answers "bye". Prints `ready` when listening.
const SERVER: &str = r#"
import socket, sys
us = []
for p in range(5001, 5005):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    u.bind(("10.213.0.2", p)); us.append(u)
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("10.213.0.2", 7000)); t.listen(1); t.settimeout(20)
print("ready", flush=True)
try:
    c, _ = t.accept(); c.settimeout(20)
    while c.recv(65536): pass
    c.sendall(b"bye"); c.close()
except Exception as e:
    print(e, file=sys.stderr)
"#;

/// The sender in A: `N` UDP datagrams with distinct payloads (`SIZE` bytes
/// each, round robin over ports 5001..5004), then (when `TCP` is 1) one TCP
/// connection carrying three messages.
const CLIENT: &str = r#"
import socket, sys, time
n, size, tcp = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("10.213.0.1", 40000))
for i in range(n):
    head = b"pcapx-udp-%05d-" % i
    u.sendto((head * (size // len(head) + 1))[:max(size, len(head))], ("10.213.0.2", 5001 + i % 4))
    if i % 50 == 49: time.sleep(0.005)
if tcp:
    c = socket.create_connection(("10.213.0.2", 7000), source_address=("10.213.0.1", 41000))
    for m in (b"first message", b"second message", b"third"):
        c.sendall(m); time.sleep(0.02)
    c.shutdown(socket.SHUT_WR)
    while c.recv(100): pass
    c.close()
"#;

/// The payload of datagram `i` (what CLIENT sends).
fn udp_payload(i: usize, size: usize) -> Vec<u8> {
    let head = format!("pcapx-udp-{i:05}-").into_bytes();
    let mut v = Vec::new();
    while v.len() < size.max(head.len()) {
        v.extend_from_slice(&head);
    }
    v.truncate(size.max(head.len()));
    v
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Two namespaces joined by a veth pair; deleted on drop (also when the test fails).
struct Lab {
    a: String,
    b: String,
    dir: tempfile::TempDir,
}

fn sh(args: &[&str]) {
    let o = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run setup command");
    assert!(
        o.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

impl Lab {
    /// `None` (with a printed skip) without root or the tools; panics under CI.
    fn new(test: &str) -> Option<Lab> {
        if !is_root() {
            assert!(!ci(), "{test}: needs root under CI");
            println!("skipped {test}: needs root");
            return None;
        }
        for t in ["ip", "tcpdump", "tshark", "capinfos", "python3"] {
            if !tool(t, test) {
                return None;
            }
        }
        let tag = format!("pcapx-test-{}", std::process::id());
        let lab = Lab {
            a: format!("{tag}-a"),
            b: format!("{tag}-b"),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        for ns in [&lab.a, &lab.b] {
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            for key in ["all", "default"] {
                sh(&[
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{key}.disable_ipv6=1"),
                ]);
            }
        }
        sh(&[
            "ip",
            "-n",
            &lab.a,
            "link",
            "add",
            "va",
            "address",
            "02:00:00:00:02:01",
            "type",
            "veth",
            "peer",
            "name",
            "vb",
            "address",
            "02:00:00:00:02:02",
            "netns",
            &lab.b,
        ]);
        sh(&[
            "ip",
            "-n",
            &lab.a,
            "addr",
            "add",
            "10.213.0.1/24",
            "dev",
            "va",
        ]);
        sh(&[
            "ip",
            "-n",
            &lab.b,
            "addr",
            "add",
            "10.213.0.2/24",
            "dev",
            "vb",
        ]);
        sh(&[
            "ip",
            "-n",
            &lab.a,
            "neigh",
            "add",
            "10.213.0.2",
            "lladdr",
            "02:00:00:00:02:02",
            "dev",
            "va",
            "nud",
            "permanent",
        ]);
        sh(&[
            "ip",
            "-n",
            &lab.b,
            "neigh",
            "add",
            "10.213.0.1",
            "lladdr",
            "02:00:00:00:02:01",
            "dev",
            "vb",
            "nud",
            "permanent",
        ]);
        sh(&["ip", "-n", &lab.a, "link", "set", "va", "up"]);
        sh(&["ip", "-n", &lab.b, "link", "set", "vb", "up"]);
        Some(lab)
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A command run inside namespace `ns`.
    fn cmd(&self, ns: &str, prog: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, prog]).args(args);
        c
    }

    /// Starts a capturing program in B and waits until it says it is listening.
    fn start(&self, prog: &str, args: &[&str]) -> Bg {
        let mut c = self.cmd(&self.b, prog, args);
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn capture");
        let err = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = tx.send(());
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let out = child.stdout.take().expect("stdout");
        let out_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(out), &mut s);
            s
        });
        let ready = rx.recv_timeout(Duration::from_secs(15)).is_ok();
        let mut bg = Bg {
            child,
            reader: Some(reader),
            out_reader: Some(out_reader),
        };
        if !ready {
            let _ = bg.child.kill();
            let (_, _, err) = bg.wait(Duration::from_secs(5));
            panic!("{prog} {args:?} never started listening: {err}");
        }
        bg
    }

    /// The UDP/TCP receiver in B (returns once it listens).
    fn server(&self) -> Server {
        let mut c = self.cmd(&self.b, "python3", &["-c", SERVER]);
        c.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = c.spawn().expect("spawn server");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("server ready");
        assert_eq!(line.trim(), "ready", "server did not start");
        Server(child)
    }

    /// Sends `n` datagrams of `size` bytes from A, then a TCP connection if `tcp`.
    fn send(&self, n: usize, size: usize, tcp: bool) {
        let o = self
            .cmd(
                &self.a,
                "python3",
                &[
                    "-c",
                    CLIENT,
                    &n.to_string(),
                    &size.to_string(),
                    if tcp { "1" } else { "0" },
                ],
            )
            .output()
            .expect("run client");
        assert!(o.status.success(), "client: {}", stderr(&o));
    }

    /// pcapx inside B, to completion.
    fn pcapx_in_b(&self, args: &[&str]) -> Output {
        self.cmd(&self.b, PCAPX, args)
            .stdin(Stdio::null())
            .output()
            .expect("run pcapx")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// The receiver; killed (and reaped) on drop.
struct Server(Child);

impl Server {
    /// Waits for the server to finish its TCP connection.
    fn wait(&mut self) {
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A background capture.
struct Bg {
    child: Child,
    reader: Option<std::thread::JoinHandle<String>>,
    out_reader: Option<std::thread::JoinHandle<String>>,
}

impl Bg {
    fn signal(&self, sig: &str) {
        sh(&["kill", &format!("-{sig}"), &self.child.id().to_string()]);
    }

    /// Waits (bounded) for the exit; returns (exit code, stdout, stderr).
    fn wait(&mut self, limit: Duration) -> (Option<i32>, String, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break Some(s);
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let err = self.reader.take().map(|r| r.join().unwrap_or_default());
        let out = self.out_reader.take().map(|r| r.join().unwrap_or_default());
        (
            status.and_then(|s| s.code()),
            out.unwrap_or_default(),
            err.unwrap_or_default(),
        )
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Every frame of a capture as hex, read by Scapy (an independent reader).
fn frames(file: &str) -> Vec<String> {
    let code = "import sys\nfrom scapy.utils import PcapReader\nfor p in PcapReader(sys.argv[1]):\n    print(bytes(p.original if p.original is not None else p).hex())";
    let o = Command::new("python3")
        .args(["-c", code, file])
        .output()
        .expect("scapy");
    assert!(o.status.success(), "scapy on {file}: {}", stderr(&o));
    stdout(&o).lines().map(str::to_owned).collect()
}

/// capinfos' packet count (fails when capinfos cannot read the file).
fn capinfos_count(file: &str) -> u64 {
    let o = Command::new("capinfos")
        .args(["-c", "-M", file])
        .output()
        .expect("capinfos");
    assert!(o.status.success(), "capinfos {file}: {}", stderr(&o));
    let s = stdout(&o);
    let line = s
        .lines()
        .find(|l| l.contains("Number of packets"))
        .unwrap_or_else(|| panic!("capinfos output: {s}"));
    line.rsplit(':')
        .next()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("capinfos line: {line}"))
}

fn tshark(file: &str, args: &[&str]) -> String {
    let o = Command::new("tshark")
        .args(["-n", "-r", file])
        .args(args)
        .output()
        .expect("tshark");
    assert!(o.status.success(), "tshark {file}: {}", stderr(&o));
    stdout(&o)
}

fn counters(err: &str) -> (u64, u64, u64) {
    let grab = |what: &str| -> u64 {
        err.lines()
            .find(|l| l.ends_with(what))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no '{what}' line in: {err}"))
    };
    (
        grab("captured"),
        grab("received by filter"),
        grab("dropped by kernel"),
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How long to wait after the traffic before stopping the captures:
/// tcpdump hands over a partly filled ring block after its 1 s timeout.
/// (tcpdump's --immediate-mode is not used: it falls back to a ring of a few
/// snaplen-sized frames and drops packets on a loaded machine.)
const SETTLE: Duration = Duration::from_millis(1500);
const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn side_by_side_with_tcpdump() {
    let Some(lab) = Lab::new("side_by_side_with_tcpdump") else {
        return;
    };
    if !common::python_with(&["scapy"], "side_by_side_with_tcpdump") {
        return;
    }
    let (p, t) = (lab.path("pcapx.pcap"), lab.path("tcpdump.pcap"));
    let mut server = lab.server();
    let mut px = lab.start(PCAPX, &["capture", "-i", "vb", "-w", &p]);
    let mut td = lab.start(
        "tcpdump",
        &["-i", "vb", "-U", "-B", "8192", "-n", "-Z", "root", "-w", &t],
    );
    lab.send(60, 100, true);
    server.wait();
    std::thread::sleep(SETTLE);
    px.signal("INT");
    td.signal("INT");
    let (code, _, err) = px.wait(LIMIT);
    assert_eq!(code, Some(0), "pcapx: {err}");
    let (_, _, td_err) = td.wait(LIMIT);

    let (fp, ft) = (frames(&p), frames(&t));
    assert!(fp.len() >= 60 + 8, "too few frames: {}", fp.len());
    assert_eq!(
        fp, ft,
        "pcapx and tcpdump captured different frames; tcpdump: {td_err}"
    );
    let (captured, received, dropped) = counters(&err);
    assert_eq!(captured, fp.len() as u64);
    assert!(received >= captured, "{err}");
    assert_eq!(dropped, 0);
    assert_eq!(capinfos_count(&p), fp.len() as u64);

    // The UDP payloads are exactly what was sent, in order.
    let udp = tshark(&p, &["-Y", "udp", "-T", "fields", "-e", "udp.payload"]);
    let want: Vec<String> = (0..60).map(|i| hex(&udp_payload(i, 100))).collect();
    assert_eq!(udp.lines().collect::<Vec<_>>(), want);
    // The TCP stream carries the three messages and the answer.
    let tcp = tshark(
        &p,
        &["-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.payload"],
    );
    let want = [
        hex(b"first message"),
        hex(b"second message"),
        hex(b"third"),
        hex(b"bye"),
    ];
    assert_eq!(tcp.lines().collect::<Vec<_>>(), want);
    // pcapx reads its own file exactly as it reads tcpdump's.
    let sp = lab.pcapx_in_b(&["summary", &p]);
    let st = lab.pcapx_in_b(&["summary", &t]);
    assert!(sp.status.success());
    assert_eq!(stdout(&sp), stdout(&st));
    // Nanosecond pcap by default.
    let info = tshark(&p, &["-c", "1", "-T", "fields", "-e", "frame.time_epoch"]);
    assert_eq!(
        info.trim().split('.').nth(1).map(str::len),
        Some(9),
        "{info}"
    );
}

#[test]
fn filter_keeps_what_tcpdump_keeps() {
    let Some(lab) = Lab::new("filter_keeps_what_tcpdump_keeps") else {
        return;
    };
    if !common::python_with(&["scapy"], "filter_keeps_what_tcpdump_keeps") {
        return;
    }
    let expr = "(udp and (dst port 5001 or dst port 5003)) or tcp[tcpflags] & tcp-syn != 0";
    let (p, t) = (lab.path("pcapx.pcapng"), lab.path("tcpdump.pcap"));
    let mut server = lab.server();
    let mut px = lab.start(PCAPX, &["capture", "-i", "vb", "-f", expr, "-w", &p]);
    let mut td = lab.start(
        "tcpdump",
        &[
            "-i", "vb", "-U", "-B", "8192", "-n", "-Z", "root", "-w", &t, expr,
        ],
    );
    lab.send(40, 60, true);
    server.wait();
    std::thread::sleep(SETTLE);
    px.signal("TERM");
    td.signal("INT");
    let (code, _, err) = px.wait(LIMIT);
    assert_eq!(code, Some(0), "{err}");
    let (_, _, td_err) = td.wait(LIMIT);
    assert!(
        !err.contains("user space"),
        "filter should run in the kernel: {err}"
    );
    let (fp, ft) = (frames(&p), frames(&t));
    // 20 datagrams to 5001/5003, the SYN and the SYN-ACK.
    assert_eq!(fp.len(), 22, "{err}");
    assert_eq!(fp, ft, "tcpdump: {td_err}");
    let (captured, received, _) = counters(&err);
    assert_eq!((captured, received), (22, 22), "kernel filter: {err}");
}

#[test]
fn count_stops_after_exactly_n() {
    let Some(lab) = Lab::new("count_stops_after_exactly_n") else {
        return;
    };
    let p = lab.path("c.pcap");
    let server = lab.server();
    let mut px = lab.start(
        PCAPX,
        &[
            "capture",
            "-i",
            "vb",
            "-c",
            "7",
            "-f",
            "udp",
            "-w",
            &p,
            "--time-precision",
            "micro",
        ],
    );
    lab.send(30, 50, false);
    let (code, _, err) = px.wait(LIMIT);
    drop(server);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(capinfos_count(&p), 7);
    assert_eq!(counters(&err).0, 7);
    let udp = tshark(&p, &["-T", "fields", "-e", "udp.payload"]);
    let want: Vec<String> = (0..7).map(|i| hex(&udp_payload(i, 50))).collect();
    assert_eq!(udp.lines().collect::<Vec<_>>(), want);
    let info = tshark(&p, &["-c", "1", "-T", "fields", "-e", "frame.time_epoch"]);
    // Microsecond pcap: tshark prints 9 digits, the last three zero.
    assert!(info.trim().ends_with("000"), "{info}");
    let o = lab.pcapx_in_b(&["info", &p]);
    assert!(stdout(&o).contains("pcap"), "{}", stdout(&o));
}

#[test]
fn duration_two_interfaces_pcapng_with_statistics() {
    let Some(lab) = Lab::new("duration_two_interfaces_pcapng_with_statistics") else {
        return;
    };
    let p = lab.path("two.pcapng");
    let server = lab.server();
    let start = Instant::now();
    let mut px = lab.start(
        PCAPX,
        &[
            "capture",
            "-i",
            "vb",
            "-i",
            "lo",
            "--duration",
            "6",
            "-w",
            &p,
        ],
    );
    lab.send(10, 80, false);
    // Traffic on B's loopback.
    let o = lab
        .cmd(
            &lab.b,
            "python3",
            &[
                "-c",
                "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('127.0.0.1',9999))\nfor i in range(5): s.sendto(b'loop%d'%i,('127.0.0.1',9999))",
            ],
        )
        .output()
        .expect("loopback sender");
    assert!(o.status.success());
    let (code, _, err) = px.wait(LIMIT);
    let took = start.elapsed();
    drop(server);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        took >= Duration::from_millis(5900) && took < Duration::from_secs(15),
        "{took:?}"
    );
    // Two IDBs with names, link type, snaplen and nanosecond resolution.
    let o = Command::new("capinfos")
        .args(["-I", &p])
        .output()
        .expect("capinfos");
    let ci = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(ci.contains("Number of interfaces in file: 2"), "{ci}");
    assert!(ci.contains("Name = vb") && ci.contains("Name = lo"), "{ci}");
    assert!(ci.contains("Time precision = nanoseconds"), "{ci}");
    assert!(ci.contains("Capture length = 262144"), "{ci}");
    assert!(ci.contains("Number of stat entries = 1"), "{ci}");
    // Packets carry their interface.
    let names = tshark(
        &p,
        &[
            "-T",
            "fields",
            "-e",
            "frame.interface_name",
            "-e",
            "udp.payload",
        ],
    );
    let vb = names.lines().filter(|l| l.starts_with("vb\t")).count();
    let lo = names
        .lines()
        .filter(|l| l.starts_with("lo\t") && l.contains(&hex(b"loop")))
        .count();
    assert_eq!((vb, lo), (10, 5), "{names}");
    // The ISB counters: tshark shows them in the interface statistics.
    let (captured, received, dropped) = counters(&err);
    assert_eq!(captured, 15);
    assert_eq!(dropped, 0);
    assert!(received >= 15);
    // pcapx reads it back: two interfaces, 15 packets.
    let o = lab.pcapx_in_b(&["info", &p]);
    assert!(o.status.success());
    assert_eq!(capinfos_count(&p), 15);
}

#[test]
fn sigterm_leaves_a_complete_file() {
    let Some(lab) = Lab::new("sigterm_leaves_a_complete_file") else {
        return;
    };
    let p = lab.path("term.pcapng");
    let server = lab.server();
    let mut px = lab.start(PCAPX, &["capture", "-i", "vb", "-w", &p]);
    lab.send(25, 500, false);
    std::thread::sleep(SETTLE);
    px.signal("TERM");
    let (code, _, err) = px.wait(LIMIT);
    drop(server);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(capinfos_count(&p), 25);
    assert_eq!(counters(&err).0, 25);
    let o = lab.pcapx_in_b(&["count", &p]);
    assert!(stdout(&o).contains("UDP:25"), "{}", stdout(&o));
}

#[test]
fn ring_buffer_rotates_and_keeps_the_last_files() {
    let Some(lab) = Lab::new("ring_buffer_rotates_and_keeps_the_last_files") else {
        return;
    };
    let base = lab.path("ring.pcap");
    let server = lab.server();
    let mut px = lab.start(
        PCAPX,
        &[
            "capture",
            "-i",
            "vb",
            "-f",
            "udp",
            "-w",
            &base,
            "--ring-size",
            "1",
            "--ring-files",
            "2",
        ],
    );
    // 3000 × ~1.4 kB ≈ 4.3 MB: at least four files of 1 MiB.
    lab.send(3000, 1400, false);
    std::thread::sleep(SETTLE);
    px.signal("INT");
    let (code, _, err) = px.wait(LIMIT);
    drop(server);
    assert_eq!(code, Some(0), "{err}");
    let mut files: Vec<String> = std::fs::read_dir(lab.dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    let pat = |f: &str| -> Option<u64> {
        let rest = f.strip_prefix("ring_")?.strip_suffix(".pcap")?;
        let (n, stamp) = rest.split_once('_')?;
        (n.len() == 5 && stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit()))
            .then(|| n.parse().ok())?
    };
    let nums: Vec<u64> = files.iter().map(|f| pat(f).expect(f)).collect();
    assert!(nums[0] >= 4 && nums[1] == nums[0] + 1, "{files:?}");
    let mut total = 0;
    for f in &files {
        let path = Path::new(lab.dir.path()).join(f).display().to_string();
        let n = capinfos_count(&path);
        let size = std::fs::metadata(&path).expect("size").len();
        assert!(size <= (1 << 20) + 2000, "{f}: {size} bytes");
        total += n;
    }
    // The last file ends with the last datagram.
    let last = Path::new(lab.dir.path())
        .join(&files[1])
        .display()
        .to_string();
    let udp = tshark(&last, &["-T", "fields", "-e", "udp.payload"]);
    assert_eq!(
        udp.lines().last(),
        Some(hex(&udp_payload(2999, 1400)).as_str())
    );
    assert!(total < 3000 && total > 700, "{total}");
}

#[test]
fn reading_commands_take_an_interface() {
    let Some(lab) = Lab::new("reading_commands_take_an_interface") else {
        return;
    };
    let t = lab.path("t.pcap");
    let server = lab.server();
    let mut td = lab.start(
        "tcpdump",
        &["-i", "vb", "-U", "-B", "8192", "-n", "-Z", "root", "-w", &t],
    );
    let mut sum = lab.start(PCAPX, &["summary", "-i", "vb", "-c", "12", "-f", "udp"]);
    let f = lab.path("f.pcapng");
    let mut filt = lab.start(PCAPX, &["filter", "-i", "vb", "-c", "5", "udp", "-o", &f]);
    let mut stats = lab.start(
        PCAPX,
        &[
            "stats",
            "-i",
            "vb",
            "--duration",
            "2",
            "--group-by",
            "dport",
            "--sum",
            "payload",
            "--all",
        ],
    );
    lab.send(40, 64, false);
    let (c1, out1, e1) = sum.wait(LIMIT);
    let (c2, out2, e2) = stats.wait(LIMIT);
    let (c3, _, e3) = filt.wait(LIMIT);
    std::thread::sleep(SETTLE);
    td.signal("INT");
    let (_, _, td_err) = td.wait(LIMIT);
    assert!(td_err.contains("packets captured"), "tcpdump: {td_err}");
    drop(server);
    assert_eq!(c1, Some(0), "{e1}");
    assert_eq!(c2, Some(0), "{e2}");
    let want = lab.pcapx_in_b(&["summary", &t, "-c", "12", "-f", "udp"]);
    assert_eq!(out1, stdout(&want));
    assert_eq!(out1.lines().count(), 12);
    let want = lab.pcapx_in_b(&[
        "stats",
        &t,
        "--group-by",
        "dport",
        "--sum",
        "payload",
        "--all",
    ]);
    assert_eq!(out2, stdout(&want), "{e2}");
    // `filter -i -c 5`: exactly the first five UDP frames.
    assert_eq!(c3, Some(0), "{e3}");
    assert_eq!(capinfos_count(&f), 5);
    let first = lab.path("first.pcap");
    let o = lab.pcapx_in_b(&["filter", &t, "udp", "-c", "5", "-o", &first]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&lab.pcapx_in_b(&["summary", &f])),
        stdout(&lab.pcapx_in_b(&["summary", &first]))
    );
    assert_eq!(capinfos_count(&first), 5);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let Some(lab) = Lab::new("bad_input_is_one_line_and_exit_2") else {
        return;
    };
    let one_line = |o: &Output, want: &str| {
        assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
        let e = stderr(o);
        let errs: Vec<&str> = e.lines().filter(|l| l.contains(want)).collect();
        assert_eq!(errs.len(), 1, "{e}");
        assert!(errs[0].starts_with("pcapx: "), "{e}");
    };
    one_line(
        &lab.pcapx_in_b(&["capture", "-i", "nosuch0", "-c", "1"]),
        "nosuch0: no such interface",
    );
    sh(&[
        "ip", "-n", &lab.b, "link", "add", "dn0", "type", "veth", "peer", "name", "dn1",
    ]);
    one_line(
        &lab.pcapx_in_b(&["capture", "-i", "dn0", "-c", "1"]),
        "dn0: interface is down",
    );
    one_line(
        &lab.pcapx_in_b(&["summary", "-i", "dn0", "-c", "1"]),
        "dn0: interface is down",
    );
    let o = lab.pcapx_in_b(&["capture", "-i", "vb", "-c", "1", "-f", "udp port"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("pcapx: filter: "), "{}", stderr(&o));
    one_line(
        &lab.pcapx_in_b(&["capture", "-i", "vb", "-c", "1", "-w", "/dev/full"]),
        "/dev/full: write error: No space left on device",
    );
    // No privilege.
    if tool("setpriv", "bad_input_is_one_line_and_exit_2") {
        let o = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.b,
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
            ])
            .args(["--clear-groups", PCAPX, "capture", "-i", "vb", "-c", "1"])
            .output()
            .expect("setpriv");
        one_line(&o, "vb: you don't have permission to capture");
    }
    // A full disk: a 256 KiB tmpfs in a private mount namespace; pcapx
    // stops with the error and the file holds complete records only.
    let dir = lab.path("mnt");
    std::fs::create_dir(&dir).expect("mkdir");
    let server = lab.server();
    let script = format!(
        "set -u\nmount -t tmpfs -o size=256k tmpfs {dir} || exit 99\n\
         ip netns exec {b} {PCAPX} capture -i vb -f udp -w {dir}/o.pcap 2>{dir}/../err.txt &\n\
         pid=$!\nsleep 1\nip netns exec {a} python3 -c '{client}' 600 1400 0\n\
         wait $pid; echo rc=$?\ncapinfos -c -M {dir}/o.pcap | grep 'Number of packets'\n",
        b = lab.b,
        a = lab.a,
        client = CLIENT.replace('\'', "\""),
    );
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare");
    drop(server);
    let out = stdout(&o);
    assert!(out.contains("rc=2"), "{out} {}", stderr(&o));
    let n: u64 = out
        .lines()
        .find(|l| l.contains("Number of packets"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("capinfos could not read the file: {out} {}", stderr(&o)));
    assert!(n > 100 && n < 600, "{n}");
    let err = std::fs::read_to_string(lab.path("err.txt")).expect("err");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("No space left"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
}

/// Sends `n` 802.1Q-tagged UDP frames (VLAN 42, priority 3) from A with
/// Scapy; B's kernel strips the tag before packet sockets see the frame.
fn send_tagged(lab: &Lab, n: usize) {
    let code = format!(
        "from scapy.all import Ether, Dot1Q, IP, UDP, Raw, sendp\n\
         for i in range({n}):\n    \
         sendp(Ether(src='02:00:00:00:02:01', dst='02:00:00:00:02:02')/Dot1Q(vlan=42, prio=3)/\
         IP(src='10.213.0.1', dst='10.213.0.2')/UDP(sport=40001, dport=5002)/Raw(b'tagged-%d' % i), iface='va', verbose=False)"
    );
    let o = lab
        .cmd(&lab.a, "python3", &["-c", &code])
        .output()
        .expect("scapy sender");
    assert!(o.status.success(), "scapy: {}", stderr(&o));
}

#[test]
fn vlan_tags_stripped_by_the_kernel_are_put_back() {
    let test = "vlan_tags_stripped_by_the_kernel_are_put_back";
    let Some(lab) = Lab::new(test) else {
        return;
    };
    if !common::python_with(&["scapy"], test) {
        return;
    }
    let (p, t, pf, tf) = (
        lab.path("p.pcap"),
        lab.path("t.pcap"),
        lab.path("pf.pcap"),
        lab.path("tf.pcap"),
    );
    let expr = "vlan 42 and udp";
    let server = lab.server();
    let mut px = lab.start(PCAPX, &["capture", "-i", "vb", "-w", &p]);
    let mut pxf = lab.start(PCAPX, &["capture", "-i", "vb", "-f", expr, "-w", &pf]);
    let tdargs = ["-i", "vb", "-U", "-B", "8192", "-n", "-Z", "root", "-w"];
    let mut td = lab.start("tcpdump", &[&tdargs[..], &[t.as_str()]].concat());
    let mut tdf = lab.start("tcpdump", &[&tdargs[..], &[tf.as_str(), expr]].concat());
    send_tagged(&lab, 4);
    lab.send(3, 40, false);
    std::thread::sleep(SETTLE);
    for b in [&px, &pxf, &td, &tdf] {
        b.signal("INT");
    }
    let (c1, _, e1) = px.wait(LIMIT);
    let (c2, _, e2) = pxf.wait(LIMIT);
    let (_, _, te) = td.wait(LIMIT);
    let _ = tdf.wait(LIMIT);
    drop(server);
    assert_eq!((c1, c2), (Some(0), Some(0)), "{e1}{e2}");
    let (fp, ft) = (frames(&p), frames(&t));
    assert_eq!(fp.len(), 7, "{e1}");
    assert_eq!(fp, ft, "tcpdump: {te}");
    let tags = tshark(
        &p,
        &[
            "-Y",
            "vlan",
            "-T",
            "fields",
            "-e",
            "vlan.id",
            "-e",
            "vlan.priority",
        ],
    );
    assert_eq!(tags.lines().collect::<Vec<_>>(), vec!["42\t3"; 4]);
    // `vlan` runs in user space (after the tag is back), with a note.
    assert!(e2.contains("filtering in user space"), "{e2}");
    assert_eq!(frames(&pf), frames(&tf));
    assert_eq!(frames(&pf).len(), 4);
}

#[test]
fn any_is_cooked_sll2_with_direction() {
    let test = "any_is_cooked_sll2_with_direction";
    let Some(lab) = Lab::new(test) else {
        return;
    };
    if !common::python_with(&["scapy"], test) {
        return;
    }
    let (p, t) = (lab.path("any.pcapng"), lab.path("any.pcap"));
    let expr = "inbound and udp";
    let server = lab.server();
    let mut px = lab.start(PCAPX, &["capture", "-i", "any", "-f", expr, "-w", &p]);
    let mut td = lab.start(
        "tcpdump",
        &[
            "-i",
            "any",
            "-y",
            "LINUX_SLL2",
            "-U",
            "-B",
            "8192",
            "-n",
            "-Z",
            "root",
            "-w",
            &t,
            expr,
        ],
    );
    lab.send(6, 30, false);
    // Loopback traffic in B: its outgoing copies are not captured twice.
    let o = lab
        .cmd(
            &lab.b,
            "python3",
            &[
                "-c",
                "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('127.0.0.1',9999))\nfor i in range(3): s.sendto(b'loop%d'%i,('127.0.0.1',9999))",
            ],
        )
        .output()
        .expect("loopback sender");
    assert!(o.status.success());
    std::thread::sleep(SETTLE);
    px.signal("INT");
    td.signal("INT");
    let (code, _, err) = px.wait(LIMIT);
    let (_, _, te) = td.wait(LIMIT);
    drop(server);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("link-type LINUX_SLL2"), "{err}");
    let (fp, ft) = (frames(&p), frames(&t));
    assert_eq!(fp.len(), 9, "{err}");
    assert_eq!(fp, ft, "tcpdump: {te}");
    let f = tshark(
        &p,
        &["-T", "fields", "-e", "sll.ifindex", "-e", "sll.pkttype"],
    );
    assert_eq!(f.lines().count(), 9, "{f}");
    // pcapx reads its file as it reads tcpdump's.
    let (sp, st) = (
        lab.pcapx_in_b(&["summary", &p]),
        lab.pcapx_in_b(&["summary", &t]),
    );
    assert!(sp.status.success(), "{}", stderr(&sp));
    assert_eq!(stdout(&sp), stdout(&st));
    assert_eq!(stdout(&sp).lines().count(), 9);
}

/// The classic BPF program `ss -0 -b` reports on the packet socket of the
/// process `pid` in namespace `ns` (instructions as `code jt jf k`), or
/// `None` when the socket has no filter.
fn kernel_filter_of(lab: &Lab, ns: &str, pid: u32) -> Option<Vec<String>> {
    let o = lab
        .cmd(ns, "ss", &["-0", "-b", "-p", "-n"])
        .output()
        .expect("ss");
    assert!(o.status.success(), "ss: {}", stderr(&o));
    let text = stdout(&o);
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l.contains(&format!("pid={pid},")) {
            let next = lines.next()?;
            let prog = next.trim().strip_prefix("bpf filter (")?;
            let (_, insns) = prog.split_once("):")?;
            return Some(
                insns
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        }
    }
    None
}

#[test]
fn any_filters_in_the_kernel_like_tcpdump() {
    let test = "any_filters_in_the_kernel_like_tcpdump";
    let Some(lab) = Lab::new(test) else {
        return;
    };
    if !common::python_with(&["scapy"], test) || !tool("ss", test) {
        return;
    }
    let expr = "(udp and (dst port 5001 or dst port 5003)) or tcp[tcpflags] & tcp-syn != 0";
    let (p, t, q) = (
        lab.path("any.pcapng"),
        lab.path("any.pcap"),
        lab.path("len.pcapng"),
    );
    let mut server = lab.server();
    let mut px = lab.start(PCAPX, &["capture", "-i", "any", "-f", expr, "-w", &p]);
    // `len` cannot be translated for the kernel: user space, and it says so.
    let mut pl = lab.start(
        PCAPX,
        &[
            "capture",
            "-i",
            "any",
            "-f",
            "udp and greater 100",
            "-w",
            &q,
        ],
    );
    let mut td = lab.start(
        "tcpdump",
        &[
            "-i",
            "any",
            "-y",
            "LINUX_SLL2",
            "-U",
            "-B",
            "8192",
            "-n",
            "-Z",
            "root",
            "-w",
            &t,
            expr,
        ],
    );
    // The program in the kernel is the LINUX_SLL2 program with its loads
    // moved past the cooked header: as long as `--dump`'s, starting with the
    // protocol (ancillary `ldh [proto]`, code 0x28, k = SKF_AD_OFF).
    let attached = kernel_filter_of(&lab, &lab.b, px.child.id()).expect("a kernel filter");
    let dump = lab.pcapx_in_b(&["filter", "--dump", "--linktype", "LINUX_SLL2", expr]);
    assert_eq!(
        attached.len(),
        stdout(&dump).lines().count(),
        "{attached:?}"
    );
    assert_eq!(attached[0], "0x28 0 0 4294963200", "{attached:?}");
    assert_eq!(kernel_filter_of(&lab, &lab.b, pl.child.id()), None);
    lab.send(40, 60, true);
    server.wait();
    std::thread::sleep(SETTLE);
    for c in [&px, &pl] {
        c.signal("INT");
    }
    td.signal("INT");
    let (code, _, err) = px.wait(LIMIT);
    let (lcode, _, lerr) = pl.wait(LIMIT);
    let (_, _, td_err) = td.wait(LIMIT);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(lcode, Some(0), "{lerr}");
    assert!(!err.contains("user space"), "{err}");
    assert!(
        lerr.contains("filtering in user space: cooked capture: the kernel's packet length"),
        "{lerr}"
    );
    let (fp, ft) = (frames(&p), frames(&t));
    // 20 datagrams to 5001/5003, the SYN and the SYN-ACK.
    assert_eq!(fp.len(), 22, "{err}");
    assert_eq!(fp, ft, "tcpdump: {td_err}");
    // Only matching packets reached user space.
    let (captured, received, _) = counters(&err);
    assert_eq!((captured, received), (22, 22), "{err}");
    // The user-space `greater 100`: every UDP datagram of 60 payload bytes
    // is 20 + 20 + 8 + 60 = 108 bytes with the cooked header.
    assert_eq!(frames(&q).len(), 40, "{lerr}");
}

/// One UDP datagram from B to A's closed port 9: an outgoing packet on
/// `vb`, answered by an incoming ICMP port unreachable.
fn warm_up(lab: &Lab) {
    let o = lab
        .cmd(
            &lab.b,
            "python3",
            &[
                "-c",
                "import socket\nsocket.socket(socket.AF_INET,socket.SOCK_DGRAM).sendto(b'warm-up',('10.213.0.1',9))",
            ],
        )
        .output()
        .expect("warm-up sender");
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn inbound_outbound_on_ethernet_like_tcpdump() {
    let test = "inbound_outbound_on_ethernet_like_tcpdump";
    let Some(lab) = Lab::new(test) else {
        return;
    };
    if !common::python_with(&["scapy"], test) || !tool("ss", test) {
        return;
    }
    let (p, u, i, t, ti) = (
        lab.path("out.pcap"),
        lab.path("out-user.pcap"),
        lab.path("in.pcapng"),
        lab.path("out-tcpdump.pcap"),
        lab.path("in-tcpdump.pcap"),
    );
    let mut server = lab.server();
    // In the kernel (`ldh [type]`), and in user space (`vlan` keeps a
    // filter out of the kernel) with the packet type from the ring.
    let mut px = lab.start(PCAPX, &["capture", "-i", "vb", "-f", "outbound", "-w", &p]);
    let mut pu = lab.start(
        PCAPX,
        &[
            "capture",
            "-i",
            "vb",
            "-f",
            "outbound and not vlan",
            "-w",
            &u,
        ],
    );
    let mut pi = lab.start(
        PCAPX,
        &["filter", "-i", "vb", "inbound", "-c", "13", "-o", &i],
    );
    let mut td = lab.start(
        "tcpdump",
        &[
            "-i", "vb", "-U", "-B", "8192", "-n", "-Z", "root", "-w", &t, "outbound",
        ],
    );
    let mut tdi = lab.start(
        "tcpdump",
        &[
            "-i", "vb", "-U", "-B", "8192", "-n", "-Z", "root", "-w", &ti, "inbound",
        ],
    );
    let attached = kernel_filter_of(&lab, &lab.b, px.child.id()).expect("a kernel filter");
    assert_eq!(
        attached,
        [
            "0x28 0 0 4294963204",
            "0x15 0 1 4",
            "0x06 0 0 262144",
            "0x06 0 0 0"
        ],
        "outbound in the kernel"
    );
    // libpcap 1.10 runs a new kernel filter in user space too over the ring
    // block in use when it was set, and its user-space interpreter has no
    // packet type: tcpdump loses that block's `inbound`/`outbound` packets.
    // One exchange fills that block and is retired by its 1 s timeout before
    // the traffic that is compared.
    warm_up(&lab);
    std::thread::sleep(SETTLE);
    lab.send(10, 40, true);
    server.wait();
    std::thread::sleep(SETTLE);
    for c in [&px, &pu] {
        c.signal("INT");
    }
    td.signal("INT");
    tdi.signal("INT");
    let (code, _, err) = px.wait(LIMIT);
    let (ucode, _, uerr) = pu.wait(LIMIT);
    let (icode, _, ierr) = pi.wait(LIMIT);
    let (_, _, td_err) = td.wait(LIMIT);
    let (_, _, tdi_err) = tdi.wait(LIMIT);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(ucode, Some(0), "{uerr}");
    assert_eq!(icode, Some(0), "{ierr}");
    assert!(!err.contains("user space"), "{err}");
    assert!(uerr.contains("filtering in user space"), "{uerr}");
    // The warm-up datagram, then B's side of the TCP connection (SYN-ACK,
    // ACKs, "bye", FIN): outbound.
    let (fp, fu, ft) = (frames(&p), frames(&u), frames(&t));
    assert!(fp.len() >= 5, "{err}");
    assert!(fp[0].ends_with(&hex(b"warm-up")), "{}", fp[0]);
    assert_eq!(fp[1..], ft[..], "tcpdump: {td_err}");
    assert_eq!(fu, fp);
    // The first 12 inbound packets after the warm-up's ICMP answer (UDP from
    // A, then A's side of the connection).
    let (fi, fti) = (frames(&i), frames(&ti));
    assert_eq!(fi.len(), 13, "{ierr}");
    assert_eq!(fi[1..], fti[..12], "tcpdump: {tdi_err}");
    // A capture file has no packet type: reading it back refuses, as tcpdump -r does.
    let back = lab.pcapx_in_b(&["count", &p, "-f", "outbound"]);
    assert_eq!(back.status.code(), Some(2));
    assert!(
        stderr(&back).contains("inbound/outbound not supported on Ethernet when reading savefiles"),
        "{}",
        stderr(&back)
    );
}

#[test]
fn list_interfaces_names_what_tcpdump_lists() {
    // Inside namespace B: lo (up, loopback), vb (up), and a veth pair
    // dn0/dn1 that is down; `pcapx capture --list-interfaces` lists the same interfaces as
    // `tcpdump -D` with the same up/running/loopback states, and the link
    // type of each.
    let Some(lab) = Lab::new("list_interfaces_names_what_tcpdump_lists") else {
        return;
    };
    sh(&[
        "ip", "-n", &lab.b, "link", "add", "dn0", "type", "veth", "peer", "name", "dn1",
    ]);
    let o = lab.pcapx_in_b(&["capture", "--list-interfaces"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ours = String::from_utf8_lossy(&o.stdout).into_owned();
    let t = lab
        .cmd(&lab.b, "tcpdump", &["-D"])
        .output()
        .expect("tcpdump -D");
    let theirs = String::from_utf8_lossy(&t.stdout).into_owned();
    // `N.name [flags]` (tcpdump adds a description for `any` and a
    // connection status on some interfaces): name -> flags we both report.
    let parse = |s: &str| -> std::collections::BTreeMap<String, Vec<String>> {
        s.lines()
            .filter_map(|l| {
                let (_, rest) = l.split_once('.')?;
                let name = rest.split_whitespace().next()?.to_owned();
                let flags = rest
                    .rsplit_once('[')
                    .map(|(_, f)| f.trim_end().trim_end_matches(|c| c != ']'))
                    .unwrap_or("")
                    .trim_end_matches(']')
                    .split(", ")
                    .filter(|f| matches!(*f, "Up" | "Running" | "Loopback"))
                    .map(str::to_owned)
                    .collect();
                Some((name, flags))
            })
            .collect()
    };
    // tcpdump also lists libpcap's capture sources that are not network
    // interfaces (Bluetooth monitor, NFLOG, NFQUEUE, D-Bus), each with a
    // description in parentheses; pcapx captures from AF_PACKET interfaces
    // only, so those are left out of the comparison (`any` has one too and
    // stays).
    let theirs_net: String = theirs
        .lines()
        .filter(|l| !l.contains(" (") || l.contains(".any "))
        .map(|l| format!("{l}\n"))
        .collect();
    let (a, b) = (parse(&ours), parse(&theirs_net));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "interface names differ:\npcapx:\n{ours}\ntcpdump -D:\n{theirs}"
    );
    assert_eq!(
        a, b,
        "states differ:\npcapx:\n{ours}\ntcpdump -D:\n{theirs}"
    );
    for (name, lt) in [
        ("lo", "EN10MB"),
        ("vb", "EN10MB"),
        ("dn0", "EN10MB"),
        ("any", "LINUX_SLL2"),
    ] {
        assert!(
            ours.lines()
                .any(|l| l.contains(&format!(".{name} ")) && l.ends_with(lt)),
            "{name} {lt}: {ours}"
        );
    }
    assert!(
        a["dn0"].is_empty() && a["vb"].iter().any(|f| f == "Up"),
        "{ours}"
    );
}
