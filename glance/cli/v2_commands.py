"""python-glanceclient's everyday v2 commands, with its names, flags and tables, over
``glance.client_v2.V2Client``: ``image-create``, ``image-upload``, ``image-stage``,
``image-download``, ``image-list``, ``image-show``, ``image-update``, ``image-delete``,
``image-deactivate``/``-reactivate``, ``image-tag-update``/``-delete``, ``image-import``,
``import-info``, ``stores-info`` and ``member-create``/``-update``/``-get``/``-list``
(``member-delete`` is the original v1 verb of the same shape)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from glance.cli.errors import UsageError
from glance.cli.localdata import Sink, open_source, stdin_has_data
from glance.cli.output import dict_table, image_table, list_table, print_json
from glance.cli.progress import Progress, ProgressReader, stderr_is_terminal
from glance.client_v2 import SORT_DIRS, SORT_KEYS, V2Client, file_size
from glance.common import exception

MEMBER_STATUSES = ("accepted", "rejected", "pending")
_TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
_FALSE = frozenset({"0", "f", "false", "off", "n", "no"})

#: ``args`` attributes that are image fields (``--hidden`` is ``os_hidden``); the last six
#: are the custom properties of the image schema python-glanceclient bundles.
IMAGE_FIELDS = ("id", "name", "visibility", "protected", "os_hidden", "container_format",
                "disk_format", "min_ram", "min_disk", "owner", "tags", "architecture",
                "os_distro", "os_version", "kernel_id", "ramdisk_id", "instance_uuid")


# -- argument types -------------------------------------------------------------------------

def strict_bool(text: str) -> bool:
    """``True``/``False`` (and yes/no, on/off, 1/0, t/f, y/n); anything else is refused."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, not {text!r}")


def lenient_bool(text: str) -> bool:
    """True for the true spellings of ``strict_bool``, False for anything else."""
    return text.strip().lower() in _TRUE


def _split_pair(text: str, option: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"Argument {option} expected properties in the format KEY=VALUE, "
                         f"not {text!r}")
    return key, value


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


# -- shared steps ---------------------------------------------------------------------------

def _image_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The image fields given as options, with ``--property`` pairs."""
    fields = {name: getattr(args, name) for name in IMAGE_FIELDS
              if getattr(args, name, None) is not None}
    for pair in args.property:
        key, value = _split_pair(pair, "--property")
        fields[key] = value
    return fields


def _show_image(args: argparse.Namespace, image: dict[str, Any], human_readable: bool = False,
                max_width: int = 80) -> None:
    if args.json:
        print_json(image)
    else:
        print(image_table(image, human_readable, max_width))


def _validate_store(client: V2Client, store: str) -> None:
    """Refuse a store the server does not list (a server that lists none accepts any)."""
    try:
        stores = client.stores_info().get("stores", [])
    except exception.NotFound:
        return
    if store not in [entry.get("id") for entry in stores]:
        raise UsageError(f"Store '{store}' is not valid for this cloud. Valid values can be "
                         f"retrieved with stores-info command.")


def _progress(args: argparse.Namespace, label: str, total: int | None) -> Progress:
    """A bar on stderr when ``--progress`` is given and stderr is a terminal."""
    return Progress(label, total, sys.stderr, bool(args.progress) and stderr_is_terminal())


def _send_data(client: V2Client, args: argparse.Namespace, image_id: str, *,
               stage: bool = False, store: str | None = None) -> None:
    """Stream ``--file`` (or stdin) into the image, or into its staging area."""
    data, close = open_source(args.file, auto_stdin=True)
    if data is None:
        raise UsageError("No image data: give --file or pipe the data to stdin")
    try:
        size = file_size(data)
        if args.size is not None:
            if args.file and size is not None and size != args.size:
                raise UsageError(f"Size mismatch: provided size {args.size} does not match "
                                 f"the size of the image {size}")
            size = args.size
        progress = _progress(args, "Staging" if stage else "Uploading", size)
        reader = ProgressReader(data, progress)
        try:
            if stage:
                client.stage(image_id, reader, size)
            else:
                client.upload(image_id, reader, size, store)
        except BaseException:
            progress.abort()
            raise
        progress.finish()
    finally:
        if close:
            data.close()


# -- images ---------------------------------------------------------------------------------

def cmd_image_create(client: V2Client, args: argparse.Namespace) -> int:
    fields = _image_fields(args)
    has_data = bool(args.file) or stdin_has_data()
    if args.store and not has_data:
        raise UsageError("--store option should only be provided with --file option or "
                         "stdin.")
    if args.store:
        _validate_store(client, args.store)
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
            _send_data(client, args, image["id"], store=args.store)
            image = client.get_image(image["id"])
    finally:
        _show_image(args, image)
    return 0


def cmd_image_upload(client: V2Client, args: argparse.Namespace) -> int:
    if args.store:
        _validate_store(client, args.store)
    _send_data(client, args, args.id, store=args.store)
    return 0


def cmd_image_stage(client: V2Client, args: argparse.Namespace) -> int:
    _send_data(client, args, args.id, stage=True)
    return 0


def cmd_image_download(client: V2Client, args: argparse.Namespace) -> int:
    if args.file is None and sys.stdout.isatty():
        raise UsageError("No redirection or local file specified for downloaded image data. "
                         "Please specify a local file with --file to save downloaded image "
                         "or redirect output to another source.")
    prefer = [s.strip() for s in (args.prefer or "").split(",") if s.strip()]
    download = client.download(args.id, prefer, allow_md5_fallback=args.allow_md5_fallback)
    if download is None:
        raise exception.GlanceException(f"Image {args.id} has no data.")
    progress = _progress(args, "Downloading", download.size)
    try:
        with download, Sink(args.file) as out:
            for chunk in download:
                out.write(chunk)
                progress.update(len(chunk))
    except BaseException:
        progress.abort()
        raise
    progress.finish()
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
        key, value = _split_pair(pair, "--property-filter")
        filters[key] = value
    filters = {key: value for key, value in filters.items() if value is not None}
    if args.limit is not None and args.limit < 0:
        raise UsageError("--limit must be 0 (no limit) or more")
    images = client.list_images(filters, limit=args.limit or None, page_size=args.page_size,
                                **_sorting(args))
    if args.json:
        print_json(list(images))
        return 0
    columns = ["ID", "Name"]
    if args.verbose:
        columns += ["Disk_format", "Container_format", "Size", "Status", "Owner"]
    if args.include_stores:
        columns += ["Stores"]
    keys = [column.lower() for column in columns]
    rows = [{key: image.get(key) for key in keys} for image in images]
    print(list_table(rows, columns))
    return 0


def cmd_image_show(client: V2Client, args: argparse.Namespace) -> int:
    _show_image(args, client.get_image(args.id), args.human_readable, args.max_column_width)
    return 0


def cmd_image_update(client: V2Client, args: argparse.Namespace) -> int:
    image = client.update_image(args.id, _image_fields(args), args.remove_property)
    _show_image(args, image)
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


def cmd_image_import(client: V2Client, args: argparse.Namespace) -> int:
    method = args.import_method
    stores = [s.strip() for s in args.stores.split(",") if s.strip()] if args.stores else None
    if (args.store and (stores or args.os_all_stores)) or (stores and args.os_all_stores):
        raise UsageError("Only one of --store, --stores and --all-stores can be provided")
    for store in ([args.store] if args.store else []) + (stores or []):
        _validate_store(client, store)
    if method == "web-download" and not args.uri:
        raise UsageError("Provide URI for web-download import method.")
    if args.uri and method != "web-download":
        raise UsageError("Import method should be 'web-download' if URI is provided.")
    remote = (args.remote_region, args.remote_image_id)
    if method == "glance-download" and not all(remote):
        raise UsageError("Provide REMOTE_IMAGE_ID and remote-region for 'glance-download' "
                         "import method.")
    if any(remote) and method != "glance-download":
        raise UsageError("Import method should be 'glance-download' if REMOTE REGION or "
                         "REMOTE IMAGE ID is provided.")
    if method == "copy-image" and not (stores or args.os_all_stores):
        raise UsageError("Provide either --stores or --all-stores for 'copy-image' import "
                         "method.")
    try:
        methods = client.import_info().get("import-methods", {}).get("value", [])
    except exception.NotFound:
        raise exception.GlanceException(
            "Target Glance does not support Image Import workflow") from None
    if method not in methods:
        raise exception.GlanceException(
            f"Import method '{method}' is not valid for this cloud. Valid values can be "
            f"retrieved with import-info command.")
    image = client.get_image(args.id)
    if not (image.get("container_format") and image.get("disk_format")):
        raise exception.GlanceException(
            "The 'container_format' and 'disk_format' properties must be set on an image "
            "before it can be imported.")
    needed = {"glance-direct": ("uploading", "The 'glance-direct' import method can only be "
                                             "applied to an image in status 'uploading'"),
              "web-download": ("queued", "The 'web-download' import method can only be "
                                         "applied to an image in status 'queued'"),
              "copy-image": ("active", "The 'copy-image' import method can only be used on "
                                       "an image with status 'active'.")}
    if method in needed and image.get("status") != needed[method][0]:
        raise exception.GlanceException(needed[method][1])
    client.import_image(args.id, method, uri=args.uri, store=args.store, stores=stores,
                        all_stores=args.os_all_stores, allow_failure=args.os_allow_failure,
                        remote_region=args.remote_region, remote_image_id=args.remote_image_id,
                        remote_service_interface=args.remote_service_interface)
    _show_image(args, client.get_image(args.id))
    return 0


def _show_record(args: argparse.Namespace, record: dict[str, Any]) -> None:
    if args.json:
        print_json(record)
    else:
        print(dict_table(record))


def cmd_import_info(client: V2Client, args: argparse.Namespace) -> int:
    try:
        info = client.import_info()
    except exception.NotFound:
        raise exception.GlanceException(
            "Target Glance does not support Image Import workflow") from None
    _show_record(args, info)
    return 0


def cmd_stores_info(client: V2Client, args: argparse.Namespace) -> int:
    try:
        info = client.stores_info(detail=args.detail)
    except exception.NotFound:
        raise exception.GlanceException("Multi Backend support is not enabled") from None
    _show_record(args, info)
    return 0


# -- members --------------------------------------------------------------------------------

MEMBER_COLUMNS = ["Image ID", "Member ID", "Status"]


def _show_members(args: argparse.Namespace, members: list[dict[str, Any]]) -> None:
    if args.json:
        print_json(members)
    else:
        print(list_table(members, MEMBER_COLUMNS))


def cmd_member_list(client: V2Client, args: argparse.Namespace) -> int:
    _show_members(args, client.list_members(args.image_id))
    return 0


def cmd_member_create(client: V2Client, args: argparse.Namespace) -> int:
    _show_members(args, [client.add_member(args.image_id, args.member_id)])
    return 0


def cmd_member_update(client: V2Client, args: argparse.Namespace) -> int:
    member = client.update_member(args.image_id, args.member_id, args.member_status)
    _show_members(args, [member])
    return 0


def cmd_member_get(client: V2Client, args: argparse.Namespace) -> int:
    _show_record(args, client.get_member(args.image_id, args.member_id))
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


def _data_options(parser: argparse.ArgumentParser, store: bool, what: str) -> None:
    parser.add_argument("--file", metavar="<FILE>",
                        help=f"Local file that contains disk image to be uploaded{what}. "
                             "Alternatively, the image data can be passed to the client via "
                             "stdin.")
    parser.add_argument("--size", metavar="<IMAGE_SIZE>", type=int,
                        help="Size in bytes of image to be uploaded. Default is to get size "
                             "from provided data object but this is supported in case where "
                             "size cannot be inferred.")
    parser.add_argument("--progress", action="store_true", default=False,
                        help="Show upload progress bar (on stderr, when it is a terminal).")
    if store:
        parser.add_argument("--store", metavar="<STORE>", default=_env("OS_IMAGE_STORE"),
                            help="Backend store to upload image to "
                                 "(default: env[OS_IMAGE_STORE]).")


Command = Callable[..., argparse.ArgumentParser]


def register(command: Command) -> None:
    """Add the v2 commands with ``command(name, handler, help, api=…)``."""
    p = command("image-create", cmd_image_create, "Create a new image.", api="v2")
    _image_options(p, create=True)
    _data_options(p, store=True, what=" during creation")

    p = command("image-upload", cmd_image_upload, "Upload data for a specific image.",
                api="v2")
    _data_options(p, store=True, what="")
    p.add_argument("id", metavar="<IMAGE_ID>", help="ID of image to upload data to.")

    p = command("image-stage", cmd_image_stage,
                "Upload data for a specific image to staging.", api="v2")
    _data_options(p, store=False, what="")
    p.add_argument("id", metavar="<IMAGE_ID>", help="ID of image to upload data to.")

    p = command("image-download", cmd_image_download, "Download a specific image.", api="v2")
    p.add_argument("--file", metavar="<FILE>",
                   help="Local file to save downloaded image data to. If this is not "
                        "specified and there is no redirection the image data will not be "
                        "saved.")
    p.add_argument("id", metavar="<IMAGE_ID>", help="ID of image to download.")
    p.add_argument("--progress", action="store_true", default=False,
                   help="Show download progress bar (on stderr, when it is a terminal).")
    p.add_argument("--allow-md5-fallback", action="store_true",
                   default=bool(_env("OS_IMAGE_ALLOW_MD5_FALLBACK")),
                   help="Check the data with the MD5 checksum when the image's hash "
                        "algorithm is not available here.")
    p.add_argument("--prefer", metavar="<STORES>",
                   help="Comma-separated list of stores to try first.")

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

    p = command("image-import", cmd_image_import, "Initiate the image import taskflow.",
                api="v2")
    p.add_argument("id", metavar="<IMAGE_ID>", help="ID of image to import.")
    p.add_argument("--import-method", metavar="<METHOD>", default="glance-direct",
                   help="Import method used for Image Import workflow (glance-direct, "
                        "web-download, copy-image; see import-info).")
    p.add_argument("--uri", metavar="<IMAGE_URL>", help="URI to download the external image.")
    p.add_argument("--remote-region", metavar="<REMOTE_GLANCE_REGION>",
                   help="REMOTE GLANCE REGION to download the image.")
    p.add_argument("--remote-image-id", metavar="<REMOTE_IMAGE_ID>",
                   help="The IMAGE ID of the image of remote glance, which needs to be "
                        "imported with glance-download")
    p.add_argument("--remote-service-interface", metavar="<REMOTE_SERVICE_INTERFACE>",
                   default="public",
                   help="The Remote Glance Service Interface for glance-download")
    p.add_argument("--store", metavar="<STORE>", default=_env("OS_IMAGE_STORE"),
                   help="Backend store to upload image to.")
    p.add_argument("--stores", metavar="<STORES>", default=_env("OS_IMAGE_STORES"),
                   help="Stores to upload image to if multi-stores import available "
                        "(comma-separated).")
    p.add_argument("--all-stores", type=strict_bool, metavar="[True|False]",
                   dest="os_all_stores",
                   help="Import the image into all available stores (instead of --stores).")
    p.add_argument("--allow-failure", type=strict_bool, metavar="[True|False]",
                   dest="os_allow_failure",
                   default=lenient_bool(_env("OS_IMAGE_ALLOW_FAILURE") or "true"),
                   help="Whether the import may succeed in some of the stores only "
                        "(default True).")

    command("import-info", cmd_import_info, "Print import methods available from Glance.",
            api="v2")
    p = command("stores-info", cmd_stores_info, "Print available backends from Glance.",
                api="v2")
    p.add_argument("--detail", action="store_true",
                   help="Shows details of stores. Admin only.")

    p = command("member-list", cmd_member_list, "Describe sharing permissions by image.",
                api="v2")
    p.add_argument("--image-id", metavar="<IMAGE_ID>", required=True,
                   help="Image to display members of.")
    p = command("member-create", cmd_member_create, "Create member for a given image.",
                api="v2")
    p.add_argument("image_id", metavar="<IMAGE_ID>",
                   help="Image with which to create member.")
    p.add_argument("member_id", metavar="<MEMBER_ID>", help="Tenant to add as member.")
    p = command("member-update", cmd_member_update,
                "Update the status of a member for a given image.", api="v2")
    p.add_argument("image_id", metavar="<IMAGE_ID>",
                   help="Image from which to update member.")
    p.add_argument("member_id", metavar="<MEMBER_ID>", help="Tenant to update.")
    p.add_argument("member_status", metavar="<MEMBER_STATUS>", choices=MEMBER_STATUSES,
                   help=f"Updated status of member. Valid Values: {', '.join(MEMBER_STATUSES)}")
    p = command("member-get", cmd_member_get, "Show details of an image member", api="v2")
    p.add_argument("image_id", metavar="<IMAGE_ID>",
                   help="Image from which to display member.")
    p.add_argument("member_id", metavar="<MEMBER_ID>", help="Project to display.")
