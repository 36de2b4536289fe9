"""The image cache on disk: one directory per node, shared safely by the processes of the
node. It knows image ids, sizes and hashes, never image records.

Layout under the cache directory:
  ``data/ID``           a complete image, verified when its fill completed
  ``meta/ID.json``      what it was verified against, and the marker of the verified file
                        (size, mtime, inode, digest of sampled blocks)
  ``meta/ID.hits``      one byte appended per hit (O_APPEND: no lost update between processes);
                        its mtime is the last access (least recently used goes first)
  ``incomplete/ID.*.part``  fills in progress (never served); a fill holds ``locks/ID``
  ``locks/ID``          flock'ed by the one fill of ID on this node (the kernel drops the lock
                        when the process dies)
  ``queue/ID``          an image queued for the prefetcher (survives restarts)
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass

from glance.common.hashing import Hash, new_hash

LOG = logging.getLogger(__name__)

SAMPLE_BLOCK = 4096
SAMPLE_POINTS = 16
_ID_RE = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,127}$")
_READ = 1 << 20


@dataclass(frozen=True)
class Identity:
    """What the registry says an image's bytes are: a cached file serves only while these
    still match, and is verified against them."""

    size: int
    checksum: str | None  # MD5 hex
    os_hash_algo: str | None
    os_hash_value: str | None

    @property
    def verifiable(self) -> bool:
        return bool(self.checksum) or own_hash(self) is not None


def own_hash(identity: Identity) -> Hash | None:
    """A new hash of the image's own algorithm (``os_hash_algo``, whatever it is); None when
    it has none or this machine's hashlib lacks it (then the MD5 and size verify)."""
    if not identity.os_hash_algo or not identity.os_hash_value:
        return None
    try:
        return new_hash(identity.os_hash_algo)
    except ValueError:
        return None


@dataclass(frozen=True)
class CachedImage:
    """One complete entry, as the cache API lists it (times are UNIX seconds)."""

    image_id: str
    size: int
    hits: int
    last_accessed: float
    last_modified: float


class Hasher:
    """The MD5 and the image's own hash of bytes fed to it, compared with an Identity."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.md5 = hashlib.md5(usedforsecurity=False) if identity.checksum else None
        self.other = own_hash(identity)
        self.size = 0

    def mismatch(self) -> str | None:
        """Why the bytes are not the image's (None: they are)."""
        ident = self.identity
        if self.size != ident.size:
            return f"size {self.size} != {ident.size}"
        if self.md5 is not None and self.md5.hexdigest() != ident.checksum:
            return "checksum mismatch"
        if self.other is not None and \
                self.other.hexdigest() != (ident.os_hash_value or "").lower():
            return f"{ident.os_hash_algo} mismatch"
        return None


def valid_id(image_id: str) -> bool:
    """Whether ``image_id`` can name a cache file (no separators, no leading dot)."""
    return bool(_ID_RE.match(image_id))


def sample_digest(fd: int, size: int) -> str:
    """A digest of SAMPLE_POINTS blocks spread over the file: cheap to check on every open."""
    digest = hashlib.sha256()
    step = max(size // SAMPLE_POINTS, 1)
    for offset in sorted({min(i * step, max(size - SAMPLE_BLOCK, 0))
                          for i in range(SAMPLE_POINTS)}):
        digest.update(os.pread(fd, SAMPLE_BLOCK, offset))
    return digest.hexdigest()


def _remove(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


class ImageCache:
    """The cache directory of this node (see the module's docstring for the layout)."""

    def __init__(self, directory: str, max_size: int, stall_time: float) -> None:
        self.directory = directory
        self.max_size = max_size
        self.stall_time = stall_time

    def _dir(self, kind: str) -> str:
        return os.path.join(self.directory, kind)

    def data_path(self, image_id: str) -> str:
        return os.path.join(self.directory, "data", image_id)

    def _meta(self, image_id: str, suffix: str = ".json") -> str:
        return os.path.join(self.directory, "meta", image_id + suffix)

    def prepare(self) -> None:
        """Create the directories; drop what dead fills left and entries over the bound."""
        for kind in ("data", "meta", "incomplete", "locks", "queue"):
            os.makedirs(self._dir(kind), exist_ok=True)
        self.clean_parts()
        self.evict()

    # -- reading ----------------------------------------------------------------------------

    def lookup(self, image_id: str, identity: Identity) -> str | None:
        """The path of the verified copy of ``image_id`` whose bytes are ``identity``, or
        None. An entry recorded for other bytes (the image was re-uploaded) is dropped; one
        changed since it was verified (size, mtime, inode or sampled blocks differ) is
        verified in full again, and dropped (logged) if its bytes are wrong."""
        if not valid_id(image_id):
            return None
        path = self.data_path(image_id)
        meta = self._read_meta(image_id)
        if meta is None:
            return None
        if meta.get("identity") != asdict(identity):
            self.discard(image_id, "the image's data changed since it was cached")
            return None
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            _remove(self._meta(image_id))
            return None
        try:
            st = os.fstat(fd)
            marker = [st.st_size, st.st_mtime_ns, st.st_ino]
            if marker != meta.get("marker") or \
                    sample_digest(fd, st.st_size) != meta.get("sample"):
                LOG.warning("image cache: %s changed on disk since it was verified; "
                            "verifying it again", image_id)
                wrong = self._verify(fd, identity)
                if wrong is not None:
                    self.discard(image_id, f"cached file is corrupt ({wrong})")
                    return None
                self._write_meta(image_id, identity, fd)
        finally:
            os.close(fd)
        self._hit(image_id)
        return path

    def _verify(self, fd: int, identity: Identity) -> str | None:
        hasher = Hasher(identity)
        offset = 0
        while True:
            block = os.pread(fd, _READ, offset)
            if not block:
                break
            offset += len(block)
            for h in (hasher.md5, hasher.other):
                if h is not None:
                    h.update(block)
        hasher.size = offset
        return hasher.mismatch()

    def _hit(self, image_id: str) -> None:
        try:
            fd = os.open(self._meta(image_id, ".hits"), os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                         0o644)
        except OSError:
            return
        try:
            os.write(fd, b".")
        finally:
            os.close(fd)

    def _read_meta(self, image_id: str) -> dict[str, object] | None:
        try:
            with open(self._meta(image_id), encoding="utf-8") as fobj:
                meta = json.load(fobj)
        except (FileNotFoundError, ValueError):
            return None
        return meta if isinstance(meta, dict) else None

    def _write_meta(self, image_id: str, identity: Identity, fd: int) -> None:
        st = os.fstat(fd)
        meta = {"image_id": image_id, "identity": asdict(identity),
                "marker": [st.st_size, st.st_mtime_ns, st.st_ino],
                "sample": sample_digest(fd, st.st_size), "verified_at": time.time()}
        tmp = self._meta(image_id, f".{uuid.uuid4().hex[:8]}.tmp")
        with open(tmp, "w", encoding="utf-8") as fobj:
            json.dump(meta, fobj)
        os.replace(tmp, self._meta(image_id))

    # -- filling ----------------------------------------------------------------------------

    def lock(self, image_id: str) -> int | None:
        """An fd holding this node's fill lock of ``image_id``; None if another fill (any
        process) holds it."""
        fd = os.open(os.path.join(self._dir("locks"), image_id), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return None
            raise
        return fd

    def new_part(self, image_id: str) -> tuple[str, int]:
        """A new partial file for a fill of ``image_id`` (the caller holds the lock)."""
        path = os.path.join(self._dir("incomplete"),
                            f"{image_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
        return path, os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)

    def commit(self, image_id: str, identity: Identity, part: str, fd: int) -> None:
        """Make the verified partial file the entry of ``image_id`` (meta first: a crash in
        between leaves a marker that no file matches)."""
        self._write_meta(image_id, identity, fd)
        os.replace(part, self.data_path(image_id))
        _remove(self._meta(image_id, ".hits"))
        LOG.info("image cache: %s cached (%d bytes)", image_id, identity.size)
        self.evict(keep=image_id)

    def clean_parts(self) -> int:
        """Remove partial files whose fill is gone (its lock is free) or stalled (no write
        for ``stall_time``). How many were removed."""
        removed = 0
        now = time.time()
        for name in os.listdir(self._dir("incomplete")):
            path = os.path.join(self._dir("incomplete"), name)
            image_id = name.rsplit(".", 3)[0]  # ID.PID.TOKEN.part
            try:
                stalled = now - os.stat(path).st_mtime > self.stall_time
            except FileNotFoundError:
                continue
            fd = None if stalled else self.lock(image_id)
            if stalled or fd is not None:
                if _remove(path):
                    removed += 1
                    LOG.warning("image cache: removed the unfinished fill %s (%s)", name,
                                "stalled" if stalled else "its process is gone")
            if fd is not None:
                os.close(fd)
        return removed

    # -- listing, removing, bounding ---------------------------------------------------------

    def entries(self) -> list[CachedImage]:
        """Every complete entry."""
        found = []
        for image_id in os.listdir(self._dir("data")):
            try:
                st = os.stat(self.data_path(image_id))
            except FileNotFoundError:
                continue
            try:
                hits = os.stat(self._meta(image_id, ".hits"))
                count, accessed = hits.st_size, hits.st_mtime
            except FileNotFoundError:
                count, accessed = 0, st.st_mtime
            found.append(CachedImage(image_id, st.st_size, count, accessed, st.st_mtime))
        return found

    def discard(self, image_id: str, reason: str) -> bool:
        """Drop the entry of ``image_id`` (logged with ``reason``); whether there was one."""
        if not valid_id(image_id):
            return False
        had = _remove(self.data_path(image_id))
        had = _remove(self._meta(image_id)) or had
        _remove(self._meta(image_id, ".hits"))
        if had:
            LOG.warning("image cache: dropped %s: %s", image_id, reason)
        return had

    def clear(self) -> int:
        """Drop every entry; how many there were."""
        return sum(self.discard(image_id, "cache cleared")
                   for image_id in os.listdir(self._dir("data")))

    def evict(self, keep: str | None = None) -> None:
        """Drop the least recently used entries until the cache holds at most max_size."""
        entries = sorted(self.entries(), key=lambda e: e.last_accessed)
        total = sum(e.size for e in entries)
        for entry in entries:
            if total <= self.max_size:
                break
            if entry.image_id == keep:
                continue
            if self.discard(entry.image_id, "evicted (least recently used)"):
                total -= entry.size

    # -- the prefetch queue -----------------------------------------------------------------

    def enqueue(self, image_id: str) -> None:
        if valid_id(image_id):
            open(os.path.join(self._dir("queue"), image_id), "ab").close()

    def dequeue(self, image_id: str) -> bool:
        return valid_id(image_id) and _remove(os.path.join(self._dir("queue"), image_id))

    def queued(self) -> list[str]:
        """The queued image ids, oldest first."""
        names = []
        for name in os.listdir(self._dir("queue")):
            try:
                names.append((os.stat(os.path.join(self._dir("queue"), name)).st_mtime, name))
            except FileNotFoundError:
                continue
        return [name for _, name in sorted(names)]

    def clear_queue(self) -> int:
        return sum(self.dequeue(image_id) for image_id in self.queued())
