"""Speculative decoding (DeepSeek MTP, EAGLE): the yield of a verify step, the verify pass's extra rows, the drafts'
cost, the per-token step every consumer sees, and the request fields on the CLI, the API and scenarios."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from costsim.cli import _register, app
from costsim.core import inference as core
from costsim.core.speculative import tokens_per_step
from costsim.estimators.inference import core_inputs
from costsim.estimators.inference_inputs import with_speculation
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.requests import ServeRequest


def test_yield_of_a_verify_step():
    assert float(tokens_per_step(0, 0.9)) == 1.0
    assert float(tokens_per_step(1, 0.85)) == pytest.approx(1.85)  # DeepSeek-V3's MTP: 85 % second-token acceptance
    assert float(tokens_per_step(3, 0.7)) == pytest.approx(1 + 0.7 + 0.49 + 0.343)
    assert float(tokens_per_step(4, 1.0)) == 5.0


def _ci(k, a, model="deepseek-v3"):
    return core_inputs(with_speculation(get_model(model), k, a), get_accelerator("h200"), "fp8", "fp8", "tensorrt-llm-pytorch")


def test_speculation_pays_at_small_batches_and_not_when_gemms_bind():
    lay = core.Layout(tp=8)
    base, spec = _ci(0, None), _ci(3, 0.7)
    t = {b: (float(core.decode_step_time_s(base.shape, base.dev, base.prec, lay, b, 2000)),
             float(core.decode_step_time_s(spec.shape, spec.dev, spec.prec, lay, b, 2000))) for b in (1, 4096)}
    assert t[1][1] < 0.7 * t[1][0]  # memory-bound: four rows per weight read, ~2.5 tokens per step
    assert t[4096][1] > t[4096][0]  # compute-bound: 4x the GEMM rows for 2.5x the tokens


def test_verify_pass_reads_the_kv_cache_once_and_computes_every_query():
    plain = _ci(0, None)
    lay = core.Layout(tp=8)
    one = core.decode_step_pass(plain.shape, plain.dev, plain.prec, lay, 64, 8000)
    four = core.decode_step_pass(plain.shape, plain.dev, plain.prec, lay, 64, 8000, queries_per_seq=4.0)
    assert float(four["kv_bytes_per_gpu"]) == pytest.approx(float(one["kv_bytes_per_gpu"]))
    assert float(four["attention_flop_per_gpu"]) == pytest.approx(4 * float(one["attention_flop_per_gpu"]))
    assert float(four["weights_flop_per_gpu"]) > 3.5 * float(one["weights_flop_per_gpu"])


def test_a_step_stays_one_token_per_sequence_for_every_consumer():
    spec = _ci(1, 0.85)
    lay = core.Layout(tp=8)
    bd = core.decode_step_breakdown(spec.shape, spec.dev, spec.prec, lay, 32, 4000)
    verify = core.decode_step_pass(_ci(0, None).shape, spec.dev, spec.prec, lay, 32, 4000, queries_per_seq=2.0)
    assert float(bd["step_time_s"]) == pytest.approx((float(verify["step_time_s"]) + float(bd["draft_s"]) * 1.85) / 1.85)
    assert float(bd["kv_bytes_per_gpu"]) == pytest.approx(float(verify["kv_bytes_per_gpu"]) / 1.85)
    assert float(bd["draft_s"]) > 0
    # the draft (about one more layer) takes memory
    assert float(core.weight_bytes_per_gpu(spec.shape, spec.prec, lay)) > float(
        core.weight_bytes_per_gpu(_ci(0, None).shape, spec.prec, lay))


def test_requests_need_an_acceptance_rate_with_drafts():
    with pytest.raises(ValueError, match="acceptance_frac"):
        ServeRequest(model="deepseek-v3", hardware="h200", speculative_tokens=2)
    with pytest.raises(ValueError, match="acceptance_frac"):
        ServeRequest(model="deepseek-v3", hardware="h200", speculative_tokens=2, acceptance_frac=1.0)
    ServeRequest(model="deepseek-v3", hardware="h200", speculative_tokens=0)


def test_cli_reports_the_speculation_and_its_speedup():
    _register()
    args = ["serve", "--model", "deepseek-r1", "--hardware", "h200", "--gpus", "8", "--single-replica",
            "--weight-precision", "fp8", "--input-tokens", "1000", "--output-tokens", "1000", "--batch", "8", "--json"]
    plain = json.loads(CliRunner().invoke(app, args).output)
    r = CliRunner().invoke(app, [*args, "--speculative-tokens", "1", "--acceptance-rate", "0.85"])
    assert r.exit_code == 0, r.output
    spec = json.loads(r.output)
    assert spec["speculative_tokens"] == 1 and spec["tokens_per_step"] == pytest.approx(1.85)
    assert 1.2 < spec["throughput_tokens_per_s"] / plain["throughput_tokens_per_s"] < 1.85
    bad = subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", *args[:-1],
                          "--speculative-tokens", "2"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "acceptance_frac" in bad.stderr and "Traceback" not in bad.stderr


def test_published_mtp_speedups_are_held_out_cases_that_pass():
    from costsim.validation.engine import load_cases
    from costsim.validation.inference import predict

    cases = [c for c in load_cases() if c.metric == "speculative_speedup"]
    assert len(cases) >= 5 and not any(c.used_for_fit for c in cases)
    for c in cases:
        assert abs(predict(c) / c.expected - 1) <= c.tolerance_frac, c.id
    bad = cases[0].model_copy(update={"inputs": {**cases[0].inputs, "speculative_tokens": 2.5}})
    with pytest.raises(ValueError, match="speculative_tokens"):
        predict(bad)


def test_mtp_scenario_answers_faster_with_drafts():
    """scenarios/mtp-speculative-decoding-latency.yaml (shortened): DeepSeek-R1's MTP drafts cut the time per output
    token at light load, more with 3 drafts than with 1."""
    from pathlib import Path

    from costsim.api.run import load_scenario, run_scenario

    path = Path(__file__).resolve().parents[1] / "scenarios" / "mtp-speculative-decoding-latency.yaml"
    res = run_scenario(load_scenario(path, ["simulation.duration_s=300", "serving.warmup_s=30"]))
    plain, one, three = (v.parts["serving"].summary for v in res.variants)
    assert three["tpot_p50_s"] < one["tpot_p50_s"] < 0.75 * plain["tpot_p50_s"]
    assert one["tpot_p99_s"] < plain["tpot_p99_s"]
