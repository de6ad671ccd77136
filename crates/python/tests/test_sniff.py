"""pcapx.sniff on the live capture path, in network namespaces this test
creates and deletes: namespace A (va, 10.214.0.1) and B (vb, 10.214.0.2)
joined by a veth pair, IPv6 off and static neighbours so the only traffic is
the test's UDP datagrams. pcapx.sniff (in a Python process inside B) and
tcpdump capture side by side on vb; the sniffed table must equal
pcapx.read of tcpdump's file. Needs root: skipped without it, a failure
under CI=true."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pyarrow.parquet as pq
import pytest

import pcapx
from conftest import CI, need

N = 200
FIELDS = (
    "frame.number,frame.len,frame.cap_len,eth.src,eth.dst,ip.src,ip.dst,ip.id,ip.ttl,"
    "udp.srcport,udp.dstport,udp.length,data.len,frame.protocols"
)

SENDER = r"""
import socket, sys, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("10.214.0.1", 40000))
for i in range(int(sys.argv[1])):
    u.sendto(b"pcapx-sniff-%05d" % i * 8, ("10.214.0.2", 5001 + i % 4))
    if i % 50 == 49: time.sleep(0.005)
"""

SNIFF = r"""
import sys, pcapx, pyarrow.parquet as pq
kw = dict(filter="udp", fields=sys.argv[2], duration=float(sys.argv[3]))
if int(sys.argv[4]) > 0:
    kw["count"] = int(sys.argv[4])
print("start", flush=True)
try:
    t = pcapx.sniff("vb", **kw)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
pq.write_table(t, sys.argv[1])
"""


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    if os.geteuid() != 0:
        if CI:
            pytest.fail("test_sniff needs root under CI")
        pytest.skip("test_sniff needs root (network namespaces, AF_PACKET)")
    for tool in ("ip", "tcpdump"):
        need(shutil.which(tool) is not None, tool)
    tag = f"pcapx-py-{os.getpid()}"
    a, b = f"{tag}-a", f"{tag}-b"
    try:
        for ns in (a, b):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            for key in ("all", "default"):
                sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
        sh("ip", "-n", a, "link", "add", "va", "address", "02:00:00:00:03:01", "type", "veth",
           "peer", "name", "vb", "address", "02:00:00:00:03:02", "netns", b)
        sh("ip", "-n", a, "addr", "add", "10.214.0.1/24", "dev", "va")
        sh("ip", "-n", b, "addr", "add", "10.214.0.2/24", "dev", "vb")
        sh("ip", "-n", a, "neigh", "add", "10.214.0.2", "lladdr", "02:00:00:00:03:02", "dev", "va", "nud", "permanent")
        sh("ip", "-n", b, "neigh", "add", "10.214.0.1", "lladdr", "02:00:00:00:03:01", "dev", "vb", "nud", "permanent")
        sh("ip", "-n", a, "link", "set", "va", "up")
        sh("ip", "-n", b, "link", "set", "vb", "up")
        yield a, b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def sniffer(b: str, out: Path, duration: float, count: int) -> subprocess.Popen[str]:
    env = dict(os.environ)
    p = subprocess.Popen(
        ["ip", "netns", "exec", b, sys.executable, "-c", SNIFF, str(out), FIELDS, str(duration), str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "start"
    return p


def test_sniff_equals_read_of_tcpdumps_file(lab: tuple[str, str], tmp_path: Path) -> None:
    a, b = lab
    dump = tmp_path / "tcpdump.pcap"
    td = subprocess.Popen(
        ["ip", "netns", "exec", b, "tcpdump", "-i", "vb", "-n", "-U", "-c", str(N), "-w", str(dump), "udp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    out = tmp_path / "sniff.parquet"
    sn = sniffer(b, out, 30.0, N)
    # Both listening (tcpdump says so; the sniffer's socket is open once
    # the interpreter has started the call).
    assert td.stderr is not None
    assert "listening on" in td.stderr.readline()
    time.sleep(1.0)
    sh("ip", "netns", "exec", a, sys.executable, "-c", SENDER, str(N))
    assert sn.wait(timeout=60) == 0, sn.stderr.read() if sn.stderr else ""
    assert td.wait(timeout=60) == 0
    got = pq.read_table(out)
    want = pcapx.read(dump, fields=FIELDS)
    assert got.num_rows == N
    assert got.equals(want)
    # The default table too (same packets, same columns as read's).
    assert pcapx.read(dump).schema.equals(pcapx._pcapx.schema(None, False, "first", []))


def test_sniff_stops_on_duration_and_ctrl_c(lab: tuple[str, str], tmp_path: Path) -> None:
    a, b = lab
    out = tmp_path / "quiet.parquet"
    t0 = time.monotonic()
    sn = sniffer(b, out, 1.0, 0)
    assert sn.wait(timeout=30) == 0, sn.stderr.read() if sn.stderr else ""
    assert time.monotonic() - t0 < 20
    assert pq.read_table(out).num_rows == 0
    # No count, a long duration: Ctrl-C raises KeyboardInterrupt promptly.
    sn = sniffer(b, out, 600.0, 0)
    time.sleep(1.0)
    os.kill(sn.pid, signal.SIGINT)  # `ip netns exec` execs the interpreter
    assert sn.wait(timeout=15) == 3
    assert sn.stdout is not None and "interrupted" in sn.stdout.read()


def test_unknown_interface_and_missing_privilege_are_capture_errors(tmp_path: Path) -> None:
    with pytest.raises(pcapx.CaptureError) as e:
        pcapx.sniff("pcapx-no-such0", count=1, duration=1)
    assert "pcapx-no-such0" in str(e.value)
    with pytest.raises(ValueError):
        pcapx.sniff("lo", duration=-1)
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return
    # Without CAP_NET_RAW (an unprivileged uid, no capabilities).
    code = "import pcapx\ntry:\n    pcapx.sniff('lo', count=1, duration=1)\nexcept pcapx.CaptureError as e:\n    print('CaptureError', e)\n"
    p = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
         sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    if "No module named" in p.stderr or "Permission denied" in p.stderr and "CaptureError" not in p.stdout:
        pytest.skip(f"the package is not readable by an unprivileged user: {p.stderr[-200:]}")
    assert "CaptureError" in p.stdout, p.stderr
