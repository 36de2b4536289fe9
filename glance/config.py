"""One typed Settings object: defaults < config file < environment (GLANCE_…) < flags.

Every option is declared once in ``OPTIONS`` with its default and help text; the README's
configuration table and the sample config file are generated from these declarations
(``python -m glance.config --markdown`` / ``--sample``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence


def default_data_dir() -> str:
    """Per-user data directory: ``$XDG_DATA_HOME/glance`` or ``~/.local/share/glance``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "glance")


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _parse_positive(value: str | float) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(f"must be a positive number of seconds, not {value!r}")
    return number


def _parse_stores(value: Any) -> dict[str, dict[str, Any]]:
    """The ``stores`` option: a mapping of store name → settings (a TOML table or JSON text)."""
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
class Option:
    """One declared configuration option."""

    name: str
    type: Callable[[str], Any]
    default: Any
    help: str
    flag: bool = True  # also a command-line flag of glance-api

    @property
    def env(self) -> str:
        return "GLANCE_" + self.name.upper()

    @property
    def cli(self) -> str:
        return "--" + self.name.replace("_", "-")


OPTIONS: tuple[Option, ...] = (
    Option("host", str, "127.0.0.1", "Address glance-api listens on."),
    Option("port", int, 9292, "TCP port glance-api listens on."),
    Option("data_dir", str, None,
           "Directory holding everything the service keeps on its embedded defaults "
           "(SQLite registry, file store). Default: `$XDG_DATA_HOME/glance` or "
           "`~/.local/share/glance`."),
    Option("database_url", str, None,
           "SQLAlchemy URL of the registry database, e.g. "
           "`postgresql+psycopg://user@127.0.0.1/glance`. Default: SQLite at "
           "`<data_dir>/glance.sqlite`."),
    Option("file_store_dir", str, None,
           "Directory of the `file` store. Default: `<data_dir>/images`."),
    Option("file_store_fsync", _parse_bool, True,
           "fsync each uploaded file before it becomes visible (durability over speed)."),
    Option("default_store", str, "file",
           "Store that receives uploads when none is named: a name from `stores`, or "
           "`file` / `s3` / `swift` (the first configured store of that driver)."),
    Option("stores", _parse_stores, None,
           "Named store instances: a table per store, e.g. `[stores.cold]` with "
           "`driver = \"s3\"` and that driver's settings (see *Store settings*); in the "
           "environment, JSON of the same shape. `file`, `s3` and `swift` also name the first "
           "store of each driver. Without a store named or aliased `file`, the built-in `file` "
           "store (`file_store_dir`) is kept. Default: only the built-in `file` store.",
           flag=False),
    Option("public_endpoint", str, None,
           "Base URL used in links and `uri`s (e.g. `https://images.example.com`). Default: "
           "built from the request's Host header."),
    Option("max_header_bytes", int, 65536,
           "Largest total size of a request's headers; larger requests get 431. Also the "
           "limit for a single header line."),
    Option("max_json_body_bytes", int, 1048576, "Largest JSON request body accepted (413 beyond)."),
    Option("image_size_cap", int, 1099511627776,
           "Largest image accepted, in bytes (413 beyond, checked while streaming)."),
    Option("project_image_quota", int, -1,
           "Most images one project may own (not counting deleted or killed ones); creating "
           "one more is 413. -1: no limit."),
    Option("project_storage_quota", int, -1,
           "Most bytes of image data one project may store; an upload that would cross it is "
           "stopped while streaming, cleaned up and answered 413. -1: no limit."),
    Option("limit_param_default", int, 25, "Page size of image lists when no `limit` is given."),
    Option("api_limit_max", int, 1000, "Largest page size a list request may ask for."),
    Option("chunk_size", int, 1048576, "Buffer size of uploads and downloads, in bytes."),
    Option("auto_migrate", _parse_bool, True,
           "Create or upgrade the registry schema on start (else run `glance db upgrade`)."),
    Option("auth_mode", str, "noauth",
           "Who is calling: `noauth` (development: everyone is admin unless X-Project-Id / "
           "X-Roles headers say otherwise), `tokens` (static tokens of `tokens_file`) or "
           "`keystone` (X-Auth-Token validated by `keystone_url`)."),
    Option("tokens_file", str, None,
           "JSON file of static tokens for auth_mode `tokens`, holding only SHA-256 hashes; "
           "re-read when it changes. Add tokens with `glance token-add`."),
    Option("keystone_url", str, None,
           "Keystone v3 endpoint for auth_mode `keystone`, e.g. `http://keystone:5000/v3`."),
    Option("keystone_service_token", str, None,
           "Token glance uses to validate others' tokens (default: each token validates "
           "itself)."),
    Option("keystone_cache_seconds", float, 60.0,
           "How long a validated Keystone token is trusted before it is checked again."),
    Option("log_level", str, "INFO", "Logging level: DEBUG, INFO, WARNING or ERROR."),
    Option("image_tag_quota", int, 128, "Most tags one image may have (413 beyond)."),
    Option("image_property_quota", int, 128,
           "Most extra properties one image may have through v2 (413 beyond)."),
    Option("image_member_quota", int, 128, "Most members one image may have (413 beyond)."),
    Option("staging_dir", str, None,
           "Directory where `PUT /v2/images/{id}/stage` keeps data until it is imported. "
           "Default: `<data_dir>/staging`."),
    Option("worker_lease_seconds", _parse_positive, 30.0,
           "Processes sharing one database beat every third of this; a process silent for "
           "longer is taken as gone, and another cleans up the uploads, copies and tasks it "
           "left unfinished (a restart on the same machine does so at once)."),
    Option("web_download_allow_private", _parse_bool, False,
           "Let the `web-download` import, v1 `x-image-meta-location` and v1 "
           "`x-glance-api-copy-from` read from loopback, private, link-local and other "
           "non-global addresses (off: such URLs are refused with 400)."),
    Option("image_format_inspection", _parse_bool, True,
           "Inspect uploaded data (bare containers): refuse with 415, and clean up, data that "
           "is not the declared disk_format (qcow2 declared raw, ...) or is an unsafe disk "
           "(backing or external data file, extents or parents in other files, broken "
           "partition table); record the disk's virtual_size."),
)

_BY_NAME: dict[str, Option] = {opt.name: opt for opt in OPTIONS}

_REQUIRED = object()  # default of a store setting that must be given

# The settings of each store driver (inside a ``[stores.NAME]`` table), declared once here.
STORE_SETTINGS: dict[str, tuple[Option, ...]] = {
    "file": (
        Option("directory", str, _REQUIRED, "Directory holding one file per image."),
        Option("fsync", _parse_bool, True, "fsync each file before it becomes visible."),
    ),
    "s3": (
        Option("bucket", str, _REQUIRED, "Bucket holding the images (one object per image)."),
        Option("endpoint_url", str, None,
               "S3 endpoint, e.g. `http://127.0.0.1:8080`. Default: AWS for `region`."),
        Option("access_key", str, None, "Access key id (default: boto3's credential chain)."),
        Option("secret_key", str, None, "Secret access key."),
        Option("region", str, "us-east-1", "Region name (signing and bucket creation)."),
        Option("addressing_style", str, "path", "`path`, `virtual` or `auto`."),
        Option("create_bucket", _parse_bool, False, "Create the bucket on start if missing."),
        Option("multipart_threshold", int, 8388608,
               "Objects smaller than this (and than `part_size`) go up in one PUT; larger "
               "ones as a multipart upload."),
        Option("part_size", int, 8388608,
               "Size of each multipart part in bytes (S3 requires ≥ 5 MiB but for the last; "
               "parts grow when a declared size would need more than 10 000)."),
        Option("max_concurrency", int, 4,
               "Parts of one upload in flight at once (memory ≈ part_size × (this + 1))."),
        Option("verify_ssl", _parse_bool, True, "Verify the endpoint's TLS certificate."),
        Option("connect_timeout", float, 10.0, "Seconds to wait for a connection."),
        Option("read_timeout", float, 120.0, "Seconds to wait for a response."),
        Option("max_threads", int, 16, "Worker threads (and pooled connections) of the store."),
    ),
    "swift": (
        Option("auth_url", str, _REQUIRED,
               "Auth endpoint: `…/auth/v1.0` (tempauth, auth_version 1) or a Keystone `…/v3`."),
        Option("user", str, _REQUIRED, "User (`account:user` for tempauth)."),
        Option("key", str, _REQUIRED, "Key or password."),
        Option("container", str, _REQUIRED, "Container holding the images."),
        Option("auth_version", str, "1", "`1` (tempauth / v1.0) or `3` (Keystone v3)."),
        Option("project_name", str, None, "Keystone v3: project name."),
        Option("project_domain_name", str, "Default", "Keystone v3: project domain."),
        Option("user_domain_name", str, "Default", "Keystone v3: user domain."),
        Option("region_name", str, None, "Keystone v3: region of the object-store endpoint."),
        Option("create_container", _parse_bool, False,
               "Create the container (and `<container>_segments`) on start if missing."),
        Option("segment_size", int, 67108864,
               "Objects smaller than this go up in one PUT; larger ones as segments in "
               "`<container>_segments` under a static large object manifest (segments grow "
               "when a declared size would need more than 1000)."),
        Option("max_concurrency", int, 2,
               "Segments of one upload in flight at once (memory ≈ segment_size × (this + 1))."),
        Option("insecure", _parse_bool, False, "Do not verify the endpoint's TLS certificate."),
        Option("timeout", float, 120.0, "Seconds to wait for a response."),
        Option("max_threads", int, 16, "Worker threads (and pooled connections) of the store."),
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
            out[opt.name] = _coerce(opt, table[opt.name], f"store {name!r}")
        elif opt.default is _REQUIRED:
            raise ValueError(f"store {name!r}: missing required setting {opt.name!r} for "
                             f"driver {driver!r}")
        else:
            out[opt.name] = opt.default
    return out


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one server instance."""

    host: str = "127.0.0.1"
    port: int = 9292
    data_dir: str = field(default_factory=default_data_dir)
    database_url: str | None = None
    file_store_dir: str | None = None
    file_store_fsync: bool = True
    default_store: str = "file"
    stores: dict[str, dict[str, Any]] = field(default_factory=dict)
    public_endpoint: str | None = None
    max_header_bytes: int = 65536
    max_json_body_bytes: int = 1048576
    image_size_cap: int = 1099511627776
    project_image_quota: int = -1
    project_storage_quota: int = -1
    limit_param_default: int = 25
    api_limit_max: int = 1000
    chunk_size: int = 1048576
    auto_migrate: bool = True
    auth_mode: str = "noauth"
    tokens_file: str | None = None
    keystone_url: str | None = None
    keystone_service_token: str | None = None
    keystone_cache_seconds: float = 60.0
    log_level: str = "INFO"
    image_tag_quota: int = 128
    image_property_quota: int = 128
    image_member_quota: int = 128
    staging_dir: str | None = None
    web_download_allow_private: bool = False
    worker_lease_seconds: float = 30.0
    image_format_inspection: bool = True

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return "sqlite:///" + str(Path(self.data_dir) / "glance.sqlite")

    @property
    def resolved_file_store_dir(self) -> str:
        return self.file_store_dir or str(Path(self.data_dir) / "images")

    @property
    def resolved_staging_dir(self) -> str:
        return self.staging_dir or str(Path(self.data_dir) / "staging")

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


def _coerce(opt: Option, value: Any, source: str) -> Any:
    if value is None:
        return None
    if opt.type is _parse_bool and isinstance(value, bool):
        return value
    if opt.type is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if opt.type is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if opt.type is _parse_stores:
        try:
            return _parse_stores(value)
        except ValueError as exc:
            raise SystemExit(f"glance: bad value for {opt.name} in {source}: {exc}") from None
    if isinstance(value, (dict, list)):
        raise SystemExit(f"glance: bad value for {opt.name} in {source}: expected a single value")
    try:
        return opt.type(str(value))
    except ValueError as exc:
        raise SystemExit(f"glance: bad value for {opt.name} in {source}: {exc}") from None


def read_config_file(path: str) -> dict[str, Any]:
    """Read a TOML config file: top-level keys (or a ``[glance]`` table) named as the options."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise SystemExit(f"glance: cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SystemExit(f"glance: config file {path} is not valid TOML: {exc}") from None
    table = dict(data.get("glance", data))
    if "glance" in data and "stores" in data:  # [glance] options beside top-level [stores.X]
        table["stores"] = {**data["stores"], **table.get("stores", {})}
    values: dict[str, Any] = {}
    for key, value in table.items():
        opt = _BY_NAME.get(key)
        if opt is None:
            raise SystemExit(f"glance: unknown option {key!r} in config file {path}")
        values[key] = _coerce(opt, value, path)
    return values


def load_settings(
    flags: Mapping[str, Any] | None = None,
    config_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve Settings: defaults < config file < environment < explicit flags."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_file = config_file or environ.get("GLANCE_CONFIG")
    if config_file:
        values.update(read_config_file(config_file))
    for opt in OPTIONS:
        if opt.env in environ and environ[opt.env] != "":
            values[opt.name] = _coerce(opt, environ[opt.env], opt.env)
    for key, value in (flags or {}).items():
        if value is not None:
            values[key] = _coerce(_BY_NAME[key], value, _BY_NAME[key].cli)
    values = {k: v for k, v in values.items() if v is not None}
    return Settings(**values)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per declared option (flags default to None: 'not given')."""
    parser.add_argument("--config", metavar="FILE", help="TOML config file (or GLANCE_CONFIG).")
    for opt in OPTIONS:
        if opt.flag:
            parser.add_argument(opt.cli, dest=opt.name, default=None, metavar=opt.name.upper(),
                                help=opt.help.replace("%", "%%"))


def flags_from_args(args: argparse.Namespace) -> dict[str, Any]:
    return {opt.name: getattr(args, opt.name, None) for opt in OPTIONS}


def _default_text(opt: Option) -> str:
    if opt.default is _REQUIRED:
        return "(required)"
    if opt.default is None:
        return "(see description)"
    if isinstance(opt.default, bool):
        return f"`{str(opt.default).lower()}`"
    return f"`{opt.default}`"


def markdown_table() -> str:
    """The README's configuration table."""
    lines = ["| option | flag | environment | default | description |",
             "|---|---|---|---|---|"]
    for opt in OPTIONS:
        flag = f"`{opt.cli}`" if opt.flag else "—"
        lines.append(f"| `{opt.name}` | {flag} | `{opt.env}` | {_default_text(opt)} | {opt.help} |")
    lines += ["", "Store settings (inside `[stores.NAME]`, beside `driver`):", "",
              "| driver | setting | default | description |", "|---|---|---|---|"]
    for driver, declared in STORE_SETTINGS.items():
        for opt in declared:
            lines.append(f"| `{driver}` | `{opt.name}` | {_default_text(opt)} | {opt.help} |")
    return "\n".join(lines)


def sample_config() -> str:
    """A sample TOML config file listing every option with its default, commented out."""
    out = ["# glance-api configuration (TOML). Every key is optional.", "[glance]"]
    for opt in OPTIONS:
        if opt.name == "stores":
            continue  # tables: see the end of the file
        out.append(f"# {opt.help}")
        if opt.default is None:
            out.append(f"# {opt.name} = ")
        elif isinstance(opt.default, bool):
            out.append(f"# {opt.name} = {str(opt.default).lower()}")
        elif isinstance(opt.default, int):
            out.append(f"# {opt.name} = {opt.default}")
        else:
            out.append(f'# {opt.name} = "{opt.default}"')
        out.append("")
    out.append("# Named stores: one table per store (top level, or [glance.stores.NAME]).")
    for driver, declared in STORE_SETTINGS.items():
        out.append(f"# [stores.my-{driver}]")
        out.append(f'# driver = "{driver}"')
        for opt in declared:
            if opt.default is _REQUIRED or opt.default is None:
                out.append(f"# {opt.name} =    # {'required' if opt.default is _REQUIRED else 'optional'}")
            elif isinstance(opt.default, bool):
                out.append(f"# {opt.name} = {str(opt.default).lower()}")
            elif isinstance(opt.default, (int, float)):
                out.append(f"# {opt.name} = {opt.default}")
            else:
                out.append(f'# {opt.name} = "{opt.default}"')
        out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m glance.config")
    parser.add_argument("--markdown", action="store_true", help="print the README table")
    parser.add_argument("--sample", action="store_true", help="print a sample config file")
    args = parser.parse_args(argv)
    sys.stdout.write((sample_config() if args.sample else markdown_table()) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
