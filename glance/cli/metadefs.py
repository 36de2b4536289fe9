"""``glance db load-metadefs DIR`` and ``glance db export-metadefs DIR``: the catalogue of
metadata definitions to and from JSON files (one namespace a file), on the server's host,
straight into the registry (no server needed)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from glance.cli.output import print_json
from glance.common import exception


def _registry(args: argparse.Namespace) -> Any:
    """The registry the server's options name (its schema must be up to date)."""
    from glance.config import load_settings
    from glance.registry import Registry
    from glance.registry.engine import create_registry_engine
    from glance.registry.migrate import is_current

    settings = load_settings({"data_dir": args.data_dir, "database_url": args.database_url},
                             config_file=args.config)
    engine = create_registry_engine(settings.resolved_database_url)
    if not is_current(engine):
        engine.dispose()
        raise exception.GlanceException("the registry schema is missing or out of date; run "
                                        "`glance db upgrade` first")
    return Registry(engine)


def read_definitions(directory: Path) -> list[tuple[Path, Any]]:
    """Every ``*.json`` file of ``directory`` (by name), each checked into a definition;
    one bad file stops everything, naming it."""
    from glance.domain.metadefs import definition

    if not directory.is_dir():
        raise exception.GlanceException(f"{directory} is not a directory")
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            found.append((path, definition(json.loads(path.read_text(encoding="utf-8")))))
        except (ValueError, exception.GlanceException) as exc:
            raise exception.GlanceException(f"{path}: {exc}") from None
    return found


def cmd_load(args: argparse.Namespace) -> int:
    """Load each file; a namespace already there is replaced, or merged with ``--merge``."""
    definitions = read_definitions(Path(args.directory))
    registry = _registry(args)
    results = []
    try:
        for path, found in definitions:
            outcome = registry.load_definition(definition=found, merge=args.merge)
            results.append({"namespace": found.namespace.namespace, "file": str(path),
                            "result": outcome})
    finally:
        registry.close()
    if args.json:
        print_json({"loaded": results})
    else:
        for result in results:
            print(f"{result['result']:<8} {result['namespace']}  ({result['file']})")
        print(f"{len(results)} namespace(s) loaded from {args.directory}")
    return 0


def _file_name(namespace: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", namespace) + ".json"


def cmd_export(args: argparse.Namespace) -> int:
    """Write every namespace to ``DIR/<namespace>.json`` (files of that name are replaced)."""
    from glance.domain.metadefs import NamespaceQuery, document

    directory = Path(args.directory)
    directory.mkdir(parents=True, exist_ok=True)
    registry = _registry(args)
    written = []
    try:
        query = NamespaceQuery(limit=1 << 30, sort_key="namespace", sort_dir="asc",
                               viewer_is_admin=True)
        for listed in registry.list_namespaces(query=query):
            name = listed.namespace.namespace
            path = directory / _file_name(name)
            doc = document(registry.definition(name=name))
            path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
            written.append({"namespace": name, "file": str(path)})
    finally:
        registry.close()
    if args.json:
        print_json({"exported": written})
    else:
        print(f"{len(written)} namespace(s) written to {directory}")
    return 0


def register(db_commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``load-metadefs`` and ``export-metadefs`` under ``glance db``."""
    for name, handler, help_text, description in (
            ("load-metadefs", cmd_load, "load metadata definition files into the registry",
             "Load every *.json file of DIR (one namespace each) into the catalogue of "
             "metadata definitions. A new namespace is created; one already there is "
             "replaced by the file (its contents become exactly the file's), or with "
             "--merge takes the file's fields and definitions and keeps its others."),
            ("export-metadefs", cmd_export, "write the metadata definitions to files",
             "Write every namespace of the catalogue to DIR/<namespace>.json, in the format "
             "load-metadefs reads.")):
        p = db_commands.add_parser(name, parents=[common], help=help_text,
                                   description=description)
        p.set_defaults(handler=handler, api=None)
        p.add_argument("directory", metavar="DIR", help="directory of the JSON files")
        p.add_argument("--config", metavar="FILE", help="TOML config file (or GLANCE_CONFIG)")
        p.add_argument("--data-dir", help="data directory (the SQLite registry lives here)")
        p.add_argument("--database-url", help="SQLAlchemy URL of the registry database")
        if name == "load-metadefs":
            p.add_argument("--merge", action="store_true",
                           help="merge into namespaces already there instead of replacing "
                                "them")
