"""Downloaded image bytes, read from the network as they are iterated: ``ImageBodyIterator``
(v1's ``get_image``) and ``ImageDownload`` (v2's, which checks the bytes when they end)."""

from __future__ import annotations

import hashlib
from typing import Any, Mapping, Self

import httpx

from glance.client.wire import CHUNK_SIZE
from glance.common import exception
from glance.common.hashing import Hash, new_hash


class CorruptDownload(exception.GlanceException):
    """The downloaded bytes do not match the image's size or hash."""

    code = 500
    default_message = "Corrupt image download"


class ImageBodyIterator:
    """Iterator over the bytes of a downloaded image, read from the network as it goes.

    The response is closed when the iterator is exhausted, when ``close()`` is called, when
    it is used as a context manager and the block ends, or when it is garbage collected. A
    connection lost on the way is a ``ClientConnectionError``.
    """

    def __init__(self, response: httpx.Response, chunk_size: int = CHUNK_SIZE,
                 what: str = "the image") -> None:
        self._response: httpx.Response | None = response
        self._chunks = response.iter_bytes(chunk_size)
        self._what = what
        self.chunk_size = chunk_size

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> bytes:
        if self._response is None:
            raise StopIteration
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self.close()
            self._ended()
            raise
        except httpx.HTTPError as exc:
            self.close()
            raise exception.ClientConnectionError(
                f"Connection lost while downloading {self._what}: "
                f"{exc or type(exc).__name__}") from exc
        self._arrived(chunk)
        return chunk

    def _arrived(self, chunk: bytes) -> None:
        """Called with each chunk as it arrives."""

    def _ended(self) -> None:
        """Called once the last byte has arrived (may raise to refuse the whole)."""

    def close(self) -> None:
        """Stop reading and release the connection."""
        response, self._response = self._response, None
        if response is not None:
            response.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass


class ImageDownload(ImageBodyIterator):
    """The bytes of an image, checked when they end.

    ``image`` is the image's record (read just before the data), ``size`` the length the
    server announced (None if it did not). When the iteration ends, the bytes are checked
    against the announced length and the image's hash, and ``CorruptDownload`` is raised on
    a mismatch.
    """

    def __init__(self, response: httpx.Response, image: dict[str, Any],
                 allow_md5_fallback: bool = False) -> None:
        super().__init__(response, CHUNK_SIZE, f"image {image.get('id')}")
        self.image = image
        length = response.headers.get("content-length")
        self.size: int | None = int(length) if length and length.isdigit() else None
        self.received = 0
        self._hasher, self._expected, self._algorithm = _verifier(
            image, response.headers.get("content-md5"), allow_md5_fallback)

    def _arrived(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self._hasher is not None:
            self._hasher.update(chunk)

    def _ended(self) -> None:
        if self.size is not None and self.received != self.size:
            raise CorruptDownload(f"Corrupt image download. Received {self.received} of "
                                  f"{self.size} bytes")
        if self._hasher is not None:
            computed = self._hasher.hexdigest()
            if computed != self._expected:
                what = "Hash" if self._algorithm != "md5" else "Checksum"
                raise CorruptDownload(f"Corrupt image download. {what} was {computed} "
                                      f"expected {self._expected}")


def _verifier(image: Mapping[str, Any], content_md5: str | None,
              allow_md5_fallback: bool) -> tuple[Hash | None, str | None, str | None]:
    """``(hasher, expected hex digest, algorithm)``: the image's own hash first (any
    hashlib algorithm with a fixed-size digest), as python-glanceclient checks it; MD5 of
    ``checksum`` or Content-MD5 otherwise."""
    algorithm, value = image.get("os_hash_algo"), image.get("os_hash_value")
    if value and algorithm:
        try:
            return new_hash(str(algorithm)), str(value).lower(), str(algorithm)
        except ValueError as exc:
            if not allow_md5_fallback:
                raise CorruptDownload(f"The image's hash algorithm cannot be used here: "
                                      f"{exc} (allow the MD5 fallback to use the checksum "
                                      f"instead)") from None
    md5 = image.get("checksum") or content_md5
    if md5:
        return hashlib.md5(usedforsecurity=False), str(md5), "md5"
    return None, None, None
