"""`gatekeeper user add`: a password hash for `[[smtp.users]]`, printed as config lines."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from gateway.cli.commands import Commands
from gateway.config import Config
from gateway.passwords import hash_password

MIN_PASSWORD = 12


def register(cmds: Commands) -> None:
    user = cmds.group("user", "SMTP logins")
    add = cmds.command(
        "add",
        cmd_user_add,
        "make a password hash and print the config lines",
        sync=True,
        parent=user,
    )
    add.add_argument("name")
    add.add_argument("--scheme", choices=["argon2", "scrypt"], default="argon2")
    add.add_argument("--purpose")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )


def cmd_user_add(args: argparse.Namespace, config: Config) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Again: ") != password:
            print("gatekeeper: passwords differ", file=sys.stderr)
            return 1
    if len(password) < MIN_PASSWORD:
        print(f"gatekeeper: use at least {MIN_PASSWORD} characters", file=sys.stderr)
        return 1
    print("[[smtp.users]]")
    print(f"name = {json.dumps(args.name)}")
    print(f"password_hash = {json.dumps(hash_password(password, args.scheme))}")
    if args.purpose:
        print(f"purpose = {json.dumps(args.purpose)}")
    return 0
