"""What the ``glance`` command prints: tables, image records, JSON.

The v2 commands print the tables python-glanceclient prints (its prettytable layout: ``+--+``
rules, ``| cell |`` rows, left-aligned, long cells wrapped at the column's maximum width);
the original v1 commands keep their fixed-width ``index`` table and ``Key: value`` records.
"""

from __future__ import annotations

import json
import sys
import textwrap
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Fields python-glanceclient leaves out when it prints an image.
IMAGE_HIDDEN_FIELDS = ("self", "access", "file", "schema")


# -- prettytable-style tables ---------------------------------------------------------------

def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: wide East Asian characters count two,
    combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _block_width(text: str) -> int:
    return max(display_width(line) for line in text.split("\n"))


def _wrap(text: str, width: int) -> list[str]:
    """The lines of a cell: each line wider than ``width`` wrapped at word boundaries
    (and hyphens), as prettytable wraps."""
    lines: list[str] = []
    for line in text.split("\n"):
        if display_width(line) > width:
            lines.append("\n".join(textwrap.wrap(line, width)))
        else:
            lines.append(line)
    return "\n".join(lines).split("\n")


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]],
                 max_width: int | None = None) -> str:
    """A bordered, left-aligned table; cells wider than ``max_width`` are wrapped."""
    cells = [[str(value).expandtabs() for value in row] for row in rows]
    widths = [display_width(header) for header in headers]
    for row in cells:
        for index, value in enumerate(row):
            size = _block_width(value)
            if max_width is not None:
                size = min(size, max_width)
            widths[index] = max(widths[index], size)
    rule = "+" + "+".join("-" * (width + 2) for width in widths) + "+"
    header = " | ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True))
    lines = [rule, f"| {header} |", rule]
    for row in cells:
        wrapped = [_wrap(value, width) for value, width in zip(row, widths, strict=True)]
        height = max(len(cell) for cell in wrapped)
        for y in range(height):
            lines.append("| " + " | ".join(
                _pad(cell[y] if y < len(cell) else "", width)
                for cell, width in zip(wrapped, widths, strict=True)) + " |")
    lines.append(rule)
    return "\n".join(lines)


def list_table(items: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A table with one row per item: column ``Disk_format`` shows the item's
    ``disk_format``, ``Member ID`` its ``member_id``; missing or empty values show blank."""
    keys = [column.lower().replace(" ", "_") for column in columns]
    rows = [[item.get(key) or "" for key in keys] for item in items]
    return render_table(columns, rows)


def dict_table(record: Mapping[str, Any], max_width: int = 80) -> str:
    """The ``Property | Value`` table of a record, sorted by property; lists and dicts are
    shown as JSON."""
    rows = [[key, json.dumps(value) if isinstance(value, (dict, list)) else value]
            for key, value in sorted(record.items())]
    return render_table(("Property", "Value"), rows, max_width)


def human_size(size: int | None) -> str:
    """``3000`` → ``2.9kB`` (powers of 1024), as python-glanceclient shows sizes."""
    value = float(size or 0)
    suffixes = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB")
    index = 0
    while value >= 1024 and index < len(suffixes) - 1:
        index += 1
        value /= 1024
    return ("%.1f" % value).rstrip("0").rstrip(".") + suffixes[index]


def image_table(image: Mapping[str, Any], human_readable: bool = False,
                max_width: int = 80) -> str:
    """An image record as python-glanceclient's ``image-show`` prints it."""
    shown = {k: v for k, v in image.items() if k not in IMAGE_HIDDEN_FIELDS}
    if "virtual_size" in shown:
        shown["virtual_size"] = shown["virtual_size"] or "Not available"
    if human_readable:
        shown["size"] = human_size(shown.get("size"))
    return dict_table(shown, max_width)


# -- the v1 commands' formats --------------------------------------------------------------

INDEX_COLUMNS = ((36, "ID", False), (30, "Name", False), (20, "Disk Format", False),
                 (20, "Container Format", False), (14, "Size", True))


def _cell(value: Any, width: int, right: bool = False) -> str:
    text = "" if value is None else str(value)
    text = text[:width]
    return text.rjust(width) if right else text.ljust(width)


def index_table(images: Iterable[Mapping[str, Any]]) -> str:
    """The v1 ``index`` table: fixed-width columns clipped to width, a header and dashes."""
    lines = [" ".join(_cell(label, width) for width, label, _ in INDEX_COLUMNS).rstrip(),
             " ".join("-" * width for width, _, _ in INDEX_COLUMNS)]
    for image in images:
        values = (image.get("id"), image.get("name"), image.get("disk_format"),
                  image.get("container_format"), image.get("size"))
        cells = zip(values, INDEX_COLUMNS, strict=True)
        lines.append(" ".join(_cell(value, width, right)
                              for value, (width, _, right) in cells).rstrip())
    return "\n".join(lines)


def _yes_no(value: Any) -> str:
    return "Yes" if value is True or str(value).lower() in ("true", "1", "yes", "on") else "No"


def v1_image(image: Mapping[str, Any], uri: str) -> str:
    """One image as the original CLI's ``print_image_formatted`` (Folsom) printed it."""
    lines = [f"URI: {uri}",
             f"Id: {image.get('id')}",
             f"Public: {_yes_no(image.get('is_public'))}",
             f"Protected: {_yes_no(image.get('protected'))}",
             f"Name: {image.get('name') or ''}",
             f"Status: {image.get('status')}",
             f"Size: {image.get('size') or 0}",
             f"Disk format: {image.get('disk_format') or ''}",
             f"Container format: {image.get('container_format') or ''}",
             f"Minimum Ram Required (MB): {image.get('min_ram') or 0}",
             f"Minimum Disk Required (GB): {image.get('min_disk') or 0}"]
    if image.get("owner"):
        lines.append(f"Owner: {image['owner']}")
    for key, value in sorted((image.get("properties") or {}).items()):
        lines.append(f"Property '{key}': {value}")
    lines.append(f"Created at: {image.get('created_at')}")
    if image.get("deleted_at"):
        lines.append(f"Deleted at: {image['deleted_at']}")
    if image.get("updated_at"):
        lines.append(f"Updated at: {image['updated_at']}")
    return "\n".join(lines)


# -- plain output ---------------------------------------------------------------------------

def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def note(message: str) -> None:
    """A line for the user on stderr."""
    sys.stderr.write(message + "\n")
