"""The plan's price grid: every priced model size's training and serving price on the request's hardware, site and
economics (costsim.estimators.plan_pricing), cached per process on what each phase depends on, and the phase costs of
arrays of (N, D) interpolated from it in log-log. costsim.api.plan searches the iso-loss curve over these costs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from costsim.errors import InputError
from costsim.estimators.plan_pricing import (ServePrice, TrainPrice, loglog_interp, price_serving, price_training,
                                            synthetic_model)
from costsim.specs.catalog import get_accelerator
from costsim.specs.plan import PlanRequest
from costsim.specs.site import EconomicsSpec
from costsim.units import S_PER_DAY, S_PER_YEAR

#: priced sizes per decade of parameters, on a fixed lattice 10^(k/8): the priced sizes (and so the plan) do not move
#: when --min-params / --max-params change without binding (41 sizes over the default 1e8..1e13); the plan's optimum is
#: searched on a finer lattice between them
PRICE_POINTS_PER_DECADE = 8


def size_lattice(min_params: float, max_params: float, per_decade: int) -> np.ndarray:
    """Model sizes 10^(k / per_decade) between the bounds, with the bounds themselves (ascending, unique): a grid
    anchored to round sizes, so a bound that does not bind leaves the sizes inside it where they were."""
    lo, hi = math.log10(min_params), math.log10(max_params)
    k = np.arange(math.ceil(lo * per_decade - 1e-9), math.floor(hi * per_decade + 1e-9) + 1)
    return np.unique(np.concatenate([[min_params], 10.0 ** (k / per_decade), [max_params]]))


def plan_economics(req: PlanRequest) -> EconomicsSpec:
    from costsim.power.signals import region_mean_economics

    return region_mean_economics(req.economics, req.region)


@dataclass(frozen=True)
class PriceGrid:
    """The priced model sizes (parameters, ascending) with their training and serving prices."""

    n: np.ndarray
    train: list[TrainPrice]
    serve: list[ServePrice]

    def at(self, attr: str, phase: str, n_new) -> np.ndarray:
        rows = self.train if phase == "train" else self.serve
        return loglog_interp(n_new, self.n, [getattr(r, attr) if r.feasible else math.nan for r in rows])

    def at_or_above(self, attr: str, phase: str, n_new) -> np.ndarray:
        """A whole-number attribute (GPUs of a replica) at the smallest priced size at or above each size: not
        interpolated, since a model between two priced sizes needs at least the replica of the smaller and is given the
        larger's (nan above the priced sizes or where that size has no price)."""
        rows = self.train if phase == "train" else self.serve
        vals = np.array([float(getattr(r, attr)) if r.feasible else math.nan for r in rows])
        n_new = np.asarray(n_new, float)
        i = np.searchsorted(self.n, n_new * (1 - 1e-9), side="left")
        return np.where(i < len(vals), vals[np.minimum(i, len(vals) - 1)], math.nan)


#: what the priced training and serving sizes depend on (besides the economics): each phase is cached on its own fields,
#: so a comparison of serving hardware reuses the training grid and the other way round
TRAIN_PRICE_FIELDS = ("train_hardware", "train_gpus", "train_precision", "min_params", "max_params", "facility")
SERVE_PRICE_FIELDS = ("serve_hardware", "serve_precision", "input_tokens", "output_tokens", "min_params", "max_params", "facility",
                      "serve_engine", "ttft_slo_s", "tpot_slo_s")


def check_serve_engine(req: PlanRequest) -> None:
    """An unknown engine, or one that does not run on the serving hardware, is bad input (exit 2), not an
    infeasible plan."""
    from costsim.estimators.inference import device_parameters

    try:
        device_parameters(get_accelerator(req.serve_hardware), req.serve_engine)
    except InputError as exc:
        raise InputError(f"--serve-engine: {exc.message}", field="serve_engine") from None


def serve_kw(req: PlanRequest) -> dict[str, Any]:
    """How the serving fleet is priced: engine profile and latency limits (the deployment search honours them)."""
    return {"engine": req.serve_engine, "ttft_slo_s": req.ttft_slo_s, "tpot_slo_s": req.tpot_slo_s}


def price_grid(req: PlanRequest, econ: EconomicsSpec) -> PriceGrid:
    """The priced sizes; each phase cached per process on what its pricing depends on (a sweep over demand, fit or
    target prices once; a comparison of hardware prices each training and each serving choice once)."""
    ns = size_lattice(req.min_params, req.max_params, PRICE_POINTS_PER_DECADE)
    models = [synthetic_model(n) for n in ns]
    real_n = np.array([float(m.params_total) for m in models])
    e = "|" + econ.model_dump_json()

    def train() -> list[TrainPrice]:
        ta = get_accelerator(req.train_hardware)
        return [price_training(m, ta, req.train_gpus, precision=req.train_precision, facility=req.facility, economics=econ)
                for m in models]

    def serve() -> list[ServePrice]:
        sa = get_accelerator(req.serve_hardware)
        return [price_serving(m, sa, input_tokens=req.input_tokens, output_tokens=req.output_tokens,
                              weight_precision=req.serve_precision, facility=req.facility, economics=econ, **serve_kw(req))
                for m in models]

    return PriceGrid(real_n, _cached("train|" + req.model_dump_json(include=set(TRAIN_PRICE_FIELDS)) + e, train),
                     _cached("serve|" + req.model_dump_json(include=set(SERVE_PRICE_FIELDS)) + e, serve))


_PRICE_CACHE: dict[str, list] = {}


def _cached(key: str, build):
    hit = _PRICE_CACHE.get(key)
    if hit is None:
        hit = build()
        if len(_PRICE_CACHE) >= 64:
            _PRICE_CACHE.pop(next(iter(_PRICE_CACHE)))
        _PRICE_CACHE[key] = hit
    return hit


def phase_costs(req: PlanRequest, prices: PriceGrid | None, n, d, out_tokens: float):
    """Vectorized training and serving costs over arrays of N and D (dict of arrays)."""
    n = np.asarray(n, float)
    d = np.asarray(d, float)
    if prices is None:
        return {}
    rate = out_tokens / (req.years * S_PER_YEAR)  # output tokens per second of the fleet
    ones = np.ones_like(d)
    usd_tok, j_tok, kg_tok, tok_s_gpu = (prices.at(a, "serve", n) for a in
                                         ("usd_per_token", "facility_j_per_token", "co2e_kg_per_token", "tokens_per_s_per_gpu"))
    c = {
        "train_usd": d * prices.at("usd_per_token", "train", n),
        "train_j": d * prices.at("facility_j_per_token", "train", n),
        "train_kg": d * prices.at("co2e_kg_per_token", "train", n),
        "train_gpu_h": d * prices.at("gpu_hours_per_token", "train", n),
        "train_days": d / prices.at("tokens_per_s", "train", n) / S_PER_DAY,
        "train_peak_w": prices.at("peak_power_w", "train", n) * ones,
        "serve_usd": out_tokens * usd_tok * ones,
        "serve_j": out_tokens * j_tok * ones,
        "serve_kg": out_tokens * kg_tok * ones,
        "serve_gpus": rate / tok_s_gpu * ones,
    }
    # the fleet: peak x the accelerators the mean demand keeps busy, and never less than one replica of the deployment
    # (a 70B model is not served on a fraction of an accelerator); what it holds beyond the busy ones idles on average
    busy = c["serve_gpus"]
    c["serve_busy_gpus"] = busy
    fleet = np.fmax(float(req.peak_to_mean) * busy, prices.at_or_above("gpus_per_replica", "serve", n))  # (a missing replica: no floor)
    if out_tokens > 0 and np.any(fleet > busy):
        extra = np.where(fleet > busy, fleet / busy - 1.0, 0.0)  # idle accelerators per busy one
        idle_j = extra * out_tokens / tok_s_gpu * prices.at("idle_facility_w_per_gpu", "serve", n)
        capacity_usd_tok = prices.at("capacity_usd_per_token", "serve", n)
        embodied_kg_tok = prices.at("embodied_kg_per_token", "serve", n)
        # the electricity and operational-carbon shares of a token, per joule (0 where the rental price includes the
        # power); two interpolated prices that are equal can differ by rounding, hence the floor at 0
        usd_per_j = np.maximum(usd_tok - capacity_usd_tok, 0.0) / j_tok
        kg_per_j = np.maximum(kg_tok - embodied_kg_tok, 0.0) / j_tok
        c["serve_usd"] = c["serve_usd"] + extra * out_tokens * capacity_usd_tok + idle_j * usd_per_j
        c["serve_j"] = c["serve_j"] + idle_j * ones
        c["serve_kg"] = c["serve_kg"] + extra * out_tokens * embodied_kg_tok + idle_j * kg_per_j
        c["serve_gpus"] = fleet * ones
    c["serve_peak_w"] = c["serve_gpus"] * prices.at("facility_w_per_gpu", "serve", n)
    if out_tokens == 0:
        for key in ("serve_usd", "serve_j", "serve_kg", "serve_gpus", "serve_busy_gpus", "serve_peak_w"):
            c[key] = np.zeros_like(d)
    return c
