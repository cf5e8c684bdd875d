"""Parent-side handle on a ``_worker.py`` child: line I/O with timeouts, stop by PID."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

WORKER = Path(__file__).with_name("_worker.py")
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60.0


class Child:
    """A running worker. Its stdout lines arrive on a queue, so no read can hang forever."""

    def __init__(self, *args: str) -> None:
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=ROOT,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        #: Every line read so far, by readline() or drain().
        self.history: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            # A line cut short by SIGKILL has no newline: it was never fully reported.
            if line.endswith("\n"):
                self.lines.put(line[:-1])
        self.lines.put(None)

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-4000:]

    def readline(self) -> str:
        try:
            line = self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"worker {self.proc.pid} is silent:\n{self.stderr()}") from None
        if line is None:
            self.proc.wait(timeout=TIMEOUT)
            raise AssertionError(
                f"worker {self.proc.pid} exited ({self.proc.returncode}):\n{self.stderr()}"
            )
        self.history.append(line)
        return line

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def ask(self, line: str) -> str:
        self.send(line)
        return self.readline()

    def kill(self) -> None:
        """SIGKILL the worker (by PID) and collect every line it completed."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=TIMEOUT)
        self._reader.join(timeout=TIMEOUT)

    def drain(self) -> list[str]:
        """Read every complete line not yet read (once the worker has exited); return all."""
        while (line := self.lines.get(timeout=TIMEOUT)) is not None:
            self.history.append(line)
        return self.history

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._stderr.close()
