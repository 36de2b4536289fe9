"""The README's configuration table and the sample config file, from the declarations
(``python -m glance.config --markdown`` / ``--sample``; ``scripts/gen-docs`` writes them)."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from glance.config.options import REQUIRED, Option
from glance.config.settings import OPTIONS, STORE_SETTINGS


def _default_text(opt: Option) -> str:
    if opt.default is REQUIRED:
        return "(required)"
    if opt.default is None:
        return "(see description)"
    if isinstance(opt.default, bool):
        return f"`{str(opt.default).lower()}`"
    return f"`{opt.default}`"


def markdown_table() -> str:
    """The README's configuration table."""
    lines = ["| option | flag | environment | default | description |",
             "|---|---|---|---|---|"]
    for opt in OPTIONS:
        flag = f"`{opt.cli}`" if opt.flag else "—"
        lines.append(f"| `{opt.name}` | {flag} | `{opt.env}` | {_default_text(opt)} | {opt.help} |")
    lines += ["", "Store settings (inside `[stores.NAME]`, beside `driver`):", "",
              "| driver | setting | default | description |", "|---|---|---|---|"]
    for driver, declared in STORE_SETTINGS.items():
        for opt in declared:
            lines.append(f"| `{driver}` | `{opt.name}` | {_default_text(opt)} | {opt.help} |")
    return "\n".join(lines)


def sample_config() -> str:
    """A sample TOML config file listing every option with its default, commented out."""
    out = ["# glance-api configuration (TOML). Every key is optional.", "[glance]"]
    for opt in OPTIONS:
        if opt.name == "stores":
            continue  # tables: see the end of the file
        out.append(f"# {opt.help}")
        if opt.default is None:
            out.append(f"# {opt.name} = ")
        elif isinstance(opt.default, bool):
            out.append(f"# {opt.name} = {str(opt.default).lower()}")
        elif isinstance(opt.default, int):
            out.append(f"# {opt.name} = {opt.default}")
        else:
            out.append(f'# {opt.name} = "{opt.default}"')
        out.append("")
    out.append("# Named stores: one table per store (top level, or [glance.stores.NAME]).")
    for driver, declared in STORE_SETTINGS.items():
        out.append(f"# [stores.my-{driver}]")
        out.append(f'# driver = "{driver}"')
        for opt in declared:
            if opt.default is REQUIRED or opt.default is None:
                needed = "required" if opt.default is REQUIRED else "optional"
                out.append(f"# {opt.name} =    # {needed}")
            elif isinstance(opt.default, bool):
                out.append(f"# {opt.name} = {str(opt.default).lower()}")
            elif isinstance(opt.default, (int, float)):
                out.append(f"# {opt.name} = {opt.default}")
            else:
                out.append(f'# {opt.name} = "{opt.default}"')
        out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m glance.config")
    parser.add_argument("--markdown", action="store_true", help="print the README table")
    parser.add_argument("--sample", action="store_true", help="print a sample config file")
    args = parser.parse_args(argv)
    sys.stdout.write((sample_config() if args.sample else markdown_table()) + "\n")
    return 0
