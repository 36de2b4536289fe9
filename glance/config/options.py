"""How an option is declared: its name, parser, default and help, once; and value parsing."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from glance.common.exception import ConfigError

REQUIRED: Any = object()  # default of a store setting that must be given


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def parse_positive(value: str | float) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(f"must be a positive number of seconds, not {value!r}")
    return number


def parse_count(value: str | int) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"must be 1 or more, not {value!r}")
    return number


@dataclass(frozen=True)
class Option:
    """One declared configuration option."""

    name: str
    type: Callable[[Any], Any]
    default: Any
    help: str
    flag: bool = True  # also a command-line flag of glance-api
    table: bool = False  # its value is a table (TOML) or JSON text, not a single value

    @property
    def env(self) -> str:
        return "GLANCE_" + self.name.upper()

    @property
    def cli(self) -> str:
        return "--" + self.name.replace("_", "-")


def option(default: Any, help: str, parse: Callable[[Any], Any] | None = None, *,
           flag: bool = True, table: bool = False,
           factory: Callable[[], Any] | None = None) -> Any:
    """A Settings field declared as an option: ``default`` (documented; with ``factory``,
    the value is computed instead), ``help``, its parser (default: the default's type)."""
    meta = {"help": help, "parse": parse or type(default), "flag": flag, "table": table,
            "default": default}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def options_of(cls: type) -> tuple[Option, ...]:
    """The options declared as the fields of the dataclass ``cls``."""
    return tuple(Option(f.name, f.metadata["parse"], f.metadata["default"], f.metadata["help"],
                        f.metadata["flag"], f.metadata["table"]) for f in dataclasses.fields(cls))


def coerce(opt: Option, value: Any, source: str) -> Any:
    """``value`` (from a file, the environment or a flag) as ``opt``'s type; ConfigError."""
    if value is None:
        return None
    if opt.type is parse_bool and isinstance(value, bool):
        return value
    if opt.type is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if opt.type is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, (dict, list)) and not opt.table:
        raise ConfigError(f"bad value for {opt.name} in {source}: expected a single value")
    try:
        return opt.type(value if isinstance(value, (dict, list)) else str(value))
    except ValueError as exc:
        raise ConfigError(f"bad value for {opt.name} in {source}: {exc}") from None
