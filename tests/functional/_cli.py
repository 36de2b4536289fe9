"""Running ``glance`` (ours) and python-glanceclient's ``glance`` as processes, and reading
the tables they print."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

OURS = [sys.executable, "-m", "glance.cli.main"]
GLANCECLIENT = [sys.executable, "-c",
                "import sys; from glanceclient.shell import main; sys.exit(main())"]


def clean_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """This process's environment without OS_* and GLANCE_* variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OS_", "GLANCE_"))}
    if home is not None:
        env["HOME"] = str(home)
    env.update(extra)
    return env


def run(cmd: list[str], *args: str, env: dict[str, str] | None = None,
        stdin: bytes | None = None, close_stdin: bool = False,
        timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """Run ``cmd args``: stdin fed ``stdin``, or /dev/null, or closed (``close_stdin``: what
    python-glanceclient needs to not read stdin as image data)."""
    full = [*cmd, *args]
    if close_stdin:
        full = ["sh", "-c", 'exec "$@" <&-', "sh", *full]
    return subprocess.run(full, input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, env=env if env is not None else clean_env(),
                          timeout=timeout, check=False)


def ok(proc: subprocess.CompletedProcess[bytes]) -> str:
    """stdout of a command that must have succeeded."""
    assert proc.returncode == 0, (proc.returncode, proc.stderr.decode(), proc.stdout.decode())
    return proc.stdout.decode()


def failed(proc: subprocess.CompletedProcess[bytes], code: int = 1) -> str:
    """stderr of a command that must have failed with ``code``, with no traceback."""
    err = proc.stderr.decode()
    assert proc.returncode == code, (proc.returncode, err, proc.stdout.decode())
    assert "Traceback" not in err, err
    return err


def rows(output: str) -> list[dict[str, str]]:
    """The rows of a prettytable-style table, as dicts by header; a cell wrapped over
    several lines is joined back (with no separator, as hashes and ids are cut)."""
    lines = [line for line in output.splitlines() if line.startswith("|")]
    if not lines:
        return []
    headers = [cell.strip() for cell in lines[0].strip("|").split("|")]
    result: list[dict[str, str]] = []
    for line in lines[1:]:
        cells = [cell.strip() for cell in line[1:-1].split(" | ")]
        if result and cells[0] == "" and len(headers) == 2:
            result[-1][headers[1]] += cells[1]
            continue
        result.append(dict(zip(headers, cells)))
    return result


def record(output: str) -> dict[str, str]:
    """A ``Property | Value`` table as a dict."""
    return {row["Property"]: row["Value"] for row in rows(output)}


def run_on_pty(cmd: list[str], *args: str, env: dict[str, str],
               stdout_on_pty: bool = False,
               timeout: float = 120) -> tuple[int, bytes, bytes]:
    """Run with stderr (and with ``stdout_on_pty`` stdout too) on a pseudo-terminal;
    ``(exit status, stdout if piped, what the terminal received)``."""
    master, slave = pty.openpty()
    received: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                return
            if not data:
                return
            received.append(data)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    proc = subprocess.Popen([*cmd, *args], stdin=subprocess.DEVNULL,
                            stdout=slave if stdout_on_pty else subprocess.PIPE, stderr=slave,
                            env=env)
    os.close(slave)
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    finally:
        reader.join(10)
        os.close(master)
    return proc.returncode, stdout or b"", b"".join(received)


def wait_for(check: Any, timeout: float = 30, interval: float = 0.1) -> Any:
    """Call ``check`` until it returns something truthy (that value), or fail."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        time.sleep(interval)
