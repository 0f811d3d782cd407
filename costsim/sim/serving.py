"""Serving-fleet discrete-event simulation (SimPy).

    simulate_serving(scenario, seed=...) -> SimOutput

Processes: one request generator (arrivals pre-sampled as arrays, costsim.sim.arrivals; a chain of
timeouts with callbacks), a router (a function called per arrival: round robin, least outstanding,
power aware), one callback-driven iteration loop per replica (costsim.sim.replica: continuous batching, chunked prefill, paged KV
cache with preemption), optional prefill/decode disaggregation (KV moved over the network), an
autoscaler process, and power accounting.

Iteration times and per-GPU power come from precomputed tables (costsim.sim.steptable, built from
the inference core once per replica group); the event loop only looks them up.

Power and energy: per replica, iterations draw the table cell's device power (costsim.core.power.
device_power_w at the cell's compute/memory utilization, capped), idle replicas draw warm-idle power,
starting replicas idle power; host power per GPU and PUE come from costsim.power.facility /
costsim.economics.accounting. All energy is binned in coarse timeline buckets (the power timeline);
totals are sums of those buckets, restricted to the simulated window [0, duration].

Tokens: throughput, energy per token and $ per million tokens count generated (output) tokens in
the window, as MLPerf's tokens/s does.

Grid curtailment (grid.curtailment windows, grid.balancing_authority events) is costsim.sim.serving_grid;
the summary and power timeline of a finished run are costsim.sim.serving_summary; the replica groups (explicit,
one, or the deployment search of a GPU budget) with their step tables and power caps are costsim.sim.serving_setup.
"""

from __future__ import annotations

import math
import time

import numpy as np
import simpy

from costsim.errors import InputError
from costsim.estimators.inference import served_model
from costsim.power.balancing import clock_note
from costsim.sim.arrivals import sample_workload
from costsim.sim.autoscaler import autoscaler_process, start_boot
from costsim.sim.base import SimOutput
from costsim.sim.replica import LeastLoaded, Replica, room_tokens
from costsim.sim.serving_grid import DROP_CURTAILED, DROP_NO_DECODE
from costsim.sim.serving_setup import Group, Infeasible, build_groups, searched_deployment
from costsim.sim.serving_summary import PER_OUTPUT_TOKEN_ALIASES, outputs as _outputs
from costsim.specs.catalog import get_model
from costsim.specs.limits import require, serving_estimates
from costsim.specs.scenario import Scenario
from costsim.specs.serving_sim import DisaggregationSpec, ServingWorkload

#: the slowest link a KV copy is priced at when a part's profile gives no scale-out rate (0): 1 GB/s, a 10 GbE-class NIC
KV_LINK_FLOOR_BYTES_PER_S = 1e9

__all__ = ["PER_OUTPUT_TOKEN_ALIASES", "bucket_count", "searched_deployment", "simulate_serving"]

NAN = float("nan")


class Fleet:
    """The run's ledger and the glue between router, replicas and accounting."""

    def __init__(self, env: simpy.Environment, wl: ServingWorkload, work: dict, duration_s: float, bucket_s: float) -> None:
        self.env = env
        self.wl = wl
        self.T = duration_s
        self.bw = bucket_s
        self.nb = bucket_count(duration_s, bucket_s)
        n = len(work["arrival_s"])
        self.n = n
        self.arr = work["arrival_s"].tolist()
        self.inp = work["input_tokens"].tolist()
        self.out = work["output_tokens"].tolist()
        self.gen = [0] * n
        self.first = [NAN] * n
        self.fin = [NAN] * n
        self.left = [NAN] * n  # when an admitted request was dropped (no decode replica for its KV): it left the system
        self.sched = [NAN] * n
        self.preempted = [0] * n
        self.where = [-1] * n
        # disaggregation: the most tokens a sequence may reach on a decode replica (its group may have less memory)
        self.decode_room_tokens = float("inf")
        self.src = [-1] * n  # disaggregation: the prefill replica holding a finished prompt's KV until it is copied
        # when each request entered the in-system count (Little's law bookkeeping): its routing, which is its arrival
        # unless the router held it through a curtailment (serving.curtailment_hold_s); its latencies run from arrival
        self.entered = list(self.arr)
        self.dropped = [0] * n  # 0 ok, 1 too long for KV / context, 2 queue full, 3 no decode replica, 4 grid curtailment
        self.limiter = None  # costsim.sim.serving_grid.GridLimiter when the import limit changes over time
        # requests waiting at the router for a replica the autoscaler is starting (scaled to zero: min_replicas 0)
        self.cold: list[int] = []
        # disaggregated requests whose prompt is done, waiting for a decode replica the autoscaler is starting (moved
        # when one is routable; the prefill replica's KV blocks are freed at the hand-off, as without the wait)
        self.cold_decode: list[int] = []
        self.gpus_on = 0
        self.gpus_on_peak = 0
        self.limiter_steps: list = []
        self.ba_events = None  # (window, year) costsim.power.ba_events.SiteEvents with grid.balancing_authority
        self.replicas: list[Replica] = []
        self.groups: list[Group] = []
        self.lb: list[LeastLoaded] = []  # per group (front-end role)
        self.lb_decode = LeastLoaded()
        self.rr: list[int] = []
        self.rr_i = 0
        self.decode_pool: list[int] = []
        self.decode_g: Group | None = None  # the group the disaggregated decode pool runs (serving.disaggregation.decode_group)
        # timeline buckets (python lists: fast scalar adds)
        z = [0.0] * self.nb
        self.e_gpu = list(z)      # J of accelerator energy
        self.on_gpu_s = list(z)   # GPU-seconds powered on (billing)
        self.e_host = list(z)     # J of host + fabric energy of powered-on GPUs
        self.tok = list(z)        # output tokens generated
        self.flop_s = list(z)     # model FLOPs executed / peak FLOP/s of the compute datatype (GPU-seconds at peak)
        self.bytes_s = list(z)    # HBM bytes moved / peak bandwidth (GPU-seconds at peak bandwidth)
        self.kv_block_s = list(z)  # KV blocks in use x s
        self.kv_cap_block_s = list(z)  # KV block capacity of powered-on replicas x s
        self.n_arr = [0] * self.nb
        self.n_done = [0] * self.nb
        self.queue_sample = [0] * self.nb
        self.busy_s: list[float] = []
        self.on_since: list[float] = []
        self.idle_since: list[float] = []
        self.gpu_s_by_group: list[float] = []
        self.e_by_group: list[float] = []
        # Little's law: time integral of requests in system
        self.in_sys = 0
        self.area = 0.0
        self.last_t = 0.0
        self.rr_counter = 0

    # ---- timeline ------------------------------------------------------------------------------
    def _spread(self, arr: list, t0: float, t1: float, rate: float) -> None:
        if t1 > self.T:
            t1 = self.T
        if t1 <= t0:
            return
        bw = self.bw
        last = self.nb - 1
        b0 = min(int(t0 / bw), last)
        b1 = min(int(t1 / bw), last)
        if b0 == b1:
            arr[b0] += rate * (t1 - t0)
            return
        arr[b0] += rate * ((b0 + 1) * bw - t0)
        for b in range(b0 + 1, b1):
            arr[b] += rate * bw
        arr[b1] += rate * (t1 - b1 * bw)

    def add_busy(self, r: Replica, t0: float, t1: float, power_w: float, tokens: float,
                 flop_s: float = 0.0, bytes_s: float = 0.0, kv_blocks: float = 0.0) -> None:
        """Energy (power_w over [t0, t1]), generated tokens, work (flop_s: FLOPs / peak FLOP/s, bytes_s:
        bytes / peak bandwidth, both summed over the replica's GPUs) and mean KV blocks in use of an
        iteration or decode run, clipped to the window; negative values take back the unrun part of a cut run."""
        T = self.T
        hi = t1 if t1 < T else T
        if hi <= t0:
            return
        d = hi - t0
        bw = self.bw
        b0 = min(int(t0 / bw), self.nb - 1)
        if hi <= (b0 + 1) * bw or b0 == self.nb - 1:
            self.e_gpu[b0] += power_w * d
            w = d / (t1 - t0)
            if tokens:
                self.tok[b0] += tokens * w
            self.flop_s[b0] += flop_s * w
            self.bytes_s[b0] += bytes_s * w
            self.kv_block_s[b0] += kv_blocks * d
        else:
            self._spread(self.e_gpu, t0, hi, power_w)
            if tokens:
                self._spread(self.tok, t0, hi, tokens / (t1 - t0))
            self._spread(self.flop_s, t0, hi, flop_s / (t1 - t0))
            self._spread(self.bytes_s, t0, hi, bytes_s / (t1 - t0))
            self._spread(self.kv_block_s, t0, hi, kv_blocks)
        self.busy_s[r.idx] += d if power_w >= 0 else -d
        self.e_by_group[r.group] += power_w * d

    def idle_begin(self, r: Replica, t: float) -> None:
        self.idle_since[r.idx] = t

    def idle_end(self, r: Replica, t: float) -> None:
        t0 = self.idle_since[r.idx]
        if t0 >= 0:
            p = r.t.idle_power_w * r.t.gpus
            self._spread(self.e_gpu, t0, t, p)
            self.e_by_group[r.group] += p * max(0.0, min(t, self.T) - min(t0, self.T))
        self.idle_since[r.idx] = -1.0

    def power_on(self, r: Replica, t: float) -> None:
        if self.on_since[r.idx] < 0:  # GPUs powered at once, and their most at any instant (num_gpus_peak)
            self.gpus_on += r.t.gpus
            self.gpus_on_peak = max(self.gpus_on_peak, self.gpus_on)
        self.on_since[r.idx] = t

    def power_off(self, r: Replica, t: float) -> None:
        t0 = self.on_since[r.idx]
        if t0 >= 0:
            self._spread(self.on_gpu_s, t0, t, r.t.gpus)
            self._spread(self.e_host, t0, t, r.t.gpus * self.groups[r.group].overhead_w)
            self._spread(self.kv_cap_block_s, t0, t, r.cap_blocks)
            self.gpu_s_by_group[r.group] += r.t.gpus * max(0.0, min(t, self.T) - min(t0, self.T))
            self.gpus_on -= r.t.gpus
        self.on_since[r.idx] = -1.0

    def _little(self, delta: int) -> None:
        now = self.env.now
        self.area += self.in_sys * (now - self.last_t)
        self.last_t = now
        self.in_sys += delta

    # ---- request life cycle ------------------------------------------------------------------
    def complete(self, rid: int, r: Replica) -> None:
        now = self.env.now
        self.fin[rid] = now
        r.outstanding -= 1
        if r.role == "decode":
            self.lb_decode.dec(r.idx)
        elif r.state == "active":
            self.lb[r.group].dec(r.idx)
        self._little(-1)
        if now < self.T:
            self.n_done[min(int(now / self.bw), self.nb - 1)] += 1
        if r.state == "draining" and r.outstanding == 0:
            r.notify()

    def first_token(self, t: float) -> None:
        if t < self.T:
            self.tok[min(int(t / self.bw), self.nb - 1)] += 1

    def handoff(self, rid: int, r: Replica, t: float) -> None:
        """Prefill replica r finished rid's prompt: queue it at a decode replica, which copies its KV (pull_kv) when it
        has room; r keeps the KV (and counts rid outstanding) until then."""
        self.src[rid] = r.idx
        self._to_decode(rid)

    def _kv_sent(self, rid: int) -> None:
        """rid's KV has left its prefill replica (copied, or dropped for want of a decode replica): free it there."""
        r = self.replicas[self.src[rid]]
        r.outstanding -= 1
        if r.state == "active":
            self.lb[r.group].dec(r.idx)
        r.kv_sent(self.inp[rid])
        if r.state == "draining" and r.outstanding == 0:
            r.notify()

    def pull_kv(self, rid: int, d: Replica) -> None:
        """Decode replica d has reserved room for rid's KV: copy it from the prefill replica over the network, at
        the slower of the two ends' scale-out links (a decode pool on another part may have slower NICs)."""
        r = self.replicas[self.src[rid]]
        dis = self.wl.disaggregation
        bps = dis.kv_transfer_bytes_per_s or max(min(r.t.gpus * self.groups[r.group].acc.scaleout_bytes_per_s,
                                                     d.t.gpus * self.groups[d.group].acc.scaleout_bytes_per_s),
                                                 KV_LINK_FLOOR_BYTES_PER_S)
        dt = dis.kv_transfer_latency_s + self.inp[rid] * r.t.kv_bytes_per_token / bps
        ev = self.env.timeout(dt)
        ev.callbacks.append(lambda _e, rid=rid, d=d: self._kv_copied(rid, d))

    def _kv_copied(self, rid: int, d: Replica) -> None:
        self._kv_sent(rid)
        d.kv_received(rid, self.inp[rid])

    def _to_decode(self, rid: int) -> None:
        p = self.lb_decode.pick()
        if p is None:
            if self.wl.autoscaler.policy != "none":
                self.cold_decode.append(rid)  # the decode pool scaled to zero (or all draining): waits for a replica
                return
            self.dropped[rid] = DROP_NO_DECODE
            self.left[rid] = self.env.now
            self._little(-1)
            self._kv_sent(rid)
            return
        r = self.replicas[p[0]]
        self.where[rid] = r.idx
        r.outstanding += 1
        self.lb_decode.inc(r.idx)
        r.kv_ready.append(rid)
        r.notify()

    # ---- routing ---------------------------------------------------------------------------------
    def _choose(self) -> Replica | None:
        pol = self.wl.routing
        if pol == "round_robin":
            if not self.rr:
                return None
            self.rr_i = (self.rr_i + 1) % len(self.rr)
            return self.replicas[self.rr[self.rr_i]]
        best = None
        if pol == "power_aware":
            for g in self.order_by_efficiency:
                p = self.lb[g].pick()
                if p is not None and p[1] < self.replicas[p[0]].max_seqs:
                    return self.replicas[p[0]]
        for g in range(len(self.groups)):
            p = self.lb[g].pick()
            if p is not None and (best is None or p[1] < best[1]):
                best = p
        return None if best is None else self.replicas[best[0]]

    def arrive(self, rid: int) -> None:
        now = self.env.now
        if now < self.T:
            self.n_arr[min(int(now / self.bw), self.nb - 1)] += 1
        self._route(rid)

    def _route(self, rid: int) -> None:
        r = self._choose()
        if r is None:
            lim = self.limiter
            if lim is not None and lim.blocks_routing():
                if self.wl.curtailment_hold_s > 0 and self.env.now < self.arr[rid] + self.wl.curtailment_hold_s:
                    lim.held.append(rid)  # shifted: waits at the router for a replica (costsim.sim.serving_grid)
                    return
                self.dropped[rid] = DROP_CURTAILED
                return
            if self.wl.autoscaler.policy != "none":
                self.cold.append(rid)  # scaled to zero (or all draining): waits for the replica the autoscaler starts
                return
            self.dropped[rid] = 2
            return
        need = self.inp[rid] + self.out[rid]
        if need > self.max_context or need + 1 > min(r.room_tokens, self.decode_room_tokens):
            self.dropped[rid] = 1
            return
        mw = self.wl.scheduler.max_waiting_per_replica
        if mw is not None and r.queue_len() >= mw:
            self.dropped[rid] = 2
            return
        self.where[rid] = r.idx
        self.entered[rid] = self.env.now
        r.outstanding += 1
        if r.state == "active":
            self.lb[r.group].inc(r.idx)
        self._little(+1)
        r.waiting.append(rid)
        r.notify()

    def make_routable(self, r: Replica) -> None:
        r.state = "active"
        if r.role == "decode":
            self.lb_decode.add(r.idx, r.outstanding)
            if self.cold_decode:  # prompts done while no decode replica was routable: their KV moves now
                held, self.cold_decode = self.cold_decode, []
                for rid in held:
                    self._to_decode(rid)
            return
        self.lb[r.group].add(r.idx, r.outstanding)
        if r.idx not in self.rr:
            self.rr.append(r.idx)
        if self.limiter is not None and self.limiter.held:  # requests held through a curtailment: route them now
            self.env.timeout(0.0).callbacks.append(lambda _e: self.limiter.release_held())
        if self.cold:  # requests that waited for a replica to start: routed now, before any autoscaler tick at this
            self._release_cold()  # instant sees the new replica idle and drains it again

    def _release_cold(self) -> None:
        held, self.cold = self.cold, []
        for rid in held:
            self._route(rid)

    def make_unroutable(self, r: Replica) -> None:
        if r.role == "decode":
            self.lb_decode.remove(r.idx)
            return
        self.lb[r.group].remove(r.idx)
        if r.idx in self.rr:
            self.rr.remove(r.idx)

    def turn_off(self, r: Replica) -> None:
        now = self.env.now
        r.state = "off"
        if self.idle_since[r.idx] >= 0:
            self.idle_end(r, now)
        self.power_off(r, now)

    # ---- construction ------------------------------------------------------------------------
    def new_replica(self, g: Group, role: str, state: str) -> Replica:
        r = Replica(self.env, len(self.replicas), g.idx, g.table, self.wl.scheduler, role, self)
        self.replicas.append(r)
        self.busy_s.append(0.0)
        self.on_since.append(-1.0)
        self.idle_since.append(-1.0)
        self.power_on(r, self.env.now)
        if state == "active":
            self.make_routable(r)
            r.start()
        else:
            r.state = "starting"
            self.idle_since[r.idx] = self.env.now  # boots at idle power
        return r


# ------------------------------------------------------------------------------------------------
# processes
# ------------------------------------------------------------------------------------------------
class _Arrivals:
    """The request generator as a chain of timeouts with a callback (no generator process): each
    arrival is routed, then the next one is scheduled (same order of events as a process)."""

    __slots__ = ("env", "fleet", "times", "i", "last")

    def __init__(self, env: simpy.Environment, fleet: Fleet, times: list) -> None:
        self.env, self.fleet, self.times, self.i, self.last = env, fleet, times, 0, 0.0
        self._next()

    def _next(self) -> None:
        if self.i < len(self.times):
            t = self.times[self.i]
            self.env.timeout(t - self.last).callbacks.append(self._fire)
            self.last = t

    def _fire(self, _ev) -> None:
        rid = self.i
        self.i += 1
        self.fleet.arrive(rid)
        self._next()


def _sampler(env: simpy.Environment, fleet: Fleet):
    """Waiting requests, sampled at the middle of each timeline bucket."""
    yield env.timeout(0.5 * fleet.bw)
    for b in range(fleet.nb):
        fleet.queue_sample[b] = sum(r.queue_len() for r in fleet.replicas if r.state != "off") + \
            (len(fleet.limiter.held) if fleet.limiter is not None else 0) + len(fleet.cold) + len(fleet.cold_decode)  # held at the router
        yield env.timeout(fleet.bw)


def pool_group(groups: list[Group], d: DisaggregationSpec, pool: str) -> Group | None:
    """The group whose layout the disaggregated `pool` ('prefill' or 'decode') runs (disaggregation.prefill_group /
    decode_group, else the first); None without disaggregation."""
    if not d.enabled:
        return None
    return groups[d.pool_group_index(pool, [g.spec.name for g in groups])]


def bucket_count(duration_s: float, bucket_s: float) -> int:
    """Timeline buckets covering [0, duration_s]: ceil(duration / bucket), without the empty last bucket
    that floating-point rounding can add when the duration is (nearly) a whole number of buckets."""
    nb = max(1, int(math.ceil(duration_s / bucket_s)))
    while nb > 1 and duration_s - (nb - 1) * bucket_s <= 1e-9 * bucket_s:
        nb -= 1
    return nb


def simulate_serving(scenario: Scenario, *, seed: int) -> SimOutput:
    """Simulate the scenario's serving fleet for simulation.duration_s; one numpy Generator from seed."""
    wall0 = time.perf_counter()
    wl = scenario.serving
    if wl is None:
        raise InputError("the scenario has no 'serving' section; simulate_serving needs one.", field="serving")
    duration = scenario.simulation.duration_s
    if duration is None:
        raise InputError("a serving simulation needs simulation.duration_s (seconds of simulated time).", field="simulation.duration_s")
    require(serving_estimates(scenario))  # refuse before allocating per-request arrays
    model = served_model(get_model(wl.model), wl)
    rng = np.random.default_rng(seed)
    work = sample_workload(wl.arrivals, wl.input_tokens, wl.output_tokens, duration, rng, max_context=model.max_context)
    n = len(work["arrival_s"])
    longest = int((work["input_tokens"] + work["output_tokens"]).max()) if n else 2
    max_ctx = int(min(model.max_context, max(longest, 64)))
    try:
        groups, notes = build_groups(scenario, model, max_ctx)
    except Infeasible as exc:
        return SimOutput(summary={"feasible": False, "reason": str(exc), "requests_completed": 0}, timeseries={"t_s": np.zeros(0)})

    bucket = wl.timeline_bucket_s or max(1.0, duration / 240.0)
    env = simpy.Environment()
    fleet = Fleet(env, wl, work, duration, bucket)
    fleet.groups = groups
    fleet.max_context = model.max_context
    fleet.lb = [LeastLoaded() for _ in groups]
    fleet.gpu_s_by_group = [0.0] * len(groups)
    fleet.e_by_group = [0.0] * len(groups)
    fleet.order_by_efficiency = sorted(range(len(groups)), key=lambda i: groups[i].j_per_token_est)
    d = wl.disaggregation
    pre, dec = pool_group(groups, d, "prefill"), pool_group(groups, d, "decode")
    fleet.decode_g = dec
    if d.enabled:
        fleet.decode_room_tokens = room_tokens(dec.table, wl.scheduler)
    for g in groups:
        if d.enabled and g is pre:
            for _ in range(d.prefill_replicas):
                fleet.new_replica(g, "prefill", "active")
        if d.enabled and g is dec:
            for _ in range(d.decode_replicas):
                fleet.new_replica(g, "decode", "active")
        if d.enabled and (g is pre or g is dec):
            continue
        for _ in range(g.n0):
            fleet.new_replica(g, "mixed", "active")
    grid_notes = _grid_limits(scenario, env, fleet, duration)
    notes += grid_notes
    _Arrivals(env, fleet, fleet.arr)
    env.process(_sampler(env, fleet))
    if wl.autoscaler.policy != "none":
        pools = ((pre, "prefill"), (dec, "decode")) if d.enabled else ((groups[0], groups[0].role),)
        for g, role in pools:
            env.process(autoscaler_process(env, fleet, g, role))
    env.run(until=duration)
    # close open intervals at the end of the window
    for r in fleet.replicas:
        r.close_run()
        if fleet.idle_since[r.idx] >= 0:
            fleet.idle_end(r, duration)
        if fleet.on_since[r.idx] >= 0:
            fleet.power_off(r, duration)
    fleet.area += fleet.in_sys * (duration - fleet.last_t)
    if fleet.limiter is not None:
        fleet.limiter.close(duration)
        fleet.limiter.expire_held(duration)
    sim_wall = time.perf_counter() - wall0
    return _outputs(scenario, fleet, work, notes, sim_wall)


def _grown_peak_w(fleet: Fleet) -> float:
    """Facility peak of the fleet grown to its autoscaler bounds: each autoscaled pool (the first group's replicas, or
    with disaggregation the prefill and decode pools) at its max_replicas, beside the other groups' replicas (the
    limit read max_replicas of the first replica alone: one pool of a disaggregated fleet)."""
    lim, a = fleet.limiter, fleet.wl.autoscaler
    pools = ("prefill", "decode") if fleet.wl.disaggregation.enabled else ("mixed",)
    scaled = [r for r in fleet.replicas if r.role in pools and (r.role != "mixed" or r.group == 0)]
    in_pool = {r.idx for r in scaled}
    w = sum(lim.peak_w(r) for r in fleet.replicas if r.state in ("active", "starting") and r.idx not in in_pool)
    for role in pools:
        one = next((r for r in scaled if r.role == role), None)
        if one is not None:
            w += a.bounds(role).max_replicas * lim.peak_w(one)
    return w


def _grid_limits(scenario: Scenario, env: simpy.Environment, fleet: Fleet, duration: float) -> list[str]:
    """Curtailment windows (grid.curtailment, and grid.balancing_authority's events over the simulated
    window) as a time-varying import limit the fleet sheds replicas to meet (costsim.sim.serving_grid)."""
    from costsim.sim import serving_grid as sg

    windows = list(scenario.grid.curtailment)
    notes: list[str] = []
    fleet.limiter = sg.GridLimiter(fleet, scenario.facility.pue) if (windows or scenario.grid.balancing_authority is not None) else None
    if fleet.limiter is None:
        return notes
    if scenario.grid.balancing_authority is not None:
        peak = fleet.limiter.powered_w(("active", "starting"))
        if fleet.wl.autoscaler.policy != "none" and fleet.replicas:
            peak = max(peak, _grown_peak_w(fleet))
        win, year = sg.ba_events(scenario, peak, duration)
        fleet.ba_events = (win, year)
        windows += list(win.windows)
        notes.append(f"balancing authority {year.region} {year.year}: a {year.site_load_w / 1e6:.2f} MW serving site sees "
                     f"{year.curtailment_hours:.0f} curtailed hours in {year.num_events} events over a year from the start, "
                     f"{win.curtailment_hours:.0f} of them in the simulated window")
        if note := clock_note(scenario.grid.region, scenario.grid.balancing_authority.region):
            notes.append(note)
    steps = sg.limit_steps(windows, scenario.grid.import_cap_w, duration)
    fleet.limiter_steps = steps
    fleet.limiter.base_w = scenario.grid.import_cap_w if scenario.grid.import_cap_w is not None else math.inf
    if any(st.limit_w < fleet.limiter.base_w for st in steps):
        env.process(sg.curtailment_process(env, fleet.limiter, steps, lambda r: start_boot(fleet, r)))
        notes.append("grid curtailment: replicas above the import limit are drained and powered off, and boot again "
                     f"{fleet.wl.autoscaler.startup_delay_s:g} s after the limit lifts")
    return notes
