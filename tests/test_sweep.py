"""Sweeps: point expansion and ids, the Parquet store, resume, failing points, query, executors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from costsim.api.run import load_scenario, sim_available
from costsim.errors import InputError
from costsim.sweep import run_sweep
from costsim.sweep.points import build_tasks, param_column, parse_grid, parse_random, random_samples
from costsim.sweep.store import ResultStore, load_rows, query

TINY = Path(__file__).parent / "data" / "sweep-tiny-training.yaml"
needs_training_sim = pytest.mark.skipif(not sim_available("training"), reason="costsim.sim.training not available in this build")


def _core_available() -> bool:
    try:
        import costsim.api.train  # noqa: F401
        return True
    except ImportError:
        return False


needs_core = pytest.mark.skipif(not _core_available(), reason="costsim.api.train not available in this build")


def _numbers(rows):
    """Rows without the fields that legitimately differ between runs (timings)."""
    drop = {"wall_s", "training_sim_wall_time_s", "serving_sim_wall_time_s", "training_search_search_time_s"}
    return {(r["point_id"], r["variant"]): {k: v for k, v in r.items() if k not in drop} for r in rows}


def test_parse_grid_and_random_specs():
    g = parse_grid(["training.num_gpus=512, 1024", "training.precision=bf16,fp8"])
    assert g == [("training.num_gpus", [512, 1024]), ("training.precision", ["bf16", "fp8"])]
    r = parse_random(["economics.electricity_usd_per_kwh=0.03:0.15", "training.num_gpus=64:4096:log"])
    assert not r[0].integer and r[1].integer and r[1].log
    with pytest.raises(InputError, match="training.num_gpu"):
        parse_grid(["training.num_gpu=1,2"])
    with pytest.raises(InputError):
        parse_random(["economics.electricity_usd_per_kwh=0.2:0.1"])
    assert param_column("grid.curtailment[0].start_h") == "param_grid_curtailment_0_start_h"


def test_random_samples_deterministic_and_in_range():
    specs = parse_random(["economics.electricity_usd_per_kwh=0.03:0.15", "training.num_gpus=64:4096:log"])
    a = random_samples(specs, 50, seed_material="abc")
    b = random_samples(specs, 50, seed_material="abc")
    c = random_samples(specs, 50, seed_material="abd")
    assert a == b and a != c
    for sample in a:
        (p1, v1), (p2, v2) = sample
        assert 0.03 <= v1 <= 0.15 and isinstance(v2, int) and 64 <= v2 <= 4096


def test_build_tasks_counts_and_stable_ids():
    s = load_scenario(TINY)
    kw = dict(grid=parse_grid(["training.num_gpus=512,1024,2048"]), random=parse_random(["economics.electricity_usd_per_kwh=0.03:0.15"]),
              samples=2, seeds=3)
    t1 = build_tasks(s, **kw)
    t2 = build_tasks(s, **kw)
    assert len(t1) == 3 * 2 * 3
    assert len({t["point_id"] for t in t1}) == len(t1)
    assert [t["point_id"] for t in t1] == [t["point_id"] for t in t2]
    # another mode or another base scenario gives other ids
    assert not {t["point_id"] for t in t1} & {t["point_id"] for t in build_tasks(s, mode="core", **kw)}
    s2 = load_scenario(TINY, ["training.tokens=3e10"])
    assert not {t["point_id"] for t in t1} & {t["point_id"] for t in build_tasks(s2, **kw)}


def test_store_atomic_append_and_ids(tmp_path):
    st = ResultStore(tmp_path)
    st.append([{"point_id": "a", "variant": "base", "x": 1}, {"point_id": "b", "variant": "base", "x": 2.5}])
    st.append([{"point_id": "c", "variant": "base", "y": "s"}])
    assert st.finished_ids() == {"a", "b", "c"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    cols, rows = query(tmp_path, "SELECT point_id, x, y FROM points ORDER BY point_id")
    assert cols == ["point_id", "x", "y"] and rows == [("a", 1.0, None), ("b", 2.5, None), ("c", None, "s")]
    with pytest.raises(InputError, match="points"):
        query(tmp_path, "SELECT * FROM nope")
    with pytest.raises(InputError):
        query(tmp_path / "missing", "SELECT 1")


@needs_training_sim
def test_local_sweep_resume_and_failing_point(tmp_path):
    s = load_scenario(TINY)
    grid = parse_grid(["training.num_gpus=0,1024,2048"])  # 0 GPUs: a failing point, recorded
    res = run_sweep(s, out=str(tmp_path), grid=grid, seeds=2, executor="local")
    assert res["points_total"] == 6 and res["ran"] == 6 and res["errors"] == 2 and res["lost"] == 0
    rows = load_rows(tmp_path)
    assert len(rows) == 6 and len({r["point_id"] for r in rows}) == 6
    bad = [r for r in rows if r["status"] == "error"]
    assert len(bad) == 2 and all("num_gpus" in r["error"] for r in bad)
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(r["training_wall_time_s"] > 0 for r in ok)
    # seeds differ -> numbers differ (failures are random); same seed, other gpus -> other numbers
    by = {(r["param_training_num_gpus"], r["seed"]): r["training_wall_time_s"] for r in ok}
    assert by[(1024, 0)] != by[(2048, 0)]
    # resume: nothing re-run; extending the grid runs only the new points
    res2 = run_sweep(s, out=str(tmp_path), grid=grid, seeds=2, executor="local")
    assert res2["ran"] == 0 and res2["skipped_finished"] == 6
    res3 = run_sweep(s, out=str(tmp_path), grid=parse_grid(["training.num_gpus=0,1024,2048,4096"]), seeds=2, executor="local")
    assert res3["ran"] == 2 and res3["skipped_finished"] == 6
    rows = load_rows(tmp_path)
    assert len(rows) == 8 and len({r["point_id"] for r in rows}) == 8
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["points_total"] == 8 and manifest["scenario"] == "tiny-sim"


@needs_training_sim
def test_process_executor_equals_local(tmp_path):
    s = load_scenario(TINY)
    kw = dict(grid=parse_grid(["training.num_gpus=1024,2048"]), seeds=3)
    run_sweep(s, out=str(tmp_path / "local"), executor="local", **kw)
    run_sweep(s, out=str(tmp_path / "proc"), executor="process", workers=2, **kw)
    a, b = _numbers(load_rows(tmp_path / "local")), _numbers(load_rows(tmp_path / "proc"))
    assert len(a) == 6 and a == b


@needs_core
def test_core_mode_sweep(tmp_path):
    s = load_scenario(TINY)
    res = run_sweep(s, out=str(tmp_path), mode="core", grid=parse_grid(["training.num_gpus=1024,2048"]))
    assert res["errors"] == 0
    cols, rows = query(tmp_path, "SELECT param_training_num_gpus, training_wall_time_s FROM points ORDER BY 1")
    assert rows[0][1] > rows[1][1] > 0  # twice the GPUs, less time


def test_ray_missing_is_a_clear_input_error(tmp_path):
    try:
        import ray  # noqa: F401
        pytest.skip("ray is installed here")
    except ImportError:
        pass
    s = load_scenario(TINY)
    with pytest.raises(InputError, match=r"pip install costsim\[ray\]"):
        run_sweep(s, out=str(tmp_path), executor="ray", grid=parse_grid(["training.num_gpus=1024"]))


def test_unknown_executor(tmp_path):
    with pytest.raises(InputError, match="executor"):
        run_sweep(load_scenario(TINY), out=str(tmp_path), executor="spark")


@needs_training_sim
def test_cli_sweep_and_query(tmp_path, cli):
    out = tmp_path / "sw"
    r = cli("sweep", str(TINY), "--grid", "training.num_gpus=1024,2048", "--seeds", "2", "--out", str(out), "--no-progress", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ran"] == 4 and (out / "report.html").is_file()
    html = (out / "report.html").read_text()
    assert "Sensitivity" in html and '<script src="http' not in html
    r = cli("query", str(out), "SELECT count(*) AS n, count(DISTINCT point_id) AS u FROM points", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"n": 4, "u": 4}]
    r = cli("query", str(out), "SELECT nope FROM points")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    # `SELECT *` (~100 columns) at 80 columns: one block per row, every column named with its value (the table had
    # folded into ~60 nameless one-character columns)
    r = cli("query", str(out), "SELECT * FROM points", env={"COLUMNS": "80"})
    assert r.returncode == 0 and "do not fit" in r.stdout and "row 4" in r.stdout
    assert "training_num_gpus" in r.stdout and "2048" in r.stdout


@needs_training_sim
def test_sweep_expands_variants(tmp_path):
    s = load_scenario(TINY, ["variants=[{name: small, set: {training.num_gpus: 1024}}]"])
    res = run_sweep(s, out=str(tmp_path), grid=parse_grid(["economics.electricity_usd_per_kwh=0.05,0.1"]))
    assert res["points_total"] == 4 and res["errors"] == 0  # (base, small) x 2 prices
    cols, rows = query(tmp_path, "SELECT variant, min(training_num_gpus), count(*) FROM points GROUP BY 1 ORDER BY 1")
    assert rows == [("base", 2048, 2), ("small", 1024, 2)]
