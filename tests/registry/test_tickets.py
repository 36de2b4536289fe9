"""Download tickets in the registry (SQLite and PostgreSQL): spent once, by one taker only,
refused when expired or for another image, bounded in number."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from glance.registry import Registry

NOW = datetime(2026, 11, 30, 12, 0, 0)


def add(registry: Registry, digest: str, *, image_id: str = "img", seconds: float = 60,
        limit: int = 100) -> bool:
    return registry.add_download_ticket(
        digest=digest, image_id=image_id, caller='{"project_id": "p"}', filename="f.raw",
        expires_at=NOW + timedelta(seconds=seconds), now=NOW, limit=limit)


def test_a_ticket_is_spent_once(registry: Registry) -> None:
    assert add(registry, "a")
    taken = registry.take_download_ticket(digest="a", image_id="img", now=NOW)
    assert taken is not None and taken.caller == '{"project_id": "p"}'
    assert taken.filename == "f.raw"
    assert registry.take_download_ticket(digest="a", image_id="img", now=NOW) is None


def test_expired_or_for_another_image_is_refused_and_spent(registry: Registry) -> None:
    assert add(registry, "old", seconds=-1)
    assert registry.take_download_ticket(digest="old", image_id="img", now=NOW) is None
    assert add(registry, "other")
    assert registry.take_download_ticket(digest="other", image_id="img2", now=NOW) is None
    assert registry.take_download_ticket(digest="other", image_id="img", now=NOW) is None


def test_pending_tickets_are_bounded_and_expired_ones_make_room(registry: Registry) -> None:
    for n in range(3):
        assert add(registry, f"gone{n}", seconds=-1, limit=3)
    for n in range(3):  # the expired ones are dropped as new ones come
        assert add(registry, f"live{n}", limit=3)
    assert not add(registry, "one too many", limit=3)
    assert registry.take_download_ticket(digest="live0", image_id="img", now=NOW) is not None
    assert add(registry, "now it fits", limit=3)


def test_concurrent_takers_get_a_ticket_once(registry: Registry) -> None:
    for n in range(20):
        assert add(registry, f"t{n}")

    def take(digest: str) -> bool:
        return registry.take_download_ticket(digest=digest, image_id="img", now=NOW) is not None

    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(take, [f"t{n}" for n in range(20) for _ in range(4)]))
    assert sum(won) == 20
