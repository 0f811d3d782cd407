"""`costsim train` end to end: JSON keys, exit codes, overrides."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from costsim.api.train import step_profile, train
from costsim.specs.requests import TrainRequest

KEYS = ["feasible", "reason", "train_flop", "step_time_s", "tokens_per_s", "mfu_frac", "achieved_flop_per_s_per_gpu",
        "memory_per_gpu_bytes", "parallelism", "num_steps", "compute_time_s", "goodput_frac", "wall_time_s", "gpu_hours",
        "gpu_energy_j", "it_energy_j", "facility_energy_j", "facility_peak_power_w", "co2e_kg", "cost_usd", "search"]


def _cli(*args):
    return subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", "train", *args],
                          capture_output=True, text=True)


def test_json_keys_and_values():
    p = _cli("--model", "llama-3-8b", "--hardware", "h100-sxm", "--gpus", "64", "--tokens", "15e12", "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    for k in KEYS:
        assert k in r
    assert r["feasible"] is True
    assert set(r["parallelism"]) >= {"tp", "pp", "cp", "ep", "dp", "vp", "micro_batch", "recompute", "zero"}
    assert set(r["search"]) >= {"configs_evaluated", "feasible_configs", "search_time_s"}
    assert 0 < r["mfu_frac"] < 1 and 0 < r["goodput_frac"] <= 1
    assert r["wall_time_s"] == pytest.approx(r["compute_time_s"] / r["goodput_frac"])
    assert r["gpu_hours"] == pytest.approx(64 * r["wall_time_s"] / 3600)
    assert r["facility_energy_j"] == pytest.approx(1.2 * r["it_energy_j"])
    assert r["tokens"] == 15e12


def test_infeasible_exits_3():
    p = _cli("--model", "llama-3.1-405b", "--hardware", "h100-sxm", "--gpus", "8", "--json")
    assert p.returncode == 3
    r = json.loads(p.stdout)
    assert r["feasible"] is False and "memory" in r["reason"]


@pytest.mark.parametrize("args", [["--tokens", "lots"], ["--recompute", "some"], ["--zero", "5"], ["--gpus", "0"],
                                  ["--hardware", "nope-gpu"], ["--tp", "3"]])
def test_bad_input_exits_2(args):
    base = {"--model": "llama-3-8b", "--hardware": "h100-sxm", "--gpus": "64"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    flat = [x for kv in base.items() for x in kv]
    p = _cli(*flat)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr


def test_overrides_change_outputs():
    base = dict(model="llama-3-8b", hardware="h100-sxm", gpus=64, tokens=1e12)
    a = train(TrainRequest(**base))
    b = train(TrainRequest(**base, failure_rate_per_gpu_hour=1e-3))
    assert b["goodput_frac"] < a["goodput_frac"]
    c = train(TrainRequest(**base, economics={"usd_per_gpu_hour": 4.0}))
    assert c["cost_usd"] == pytest.approx(4.0 * c["gpu_hours"])
    d = train(TrainRequest(**base, tp=2, pp=1))
    assert d["parallelism"]["tp"] == 2 and d["parallelism"]["pp"] == 1


def test_fp8_not_a_free_2x():
    base = dict(model="llama-3-70b", hardware="h100-sxm", gpus=256, tokens=1e12, tp=8, pp=4, recompute="selective", zero=1)
    bf = train(TrainRequest(**base))
    f8 = train(TrainRequest(**base, precision="fp8"))
    speed = f8["tokens_per_s"] / bf["tokens_per_s"]
    assert 1.05 < speed < 1.6


def test_step_profile_keys():
    p = step_profile(TrainRequest(model="llama-3-8b", hardware="h100-sxm", gpus=64))
    for k in ("step_time_s", "compute_time_s", "exposed_comm_time_s", "tokens_per_step", "gpu_power_compute_w",
              "gpu_power_comm_w", "checkpoint_bytes"):
        assert k in p
    assert p["compute_time_s"] + p["exposed_comm_time_s"] == pytest.approx(p["step_time_s"])
    assert p["gpu_power_comm_w"] < p["gpu_power_compute_w"]
