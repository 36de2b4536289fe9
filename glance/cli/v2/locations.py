"""python-glanceclient's location commands: ``location-add``, ``location-update`` and
``location-delete`` (PATCH of ``/locations``, on servers with show_multiple_locations) and
``add-location`` (v2.17: a queued image's data at a URL, read and checked by the server)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from glance.cli.command import AddCommand
from glance.cli.errors import UsageError
from glance.cli.v2.common import show_image
from glance.client import V2Client

URL_FLAG = ("--url",)  # the location's URL here (the server's --url goes before the command)


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise UsageError(f"{what} is not a valid JSON object.")
    return value


def cmd_location_add(client: V2Client, args: argparse.Namespace) -> int:
    validation = {key: value for key, value in (
        ("checksum", args.checksum), ("os_hash_algo", args.hash_algo),
        ("os_hash_value", args.hash_value)) if value}
    metadata = _json_object(args.metadata, "Metadata")
    image = client.add_location(args.id, args.location_url, metadata, validation)
    show_image(args, image)
    return 0


def cmd_location_update(client: V2Client, args: argparse.Namespace) -> int:
    metadata = _json_object(args.metadata, "Metadata")
    image = client.update_location(args.id, args.location_url, metadata)
    show_image(args, image)
    return 0


def cmd_location_delete(client: V2Client, args: argparse.Namespace) -> int:
    client.delete_locations(args.id, args.location_url)
    return 0


def cmd_add_location(client: V2Client, args: argparse.Namespace) -> int:
    validation = _json_object(args.validation_data, "validation-data")
    client.add_image_location(args.id, args.location_url, validation)
    show_image(args, client.get_image(args.id))
    return 0


def _url(p: argparse.ArgumentParser, help_text: str, many: bool = False) -> None:
    p.add_argument("--url", dest="location_url", metavar="<URL>", required=True,
                   action="append" if many else "store", help=help_text)


def _metadata(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metadata", metavar="<STRING>", default="{}",
                   help="Metadata associated with the location. Must be a valid JSON object "
                        "(default: {}).")


def _image(p: argparse.ArgumentParser, help_text: str) -> None:
    p.add_argument("id", metavar="<IMAGE_ID>", help=help_text)


def register(command: AddCommand) -> None:
    """Add the v2 location commands."""
    p = command("location-add", cmd_location_add,
                "Add a location (and related metadata) to an image.", api="v2", own=URL_FLAG)
    _url(p, "URL of location to add.")
    _metadata(p)
    p.add_argument("--checksum", metavar="<STRING>", help="md5 checksum of image contents")
    p.add_argument("--hash-algo", metavar="<STRING>", help="Multihash algorithm")
    p.add_argument("--hash-value", metavar="<STRING>", help="Multihash value")
    _image(p, "ID of image to which the location is to be added.")

    p = command("location-update", cmd_location_update,
                "Update metadata of an image's location.", api="v2", own=URL_FLAG)
    _url(p, "URL of location to update.")
    _metadata(p)
    _image(p, "ID of image whose location is to be updated.")

    p = command("location-delete", cmd_location_delete,
                "Remove locations (and related metadata) from an image.", api="v2",
                own=URL_FLAG)
    _url(p, "URL of location to remove. May be used multiple times.", many=True)
    _image(p, "ID of image whose locations are to be removed.")

    p = command("add-location", cmd_add_location,
                "Add location to an image which is in `queued` state only.", api="v2",
                own=URL_FLAG)
    _url(p, "URL of location to add.")
    p.add_argument("--validation-data", metavar="<STRING>", default="{}",
                   help="Validation data containing os_hash_algo and os_hash_value only "
                        "associated to the image. Must be a valid JSON object (default: {}).")
    _image(p, "ID of image whose location is to be added.")
