"""Mean device power over a decode step and a prompt pass of the inference core (costsim.core.inference
decode_step_breakdown / prefill_breakdown): a decode step's parts each at their own utilization, time-weighted, a prompt
pass at its mean utilization; a span the power limit stretches runs at the limit; and the breakdowns under a per-GPU
power cap (power_capped: Device.power_cap_w)."""

from __future__ import annotations

import numpy as np

from costsim.core.inference_types import Device, _a
from costsim.core.power import cap_roofline_frac, device_power_w, phase_power_w, warm_idle_power_w


def decode_step_power_w(dec: dict, dev: Device, idle_w, tdp_w):
    """Mean device power over a decode step, W per GPU (broadcasts), from its breakdown (decode_step_breakdown); the
    TDP where the part's power limit stretches the step (its power_limit_s).

    Power is linear in time across kernels but not in utilization within one (the activity model of
    costsim.core.power saturates), so each part is priced at its own utilization and the parts are
    time-weighted: the weight-streaming GEMMs, the attention over the KV cache, the collectives
    (communication phase), the sampler's logits traffic (streaming). Per-layer latency floors, the
    engine's per-step host work and a host that launches kernels leave the GPU waiting at warm idle;
    the MoE layers' per-assignment work (moe_routing_s) runs at the kernels' mean power;
    of the per-sequence time, seq_overhead_busy_frac is GPU work (e.g. a sampler sorting the logits)
    at the kernels' mean power, the rest host work at warm idle. Averaging the utilizations over the
    whole step instead over-prices a step whose GEMMs saturate the power limit next to memory-bound
    attention and idle-ish collectives (the power curve is concave in utilization: P(mean) >= mean P)."""
    peak, bw = _a(dev.peak_flop_per_s), _a(dev.bandwidth_bytes_per_s)
    floor = warm_idle_power_w(idle_w, tdp_w)

    def part(flop, nbytes, t):
        t = _a(t)
        safe = np.where(t > 0, t, 1.0)
        return device_power_w(idle_w, tdp_w, np.minimum(1.0, _a(flop) / safe / peak), np.minimum(1.0, _a(nbytes) / safe / bw))

    t_w, t_a, t_s = _a(dec["weights_s"]), _a(dec["attention_s"]), _a(dec["sampling_s"])
    t_c = _a(dec["tp_allreduce_s"]) + _a(dec["ep_alltoall_s"]) + _a(dec["pp_handoff_s"])
    t_l = _a(dec["layer_overhead_s"])
    e_k = (part(dec["weights_flop_per_gpu"], dec["weights_bytes_per_gpu"], t_w) * t_w
           + part(dec["attention_flop_per_gpu"], dec["kv_bytes_per_gpu"], t_a) * t_a
           + phase_power_w(idle_w, tdp_w, "communication") * t_c
           + part(0.0, dec["sampling_bytes_per_gpu"], t_s) * t_s + floor * t_l)
    t_k = t_w + t_a + t_c + t_s + t_l
    p_k = np.where(t_k > 0, e_k / np.where(t_k > 0, t_k, 1.0), floor)
    t_seq_busy = _a(dev.seq_overhead_busy_frac) * _a(dec["seq_overhead_s"])
    t_busy = t_seq_busy + _a(dec["moe_routing_s"])
    t_wait = _a(dec["step_overhead_s"]) + _a(dec["host_launch_wait_s"]) + _a(dec.get("pipeline_wait_s", 0.0)) - t_seq_busy
    total = _a(dec["step_time_s"]) - _a(dec.get("power_cap_s", 0.0))  # the parts' own time (before a power cap)
    mean_w = (e_k + p_k * t_busy + floor * t_wait) / np.where(total > 0, total, 1.0)
    # a step stretched by the power limit runs at the limit (power_limit_stretch_s), one under a lower cap at most at it
    return _at_most_cap(np.where(_a(dec["power_limit_s"]) > 0, _a(tdp_w), mean_w), dec)


def _at_most_cap(power_w, parts: dict):
    """Power of a breakdown run under a power limit (power_capped below): at most the limit."""
    return np.minimum(power_w, _a(parts["power_cap_w"])) if "power_cap_w" in parts else power_w


def prefill_utilization_frac(pre: dict, dev: Device, *, uncapped: bool = False):
    """(compute, memory) utilization of a prompt pass, fractions of the peaks (broadcasts), from its breakdown
    (prefill_breakdown): its GEMM FLOPs and HBM bytes over its time (`uncapped`: over its time before a power cap)."""
    t = _a(pre["prefill_time_s"]) - (_a(pre.get("power_cap_s", 0.0)) if uncapped else 0.0)
    safe = np.where(t > 0, t, 1.0)
    return (np.minimum(1.0, _a(pre["matmul_flop_per_gpu"]) / safe / _a(dev.peak_flop_per_s)),
            np.minimum(1.0, _a(pre["bytes_per_gpu"]) / safe / _a(dev.bandwidth_bytes_per_s)))


def prefill_power_w(pre: dict, dev: Device, idle_w, tdp_w):
    """Mean device power over a prompt pass, W per GPU (broadcasts), from its breakdown (prefill_breakdown): its mean
    utilization (prefill_utilization_frac) at the activity model of costsim.core.power; the TDP where the part's power
    limit stretches the pass (its power_limit_s)."""
    cu, mu = prefill_utilization_frac(pre, dev, uncapped=True)
    return _at_most_cap(np.where(_a(pre["power_limit_s"]) > 0, _a(tdp_w), device_power_w(idle_w, tdp_w, cu, mu)), pre)


#: the least throughput a power limit leaves a step (the serving simulation's step tables use it too): a limit at the
#: step's clock-independent power would stop it outright
POWER_CAP_THROUGHPUT_FLOOR_FRAC = 1e-3


def power_capped(parts: dict, key: str, dev: Device, power_uncapped_w, compute_s, memory_s) -> dict:
    """A decode step's or prompt pass's breakdown under the device's power limit (Device.power_cap_w): the whole span
    runs at the clock the limit leaves and its compute and memory parts slow by their own laws
    (costsim.core.power.cap_roofline_frac, as the serving simulation's step tables: costsim.sim.steptable._apply_cap);
    the added time is the breakdown's power_cap_s, its uncapped power power_uncapped_w."""
    frac = np.maximum(cap_roofline_frac(dev.power_cap_w, dev.idle_w, power_uncapped_w, compute_s, memory_s),
                      POWER_CAP_THROUGHPUT_FLOOR_FRAC)
    t = _a(parts[key])
    t_cap = np.where(_a(dev.power_cap_w) > 0, t / frac - t, 0.0)
    return {**parts, key: t + t_cap, "power_cap_s": t_cap, "power_uncapped_w": _a(power_uncapped_w), "power_cap_w": _a(dev.power_cap_w)}
