"""Slow sweep tests: Dask LocalCluster (200 simulation points equal the local results exactly;
a worker killed mid-sweep loses and duplicates no point) and a killed driver that resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pathlib import Path

from costsim.api.run import load_scenario, sim_available
from costsim.sweep import run_sweep
from costsim.sweep.points import parse_grid
from costsim.sweep.store import ResultStore, load_rows, result_files

TINY = Path(__file__).parent / "data" / "sweep-tiny-training.yaml"
needs_training_sim = pytest.mark.skipif(not sim_available("training"), reason="costsim.sim.training not available in this build")


def _numbers(rows):
    drop = {"wall_s", "training_sim_wall_time_s", "serving_sim_wall_time_s", "training_search_search_time_s"}
    return {(r["point_id"], r["variant"]): {k: v for k, v in r.items() if k not in drop} for r in rows}

pytest.importorskip("dask.distributed")
GRID = ["training.num_gpus=1024,2048", "economics.electricity_usd_per_kwh=0.05,0.1"]  # x 50 seeds = 200 points


@pytest.fixture(scope="module")
def local_200(tmp_path_factory):
    out = tmp_path_factory.mktemp("local200")
    res = run_sweep(load_scenario(TINY), out=str(out), grid=parse_grid(GRID), seeds=50, executor="local")
    assert res["ran"] == 200 and res["errors"] == 0
    return _numbers(load_rows(out))


@needs_training_sim
@pytest.mark.slow
def test_dask_200_points_equal_local(tmp_path, local_200):
    res = run_sweep(load_scenario(TINY), out=str(tmp_path), grid=parse_grid(GRID), seeds=50, executor="dask", workers=2)
    assert res["ran"] == 200 and res["lost"] == 0
    rows = load_rows(tmp_path)
    assert len(rows) == 200 and _numbers(rows) == local_200


@needs_training_sim
@pytest.mark.slow
def test_dask_killed_worker_loses_and_duplicates_nothing(tmp_path, local_200):
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=50) as cluster, \
            Client(cluster) as client:
        pids = client.run(os.getpid)
        client.close()
        killed = {}

        def on_result(done, total):
            if not killed and done >= 30:
                addr, pid = sorted(pids.items())[0]
                os.kill(pid, signal.SIGKILL)
                killed[addr] = pid

        res = run_sweep(load_scenario(TINY), out=str(tmp_path), grid=parse_grid(GRID), seeds=50, executor="dask",
                        address=cluster.scheduler_address, batch_size=1, on_result=on_result)
    assert killed, "the test did not kill a worker"
    assert res["lost"] == 0, res["lost_reasons"]
    rows = load_rows(tmp_path)
    ids = [r["point_id"] for r in rows]
    assert len(ids) == 200 and len(set(ids)) == 200
    assert _numbers(rows) == local_200


@needs_training_sim
@pytest.mark.slow
def test_killed_driver_resumes_without_loss_or_duplicates(tmp_path):
    """SIGKILL the sweep process mid-way, re-run: every point stored exactly once, same numbers."""
    out = tmp_path / "sw"
    args = [sys.executable, "-c", "from costsim.cli import main; main()", "sweep", str(TINY),
            "--grid", "training.num_gpus=1024,2048", "--seeds", "60", "--out", str(out), "--no-progress", "--flush-every", "10"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not result_files(out):  # the first stored batch (partitioned store layout)
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    partial = ResultStore(out).finished_ids()
    assert 0 < len(partial) < 120
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = load_rows(out)
    assert len(rows) == 120 and len({x["point_id"] for x in rows}) == 120
    ref = tmp_path / "ref"
    run_sweep(load_scenario(TINY), out=str(ref), grid=parse_grid(["training.num_gpus=1024,2048"]), seeds=60)
    assert _numbers(rows) == _numbers(load_rows(ref))


@pytest.mark.slow
def test_ray_local_cluster_matches_local(tmp_path):
    """--executor ray starts Ray locally; the numbers equal the local executor's exactly."""
    pytest.importorskip("ray", reason="Ray not installed (pip install costsim[ray]); the dev extra installs it in CI")
    grid = parse_grid(["training.num_gpus=1024,2048"])
    s = load_scenario(TINY)
    loc, ray_out = tmp_path / "local", tmp_path / "ray"
    a = run_sweep(s, out=str(loc), grid=grid, seeds=3, executor="local")
    b = run_sweep(s, out=str(ray_out), grid=grid, seeds=3, executor="ray", workers=2)
    assert a["ran"] == b["ran"] == 6 and b["errors"] == 0
    assert _numbers(load_rows(ray_out)) == _numbers(load_rows(loc))
