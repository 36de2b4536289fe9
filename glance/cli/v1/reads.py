"""The v1 verbs that read: ``index``, ``details``, ``show``, ``download``, ``members``."""

from __future__ import annotations

import argparse
import hashlib
import sys
from typing import Any

from glance.cli.command import AddCommand
from glance.cli.errors import UsageError
from glance.cli.localdata import Sink
from glance.cli.output import index_table, print_json, v1_image
from glance.cli.progress import Progress
from glance.cli.v1.common import image_uri, parse_fields, progress_enabled, transfer_options
from glance.client import Client
from glance.common import exception
from glance.domain import SORT_DIRS, SORT_KEYS, v1_fields

#: ``field=value`` names that are list filters as they are (the fields v1 filters on by
#: value, and the filters the v1 API reads itself); others become ``property-<name>``.
LIST_FILTERS: frozenset[str] = frozenset(
    {f.v1_name for f in v1_fields() if f.v1_filter} | {"is_public", "size_min", "size_max"})


def list_filters(fields: dict[str, str]) -> dict[str, str]:
    """List filters from ``field=value`` pairs: unknown names become ``property-<name>``."""
    filters: dict[str, str] = {}
    for key, value in fields.items():
        if key in LIST_FILTERS:
            filters[key] = value
        elif key == "changes_since":
            filters["changes-since"] = value
        elif key.startswith("property_") and len(key) > len("property_"):
            filters["property-" + key[len("property_"):]] = value
        else:
            filters["property-" + key] = value
    return filters


def _list_params(args: argparse.Namespace) -> dict[str, Any]:
    params = {"limit": args.limit, "marker": args.marker, "sort_key": args.sort_key,
              "sort_dir": args.sort_dir}
    return {key: value for key, value in params.items() if value is not None}


def cmd_index(client: Client, args: argparse.Namespace) -> int:
    images = client.get_images(list_filters(parse_fields(args.fields)), **_list_params(args))
    if args.json:
        print_json(images)
    elif not images:
        print("No images found.")
    else:
        print(index_table(images))
    return 0


def cmd_details(client: Client, args: argparse.Namespace) -> int:
    images = client.get_images_detailed(list_filters(parse_fields(args.fields)),
                                        **_list_params(args))
    if args.json:
        print_json(images)
    elif not images:
        print("No images found.")
    else:
        for image in images:
            print("=" * 80)
            print(v1_image(image, image_uri(client, image)))
        print("=" * 80)
    return 0


def cmd_show(client: Client, args: argparse.Namespace) -> int:
    image = client.get_image_meta(args.image)
    if args.json:
        print_json(image)
    else:
        print(v1_image(image, image_uri(client, image)))
    return 0


def cmd_download(client: Client, args: argparse.Namespace) -> int:
    if not args.output and sys.stdout.isatty():
        raise UsageError("refusing to write image data to a terminal: use -o FILE or a pipe")
    meta, chunks = client.get_image(args.image)
    total = meta.get("size") if isinstance(meta.get("size"), int) else None
    progress = Progress("Downloading", total, sys.stderr, progress_enabled(args))
    md5 = hashlib.md5(usedforsecurity=False)
    try:
        with chunks, Sink(args.output) as out:
            for chunk in chunks:
                md5.update(chunk)
                out.write(chunk)
                progress.update(len(chunk))
            if total is not None and progress.done != total:
                raise exception.GlanceException(
                    f"download of {args.image} ended after {progress.done} of {total} bytes")
            checksum = meta.get("checksum")
            if checksum and md5.hexdigest() != checksum:
                raise exception.GlanceException(
                    f"checksum mismatch for {args.image}: got {md5.hexdigest()}, "
                    f"expected {checksum}")
    except BaseException:
        progress.abort()
        raise
    progress.finish()
    if args.output:
        if args.json:
            print_json(meta)
        else:
            print(f"Downloaded image {meta.get('id', args.image)} to {args.output} "
                  f"({progress.done} bytes)")
    return 0


def cmd_members(client: Client, args: argparse.Namespace) -> int:
    members = client.get_image_members(args.image)
    if args.json:
        print_json(members)
    elif not members:
        print(f"No members for image {args.image}")
    else:
        for member in members:
            print(member["member_id"] + (" *" if member.get("can_share") else ""))
        if any(member.get("can_share") for member in members):
            print("\n(*: Can share image)")
    return 0


def _list_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fields", nargs="*", metavar="field=value",
                        help="filters: name, disk_format, container_format, status, min_ram, "
                             "min_disk, size_min, size_max, is_public, protected, "
                             "changes_since; any other name filters on that property")
    parser.add_argument("--limit", type=int, help="one page of at most N images "
                                                  "(default: every matching image)")
    parser.add_argument("--marker", help="start after this image id")
    parser.add_argument("--sort-key", help=f"one of {', '.join(SORT_KEYS)} "
                                           f"(default created_at)")
    parser.add_argument("--sort-dir", choices=SORT_DIRS, help="default desc")


def register(command: AddCommand) -> None:
    """Add the reading v1 verbs."""
    _list_options(command("index", cmd_index, "list images as a table (API v1)",
                          api="v1", aliases=["list"]))
    _list_options(command("details", cmd_details, "every field of every matching image "
                                                  "(API v1)", api="v1"))

    p = command("show", cmd_show, "every field of one image (API v1)", api="v1")
    p.add_argument("image", help="image id or URI")

    p = command("download", cmd_download, "write an image's data to a file or stdout "
                                          "(API v1)", api="v1")
    p.add_argument("image", help="image id or URI")
    p.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")
    transfer_options(p)

    p = command("members", cmd_members, "list the projects an image is shared with (API v1)",
                api="v1")
    p.add_argument("image", help="image id or URI")
