"""Run the CLI the way a person does: stdin and stdout on a pseudo-terminal (a plain module: the tests
folder is not a package). Commands that ask at a terminal instead of wanting a token are tested this way."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time


def run_in_terminal(argv: list[str], env: dict[str, str], timeout: float = 60.0) -> tuple[int, str]:
    """``comfyfixer ARGV`` with stdin, stdout and stderr on a pseudo-terminal; (exit code, what it printed)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", "from comfyfixer.agent.cli import main; main()", *argv],
                            stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([leader], [], [], 0.5)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    return proc.wait(timeout=10), out.decode("utf-8", "replace")
