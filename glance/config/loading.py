"""Resolving Settings: defaults < config file < environment (GLANCE_…) < flags."""

from __future__ import annotations

import argparse
import os
import tomllib
from typing import Any, Mapping

from glance.common.exception import ConfigError
from glance.config.options import Option, coerce
from glance.config.settings import OPTIONS, Settings

_BY_NAME: dict[str, Option] = {opt.name: opt for opt in OPTIONS}


def read_config_file(path: str) -> dict[str, Any]:
    """Read a TOML config file: top-level keys (or a ``[glance]`` table) named as the options."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    table = dict(data.get("glance", data))
    if "glance" in data and "stores" in data:  # [glance] options beside top-level [stores.X]
        table["stores"] = {**data["stores"], **table.get("stores", {})}
    values: dict[str, Any] = {}
    for key, value in table.items():
        opt = _BY_NAME.get(key)
        if opt is None:
            raise ConfigError(f"unknown option {key!r} in config file {path}")
        values[key] = coerce(opt, value, path)
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
            values[opt.name] = coerce(opt, environ[opt.env], opt.env)
    for key, value in (flags or {}).items():
        if value is not None:
            values[key] = coerce(_BY_NAME[key], value, _BY_NAME[key].cli)
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
