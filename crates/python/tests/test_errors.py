"""Errors are Python exceptions, never a crash; Ctrl-C interrupts; the GIL
is released while Rust works."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import pcapx
from conftest import FIXTURES, ROOT

TUTORIAL = FIXTURES / "tutorial.pcap"


def test_missing_file_is_a_capture_error_and_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(pcapx.CaptureError, match="nope.pcap"):
        pcapx.read(tmp_path / "nope.pcap")
    with pytest.raises(OSError):
        pcapx.read(tmp_path / "nope.pcap")


def test_not_a_capture_is_a_capture_error() -> None:
    for f in (pcapx.read, pcapx.summary, lambda p: list(pcapx.batches(p))):
        with pytest.raises(pcapx.CaptureError):
            f(FIXTURES / "not-a-capture.pcap")
    with pytest.raises(pcapx.CaptureError):
        pcapx.stats(FIXTURES / "not-a-capture.pcap", "src")


def test_bad_filter_is_a_filter_error_with_a_caret() -> None:
    with pytest.raises(pcapx.FilterError) as e:
        pcapx.read(TUTORIAL, filter="tcp and port")
    msg = str(e.value)
    assert msg.startswith("filter: "), msg
    lines = msg.splitlines()
    assert lines[1].strip() == "tcp and port"
    assert lines[2].strip().startswith("^"), msg
    assert lines[2].index("^") == lines[1].index("tcp") + len("tcp and port"), msg
    assert isinstance(e.value, ValueError)
    with pytest.raises(pcapx.FilterError):
        pcapx.stats(TUTORIAL, "src", filter="port 99999")
    with pytest.raises(pcapx.FilterError):
        next(iter(pcapx.batches(TUTORIAL, filter="nosuchprimitive 3")))


def test_bad_fields_are_value_errors_with_a_hint() -> None:
    with pytest.raises(ValueError, match="unknown field 'ip.scr'.*did you mean 'ip.src'"):
        pcapx.read(TUTORIAL, fields="ip.scr")
    with pytest.raises(ValueError, match="unknown field"):
        pcapx.stats(TUTORIAL, "nosuchfield")
    with pytest.raises(ValueError, match="numeric"):
        pcapx.stats(TUTORIAL, "proto", sum="src")
    with pytest.raises(ValueError):
        pcapx.describe(TUTORIAL, [])
    with pytest.raises(ValueError):
        pcapx.read(TUTORIAL, occurrence="sometimes")
    with pytest.raises(ValueError):
        pcapx.read([])


def test_truncated_and_damaged_files_still_give_their_good_rows() -> None:
    t = pcapx.read(FIXTURES / "truncated-record.pcap", all=True)
    assert t.num_rows >= 1


def test_ctrl_c_interrupts_a_long_read(tmp_path: Path, big_capture: Path) -> None:
    # 30 copies of the 104,000-row capture: several seconds of work.
    script = textwrap.dedent(
        f"""
        import sys, time
        import pcapx
        print("ready", flush=True)
        t = time.monotonic()
        try:
            pcapx.read([{str(big_capture)!r}] * 30, threads=1)
            print("finished", flush=True)
        except KeyboardInterrupt:
            print("interrupted %.2f" % (time.monotonic() - t), flush=True)
        """
    )
    p = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    assert out.startswith("interrupted"), out
    assert p.returncode == 0


def test_the_gil_is_released_while_rust_works(big_capture: Path) -> None:
    ticks = 0
    done = threading.Event()

    def work() -> None:
        pcapx.read([big_capture] * 3, threads=1)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    t.join()
    # A thread holding the GIL for the whole read would leave a handful.
    assert ticks > 50, ticks
