"""Batched estimates (struct of arrays) equal the per-point estimators, point by point.

costsim.economics.batch.account_run_batch vs costsim.economics.accounting.account_run, and
costsim.estimators.batch.train_batch / serve_batch vs estimate / estimate_serve: every flattened
key, relative tolerance 1e-12 (the batch reassociates a few products; anything larger is a bug).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costsim.economics.accounting import account_run
from costsim.economics.batch import account_run_batch
from costsim.estimators.batch import flat, serve_batch, train_batch
from costsim.estimators.inference import estimate_serve
from costsim.estimators.training import estimate
from costsim.specs.catalog import get_accelerator, node_for
from costsim.specs.requests import ServeRequest, TrainRequest
from costsim.specs.site import EconomicsSpec, FacilitySpec

RTOL = 1e-12
SKIP = {"search_search_time_s"}  # wall-clock time of the layout search


def _same(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    if isinstance(a, bool) or isinstance(a, str):
        return a == b
    if b is None:
        return False
    return math.isclose(float(a), float(b), rel_tol=RTOL, abs_tol=1e-300)


def _check_point(expected: dict, columns: dict, i: int) -> None:
    for k, v in expected.items():
        if k in SKIP:
            continue
        assert k in columns, f"batched result lacks {k}"
        got = columns[k][i]
        got = got.item() if isinstance(got, np.generic) else got
        assert _same(v, got), f"point {i}, {k}: per-point {v!r}, batched {got!r}"
    for k in columns:
        if k not in expected and k not in SKIP:
            got = columns[k][i]
            assert got is None or (isinstance(got, float) and math.isnan(got)), f"point {i}: batched has {k}={got!r}, per-point has no such key"


def _flat_acct(d: dict) -> dict:
    out = flat(d)
    return {k: v for k, v in out.items() if not k.startswith("component_notes_")}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hw=st.sampled_from(["h100-sxm", "apple-m2-ultra", "mi300x"]),
    pricing=st.sampled_from(["rental", "purchase"]),
    pue_model=st.sampled_from(["constant", "load_temperature"]),
    wue=st.sampled_from([None, 0.0, 0.5]),
    market=st.sampled_from([None, 120.0]),
    embodied=st.booleans(),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**31),
)
def test_account_run_batch_equals_account_run(hw, pricing, pue_model, wue, market, embodied, n, seed):
    rng = np.random.default_rng(seed)
    acc = get_accelerator(hw)
    node = node_for(acc)
    fac = FacilitySpec(pue_model=pue_model, wue_l_per_kwh=wue)
    eco = EconomicsSpec(pricing=pricing, market_based_gco2e_per_kwh=market, include_embodied=embodied, water_usd_per_m3=2.0)
    varied = {"economics.electricity_usd_per_kwh": rng.uniform(0.0, 0.3, n), "facility.pue": rng.uniform(1.0, 2.0, n),
              "economics.grid_gco2e_per_kwh": rng.uniform(0, 900, n), "economics.utilization_frac": rng.uniform(0.2, 1.0, n)}
    wall = rng.uniform(0.0, 1e7, n)
    wall[0] = 0.0 if n > 2 else wall[0]
    gpu_j = rng.uniform(0, 1e12, n)
    b = account_run_batch(acc=acc, node=node, num_gpus=64, wall_time_s=wall, gpu_energy_j=gpu_j, facility=fac, economics=eco,
                          gpu_peak_power_w=700.0, varied=varied)
    for i in range(n):
        f = fac.model_copy(update={"pue": float(varied["facility.pue"][i])})
        e = eco.model_copy(update={k.split(".")[1]: float(v[i]) for k, v in varied.items() if k.startswith("economics.")})
        per = account_run(acc=acc, node=node, num_gpus=64, wall_time_s=float(wall[i]), gpu_energy_j=float(gpu_j[i]), facility=f,
                          economics=e, gpu_peak_power_w=700.0)
        expected = {k: v for k, v in _flat_acct(per).items()}
        _check_point(expected, b, i)


BASE_TRAIN = TrainRequest(model="llama-3-8b", hardware="h100-sxm", gpus=1024, tokens=1e12, global_batch=8192,
                          tp=1, pp=1, cp=1, micro_batch=1, recompute="selective", zero=1, vp=1)


def _train_point(req: TrainRequest, values: dict) -> TrainRequest:
    data = req.model_dump()
    for k, v in values.items():
        if "." in k:
            sec, name = k.split(".")
            data[sec] = {**data[sec], name: v}
        else:
            data[k] = v
    return TrainRequest.model_validate(data)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(1, 8), pricing=st.sampled_from(["rental", "purchase"]),
       vary_gpus=st.booleans())
def test_train_batch_equals_per_point(seed, n, pricing, vary_gpus):
    rng = np.random.default_rng(seed)
    req = BASE_TRAIN.model_copy(update={"economics": EconomicsSpec(pricing=pricing)})
    varied = {"tokens": rng.uniform(1e9, 2e13, n), "economics.electricity_usd_per_kwh": rng.uniform(0, 0.4, n),
              "facility.pue": rng.uniform(1.0, 1.8, n), "failure_rate_per_gpu_hour": rng.uniform(0, 2e-4, n),
              "restart_time_s": rng.uniform(0, 3600, n)}
    if vary_gpus:
        varied["gpus"] = rng.choice([256, 512, 1024], n)
    b = train_batch(req, varied)
    assert b.num_points == n and all(e is None for e in b.error)
    for i in range(n):
        per = flat(estimate(_train_point(req, {k: v[i].item() for k, v in varied.items()})))
        _check_point(per, b.columns, i)


def test_train_batch_records_per_point_errors_and_zero_goodput():
    varied = {"tokens": np.array([1e12, -5.0, 2e12, 3e12]), "gpus": np.array([1024, 1024, 0, 512]),
              "failure_rate_per_gpu_hour": np.array([1e-5, 1e-5, 1e-5, 0.5])}
    b = train_batch(BASE_TRAIN, varied)
    assert b.error[0] is None
    assert "tokens" in b.error[1] and "> 0" in b.error[1]
    assert "gpus" in b.error[2] and "greater than or equal to 1" in b.error[2]  # the request's own validation message
    assert b.error[3] is None and not b.columns["feasible"][3]
    per = flat(estimate(_train_point(BASE_TRAIN, {"tokens": 3e12, "gpus": 512, "failure_rate_per_gpu_hour": 0.5})))
    assert per["feasible"] is False
    _check_point(per, b.columns, 3)
    per0 = flat(estimate(_train_point(BASE_TRAIN, {"tokens": 1e12, "failure_rate_per_gpu_hour": 1e-5})))
    _check_point(per0, b.columns, 0)
    assert b.ok.tolist() == [True, False, False, True]


def test_train_batch_refuses_unknown_or_structural_keys():
    from costsim.errors import InputError

    with pytest.raises(InputError, match="facility.pue_model"):
        train_batch(BASE_TRAIN, {"facility.pue_model": ["constant"]})
    with pytest.raises(InputError, match="num_gpu"):
        train_batch(BASE_TRAIN, {"num_gpu": [1, 2]})
    with pytest.raises(InputError, match="one length"):
        train_batch(BASE_TRAIN, {"tokens": [1e12, 2e12], "gpus": [8, 16, 32]})


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), n=st.integers(1, 6), model=st.sampled_from(["llama-3-8b", "mixtral-8x7b"]),
       vary_tokens=st.booleans())
def test_serve_batch_equals_per_point(seed, n, model, vary_tokens):
    rng = np.random.default_rng(seed)
    req = ServeRequest(model=model, hardware="h100-sxm", weight_precision="fp8", ttft_slo_s=2.0)
    varied = {"economics.electricity_usd_per_kwh": rng.uniform(0, 0.4, n), "facility.pue": rng.uniform(1.0, 1.8, n),
              "economics.grid_gco2e_per_kwh": rng.uniform(0, 800, n), "economics.usd_per_gpu_hour": rng.uniform(0.5, 6, n)}
    if vary_tokens:
        varied["output_tokens"] = rng.choice([64, 256, 1024], n)
    b = serve_batch(req, varied)
    for i in range(n):
        data = req.model_dump()
        for k, v in varied.items():
            if "." in k:
                sec, name = k.split(".")
                data[sec] = {**data[sec], name: v[i].item()}
            else:
                data[k] = v[i].item()
        per = flat(estimate_serve(ServeRequest.model_validate(data), with_curve=False))
        _check_point(per, b.columns, i)


def test_serve_batch_infeasible_template_broadcasts():
    req = ServeRequest(model="llama-3.1-405b", hardware="rtx-4090", gpus=1, weight_precision="bf16")
    b = serve_batch(req, {"facility.pue": [1.1, 1.3]})
    per = flat(estimate_serve(req, with_curve=False))
    assert per["feasible"] is False
    for i in range(2):
        _check_point(per, b.columns, i)
