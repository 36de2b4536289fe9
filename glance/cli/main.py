"""``glance``: the command-line client of the Images API v1, built on ``glance.client``.

Image data streams both ways in 1 MiB chunks (never read whole into memory); a progress bar
goes to stderr while bytes move, when stderr is a terminal or ``--progress`` is given.
Exit status: 0 on success, 1 when the server (or the network, or a local file) says no,
2 on a usage error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import stat
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, BinaryIO, TextIO

from glance import __version__
from glance.client import Client
from glance.common import exception

DEFAULT_URL = "http://127.0.0.1:9292"
CHUNK_SIZE = 1024 * 1024

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


class UsageError(Exception):
    """A command line that cannot be run as given (exit status 2)."""


# -- progress -------------------------------------------------------------------------------

class Progress:
    """A one-line progress bar on a terminal stream: bytes, percent, MB/s."""

    WIDTH = 24

    def __init__(self, label: str, total: int | None, stream: TextIO, enabled: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.enabled = enabled
        self.clock = clock
        self.done = 0
        self.started = clock()
        self._last_draw = 0.0

    def update(self, count: int) -> None:
        self.done += count
        if self.enabled:
            now = self.clock()
            if now - self._last_draw >= 0.2:
                self._last_draw = now
                self._draw(now)

    def finish(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self._draw(self.clock())
            self.stream.write("\n")
            self.stream.flush()

    def abort(self) -> None:
        """End the line after a failure, leaving the last state visible."""
        if self.enabled and self._last_draw:
            self.stream.write("\n")
            self.stream.flush()

    def render(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-6)
        rate = self.done / elapsed / 1e6
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            filled = int(fraction * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            amount = f"{_mb(self.done)}/{_mb(self.total)} MB"
            return f"{self.label} [{bar}] {fraction * 100:5.1f}% {amount} {rate:7.1f} MB/s"
        return f"{self.label} {_mb(self.done)} MB {rate:7.1f} MB/s"

    def _draw(self, now: float) -> None:
        self.stream.write("\r" + self.render(now) + "\x1b[K")
        self.stream.flush()


def _mb(count: int) -> str:
    return f"{count / 1e6:.1f}"


class ProgressReader:
    """A binary file wrapper that reports each ``read`` to a Progress.

    It keeps ``seekable``/``tell``/``seek`` so the client can still learn the size and send
    ``Content-Length``.
    """

    def __init__(self, fileobj: BinaryIO, progress: Progress) -> None:
        self._file = fileobj
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._progress.update(len(chunk))
        return chunk

    def seekable(self) -> bool:
        try:
            return self._file.seekable()
        except (AttributeError, ValueError, OSError):
            return False

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)


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
            _note(f"Found non-settable field {key}. Removing.")
        elif key in IMAGE_FIELDS:
            meta[key] = value
        elif key != "copy_from":
            properties[key] = value
    if properties:
        meta["properties"] = properties
    return meta


def _note(message: str) -> None:
    sys.stderr.write(message + "\n")


def _stdin_has_data() -> bool:
    """True when stdin is a pipe or a redirected file (not a terminal, not /dev/null)."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


# -- output ---------------------------------------------------------------------------------

def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def _cell(value: Any, width: int, right: bool = False) -> str:
    text = "" if value is None else str(value)
    text = text[:width]
    return text.rjust(width) if right else text.ljust(width)


INDEX_COLUMNS = ((36, "ID", False), (30, "Name", False), (20, "Disk Format", False),
                 (20, "Container Format", False), (14, "Size", True))


def format_table(images: Iterable[dict[str, Any]]) -> str:
    """The ``index`` table: fixed-width columns clipped to width, a header and dashes."""
    lines = [" ".join(_cell(label, width) for width, label, _ in INDEX_COLUMNS).rstrip(),
             " ".join("-" * width for width, _, _ in INDEX_COLUMNS)]
    for image in images:
        values = (image.get("id"), image.get("name"), image.get("disk_format"),
                  image.get("container_format"), image.get("size"))
        lines.append(" ".join(_cell(value, width, right)
                              for value, (width, _, right) in zip(values, INDEX_COLUMNS)).rstrip())
    return "\n".join(lines)


def _yes_no(value: Any) -> str:
    return "Yes" if value is True or str(value).lower() in ("true", "1", "yes", "on") else "No"


def format_image(image: dict[str, Any], uri: str) -> str:
    """One image as the original CLI's ``print_image_formatted`` (Folsom) printed it."""
    lines = [f"URI: {uri}",
             f"Id: {image.get('id')}",
             f"Public: {_yes_no(image.get('is_public'))}",
             f"Protected: {_yes_no(image.get('protected'))}",
             f"Name: {image.get('name') or ''}",
             f"Status: {image.get('status')}",
             f"Size: {image.get('size') or 0}",
             f"Disk format: {image.get('disk_format') or ''}",
             f"Container format: {image.get('container_format') or ''}",
             f"Minimum Ram Required (MB): {image.get('min_ram') or 0}",
             f"Minimum Disk Required (GB): {image.get('min_disk') or 0}"]
    if image.get("owner"):
        lines.append(f"Owner: {image['owner']}")
    for key, value in sorted((image.get("properties") or {}).items()):
        lines.append(f"Property '{key}': {value}")
    lines.append(f"Created at: {image.get('created_at')}")
    if image.get("deleted_at"):
        lines.append(f"Deleted at: {image['deleted_at']}")
    if image.get("updated_at"):
        lines.append(f"Updated at: {image['updated_at']}")
    return "\n".join(lines)


def _uri(client: Client, image: dict[str, Any]) -> str:
    return image.get("uri") or f"{client.base_url}/images/{image.get('id')}"


# -- commands -------------------------------------------------------------------------------

def cmd_index(client: Client, args: argparse.Namespace) -> int:
    images = client.get_images(list_filters(parse_fields(args.fields)), **_list_params(args))
    if args.json:
        print_json(images)
    elif not images:
        print("No images found.")
    else:
        print(format_table(images))
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
            print(format_image(image, _uri(client, image)))
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
        print(format_image(image, _uri(client, image)))
    return 0


def _open_data(args: argparse.Namespace, auto_stdin: bool) -> tuple[BinaryIO | None, bool]:
    """The data to upload (file object or None) and whether the caller must close it."""
    if args.file == "-":
        return sys.stdin.buffer, False
    if args.file:
        try:
            return open(args.file, "rb"), True
        except OSError as exc:
            raise exception.GlanceException(f"cannot read {args.file}: {exc.strerror}") from None
    if auto_stdin and _stdin_has_data():
        return sys.stdin.buffer, False
    return None, False


def _upload(args: argparse.Namespace, call: Callable[[Any], dict[str, Any]],
            data: BinaryIO | None, label: str) -> dict[str, Any]:
    if data is None:
        return call(None)
    total = _remaining(data)
    progress = Progress(label, total, sys.stderr, _progress_enabled(args))
    try:
        image = call(ProgressReader(data, progress))
    except BaseException:
        progress.abort()
        raise
    progress.finish()
    return image


def _remaining(fileobj: BinaryIO) -> int | None:
    try:
        if not fileobj.seekable():
            return None
        position = fileobj.tell()
        end = fileobj.seek(0, os.SEEK_END)
        fileobj.seek(position)
        return end - position
    except (OSError, ValueError):
        return None


def _progress_enabled(args: argparse.Namespace) -> bool:
    if args.progress is not None:
        return args.progress
    return sys.stderr.isatty()


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
    data, close = _open_data(args, auto_stdin=not external)
    if copy_from:  # the server fetches the data itself
        client = make_client(args, {"x-glance-api-copy-from": copy_from})
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
    data, close = _open_data(args, auto_stdin=False)
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
            print(format_image(image, _uri(client, image)))
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
    out: BinaryIO
    try:
        out = open(args.output, "wb") if args.output else sys.stdout.buffer
    except OSError as exc:
        chunks.close()
        raise exception.GlanceException(f"cannot write {args.output}: {exc.strerror}") from None
    try:
        with chunks:
            for chunk in chunks:
                md5.update(chunk)
                out.write(chunk)
                progress.update(len(chunk))
        out.flush()
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
        if args.output:
            out.close()
            _remove(args.output)
        raise
    progress.finish()
    if args.output:
        out.close()
        if args.json:
            print_json(meta)
        else:
            print(f"Downloaded image {meta.get('id', args.image)} to {args.output} "
                  f"({progress.done} bytes)")
    return 0


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


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


# -- parser ---------------------------------------------------------------------------------

def _global_options(parser: argparse.ArgumentParser) -> None:
    """Options accepted before or after the command (defaults applied in ``_resolve``)."""
    group = parser.add_argument_group("server")
    group.add_argument("--url", default=argparse.SUPPRESS,
                       help=f"base URL of the server (env GLANCE_URL; default {DEFAULT_URL})")
    group.add_argument("-H", "--host", default=argparse.SUPPRESS,
                       help="server host (instead of --url)")
    group.add_argument("-p", "--port", type=int, default=argparse.SUPPRESS,
                       help="server port (with --host; default 9292)")
    group.add_argument("--os-auth-token", "-A", default=argparse.SUPPRESS, metavar="TOKEN",
                       help="token sent as x-auth-token (env OS_AUTH_TOKEN)")
    group.add_argument("--timeout", type=float, default=argparse.SUPPRESS, metavar="SECONDS",
                       help="network timeout per operation (default: wait)")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                     help="machine-readable JSON output")
    out.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                     help="print the whole record after add/update")


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


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common)
    parser = argparse.ArgumentParser(
        prog="glance", parents=[common],
        description="Command-line client of a glance image service (Images API v1).",
        epilog="Arguments field=value: keys are lowercased and '-' becomes '_'; names that "
               "are not image fields are custom properties.")
    parser.add_argument("--version", action="version", version=f"glance {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Callable[..., int] | None, help_text: str,
                aliases: Sequence[str] = ()) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text,
                           aliases=list(aliases))
        p.set_defaults(handler=handler)
        return p

    _list_options(command("index", cmd_index, "list images as a table", aliases=["list"]))
    _list_options(command("details", cmd_details, "every field of every matching image"))

    p = command("show", cmd_show, "every field of one image")
    p.add_argument("image", help="image id or URI")

    p = command("add", cmd_add, "register a new image and upload its data "
                                "(--file, or stdin when it is a pipe or a file)")
    p.add_argument("fields", nargs="*", metavar="field=value",
                   help="name (required), disk_format (default raw), container_format "
                        "(default ovf), is_public, protected, min_ram, min_disk, id, type, "
                        "store, checksum, owner, location=URL, copy_from=URL; other names "
                        "are properties")
    p.add_argument("--file", metavar="PATH", help="image data ('-': stdin)")
    _transfer_options(p)

    p = command("update", cmd_update, "change an image's metadata, or upload data into a "
                                      "queued image")
    p.add_argument("image", help="image id or URI")
    p.add_argument("fields", nargs="*", metavar="field=value",
                   help="fields to change; other names are properties (merged with the "
                        "existing ones unless --purge-props)")
    p.add_argument("--file", metavar="PATH", help="image data ('-': stdin)")
    p.add_argument("--purge-props", action="store_true",
                   help="the properties given replace all existing ones")
    _transfer_options(p)

    p = command("delete", cmd_delete, "delete an image")
    p.add_argument("image", help="image id or URI")

    p = command("download", cmd_download, "write an image's data to a file or stdout")
    p.add_argument("image", help="image id or URI")
    p.add_argument("-o", "--output", metavar="FILE", help="file to write (default: stdout)")
    _transfer_options(p)

    p = command("members", cmd_members, "list the projects an image is shared with")
    p.add_argument("image", help="image id or URI")

    p = command("member-add", cmd_member_add, "share an image with a project")
    p.add_argument("image", help="image id or URI")
    p.add_argument("member", help="project id")
    p.add_argument("--can-share", action="store_true", help="the member may share it further")

    p = command("member-delete", cmd_member_delete, "stop sharing an image with a project")
    p.add_argument("image", help="image id or URI")
    p.add_argument("member", help="project id")

    db = command("db", None, "manage the registry database (run on the server's host)")
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    p = db_sub.add_parser("upgrade", parents=[common], help="create or upgrade the schema",
                          description="Create or upgrade the registry schema, with the same "
                                      "options as glance-api: defaults < --config FILE (or "
                                      "GLANCE_CONFIG) < GLANCE_* environment < flags.")
    p.set_defaults(handler=cmd_db_upgrade, needs_client=False)
    p.add_argument("--config", metavar="FILE", help="TOML config file (or GLANCE_CONFIG)")
    p.add_argument("--data-dir", help="data directory (the SQLite registry lives here)")
    p.add_argument("--database-url", help="SQLAlchemy URL of the registry database")

    p = command("token-add", cmd_token_add,
                "create a static token for auth_mode tokens (run on the server's host)")
    p.set_defaults(needs_client=False)
    p.add_argument("--tokens-file", required=True, help="the server's tokens_file")
    p.add_argument("--project", required=True, help="project the token acts for")
    p.add_argument("--user", default="", help="user id recorded with the token")
    p.add_argument("--roles", default="", help="comma-separated roles (admin: administrator)")
    return parser


def _resolve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fill in global options that were not given, from the environment or defaults."""
    for name, default in (("json", False), ("verbose", False), ("timeout", None),
                          ("host", None), ("port", None), ("url", None),
                          ("os_auth_token", os.environ.get("OS_AUTH_TOKEN") or None)):
        if not hasattr(args, name):
            setattr(args, name, default)
    if args.url and (args.host or args.port):
        parser.error("give either --url or --host/--port, not both")


def make_client(args: argparse.Namespace, headers: dict[str, str] | None = None) -> Client:
    kwargs: dict[str, Any] = {"auth_tok": args.os_auth_token, "timeout": args.timeout}
    if headers:
        kwargs["headers"] = headers
    if args.host or args.port:
        return Client(args.host or "127.0.0.1", args.port or 9292, **kwargs)
    url = args.url or os.environ.get("GLANCE_URL") or DEFAULT_URL
    try:
        return Client(url, **kwargs)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # field=value arguments may come after options (`update ID --purge-props os=linux`),
    # which argparse cannot intermix with a nargs="*" positional: collect them here.
    if extra and hasattr(args, "fields") and not any(a.startswith("-") for a in extra):
        args.fields = [*args.fields, *extra]
    elif extra:
        parser.error("unrecognized arguments: " + " ".join(extra))
    _resolve(parser, args)
    try:
        if not getattr(args, "needs_client", True):
            return args.handler(args)
        client = make_client(args)
        try:
            return args.handler(client, args)
        finally:
            client.close()
    except UsageError as exc:
        parser.error(str(exc))
    except exception.GlanceException as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        sys.stderr.write(f"glance: error: {message}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return 0  # not reached: parser.error exits


if __name__ == "__main__":
    raise SystemExit(main())
