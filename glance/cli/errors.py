"""The errors of the ``glance`` command that are not the server's."""

from __future__ import annotations


class UsageError(Exception):
    """A command line that cannot be run as given (exit status 2)."""
