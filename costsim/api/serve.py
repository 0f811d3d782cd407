"""`serve(request) -> dict`: one serving replica's throughput, latency, energy and cost."""

from __future__ import annotations

from typing import Any

from costsim.estimators.inference import estimate_serve
from costsim.specs.requests import ServeRequest


def serve(request: ServeRequest, *, with_curve: bool = True) -> dict[str, Any]:
    """Estimate serving `request.model` on `request.hardware` (see costsim.estimators.inference)."""
    return estimate_serve(request, with_curve=with_curve)
