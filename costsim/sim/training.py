"""Discrete-event simulation of a training run over weeks (SimPy).

Events only where the job's state changes: failures (one process per failure class), checkpoint
writes, restarts, planned maintenance, evaluation pauses, grid-limit changes (curtailment
windows). Between events the job progresses at the step rate of the training core, looked up
once per power-cap level (`StepLevel`), never re-derived per event.

Synchronous checkpointing without evaluation pauses is handled in periodic blocks: between
stochastic events (failures, maintenance, grid-limit changes) the train/checkpoint cycle is
deterministic, so one timeout covers the whole block and, when it ends or is interrupted, the
checkpoints completed, the steps kept, the stall in progress and the trace rows are computed
(`_Block`, `_Job._settle`); the trace and every statistic are the same as one event per checkpoint
(checked against the per-cycle loop to 1e-9). Async checkpoints and evaluation pauses keep the
per-cycle loop.

Power: every state change appends a segment to a piecewise trace (see power_trace.py): training
is a square wave between compute-phase and exposed-communication power; checkpoint stalls sit near
warm idle; restarts ramp down, idle, and ramp up. The coarse timeline (1-min min/mean/max) and the
fine windows (sub-second, around the first events of each kind) are computed from that trace, so
no iteration is stored.

Grid: an import cap becomes a GPU power cap (facility peak <= cap, or with a battery the iteration
mean plus the swing's round-trip losses <= cap and the swing on either side of the mean within the
battery's power rating). The battery itself is dispatched through costsim.power.battery with the
spec's policy (peak_shaving, smoothing, arbitrage on the region's hourly price) on the 1-minute
buckets plus the swing inside each bucket (costsim.sim.grid_battery); grid-side swing and ramp
(`grid_power_swing_w`, `grid_max_ramp_w_per_s`, fine-window `grid_import_w`) show what it buys. A capped GPU
runs its compute phase slower (clock ~ cap). Curtailment windows either cap the job harder or, when
even the slowest cap does not fit, make it checkpoint and pause until the window ends.

Entry points: `simulate_training(scenario, seed=...) -> SimOutput`,
`monte_carlo_training(scenario, seeds=..., progress=True) -> dict`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import simpy

from costsim.core.power import cap_throughput_frac, checkpoint_phase_power, device_power_w
from costsim.economics.accounting import account_run, usd_per_gpu_hour
from costsim.errors import InputError
from costsim.sim.base import SimOutput
from costsim.power.facility import facility_power_w, it_power_per_gpu_w
from costsim.sim.grid_battery import battery_on_buckets, fast_loss_w, grid_ramp_w_per_s
from costsim.sim.power_trace import CONST, RAMP, WAVE, Trace, bucket_stats, max_ramp_w_per_s, power_at
from costsim.specs.catalog import get_accelerator, get_model, node_for
from costsim.specs.limits import require, training_event_estimate
from costsim.specs.scenario import Scenario
from costsim.specs.training_sim import TrainingWorkload
from costsim.units import GB, MEGA, S_PER_DAY, S_PER_HOUR

# state codes in the trace (kind column)
TRAIN, CKPT, DOWN, EVAL, PAUSE, RAMP_UP, RAMP_DOWN = 0, 1, 2, 3, 4, 5, 6
KIND_NAMES = {TRAIN: "train", CKPT: "checkpoint", DOWN: "down", EVAL: "eval", PAUSE: "pause", RAMP_UP: "ramp_up", RAMP_DOWN: "ramp_down"}

PERIODIC_BLOCKS = True  # False: one SimPy event per checkpoint cycle (reference path, used by the tests)

FALLBACK_CKPT_BYTES_PER_PARAM = 14.0  # bf16 weights 2 + fp32 master 4 + Adam m 4 + v 4
DEFAULT_STORAGE_BYTES_PER_S_PER_GPU = 0.125 * GB  # 1 GB/s per 8-GPU node (Llama 3: 2 TB/s for 16k GPUs)


# --------------------------------------------------------------------------------------------
# step profile: looked up from the vectorized training core (never re-derived per event)
# --------------------------------------------------------------------------------------------

def _pick(d: dict, *names: str, default=None):
    for n in names:
        if n in d and d[n] is not None:
            return d[n]
    return default


def _core_step_profile(w: TrainingWorkload, scenario: Scenario) -> dict[str, Any]:
    from costsim.estimators.training import step_profile
    from costsim.specs.requests import TrainRequest

    lay = w.layout
    req = TrainRequest(model=w.model, hardware=w.hardware, gpus=w.num_gpus, tokens=w.tokens, seq_len=w.seq_len,
                       global_batch=w.global_batch, precision=w.precision, tp=lay.tp, pp=lay.pp, cp=lay.cp, ep=lay.ep,
                       dp=lay.dp, vp=lay.vp, micro_batch=lay.micro_batch, recompute=lay.recompute, zero=lay.zero,
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


def _step_level(su_base: dict, limit_w: float | None, battery, *, w: TrainingWorkload, fac, host_busy: float,
                idle: float, tdp: float) -> StepLevel:
    """Operating point under a grid import limit: the highest GPU cap whose facility peak fits
    (no battery), or whose above-limit energy per iteration the battery can refill in the same
    iteration's communication phase (with a battery). Speed under the cap from the power core
    (costsim.core.power.cap_throughput_frac, compute phase; communication is not slowed)."""
    t_c, t_m = su_base["compute_s"], su_base["comm_s"]
    p_c, p_m = su_base["p_c"], su_base["p_m"]
    p_m_f = _floor(p_m, w, tdp)
    min_cap = w.power.min_gpu_cap_frac_of_tdp * tdp

    def level(cap):  # raw (unfloored) compute-phase GPU power; the floor is applied where it is drawn
        sp = float(cap_throughput_frac(cap, tdp, idle, "compute", phase_power_uncapped_w=p_c)) if cap is not None else 1.0
        hi = t_c / sp if sp > 0 else math.inf
        gh = min(p_c, cap) if cap is not None else p_c
        return sp, hi, gh

    if limit_w is None:
        sp, hi, gh = level(None)
        return StepLevel(None, None, 1.0, hi + t_m, hi, gh, p_m, True)
    fac_lo = float(fac(p_m_f, host_busy))

    def fits(cap):
        sp, hi, gh = level(cap)
        fac_hi = float(fac(_floor(gh, w, tdp), host_busy))
        if battery is None:
            return fac_hi <= limit_w * (1 - 1e-12)
        if fac_hi <= limit_w * (1 - 1e-12):
            return True
        # the battery takes the whole iteration swing (costsim.sim.grid_battery): the grid sees
        # the iteration mean plus the round-trip losses of that swing, which must fit the limit,
        # and the swing on either side of the mean must fit the battery's power rating
        rating = battery.power_mw * MEGA
        mean = (fac_hi * hi + fac_lo * t_m) / (hi + t_m) if hi + t_m > 0 else fac_hi
        up, dn = fac_hi - mean, mean - fac_lo
        if up > rating or dn > rating:
            return False
        loss = float(fast_loss_w(1.0, up, dn, battery.round_trip_efficiency_frac))
        return mean + loss <= limit_w * (1 - 1e-9)

    if fits(p_c):
        sp, hi, gh = level(None)
        return StepLevel(limit_w, None, 1.0, hi + t_m, hi, gh, p_m, True)
    if not fits(min_cap) or fac_lo > limit_w:
        sp, hi, gh = level(min_cap)
        return StepLevel(limit_w, min_cap, sp, hi + t_m, hi, gh, p_m, False,
                         f"even the lowest GPU cap ({min_cap:.0f} W) puts the job above the {limit_w / MEGA:.1f} MW import limit")
    lo, hi_c = min_cap, p_c
    for _ in range(60):  # bisection on the GPU cap
        mid = 0.5 * (lo + hi_c)
        lo, hi_c = (mid, hi_c) if fits(mid) else (lo, mid)
    sp, hi, gh = level(lo)
    return StepLevel(limit_w, lo, sp, hi + t_m, hi, gh, p_m, True)


def prepare(scenario: Scenario) -> Setup:
    w = scenario.training
    if w is None:
        raise InputError("scenario has no 'training' section; the training simulation needs one.", field="training")
    acc, model = get_accelerator(w.hardware), get_model(w.model)
    node = node_for(acc)
    prof = _core_step_profile(w, scenario)
    notes: list[str] = [f"step profile: {prof.get('source')}"]
    step = float(_pick(prof, "step_time_s"))
    comm = float(_pick(prof, "exposed_comm_time_s", "comm_time_s", default=0.0))
    compute = float(_pick(prof, "compute_time_s", default=step - comm))
    if abs(compute + comm - step) > 1e-6 * step:  # other exposed terms (bubble, overheads) count as compute-phase time
        compute = step - comm
    if w.step_time_s is not None:
        scale = w.step_time_s / step
        step, compute, comm = w.step_time_s, compute * scale, comm * scale
        notes.append(f"step_time_s overridden to {w.step_time_s} s (compute/comm split kept)")
    tokens_per_step = float(_pick(prof, "tokens_per_step", default=(w.global_batch or 1) * w.seq_len))
    p_c = float(_pick(prof, "gpu_power_compute_w", "gpu_compute_power_w", "power_compute_w", default=device_power_w(acc.idle_w, acc.tdp_w, 1.0, 0.5)))
    p_m = float(_pick(prof, "gpu_power_comm_w", "gpu_comm_power_w", "power_comm_w", default=device_power_w(acc.idle_w, acc.tdp_w, 0.0, 0.3)))
    ckpt_bytes = w.checkpoint.checkpoint_bytes or float(_pick(prof, "checkpoint_bytes", default=FALLBACK_CKPT_BYTES_PER_PARAM * model.params_total))
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
    limits = {base_limit} | {min(c.max_import_mw * MEGA, base_limit if base_limit is not None else math.inf) for c in windows}
    levels = {lim: _step_level(base, lim, battery, w=w, fac=fac, host_busy=host_busy, idle=acc.idle_w, tdp=acc.tdp_w)
              for lim in limits}
    lv0 = levels[base_limit]
    if not lv0.feasible:
        notes.append(f"grid import cap infeasible: {lv0.reason}")
    steps_per_ckpt = max(1, int(round(tau / lv0.step_s)))
    spares = w.reliability.hot_spare_nodes
    if spares is None:
        per_node = node.devices_per_node if node else 8
        spares = math.ceil(0.01 * math.ceil(n / per_node))
    return Setup(w=w, scenario=scenario, num_gpus=n, profile=prof, tokens_per_step=tokens_per_step,
                 target_steps=tokens / tokens_per_step, window_s=window, idle_w=acc.idle_w, tdp_w=acc.tdp_w,
                 stall_w=stall_w, host_busy_w=host_busy, host_idle_w=host_idle, pue=pue, ckpt_bytes=ckpt_bytes,
                 write_s=write_s, stall_s=stall_s, ckpt_interval_steps=steps_per_ckpt, ckpt_interval_s=tau,
                 ckpt_interval_clipped=clipped, job_failure_rate_per_s=lam, hot_spares=spares, levels=levels,
                 base_limit_w=base_limit, usd_per_gpu_h=usd_per_gpu_hour(acc, scenario.economics), acc=acc, notes=notes,
                 fabric_w=0.0, design_it_w=design_it, windows=windows, ba_events=ba_ev)


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


# --------------------------------------------------------------------------------------------
# the SimPy model
# --------------------------------------------------------------------------------------------

class _Fail:
    __slots__ = ("cls_idx",)

    def __init__(self, i):
        self.cls_idx = i


class _Planned:
    pass


class _Limit:
    __slots__ = ("limit_w",)

    def __init__(self, limit_w):
        self.limit_w = limit_w


class _Block:
    """A deterministic run of synchronous train/checkpoint cycles starting at t0: a first training
    part of `first_steps` (the rest of the current checkpoint interval), then checkpoint; m full
    cycles of `full_steps` + checkpoint; a last training part of `last_steps` (0 < last <= full)
    that reaches the target. Positions inside it are computed, not simulated."""
    __slots__ = ("t0", "lv", "first_steps", "full_steps", "stall_s", "m", "last_steps", "duration_s",
                 "steps0", "work0", "since_eval0", "c0_s", "cyc_s")

    def __init__(self, t0, lv, first_steps, full_steps, stall_s, n_left):
        self.t0, self.lv, self.stall_s = t0, lv, stall_s
        self.first_steps, self.full_steps = first_steps, full_steps
        rest = n_left - first_steps  # > 0
        self.m = max(int(math.ceil(rest / full_steps)) - 1, 0)
        self.last_steps = rest - self.m * full_steps
        self.c0_s = first_steps * lv.step_s + stall_s
        self.cyc_s = full_steps * lv.step_s + stall_s
        self.duration_s = self.c0_s + self.m * self.cyc_s + self.last_steps * lv.step_s

    def cycle_starts(self, j):
        out = np.empty(j + 1)
        out[0] = self.t0
        if j >= 1:
            out[1:] = self.t0 + self.c0_s + np.arange(j) * self.cyc_s
        return out

    def position(self, t):
        """(cycle index j in 0..m+1, inside that cycle's checkpoint stall?) at time t."""
        e = t - self.t0
        if e < self.c0_s:
            j = 0
        else:
            j = min(1 + int((e - self.c0_s) // self.cyc_s), self.m + 1)
        if j == self.m + 1:
            return j, False
        start = self.t0 if j == 0 else self.t0 + self.c0_s + (j - 1) * self.cyc_s
        n = self.first_steps if j == 0 else self.full_steps
        return j, (t - start) >= n * self.lv.step_s


class _Job:
    def __init__(self, env: simpy.Environment, su: Setup, rng: np.random.Generator):
        self.env, self.su, self.rng, self.w = env, su, rng, su.w
        w = su.w
        self.classes = su.w.reliability.failure_classes()
        # trace rows: (t0, kind, shape, gpu_a, gpu_b, gpu_a_unfloored, gpu_b_unfloored, host, period_s, hi_s)
        self.rows: list[tuple] = []
        # analytic checkpoint blocks already expanded to row arrays: (position in rows, ndarray (k, 10))
        self.row_chunks: list[tuple[int, np.ndarray]] = []
        self.block: _Block | None = None  # the periodic train/checkpoint block in progress
        self._floor_w = (w.mitigation.gpu_power_floor_frac_of_tdp * su.tdp_w) if w.mitigation.gpu_power_floor_frac_of_tdp is not None else None
        self.events: list[tuple[float, str]] = [(0.0, "start")]
        # progress
        self.steps = 0.0
        self.work_s = 0.0  # productive step time of the kept steps
        self.committed = (0.0, 0.0)
        self.pending: list[tuple[float, float, float]] = []  # async: (t_commit, steps, work_s)
        self.since_eval_s = 0.0
        self.limit_w = su.base_limit_w
        # counters
        self.n_fail = 0
        self.n_fail_by_class = np.zeros(len(self.classes), dtype=np.int64)
        self.n_planned = 0
        self.n_ckpt = 0
        self.n_eval = 0
        self.n_pause = 0
        self.lost_work_s = 0.0
        self.lost_per_failure: list[float] = []
        self.down_s = 0.0
        self.spares_free = su.hot_spares
        self.spare_waits = 0
        self.done_t: float | None = None
        self.stop_t = su.window_s
        self.proc = env.process(self.run())

    # --- trace helpers ----------------------------------------------------------------------
    def _seg(self, kind, shape, ga, gb, host, period=0.0, hi=0.0, floor=True):
        fl = self._floor_w
        t = self.env.now
        rows = self.rows
        if rows and rows[-1][0] == t:  # replace a zero-length segment
            rows.pop()
        if floor and fl is not None:
            rows.append((t, kind, shape, max(ga, fl), max(gb, fl), ga, gb, host, period, hi))
        else:
            rows.append((t, kind, shape, ga, gb, ga, gb, host, period, hi))

    def _level(self) -> StepLevel:
        return self.su.levels[self.limit_w]

    def _apply_pending(self):
        now = self.env.now
        while self.pending and self.pending[0][0] <= now:
            _, s, wk = self.pending.pop(0)
            self.committed = (s, wk)

    # --- failure bookkeeping ----------------------------------------------------------------
    def _fail_downtime(self, ci: int) -> float:
        c = self.classes[ci]
        rel = self.w.reliability
        d = c.restart_s if c.restart_s is not None else rel.restart_s
        if c.hardware:
            repair = c.repair_s if c.repair_s is not None else rel.repair_s
            if self.spares_free > 0:
                self.spares_free -= 1
                self.env.process(self._repair(repair))
                d += rel.spare_swap_s
            else:  # wait for the failed node itself
                self.spare_waits += 1
                d += repair
        return d

    def _repair(self, dt):
        yield self.env.timeout(dt)
        self.spares_free += 1

    def _lose_work(self):
        self._apply_pending()
        now = self.env.now
        self.pending = [p for p in self.pending if p[0] <= now]  # in-flight async writes are lost
        lost = self.work_s - self.committed[1]
        self.lost_work_s += lost
        self.lost_per_failure.append(lost)
        self.steps, self.work_s = self.committed
        self.since_eval_s = 0.0

    # --- states -----------------------------------------------------------------------------
    def _down(self, dur: float, *, powered: bool = True):
        """Stop ramp -> idle -> start ramp, total `dur`; failures during it restart it (Daly)."""
        su, w = self.su, self.w
        end = self.env.now + dur
        filler = w.mitigation.filler_during_restarts
        g_idle = su.idle_w if powered else 0.0
        h_idle = su.host_idle_w if powered else 0.0
        g_run = self._level().gpu_hi_w
        start_t = self.env.now
        while True:
            try:
                rem = end - self.env.now
                down_r = min(w.power.stop_ramp_s, 0.5 * rem) if self.env.now == start_t else 0.0
                up_r = min(w.power.start_ramp_s, 0.5 * rem)
                if down_r > 0:
                    self._seg(RAMP_DOWN, RAMP, self._cur_gpu(), g_idle, h_idle, period=down_r, floor=filler)
                    yield self.env.timeout(down_r)
                self._seg(DOWN, CONST, g_idle, g_idle, h_idle, floor=filler)
                yield self.env.timeout(max(end - up_r - self.env.now, 0.0))
                self._seg(RAMP_UP, RAMP, g_idle, g_run, su.host_busy_w, period=max(up_r, 1e-9), floor=filler)
                yield self.env.timeout(max(end - self.env.now, 0.0))
                self.down_s += self.env.now - start_t
                self.events.append((self.env.now, "restart"))
                return
            except simpy.Interrupt as intr:
                c = intr.cause
                if isinstance(c, _Fail):
                    self._count_fail(c.cls_idx)
                    d = self._fail_downtime(c.cls_idx)
                    self._seg(DOWN, CONST, g_idle, g_idle, h_idle, floor=filler)
                    end = self.env.now + d if w.reliability.restart_on_failure_during_restart else max(end, self.env.now + d)
                elif isinstance(c, _Planned):
                    self.n_planned += 1
                    self._seg(DOWN, CONST, g_idle, g_idle, h_idle, floor=filler)
                    end = max(end, self.env.now + w.maintenance.downtime_s + w.reliability.restart_s)
                elif isinstance(c, _Limit):
                    self.limit_w = c.limit_w
                    self._seg(DOWN, CONST, g_idle, g_idle, h_idle, floor=filler)
                    g_run = self._level().gpu_hi_w

    def _cur_gpu(self) -> float:
        r = self.rows[-1]
        return r[5] if r[2] != RAMP else r[6]

    def _count_fail(self, ci):
        self.n_fail += 1
        self.n_fail_by_class[ci] += 1
        self.events.append((self.env.now, "failure"))

    def run(self):
        su, w, env = self.su, self.w, self.env
        # job start: ramp from idle to training power
        self._seg(RAMP_UP, RAMP, su.idle_w, self._level().gpu_hi_w, su.host_busy_w, period=w.power.start_ramp_s)
        resume = None  # a pending interruption to handle
        try:
            yield env.timeout(w.power.start_ramp_s)
        except simpy.Interrupt as intr:
            resume = intr.cause
        while True:
            if resume is not None:
                c, resume = resume, None
                yield from self._handle(c)
                continue
            if self.steps >= su.target_steps - 1e-9:
                self.done_t = env.now
                self.events.append((env.now, "stop"))
                self._seg(RAMP_DOWN, RAMP, self._cur_gpu(), su.idle_w, su.host_idle_w, period=w.power.stop_ramp_s, floor=False)
                return
            lv = self._level()
            if not lv.feasible:
                resume = _Limit(self.limit_w)  # pause until the limit changes
                continue
            self._apply_pending()
            since = self.steps - self.committed[0] if w.checkpoint.mode == "sync" else self.steps - self._last_snapshot_steps()
            n_ckpt = max(su.ckpt_interval_steps - since, 0.0)
            n_left = su.target_steps - self.steps
            if PERIODIC_BLOCKS and w.checkpoint.mode == "sync" and w.evaluation.every_s is None and n_left > n_ckpt:
                # between stochastic events the train/checkpoint cycle is deterministic: one
                # event for the whole periodic block instead of one per checkpoint
                blk = _Block(env.now, lv, n_ckpt, su.ckpt_interval_steps, su.stall_s, n_left)
                blk.steps0, blk.work0, blk.since_eval0 = self.steps, self.work_s, self.since_eval_s
                self.block = blk
                try:
                    yield env.timeout(blk.duration_s)
                except simpy.Interrupt as intr:
                    resume = intr.cause
                self._settle(env.now)
                if self.rows[-1][1] == TRAIN:  # the training part in progress (or the last one, ended)
                    self._progress(env.now - self.rows[-1][0], lv)
                continue
            n_eval = math.inf
            if w.evaluation.every_s is not None:
                n_eval = max((w.evaluation.every_s - self.since_eval_s) / lv.step_s, 0.0)
            n = min(n_ckpt, n_left, n_eval)
            t_start = env.now
            self._seg(TRAIN, WAVE, lv.gpu_hi_w, lv.gpu_lo_w, su.host_busy_w, lv.step_s, lv.hi_s)
            try:
                if n > 0:
                    yield env.timeout(n * lv.step_s)
                self._progress(env.now - t_start, lv)
            except simpy.Interrupt as intr:
                self._progress(env.now - t_start, lv)
                resume = intr.cause
                continue
            if n == n_left:
                continue
            if n == n_ckpt and self.w.checkpoint.mode == "sync" and not (n == n_eval):
                # fast path of the common cycle: a synchronous checkpoint write
                self._seg(CKPT, CONST, su.stall_w, su.stall_w, su.host_busy_w)
                if len(self.events) < 64:
                    self.events.append((env.now, "checkpoint"))
                snap = (self.steps, self.work_s)
                try:
                    yield env.timeout(su.stall_s)
                except simpy.Interrupt as intr:
                    resume = intr.cause
                    continue
                self.n_ckpt += 1
                self.committed = snap
                continue
            if n == n_eval and n_eval < n_ckpt:
                resume = yield from self._evaluate()
                continue
            resume = yield from self._checkpoint()

    def _settle(self, t: float) -> None:
        """Turn the periodic block in progress into trace rows and counters up to time t: the
        checkpoints completed, the steps of every training part that ended (including one whose
        checkpoint stall is in progress: snapshot taken, not yet committed), and the last row
        (training or a stall in progress) left open as the trace's current segment. Partial
        progress of that last training row is credited by the caller, as in the per-cycle loop."""
        b, self.block = self.block, None
        if b is None:
            return
        su, lv = self.su, b.lv
        j, in_stall = b.position(t)
        # times of each cycle start (0..j)
        starts = b.cycle_starts(j)
        n_i = np.full(j + 1, float(b.full_steps))
        n_i[0] = b.first_steps
        if j == b.m + 1:
            n_i[j] = b.last_steps
        train_t = starts
        ckpt_t = starts + n_i * lv.step_s
        # rows in time order: train (skipped when zero-length), checkpoint for completed cycles
        tr_row = self._row(TRAIN, WAVE, lv.gpu_hi_w, lv.gpu_lo_w, su.host_busy_w, lv.step_s, lv.hi_s)
        ck_row = self._row(CKPT, CONST, su.stall_w, su.stall_w, su.host_busy_w)
        n_ck = j + (1 if in_stall else 0)  # checkpoint stalls started
        k_tr = j + 1
        tt = np.empty(k_tr + n_ck)
        kind = np.empty(k_tr + n_ck, dtype=np.int64)
        tt[0::2][:k_tr] = train_t
        kind[0::2][:k_tr] = 0
        if n_ck:
            tt[1::2][:n_ck] = ckpt_t[:n_ck]
            kind[1::2][:n_ck] = 1
        keep = np.ones(len(tt), bool)
        keep[:-1] = tt[1:] > tt[:-1]  # a zero-length row is replaced by the next (as _seg does)
        tt, kind = tt[keep], kind[keep]
        arr = np.where(kind[:, None] == 0, np.asarray(tr_row, float)[None, :], np.asarray(ck_row, float)[None, :])
        arr[:, 0] = tt
        # the checkpoint events for the fine windows (first ones only, as the loop records them)
        for tc in ckpt_t[:n_ck]:
            if len(self.events) >= 64:
                break
            self.events.append((float(tc), "checkpoint"))
        # counters: steps / work of the training parts that ended
        done_steps = float(np.sum(n_i[:n_ck])) if n_ck else 0.0
        committed_steps = float(np.sum(n_i[:j]))
        self.n_ckpt += j
        if j > 0:
            self.committed = (b.steps0 + committed_steps, b.work0 + committed_steps * lv.step_s)
        self.steps = b.steps0 + done_steps
        self.work_s = b.work0 + done_steps * lv.step_s
        self.since_eval_s = b.since_eval0 + done_steps * lv.step_s
        # rows: everything but the last as a chunk, the last as the current row
        rows = self.rows
        if rows and rows[-1][0] == arr[0, 0]:
            rows.pop()
        if len(arr) > 1:
            self.row_chunks.append((len(rows), arr[:-1]))
        last = arr[-1]
        rows.append((float(last[0]), int(last[1]), int(last[2]), *map(float, last[3:])))

    def _row(self, kind, shape, ga, gb, host, period=0.0, hi=0.0) -> tuple:
        fl = self._floor_w
        if fl is not None:
            return (0.0, kind, shape, max(ga, fl), max(gb, fl), ga, gb, host, period, hi)
        return (0.0, kind, shape, ga, gb, ga, gb, host, period, hi)

    def _last_snapshot_steps(self):
        return self.pending[-1][1] if self.pending else self.committed[0]

    def _progress(self, dt, lv):
        self.steps += dt / lv.step_s
        self.work_s += dt
        self.since_eval_s += dt

    def _checkpoint(self):
        su, env = self.su, self.env
        self._seg(CKPT, CONST, su.stall_w, su.stall_w, su.host_busy_w)
        if len(self.events) < 64 or self.w.checkpoint.mode != "sync":
            self.events.append((env.now, "checkpoint"))
        snap = (self.steps, self.work_s)
        try:
            yield env.timeout(su.stall_s)
        except simpy.Interrupt as intr:
            return intr.cause
        self.n_ckpt += 1
        if self.w.checkpoint.mode == "sync":
            self.committed = snap
        else:
            self.pending.append((env.now + su.write_s, snap[0], snap[1]))
        return None

    def _evaluate(self):
        su, env = self.su, self.env
        lv = self._level()
        self._seg(EVAL, CONST, lv.gpu_hi_w, lv.gpu_hi_w, su.host_busy_w)
        self.events.append((env.now, "eval"))
        self.since_eval_s = 0.0
        try:
            yield env.timeout(self.w.evaluation.duration_s)
        except simpy.Interrupt as intr:
            return intr.cause
        self.n_eval += 1
        return None

    def _handle(self, c):
        """React to an interruption that hit a running state (train, checkpoint, eval)."""
        su, w, env = self.su, self.w, self.env
        if isinstance(c, _Fail):
            self._count_fail(c.cls_idx)
            self._lose_work()
            yield from self._down(self._fail_downtime(c.cls_idx))
        elif isinstance(c, _Planned):
            self.n_planned += 1
            self.events.append((env.now, "maintenance"))
            cause = yield from self._checkpoint()  # planned: save first, lose nothing
            if cause is not None:
                yield from self._handle(cause)
                return
            self._sync_pending()
            yield from self._down(w.maintenance.downtime_s + w.reliability.restart_s)
        elif isinstance(c, _Limit):
            self.limit_w = c.limit_w
            if self._level().feasible:
                return
            # even the lowest cap does not fit: checkpoint, pause (powered down if idle does not fit), resume
            self.n_pause += 1
            self.events.append((env.now, "curtail"))
            cause = yield from self._checkpoint()
            if cause is not None and not isinstance(cause, _Limit):
                yield from self._handle(cause)
                return
            self._sync_pending()
            idle_fac = float(su.fac_w(su.idle_w, su.host_idle_w))
            powered = self.limit_w is None or idle_fac <= self.limit_w
            t0 = env.now
            self._seg(RAMP_DOWN, RAMP, self._cur_gpu(), su.idle_w if powered else 0.0, su.host_idle_w if powered else 0.0,
                      period=w.power.stop_ramp_s)
            while not self._level().feasible:
                try:
                    if env.now == t0:
                        yield env.timeout(w.power.stop_ramp_s)
                        g = su.idle_w if powered else 0.0
                        self._seg(PAUSE, CONST, g, g, su.host_idle_w if powered else 0.0, floor=False)
                    yield env.event()  # wait for an interrupt (limit change / failure)
                except simpy.Interrupt as intr:
                    cc = intr.cause
                    if isinstance(cc, _Limit):
                        self.limit_w = cc.limit_w
                    elif isinstance(cc, _Fail):
                        self._count_fail(cc.cls_idx)
                        self._fail_downtime(cc.cls_idx)  # takes a spare; the restart below covers it
            self.down_s += env.now - t0
            yield from self._down(w.reliability.restart_s, powered=powered)

    def _sync_pending(self):
        """Before a planned stop, wait-free: an async checkpoint is flushed before the job stops."""
        if self.pending:
            _, s, wk = self.pending[-1]
            self.pending.clear()
            self.committed = (s, wk)


def _failure_process(env, job: _Job, ci: int, rate_per_s: float, rng: np.random.Generator, dist: str, shape: float):
    if rate_per_s <= 0:
        return
    mean = 1.0 / rate_per_s
    scale = mean / math.gamma(1.0 + 1.0 / shape) if dist == "weibull" else mean
    while True:
        dt = scale * rng.weibull(shape) if dist == "weibull" else rng.exponential(mean)
        yield env.timeout(dt)
        if job.proc.is_alive:
            job.proc.interrupt(_Fail(ci))
        else:
            return


def _planned_process(env, job: _Job, per_day: float, schedule: str, rng):
    if per_day <= 0:
        return
    mean = S_PER_DAY / per_day
    while True:
        yield env.timeout(rng.exponential(mean) if schedule == "poisson" else mean)
        if not job.proc.is_alive:
            return
        job.proc.interrupt(_Planned())


def _limit_process(env, job: _Job, su: Setup):
    """Curtailment windows: the limit changes at window start and back at its end. A window whose
    limit stops the job is announced early enough to checkpoint and ramp down before it starts."""
    base = su.base_limit_w
    for cw in sorted(su.windows, key=lambda c: c.start_h):
        lim = min(cw.max_import_mw * MEGA, base if base is not None else math.inf)
        t_start = cw.start_h * S_PER_HOUR
        lead = su.stall_s + su.w.power.stop_ramp_s if not su.levels[lim].feasible else 0.0
        t_apply = max(t_start - lead, env.now)
        yield env.timeout(t_apply - env.now)
        if not job.proc.is_alive:
            return
        job.proc.interrupt(_Limit(lim))
        yield env.timeout(max(t_start + cw.duration_h * S_PER_HOUR - env.now, 0.0))
        if not job.proc.is_alive:
            return
        job.proc.interrupt(_Limit(base))


# --------------------------------------------------------------------------------------------
# post-processing
# --------------------------------------------------------------------------------------------

def _rows(job: _Job, end_s: float) -> dict[str, np.ndarray]:
    arr = np.asarray(job.rows, dtype=float).reshape(-1, 10)
    if job.row_chunks:  # analytic blocks, spliced in at their positions
        parts, prev = [], 0
        for pos, chunk in job.row_chunks:
            parts += [arr[prev:pos], chunk]
            prev = pos
        parts.append(arr[prev:])
        arr = np.concatenate(parts)
    arr = arr[arr[:, 0] < end_s]
    cols = ("t0", "kind", "shape", "ga", "gb", "ga0", "gb0", "host", "per", "hi")
    d = {c: arr[:, i] for i, c in enumerate(cols)}
    d["kind"] = d["kind"].astype(np.int64)
    d["shape"] = d["shape"].astype(np.int64)
    d["t1"] = np.r_[d["t0"][1:], end_s]
    return d


def _trace(r: dict, fac, cols=("ga", "gb")) -> Trace:
    return Trace(r["t0"], r["t1"], r["shape"], fac(r[cols[0]], r["host"]), fac(r[cols[1]], r["host"]), r["per"], r["hi"])


def _region_profile(su: Setup):
    """The region profile of scenario.grid.region (None without one: flat economics values apply)."""
    g = su.scenario.grid
    if not g.region:
        return None
    from costsim.power.signals import load_region

    return load_region(g.region, start_month=g.start_month, start_hour=g.start_hour)


def _region_signals(su: Setup, t_s: np.ndarray):
    """Hourly price (USD/kWh) and carbon (gCO2e/kWh) of scenario.grid.region at the bucket starts
    (None, None without a region: the flat economics values are used)."""
    prof = _region_profile(su)
    if prof is None:
        return None, None
    return np.asarray(prof.price.at(t_s), float), np.asarray(prof.carbon.at(t_s), float)


def _window_swing_ramp(p: np.ndarray, wid: np.ndarray, res_s: float) -> tuple[float, float]:
    """Largest peak-to-trough within any 60-s stretch, and largest |dP/dt|, over the fine windows."""
    swing, ramp = 0.0, 0.0
    n_min = max(int(round(60.0 / res_s)), 1)
    for i in np.unique(wid):
        pi = p[wid == i]
        if len(pi) < 2:
            continue
        ramp = max(ramp, float(np.max(np.abs(np.diff(pi)))) / res_s)
        for j in range(0, len(pi), max(n_min // 4, 1)):  # sliding 60-s windows
            seg = pi[j:j + n_min]
            swing = max(swing, float(seg.max() - seg.min()))
    return swing, ramp


def _limit_series(su: Setup, t_s: np.ndarray) -> np.ndarray:
    base = su.base_limit_w if su.base_limit_w is not None else math.inf
    lim = np.full(len(t_s), base)
    for cw in su.windows:
        a, b = cw.start_h * S_PER_HOUR, (cw.start_h + cw.duration_h) * S_PER_HOUR
        lim[(t_s >= a) & (t_s < b)] = np.minimum(lim[(t_s >= a) & (t_s < b)], cw.max_import_mw * MEGA)
    return lim


def _fine_windows(job: _Job, tr: Trace, su: Setup, end_s: float):
    tl = su.w.timeline
    per_kind: dict[str, int] = {}
    ts, ps, wid, kinds = [], [], [], []
    k = 0
    for t, kind in job.events:
        if t > end_s or per_kind.get(kind, 0) >= tl.fine_max_per_kind:
            continue
        per_kind[kind] = per_kind.get(kind, 0) + 1
        grid = np.arange(max(t - tl.fine_pre_s, 0.0), min(t + tl.fine_post_s, end_s), tl.fine_resolution_s)
        if len(grid) < 2:
            continue
        ts.append(grid)
        ps.append(power_at(tr, grid, su.w.power.phase_edge_s))
        wid.append(np.full(len(grid), k))
        kinds.append(np.full(len(grid), kind))
        k += 1
    if not ts:
        return {}, 0.0, 0.0
    t = np.concatenate(ts)
    p = np.concatenate(ps)
    w = np.concatenate(wid)
    swing, ramp = 0.0, 0.0
    n_min = max(int(round(60.0 / tl.fine_resolution_s)), 1)
    for i in range(k):
        pi = p[w == i]
        ramp = max(ramp, float(np.max(np.abs(np.diff(pi)))) / tl.fine_resolution_s)
        for j in range(0, len(pi), max(n_min // 4, 1)):  # sliding 60-s windows
            seg = pi[j:j + n_min]
            swing = max(swing, float(seg.max() - seg.min()))
    table = {"t_s": t, "facility_power_w": p, "window": w, "event": np.concatenate(kinds)}
    return table, swing, ramp


def simulate_training(scenario: Scenario, *, seed: int | None = None, setup: Setup | None = None,
                      fine: bool = True, keep_segments: bool = False) -> SimOutput:
    """One replicate of the training scenario. One numpy Generator, seeded from the scenario's
    seed (or `seed`), drives every random draw; same scenario + seed = identical output."""
    wall0 = time.perf_counter()
    su = setup or prepare(scenario)
    w = su.w
    # work estimate before the first event: failures + maintenance over the horizon the run can take
    lv = su.levels[su.base_limit_w]
    # (expected: the ideal time plus restarts and checkpoints; 1.5x covers goodput down to ~67 %)
    horizon_s = min(su.window_s, 1.5 * su.target_steps * lv.step_s + S_PER_DAY) if lv.step_s > 0 else su.window_s
    require([training_event_estimate((su.job_failure_rate_per_s + w.maintenance.per_day / S_PER_DAY) * horizon_s,
                                     gpus=w.num_gpus, horizon_s=horizon_s)])
    seed = scenario.simulation.seed if seed is None else seed
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    job = _Job(env, su, rng)
    rel = w.reliability
    for i, c in enumerate(job.classes):
        env.process(_failure_process(env, job, i, w.num_gpus * c.rate_per_gpu_hour * rel.rate_scale / S_PER_HOUR,
                                     np.random.default_rng(rng.integers(2**63)), c.distribution, c.weibull_shape))
    env.process(_planned_process(env, job, w.maintenance.per_day, w.maintenance.schedule, np.random.default_rng(rng.integers(2**63))))
    if su.windows:
        env.process(_limit_process(env, job, su))
    if math.isfinite(su.window_s):
        env.run(until=job.proc | env.timeout(su.window_s))
    else:
        # run to completion; a guard against a job that can never finish
        guard = 50 * su.target_steps * su.levels[su.base_limit_w].step_s + 30 * S_PER_DAY
        env.run(until=job.proc | env.timeout(guard))
    end_s = env.now
    job._settle(end_s)  # a periodic block cut by the window end
    completed = job.done_t is not None
    if job.done_t is not None:  # include the final ramp down
        end_s = job.done_t + w.power.stop_ramp_s
    # progress of a training chunk cut by the window end
    if not completed and job.rows and job.rows[-1][1] == TRAIN:
        lv = su.levels[job.limit_w]
        job._progress(end_s - job.rows[-1][0], lv)
    return _summarize(job, su, end_s, completed, wall0, fine, seed, keep_segments)


def _summarize(job: _Job, su: Setup, end_s: float, completed: bool, wall0: float, fine: bool, seed: int,
               keep_segments: bool = False) -> SimOutput:
    w, sc = su.w, su.scenario
    fac = su.fac_w
    rows = _rows(job, end_s)
    kind = rows["kind"]
    tr = _trace(rows, fac)
    tr_gpu = _trace(rows, lambda g, h: su.num_gpus * np.asarray(g, float))
    tr_raw = _trace(rows, fac, cols=("ga0", "gb0"))
    bucket = w.timeline.bucket_s
    t_s, covered, (fst, gst, rst) = bucket_stats(tr, bucket, [(tr_gpu.a, tr_gpu.b), (tr_raw.a, tr_raw.b)])
    limit = _limit_series(su, t_s)
    fac_energy = float(np.sum(fst["integral"]))
    gpu_energy = float(np.sum(gst["integral"]))
    mitigation_j = fac_energy - float(np.sum(rst["integral"]))
    # grid import: per segment (exact) for the cap check, per bucket for the timeline
    battery = sc.grid.battery
    swing = float(np.max(fst["max"] - fst["min"])) if len(t_s) else 0.0
    ramp = max_ramp_w_per_s(tr, w.power.phase_edge_s)
    fine_table, fine_swing, fine_ramp = (_fine_windows(job, tr, su, end_s) if fine else ({}, 0.0, 0.0))
    price_b, carbon_b = _region_signals(su, t_s)
    if battery is not None:
        # the battery through costsim.power.battery (policy of the spec), on the 1-min buckets
        # plus the swing inside each bucket (costsim.sim.grid_battery)
        from costsim.economics.timeseries import S_PER_MONTH

        bat = battery_on_buckets(bucket, fst["min"], fst["mean"], fst["max"], limit, battery,
                                 price=price_b if price_b is not None else su.scenario.economics.electricity_usd_per_kwh,
                                 carbon=carbon_b if carbon_b is not None else su.scenario.economics.grid_gco2e_per_kwh,
                                 demand_charge_usd_per_w=sc.grid.demand_charge_usd_per_kw_month / 1000.0,
                                 demand_period_s=S_PER_MONTH)  # each billing month's peak, as the bill charges it
        g_min, g_mean, g_max = bat["grid_min_w"], bat["grid_mean_w"], bat["grid_max_w"]
        soc = bat["soc_frac"]
        exceeded = bat["shortfall_w"] > 1e-9 * np.where(np.isfinite(limit), limit, 1.0)
        grid_exceeded_s = float(np.sum(covered[exceeded]))
        grid_import_max = float(np.max(g_max)) if len(g_max) else 0.0
        grid_swing = float(np.max(g_max - g_min)) if len(t_s) else 0.0
        grid_ramp = grid_ramp_w_per_s(fst["min"], fst["max"], g_mean, bat["fast_share"], bucket, w.power.phase_edge_s, ramp)
        if fine_table:  # the grid inside the fine windows: g_i + (1 - s_i) (load - mean_i)
            bi = np.clip(np.searchsorted(t_s, fine_table["t_s"], side="right") - 1, 0, len(t_s) - 1)
            gf = g_mean[bi] + (1.0 - bat["fast_share"][bi]) * (fine_table["facility_power_w"] - fst["mean"][bi])
            fine_table["grid_import_w"] = gf
            fine_table["battery_w"] = fine_table["facility_power_w"] - gf
    else:
        # grid = facility load; the cap check per segment (exact)
        seg_lim = _limit_series(su, tr.t0)
        seg_grid_max = np.maximum(tr.a, tr.b)
        g_min, g_mean, g_max = fst["min"], fst["mean"], fst["max"]
        soc = None
        exceeded = seg_grid_max > seg_lim * (1 + 1e-9)
        grid_exceeded_s = float(np.sum((tr.t1 - tr.t0)[exceeded]))
        grid_import_max = float(np.max(seg_grid_max)) if len(seg_grid_max) else 0.0
        grid_swing, grid_ramp = swing, ramp
    fine_grid_swing, fine_grid_ramp = fine_swing, fine_ramp
    if fine_table and "grid_import_w" in fine_table:
        fine_grid_swing, fine_grid_ramp = _window_swing_ramp(fine_table["grid_import_w"], fine_table["window"], w.timeline.fine_resolution_s)
    grid_energy = float(np.sum(g_mean * covered))
    # time accounting
    wall = end_s
    lv0 = su.levels[su.base_limit_w]
    dur = tr.t1 - tr.t0
    time_in = {KIND_NAMES[k]: float(np.sum(dur[kind == k])) for k in KIND_NAMES}
    tokens = job.steps * su.tokens_per_step
    gpu_hours = su.num_gpus * wall / S_PER_HOUR
    grid_w_b = np.asarray(g_mean, float) * np.asarray(covered, float) / bucket  # energy-preserving for a partial last bucket
    econ = _account(su, wall, gpu_energy, grid_w_b, bucket, prof=_region_profile(su))
    nominal_step = su.levels[su.base_limit_w].step_s if lv0.feasible else lv0.step_s
    uncapped_step = _uncapped_step(su)
    summary: dict[str, Any] = {
        "scenario": sc.name,
        "seed": int(seed),
        "num_gpus": su.num_gpus,
        "simulated_time_s": float(end_s),
        "completed": completed,
        "tokens_target": su.target_steps * su.tokens_per_step,
        "tokens_trained": float(tokens),
        "steps_trained": float(job.steps),
        "step_time_s": float(uncapped_step),
        "step_time_at_grid_cap_s": float(nominal_step),
        "gpu_power_cap_w": lv0.gpu_cap_w,
        "gpu_speed_at_cap_frac": lv0.speed_frac,
        "interruptions": int(job.n_fail),
        "interruptions_by_class": {c.name: int(n) for c, n in zip(job.classes, job.n_fail_by_class)},
        "planned_interruptions": int(job.n_planned),
        "expected_interruptions": su.job_failure_rate_per_s * wall,
        "checkpoints": int(job.n_ckpt),
        "checkpoint_interval_s": su.ckpt_interval_s,
        "checkpoint_interval_steps": su.ckpt_interval_steps,
        "checkpoint_interval_clipped": su.ckpt_interval_clipped,
        "checkpoint_write_s": su.write_s,
        "checkpoint_stall_s": su.stall_s,
        "checkpoint_bytes": su.ckpt_bytes,
        "evaluations": int(job.n_eval),
        "curtailment_pauses": int(job.n_pause),
        "lost_work_s": float(job.lost_work_s),
        "mean_lost_work_per_failure_s": float(np.mean(job.lost_per_failure)) if job.lost_per_failure else 0.0,
        "spare_shortages": int(job.spare_waits),
        "hot_spare_nodes": su.hot_spares,
        "goodput_frac": float(job.work_s / wall) if wall > 0 else 0.0,
        "effective_throughput_frac": float(job.steps * uncapped_step / wall) if wall > 0 else 0.0,
        "time_in_state_s": time_in,
        "wall_time_s": float(wall),
        "wall_time_days": float(wall / S_PER_DAY),
        "gpu_hours": gpu_hours,
        "gpu_energy_j": gpu_energy,
        "facility_energy_j": fac_energy,
        "facility_energy_mwh": fac_energy / 3.6e9,
        "mitigation_energy_j": mitigation_j,
        "facility_peak_power_w": float(np.max(fst["max"])),
        "facility_mean_power_w": fac_energy / wall if wall > 0 else 0.0,
        "facility_min_power_w": float(np.min(fst["min"])),
        "power_swing_w": swing,
        "max_ramp_w_per_s": float(ramp),
        "fine_window_swing_w": fine_swing,
        "fine_window_max_ramp_w_per_s": fine_ramp,
        "grid_power_swing_w": grid_swing,
        "grid_max_ramp_w_per_s": float(grid_ramp),
        "fine_window_grid_swing_w": fine_grid_swing,
        "fine_window_grid_max_ramp_w_per_s": fine_grid_ramp,
        "battery_policy": battery.policy if battery is not None else None,
        "grid_cap_w": su.base_limit_w,
        "grid_import_max_w": grid_import_max,
        "grid_import_mean_w": grid_energy / wall if wall > 0 else 0.0,
        "grid_energy_j": grid_energy,
        "grid_cap_exceeded_s": grid_exceeded_s,
        "grid_cap_feasible": lv0.feasible,
        "battery_min_soc_frac": float(np.min(soc)) if soc is not None and len(soc) else None,
        "battery_max_soc_frac": float(np.max(soc)) if soc is not None and len(soc) else None,
        "co2e_kg": econ["co2e_kg"],
        "cost_usd": econ["cost_usd"],
        "cost_breakdown_usd": econ["cost_breakdown_usd"],
        "co2e_breakdown_kg": econ["co2e_breakdown_kg"],
        "cost_unavailable_reason": econ["cost_unavailable_reason"],
        "water_l": econ["water_l"],
        "electricity_detail_usd": econ["electricity_detail_usd"],
        "sim_wall_time_s": 0.0,
        "notes": su.notes,
        "assumptions": _assumptions(su),
    }
    ts = {
        "t_s": t_s.astype(float),
        "facility_power_min_w": fst["min"],
        "facility_power_mean_w": fst["mean"],
        "facility_power_max_w": fst["max"],
        "gpu_power_mean_w": gst["mean"],
        "grid_import_min_w": np.asarray(g_min, float),
        "grid_import_mean_w": np.asarray(g_mean, float),
        "grid_import_max_w": np.asarray(g_max, float),
        "grid_limit_w": np.where(np.isfinite(limit), limit, np.nan),
    }
    ts["battery_charge_w"] = np.asarray(g_mean, float) - fst["mean"]  # + charging (incl. losses), - discharging
    ts["battery_soc_frac"] = np.asarray(soc, float) if soc is not None else np.full(len(t_s), np.nan)
    # time spent training in each bucket (share of the bucket)
    _, _, (trn,) = bucket_stats(tr.with_levels((kind == TRAIN).astype(float), (kind == TRAIN).astype(float)), bucket)
    ts["training_frac"] = trn["mean"]
    events = {"t_s": np.asarray([e[0] for e in job.events if e[0] <= end_s], float),
              "event": np.asarray([e[1] for e in job.events if e[0] <= end_s])}
    tables = {"events": events}
    if fine_table:
        tables["fine"] = fine_table
    if keep_segments:  # the piecewise facility-power trace itself (for checks and plots)
        tables["segments"] = {"t0_s": tr.t0, "t1_s": tr.t1, "shape": tr.shape, "a_w": tr.a, "b_w": tr.b,
                              "period_s": tr.period_s, "hi_s": tr.hi_s, "kind": kind}
    if su.ba_events is not None:
        summary.update(_ba_summary(su, t_s, covered, fst["mean"], limit, end_s))
    summary["sim_wall_time_s"] = time.perf_counter() - wall0
    return SimOutput(summary=summary, timeseries=ts, tables=tables)


def _ba_summary(su: Setup, t_s: np.ndarray, covered: np.ndarray, fac_mean_w: np.ndarray, limit: np.ndarray, end_s: float) -> dict:
    """What the run saw of its balancing authority's curtailment events: hours and events inside
    the run, energy not drawn (site load at its nominal mean minus the cap, over the curtailed
    hours), and the battery / constant power cap that would have avoided them (over the year)."""
    ev = su.ba_events
    lv0 = su.levels[su.base_limit_w]
    nominal_mean = float(su.fac_w((lv0.gpu_hi_w * lv0.hi_s + lv0.gpu_lo_w * (lv0.step_s - lv0.hi_s)) / lv0.step_s, su.host_busy_w))
    in_run = [c for c in ev.windows if c.start_h * S_PER_HOUR < end_s]
    hours = sum(min(c.duration_h, end_s / S_PER_HOUR - c.start_h) for c in in_run)
    starts = sorted({c.start_h for c in in_run})
    # events = runs of windows that touch each other
    n_ev, last_end = 0, -1.0
    for c in sorted(in_run, key=lambda c: c.start_h):
        if c.start_h > last_end + 1e-9:
            n_ev += 1
        last_end = max(last_end, c.start_h + c.duration_h)
    not_drawn = 0.0
    for c in in_run:
        dur_s = min(c.duration_h * S_PER_HOUR, end_s - c.start_h * S_PER_HOUR)
        not_drawn += max(nominal_mean - c.max_import_mw * MEGA, 0.0) * dur_s
    out = ev.summary()
    out.update({"ba_curtailment_hours": float(hours), "ba_events": int(n_ev), "ba_energy_not_drawn_j": float(not_drawn),
                "ba_first_event_h": float(starts[0]) if starts else None,
                "ba_site_nominal_mean_power_w": nominal_mean})
    return out


def _uncapped_step(su: Setup) -> float:
    p = su.profile
    step = float(_pick(p, "step_time_s"))
    return su.w.step_time_s if su.w.step_time_s is not None else step


def _account(su: Setup, wall_s: float, gpu_j: float, grid_w: np.ndarray, bucket_s: float, prof=None) -> dict:
    """Cost, CO2e and water through the shared accounting (costsim.economics.accounting.account_run,
    the same as `costsim train`): the simulated grid-import series (bucket means, W, each bucket
    scaled by the share of it the run covers) is billed at the flat economics values or, with
    scenario.grid.region, the region's hourly price and carbon signals; embodied carbon (with the
    host/network multiple), market-based carbon and water come from the same code. A device with no
    price for the pricing basis gets cost_usd None and cost_unavailable_reason (never a made-up rate)."""
    sc = su.scenario
    acc = su.acc
    acct = account_run(acc=acc, node=node_for(acc), num_gpus=su.num_gpus, wall_time_s=wall_s, gpu_energy_j=gpu_j,
                       facility=sc.facility, economics=sc.economics, grid=sc.grid, facility_power_w=grid_w, dt_s=bucket_s,
                       price=prof.price if prof is not None else None, carbon=prof.carbon if prof is not None else None)
    if acct["cost_usd"] is None:  # energy and CO2e still count; money is unknown, not zero
        acct["cost_breakdown_usd"] = {k: None for k in acct["cost_breakdown_usd"]}
    return acct


def _assumptions(su: Setup) -> list[dict]:
    w = su.w
    return [
        {"name": "restart_s", "value": w.reliability.restart_s, "unit": "s", "source": "assumption (not published for Llama 3)"},
        {"name": "failure_rate_per_gpu_hour", "value": su.job_failure_rate_per_s * S_PER_HOUR / su.num_gpus, "unit": "1/GPU-h", "source": "arXiv 2407.21783 Table 5 unless overridden"},
        {"name": "checkpoint_storage_bandwidth", "value": su.ckpt_bytes / su.write_s, "unit": "B/s", "source": "scenario" if w.checkpoint.storage_bandwidth_gb_per_s else "0.125 GB/s per GPU"},
        {"name": "pue", "value": su.pue, "unit": "", "source": "facility spec"},
        {"name": "usd_per_gpu_hour", "value": su.usd_per_gpu_h, "unit": "USD/GPU-h", "source": "economics / hardware profile"},
        {"name": "phase_edge_s", "value": w.power.phase_edge_s, "unit": "s", "source": "assumption"},
        {"name": "start_ramp_s", "value": w.power.start_ramp_s, "unit": "s", "source": "assumption"},
    ]


# --------------------------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------------------------

_MC_KEYS = ("wall_time_s", "goodput_frac", "interruptions", "planned_interruptions", "tokens_trained",
            "facility_energy_j", "cost_usd", "co2e_kg", "power_swing_w", "grid_import_max_w")


def _dist(x: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.mean(x)), "std": float(np.std(x, ddof=1)) if len(x) > 1 else 0.0,
            "p5": float(np.percentile(x, 5)), "p50": float(np.percentile(x, 50)), "p95": float(np.percentile(x, 95)),
            "min": float(np.min(x)), "max": float(np.max(x))}


def monte_carlo_training(scenario: Scenario, *, seeds: Iterable[int] | None = None, progress: bool = True) -> dict[str, Any]:
    """Replicates over seeds -> distributions (mean, std, p5, p50, p95, min, max) of completion
    time, goodput, interruptions, energy, cost, ... Seeds default to seed, seed+1, ... (replicates)."""
    if seeds is None:
        s0 = scenario.simulation.seed
        seeds = range(s0, s0 + scenario.simulation.replicates)
    seeds = list(seeds)
    su = prepare(scenario)
    rows: list[dict] = []
    t0 = time.perf_counter()
    it: Iterable[int] = seeds
    bar = None
    if progress:
        try:
            from tqdm import tqdm
            bar = tqdm(seeds, desc=f"training MC {scenario.name}", unit="run", leave=False)
            it = bar
        except ImportError:  # pragma: no cover
            pass
    for s in it:
        out = simulate_training(scenario, seed=s, setup=su, fine=False)
        rows.append({k: out.summary[k] for k in _MC_KEYS} | {"completed": out.summary["completed"]})
    if bar is not None:
        bar.close()
    dists = {k: _dist(np.asarray([r[k] for r in rows], float)) for k in _MC_KEYS}
    dists["completion_time_s"] = _dist(np.asarray([r["wall_time_s"] for r in rows if r["completed"]], float)) if any(r["completed"] for r in rows) else None
    return {"scenario": scenario.name, "replicates": len(seeds), "seeds": seeds,
            "completed_frac": float(np.mean([r["completed"] for r in rows])),
            "distributions": dists, "per_seed": rows, "sim_wall_time_s": time.perf_counter() - t0}
