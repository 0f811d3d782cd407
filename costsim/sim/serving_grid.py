"""Grid curtailment in the serving simulation: `grid.curtailment` windows and the curtailment events of
`grid.balancing_authority` limit the fleet's import, and the fleet answers the way an operator can within
minutes - it sheds replicas.

At each change of the import limit the process computes how many replicas fit under it, each counted at
its facility peak (PUE x GPUs x (device peak under its power cap + host/fabric share)), and drains the
excess: a shed replica takes no new requests, finishes the ones it holds (seconds to a minute) and powers
off; replicas still booting are cancelled. When the limit rises, the replicas shed for the grid boot again
(after the autoscaler's startup delay). The autoscaler never scales above the limit. Requests that arrive
while no replica is routable are dropped as `curtailed`. Conservative: a replica is charged its peak, not
its mean draw, so the fleet may keep more power in reserve than a meter-level controller would.
"""

from __future__ import annotations

import math

from costsim.sim.import_limit import ImportLimit, limit_steps  # noqa: F401  (the serving simulation reads them here)
from costsim.units import MEGA, S_PER_HOUR

TOL_W = 1e-6
DROP_CURTAILED = 4
"""fleet.dropped code of a request that arrived while the grid limit left no replica routable."""
DROP_NO_DECODE = 3
"""fleet.dropped code of a disaggregated request whose prompt was done when no decode replica was routable
(1: longer than the replica's KV cache or the model's context, 2: queue full)."""


class GridLimiter:
    """The fleet's side of the import limit: which replicas run, which were shed, and the record."""

    def __init__(self, fleet, pue: float) -> None:
        self.fleet = fleet
        # facility power of one powered replica of each group at its peak, W: PUE x GPUs x (device peak
        # under its power cap + host/fabric share)
        self.group_peak_w = [pue * g.table.gpus * (min(g.power_cap_w if g.power_cap_w is not None else g.acc.tdp_w, g.acc.tdp_w)
                                                   + g.overhead_w) for g in fleet.groups]
        self.limit_w = math.inf
        self.shed: list = []  # replicas powered off for the grid, to restore first
        self.shed_max = 0
        self.shed_replica_s = 0.0  # replica-seconds shed (integral of len(shed))
        self._t = 0.0
        self.curtailed_s = 0.0  # seconds with a limit below the permanent cap
        self.base_w = math.inf  # the permanent import cap (W): time below it is curtailment
        self.recovering_until_s = -1.0  # restored replicas still booting until then
        self.held: list[int] = []  # request ids waiting at the router for a replica (serving.curtailment_hold_s)
        self.released = 0  # held requests routed once a replica came back

    def _account(self, now: float) -> None:
        dt = max(0.0, min(now, self.fleet.T) - min(self._t, self.fleet.T))
        self.shed_replica_s += len(self.shed) * dt
        if self.limit_w < self.base_w:
            self.curtailed_s += dt
        self._t = now

    def _expired(self, rid: int, now: float) -> bool:
        """Past its hold time: dropped as curtailed."""
        f = self.fleet
        if now > f.arr[rid] + f.wl.curtailment_hold_s:
            f.dropped[rid] = DROP_CURTAILED
            return True
        return False

    def release_held(self) -> None:
        """Route the held requests (oldest first); those past their hold time are dropped as curtailed."""
        held, self.held = self.held, []
        for rid in held:
            if not self._expired(rid, self.fleet.env.now):
                self.released += 1
                self.fleet._route(rid)

    def expire_held(self, now: float) -> None:
        """At the end of the window: held requests whose hold time ran out count as dropped (the rest are
        still waiting, like requests in flight)."""
        for rid in self.held:
            self._expired(rid, now)

    def blocks_routing(self) -> bool:
        """True while the grid limit is why no replica is routable (shed, or restored and still booting)."""
        return bool(self.shed) or self.fleet.env.now < self.recovering_until_s

    def peak_w(self, r) -> float:
        """Facility power of replica `r` at its peak, W."""
        return self.group_peak_w[r.group]

    def powered_w(self, states=("active", "starting")) -> float:
        return sum(self.group_peak_w[r.group] for r in self.fleet.replicas if r.state in states)

    def room_for(self, r) -> bool:
        """Would powering `r` on keep the fleet under the limit (draining replicas still count)?"""
        if math.isinf(self.limit_w):
            return True
        return self.powered_w(("active", "starting", "draining")) + self.peak_w(r) <= self.limit_w + TOL_W

    def _next_to_shed(self):
        """A booting replica first (it holds no work); else the least-loaded active replica of the role with
        the most powered replicas (prefill/decode pools shrink together under disaggregation)."""
        reps = self.fleet.replicas
        starting = [r for r in reps if r.state == "starting"]
        if starting:
            return starting[0]
        active = [r for r in reps if r.state == "active"]
        if not active:
            return None
        count: dict[str, int] = {}
        for r in active:
            count[r.role] = count.get(r.role, 0) + 1
        role = max(count, key=lambda k: (count[k], k))
        return min((r for r in active if r.role == role), key=lambda x: x.outstanding)

    def set_limit(self, limit_w: float, boot) -> None:
        """A new limit: shed replicas above it, restore shed ones below it (`boot(r)` starts one)."""
        f = self.fleet
        self._account(f.env.now)
        self.limit_w = limit_w
        if self.powered_w() > limit_w + TOL_W:
            while self.powered_w() > limit_w + TOL_W:
                r = self._next_to_shed()
                if r is None:
                    break
                if r.state == "starting":  # cancelled boot (its pending boot event is stale: boot tokens)
                    f.turn_off(r)
                else:
                    f.make_unroutable(r)
                    r.state = "draining"
                    r.notify()
                self.shed.append(r)
        else:
            while self.shed:
                r = self.shed[0]
                if self.powered_w() + self.peak_w(r) > limit_w + TOL_W:
                    break
                self.shed.pop(0)
                if r.state == "draining":  # not yet off: take it back at once
                    f.make_routable(r)
                    r.notify()
                elif r.state == "off":
                    boot(r)
                    self.recovering_until_s = f.env.now + f.wl.autoscaler.startup_delay_s
        self.shed_max = max(self.shed_max, len(self.shed))

    def close(self, now: float) -> None:
        self._account(now)


def curtailment_process(env, limiter: GridLimiter, steps: list[ImportLimit], boot):
    """SimPy process: apply each import-limit change at its time."""
    for st in steps:
        if st.start_s > env.now:
            yield env.timeout(st.start_s - env.now)
        limiter.set_limit(st.limit_w, boot)


def summary(limiter: GridLimiter, steps: list[ImportLimit], drop_curtailed: int) -> dict:
    """Serving summary keys of the grid limit (JSON units in the names)."""
    lows = [s.limit_w for s in steps if s.limit_w < limiter.base_w]
    return {"curtailment_limit_changes": max(len(steps) - 1, 0), "curtailment_hours": limiter.curtailed_s / S_PER_HOUR,
            "curtailment_min_import_w": min(lows) if lows else None,
            "curtailment_replicas_shed_max": limiter.shed_max,
            "curtailment_replica_hours_shed": limiter.shed_replica_s / S_PER_HOUR,
            "requests_dropped_curtailed": int(drop_curtailed), "requests_held_for_curtailment": limiter.released}


def ba_events(scenario, site_w: float, duration_s: float):
    """(events over the simulated window, events over a year from the same start) of
    grid.balancing_authority for a serving site of `site_w` (or ba.site_load_mw)."""
    from costsim.power.ba_events import site_events

    ba = scenario.grid.balancing_authority
    load_w = ba.site_load_mw * MEGA if ba.site_load_mw is not None else site_w
    g = scenario.grid
    window = site_events(ba, load_w, start_month=g.start_month, start_hour=g.start_hour,
                         horizon_h=int(math.ceil(duration_s / S_PER_HOUR)), battery=g.battery)
    year = site_events(ba, load_w, start_month=g.start_month, start_hour=g.start_hour, horizon_h=None, battery=g.battery)
    return window, year


def ba_summary(window, year, sim_keys: dict) -> dict:
    """Serving summary keys of a fleet placed in a balancing authority: the year's curtailment as the grid
    sees it (hours, events, energy the fleet could not draw, the battery or cap that would avoid it) and
    what the simulated window saw (from the simulation: replicas shed, requests dropped)."""
    out = dict(year.summary())
    out.update({"ba_curtailment_hours": year.curtailment_hours, "ba_events": year.num_events,
                "ba_energy_not_drawn_j": year.energy_curtailed_j,
                "ba_year_share_of_hours_curtailed_frac": year.curtailment_hours / max(year.horizon_h, 1),
                "ba_window_curtailment_hours": window.curtailment_hours, "ba_window_events": window.num_events})
    out.update(sim_keys)
    return out
