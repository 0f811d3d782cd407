"""How unevenly a mixture-of-experts layer's routed rows fall on the expert-parallel ranks (numpy, vectorized), shared by
the inference core (costsim.core.inference: each decode / prefill step waits for the busiest rank) and the training
core (costsim.core.training: each MoE layer's expert GEMMs and all-to-all wait for it, forward and backward)."""

from __future__ import annotations

import numpy as np


def _a(x):
    return np.asarray(x, dtype=float)


def normal_max_z(n):
    """Expected maximum of n independent standard normal draws (0 for n = 1): Blom's plotting position
    Phi^-1((n - 0.375) / (n + 0.25)), with Phi^-1 by Abramowitz & Stegun 26.2.23 (|error| < 4.5e-4)."""
    n = np.maximum(_a(n), 1.0)
    q = 1.0 - (n - 0.375) / (n + 0.25)          # upper-tail probability, <= 0.5
    t = np.sqrt(-2.0 * np.log(np.clip(q, 1e-12, 0.5)))
    z = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t ** 3)
    return np.where(n > 1, z, 0.0)


def ep_load_factor(n_experts, experts_per_token, ep, routed_tokens, load_cv):
    """Expected (most loaded rank's routed rows) / (mean rank's) of an expert-parallel group: every rank holds
    E / ep experts and the step waits for the busiest. Each rank's share of the k x T routed (token, expert) rows
    varies with the experts' popularity (load_cv: the coefficient of variation of the per-expert row counts, a
    property of the model's router on the workload; summed over the rank's E / ep experts, drawn without
    replacement) and with multinomial sampling of T tokens; the busiest of ep ranks sits z_ep standard deviations
    above the mean (normal_max_z). 1 for ep = 1."""
    e, k, n = _a(n_experts), _a(experts_per_token), np.maximum(_a(ep), 1.0)
    m = e / n
    pop = _a(load_cv) ** 2 / np.maximum(m, 1.0) * np.clip((e - m) / np.maximum(e - 1.0, 1.0), 0.0, 1.0)
    rows = np.maximum(_a(routed_tokens) * k, 1.0)
    sample = (n - 1.0) / rows
    return 1.0 + normal_max_z(n) * np.sqrt(pop + sample)
