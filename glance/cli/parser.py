"""The ``glance`` command line: global options (accepted before or after the command) and
the commands of ``v1``, ``v2`` and ``admin``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from glance import __version__
from glance.cli import admin, v1, v2
from glance.cli.command import Handler
from glance.cli.session import DEFAULT_URL

#: Global options and the value they take when not given (flags default to SUPPRESS so
#: that one given before the command is not reset by the command's parser).
GLOBAL_DEFAULTS: dict[str, Any] = {
    "url": None, "host": None, "port": None, "timeout": None, "insecure": False,
    "os_cacert": None, "os_image_url": None, "os_image_api_version": None,
    "os_auth_token": None, "os_auth_url": None, "os_username": None, "os_user_id": None,
    "os_password": None, "os_project_name": None, "os_project_id": None,
    "os_user_domain_name": None, "os_user_domain_id": None, "os_project_domain_name": None,
    "os_project_domain_id": None, "os_region_name": None, "os_interface": None,
    "os_service_type": None, "json": False, "verbose": False, "debug": False,
    "force": False, "get_schema": False}

EPILOG = """\
Two styles: the original verbs (add, index, details, show, update, delete, download,
members, member-add, member-delete) take field=value arguments (keys are lowercased, '-'
becomes '_'; names that are not image fields are custom properties); the image-* and
member-* commands are python-glanceclient's, with its flags and tables. See
"glance help COMMAND".

Server and credentials: --os-image-url (or --url, --host/--port; env OS_IMAGE_URL or
GLANCE_URL) with --os-auth-token (env OS_AUTH_TOKEN); or Keystone: --os-auth-url,
--os-username, --os-password, --os-project-name... (env OS_*), the image endpoint then
coming from the catalogue. Exit status: 0 done, 1 refused, 2 usage error."""


_HIDDEN = argparse.SUPPRESS

#: The global options: (group, flags, argparse keywords); a help of SUPPRESS keeps an
#: option accepted (python-glanceclient's) but out of the help.
GLOBAL_OPTIONS: tuple[tuple[str, tuple[str, ...], dict[str, Any]], ...] = (
    ("server", ("--os-image-url",), {"metavar": "URL", "help": "the image service's URL "
                                     "(env OS_IMAGE_URL); a trailing /v2 is ignored"}),
    ("server", ("--url",), {"help": f"the same (env GLANCE_URL; default {DEFAULT_URL})"}),
    ("server", ("-H", "--host"), {"help": "server host (instead of --url)"}),
    ("server", ("-p", "--port"), {"type": int, "help": "server port (with --host; "
                                                       "default 9292)"}),
    ("server", ("--timeout",), {"type": float, "metavar": "SECONDS",
                                "help": "network timeout per operation (default: wait)"}),
    ("server", ("--insecure",), {"action": "store_true",
                                 "help": "do not verify the server's TLS certificate"}),
    ("server", ("--os-cacert",), {"metavar": "CA_FILE", "help": "CA bundle to verify TLS "
                                  "certificates with (env OS_CACERT)"}),
    ("server", ("--os-image-api-version",), {"help": _HIDDEN}),
    ("identity", ("--os-auth-token", "-A"), {"metavar": "TOKEN", "help": "token sent as "
                                             "X-Auth-Token (env OS_AUTH_TOKEN)"}),
    ("identity", ("--os-auth-url",), {"metavar": "URL", "help": "Keystone URL, to log in "
                                      "with a password (env OS_AUTH_URL)"}),
    ("identity", ("--os-username",), {"help": "env OS_USERNAME"}),
    ("identity", ("--os-user-id",), {"help": "env OS_USER_ID"}),
    ("identity", ("--os-password",), {"help": "env OS_PASSWORD (asked for on a terminal "
                                      "when missing)"}),
    ("identity", ("--os-project-name", "--os-tenant-name"), {"help": "env OS_PROJECT_NAME"}),
    ("identity", ("--os-project-id", "--os-tenant-id"), {"help": "env OS_PROJECT_ID"}),
    ("identity", ("--os-user-domain-name",), {"help": "env OS_USER_DOMAIN_NAME"}),
    ("identity", ("--os-user-domain-id",), {"help": "env OS_USER_DOMAIN_ID"}),
    ("identity", ("--os-project-domain-name",), {"help": "env OS_PROJECT_DOMAIN_NAME"}),
    ("identity", ("--os-project-domain-id",), {"help": "env OS_PROJECT_DOMAIN_ID"}),
    ("identity", ("--os-region-name",), {"help": "region of the image endpoint "
                                         "(env OS_REGION_NAME)"}),
    ("identity", ("--os-interface", "--os-endpoint-type"), {
        "help": "public (default), internal or admin endpoint (env OS_INTERFACE or "
                "OS_ENDPOINT_TYPE)"}),
    ("identity", ("--os-service-type",), {"help": "catalogue service type "
                                          "(env OS_SERVICE_TYPE; default image)"}),
    ("output", ("--json",), {"action": "store_true", "help": "machine-readable JSON output"}),
    ("output", ("-v", "--verbose"), {"action": "store_true", "help": "more output (add/"
                                     "update: the whole record; image-list: more columns)"}),
    ("output", ("-d", "--debug"), {"action": "store_true",
                                   "help": "log HTTP requests and show tracebacks"}),
    ("output", ("-f", "--force"), {"action": "store_true", "help": _HIDDEN}),
    ("output", ("--get-schema",), {"action": "store_true", "help": _HIDDEN}),
)


def _global_options(parser: argparse.ArgumentParser, shown: bool,
                    leave_out: Sequence[str] = ()) -> None:
    """Add the options accepted before or after the command (default SUPPRESS, so that one
    given before the command is not reset by the command's parser; ``resolve`` fills in
    the rest). ``shown`` False leaves them out of usage and help; an option with a flag in
    ``leave_out`` is not added."""
    groups: dict[str, Any] = {}
    for group, flags, options in GLOBAL_OPTIONS:
        if set(flags) & set(leave_out):
            continue
        if group not in groups:
            groups[group] = parser.add_argument_group(group) if shown else parser
        kwargs = {**options, "default": _HIDDEN}
        if not shown:
            kwargs["help"] = _HIDDEN
        groups[group].add_argument(*flags, **kwargs)


class Parsers:
    """The top-level parser and one parser per command (for ``glance help COMMAND``)."""

    def __init__(self) -> None:
        shown = argparse.ArgumentParser(add_help=False)
        _global_options(shown, shown=True)
        #: the global options again, hidden from each command's usage and help
        self.common = argparse.ArgumentParser(add_help=False)
        _global_options(self.common, shown=False)
        self.top = argparse.ArgumentParser(
            prog="glance", parents=[shown],
            description="Command-line client of a glance image service (Images API v1 and "
                        "v2).",
            epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        self.top.add_argument("--version", action="version", version=f"glance {__version__}")
        self._sub = self.top.add_subparsers(dest="command", metavar="COMMAND", required=True)
        self.commands: dict[str, argparse.ArgumentParser] = {}
        v1.register(self.command)
        admin.register(self.command, self.common)
        v2.register(self.command)
        p = self.command("help", None, "Display help about this program or one of its "
                                       "commands.")
        p.add_argument("topic", metavar="COMMAND", nargs="?", help="the command to explain")

    def command(self, name: str, handler: Handler | None, help_text: str,
                api: str | None = None, aliases: Sequence[str] = (),
                own: Sequence[str] = ()) -> argparse.ArgumentParser:
        """A new command: ``handler(client, args)`` for ``api`` ``v1``/``v2``, or
        ``handler(args)`` for a command that needs no server. Global options with a flag in
        ``own`` are the command's own after its name (``location-add --url`` is the
        location's URL, as python-glanceclient's; the server's ``--url`` goes before)."""
        common = self.common
        if own:
            common = argparse.ArgumentParser(add_help=False)
            _global_options(common, shown=False, leave_out=own)
        parser = self._sub.add_parser(name, parents=[common], help=help_text,
                                      description=help_text, aliases=list(aliases))
        parser.set_defaults(handler=handler, api=api)
        self.commands[name] = parser
        for alias in aliases:
            self.commands[alias] = parser
        return parser


def resolve(args: argparse.Namespace) -> None:
    """Give every global option that was not given its default."""
    for name, default in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
