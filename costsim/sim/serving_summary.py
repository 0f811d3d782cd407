"""The serving simulation's summary: request latencies and SLOs, energy, money and CO2e from the fleet's
timeline buckets, utilization, Little's-law check, grid curtailment, and the power timeline
(costsim.sim.serving runs the fleet; this turns its ledger into a SimOutput)."""

from __future__ import annotations

from typing import Any

import numpy as np

from costsim.economics.accounting import account_run
from costsim.economics.timeseries import demand_charge_usd
from costsim.sim.base import SimOutput
from costsim.sim.serving_grid import DROP_CURTAILED, DROP_NO_DECODE
from costsim.specs.scenario import Scenario

NAN = float("nan")


PER_OUTPUT_TOKEN_ALIASES = {
    "energy_per_token_j": "energy_per_output_token_j",
    "gpu_energy_per_token_j": "gpu_energy_per_output_token_j",
    "cost_usd_per_million_tokens": "cost_usd_per_million_output_tokens",
    "co2e_g_per_1k_tokens": "co2e_g_per_1k_output_tokens",
    "throughput_tokens_per_s": "throughput_output_tokens_per_s",
}


def _ratio(num, den) -> np.ndarray:
    """Per-bucket num / den, 0 where den is 0 (no GPU on)."""
    n = np.asarray(num, float)
    d = np.asarray(den, float)
    return np.divide(n, d, out=np.zeros_like(n), where=d > 0)


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if x.size else NAN


#: longest stretch of a timeline bucket read at one price / carbon value (the signals are hourly)
SIGNAL_STEP_S = 600.0


def region_rates(scenario: Scenario, energy_b: np.ndarray, bucket_s: float, end_s: float) -> tuple[float | None, float | None]:
    """The load-weighted price (USD/kWh) and carbon intensity (gCO2e/kWh) of scenario.grid.region over a run whose
    energy per timeline bucket is `energy_b` (J, buckets of `bucket_s` from 0, the last one cut at `end_s`): each
    bucket's energy at the signal's mean over the bucket's span, read every SIGNAL_STEP_S or finer, so a bucket of
    hours is not priced at its first hour. (None, None) without a region: the flat economics values apply."""
    g = scenario.grid
    e = np.asarray(energy_b, float)
    if not g.region or e.size == 0 or not np.any(e > 0):
        return None, None
    from costsim.power.signals import load_region

    prof = load_region(g.region, start_month=g.start_month, start_hour=g.start_hour)
    t0 = np.arange(e.size) * bucket_s
    width = np.clip(np.minimum(bucket_s, end_s - t0), 0.0, None)
    k = max(1, int(np.ceil(bucket_s / SIGNAL_STEP_S)))
    t = t0[:, None] + width[:, None] * (np.arange(k)[None, :] + 0.5) / k
    price_b = np.asarray(prof.price.at(t), float).mean(axis=1)
    carbon_b = np.asarray(prof.carbon.at(t), float).mean(axis=1)
    return float(np.sum(e * price_b) / np.sum(e)), float(np.sum(e * carbon_b) / np.sum(e))


# ------------------------------------------------------------------------------------------------
# entry point
# ------------------------------------------------------------------------------------------------
def outputs(scenario: Scenario, fleet, work: dict, notes: list[str], sim_wall: float) -> SimOutput:
    """The SimOutput of a finished run (`fleet`: costsim.sim.serving.Fleet)."""
    wl = scenario.serving
    T = fleet.T
    arr = np.asarray(fleet.arr)
    first = np.asarray(fleet.first)
    fin = np.asarray(fleet.fin)
    sched = np.asarray(fleet.sched)
    inp = np.asarray(fleet.inp)
    out = np.asarray(fleet.out)
    drop = np.asarray(fleet.dropped)
    done = ~np.isnan(fin)
    ttft = first - arr
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(out > 1, (fin - first) / np.maximum(out - 1, 1), NAN)
    e2e = fin - arr
    queue = sched - arr
    stat = done & (arr >= wl.warmup_s)
    slo = wl.slo
    ok = stat.copy()
    # a request meets the SLOs within the per-request limits, or where only a p99 limit is given, within that limit
    # (a p99 target is about the share of requests under it)
    ttft_lim = slo.ttft_s if slo.ttft_s is not None else slo.ttft_p99_s
    tpot_lim = slo.tpot_s if slo.tpot_s is not None else slo.tpot_p99_s
    if ttft_lim is not None:
        ok &= ttft <= ttft_lim
    if tpot_lim is not None:
        ok &= ~(tpot > tpot_lim)
    post = arr >= wl.warmup_s
    t_stat = T - min(float(wl.warmup_s), T)  # the window the statistics count arrivals in
    n_drop_post = int(np.sum((drop > 0) & post))
    # requests still in the system at the end that have already missed the TTFT limit (no first token by then, longer
    # than the limit after arriving) are misses whatever happens next: under overload they are most requests, and
    # leaving them out read 6 % attainment where at most 1 % could meet the SLO (a helper's sweep)
    waiting = post & ~done & (drop == 0) & np.isnan(first)
    n_missed_open = int(np.sum(waiting & (T - arr > ttft_lim))) if ttft_lim is not None else 0
    denom = int(stat.sum()) + n_drop_post + n_missed_open
    tt, tp, ee, qq = ttft[stat], tpot[stat & (out > 1)], e2e[stat], queue[stat]

    # energy and money
    e_gpu = np.asarray(fleet.e_gpu)
    on_gpu_s = np.asarray(fleet.on_gpu_s)
    cost: float | None = 0.0
    co2 = fac_j = it_j = 0.0
    unpriced_reason = None
    gpu_hours = 0.0
    assumptions: list = []
    # scenario.grid.region: the fleet's energy is billed at the region's hourly price and carbon, weighted by the
    # fleet's own load over time (each bucket's energy at the mean signal over the bucket's span)
    price_in, carbon_in = region_rates(scenario, np.asarray(fleet.e_gpu) + np.asarray(fleet.e_host), fleet.bw, T)
    for g in fleet.groups:
        acc_run = account_run(acc=g.acc, node=g.node, num_gpus=1, wall_time_s=max(fleet.gpu_s_by_group[g.idx], 0.0),
                              gpu_energy_j=fleet.e_by_group[g.idx], facility=scenario.facility, economics=scenario.economics,
                              price=price_in, carbon=carbon_in)
        if acc_run["cost_usd"] is None or cost is None:  # unpriced device: money unknown, energy still counted
            cost = None
            unpriced_reason = acc_run.get("cost_unavailable_reason")
        else:
            cost += acc_run["cost_usd"]
        co2 += acc_run["co2e_kg"]
        fac_j += acc_run["facility_energy_j"]
        it_j += acc_run["it_energy_j"]
        gpu_hours += acc_run["gpu_hours"]
        assumptions = acc_run.get("assumptions", assumptions)
    it_b = e_gpu + np.asarray(fleet.e_host)
    pue_eff = fac_j / it_j if it_j > 0 else scenario.facility.pue  # account_run's PUE (constant or load/temperature)
    fac_b = it_b * pue_eff
    bw = fleet.bw
    widths = np.minimum(bw, T - np.arange(fleet.nb) * bw)
    # Demand charge: billed once on the site meter's peak (the whole fleet's facility power per
    # timeline bucket, all groups together), not per group nor on the mean. Paid under 'purchase';
    # under 'rental' electricity (demand charge included) is part of the rental price.
    demand_rate = scenario.grid.demand_charge_usd_per_kw_month
    demand_usd = 0.0
    if demand_rate and fleet.nb and scenario.economics.pricing == "purchase":
        demand_usd = demand_charge_usd(fac_b / np.maximum(widths, 1e-12), bw, demand_rate)
        if cost is not None:
            cost += demand_usd
    tokens = float(np.sum(fleet.tok))
    gpu_j = float(e_gpu.sum())
    total_gpu_s = float(on_gpu_s.sum())
    busy = float(sum(fleet.busy_s[r.idx] * r.t.gpus for r in fleet.replicas))
    kv_cap = float(np.sum(fleet.kv_cap_block_s))
    # Little's law over the window: L = time average of the number in system (integrated at every
    # admission and completion by the router), lambda = admitted requests / T, W = mean time in
    # system of the completed ones. Equal up to edge effects (requests in flight at 0 and T).
    # Exact finite-window form: integral of N(t) over [0, T] = sum over admitted requests of their
    # time in system inside the window (bookkeeping check: every admission and completion counted).
    # The system starts at routing: a request held at the router through a curtailment (curtailment_hold_s) enters
    # when it is routed, so W here is from routing, while its e2e and TTFT run from its arrival.
    admitted = np.array([w >= 0 for w in fleet.where], dtype=bool)
    entered = np.asarray(fleet.entered)
    L = fleet.area / T
    lam = admitted.sum() / T
    W = float(np.mean((fin - entered)[done])) if done.any() else 0.0
    # in the system until it completed, was dropped after admission (no decode replica for its KV), or the window ended
    left_s = np.where(done, fin, np.asarray(fleet.left))
    window_sum = float(np.sum(np.where(np.isnan(left_s), T, np.minimum(left_s, T))[admitted] - entered[admitted]))
    dec_tok_s = float(1.0 / np.mean(tp)) if tp.size else NAN

    s: dict[str, Any] = {
        "feasible": True,
        "requests_arrived": int(fleet.n),
        "requests_completed": int(done.sum()),
        "requests_dropped": int((drop > 0).sum()),
        "requests_dropped_too_long": int((drop == 1).sum()),
        "requests_dropped_queue_full": int((drop == 2).sum()),
        "requests_dropped_curtailed": int((drop == DROP_CURTAILED).sum()),
        "requests_dropped_no_decode_replica": int((drop == DROP_NO_DECODE).sum()),
        # neither completed nor dropped: routed and running or queued, or held at the router (arrived = completed +
        # dropped + in flight; a request dropped at the decode hand-off had been counted twice, one still held at
        # the router through a curtailment not at all)
        "requests_in_flight_at_end": int(fleet.n - done.sum() - (drop > 0).sum()),
        "requests_in_flight_past_ttft_slo": n_missed_open,
        "ttft_mean_s": float(np.mean(tt)) if tt.size else NAN,
        "ttft_p50_s": _pct(tt, 50), "ttft_p90_s": _pct(tt, 90), "ttft_p99_s": _pct(tt, 99),
        "tpot_mean_s": float(np.mean(tp)) if tp.size else NAN,
        "tpot_p50_s": _pct(tp, 50), "tpot_p90_s": _pct(tp, 90), "tpot_p99_s": _pct(tp, 99),
        "e2e_mean_s": float(np.mean(ee)) if ee.size else NAN,
        "e2e_p50_s": _pct(ee, 50), "e2e_p90_s": _pct(ee, 90), "e2e_p99_s": _pct(ee, 99),
        "queue_delay_mean_s": float(np.mean(qq)) if qq.size else NAN,
        "queue_delay_p50_s": _pct(qq, 50), "queue_delay_p99_s": _pct(qq, 99),
        "slo_attainment_frac": float(ok.sum() / denom) if denom else NAN,
        "slo_ttft_p99_met": (None if slo.ttft_p99_s is None else bool(_pct(tt, 99) <= slo.ttft_p99_s)),
        "slo_tpot_p99_met": (None if slo.tpot_p99_s is None else bool(_pct(tp, 99) <= slo.tpot_p99_s)),
        # the SLO-meeting requests arrived after the warm-up: per second of that window (at 100 % attainment ~ throughput)
        "goodput_requests_per_s": float(ok.sum() / t_stat) if t_stat > 0 else NAN,
        "goodput_tokens_per_s": float(out[ok].sum() / t_stat) if t_stat > 0 else NAN,
        "throughput_tokens_per_s": tokens / T,
        "throughput_requests_per_s": float(done.sum() / T),
        "input_tokens_mean": float(inp.mean()) if inp.size else NAN,
        "output_tokens_mean": float(out.mean()) if out.size else NAN,
        "input_lengths_redrawn": int(work["input_lengths_redrawn"]),
        "output_lengths_redrawn": int(work["output_lengths_redrawn"]),
        "preemptions": int(sum(fleet.preempted)),
        # busy time (as nvidia-smi's 'utilization'): ~1 whenever a replica holds any request
        "gpu_utilization_frac": busy / total_gpu_s if total_gpu_s > 0 else 0.0,
        # how hard the GPUs work: model FLOPs executed / (GPU-seconds on x peak FLOP/s of the compute
        # datatype), HBM bytes moved / (GPU-seconds on x peak bandwidth), time-averaged KV blocks in
        # use / KV capacity of the powered-on replicas (step-table work, uncapped: a cap stretches time)
        "mfu_frac": float(np.sum(fleet.flop_s)) / total_gpu_s if total_gpu_s > 0 else 0.0,
        "memory_bandwidth_util_frac": float(np.sum(fleet.bytes_s)) / total_gpu_s if total_gpu_s > 0 else 0.0,
        "kv_cache_util_frac": (float(np.sum(fleet.kv_block_s)) / kv_cap) if kv_cap > 0 else 0.0,
        # the most GPUs powered at any instant (a timeline bucket's mean had read 6 where 8 were on: a short burst)
        "num_gpus_peak": int(fleet.gpus_on_peak),
        "gpu_hours": gpu_hours,
        "gpu_energy_j": gpu_j,
        "it_energy_j": it_j,
        "facility_energy_j": fac_j,
        "energy_per_token_j": fac_j / tokens if tokens else NAN,
        "gpu_energy_per_token_j": gpu_j / tokens if tokens else NAN,
        "cost_usd": cost,
        "demand_charge_usd": demand_usd,
        "cost_usd_per_million_tokens": (cost / tokens * 1e6 if tokens else NAN) if cost is not None else None,
        "cost_unavailable_reason": unpriced_reason if cost is None else None,
        "co2e_kg": co2,
        "co2e_g_per_1k_tokens": co2 * 1000.0 / (tokens / 1000.0) if tokens else NAN,
        # the per-token keys above count OUTPUT (generated) tokens; explicit aliases:
        "token_basis": "output",
        "facility_mean_power_w": fac_j / T,
        # the highest timeline-bucket mean (timeline_bucket_s, as a meter's demand interval), not an instantaneous peak
        "facility_peak_power_w": float((fac_b / widths).max()) if fleet.nb else 0.0,
        "facility_peak_power_bucket_s": float(bw),
        "littles_law_l_mean": L,
        "littles_law_lambda_w": lam * W,
        "littles_law_rel_error": abs(L - lam * W) / L if L > 0 else 0.0,
        "littles_law_window_l_mean": window_sum / T,
        "littles_law_window_rel_error": abs(L - window_sum / T) / L if L > 0 else 0.0,
        "decode_tokens_per_s_per_request": dec_tok_s,
        "step_table_source": fleet.groups[0].table.source,
        "power_cap_cells_at_floor": int(sum(g.table.cap_cells_at_floor for g in fleet.groups)),
        "sim_events_requests": int(fleet.n),
        "sim_wall_time_s": sim_wall,
        "notes": notes,
    }
    if wl.gpus is not None and not wl.replica_groups:
        g0 = fleet.groups[0].spec
        s["deployment"] = {"replicas": g0.num_replicas, "gpus_per_replica": g0.gpus_per_replica, "tp": g0.gpus_per_replica // (g0.pp * g0.ep),
                           "pp": g0.pp, "ep": g0.ep, "weight_precision": g0.weight_precision, "kv_precision": g0.kv_precision,
                           "searched": True, "gpus_budget": wl.gpus}
    for k, alias in PER_OUTPUT_TOKEN_ALIASES.items():
        s[alias] = s[k]
    if fleet.limiter is not None:
        from costsim.sim import serving_grid as sg

        steps_keys = sg.summary(fleet.limiter, fleet.limiter_steps, int((drop == DROP_CURTAILED).sum()))
        s.update(sg.ba_summary(*fleet.ba_events, steps_keys) if fleet.ba_events is not None else steps_keys)
    if wl.device_battery_wh is not None:
        it_w = it_j / T
        s["device_power_w"] = it_w
        s["battery_drain_frac_per_hour"] = it_w * 3600.0 / (wl.device_battery_wh * 3600.0)
        s["battery_hours_of_chat"] = wl.device_battery_wh / it_w if it_w > 0 else NAN
    ts = {
        "t_s": np.arange(fleet.nb) * bw,
        "facility_power_w": fac_b / widths,
        "it_power_w": it_b / widths,
        "gpu_power_w": e_gpu / widths,
        "gpus_on": on_gpu_s / widths,
        "throughput_tokens_per_s": np.asarray(fleet.tok) / widths,
        "arrivals_per_s": np.asarray(fleet.n_arr) / widths,
        "completions_per_s": np.asarray(fleet.n_done) / widths,
        "requests_waiting": np.asarray(fleet.queue_sample, dtype=float),
        "mfu_frac": _ratio(fleet.flop_s, on_gpu_s),
        "memory_bandwidth_util_frac": _ratio(fleet.bytes_s, on_gpu_s),
        "kv_cache_util_frac": _ratio(fleet.kv_block_s, fleet.kv_cap_block_s),
    }
    lim = wl.request_table_limit
    tables = {"requests": {
        "arrival_s": arr[:lim], "input_tokens": inp[:lim], "output_tokens": out[:lim],
        "ttft_s": ttft[:lim], "tpot_s": tpot[:lim], "e2e_s": e2e[:lim], "queue_s": queue[:lim],
        "replica": np.asarray(fleet.where[:lim]), "preemptions": np.asarray(fleet.preempted[:lim]),
        "dropped": drop[:lim], "slo_met": ok[:lim],
    }}
    return SimOutput(summary=s, timeseries=ts, tables=tables)
