"""How a command module adds its commands to the ``glance`` parser (``parser.Parsers``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Protocol

#: ``handler(client, args)`` for a command that talks to a server, ``handler(args)`` else.
Handler = Callable[..., int]


class AddCommand(Protocol):
    """``add(name, handler, help, api=…, aliases=…, own=…)``: a new command's parser."""

    def __call__(self, name: str, handler: Handler | None, help_text: str,
                 api: str | None = None, aliases: Sequence[str] = (),
                 own: Sequence[str] = ()) -> argparse.ArgumentParser:
        """The parser of the new command ``name`` (``api``: ``v1``, ``v2`` or None;
        ``own``: flags of global options the command uses for its own)."""
        ...
