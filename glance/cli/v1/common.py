"""What the v1 verbs share: ``field=value`` arguments, an image's URI, the progress option."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from glance.cli.errors import UsageError
from glance.cli.progress import stderr_is_terminal
from glance.client import Client


def parse_fields(args: Sequence[str]) -> dict[str, str]:
    """``field=value`` arguments as a dict, normalised as the original CLI did.

    Commas at the edges are stripped, keys are lowercased and ``-`` becomes ``_``. The value
    is everything after the first ``=`` (so URLs with queries survive).
    """
    fields: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.strip(",").partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or not key:
            raise UsageError(f"Arguments should be in the form of field=value. "
                             f"You specified {arg}.")
        fields[key] = value
    return fields


def image_uri(client: Client, image: dict[str, Any]) -> str:
    """The image's URI: the server's, else made from the client's base URL."""
    return image.get("uri") or f"{client.base_url}/images/{image.get('id')}"


def progress_enabled(args: argparse.Namespace) -> bool:
    """``--progress``/``--no-progress``, else whether stderr is a terminal."""
    if args.progress is not None:
        return bool(args.progress)
    return stderr_is_terminal()


def transfer_options(parser: argparse.ArgumentParser) -> None:
    """The options of the verbs that move image data."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: when stderr is a terminal)")
