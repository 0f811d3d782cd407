"""Training simulation, post-processing: the job's rows -> the piecewise power trace, the 1-minute timeline, the
fine windows around the first events of each kind, the grid-side battery dispatch and swing, and the summary
(goodput, energy, cost, CO2e, power swing and ramp) of one replicate (`summarize`)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from costsim.economics.accounting import account_run
from costsim.sim.base import SimOutput
from costsim.sim.grid_battery import battery_on_buckets, grid_ramp_w_per_s
from costsim.sim.power_trace import Trace, bucket_stats, max_ramp_w_per_s, power_at
from costsim.sim.training_job import TrainingJob
from costsim.sim.training_setup import KIND_NAMES, TRAIN, Setup, pick, timeline_bucket_estimate
from costsim.specs.limits import require
from costsim.specs.catalog import node_for
from costsim.units import MEGA, S_PER_DAY, S_PER_HOUR


# --------------------------------------------------------------------------------------------
# post-processing
# --------------------------------------------------------------------------------------------

def _rows(job: TrainingJob, end_s: float) -> dict[str, np.ndarray]:
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


def _fine_windows(job: TrainingJob, tr: Trace, su: Setup, end_s: float):
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


def summarize(job: TrainingJob, su: Setup, end_s: float, completed: bool, wall0: float, fine: bool, seed: int,
               keep_segments: bool = False) -> SimOutput:
    w, sc = su.w, su.scenario
    fac = su.fac_w
    # the run may end later than the horizon estimated before it (goodput below ~67 %): check the timeline's
    # size again with the actual end, before any bucket is allocated
    require([timeline_bucket_estimate(end_s, w.timeline.bucket_s, what=f"the run's simulated time ({end_s:,.0f} s)")])
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
        soc = np.array(bat["soc_frac"], dtype=float)
        if len(soc) and covered[-1] < bucket:
            # the run ends inside its last bucket: the battery moved for the seconds it covers, not a whole bucket (the
            # grid and load energies are weighted by the same seconds; the state of charge had gained up to a bucket more)
            prev = soc[-2] if len(soc) > 1 else battery.initial_soc_frac
            soc[-1] = prev + (soc[-1] - prev) * covered[-1] / bucket
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
        # a cap that leaves no power level the job can train at is an infeasible run (exit 3), not a long pause
        "feasible": bool(lv0.feasible),
        "reason": None if lv0.feasible else (f"{lv0.reason}: the job cannot train under it; raise grid.import_cap_mw, add "
                                             "a battery or use fewer GPUs"),
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
        "assumptions": _assumptions(su, econ["assumptions"]),
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
    step = float(pick(p, "step_time_s"))
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


def _assumptions(su: Setup, accounting: list[dict]) -> list[dict]:
    """The simulation's own assumptions, then the accounting's (costsim.economics.accounting.account_run: the rate the
    cost uses, rental or amortized purchase, the electricity price and grid carbon billed, host power, embodied
    carbon), which replace a row of the same name: this list had shown the rental rate alone under purchase pricing,
    and no source for the electricity price and carbon intensity the cost and CO2e rest on."""
    w = su.w
    own = [
        {"name": "restart_s", "value": w.reliability.restart_s, "unit": "s", "source": "assumption (not published for Llama 3)"},
        {"name": "failure_rate_per_gpu_hour", "value": su.job_failure_rate_per_s * S_PER_HOUR / su.num_gpus, "unit": "1/GPU-h", "source": "arXiv 2407.21783 Table 5 unless overridden"},
        {"name": "checkpoint_storage_bandwidth", "value": su.ckpt_bytes / su.write_s, "unit": "B/s", "source": "scenario" if w.checkpoint.storage_bandwidth_gb_per_s else "0.125 GB/s per GPU"},
        {"name": "phase_edge_s", "value": w.power.phase_edge_s, "unit": "s", "source": "assumption"},
        {"name": "start_ramp_s", "value": w.power.start_ramp_s, "unit": "s", "source": "assumption"},
    ]
    return own + [a for a in accounting if a.get("value") is not None]
