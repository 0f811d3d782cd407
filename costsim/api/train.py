"""`train(request) -> dict`: core-only training estimate (layout search, step time, whole run)."""

from __future__ import annotations

import math
from typing import Any

from costsim.api.energy_rates import energy_rates, with_region_rates
from costsim.api.trust import band_dict
from costsim.core.search import MOE_ONLY_LAYOUT_KEYS
from costsim.core.trust import MODE_LORA
from costsim.errors import InputError
from costsim.estimators.training import estimate, step_profile
from costsim.numtext import sig
from costsim.specs.requests import TrainRequest

__all__ = ["train", "step_profile", "shown_layout", "request_warnings", "fewer_gpus", "MOE_ONLY_LAYOUT_KEYS"]

#: the node-aligned counts below a request's GPUs that `fewer_gpus` also prices (the largest multiple of each, at least
#: FEWER_GPUS_MIN_FRAC of the request) and the least gain it reports
FEWER_GPUS_MULTIPLES = (16, 32, 64, 128, 256)
FEWER_GPUS_MIN_FRAC = 0.9
FEWER_GPUS_MIN_GAIN_FRAC = 0.01

# The shortest sequences in published language-model training: BERT's phase 1 at 128 tokens (Devlin et al. 2019,
# Sec. A.2). Below this a request is valid but prices a regime no published run measured (per-sequence work dominates).
SHORTEST_PUBLISHED_SEQ_LEN_TOKENS = 128


def shown_layout(par: dict[str, Any], moe: bool | None = None) -> dict[str, Any]:
    """A layout row for a reader: without expert tensor parallelism and the all-to-all overlap unless there are experts
    (`moe`, default: this row's ep > 1), and without activation offload unless it is on."""
    moe = (par.get("ep") or 1) > 1 if moe is None else moe
    return {k: v for k, v in par.items() if (moe or k not in MOE_ONLY_LAYOUT_KEYS)
            and not (k == "activation_offload" and not v)}


def request_warnings(request: TrainRequest) -> list[str]:
    """Plain warnings for a valid request outside every published training regime (empty when ordinary)."""
    if request.seq_len < SHORTEST_PUBLISHED_SEQ_LEN_TOKENS:
        return [f"sequence length {request.seq_len:,} token{'s' if request.seq_len != 1 else ''} is shorter than any published language-model training run "
                f"(BERT's phase 1: {SHORTEST_PUBLISHED_SEQ_LEN_TOKENS} tokens); per-sequence work dominates the step and "
                "no validation case covers it. Check --seq-len."]
    return []


def gpu_limit(gpus: int | None, what: str) -> None:
    """The accelerators of one request against the work limit `costsim limits` shows (COSTSIM_MAX_GPUS lowers it; the
    request's field bound is the most it may be raised to)."""
    from costsim.specs.limits import WorkEstimate, limit, require

    if gpus is not None:
        require([WorkEstimate("gpus", float(gpus), limit("gpus"), what, f"Lower {what}.")])


def fewer_gpus(request: TrainRequest, result: dict[str, Any]) -> dict[str, Any] | None:
    """A shorter run on fewer of the request's GPUs, where one exists: the search must use every GPU (dp = gpus / (tp pp
    cp)), so 872 GPUs (8 x 109) leave Llama 3 70B only layouts slower than 864's by 7 %. Prices the largest multiples of
    16 to 256 within 10 % below the count and returns the fastest that beats the request's wall time by 1 % or more
    ({gpus, wall_time_s, cost_usd, gain_frac, text}); None otherwise, or when the request fixes dp."""
    request = with_region_rates(request)  # its cost at the same electricity rates as the run it is set against
    wall = result.get("wall_time_s") if isinstance(result, dict) else None
    if request.dp is not None or not result.get("feasible") or not isinstance(wall, (int, float)) or not math.isfinite(wall):
        return None
    n = request.gpus
    counts = sorted({(n // m) * m for m in FEWER_GPUS_MULTIPLES if FEWER_GPUS_MIN_FRAC * n <= (n // m) * m < n}, reverse=True)
    best = None
    for k in counts:
        try:
            r = estimate(request.model_copy(update={"gpus": k}))
        except InputError:  # a fixed size the smaller count cannot hold: not an option
            continue
        w = r.get("wall_time_s") if r.get("feasible") else None
        if isinstance(w, (int, float)) and math.isfinite(w) and w < wall * (1 - FEWER_GPUS_MIN_GAIN_FRAC) and (best is None or w < best[1]):
            best = (k, w, r.get("cost_usd"))
    if best is None:
        return None
    k, w, usd = best
    gain = 1 - w / wall
    text = (f"With {k:,} of the {n:,} GPUs the run is {100 * gain:.0f}% shorter ({sig(w / 86400)} days against "
            f"{sig(wall / 86400)}): every layout of {n:,} must use all of them, and they divide less well.")
    return {"gpus": k, "wall_time_s": w, "cost_usd": usd, "gain_frac": gain, "text": text}


def train(request: TrainRequest) -> dict[str, Any]:
    """Search the fastest parallel layout and estimate the whole run (see costsim.estimators.training)."""
    gpu_limit(request.gpus, "--gpus")
    request = with_region_rates(request)
    result = estimate(request)
    if isinstance(result, dict):
        result["energy_rates"] = energy_rates(request).to_dict()
        mode = MODE_LORA if request.lora_rank else None  # a LoRA run reads on the LoRA cases first
        result["error_band"] = band_dict("training", request.hardware, request.gpus, request.model, mode=mode)
        result["power_error_band"] = band_dict("power", request.hardware, request.gpus, request.model)
        if warns := request_warnings(request):
            result["warnings"] = list(result.get("warnings") or []) + warns
    return result
