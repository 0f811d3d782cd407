"""Real hourly data of US balancing authorities shipped with costsim (costsim/data/grid/).

* hourly demand 2016-2024 for 22 balancing authorities, the set of the Duke study (cleaned EIA-930, Ruggles & Farnham,
  CC BY 4.0), UTC;
* hourly net generation by fuel in 2022 for 8 of them (EIA-930 via HewlettPackard/dc-rl, MIT;
  EIA data are US-government public domain) and the carbon intensity it implies (direct CO2 per
  fuel, factors in regions.yaml);
* real hourly wholesale prices (hourly_prices.parquet, 2022-2023, UTC): ERCOT day-ahead hub average
  and CAISO day-ahead NP15 (ISO public market data via HewlettPackard/green-dcc, MIT), Danish DK1/DK2
  day-ahead (Energinet, CC BY 4.0; EUR converted at the ECB annual mean), and the Danish hourly carbon
  intensity (Energinet environmental declaration, CC BY 4.0) for the non-US regions dk-dk1/dk-dk2;
* a user CSV of hourly load (`load_load_csv`): bad rows are repaired with a recorded note (short
  gaps, daylight-saving jumps and repeats) or refused with the file, row and problem (InputError).

Sources, licences and how to rebuild: costsim/data/grid/README.md. Every series is on UTC and
hour-starting (value h = the mean over [h, h+1); the hour-ending EIA-930 stamps are converted at build);
hour 0 of a year is 1 January 00:00 UTC.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from costsim.errors import InputError
from costsim.power.signals import RegionProfile, Signal, load_region

GRID_DIR = Path(__file__).resolve().parents[1] / "data" / "grid"
DEMAND_FILE = GRID_DIR / "ba_demand.parquet"
GENERATION_FILE = GRID_DIR / "ba_generation_2022.parquet"
PRICE_FILE = GRID_DIR / "hourly_prices.parquet"
PRICE_T0 = np.datetime64("2022-01-01T00", "h")
PRICE_YEARS = (2022, 2023)
FUELS = ("COL", "NG", "OIL", "NUC", "WAT", "WND", "SUN", "OTH")
DEMAND_T0 = np.datetime64("2016-01-01T00", "h")
GENERATION_YEAR = 2022
MAX_CSV_BYTES = 50_000_000
MAX_REPAIR_GAP_H = 3


@dataclass(frozen=True)
class BARegion:
    """One balancing authority in the shipped catalog."""

    id: str
    """costsim region id (us-pjm, ...)."""
    name: str
    """Full name."""
    eia_code: str
    """EIA-930 respondent code."""
    utc_offset_h: int
    """Standard-time UTC offset of the BA's main load, h (display only; data are UTC)."""
    study_headroom_w: dict[str, float]
    """Published headroom by curtailment percent ('0.25', '0.5', '1'), W (Norris et al. 2025, Fig. 1)."""
    demand_years: tuple[int, ...]
    """Calendar years (UTC) of shipped hourly demand."""
    generation_year: int | None
    """Year of shipped hourly generation by fuel (None: none shipped)."""
    price_sibling: str | None
    """Stylized region whose typical-day price goes with the real carbon series when no real price is shipped."""
    price_series: str | None
    """Real hourly wholesale price series (hourly_prices.parquet) used instead of the sibling (None: none shipped)."""
    sources: tuple[str, ...]
    """Source files of the demand series."""


@lru_cache(maxsize=1)
def _catalog_doc() -> dict:
    with open(GRID_DIR / "regions.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=1)
def manifest() -> dict:
    """The build manifest: source files (sha256) and annual totals computed from them."""
    return json.loads((GRID_DIR / "manifest.json").read_text(encoding="utf-8"))


def emission_factors_g_per_kwh() -> dict[str, float]:
    return {k: float(v) for k, v in _catalog_doc()["emission_factors_g_per_kwh"].items()}


@lru_cache(maxsize=1)
def ba_catalog() -> dict[str, BARegion]:
    doc, man = _catalog_doc(), manifest()
    years = tuple(int(y) for y in man["years"])
    out = {}
    for rid, r in doc["regions"].items():
        out[rid] = BARegion(id=rid, name=r["name"], eia_code=r["eia_code"], utc_offset_h=int(r["utc_offset_h"]),
                            study_headroom_w={k: float(v) * 1e9 for k, v in r["study_headroom_gw"].items()},
                            demand_years=years, generation_year=GENERATION_YEAR if r.get("generation_file") else None,
                            price_sibling=r.get("price_sibling"), price_series=r.get("price_series"),
                            sources=tuple(man["regions"][rid]["sources"]))
    return out


@dataclass(frozen=True)
class MarketRegion:
    """A price+carbon region outside the US with a real hourly year (no demand series)."""

    id: str
    name: str
    country: str
    utc_offset_h: int
    """Standard-time UTC offset (display only; data are UTC)."""
    year: int
    """Calendar year (UTC) of the shipped price and carbon."""
    price_series: str
    carbon_series: str
    carbon_source: str


@lru_cache(maxsize=1)
def market_catalog() -> dict[str, MarketRegion]:
    """Non-US price+carbon regions (regions.yaml, market_regions)."""
    return {rid: MarketRegion(id=rid, name=r["name"], country=r["country"], utc_offset_h=int(r["utc_offset_h"]), year=int(r["year"]),
                              price_series=r["price_series"], carbon_series=r["carbon_series"], carbon_source=r["carbon_source"])
            for rid, r in (_catalog_doc().get("market_regions") or {}).items()}


def price_series_info(series: str) -> dict:
    """Catalog entry of a shipped real price series: currency, market, source."""
    ps = _catalog_doc().get("price_series") or {}
    if series not in ps:
        raise InputError(f"no real hourly price series '{series}' is shipped; known: {', '.join(ps)}.", field="region")
    return dict(ps[series])


def eur_usd(year: int) -> float:
    """USD per EUR, ECB reference rate annual mean of `year` (regions.yaml, eur_usd_annual_mean)."""
    rates = _catalog_doc()["eur_usd_annual_mean"]
    if int(year) not in rates:
        raise InputError(f"no EUR->USD rate recorded for {year}; recorded years: {', '.join(map(str, rates))}.", field="year")
    return float(rates[int(year)])


@lru_cache(maxsize=1)
def _price_table():
    import pyarrow.parquet as pq

    return pq.read_table(PRICE_FILE)


def _year_slice(year: int) -> slice:
    if int(year) not in PRICE_YEARS:
        raise InputError(f"real hourly prices are shipped for {PRICE_YEARS[0]}-{PRICE_YEARS[-1]}, not {year}.", field="year")
    a = int((np.datetime64(f"{int(year)}-01-01T00", "h") - PRICE_T0).astype(int))
    b = int((np.datetime64(f"{int(year) + 1}-01-01T00", "h") - PRICE_T0).astype(int))
    return slice(a, b)


def load_price_source_units(series: str, year: int) -> np.ndarray:
    """Shipped hourly wholesale price of `year` (UTC hours), in the source currency per MWh, as published
    (negative prices kept)."""
    price_series_info(series)
    return _price_table()[f"price__{series}"].to_numpy()[_year_slice(year)].astype(float)


def load_price_usd_per_kwh(series: str, year: int) -> np.ndarray:
    """Shipped hourly wholesale price of `year` (UTC hours), USD/kWh (EUR at the ECB annual mean of that year)."""
    info = price_series_info(series)
    v = load_price_source_units(series, year) / 1000.0
    cur = info["currency"]
    if cur == "USD":
        return v
    if cur == "EUR":
        return v * eur_usd(year)
    raise ValueError(f"price series {series}: currency {cur} has no conversion")


def load_carbon_series(series: str, year: int) -> np.ndarray:
    """Shipped hourly carbon intensity of `year` (UTC hours), gCO2/kWh (non-US regions)."""
    col = f"carbon__{series}"
    if col not in _price_table().column_names:
        raise InputError(f"no real hourly carbon series '{series}' is shipped.", field="region")
    return _price_table()[col].to_numpy()[_year_slice(year)].astype(float)


def ba_region_ids() -> list[str]:
    return list(ba_catalog())


def get_ba(region: str) -> BARegion:
    if not isinstance(region, str) or not region.strip():
        raise InputError("empty balancing-authority region; give an id such as us-pjm (see `costsim grid regions`).", field="region")
    cat = ba_catalog()
    rid = region.strip()
    if rid not in cat:
        import difflib

        shown = rid if len(rid) <= 60 else rid[:57] + "..."
        close = difflib.get_close_matches(rid[:60], list(cat), n=3, cutoff=0.4)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise InputError(f"unknown balancing-authority region '{shown}'.{hint} Known: {', '.join(cat)}; or give a CSV of hourly load "
                         "(columns time,load_mw) with --load-csv.", field="region")
    return cat[rid]


@dataclass(frozen=True)
class HourlyLoad:
    """An hourly load series on UTC hours."""

    region: str
    """Region id or the CSV path it came from."""
    start: np.datetime64
    """First hour (UTC, numpy datetime64[h])."""
    load_w: np.ndarray
    """Load each hour, W."""
    source: str
    """Where the numbers come from."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Repairs applied (each names the row and what was done); empty when none."""

    @property
    def hours(self) -> np.ndarray:
        return self.start + np.arange(self.load_w.size).astype("timedelta64[h]")

    @property
    def year(self) -> np.ndarray:
        return self.hours.astype("datetime64[Y]").astype(np.int64) + 1970

    @property
    def month(self) -> np.ndarray:
        return self.hours.astype("datetime64[M]").astype(np.int64) % 12 + 1

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(int(y) for y in np.unique(self.year))

    def select_years(self, years) -> "HourlyLoad":
        ys = [int(y) for y in years]
        have = set(self.years)
        bad = [y for y in ys if y not in have]
        if bad:
            raise InputError(f"{self.region}: no data for year(s) {', '.join(map(str, bad))}; available {min(have)}-{max(have)}.", field="years")
        m = np.isin(self.year, ys)
        idx = np.flatnonzero(m)
        if idx.size == 0 or np.any(np.diff(idx) != 1):
            raise InputError(f"{self.region}: years must be consecutive, got {ys}.", field="years")
        return HourlyLoad(self.region, self.hours[idx[0]], self.load_w[idx], self.source, self.notes)


@lru_cache(maxsize=1)
def _demand_table():
    import pyarrow.parquet as pq

    return pq.read_table(DEMAND_FILE)


def load_ba_demand(region: str) -> HourlyLoad:
    """Shipped hourly demand of a balancing authority, 2016-2024 (UTC), W."""
    ba = get_ba(region)
    col = _demand_table()[ba.id].to_numpy().astype(float) * 1e6
    return HourlyLoad(ba.id, DEMAND_T0, col, "cleaned EIA-930 (Ruggles & Farnham, CC BY 4.0): " + ", ".join(ba.sources[:1]) + ", ...")


@lru_cache(maxsize=1)
def _generation_table():
    import pyarrow.parquet as pq

    return pq.read_table(GENERATION_FILE)


def load_ba_generation(region: str) -> dict[str, np.ndarray]:
    """Hourly net generation by fuel in 2022 (UTC), W, {fuel: (8760,)}."""
    ba = get_ba(region)
    if ba.generation_year is None:
        with_gen = [r.id for r in ba_catalog().values() if r.generation_year is not None]
        raise InputError(f"no hourly generation mix is shipped for {ba.id}; regions with one: {', '.join(with_gen)}.", field="region")
    t = _generation_table()
    return {f: t[f"{ba.id}__{f}"].to_numpy().astype(float) * 1e6 for f in FUELS}


def carbon_intensity_g_per_kwh(gen_w: dict[str, np.ndarray]) -> np.ndarray:
    """Generation-weighted direct CO2 intensity each hour, gCO2/kWh (factors in regions.yaml)."""
    ef = emission_factors_g_per_kwh()
    tot = sum(gen_w[f] for f in FUELS)
    co2 = sum(gen_w[f] * ef[f] for f in FUELS)
    if np.any(tot <= 0):
        raise ValueError("an hour with no generation")
    return co2 / tot


def ba_carbon_signal(region: str) -> Signal:
    """Real hourly carbon intensity (2022, UTC hours) as a Signal, gCO2e/kWh."""
    return Signal(carbon_intensity_g_per_kwh(load_ba_generation(region)), "gCO2e/kWh")


def real_region_ids() -> list[str]:
    """Regions usable as price+carbon region profiles on a real year: US balancing authorities with
    real carbon (and a real or stylized price) and the non-US market regions (real price and carbon)."""
    return [r.id for r in ba_catalog().values() if r.generation_year is not None and (r.price_sibling or r.price_series)] + list(market_catalog())


def real_region_profile(region: str, *, start_month: int = 1, start_hour: int = 0) -> RegionProfile:
    """The RegionProfile of any id in real_region_ids() (a balancing authority or a market region)."""
    if region in market_catalog():
        return market_region_profile(region, start_month=start_month, start_hour=start_hour)
    return ba_region_profile(region, start_month=start_month, start_hour=start_hour)


def _price_label(series: str, year: int) -> str:
    info = price_series_info(series)
    conv = f", EUR converted at {eur_usd(year):.4f} USD/EUR (ECB annual mean {year})" if info["currency"] == "EUR" else ""
    return f"REAL {info['market']}, {year} ({info['source']}{conv})"


def market_region_profile(region: str, *, start_month: int = 1, start_hour: int = 0) -> RegionProfile:
    """A non-US price+carbon RegionProfile on a real year: real hourly day-ahead price and real hourly
    carbon intensity, UTC hours; the simulation clock starts at start_month/start_hour UTC."""
    cat = market_catalog()
    if region not in cat:
        raise InputError(f"unknown market region '{region[:60]}'; known: {', '.join(cat)}.", field="region")
    m = cat[region]
    price = load_price_usd_per_kwh(m.price_series, m.year)
    carbon = load_carbon_series(m.carbon_series, m.year)
    meta = {"source": f"price: {_price_label(m.price_series, m.year)}; carbon: REAL {m.carbon_source}, {m.year}",
            "date": f"data year {m.year}", "kind": "real year (price and carbon)", "time": "UTC",
            "note": "hour 0 = 1 January 00:00 UTC; negative wholesale prices kept as published",
            "annual_mean_usd_per_kwh": f"{float(price.mean()):.5f}", "annual_mean_gco2e_per_kwh": f"{carbon.mean():.2f}"}
    prof = RegionProfile(m.id, Signal(price, "USD/kWh"), Signal(carbon, "gCO2e/kWh"), str(GRID_DIR), meta)
    return prof.with_start(start_month, start_hour)


def ba_region_profile(region: str, *, start_month: int = 1, start_hour: int = 0) -> RegionProfile:
    """A price+carbon RegionProfile on a real year: carbon from the 2022 hourly generation mix; price
    the real 2022 hourly wholesale price where one is shipped (us-ercot, us-caiso), otherwise the
    stylized typical-day sibling region (shifted from its local time to UTC and labelled STYLIZED).
    The simulation clock starts at start_month/start_hour UTC."""
    ba = get_ba(region)
    if ba.generation_year is None or not (ba.price_sibling or ba.price_series):
        raise InputError(f"{ba.id} has hourly demand only (no generation mix or price shipped); price/carbon regions: "
                         f"{', '.join(real_region_ids())}.", field="region")
    carbon = ba_carbon_signal(ba.id)
    carbon_src = f"carbon: EIA-930 hourly net generation by fuel {GENERATION_YEAR} x direct CO2 factors (costsim/data/grid/README.md)"
    if ba.price_series:
        price_utc = load_price_usd_per_kwh(ba.price_series, GENERATION_YEAR)
        source = f"{carbon_src}; price: {_price_label(ba.price_series, GENERATION_YEAR)}"
        kind, note = "real year (carbon and price)", "hour 0 = 1 January 00:00 UTC; negative wholesale prices kept as published"
    else:
        sib = load_region(ba.price_sibling)
        price_local = sib.price.annual_hourly()
        price_utc = np.roll(price_local, -ba.utc_offset_h)  # local hour h is UTC hour h - offset
        source = f"{carbon_src}; price: STYLIZED typical day of {ba.price_sibling} (no real hourly price shipped for this region)"
        kind, note = "real year (carbon) + stylized price", "hour 0 = 1 January 00:00 UTC"
    meta = {"source": source,
            "date": f"data year {GENERATION_YEAR}", "kind": kind, "time": "UTC",
            "note": note,
            "annual_mean_usd_per_kwh": f"{float(price_utc.mean()):.5f}", "annual_mean_gco2e_per_kwh": f"{carbon.mean():.2f}"}
    prof = RegionProfile(ba.id, Signal(price_utc, "USD/kWh"), carbon, str(GRID_DIR), meta)
    return prof.with_start(start_month, start_hour)


# ----------------------------------------------------------------------------- user CSV of hourly load

_TS = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2})(?::(\d{2}))?(?::(\d{2}))?\s*(Z|[+-]\d{2}:?\d{2})?\s*$")


def _bad_csv(path: str, row: int | None, msg: str) -> InputError:
    where = f", row {row}" if row is not None else ""
    return InputError(f"load file '{path}'{where}: {msg}. Expected a CSV with columns time,load_mw (one row per hour, ISO "
                      "times such as 2023-07-01 14:00 or 2023-07-01T14:00Z; load in MW).", field="load_csv", source=path)


def _us_dst_days(year: int) -> tuple[datetime, datetime]:
    """US daylight-saving start (2nd Sunday of March) and end (1st Sunday of November)."""
    mar = datetime(year, 3, 8)
    start = mar + timedelta(days=(6 - mar.weekday()) % 7)
    nov = datetime(year, 11, 1)
    end = nov + timedelta(days=(6 - nov.weekday()) % 7)
    return start, end


def _eu_dst_days(year: int) -> tuple[datetime, datetime]:
    """EU summer time start/end: last Sunday of March / October."""
    def last_sun(m):
        d = datetime(year, m + 1, 1) - timedelta(days=1)
        return d - timedelta(days=(d.weekday() - 6) % 7)
    return last_sun(3), last_sun(10)


def _is_dst_change(t: datetime, kind: str) -> bool:
    """Is local naive hour t the spring-forward gap ('gap': 02:00 on the US or EU start day) or the
    fall-back repeat ('repeat': 01:00 on the US end day, 02:00 on the EU end day)?"""
    us_start, us_end = _us_dst_days(t.year)
    eu_start, eu_end = _eu_dst_days(t.year)
    if kind == "gap":
        return t.hour == 2 and t.date() in (us_start.date(), eu_start.date())
    return (t.hour == 1 and t.date() == us_end.date()) or (t.hour == 2 and t.date() == eu_end.date())


def parse_load_csv(text: str, *, path: str = "<text>") -> HourlyLoad:
    """Hourly load from CSV text (columns time,load_mw). Repairs with a note: gaps of up to 3 h
    (linear), the missing hour of a daylight-saving spring-forward (local times), a repeated hour
    at fall-back (averaged). Refused (InputError naming the row): negative, zero or non-numeric
    load, unparseable or unordered times, longer gaps, other duplicates, fewer than 24 hours."""
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise _bad_csv(path, None, "no data rows")
    header_row, header = lines[0]
    cols = [c.strip().lower() for c in next(csv.reader([header]))]
    if "time" not in cols or "load_mw" not in cols:
        raise _bad_csv(path, header_row, f"missing column(s) {', '.join(c for c in ('time', 'load_mw') if c not in cols)} (header is {header[:80]!r})")
    it, il = cols.index("time"), cols.index("load_mw")
    times: list[datetime] = []
    vals: list[float] = []
    rows: list[int] = []
    aware = None
    for rownum, ln in lines[1:]:
        cells = next(csv.reader([ln]))
        if len(cells) <= max(it, il):
            raise _bad_csv(path, rownum, f"{len(cells)} cells, expected at least {max(it, il) + 1}")
        m = _TS.match(cells[it])
        if not m:
            raise _bad_csv(path, rownum, f"time {cells[it][:40]!r} is not an ISO date-time (YYYY-MM-DD HH:MM)")
        y, mo, d, hh, mm, ss, tz = m.groups()
        try:
            t = datetime(int(y), int(mo), int(d), int(hh), int(mm or 0), int(ss or 0))
        except ValueError:
            raise _bad_csv(path, rownum, f"time {cells[it][:40]!r} is not a valid date") from None
        if t.minute or t.second:
            raise _bad_csv(path, rownum, f"time {cells[it][:40]!r} is not on the hour (hourly data expected)")
        is_aware = tz is not None
        if aware is None:
            aware = is_aware
        elif aware != is_aware:
            raise _bad_csv(path, rownum, "some times carry a UTC offset and some do not; use one convention")
        if tz is not None and tz != "Z":
            sign = 1 if tz[0] == "+" else -1
            tzd = tz[1:].replace(":", "")
            t = t - sign * timedelta(hours=int(tzd[:2]), minutes=int(tzd[2:]))
        try:
            v = float(cells[il])
        except ValueError:
            raise _bad_csv(path, rownum, f"load_mw {cells[il][:40]!r} is not a number") from None
        if not math.isfinite(v):
            raise _bad_csv(path, rownum, f"load_mw {cells[il][:40]!r} is not finite")
        if v < 0:
            raise _bad_csv(path, rownum, f"negative load {v:g} MW")
        if v == 0:
            raise _bad_csv(path, rownum, "zero load (a gap reported as 0? leave the row out to have it repaired, or fix it)")
        if v > 5e6:
            raise _bad_csv(path, rownum, f"load {v:g} MW is larger than any grid (> 5 TW)")
        times.append(t)
        vals.append(v)
        rows.append(rownum)
    if len(times) < 24:
        raise _bad_csv(path, None, f"{len(times)} hourly rows; at least 24 are needed")
    notes: list[str] = []
    out_t: list[datetime] = [times[0]]
    out_v: list[float] = [vals[0]]
    for k in range(1, len(times)):
        t, v, r = times[k], vals[k], rows[k]
        prev = out_t[-1]
        step = (t - prev).total_seconds() / 3600.0
        if step == 0:
            if out_v[-1] == v:
                notes.append(f"row {r}: duplicated hour {t:%Y-%m-%d %H:00} with the same value; the copy was dropped")
                continue
            if not aware and _is_dst_change(t, "repeat"):
                out_v[-1] = 0.5 * (out_v[-1] + v)
                notes.append(f"row {r}: hour {t:%Y-%m-%d %H:00} repeats (daylight-saving fall-back, local time); the two values were averaged")
                continue
            raise _bad_csv(path, r, f"duplicated hour {t:%Y-%m-%d %H:00} with a different value ({out_v[-1]:g} vs {v:g} MW)")
        if step < 0:
            raise _bad_csv(path, r, f"time {t:%Y-%m-%d %H:00} goes back from {prev:%Y-%m-%d %H:00} (rows must be in time order)")
        missing = int(round(step)) - 1
        if missing > 0:
            dst = not aware and missing == 1 and _is_dst_change(prev + timedelta(hours=1), "gap")
            if missing > MAX_REPAIR_GAP_H and not dst:
                raise _bad_csv(path, r, f"{missing} hours missing before {t:%Y-%m-%d %H:00} (gaps longer than {MAX_REPAIR_GAP_H} h are not filled)")
            a = out_v[-1]
            for j in range(1, missing + 1):
                out_t.append(prev + timedelta(hours=j))
                out_v.append(a + (v - a) * j / (missing + 1))
            what = "daylight-saving spring-forward (local time) hour" if dst else f"{missing} missing hour(s)"
            notes.append(f"row {r}: {what} before {t:%Y-%m-%d %H:00} filled by linear interpolation")
        out_t.append(t)
        out_v.append(v)
    if len(out_t) < 24:  # rows that repeat one hour were dropped as copies: say so, not 'too little data'
        raise _bad_csv(path, None, f"only {len(out_t)} distinct hour(s) after dropping {len(times) - len(out_t):,} rows that "
                                   "repeat an hour already read; each row needs its own hour (at least 24)")
    if aware is False:
        notes.append("times have no UTC offset: read as given (local time; daylight-saving changes repaired as noted)")
    start = np.datetime64(out_t[0].replace(tzinfo=None), "h")
    return HourlyLoad(path, start, np.asarray(out_v, float) * 1e6, f"user file {path}", tuple(notes))


def load_load_csv(path: str) -> HourlyLoad:
    """Read a user CSV of hourly load (see parse_load_csv); errors name the file, row and problem."""
    if not isinstance(path, str) or not path.strip():
        raise InputError("empty load file path; give a CSV with columns time,load_mw.", field="load_csv")
    if len(path) > 4096:
        raise InputError(f"load file path is {len(path)} characters long; give a real path.", field="load_csv")
    p = Path(path)
    try:
        if not p.is_file():
            raise InputError(f"load file '{path[:200]}' does not exist or is not a file.", field="load_csv", source=path)
        if p.stat().st_size > MAX_CSV_BYTES:
            raise InputError(f"load file '{path[:200]}' is {p.stat().st_size / 1e6:.0f} MB; the limit is {MAX_CSV_BYTES / 1e6:.0f} MB.", field="load_csv")
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read load file '{path[:200]}': {exc.strerror}.", field="load_csv", source=path) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"load file '{path[:200]}' is not UTF-8 text (undecodable byte at offset {exc.start}).", field="load_csv", source=path) from None
    return parse_load_csv(text, path=str(p))


def region_kind(region: str) -> str:
    """'real' for shipped regions on a real year (BA or market region), 'stylized' for the typical-day files."""
    return "real" if region in real_region_ids() else "stylized"


#: what a region's hourly price is (costsim grid regions, plan comparisons)
PRICE_BASIS_WHOLESALE = "wholesale day-ahead energy price (no delivery, capacity charges or taxes)"
PRICE_BASIS_ALL_IN = "all-in industrial price (annual mean of a published retail rate; costsim/data/regions/README.md)"


def price_basis(region: str | None) -> str | None:
    """Which price a region carries: the real market years (a shipped hourly price series) are wholesale day-ahead
    energy, the typical-day files (and a balancing authority priced by its stylized sibling) an all-in industrial
    rate; None for a user's file or no region. Plans that compare regions on different bases say so: us-caiso's
    wholesale 89 USD/MWh and us-caiso-california's all-in 186 USD/MWh price one grid twice (a helper's data audit)."""
    if not region:
        return None
    if region in market_catalog():
        return PRICE_BASIS_WHOLESALE
    if region in ba_catalog():
        return PRICE_BASIS_WHOLESALE if get_ba(region).price_series else PRICE_BASIS_ALL_IN
    return PRICE_BASIS_ALL_IN if _typical_day_file(region) else None


def clock_note(region: str | None, ba_region: str | None) -> str | None:
    """A sentence when a scenario reads a typical-day region (local time) beside a balancing authority's events (UTC)
    from the same start_hour, the two clocks that many hours apart; None otherwise."""
    if not region or not ba_region or not _typical_day_file(region):
        return None
    off = get_ba(ba_region).utc_offset_h
    return (f"grid.start_hour counts in UTC for {ba_region}'s curtailment events and in local time for {region}'s "
            f"typical-day price and carbon ({off:+d} h apart in standard time): use grid.region {ba_region} (UTC) to read "
            "both on one clock")


def _typical_day_file(region: str) -> bool:
    """True for a shipped typical-day region (costsim/data/regions/<id>.csv)."""
    from costsim.power.signals import REGIONS_DIR

    return (REGIONS_DIR / f"{region}.csv").is_file()


__all__ = ["BARegion", "HourlyLoad", "ba_catalog", "ba_region_ids", "get_ba", "load_ba_demand", "load_ba_generation",
           "carbon_intensity_g_per_kwh", "ba_carbon_signal", "ba_region_profile", "real_region_ids", "parse_load_csv",
           "load_load_csv", "manifest", "emission_factors_g_per_kwh", "MarketRegion", "market_catalog", "market_region_profile",
           "real_region_profile", "price_series_info", "eur_usd", "load_price_source_units", "load_price_usd_per_kwh",
           "load_carbon_series"]
