"""Facility power: IT power (accelerators + host per node + cluster fabric) times PUE.

PUE models (FacilitySpec.pue_model):
  * 'constant': facility = IT * pue.
  * 'load_temperature': facility = IT * (1 + proportional(T)) + fixed_overhead_frac * design_IT, with
        proportional(T) = (pue - 1 - fixed_overhead_frac) + cooling_temp_coef_per_c * (max(T, free_cooling_below_c) - reference_temp_c)
    so PUE = `pue` at full design load and the reference temperature, rises at partial load
    (fixed losses spread over less IT power) and on hot days (chiller lift), and stops falling
    once the economizer has reached its floor. Both effects are standard in data-centre energy
    models (e.g. The Green Grid PUE guidance; Uptime surveys show PUE rising at low utilization).
Water: litres = WUE (L/kWh of IT energy) x IT kWh.
"""

from __future__ import annotations

import numpy as np

from costsim.core.power import (
    HOST_IDLE_FRAC,
    default_host_power_per_device_w,
    host_power_per_device_w,
    phase_mix_power_w,
    phase_power_w,
    pue_load_temperature,
)
from costsim.specs.hardware import Accelerator, Node
from costsim.specs.site import FacilitySpec
from costsim.units import J_PER_KWH

# Training phase mix used for *mean* power when no simulation provides one: share of wall time
# in compute, exposed communication / pipeline bubbles, and checkpoint / restart stalls. From
# Llama 3.1 405B: per-step MFU 38-43 % vs ~34.5 % over the whole run (training_steps.csv /
# training_runs.csv) -> ~85-90 % of time computing; the rest split between comm and stalls.
TRAINING_PHASE_MIX = {"compute": 0.85, "communication": 0.10, "checkpoint": 0.05}
INFERENCE_PHASE_MIX = {"compute": 0.15, "memory": 0.75, "idle": 0.10}
WORKLOAD_PEAK_PHASE = {"training": "compute", "inference": "compute", "idle": "idle"}


def host_power_per_gpu_w(acc: Accelerator, node: Node | None, *, busy: bool = True) -> float:
    """Host power (CPUs, DRAM, NICs, NVSwitch, fans, PSU losses) per accelerator, W."""
    if node is not None:
        per = node.host_power_w if busy else node.host_idle_w
        return float(host_power_per_device_w(per, node.devices_per_node))
    return float(default_host_power_per_device_w(acc.tdp_w, busy))


def host_source(acc: Accelerator, node: Node | None) -> str:
    if node is not None:
        return f"node profile {node.id}: host_power_w {node.host_power_w:g} W / {node.devices_per_node} devices"
    return f"no node profile for {acc.id}: 40% of TDP per device (estimate)"


def gpu_power_w(acc: Accelerator, workload: str = "training", *, statistic: str = "peak", power_cap_w=None) -> float:
    """Accelerator power for a workload: 'peak' = the phase the workload peaks in, 'mean' = the
    phase mix. workload in training | inference | idle."""
    if workload == "idle":
        return float(phase_power_w(acc.idle_w, acc.tdp_w, "idle"))
    if statistic == "peak":
        return float(phase_power_w(acc.idle_w, acc.tdp_w, WORKLOAD_PEAK_PHASE[workload], power_cap_w))
    mix = TRAINING_PHASE_MIX if workload == "training" else INFERENCE_PHASE_MIX
    return float(phase_mix_power_w(acc.idle_w, acc.tdp_w, mix, power_cap_w))


FABRIC_CATEGORIES = ("datacenter_gpu", "ai_accelerator")


def fabric_w_per_gpu(acc: Accelerator, facility: FacilitySpec) -> float:
    """Cluster fabric + storage power per accelerator, W: only for data-centre devices (a laptop
    or phone has no scale-out fabric)."""
    return facility.fabric_storage_w_per_gpu if acc.category in FABRIC_CATEGORIES else 0.0


def it_power_per_gpu_w(acc: Accelerator, node: Node | None, facility: FacilitySpec, gpu_w, *, busy: bool = True):
    """IT power per accelerator slot: device + host share + cluster fabric/storage, W (vectorized in gpu_w)."""
    return np.asarray(gpu_w, float) + host_power_per_gpu_w(acc, node, busy=busy) + fabric_w_per_gpu(acc, facility)


def pue_at(facility: FacilitySpec, it_load_frac=1.0, outdoor_temp_c=None):
    """PUE for an IT load fraction of design (0..1] and an outdoor temperature (deg C). Vectorized."""
    load = np.asarray(it_load_frac, float)
    if facility.pue_model == "constant":
        return np.full(np.broadcast(load, np.asarray(0.0 if outdoor_temp_c is None else outdoor_temp_c)).shape, facility.pue)
    t = facility.reference_temp_c if outdoor_temp_c is None else outdoor_temp_c
    return pue_load_temperature(facility.pue, load, t, fixed_overhead_frac=facility.fixed_overhead_frac,
                                reference_temp_c=facility.reference_temp_c, cooling_temp_coef_per_c=facility.cooling_temp_coef_per_c,
                                free_cooling_below_c=facility.free_cooling_below_c)


def facility_power_w(it_power_w, facility: FacilitySpec, *, design_it_power_w=None, outdoor_temp_c=None):
    """Facility power at the meter, W, for an IT power series (vectorized)."""
    it = np.asarray(it_power_w, float)
    if facility.pue_model == "constant":
        return it * facility.pue
    design = facility.design_it_power_w or design_it_power_w or (float(it.max()) if it.size else 0.0)
    if design <= 0:
        return it * 0.0
    load = np.maximum(it / design, 1e-6)
    return it * pue_at(facility, load, outdoor_temp_c)


def water_l(it_energy_j, facility: FacilitySpec):
    """On-site water use, litres (0 when no WUE is given)."""
    if facility.wue_l_per_kwh is None:
        return np.asarray(it_energy_j, float) * 0.0
    return np.asarray(it_energy_j, float) / J_PER_KWH * facility.wue_l_per_kwh


def assumptions(acc: Accelerator, node: Node | None, facility: FacilitySpec, workload: str = "training") -> list[dict]:
    """The defaults behind a facility power figure, as {name, value, unit, source}."""
    pk = gpu_power_w(acc, workload, statistic="peak")
    mean = gpu_power_w(acc, workload, statistic="mean")
    return [
        {"name": f"{acc.id}_gpu_{workload}_power_frac_of_tdp", "value": pk / acc.tdp_w, "unit": "",
         "label": f"{acc.id} peak {workload} power, share of TDP",
         "source": "costsim.core.power compute phase (fitted on ML.ENERGY Llama-3.1-70B power vs batch)" if workload != "idle" else "idle_w"},
        {"name": f"{acc.id}_gpu_{workload}_mean_power_w", "value": mean, "unit": "W", "label": f"{acc.id} mean {workload} power",
         "source": f"phase mix {TRAINING_PHASE_MIX if workload == 'training' else INFERENCE_PHASE_MIX}"},
        {"name": f"{acc.id}_host_power_per_gpu_w", "value": host_power_per_gpu_w(acc, node), "unit": "W",
         "label": f"{acc.id} host power per device", "source": host_source(acc, node)},
        {"name": "fabric_storage_w_per_gpu", "value": facility.fabric_storage_w_per_gpu, "unit": "W",
         "label": "network fabric and storage per device",
         "source": "estimate: 3-tier 400G fat tree (5/64 switches per GPU x ~1.2 kW with optics) + storage"},
        {"name": "pue", "value": facility.pue, "unit": "", "label": "PUE (facility / IT power)",
         "source": f"{facility.pue_model} model; default 1.2 sits between Google fleet 2023 (1.10) and Uptime industry average (1.58)"},
        {"name": "host_idle_frac", "value": HOST_IDLE_FRAC, "unit": "", "label": "host idle power, share of busy",
         "source": "host idle / busy when a node profile gives no idle figure (estimate)"},
    ]
