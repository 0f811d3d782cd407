"""The grid's import limit over time: a permanent cap and curtailment windows as a step function (both simulations)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from costsim.units import MEGA, S_PER_HOUR


@dataclass(frozen=True)
class ImportLimit:
    """Import limit in force from start_s until the next change, W (inf: no curtailment)."""

    start_s: float
    limit_w: float


def limit_steps(windows, base_limit_w: float | None, duration_s: float) -> list[ImportLimit]:
    """Piecewise-constant import limit over [0, duration_s] from curtailment windows (start_h, duration_h,
    max_import_mw; overlapping windows: the lowest limit) on top of the permanent cap."""
    base = math.inf if base_limit_w is None else float(base_limit_w)
    edges = {0.0}
    spans = []
    for w in windows:
        a, b = w.start_h * S_PER_HOUR, (w.start_h + w.duration_h) * S_PER_HOUR
        if a >= duration_s or b <= 0:
            continue
        spans.append((max(a, 0.0), min(b, duration_s), w.max_import_mw * MEGA))
        edges.update((max(a, 0.0), min(b, duration_s)))
    out: list[ImportLimit] = []
    for t in sorted(e for e in edges if e < duration_s):
        lim = min([base] + [c for a, b, c in spans if a <= t < b])
        if not out or out[-1].limit_w != lim:
            out.append(ImportLimit(t, lim))
    return out
