"""The README and the sample config agree with the option declarations in glance/config.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from glance.config import OPTIONS, load_settings, markdown_table, sample_config

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
SAMPLE = REPO / "etc" / "glance-api.sample.toml"
GEN_DOCS = REPO / "scripts" / "gen-docs"
BEGIN, END = "<!-- BEGIN CONFIG TABLE -->", "<!-- END CONFIG TABLE -->"


def table_block(text: str) -> str:
    start = text.index(BEGIN) + len(BEGIN)
    return text[start:text.index(END, start)]


def gen_docs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GEN_DOCS), *args], capture_output=True,
                          text=True, timeout=60, check=False)


def test_readme_config_table_is_current() -> None:
    assert table_block(README.read_text()) == "\n" + markdown_table() + "\n", \
        "README.md's configuration table is stale: run scripts/gen-docs"
    for opt in OPTIONS:  # options that are tables (stores) have no flag
        flag = f"`{opt.cli}`" if opt.flag else "—"
        assert f"| `{opt.name}` | {flag} | `{opt.env}` |" in README.read_text()


def test_sample_config_is_current_and_loads() -> None:
    assert SAMPLE.read_text() == sample_config() + "\n", \
        "etc/glance-api.sample.toml is stale: run scripts/gen-docs"
    for opt in OPTIONS:  # a table option (stores) is shown as an example table
        line = rf"^# \[{opt.name}\." if not opt.flag else rf"^# {opt.name} = "
        assert re.search(line, SAMPLE.read_text(), re.MULTILINE), opt.name
    # Every key is commented out: the sample loads as the defaults.
    assert load_settings(config_file=str(SAMPLE), environ={}) == load_settings(environ={})


def test_gen_docs_check_passes_on_the_repository() -> None:
    proc = gen_docs("--check")
    assert proc.returncode == 0, proc.stderr


def test_gen_docs_regenerates_a_stale_tree(tmp_path: Path) -> None:
    text = README.read_text()
    stale = text.replace(table_block(text), "\n| stale |\n")
    (tmp_path / "README.md").write_text(stale)

    check = gen_docs("--check", "--root", str(tmp_path))
    assert check.returncode == 1
    assert "README.md is out of date" in check.stderr
    assert "glance-api.sample.toml is out of date" in check.stderr

    assert gen_docs("--root", str(tmp_path)).returncode == 0
    assert (tmp_path / "README.md").read_text() == text
    assert (tmp_path / "etc" / "glance-api.sample.toml").read_text() == SAMPLE.read_text()
    assert gen_docs("--check", "--root", str(tmp_path)).returncode == 0


def test_readme_starts_with_serve_then_test_and_ci_runs_the_test_command() -> None:
    first_block = re.search(r"```sh\n(.*?)```", README.read_text(), re.DOTALL)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert commands[:2] == ["./scripts/serve", "./scripts/test"]
    lines = [line for line in (REPO / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[-1] == "exec bash scripts/test"
