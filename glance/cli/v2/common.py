"""What the v2 commands share: python-glanceclient's argument types, and how a record is
shown (its table, or JSON with ``--json``)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from glance.cli.errors import UsageError
from glance.cli.output import dict_table, image_table, print_json

#: The spellings python-glanceclient (oslo's ``bool_from_string``) reads as true and false.
TRUE_STRINGS = frozenset({"1", "t", "true", "on", "y", "yes"})
FALSE_STRINGS = frozenset({"0", "f", "false", "off", "n", "no"})


def strict_bool(text: str) -> bool:
    """``True``/``False`` (and yes/no, on/off, 1/0, t/f, y/n); anything else is refused."""
    lowered = text.strip().lower()
    if lowered in TRUE_STRINGS:
        return True
    if lowered in FALSE_STRINGS:
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, not {text!r}")


def lenient_bool(text: str) -> bool:
    """True for the true spellings of ``strict_bool``, False for anything else."""
    return text.strip().lower() in TRUE_STRINGS


def split_pair(text: str, option: str) -> tuple[str, str]:
    """``KEY=VALUE`` given to ``option`` as ``(key, value)``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"Argument {option} expected properties in the format KEY=VALUE, "
                         f"not {text!r}")
    return key, value


def env(name: str) -> str | None:
    """The environment variable ``name``, None when unset or empty."""
    return os.environ.get(name) or None


def show_image(args: argparse.Namespace, image: dict[str, Any], human_readable: bool = False,
               max_width: int = 80) -> None:
    """An image as ``image-show`` prints it."""
    if args.json:
        print_json(image)
    else:
        print(image_table(image, human_readable, max_width))


def show_record(args: argparse.Namespace, record: dict[str, Any]) -> None:
    """Any other record as a ``Property | Value`` table."""
    if args.json:
        print_json(record)
    else:
        print(dict_table(record))
