"""The serving simulation's autoscaler (serving.autoscaler): a SimPy process per autoscaled pool that boots and drains
replicas of its group on occupancy or queue, from zero when scaled to zero, within the grid limiter's room; and the boot
of a replica (power on at idle, routable after the startup delay)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import simpy

from costsim.sim.replica import Replica
from costsim.sim.serving_setup import Group

if TYPE_CHECKING:
    from costsim.sim.serving import Fleet


def autoscaler_process(env: simpy.Environment, fleet: Fleet, g: Group, role: str):
    """Scale group g's replicas of `role` ('mixed'; with disaggregation one process per pool, 'prefill' and 'decode',
    each on its own occupancy or queue within its own bounds (AutoscalerSpec.bounds: prefill_min_replicas ...
    decode_max_replicas, else min_replicas / max_replicas), as NVIDIA Dynamo's planner scales the two pools apart).

    A decode pool that cannot keep up leaves finished prompts' KV on the prefill replicas (pull: the KV waits there
    until a decode replica has room); their memory fills, prompts queue, and a prefill pool scaled on its queue or
    memory grew to max_replicas (4 prompts/s of 2,000 tokens with 1,500-token answers: 20 prefill replicas where one
    keeps up), while the decode pool under queue_length saw only the few KV copies queued at its replicas (at 8 a
    replica it grew one replica at a time, TTFT p50 50 s). More prefill replicas do not help: they park more KV at
    idle power and hide the shortfall as a first token sooner and a longer wait for the second. So the shortfall is
    read as the decode pool's demand, as NVIDIA Dynamo's planner reads it (prefill workers on their prompt queue,
    decode workers on KV utilization; there a decode worker reserves the KV before the remote prefill, so requests
    wait on the decode side): while KV waits for a decode replica's room (decode_short), the prefill pool holds
    (neither grows nor shrinks, within its bounds) and the decode pool counts the prompts queued on the prefill side
    as its own queue (queue_length), or reads full where KV waits for it (target_utilization: Replica.occupancy_frac).
    Memory a prefill replica holds otherwise, for prompts in progress or KV in flight over a slow link, is its own
    demand and counts in its occupancy."""
    a = fleet.wl.autoscaler
    b = a.bounds(role)
    lo, hi = b.min_replicas, b.max_replicas
    while True:
        yield env.timeout(a.interval_s)
        cold = fleet.cold_decode if role == "decode" else fleet.cold
        mine = [r for r in fleet.replicas if r.group == g.idx and r.role == role]
        active = [r for r in mine if r.state == "active"]
        starting = [r for r in mine if r.state == "starting"]
        if not active:
            # scaled to zero (min_replicas 0): requests waiting at the router start one replica; nothing to measure
            # until it runs (the fleet had stayed at zero and dropped every later request as 'queue full')
            want = max(lo, 1 if cold else 0)
            for _ in range(max(0, min(want, hi) - len(starting))):
                off = next((r for r in mine if r.state == "off"), None)
                if off is None and any(r.state == "draining" for r in mine):
                    r = next(r for r in mine if r.state == "draining")
                    fleet.make_routable(r)
                    r.notify()
                    break
                if not _boot_one(fleet, g, role, off, off if off is not None else (mine[0] if mine else None)):
                    break
            continue
        short = role != "mixed" and decode_short(fleet)
        if role == "prefill" and short:
            desired = len(active)  # the decode pool's shortfall: the prefill pool holds, within its bounds (see above)
        elif a.policy == "target_utilization":
            # occupancy (Replica.occupancy_frac): batch slots and KV blocks in use, or a prefill pool's prompt backlog
            # and KV held (busy time is ~1 whenever a continuous-batching replica has any work, so it cannot steer scaling)
            occ = [r.occupancy_frac() for r in active]
            desired = int(math.ceil(len(active) * min(1.0, sum(occ) / len(active)) / a.target_utilization_frac - 1e-9))
        else:
            queued = sum(r.queue_len() for r in active) + len(cold)
            if short:  # the prompts queued on the prefill side wait for the decode pool's room (Dynamo: on the decode side)
                queued += sum(len(r.waiting) for r in fleet.replicas if r.role == "prefill" and r.state != "off")
            desired = int(math.ceil(len(active) * (queued / len(active)) / a.target_queue_per_replica - 1e-9))
        desired = max(lo, min(hi, max(desired, 1 if lo else 0)))
        total = len(active) + len(starting)
        if desired > total:
            lim = fleet.limiter
            need = desired - total
            # a replica still draining is powered and holds its work: take it back before booting another (the grid
            # limiter takes back the ones it shed), and count the rest against max_replicas: they hold GPUs and power
            # until they empty (booting beside them had put 6 replicas' GPUs on under max_replicas 2)
            draining = [r for r in mine if r.state == "draining" and (lim is None or r not in lim.shed)]
            taken = draining[:need]
            for r in taken:
                fleet.make_routable(r)
                r.notify()
            powered = total + len(taken) + sum(1 for r in mine if r.state == "draining")
            need = min(need - len(taken), max(0, hi - powered))
            for _ in range(need):
                off = next((r for r in mine if r.state == "off"), None)
                if not _boot_one(fleet, g, role, off, off if off is not None else active[0]):
                    break  # the grid's import limit: no more replicas now
        elif desired < len(active):
            for r in sorted(active, key=lambda x: x.outstanding)[: len(active) - desired]:
                fleet.make_unroutable(r)
                r.state = "draining"
                r.notify()


def decode_short(fleet: Fleet) -> bool:
    """The disaggregated decode pool is short: finished prompts' KV waits for a decode replica to boot (scaled to zero)
    or for room on the one it was handed to (Replica.kv_waits_for_room)."""
    return bool(fleet.cold_decode) or any(r.kv_waits_for_room() for r in fleet.replicas if r.role == "decode" and r.state != "off")


def _boot_one(fleet: Fleet, g: Group, role: str, off: Replica | None, probe: Replica | None) -> bool:
    """Boot the powered-off replica `off`, or a new one of group g in `role`; False (nothing booted) when the grid
    limiter has no room for another replica like `probe`."""
    lim = fleet.limiter
    if lim is not None and probe is not None and not lim.room_for(probe):
        return False
    if off is not None:
        if lim is not None and off in lim.shed:
            lim.shed.remove(off)
        start_boot(fleet, off)
    else:
        start_boot(fleet, fleet.new_replica(g, role, "starting"))
    return True


def start_boot(fleet: Fleet, r: Replica) -> None:
    """Power `r` on and make it routable after the autoscaler's startup delay (a new replica from
    fleet.new_replica(..., 'starting') is already powered and idle)."""
    env = fleet.env
    if r.state == "off":
        r.state = "starting"
        fleet.power_on(r, env.now)
        fleet.idle_since[r.idx] = env.now
    r.boot_token += 1
    ev = env.timeout(fleet.wl.autoscaler.startup_delay_s)
    ev.callbacks.append(lambda _e, r=r, tok=r.boot_token: _boot(fleet, r, tok))


def _boot(fleet: Fleet, r: Replica, token: int) -> None:
    if r.state != "starting" or token != r.boot_token:
        return  # cancelled (shed for the grid) or superseded by a later boot
    fleet.idle_end(r, fleet.env.now)
    fleet.make_routable(r)
    r.start()
