"""`costsim serve --requests N`: an offline batch job of N requests queued at once on the chosen deployment
(wall time in waves of the batch, energy, cost, CO2e), its JSON key `job`, and its bad-input answers."""

import json
import subprocess
import sys

import pytest

from costsim.api.serve import serve
from costsim.core import inference as core
from costsim.core.serving_curve import finite_job
from costsim.estimators.inference import core_inputs
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.requests import ServeRequest

JOB_KEYS = ["requests", "replicas", "requests_per_replica_max", "batch_per_replica", "waves", "wall_time_s", "output_tokens",
            "throughput_tokens_per_s", "steady_throughput_tokens_per_s", "gpu_hours", "gpu_energy_j", "facility_energy_j",
            "cost_usd", "co2e_kg"]


def _serve(**kw):
    base = dict(model="llama-3.1-8b", hardware="h100-sxm", input_tokens=1000, output_tokens=500)
    return serve(ServeRequest(**{**base, **kw}), with_curve=False)


def _cli(*args):
    return subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", "serve", *args],
                          capture_output=True, text=True, timeout=120)


def test_a_long_job_runs_at_the_steady_state_and_costs_its_rate():
    r = _serve(gpus=8, requests=10_000_000)
    j = r["job"]
    assert set(JOB_KEYS) <= set(j)
    assert j["throughput_tokens_per_s"] == pytest.approx(r["throughput_tokens_per_s"], rel=1e-3)
    assert j["output_tokens"] == 10_000_000 * 500
    # the steady state's $ and J per token, over the job's tokens (every replica busy to the end, within a wave)
    assert j["cost_usd"] == pytest.approx(r["cost_usd_per_million_tokens"] * j["output_tokens"] / 1e6, rel=2e-3)
    assert j["gpu_energy_j"] == pytest.approx(r["gpu_energy_per_token_j"] * j["output_tokens"], rel=2e-3)
    assert j["gpu_hours"] == pytest.approx(8 * j["wall_time_s"] / 3600)


def test_a_job_smaller_than_a_batch_is_one_part_full_wave():
    r = _serve(requests=40)
    j = r["job"]
    assert r["batch"] > 40 and j["waves"] == 1 and j["replicas"] == 1
    ci = core_inputs(get_model("llama-3.1-8b"), get_accelerator("h100-sxm"), r["weight_precision"], r["kv_precision"], "default")
    lay = core.Layout(tp=r["layout"]["tp"], pp=r["layout"]["pp"], ep=r["layout"]["ep"])
    assert j["wall_time_s"] == pytest.approx(float(finite_job(ci.shape, ci.dev, ci.prec, lay, 40.0, 1000, 500, 40)["job_time_s"]))
    # a part-full wave runs below the steady state and draws less than a full batch's power per GPU
    assert j["throughput_tokens_per_s"] < 0.5 * r["throughput_tokens_per_s"]
    assert j["gpu_energy_j"] < r["gpu_power_w"] * j["wall_time_s"]


def test_the_busiest_replica_sets_the_wall_time_and_idle_gpus_draw_idle_power():
    even = _serve(gpus=8, requests=8 * 300)["job"]
    odd = _serve(gpus=8, requests=8 * 300 + 1)["job"]
    assert even["replicas"] == odd["replicas"]
    reps = even["replicas"]
    assert even["requests_per_replica_max"] == 8 * 300 // reps
    assert odd["requests_per_replica_max"] == even["requests_per_replica_max"] + 1
    assert odd["wall_time_s"] >= even["wall_time_s"]
    # one extra request on one replica: the others finish with the even job and idle until the last one does
    r = _serve(gpus=8, requests=8 * 300 + 1)
    p_idle = r["gpu_power_by_phase_w"]["idle"]
    assert odd["gpu_energy_j"] > even["gpu_energy_j"] + 7 * p_idle * 0.5 * (odd["wall_time_s"] - even["wall_time_s"])
    assert odd["gpu_energy_j"] < 8 * 700.0 * odd["wall_time_s"]


def test_more_gpus_finish_a_job_sooner():
    one = _serve(gpus=1, requests=200_000)["job"]
    eight = _serve(gpus=8, requests=200_000)["job"]
    assert eight["wall_time_s"] < one["wall_time_s"] / 4


def test_cli_leads_with_the_job_and_json_carries_it():
    r = _cli("--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--gpus", "2", "--requests", "1e5")
    assert r.returncode == 0, r.stderr
    answer = " ".join(r.stdout.split("Best use of")[0].split())   # the first sentence, however the terminal wraps it
    assert answer.startswith("100,000 requests (512 tokens in, 256 out) take") and "of facility energy" in answer
    assert "offline job: 100,000 requests queued at once" in r.stdout
    doc = json.loads(_cli("--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--requests", "300", "--json").stdout)
    assert doc["job"]["requests"] == 300 and doc["job"]["wall_time_s"] > 0
    plain = json.loads(_cli("--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--json").stdout)
    assert "job" not in plain


@pytest.mark.parametrize("value", ["0", "-5", "2.5", "lots", "1e16", "nan"])
def test_bad_request_counts_exit_2_naming_the_flag(value):
    r = _cli("--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--requests", value)
    assert r.returncode == 2, (value, r.stdout, r.stderr)
    assert "requests" in (r.stderr + r.stdout) and "Traceback" not in r.stderr


def test_an_infeasible_deployment_prices_no_job():
    r = _cli("--model", "llama-3.1-405b", "--hardware", "h100-sxm", "--gpus", "1", "--requests", "10")
    assert r.returncode == 3
    assert "offline job is not priced" in r.stdout
    doc = json.loads(_cli("--model", "llama-3.1-405b", "--hardware", "h100-sxm", "--gpus", "1", "--requests", "10", "--json").stdout)
    assert doc["job"] is None


def test_runners_up_carry_their_job_time_and_a_faster_one_is_named():
    """A small job favours fewer, wider replicas (faster per sequence) over the steady-state winner: each runner-up
    carries its own wall time for the job, and the CLI names one that finishes at least 5 % sooner."""
    r = serve(ServeRequest(model="llama-3.1-70b", hardware="h100-sxm", gpus=8, requests=100), with_curve=False)
    ups = r["runners_up"]
    assert ups and all(u["job_wall_time_s"] > 0 for u in ups)
    fastest = min(ups, key=lambda u: u["job_wall_time_s"])
    assert fastest["job_wall_time_s"] < 0.95 * r["job"]["wall_time_s"]
    # for a long job the ranking by steady throughput and by job time agree within a wave's tail
    long = serve(ServeRequest(model="llama-3.1-70b", hardware="h100-sxm", gpus=8, requests=1_000_000), with_curve=False)
    assert min(u["job_wall_time_s"] for u in long["runners_up"]) > 0.98 * long["job"]["wall_time_s"]
    out = _cli("--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--gpus", "8", "--requests", "100")
    assert out.returncode == 0 and "would finish first" in " ".join(out.stdout.split())
    plain = serve(ServeRequest(model="llama-3.1-70b", hardware="h100-sxm", gpus=8), with_curve=False)
    assert all("job_wall_time_s" not in u for u in plain["runners_up"])
