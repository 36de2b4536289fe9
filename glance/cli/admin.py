"""The verbs run on the server's host, with no server to talk to: ``db upgrade`` (create or
upgrade the registry schema), ``db load-metadefs`` / ``db export-metadefs`` (the metadata
definitions catalogue, in ``cli.metadefs``) and ``token-add`` (a static token for
``auth_mode`` tokens)."""

from __future__ import annotations

import argparse

from glance.cli import metadefs
from glance.cli.command import AddCommand
from glance.cli.output import print_json
from glance.common import exception


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

    p = command("token-add", cmd_token_add,
                "create a static token for auth_mode tokens (run on the server's host)")
    p.add_argument("--tokens-file", required=True, help="the server's tokens_file")
    p.add_argument("--project", required=True, help="project the token acts for")
    p.add_argument("--user", default="", help="user id recorded with the token")
    p.add_argument("--roles", default="", help="comma-separated roles (admin: administrator)")
