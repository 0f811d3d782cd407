"""`costsim site`: facility power of a fleet against a grid cap, with hourly price and carbon.

Peak = every device in its workload's peak phase (training: compute phase) at the same time
(synchronous training makes that the normal case). Mean = the workload's phase mix
(costsim.power.facility.TRAINING_PHASE_MIX / INFERENCE_PHASE_MIX). Facility = IT x PUE.
Over the cap is a result: headroom < 0, feasible False with a reason, and the per-GPU power cap
that would fit, with the throughput it costs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from costsim.core.plausibility import fleet_warnings, power_warnings
from costsim.core.power import cap_throughput_frac, phase_power_w
from costsim.economics import timeseries
from costsim.errors import InputError
from costsim.estimators.training import comm_phase_power_w
from costsim.numtext import power
from costsim.power import facility as fac
from costsim.power.battery import dispatch
from costsim.power.grid import max_gpus_under_cap, per_gpu_power_cap_w
from costsim.power.signals import load_region
from costsim.specs.catalog import get_accelerator, node_for
from costsim.specs.requests import FleetEntry, SiteRequest
from costsim.specs.site import BatterySpec, EconomicsSpec, FacilitySpec
from costsim.units import J_PER_KWH, MEGA, S_PER_DAY, S_PER_HOUR


def build_request(hardware: list[str], gpus: list[int], *, workloads: list[str] | None = None, pue: float = 1.2,
                  grid_cap_mw: float | None = None, region: str | None = None, battery_mwh: float | None = None,
                  battery_mw: float | None = None, battery_policy: str | None = None) -> SiteRequest:
    if not hardware:
        raise InputError("give at least one --hardware ID --gpus N pair (e.g. --hardware h100-sxm --gpus 100000).", field="hardware")
    if len(hardware) != len(gpus):
        raise InputError(f"--hardware and --gpus come in pairs, in order: got {len(hardware)} --hardware and {len(gpus)} --gpus.", field="gpus")
    wl = workloads or []
    if wl and len(wl) not in (1, len(hardware)):
        raise InputError("--workload is given once (for all) or once per --hardware.", field="workload")
    if len(wl) == 1:
        wl = wl * len(hardware)
    fleet = [FleetEntry(hardware=h, gpus=int(n), **({"workload": wl[i]} if wl else {})) for i, (h, n) in enumerate(zip(hardware, gpus))]
    return SiteRequest(fleet=fleet, pue=pue, grid_cap_mw=grid_cap_mw, region=region, battery_mwh=battery_mwh, battery_mw=battery_mw,
                      battery_policy=battery_policy)


def _entry(e: FleetEntry, facility: FacilitySpec) -> dict[str, Any]:
    acc = get_accelerator(e.hardware)
    node = node_for(acc)
    g_peak = fac.gpu_power_w(acc, e.workload, statistic="peak")
    g_mean = fac.gpu_power_w(acc, e.workload, statistic="mean")
    busy = e.workload != "idle"
    host = fac.host_power_per_gpu_w(acc, node, busy=busy)
    fabric = fac.fabric_w_per_gpu(acc, facility)
    it_peak_slot = g_peak + host + fabric
    it_mean_slot = g_mean + host + fabric
    swing = drop = 0.0
    if e.workload == "training":
        # the step's swing: compute peak to the exposed-communication level the training core and simulation use
        # (the generic 'communication' phase, 0.05 compute / 0.15 memory, gave 277 W on an H100 where a training step's
        # wait draws 163 W: a 519 kW swing for 1,024 H100 where the simulation's time series shows 660 kW)
        swing = float(phase_power_w(acc.idle_w, acc.tdp_w, "compute")) - comm_phase_power_w(acc)
        # a failure stops the whole synchronous job: every GPU falls to bare idle and every host to its idle draw until
        # the restart (the training simulation's 'down' state)
        drop = it_peak_slot - (acc.idle_w + fac.host_power_per_gpu_w(acc, node, busy=False) + fabric)
    return {"hardware": acc.id, "gpus": e.gpus, "workload": e.workload, "node": node.id if node else None,
            "gpu_peak_power_w": g_peak, "gpu_mean_power_w": g_mean, "gpu_peak_power_frac_of_tdp": g_peak / acc.tdp_w,
            "host_power_per_gpu_w": host, "fabric_storage_w_per_gpu": fabric,
            "it_peak_power_per_gpu_w": it_peak_slot, "it_mean_power_per_gpu_w": it_mean_slot,
            "it_peak_power_w": it_peak_slot * e.gpus, "it_mean_power_w": it_mean_slot * e.gpus,
            "it_swing_power_w": swing * e.gpus, "it_restart_drop_power_w": drop * e.gpus, "_acc": acc, "_node": node}


def _daily(mean_w: float, price, carbon) -> dict[str, float]:
    """Energy cost and carbon per day for a flat load over a year of hourly signal values."""
    p = np.full(8760, mean_w)
    return {"energy_cost_usd_per_day": timeseries.energy_cost_usd(p, S_PER_HOUR, price) / 365.0,
            "co2e_kg_per_day": timeseries.carbon_kg(p, S_PER_HOUR, carbon) / 365.0,
            "energy_j_per_day": mean_w * S_PER_DAY}


def _power_bands(req: SiteRequest) -> dict[str, Any]:
    """power_error_band (the fleet's largest accelerator type's, as `costsim serve` / `train` carry theirs) and, for a
    mixed fleet, power_error_bands: each type's, by hardware id."""
    from costsim.api.trust import band_dict

    bands = {e.hardware: band_dict("power", e.hardware, float(e.gpus)) for e in req.fleet}
    largest = max(req.fleet, key=lambda e: e.gpus).hardware
    return {"power_error_band": bands[largest], **({"power_error_bands": bands} if len(bands) > 1 else {})}


def site_report(req: SiteRequest) -> dict[str, Any]:
    facility = FacilitySpec(pue=req.pue)
    econ = EconomicsSpec()
    entries = [_entry(e, facility) for e in req.fleet]
    pue = float(fac.pue_at(facility))
    it_peak = sum(x["it_peak_power_w"] for x in entries)
    it_mean = sum(x["it_mean_power_w"] for x in entries)
    fac_peak, fac_mean = it_peak * pue, it_mean * pue
    cap_w = req.grid_cap_mw * MEGA if req.grid_cap_mw is not None else None

    out: dict[str, Any] = {
        "feasible": True, "reason": None,
        # the power core's trust range, of the fleet's largest accelerator type (each type's in power_error_bands)
        **_power_bands(req),
        "it_peak_power_w": it_peak, "it_mean_power_w": it_mean,
        "facility_peak_power_w": fac_peak, "facility_mean_power_w": fac_mean,
        "pue": pue,
        "training_power_swing_w": sum(x["it_swing_power_w"] for x in entries) * pue,
        # the larger, rarer step: the training fleet's facility power from its peak to idle when a failure stops the job
        "training_restart_drop_w": sum(x["it_restart_drop_power_w"] for x in entries) * pue,
        "grid_cap_w": cap_w, "headroom_w": None,
        "max_gpus_under_cap": {}, "additional_gpus_under_cap": {},
    }
    if cap_w is not None:
        head = cap_w - fac_peak
        out["headroom_w"] = head
        for x in entries:
            slot_fac = x["it_peak_power_per_gpu_w"] * pue
            out["max_gpus_under_cap"][x["hardware"]] = max_gpus_under_cap(cap_w, slot_fac)
            out["additional_gpus_under_cap"][x["hardware"]] = max(int(math.floor(head / slot_fac)), 0) if head > 0 else 0
        if head < 0:
            out["feasible"] = False
            out["reason"] = (f"facility peak {power(fac_peak)} exceeds the grid cap {power(cap_w)} by "
                             f"{power(-head)}; cap the GPUs (see per_gpu_power_cap_to_fit), shrink the fleet, "
                             "lower PUE or add on-site supply")
            # per-GPU caps that fit: the GPU budget (cap / PUE - non-GPU IT) shared so that every part keeps its idle draw
            # and gets the same share of its dynamic range (peak - idle): one part alone gets budget / count; a mix of
            # parts fits whenever the budget is above the fleet's idle draw (a split in proportion to peak draw would
            # leave a part with a low peak under its idle draw while another could give way)
            non_gpu = sum((x["host_power_per_gpu_w"] + x["fabric_storage_w_per_gpu"]) * x["gpus"] for x in entries)
            budget = cap_w / pue - non_gpu
            idle_total = sum(x["_acc"].idle_w * x["gpus"] for x in entries)
            dyn_total = sum(max(x["gpu_peak_power_w"] - x["_acc"].idle_w, 0.0) * x["gpus"] for x in entries)
            share = (budget - idle_total) / dyn_total if dyn_total > 0 else -1.0
            n_all = sum(y["gpus"] for y in entries)
            uniform_w = float(per_gpu_power_cap_w(cap_w, n_all, non_gpu_it_w_per_gpu=non_gpu / n_all, pue=pue))
            uniform_w = uniform_w if uniform_w > 0 else None   # <= 0: hosts and fabric alone exceed the grid cap
            fits = {}
            for x in entries:
                acc = x["_acc"]
                cap_g = acc.idle_w + share * max(x["gpu_peak_power_w"] - acc.idle_w, 0.0)
                if share > 0:
                    fits[x["hardware"]] = {"gpu_power_cap_w": cap_g,
                                           "compute_throughput_frac": float(cap_throughput_frac(cap_g, acc.tdp_w, acc.idle_w, "compute")),
                                           "uniform_gpu_power_cap_w": uniform_w, "reason": None}
                else:  # a cap at or below the idle draw (or below zero: hosts and fabric alone exceed the grid cap) runs nothing
                    fits[x["hardware"]] = {"gpu_power_cap_w": None, "compute_throughput_frac": 0.0,
                                           "uniform_gpu_power_cap_w": uniform_w,
                                           "reason": (f"the grid cap leaves {max(budget, 0.0) / n_all:.0f} W per accelerator "
                                                      f"against the fleet's idle draw of {idle_total / n_all:.0f} W each "
                                                      f"({acc.id}: {acc.idle_w:.0f} W): no power cap fits")}
            stuck = [k for k, v in fits.items() if v["gpu_power_cap_w"] is None]
            out["per_gpu_power_cap_to_fit"] = fits
            if non_gpu * pue >= cap_w:
                out["reason"] = (f"facility peak {power(fac_peak)} exceeds the grid cap {power(cap_w)}, and the hosts, "
                                 f"fabric and storage alone draw {power(non_gpu * pue)} with PUE: no GPU power cap fits; "
                                 "shrink the fleet or add on-site supply")
            elif all(v["gpu_power_cap_w"] is None for v in fits.values()):
                out["reason"] = (f"facility peak {power(fac_peak)} exceeds the grid cap {power(cap_w)} by "
                                 f"{power(-head)}, and a GPU power cap that fits would be at or below the idle draw of "
                                 f"{', '.join(stuck) or 'the GPUs'}; shrink the fleet or add on-site supply")

    # hourly price and carbon
    if req.region:
        prof = load_region(req.region)
        price, carbon = prof.price, prof.carbon
        out["region"] = prof.summary()
    else:
        price, carbon = econ.electricity_usd_per_kwh, econ.grid_gco2e_per_kwh
        out["region"] = {"region": None, "usd_per_kwh": {"mean": price}, "gco2e_per_kwh": {"mean": carbon},
                         "source": "flat defaults (EconomicsSpec): US industrial ~0.08 USD/kWh, 400 gCO2e/kWh"}
    out.update(_daily(fac_mean, price, carbon))

    # battery
    if (req.battery_mwh is None) != (req.battery_mw is None):
        raise InputError("give both --battery-mwh and --battery-mw (energy and power rating), or neither.", field="battery_mw")
    if req.battery_mwh is not None:
        spec = BatterySpec(energy_mwh=req.battery_mwh, power_mw=req.battery_mw,
                           policy=req.battery_policy or ("arbitrage" if (cap_w is None or fac_peak <= cap_w) else "peak_shaving"))
        usable_j = spec.energy_mwh * 3.6e9 * (spec.max_soc_frac - spec.min_soc_frac)
        b: dict[str, Any] = {"energy_mwh": spec.energy_mwh, "power_mw": spec.power_mw, "policy": spec.policy,
                             "round_trip_efficiency_frac": spec.round_trip_efficiency_frac,
                             "covers_training_swing": spec.power_mw * MEGA >= out["training_power_swing_w"],
                             "training_power_swing_w": out["training_power_swing_w"],
                             "covers_restart_drop": spec.power_mw * MEGA >= out["training_restart_drop_w"],
                             "training_restart_drop_w": out["training_restart_drop_w"]}
        # ride-through: the battery carries at most its power rating; below the facility peak it carries a share
        # of the load (the rest drops with the grid), for the usable energy at that discharge power
        deliverable_j = usable_j * math.sqrt(spec.round_trip_efficiency_frac)
        carried_w = min(spec.power_mw * MEGA, fac_peak)
        b["full_load_share_frac"] = carried_w / fac_peak if fac_peak > 0 else None
        b["ride_through_full_load_s"] = (deliverable_j / fac_peak if spec.power_mw * MEGA >= fac_peak else 0.0) if fac_peak > 0 else None
        b["ride_through_at_rated_power_s"] = deliverable_j / carried_w if carried_w > 0 else None
        if cap_w is not None and fac_peak > cap_w:
            excess = fac_peak - cap_w
            b["covers_excess_power"] = spec.power_mw * MEGA >= excess
            # holding import at the cap needs the whole excess from the battery: not at all when its rating is below it
            b["covers_excess_for_s"] = deliverable_j / excess if b["covers_excess_power"] else 0.0
            b["note"] = "a battery shifts energy; it cannot carry a load that is above the cap around the clock"
        else:
            load = np.full(8760, fac_mean)
            t = np.arange(8760) * S_PER_HOUR
            pr = np.asarray(price.at(t)) if hasattr(price, "at") else np.full(8760, float(price))
            # the optimal policy values the energy left at the year's end as the saving below does (credit), so the
            # saving it reports is its own objective: never below doing nothing
            res = dispatch(load, S_PER_HOUR, spec, cap_w=np.inf if cap_w is None else cap_w, price=pr,
                           demand_charge_usd_per_w=0.0,
                           end_value_per_kwh=float(np.mean(pr)) if spec.objective == "cost" else 0.0)  # (USD: the cost objective's unit)
            base = timeseries.energy_cost_usd(load, S_PER_HOUR, pr)
            with_b = timeseries.energy_cost_usd(res.grid_import_w, S_PER_HOUR, pr)
            # energy left in the battery at the year's end (or taken from it) is worth what it would serve of the load at
            # the mean price: filling it once is not a loss of the year
            kept_j = (float(res.soc_frac[-1]) - res.soc0_frac) * res.capacity_j * math.sqrt(spec.round_trip_efficiency_frac)
            credit = kept_j / J_PER_KWH * float(np.mean(pr))
            b["arbitrage_saving_usd_per_day"] = (base - with_b + credit) / 365.0
            b["peak_grid_import_w"] = res.summary()["peak_grid_import_w"]
        out["battery"] = b

    # assumptions
    ass: list[dict] = []
    seen = set()
    for x in entries:
        for a in fac.assumptions(x["_acc"], x["_node"], facility, x["workload"]):
            if a["name"] not in seen:
                seen.add(a["name"])
                ass.append(a)
    ass.append({"name": "training_phase_mix", "value": fac.TRAINING_PHASE_MIX, "unit": "time fractions",
                "label": "training time by phase",
                "source": "Llama 3.1 405B per-step vs whole-run MFU (calibration training_steps/training_runs)"})
    out["assumptions"] = ass
    out["fleet"] = [{k: v for k, v in x.items() if not k.startswith("_")} for x in entries]
    out["warnings"] = power_warnings(fac_peak) + fleet_warnings(sum(float(x["gpus"]) for x in entries))
    return out


# --------------------------------------------------------------------------------------------
# a simulated day: power timeline, grid import, battery, hourly price and carbon
# --------------------------------------------------------------------------------------------

TIMELINE_MODELS = (("llama-3.1-405b", 8192, 8192), ("llama-3.1-70b", 512, 8192), ("llama-3.1-8b", 1, 4096))
"""Representative training job per fleet size: (model, smallest fleet, seq_len). Assumption: the
largest Llama 3.1 the fleet plausibly trains; the power pattern (compute/communication split from
the training core) matters here, not the model's identity."""
INFERENCE_DIURNAL = (0.6, 0.3, 20.0)
"""Inference load share of peak by hour: mean + amplitude * cos(2 pi (h - peak_hour) / 24).
Assumption: chat traffic with an evening peak about 3x the early-morning trough."""
_SETUPS: dict[str, Any] = {}


def _training_setup(sc_json: str):
    from costsim.sim.training import prepare
    from costsim.specs.scenario import Scenario

    su = _SETUPS.get(sc_json)
    if su is None:
        su = prepare(Scenario.model_validate_json(sc_json))
        if len(_SETUPS) > 64:
            _SETUPS.clear()
        _SETUPS[sc_json] = su
    return su


def _training_entry(x: dict, req: SiteRequest, hours: float, cap_w: float | None, battery: BatterySpec | None,
                    seed: int) -> dict[str, Any]:
    """Simulate a short window of a representative training job on this fleet entry."""
    from costsim.sim.training import simulate_training
    from costsim.specs.limits import limit
    from costsim.specs.scenario import Scenario

    most = int(limit("gpus"))
    if x["gpus"] > most:  # the timeline simulates one training job per entry; the static figures above cover any count
        raise InputError(f"the simulated day covers fleet entries of at most {most:,} accelerators ({x['hardware']}: "
                         f"{x['gpus']:,}); the site's peak and mean power above hold for any count, or split the entry.",
                         field="fleet")
    last: Exception | None = None
    for model, min_gpus, seq in TIMELINE_MODELS:
        if x["gpus"] < min_gpus and model != TIMELINE_MODELS[-1][0]:
            continue
        d = {"name": f"site-{x['hardware']}-{x['gpus']}",
             "training": {"model": model, "hardware": x["hardware"], "num_gpus": x["gpus"], "tokens": 1e15, "seq_len": seq,
                          "max_days": hours / 24.0, "checkpoint": {"policy": "young_daly", "mode": "async"}},
             "facility": {"pue": req.pue},
             "grid": {"import_cap_mw": cap_w / MEGA if cap_w is not None else None,
                      "battery": battery.model_dump() if battery is not None else None},
             "simulation": {"seed": seed}}
        try:
            sc = Scenario.model_validate(d)
            su = _training_setup(sc.model_dump_json())
        except (InputError, ValueError) as exc:  # the model does not fit this fleet: try a smaller one
            last = exc
            continue
        out = simulate_training(sc, seed=seed, setup=su, fine=False)
        return {"model": model, "summary": out.summary, "ts": out.timeseries}
    why = last.message if isinstance(last, InputError) else str(last).splitlines()[0] if last else "no model fits"
    raise InputError(f"no representative training job fits {x['gpus']:,} x {x['hardware']}: {why}", field="fleet")


def site_timeline(req: SiteRequest, *, hours: float = 24.0, seed: int = 0, bucket_s: float = 60.0) -> dict[str, Any]:
    """Simulate the site's fleet for `hours` (1-min buckets): each training entry runs a short window
    of a representative training job in the training DES (step compute/communication swing,
    checkpoints, failures, restarts; its share of the grid cap becomes a GPU power cap), inference
    entries follow a diurnal load through the power model, idle entries sit at idle. The sum goes
    through the grid cap and the battery (costsim.power.battery via costsim.sim.grid_battery) and
    is priced with the region's hourly price and carbon.

    Returns arrays (t_s, facility_power_min/mean/max_w, grid_import_min/mean/max_w,
    battery_soc_frac, battery_charge_w, price_usd_per_kwh, carbon_gco2e_per_kwh per bucket; hourly
    hour_t_s / hourly_price_usd_per_kwh / hourly_carbon_gco2e_per_kwh) and `summary`.
    Jobs on different entries are not synchronized; adding their per-bucket min and max assumes
    their troughs and peaks coincide (an upper bound on the swing)."""
    from costsim.sim.grid_battery import battery_on_buckets, grid_ramp_w_per_s

    if hours <= 0 or hours > 24 * 14:
        raise InputError(f"hours must be in (0, 336], got {hours}.", field="hours")
    if (req.battery_mwh is None) != (req.battery_mw is None):
        raise InputError("give both --battery-mwh and --battery-mw (energy and power rating), or neither.", field="battery_mw")
    facility = FacilitySpec(pue=req.pue)
    econ = EconomicsSpec()
    pue = float(fac.pue_at(facility))
    entries = [_entry(e, facility) for e in req.fleet]
    n = int(math.ceil(hours * S_PER_HOUR / bucket_s))
    t = np.arange(n) * bucket_s
    cap_w = req.grid_cap_mw * MEGA if req.grid_cap_mw is not None else None
    battery = None
    if req.battery_mwh is not None:
        fits = cap_w is None or sum(x["it_peak_power_w"] for x in entries) * pue <= cap_w
        battery = BatterySpec(energy_mwh=req.battery_mwh, power_mw=req.battery_mw,
                              policy=req.battery_policy or ("arbitrage" if fits else "peak_shaving"))
    fmin, fmean, fmax = np.zeros(n), np.zeros(n), np.zeros(n)
    # inference and idle entries first: their daily maximum is reserved out of the cap
    h = t / S_PER_HOUR + 0.5 * bucket_s / S_PER_HOUR
    m0, a0, hp = INFERENCE_DIURNAL
    load_frac = np.clip(m0 + a0 * np.cos(2 * np.pi * (h - hp) / 24.0), 0.0, 1.0)
    per_entry: list[dict[str, Any]] = []
    ramps: list[float] = []
    for x in entries:
        if x["workload"] == "training":
            continue
        acc = x["_acc"]
        if x["workload"] == "inference":
            g = acc.idle_w + load_frac * (x["gpu_peak_power_w"] - acc.idle_w)
        else:
            g = np.full(n, x["gpu_peak_power_w"])
        p = (g + x["host_power_per_gpu_w"] + x["fabric_storage_w_per_gpu"]) * x["gpus"] * pue
        fmin += p
        fmean += p
        fmax += p
        per_entry.append({"hardware": x["hardware"], "gpus": x["gpus"], "workload": x["workload"],
                          "facility_mean_power_w": float(p.mean()), "facility_peak_power_w": float(p.max())})
    reserved = float(fmax.max(initial=0.0))
    train = [x for x in entries if x["workload"] == "training"]
    tot_peak = sum(x["it_peak_power_w"] * pue for x in train)
    interruptions = 0
    for i, x in enumerate(train):
        share = x["it_peak_power_w"] * pue / tot_peak if tot_peak > 0 else 0.0
        cap_i = max(cap_w - reserved, 1.0) * share if cap_w is not None else None
        bat_i = None
        if battery is not None and share > 0:
            bat_i = battery.model_copy(update={"energy_mwh": battery.energy_mwh * share, "power_mw": battery.power_mw * share})
        r = _training_entry(x, req, hours, cap_i, bat_i, seed + i)
        ts, s = r["ts"], r["summary"]
        k = min(n, len(ts["t_s"]))
        fmin[:k] += ts["facility_power_min_w"][:k]
        fmean[:k] += ts["facility_power_mean_w"][:k]
        fmax[:k] += ts["facility_power_max_w"][:k]
        ramps.append(float(s["max_ramp_w_per_s"]))
        interruptions += int(s["interruptions"])
        per_entry.append({"hardware": x["hardware"], "gpus": x["gpus"], "workload": "training", "model": r["model"],
                          "grid_cap_share_w": cap_i, "gpu_power_cap_w": s["gpu_power_cap_w"],
                          "gpu_speed_at_cap_frac": s["gpu_speed_at_cap_frac"], "step_time_s": s["step_time_at_grid_cap_s"],
                          "interruptions": s["interruptions"], "planned_interruptions": s["planned_interruptions"],
                          "checkpoints": s["checkpoints"], "goodput_frac": s["goodput_frac"],
                          "facility_mean_power_w": s["facility_mean_power_w"], "facility_peak_power_w": s["facility_peak_power_w"],
                          "grid_cap_feasible": s["grid_cap_feasible"]})
    cap_arr = np.full(n, cap_w if cap_w is not None else np.inf)
    # hourly price and carbon
    if req.region:
        prof = load_region(req.region)
        price, carbon = np.asarray(prof.price.at(t), float), np.asarray(prof.carbon.at(t), float)
        hour_t = np.arange(int(math.ceil(hours))) * S_PER_HOUR
        hp_, hc_ = np.asarray(prof.price.at(hour_t), float), np.asarray(prof.carbon.at(hour_t), float)
        region_meta = prof.summary()
    else:
        price, carbon = np.full(n, econ.electricity_usd_per_kwh), np.full(n, econ.grid_gco2e_per_kwh)
        hour_t = np.arange(int(math.ceil(hours))) * S_PER_HOUR
        hp_, hc_ = np.full(hour_t.size, econ.electricity_usd_per_kwh), np.full(hour_t.size, econ.grid_gco2e_per_kwh)
        region_meta = {"region": None, "source": "flat defaults (EconomicsSpec)"}
    edge_s = 0.1  # PowerDynamics.phase_edge_s default
    load_ramp = float(sum(ramps))  # upper bound: every job's edge at the same instant
    if battery is not None:
        bat = battery_on_buckets(bucket_s, fmin, fmean, fmax, cap_arr, battery, price=price, carbon=carbon)
        g_min, g_mean, g_max = bat["grid_min_w"], bat["grid_mean_w"], bat["grid_max_w"]
        soc, charge, share_b, short = bat["soc_frac"], bat["battery_charge_w"], bat["fast_share"], bat["shortfall_w"]
    else:
        g_min, g_mean, g_max = fmin.copy(), fmean.copy(), fmax.copy()
        soc, charge, share_b = np.full(n, np.nan), np.zeros(n), np.zeros(n)
        short = np.maximum(fmax - cap_arr, 0.0)
    ramp_fac = grid_ramp_w_per_s(fmin, fmax, fmean, np.zeros(n), bucket_s, edge_s, load_ramp) if n else 0.0
    ramp_grid = grid_ramp_w_per_s(fmin, fmax, g_mean, share_b, bucket_s, edge_s, load_ramp) if n else 0.0
    dt = np.full(n, bucket_s)
    grid_j = g_mean * dt
    over = fmax > cap_arr * (1 + 1e-9)
    viol = short > 1e-9 * np.where(np.isfinite(cap_arr), cap_arr, 1.0)
    notes = []
    for x in per_entry:
        if x.get("grid_cap_feasible") is False:
            notes.append(f"training on {x['gpus']:,} {x['hardware']}: its share of the grid cap "
                         f"({power(x['grid_cap_share_w'] or 0.0)}) is below the fleet's idle draw, so the job does not run in "
                         "this simulated day (no power, energy, cost or CO2e from it); raise the cap or shrink the fleet")
    train_e = [x for x in per_entry if x["workload"] == "training" and x.get("goodput_frac") is not None]
    summary = {
        "hours": hours, "bucket_s": bucket_s, "pue": pue, "grid_cap_w": cap_w,
        "battery_policy": battery.policy if battery is not None else None,
        "facility_peak_power_w": float(fmax.max(initial=0.0)), "facility_mean_power_w": float(fmean.mean()) if n else 0.0,
        "facility_min_power_w": float(fmin.min()) if n else 0.0,
        "facility_energy_j": float(np.sum(fmean * dt)), "grid_energy_j": float(np.sum(grid_j)),
        "grid_import_max_w": float(g_max.max(initial=0.0)),
        "headroom_w": (cap_w - float(g_max.max(initial=0.0))) if cap_w is not None else None,
        "power_swing_w": float(np.max(fmax - fmin)) if n else 0.0,
        "grid_power_swing_w": float(np.max(g_max - g_min)) if n else 0.0,
        "max_ramp_w_per_s": ramp_fac, "grid_max_ramp_w_per_s": ramp_grid,
        "time_over_cap_s": float(np.sum(dt[over])),
        "grid_cap_exceeded_s": float(np.sum(dt[viol])),
        "battery_min_soc_frac": float(np.nanmin(soc)) if battery is not None else None,
        "battery_max_soc_frac": float(np.nanmax(soc)) if battery is not None else None,
        "energy_cost_usd": float(np.sum(grid_j * price) / J_PER_KWH),
        "co2e_kg": float(np.sum(grid_j * carbon) / J_PER_KWH / 1e3),
        "interruptions": interruptions,
        # the training jobs' useful share of the day (failures, restarts, checkpoints), weighted by GPUs: why the day's
        # energy falls below the phase-mix estimate of site_report, which keeps every GPU in its step mix all day
        "training_goodput_frac": (sum(x["goodput_frac"] * x["gpus"] for x in train_e) / sum(x["gpus"] for x in train_e)
                                  if train_e else None),
        "region": region_meta,
        "fleet": per_entry,
        "notes": ["training entries: the training DES (costsim.sim.training) on a representative job per entry; "
                  "inference: diurnal load (assumption INFERENCE_DIURNAL); entries' min/max add (coincident swings, an upper bound)",
                  "max ramp: the load's edges (phase_edge_s 0.1 s) inside a minute, scaled by the share the battery takes; "
                  "summed over training entries (upper bound)", *notes],
    }
    return {"t_s": t, "facility_power_min_w": fmin, "facility_power_mean_w": fmean, "facility_power_max_w": fmax,
            "grid_import_min_w": g_min, "grid_import_mean_w": g_mean, "grid_import_max_w": g_max,
            "grid_cap_w": cap_arr, "battery_soc_frac": soc, "battery_charge_w": charge,
            "price_usd_per_kwh": price, "carbon_gco2e_per_kwh": carbon,
            "hour_t_s": hour_t, "hourly_price_usd_per_kwh": hp_, "hourly_carbon_gco2e_per_kwh": hc_,
            "summary": summary}
