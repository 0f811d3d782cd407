"""Trust ranges: how far published values fell from costsim's prediction in held-out validation cases
of the same regime (family x vendor x scale).

Pure functions. The records come from `costsim validate --write-bands` (one row per validation case,
costsim/data/validation_errors.json); each row holds the published value over the prediction, oriented
so that every family reads the same way:

- training and serving: speed (throughput, MFU; a predicted time counts inversely), so a band of
  [-0.12, +0.05] means "the published throughput was 12 % below to 5 % above ours" (times: the inverse);
- power: the power or energy figure itself.

Only cases not used to fit a parameter count. A regime with fewer than `min_cases` held-out cases
widens to the family and vendor, then to the family, and says so in `regime`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

FAMILIES = ("training", "serving", "power")

# validation case kind -> family (kernel-level cases, e.g. matmul_throughput, describe no user-facing result)
KIND_FAMILY = {
    "training_step_time": "training", "training_run": "training",
    "inference": "serving", "serving_sim": "serving",
    "measured_device_power": "power", "serve_gpu_power_per_gpu": "power", "serve_gpu_energy_per_token": "power",
    "node_training_power": "power", "node_expected_peak_power": "power", "site_training_power": "power",
}



def family_of(kind: str, metric: str) -> str | None:
    """Family of a validation case: energy, power and CO2e figures read as 'power' whatever the runner; memory figures
    (a training step's peak allocated bytes) belong to no speed or power family and band nothing (None)."""
    if "memory" in metric:
        return None
    fam = KIND_FAMILY.get(kind)
    if fam is not None and any(w in metric for w in ("energy", "power", "co2", "tco2e")):
        return "power"
    return fam


SCALES = ((1, "1 device"), (8, "1 node (2-8 devices)"), (1024, "cluster (9-1,024)"), (math.inf, "large cluster (>1,024)"))
#: devices per node the scale buckets assume unless the part's node holds more (an inf2.48xlarge 12, a trn1 / trn2
#: instance 16, a GB200 / GB300 NVL72 rack 72): those parts' whole node is their "1 node" bucket
NODE_DEVICES_DEFAULT = 8.0


def scale_of(devices: float, node_devices: float = NODE_DEVICES_DEFAULT) -> str:
    """Scale bucket of a device count: one device, one node (up to 8 devices, or the part's whole node where it holds
    more), a cluster up to 1,024 devices, a large cluster beyond."""
    node = int(max(NODE_DEVICES_DEFAULT, node_devices))
    if devices <= 1:
        return SCALES[0][1]
    if devices <= node:
        return SCALES[1][1] if node == NODE_DEVICES_DEFAULT else f"1 node (2-{node} devices)"
    if devices <= SCALES[2][0]:
        return SCALES[2][1] if node == NODE_DEVICES_DEFAULT else f"cluster ({node + 1}-1,024)"
    return SCALES[3][1]


def is_time_like(metric: str) -> bool:
    """Whether `metric` (a result key or a field path's last part) is a duration: seconds (not a rate per second) or
    GPU-hours. A speed band (training, serving) reads inversely on it."""
    return (metric.endswith("_s") and not metric.endswith("per_s")) or metric.endswith("gpu_hours")


def truth_over_prediction(error_frac: float, metric: str, family: str) -> float:
    """published / predicted - 1, oriented as the family reads (speed for training and serving).

    `error_frac` is validation's (predicted - expected) / expected of `metric`. For a time-like metric
    (seconds, GPU-hours) the speed ratio is the time ratio inverted."""
    if not math.isfinite(error_frac) or error_frac <= -1:
        return math.nan
    if family in ("training", "serving") and is_time_like(metric):
        return error_frac  # published speed / predicted speed = predicted time / published time
    return 1.0 / (1.0 + error_frac) - 1.0


def pct_text(frac: float) -> str:
    """A band edge as a signed whole percent: '+5%', '-12%', and '0%' where it rounds to zero (not '-0%')."""
    return "0%" if round(100 * frac) == 0 else f"{100 * frac:+.0f}%"


@dataclass(frozen=True)
class ErrorRecord:
    """One validation case's error, as stored in costsim/data/validation_errors.json."""

    case_id: str
    family: str
    vendor: str
    devices: float
    truth_over_prediction_frac: float
    """published / predicted - 1 (oriented per family)."""
    used_for_fit: bool
    sparse: bool = False
    """The case's model is a mixture of experts."""
    engine: str | None = None
    """Serving-engine profile of a serving or serving-power case (costsim/data/engines.yaml); None for training."""
    node_devices: float = NODE_DEVICES_DEFAULT
    """Devices per node of the case's part (its scale bucket's '1 node')."""
    mode: str | None = None
    """What a training case trains (MODE_LORA for LoRA fine-tuning); None for full-parameter training and the other
    families."""


#: ErrorRecord.mode of a LoRA fine-tuning case, and the regime words a LoRA result's band names
MODE_LORA = "LoRA fine-tuning"


@dataclass(frozen=True)
class ErrorBand:
    """Where published values fell relative to our prediction, in held-out cases like this one."""

    low_frac: float
    """p10 of published / predicted - 1 (negative: published below ours)."""
    high_frac: float
    """p90 of published / predicted - 1."""
    cases: int
    """Held-out cases the band is drawn from."""
    regime: str
    """The regime the cases share (family, vendor, scale), or the wider one used when too few."""
    applies_to: str
    """Which figures the band reads on."""

    def label(self) -> str:
        """'-12% to +5% of the prediction (p10-p90 of 31 held-out cases: training, NVIDIA, cluster (9-1,024))'."""
        return f"{pct_text(self.low_frac)} to {pct_text(self.high_frac)} of the prediction (p10-p90 of {self.cases} held-out cases: {self.regime})"

    def as_dict(self) -> dict[str, float | int | str]:
        return {"low_frac": self.low_frac, "high_frac": self.high_frac, "cases": self.cases, "regime": self.regime,
                "applies_to": self.applies_to, "label": self.label()}


APPLIES_TO = {
    "training": "training throughput and MFU (step time, days and GPU-hours read inversely)",
    "serving": "serving throughput (latencies read inversely)",
    "power": "power and energy",
}


def error_band(records: Iterable[ErrorRecord], family: str, vendor: str, devices: float, *,
               min_cases: int = 8, sparse: bool | None = None, engine: str | None = None,
               node_devices: float = NODE_DEVICES_DEFAULT, mode: str | None = None) -> ErrorBand | None:
    """p10-p90 of held-out errors in the narrowest regime with at least `min_cases` cases
    (family x vendor x scale, then family x vendor, then family; with `sparse` given, each of the first two
    also split by dense vs mixture-of-experts models first, whose errors differ; with `engine` given, those
    split by the serving engine before that, since engines err differently on the same models; with a training `mode`
    given, MODE_LORA, the LoRA cases of the vendor at that scale and then at any scale come first). When fewer than
    `min_cases` held-out cases share the model architecture, the broader band is widened to cover every one of them
    (small-sample evidence that the architecture errs differently is not averaged away), and the regime says so.
    None when the family has no cases."""
    held = [r for r in records if r.family == family and not r.used_for_fit and math.isfinite(r.truth_over_prediction_frac)]
    scale = scale_of(devices, node_devices)
    vendor_l = vendor.lower()
    same_scale = [r for r in held if r.vendor.lower() == vendor_l and scale_of(r.devices, r.node_devices) == scale]
    same_vendor = [r for r in held if r.vendor.lower() == vendor_l]
    tiers: list[tuple[str, list[ErrorRecord]]] = []
    if mode:
        tiers += [(f"{family}, {vendor}, {scale}, {mode}", [r for r in same_scale if r.mode == mode]),
                  (f"{family}, {vendor}, any scale, {mode}", [r for r in same_vendor if r.mode == mode])]
    if sparse is not None:
        arch = "MoE models" if sparse else "dense models"
        if engine:
            tiers += [(f"{family}, {vendor}, {scale}, {arch}, engine {engine}",
                       [r for r in same_scale if r.sparse == sparse and r.engine == engine]),
                      (f"{family}, {vendor}, any scale, {arch}, engine {engine}",
                       [r for r in same_vendor if r.sparse == sparse and r.engine == engine])]
        tiers += [(f"{family}, {vendor}, {scale}, {arch}", [r for r in same_scale if r.sparse == sparse]),
                  (f"{family}, {vendor}, any scale, {arch}", [r for r in same_vendor if r.sparse == sparse])]
    elif engine:
        tiers += [(f"{family}, {vendor}, {scale}, engine {engine}", [r for r in same_scale if r.engine == engine]),
                  (f"{family}, {vendor}, any scale, engine {engine}", [r for r in same_vendor if r.engine == engine])]
    tiers += [(f"{family}, {vendor}, {scale}", same_scale), (f"{family}, {vendor}, any scale", same_vendor),
              (f"{family}, any vendor and scale", held)]
    # too few held-out cases of this architecture for a band of their own: the broader band must still cover them
    few_arch = [] if sparse is None else [r for r in same_vendor if r.sparse == sparse]
    for regime, rows in tiers:
        if len(rows) >= min_cases or (regime.endswith("any vendor and scale") and rows):
            x = np.array([r.truth_over_prediction_frac for r in rows])
            lo, hi = np.quantile(x, [0.1, 0.9])
            if 0 < len(few_arch) < min_cases and "models" not in regime:
                arch_x = [r.truth_over_prediction_frac for r in few_arch]
                if min(arch_x) < lo or max(arch_x) > hi:
                    lo, hi = min(lo, min(arch_x)), max(hi, max(arch_x))
                    regime += (f"; widened to cover all {len(few_arch)} held-out "
                               f"{'MoE' if sparse else 'dense'}-model case{'s' if len(few_arch) != 1 else ''} of {vendor}")
            return ErrorBand(low_frac=float(min(lo, 0.0)), high_frac=float(max(hi, 0.0)), cases=len(rows), regime=regime,
                             applies_to=APPLIES_TO[family])
    return None


def records_from_rows(rows: Iterable[Mapping]) -> list[ErrorRecord]:
    return [ErrorRecord(case_id=str(r["case_id"]), family=str(r["family"]), vendor=str(r["vendor"]), devices=float(r["devices"]),
                        truth_over_prediction_frac=float(r["truth_over_prediction_frac"]) if r["truth_over_prediction_frac"] is not None else math.nan,
                        used_for_fit=bool(r["used_for_fit"]), sparse=bool(r.get("sparse", False)),
                        engine=str(r["engine"]) if r.get("engine") else None,
                        node_devices=float(r.get("node_devices") or NODE_DEVICES_DEFAULT),
                        mode=str(r["mode"]) if r.get("mode") else None) for r in rows]


def regime_table(records: Sequence[ErrorRecord]) -> list[dict[str, float | int | str]]:
    """Held-out error by regime (family x vendor x scale x dense/MoE models): cases, median |error|, p10 and p90."""
    groups: dict[tuple[str, str, str, str], list[float]] = {}
    for r in records:
        if r.used_for_fit or not math.isfinite(r.truth_over_prediction_frac):
            continue
        groups.setdefault((r.family, r.vendor, scale_of(r.devices, r.node_devices), "MoE" if r.sparse else "dense"),
                          []).append(r.truth_over_prediction_frac)
    out = []
    for (fam, ven, sc, arch), xs in sorted(groups.items()):
        x = np.array(xs)
        out.append({"family": fam, "vendor": ven, "scale": sc, "models": arch, "cases": len(xs),
                    "median_abs_frac": float(np.median(np.abs(x))), "p10_frac": float(np.quantile(x, 0.1)),
                    "p90_frac": float(np.quantile(x, 0.9)), "worst_abs_frac": float(np.max(np.abs(x)))})
    return out
