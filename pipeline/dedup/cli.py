"""``cleanup-verify dedup PATHS... [--workspace WS] [--json]``: find reused photos among files, and against a
workspace's index (read only: the files are not added)."""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cli import UsageError
from ..config import Config
from ..types import DuplicateMatch

if TYPE_CHECKING:
    from .hashing import DedupHashes

# The hashing and matching modules (scipy, pdqhash) are imported inside the functions, on purpose: every
# command's parser is built at start-up, and `cleanup-verify --help` must not pay for them.

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".avif", ".mpo")


@dataclass
class Scanned:
    """The photo files given on the command line, hashed; ``paths`` per sha256 in argument order."""

    hashes: list[DedupHashes] = field(default_factory=list)
    paths: dict[str, list[str]] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)


def register(sub: argparse._SubParsersAction, dataset_sub: argparse._SubParsersAction) -> None:  # noqa: ARG001
    p = sub.add_parser(
        "dedup", help="find reused photos among files (and against a workspace)",
        description="Check photo files and folders (searched recursively) for copies of one another: the same "
                    "bytes, the same image re-encoded or resized, mirrored or rotated, cropped (deeply too), "
                    "straightened, a screenshot, with a caption, text, a sticker or a filter, or part of a "
                    "collage. With --workspace, also check them against every photo the workspace has seen "
                    "(read only: the files are not added). Prints the groups of copies with the kind and distance "
                    "of each match, then the pairs that show the same spot at another moment (frames of one camera "
                    "seconds apart, a before and its after): not copies, but worth a look. Exit status 0 when "
                    "the check ran, whatever it found.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="photo files or folders")
    p.add_argument("--workspace", "-w", metavar="WS", help="also match against this workspace's index")
    p.add_argument("--config", metavar="FILE", help="TOML file overriding settings ([load], [dedup])")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_dedup)


def _files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for s in paths:
        p = Path(s)
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in PHOTO_SUFFIXES))
        elif p.is_file():
            out.append(p)
        else:
            raise UsageError(f"{s}: no such file or folder")
    return out


def scan(files: list[Path], cfg: Config) -> Scanned:
    """Read, decode (the load stage's reduced decode) and hash each file; failures become problems."""
    from ..load import PhotoError, load_photo, read_photo
    from .hashing import compute_hashes

    out = Scanned()
    for f in files:
        try:
            data = read_photo(f, cfg.load)
            sha = hashlib.sha256(data).hexdigest()
            if sha not in out.paths:
                photo = load_photo(data, cfg.load, sha256=sha, rel_path=str(f))
                out.hashes.append(compute_hashes(photo.image, sha, with_pdq=cfg.dedup.use_pdq))
            out.paths.setdefault(sha, []).append(str(f))
        except PhotoError as e:
            out.problems.append({"path": str(f), "code": e.problem.code, "message": e.problem.message})
        except ValueError as e:
            out.problems.append({"path": str(f), "code": "PHOTO_CORRUPT", "message": str(e)})
    return out


def find(scanned: Scanned, cfg: Config, ws=None) -> tuple[list[DuplicateMatch], dict[str, list[str]]]:
    """Matches among the scanned photos and, with a workspace, against its index. Returns the matches and
    the workspace uses (``entry_id/rel_path``) of every workspace photo involved."""
    from .index import HashIndex, load_index
    from .match import match_index, match_one

    local = HashIndex.from_hashes(scanned.hashes)
    shas = [h.sha256 for h in scanned.hashes]
    uses = {s: len(p) for s, p in scanned.paths.items()}
    matches, _ = match_index(local, shas, cfg.dedup, uses)
    ws_uses: dict[str, list[str]] = {}
    if ws is not None:
        index = load_index(ws)
        for h in scanned.hashes:
            if index.position(h.sha256) is not None:  # the very same file is already in the workspace
                matches.append(DuplicateMatch(h.sha256, h.sha256, "exact", 0, "sha256", "other"))
                ws_uses[h.sha256] = [_use(e, r) for e, r, _ in ws.entries_with_photo(h.sha256)]
            for m in match_one(index, h, cfg.dedup):
                matches.append(DuplicateMatch(h.sha256, m.other_sha256, m.kind, m.distance, m.hash_name, "other",
                                              m.region, m.other_region))
                ws_uses[m.other_sha256] = [_use(e, r) for e, r, _ in ws.entries_with_photo(m.other_sha256)]
    return matches, ws_uses


def _use(entry_id: str, rel_path: str) -> str:
    """A workspace photo as ``ENTRY/path``: the batch path when it already starts with the entry's folder."""
    return rel_path if rel_path.split("/", 1)[0] == entry_id else f"{entry_id}/{rel_path}"


def _n(count: int, word: str) -> str:
    plural = word[:-1] + "ies" if word.endswith("y") else word + "s"
    return f"{count} {word}" if count == 1 else f"{count} {plural}"


def _names(sha: str, scanned: Scanned, ws_uses: dict[str, list[str]]) -> list[str]:
    return scanned.paths.get(sha, []) + [f"workspace:{u}" for u in ws_uses.get(sha, [])]


def report(scanned: Scanned, matches: list[DuplicateMatch], ws_uses: dict[str, list[str]]) -> dict[str, Any]:
    """The groups of copies, and the ``same_spot`` pairs (the same place at another moment: no copy, so in
    no group) on their own, each pair once."""
    from .match import COPY_KINDS, group_matches

    groups = group_matches(matches)
    spots: dict[frozenset, DuplicateMatch] = {}
    for m in matches:
        if m.kind not in COPY_KINDS:
            spots.setdefault(frozenset((m.photo_sha256, m.other_sha256)), m)
    return {
        "photos": len(scanned.hashes),
        "files": sum(len(v) for v in scanned.paths.values()),
        "problems": scanned.problems,
        "groups": [{
            "group_id": g.group_id,
            "members": [{"sha256": s, "paths": _names(s, scanned, ws_uses)} for s in g.members],
            "matches": [{**m.to_dict(), "photo_paths": _names(m.photo_sha256, scanned, ws_uses),
                         "other_paths": _names(m.other_sha256, scanned, ws_uses)} for m in g.matches],
        } for g in groups],
        "same_spot": [{**m.to_dict(), "photo_paths": _names(m.photo_sha256, scanned, ws_uses),
                       "other_paths": _names(m.other_sha256, scanned, ws_uses)} for m in spots.values()],
    }


def cmd_dedup(args: argparse.Namespace) -> int:
    try:
        cfg = Config.from_toml(args.config) if args.config else Config()
    except (OSError, ValueError) as e:
        raise UsageError(f"config: {e}") from None
    files = _files(args.paths)
    if not files:
        raise UsageError("no photo files found in the given paths")
    scanned = scan(files, cfg)
    ws = None
    if args.workspace:
        from ..store import Workspace, WorkspaceError

        try:
            ws = Workspace(args.workspace, create=False)
        except WorkspaceError as e:
            raise UsageError(str(e)) from None
    try:
        matches, ws_uses = find(scanned, cfg, ws)
    finally:
        if ws is not None:
            ws.close()
    rep = report(scanned, matches, ws_uses)
    if args.json:
        print(json.dumps(rep, indent=2))
        return 0
    for p in rep["problems"]:
        print(f"{p['path']}: {p['code']}: {p['message']}", file=sys.stderr)
    distinct = "" if rep["files"] == rep["photos"] else f" ({_n(rep['photos'], 'distinct photo')})"
    print(f"{_n(rep['files'], 'file')} checked{distinct}, {_n(len(rep['groups']), 'group')} of copies, "
          f"{_n(len(rep['same_spot']), 'same-spot pair')}")
    for g in rep["groups"]:
        n_paths = sum(len(m["paths"]) for m in g["members"])
        print(f"\ngroup {g['group_id']} ({_n(n_paths, 'copy')} of {_n(len(g['members']), 'distinct photo')}):")
        for m in g["members"]:
            print("  " + ", ".join(m["paths"]))
        seen = set()
        for m in g["matches"]:
            dist = "same bytes" if m["kind"] == "exact" else f"{m['hash_name']} distance {m['distance']}"
            line = f"    {m['photo_paths'][0]} ~ {m['other_paths'][-1]}: {m['kind']} ({dist})"
            if line not in seen:
                seen.add(line)
                print(line)
    if rep["same_spot"]:
        print("\nthe same spot at another moment (not copies; worth a look):")
        for m in rep["same_spot"]:
            print(f"  {m['photo_paths'][0]} ~ {m['other_paths'][-1]}: same_spot ({m['hash_name']} distance "
                  f"{m['distance']})")
    return 0
