"""Hostile input and resource guards (issue 18): every runaway or traceback found by hand is an exit-2
message naming the estimate and the limit; unexpected errors are one line with an error id; implausible
but valid requests warn; bucket arithmetic never produces null/NaN figures."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costsim.errors import InputError
from tests.conftest import REPO, run_cli

CHAT70 = "scenarios/chat-llama3-70b-h100.yaml"


def _no_traceback(p: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout, p.stderr[-2000:]


def _in_process(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the CLI in this process (fast); returns (exit code, stdout, stderr)."""
    from costsim.cli import main

    with pytest.raises(SystemExit) as ei:
        main(argv)
    out, err = capsys.readouterr()
    code = ei.value.code if isinstance(ei.value.code, int) else (0 if ei.value.code is None else 1)
    return code, out, err


# --- over-long ids, directories, odd bytes -------------------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["train", "serve"])
def test_5000_character_model_id_is_exit_2(cmd, capsys):
    args = [cmd, "--model", "x" * 5000, "--hardware", "h100-sxm", "--gpus", "8"]
    if cmd == "train":
        args += ["--tokens", "1e12"]
    code, out, err = _in_process(args, capsys)
    assert code == 2, err
    assert "5000 characters" in err and "1024" in err and "Traceback" not in err
    assert len(err) < 600  # the id is shortened in the message, not echoed in full


def test_over_long_region_and_load_paths_are_exit_2(capsys):
    """Found by the fuzz test: a 5,000-character --region ended in OSError (File name too long)."""
    code, _, err = _in_process(["site", "--gpus", "1024", "--hardware", "h100-sxm", "--region", "x" * 5000], capsys)
    assert code == 2 and "Traceback" not in err and "internal error" not in err, err


def test_directory_where_a_file_is_expected(capsys, tmp_path):
    code, _, err = _in_process(["serve", "--model", str(tmp_path), "--hardware", "h100-sxm", "--gpus", "1"], capsys)
    assert code == 2 and "directory" in err, err


def test_control_characters_in_an_id(capsys):
    code, _, err = _in_process(["serve", "--model", "llama-3-8b\x00\x1b[31m", "--hardware", "h100-sxm", "--gpus", "1"], capsys)
    assert code == 2 and "Traceback" not in err, err
    assert "\x1b" not in err and "\x00" not in err  # odd bytes are not echoed to the terminal


def test_unreadable_scenario_file(capsys, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    f = tmp_path / "s.yaml"
    f.write_text("name: x\n")
    f.chmod(0)
    code, _, err = _in_process(["run", str(f), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "Traceback" not in err, err


# --- runaway requests: refused with the estimate, the limit and the setting ----------------------------------------

@pytest.mark.parametrize("sets,limit_var", [
    (["serving.arrivals.rate_per_s=1e6", "simulation.duration_s=1e7"], "COSTSIM_MAX_SIM_REQUESTS"),
    (["serving.timeline_bucket_s=1e-6"], "COSTSIM_MAX_TIMELINE_BUCKETS"),
    # the scenario's autoscaler caps it at 16 (num_replicas above max_replicas exits 2 on its own): raise both
    (["serving.num_replicas=1000000000", "serving.autoscaler.max_replicas=1000000000"], "COSTSIM_MAX_REPLICAS"),
])
def test_runaway_serving_requests_are_refused_before_work(sets, limit_var, capsys, tmp_path):
    argv = ["run", CHAT70, "--out", str(tmp_path / "o")]
    for s in sets:
        argv += ["--set", s]
    code, _, err = _in_process(argv, capsys)
    assert code == 2, err
    assert "request too large" in err and "above the limit of" in err and limit_var in err, err
    assert not (tmp_path / "o").exists()  # nothing written, nothing half-written


def test_small_vs_large_tiny_bucket_is_refused(capsys, tmp_path):
    code, _, err = _in_process(["run", "scenarios/small-vs-large.yaml", "--out", str(tmp_path / "o"),
                                "--set", "serving.timeline_bucket_s=1e-6"], capsys)
    assert code == 2 and "COSTSIM_MAX_TIMELINE_BUCKETS" in err, err


def test_limits_can_be_raised_and_lowered_by_environment(monkeypatch):
    from costsim.api.run import load_scenario
    from costsim.specs.limits import check_scenario_work

    s = load_scenario(REPO / CHAT70)
    check_scenario_work(s)  # the shipped scenario is within the defaults
    monkeypatch.setenv("COSTSIM_MAX_SIM_REQUESTS", "10")
    with pytest.raises(InputError, match="COSTSIM_MAX_SIM_REQUESTS"):
        check_scenario_work(s)
    monkeypatch.setenv("COSTSIM_MAX_SIM_REQUESTS", "lots")
    with pytest.raises(InputError, match="not a number"):
        check_scenario_work(s)


def test_every_shipped_scenario_is_within_the_default_limits():
    from costsim.api.run import load_scenario
    from costsim.specs.limits import check_scenario_work

    for f in sorted((REPO / "scenarios").glob("*.yaml")):
        check_scenario_work(load_scenario(f))


def test_limits_command_lists_every_limit(capsys):
    code, out, _ = _in_process(["limits", "--json"], capsys)
    assert code == 0
    rows = json.loads(out)
    assert {r["key"] for r in rows} >= {"sim_requests", "timeline_buckets", "replicas", "gpus", "sim_runs"}
    assert all(r["env_var"].startswith("COSTSIM_MAX_") and r["limit"] > 0 for r in rows)


@pytest.mark.parametrize("columns", [80, 160])
def test_limits_table_fits_the_terminal_and_names_every_variable(columns, capsys, monkeypatch):
    """At 80 columns the four-column table had folded into one-word cells; every limit's variable is still named."""
    from costsim.specs.limits import LIMITS

    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, _ = _in_process(["limits"], capsys)
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= columns
    assert all(f"{lim.env_var}=N" in out for lim in LIMITS.values())
    table = out.split("- ")[0]
    assert all(lim.key in table for lim in LIMITS.values())


def test_layout_check_is_shared_by_scenarios_and_the_serve_command(capsys, tmp_path):
    """TP 3 for a 32-head model: refused by `costsim serve --gpus 3` and by a scenario alike."""
    yml = tmp_path / "tp3.yaml"
    yml.write_text("name: tp3\nserving:\n  model: llama-3-8b\n  hardware: h100-sxm\n  num_replicas: 1\n"
                   "  gpus_per_replica: 3\n  arrivals: {process: poisson, rate_per_s: 1}\nsimulation: {duration_s: 60}\n")
    code, _, err = _in_process(["run", str(yml), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "Traceback" not in err, err
    assert "3" in err


# --- the error boundary -----------------------------------------------------------------------------------------

def test_unexpected_error_is_one_line_with_an_id_and_a_log(capsys, monkeypatch, tmp_path):
    import costsim.api.site as site_api

    def boom(*a, **k):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setenv("COSTSIM_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(site_api, "site_report", boom)
    code, _, err = _in_process(["site", "--gpus", "1024", "--hardware", "h100-sxm"], capsys)
    assert code == 1
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: internal error ") and "Traceback" not in err, err
    error_id = lines[0].split("internal error ")[1].split(":")[0]
    log = tmp_path / "logs" / f"costsim-error-{error_id}.log"
    assert log.is_file() and "ZeroDivisionError: simulated bug" in log.read_text() and "Traceback" in log.read_text()
    # --debug shows the traceback too
    code, _, err = _in_process(["site", "--gpus", "1024", "--hardware", "h100-sxm", "--debug"], capsys)
    assert code == 1 and "Traceback" in err


def test_sweep_worker_boundary_records_an_error_id(monkeypatch, tmp_path):
    from costsim.sweep import points

    monkeypatch.setenv("COSTSIM_LOG_DIR", str(tmp_path))
    monkeypatch.setattr(points, "evaluate_core", lambda s: 1 / 0)
    row = points.evaluate_point({"point_id": "p0", "scenario_hash": "h", "variant": "base", "overrides": [], "seed": 0, "mode": "core",
                                 "base": {"name": "t", "training": {"model": "llama-3-8b", "hardware": "h100-sxm",
                                                                    "num_gpus": 8, "tokens": 1e9}}})
    assert row["status"] == "error" and row["error"].startswith("internal error "), row
    assert list(tmp_path.glob("costsim-error-*.log"))


def test_app_guard_caps_runs_per_session_and_wraps_bugs(monkeypatch):
    from costsim.ui import guard

    monkeypatch.setenv("COSTSIM_APP_MAX_RUNS_PER_SESSION", "2")
    session: dict = {}
    assert guard.guarded_run(session, lambda: 1) == 1
    with pytest.raises(InputError, match="internal error"):
        guard.guarded_run(session, lambda: 1 / 0)
    with pytest.raises(guard.RunRefused, match="COSTSIM_APP_MAX_RUNS_PER_SESSION"):
        guard.guarded_run(session, lambda: 1)
    shown: list[str] = []
    guard.page_boundary(lambda: [][1], shown.append)
    assert len(shown) == 1 and shown[0].startswith("internal error ")


def test_app_guard_server_wide_concurrency_cap(monkeypatch):
    import threading

    from costsim.ui import guard

    monkeypatch.setattr(guard, "_SLOT_WAIT_S", 0.05)
    monkeypatch.setattr(guard, "_SLOTS", threading.BoundedSemaphore(1))
    release = threading.Event()
    started = threading.Event()

    def long_run():
        started.set()
        release.wait(10)

    t = threading.Thread(target=lambda: guard.guarded_run({}, long_run))
    t.start()
    started.wait(5)
    with pytest.raises(guard.RunRefused, match="already running"):
        guard.guarded_run({}, lambda: 1)
    release.set()
    t.join(10)
    assert guard.guarded_run({}, lambda: 2) == 2


# --- implausible but valid: runs, with a warning ----------------------------------------------------------------

def test_site_above_any_grid_warns(capsys):
    code, out, err = _in_process(["site", "--gpus", "1e12", "--hardware", "h100-sxm"], capsys)
    assert code == 0
    assert "warning: implausible site" in err and "world" in err and "warning: implausible fleet" in err
    code, out, _ = _in_process(["site", "--gpus", "1e12", "--hardware", "h100-sxm", "--json"], capsys)
    doc = json.loads(out)
    assert any("implausible site" in w for w in doc["warnings"])


def test_ordinary_site_has_no_warning(capsys):
    code, out, _ = _in_process(["site", "--gpus", "16384", "--hardware", "h100-sxm", "--json"], capsys)
    assert code == 0 and json.loads(out)["warnings"] == []


# --- bucket arithmetic: no null/NaN figures, peak == max of the timeline --------------------------------------------

def _serving_doc(duration_s: float, bucket_s: float | None, seed: int, rate: float = 2.0):
    from costsim.api.run import run_scenario, scenario_from_dict

    d = {"name": "prop", "serving": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_replicas": 1, "gpus_per_replica": 1,
                                     "arrivals": {"process": "poisson", "rate_per_s": rate}},
         "simulation": {"duration_s": duration_s}}
    if bucket_s is not None:
        d["serving"]["timeline_bucket_s"] = bucket_s
    return run_scenario(scenario_from_dict(d), seed=seed)


def _check_figures(v) -> None:
    s = v.parts["serving"].summary
    for k, x in {**s, **v.site}.items():
        if isinstance(x, float):
            assert not math.isnan(x), k
    for k in ("facility_peak_power_w", "facility_mean_power_w", "gpu_energy_j", "throughput_tokens_per_s"):
        assert s[k] is not None and math.isfinite(s[k]), (k, s[k])
    assert v.site["peak_power_w"] is not None
    if len(v.site_timeseries["t_s"]) >= 2:  # one bucket has no change between buckets (the key is absent, not null)
        assert v.site["max_bucket_change_w"] is not None and math.isfinite(v.site["max_bucket_change_w"])
    ts = v.parts["serving"].timeseries
    assert np.all(np.isfinite(ts["facility_power_w"]))
    assert s["facility_peak_power_w"] == pytest.approx(float(np.max(ts["facility_power_w"])), rel=1e-12)
    assert v.site["peak_power_w"] == pytest.approx(float(np.max(v.site_timeseries["site_power_w"])), rel=1e-12)


def test_duration_not_a_whole_number_of_buckets_has_no_nulls():
    """The case from the issue: 1258 s on a 7B-class chat scenario (default bucket: duration/240)."""
    r = _serving_doc(1258.0, 60.0, 0, rate=0.5)
    _check_figures(r.variants[0])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(duration_s=st.floats(20.0, 400.0), bucket_s=st.one_of(st.none(), st.floats(0.5, 97.0)),
       seed=st.integers(0, 2**31 - 1))
def test_property_no_null_figures_and_peak_is_timeline_max(duration_s, bucket_s, seed):
    r = _serving_doc(duration_s, bucket_s, seed)
    _check_figures(r.variants[0])


def test_bucket_count_drops_only_a_rounding_sliver():
    from costsim.sim.serving import bucket_count

    assert bucket_count(1258.0, 60.0) == 21
    assert bucket_count(120.0, 60.0) == 2
    assert bucket_count(0.3 * 3, 0.3) == 3  # 0.8999999 / 0.3 in floats
    assert bucket_count(10.0, 100.0) == 1


# --- atomic output -------------------------------------------------------------------------------------------------

def test_run_refuses_an_out_dir_holding_other_files(capsys, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "thesis.docx").write_text("mine")
    code, _, err = _in_process(["run", "scenarios/phi3-mini-on-iphone.yaml", "--out", str(out)], capsys)
    assert code == 2 and "thesis.docx" in err
    assert (out / "thesis.docx").read_text() == "mine"


def test_rerun_replaces_the_previous_output_whole(capsys, tmp_path):
    out = tmp_path / "o"
    code, _, err = _in_process(["run", "scenarios/phi3-mini-on-iphone.yaml", "--out", str(out), "--seed", "3", "--no-pdf"], capsys)
    assert code == 0, err
    first = (out / "summary.json").read_bytes()
    (out / "report.pdf").write_bytes(b"stale")  # a file the next run does not write
    code, _, err = _in_process(["run", "scenarios/phi3-mini-on-iphone.yaml", "--out", str(out), "--seed", "3", "--no-pdf"], capsys)
    assert code == 0, err
    assert (out / "summary.json").read_bytes() == first
    assert not (out / "report.pdf").exists()  # nothing of the previous run is left beside the new one
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_no_partial_output(tmp_path):
    """>= 20 SIGKILLs of `costsim run` at random moments: the output directory is always either absent or
    a complete run, and a re-run gives a byte-identical summary.json."""
    import random
    import time

    exe = os.path.join(os.path.dirname(sys.executable), "costsim")
    scn = "scenarios/phi3-mini-on-iphone.yaml"
    ref = tmp_path / "ref"
    t0 = time.perf_counter()
    p = run_cli("run", scn, "--out", str(ref), "--seed", "7", "--no-pdf", timeout=300)
    full_s = time.perf_counter() - t0
    assert p.returncode == 0, p.stderr
    ref_summary = (ref / "summary.json").read_bytes()
    ref_files = sorted(f.name for f in ref.iterdir())
    rng = random.Random(18)
    out = tmp_path / "out"
    kills = 0
    outcomes = {"absent": 0, "complete": 0}
    for _ in range(40):
        if kills >= 22:
            break
        proc = subprocess.Popen([exe, "run", scn, "--out", str(out), "--seed", "7", "--no-pdf"], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, full_s * 0.95))
        if proc.poll() is None:
            proc.kill()
            kills += 1
        proc.wait()
        if out.exists():
            assert sorted(f.name for f in out.iterdir()) == ref_files
            assert (out / "summary.json").read_bytes() == ref_summary
            outcomes["complete"] += 1
        else:
            outcomes["absent"] += 1
    assert kills >= 20, f"only {kills} runs were killed before they finished ({full_s:.1f} s per run)"
    p = run_cli("run", scn, "--out", str(out), "--seed", "7", "--no-pdf", timeout=300)
    assert p.returncode == 0, p.stderr
    assert (out / "summary.json").read_bytes() == ref_summary
    assert not [f for f in tmp_path.iterdir() if ".partial-" in f.name]  # stale staging dirs were cleaned
    print(f"{kills} kills, outcomes {outcomes}")


# --- same seed, same numbers on every executor ----------------------------------------------------------------------

@pytest.mark.slow
def test_same_seed_same_numbers_on_every_executor(tmp_path):
    pytest.importorskip("dask.distributed")
    from costsim.api.run import load_scenario
    from costsim.sweep import EXECUTORS, parse_grid, run_sweep
    from costsim.sweep.store import load_rows

    s = load_scenario(REPO / "scenarios/phi3-mini-on-iphone.yaml", ["simulation.duration_s=600"])
    grid = parse_grid(["serving.arrivals.rate_per_s=0.02,0.05"])
    execs = ["local", "process", "dask"] + (["ray"] if "ray" in EXECUTORS and _has("ray") else [])
    tables = {}
    for ex in execs:
        run_sweep(s, out=str(tmp_path / ex), grid=grid, seeds=2, mode="sim", executor=ex, workers=2)
        rows = load_rows(str(tmp_path / ex))
        keep = [k for k in rows[0] if k not in ("wall_s",) and "wall" not in k]
        tables[ex] = sorted((tuple((k, r.get(k)) for k in keep) for r in rows), key=repr)
        assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows]
    for ex in execs[1:]:
        assert tables[ex] == tables["local"], ex


def _has(mod: str) -> bool:
    try:
        __import__(mod)
        return True
    except ImportError:
        return False


def test_fastest_layouts_show_the_batch_where_it_differs(capsys, monkeypatch):
    """Layouts that round the global batch differently (1,152 vs 768 sequences on 1,536 GPUs) are ranked by throughput:
    the table shows each one's batch, so a shorter step of a smaller batch below a longer one reads right."""
    monkeypatch.setenv("COLUMNS", "160")
    code, out, _ = _in_process(["train", "--model", "llama-3-8b", "--hardware", "h100-sxm", "--gpus", "1536", "--tokens", "1e11"], capsys)
    assert code == 0 and "batch (seqs)" in out and "1152" in out and "768" in out
    code, out, _ = _in_process(["train", "--model", "llama-3-8b", "--hardware", "h100-sxm", "--gpus", "960", "--tokens", "1e11"], capsys)
    assert code == 0 and "batch (seqs)" not in out  # one batch for every row: no column
