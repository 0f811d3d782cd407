"""Balancing-authority section of the grid spec (`grid.balancing_authority`): place a site in a
shipped balancing authority and let it see that year's curtailment events.

The site's load is added to the BA's real hourly load of `year`; wherever the sum would exceed
the BA's planning peak (seasonal thresholds, Norris et al. 2025) the site's import is limited to
what is left under the threshold. New load connected ahead of the site (`queue_curtailment_pct`
or `queue_mw`) is added to the BA's load first.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, field_validator, model_validator

from costsim.specs.base import Spec

BA_CATALOG_FILE = Path(__file__).resolve().parents[1] / "data" / "grid" / "regions.yaml"


@lru_cache(maxsize=1)
def known_ba_regions() -> tuple[str, ...]:
    """Balancing-authority ids with shipped hourly load (costsim/data/grid/regions.yaml)."""
    with open(BA_CATALOG_FILE, encoding="utf-8") as fh:
        return tuple(yaml.safe_load(fh)["regions"])


class BalancingAuthoritySpec(Spec):
    region: str = Field(..., min_length=1, max_length=64, description="Balancing-authority id with shipped hourly load (us-pjm, us-ercot, us-miso, us-caiso, ...; `costsim grid regions`).")
    year: int = Field(2023, ge=2016, le=2024, description="Calendar year (UTC) of the BA's hourly load that the site sees (shipped: 2016-2024).")
    planning_peak: Literal["seasonal", "annual"] = Field("seasonal", description="Threshold the total load must stay under: 'seasonal' = highest summer / winter load of all shipped years (Norris et al. 2025); 'annual' = the all-time peak.")
    queue_curtailment_pct: float | None = Field(None, gt=0, lt=50, description="New flexible load connected ahead of the site, as the BA's headroom at this curtailment level, % (e.g. 0.5 = the study's 0.5 % case is already taken). None = none ahead.")
    queue_mw: float = Field(0.0, ge=0, le=1e6, description="New load connected ahead of the site, MW (added to queue_curtailment_pct's load).")
    site_load_mw: float | None = Field(None, gt=0, le=1e6, description="The site's load added to the BA, MW (None = the simulated job's facility peak).")
    curtailment_pct: list[float] = Field(default_factory=lambda: [0.25, 0.5, 1.0], min_length=1, max_length=20, description="Curtailment limits for the BA headroom table in the report, % of the new load's annual energy.")
    cap_step_frac: float = Field(0.05, gt=0, le=0.5, description="Curtailment caps are rounded down to multiples of this share of the site load (fewer distinct power levels to simulate; conservative).")

    @field_validator("curtailment_pct")
    @classmethod
    def _pct(cls, v: list[float]) -> list[float]:
        for x in v:
            if not (0 < x < 50):
                raise ValueError(f"curtailment_pct values must be in (0, 50) %, got {x}")
        return v

    @model_validator(mode="after")
    def _known(self) -> "BalancingAuthoritySpec":
        known = known_ba_regions()
        if self.region not in known:
            raise ValueError(f"unknown balancing authority '{self.region[:64]}'; known: {', '.join(known)}")
        return self
