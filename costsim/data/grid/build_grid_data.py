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

Writes (all hours UTC, hour 0 = 1 January 00:00 UTC of each year):
  ba_demand.parquet         utc_hour (hours since 2016-01-01 00:00 UTC) + one int32 column per region, MW
  ba_generation_2022.parquet utc_hour (hours since 2022-01-01 00:00 UTC) + <region>__<fuel> float32 MW
  manifest.json             source files (path, sha256), years, annual totals computed from the
                            source files themselves (MWh, tCO2), raw EIA-930 totals for comparison
Nothing is filled: a missing or non-finite hour in a source file stops the build with the file and row.
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


def hourly(s: pd.Series, start: str, end: str, where: str) -> pd.Series:
    idx = pd.date_range(start, end, freq="h")
    s = s.reindex(idx)
    if s.isna().any():
        raise SystemExit(f"{where}: missing hour {s.index[s.isna()][0]} (nothing is filled)")
    return s


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
    for rid, r in regions.items():
        ba = r["eia_code"]
        p16 = ruggles / R2020 / f"{ba}.csv"
        a = hourly(read_cleaned(p16), "2016-01-01 00:00", "2019-12-31 23:00", str(p16))
        files[str(p16.relative_to(ruggles))] = sha256(p16)
        if r.get("subregions"):
            parts = [ruggles / R2025 / f"{ba}-{sub}.csv" for sub in r["subregions"]]
        else:
            parts = [ruggles / R2025 / f"{ba}.csv"]
        b = None
        for p in parts:
            s = hourly(read_cleaned(p), "2020-01-01 00:00", "2024-12-31 23:00", str(p))
            b = s if b is None else b + s
            files[str(p.relative_to(ruggles))] = sha256(p)
        full = pd.concat([a, b])
        mw = np.rint(full.to_numpy()).astype(np.int32)
        if (mw <= 0).any():
            raise SystemExit(f"{rid}: non-positive demand at {full.index[np.argmax(mw <= 0)]}")
        cols[rid] = mw
        yrs = full.index.year.to_numpy()
        tot = {str(y): float(full.to_numpy()[yrs == y].sum()) for y in YEARS}
        peak = {str(y): float(full.to_numpy()[yrs == y].max()) for y in YEARS}
        # raw EIA-930 (as queried by Ruggles & Farnham, Jan 2025), for the cross-check: sum and hours present
        raw_p = ruggles / RAW2025 / f"{ba}.csv"
        raw = {}
        if raw_p.is_file():
            files[str(raw_p.relative_to(ruggles))] = sha256(raw_p)
            rd = pd.read_csv(raw_p)
            rs = pd.Series(pd.to_numeric(rd.iloc[:, 1], errors="coerce").to_numpy(float), index=pd.to_datetime(rd["date_time"]))
            rs = rs[~rs.index.duplicated()]
            for y in range(2020, 2025):
                v = rs[(rs.index.year == y)]
                v = v[np.isfinite(v.to_numpy()) & (v.to_numpy() > 0)]
                raw[str(y)] = {"sum_mwh": float(v.sum()), "hours": int(v.size)}
        man[rid] = {"annual_energy_mwh": tot, "annual_peak_mw": peak, "raw_eia930": raw,
                    "sources": [str(p16.relative_to(ruggles))] + [str(p.relative_to(ruggles)) for p in parts]}
    n = len(next(iter(cols.values())))
    tbl = pa.table({"utc_hour": pa.array(np.arange(n, dtype=np.int32))} | {k: pa.array(v) for k, v in cols.items()})
    pq.write_table(tbl, HERE / "ba_demand.parquet", compression="zstd", compression_level=19)
    # generation by fuel, 2022
    gen_cols: dict[str, np.ndarray] = {}
    ef = cat["emission_factors_g_per_kwh"]
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
        idx = pd.date_range("2022-01-01 00:00", "2022-12-31 23:00", freq="h")
        df = df.reindex(idx)
        raw_gen = df[list(FUELS)].to_numpy(float)
        present = ~np.isnan(raw_gen).any(axis=1)
        src_mwh = {f: float(np.nansum(raw_gen[present, i])) for i, f in enumerate(FUELS)}
        # anomalous hours: total generation below half the median of the surrounding two days
        # (partial reports, e.g. PJM 2022-10-01 with 0.3 GW of ~90 GW) are treated as missing
        tot = pd.Series(np.nansum(raw_gen, axis=1)).where(present)
        ref = tot.rolling(49, center=True, min_periods=12).median().to_numpy()
        anomalous = present & (tot.to_numpy() < 0.5 * ref)
        raw_gen[anomalous] = np.nan
        filled, gen = fill_gaps(raw_gen, str(p))
        for note in filled:
            i0 = note["start_hour_of_year"]
            note["reason"] = "anomalous (total < half the 2-day median)" if anomalous[i0] else "missing in source"
        neg = int((gen < 0).sum())
        gen = np.clip(gen, 0.0, None)  # negative net generation (storage, station use) is not generation
        for i, f in enumerate(FUELS):
            gen_cols[f"{rid}__{f}"] = gen[:, i].astype(np.float32)
        co2_t = float(sum(gen[:, i].sum() * ef[f] for i, f in enumerate(FUELS)) / 1e3)  # MWh * g/kWh = kg -> /1e3 t
        src_co2_t = float(sum(src_mwh[f] * ef[f] for f in FUELS) / 1e3)
        man[rid]["generation_2022"] = {"source": str(p.relative_to(dcrl)), "annual_mwh_by_fuel": {f: float(gen[:, i].sum()) for i, f in enumerate(FUELS)},
                                       "source_hours_present": int(present.sum()), "source_mwh_by_fuel_present_hours": src_mwh,
                                       "source_co2_t_present_hours": src_co2_t,
                                       "filled_gaps": filled,
                                       "annual_generation_mwh": float(gen.sum()), "annual_co2_t": co2_t,
                                       "negative_values_set_to_zero": neg,
                                       "source_avg_ci_generation_weighted_g_per_kwh": float((df["avg_CI"].to_numpy(float) * gen.sum(axis=1)).sum() / gen.sum())}
    gtbl = pa.table({"utc_hour": pa.array(np.arange(8760, dtype=np.int32))} | {k: pa.array(v) for k, v in gen_cols.items()})
    pq.write_table(gtbl, HERE / "ba_generation_2022.parquet", compression="zstd", compression_level=19)
    doc = {"built_by": "costsim/data/grid/build_grid_data.py", "years": YEARS, "time": "UTC",
           "source_file_sha256": files, "regions": man}
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
