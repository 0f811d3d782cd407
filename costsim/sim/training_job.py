"""Training simulation, the SimPy model: the job process (train, checkpoint, restart, evaluation, pause;
periodic train/checkpoint blocks between stochastic events) and the failure, maintenance and grid-limit
processes that interrupt it. The job appends the piecewise power trace's rows; training_summary.py turns them
into the summary."""

from __future__ import annotations

import math

import numpy as np
import simpy

from costsim.sim.import_limit import limit_steps
from costsim.sim.power_trace import CONST, RAMP, WAVE
from costsim.sim.training_setup import CKPT, DOWN, EVAL, PAUSE, RAMP_DOWN, RAMP_UP, TRAIN, Setup, StepLevel
from costsim.units import S_PER_DAY


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


class TrainingJob:
    def __init__(self, env: simpy.Environment, su: Setup, rng: np.random.Generator, *, periodic: bool = True):
        """periodic: analytic train/checkpoint blocks between stochastic events (False: one SimPy event per
        checkpoint cycle, the reference path the tests compare against)."""
        self.env, self.su, self.rng, self.w = env, su, rng, su.w
        self.periodic = periodic
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
        self._start_paused = False  # the cap left no power level at the start: the job waits before its first ramp
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
        d = rel.restart_s_of(c)
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
    def _down(self, dur: float, *, powered: bool = True, hold_s: float = 0.0):
        """Stop ramp -> idle -> start ramp, total `dur`; failures during it restart it (Daly). The first `hold_s` is
        planned work (maintenance) that a failure's shorter restart cannot cut short."""
        su, w = self.su, self.w
        end = self.env.now + max(dur, hold_s)
        hold_end = self.env.now + hold_s
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
                if not self._level().feasible:
                    # a limit that stops the job came during the stop: stay down to its end, then the run loop pauses
                    # the job from idle (nothing new to save; no ramp to training power and no checkpoint inside the
                    # window, which had drawn ~44 kW through a 0 MW window)
                    yield self.env.timeout(max(end - self.env.now, 0.0))
                    self.down_s += self.env.now - start_t
                    self._start_paused = True
                    return
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
                    restart_end = self.env.now + d
                    end = max(hold_end, restart_end) if w.reliability.restart_on_failure_during_restart else max(end, restart_end)
                elif isinstance(c, _Planned):
                    self.n_planned += 1
                    self._seg(DOWN, CONST, g_idle, g_idle, h_idle, floor=filler)
                    hold_end = max(hold_end, self.env.now + self._maintenance_s())
                    end = max(end, hold_end)
                elif isinstance(c, _Limit):
                    self.limit_w = c.limit_w
                    self._seg(DOWN, CONST, g_idle, g_idle, h_idle, floor=filler)
                    g_run = self._level().gpu_hi_w

    def _maintenance_s(self) -> float:
        """A planned stop: the maintenance itself, then the job's restart."""
        return self.w.maintenance.downtime_s + self.w.reliability.restart_s

    def _cur_gpu(self) -> float:
        r = self.rows[-1]
        return r[5] if r[2] != RAMP else r[6]

    def _count_fail(self, ci):
        self.n_fail += 1
        self.n_fail_by_class[ci] += 1
        self.events.append((self.env.now, "failure"))

    def run(self):
        su, w, env = self.su, self.w, self.env
        resume = None  # a pending interruption to handle
        if not self._level().feasible:
            # the cap does not leave even the lowest power level: the job never starts (no ramp over the cap, nothing to
            # checkpoint); it waits paused for a higher limit
            self._start_paused = True
            resume = _Limit(self.limit_w)
        else:
            # job start: ramp from idle to training power
            self._seg(RAMP_UP, RAMP, su.idle_w, self._level().gpu_hi_w, su.host_busy_w, period=w.power.start_ramp_s)
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
            if self.periodic and w.checkpoint.mode == "sync" and w.evaluation.every_s is None and n_left > n_ckpt:
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
            while isinstance(cause, _Limit):  # a limit the job runs under: save again at the new level, then stop
                self.limit_w = cause.limit_w
                if not self._level().feasible:
                    break  # the pause takes the job down: the maintenance is done during it
                cause = yield from self._checkpoint()
            if isinstance(cause, _Fail):  # the failure takes the job down; the maintenance is done in the same stop
                self._count_fail(cause.cls_idx)
                self._lose_work()
                yield from self._down(self._fail_downtime(cause.cls_idx), hold_s=self._maintenance_s())
                return
            if cause is not None:
                yield from self._handle(cause)
                return
            self._sync_pending()
            yield from self._down(self._maintenance_s(), hold_s=self._maintenance_s())
        elif isinstance(c, _Limit):
            self.limit_w = c.limit_w
            if self._level().feasible:
                return
            # even the lowest cap does not fit: checkpoint, pause (powered down if idle does not fit), resume
            self.n_pause += 1
            self.events.append((env.now, "curtail"))
            starting = self._start_paused  # not yet started: nothing to save, no training power to ramp down from
            self._start_paused = False
            if not starting:
                cause = yield from self._checkpoint()
                if cause is not None and not isinstance(cause, _Limit):
                    yield from self._handle(cause)
                    return
                if cause is not None:  # the limit moved again during the save (a window's end): keep it, or the
                    self.limit_w = cause.limit_w  # pause below waits for a change that has already come, forever
                self._sync_pending()
            idle_fac = float(su.fac_w(su.idle_w, su.host_idle_w))
            powered = self.limit_w is None or idle_fac <= self.limit_w
            t0 = env.now
            g0 = su.idle_w if powered else 0.0
            if starting:
                self._seg(PAUSE, CONST, g0, g0, su.host_idle_w if powered else 0.0, floor=False)
            else:
                self._seg(RAMP_DOWN, RAMP, self._cur_gpu(), g0, su.host_idle_w if powered else 0.0, period=w.power.stop_ramp_s)
            while not self._level().feasible:
                try:
                    if env.now == t0 and not starting:
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


def failure_process(env, job: TrainingJob, ci: int, rate_per_s: float, rng: np.random.Generator, dist: str, shape: float):
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


def planned_process(env, job: TrainingJob, per_day: float, schedule: str, rng):
    if per_day <= 0:
        return
    mean = S_PER_DAY / per_day
    while True:
        yield env.timeout(rng.exponential(mean) if schedule == "poisson" else mean)
        if not job.proc.is_alive:
            return
        job.proc.interrupt(_Planned())


def limit_process(env, job: TrainingJob, su: Setup):
    """Curtailment windows: the limit changes at every window start and end to the lowest of those open (limit_steps).
    A lower limit that stops the job is announced early enough to checkpoint and ramp down before it holds."""
    cur = su.base_limit_w
    for st in limit_steps(su.windows, su.base_limit_w, math.inf):
        t, lim = st.start_s, (None if math.isinf(st.limit_w) else st.limit_w)  # levels key no cap as None
        if lim == cur:
            continue  # the limit in force at the start (t 0): nothing changes
        lower = lim is not None and (cur is None or lim < cur)
        lead = su.stall_s + su.w.power.stop_ramp_s if lower and not su.levels[lim].feasible else 0.0
        t_apply = max(t - lead, env.now)
        yield env.timeout(t_apply - env.now)
        if not job.proc.is_alive:
            return
        job.proc.interrupt(_Limit(lim))
        cur = lim
