"""The v2 image commands: ``image-create``, ``image-list``, ``image-show``,
``image-update``, ``image-delete``, ``image-deactivate``/``-reactivate``,
``image-tag-update``/``-delete``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from glance.cli.command import AddCommand
from glance.cli.errors import UsageError
from glance.cli.localdata import stdin_has_data
from glance.cli.output import list_table, print_json
from glance.cli.v2.common import lenient_bool, show_image, split_pair, strict_bool
from glance.cli.v2.data import data_options, send_data, validate_store
from glance.client import V2Client
from glance.common import exception
from glance.domain import SORT_DIRS, SORT_KEYS, v2_fields

#: The custom properties of the image schema python-glanceclient bundles: it offers each
#: as an option of ``image-create`` and ``image-update``.
GLANCECLIENT_SCHEMA_PROPERTIES = ("architecture", "os_distro", "os_version", "kernel_id",
                                  "ramdisk_id", "instance_uuid")
#: ``args`` attributes that are image fields (``--hidden`` is ``os_hidden``): the id
#: ``image-create`` may choose, the fields a caller sets, those properties.
IMAGE_FIELDS: tuple[str, ...] = ("id", *(f.name for f in v2_fields() if f.settable),
                                 *GLANCECLIENT_SCHEMA_PROPERTIES)


def image_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The image fields given as options, with ``--property`` pairs."""
    fields = {name: getattr(args, name) for name in IMAGE_FIELDS
              if getattr(args, name, None) is not None}
    for pair in args.property:
        key, value = split_pair(pair, "--property")
        fields[key] = value
    return fields


def cmd_image_create(client: V2Client, args: argparse.Namespace) -> int:
    fields = image_fields(args)
    has_data = bool(args.file) or stdin_has_data()
    if args.store and not has_data:
        raise UsageError("--store option should only be provided with --file option or "
                         "stdin.")
    if args.store:
        validate_store(client, args.store)
    if args.file and args.file != "-" and not os.access(args.file, os.R_OK):
        raise exception.GlanceException(f"File {args.file} does not exist or user does not "
                                        f"have read privileges to it")
    missing = [f"--{name.replace('_', '-')}" for name in ("disk_format", "container_format")
               if not fields.get(name)]
    if has_data and missing:
        raise UsageError(f"Must provide {', '.join(missing)} when using "
                         f"{'--file' if args.file else 'stdin'}.")
    image = client.create_image(fields)
    try:
        if has_data:
            send_data(client, args, image["id"], store=args.store)
            image = client.get_image(image["id"])
    finally:
        show_image(args, image)
    return 0


def _sorting(args: argparse.Namespace) -> dict[str, Any]:
    """The sort arguments of ``image-list``, checked as python-glanceclient checks them."""
    if args.sort is not None:
        if args.sort_key or args.sort_dir:
            raise UsageError("The 'sort' argument is not supported with 'sort_key' or "
                             "'sort_dir'.")
        for part in args.sort.strip().split(","):
            key, _, direction = part.partition(":")
            if direction and direction not in SORT_DIRS:
                raise UsageError(f"Invalid sort direction: {direction}. It must be one of "
                                 f"the following: {', '.join(SORT_DIRS)}.")
            if key not in SORT_KEYS:
                raise UsageError(f"Invalid sort key: {key}. It must be one of the "
                                 f"following: {', '.join(SORT_KEYS)}.")
        return {"sort": args.sort}
    if not args.sort_key and not args.sort_dir:
        return {"sort_keys": ["name"], "sort_dirs": ["asc"]}
    if len(args.sort_dir) > 1 and len(args.sort_dir) != len(args.sort_key):
        raise UsageError("Unexpected number of sort directions: either provide a single "
                         "sort direction or an equal number of sort keys and sort "
                         "directions.")
    return {"sort_keys": args.sort_key, "sort_dirs": args.sort_dir}


def cmd_image_list(client: V2Client, args: argparse.Namespace) -> int:
    filters: dict[str, Any] = {
        "visibility": args.visibility, "member_status": args.member_status,
        "owner": args.owner, "checksum": args.checksum, "tag": args.tag,
        "os_hidden": args.os_hidden, "os_hash_value": args.os_hash_value}
    for pair in args.properties:
        key, value = split_pair(pair, "--property-filter")
        filters[key] = value
    filters = {key: value for key, value in filters.items() if value is not None}
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must be 0 (no limit) or more")
    images = client.list_images(filters, limit=args.limit or None, page_size=args.page_size,
                                **_sorting(args))
    if args.json:
        print_json(list(images))
        return 0
    columns = ["ID", "Name"]  # python-glanceclient's columns
    if args.verbose:
        columns += ["Disk_format", "Container_format", "Size", "Status", "Owner"]
    if args.include_stores:
        columns += ["Stores"]
    keys = [column.lower() for column in columns]
    rows = [{key: image.get(key) for key in keys} for image in images]
    print(list_table(rows, columns))
    return 0


def cmd_image_show(client: V2Client, args: argparse.Namespace) -> int:
    show_image(args, client.get_image(args.id), args.human_readable, args.max_column_width)
    return 0


def cmd_image_update(client: V2Client, args: argparse.Namespace) -> int:
    image = client.update_image(args.id, image_fields(args), args.remove_property)
    show_image(args, image)
    return 0


def cmd_image_delete(client: V2Client, args: argparse.Namespace) -> int:
    failed = False
    for image_id in args.id:
        try:
            client.delete_image(image_id)
        except exception.ClientConnectionError:
            raise
        except exception.GlanceException as exc:
            failed = True
            if isinstance(exc, exception.Forbidden):
                message = f"You are not permitted to delete the image '{image_id}'."
            elif isinstance(exc, exception.NotFound):
                message = f"No image with an ID of '{image_id}' exists."
            elif isinstance(exc, exception.Conflict):
                message = f"Unable to delete image '{image_id}' because it is in use."
            else:
                message = f"'{exc}': Unable to delete image '{image_id}'"
            sys.stderr.write(f"glance: error: {message}\n")
    return 1 if failed else 0


def cmd_image_deactivate(client: V2Client, args: argparse.Namespace) -> int:
    client.deactivate_image(args.id)
    return 0


def cmd_image_reactivate(client: V2Client, args: argparse.Namespace) -> int:
    client.reactivate_image(args.id)
    return 0


def cmd_image_tag_update(client: V2Client, args: argparse.Namespace) -> int:
    client.add_tag(args.image_id, args.tag_value)
    image = client.get_image(args.image_id)
    if args.json:
        print_json(image)
    else:
        print(list_table([image], ["ID", "Tags"]))
    return 0


def cmd_image_tag_delete(client: V2Client, args: argparse.Namespace) -> int:
    client.remove_tag(args.image_id, args.tag_value)
    return 0


# -- parsers --------------------------------------------------------------------------------

def _image_options(parser: argparse.ArgumentParser, create: bool) -> None:
    """The image-field options of ``image-create`` (``create``) and ``image-update``."""
    if create:
        parser.add_argument("--id", metavar="<ID>",
                            help="An identifier for the image (a UUID)")
    parser.add_argument("--name", metavar="<NAME>", help="Descriptive name for the image")
    parser.add_argument("--visibility", metavar="<VISIBILITY>",
                        help="Scope of image accessibility. Valid values: public, private, "
                             "community, shared")
    parser.add_argument("--protected", type=strict_bool, metavar="[True|False]",
                        help="If true, image will not be deletable.")
    parser.add_argument("--hidden", type=lenient_bool,
                        metavar="[True|False]", dest="os_hidden",
                        help="If true, image will not appear in default image list response.")
    parser.add_argument("--container-format", metavar="<CONTAINER_FORMAT>",
                        help="Format of the container. Valid values: ami, ari, aki, bare, "
                             "ovf, ova, docker, compressed")
    parser.add_argument("--disk-format", metavar="<DISK_FORMAT>",
                        help="Format of the disk. Valid values: ami, ari, aki, vhd, vhdx, "
                             "vmdk, raw, qcow2, vdi, iso, ploop")
    parser.add_argument("--min-ram", type=int, metavar="<MIN_RAM>",
                        help="Amount of ram (in MB) required to boot image.")
    parser.add_argument("--min-disk", type=int, metavar="<MIN_DISK>",
                        help="Amount of disk space (in GB) required to boot image.")
    parser.add_argument("--owner", metavar="<OWNER>", help="Owner of the image")
    if create:
        parser.add_argument("--tags", nargs="+", metavar="<TAGS>",
                            help="List of strings related to the image")
    for name, help_text in (("architecture", "Operating system architecture"),
                            ("os-distro", "Common name of operating system distribution"),
                            ("os-version", "Operating system version as specified by the "
                                           "distributor"),
                            ("kernel-id", "ID of image stored in Glance that should be used "
                                          "as the kernel when booting an AMI-style image."),
                            ("ramdisk-id", "ID of image stored in Glance that should be used "
                                           "as the ramdisk when booting an AMI-style image."),
                            ("instance-uuid", "Metadata which can be used to record which "
                                              "instance this image is associated with.")):
        parser.add_argument("--" + name, metavar=f"<{name.upper().replace('-', '_')}>",
                            help=help_text + " (a property)")
    parser.add_argument("--property", metavar="<key=value>", action="append", default=[],
                        help="Arbitrary property to associate with image. May be used "
                             "multiple times.")


def register(command: AddCommand) -> None:
    """Add the v2 image commands."""
    p = command("image-create", cmd_image_create, "Create a new image.", api="v2")
    _image_options(p, create=True)
    data_options(p, store=True, what=" during creation")

    p = command("image-list", cmd_image_list, "List images you can access.", api="v2")
    p.add_argument("--limit", metavar="<LIMIT>", type=int,
                   help="Maximum number of images to get.")
    p.add_argument("--page-size", metavar="<SIZE>", type=int,
                   help="Number of images to request in each paginated request.")
    p.add_argument("--visibility", metavar="<VISIBILITY>",
                   help="The visibility of the images to display.")
    p.add_argument("--member-status", metavar="<MEMBER_STATUS>",
                   help="The status of images to display.")
    p.add_argument("--owner", metavar="<OWNER>", help="Display images owned by <OWNER>.")
    p.add_argument("--property-filter", metavar="<KEY=VALUE>", action="append",
                   dest="properties", default=[],
                   help="Filter images by a user-defined image property.")
    p.add_argument("--checksum", metavar="<CHECKSUM>",
                   help="Displays images that match the MD5 checksum.")
    p.add_argument("--hash", dest="os_hash_value", metavar="<HASH_VALUE>",
                   help="Displays images that match the specified hash value.")
    p.add_argument("--tag", metavar="<TAG>", action="append",
                   help="Filter images by a user-defined tag.")
    p.add_argument("--sort-key", default=[], action="append", choices=SORT_KEYS,
                   help="Sort image list by specified fields. May be used multiple times.")
    p.add_argument("--sort-dir", default=[], action="append", choices=SORT_DIRS,
                   help="Sort image list in specified directions.")
    p.add_argument("--sort", metavar="<key>[:<direction>]",
                   help="Comma-separated list of sort keys and directions in the form of "
                        f"<key>[:<asc|desc>]. Valid keys: {', '.join(SORT_KEYS)}.")
    p.add_argument("--hidden", dest="os_hidden", metavar="[True|False]", type=lenient_bool,
                   const=True, nargs="?", help="Filters results by hidden status.")
    p.add_argument("--include-stores", metavar="[True|False]", type=lenient_bool,
                   const=True, nargs="?", help="Print backend store id.")

    p = command("image-show", cmd_image_show, "Describe a specific image.", api="v2")
    p.add_argument("id", metavar="<IMAGE_ID>", help="ID of image to describe.")
    p.add_argument("--human-readable", action="store_true",
                   help="Print image size in a human-friendly format.")
    p.add_argument("--max-column-width", metavar="<integer>", type=int, default=80,
                   help="The max column width of the printed table.")

    p = command("image-update", cmd_image_update, "Update an existing image.", api="v2")
    p.add_argument("id", metavar="<IMAGE_ID>", help="ID of image to update.")
    _image_options(p, create=False)
    p.add_argument("--remove-property", metavar="key", action="append", default=[],
                   help="Name of arbitrary property to remove from the image.")

    p = command("image-delete", cmd_image_delete, "Delete specified image.", api="v2")
    p.add_argument("id", metavar="<IMAGE_ID>", nargs="+", help="ID of image(s) to delete.")

    p = command("image-deactivate", cmd_image_deactivate, "Deactivate specified image.",
                api="v2")
    p.add_argument("id", metavar="<IMAGE_ID>", help="ID of image to deactivate.")
    p = command("image-reactivate", cmd_image_reactivate, "Reactivate specified image.",
                api="v2")
    p.add_argument("id", metavar="<IMAGE_ID>", help="ID of image to reactivate.")

    p = command("image-tag-update", cmd_image_tag_update,
                "Update an image with the given tag.", api="v2")
    p.add_argument("image_id", metavar="<IMAGE_ID>",
                   help="Image to be updated with the given tag.")
    p.add_argument("tag_value", metavar="<TAG_VALUE>", help="Value of the tag.")
    p = command("image-tag-delete", cmd_image_tag_delete,
                "Delete the tag associated with the given image.", api="v2")
    p.add_argument("image_id", metavar="<IMAGE_ID>",
                   help="ID of the image from which to delete tag.")
    p.add_argument("tag_value", metavar="<TAG_VALUE>", help="Value of the tag.")
