"""Expert load imbalance in training (Framework.moe_router_balance, calibration.MOE_ROUTER_LOAD_CV): each MoE layer's
expert GEMMs and all-to-all wait for the busiest expert-parallel rank (costsim.core.moe_routing.ep_load_factor, the
function the inference core uses). 'forced' (random routing, what NVIDIA's published throughput runs set) keeps only the
multinomial spread of the micro-batch's tokens; 'aux-loss' and 'loss-free' add the spread of expert popularity."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import typing

import numpy as np
import pytest

from costsim.core.calibration import MOE_ROUTER_LOAD_CV
from costsim.core.moe_routing import ep_load_factor, normal_max_z
from costsim.core.training import FRAMEWORKS, Layout, linear_layer_times, step_time
from costsim.estimators.training import hardware_shape, model_shape
from costsim.specs.catalog import get_accelerator, get_model, node_for
from costsim.specs.requests import MoeRouterBalance


def _step(model: str, balance: str, ep: int = 8) -> dict:
    spec, acc = get_model(model), get_accelerator("h100-sxm")
    fw = dataclasses.replace(FRAMEWORKS["megatron-core-2024"], moe_router_balance=balance)
    lay = Layout.of(tp=1, pp=1, cp=1, ep=ep if spec.is_moe else 1, dp=8, vp=1, micro_batch=1, recompute=0, zero=1,
                    sequence_parallel=0, seq_len=4096, global_batch=512)
    t = step_time(model_shape(spec), hardware_shape(acc, node_for(acc), "bf16"), lay, fw)
    return {k: float(np.ravel(t[k])[0]) for k in ("step_time_s", "ep_comm_time_s", "compute_time_s", "moe_load_wait_time_s")}


def test_request_values_match_the_calibration_table():
    assert set(typing.get_args(MoeRouterBalance)) == set(MOE_ROUTER_LOAD_CV)
    assert MOE_ROUTER_LOAD_CV["forced"] == 0.0
    assert MOE_ROUTER_LOAD_CV["loss-free"] < MOE_ROUTER_LOAD_CV["aux-loss"]


def test_expert_gemm_rows_take_the_busiest_rank_by_hand():
    spec, acc = get_model("mixtral-8x7b"), get_accelerator("h100-sxm")
    m, hw = model_shape(spec), hardware_shape(acc, node_for(acc), "bf16")
    tokens, ep = 4096.0, 8.0
    f0, b0 = linear_layer_times(m, hw, tokens, 1.0, ep, 1.0, 0.0)
    f1, b1 = linear_layer_times(m, hw, tokens, 1.0, ep, 1.0, 0.26)
    assert float(f1) > float(f0) and float(b1) > float(b0)
    # one expert per rank (8 experts over 8 ranks): the rank's CV is the expert's; top-2 of 4096 tokens per rank
    want = 1.0 + float(normal_max_z(8)) * math.sqrt(0.26 ** 2 + 7.0 / (tokens * ep * 2))
    assert float(ep_load_factor(8, 2, 8, tokens * ep, 0.26)) == pytest.approx(want)
    # expert parallelism 1: nothing to wait for
    g0, _ = linear_layer_times(m, hw, tokens, 1.0, 1.0, 1.0, 0.0)
    g1, _ = linear_layer_times(m, hw, tokens, 1.0, 1.0, 1.0, 0.26)
    assert float(g1) == float(g0)


def test_step_orders_forced_loss_free_aux_loss_and_dense_is_untouched():
    forced, free, aux = (_step("mixtral-8x7b", b) for b in ("forced", "loss-free", "aux-loss"))
    assert forced["step_time_s"] < free["step_time_s"] < aux["step_time_s"]
    # the all-to-all ends with the busiest receiver too
    assert aux["ep_comm_time_s"] > forced["ep_comm_time_s"]
    # Mixtral at EP8 under an auxiliary loss: the expert MLPs and exchange ~1.37x, the whole step 10-40 % longer
    assert 1.10 < aux["step_time_s"] / forced["step_time_s"] < 1.40
    assert _step("llama-3-8b", "aux-loss")["step_time_s"] == _step("llama-3-8b", "forced")["step_time_s"]
    # the group's mean rank does the same math whatever the balance: the busiest rank's excess is a wait for the others
    # (low power), so the GPU-busy time stays within the multinomial spread while the step grows
    assert aux["compute_time_s"] == pytest.approx(forced["compute_time_s"], rel=0.01)
    assert aux["step_time_s"] - aux["compute_time_s"] > forced["step_time_s"] - forced["compute_time_s"] + 0.5 * (
        aux["moe_load_wait_time_s"] - forced["moe_load_wait_time_s"])


def _cli(*args):
    return subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", *args], capture_output=True, text=True)


def test_cli_flag_json_assumption_and_bad_values():
    args = ["train", "--model", "mixtral-8x7b", "--hardware", "h100-sxm", "--gpus", "64", "--tokens", "1e12", "--ep", "8",
            "--tp", "1", "--pp", "1", "--cp", "1", "--micro-batch", "1", "--zero", "1", "--json"]
    out = {}
    for b in ("forced", "aux-loss"):
        r = _cli(*args, "--moe-router-balance", b)
        assert r.returncode == 0, r.stderr
        out[b] = json.loads(r.stdout)
    assert out["aux-loss"]["step_time_s"] > 1.05 * out["forced"]["step_time_s"]
    a = {x["name"]: x for x in out["aux-loss"]["assumptions"]}["moe_router_load_cv"]
    assert a["value"] == MOE_ROUTER_LOAD_CV["aux-loss"] and "request --moe-router-balance" in a["source"]
    for extra, needle in ((["--model", "llama-3-8b", "--moe-router-balance", "aux-loss"], "mixture-of-experts"),
                          (["--model", "mixtral-8x7b", "--moe-router-balance", "sometimes"], "moe_router_balance")):
        r = _cli("train", "--hardware", "h100-sxm", "--gpus", "8", *extra)
        assert r.returncode == 2 and needle in r.stderr + r.stdout and "Traceback" not in r.stderr


def test_wait_breakdown_and_sentence():
    from costsim.report.fmt import moe_load_text
    args = ["train", "--model", "mixtral-8x7b", "--hardware", "h100-sxm", "--gpus", "64", "--tokens", "1e12", "--ep", "8",
            "--tp", "1", "--pp", "1", "--cp", "1", "--micro-batch", "1", "--zero", "1", "--no-ep-overlap"]
    res = {}
    for b in ("forced", "aux-loss"):
        r = _cli(*args, "--moe-router-balance", b, "--json")
        assert r.returncode == 0, r.stderr
        res[b] = json.loads(r.stdout)
    wait = {b: res[b]["breakdowns"]["step_time_s"]["moe_load_wait_time_s"] for b in res}
    # the wait is what the busiest rank adds over an even split: the step difference between the two balances is the
    # difference of their waits (without overlap nothing hides it)
    assert wait["aux-loss"] - wait["forced"] == pytest.approx(res["aux-loss"]["step_time_s"] - res["forced"]["step_time_s"], rel=0.02)
    assert 0.0 < wait["forced"] < 0.01 * res["forced"]["step_time_s"] < wait["aux-loss"]
    assert moe_load_text(res["forced"]) is None
    text = moe_load_text(res["aux-loss"])
    assert text and "8 expert-parallel ranks" in text and "busiest" in text
    r = _cli(*args, "--moe-router-balance", "aux-loss")
    assert r.returncode == 0 and "waiting for the busiest one" in r.stdout.replace("\n", " ")
