"""Executors: each takes batches of point tasks and yields (batch, rows | exception) as batches finish.

- local: in this process, one point after another.
- process: a ProcessPoolExecutor (spawn) on this machine.
- dask: a LocalCluster (2 worker processes, 1 thread each) or an existing scheduler (--address
  tcp://host:8786). A worker that dies mid-task has its task rerun elsewhere by the scheduler;
  a batch whose result still cannot be fetched is resubmitted (up to 3 times). The driver
  stores each batch once, so nothing is lost or duplicated.
- ray: `ray.init()` locally or joins --address (ray is optional: `pip install costsim[ray]`).

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


def run_process(batches: list[Batch], *, workers: int | None = None, **_: Any) -> Iterator[tuple[Batch, Any]]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    n = workers or max(1, (os.cpu_count() or 2))
    with ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn")) as ex:
        futs = {ex.submit(evaluate_batch, b): b for b in batches}
        for f in as_completed(futs):
            try:
                yield futs[f], f.result()
            except Exception as exc:  # noqa: BLE001 - executor failure, reported by the driver
                yield futs[f], exc


def run_dask(batches: list[Batch], *, address: str | None = None, workers: int | None = None, retries: int = 3, **_: Any) -> Iterator[tuple[Batch, Any]]:
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
            keys = [unit_key(b) for b in batches]
            futs = client.map(evaluate_batch, batches, key=keys, pure=False)
            by_key = {f.key: (b, 0) for f, b in zip(futs, batches)}
            ac = as_completed(futs)
            for f in ac:
                b, tries = by_key.pop(f.key)
                try:
                    rows = f.result()
                except Exception as exc:  # noqa: BLE001 - a lost worker / result; evaluate_point itself never raises
                    f.release()
                    if tries < retries:
                        nf = client.submit(evaluate_batch, b, key=f"{unit_key(b)}-retry{tries + 1}", pure=False)
                        by_key[nf.key] = (b, tries + 1)
                        ac.add(nf)
                        continue
                    yield b, exc
                    continue
                f.release()
                yield b, rows
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def run_ray(batches: list[Batch], *, address: str | None = None, workers: int | None = None, **_: Any) -> Iterator[tuple[Batch, Any]]:
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray, which is not installed; install it with `pip install costsim[ray]` (or use --executor dask).", field="--executor") from None
    started = False
    if not ray.is_initialized():
        kw: dict[str, Any] = {"ignore_reinit_error": True, "include_dashboard": False, "log_to_driver": False}
        if address:
            kw["address"] = address
        elif workers:
            kw["num_cpus"] = workers
        ray.init(**kw)
        started = True
    try:
        remote = ray.remote(max_retries=3)(evaluate_batch)
        refs = {remote.remote(b): b for b in batches}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for r in ready:
                try:
                    yield refs[r], ray.get(r)
                except Exception as exc:  # noqa: BLE001
                    yield refs[r], exc
    finally:
        if started:
            ray.shutdown()


def get_executor(name: str):
    fns = {"local": run_local, "process": run_process, "dask": run_dask, "ray": run_ray}
    if name not in fns:
        raise InputError(f"unknown executor '{name}'; use one of {', '.join(EXECUTORS)}.", field="--executor")
    return fns[name]
