"""Executors (serial, local process pool, Ray) give the same export byte for byte, resume after SIGKILL and
open no network connection; the stages they run work on plain values, without a workspace."""
from __future__ import annotations

import hashlib
import os
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import export
from pipeline.config import Config
from pipeline.dedup.index import HashIndex, load_index
from pipeline.dedup.match import match_one
from pipeline.dedup.query import match_chunk
from pipeline.run.executors import LocalExecutor, SerialExecutor, make_executor
from pipeline.run.runner import run_batch
from pipeline.run.work import EntryTask, PhotoTask, execute_entry
from pipeline.store import Workspace
from runkill import kill_mid_run, wait_gone

REPO = Path(__file__).resolve().parents[1]
ALL = frozenset({"meta", "hash", "quality", "thumb", "detect"})
HAS_RAY = __import__("importlib").util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed (pip install '.[ray]')")


def _env(tmp_path: Path, log: Path, loopback: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO_", "RAY_"))}
    env.update(HOME=str(tmp_path / "home"), NETGUARD_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(REPO / "tests" / "netguard"), str(REPO)]))
    if loopback:
        env["NETGUARD_ALLOW_LOOPBACK"] = "1"
    return env


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


def _logged_errors(ws: Path) -> str:
    """The ERROR records (with their tracebacks) of a workspace's run logs, shown when exports differ: a
    worker's failure there turns into a different score."""
    records = [r for f in sorted((ws / "logs").glob("*.log"))
               for r in re.split(r"\n(?=\d{4}-\d\d-\d\d )", f.read_text(errors="replace"))]
    return "\n".join(r for r in records if " ERROR " in r.split("\n", 1)[0])[-4000:] or "(no error logged)"


def _exports(ws: Path) -> tuple[str, str]:
    with Workspace(ws, create=False) as w:
        return export.to_jsonl(w), export.to_csv(w)


@pytest.fixture(scope="module")
def serial(sample, tmp_path_factory):
    """The serial executor's run of the sample through the CLI, under the network guard."""
    tmp = tmp_path_factory.mktemp("serial")
    log = tmp / "net.log"
    r = _cli("run", str(sample.root), "--workspace", str(tmp / "ws"), "--executor", "serial", "--quiet",
             env=_env(tmp, log))
    assert r.returncode == 0, r.stderr[-3000:]
    return _exports(tmp / "ws"), log


@pytest.mark.slow
def test_serial_run_opens_no_connection(serial):
    (jsonl, _), log = serial
    assert jsonl.count("\n") == 12
    assert not log.exists() or log.read_text() == "", log.read_text()


class _RecordingPool(LocalExecutor):
    """A local pool that records which work each ``imap`` call ran."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.calls: list[str] = []

    def imap(self, fn, items, shared=None):
        self.calls.append(fn.__name__)
        return super().imap(fn, items, shared)


@pytest.mark.slow
def test_local_pool_exports_the_same_bytes_and_reruns_decode_nothing(sample, serial, tmp_path):
    """One pool serves the three passes of a run, and the runs after it: its workers start once."""
    (jsonl, csv), _ = serial
    with _RecordingPool(workers=2) as ex, Workspace(tmp_path / "ws") as ws:
        first = run_batch(sample.root, ws, Config(), quiet=True, executor=ex)
        assert ex.calls == ["_execute", "query_chunk", "_score_compute"]  # pass 1, 2 and 3 on this pool
        workers = set(ex.pool._processes)
        assert (export.to_jsonl(ws), export.to_csv(ws)) == (jsonl, csv)
        again = run_batch(sample.root, ws, Config(), quiet=True, executor=ex)
        assert again.photos_decoded == 0 and again.photos_matched == 0
        assert (export.to_jsonl(ws), export.to_csv(ws)) == (jsonl, csv)
        assert set(ex.pool._processes) == workers and len(workers) == 2  # the same worker processes
    assert first.photos_decoded > 0


@needs_ray
@pytest.mark.slow
def test_ray_exports_the_same_bytes_on_loopback_only(sample, serial, tmp_path):
    """A local Ray (2 CPUs, no dashboard) started and stopped by the run. Ray's own dashboard process probes
    cloud metadata addresses once at start (Ray does so even with usage statistics off); nothing else may
    leave the machine."""
    (jsonl, csv), _ = serial
    log = tmp_path / "net.log"
    r = _cli("run", str(sample.root), "--workspace", str(tmp_path / "ws"), "--executor", "ray", "--workers", "2",
             "--quiet", env=_env(tmp_path, log, loopback=True))
    assert r.returncode == 0, r.stderr[-3000:]
    assert _exports(tmp_path / "ws") == (jsonl, csv), _logged_errors(tmp_path / "ws")
    attempts = log.read_text().splitlines() if log.exists() else []
    ours = [a for a in attempts if a.split()[1] != "dashboard.py"]
    assert not ours, ours
    assert all(("169.254.169.254" in a or "metadata.google.internal" in a) for a in attempts), attempts


@pytest.mark.parametrize("executor", ["serial", pytest.param("ray", marks=needs_ray)])
@pytest.mark.slow
def test_sigkill_then_resume_gives_the_same_export(executor, sample, serial, tmp_path):
    """(The local pool: tests/test_pipeline_e2e.py, the CLI's default executor.)"""
    (jsonl, csv), _ = serial
    env = _env(tmp_path, tmp_path / "net.log", loopback=executor == "ray")
    kids = kill_mid_run([str(sample.root), "--executor", executor, "--workers", "2", "--quiet"], tmp_path / "ws", env)
    assert not wait_gone(kids), "processes of the killed run are left"
    r = _cli("run", str(sample.root), "--workspace", str(tmp_path / "ws"), "--executor", executor,
             "--workers", "2", "--quiet", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert _exports(tmp_path / "ws") == (jsonl, csv)


# ------------------------------------------------------------------------------- stages on plain values
def test_entry_work_runs_without_a_workspace_and_pickles(sample):
    """The executors' unit of work takes and returns plain values: no workspace, no database."""
    refs = [p for p in _submission(sample, "01-full-cleanup").photos]
    task = EntryTask("01-full-cleanup", str(sample.root),
                     tuple(PhotoTask(r, hashlib.sha256(r.path.read_bytes()).hexdigest(), ALL) for r in refs),
                     verify=True)
    out = execute_entry(pickle.loads(pickle.dumps(task)), Config())
    out = pickle.loads(pickle.dumps(out))
    assert out.error is None and out.decoded == len(refs)
    for po in out.photos:
        assert po.problem is None and po.meta.sha256 == po.sha256
        assert po.results["hash"].sha256 == po.sha256 and po.thumb[:2] == b"\xff\xd8"
        assert po.results["detect"] is not None and po.results["quality"] is not None
    assert out.verification.same_place_pairs, out.verification
    assert sorted(out.usable) == sorted((r.rel_path, r.role, hashlib.sha256(r.path.read_bytes()).hexdigest())
                                        for r in refs)
    # a photo that cannot be read becomes a problem of that photo, not an error of the entry
    broken = PhotoTask(refs[0].__class__(refs[0].entry_id, "before", sample.root / "nope.jpg", "nope.jpg"),
                       "0" * 64, ALL)
    out2 = execute_entry(EntryTask("x", str(sample.root), (broken,), verify=True), Config())
    assert out2.error is None and out2.photos[0].problem.code == "PHOTO_UNREADABLE"
    assert out2.photos[0].sha256 is None and out2.verification.pairs == ()


@pytest.mark.slow  # the detector loaded here and in each of two pool workers
def test_detections_are_the_same_bits_here_and_in_a_pool_worker(sample):
    """Boxes and scores depend on torch's thread count in their last bits (1 against 2 threads: most photos
    differ by ~1e-6), which can reorder a ranking. Every executor's detector runs on ``[detect]
    torch_threads`` whatever cores its process may use, so this process (every core) and a pool worker (one
    core of the pool's) find the same bits."""
    import numpy as np

    from pipeline.run.runner import _execute
    from pipeline.detect.process import set_process_threads

    refs = [p for p in _submission(sample, "01-full-cleanup").photos]
    task = EntryTask("01-full-cleanup", str(sample.root), tuple(
        PhotoTask(r, hashlib.sha256(r.path.read_bytes()).hexdigest(), frozenset({"detect"})) for r in refs),
        verify=False)
    set_process_threads(0)  # this process may use every core
    here = execute_entry(task, Config())
    with LocalExecutor(workers=2) as pool:
        there = list(pool.imap(_execute, [task, task], Config()))
    assert sum(len(p.results["detect"].confidence) for p in here.photos) > 0
    for out in there:
        for a, b in zip(here.photos, out.photos, strict=True):
            assert np.array_equal(a.results["detect"].xyxy, b.results["detect"].xyxy)
            assert np.array_equal(a.results["detect"].confidence, b.results["detect"].confidence)


def _submission(sample, entry_id):
    from pipeline.ingest import ingest

    return next(s for s in ingest(sample.root).submissions if s.entry_id == entry_id)


@pytest.mark.slow
def test_hash_index_is_plain_arrays_that_pickle(sample, tmp_path):
    """The index a store loads holds no database handle: pickled, it matches exactly as before. (And the
    score card records the keys of the results it was made from: the report shows the scored boxes.)"""
    cfg = Config()
    with Workspace(tmp_path / "ws") as ws:
        run_batch(sample.root, ws, cfg, quiet=True, executor="serial")
        index = load_index(ws)
        _report_shows_the_scored_detections(ws)
    assert isinstance(index, HashIndex) and not any(isinstance(v, Workspace) for v in vars(index).values())
    copy = pickle.loads(pickle.dumps(index))
    found_any = False
    for sha in index.shas:
        h = index.hashes(sha)
        assert copy.hashes(sha) == h
        here, there = match_one(index, h, cfg.dedup), match_one(copy, h, cfg.dedup)
        assert here == there
        found_any |= bool(here)
    assert found_any  # the sample reuses photos: some match exists
    assert match_chunk(copy, (cfg.dedup, index.shas)) == match_chunk(index, (cfg.dedup, index.shas))


def _report_shows_the_scored_detections(ws):
    from pipeline.report.views import entry_view
    from pipeline.types import Detections

    card = ws.scorecard("01-full-cleanup")
    assert card.inputs["detect"] and card.inputs["verify"]
    def shown():
        return next(p for p in entry_view(ws, "01-full-cleanup", min_confidence=0.0).photos if p.role == "before")

    before = shown()
    assert before.sha256 and before.boxes and before.model_id == card.model_id
    # a later detect result under another key (another model or setting) must not replace the scored boxes
    ws.put_result(before.sha256, "detect", "detect-x", "other", Detections(
        [[0, 0, 5, 5]] * 7, [0.9] * 7, [0] * 7, ("litter",), "other@1", (100, 100)).to_dict(), model_id="other@1")
    after = shown()
    assert after.boxes == before.boxes and after.model_id == card.model_id


def test_executors_keep_input_order(tmp_path):
    items = list(range(7))
    with LocalExecutor(workers=2, window=3) as pool:
        assert list(pool.imap(_slow_square, items, 10)) == [10 + i * i for i in items]
    assert list(SerialExecutor().imap(_slow_square, items, 10)) == [10 + i * i for i in items]
    with pytest.raises(ValueError, match="unknown executor"):
        make_executor("threads")


class _Counted:
    """A large value that logs each unpickling (the process id) to ``log``."""

    def __init__(self, log: str, size: int):
        self.log, self.data = log, bytes(size)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        with open(self.log, "a") as f:
            f.write(f"{os.getpid()}\n")


def _length(shared: _Counted, i: int) -> int:
    time.sleep(0.02)
    return len(shared.data) + i


def test_a_large_shared_value_reaches_each_pool_worker_once_per_call(tmp_path):
    """The hash index a matching pass shares is loaded once per worker, not once per chunk (each copy in
    flight used to cost a worker its size again), and the file that carried it is gone after the call."""
    from pipeline.run.executors import PUBLISH_BYTES

    log = tmp_path / "unpickled.log"
    big = _Counted(str(log), PUBLISH_BYTES + 1)
    with LocalExecutor(workers=2, window=4) as pool:
        for _ in range(2):  # a second call loads the value again, once per worker
            before = log.read_text().split() if log.exists() else []
            assert list(pool.imap(_length, range(12), big)) == [len(big.data) + i for i in range(12)]
            loads = log.read_text().split()[len(before):]
            assert 1 <= len(loads) <= 2 and len(set(loads)) == len(loads)
        small = _Counted(str(log), 10)  # small values go with each item
        before = len(log.read_text().split())
        assert list(pool.imap(_length, range(6), small)) == [10 + i for i in range(6)]
        assert len(log.read_text().split()) - before == 6
    assert not list(Path(__import__("tempfile").gettempdir()).glob(f"cleanup-verify-shared-*/shared-{os.getpid()}-*"))


def test_pool_workers_size_their_thread_pools_before_numpy_is_imported():
    """Each worker's OpenMP/OpenBLAS/MKL pools get its share of the cores (1 of 2 here), set before numpy is
    imported in it; otherwise numpy starts a thread per core in every worker (as Ray's workers do not)."""
    from pipeline.run.cores import default_workers
    from pipeline.run.executors import THREAD_VARS, worker_thread_limits

    share = str(max(1, default_workers() // 2))
    with LocalExecutor(workers=2) as pool:
        for env, before_numpy in pool.imap(worker_thread_limits, range(4)):
            assert env == {v: share for v in THREAD_VARS} and before_numpy is True


def _slow_square(shared: int, i: int) -> int:
    time.sleep(0.05 * (7 - i))  # later items finish first
    return shared + i * i


def test_dedup_flags_come_from_facts_without_a_workspace():
    from pipeline.config import DedupConfig
    from pipeline.dedup.flags import DedupFacts, PhotoUse, dedup_result
    from pipeline.dedup.order import Arrival
    from pipeline.types import DuplicateMatch

    b, a, o = PhotoUse("E2", "E2/before/b.jpg", "before"), PhotoUse("E2", "E2/after/a.jpg", "after"), \
        PhotoUse("E1", "E1/before/x.jpg", "before")
    facts = DedupFacts(
        "E2", {"sb": (b,), "sa": (a,)},
        (DuplicateMatch("sb", "so", "mirrored_rotated", 3, "phash", "other"),
         DuplicateMatch("sa", "sb", "same_image", 1, "phash", "this")),
        {("sa", "sb"): 0.2, ("sb", "sa"): 0.2}, {"sb": (b,), "sa": (a,), "so": (o,)},
        {("E1", o.rel_path): Arrival(round=1), ("E2", b.rel_path): Arrival(round=2),
         ("E2", a.rel_path): Arrival(round=2)})
    result = dedup_result(facts, DedupConfig())
    by_code = {f.code: f for f in result.flags}
    dup = by_code["DUPLICATE_PHOTO"]
    assert dup.photos == (b.rel_path,) and dup.params["other_entry"] == "E1" and dup.params["other_first"] is True
    assert "entry E1 had it first (an earlier round)" in dup.message and "mirrored or rotated" in dup.message
    assert by_code["UNCHANGED_AFTER"].photos == (b.rel_path, a.rel_path)
    # the same pair differing more than the UNCHANGED_AFTER limit is no such flag
    loose = DedupFacts(**{**facts.__dict__, "diffs": {("sa", "sb"): 1.5, ("sb", "sa"): 1.5}})
    assert [f.code for f in dedup_result(loose, DedupConfig()).flags] == ["DUPLICATE_PHOTO"]


@needs_ray
@pytest.mark.slow
def test_a_local_rays_workers_run_at_the_runs_priority():
    """Ray starts its workers at nice 15 unless told otherwise; then any other job on the machine (even a
    niced one) took their CPU first and a Ray run took twice the pool's time. The local Ray the executor
    starts runs its workers at the driver's own priority, like the pool's workers."""
    from pipeline.run.ray_executor import RayExecutor

    mine = os.getpriority(os.PRIO_PROCESS, 0)
    with RayExecutor(workers=1) as ex:  # fn(shared, item) = os.getpriority(PRIO_PROCESS, 0) in the worker
        assert list(ex.imap(os.getpriority, [0, 0], shared=os.PRIO_PROCESS)) == [mine, mine]


@needs_ray
@pytest.mark.slow
def test_a_local_ray_listens_on_loopback_only_and_closes_without_waiting_for_its_monitor():
    """The local Ray a run starts listens on the loopback address only (Ray otherwise turns the loopback
    address it is given into the machine's address and its GCS, raylet and workers listened on every
    interface). ``ray.shutdown`` sends Ray's autoscaler monitor a SIGTERM that it ignores, then waits a second
    before killing it: most of what closing a local Ray cost. The executor stops that one child itself, and
    closing leaves no process it started behind."""
    import ipaddress

    import psutil

    from pipeline.run.ray_executor import CLUSTER_SWITCH, MONITOR_SCRIPT, RayExecutor, stop_autoscaler_monitor

    def monitors() -> list:
        return [c for c in psutil.Process().children() if any(a.endswith(MONITOR_SCRIPT) for a in c.cmdline())]

    def loopback(ip: str) -> bool:
        a = ipaddress.ip_address(ip.split("%")[0])
        return a.is_loopback or bool(getattr(a, "ipv4_mapped", None) and a.ipv4_mapped.is_loopback)

    switch_before = os.environ.get(CLUSTER_SWITCH)
    before = {c.pid for c in psutil.Process().children()}
    ex = RayExecutor(workers=1)
    try:
        assert os.environ.get(CLUSTER_SWITCH) == switch_before  # a later run may join a real cluster
        assert list(ex.imap(os.getpriority, [0], shared=os.PRIO_PROCESS)) == [os.getpriority(os.PRIO_PROCESS, 0)]
        ours = {psutil.Process().pid} | {c.pid for c in psutil.Process().children(recursive=True)}
        listening = [c for c in psutil.net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN and c.pid in ours]
        assert len(listening) >= 3, listening  # GCS, raylet, a worker at least: the check sees Ray's sockets
        assert all(loopback(c.laddr.ip) for c in listening), [c for c in listening if not loopback(c.laddr.ip)]
        assert len(monitors()) == 1  # a local Ray starts one (if a Ray version stops doing so, drop the trick)
        assert stop_autoscaler_monitor() == 1 and monitors() == []
        assert stop_autoscaler_monitor() == 0
    finally:
        ex.close()
    started = [c for c in psutil.Process().children() if c.pid not in before]
    assert not [c for c in started if c.is_running() and c.status() != psutil.STATUS_ZOMBIE], started


_WORKER_MODULE = '''
import sys

class Trace:
    """Writes its file when the interpreter tears it down (module teardown runs __del__)."""
    def __init__(self, path):
        self.path = path
    def __del__(self, _open=open):  # builtins may be gone by then: hold on to open
        with _open(self.path, "w") as f:
            f.write("torn down")

kept = []

def leave_a_trace(path, item):
    kept.append(Trace(path))
    sys.stdout.write(f"worker wrote {item}\\n")  # block-buffered: lost unless flushed before the exit
    return item
'''

_DRIVER = '''
import sys
from pipeline.run.executors import LocalExecutor
import traced

if __name__ == "__main__":
    ex = LocalExecutor(workers=1)
    print(list(ex.imap(traced.leave_a_trace, [1, 2], sys.argv[1])), flush=True)
    procs = list(ex.pool._processes.values())
    ex.close()
    print("exit codes", [p.exitcode for p in procs], flush=True)
'''


def test_pool_workers_exit_without_tearing_the_interpreter_down(tmp_path):
    """Closing a pool waits for its workers to exit, and a worker holding torch and a model took 0.67 s to tear
    its interpreter down (0.05 s without). Workers end without that teardown, yet flush what they wrote and
    exit with status 0."""
    (tmp_path / "traced.py").write_text(_WORKER_MODULE)
    (tmp_path / "driver.py").write_text(_DRIVER)
    trace = tmp_path / "trace.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(__file__).parents[1])])}
    r = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(trace)], capture_output=True, text=True,
                       env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "[1, 2]" in r.stdout and "exit codes [0]" in r.stdout, r.stdout
    assert r.stdout.count("worker wrote") == 2, r.stdout  # the worker's buffered output was flushed
    assert not trace.exists(), "the worker's interpreter was torn down on exit"
