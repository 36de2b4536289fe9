"""``hashing_algorithm`` in the upload pipeline, through ImageService alone: the image hash
recorded is the configured algorithm's (MD5 itself computed once when it is MD5), and a
copy is verified by the algorithm the image recorded, not by the setting."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from glance.cache.entries import Hasher, Identity
from glance.common import exception
from glance.common.hashing import new_hash, parse_algorithm
from glance.service import NewImage, Upload
from glance.service.pipeline import Checks, Digest, Limit, verified
from tests.service.conftest import OWNER, Harness, chunks_of

RAW = {"disk_format": "raw", "container_format": "bare"}
DATA = os.urandom(50_000)


@pytest.mark.parametrize("algorithm", ["sha256", "sha3_256", "blake2b", "md5"])
def test_uploads_record_the_configured_algorithm(tmp_path: Path, algorithm: str) -> None:
    harness = Harness(tmp_path / "data", hashing_algorithm=algorithm)
    try:
        image = harness.run(harness.service.create(OWNER, NewImage(RAW)))
        done = harness.run(harness.service.upload(OWNER, image.id, Upload(chunks_of(DATA))))
        assert done.os_hash_algo == algorithm
        assert done.os_hash_value == hashlib.new(algorithm, DATA).hexdigest()
        assert done.checksum == hashlib.md5(DATA).hexdigest()
    finally:
        harness.close()


def test_a_copy_is_checked_by_the_recorded_algorithm(harness: Harness) -> None:
    """The setting is sha512; data recorded under sha256 is checked by sha256."""
    limit = Limit(len(DATA), "the image's size")
    good = Checks(limit, len(DATA), os_hash=("sha256", hashlib.sha256(DATA).hexdigest()))
    bad = Checks(limit, len(DATA), os_hash=("sha256", hashlib.sha512(DATA).hexdigest()))

    async def stream(checks: Checks) -> int:
        return sum([len(c) async for c in verified(chunks_of(DATA), Digest("sha256"), checks)])

    assert harness.run(stream(good)) == len(DATA)
    with pytest.raises(exception.BadRequest, match="Hash mismatch.*sha256"):
        harness.run(stream(bad))


@pytest.mark.parametrize("name", ["md6", "shake_128", "SHAKE_256", ""])
def test_unusable_algorithms_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        parse_algorithm(name)
    with pytest.raises(ValueError):
        new_hash(name)


def test_names_are_case_insensitive() -> None:
    assert parse_algorithm(" SHA256 ") == "sha256"
    assert new_hash("Blake2b").digest_size == 64


def test_the_cache_verifies_by_the_image_s_own_algorithm() -> None:
    def check(identity: Identity, data: bytes) -> str | None:
        hasher = Hasher(identity)
        for h in (hasher.md5, hasher.other):
            if h is not None:
                h.update(data)
        hasher.size = len(data)
        return hasher.mismatch()

    value = hashlib.sha3_256(DATA).hexdigest()
    assert check(Identity(len(DATA), None, "sha3_256", value), DATA) is None
    wrong = check(Identity(len(DATA), None, "sha3_256", value), os.urandom(len(DATA)))
    assert wrong == "sha3_256 mismatch"
    # an algorithm this machine lacks: the MD5 verifies, or nothing can (never cached)
    md5 = hashlib.md5(DATA).hexdigest()
    assert Identity(len(DATA), md5, "md6", "00").verifiable
    assert check(Identity(len(DATA), md5, "md6", "00"), DATA) is None
    assert not Identity(len(DATA), None, "md6", "00").verifiable
    assert not Identity(len(DATA), None, "shake_128", "00").verifiable
