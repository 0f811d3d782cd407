"""Serving API: `serve(request)` (one replica, or the best deployment of a GPU budget) and
`search_deployment(...)` (the typed deployment search the app, scenarios, the serving simulation and
the planner use)."""

from __future__ import annotations

from typing import Any

from costsim.api.energy_rates import energy_rates, with_region_rates
from costsim.api.trust import band_dict
from costsim.errors import InputError
from costsim.estimators.deployment import Deployment, DeploymentSearch, estimate_serve_deployment, search_for_request
from costsim.estimators.inference import estimate_serve
from costsim.estimators.offline_job import price_offline_job, price_runner_up_jobs
from costsim.specs.base import validate_spec
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.hardware import Accelerator
from costsim.specs.model import ModelSpec
from costsim.specs.requests import ServeRequest
from costsim.specs.site import EconomicsSpec, FacilitySpec

__all__ = ["serve", "search_deployment", "Deployment", "DeploymentSearch"]


def serve(request: ServeRequest, *, with_curve: bool = True) -> dict[str, Any]:
    """Estimate serving `request.model` on `request.hardware`: the best deployment of `request.gpus`
    GPUs (costsim.estimators.deployment), or one replica with `single_replica` / without a GPU
    budget (costsim.estimators.inference)."""
    from costsim.api.train import gpu_limit

    gpu_limit(request.gpus, "--gpus")
    request = with_region_rates(request)
    if request.deployment_search:
        result = estimate_serve_deployment(request, with_curve=with_curve)
    else:
        result = estimate_serve(request, with_curve=with_curve)
    if isinstance(result, dict):
        dep = result.get("deployment") or {}
        devices = dep.get("gpus_per_replica") or result.get("gpus") or request.tp or request.gpus or 1  # the replica priced
        result["error_band"] = band_dict("serving", request.hardware, devices, request.model, engine=request.engine)
        # power and energy figures read on the power cases' band (GPU power and J/token of the same regime)
        result["power_error_band"] = band_dict("power", request.hardware, devices, request.model, engine=request.engine)
        result["energy_rates"] = energy_rates(request).to_dict()
        if request.requests is not None:
            # an offline batch job on the deployment just chosen (None when nothing feasible was found)
            job = None
            if result.get("feasible") and result.get("throughput_tokens_per_s"):
                m, a = get_model(request.model), get_accelerator(request.hardware)
                job = price_offline_job(request, result, m, a).to_dict()
                price_runner_up_jobs(request, result, m, a)
            result["job"] = job
    return result


def search_deployment(model: str | ModelSpec, hardware: str | Accelerator, gpus: int, *,
                      input_tokens: int = 512, output_tokens: int = 256,
                      weight_precision: str | None = None, kv_precision: str | None = None,
                      tp: int | None = None, pp: int | None = None, ep: int | None = None,
                      batch: int | str = "max", ttft_slo_s: float | None = None, tpot_slo_s: float | None = None,
                      engine: str = "default", objective: str = "throughput", runners_up: int = 4, top_k: int | None = None,
                      max_num_seqs: int | None = None, economics: EconomicsSpec | dict | None = None, facility: FacilitySpec | dict | None = None,
                      output_tokens_cv: float = 0.0) -> DeploymentSearch:
    """Best deployment (replicas x TP x PP x EP, and weight precision unless given) of `gpus`
    accelerators for `model` on `hardware`, under optional TTFT / TPOT limits [s]; `top_k` = the requests'
    sampling top_k (None = the model's published default, 0 = none); `max_num_seqs` = the engine's cap on the
    sequences a replica runs at once (None = what memory holds); `output_tokens_cv` = the coefficient of variation
    of the requests' output lengths (0 = all alike).

    `model` / `hardware` are catalog ids, YAML paths, or spec objects (a planner may pass a
    hypothetical ModelSpec). Arguments are validated like `costsim serve` options (InputError naming
    the field otherwise). Returns a frozen `DeploymentSearch`: `feasible`, `reason`, `chosen`
    (a `Deployment`: replicas, gpus_per_replica, tp, pp, ep, weight_precision, kv_precision,
    compute_dtype, batch_per_replica, max_batch_per_replica, throughput_tokens_per_s (whole deployment),
    throughput_tokens_per_s_per_replica, ttft_s, tpot_s, gpus_used, gpus_idle, gpu_power_w,
    gpu_energy_per_token_j, usd_per_million_tokens), `runners_up`, and search statistics."""
    m = model if isinstance(model, ModelSpec) else get_model(model)
    a = hardware if isinstance(hardware, Accelerator) else get_accelerator(hardware)
    if isinstance(economics, dict):
        economics = validate_spec(EconomicsSpec, economics, what="economics")
    if isinstance(facility, dict):
        facility = validate_spec(FacilitySpec, facility, what="facility")
    data = dict(model=m.id or m.name or "model", hardware=a.id, gpus=gpus, tp=tp, pp=pp, ep=ep, weight_precision=weight_precision,
                kv_precision=kv_precision, engine=engine, top_k=top_k, batch=batch, input_tokens=input_tokens, output_tokens=output_tokens,
                ttft_slo_s=ttft_slo_s, tpot_slo_s=tpot_slo_s, objective=objective, runners_up=runners_up,
                max_num_seqs=max_num_seqs, output_tokens_cv=output_tokens_cv)
    if economics is not None:
        data["economics"] = economics
    if facility is not None:
        data["facility"] = facility
    if gpus is None:
        raise InputError("search_deployment needs a GPU budget (gpus >= 1).", field="gpus")
    req = validate_spec(ServeRequest, data, what="deployment search")
    return search_for_request(req, m, a)
