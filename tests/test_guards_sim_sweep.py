"""Guards of `run` (training simulation), `sweep` and the run report found by the CLI fuzz runs: the sweep
work estimate covers what --seeds scales in core mode (and refuses with the estimate and only the fixes that
apply); absurd timeline buckets, sub-batch token counts and windows too short to train exit 2 naming the
field; a zero failure rate runs; reports draw hundreds of variants; an unknown --metric exits 2."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from costsim.errors import InputError
from tests.test_guards import _in_process

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "sweep-tiny-training.yaml"


def _run(tmp_path, capsys, *sets: str, scenario: Path = TINY):
    argv = ["run", str(scenario), "--out", str(tmp_path / "out"), "--no-pdf", "--json"]
    for s in sets:
        argv += ["--set", s]
    return _in_process(argv, capsys)


def _sweep(tmp_path, capsys, *extra: str, scenario: Path = TINY):
    return _in_process(["sweep", str(scenario), "--out", str(tmp_path / "sw"), "--no-progress", *extra], capsys)


# 1. sweep work estimate ---------------------------------------------------------------------------------------------

def test_seeds_only_group_is_evaluated_batched_not_point_by_point():
    """The root cause of the 12-minute, 3.7 GB '--seeds 1000000' run: a group that differs only in its seeds
    fell back to the per-point path (the batched estimate had one point, the unit n)."""
    from costsim.api.run import load_scenario
    from costsim.sweep.batched import GroupResult, build_plan, enumerate_plan
    from costsim.sweep.batched_eval import evaluate_group

    plan = build_plan(load_scenario(TINY), grid=[], random=None, samples=0, seeds=50, mode="core")
    (task,) = enumerate_plan(plan).tasks
    res = evaluate_group(task)
    assert isinstance(res, GroupResult) and res.rows == 50 and res.errors == 0
    t = res.table.to_pydict()
    assert len(set(t["training_cost_usd"])) == 1 and sorted(t["seed"]) == list(range(50))


def test_core_seeds_too_many_refused_with_memory_estimate(tmp_path, capsys):
    code, out, err = _sweep(tmp_path, capsys, "--mode", "core", "--seeds", "100000000")
    assert code == 2, (out, err)
    assert "Traceback" not in err
    assert re.search(r"~\d+(\.\d+)? GB of memory", err) and "100,000,000 points" in err
    assert "--seeds 1" in err and "--mode core" not in err  # already in core mode: not suggested
    assert "hours" not in err.replace("--max-hours", "")  # the estimate is stated, not 'hours' regardless
    assert not list((tmp_path / "sw").glob("points/*/*/*.parquet"))  # refused before any work


def test_core_seeds_small_request_runs_with_notice(tmp_path, capsys):
    code, out, err = _sweep(tmp_path, capsys, "--mode", "core", "--seeds", "20")
    assert code == 0, err
    assert "20 points: 20 run (0 failed)" in out
    assert "GB of memory" in err  # the estimate printed after the run states memory too
    assert "core mode is deterministic" in err


def test_time_refusal_states_the_estimate_and_applicable_fixes(tmp_path, capsys):
    code, _, err = _sweep(tmp_path, capsys, "--mode", "core", "--seeds", "100000", "--max-hours", "0.00001")
    assert code == 2
    assert "estimated to take ~" in err and "--max-hours 1e-05" in err and "--seeds 1 instead of --seeds 100,000" in err
    assert "--mode core" not in err
    # sim mode: --mode core applies. A tiny --max-hours, not the default hour: with warm caches the probe is fast
    # enough that 100,000 sim points fit in an hour, and the sweep (rightly) runs them
    code, _, err = _sweep(tmp_path / "sim", capsys, "--mode", "sim", "--seeds", "100000", "--max-hours", "0.00001")
    assert code == 2
    assert "estimated to take ~" in err and "use --mode core" in err and "fewer --seeds (now 100,000)" in err


def test_estimate_uses_per_point_cost_when_the_batched_path_falls_back(tmp_path, monkeypatch):
    """Should a batched unit fall back to the per-point path again, the probe sees it and the estimate
    uses the per-point cost, so the request is refused up front instead of running for hours."""
    import costsim.sweep.batched_eval as be
    from costsim.api.run import load_scenario
    from costsim.sweep import run_sweep

    def broken(task):
        raise IndexError("simulated failure of the batched path")

    monkeypatch.setattr(be, "_evaluate_columns", broken)
    with pytest.raises(InputError) as exc:
        run_sweep(load_scenario(TINY), out=str(tmp_path), mode="core", seeds=1_000_000, max_wall_s=3600.0)
    msg = exc.value.message
    assert "fell back" in msg and "1,000,000 points" in msg and "over the limit of 60 min" in msg
    assert not list(tmp_path.glob("points/*/*/*.parquet"))


def test_memory_estimate_scales_with_points():
    from costsim.sweep.workload import estimate_work

    small = estimate_work(points=1_000, groups=1, mode="core", batched=True, probe_s=0.01, executor="local", workers=None,
                          columns=120, unit_points=100_000)
    big = estimate_work(points=100_000_000, groups=1, mode="core", batched=True, probe_s=0.01, executor="local", workers=None,
                        columns=120, unit_points=100_000)
    assert small.memory_bytes < 1e9 < 1e10 < big.memory_bytes


# 2. timeline buckets ------------------------------------------------------------------------------------------------

def test_tiny_timeline_bucket_refused_with_smallest_allowed(tmp_path, capsys):
    code, out, err = _run(tmp_path, capsys, "training.timeline.bucket_s=1e-300")
    assert code == 2, (out[-300:], err)
    assert "Traceback" not in err and "internal error" not in err
    m = re.search(r"training\.timeline\.bucket_s >= ([0-9.e+-]+) s", err)
    assert m, err
    assert "COSTSIM_MAX_TIMELINE_BUCKETS" in err
    # the bound given is allowed, a bucket 10 % smaller is not (same horizon)
    from costsim.sim.training_setup import timeline_bucket_estimate

    horizon = float(re.search(r"~([0-9,]+) s\)", err).group(1).replace(",", ""))
    smallest = float(m.group(1))
    assert not timeline_bucket_estimate(horizon, smallest, what="x").over
    assert timeline_bucket_estimate(horizon, 0.9 * smallest, what="x").over


# 3. zero failure rate -----------------------------------------------------------------------------------------------

def test_zero_failure_rate_runs_without_periodic_checkpoints(tmp_path, capsys):
    code, out, err = _run(tmp_path, capsys, "training.reliability.rate_scale=0")
    assert code == 0, err
    s = json.loads(out)["variants"][0]["training"]["summary"]
    assert s["completed"] is True and s["interruptions"] == 0 and s["expected_interruptions"] == 0
    assert s["checkpoints"] == 0  # no failures: the Young/Daly interval is unbounded, nothing to checkpoint against
    assert math.isfinite(s["checkpoint_interval_s"]) and s["checkpoint_interval_steps"] >= s["steps_trained"]
    assert any("no failures" in n for n in s["notes"])
    assert s["tokens_trained"] == pytest.approx(s["tokens_target"])


def test_fixed_checkpoint_interval_longer_than_the_run_stays_an_int64(tmp_path, capsys):
    code, out, err = _run(tmp_path, capsys, "training.checkpoint.policy=fixed", "training.checkpoint.interval_s=1e300")
    assert code == 0, err
    s = json.loads(out)["variants"][0]["training"]["summary"]
    assert s["checkpoints"] == 0 and 0 < s["checkpoint_interval_steps"] < 2**62


# 4. nothing to simulate ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sets, field, words", [
    (["training.tokens=0.5"], "training.tokens", ["less than one training step", "global batch", "give at least"]),
    (["simulation.duration_s=1e-300"], "simulation.duration_s", ["greater than or equal to 1"]),
    (["simulation.duration_s=3"], "simulation.duration_s", ["too short", "start ramp", "simulation.duration_s >="]),
    (["training.max_days=1e-5"], "training.max_days", ["too short", "training.max_days >="]),
    # a start ramp of 31,700 years ran and was cut short by the first failure: now bounded at an hour
    (["training.power.start_ramp_s=1e12"], "training.power.start_ramp_s", ["less than or equal to 3600"]),
])
def test_run_that_would_train_nothing_exits_2(sets, field, words, tmp_path, capsys):
    code, out, err = _run(tmp_path, capsys, *sets)
    assert code == 2, (out[-300:], err)
    assert field in err and "Traceback" not in err
    for w in words:
        assert w in err, err


def test_duration_just_above_the_minimum_runs(tmp_path, capsys):
    code, _, err = _run(tmp_path, capsys, "simulation.duration_s=3")
    need = float(re.search(r"simulation\.duration_s >= ([0-9.]+) s", err).group(1))
    code, out, err = _run(tmp_path, capsys, f"simulation.duration_s={need}")
    assert code == 0, err
    assert json.loads(out)["variants"][0]["training"]["summary"]["steps_trained"] > 0


# 5. charts with many variants ---------------------------------------------------------------------------------------

def test_stacked_spacing_fits_any_row_count():
    from plotly.subplots import make_subplots

    from costsim.report.charts import stacked_spacing

    for n in (1, 2, 5, 17, 18, 300, 2000):
        sp = stacked_spacing(n, 300 + 140 * (n - 1))
        assert 0 <= sp and (n == 1 or sp <= 1 / (n - 1))
        make_subplots(rows=n, cols=1, vertical_spacing=sp)  # plotly accepts it


def test_run_report_with_300_variants(tmp_path, capsys):
    doc = yaml.safe_load(TINY.read_text())
    doc["simulation"] = {"duration_s": 600, "include_base": False}
    doc["variants"] = [{"name": f"v{i:03d}", "set": {"economics.electricity_usd_per_kwh": round(0.05 + 0.001 * i, 3)}}
                       for i in range(300)]
    path = tmp_path / "v300.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, out, err = _run(tmp_path, capsys, scenario=path)
    assert code == 0, err[-2000:]
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    panels = set(re.findall(r'"text":"(v\d{3})"', html))
    assert len(panels) == 300  # every variant has its power panel: nothing dropped


def test_power_timeline_draws_every_variant():
    from types import SimpleNamespace

    from costsim.report.charts import power_timeline

    t = np.arange(0, 3600.0, 60.0)
    variants = [SimpleNamespace(name=f"v{i}", site_timeseries={"t_s": t, "site_power_w": 1e6 + i + 0 * t}) for i in range(300)]
    result = SimpleNamespace(variants=variants, scenario=SimpleNamespace(grid=SimpleNamespace(import_cap_mw=None)))
    fig = power_timeline(result)
    assert len([a for a in fig.layout.annotations if a.text.startswith("v")]) == 300


# 6. --metric --------------------------------------------------------------------------------------------------------

def test_unknown_metric_exits_2_listing_known_ones(tmp_path, capsys):
    code, out, err = _sweep(tmp_path, capsys, "--mode", "core", "--metric", "nonexistent")
    assert code == 2, (out, err)
    assert "--metric nonexistent" in err and "Known metrics" in err and "training_cost_usd" in err
    assert "Nothing was run" in err
    assert not list((tmp_path / "sw").glob("points/*/*/*.parquet"))


def test_unknown_metric_with_variants_exits_2_after_the_run(tmp_path, capsys):
    doc = yaml.safe_load(TINY.read_text())
    doc["variants"] = [{"name": "cheap", "set": {"economics.electricity_usd_per_kwh": 0.03}}]
    path = tmp_path / "var.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, out, err = _sweep(tmp_path, capsys, "--mode", "core", "--metric", "nonexistent", scenario=path)
    assert code == 2, (out, err)
    assert "Known metrics" in err and "training_cost_usd" in err and "stored in" in err


def test_known_metric_runs(tmp_path, capsys):
    code, out, err = _sweep(tmp_path, capsys, "--mode", "core", "--metric", "training_cost_usd",
                            "--grid", "economics.electricity_usd_per_kwh=0.05,0.1")
    assert code == 0, err
    assert (tmp_path / "sw" / "report.html").is_file()


def test_sweep_grid_with_an_empty_item_exits_2(tmp_path, capsys):
    """'64,,128' used to sweep 64 and 128 and say nothing of the lost item."""
    from costsim.cli import main

    with pytest.raises(SystemExit) as ei:
        main(["sweep", str(REPO / "tests/data/sweep-tiny-training.yaml"), "--out", str(tmp_path / "s"), "--grid",
              "training.num_gpus=64,,128", "--mode", "core"])
    err = capsys.readouterr().err
    assert ei.value.code == 2 and "empty item" in err and "Traceback" not in err


HUGE_GPUS = "99999999999999999999999"


@pytest.mark.parametrize("batch", ["--batch", "--no-batch"])
def test_sweep_refuses_an_over_limit_base_scenario_up_front_like_run(batch, tmp_path, capsys):
    """`run` refused training.num_gpus = 1e23 (exit 2 naming the field) while `sweep --mode core` ran every point and
    exited 3 ('every point failed'): bad input every point inherits is refused before any point runs."""
    code, _, err = _run(tmp_path, capsys, f"training.num_gpus={HUGE_GPUS}")
    assert code == 2 and "training.num_gpus" in err, err
    code, _, err = _sweep(tmp_path, capsys, "--mode", "core", batch, "--set", f"training.num_gpus={HUGE_GPUS}",
                          "--grid", "economics.electricity_usd_per_kwh=0.05,0.1")
    assert code == 2 and "training.num_gpus" in err and "every point failed" not in err and "Traceback" not in err, err
    assert not (tmp_path / "sw" / "points").exists()


def test_sweep_axis_that_sets_the_over_limit_field_stays_per_point(tmp_path, capsys):
    """The base's value is moot where a --grid axis sets the field: an axis value over the limit fails its own points."""
    code, out, err = _sweep(tmp_path, capsys, "--mode", "core", "--json", "--set", f"training.num_gpus={HUGE_GPUS}",
                            "--grid", f"training.num_gpus=1024,{HUGE_GPUS}")
    assert code == 0, err
    res = json.loads(out)
    assert (res["ran"], res["errors"]) == (2, 1)


@pytest.mark.parametrize("setting, words", [
    ("serving.warmup_s=1e9", ["warmup_s", "duration_s", "none would be measured"]),
    ("serving.scheduler.max_num_batched_tokens=1", ["max_num_batched_tokens", "max_num_seqs"]),
])
def test_serving_scenario_that_measures_or_schedules_nothing_exits_2(setting, words, tmp_path, capsys):
    """Both ran to completion: a warm-up longer than the run reported an hour with no measured request, and a
    one-token iteration budget (which vLLM refuses below max_num_seqs) decoded one sequence per step."""
    code, out, err = _in_process(["run", str(REPO / "scenarios/chat-llama3-70b-h100.yaml"), "--out", str(tmp_path / "r"),
                                  "--set", setting], capsys)
    assert code == 2 and "Traceback" not in err and all(w in err for w in words), err


def test_run_says_why_training_never_ran_under_the_grid_cap(tmp_path, capsys):
    """A cap below any operating point showed 'Completed: no' and 0 tokens in the table with the reason only in
    summary.json; the text output now says it under the table."""
    code, out, err = _in_process(["run", str(TINY), "--out", str(tmp_path / "out"), "--no-pdf", "--set", "grid.import_cap_mw=1e-9"],
                                 capsys)
    text = " ".join(out.split())
    # an infeasible run, as the serving simulation's (exit 3, feasible false; it exited 0 with feasible true until
    # 2026-12-07, and ramped to training power over the cap for its first seconds)
    assert code == 3 and text.startswith("Training llama-3-8b on 2,048 h100-sxm cannot run under the grid import cap")
    assert "training cannot run (grid import cap infeasible" in text
    # and it stops at once instead of billing a month of idle GPUs (it simulated 34 days)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())["variants"][0]["training"]["summary"]
    assert summary["completed"] is False and summary["wall_time_s"] < 60 and summary["tokens_trained"] == 0
    assert summary["feasible"] is False and "import_cap_mw" in summary["reason"]
    assert summary["grid_cap_exceeded_s"] == 0.0  # it never started: no ramp to training power over the cap


def test_run_text_output_answers_first(tmp_path, capsys):
    """The quality bar's 'one-sentence answer first': run printed only the table (the report had the sentence)."""
    code, out, err = _in_process(["run", str(TINY), "--out", str(tmp_path / "out"), "--no-pdf"], capsys)
    first = out.strip().splitlines()[0]
    assert code == 0 and first.startswith("Training llama-3-8b on 2,048 h100-sxm takes"), first


def test_a_billion_random_samples_are_refused_before_anything_is_laid_out(tmp_path, monkeypatch, capsys):
    """--samples 1000000000 built every sample as Python lists before the memory check: past 10 GB and killed at 120 s
    with no message (a helper's fuzz sweep). The least memory any plan of that many points needs is checked first."""
    import costsim.sweep as sweep_mod

    def boom(*a, **k):
        raise AssertionError("the plan was built")

    monkeypatch.setattr(sweep_mod, "build_plan", boom)
    code, _, err = _in_process(["sweep", "scenarios/llama3-8b-vs-70b-training.yaml", "--mode", "core", "--random",
                                "training.tokens=1e12:1e13", "--samples", "1000000000", "--out", str(tmp_path / "s"),
                                "--no-progress"], capsys)
    assert code == 2 and "memory" in err and "2,000,000,000 points" in err
    # the batched plan draws the same samples as the per-point path, as arrays
    from costsim.sweep.points import parse_random, random_columns, random_samples

    specs = parse_random(["training.tokens=1e12:1e13:log", "training.num_gpus=8:4096:log", "facility.pue=1.05:1.5"])
    cols = random_columns(specs, 500, seed_material="x")
    rows = random_samples(specs, 500, seed_material="x")
    assert [[v for _, v in r] for r in rows] == [list(t) for t in zip(*(c.tolist() for c in cols))]
    assert cols[1].dtype == np.int64


def test_a_run_of_many_replicates_is_refused_with_its_estimate_after_the_first(tmp_path, capsys):
    """`run` checked only the count of simulated runs (100,000): 10,000 replicates of a slow training scenario started
    and would have run for hours (a helper's fuzz sweep). After each part's first replicate the whole run is projected
    and refused past --max-hours (default 1 h), before the other replicates run; its refusal of an uncertainty study
    names run's own flags, not the sweep's."""
    code, _, err = _in_process(["run", "scenarios/llama3-8b-vs-70b-training.yaml", "--out", str(tmp_path / "r"), "--no-pdf",
                                "--set", "simulation.replicates=10000", "--max-hours", "0.001"], capsys)
    assert code == 2 and "this run is estimated to take" in err and "10,000 replicates" in err and "--allow-long" in err
    assert not (tmp_path / "r").exists()
    from costsim.cli.run import _in_run_flags

    msg = ("this sweep is estimated to take ~118 min (...), over the limit of 60 min (--max-hours 1). Sweep fewer --grid values "
           "or --samples; use --mode core (the closed-form cores); spread it over workers (--executor process --workers N); "
           "pass --max-hours 2.4 or --allow-long to run it anyway (finished points are kept, so a re-run resumes).")
    out = _in_run_flags(msg)
    assert "--samples-mode core" in out and "--executor" not in out and "--grid" not in out and "resumes" not in out
    assert out.startswith("this uncertainty study is estimated")
