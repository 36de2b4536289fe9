"""The declarations of every option: ``Settings`` (glance-api) and each store driver's
settings. Each option is declared once, with its default and help text; the loaders, the
flags, the README's table and the sample file are all derived from these."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from glance.common.hashing import parse_algorithm
from glance.common.logs import parse_log_format
from glance.config.options import (
    REQUIRED,
    Option,
    coerce,
    option,
    options_of,
    parse_bool,
    parse_count,
    parse_positive,
)


def default_data_dir() -> str:
    """Per-user data directory: ``$XDG_DATA_HOME/glance`` or ``~/.local/share/glance``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                           "share")
    return os.path.join(base, "glance")


def parse_stores(value: Any) -> dict[str, dict[str, Any]]:
    """The ``stores`` option: a mapping of store name → settings (a TOML table or JSON text),
    each store's settings checked and completed with their declared defaults."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(value, Mapping):
        raise ValueError("expected a table of stores, e.g. {\"cold\": {\"driver\": \"s3\", …}}")
    stores: dict[str, dict[str, Any]] = {}
    for name, table in value.items():
        if not isinstance(table, Mapping):
            raise ValueError(f"store {name!r}: expected a table of settings")
        stores[str(name)] = _check_store_settings(str(name), dict(table))
    return stores


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one server instance; each field is a declared option."""

    host: str = option("127.0.0.1", "Address glance-api listens on.")
    port: int = option(9292, "TCP port glance-api listens on.")
    data_dir: str = option(
        None, "Directory holding everything the service keeps on its embedded defaults "
        "(SQLite registry, file store). Default: `$XDG_DATA_HOME/glance` or "
        "`~/.local/share/glance`.", str, factory=default_data_dir)
    database_url: str | None = option(
        None, "SQLAlchemy URL of the registry database, e.g. "
        "`postgresql+psycopg://user@127.0.0.1/glance`. Default: SQLite at "
        "`<data_dir>/glance.sqlite`.", str)
    file_store_dir: str | None = option(
        None, "Directory of the `file` store. Default: `<data_dir>/images`.", str)
    file_store_fsync: bool = option(
        True, "fsync each uploaded file before it becomes visible (durability over speed).",
        parse_bool)
    default_store: str = option(
        "file", "Store that receives uploads when none is named: a name from `stores`, or "
        "`file` / `s3` / `swift` (the first configured store of that driver).")
    stores: dict[str, dict[str, Any]] = option(
        None, "Named store instances: a table per store, e.g. `[stores.cold]` with "
        "`driver = \"s3\"` and that driver's settings (see *Store settings*); in the "
        "environment, JSON of the same shape. `file`, `s3` and `swift` also name the first "
        "store of each driver. Without a store named or aliased `file`, the built-in `file` "
        "store (`file_store_dir`) is kept. Default: only the built-in `file` store.",
        parse_stores, flag=False, table=True, factory=dict)
    public_endpoint: str | None = option(
        None, "Base URL used in links and `uri`s (e.g. `https://images.example.com`). "
        "Default: built from the request's Host header.", str)
    max_header_bytes: int = option(
        65536, "Largest total size of a request's headers; larger requests get 431. Also the "
        "limit for a single header line.")
    max_json_body_bytes: int = option(
        1048576, "Largest JSON request body accepted (413 beyond).")
    image_size_cap: int = option(
        1099511627776, "Largest image accepted, in bytes (413 beyond, checked while "
        "streaming).")
    project_image_quota: int = option(
        -1, "Most images one project may own (not counting deleted or killed ones); creating "
        "one more is 413. -1: no limit.")
    project_storage_quota: int = option(
        -1, "Most bytes of image data one project may store; an upload that would cross it "
        "is stopped while streaming, cleaned up and answered 413. -1: no limit.")
    limit_param_default: int = option(
        25, "Page size of image lists when no `limit` is given.")
    api_limit_max: int = option(1000, "Largest page size a list request may ask for.")
    chunk_size: int = option(1048576, "Buffer size of uploads and downloads, in bytes.")
    auto_migrate: bool = option(
        True, "Create or upgrade the registry schema on start (else run `glance db "
        "upgrade`).", parse_bool)
    auth_mode: str = option(
        "noauth", "Who is calling: `noauth` (development: everyone is admin unless "
        "X-Project-Id / X-Roles headers say otherwise), `tokens` (static tokens of "
        "`tokens_file`) or `keystone` (X-Auth-Token validated by `keystone_url`).")
    tokens_file: str | None = option(
        None, "JSON file of static tokens for auth_mode `tokens`, holding only SHA-256 "
        "hashes; re-read when it changes. Add tokens with `glance token-add`.", str)
    keystone_url: str | None = option(
        None, "Keystone v3 endpoint for auth_mode `keystone`, e.g. "
        "`http://keystone:5000/v3`.", str)
    keystone_service_token: str | None = option(
        None, "Token glance uses to validate others' tokens (default: each token validates "
        "itself).", str)
    keystone_cache_seconds: float = option(
        60.0, "How long a validated Keystone token is trusted before it is checked again.")
    log_level: str = option("INFO", "Logging level: DEBUG, INFO, WARNING or ERROR.")
    image_tag_quota: int = option(128, "Most tags one image may have (413 beyond).")
    image_property_quota: int = option(
        128, "Most extra properties one image may have through v2 (413 beyond).")
    image_member_quota: int = option(128, "Most members one image may have (413 beyond).")
    staging_dir: str | None = option(
        None, "Directory where `PUT /v2/images/{id}/stage` keeps data until it is imported. "
        "Default: `<data_dir>/staging`.", str)
    worker_lease_seconds: float = option(
        30.0, "Processes sharing one database beat every third of this; a process silent for "
        "longer is taken as gone, and another cleans up the uploads, copies and tasks it "
        "left unfinished (a restart on the same machine does so at once).", parse_positive)
    web_download_allow_private: bool = option(
        False, "Let the `web-download` import, v1 `x-image-meta-location` and v1 "
        "`x-glance-api-copy-from` read from loopback, private, link-local and other "
        "non-global addresses (off: such URLs are refused with 400).", parse_bool)
    # -- locations and glance-download import (tempest-rest) --
    show_multiple_locations: bool = option(
        False, "Show each image's copies in v2's `locations` (`url`: the URL of an http "
        "location, `<store>://<key>` for the others; `metadata`: what PATCH set, and "
        "`store`) and let owners change them with PATCH `/locations`. Off, PATCH of "
        "`/locations` is refused with 403.", parse_bool)
    do_secure_hash: bool = option(
        True, "`POST /v2/images/{id}/locations` (v2.17) reads the data at the URL in the "
        "background: it computes the checksum and the image hash, and with `validation_data` "
        "the image becomes active only if they match. Off, the image is active at once with "
        "the hash given in `validation_data` (if any), unchecked.", parse_bool)
    glance_download_properties: str = option(
        "hw_*,trait:*,os_distro,os_secure_boot,os_type", "Comma-separated extra properties "
        "(a trailing `*` matches a prefix) a `glance-download` import copies from the remote "
        "image, besides its disk and container formats.", str)
    image_format_inspection: bool = option(
        True, "Inspect uploaded data (bare containers): refuse with 415, and clean up, data "
        "that is not the declared disk_format (qcow2 declared raw, ...) or is an unsafe disk "
        "(backing or external data file, extents or parents in other files, broken "
        "partition table); record the disk's virtual_size.", parse_bool)
    # -- the image hash (issue 15: hashing_algorithm) -------------------------------------------
    hashing_algorithm: str = option(
        "sha512", "Algorithm of the hash every upload records in `os_hash_algo` / "
        "`os_hash_value` (with the MD5 `checksum`), as upstream's option: any hashlib "
        "algorithm with a fixed-size digest (`sha512`, `sha256`, `sha3_256`, `blake2b`, ...); "
        "unknown names and `shake_*` stop the start. Changing it applies to new uploads; "
        "images keep their recorded algorithm, by which copies and the cache verify them.",
        parse_algorithm)
    # -- connections, shutdown and worker processes (glance/server) --
    keepalive_timeout: float = option(
        75.0, "Seconds an idle keep-alive connection stays open waiting for its next "
        "request.", parse_positive)
    client_header_timeout: float = option(
        60.0, "Seconds allowed to receive a request's line and headers (from the connection's "
        "start, then from the first byte of each later request); slower clients are "
        "disconnected.", parse_positive)
    client_body_timeout: float = option(
        60.0, "Seconds a request body may stall (no byte received while the server waits for "
        "one); the request is then answered 408 and its upload cleaned up. A slow but "
        "progressing upload is never cut.", parse_positive)
    max_connections: int = option(
        1000, "Most connections one worker process holds open; beyond it new connections "
        "wait in the listen backlog (idle keep-alive connections are closed to make room).",
        parse_count)
    shutdown_grace_seconds: float = option(
        30.0, "On SIGTERM or SIGINT: no new connections; requests in flight get this long to "
        "finish, then they are aborted (an aborted upload is cleaned up as any failed one).",
        float)
    workers: int = option(
        1, "Worker processes serving the port; above 1, a parent process binds the port, "
        "forks the workers, restarts one that dies and stops them all on SIGTERM.", parse_count)
    # -- operations: health, metrics, logs, admin (issue 15) --------------------------------
    healthcheck_disable_file: str | None = option(
        None, "While this file exists, `GET /healthcheck` answers 503 `DISABLED BY FILE` "
        "(and `/readyz` 503), so that a load balancer drains this server (as upstream's "
        "`disable_by_file_path`).", str)
    log_format: str = option(
        "text", "Format of every log line on stderr: `text`, or `json` (one object per line, "
        "with the access log's fields as keys, for log shippers).", parse_log_format)
    access_log: bool = option(
        True, "Log one line per request (logger `glance.access`): request id, caller "
        "project, method, path, status, bytes in and out, duration.", parse_bool)
    delayed_delete: bool = option(
        False, "Deleting an image with data puts it in `pending_delete` (hidden as deleted) "
        "and keeps its data for `scrub_time` seconds; then the server's scrubber (or "
        "`glance admin scrub`) deletes the data (as upstream).", parse_bool)
    scrub_time: float = option(
        0.0, "With `delayed_delete`: seconds an image's data is kept after its delete. The "
        "scrubber looks every `scrub_time / 2` seconds (1 to 60).", float)
    readiness_timeout: float = option(
        5.0, "Seconds `GET /readyz` waits for the registry and each store to answer.",
        parse_positive)

    # -- the image cache (per node; glance/cache) ---------------------------------------------
    image_cache_enabled: bool = option(
        False, "Keep a per-node cache of the image data read from remote stores (S3, Swift, "
        "http): the first download fills it while streaming to the client, later downloads "
        "(ranges too) are sent from the local file; also enables the v2 cache API "
        "(`/v2/cache`, admin only) and its prefetcher.", parse_bool)
    image_cache_dir: str | None = option(
        None, "Directory of the image cache; several glance-api processes of one machine may "
        "share it (the prefetch queue is kept there too). Default: `<data_dir>/image-cache`.",
        str)
    image_cache_max_size: int = option(
        10737418240, "Most bytes the image cache keeps; the least recently used images are "
        "evicted beyond it (an image larger than this is never cached).")
    image_cache_stall_time: float = option(
        3600.0, "Seconds after which a cache fill that has made no progress is given up and "
        "its half-written file removed.", parse_positive)
    image_cache_file_stores: bool = option(
        False, "Also cache images whose data is in file stores (already local: off by "
        "default; useful to exercise the cache with only a file store).", parse_bool)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return "sqlite:///" + str(Path(self.data_dir) / "glance.sqlite")

    @property
    def resolved_file_store_dir(self) -> str:
        return self.file_store_dir or str(Path(self.data_dir) / "images")

    @property
    def resolved_image_cache_dir(self) -> str:
        return self.image_cache_dir or str(Path(self.data_dir) / "image-cache")

    @property
    def resolved_staging_dir(self) -> str:
        return self.staging_dir or str(Path(self.data_dir) / "staging")

    def replace(self, **changes: Any) -> Settings:
        return replace(self, **changes)


OPTIONS: tuple[Option, ...] = options_of(Settings)

# The settings of each store driver (inside a ``[stores.NAME]`` table), declared once here:
# the drivers' constructors take them all, completed by ``parse_stores``.
# Store weights (tempest-rest): a setting every driver has.
WEIGHT = Option("weight", int, 0,
                "Preference among stores: downloads read the highest weight first, and stores "
                "(of the server and of each image) are listed highest first.")
STORE_SETTINGS: dict[str, tuple[Option, ...]] = {
    "file": (
        Option("directory", str, REQUIRED, "Directory holding one file per image."),
        Option("fsync", parse_bool, True, "fsync each file before it becomes visible."),
        WEIGHT,
    ),
    "s3": (
        Option("bucket", str, REQUIRED, "Bucket holding the images (one object per image)."),
        Option("endpoint_url", str, None,
               "S3 endpoint, e.g. `http://127.0.0.1:8080`. Default: AWS for `region`."),
        Option("access_key", str, None, "Access key id (default: boto3's credential chain)."),
        Option("secret_key", str, None, "Secret access key."),
        Option("region", str, "us-east-1", "Region name (signing and bucket creation)."),
        Option("addressing_style", str, "path", "`path`, `virtual` or `auto`."),
        Option("create_bucket", parse_bool, False, "Create the bucket on start if missing."),
        Option("multipart_threshold", int, 8388608,
               "Objects smaller than this (and than `part_size`) go up in one PUT; larger "
               "ones as a multipart upload."),
        Option("part_size", int, 8388608,
               "Size of each multipart part in bytes (S3 requires ≥ 5 MiB but for the last; "
               "parts grow when a declared size would need more than 10 000)."),
        Option("max_concurrency", int, 4,
               "Parts of one upload in flight at once (memory ≈ part_size × (this + 1))."),
        Option("verify_ssl", parse_bool, True, "Verify the endpoint's TLS certificate."),
        Option("connect_timeout", float, 10.0, "Seconds to wait for a connection."),
        Option("read_timeout", float, 120.0, "Seconds to wait for a response."),
        Option("max_threads", int, 16, "Worker threads (and pooled connections) of the store."),
        WEIGHT,
    ),
    "swift": (
        Option("auth_url", str, REQUIRED,
               "Auth endpoint: `…/auth/v1.0` (tempauth, auth_version 1) or a Keystone `…/v3`."),
        Option("user", str, REQUIRED, "User (`account:user` for tempauth)."),
        Option("key", str, REQUIRED, "Key or password."),
        Option("container", str, REQUIRED, "Container holding the images."),
        Option("auth_version", str, "1", "`1` (tempauth / v1.0) or `3` (Keystone v3)."),
        Option("project_name", str, None, "Keystone v3: project name."),
        Option("project_domain_name", str, "Default", "Keystone v3: project domain."),
        Option("user_domain_name", str, "Default", "Keystone v3: user domain."),
        Option("region_name", str, None, "Keystone v3: region of the object-store endpoint."),
        Option("create_container", parse_bool, False,
               "Create the container (and `<container>_segments`) on start if missing."),
        Option("segment_size", int, 67108864,
               "Objects smaller than this go up in one PUT; larger ones as segments in "
               "`<container>_segments` under a static large object manifest (segments grow "
               "when a declared size would need more than 1000)."),
        Option("max_concurrency", int, 2,
               "Segments of one upload in flight at once (memory ≈ segment_size × (this + 1))."),
        Option("insecure", parse_bool, False, "Do not verify the endpoint's TLS certificate."),
        Option("timeout", float, 120.0, "Seconds to wait for a response."),
        Option("max_threads", int, 16, "Worker threads (and pooled connections) of the store."),
        WEIGHT,
    ),
}


def _check_store_settings(name: str, table: dict[str, Any]) -> dict[str, Any]:
    """Coerce a store's settings to their declared types; unknown or missing ones stop here.

    A driver this module does not know is left for ``build_stores`` to reject."""
    driver = table.get("driver")
    if not isinstance(driver, str) or not driver:
        raise ValueError(f"store {name!r}: missing setting 'driver'")
    declared = STORE_SETTINGS.get(driver)
    if declared is None:
        return table
    by_name = {opt.name: opt for opt in declared}
    unknown = sorted(set(table) - set(by_name) - {"driver"})
    if unknown:
        raise ValueError(f"store {name!r}: unknown setting(s) {', '.join(unknown)} for driver "
                         f"{driver!r}")
    out: dict[str, Any] = {"driver": driver}
    for opt in declared:
        if opt.name in table and table[opt.name] is not None:
            out[opt.name] = coerce(opt, table[opt.name], f"store {name!r}")
        elif opt.default is REQUIRED:
            raise ValueError(f"store {name!r}: missing required setting {opt.name!r} for "
                             f"driver {driver!r}")
        else:
            out[opt.name] = opt.default
    return out
