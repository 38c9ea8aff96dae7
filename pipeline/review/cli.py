"""Commands: ``report``, ``serve``, ``users add|list|passwd|remove``, ``dataset export-corrections``."""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from .activity import log_account


def register(sub, dataset_sub) -> None:
    p = sub.add_parser("report", help="write the static HTML report (ranking and one page per entry)",
                       description="Write a read-only HTML site of a workspace: index.html ranks the entries; "
                                   "one page per entry shows its photos with the detected litter boxed, flags, "
                                   "score parts and explanation. OUT is replaced atomically.")
    p.add_argument("--workspace", required=True, type=Path, help="workspace folder")
    p.add_argument("--out", required=True, type=Path, help="folder to write the site into (replaced)")
    p.add_argument("--lang", choices=("en", "vi"), default="en", help="interface language (default en)")
    p.set_defaults(func=_report)

    p = sub.add_parser("serve", help="run the judges' review web app and the intake API (waitress; --dev for "
                                     "Werkzeug's)",
                       description="Serve the review app (ranking, entry pages, decisions, corrections, audit "
                                   "log) and, under /api/v1, the intake API that takes entries from the contest's "
                                   "app and scores them as they arrive (docs/api.md), with the production WSGI "
                                   "server waitress. Create accounts first with 'cleanup-verify users add', and "
                                   "API tokens with 'cleanup-verify tokens add'. Events (failed sign-ins, "
                                   "lock-outs, decisions, corrections, entries received) go to "
                                   "WS/logs/review.log. Behind a reverse proxy (HTTPS), see docs/review-app.md: "
                                   "--proxy-hops 1 --secure-cookies.")
    p.add_argument("--workspace", required=True, type=Path, help="workspace folder")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port, 1-65535 (default 8000)")
    p.add_argument("--threads", type=_positive_int, default=8, help="worker threads of the server (default 8)")
    p.add_argument("--secure-cookies", action="store_true",
                   help="mark the session cookie Secure (set this when served behind HTTPS)")
    p.add_argument("--proxy-hops", type=_count, default=0, metavar="N",
                   help="trust X-Forwarded-For/-Proto/-Host from N reverse proxies in front of the app (default "
                        "0: none; never set it when clients can reach the app directly)")
    p.add_argument("--dev", action="store_true",
                   help="Werkzeug's development server instead of waitress (one machine, never in production)")
    p.add_argument("--config", metavar="FILE",
                   help="TOML file overriding settings: the scoring of entries posted to the API, and the API's "
                        "limits ([intake]: photo size, photos a role, rate per token)")
    p.add_argument("--executor", choices=("serial", "local", "ray"), default="local",
                   help="where the API's queue is scored, as for 'run' (default local: a process pool)")
    p.add_argument("--workers", type=_positive_int, metavar="N", help="worker processes of the pool (as for 'run')")
    p.add_argument("--ray-address", metavar="auto|HOST:PORT", help="Ray cluster to join (with --executor ray)")
    p.set_defaults(func=_serve)

    p = sub.add_parser("users", help="manage the review app's accounts: add, list, passwd, remove")
    users_sub = p.add_subparsers(dest="users_command", metavar="USERS_COMMAND")
    p.set_defaults(func=lambda a: (p.print_help(sys.stderr), 2)[1])
    for name, func, help_, desc in (
            ("add", _users_add, "add an account; the password is read from standard input",
             "Add a review-app account. The password is read from standard input (one line), or asked for "
             "when standard input is a terminal."),
            ("list", _users_list, "list the accounts (name, role, created)", None),
            ("passwd", _users_passwd, "set an account's password, read from standard input",
             "Set a new password for an account. The password is read from standard input (one line), or "
             "asked for on a terminal."),
            ("remove", _users_remove, "remove an account (its decisions stay in the audit log)",
             "Remove an account. Its decisions stay in the audit log; a judge signed in with it is signed out "
             "at the next page.")):
        a = users_sub.add_parser(name, help=help_, description=desc)
        if name != "list":
            a.add_argument("name", help="user name (letters, digits, _ . @ -)")
        if name == "add":
            a.add_argument("--role", choices=("judge", "admin"), default="judge")
        a.add_argument("--workspace", required=True, type=Path, help="workspace folder")
        a.set_defaults(func=func)

    d = dataset_sub.add_parser("export-corrections",
                               help="write the judges' detection corrections as a YOLO dataset",
                               description="Write every photo a judge corrected as a YOLO detection dataset: "
                                           "images (the workspace thumbnails, or the original photos with "
                                           "--images original when their batch folder is still reachable), "
                                           "labels = the model's boxes at the operating threshold minus those "
                                           "marked 'not litter' plus the boxes judges drew, and data.yaml.")
    d.add_argument("--workspace", required=True, type=Path, help="workspace folder")
    d.add_argument("--out", required=True, type=Path, help="dataset folder to write (replaced)")
    d.add_argument("--images", choices=("thumbs", "original"), default="thumbs",
                   help="thumbs: the workspace thumbnails (always available); original: the full-size photo "
                        "from its batch path, re-encoded upright, falling back to the thumbnail when the file "
                        "is gone or changed (default thumbs)")
    d.set_defaults(func=_export_corrections)


def _whole_number(text: str, low: int, high: int | None = None) -> int:
    try:
        n = int(text)
    except ValueError:
        n = low - 1
    if n < low or (high is not None and n > high):
        raise argparse.ArgumentTypeError(f"expected a whole number from {low}" +
                                         (f" to {high}" if high is not None else " up") + f", got {text!r}")
    return n


def _port(text: str) -> int:
    return _whole_number(text, 1, 65535)


def _positive_int(text: str) -> int:
    return _whole_number(text, 1)


def _count(text: str) -> int:
    return _whole_number(text, 0)


def _check_listen(host: str, port: int) -> None:
    """Fail now, in one line, when the server could not listen on ``host:port`` (an unknown address, a port
    in use or reserved), rather than with the server's traceback."""
    import errno
    import socket

    from ..cli import CommandFailed, UsageError
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as e:
        raise UsageError(f"--host {host}: not an address of this machine ({e})") from None
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                why = f"port {port} on {host} is in use (another server?)"
            elif e.errno == errno.EACCES:
                why = f"not allowed to listen on port {port} (ports below 1024 need root)"
            else:
                why = f"cannot listen on {host}:{port}: {e.strerror or e}"
            raise CommandFailed(f"{why}; choose another with --port") from None


def _open_ws(path: Path):
    from ..cli import UsageError
    from ..store import Workspace, WorkspaceError
    try:
        return Workspace(path, create=False)
    except WorkspaceError as e:
        raise UsageError(str(e)) from e


def _report(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from ..report import build_report
    from ..report.site import ReportError
    with _open_ws(args.workspace) as ws:
        try:
            index = build_report(ws, args.out, lang=args.lang)
        except ReportError as e:
            raise UsageError(str(e)) from e
    print(f"report written: {index}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ..api.worker import IntakeWorker
    from ..cli import UsageError
    from ..commands import load_config
    from ..store.reviews import list_users
    from ..store.tokens import count_active
    from .app import create_app
    if args.ray_address and args.executor != "ray":
        raise UsageError("--ray-address needs --executor ray")
    cfg = load_config(args.config)
    with _open_ws(args.workspace) as ws:
        has_accounts, has_tokens = bool(list_users(ws)), count_active(ws) > 0
    if not has_accounts and not has_tokens:
        raise UsageError(f"workspace {args.workspace} has no review-app account and no API token yet, so nobody "
                         f"could sign in or post. Add an account first: echo 'a long password' | cleanup-verify "
                         f"users add NAME --role admin --workspace {args.workspace} (and for the intake API: "
                         f"cleanup-verify tokens add APP --workspace {args.workspace})")
    _check_listen(args.host, args.port)
    worker = IntakeWorker(args.workspace, cfg, executor=args.executor, workers=args.workers,
                          ray_address=args.ray_address)
    app = create_app(args.workspace, secure_cookies=args.secure_cookies, proxy_hops=args.proxy_hops, cfg=cfg,
                     worker=worker)
    _log_to_stderr()
    worker.start()
    where = f"http://{args.host}:{args.port}/"
    log = Path(args.workspace) / "logs" / "review.log"
    try:
        if args.dev:
            print(f"review app on {where}, intake API on {where}api/v1/ with Werkzeug's development server (--dev; "
                  f"not for production). Log: {log}. Ctrl-C to stop.", file=sys.stderr)
            app.run(host=args.host, port=args.port, threaded=True, debug=False, use_reloader=False)
            return 0
        import waitress
        print(f"review app on {where}, intake API on {where}api/v1/ (waitress, {args.threads} threads; queue "
              f"scored with the {args.executor} executor). Log: {log}. Ctrl-C to stop.", file=sys.stderr, flush=True)
        waitress.serve(app, host=args.host, port=args.port, threads=args.threads, ident="cleanup-verify")
    finally:
        worker.stop()
    return 0


def _log_to_stderr() -> None:
    """The runner's and the intake worker's log lines (logger ``cleanup_verify``) also on standard error."""
    import logging
    logger = logging.getLogger("cleanup_verify")
    if not any(isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is sys.stderr
               for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _read_password(name: str) -> str:
    from ..cli import UsageError
    from .auth import MIN_PASSWORD_CHARS
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsageError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    return password


def _users_add(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from .auth import hash_password
    from .decisions import ReviewError, add_user
    password = _read_password(args.name)
    with _open_ws(args.workspace) as ws:
        try:
            add_user(ws, args.name, args.role, hash_password(password))
        except ReviewError as e:
            raise UsageError(str(e)) from e
    log_account(args.workspace, "account-added", name=args.name, role=args.role)
    print(f"added {args.role} {args.name}")
    return 0


def _users_list(args: argparse.Namespace) -> int:
    from ..store.reviews import list_users
    with _open_ws(args.workspace) as ws:
        users = list_users(ws)
    if not users:
        print(f"no accounts; add one with: cleanup-verify users add NAME --role admin --workspace {args.workspace}",
              file=sys.stderr)
    for name, role, created in users:
        print(f"{name}\t{role}\tcreated {created}")
    return 0


def _users_passwd(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from .auth import hash_password
    from ..store.reviews import set_password_hash
    with _open_ws(args.workspace) as ws:
        from ..store.reviews import get_user
        if get_user(ws, args.name) is None:
            raise UsageError(f"no account {args.name!r} (see 'cleanup-verify users list')")
        password = _read_password(args.name)
        set_password_hash(ws, args.name, hash_password(password))
    log_account(args.workspace, "account-password", name=args.name)
    print(f"password of {args.name} changed")
    return 0


def _users_remove(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from ..store.reviews import remove_user
    with _open_ws(args.workspace) as ws:
        if not remove_user(ws, args.name):
            raise UsageError(f"no account {args.name!r} (see 'cleanup-verify users list')")
    log_account(args.workspace, "account-removed", name=args.name)
    print(f"removed {args.name}")
    return 0


def _export_corrections(args: argparse.Namespace) -> int:
    from .corrections_export import export_corrections
    from ..cli import UsageError
    from ..report.site import ReportError
    with _open_ws(args.workspace) as ws:
        try:
            summary = export_corrections(ws, args.out, images=args.images)
        except ReportError as e:
            raise UsageError(str(e)) from e
    print(f"wrote {summary.images} images, {summary.boxes} boxes ({summary.originals} from original photos) "
          f"to {args.out}")
    return 0
