"""Batched core-mode sweeps keep the per-point sweep's meaning: the same point ids, the same rows
(numbers equal to 1e-12 relative), the same error rows, resume, and the partitioned store with
compaction that loses and duplicates nothing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from costsim.api.run import load_scenario
from costsim.errors import InputError
from costsim.sweep import count_points, run_sweep
from costsim.sweep.batched import IdTemplate, build_plan, enumerate_plan, hex_ids
from costsim.sweep.points import build_tasks, parse_grid, parse_random, point_doc, point_id
from costsim.sweep.store import ResultStore, load_rows, query, recover, result_files

TINY = Path(__file__).parent / "data" / "sweep-tiny-training.yaml"
SKIP = {"wall_s", "training_search_search_time_s"}


def _rows_equal(a: dict, b: dict) -> list[str]:
    bad = []
    for c in set(a) | set(b):
        if c in SKIP:
            continue
        x, y = a.get(c), b.get(c)
        if isinstance(x, float) and isinstance(y, float):
            if not math.isclose(x, y, rel_tol=1e-12):
                bad.append(f"{c}: {x} vs {y}")
        elif x != y:
            bad.append(f"{c}: {x!r} vs {y!r}")
    return bad


def _scenario():
    return load_scenario(TINY, ["variants=[{name: small, set: {training.num_gpus: 1024}}]"])


GRID = ["training.num_gpus=1024,2048", "training.tokens=1e10,2e10,2e10", "economics.electricity_usd_per_kwh=0.05,0.1",
        "facility.pue=0.5,1.2"]  # pue 0.5 is out of bounds: those points fail, as they do point by point


def test_batched_ids_equal_build_tasks():
    s = _scenario()
    g, r = parse_grid(GRID), parse_random(["economics.grid_gco2e_per_kwh=100:500"])
    tasks = build_tasks(s, grid=g, random=r, samples=3, seeds=2, mode="core")
    plan = build_plan(s, grid=g, random=r, samples=3, seeds=2, mode="core")
    assert plan is not None and len(plan.groups) == 4  # (base, small) x 2 GPU counts; tokens, price, pue, carbon broadcast
    en = enumerate_plan(plan, chunk_points=7)
    ids = []
    for t in en.tasks:
        ids += [t[0]["point_id"]] if isinstance(t, list) else [x.decode() for x in t.point_ids]
    assert sorted(ids) == sorted(t["point_id"] for t in tasks) and len(ids) == len(set(ids))
    assert en.points_total == len(tasks) and en.fallback_points == len(tasks) // 2
    assert count_points(s, grid=g, samples=3, seeds=2) == plan.points_total == 2 * 2 * 3 * 2 * 2 * 3 * 2


def test_id_template_matches_point_id():
    s = load_scenario(TINY)
    data = s.model_dump(mode="json", exclude={"variants"})
    data["simulation"]["replicates"] = 1
    doc, own_seed, valid = point_doc(data)
    assert valid
    tmpl = IdTemplate(doc, ["economics.electricity_usd_per_kwh", "training.tokens"], "base", "core", {})
    prices, tokens, seeds = [0.05, 1e-7, 123.456], [1e10, 3.5e12, 7.0], [0, 1, 99]
    got = tmpl.ids({"economics.electricity_usd_per_kwh": [json.dumps(p) for p in prices], "training.tokens": [json.dumps(t) for t in tokens],
                    "__seed__": [str(x) for x in seeds]}, 3)
    for i in range(3):
        d = json.loads(json.dumps(doc))
        d["economics"]["electricity_usd_per_kwh"] = prices[i]
        d["training"]["tokens"] = tokens[i]
        assert got[i].decode() == point_id(d, "base", seeds[i], "core", {})
    assert hex_ids(bytes(range(16)), 2).tolist() == [b"0001020304050607", b"08090a0b0c0d0e0f"]


def test_batched_sweep_equals_per_point_sweep_and_resumes(tmp_path):
    s = _scenario()
    kw = dict(grid=parse_grid(GRID), random=parse_random(["economics.grid_gco2e_per_kwh=100:500"]), samples=2, seeds=2, mode="core")
    a = run_sweep(s, out=str(tmp_path / "a"), chunk_points=5, **kw)
    b = run_sweep(s, out=str(tmp_path / "b"), batched=False, **kw)
    assert a["batched"] and not b["batched"]
    assert (a["points_total"], a["ran"], a["errors"]) == (b["points_total"], b["ran"], b["errors"]) == (128, 128, 64)
    A = {r["point_id"]: r for r in load_rows(tmp_path / "a")}
    B = {r["point_id"]: r for r in load_rows(tmp_path / "b")}
    assert set(A) == set(B)
    for k in A:
        assert not _rows_equal(A[k], B[k]), (k, _rows_equal(A[k], B[k])[:5])
    errs = [r for r in A.values() if r["status"] == "error"]
    assert errs and all("facility.pue" in r["error"] for r in errs)
    # resume: nothing re-runs; one more price runs only the new points; a per-point store resumes batched
    again = run_sweep(s, out=str(tmp_path / "a"), **kw)
    assert again["ran"] == 0 and again["skipped_finished"] == 128
    more = dict(kw, grid=parse_grid(GRID[:2] + ["economics.electricity_usd_per_kwh=0.05,0.1,0.2", GRID[3]]))
    grown = run_sweep(s, out=str(tmp_path / "a"), **more)
    assert grown["ran"] == 64 and grown["skipped_finished"] == 128
    cross = run_sweep(s, out=str(tmp_path / "b"), **kw)
    assert cross["ran"] == 0
    # partitioned layout: scenario/variant directories
    files = result_files(tmp_path / "a")
    assert files and all(f.parent.name.startswith("variant=") and f.parent.parent.name.startswith("scenario=") for f in files)
    assert {f.parent.name for f in files} == {"variant=base", "variant=small"}


def test_batched_training_and_serving_scenario(tmp_path):
    s = load_scenario(Path(__file__).parents[1] / "scenarios" / "chat-llama3-70b-h100.yaml")
    kw = dict(grid=parse_grid(["economics.electricity_usd_per_kwh=0.05,0.1", "facility.pue=1.1,1.4"]), mode="core")
    a = run_sweep(s, out=str(tmp_path / "a"), **kw)
    b = run_sweep(s, out=str(tmp_path / "b"), batched=False, **kw)
    assert a["errors"] == b["errors"]
    A = {r["point_id"]: r for r in load_rows(tmp_path / "a")}
    B = {r["point_id"]: r for r in load_rows(tmp_path / "b")}
    assert set(A) == set(B) and len(A) == 4
    for k in A:
        assert not _rows_equal(A[k], B[k]), _rows_equal(A[k], B[k])[:5]


@pytest.mark.parametrize("water_prices", ["0", "0,2"])
def test_batched_and_per_point_sweeps_store_the_same_columns_under_purchase_pricing(tmp_path, water_prices):
    # purchase pricing with water not costed (0 USD/m3): the per-point rows have no water_usd cost line, and a
    # batched store must not add an all-NaN training_cost_breakdown_usd_water_usd column either
    import pyarrow.parquet as pq

    s = load_scenario(TINY, ["economics.pricing=purchase", "facility.wue_l_per_kwh=0.5"])
    kw = dict(grid=parse_grid(["economics.electricity_usd_per_kwh=0.05,0.1", f"economics.water_usd_per_m3={water_prices}"]),
              mode="core")
    a = run_sweep(s, out=str(tmp_path / "a"), **kw)
    b = run_sweep(s, out=str(tmp_path / "b"), batched=False, **kw)
    assert a["batched"] and not b["batched"] and a["errors"] == b["errors"] == 0
    cols_a = set(pq.read_schema(result_files(tmp_path / "a")[0]).names)
    cols_b = set(pq.read_schema(result_files(tmp_path / "b")[0]).names)
    assert cols_a == cols_b, (sorted(cols_a - cols_b), sorted(cols_b - cols_a))
    assert ("training_cost_breakdown_usd_water_usd" in cols_a) == (water_prices != "0")
    A = {r["point_id"]: r for r in load_rows(tmp_path / "a")}
    B = {r["point_id"]: r for r in load_rows(tmp_path / "b")}
    assert set(A) == set(B)
    for k in A:
        assert not _rows_equal(A[k], B[k]), _rows_equal(A[k], B[k])[:5]


def test_compaction_merges_small_files_and_recovers_a_killed_one(tmp_path):
    st = ResultStore(tmp_path)
    for i in range(8):
        st.append([{"point_id": f"p{i}", "scenario_hash": "h", "variant": "base", "x": float(i)}])
    assert len(result_files(tmp_path)) == 8
    res = st.compact()
    assert res == {"files_written": 1, "files_merged": 8, "files_conformed": 0} and len(result_files(tmp_path)) == 1
    assert query(tmp_path, "SELECT count(*), sum(x) FROM points")[1] == [(8, 28.0)]
    # a compaction killed after the merged file was renamed into place: recovery drops the old files
    compacted = result_files(tmp_path)[0]
    part = compacted.parent
    st.append([{"point_id": "q", "scenario_hash": "h", "variant": "base", "x": 1.0}])
    # the file the append wrote (uuid names may start with 'c' too, so not told apart by prefix)
    old = [f for f in result_files(tmp_path) if f != compacted][0]
    import shutil

    shutil.copy(old, part / "part-cnew.parquet")
    (part / ".compact-x.json").write_text(json.dumps({"new": "part-cnew.parquet", "old": [old.name]}))
    assert query(tmp_path, "SELECT count(*) FROM points")[1] == [(9,)]  # querying recovers first
    assert not (part / ".compact-x.json").exists() and not old.exists()
    # killed before the rename: the old files stay, the journal goes
    (part / ".compact-y.json").write_text(json.dumps({"new": "part-cmissing.parquet", "old": ["part-cnew.parquet"]}))
    assert recover(tmp_path) == 1 and (part / "part-cnew.parquet").exists()


def test_per_point_sweep_compacts_at_the_end(tmp_path):
    s = load_scenario(TINY)
    res = run_sweep(s, out=str(tmp_path), mode="core", batched=False, flush_every=1, flush_s=0.0,
                    grid=parse_grid(["economics.electricity_usd_per_kwh=" + ",".join(f"0.0{i}" for i in range(1, 10))]))
    assert res["compacted"]["files_merged"] >= 8
    assert len(result_files(tmp_path)) <= 2
    assert query(tmp_path, "SELECT count(*), count(DISTINCT point_id) FROM points")[1] == [(9, 9)]


def test_work_estimate_refuses_long_sweeps(tmp_path):
    s = load_scenario(TINY)
    grid = parse_grid(["training.num_gpus=" + ",".join(str(1024 + 8 * i) for i in range(400)),
                       "economics.electricity_usd_per_kwh=" + ",".join(str(0.01 * (i + 1)) for i in range(100))])
    with pytest.raises(InputError, match="allow-long") as exc:
        run_sweep(s, out=str(tmp_path), mode="core", grid=grid, max_wall_s=1.0)
    assert "400 group" in exc.value.message and "40,000 points" in exc.value.message
    assert not result_files(tmp_path)  # refused before any work
    # the per-point path probes two points (the first and the grid's far corner), keeps them, and refuses the rest
    with pytest.raises(InputError, match="hours"):  # refused before the 40,000 tasks are built
        run_sweep(s, out=str(tmp_path / "pp"), mode="core", batched=False, grid=grid, max_wall_s=1.0)
    assert query(tmp_path / "pp", "SELECT count(*) FROM points")[1] == [(2,)]
    with pytest.raises(InputError, match="per-point path"):
        run_sweep(s, out=str(tmp_path / "big"), mode="sim", grid=parse_grid(["training.tokens=" + ",".join(f"{i + 1}e9" for i in range(3000))]),
                  seeds=2000)


def test_the_per_point_estimate_times_the_grids_far_corner_too(tmp_path, monkeypatch):
    """A grid of loads or sizes runs from cheap to dear: the estimate timed only the first point, and sized a
    10-rate serving sweep (1-10 requests/s) at a quarter of its time. The far corner (every path's last value) is
    timed too, and both probed points are kept, not run twice."""
    import time as _time

    import costsim.sweep as sw

    real = sw.evaluate_point

    def slow_at_the_far_end(task):
        if dict(task["overrides"]).get("training.num_gpus") == 2048:
            _time.sleep(2.0)
        return real(task)

    monkeypatch.setattr(sw, "evaluate_point", slow_at_the_far_end)
    grid = parse_grid(["training.num_gpus=" + ",".join(str(1024 + 8 * i) for i in range(128))])  # 1024 ... 2040
    grid = [(grid[0][0], grid[0][1] + [2048])]
    with pytest.raises(InputError, match="estimated to take") as exc:
        run_sweep(load_scenario(TINY), out=str(tmp_path / "a"), mode="core", batched=False, grid=grid, max_wall_s=60.0)
    assert "129 points" in exc.value.message
    assert query(tmp_path / "a", "SELECT count(*), count(DISTINCT point_id) FROM points")[1] == [(2, 2)]
    res = run_sweep(load_scenario(TINY), out=str(tmp_path / "b"), mode="core", batched=False,
                    grid=parse_grid(["training.num_gpus=1024,1536,2048"]))
    assert res["ran"] == 3 and res["skipped_finished"] == 0
    assert query(tmp_path / "b", "SELECT count(*), count(DISTINCT point_id) FROM points")[1] == [(3, 3)]


def test_group_with_invalid_representative_runs_point_by_point(tmp_path):
    s = load_scenario(TINY)
    # 0 GPUs: the group's scenario does not validate (num_gpus >= 1)
    grid = parse_grid(["training.num_gpus=0,2048", "economics.electricity_usd_per_kwh=0.05,0.1"])
    a = run_sweep(s, out=str(tmp_path / "a"), mode="core", grid=grid)
    b = run_sweep(s, out=str(tmp_path / "b"), mode="core", grid=grid, batched=False)
    A = {r["point_id"]: r for r in load_rows(tmp_path / "a")}
    B = {r["point_id"]: r for r in load_rows(tmp_path / "b")}
    assert set(A) == set(B) and a["errors"] == b["errors"] == 2
    for k in A:
        assert not _rows_equal(A[k], B[k])
    assert np.all([("num_gpus" in (r["error"] or "")) for r in A.values() if r["status"] == "error"])


@pytest.mark.slow
def test_batched_sweep_on_dask_and_process_equals_local(tmp_path):
    pytest.importorskip("dask.distributed")
    s = _scenario()
    kw = dict(grid=parse_grid(GRID), seeds=2, mode="core", chunk_points=6)
    run_sweep(s, out=str(tmp_path / "local"), **kw)
    run_sweep(s, out=str(tmp_path / "dask"), executor="dask", workers=2, **kw)
    run_sweep(s, out=str(tmp_path / "proc"), executor="process", workers=2, **kw)
    L = {r["point_id"]: r for r in load_rows(tmp_path / "local")}
    for other in ("dask", "proc"):
        O = {r["point_id"]: r for r in load_rows(tmp_path / other)}
        assert set(O) == set(L) and len(L) == 64
        for k in L:
            assert not _rows_equal(L[k], O[k])
