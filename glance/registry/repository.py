"""Registry: stores and queries image records. It decides nothing; the service does.

One class made of one part per concern, all over ``RegistryCore``'s transaction helper.
"""

from __future__ import annotations

from glance.registry.images import ImageRecords
from glance.registry.listing import ImageListing
from glance.registry.members import Members
from glance.registry.metadefs import Metadefs
from glance.registry.tasks import Tasks
from glance.registry.tickets import DownloadTickets
from glance.registry.upkeep import Upkeep
from glance.registry.workers import Liveness, Workers
from glance.registry.writes import Writes

__all__ = ["Liveness", "Registry"]


class Registry(ImageRecords, ImageListing, Writes, Members, Tasks, Workers, Metadefs,
               DownloadTickets, Upkeep):
    """Image records in SQL. Every method is synchronous and runs in its own transaction."""
