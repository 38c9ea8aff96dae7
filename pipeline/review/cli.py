"""Commands: ``report``, ``serve``, ``users add``, ``dataset export-corrections``."""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path


def register(sub, dataset_sub) -> None:
    p = sub.add_parser("report", help="write the static HTML report (ranking and one page per entry)",
                       description="Write a read-only HTML site of a workspace: index.html ranks the entries; "
                                   "one page per entry shows its photos with the detected litter boxed, flags, "
                                   "score parts and explanation. OUT is replaced atomically.")
    p.add_argument("--workspace", required=True, type=Path, help="workspace folder")
    p.add_argument("--out", required=True, type=Path, help="folder to write the site into (replaced)")
    p.add_argument("--lang", choices=("en", "vi"), default="en", help="interface language (default en)")
    p.set_defaults(func=_report)

    p = sub.add_parser("serve", help="run the judges' review web app",
                       description="Serve the review app: ranking, entry pages, decisions, corrections, audit "
                                   "log. Create accounts first with 'cleanup-verify users add'.")
    p.add_argument("--workspace", required=True, type=Path, help="workspace folder")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--secure-cookies", action="store_true",
                   help="mark the session cookie Secure (set this when served behind HTTPS)")
    p.set_defaults(func=_serve)

    p = sub.add_parser("users", help="manage the review app's accounts")
    users_sub = p.add_subparsers(dest="users_command", metavar="USERS_COMMAND")
    p.set_defaults(func=lambda a: (p.print_help(sys.stderr), 2)[1])
    a = users_sub.add_parser("add", help="add an account; the password is read from standard input",
                             description="Add a review-app account. The password is read from standard input "
                                         "(one line), or asked for when standard input is a terminal.")
    a.add_argument("name", help="user name (letters, digits, _ . @ -)")
    a.add_argument("--role", choices=("judge", "admin"), default="judge")
    a.add_argument("--workspace", required=True, type=Path, help="workspace folder")
    a.set_defaults(func=_users_add)

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


def _open_ws(path: Path):
    from ..cli import UsageError
    from ..workspace import Workspace, WorkspaceError
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
    from .app import create_app
    _open_ws(args.workspace).close()
    app = create_app(args.workspace, secure_cookies=args.secure_cookies)
    print(f"review app on http://{args.host}:{args.port}/ (Ctrl-C to stop)", file=sys.stderr)
    app.run(host=args.host, port=args.port, threaded=True, debug=False, use_reloader=False)
    return 0


def _users_add(args: argparse.Namespace) -> int:
    from ..cli import UsageError
    from .auth import MIN_PASSWORD_CHARS, hash_password
    from .store import ReviewError, add_user
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD_CHARS:
        raise UsageError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    with _open_ws(args.workspace) as ws:
        try:
            add_user(ws, args.name, args.role, hash_password(password))
        except ReviewError as e:
            raise UsageError(str(e)) from e
    print(f"added {args.role} {args.name}")
    return 0


def _export_corrections(args: argparse.Namespace) -> int:
    from .corrections_export import export_corrections
    with _open_ws(args.workspace) as ws:
        summary = export_corrections(ws, args.out, images=args.images)
    print(f"wrote {summary.images} images, {summary.boxes} boxes ({summary.originals} from original photos) "
          f"to {args.out}")
    return 0
