"""Commands: ``tokens add|list|revoke``, the intake API's bearer tokens (pipeline.api.tokens)."""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def register(sub, dataset_sub) -> None:  # noqa: ARG001
    p = sub.add_parser("tokens", help="manage the intake API's bearer tokens: add, list, revoke",
                       description="Tokens let an app post entries to the intake API of 'cleanup-verify serve' "
                                   "(docs/api.md). A token is printed once, when it is added, and stored hashed; "
                                   "a lost token cannot be shown again: revoke it and add another. Tokens cannot "
                                   "open the review app, and judges' accounts cannot use the API.")
    tokens_sub = p.add_subparsers(dest="tokens_command", metavar="TOKENS_COMMAND")
    p.set_defaults(func=lambda a: (p.print_help(sys.stderr), 2)[1])
    for name, func, help_ in (("add", _add, "add a token and print it (once)"),
                              ("list", _list, "list the tokens (name, created, revoked); never the tokens"),
                              ("revoke", _revoke, "revoke a token: its requests get 401 from now on")):
        a = tokens_sub.add_parser(name, help=help_, description=help_[0].upper() + help_[1:] + ".")
        if name != "list":
            a.add_argument("name", help="the token's name, e.g. the app it is for (letters, digits, _ . @ -)")
        a.add_argument("--workspace", required=True, type=Path, help="workspace folder")
        a.set_defaults(func=func)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _add(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from ..commands import open_existing_workspace
    from ..review.activity import log_account
    from ..store.tokens import add_token
    from .tokens import new_token, token_hash
    if not NAME_RE.match(args.name):
        raise UsageError(f"token name {args.name!r}: use 1-64 letters, digits, _ . @ -")
    token = new_token()
    with open_existing_workspace(str(args.workspace)) as ws:
        if not add_token(ws, args.name, token_hash(token), _now()):
            raise UsageError(f"a token named {args.name!r} exists (or existed: names are not reused); choose "
                             "another name")
    log_account(args.workspace, "token-added", name=args.name)
    print(token)
    print(f"token {args.name!r} added; it is shown only now: give it to the app (Authorization: Bearer TOKEN)",
          file=sys.stderr)
    return 0


def _list(args: argparse.Namespace) -> int:
    from ..commands import open_existing_workspace
    from ..store.tokens import list_tokens
    with open_existing_workspace(str(args.workspace)) as ws:
        tokens = list_tokens(ws)
    if not tokens:
        print(f"no tokens; add one with: cleanup-verify tokens add NAME --workspace {args.workspace}", file=sys.stderr)
    for t in tokens:
        print(f"{t.name}\tcreated {t.created_at}\t" + (f"revoked {t.revoked_at}" if t.revoked_at else "valid"))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from ..commands import open_existing_workspace
    from ..review.activity import log_account
    from ..store.tokens import revoke_token
    with open_existing_workspace(str(args.workspace)) as ws:
        if not revoke_token(ws, args.name, _now()):
            raise UsageError(f"no valid token {args.name!r} (see 'cleanup-verify tokens list')")
    log_account(args.workspace, "token-revoked", name=args.name)
    print(f"revoked {args.name}")
    return 0
