"""Core commands: ``run``, ``export`` and ``demo``."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli import UsageError
from .config import Config
from .run.executors import EXECUTORS


def load_config(path: str | None) -> Config:
    if not path:
        return Config()
    try:
        return Config.from_toml(path)
    except FileNotFoundError:
        raise UsageError(f"config file {path} not found") from None
    except ValueError as e:
        raise UsageError(str(e)) from None


def open_existing_workspace(path: str):
    """The workspace at ``path``; a missing or foreign folder is a usage error (exit status 2)."""
    from .store import Workspace, WorkspaceError

    try:
        return Workspace(path, create=False)
    except WorkspaceError as e:
        raise UsageError(str(e)) from None


def check_out_file(path: str | Path) -> None:
    """Refuse (usage error) an output file path that names a folder or lies under a file."""
    out = Path(path)
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name, e.g. {out / 'results.jsonl'}")
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise UsageError(f"--out {out}: {parent} is a file, not a folder")


def _add_common(p: argparse.ArgumentParser, create: bool = False) -> None:
    p.add_argument("--workspace", "-w", required=True, metavar="WS",
                   help="workspace folder: database, thumbnails, logs" +
                        (" (created if missing)" if create else " (must exist: made by 'run')"))


def register(sub: argparse._SubParsersAction, dataset_sub: argparse._SubParsersAction) -> None:  # noqa: ARG001
    p = sub.add_parser(
        "run", help="process a batch of entries into a workspace (resumes where a killed run stopped)",
        description="Process a batch: read every entry and photo, find reused photos, detect litter, check "
                    "that after photos show the same place, and score each entry. BATCH is a folder "
                    "(BATCH/<entry_id>/{before,after}/*.jpg, optional entry.json) or a manifest file "
                    "(.csv or .jsonl, one row per photo). Rerunning skips finished work. Exit status 0 when "
                    "the batch was processed, even if some entries carry errors.")
    p.add_argument("batch", metavar="BATCH", help="batch folder or manifest file")
    _add_common(p, create=True)
    p.add_argument("--config", metavar="FILE", help="TOML file overriding settings (see README)")
    p.add_argument("--model", metavar="NAME|PATH", help="detector: registry name under models/ or weights path")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar; only the final summary line")
    p.add_argument("--no-wait", action="store_true",
                   help="when another run is using the workspace, stop with exit status 1 instead of waiting "
                        "for it")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="where the work runs: local (default: a process pool, one worker per core), serial "
                        "(this process), ray (a Ray cluster; needs pip install cleanup-verify[ray]). All give "
                        "the same results")
    p.add_argument("--workers", type=_positive_int, metavar="N",
                   help="worker processes (local: default one per core; ray: CPUs of the local Ray)")
    p.add_argument("--ray-address", metavar="auto|HOST:PORT",
                   help="join this Ray cluster (auto: the one started on this machine with 'ray start'); "
                        "without it a local Ray is started for the run and stopped after it")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("export", help="write one record per entry, or per problem (JSON Lines or CSV)",
                       description="Export every entry's score, status, components, flags and problems "
                                   "from a workspace, with the judges' decisions (review, final_status, "
                                   "final_score), its tier and rank, in the stable contract of the README. "
                                   "With --what problems: one record per input problem of every run, the "
                                   "batch's own (stray files, bad manifest rows) and the entries' and photos' "
                                   "(run_id, batch, scope, entry_id, code, path, message).")
    _add_common(p)
    p.add_argument("--what", choices=("entries", "problems"), default="entries",
                   help="entries: one record per entry (default); problems: one per input problem")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="JSON Lines or CSV (default jsonl)")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of standard output")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("status", help="what a workspace holds: runs, entries by status, unusable photos",
                       description="Summarise a workspace for an operator: its runs (started, finished, "
                                   "failed), entries by status and photos that could not be used.")
    _add_common(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("demo", help="generate the bundled sample batch, run it and write the report",
                       description="Draw a deterministic sample batch of about 12 entries (full, partial and "
                                   "no clean-up, reused and mirrored photos, an unrelated after photo, a "
                                   "corrupt file, ...), run the pipeline on it and write the HTML report.")
    p.add_argument("--out", default="demo-output", metavar="DIR",
                   help="folder for the sample batch, workspace and report (default: demo-output)")
    p.add_argument("--form", choices=("folder", "manifest"), default="folder", help="input form of the sample")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_demo)


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return n


def cmd_run(args: argparse.Namespace) -> int:
    from .run.runner import run_batch

    if args.ray_address and args.executor != "ray":
        raise UsageError("--ray-address needs --executor ray")
    if args.executor == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise UsageError("--executor ray needs Ray: pip install 'cleanup-verify[ray]'")

    cfg = load_config(args.config)
    if args.model:
        import dataclasses

        cfg = dataclasses.replace(cfg, detect=dataclasses.replace(cfg.detect, model=args.model))
    batch = Path(args.batch)
    if not batch.exists():
        raise UsageError(f"batch {batch} not found")
    try:
        from .detect.registry import resolve_model

        resolve_model(cfg.detect.model)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    try:
        from .ingest import ingest

        parsed = ingest(batch)
    except (FileNotFoundError, ValueError) as e:
        raise UsageError(str(e)) from None
    if not parsed.submissions:
        why = "; ".join(p.message for p in parsed.problems) or "no entries"
        raise UsageError(f"{batch} is not a batch: {why}. A batch is a folder of entry folders "
                         "(BATCH/<entry_id>/before|after/*.jpg) or a manifest file (.csv or .jsonl); "
                         "see 'cleanup-verify run --help'")
    def run(ws):
        summary = run_batch(batch, ws, cfg, quiet=args.quiet, batch=parsed, executor=args.executor,
                            workers=args.workers, ray_address=args.ray_address)
        return summary, ws.photo_counts(summary.batch)

    s, counts = _guarded_run(args, run)
    print(f"run {s.run_id}: {s.entries} entries, {photo_counts_text(counts)}; {s.entries_scored} scored, "
          f"{s.entries_needs_review} need review, {s.entries_error} errors; {s.elapsed_s:.1f} s. "
          f"Log: {Path(args.workspace) / 'logs'}")
    for p in s.batch_problems:
        print(f"  batch problem {p.code}: {p.message}", file=sys.stderr)
    if s.entries_failed:
        print(failed_entries_text(s.entries_failed, Path(args.workspace) / "logs"), file=sys.stderr)
    print(f"Results: cleanup-verify export --workspace {args.workspace} --out results.jsonl "
          f"(or 'status', 'report', 'serve')")
    return 0


def failed_entries_text(entry_ids: list[str], logs: Path) -> str:
    """One line for the operator: entries whose processing failed in this run (scored from what is stored;
    judges see them as needing review) and what to do."""
    n = len(entry_ids)
    shown = ", ".join(entry_ids[:5]) + (f" and {n - 5} more" if n > 5 else "")
    return (f"  {n} {'entry' if n == 1 else 'entries'} failed in processing ({shown}) and {'was' if n == 1 else 'were'} "
            f"scored from what is stored; the error is in {logs}. Run the same command again to retry "
            f"{'it' if n == 1 else 'them'}.")


def photo_counts_text(c: dict[str, int]) -> str:
    """The photo counts (:meth:`pipeline.store.Workspace.photo_counts`) in the words every command uses."""
    return (f"{c['files_received']} photo files received, {c['distinct_photos']} distinct photos, "
            f"{c['unusable']} unusable")


def _guarded_run(args: argparse.Namespace, run):
    """``run(ws)`` with the workspace's run lock held (a second run waits, or with --no-wait refuses), and a
    full disk turned into one message and exit status 1 (pipeline.run.runguard)."""
    from .cli import CommandFailed
    from .run.runguard import WorkspaceBusy, disk_full_message, exclusive_run, is_disk_full, quiet_log_errors
    from .store import Workspace, WorkspaceError

    def notify(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    try:
        with quiet_log_errors(), Workspace(args.workspace) as ws, \
                exclusive_run(ws.root, wait=not getattr(args, "no_wait", False), notify=notify):
            return run(ws)
    except WorkspaceBusy as e:
        raise CommandFailed(str(e)) from None
    except WorkspaceError as e:
        raise UsageError(str(e)) from None
    except Exception as e:
        if is_disk_full(e):
            raise CommandFailed(disk_full_message(e, args.workspace)) from None
        raise


def cmd_export(args: argparse.Namespace) -> int:
    from . import export
    from .store import atomic_write_text

    if args.out:
        check_out_file(args.out)
    with open_existing_workspace(args.workspace) as ws:
        if args.what == "problems":
            recs = export.problem_records(ws)
            text = export.problems_to_jsonl(recs) if args.format == "jsonl" else export.problems_to_csv(recs)
        else:
            recs = export.records(ws)
            text = export.to_jsonl(ws, recs) if args.format == "jsonl" else export.to_csv(ws, recs)
    if args.out:
        atomic_write_text(args.out, text)
    else:
        sys.stdout.write(text)
    if args.what == "problems":
        print(f"export: {len(recs)} problems", file=sys.stderr)
        return 0
    note = export.provisional_note(recs)
    if note:
        print(f"export: {note}", file=sys.stderr)
    return 0


def workspace_status(ws) -> dict:
    """Counts an operator needs: runs, entries by status and by final (judged) status, photos, and problems
    by code: the entries' input problems, the batches' problems (latest run of each batch) and unusable
    photos."""
    from . import ranking
    from .store import queries
    from .store.reviews import latest_reviews

    runs = [r.to_dict() for r in queries.recent_runs(ws, 10)]
    counts = queries.table_counts(ws)
    reviews = latest_reviews(ws)
    by_status: dict[str, int] = {}
    by_final: dict[str, int] = {}
    by_tier: dict[str, int] = {t: 0 for t in ranking.TIERS}
    scored_ids = set()
    for card in ws.scorecards():
        scored_ids.add(card.entry_id)
        _count(by_status, card.status)
        _count(by_final, ranking.final_status(card.status, reviews.get(card.entry_id)))
        _count(by_tier, ranking.TIERS[ranking.tier(card.status, card.score, reviews.get(card.entry_id))])
    entries = counts.entries
    by_status["not_scored"] = entries - sum(by_status.values())
    for entry_id in ws.entry_ids():
        if entry_id not in scored_ids:
            _count(by_final, ranking.final_status("error", reviews.get(entry_id)))
            _count(by_tier, ranking.TIERS[ranking.tier("error", None, reviews.get(entry_id))])
    errors: dict[str, int] = {}
    for _, ej in queries.photo_errors(ws):
        _count(errors, json.loads(ej)["code"])
    entry_problems: dict[str, int] = {}
    for _, _, pj in queries.entry_problems(ws):
        for p in json.loads(pj or "[]"):
            _count(entry_problems, p["code"])
    batch_problems: dict[str, int] = {}
    for sj in queries.latest_summaries_per_batch(ws):
        for p in json.loads(sj or "{}").get("batch_problems", []):
            _count(batch_problems, p["code"])
    return {"entries": entries, "entries_by_status": by_status, "entries_by_final_status": by_final,
            "entries_by_tier": by_tier, "waiting_for_a_judge": sum(n for s, n in by_final.items() if ranking.waiting(s)),
            "photos": counts.photos, "photo_counts": ws.photo_counts(), "photo_uses": counts.photo_uses,
            "entry_problems_by_code": entry_problems, "batch_problems_by_code": batch_problems,
            "latest_run_problems": _latest_run_problems(ws),
            "unusable_photos_by_code": errors, "recent_runs": runs}


def _latest_run_problems(ws) -> list[dict]:
    """The problems of the latest finished run (:func:`pipeline.export.problem_records` of that run)."""
    from . import export
    from .store import queries

    run_id = queries.latest_summarised_run(ws)
    if run_id is None:
        return []
    return [p for p in export.problem_records(ws) if p["run_id"] == run_id]


def _count(d: dict[str, int], key: str) -> None:
    d[key] = d.get(key, 0) + 1


def cmd_status(args: argparse.Namespace) -> int:
    with open_existing_workspace(args.workspace) as ws:
        st = workspace_status(ws)
    if args.json:
        print(json.dumps(st, sort_keys=True))
        return 0
    print(f"{st['entries']} entries, {photo_counts_text(st['photo_counts'])}")
    print("entries by status: " + ", ".join(f"{k} {v}" for k, v in sorted(st["entries_by_status"].items())))
    if st["entries_by_final_status"]:
        print("judges' outcome: " + ", ".join(f"{k} {v}" for k, v in sorted(st["entries_by_final_status"].items())))
    t = st["entries_by_tier"]
    print(f"ranking: {t['may_win']} may win (ranked), {t['pending']} flagged for a judge, {t['error']} could not "
          f"be scored, {t['disqualified']} disqualified")
    if st["waiting_for_a_judge"]:
        print(f"results are provisional: {st['waiting_for_a_judge']} entries wait for a judge")
    for key, title in (("entry_problems_by_code", "entry problems"), ("batch_problems_by_code", "batch problems"),
                       ("unusable_photos_by_code", "unusable photos")):
        if st[key]:
            print(f"{title}: " + ", ".join(f"{k} {v}" for k, v in sorted(st[key].items())))
    for r in st["recent_runs"]:
        print(f"run {r['run_id']}: {r['status']:<8} started {r['started_at']} finished {r['finished_at'] or '-'}"
              f"  {r['batch']}")
    probs = st["latest_run_problems"]
    if probs:
        print(f"problems of run {probs[0]['run_id']} ({len(probs)}; all runs: cleanup-verify export --what problems "
              f"--workspace {args.workspace}):")
        for p in probs[:STATUS_PROBLEMS_SHOWN]:
            where = " ".join(x for x in (p["entry_id"] and f"entry {p['entry_id']}", p["path"]) if x) or "batch"
            print(printable(f"  {p['code']} ({p['scope']}) {where}: {p['message']}"))
        if len(probs) > STATUS_PROBLEMS_SHOWN:
            print(f"  ... and {len(probs) - STATUS_PROBLEMS_SHOWN} more")
    return 0


STATUS_PROBLEMS_SHOWN = 20


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (escape sequences in an entrant's file name) as '?'."""
    return "".join(c if c.isprintable() or c == " " else "?" for c in text)


def cmd_demo(args: argparse.Namespace) -> int:
    from . import export
    from .demo.checks import check_stories
    from .report import write_report
    from .run.runner import run_batch
    from .demo import make_sample
    from .store import Workspace, atomic_write_text

    out = Path(args.out).absolute()
    batch_dir = out / "batch"
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder for the sample, workspace and report")
    try:
        sample = make_sample(batch_dir, seed=0, form=args.form)
    except FileExistsError as e:
        raise UsageError(f"{e}; choose another --out folder") from None
    if not args.quiet:
        print(f"Sample batch: {len(sample.entry_ids)} stories drawn into {batch_dir}")
    with Workspace(out / "workspace") as ws:
        s = run_batch(sample.input_path, ws, Config(), quiet=args.quiet)
        index = write_report(ws, out / "report")
        atomic_write_text(out / "export.jsonl", export.to_jsonl(ws))
        atomic_write_text(out / "export.csv", export.to_csv(ws))
        stories = check_stories(sample, export.records(ws))
        counts = ws.photo_counts()
    passed = sum(st.passed for st in stories)
    if not args.quiet:
        print("\nEach story, what the demo checks, and what the pipeline found:")
        for st in stories:
            _print_story(st)
    print(f"demo: {passed} of {len(stories)} stories PASS; {s.entries} entries, {photo_counts_text(counts)}; "
          f"{s.entries_scored} scored, {s.entries_needs_review} need review, {s.entries_error} errors.")
    print(f"Sample batch: {batch_dir}")
    print(f"Export:       {out / 'export.jsonl'} and {out / 'export.csv'}")
    print(f"Report:       {index}")
    return 0  # the work was done; a FAIL above is a finding about the pipeline, not a failed command


def _print_story(st) -> None:
    """A story's checks in words: PASS/FAIL, the story, each check with its outcome, what was found."""
    r = st.record
    print(f"{'PASS' if st.passed else 'FAIL'}  {st.entry_id}: {st.story}")
    for c in st.checks:
        mark = "ok  " if c.ok else "FAIL"
        if c.kind == "raised":
            what = "flags " + ", ".join(c.subject) + " raised"
        elif c.kind == "not_raised":
            what = "none of " + ", ".join(c.subject) + " raised"
        elif c.kind == "photo_error":
            what = f"{c.subject[0]} listed as {c.subject[1]}, entry scored from its other photos"
        else:
            what = f"scores below {c.subject[0]}"
        print(f"        {mark} {what}")
    codes = ", ".join(sorted({f["code"] for f in r["flags"]})) or "no flag"
    score = "no score" if r["score"] is None else f"score {r['score']:.1f}"
    place = f"rank {r['rank']}" if r.get("rank") else f"not ranked ({r.get('tier', '-')})"
    print(f"        found: {score}, {r['status']}, {place}; {codes}")
