"""Hourly price and carbon signals.

A `Signal` is piecewise constant by hour. Two table shapes are supported:
  * typical day per month: 12 x 24 values (month 1..12, hour 0..23), the shipped region files;
  * a real year: 8760 (or 8784) hourly values from 1 January 00:00.
`at(t_s)` maps seconds since the start of a simulation (which begins at `start_month`/`start_hour`
on the 1st of that month, the profile's local time; a leap-year calendar for an 8,784-hour series) to the value.
Vectorized.

Region CSV format (costsim/data/regions/README.md): header `month,hour,usd_per_kwh,gco2e_per_kwh`
(288 rows) or `hour_of_year,usd_per_kwh,gco2e_per_kwh` (8760/8784 rows); `#` lines are comments.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from costsim.errors import InputError
from costsim.specs.base import check_ref_text, path_is_file
from costsim.units import S_PER_HOUR

REGIONS_DIR = Path(__file__).resolve().parents[1] / "data" / "regions"
DAYS_PER_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_MONTH_START_DAY = np.concatenate([[0], np.cumsum(DAYS_PER_MONTH)[:-1]])
HOURS_PER_YEAR = 8760
#: a leap year's hours (an hourly-year file of 8,784 rows: 29 February included)
HOURS_PER_LEAP_YEAR = 8784
_LEAP_MONTH_START_DAY = _MONTH_START_DAY + (np.arange(12) >= 2)


@dataclass(frozen=True)
class Signal:
    """Hourly signal. `values` is (12, 24) (typical day per month) or (n_hours,) (a real year)."""

    values: np.ndarray
    unit: str
    start_month: int = 1
    start_hour: int = 0

    def __post_init__(self) -> None:
        v = np.asarray(self.values, dtype=float)
        if not (v.shape == (12, 24) or (v.ndim == 1 and v.size >= 24)):
            raise ValueError(f"signal values must be 12x24 or a 1-D hourly series, got shape {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError("signal values must be finite")
        object.__setattr__(self, "values", v)

    @classmethod
    def constant(cls, value: float, unit: str) -> "Signal":
        return cls(np.full((12, 24), float(value)), unit)

    @property
    def is_typical_day(self) -> bool:
        return self.values.shape == (12, 24)

    @property
    def is_leap_year(self) -> bool:
        """An hourly year of 8,784 values (29 February included): its months start a day later from March and it
        wraps after 8,784 hours."""
        return not self.is_typical_day and self.values.size == HOURS_PER_LEAP_YEAR

    @property
    def hours_per_year(self) -> int:
        return HOURS_PER_LEAP_YEAR if self.is_leap_year else HOURS_PER_YEAR

    def hour_index(self, t_s) -> np.ndarray:
        """Hour of year (0..8759, or 0..8783 for a leap year's series; wrapping) for seconds since the simulation start."""
        starts = _LEAP_MONTH_START_DAY if self.is_leap_year else _MONTH_START_DAY
        h0 = starts[self.start_month - 1] * 24 + self.start_hour
        h = np.floor(np.asarray(t_s, dtype=float) / S_PER_HOUR).astype(np.int64) + h0
        return np.mod(h, self.hours_per_year)

    def at(self, t_s) -> np.ndarray:
        """Value at time(s) t_s (seconds since the simulation start). Vectorized."""
        hoy = self.hour_index(t_s)
        if self.is_typical_day:
            day = hoy // 24
            month = np.searchsorted(_MONTH_START_DAY, day, side="right") - 1
            return self.values[month, hoy % 24]
        return self.values[np.mod(hoy, self.values.size)]

    def annual_hourly(self) -> np.ndarray:
        """The year's hourly values from 1 January 00:00: 8,760 (typical days expanded by month length), or the
        series' own 8,784 for a leap year."""
        if self.is_typical_day:
            return np.concatenate([np.tile(self.values[m], DAYS_PER_MONTH[m]) for m in range(12)])
        return np.resize(self.values, self.hours_per_year)

    def mean(self) -> float:
        """Annual mean, each hour weighted equally."""
        return float(self.annual_hourly().mean())

    def weighted_mean(self, power_w, dt_s, t0_s: float = 0.0) -> float:
        """Energy-weighted mean over a power series sampled every dt_s from t0_s."""
        p = np.asarray(power_w, dtype=float)
        t = t0_s + dt_s * np.arange(p.size)
        e = p * dt_s
        tot = e.sum()
        return float((e * self.at(t)).sum() / tot) if tot > 0 else float(self.at(t).mean())

    def hourly_profile(self) -> np.ndarray:
        """Mean by hour of day (24,), over the year."""
        return self.annual_hourly().reshape(-1, 24).mean(axis=0)

    def summary(self) -> dict[str, float]:
        a = self.annual_hourly()
        prof = self.hourly_profile()
        return {"mean": float(a.mean()), "min": float(a.min()), "max": float(a.max()),
                "p10": float(np.percentile(a, 10)), "p90": float(np.percentile(a, 90)),
                "lowest_hour_of_day": int(np.argmin(prof)), "highest_hour_of_day": int(np.argmax(prof))}


@dataclass(frozen=True)
class RegionProfile:
    id: str
    price: Signal  # USD per kWh
    carbon: Signal  # gCO2e per kWh
    path: str
    meta: dict[str, str] = field(default_factory=dict)

    def with_start(self, month: int, hour: int) -> "RegionProfile":
        return RegionProfile(self.id, Signal(self.price.values, self.price.unit, month, hour),
                             Signal(self.carbon.values, self.carbon.unit, month, hour), self.path, self.meta)

    def summary(self) -> dict:
        return {"region": self.id, "kind": "typical day per month (12x24)" if self.price.is_typical_day else "hourly year",
                "usd_per_kwh": self.price.summary(), "gco2e_per_kwh": self.carbon.summary(),
                "source": self.meta.get("source"), "date": self.meta.get("date"), "note": self.meta.get("note")}


def available_regions() -> list[str]:
    """Every shipped price+carbon region: the stylized typical-day files (costsim/data/regions) and
    the balancing authorities with a real hourly year (costsim/data/grid; see region_kind)."""
    from costsim.power.balancing import real_region_ids

    return sorted({p.stem for p in REGIONS_DIR.glob("*.csv")} | set(real_region_ids()))


def _bad(path: str, msg: str) -> InputError:
    return InputError(f"region file '{path}': {msg}. Expected columns month,hour,usd_per_kwh,gco2e_per_kwh "
                      "(288 rows: months 1-12 x hours 0-23) or hour_of_year,usd_per_kwh,gco2e_per_kwh "
                      "(8760 rows); see costsim/data/regions/README.md.", field="region", source=path)


def parse_region_csv(text: str, *, path: str = "<text>", region_id: str | None = None) -> RegionProfile:
    meta: dict[str, str] = {}
    lines = []
    for ln in text.splitlines():
        s = ln.strip()
        if s.startswith("#"):
            body = s.lstrip("#").strip()
            if ":" in body:
                k, v = body.split(":", 1)
                meta.setdefault(k.strip().lower(), v.strip())
            continue
        if s:
            lines.append(s)
    if not lines:
        raise _bad(path, "no data rows")
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    cols = set(rows[0].keys()) if rows else set()
    need = {"usd_per_kwh", "gco2e_per_kwh"}
    if not need <= cols:
        raise _bad(path, f"missing column(s) {', '.join(sorted(need - cols))}")
    try:
        price = np.array([float(r["usd_per_kwh"]) for r in rows])
        carbon = np.array([float(r["gco2e_per_kwh"]) for r in rows])
    except (TypeError, ValueError):
        raise _bad(path, "a usd_per_kwh or gco2e_per_kwh cell is not a number") from None
    if not (np.all(np.isfinite(price)) and np.all(np.isfinite(carbon))) or carbon.min() < 0:
        raise _bad(path, "prices and intensities must be finite, intensities non-negative (negative wholesale prices are allowed)")
    if {"month", "hour"} <= cols:
        try:
            mh = np.array([(int(r["month"]), int(r["hour"])) for r in rows])
        except (TypeError, ValueError):
            raise _bad(path, "month/hour must be integers") from None
        if len(rows) != 288 or mh[:, 0].min() < 1 or mh[:, 0].max() > 12 or mh[:, 1].min() < 0 or mh[:, 1].max() > 23:
            raise _bad(path, f"a typical-day file needs 288 rows with month 1-12 and hour 0-23, got {len(rows)} rows")
        idx = (mh[:, 0] - 1) * 24 + mh[:, 1]
        if np.unique(idx).size != 288:
            raise _bad(path, "duplicate (month, hour) rows")
        p = np.empty(288)
        c = np.empty(288)
        p[idx] = price
        c[idx] = carbon
        price_v, carbon_v = p.reshape(12, 24), c.reshape(12, 24)
    elif "hour_of_year" in cols:
        if len(rows) not in (8760, 8784):
            raise _bad(path, f"an hourly-year file needs 8760 or 8784 rows, got {len(rows)}")
        try:
            hours = np.array([int(str(r["hour_of_year"]).strip()) for r in rows])
        except (TypeError, ValueError):
            raise _bad(path, "hour_of_year must be whole numbers 0, 1, 2, ... (one row per hour)") from None
        # every hour of the year once: a repeated, missing or out-of-range hour would shift the rest of the year
        if not np.array_equal(np.sort(hours), np.arange(len(rows))):
            seen, first_bad = set(), None
            for h in hours:
                if h in seen or not 0 <= h < len(rows):
                    first_bad = int(h)
                    break
                seen.add(int(h))
            what = (f"hour {first_bad} is repeated or outside 0-{len(rows) - 1}" if first_bad is not None
                    else f"the hours are not 0-{len(rows) - 1}")
            raise _bad(path, f"hour_of_year must hold each hour 0-{len(rows) - 1} once; {what}")
        order = np.argsort(hours)
        price_v, carbon_v = price[order], carbon[order]
    else:
        raise _bad(path, "needs either month,hour or hour_of_year columns")
    rid = region_id or Path(path).stem
    return RegionProfile(rid, Signal(price_v, "USD/kWh"), Signal(carbon_v, "gCO2e/kWh"), path, meta)


def load_region(ref: str, *, start_month: int = 1, start_hour: int = 0) -> RegionProfile:
    """A shipped region id (see `available_regions()`) or a path to a CSV in the same format."""
    if not isinstance(ref, str) or not ref.strip():
        raise InputError("empty region; give a region id such as us-pjm-virginia or a CSV path.", field="region")
    ref = check_ref_text(ref.strip(), what="region")
    from costsim.power.balancing import real_region_ids, real_region_profile

    if ref in real_region_ids():  # a balancing authority or market region with a real hourly year (UTC clock)
        return real_region_profile(ref, start_month=start_month, start_hour=start_hour)
    p = REGIONS_DIR / f"{ref}.csv"
    if not path_is_file(p):
        p = Path(ref)
        if not path_is_file(p):
            known = available_regions()
            import difflib

            close = difflib.get_close_matches(ref, known, n=3, cutoff=0.3)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise InputError(f"unknown region '{ref}'.{hint} Known regions: {', '.join(known)}; or give a path to a CSV "
                             "with columns month,hour,usd_per_kwh,gco2e_per_kwh.", field="region")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read region file '{p}': {exc.strerror}.", field="region") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"region file '{p}' is not a UTF-8 text file (undecodable byte at offset {exc.start}); give a CSV "
                         "saved as UTF-8 with columns month,hour,usd_per_kwh,gco2e_per_kwh.", field="region") from None
    prof = parse_region_csv(text, path=str(p), region_id=p.stem)
    return prof.with_start(start_month, start_hour)


def region_mean_economics(economics, region: str | None):
    """`economics` (an EconomicsSpec) with its flat electricity price and carbon intensity replaced by the annual means
    of `region` (each hour of the year weighted equally): how the closed-form cores, which have no time axis, price a
    region (`costsim plan --region`, core-mode sweeps of a scenario with grid.region). Unchanged without a region."""
    if not region:
        return economics
    prof = load_region(region)
    return economics.model_copy(update={"electricity_usd_per_kwh": prof.price.mean(), "grid_gco2e_per_kwh": prof.carbon.mean()})
