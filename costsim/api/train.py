"""`train(request) -> dict`: core-only training estimate (layout search, step time, whole run)."""

from __future__ import annotations

from typing import Any

from costsim.api.trust import band_dict
from costsim.estimators.training import estimate, step_profile
from costsim.specs.requests import TrainRequest

__all__ = ["train", "step_profile"]


def train(request: TrainRequest) -> dict[str, Any]:
    """Search the fastest parallel layout and estimate the whole run (see costsim.estimators.training)."""
    result = estimate(request)
    if isinstance(result, dict):
        result["error_band"] = band_dict("training", request.hardware, request.gpus, request.model)
        result["power_error_band"] = band_dict("power", request.hardware, request.gpus, request.model)
    return result
