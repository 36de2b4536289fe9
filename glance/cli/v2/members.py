"""The v2 member commands: ``member-list``, ``member-create``, ``member-update``,
``member-get``."""

from __future__ import annotations

import argparse
from typing import Any

from glance.cli.command import AddCommand
from glance.cli.output import list_table, print_json
from glance.cli.v2.common import show_record
from glance.client import V2Client
from glance.domain import MEMBER_STATUSES

#: The member statuses in python-glanceclient's order (its help and errors list them so).
GLANCECLIENT_MEMBER_STATUSES = ("accepted", "rejected", "pending")
assert set(GLANCECLIENT_MEMBER_STATUSES) == set(MEMBER_STATUSES)
MEMBER_COLUMNS = ["Image ID", "Member ID", "Status"]  # python-glanceclient's columns


def _show_members(args: argparse.Namespace, members: list[dict[str, Any]]) -> None:
    if args.json:
        print_json(members)
    else:
        print(list_table(members, MEMBER_COLUMNS))


def cmd_member_list(client: V2Client, args: argparse.Namespace) -> int:
    _show_members(args, client.list_members(args.image_id))
    return 0


def cmd_member_create(client: V2Client, args: argparse.Namespace) -> int:
    _show_members(args, [client.add_member(args.image_id, args.member_id)])
    return 0


def cmd_member_update(client: V2Client, args: argparse.Namespace) -> int:
    member = client.update_member(args.image_id, args.member_id, args.member_status)
    _show_members(args, [member])
    return 0


def cmd_member_get(client: V2Client, args: argparse.Namespace) -> int:
    show_record(args, client.get_member(args.image_id, args.member_id))
    return 0


def register(command: AddCommand) -> None:
    """Add the v2 member commands."""
    p = command("member-list", cmd_member_list, "Describe sharing permissions by image.",
                api="v2")
    p.add_argument("--image-id", metavar="<IMAGE_ID>", required=True,
                   help="Image to display members of.")
    p = command("member-create", cmd_member_create, "Create member for a given image.",
                api="v2")
    p.add_argument("image_id", metavar="<IMAGE_ID>",
                   help="Image with which to create member.")
    p.add_argument("member_id", metavar="<MEMBER_ID>", help="Tenant to add as member.")
    p = command("member-update", cmd_member_update,
                "Update the status of a member for a given image.", api="v2")
    p.add_argument("image_id", metavar="<IMAGE_ID>",
                   help="Image from which to update member.")
    p.add_argument("member_id", metavar="<MEMBER_ID>", help="Tenant to update.")
    p.add_argument("member_status", metavar="<MEMBER_STATUS>",
                   choices=GLANCECLIENT_MEMBER_STATUSES,
                   help="Updated status of member. Valid Values: "
                        f"{', '.join(GLANCECLIENT_MEMBER_STATUSES)}")
    p = command("member-get", cmd_member_get, "Show details of an image member", api="v2")
    p.add_argument("image_id", metavar="<IMAGE_ID>",
                   help="Image from which to display member.")
    p.add_argument("member_id", metavar="<MEMBER_ID>", help="Project to display.")
