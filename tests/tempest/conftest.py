"""Tempest runs (scripts/tempest-run), one per enforcement setting, shared by the tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "tempest-run"
EXPECTED = Path(__file__).with_name("expected_pass.txt")
# The last results of each setting are kept here too (git-ignored): pytest's temporary
# directories do not last.
KEPT = REPO / ".cache" / "tempest"
# The enforcement settings to run: "true" (format inspection on, Tempest told formats are
# enforced) and "false" (both off). GLANCE_TEMPEST_ENFORCEMENT=true runs only one.
MODES = [m.strip() for m in os.environ.get("GLANCE_TEMPEST_ENFORCEMENT", "true,false").split(",")
         if m.strip()]
TIMEOUT = float(os.environ.get("GLANCE_TEMPEST_TIMEOUT", "1800"))
# A narrower selection while developing (expected tests outside it are then not checked).
REGEX = os.environ.get("GLANCE_TEMPEST_REGEX")

_summaries: list[str] = []


def run_tempest(root: Path, enforcement: str) -> dict[str, Any]:
    """Run the harness into ``root`` and return its results (fails the test on a harness
    error, with the end of its output)."""
    results = root / "results.json"
    log = root / "tempest-run.out"
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(SCRIPT), "--root", str(root), "--enforcement", enforcement,
                                 "--results", str(results), *(["--regex", REGEX] if REGEX else [])],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"scripts/tempest-run took more than {TIMEOUT:.0f}s:\n"
                        f"{log.read_text(errors='replace')[-6000:]}")
        finally:
            # a timeout (ours or pytest-timeout's): TERM lets the script stop what it started
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    elapsed = time.monotonic() - started
    if proc.returncode != 0 or not results.exists():
        pytest.fail(f"scripts/tempest-run failed ({proc.returncode}):\n"
                    f"{log.read_text(errors='replace')[-6000:]}")
    KEPT.mkdir(parents=True, exist_ok=True)
    kept = KEPT / f"results-enforcement-{enforcement}.json"
    shutil.copyfile(results, kept)
    data = json.loads(results.read_text())
    data["elapsed"] = elapsed
    data["kept"] = str(kept)
    return data


def expected_pass(enforcement: str) -> list[str]:
    """Test ids of expected_pass.txt for this setting: `<id>` for every setting, or
    `<id> enforcement=true|false` for one; `#` starts a comment."""
    ids = []
    for lineno, line in enumerate(EXPECTED.read_text().splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        test_id, conditions = fields[0], fields[1:]
        for cond in conditions:
            key, _, value = cond.partition("=")
            if key != "enforcement" or value not in ("true", "false"):
                raise ValueError(f"{EXPECTED.name}:{lineno}: unknown condition {cond!r}")
        if all(c == f"enforcement={enforcement}" for c in conditions):
            ids.append(test_id)
    return ids


def record_summary(enforcement: str, data: dict[str, Any], unexpected_passes: list[str]) -> None:
    s = data["summary"]
    lines = [f"Tempest (image_format_enforcement={enforcement}): {s['passed']} passed, "
             f"{s['failed']} failed, {s['skipped']} skipped of {s['total']} in "
             f"{data['elapsed']:.0f}s (Tempest {data['settings'].get('run_seconds', '?')}s); "
             f"results: {data['kept']}"]
    if unexpected_passes:
        lines.append(f"  passing but not yet in {EXPECTED.name} ({len(unexpected_passes)}):")
        lines += [f"    {t}" for t in unexpected_passes]
    _summaries.append("\n".join(lines))


@pytest.fixture(scope="session", params=MODES, ids=lambda m: f"enforcement-{m}")
def tempest_results(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    enforcement = request.param
    if enforcement not in ("true", "false"):
        raise ValueError(f"GLANCE_TEMPEST_ENFORCEMENT: {enforcement!r} is not true or false")
    data = run_tempest(tmp_path_factory.mktemp(f"tempest-{enforcement}"), enforcement)
    data["enforcement"] = enforcement
    return data


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _summaries:
        terminalreporter.section("Tempest")
        for text in _summaries:
            terminalreporter.write_line(text)
