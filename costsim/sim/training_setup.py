"""Training simulation, setup: the step profile looked up once from the vectorized training core, one
`StepLevel` per power-cap level, checkpoint and restart times, the grid limits and the region's site events
(`prepare(scenario) -> Setup`), and the trace's state codes. Used by training_job.py (the SimPy processes),
training_summary.py (the trace, power and statistics) and training.py (the entry points)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from costsim.core.goodput import DEFAULT_CHECKPOINT_BYTES_PER_S_PER_GPU
from costsim.core.power import cap_throughput_frac, checkpoint_phase_power, device_power_w
from costsim.economics.accounting import usd_per_gpu_hour
from costsim.errors import InputError
from costsim.numtext import power
from costsim.power.balancing import clock_note
from costsim.power.facility import facility_power_w, it_power_per_gpu_w
from costsim.sim.grid_battery import fast_loss_w
from costsim.specs.catalog import get_accelerator, get_model, node_for
from costsim.specs.limits import WorkEstimate, limit
from costsim.specs.scenario import Scenario
from costsim.specs.training_sim import TrainingWorkload
from costsim.units import GB, MEGA, S_PER_DAY, S_PER_HOUR


# state codes in the trace (kind column)
TRAIN, CKPT, DOWN, EVAL, PAUSE, RAMP_UP, RAMP_DOWN = 0, 1, 2, 3, 4, 5, 6
KIND_NAMES = {TRAIN: "train", CKPT: "checkpoint", DOWN: "down", EVAL: "eval", PAUSE: "pause", RAMP_UP: "ramp_up", RAMP_DOWN: "ramp_down"}


FALLBACK_CKPT_BYTES_PER_PARAM = 14.0  # bf16 weights 2 + fp32 master 4 + Adam m 4 + v 4
# the closed-form core's checkpoint bandwidth (Llama 3: 2 TB/s for 16,384 GPUs, ~122 MB/s each), one constant for both
# (the simulation had its own 125 MB/s: checkpoints 2.4 % shorter than the core's for the same run)
DEFAULT_STORAGE_BYTES_PER_S_PER_GPU = DEFAULT_CHECKPOINT_BYTES_PER_S_PER_GPU


# --------------------------------------------------------------------------------------------
# step profile: looked up from the vectorized training core (never re-derived per event)
# --------------------------------------------------------------------------------------------

def pick(d: dict, *names: str, default=None):
    for n in names:
        if n in d and d[n] is not None:
            return d[n]
    return default


def _core_step_profile(w: TrainingWorkload, scenario: Scenario) -> dict[str, Any]:
    from costsim.estimators.training import step_profile
    from costsim.specs.requests import TrainRequest

    lay = w.layout
    req = TrainRequest(model=w.model, hardware=w.hardware, gpus=w.num_gpus, tokens=w.tokens, seq_len=w.seq_len,
                       global_batch=w.global_batch, precision=w.precision, attention_precision=w.attention_precision, tp=lay.tp, pp=lay.pp, cp=lay.cp, ep=lay.ep, etp=lay.etp, ep_overlap=lay.ep_overlap, activation_offload=lay.activation_offload,
                       ep_dispatcher=lay.ep_dispatcher, moe_expert_launch=lay.moe_expert_launch, moe_router_balance=lay.moe_router_balance, dp_bucket_params=lay.dp_bucket_params, dropout=lay.dropout,
                       cp_comm_type=lay.cp_comm_type, fp8_activation_store=lay.fp8_activation_store,
                       dp=lay.dp, vp=lay.vp, micro_batch=lay.micro_batch, recompute=lay.recompute, recompute_layers=lay.recompute_layers, zero=lay.zero,
                       framework=w.framework, power_cap_w=w.power_cap_w, fp4_bf16_layers=w.fp4_bf16_layers,
                       lora_rank=w.lora_rank, lora_targets=w.lora_targets, lora_dropout=w.lora_dropout,
                       lora_base_precision=w.lora_base_precision,
                       facility=scenario.facility, economics=scenario.economics)
    prof = dict(step_profile(req))
    if prof.get("feasible") is False:
        raise InputError(f"training.layout: the training core finds this job infeasible: {prof.get('reason', 'no reason given')}. "
                         "Change the layout, batch or GPU count.", field="training.layout")
    prof.setdefault("source", "costsim.estimators.training.step_profile")
    return prof


@dataclass(frozen=True)
class StepLevel:
    """One operating point of the job (for one grid limit): looked up, never re-derived per event."""
    import_limit_w: float | None
    gpu_cap_w: float | None
    speed_frac: float
    step_s: float
    hi_s: float  # compute phase (at the capped clock)
    gpu_hi_w: float
    gpu_lo_w: float
    feasible: bool
    reason: str = ""


@dataclass
class Setup:
    w: TrainingWorkload
    scenario: Scenario
    num_gpus: int
    profile: dict
    tokens_per_step: float
    target_steps: float
    window_s: float
    idle_w: float
    tdp_w: float
    stall_w: float
    host_busy_w: float
    host_idle_w: float
    pue: float
    ckpt_bytes: float
    write_s: float
    stall_s: float
    ckpt_interval_steps: int
    ckpt_interval_s: float
    ckpt_interval_clipped: bool
    job_failure_rate_per_s: float
    hot_spares: int
    levels: dict
    base_limit_w: float | None
    usd_per_gpu_h: float
    acc: Any
    fabric_w: float = 0.0
    design_it_w: float | None = None
    notes: list = field(default_factory=list)
    windows: list = field(default_factory=list)  # curtailment windows: the scenario's + the balancing authority's
    ba_events: Any = None  # costsim.power.ba_events.SiteEvents when grid.balancing_authority is set

    def fac_w(self, gpu_w, host_w):
        """Facility power of the job at the meter: GPUs x (GPU + host share + fabric), through the
        facility layer's PUE model (costsim.power.facility)."""
        it = self.num_gpus * (np.asarray(gpu_w, float) + np.asarray(host_w, float) + self.fabric_w)
        return facility_power_w(it, self.scenario.facility, design_it_power_w=self.design_it_w)


def daly_interval_s(stall_s: float, mtbf_s: float) -> float:
    """Daly (2006) higher-order optimum checkpoint interval (compute time between checkpoints);
    first-order term sqrt(2 C M) is Young's (1974)."""
    if stall_s <= 0:
        return 0.0
    if stall_s >= 2 * mtbf_s:
        return mtbf_s
    x = math.sqrt(stall_s / (2 * mtbf_s))
    return math.sqrt(2 * stall_s * mtbf_s) * (1 + x / 3 + x * x / 9) - stall_s


def _floor(s_gpu_w: float, w: TrainingWorkload, tdp: float) -> float:
    f = w.mitigation.gpu_power_floor_frac_of_tdp
    return max(s_gpu_w, f * tdp) if f is not None else s_gpu_w


#: headroom a battery-backed job keeps under its grid limit, as a fraction of the limit: the level is fitted on the
#: ideal iteration wave, while the battery is dispatched on timeline buckets whose means and minima (partial steps,
#: checkpoint stalls) sit a little off it; with no headroom those small excesses drained the battery over weeks and
#: left no margin to recharge (a 2,048-GPU job at a 1.91 MW cap went over it after 9 days). An assumption, not fitted.
BATTERY_HEADROOM_FRAC = 0.005


def _step_level(su_base: dict, limit_w: float | None, battery, *, w: TrainingWorkload, fac, host_busy: float,
                idle: float, tdp: float, timer=None) -> StepLevel:
    """Operating point under a grid import limit: the highest GPU cap whose facility peak fits
    (no battery), or whose above-limit energy per iteration the battery can refill in the same
    iteration's communication phase (with a battery; BATTERY_HEADROOM_FRAC below the limit). Speed under the cap from
    `timer(cap) -> (compute-phase s, communication s)`, where given (the training core at that cap, _core_timer); else
    the power core's clock on the whole compute phase (costsim.core.power.cap_throughput_frac; communication not slowed)."""
    t_c, t_m = su_base["compute_s"], su_base["comm_s"]
    p_c, p_m = su_base["p_c"], su_base["p_m"]
    p_m_f = _floor(p_m, w, tdp)
    min_cap = w.power.min_gpu_cap_frac_of_tdp * tdp

    def level(cap):  # raw (unfloored) compute-phase GPU power; the floor is applied where it is drawn
        sp = float(cap_throughput_frac(cap, tdp, idle, "compute", phase_power_uncapped_w=p_c)) if cap is not None else 1.0
        if timer is not None and cap is not None:
            hi, tm = timer(cap)
        else:
            hi, tm = (t_c / sp if sp > 0 else math.inf), t_m
        gh = min(p_c, cap) if cap is not None else p_c
        return sp, hi, gh, tm

    if limit_w is None:
        sp, hi, gh, tm = level(None)
        return StepLevel(None, None, 1.0, hi + tm, hi, gh, p_m, True)
    fac_lo = float(fac(p_m_f, host_busy))

    def fits(cap):
        sp, hi, gh, tm = level(cap)
        fac_hi = float(fac(_floor(gh, w, tdp), host_busy))
        if battery is None:
            return fac_hi <= limit_w * (1 - 1e-12)
        if fac_hi <= limit_w * (1 - 1e-12):
            return True
        # the battery takes the whole iteration swing (costsim.sim.grid_battery): the grid sees
        # the iteration mean plus the round-trip losses of that swing, which must fit the limit,
        # and the swing on either side of the mean must fit the battery's power rating
        rating = battery.power_mw * MEGA
        mean = (fac_hi * hi + fac_lo * tm) / (hi + tm) if hi + tm > 0 else fac_hi
        up, dn = fac_hi - mean, mean - fac_lo
        if up > rating or dn > rating:
            return False
        loss = float(fast_loss_w(1.0, up, dn, battery.round_trip_efficiency_frac))
        return mean + loss <= limit_w * (1 - BATTERY_HEADROOM_FRAC)

    if fits(p_c):
        sp, hi, gh, tm = level(None)
        return StepLevel(limit_w, None, 1.0, hi + tm, hi, gh, p_m, True)
    if not fits(min_cap) or fac_lo > limit_w:
        sp, hi, gh, tm = level(min_cap)
        return StepLevel(limit_w, min_cap, sp, hi + tm, hi, gh, p_m, False,
                         f"even the lowest GPU cap ({min_cap:.0f} W) puts the job above the {power(limit_w)} import limit")
    lo, hi_c = min_cap, p_c
    for _ in range(60 if timer is None else 30):  # bisection on the GPU cap (30 steps: a 1e-9 of the range)
        mid = 0.5 * (lo + hi_c)
        lo, hi_c = (mid, hi_c) if fits(mid) else (lo, mid)
    sp, hi, gh, tm = level(lo)
    return StepLevel(limit_w, lo, sp, hi + tm, hi, gh, p_m, True)


def _core_timer(w: TrainingWorkload, scenario: Scenario, prof: dict, *, step_scale: float):
    """cap -> (compute-phase s, exposed communication s) of the base profile's layout, timed by the training core at
    that GPU cap as `costsim train --power-cap-w` and training.power_cap_w time it: the clock model slows the GEMMs and
    attention only, and a pipeline's bubble grows with its stages' compute. (The two-phase split,
    cap_throughput_frac on the whole compute phase with the bubble untouched, had put the step +1.7 % long at 400 W on
    H100 TP8 PP8 and 8.6 % short at 354 W with 40 stages.) `step_scale` carries a training.step_time_s override."""
    par = prof.get("parallelism") or {}
    moe_only = set() if get_model(w.model).is_moe else {"ep", "etp", "ep_overlap"}
    # the layout the core chose for the base profile, where the workload left a field to the search
    layout = w.layout.model_copy(update={k: v for k, v in par.items() if k in type(w.layout).model_fields
                                         and k not in moe_only and getattr(w.layout, k) is None})
    pinned = {"layout": layout}
    if par.get("global_batch"):
        pinned["global_batch"] = int(par["global_batch"])
    memo: dict[float, tuple[float, float]] = {}

    def timer(cap: float) -> tuple[float, float]:
        if cap not in memo:
            if w.power_cap_w is not None and cap >= w.power_cap_w:
                cap_prof = prof  # the workload's own cap binds: the base profile
            else:
                cap_prof = _core_step_profile(w.model_copy(update={**pinned, "power_cap_w": float(cap)}), scenario)
            step = float(pick(cap_prof, "step_time_s")) * step_scale
            comm = float(pick(cap_prof, "exposed_comm_time_s", "comm_time_s", default=0.0)) * step_scale
            memo[cap] = (max(step - comm, 0.0), comm)
        return memo[cap]
    return timer


def _core_timed(lv: StepLevel, timer) -> StepLevel:
    """A level whose GPU cap the power model found, timed by the training core at that cap (_core_timer)."""
    if lv.gpu_cap_w is None or not lv.feasible:
        return lv
    hi, comm = timer(lv.gpu_cap_w)
    return replace(lv, step_s=hi + comm, hi_s=hi)


def prepare(scenario: Scenario) -> Setup:
    w = scenario.training
    if w is None:
        raise InputError("scenario has no 'training' section; the training simulation needs one.", field="training")
    acc, model = get_accelerator(w.hardware), get_model(w.model)
    node = node_for(acc)
    prof = _core_step_profile(w, scenario)
    notes: list[str] = [f"step profile: {prof.get('source')}"]
    step = float(pick(prof, "step_time_s"))
    comm = float(pick(prof, "exposed_comm_time_s", "comm_time_s", default=0.0))
    compute = float(pick(prof, "compute_time_s", default=step - comm))
    if abs(compute + comm - step) > 1e-6 * step:  # other exposed terms (bubble, overheads) count as compute-phase time
        compute = step - comm
    if w.step_time_s is not None:
        scale = w.step_time_s / step
        step, compute, comm = w.step_time_s, compute * scale, comm * scale
        notes.append(f"step_time_s overridden to {w.step_time_s} s (compute/comm split kept)")
    tokens_per_step = float(pick(prof, "tokens_per_step", default=(w.global_batch or 1) * w.seq_len))
    p_c = float(pick(prof, "gpu_power_compute_w", "gpu_compute_power_w", "power_compute_w", default=device_power_w(acc.idle_w, acc.tdp_w, 1.0, 0.5)))
    p_m = float(pick(prof, "gpu_power_comm_w", "gpu_comm_power_w", "power_comm_w", default=device_power_w(acc.idle_w, acc.tdp_w, 0.0, 0.3)))
    ckpt_bytes = w.checkpoint.checkpoint_bytes or float(pick(prof, "checkpoint_bytes", default=FALLBACK_CKPT_BYTES_PER_PARAM * model.params_total))
    tokens = w.tokens or model.training_tokens
    if not tokens:
        raise InputError(f"training.tokens: model '{w.model}' has no training_tokens; give training.tokens (e.g. 15.6e12).", field="training.tokens")
    n = w.num_gpus
    pue = scenario.facility.pue
    host_busy = float(it_power_per_gpu_w(acc, node, scenario.facility, 0.0, busy=True))  # host share + cluster fabric
    host_idle = float(it_power_per_gpu_w(acc, node, scenario.facility, 0.0, busy=False))
    stall_w = float(checkpoint_phase_power(acc.idle_w, acc.tdp_w))  # warm idle
    design_it = n * (acc.tdp_w + host_busy)

    def fac(gpu_w, host_w):
        return facility_power_w(n * (np.asarray(gpu_w, float) + np.asarray(host_w, float)), scenario.facility, design_it_power_w=design_it)
    # checkpoint write / stall
    bw = (w.checkpoint.storage_bandwidth_gb_per_s * GB) if w.checkpoint.storage_bandwidth_gb_per_s else DEFAULT_STORAGE_BYTES_PER_S_PER_GPU * n
    write_s = ckpt_bytes / bw
    stall_s = write_s if w.checkpoint.mode == "sync" else ckpt_bytes / n / (w.checkpoint.snapshot_gb_per_s_per_gpu * GB)
    classes = w.reliability.failure_classes()
    lam = n * w.reliability.rate_scale * sum(c.rate_per_gpu_hour for c in classes) / S_PER_HOUR
    if w.checkpoint.policy == "fixed":
        tau = w.checkpoint.interval_s
    else:
        tau = daly_interval_s(stall_s, 1.0 / lam) if lam > 0 else math.inf
    clipped = tau < w.checkpoint.min_interval_s
    tau = max(tau, w.checkpoint.min_interval_s)
    # window
    window = math.inf
    if w.max_days is not None:
        window = w.max_days * S_PER_DAY
    if scenario.simulation.duration_s is not None:
        window = min(window, scenario.simulation.duration_s)
    # grid levels
    base = {"compute_s": compute, "comm_s": comm, "p_c": p_c, "p_m": p_m}
    battery = scenario.grid.battery
    base_limit = scenario.grid.import_cap_mw * MEGA if scenario.grid.import_cap_mw is not None else None
    windows = list(scenario.grid.curtailment)
    ba_ev = None
    if scenario.grid.balancing_authority is not None:  # the BA's curtailment events for this site
        ba_ev = _ba_site_events(scenario, base, base_limit, battery, w=w, fac=fac, host_busy=host_busy, acc=acc, window_s=window)
        windows += list(ba_ev.windows)
        notes.append(f"balancing authority {ba_ev.region} {ba_ev.year}: {len(ba_ev.windows)} curtailment windows for a "
                     f"{ba_ev.site_load_w / MEGA:.1f} MW site (queue ahead {ba_ev.queue_load_w / MEGA:.0f} MW)"
                     + ("; the run is longer than the rest of the year: hours wrap to the start of the same year" if ba_ev.wrapped else ""))
        if note := clock_note(scenario.grid.region, scenario.grid.balancing_authority.region):
            notes.append(note)
    limits = {base_limit} | {min(c.max_import_mw * MEGA, base_limit if base_limit is not None else math.inf) for c in windows}
    timer = _core_timer(w, scenario, prof, step_scale=(w.step_time_s / float(pick(prof, "step_time_s"))
                                                       if w.step_time_s is not None else 1.0))
    # without a battery the fit is the facility peak alone (no time in it): fit on the power model, then time the cap
    # found; a battery's fit weighs the phases' durations, so it is fitted on the core's timing (~30 core calls)
    levels = {lim: _core_timed(_step_level(base, lim, battery, w=w, fac=fac, host_busy=host_busy, idle=acc.idle_w,
                                           tdp=acc.tdp_w, timer=timer if battery is not None else None), timer)
              for lim in limits}
    lv0 = levels[base_limit]
    if not lv0.feasible:
        notes.append(f"grid import cap infeasible: {lv0.reason}")
    target_steps = tokens / tokens_per_step
    if target_steps < 1.0:
        raise InputError(f"training.tokens {tokens:.3g} is less than one training step: the global batch is {tokens_per_step:,.0f} tokens "
                         f"({tokens_per_step / w.seq_len:,.0f} sequences of {w.seq_len:,}); give at least {tokens_per_step:.3g} "
                         "tokens, or a smaller training.global_batch.", field="training.tokens")
    _check_window(w, scenario, window, step_s=lv0.step_s)
    # checkpoint interval in steps; an interval at least as long as the run means no periodic checkpoint
    # during the run. With no failures (job failure rate 0, e.g. reliability.rate_scale 0) the Young/Daly
    # optimum is unbounded: no periodic checkpoint is written (maintenance and curtailment pauses still
    # checkpoint first), and the interval reported is the whole run (its steps and its training time).
    run_steps = math.ceil(target_steps)
    ratio = tau / lv0.step_s if lv0.step_s > 0 and math.isfinite(lv0.step_s) else 0.0
    steps_per_ckpt = max(1, int(round(ratio))) if ratio < run_steps else run_steps
    if not math.isfinite(tau):
        tau = steps_per_ckpt * lv0.step_s if math.isfinite(lv0.step_s) else math.inf
        notes.append("no failures (job failure rate 0): the Young/Daly checkpoint interval is unbounded, so no periodic "
                     f"checkpoint is written during the run (interval = the whole run, {steps_per_ckpt:,} steps); planned "
                     "maintenance still checkpoints before each stop")
    spares = w.reliability.hot_spare_nodes
    if spares is None:
        per_node = node.devices_per_node if node else 8
        spares = math.ceil(0.01 * math.ceil(n / per_node))
    return Setup(w=w, scenario=scenario, num_gpus=n, profile=prof, tokens_per_step=tokens_per_step,
                 target_steps=target_steps, window_s=window, idle_w=acc.idle_w, tdp_w=acc.tdp_w,
                 stall_w=stall_w, host_busy_w=host_busy, host_idle_w=host_idle, pue=pue, ckpt_bytes=ckpt_bytes,
                 write_s=write_s, stall_s=stall_s, ckpt_interval_steps=steps_per_ckpt, ckpt_interval_s=tau,
                 ckpt_interval_clipped=clipped, job_failure_rate_per_s=lam, hot_spares=spares, levels=levels,
                 base_limit_w=base_limit, usd_per_gpu_h=usd_per_gpu_hour(acc, scenario.economics), acc=acc, notes=notes,
                 fabric_w=0.0, design_it_w=design_it, windows=windows, ba_events=ba_ev)


def _check_window(w: TrainingWorkload, scenario: Scenario, window_s: float, *, step_s: float) -> None:
    """InputError when the simulated window (simulation.duration_s, training.max_days) ends before the
    job's first training step does (after its start ramp): the run would report nothing trained."""
    if not math.isfinite(window_s) or not math.isfinite(step_s):
        return
    need = w.power.start_ramp_s + step_s
    if window_s >= need:
        return
    why = (f"it ends before the first training step does (start ramp, training.power.start_ramp_s = {w.power.start_ramp_s:g} s, "
           f"+ one step of {step_s:.3g} s = {need:.3g} s), so nothing would be trained")
    dur = scenario.simulation.duration_s
    if dur is not None and dur <= window_s:
        raise InputError(f"simulation.duration_s = {dur:.3g} s is too short to simulate this training run: {why}. Give "
                         f"simulation.duration_s >= {_ceil3(need):.3g} s, or leave it out to run the job to completion.",
                         field="simulation.duration_s")
    raise InputError(f"training.max_days = {w.max_days:.3g} is too short to simulate this training run: {why}. Give "
                     f"training.max_days >= {_ceil3(need / S_PER_DAY):.3g}, or leave it out.", field="training.max_days")


def _ceil3(x: float) -> float:
    """x rounded up to 3 significant digits (a bound printed with 3 digits that is itself allowed)."""
    if not (x > 0 and math.isfinite(x)):
        return x
    e = math.floor(math.log10(x)) - 2
    return math.ceil(x / 10.0 ** e - 1e-9) * 10.0 ** e


def timeline_bucket_estimate(horizon_s: float, bucket_s: float, *, what: str):
    """Work estimate of the coarse timeline: buckets = horizon / training.timeline.bucket_s, held to the
    timeline_buckets limit (costsim.specs.limits); the fix names the smallest bucket this run allows."""
    lim = limit("timeline_buckets")
    n = horizon_s / bucket_s if bucket_s > 0 else math.inf
    n = n if math.isfinite(n) else math.inf
    smallest = _ceil3(horizon_s / lim) if math.isfinite(horizon_s) else math.inf
    fix = (f"Give training.timeline.bucket_s >= {smallest:.3g} s for this run (default 60 s)." if math.isfinite(smallest)
           else "Give a larger training.timeline.bucket_s (default 60 s).")
    return WorkEstimate("timeline_buckets", n, lim, f"{what} / training.timeline.bucket_s ({bucket_s:.3g} s)", fix)


def _ba_site_events(scenario: Scenario, base: dict, base_limit, battery, *, w, fac, host_busy, acc, window_s: float):
    """Curtailment events of grid.balancing_authority for this job: the site load is the job's
    facility peak at its base operating point (or ba.site_load_mw), over the run's window (a year
    when the run has no window)."""
    from costsim.power.ba_events import site_events

    ba = scenario.grid.balancing_authority
    if ba.site_load_mw is not None:
        site_w = ba.site_load_mw * MEGA
    else:
        lv = _step_level(base, base_limit, battery, w=w, fac=fac, host_busy=host_busy, idle=acc.idle_w, tdp=acc.tdp_w)
        site_w = float(fac(_floor(lv.gpu_hi_w, w, acc.tdp_w), host_busy))
    horizon_h = int(math.ceil(window_s / S_PER_HOUR)) if math.isfinite(window_s) else None
    return site_events(ba, site_w, start_month=scenario.grid.start_month, start_hour=scenario.grid.start_hour,
                       horizon_h=horizon_h, battery=battery)
