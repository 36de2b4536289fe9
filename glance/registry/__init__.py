"""Image records in SQL (SQLAlchemy 2); schema managed by Alembic migrations."""

from glance.registry.repository import Liveness, Registry

__all__ = ["Liveness", "Registry"]
