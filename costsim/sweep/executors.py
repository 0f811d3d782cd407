"""Executors: each takes batches of point tasks and yields (batch, rows | exception) as batches finish.

- local: in this process, one point after another.
- process: a ProcessPoolExecutor (spawn) on this machine.
- dask: a LocalCluster (2 worker processes, 1 thread each) or an existing scheduler (--address
  tcp://host:8786). A worker that dies mid-task has its task rerun elsewhere by the scheduler;
  a batch whose result still cannot be fetched is resubmitted (up to 3 times). The driver
  stores each batch once, so nothing is lost or duplicated.
- ray: `ray.init()` locally or joins --address (ray is optional: `pip install costsim[ray]`).

The process, Dask and Ray executors keep a bounded window of units in flight (`max_in_flight`,
default 2 x workers + 2) and hand each result to the driver as it finishes, so memory stays
bounded however many units a sweep has.

A work unit is a list of point tasks (per-point path) or a costsim.sweep.batched.GroupTask (a
batched core-mode group: its rows come back as one GroupResult). `len(unit)` is its number of points.

An exception here is an executor failure (a worker lost for good), not a point failure: those
points are not stored and a re-run picks them up. Point failures come back as rows with
status 'error' (see points.evaluate_point).
"""

from __future__ import annotations

import os
from typing import Any, Iterator

from costsim.errors import InputError
from costsim.sweep.batched import GroupTask
from costsim.sweep.points import evaluate_batch, evaluate_point

EXECUTORS = ("local", "process", "dask", "ray")
Batch = list[dict[str, Any]]


def unit_key(b: Any) -> str:
    """A stable name of a work unit (Dask task keys)."""
    if isinstance(b, GroupTask):
        return f"costsim-group-{b.key}"
    return f"costsim-point-{b[0]['point_id']}-{len(b)}"


def run_local(batches: list[Batch], **_: Any) -> Iterator[tuple[Batch, Any]]:
    for b in batches:
        if isinstance(b, GroupTask):
            yield b, evaluate_batch(b)
            continue
        for t in b:
            yield [t], [evaluate_point(t)]


#: seconds to wait for a cluster's head to accept a connection before refusing its --address
CONNECT_TIMEOUT_S = 10.0


def _reachable(address: str, what: str) -> None:
    """InputError unless something accepts a TCP connection at host:port (ray's 'auto' and schemes such as ray://
    are left to the client)."""
    import socket

    target = address.split("://", 1)[-1]
    if address == "auto" or ":" not in target:
        return
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S):
            return
    except (OSError, ValueError) as exc:
        raise InputError(f"--address {address[:200]}: no {what} head answers there within {CONNECT_TIMEOUT_S:g} s ({exc}); "
                         f"start the cluster first, check host:port, or leave --address out to start workers here.",
                         field="--address") from None


def _window(n_workers: int, max_in_flight: int | None) -> int:
    """Work units in flight at once: enough to keep every worker busy, few enough that finished
    results (a batched unit's rows can be ~100 MB) do not pile up faster than the driver stores them."""
    return max(1, int(max_in_flight)) if max_in_flight else max(4, 2 * n_workers + 2)


def run_process(batches: list[Batch], *, workers: int | None = None, max_in_flight: int | None = None, **_: Any) -> Iterator[tuple[Batch, Any]]:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    n = workers or max(1, (os.cpu_count() or 2))
    window = _window(n, max_in_flight)
    todo = list(batches)[::-1]
    with ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn")) as ex:
        futs: dict[Any, Batch] = {}
        while todo or futs:
            while todo and len(futs) < window:
                b = todo.pop()
                futs[ex.submit(evaluate_batch, b)] = b
            done, _ = wait(list(futs), return_when=FIRST_COMPLETED)
            for f in done:
                b = futs.pop(f)
                try:
                    yield b, f.result()
                except Exception as exc:  # noqa: BLE001 - executor failure, reported by the driver
                    yield b, exc


def run_dask(batches: list[Batch], *, address: str | None = None, workers: int | None = None, retries: int = 3,
             max_in_flight: int | None = None, **_: Any) -> Iterator[tuple[Batch, Any]]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InputError("--executor dask needs dask.distributed; install it with `pip install costsim[dask]`.", field="--executor") from None
    cluster = None
    try:
        if address:
            try:
                client = Client(address, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise InputError(f"cannot reach the Dask scheduler at {address}: {exc}. Start one (`dask scheduler`) or drop --address to use a local cluster.", field="--address") from None
        else:
            cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40)
            client = Client(cluster)
        try:
            n_workers = sum(client.nthreads().values()) or (workers or 2)
            window = _window(n_workers, max_in_flight)
            todo = list(batches)[::-1]
            by_key: dict[str, tuple[Batch, int]] = {}
            ac = as_completed()

            def submit(b: Batch, tries: int) -> None:
                key = unit_key(b) if tries == 0 else f"{unit_key(b)}-retry{tries}"
                f = client.submit(evaluate_batch, b, key=key, pure=False)
                by_key[f.key] = (b, tries)
                ac.add(f)

            while todo and len(by_key) < window:
                submit(todo.pop(), 0)
            for f in ac:
                b, tries = by_key.pop(f.key)
                try:
                    rows = f.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker / result; evaluate_point itself never raises
                    f.release()
                    if tries < retries:
                        submit(b, tries + 1)
                        continue
                    yield b, exc
                else:
                    f.release()
                    yield b, rows
                while todo and len(by_key) < window:
                    submit(todo.pop(), 0)
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def run_ray(batches: list[Batch], *, address: str | None = None, workers: int | None = None, max_in_flight: int | None = None,
            **_: Any) -> Iterator[tuple[Batch, Any]]:
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray, which is not installed; install it with `pip install costsim[ray]` (or use --executor dask).", field="--executor") from None
    started = False
    if not ray.is_initialized():
        kw: dict[str, Any] = {"ignore_reinit_error": True, "include_dashboard": False, "log_to_driver": False}
        if address:
            _reachable(address, "ray")  # ray.init has no timeout: an address nobody answers would hang for ever
            kw["address"] = address
        elif workers:
            kw["num_cpus"] = workers
        ray.init(**kw)
        started = True
    try:
        remote = ray.remote(max_retries=3)(evaluate_batch)
        window = _window(int(ray.cluster_resources().get("CPU", workers or 2)), max_in_flight)
        todo = list(batches)[::-1]
        refs: dict[Any, Batch] = {}
        while todo or refs:
            while todo and len(refs) < window:
                b = todo.pop()
                refs[remote.remote(b)] = b
            ready, _ = ray.wait(list(refs), num_returns=1)
            for r in ready:
                b = refs.pop(r)
                try:
                    yield b, ray.get(r)
                except Exception as exc:  # noqa: BLE001
                    yield b, exc
    finally:
        if started:
            ray.shutdown()


def get_executor(name: str):
    fns = {"local": run_local, "process": run_process, "dask": run_dask, "ray": run_ray}
    if name not in fns:
        raise InputError(f"unknown executor '{name}'; use one of {', '.join(EXECUTORS)}.", field="--executor")
    return fns[name]
