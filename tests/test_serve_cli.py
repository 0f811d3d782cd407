"""`costsim serve` CLI: JSON keys, exit codes."""

import json
import subprocess
import sys

import pytest

from costsim.api.serve import serve
from costsim.specs.requests import ServeRequest

KEYS = ["feasible", "reason", "batch", "max_batch", "memory_per_gpu_bytes", "kv_cache_bytes_per_token", "prefill_time_s",
        "ttft_s", "prefill_tokens_per_s", "decode_step_time_s", "tpot_s", "decode_tokens_per_s", "throughput_tokens_per_s",
        "gpu_power_w", "gpu_energy_per_token_j", "facility_energy_per_token_j", "cost_usd_per_million_tokens"]


def _cli(*args):
    return subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", "serve", *args],
                          capture_output=True, text=True, timeout=120)


def test_json_keys_and_values():
    r = _cli("--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--batch", "32", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    for k in KEYS:
        assert k in doc
    assert doc["feasible"] is True and doc["batch"] == 32
    assert doc["tpot_s"] > doc["decode_step_time_s"] > 0
    assert doc["decode_tokens_per_s"] == pytest.approx(32 / doc["decode_step_time_s"])
    assert doc["facility_energy_per_token_j"] > doc["gpu_energy_per_token_j"] > 0
    assert doc["kv_cache_bytes_per_token"] == 2 * 8 * 128 * 32 * 2


def test_infeasible_exits_3():
    r = _cli("--model", "llama-3.1-405b", "--hardware", "h100-sxm", "--gpus", "1", "--json")
    assert r.returncode == 3
    doc = json.loads(r.stdout)
    assert doc["feasible"] is False and "GB" in doc["reason"]


def test_infeasible_human_output_has_no_trust_range():
    """An infeasible result printed its throughput and power trust ranges, which qualify no number (a helper's audit)."""
    r = _cli("--model", "llama-3.1-405b", "--hardware", "h100-sxm", "--gpus", "1")
    assert r.returncode == 3 and "GB" in r.stdout
    assert "Trust range" not in r.stdout


def test_an_unpriced_device_says_why_its_cost_reads_dash():
    """The table's cost read '-' with no reason (only --json carried cost_unavailable_reason) (a helper's audit)."""
    r = _cli("--model", "llama-3.2-1b", "--hardware", "apple-m4-max", "--gpus", "1", "--weight-precision", "int4")
    assert r.returncode == 0, r.stderr
    assert "Cost not priced: apple-m4-max has no price" in r.stdout and "--usd-per-gpu-hour" in r.stdout


def test_bad_values_exit_2():
    assert _cli("--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--batch", "lots").returncode == 2
    assert _cli("--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--weight-precision", "int3").returncode == 2
    assert _cli("--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--gpus", "3", "--tp", "2", "--single-replica").returncode == 2


def test_default_gpus_fewest_that_fit():
    # an H100 "80GB" holds 85.5 GB (nvidia-smi): 138 GB of bf16 weights leave ~14 GB of KV per GPU on 2 under
    # TensorRT-LLM's rule (the default engine on NVIDIA), ~8 GB under vLLM's 90 %; one GPU holds no bf16 70B
    r = serve(ServeRequest(model="llama-2-70b", hardware="h100-sxm"), with_curve=False)
    assert r["feasible"] and r["gpus"] == 2 and r["max_batch"] > 64
    assert "1 node" in r["error_band"]["regime"]  # the trust range of the replica it chose, not of one GPU
    v = serve(ServeRequest(model="llama-2-70b", hardware="h100-sxm", engine="vllm"), with_curve=False)
    assert v["gpus"] == 2 and v["max_batch"] < r["max_batch"]
    # fp8 weights (69 GB with the 16-bit embeddings) fit one GPU, as TensorRT-LLM 0.17's published one-H100 70B rows
    r8 = serve(ServeRequest(model="llama-2-70b", hardware="h100-sxm", weight_precision="fp8"), with_curve=False)
    assert r8["gpus"] == 1
    # a GPU whose usable memory is below the weights is never chosen: 40 GB A100s need 4 for bf16 70B
    r40 = serve(ServeRequest(model="llama-2-70b", hardware="a100-40gb-sxm"), with_curve=False)
    assert r40["gpus"] == 4


def test_slo_limits_batch_and_energy_accounting():
    free = serve(ServeRequest(model="llama-3.1-8b", hardware="h100-sxm"))
    slo = serve(ServeRequest(model="llama-3.1-8b", hardware="h100-sxm", tpot_slo_s=0.02))
    assert slo["tpot_s"] <= 0.02 and slo["batch"] < free["batch"]
    assert len(free["curve"]["batch"]) == len(free["curve"]["throughput_tokens_per_s"])
    pue2 = serve(ServeRequest(model="llama-3.1-8b", hardware="h100-sxm", facility={"pue": 2.0}), with_curve=False)
    pue1 = serve(ServeRequest(model="llama-3.1-8b", hardware="h100-sxm", facility={"pue": 1.0}), with_curve=False)
    assert pue2["facility_energy_per_token_j"] == pytest.approx(2 * pue1["facility_energy_per_token_j"])


def test_top_k_sampling_option():
    """--top-k: the model's published default when absent (Qwen3: 20), 0 = none; only engines that charge top-k
    masking (vLLM) move; bad values exit 2."""
    base = dict(model="qwen3-8b", hardware="h100-sxm", gpus=1, engine="vllm")
    d = serve(ServeRequest(**base))
    g = serve(ServeRequest(**base, top_k=0))
    assert d["sampling_top_k"] == 20 and g["sampling_top_k"] is None
    assert g["throughput_tokens_per_s"] > 1.05 * d["throughput_tokens_per_s"]
    t = dict(base, engine="default")
    assert serve(ServeRequest(**t, top_k=0))["throughput_tokens_per_s"] == pytest.approx(serve(ServeRequest(**t))["throughput_tokens_per_s"])
    r = _cli("--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--gpus", "1", "--engine", "vllm", "--top-k", "50", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["sampling_top_k"] == 50
    for bad in ("-1", "2.5", "abc"):
        r = _cli("--model", "qwen3-8b", "--hardware", "h100-sxm", "--top-k", bad)
        assert r.returncode == 2 and "top-k" in r.stderr.replace("_", "-") and "Traceback" not in r.stderr


def test_output_names_the_device_kind():
    """A TPU budget reads in chips, a Gaudi budget in accelerators, an H100 budget in GPUs (the flag stays --gpus)."""
    from costsim.api.catalog import device_noun

    assert (device_noun("tpu-v6e"), device_noun("gaudi3"), device_noun("h100-sxm"), device_noun("apple-a16")) == (
        "chip", "accelerator", "GPU", "device")
    r = _cli("--model", "llama-3-8b", "--hardware", "tpu-v6e", "--gpus", "8")
    assert r.returncode == 0, r.stderr
    assert " chips (" in r.stdout.splitlines()[0] or " chip (" in r.stdout.splitlines()[0]
    assert "memory per chip" in r.stdout and "memory per GPU" not in r.stdout


def test_output_length_spread_lengthens_the_running_context_and_lowers_throughput():
    """--output-tokens-cv: long answers hold their slot longer, so the running sequences' mean context is
    input + output (1 + cv^2) / 2; the decode step lengthens, the prompt pass does not, and the JSON says which context
    was priced. 0 is today's identical-requests curve."""
    from costsim.core.serving_curve import decode_context_tokens

    assert float(decode_context_tokens(800, 4000, 0.0)) == 2800.0
    assert float(decode_context_tokens(800, 4000, 1.25)) == pytest.approx(800 + 2000 * (1 + 1.25 ** 2))
    base = dict(model="llama-3.1-8b", hardware="h100-sxm", batch=64, input_tokens=512, output_tokens=2048)
    r0 = serve(ServeRequest(**base))
    r1 = serve(ServeRequest(**base, output_tokens_cv=1.0))
    assert r0["output_tokens_cv"] == 0.0 and r0["decode_context_tokens"] == 512 + 1024
    assert r1["decode_context_tokens"] == 512 + 2048
    assert r1["decode_step_time_s"] > r0["decode_step_time_s"]
    assert r1["prefill_time_s"] == pytest.approx(r0["prefill_time_s"])
    assert r1["throughput_tokens_per_s"] < r0["throughput_tokens_per_s"]
    r = _cli("--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--gpus", "2", "--output-tokens-cv", "1", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["output_tokens_cv"] == 1.0


@pytest.mark.parametrize("value, extra, needle", [
    ("nan", [], "--output-tokens-cv"), ("-1", [], "output_tokens_cv"), ("11", [], "output_tokens_cv"),
    ("1", ["--requests", "100"], "identical requests")])
def test_output_length_spread_refuses_bad_values_and_finite_jobs(value, extra, needle):
    r = _cli("--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--output-tokens-cv", value, *extra)
    assert r.returncode == 2
    assert needle in r.stderr and "Traceback" not in r.stderr
