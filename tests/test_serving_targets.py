"""Issue 14's serving targets, checked on every held-out serving-throughput case (`kind: inference`, metric
throughput_tokens_per_s): the median |error| <= 15 %, every case beyond 30 % a recorded known gap with its cause, and
the strict bar (no held-out case beyond 30 %) kept as an xfail that says why it is not met."""

from __future__ import annotations

import statistics
from functools import lru_cache

import pytest


@lru_cache(maxsize=1)
def _held_out_serving_throughput():
    from costsim.validation.engine import load_cases, run_cases

    cases = [c for c in load_cases() if c.kind == "inference" and c.metric == "throughput_tokens_per_s"
             and not c.used_for_fit]
    return tuple(cases), tuple(run_cases(cases))


def test_held_out_serving_throughput_targets():
    cases, res = _held_out_serving_throughput()
    gap = {c.id: c.known_gap for c in cases}
    unpriced = [(r.id, r.message) for r in res if r.error_frac is None and not gap.get(r.id)]
    assert not unpriced, f"held-out serving cases without a prediction or a recorded cause: {unpriced}"
    errs = [abs(r.error_frac) for r in res if r.error_frac is not None]
    assert len(errs) >= 800
    assert statistics.median(errs) <= 0.15
    unexplained = [(r.id, round(r.error_frac, 3)) for r in res
                   if r.error_frac is not None and abs(r.error_frac) > 0.30 and not gap.get(r.id)]
    assert not unexplained, f"held-out serving cases beyond 30 % without a recorded cause: {unexplained}"


def test_known_gaps_of_the_gpustack_cases_name_an_input_defined_cause():
    """The GPUStack builder assigns each known gap from the case's inputs (model, part, engine, lengths), never from its
    error, so a case of a gap's group that passes keeps the text but counts as a pass, and a miss outside every group
    fails validation."""
    from costsim.validation.cases.build_gpustack_cases import KNOWN_GAPS
    from costsim.validation.cases.build_gpustack_guidellm_cases import KNOWN_GAPS as GUIDELLM_GAPS

    cases, res = _held_out_serving_throughput()
    heads = tuple(t[:40] for t in (*KNOWN_GAPS.values(), *GUIDELLM_GAPS.values()))  # no placeholder in the first 40 characters
    gps = [c for c in cases if c.id.startswith("I-gps-")]
    assert len(gps) >= 100
    assert all(c.known_gap is None or c.known_gap.startswith(heads) for c in gps)
    status = {r.id: r.status for r in res}
    assert sum(status[c.id] == "pass" for c in gps) >= 20


@pytest.mark.xfail(strict=True, reason="KNOWN GAP, issue 14 bar 'no held-out case worse than 30 %' for serving: "
                   "GPUStack's vLLM / SGLang jobs (GLM-4.6 FP8 on SGLang at 32,000 tokens, 4-token answers bound by the engines' Python front end and gpt-oss-20b's on "
                   "A100, slow single-H100 dense Qwen3 runs), ML.ENERGY's GPU-starved B200 runs, "
                   "TensorRT-LLM's and vLLM's expert-parallel Qwen3-235B rows on Hopper and B200 (fast since the exchange "
                   "is the engines' all-gather, not a per-expert all-to-all), DeepSeek-R1 and gpt-oss on Hopper, "
                   "the RTX PRO 6000 Server Edition's long-prompt one-GPU and eight-GPU expert-parallel Qwen3 rows, MLPerf's Llama 2 70B on 8 H100s (v4.1: with the "
                   "dataset's measured prompts NVIDIA's MLPerf Llama 2 70B rows run 2-31 % below the trtllm-bench-fitted "
                   "GEMM fractions), a half-rate DeepSeek-R1 B300 submission, "
                   "Trainium, TPU JetStream, TPU7x vLLM prompt-heavy and MI300X 405B rows, Qwen3.5-35B-A3B's block-FP8 prompt-heavy row, the hybrid Mamba-2 Nemotron 3 Nano and Super on SGLang builds that ran their prompt passes without prefill graphs and on vLLM 0.16 at 128-400 sequences (its per-sequence time), Qwen3-Next's one-sequence TP 8 step on SGLang, vLLM recipe rows of DeepSeek-V3.2 on eight H20s (its KV cache layout) and INT4 Kimi-K2-Thinking's prompt-heavy job (Marlin experts on Hopper), "
                   "SGLang's DP-attention rows of the sparse-attention models (DeepSeek-V3.2, GLM-5.2) that no costsim layout "
                   "expresses and GLM-5.2's at SGLang's unstated automatic memory fraction, llama.cpp prompt passes on Strix Halo (theoretical WMMA rate) and DGX Spark (MXFP4 experts through int8 kernels), and M3 Ultra decode (a two-die part below its bandwidth); causes in "
                   "the known_gap of each case (costsim validate --json)")
def test_no_held_out_serving_case_beyond_30_percent():
    _, res = _held_out_serving_throughput()
    assert all(r.error_frac is not None for r in res)
    assert max(abs(r.error_frac) for r in res) <= 0.30
