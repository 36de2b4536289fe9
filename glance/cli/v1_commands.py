"""The original ``glance`` verbs, over the Images API v1 (``glance.client.Client``):
``add``, ``index``, ``details``, ``show``, ``update``, ``delete``, ``download``, the member
verbs, and the server-side ``db upgrade`` and ``token-add``."""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from glance.cli.errors import UsageError
from glance.cli.localdata import Sink, open_source
from glance.cli.output import index_table, note, print_json, v1_image
from glance.cli.progress import Progress, ProgressReader, stderr_is_terminal
from glance.cli.session import Connection
from glance.client import Client
from glance.client_v2 import file_size
from glance.common import exception

#: ``field=value`` names that are image fields; any other name is a custom property.
IMAGE_FIELDS = frozenset({"id", "name", "type", "disk_format", "container_format", "checksum",
                          "is_public", "protected", "min_ram", "min_disk", "owner", "store",
                          "location"})
#: Fields the server sets itself: dropped (with a note) from ``add`` and ``update``.
ADD_NOT_SETTABLE = ("status", "size")
UPDATE_NOT_SETTABLE = ("status", "size", "created_at", "updated_at", "deleted_at", "deleted",
                       "created_on", "updated_on", "deleted_on")
#: ``field=value`` names that are list filters as they are; others become property-<name>.
LIST_FILTERS = frozenset({"name", "disk_format", "container_format", "status", "min_ram",
                          "min_disk", "size_min", "size_max", "is_public", "protected"})
AMAZON_FORMATS = frozenset({"aki", "ari", "ami"})



def make_client(conn: Connection, headers: dict[str, str] | None = None) -> Client:
    """The v1 client of ``conn`` (sending ``headers`` with every request)."""
    kwargs: dict[str, Any] = {"auth_tok": conn.token, "timeout": conn.timeout}
    if conn.verify is False:
        kwargs["insecure"] = True
    elif isinstance(conn.verify, str):
        kwargs["ca_file"] = conn.verify
    if headers:
        kwargs["headers"] = headers
    return Client(conn.endpoint, **kwargs)


# -- argument helpers -----------------------------------------------------------------------

def parse_fields(args: Sequence[str]) -> dict[str, str]:
    """``field=value`` arguments as a dict, normalised as the original CLI did.

    Commas at the edges are stripped, keys are lowercased and ``-`` becomes ``_``. The value
    is everything after the first ``=`` (so URLs with queries survive).
    """
    fields: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.strip(",").partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or not key:
            raise UsageError(f"Arguments should be in the form of field=value. "
                             f"You specified {arg}.")
        fields[key] = value
    return fields


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


def image_meta(fields: dict[str, str], not_settable: Sequence[str]) -> dict[str, Any]:
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


def _uri(client: Client, image: dict[str, Any]) -> str:
    return image.get("uri") or f"{client.base_url}/images/{image.get('id')}"


def _progress_enabled(args: argparse.Namespace) -> bool:
    """``--progress``/``--no-progress``, else whether stderr is a terminal."""
    if args.progress is not None:
        return bool(args.progress)
    return stderr_is_terminal()


# -- commands -------------------------------------------------------------------------------

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
            print(v1_image(image, _uri(client, image)))
        print("=" * 80)
    return 0


def _list_params(args: argparse.Namespace) -> dict[str, Any]:
    params = {"limit": args.limit, "marker": args.marker, "sort_key": args.sort_key,
              "sort_dir": args.sort_dir}
    return {key: value for key, value in params.items() if value is not None}


def cmd_show(client: Client, args: argparse.Namespace) -> int:
    image = client.get_image_meta(args.image)
    if args.json:
        print_json(image)
    else:
        print(v1_image(image, _uri(client, image)))
    return 0


def _upload(args: argparse.Namespace, call: Callable[[Any], dict[str, Any]],
            data: BinaryIO | None, label: str) -> dict[str, Any]:
    if data is None:
        return call(None)
    progress = Progress(label, file_size(data), sys.stderr, _progress_enabled(args))
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
        client = make_client(args.connection, {"x-glance-api-copy-from": copy_from})
    try:
        image = _upload(args, lambda body: client.add_image(meta, body), data, "Uploading")
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
            args.image, meta, body, purge_props=args.purge_props), data, "Uploading")
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
            print(v1_image(image, _uri(client, image)))
    return 0


def cmd_delete(client: Client, args: argparse.Namespace) -> int:
    client.delete_image(args.image)
    if not args.json:
        print(f"Deleted image {args.image}")
    return 0


def cmd_download(client: Client, args: argparse.Namespace) -> int:
    if not args.output and sys.stdout.isatty():
        raise UsageError("refusing to write image data to a terminal: use -o FILE or a pipe")
    meta, chunks = client.get_image(args.image)
    total = meta.get("size") if isinstance(meta.get("size"), int) else None
    progress = Progress("Downloading", total, sys.stderr, _progress_enabled(args))
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


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from glance.config import load_settings
    from glance.registry import migrate

    settings = load_settings({"data_dir": args.data_dir, "database_url": args.database_url},
                             config_file=args.config)
    url = settings.resolved_database_url
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        migrate.upgrade(url)
    except Exception as exc:  # noqa: BLE001 - any driver or migration error: one clear line
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise exception.GlanceException(f"cannot upgrade the registry at {shown}: "
                                        f"{detail}") from None
    if args.json:
        print_json({"database_url": shown, "revision": "head"})
    else:
        print(f"Registry schema at {shown} is up to date.")
    return 0


def cmd_token_add(args: argparse.Namespace) -> int:
    """Print a new random token; only its SHA-256 hash is written to the tokens file."""
    from glance.api.auth import add_token

    roles = tuple(r.strip() for r in args.roles.split(",") if r.strip())
    token = add_token(args.tokens_file, args.project, args.user, roles)
    if args.json:
        print_json({"token": token, "project": args.project, "user": args.user,
                    "roles": list(roles)})
    else:
        print(token)
    return 0


# -- parsers --------------------------------------------------------------------------------

def _list_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fields", nargs="*", metavar="field=value",
                        help="filters: name, disk_format, container_format, status, min_ram, "
                             "min_disk, size_min, size_max, is_public, protected, "
                             "changes_since; any other name filters on that property")
    parser.add_argument("--limit", type=int, help="one page of at most N images "
                                                  "(default: every matching image)")
    parser.add_argument("--marker", help="start after this image id")
    parser.add_argument("--sort-key", help="name, status, container_format, disk_format, "
                                           "size, id, created_at (default) or updated_at")
    parser.add_argument("--sort-dir", choices=("asc", "desc"), help="default desc")


def _transfer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: when stderr is a terminal)")


Command = Callable[..., argparse.ArgumentParser]


def register(command: Command, common: argparse.ArgumentParser) -> None:
    """Add the v1 verbs with ``command(name, handler, help, api=…, aliases=…)``;
    ``common`` holds the global options every parser accepts."""
    _list_options(command("index", cmd_index, "list images as a table (API v1)",
                          api="v1", aliases=["list"]))
    _list_options(command("details", cmd_details, "every field of every matching image "
                                                  "(API v1)", api="v1"))

    p = command("show", cmd_show, "every field of one image (API v1)", api="v1")
    p.add_argument("image", help="image id or URI")

    p = command("add", cmd_add, "register a new image and upload its data "
                                "(--file, or stdin when it is a pipe or a file; API v1)",
                api="v1")
    p.add_argument("fields", nargs="*", metavar="field=value",
                   help="name (required), disk_format (default raw), container_format "
                        "(default ovf), is_public, protected, min_ram, min_disk, id, type, "
                        "store, checksum, owner, location=URL, copy_from=URL; other names "
                        "are properties")
    p.add_argument("--file", metavar="PATH", help="image data ('-': stdin)")
    _transfer_options(p)

    p = command("update", cmd_update, "change an image's metadata, or upload data into a "
                                      "queued image (API v1)", api="v1")
    p.add_argument("image", help="image id or URI")
    p.add_argument("fields", nargs="*", metavar="field=value",
                   help="fields to change; other names are properties (merged with the "
                        "existing ones unless --purge-props)")
    p.add_argument("--file", metavar="PATH", help="image data ('-': stdin)")
    p.add_argument("--purge-props", action="store_true",
                   help="the properties given replace all existing ones")
    _transfer_options(p)

    p = command("delete", cmd_delete, "delete an image (API v1)", api="v1")
    p.add_argument("image", help="image id or URI")

    p = command("download", cmd_download, "write an image's data to a file or stdout "
                                          "(API v1)", api="v1")
    p.add_argument("image", help="image id or URI")
    p.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")
    _transfer_options(p)

    p = command("members", cmd_members, "list the projects an image is shared with (API v1)",
                api="v1")
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

    db = command("db", None, "manage the registry database (run on the server's host)")
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    p = db_sub.add_parser("upgrade", parents=[common], help="create or upgrade the schema",
                          description="Create or upgrade the registry schema, with the same "
                                      "options as glance-api: defaults < --config FILE (or "
                                      "GLANCE_CONFIG) < GLANCE_* environment < flags.")
    p.set_defaults(handler=cmd_db_upgrade, api=None)
    p.add_argument("--config", metavar="FILE", help="TOML config file (or GLANCE_CONFIG)")
    p.add_argument("--data-dir", help="data directory (the SQLite registry lives here)")
    p.add_argument("--database-url", help="SQLAlchemy URL of the registry database")

    p = command("token-add", cmd_token_add,
                "create a static token for auth_mode tokens (run on the server's host)")
    p.add_argument("--tokens-file", required=True, help="the server's tokens_file")
    p.add_argument("--project", required=True, help="project the token acts for")
    p.add_argument("--user", default="", help="user id recorded with the token")
    p.add_argument("--roles", default="", help="comma-separated roles (admin: administrator)")
