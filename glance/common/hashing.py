"""The hash algorithms of ``os_hash_algo``: any hashlib algorithm with a fixed-size digest,
shared by the server (uploads, copies, the cache) and the client (download checks)."""

from __future__ import annotations

import hashlib
from typing import Protocol

LONGEST_HEXDIGEST = 128  # the registry column and the v2 schema's maxLength of os_hash_value


class Hash(Protocol):
    """A running hash (what hashlib returns)."""

    @property
    def name(self) -> str: ...
    @property
    def digest_size(self) -> int: ...
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


def new_hash(algorithm: str) -> Hash:
    """A new hash object of ``algorithm`` (a hashlib name, any case); ValueError, saying why,
    for a name hashlib does not offer here or one without a fixed-size digest (shake_*)."""
    name = algorithm.strip().lower()
    if name not in hashlib.algorithms_available:
        raise ValueError(f"unknown hash algorithm {algorithm!r} (available: "
                         f"{', '.join(sorted(fixed_size_algorithms()))})")
    try:
        hasher = hashlib.new(name, usedforsecurity=False)
    except ValueError as exc:  # listed, but the OpenSSL build refuses it (legacy provider)
        raise ValueError(f"hash algorithm {algorithm!r} is not usable here: {exc}") from None
    if hasher.digest_size <= 0:
        raise ValueError(f"hash algorithm {algorithm!r} has no fixed digest size "
                         f"(shake_* needs a length)")
    return hasher


def parse_algorithm(value: str) -> str:
    """The option ``hashing_algorithm``: a usable algorithm's name, lower case; ValueError
    otherwise (also for digests longer than the registry keeps)."""
    hasher = new_hash(value)
    if 2 * hasher.digest_size > LONGEST_HEXDIGEST:
        raise ValueError(f"hash algorithm {value!r} has a digest longer than "
                         f"{LONGEST_HEXDIGEST} hex characters")
    return value.strip().lower()


def fixed_size_algorithms() -> list[str]:
    """The algorithms ``new_hash`` accepts on this machine."""
    usable = []
    for name in hashlib.algorithms_available:
        try:
            if hashlib.new(name, usedforsecurity=False).digest_size > 0:
                usable.append(name)
        except ValueError:
            continue
    return usable
