"""Device power by phase, and throughput under a power cap (numpy only, vectorized).

Power model (calibrated on docs/sources/calibration/power.csv; see costsim/validation/cases/power.yaml)
------------------------------------------------------------------------------------------------
Two activity terms, one per resource, combined like independent "busy" probabilities:

    x_c = min(1, COMPUTE_COEF * compute_util_frac)      # tensor/matrix units, SM clocks
    x_m = min(1, MEMORY_COEF  * memory_util_frac)       # HBM, memory controllers, L2
    activity = 1 - (1 - x_c) * (1 - x_m)                # 0..1, sub-additive (shared clocks/rails)
    floor = warm idle = min(idle * WARM_IDLE_FACTOR, tdp)   # a CUDA context alive, clocks up
    P = floor + (tdp - floor) * activity, then min(P, power_cap)

`idle_w` in the profiles is bare idle (no context, deep power state: ~70 W on H100). A device
that runs anything sits at the warm-idle floor (measured 121 W on H100 SXM with a context and
the SM clock at 1980 MHz), so every working phase is measured from that floor; only the
'idle' phase (nothing loaded) draws bare idle.

compute_util_frac: achieved matmul FLOP/s / dense peak of the datatype (0..1);
memory_util_frac: achieved DRAM bytes/s / peak bandwidth (0..1).

The combination is sub-additive on purpose: a decode step at large batch streams memory at
~65 % of peak AND runs matmuls at ~45 % of peak, yet draws ~91 % of TDP, not 150 %. A linear sum
cannot fit both the memory-bound (batch 8) and the mixed (batch 1024) ML.ENERGY points with one
pair of coefficients; the product form can (fit below).

Fit (costsim.validation.power.fit_from_cases, reproduced by tests/test_power_core.py), on the
measured H100 SXM phases (costsim/data/measurements/h100_sxm_gpu_power_2026-11-27.json;
cases in costsim/validation/cases/measured_h100_power.yaml, used_for_fit: true):
  WARM_IDLE_FACTOR from idle with a context (121 W / 70 W bare idle),
  MEMORY_COEF from the HBM copy (497 W at 90 % of peak bandwidth, no math),
  COMPUTE_COEF from the weight-streaming GEMV at m=64 (624 W: same HBM stream + 18 % of bf16 peak).
Held out: GEMV m=1 and m=512, bf16 / fp8 matmul (at the power limit), the waiting loop, the
ML.ENERGY Llama-3.1-70B TP4 power per GPU (utilizations from costsim.core.inference via
`costsim serve`), the 8xH100 training node (8.4 kW) and the 100k-H100 site (115-165 MW).
COMPUTE_COEF >> 1 means tensor-core work is expensive per FLOP/s: an H100 reaches its 700 W limit
at ~28 % of dense bf16 peak, so every large GEMM runs power-limited (measured: the SM clock drops
from 1980 to 1410 MHz for bf16 8192^3 and to 1275 MHz for fp8), which is what nvidia-smi shows
in training (GPUs pinned near 700 W). Earlier fit (before the measurements): ML.ENERGY b8/b1024
with a local roofline, COMPUTE_COEF 1.76, MEMORY_COEF 0.865, floor = bare idle.

Power cap model (first principles, coefficients are documented estimates)
-------------------------------------------------------------------------
Under a cap the GPU lowers its SM clock f (0..1 of max). Power of a phase at clock f:

    P(f) = P_fixed + (P0 - P_fixed) * f**DVFS_EXPONENT,   P_fixed = idle + fixed_share * (P0 - idle)

P0 is the uncapped phase power; fixed_share is the part that does not scale with the SM clock
(HBM, NVLink/PCIe PHYs, leakage at temperature); DVFS_EXPONENT ~ 3 because dynamic power goes as
f * V^2 and V scales roughly with f over the DVFS range.
  * compute-bound: throughput ~ f (clock-bound), so perf/W has an optimum well below TDP.
  * memory-bound: throughput is flat while the SMs can still keep HBM busy (f >= knee), then
    falls ~ f / knee (the cliff); a small slope (MEMORY_CLOCK_SENSITIVITY) for the non-overlapped
    compute of a decode step (attention softmax, sampling).
  * communication: link-bound, like memory-bound with a lower knee.
  * idle/checkpoint: nothing waits on the GPU clock -> 1.
"""

from __future__ import annotations

import numpy as np

# --- fitted (see module docstring) ------------------------------------------------------------
COMPUTE_COEF = 3.62  # fitted on M-h100-power-gemv-m64 (measured, 2026-11-27); see module docstring
MEMORY_COEF = 0.725  # fitted on M-h100-power-hbm-copy (measured, 2026-11-27)

# --- phase defaults: utilizations a phase runs at when the caller has no better numbers -------
# compute: a training / prefill matmul phase. 0.5 of dense peak is the in-kernel tensor-core
#   utilization behind a 38-43 % whole-step MFU (Llama 3.1 405B, training_steps.csv) once exposed
#   communication and pipeline bubbles are taken out; 0.3 of HBM for activations/optimizer traffic.
# memory: decode at small batch (weights streamed at ~84 % of peak bandwidth by the kernels,
#   kernels.csv K-h100-7b-mlp; ~0.65 over a whole step with launch overhead and all-reduces).
# communication: SMs mostly waiting on NCCL; links and a few copy kernels busy.
# checkpoint / idle: warm idle (a model loaded, context alive).
PHASE_UTILS: dict[str, tuple[float, float]] = {
    "compute": (0.50, 0.30),
    "memory": (0.02, 0.65),
    "communication": (0.05, 0.15),
    "checkpoint": (0.0, 0.0),
    "idle": (0.0, 0.0),
}
PHASES = tuple(PHASE_UTILS)

# warm idle = idle * WARM_IDLE_FACTOR: the floor of every working phase (a context alive, clocks
# up). Fitted on the measured H100 SXM idle-with-context phase: 120.8 W / 70 W bare idle = 1.726
# (P-h100-idle in docs/sources/calibration/power.csv says ~100-120 W, weak confidence; M-h100-power-idle).
WARM_IDLE_FACTOR = 1.726

# --- power-cap model (estimates; documented in the module docstring) -------------------------
DVFS_EXPONENT = 3.0
FIXED_SHARE = {"compute": 0.30, "memory": 0.60, "communication": 0.60, "checkpoint": 1.0, "idle": 1.0}
CLOCK_KNEE = {"compute": 1.0, "memory": 0.45, "communication": 0.30, "checkpoint": 0.0, "idle": 0.0}
MEMORY_CLOCK_SENSITIVITY = 0.08
# Lowest SM clock the governor goes to, as a fraction of max (H100: ~345 MHz idle of 1980 MHz boost,
# nvidia-smi reading on the measured card, costsim/data/measurements README). Below the power this
# clock needs, the device throttles by duty-cycling: throughput falls linearly with the power left
# above idle, to zero at idle (the "cliff"), instead of stopping at once.
MIN_CLOCK_FRAC = 0.17


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def activity_frac(compute_util_frac, memory_util_frac):
    """Combined activity 0..1 from compute and memory utilization (see module docstring)."""
    x_c = np.clip(COMPUTE_COEF * _arr(compute_util_frac), 0.0, 1.0)
    x_m = np.clip(MEMORY_COEF * _arr(memory_util_frac), 0.0, 1.0)
    return 1.0 - (1.0 - x_c) * (1.0 - x_m)


def device_power_w(idle_w, tdp_w, compute_util_frac, memory_util_frac, power_cap_w=None):
    """Power of one working device, W (broadcasts over arrays): from the warm-idle floor (context
    alive) to TDP by activity. A cap clips power (the clock drops; use `cap_throughput_frac` for
    what that costs in throughput)."""
    tdp_w = _arr(tdp_w)
    floor = warm_idle_power_w(idle_w, tdp_w)
    p = floor + (tdp_w - floor) * activity_frac(compute_util_frac, memory_util_frac)
    if power_cap_w is not None:
        p = np.minimum(p, _arr(power_cap_w))
    return p


def _phase_key(phase: str) -> str:
    if phase not in PHASE_UTILS:
        raise ValueError(f"unknown power phase {phase!r}; use one of {', '.join(PHASES)}")
    return phase


def warm_idle_power_w(idle_w, tdp_w):
    """Idle with a model loaded (checkpoint stalls, waiting for work), W."""
    return np.minimum(_arr(idle_w) * WARM_IDLE_FACTOR, _arr(tdp_w))


def phase_power_w(idle_w, tdp_w, phase: str, power_cap_w=None, *, compute_util_frac=None, memory_util_frac=None):
    """Uncapped (or capped) power of a phase: 'compute', 'memory', 'communication', 'checkpoint', 'idle'.

    Utilizations default to PHASE_UTILS[phase]; pass them to override."""
    phase = _phase_key(phase)
    if phase in ("checkpoint", "idle"):
        p = warm_idle_power_w(idle_w, tdp_w) if phase == "checkpoint" else _arr(idle_w) + 0.0 * _arr(tdp_w)
        if compute_util_frac is not None or memory_util_frac is not None:
            p = np.maximum(p, device_power_w(idle_w, tdp_w, compute_util_frac or 0.0, memory_util_frac or 0.0))
    else:
        uc, um = PHASE_UTILS[phase]
        p = device_power_w(idle_w, tdp_w, uc if compute_util_frac is None else compute_util_frac,
                           um if memory_util_frac is None else memory_util_frac)
    if power_cap_w is not None:
        p = np.minimum(p, _arr(power_cap_w))
    return p


def compute_phase_power(idle_w, tdp_w, power_cap_w=None):
    return phase_power_w(idle_w, tdp_w, "compute", power_cap_w)


def memory_phase_power(idle_w, tdp_w, power_cap_w=None):
    return phase_power_w(idle_w, tdp_w, "memory", power_cap_w)


def communication_phase_power(idle_w, tdp_w, power_cap_w=None):
    return phase_power_w(idle_w, tdp_w, "communication", power_cap_w)


def checkpoint_phase_power(idle_w, tdp_w, power_cap_w=None):
    return phase_power_w(idle_w, tdp_w, "checkpoint", power_cap_w)


def clock_frac_under_cap(cap_w, idle_w, phase_power_uncapped_w, phase: str, *, fixed_share=None):
    """SM clock (0..1 of max) at which a phase that draws `phase_power_uncapped_w` uncapped fits
    under `cap_w`. 1 when the cap does not bind; 0 when even the fixed part does not fit. `fixed_share`
    (0..1, broadcasts) replaces the phase's FIXED_SHARE for work that mixes phases (cap_roofline_frac)."""
    phase = _phase_key(phase)
    cap = _arr(cap_w)
    idle = _arr(idle_w)
    p0 = _arr(phase_power_uncapped_w)
    share = FIXED_SHARE[phase] if fixed_share is None else _arr(fixed_share)
    fixed = idle + share * np.maximum(p0 - idle, 0.0)
    dyn = np.maximum(p0 - fixed, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(dyn > 0, (cap - fixed) / np.where(dyn > 0, dyn, 1.0), np.where(cap >= fixed, 1.0, 0.0))
    f = np.clip(ratio, 0.0, 1.0) ** (1.0 / DVFS_EXPONENT)
    return np.where(cap >= p0, 1.0, np.maximum(f, np.where(cap > idle, MIN_CLOCK_FRAC, 0.0)))


def min_clock_power_w(idle_w, phase_power_uncapped_w, phase: str, *, fixed_share=None):
    """Power a phase draws at the governor's lowest clock (MIN_CLOCK_FRAC); `fixed_share` as clock_frac_under_cap."""
    phase = _phase_key(phase)
    idle = _arr(idle_w)
    p0 = _arr(phase_power_uncapped_w)
    share = FIXED_SHARE[phase] if fixed_share is None else _arr(fixed_share)
    fixed = idle + share * np.maximum(p0 - idle, 0.0)
    return fixed + np.maximum(p0 - fixed, 0.0) * MIN_CLOCK_FRAC**DVFS_EXPONENT


def cap_roofline_frac(cap_w, idle_w, power_uncapped_w, compute_s, memory_s):
    """Throughput under a power cap (0..1 of uncapped) of work whose roofline has a compute part `compute_s` and a
    memory part `memory_s` (s, broadcasts), drawing `power_uncapped_w` uncapped.

    One SM clock for the whole kernel mix: its power's fixed share is the phases' FIXED_SHARE weighted by the compute
    part's share of the two; at that clock the compute part slows as the clock, the memory part as the memory phase
    (flat, then the cliff below its knee), and the work takes the longer of the two; below the lowest clock's power,
    duty-cycling as cap_throughput_frac. Classing a cell wholly one phase or the other made the capped time jump 2x
    where the two parts cross (a prefill of 264 tokens 2.15x as long as one of 297 at 350 W on an H100)."""
    tc, tm = _arr(compute_s), _arr(memory_s)
    tot = tc + tm
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(tot > 0, tc / np.where(tot > 0, tot, 1.0), 1.0)
    share = w * FIXED_SHARE["compute"] + (1.0 - w) * FIXED_SHARE["memory"]
    cap, idle, p0 = _arr(cap_w), _arr(idle_w), _arr(power_uncapped_w)
    f = clock_frac_under_cap(cap, idle, p0, "compute", fixed_share=share)
    thr_m = _clock_throughput(f, "memory")
    bound = np.maximum(tc, tm)
    with np.errstate(divide="ignore", invalid="ignore"):
        stretched = np.maximum(tc / np.maximum(f, 1e-12), tm / np.maximum(thr_m, 1e-12))
        thr = np.where(bound > 0, bound / stretched, f)
    p_min = min_clock_power_w(idle, p0, "compute", fixed_share=share)
    return np.where(cap >= p0, 1.0, np.where(cap >= p_min, thr, thr * _duty_frac(cap, idle, p_min)))


def cap_throughput_frac(cap_w, tdp_w, idle_w, phase: str = "compute", *, phase_power_uncapped_w=None):
    """Throughput of a phase under a power cap, as a fraction of uncapped throughput (0..1).

    compute: ~ clock (perf/W optimum below TDP); memory: nearly flat, then a cliff below the clock
    knee; communication: flatter still; checkpoint/idle: 1. Broadcasts over arrays."""
    phase = _phase_key(phase)
    if phase in ("checkpoint", "idle"):
        return np.ones(np.broadcast(_arr(cap_w), _arr(tdp_w), _arr(idle_w)).shape)
    p0 = phase_power_w(idle_w, tdp_w, phase) if phase_power_uncapped_w is None else _arr(phase_power_uncapped_w)
    f = clock_frac_under_cap(cap_w, idle_w, p0, phase)
    thr = f if phase == "compute" else _clock_throughput(f, phase)
    cap, idle = _arr(cap_w), _arr(idle_w)
    p_min = min_clock_power_w(idle, p0, phase)
    return np.where(cap >= p_min, thr, thr * _duty_frac(cap, idle, p_min))


def _clock_throughput(f, phase: str):
    """Throughput (0..1) of a memory or communication phase at SM clock f: nearly flat (memory loses
    MEMORY_CLOCK_SENSITIVITY per unit of clock), then proportional to the clock below its knee."""
    flat = 1.0 - MEMORY_CLOCK_SENSITIVITY * (1.0 - f) if phase == "memory" else np.ones_like(f)
    return np.minimum(1.0, f / CLOCK_KNEE[phase]) * flat


def _duty_frac(cap, idle, p_min):
    """Below the power of the lowest clock `p_min`: duty-cycle throttling, the share of time running (0..1), linear in
    the power above idle."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip((cap - idle) / np.where(p_min > idle, p_min - idle, 1.0), 0.0, 1.0)


def power_limit_stretch_s(time_s, tensor_flop, tensor_j_per_flop, power_budget_w):
    """Time a part's power limit adds to a span of work, s (>= 0; broadcasts).

    The span's tensor-core FLOPs need energy tensor_flop x tensor_j_per_flop; a part whose limit leaves
    power_budget_w for dynamic work (TDP - idle) cannot spend it faster, so a span shorter than energy / budget
    runs at lowered clocks until it lasts that long. A span-level bound: the limiter averages power over
    milliseconds, many kernels, so memory-bound kernels next to the GEMMs leave them room. First order: the energy
    per FLOP is held constant at the lowered clocks (DVFS lowers it: the stretch is an upper bound) and the span's
    other work (HBM traffic, attention, communication) is not counted (a lower bound); the fitted energy per FLOP
    absorbs both. 0 where tensor_j_per_flop or power_budget_w is 0 (not modelled)."""
    budget = _arr(power_budget_w)
    energy_j = _arr(tensor_flop) * _arr(tensor_j_per_flop)
    floor_s = np.where(budget > 0, energy_j / np.where(budget > 0, budget, 1.0), 0.0)
    return np.maximum(floor_s - _arr(time_s), 0.0)


def perf_per_watt_optimal_cap_w(tdp_w, idle_w, phase: str = "compute", num_points: int = 512):
    """Cap (W) that maximizes throughput per watt for a phase (grid search, vectorized)."""
    tdp = float(tdp_w)
    idle = float(idle_w)
    caps = np.linspace(idle + 1e-6 * tdp, tdp, num_points)
    thr = cap_throughput_frac(caps, tdp, idle, phase)
    p = np.minimum(phase_power_w(idle, tdp, phase), caps)
    eff = np.where(p > 0, thr / p, 0.0)
    return float(caps[int(np.argmax(eff))])


def phase_mix_power_w(idle_w, tdp_w, phase_fracs: dict[str, float], power_cap_w=None):
    """Time-weighted mean power over a mix of phases {phase: time fraction} (fractions sum to 1)."""
    total = sum(phase_fracs.values())
    if total <= 0 or any(v < 0 for v in phase_fracs.values()):
        raise ValueError("phase fractions must be non-negative and sum to a positive number")
    out = 0.0
    for ph, w in phase_fracs.items():
        out = out + (w / total) * phase_power_w(idle_w, tdp_w, ph, power_cap_w)
    return out


# --- host (everything in a node but the accelerators) ----------------------------------------
DEFAULT_HOST_FRAC_OF_TDP = 0.4  # host share per device when no node profile exists (estimate:
# DGX H100 bottom-up host ~2.6-2.8 kW / 8 GPUs of 700 W = 0.46-0.5; PCIe servers lower)
HOST_IDLE_FRAC = 0.6  # host idle / host busy when a profile gives no idle figure


def host_power_per_device_w(host_power_w, devices_per_node):
    """Host power per accelerator, W (node host power shared by its devices)."""
    return _arr(host_power_w) / _arr(devices_per_node)


def default_host_power_per_device_w(tdp_w, busy: bool = True):
    """Host power per accelerator when no node profile exists, W (an estimate; listed as an assumption)."""
    return DEFAULT_HOST_FRAC_OF_TDP * _arr(tdp_w) * (1.0 if busy else HOST_IDLE_FRAC)


# --- facility overhead ------------------------------------------------------------------------
def pue_load_temperature(pue_full_load, it_load_frac, outdoor_temp_c, *, fixed_overhead_frac=0.04,
                         reference_temp_c=20.0, cooling_temp_coef_per_c=0.008, free_cooling_below_c=10.0):
    """PUE at a partial IT load and an outdoor temperature (vectorized):

        PUE = 1 + max(0, (pue_full_load - 1 - fixed) + coef * (max(T, T_free) - T_ref)) + fixed / load

    equal to pue_full_load at full load and T_ref; fixed losses weigh more at low load; hot
    days add chiller lift; below T_free the economizer is at its floor."""
    load = _arr(it_load_frac)
    if np.any(load <= 0):
        raise ValueError("it_load_frac must be > 0")
    t = _arr(outdoor_temp_c)
    prop = (_arr(pue_full_load) - 1.0 - fixed_overhead_frac) + cooling_temp_coef_per_c * (np.maximum(t, free_cooling_below_c) - reference_temp_c)
    return 1.0 + np.maximum(prop, 0.0) + fixed_overhead_frac / load
