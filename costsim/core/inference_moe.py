"""Mixture-of-experts routing statistics of the inference core (numpy, vectorized): how many experts a batch touches
and the bytes per value an expert-parallel dispatch carries; how much busier than the mean the busiest
expert-parallel rank is comes from costsim.core.moe_routing (shared with the training core). costsim.core.inference
prices the steps with them."""

from __future__ import annotations

import numpy as np

from costsim.core.inference_types import Device, Precision, _a
from costsim.core.moe_routing import ep_load_factor, normal_max_z  # noqa: F401  (re-exported)


def dispatch_bytes(prec: Precision, dev: Device):
    """Bytes per value of the tokens an expert-parallel dispatch carries: the expert GEMMs' input format where the
    engine quantizes before it (Device.moe_dispatch_post_quant), else the 16-bit activations."""
    return np.where(_a(dev.moe_dispatch_post_quant) > 0, _a(prec.act_gemm_bytes), _a(prec.act_bytes))


def experts_touched(n_experts, experts_per_token, tokens):
    """Expected distinct routed experts a batch of `tokens` tokens touches in one layer, uniform
    routing: E * (1 - (1 - k/E)^tokens). Equals k for one token, tends to E for large batches."""
    e, k, t = _a(n_experts), _a(experts_per_token), _a(tokens)
    return e * (1.0 - np.power(1.0 - k / e, t))
