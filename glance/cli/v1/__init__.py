"""The original ``glance`` verbs, over the Images API v1 (``glance.client.Client``):
``reads`` (``index``, ``details``, ``show``, ``download``, ``members``) and ``changes``
(``add``, ``update``, ``delete``, ``member-add``, ``member-delete``), on ``common``'s
``field=value`` arguments."""

from __future__ import annotations

from glance.cli.command import AddCommand
from glance.cli.v1 import changes, reads


def register(command: AddCommand) -> None:
    """Add the v1 verbs."""
    reads.register(command)
    changes.register(command)
