"""What every simulation returns: a summary (flat JSON-able dict, units in key names) and a time
series (column name -> numpy array, one row per coarse bucket, `t_s` first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class SimOutput:
    summary: dict[str, Any]
    timeseries: dict[str, np.ndarray]
    tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # e.g. per-request latencies
