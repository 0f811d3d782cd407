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
from costsim.units import S_PER_YEAR

PRICE_POINTS = 41  # priced sizes (log grid); the plan's optimum is searched on a finer grid between them


def plan_economics(req: PlanRequest) -> EconomicsSpec:
    if req.region is None:
        return req.economics
    from costsim.power.signals import load_region

    prof = load_region(req.region)
    t = np.arange(8760) * 3600.0
    return req.economics.model_copy(update={"electricity_usd_per_kwh": float(np.mean(prof.price.at(t))),
                                            "grid_gco2e_per_kwh": float(np.mean(prof.carbon.at(t)))})


@dataclass(frozen=True)
class PriceGrid:
    """The priced model sizes (parameters, ascending) with their training and serving prices."""

    n: np.ndarray
    train: list[TrainPrice]
    serve: list[ServePrice]

    def at(self, attr: str, phase: str, n_new) -> np.ndarray:
        rows = self.train if phase == "train" else self.serve
        return loglog_interp(n_new, self.n, [getattr(r, attr) if r.feasible else math.nan for r in rows])


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
    ns = np.logspace(math.log10(req.min_params), math.log10(req.max_params), PRICE_POINTS)
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
    c = {
        "train_usd": d * prices.at("usd_per_token", "train", n),
        "train_j": d * prices.at("facility_j_per_token", "train", n),
        "train_kg": d * prices.at("co2e_kg_per_token", "train", n),
        "train_gpu_h": d * prices.at("gpu_hours_per_token", "train", n),
        "train_days": d / prices.at("tokens_per_s", "train", n) / 86400.0,
        "train_peak_w": prices.at("peak_power_w", "train", n) * np.ones_like(d),
        "serve_usd": out_tokens * prices.at("usd_per_token", "serve", n) * np.ones_like(d),
        "serve_j": out_tokens * prices.at("facility_j_per_token", "serve", n) * np.ones_like(d),
        "serve_kg": out_tokens * prices.at("co2e_kg_per_token", "serve", n) * np.ones_like(d),
        "serve_gpus": rate / prices.at("tokens_per_s_per_gpu", "serve", n) * np.ones_like(d),
    }
    k = float(req.peak_to_mean)
    if k > 1.0:  # a fleet sized for the peak: k x the busy accelerators, the extra (k - 1) idle on average
        busy_gpu_s = out_tokens / prices.at("tokens_per_s_per_gpu", "serve", n)  # accelerator-seconds the tokens take
        idle_j = (k - 1.0) * busy_gpu_s * prices.at("idle_facility_w_per_gpu", "serve", n)
        e_tok = prices.at("facility_j_per_token", "serve", n)
        # the electricity share of a token's price, per joule (0 where the rental price includes the power); the two
        # interpolated prices can differ by rounding where they are equal, hence the floor at 0
        usd_per_j = np.maximum(prices.at("usd_per_token", "serve", n) - prices.at("capacity_usd_per_token", "serve", n), 0.0) / e_tok
        embodied = prices.at("embodied_kg_per_token", "serve", n)
        kg_per_j = np.maximum(prices.at("co2e_kg_per_token", "serve", n) - embodied, 0.0) / e_tok
        c["serve_usd"] = c["serve_usd"] + (k - 1.0) * out_tokens * prices.at("capacity_usd_per_token", "serve", n) + idle_j * usd_per_j
        c["serve_j"] = c["serve_j"] + idle_j * np.ones_like(d)
        c["serve_kg"] = c["serve_kg"] + (k - 1.0) * out_tokens * embodied + idle_j * kg_per_j
        c["serve_gpus"] = k * c["serve_gpus"]
    c["serve_peak_w"] = c["serve_gpus"] * prices.at("facility_w_per_gpu", "serve", n)
    if out_tokens == 0:
        for k in ("serve_usd", "serve_j", "serve_kg", "serve_gpus", "serve_peak_w"):
            c[k] = np.zeros_like(d)
    return c
