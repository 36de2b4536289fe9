"""The v1 verbs that change: ``add``, ``update``, ``delete``, ``member-add``,
``member-delete``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection
from typing import Any, BinaryIO

from glance.cli.command import AddCommand
from glance.cli.errors import UsageError
from glance.cli.localdata import open_source
from glance.cli.output import note, print_json, v1_image
from glance.cli.progress import Progress, ProgressReader
from glance.cli.v1.common import image_uri, parse_fields, progress_enabled, transfer_options
from glance.client import Client
from glance.client.wire import remaining_size
from glance.domain import AMAZON_FORMATS, v1_fields

#: ``field=value`` names that are image fields (those a caller sets, and what v1 reads from
#: a request besides them: a chosen id, the checksum to verify, ``type``, ``store`` and
#: ``location``); any other name is a custom property.
IMAGE_FIELDS: frozenset[str] = frozenset(
    {f.v1_name for f in v1_fields() if f.settable} | {"id", "type", "checksum", "store",
                                                       "location"})
#: Fields the server sets itself: dropped, with a note, from ``add`` and ``update``
#: (``update`` also drops the original CLI's names of the timestamps).
# The original CLI's lists (v1-reference: `add` drops status and size; `update` also the
# times and `deleted`); any other name that is not an image field becomes a property.
ADD_NOT_SETTABLE: frozenset[str] = frozenset({"status", "size"})
UPDATE_NOT_SETTABLE: frozenset[str] = ADD_NOT_SETTABLE | {
    "created_at", "updated_at", "deleted_at", "deleted", "created_on", "updated_on",
    "deleted_on"}


def image_meta(fields: dict[str, str], not_settable: Collection[str]) -> dict[str, Any]:
    """Image metadata for the client from ``field=value`` pairs; other names are properties."""
    meta: dict[str, Any] = {}
    properties: dict[str, str] = {}
    for key, value in fields.items():
        if key in not_settable:
            note(f"Found non-settable field {key}. Removing.")
        elif key in IMAGE_FIELDS:
            meta[key] = value
        elif key != "copy_from":
            properties[key] = value
    if properties:
        meta["properties"] = properties
    return meta


def _upload(args: argparse.Namespace, call: Callable[[Any], dict[str, Any]],
            data: BinaryIO | None) -> dict[str, Any]:
    """``call(body)``: with the data as body read through a progress bar, or None."""
    if data is None:
        return call(None)
    progress = Progress("Uploading", remaining_size(data), sys.stderr, progress_enabled(args))
    try:
        image = call(ProgressReader(data, progress))
    except BaseException:
        progress.abort()
        raise
    progress.finish()
    return image


def cmd_add(client: Client, args: argparse.Namespace) -> int:
    fields = parse_fields(args.fields)
    meta = image_meta(fields, ADD_NOT_SETTABLE)
    if not meta.get("name"):
        raise UsageError("Please specify a name for the image using name=VALUE")
    copy_from = fields.get("copy_from")
    if "type" not in meta:  # the original CLI's defaults; `type` lets the server choose
        disk, container = meta.get("disk_format"), meta.get("container_format")
        if disk is None:
            meta["disk_format"] = container if container in AMAZON_FORMATS else "raw"
        if container is None:
            meta["container_format"] = disk if disk in AMAZON_FORMATS else "ovf"
    external = bool(meta.get("location") or copy_from)
    if external and args.file:
        raise UsageError("Give either --file or location=/copy_from=, not both")
    data, close = open_source(args.file, auto_stdin=not external)
    if copy_from:  # the server fetches the data itself
        client = args.connection.v1_client({"x-glance-api-copy-from": copy_from})
    try:
        image = _upload(args, lambda body: client.add_image(meta, body), data)
    finally:
        if close and data is not None:
            data.close()
        if copy_from:
            client.close()
    return _report(client, args, image, f"Added new image with ID: {image['id']}")


def cmd_update(client: Client, args: argparse.Namespace) -> int:
    meta = image_meta(parse_fields(args.fields), UPDATE_NOT_SETTABLE)
    if args.purge_props:
        meta.setdefault("properties", {})
    data, close = open_source(args.file, auto_stdin=False)
    try:
        image = _upload(args, lambda body: client.update_image(
            args.image, meta, body, purge_props=args.purge_props), data)
    finally:
        if close and data is not None:
            data.close()
    return _report(client, args, image, f"Updated image {image['id']}")


def _report(client: Client, args: argparse.Namespace, image: dict[str, Any],
            message: str) -> int:
    """Print the outcome of add/update: JSON, or a line (and the image with --verbose)."""
    if args.json:
        print_json(image)
    else:
        print(message)
        if args.verbose:
            print(v1_image(image, image_uri(client, image)))
    return 0


def cmd_delete(client: Client, args: argparse.Namespace) -> int:
    client.delete_image(args.image)
    if not args.json:
        print(f"Deleted image {args.image}")
    return 0


def cmd_member_add(client: Client, args: argparse.Namespace) -> int:
    client.add_member(args.image, args.member, can_share=args.can_share or None)
    if not args.json:
        print(f"Added member {args.member} to image {args.image}")
    return 0


def cmd_member_delete(client: Client, args: argparse.Namespace) -> int:
    client.delete_member(args.image, args.member)
    if not args.json:
        print(f"Removed member {args.member} from image {args.image}")
    return 0


def register(command: AddCommand) -> None:
    """Add the changing v1 verbs."""
    p = command("add", cmd_add, "register a new image and upload its data "
                                "(--file, or stdin when it is a pipe or a file; API v1)",
                api="v1")
    p.add_argument("fields", nargs="*", metavar="field=value",
                   help="name (required), disk_format (default raw), container_format "
                        "(default ovf), is_public, protected, min_ram, min_disk, id, type, "
                        "store, checksum, owner, location=URL, copy_from=URL; other names "
                        "are properties")
    p.add_argument("--file", metavar="PATH", help="image data ('-': stdin)")
    transfer_options(p)

    p = command("update", cmd_update, "change an image's metadata, or upload data into a "
                                      "queued image (API v1)", api="v1")
    p.add_argument("image", help="image id or URI")
    p.add_argument("fields", nargs="*", metavar="field=value",
                   help="fields to change; other names are properties (merged with the "
                        "existing ones unless --purge-props)")
    p.add_argument("--file", metavar="PATH", help="image data ('-': stdin)")
    p.add_argument("--purge-props", action="store_true",
                   help="the properties given replace all existing ones")
    transfer_options(p)

    p = command("delete", cmd_delete, "delete an image (API v1)", api="v1")
    p.add_argument("image", help="image id or URI")

    p = command("member-add", cmd_member_add, "share an image with a project (API v1)",
                api="v1")
    p.add_argument("image", help="image id or URI")
    p.add_argument("member", help="project id")
    p.add_argument("--can-share", action="store_true", help="the member may share it further")

    p = command("member-delete", cmd_member_delete,
                "stop sharing an image with a project (API v1)", api="v1")
    p.add_argument("image", help="image id or URI")
    p.add_argument("member", help="project id")
