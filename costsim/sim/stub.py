"""Queueing stubs for checking the DES machinery against theory (M/M/1, M/M/c).

The same pieces the fleet simulation uses (arrivals sampled by costsim.sim.arrivals, a SimPy
environment, time-integrated number-in-system for Little's law), with the replica replaced by c
identical servers with exponential service times and one shared FIFO queue.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import simpy

from costsim.sim.arrivals import arrival_times
from costsim.specs.serving_sim import ArrivalSpec


def erlang_c_wait_s(rate_per_s: float, mean_service_s: float, servers: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C): C(c, a) / (c*mu - lambda), a = lambda/mu."""
    mu = 1.0 / mean_service_s
    a = rate_per_s / mu
    c = servers
    if a >= c:
        return math.inf
    s = sum(a ** k / math.factorial(k) for k in range(c))
    top = a ** c / math.factorial(c) * c / (c - a)
    pw = top / (s + top)
    return pw / (c * mu - rate_per_s)


def simulate_mmc(rate_per_s: float, mean_service_s: float, servers: int, duration_s: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    times, _ = arrival_times(ArrivalSpec(process="poisson", rate_per_s=rate_per_s), duration_s, rng, None)
    service = rng.exponential(mean_service_s, len(times))
    env = simpy.Environment()
    queue: deque = deque()
    free = [servers]
    start = np.full(len(times), np.nan)
    finish = np.full(len(times), np.nan)
    st = {"n": 0, "area": 0.0, "last": 0.0}

    def change(d: int) -> None:
        st["area"] += st["n"] * (env.now - st["last"])
        st["last"] = env.now
        st["n"] += d

    def begin(i: int) -> None:
        start[i] = env.now
        free[0] -= 1
        ev = env.timeout(service[i])
        ev.callbacks.append(lambda _e, i=i: end(i))

    def end(i: int) -> None:
        finish[i] = env.now
        free[0] += 1
        change(-1)
        if queue:
            begin(queue.popleft())

    def gen():
        last = 0.0
        for i, t in enumerate(times):
            yield env.timeout(t - last)
            last = t
            change(+1)
            if free[0] > 0:
                begin(i)
            else:
                queue.append(i)

    env.process(gen())
    env.run(until=duration_s)
    st["area"] += st["n"] * (duration_s - st["last"])
    started = ~np.isnan(start)
    soj = np.where(np.isnan(finish), duration_s, finish) - times
    return {
        "num_arrivals": len(times),
        "mean_wait_s": float(np.mean(start[started] - times[started])),
        "littles_l": st["area"] / duration_s,
        "littles_lambda_w": float(soj.sum() / duration_s),
    }
