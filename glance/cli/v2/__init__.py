"""python-glanceclient's everyday v2 commands, with its names, flags and tables, over
``glance.client.V2Client``: ``images`` (``image-create``, ``-list``, ``-show``,
``-update``, ``-delete``, ``-deactivate``/``-reactivate``, ``image-tag-update``/
``-delete``), ``data`` (``image-upload``, ``-stage``, ``-download``, ``-import``,
``import-info``, ``stores-info``), ``members`` (``member-create``/``-update``/``-get``/
``-list``; ``member-delete`` is the original v1 verb of the same shape) and ``locations``
(``location-add``/``-update``/``-delete``, ``add-location``)."""

from __future__ import annotations

from glance.cli.command import AddCommand
from glance.cli.v2 import data, images, locations, members


def register(command: AddCommand) -> None:
    """Add the v2 commands."""
    images.register(command)
    data.register(command)
    members.register(command)
    locations.register(command)
