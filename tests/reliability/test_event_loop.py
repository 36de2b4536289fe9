"""Slow file operations never stall the event loop: deleting a 2 GiB image from the file
store (its unlink takes about 1.5 s on this machine's ext4) while another client polls
GET /versions; no poll may wait long."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Iterator

import httpx

from tests.conftest import RunningServer
from tests.functional._v2 import OCTET, create

SIZE = 2 << 30
MAX_POLL_SECONDS = 0.25


def body() -> Iterator[bytes]:
    block = bytes(range(256)) * 4096  # 1 MiB of real (non-sparse) data
    for _ in range(SIZE // len(block)):
        yield block


def test_deleting_a_big_image_does_not_block_other_requests(
        fresh_server: RunningServer) -> None:
    try:
        with httpx.Client(base_url=fresh_server.url, timeout=600) as http:
            image = create(http)
            resp = http.put(f"/v2/images/{image['id']}/file", content=body(), headers=OCTET)
            assert resp.status_code == 204, resp.text
            stored = fresh_server.store_dir / image["id"]
            assert stored.stat().st_blocks * 512 >= SIZE  # real blocks, slow to free

            deleted: dict[str, httpx.Response] = {}
            deleter = threading.Thread(target=lambda: deleted.update(
                response=httpx.delete(f"{fresh_server.url}/v2/images/{image['id']}",
                                      timeout=600)))
            polls: list[float] = []
            with httpx.Client(base_url=fresh_server.url, timeout=60) as poller:
                poller.get("/versions")
                deleter.start()
                while deleter.is_alive() or not polls:
                    started = time.monotonic()
                    assert poller.get("/versions").status_code in (200, 300)
                    polls.append(time.monotonic() - started)
                    time.sleep(0.005)
            deleter.join()
        assert deleted["response"].status_code == 204, deleted["response"].text
        assert not stored.exists()
        assert max(polls) < MAX_POLL_SECONDS, (
            f"GET /versions waited {max(polls) * 1000:.0f} ms during the delete "
            f"({len(polls)} polls)")
    finally:
        for leftover in fresh_server.stored_files():  # never leave 2 GiB behind
            Path(leftover).unlink(missing_ok=True)
