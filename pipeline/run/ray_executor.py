"""The ``ray`` executor: the run's pure work as Ray tasks (optional extra: ``pip install cleanup-verify[ray]``).

Only the driver (the process running ``cleanup-verify run``) writes the workspace; tasks get plain values
and return plain values (:mod:`pipeline.run.work`, :func:`pipeline.dedup.query.query_chunk`, the entry stages of
:mod:`pipeline.stages`). Workers read the
photo files themselves, so the batch folder must be at the same path on every node (shared storage), and
cleanup-verify (with its models) must be installed on every node. Each Ray worker process loads the detector
once and keeps it for the tasks it runs.

* ``address=None``: a local Ray is started for the run (``num_cpus`` = workers, listening on the loopback
  address only, no dashboard, no usage statistics, workers at the run's priority) and stopped after it;
* ``address="auto"`` or ``"HOST:PORT"``: join a running cluster (``ray start --head`` / ``ray start
  --address=HOST:PORT`` on the workers; docs/scale.md); leaving it disconnects without stopping it.

A Ray already initialised by the caller (tests, notebooks) is used as it is and left running.
"""
from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import ray  # the optional dependency: this module is imported only for --executor ray

from ..detect.process import set_process_threads
from .cores import default_workers

_configured = False


def _call(fn: Callable[[Any, Any], Any], shared: Any, item: Any) -> Any:
    global _configured
    if not _configured:  # one Ray worker process uses one CPU
        set_process_threads(1)
        _configured = True
    return fn(shared, item)


#: the script of Ray's autoscaler monitor, as it appears in that process's command line
MONITOR_SCRIPT = os.path.join("autoscaler", "_private", "monitor.py")


def stop_autoscaler_monitor() -> int:
    """Kill the autoscaler monitor that a local ``ray.init`` started as a child of this process; returns how
    many were stopped (0 or 1).

    A local Ray started for one run has a fixed size, so its monitor has nothing to scale and holds nothing
    the run needs. But it ignores the SIGTERM of ``ray.shutdown``, which waits a full second before killing
    it: 1.0 of the 1.1-1.4 s that closing a local Ray took (docs/scale.md). Found by its command line among
    this process's children (what the operating system says, not Ray's private state), so a Ray version
    that starts no monitor, or names it otherwise, only loses the saving."""
    import psutil  # a dependency of Ray

    stopped = 0
    for child in psutil.Process().children():
        try:
            if any(part.endswith(MONITOR_SCRIPT) for part in child.cmdline()):
                child.kill()
                child.wait(timeout=5)
                stopped += 1
        except (psutil.Error, OSError):  # gone already, or not ours to see
            continue
    return stopped


#: Ray's switch for multi-machine clusters; off, a node's address is the loopback address
CLUSTER_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """Make a Ray started inside the block listen on the loopback address only.

    Ray replaces a loopback ``_node_ip_address`` by the machine's reachable address, and then its GCS,
    raylet, agents and workers listened on every interface (measured with Ray 2.60: ``*:PORT``). Only with
    its cluster switch off does it keep the loopback address, as it does by default on macOS and Windows. The
    switch is read by the processes Ray starts (from the environment) and by this one (a constant read when
    ``ray`` was imported), so both are set for the block and restored after it: a later run of this process
    may join a real cluster, which needs the machine's address."""
    from ray._private import ray_constants  # the switch's value in this process

    before_env, before_const = os.environ.get(CLUSTER_SWITCH), getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    os.environ[CLUSTER_SWITCH] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if before_env is None:
            os.environ.pop(CLUSTER_SWITCH, None)
        else:
            os.environ[CLUSTER_SWITCH] = before_env
        if before_const is not None:
            ray_constants.ENABLE_RAY_CLUSTER = before_const


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, window: int | None = None):
        self._owns = False
        self._local = False  # a Ray this executor started on this machine (not a cluster it joined)
        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never report usage anywhere
            if address:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            else:
                # worker_niceness 0: Ray's workers otherwise run at nice 15 (Ray's default, to keep its own
                # processes responsive), so any other job on the machine took their CPU first: under one niced
                # background job a run took 26-30 s against the pool's 15 (docs/scale.md). At 0 they
                # inherit the run's priority, like the pool's workers.
                with loopback_only():
                    ray.init(num_cpus=workers or default_workers(), include_dashboard=False,
                             _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False,
                             _system_config={"worker_niceness": 0})
                self._local = True
            self._owns = True
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.window = window or 2 * self.workers
        self._task = ray.remote(num_cpus=1, max_retries=2)(_call)

    def imap(self, fn: Callable[[Any, Any], Any], items: Iterable[Any], shared: Any = None) -> Iterator[Any]:
        shared_ref = ray.put(shared)  # sent to the object store once, read by every task
        pending: deque = deque()
        try:
            for item in items:
                pending.append(self._task.remote(fn, shared_ref, item))
                if len(pending) >= self.window:
                    yield ray.get(pending.popleft())
            while pending:
                yield ray.get(pending.popleft())
        finally:
            for ref in pending:
                ray.cancel(ref)

    def close(self) -> None:
        if self._owns and ray.is_initialized():
            if self._local:
                stop_autoscaler_monitor()
            ray.shutdown()
            self._owns = False

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
