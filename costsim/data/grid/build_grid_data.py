"""Rebuild the shipped hourly grid data (costsim/data/grid/*.parquet + manifest.json).

Usage (a developer tool, not needed at run time; needs pandas):

    python costsim/data/grid/build_grid_data.py --ruggles DIR --dcrl DIR

--ruggles: a copy of https://github.com/truggles/EIA_Cleaned_Hourly_Electricity_Demand_Data
           (Ruggles & Farnham, CC BY 4.0; also Zenodo doi:10.5281/zenodo.3517197). Files used:
           data/release_2020_Oct/balancing_authorities/<BA>.csv           (2016-2019)
           data/release_2025_Jan_include_subregions/subregions_and_balancing_authorities/<BA>[-<sub>].csv  (2020-2024)
           data/release_2025_Jan_include_subregions/original_eia_files/<BA>.csv  (raw EIA-930, for the cross-check)
--dcrl:    a copy of https://github.com/HewlettPackard/dc-rl (MIT licence; hourly EIA-930 net
           generation by fuel, 2022, public-domain US government data). File used:
           data/CarbonIntensity/<BA>_NG_&_avgCI.csv

Writes (all hours UTC and hour-starting: row h holds the mean MW over [h, h+1); hour 0 = 1 January
00:00 UTC of each year):
  ba_demand.parquet         utc_hour (hours since 2016-01-01 00:00 UTC) + one int32 column per region, MW
  ba_generation_2022.parquet utc_hour (hours since 2022-01-01 00:00 UTC) + <region>__<fuel> float32 MW
  manifest.json             source files (path, sha256), years, annual totals computed from the
                            source files themselves (MWh, tCO2), raw EIA-930 totals for comparison,
                            every filled or dropped hour and the hour convention decided per BA
Hour convention. EIA-930 stamps are hour-ending (the cleaned demand's README: "The reported demand value
for each hour corresponds to the integrated mean value in megawatts over the previous hour", UTC), so every
demand value moves one hour earlier (source stamp h+1 -> row h). The generation files (dc-rl) are checked
here, per BA, against the sun (`solar_convention`): the centre of each day's solar output, reading a stamp
as hour-starting, against the solar noon of the BA's solar longitude (regions.yaml, solar_longitude_deg);
about +1 h means hour-ending (shifted), about 0 h hour-beginning (kept); one change of convention within
the year is detected and honoured (CAISO, June 2022). A BA without solar takes EIA's documented
hour-ending convention if its generation lines up with its (hour-ending) demand (`demand_lag_by_month`).
Filled: only the hour after a source's last stamp (demand: 2024-12-31 23:00, whose hour-ending stamp
2025-01-01 00:00 is in no file; generation: 2022-12-31 23:00 of hour-ending BAs), by the same hour of the
previous day, and generation gaps inside the year (`fill_gaps`); each is recorded. Any other missing or
non-finite hour in a source file stops the build with the file and row.
Real hourly wholesale prices and Danish carbon (hourly_prices.parquet, manifest "prices") are built by
the sibling script build_price_data.py; this script keeps that manifest section as it is.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

HERE = Path(__file__).resolve().parent
YEARS = list(range(2016, 2025))
T0 = pd.Timestamp("2016-01-01 00:00:00")
FUELS = ("COL", "NG", "OIL", "NUC", "WAT", "WND", "SUN", "OTH")
R2020 = "data/release_2020_Oct/balancing_authorities"
R2025 = "data/release_2025_Jan_include_subregions/subregions_and_balancing_authorities"
RAW2025 = "data/release_2025_Jan_include_subregions/original_eia_files"
# The repository commits the shipped files were built from (the files themselves are identified by sha256).
SOURCE_COMMITS = {"ruggles": "truggles/EIA_Cleaned_Hourly_Electricity_Demand_Data@b80145df5f92aba56c52ed45281831b93543fb3b",
                  "dcrl": "HewlettPackard/dc-rl@a92b4755aca560e34a98d14028dda629eb968482"}
MAX_TAIL_H = 1  # hours past a source's last stamp that may be filled (the last hour-starting hour of the year)


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def read_cleaned(p: Path) -> pd.Series:
    df = pd.read_csv(p)
    col = "cleaned demand (MW)"
    if col not in df.columns:
        raise SystemExit(f"{p}: no column '{col}'")
    s = pd.Series(df[col].to_numpy(float), index=pd.to_datetime(df["date_time"]))
    bad = ~np.isfinite(s.to_numpy())
    if bad.any():
        raise SystemExit(f"{p}: non-finite cleaned demand at row {int(np.argmax(bad)) + 2}")
    if s.index.duplicated().any():
        raise SystemExit(f"{p}: duplicated timestamp {s.index[s.index.duplicated()][0]}")
    return s


def hour_starting(s: pd.Series, start: str, end: str, where: str) -> pd.Series:
    """An hour-ending series (the value stamped t is the mean over [t-1h, t)) on the hour-starting grid
    start..end: row h takes the source's stamp h+1. Only hours past the source's last stamp may be missing
    (left NaN for fill_tail); any other missing hour stops the build."""
    s = pd.Series(s.to_numpy(), index=s.index - pd.Timedelta(hours=1))
    s = s.reindex(pd.date_range(start, end, freq="h"))
    miss = s.isna().to_numpy()
    if miss.any():
        first = int(np.argmax(miss))
        if not miss[first:].all() or s.index[first] <= s.index[0] or miss.sum() > MAX_TAIL_H:
            raise SystemExit(f"{where}: missing hour-ending stamp {s.index[first] + pd.Timedelta(hours=1)} (nothing is filled inside a series)")
    return s


def fill_tail(a: np.ndarray, hours: pd.DatetimeIndex, reason: str) -> tuple[np.ndarray, list[dict]]:
    """Fill the trailing missing rows of an hour-starting array (1-D or hours x columns) with the same
    hour of the previous day; one note per filled hour (hour-starting UTC, the absent hour-ending stamp)."""
    a = a.copy()
    miss = np.isnan(a) if a.ndim == 1 else np.isnan(a).any(axis=1)
    notes = []
    for i in np.flatnonzero(miss):
        if not miss[i:].all() or i < 24 or i < len(a) - MAX_TAIL_H:
            raise SystemExit(f"hour {hours[i]} missing inside the series (not a tail): {reason}")
        a[i] = a[i - 24]
        notes.append({"utc_hour_starting": str(hours[i]), "absent_hour_ending_stamp": str(hours[i] + pd.Timedelta(hours=1)),
                      "method": "same hour of the previous day", "reason": reason})
    return a, notes


def solar_days(sun: np.ndarray, lon_deg: float) -> np.ndarray:
    """Rows (first hour of the solar day, energy MWh, offset h) for each day of an hourly solar series that
    starts on 1 January 00:00 UTC, reading stamp i as the hour [i, i+1) (midpoint i + 0.5): offset = centre of
    mass of the day's output (night baseline removed) minus the UTC solar noon at lon_deg (equation of time
    included). Days are solar days, noon +- 12 h, so no day is cut at UTC midnight."""
    rows = []
    for d in range(len(sun) // 24):
        b = 2 * np.pi * (d + 1 - 81) / 364  # equation of time, minutes (Spencer/NOAA approximation, +-1 min)
        noon = d * 24 + 12 - lon_deg / 15 - (9.87 * np.sin(2 * b) - 7.53 * np.cos(b) - 1.5 * np.sin(b)) / 60
        lo = int(np.floor(noon - 12))
        if lo < 0 or lo + 24 > len(sun):
            continue
        y = sun[lo:lo + 24] - sun[lo:lo + 24].min()
        if y.sum() > 0:
            rows.append((lo, y.sum(), float(((np.arange(lo, lo + 24) + 0.5 - noon) * y).sum() / y.sum())))
    return np.array(rows).reshape(-1, 3)


def solar_convention(sun: np.ndarray, lon_deg: float, *, min_days: int = 14) -> list[dict]:
    """Hour convention of a solar series, as segments {start_hour, days, median_offset_h, convention}.
    Days with at least a quarter of the median daily energy are used. One change of convention is
    accepted where splitting the daily offsets in two cuts their total absolute deviation (from each
    part's median) by more than 40 % and the two parts fall on different sides of 0.5 h; a part whose
    median offset is >= 0.5 h is hour-ending, otherwise hour-beginning."""
    r = solar_days(sun, lon_deg)
    r = r[r[:, 1] >= 0.25 * np.median(r[:, 1])]
    o = r[:, 2]

    def dev(x: np.ndarray) -> float:
        return float(np.abs(x - np.median(x)).sum())

    def seg(lo: int, hi: int) -> dict:
        m = float(np.median(o[lo:hi]))
        return {"start_hour": int(r[lo, 0]) if lo else 0, "days": hi - lo, "median_offset_h": round(m, 3),
                "convention": "hour-ending" if m >= 0.5 else "hour-beginning"}

    whole = dev(o)
    best = min(range(min_days, len(o) - min_days), key=lambda k: dev(o[:k]) + dev(o[k:]))
    parts = [seg(0, best), seg(best, len(o))]
    if dev(o[:best]) + dev(o[best:]) < 0.6 * whole and parts[0]["convention"] != parts[1]["convention"]:
        return parts
    return [seg(0, len(o))]


def demand_lag_by_month(gen: np.ndarray, dem: np.ndarray, hours: pd.DatetimeIndex) -> list[int]:
    """Per month, the lag L in {-1, 0, 1} (generation stamp t + L against demand stamp t, both as read) that
    best correlates their hour-to-hour changes: 0 = the generation shares the demand's hour-ending stamps,
    -1 = it is hour-beginning. A cross-check only; large, fast-changing interchange (CAISO) blurs it."""
    dg, dd = np.diff(gen, prepend=np.nan), np.diff(dem, prepend=np.nan)
    out = []
    for m in range(1, 13):
        sel = np.flatnonzero(hours.month == m)
        sel = sel[(sel > 1) & (sel < len(gen) - 1)]
        out.append(max((-1, 0, 1), key=lambda lag: np.ma.corrcoef(np.ma.masked_invalid(dd[sel]), np.ma.masked_invalid(dg[sel + lag]))[0, 1]))
    return out


def fill_gaps(a: np.ndarray, where: str, *, linear_max_h: int = 3, max_gap_h: int = 48) -> tuple[list[dict], np.ndarray]:
    """Repair missing hours (rows with any NaN) of an (hours x columns) array, with a note per gap:
    gaps up to linear_max_h hours by linear interpolation between the neighbouring hours; longer
    gaps (up to max_gap_h) by the mean of the same hours one day before and one day after
    (keeps the daily shape). Longer gaps stop the build."""
    a = a.copy()
    miss = np.isnan(a).any(axis=1)
    notes: list[dict] = []
    i = 0
    n = len(a)
    while i < n:
        if not miss[i]:
            i += 1
            continue
        j = i
        while j < n and miss[j]:
            j += 1
        k = j - i
        if k > max_gap_h or i == 0 or j == n:
            raise SystemExit(f"{where}: gap of {k} h at hour {i} cannot be repaired (nothing is silently filled)")
        if k <= linear_max_h:
            w = (np.arange(1, k + 1) / (k + 1))[:, None]
            a[i:j] = a[i - 1] * (1 - w) + a[j] * w
            how = "linear interpolation between the neighbouring hours"
        else:
            lo, hi = np.arange(i, j) - 24, np.arange(i, j) + 24
            if lo.min() < 0 or hi.max() >= n or miss[lo].any() or miss[hi].any():
                raise SystemExit(f"{where}: gap of {k} h at hour {i} has no complete day before and after")
            a[i:j] = 0.5 * (a[lo] + a[hi])
            how = "mean of the same hours one day before and one day after"
        notes.append({"start_hour_of_year": int(i), "hours": int(k), "method": how})
        i = j
    return notes, a


def build(ruggles: Path, dcrl: Path) -> None:
    cat = yaml.safe_load((HERE / "regions.yaml").read_text())
    regions = cat["regions"]
    files: dict[str, str] = {}
    cols: dict[str, np.ndarray] = {}
    man: dict[str, dict] = {}
    dem_2022: dict[str, np.ndarray] = {}  # demand at the stamps 2022-01-01 00:00..2022-12-31 23:00 as read (hour-ending)
    for rid, r in regions.items():
        ba = r["eia_code"]
        # Each year from one release: 2016-2019 from the BA-level Oct 2020 release (its stamps run to mid-2020,
        # so the hour starting 2019-12-31 23:00, stamp 2020-01-01 00:00, is in it), 2020-2024 from the Jan 2025 one.
        p16 = ruggles / R2020 / f"{ba}.csv"
        a = hour_starting(read_cleaned(p16), "2016-01-01 00:00", "2019-12-31 23:00", str(p16))
        files[str(p16.relative_to(ruggles))] = sha256(p16)
        if r.get("subregions"):
            parts = [ruggles / R2025 / f"{ba}-{sub}.csv" for sub in r["subregions"]]
        else:
            parts = [ruggles / R2025 / f"{ba}.csv"]
        b = None
        for p in parts:
            s = hour_starting(read_cleaned(p), "2020-01-01 00:00", "2024-12-31 23:00", str(p))
            b = s if b is None else b + s
            files[str(p.relative_to(ruggles))] = sha256(p)
        full = pd.concat([a, b])
        vals, filled = fill_tail(full.to_numpy(float), full.index,
                                 "the source files end at the hour-ending stamp 2024-12-31 23:00; the hour ending 2025-01-01 00:00 is in none of them")
        for note in filled:
            note["mw"] = float(vals[full.index.get_loc(pd.Timestamp(note["utc_hour_starting"]))])
        mw = np.rint(vals).astype(np.int32)
        if (mw <= 0).any():
            raise SystemExit(f"{rid}: non-positive demand at {full.index[np.argmax(mw <= 0)]}")
        cols[rid] = mw
        i22 = full.index.get_loc(pd.Timestamp("2021-12-31 23:00"))
        dem_2022[rid] = vals[i22:i22 + 8760]
        yrs = full.index.year.to_numpy()
        tot = {str(y): float(vals[yrs == y].sum()) for y in YEARS}
        peak = {str(y): float(vals[yrs == y].max()) for y in YEARS}
        # raw EIA-930 (as queried by Ruggles & Farnham, Jan 2025), for the cross-check: sum and hours present,
        # by the year of the hour each stamp ends
        raw_p = ruggles / RAW2025 / f"{ba}.csv"
        raw = {}
        if raw_p.is_file():
            files[str(raw_p.relative_to(ruggles))] = sha256(raw_p)
            rd = pd.read_csv(raw_p)
            rs = pd.Series(pd.to_numeric(rd.iloc[:, 1], errors="coerce").to_numpy(float), index=pd.to_datetime(rd["date_time"]) - pd.Timedelta(hours=1))
            rs = rs[~rs.index.duplicated()]
            for y in range(2020, 2025):
                v = rs[(rs.index.year == y)]
                v = v[np.isfinite(v.to_numpy()) & (v.to_numpy() > 0)]
                raw[str(y)] = {"sum_mwh": float(v.sum()), "hours": int(v.size)}
        man[rid] = {"annual_energy_mwh": tot, "annual_peak_mw": peak, "raw_eia930": raw, "filled_hours": filled,
                    "sources": [str(p16.relative_to(ruggles))] + [str(p.relative_to(ruggles)) for p in parts]}
    n = len(next(iter(cols.values())))
    tbl = pa.table({"utc_hour": pa.array(np.arange(n, dtype=np.int32))} | {k: pa.array(v) for k, v in cols.items()})
    pq.write_table(tbl, HERE / "ba_demand.parquet", compression="zstd", compression_level=19)
    # generation by fuel, 2022
    gen_cols: dict[str, np.ndarray] = {}
    ef = cat["emission_factors_g_per_kwh"]
    idx = pd.date_range("2022-01-01 00:00", "2022-12-31 23:00", freq="h")  # the file's stamps and the hour-starting rows
    for rid, r in regions.items():
        g = r.get("generation_file")
        if not g:
            continue
        p = dcrl / "data" / "CarbonIntensity" / g
        files[f"dc-rl:{p.relative_to(dcrl)}"] = sha256(p)
        df = pd.read_csv(p)
        t = pd.to_datetime(df["timestamp"], utc=True).dt.tz_localize(None)
        df.index = t
        df = df[~df.index.duplicated()]
        df = df.reindex(idx)
        src = df[list(FUELS)].to_numpy(float)
        raw_gen = src.copy()
        present = ~np.isnan(raw_gen).any(axis=1)
        # anomalous hours: total generation below half the median of the surrounding two days
        # (partial reports, e.g. PJM 2022-10-01 with 0.3 GW of ~90 GW) are treated as missing
        tot = pd.Series(np.nansum(raw_gen, axis=1)).where(present)
        ref = tot.rolling(49, center=True, min_periods=12).median().to_numpy()
        anomalous = present & (tot.to_numpy() < 0.5 * ref)
        raw_gen[anomalous] = np.nan
        filled, gen = fill_gaps(raw_gen, str(p))
        # hour convention of the file's stamps, then each stamp j to its hour-starting row j - shift[j]
        lon = float(r["solar_longitude_deg"])
        sun = gen[:, FUELS.index("SUN")]
        lags = demand_lag_by_month(gen.sum(axis=1), dem_2022[rid], idx)
        if len(solar_days(sun, lon)) >= 200:
            segs = solar_convention(sun, lon)
            decided = "solar-noon check (build_grid_data.solar_convention)"
        elif max(set(lags), key=lags.count) == 0:
            segs = [{"start_hour": 0, "days": 0, "median_offset_h": None, "convention": "hour-ending"}]
            decided = ("EIA-930's documented hour-ending convention (no solar in the source to check); the generation "
                       "lines up with the hour-ending demand (demand_lag_by_month: 0)")
        else:
            raise SystemExit(f"{p}: no solar to check the hour convention, and the generation does not line up with the hour-ending demand (lags {lags})")
        shift = np.zeros(8760, dtype=int)
        for sg in segs:
            shift[sg["start_hour"]:] = 1 if sg["convention"] == "hour-ending" else 0
        row = np.arange(8760) - shift
        out = np.full_like(gen, np.nan)
        ci_src, ci = df["avg_CI"].to_numpy(float), np.full(8760, np.nan)
        taken = np.full(8760, -1)
        dropped = []
        for j in np.flatnonzero(row >= 0):  # an hour-ending stamp 2022-01-01 00:00 ends a 2021 hour: left out
            k = row[j]
            if taken[k] >= 0:
                dropped.append({"source_stamp": str(idx[taken[k]]), "utc_hour_starting": str(idx[k]),
                                "reason": f"the convention changes from hour-beginning to hour-ending: stamps {idx[taken[k]]} and {idx[j]} "
                                          "both report this hour; the hour-ending (later) one is kept"})
            out[k], ci[k], taken[k] = gen[j], ci_src[j], j
        out, tail = fill_tail(out, idx, "hour-ending source: the hour ending 2023-01-01 00:00 is not in the file")
        for note in filled:
            i0 = note["start_hour_of_year"]
            note["reason"] = "anomalous (total < half the 2-day median)" if anomalous[i0] else "missing in source"
            note["source_stamp"] = str(idx[i0])
            note["start_hour_of_year"] = int(row[i0])
        filled += [{"start_hour_of_year": 8759, "hours": 1, "method": nt["method"], "reason": nt["reason"]} for nt in tail]
        gen = out
        kept = taken[taken >= 0]
        kept = kept[present[kept]]
        src_mwh = {f: float(src[kept, i].sum()) for i, f in enumerate(FUELS)}
        days_read, days_out = solar_days(sun, lon), solar_days(gen[:, FUELS.index("SUN")], lon)
        conv = {"solar_longitude_deg": lon, "decided_by": decided, "demand_lag_by_month": lags,
                "segments": [{"from_utc": str(idx[sg["start_hour"]]), "solar_days": sg["days"], "median_offset_h_as_read": sg["median_offset_h"],
                              "convention": sg["convention"], "shift_h": -1 if sg["convention"] == "hour-ending" else 0} for sg in segs],
                "solar_offset_h_as_read": float(np.average(days_read[:, 2], weights=days_read[:, 1])) if len(days_read) else None,
                "solar_offset_h_shipped": float(np.average(days_out[:, 2], weights=days_out[:, 1])) if len(days_out) else None}
        neg = int((gen < 0).sum())
        gen = np.clip(gen, 0.0, None)  # negative net generation (storage, station use) is not generation
        for i, f in enumerate(FUELS):
            gen_cols[f"{rid}__{f}"] = gen[:, i].astype(np.float32)
        co2_t = float(sum(gen[:, i].sum() * ef[f] for i, f in enumerate(FUELS)) / 1e3)  # MWh * g/kWh = kg -> /1e3 t
        src_co2_t = float(sum(src_mwh[f] * ef[f] for f in FUELS) / 1e3)
        w = np.isfinite(ci)
        man[rid]["generation_2022"] = {"source": str(p.relative_to(dcrl)), "annual_mwh_by_fuel": {f: float(gen[:, i].sum()) for i, f in enumerate(FUELS)},
                                       "hour_convention": conv, "dropped_source_hours": dropped,
                                       "source_hours_present": int(kept.size), "source_mwh_by_fuel_present_hours": src_mwh,
                                       "source_co2_t_present_hours": src_co2_t,
                                       "filled_gaps": filled,
                                       "annual_generation_mwh": float(gen.sum()), "annual_co2_t": co2_t,
                                       "negative_values_set_to_zero": neg,
                                       "source_avg_ci_generation_weighted_g_per_kwh": float((ci[w] * gen[w].sum(axis=1)).sum() / gen[w].sum())}
    gtbl = pa.table({"utc_hour": pa.array(np.arange(8760, dtype=np.int32))} | {k: pa.array(v) for k, v in gen_cols.items()})
    pq.write_table(gtbl, HERE / "ba_generation_2022.parquet", compression="zstd", compression_level=19)
    doc = {"built_by": "costsim/data/grid/build_grid_data.py", "years": YEARS, "time": "UTC",
           "hours": "hour-starting: row h is the mean MW over [h, h+1) UTC; the EIA-930 sources are hour-ending (demand: every "
                    "value one hour earlier; generation: per BA, regions.<id>.generation_2022.hour_convention)",
           "source_commits": SOURCE_COMMITS, "source_file_sha256": files, "regions": man}
    old = HERE / "manifest.json"
    if old.is_file() and "prices" in (prev := json.loads(old.read_text())):
        doc["prices"] = prev["prices"]  # written by build_price_data.py; kept as is
    (HERE / "manifest.json").write_text(json.dumps(doc, indent=1, sort_keys=True))
    for f in ("ba_demand.parquet", "ba_generation_2022.parquet"):
        print(f, (HERE / f).stat().st_size, "bytes")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ruggles", type=Path, required=True)
    ap.add_argument("--dcrl", type=Path, required=True)
    a = ap.parse_args()
    build(a.ruggles, a.dcrl)
