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


# --- paged-KV engines (vLLM, SGLang, ROCm vLLM): the job admits up to max_num_seqs and preempts by recompute ---

_AMD_405B = dict(model="llama-3.1-405b", hardware="mi300x", gpus=8, single_replica=True, weight_precision="fp8",
                 kv_precision="fp8", engine="rocm-vllm", input_tokens=128, output_tokens=4096)


def test_a_paged_engine_job_is_the_validation_runners_paged_schedule():
    """AMD's Llama 3.1 405B row (1,500 requests, max_num_seqs 1,500, 975 fit at full length): `serve --requests`
    prices the same paged schedule the validation runner checks against the published figure."""
    from costsim.validation import inference as vi
    from costsim.validation.engine import load_cases

    j = serve(ServeRequest(**_AMD_405B, requests=1500, max_num_seqs=1500), with_curve=False)["job"]
    assert j["scheduler"] == "paged" and j["max_num_seqs"] == 1500
    assert j["preemptions"] > 0 and j["recompute_tokens"] > 0
    case = next(c for c in load_cases() if c.id == "I-amd-405b-mi300x8-thr-128-4096")
    assert j["throughput_tokens_per_s"] == pytest.approx(vi.predict(case), rel=1e-9)
    # without max_num_seqs it admits the batch that fits at full length: no preemption, the waves' time
    w = serve(ServeRequest(**_AMD_405B, requests=1500), with_curve=False)["job"]
    assert w["scheduler"] == "paged" and w["preemptions"] == 0
    assert j["wall_time_s"] > w["wall_time_s"]          # preempting and recomputing 525 requests costs more than it gains


def test_a_reserving_engine_keeps_waves_and_max_num_seqs_caps_the_batch():
    r = _serve(gpus=8, requests=5000, max_num_seqs=64)
    assert r["job"]["scheduler"] == "waves" and r["job"]["max_num_seqs"] is None
    assert r["deployment"]["batch_per_replica"] <= 64 and all(u["batch_per_replica"] <= 64 for u in r["runners_up"])
    one = _serve(max_num_seqs=48)
    assert one["batch"] <= 48 < one["max_batch"]


def test_a_large_paged_job_is_extrapolated_from_two_exact_schedules():
    """A share above 2 x max_num_seqs requests is priced at the marginal time per request of the exact schedules
    of 1 and 2 x max_num_seqs; without preemption that is exact, so a long job runs at the steady state."""
    r = serve(ServeRequest(model="llama-3.1-8b", hardware="h100-sxm", engine="vllm", requests=10_000_000,
                           input_tokens=1000, output_tokens=500), with_curve=False)
    j = r["job"]
    assert j["scheduler"] == "paged" and j["preemptions"] == 0
    assert j["throughput_tokens_per_s"] == pytest.approx(r["throughput_tokens_per_s"], rel=0.02)


def test_thrashing_max_num_seqs_is_refused_with_the_bound():
    r = _cli("--model", "llama-3.1-405b", "--hardware", "mi300x", "--gpus", "8", "--single-replica", "--weight-precision", "fp8",
             "--engine", "rocm-vllm", "--input-tokens", "128", "--output-tokens", "4096", "--requests", "1e8",
             "--max-num-seqs", "1e6")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "max_num_seqs" in r.stderr and "--max-num-seqs 3,900 or less" in " ".join(r.stderr.split())


@pytest.mark.parametrize("args", [("--max-num-seqs", "0"), ("--max-num-seqs", "x"), ("--max-num-seqs", "64", "--batch", "128")])
def test_bad_max_num_seqs_exits_2_naming_it(args):
    r = _cli("--model", "llama-3.1-8b", "--hardware", "h100-sxm", *args)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "max_num_seqs" in r.stderr or "--max-num-seqs" in r.stderr
