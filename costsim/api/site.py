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

from costsim.core.power import cap_throughput_frac, phase_power_w
from costsim.economics import timeseries
from costsim.errors import InputError
from costsim.power import facility as fac
from costsim.power.battery import dispatch
from costsim.power.grid import max_gpus_under_cap, per_gpu_power_cap_w
from costsim.power.signals import load_region
from costsim.specs.catalog import get_accelerator, node_for
from costsim.specs.requests import FleetEntry, SiteRequest
from costsim.specs.site import BatterySpec, EconomicsSpec, FacilitySpec
from costsim.units import MEGA, S_PER_DAY, S_PER_HOUR


def build_request(hardware: list[str], gpus: list[int], *, workloads: list[str] | None = None, pue: float = 1.2,
                  grid_cap_mw: float | None = None, region: str | None = None, battery_mwh: float | None = None,
                  battery_mw: float | None = None) -> SiteRequest:
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
    return SiteRequest(fleet=fleet, pue=pue, grid_cap_mw=grid_cap_mw, region=region, battery_mwh=battery_mwh, battery_mw=battery_mw)


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
    swing = 0.0
    if e.workload == "training":
        swing = float(phase_power_w(acc.idle_w, acc.tdp_w, "compute") - phase_power_w(acc.idle_w, acc.tdp_w, "communication"))
    return {"hardware": acc.id, "gpus": e.gpus, "workload": e.workload, "node": node.id if node else None,
            "gpu_peak_power_w": g_peak, "gpu_mean_power_w": g_mean, "gpu_peak_power_frac_of_tdp": g_peak / acc.tdp_w,
            "host_power_per_gpu_w": host, "fabric_storage_w_per_gpu": fabric,
            "it_peak_power_per_gpu_w": it_peak_slot, "it_mean_power_per_gpu_w": it_mean_slot,
            "it_peak_power_w": it_peak_slot * e.gpus, "it_mean_power_w": it_mean_slot * e.gpus,
            "it_swing_power_w": swing * e.gpus, "_acc": acc, "_node": node}


def _daily(mean_w: float, price, carbon) -> dict[str, float]:
    """Energy cost and carbon per day for a flat load over a year of hourly signal values."""
    p = np.full(8760, mean_w)
    return {"energy_cost_usd_per_day": timeseries.energy_cost_usd(p, S_PER_HOUR, price) / 365.0,
            "co2e_kg_per_day": timeseries.carbon_kg(p, S_PER_HOUR, carbon) / 365.0,
            "energy_j_per_day": mean_w * S_PER_DAY}


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
        "it_peak_power_w": it_peak, "it_mean_power_w": it_mean,
        "facility_peak_power_w": fac_peak, "facility_mean_power_w": fac_mean,
        "pue": pue,
        "training_power_swing_w": sum(x["it_swing_power_w"] for x in entries) * pue,
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
            out["reason"] = (f"facility peak {fac_peak / MEGA:.1f} MW exceeds the grid cap {cap_w / MEGA:.1f} MW by "
                             f"{-head / MEGA:.1f} MW; cap the GPUs (see per_gpu_power_cap_to_fit), shrink the fleet, "
                             "lower PUE or add on-site supply")
            # uniform per-GPU cap that fits: GPU budget = cap/PUE - non-GPU IT, shared in proportion to peak draw
            non_gpu = sum((x["host_power_per_gpu_w"] + x["fabric_storage_w_per_gpu"]) * x["gpus"] for x in entries)
            gpu_peak_total = sum(x["gpu_peak_power_w"] * x["gpus"] for x in entries)
            scale = (cap_w / pue - non_gpu) / gpu_peak_total if gpu_peak_total > 0 else 0.0
            fits = {}
            for x in entries:
                acc = x["_acc"]
                cap_g = scale * x["gpu_peak_power_w"]
                thr = float(cap_throughput_frac(cap_g, acc.tdp_w, acc.idle_w, "compute")) if cap_g > acc.idle_w else 0.0
                fits[x["hardware"]] = {"gpu_power_cap_w": cap_g, "compute_throughput_frac": thr,
                                       "uniform_gpu_power_cap_w": float(per_gpu_power_cap_w(cap_w, sum(y["gpus"] for y in entries),
                                                                             non_gpu_it_w_per_gpu=non_gpu / sum(y["gpus"] for y in entries), pue=pue))}
            out["per_gpu_power_cap_to_fit"] = fits

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
                           policy="arbitrage" if (cap_w is None or fac_peak <= cap_w) else "peak_shaving")
        usable_j = spec.energy_mwh * 3.6e9 * (spec.max_soc_frac - spec.min_soc_frac)
        b: dict[str, Any] = {"energy_mwh": spec.energy_mwh, "power_mw": spec.power_mw, "policy": spec.policy,
                             "round_trip_efficiency_frac": spec.round_trip_efficiency_frac,
                             "ride_through_full_load_s": usable_j / fac_peak * math.sqrt(spec.round_trip_efficiency_frac) if fac_peak > 0 else None,
                             "covers_training_swing": spec.power_mw * MEGA >= out["training_power_swing_w"]}
        if cap_w is not None and fac_peak > cap_w:
            excess = fac_peak - cap_w
            b["covers_excess_power"] = spec.power_mw * MEGA >= excess
            b["covers_excess_for_s"] = usable_j * math.sqrt(spec.round_trip_efficiency_frac) / excess
            b["note"] = "a battery shifts energy; it cannot carry a load that is above the cap around the clock"
        else:
            load = np.full(8760, fac_mean)
            t = np.arange(8760) * S_PER_HOUR
            pr = np.asarray(price.at(t)) if hasattr(price, "at") else np.full(8760, float(price))
            res = dispatch(load, S_PER_HOUR, spec, cap_w=np.inf if cap_w is None else cap_w, price=pr)
            base = timeseries.energy_cost_usd(load, S_PER_HOUR, pr)
            with_b = timeseries.energy_cost_usd(res.grid_import_w, S_PER_HOUR, pr)
            b["arbitrage_saving_usd_per_day"] = (base - with_b) / 365.0
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
                "source": "Llama 3.1 405B per-step vs whole-run MFU (calibration training_steps/training_runs)"})
    out["assumptions"] = ass
    out["fleet"] = [{k: v for k, v in x.items() if not k.startswith("_")} for x in entries]
    return out
