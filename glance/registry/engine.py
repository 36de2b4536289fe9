"""Engine factory: SQLite tuned for concurrent readers, or any SQLAlchemy URL."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

# Execution option marking an engine (``engine.execution_options(**{WRITE_OPTION: True})``)
# whose transactions write: on SQLite they begin IMMEDIATE.
WRITE_OPTION = "glance_write"


def create_registry_engine(database_url: str) -> Engine:
    """Build the engine for ``database_url`` (creating a SQLite file's directory)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=8, max_overflow=8)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # A write transaction takes the database's write lock at BEGIN, so what it reads
            # stays true until it commits (a compare-and-set); a read transaction is one
            # snapshot (the driver's own handling began none before the first write).
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(
                WRITE_OPTION) else "BEGIN")

        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
