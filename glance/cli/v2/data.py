"""The v2 data commands: ``image-upload``, ``image-stage``, ``image-download``,
``image-import``, and what an import needs to know (``import-info``, ``stores-info``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from glance.cli.command import AddCommand
from glance.cli.errors import UsageError
from glance.cli.localdata import Sink, open_source
from glance.cli.progress import Progress, ProgressReader, stderr_is_terminal
from glance.cli.v2.common import env, lenient_bool, show_image, show_record, strict_bool
from glance.client import V2Client
from glance.client.wire import remaining_size
from glance.common import exception

#: The status an image must have for an import method, and python-glanceclient's message.
IMPORT_NEEDS = {
    "glance-direct": ("uploading", "The 'glance-direct' import method can only be applied to "
                                   "an image in status 'uploading'"),
    "web-download": ("queued", "The 'web-download' import method can only be applied to an "
                               "image in status 'queued'"),
    "copy-image": ("active", "The 'copy-image' import method can only be used on an image "
                             "with status 'active'.")}


def validate_store(client: V2Client, store: str) -> None:
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


def send_data(client: V2Client, args: argparse.Namespace, image_id: str, *,
              stage: bool = False, store: str | None = None) -> None:
    """Stream ``--file`` (or stdin) into the image, or into its staging area."""
    data, close = open_source(args.file, auto_stdin=True)
    if data is None:
        raise UsageError("No image data: give --file or pipe the data to stdin")
    try:
        size = remaining_size(data)
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


def cmd_image_upload(client: V2Client, args: argparse.Namespace) -> int:
    if args.store:
        validate_store(client, args.store)
    send_data(client, args, args.id, store=args.store)
    return 0


def cmd_image_stage(client: V2Client, args: argparse.Namespace) -> int:
    send_data(client, args, args.id, stage=True)
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


def _import_info(client: V2Client) -> dict[str, Any]:
    """The server's import methods (an error when it offers no import at all)."""
    try:
        return client.import_info()
    except exception.NotFound:
        raise exception.GlanceException(
            "Target Glance does not support Image Import workflow") from None


def cmd_image_import(client: V2Client, args: argparse.Namespace) -> int:
    method = args.import_method
    stores = [s.strip() for s in args.stores.split(",") if s.strip()] if args.stores else None
    if (args.store and (stores or args.os_all_stores)) or (stores and args.os_all_stores):
        raise UsageError("Only one of --store, --stores and --all-stores can be provided")
    for store in ([args.store] if args.store else []) + (stores or []):
        validate_store(client, store)
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
    if method not in _import_info(client).get("import-methods", {}).get("value", []):
        raise exception.GlanceException(
            f"Import method '{method}' is not valid for this cloud. Valid values can be "
            f"retrieved with import-info command.")
    image = client.get_image(args.id)
    if not (image.get("container_format") and image.get("disk_format")):
        raise exception.GlanceException(
            "The 'container_format' and 'disk_format' properties must be set on an image "
            "before it can be imported.")
    if method in IMPORT_NEEDS and image.get("status") != IMPORT_NEEDS[method][0]:
        raise exception.GlanceException(IMPORT_NEEDS[method][1])
    client.import_image(args.id, method, uri=args.uri, store=args.store, stores=stores,
                        all_stores=args.os_all_stores, allow_failure=args.os_allow_failure,
                        remote_region=args.remote_region, remote_image_id=args.remote_image_id,
                        remote_service_interface=args.remote_service_interface)
    show_image(args, client.get_image(args.id))
    return 0


def cmd_import_info(client: V2Client, args: argparse.Namespace) -> int:
    show_record(args, _import_info(client))
    return 0


def cmd_stores_info(client: V2Client, args: argparse.Namespace) -> int:
    try:
        info = client.stores_info(detail=args.detail)
    except exception.NotFound:
        raise exception.GlanceException("Multi Backend support is not enabled") from None
    show_record(args, info)
    return 0


# -- parsers --------------------------------------------------------------------------------

def data_options(parser: argparse.ArgumentParser, store: bool, what: str) -> None:
    """The options of a command that sends image data (``what``: where it goes)."""
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
        parser.add_argument("--store", metavar="<STORE>", default=env("OS_IMAGE_STORE"),
                            help="Backend store to upload image to "
                                 "(default: env[OS_IMAGE_STORE]).")


def register(command: AddCommand) -> None:
    """Add the v2 data commands."""
    p = command("image-upload", cmd_image_upload, "Upload data for a specific image.",
                api="v2")
    data_options(p, store=True, what="")
    p.add_argument("id", metavar="<IMAGE_ID>", help="ID of image to upload data to.")

    p = command("image-stage", cmd_image_stage,
                "Upload data for a specific image to staging.", api="v2")
    data_options(p, store=False, what="")
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
                   default=bool(env("OS_IMAGE_ALLOW_MD5_FALLBACK")),
                   help="Check the data with the MD5 checksum when the image's hash "
                        "algorithm is not available here.")
    p.add_argument("--prefer", metavar="<STORES>",
                   help="Comma-separated list of stores to try first.")

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
    p.add_argument("--store", metavar="<STORE>", default=env("OS_IMAGE_STORE"),
                   help="Backend store to upload image to.")
    p.add_argument("--stores", metavar="<STORES>", default=env("OS_IMAGE_STORES"),
                   help="Stores to upload image to if multi-stores import available "
                        "(comma-separated).")
    p.add_argument("--all-stores", type=strict_bool, metavar="[True|False]",
                   dest="os_all_stores",
                   help="Import the image into all available stores (instead of --stores).")
    p.add_argument("--allow-failure", type=strict_bool, metavar="[True|False]",
                   dest="os_allow_failure",
                   default=lenient_bool(env("OS_IMAGE_ALLOW_FAILURE") or "true"),
                   help="Whether the import may succeed in some of the stores only "
                        "(default True).")

    command("import-info", cmd_import_info, "Print import methods available from Glance.",
            api="v2")
    p = command("stores-info", cmd_stores_info, "Print available backends from Glance.",
                api="v2")
    p.add_argument("--detail", action="store_true",
                   help="Shows details of stores. Admin only.")
