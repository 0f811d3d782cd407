"""Trust ranges on results: the held-out validation error of the result's regime (costsim.core.trust),
read from the records `costsim validate --write-bands` ships in costsim/data/validation_errors.json."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from costsim.core.trust import ErrorBand, ErrorRecord, error_band, records_from_rows
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.hardware import Accelerator
from costsim.specs.model import ModelSpec

RECORDS_PATH = Path(__file__).resolve().parents[1] / "data" / "validation_errors.json"


@functools.lru_cache(maxsize=1)
def load_records() -> tuple[ErrorRecord, ...]:
    try:
        doc = json.loads(RECORDS_PATH.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return ()
    return tuple(records_from_rows(doc.get("records", [])))


def vendor_of(hardware: str | Accelerator | None) -> str:
    if isinstance(hardware, Accelerator):
        return hardware.vendor
    if isinstance(hardware, str):
        try:
            return get_accelerator(hardware).vendor
        except Exception:  # noqa: BLE001 - an unknown device reads as 'unknown' (the caller validated it already)
            return "unknown"
    return "unknown"


def is_sparse(model: str | ModelSpec | None) -> bool | None:
    """True for a mixture-of-experts model, False for a dense one, None when unknown (no split by architecture)."""
    if isinstance(model, ModelSpec):
        return model.is_moe
    if isinstance(model, str):
        try:
            return get_model(model).is_moe
        except Exception:  # noqa: BLE001 - the caller validated the model; a YAML path or unknown id reads as unknown
            return None
    return None


def node_devices_of(hardware: str | Accelerator | dict | None) -> float:
    """Devices in the default node of `hardware` (a catalog id, profile or inline dict); 8 when it has none."""
    from costsim.core.trust import NODE_DEVICES_DEFAULT
    from costsim.specs.catalog import node_for

    try:
        acc = hardware if isinstance(hardware, Accelerator) else get_accelerator(str(hardware)) if isinstance(hardware, str) else None
        node = node_for(acc) if acc is not None else None
    except Exception:  # noqa: BLE001 - a label for the trust range only; the request reports a bad reference itself
        return NODE_DEVICES_DEFAULT
    return float(node.devices_per_node) if node is not None else NODE_DEVICES_DEFAULT


def band_for(family: str, hardware: str | Accelerator | None, devices: float, model: str | ModelSpec | None = None, *,
             sparse: bool | None = None, engine: str | None = None, mode: str | None = None) -> ErrorBand | None:
    """The trust range for a result of `family` on `hardware` at `devices`; with `model` (or `sparse`), dense and
    MoE models read on their own cases first (their errors differ); with a named serving `engine`, that engine's
    cases before those when there are enough. The `default` engine is the calibration baseline, not one measured
    stack: it reads on every engine's cases of its regime. A training `mode` (costsim.core.trust.MODE_LORA) reads on
    the LoRA fine-tuning cases first."""
    return error_band(load_records(), family, vendor_of(hardware), float(devices),
                      sparse=is_sparse(model) if sparse is None else sparse,
                      engine=engine if engine and engine != "default" else None, node_devices=node_devices_of(hardware),
                      mode=mode)


def band_sentence(band: dict[str, Any] | None, name: str | None = None) -> str | None:
    """The sentence a reader sees for a JSON trust range (`error_band`, `power_error_band`, a plan's `error_bands`),
    or None when there is none. `name` says whose range it is (a plan's core)."""
    if not isinstance(band, dict) or not band.get("label"):
        return None
    who = f" ({name} core)" if name else ""
    return f"Trust range{who}: published values lay {band['label']}; applies to {band.get('applies_to', 'the headline figures')}."


def band_dict(family: str, hardware: str | Accelerator | None, devices: float, model: str | ModelSpec | None = None,
              engine: str | None = None, mode: str | None = None) -> dict[str, Any] | None:
    """`error_band` of a JSON result: low_frac, high_frac, cases, regime (+ applies_to, label); None without cases."""
    b = band_for(family, hardware, devices, model, engine=engine, mode=mode)
    return b.as_dict() if b is not None else None
