"""Running the ``lmsys`` entry point of this environment as a person would: in a pseudo-terminal
(the command sees a real tty on stdin, stdout and stderr), or with its output piped."""

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LMSYS = str(Path(sys.executable).parent / "lmsys")
COLOURS = re.compile(r"\x1b\[[0-9;]*m")
CURSOR = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Transcript:
    raw: str  # everything the terminal received, in order
    returncode: int

    @property
    def frames(self) -> list[str]:
        """Each line the terminal drew, in order, without colours (a live display redraws
        its lines with carriage returns and cursor moves: each redraw is a frame)."""
        text = CURSOR.sub("\n", COLOURS.sub("", self.raw).replace("\r", "\n"))
        return [line.strip() for line in text.split("\n") if line.strip()]

    @property
    def text(self) -> str:
        """The frames, one a line: what a person read, without colours."""
        return "\n".join(self.frames)


def in_terminal(
    args: list[str],
    env: dict[str, str],
    *,
    until: Callable[[str], bool] | None = None,
    then_signal: int = signal.SIGINT,
    timeout_s: float = 600,
) -> Transcript:
    """Runs ``lmsys args`` in a 160 x 40 pseudo-terminal to its end; when ``until(output so
    far)`` first holds, sends it ``then_signal``."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    process = subprocess.Popen(
        [LMSYS, *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        # COLUMNS / LINES as the window: Rich prefers them to the window size, and a parent
        # (pytest-xdist's workers) may have set them for itself.
        env={**env, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "40"},
        start_new_session=True,
    )
    os.close(slave)
    received, signalled = bytearray(), False
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout_s)
            if not ready:
                raise TimeoutError(f"lmsys {' '.join(args)} printed nothing for {timeout_s} s")
            try:
                data = os.read(master, 65536)
            except OSError:  # the command ended and closed the terminal
                break
            if not data:
                break
            received += data
            if until is not None and not signalled and until(received.decode(errors="replace")):
                process.send_signal(then_signal)
                signalled = True
    finally:
        os.close(master)
        if process.poll() is None and not signalled:
            process.kill()
    return Transcript(received.decode(errors="replace"), process.wait(timeout=timeout_s))


def piped(
    args: list[str], env: dict[str, str], timeout_s: float | None = None
) -> subprocess.CompletedProcess:
    """Runs ``lmsys args`` with stdout and stderr piped (what CI and scripts see); past
    ``timeout_s`` it is killed and ``subprocess.TimeoutExpired`` raised."""
    return subprocess.run(
        [LMSYS, *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout_s,
    )


def counts(frames: list[str], pattern: str) -> list[int]:
    """The first number group of ``pattern`` in each frame that matches it, in order."""
    compiled = re.compile(pattern)
    found = []
    for frame in frames:
        match = compiled.search(frame)
        if match:
            found.append(int(match.group(1).replace(",", "")))
    return found
