"""Where the expert-parallel and expert-data-parallel groups sit (costsim.core.training.step_time, `expert_grid`): a stack
with MoE parallel folding (Megatron-core's expert RankGenerator, order tp-ep-dp, context parallelism folded into the
expert grid) puts an EP group on consecutive groups of etp ranks and its expert-data-parallel peers etp x ep apart;
without folding, experts span the data-parallel ranks (EP stride tp x cp). The two placements differ only under context
parallelism (or folding), and the folded one keeps more expert-data-parallel peers inside a node."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from costsim.core.training import FRAMEWORKS, Layout, step_time
from costsim.estimators.training import hardware_shape, model_shape
from costsim.specs.catalog import get_accelerator, get_model, node_for


def _dp_comm(cp: int, folding: bool) -> float:
    spec, acc = get_model("gpt-oss-20b"), get_accelerator("b300")  # 8-GPU NVLink domains, the network beyond
    fw = dataclasses.replace(FRAMEWORKS["megatron-core-2024"], moe_parallel_folding=folding)
    lay = Layout.of(tp=1, pp=1, cp=cp, ep=4, dp=64 // cp, vp=1, micro_batch=1, recompute=0, zero=1, sequence_parallel=0,
                    seq_len=8192, global_batch=64 // cp)
    t = step_time(model_shape(spec), hardware_shape(acc, node_for(acc), "fp8"), lay, fw)
    return float(np.ravel(t["dp_comm_time_s"])[0])


def test_without_context_parallelism_both_placements_agree():
    assert _dp_comm(1, True) == pytest.approx(_dp_comm(1, False), rel=1e-12)


def test_under_context_parallelism_the_folded_grid_keeps_expert_peers_closer():
    # cp 2, ep 4 on 8-GPU nodes: folded, an expert-data-parallel group has 2 peers per node (stride 4); unfolded, one
    # per node (stride tp x ep x cp = 8), every byte crossing the network
    assert _dp_comm(2, True) < 0.8 * _dp_comm(2, False)
