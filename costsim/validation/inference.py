"""Validation runner for inference cases (kind: inference).

Case inputs:
  model: catalog id, or model_shape: {ModelSpec fields} for models outside the catalog
  hardware: accelerator id;  num_gpus: GPUs the measurement used (default 1)
  tp, pp, ep: layout of one replica (default tp = num_gpus); layout: search -> best throughput
              over TP layouts that fit, replicated over num_gpus (offline throughput cases)
  weight_precision, kv_precision, batch (int or 'max'), input_tokens, output_tokens
  context_tokens: mean context of a decode step (default input_tokens + output_tokens / 2)
  engine: engine profile in costsim.core.inference.ENGINE_PROFILES (default 'default')
metric: decode_tokens_per_s | prefill_tokens_per_s | prefill_time_s | decode_step_time_s |
        throughput_tokens_per_s
"""

from __future__ import annotations

from costsim.core import inference as core
from costsim.core.serving_curve import batch_grid, best_index, serving_curve
from costsim.estimators.inference import (PREFILL_CHUNK_TOKENS, candidate_layouts, device_from_accelerator, precision,
                                          shape_from_model)
from costsim.specs.base import validate_spec
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.model import ModelSpec
from costsim.validation.engine import Case


def _model(inp: dict) -> ModelSpec:
    if "model_shape" in inp:
        return validate_spec(ModelSpec, dict(inp["model_shape"]), what="case model_shape")
    return get_model(inp["model"])


def predict(case: Case) -> float:
    inp = case.inputs
    m = _model(inp)
    a = get_accelerator(inp["hardware"])
    wp = inp.get("weight_precision", "bf16")
    shape = shape_from_model(m)
    prec = precision(wp, inp.get("kv_precision"))
    dev, _, _ = device_from_accelerator(a, wp, inp.get("engine", "default"), inp.get("overrides"))
    n = int(inp.get("num_gpus", 1))
    i = float(inp.get("input_tokens", 0) or 0)
    o = float(inp.get("output_tokens", 0) or 0)
    metric = case.metric
    if inp.get("layout") == "search":
        best = 0.0
        for g, t, p, e in candidate_layouts(m, a):
            if n % g:
                continue
            lay = core.Layout(tp=t, pp=p, ep=e)
            mb = int(core.max_batch(shape, dev, prec, lay, i + o, PREFILL_CHUNK_TOKENS))
            if mb < 1:
                continue
            curve = serving_curve(shape, dev, prec, lay, batch_grid(min(mb, 4096)), i, o)
            k = best_index(curve, max_batch=mb, ttft_slo_s=inp.get("ttft_slo_s"), tpot_slo_s=inp.get("tpot_slo_s"))
            if k >= 0:
                best = max(best, float(curve["throughput_tokens_per_s"][k]) * n / g)
        if best <= 0:
            raise ValueError("no layout fits")
        return best
    lay = core.Layout(tp=int(inp.get("tp", n)), pp=int(inp.get("pp", 1)), ep=int(inp.get("ep", 1)))
    b = float(inp.get("batch", 1))
    if metric in ("decode_tokens_per_s", "decode_step_time_s"):
        ctx = float(inp.get("context_tokens", i + o / 2.0))
        t = float(core.decode_step_time_s(shape, dev, prec, lay, b, ctx))
        return b / t if metric == "decode_tokens_per_s" else t
    if metric in ("prefill_tokens_per_s", "prefill_time_s"):
        t = float(core.prefill_time_s(shape, dev, prec, lay, b, i))
        return b * i / t if metric == "prefill_tokens_per_s" else t
    if metric == "throughput_tokens_per_s":
        return float(serving_curve(shape, dev, prec, lay, b, i, o)["throughput_tokens_per_s"])
    raise ValueError(f"inference runner does not know metric '{metric}'")


def register(runners) -> None:
    runners["inference"] = predict
