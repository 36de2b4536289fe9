"""``glance``: the command-line client of a glance image service.

It offers the original verbs over the Images API v1 (``add``, ``index``, ``show``…) and
python-glanceclient's v2 commands (``image-create``, ``image-list``…), against a server
named on the command line or found in a Keystone catalogue. Image data streams both ways in
1 MiB chunks. Exit status: 0 on success, 1 when the server (or the network, or a local file)
says no, 2 on a usage error; expected failures print one line, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from glance.cli import session
from glance.cli.errors import UsageError
from glance.cli.parser import Parsers, resolve
from glance.client import Client, V2Client
from glance.common import exception


def _run(parsers: Parsers, args: argparse.Namespace) -> int:
    """Run the chosen command with the client it needs."""
    if args.command == "help":
        target = parsers.commands.get(args.topic) if args.topic else parsers.top
        if target is None:
            raise UsageError(f"'{args.topic}' is not a valid subcommand")
        target.print_help()
        return 0
    if args.api is None:
        return int(args.handler(args))
    conn = session.connect(args)
    args.connection = conn
    client: Client | V2Client = conn.v1_client() if args.api == "v1" else conn.v2_client()
    with client:
        return int(args.handler(client, args))


def _parse(parsers: Parsers, argv: Sequence[str] | None) -> argparse.Namespace:
    args, extra = parsers.top.parse_known_args(argv)
    # field=value arguments may come after options (`update ID --purge-props os=linux`),
    # which argparse cannot intermix with a nargs="*" positional: collect them here.
    if extra and hasattr(args, "fields") and not any(a.startswith("-") for a in extra):
        args.fields = [*args.fields, *extra]
    elif extra:
        parsers.top.error("unrecognized arguments: " + " ".join(extra))
    resolve(args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parsers = Parsers()
    args = _parse(parsers, argv)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(levelname)s %(name)s: %(message)s")
    else:  # libraries' warnings (keystoneauth's retries) are not the user's business
        logging.getLogger().addHandler(logging.NullHandler())
    try:
        return _run(parsers, args)
    except UsageError as exc:
        parser = parsers.commands.get(args.command, parsers.top)
        parser.error(str(exc))
    except exception.GlanceException as exc:
        if args.debug:
            traceback.print_exc()
        message = " ".join(str(exc).split()) or type(exc).__name__
        sys.stderr.write(f"glance: error: {message}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\n... terminating glance client\n")
        return 130
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as exc:  # a local file or stream failed (disk full, unreadable, …)
        if args.debug:
            traceback.print_exc()
        where = f": {exc.filename}" if exc.filename else ""
        sys.stderr.write(f"glance: error: {exc.strerror or exc}{where}\n")
        return 1
    return 0  # not reached: parser.error exits


if __name__ == "__main__":
    raise SystemExit(main())
