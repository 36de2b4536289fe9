"""The verbs run on the server's host, with no server to talk to: ``db upgrade`` (create or
upgrade the registry schema), ``db load-metadefs`` / ``db export-metadefs`` (the metadata
definitions catalogue, in ``cli.metadefs``) and ``token-add`` (a static token for
``auth_mode`` tokens)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

from glance.cli import metadefs
from glance.cli.command import AddCommand
from glance.cli.output import print_json
from glance.common import exception

if TYPE_CHECKING:  # the service is imported only by the commands that use it
    from glance.service import ImageService

T = TypeVar("T")


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


def _settings_of(args: argparse.Namespace) -> Any:
    from glance.config import load_settings
    return load_settings({"data_dir": args.data_dir, "database_url": args.database_url},
                         config_file=args.config)


def _with_service(args: argparse.Namespace, job: Callable[[ImageService], Awaitable[T]]) -> T:
    """Run ``job`` on an ImageService over the configured registry and stores (started,
    without joining the servers: no heartbeat, no recovery), closed afterwards."""
    from glance.api.app import build_service

    async def run() -> T:
        service = build_service(_settings_of(args))
        try:
            await service.upkeep.open_stores()
            return await job(service)
        finally:
            await service.close()

    return asyncio.run(run())


def cmd_admin_verify(args: argparse.Namespace) -> int:
    """Re-read stored copies; 1 when one is missing, corrupt or unreadable."""
    def progress(done: int, total: int, check: Any) -> None:
        state = "not checked (remote)" if not check.checked else check.problem or "ok"
        sys.stderr.write(f"verify: [{done}/{total}] image {check.image_id} in store "
                         f"{check.store}: {state}\n")
        sys.stderr.flush()

    checks = _with_service(args, lambda s: s.upkeep.verify(args.image, progress))
    bad = [c for c in checks if c.problem]
    if args.json:
        print_json({"checked": sum(c.checked for c in checks), "problems": len(bad),
                    "copies": [dataclasses.asdict(c) for c in checks]})
    else:
        for c in bad:
            print(f"{c.image_id}\t{c.store}\t{c.key}\t{c.problem}")
        print(f"{sum(c.checked for c in checks)} copies checked, {len(bad)} with problems",
              file=sys.stderr)
    return 1 if bad else 0


def cmd_admin_orphans(args: argparse.Namespace) -> int:
    """List (or delete) objects no record names; 1 when some are left in place."""
    found = _with_service(args, lambda s: s.upkeep.orphans(args.delete))
    if args.json:
        print_json({"orphans": [dataclasses.asdict(o) for o in found]})
    else:
        for o in found:
            print(f"{o.store}\t{o.key}\t{o.size}\t{'deleted' if o.deleted else 'kept'}")
        print(f"{len(found)} orphan object(s){' deleted' if args.delete else ''}",
              file=sys.stderr)
    return 1 if found and not args.delete else 0


def cmd_admin_scrub(args: argparse.Namespace) -> int:
    """One scrubber round: delete the data of images pending delete past scrub_time."""
    scrubbed = _with_service(args, lambda s: s.upkeep.scrub())
    if args.json:
        print_json({"scrubbed": scrubbed})
    else:
        for image_id in scrubbed:
            print(image_id)
        print(f"{len(scrubbed)} image(s) scrubbed", file=sys.stderr)
    return 0


def _config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="TOML config file (or GLANCE_CONFIG)")
    p.add_argument("--data-dir", help="data directory (the SQLite registry lives here)")
    p.add_argument("--database-url", help="SQLAlchemy URL of the registry database")


def register(command: AddCommand, common: argparse.ArgumentParser) -> None:
    """Add ``db upgrade`` and ``token-add``; ``common`` holds the global options every
    parser accepts."""
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
    metadefs.register(db_sub, common)

    admin = command("admin", None, "upkeep of the stored data (run on the server's host)")
    admin_sub = admin.add_subparsers(dest="admin_command", metavar="ADMIN_COMMAND",
                                     required=True)
    same_config = ("Reads the same configuration as glance-api: defaults < --config FILE "
                   "(or GLANCE_CONFIG) < GLANCE_* environment < flags.")
    p = admin_sub.add_parser(
        "verify", parents=[common], help="re-read stored copies, compare sizes and hashes",
        description="Re-read each stored copy of every image with data (or of --image) and "
        "compare its size, checksum (MD5) and os_hash_value with the record; progress on "
        "stderr, problems on stdout; exit status 1 when a copy is missing, corrupt or "
        "unreadable. " + same_config)
    p.set_defaults(handler=cmd_admin_verify, api=None)
    p.add_argument("--image", metavar="ID", help="only this image")
    _config_options(p)
    p = admin_sub.add_parser(
        "orphans", parents=[common], help="objects in the stores that no record names",
        description="List the objects in the writable stores and the staging area that no "
        "image location names (exit status 1 when there are some); --delete removes them. "
        + same_config)
    p.set_defaults(handler=cmd_admin_orphans, api=None)
    p.add_argument("--delete", action="store_true", help="delete the orphans found")
    _config_options(p)
    p = admin_sub.add_parser(
        "scrub", parents=[common], help="delete the data of images pending delete",
        description="One round of the scrubber (delayed_delete): delete the data of images "
        "deleted more than scrub_time seconds ago. " + same_config)
    p.set_defaults(handler=cmd_admin_scrub, api=None)
    _config_options(p)

    p = command("token-add", cmd_token_add,
                "create a static token for auth_mode tokens (run on the server's host)")
    p.add_argument("--tokens-file", required=True, help="the server's tokens_file")
    p.add_argument("--project", required=True, help="project the token acts for")
    p.add_argument("--user", default="", help="user id recorded with the token")
    p.add_argument("--roles", default="", help="comma-separated roles (admin: administrator)")
