"""Rebuild the shipped real hourly wholesale prices and non-US carbon (costsim/data/grid/hourly_prices.parquet
and the "prices" section of manifest.json).

Usage (a developer tool, not needed at run time; needs pandas):

    python costsim/data/grid/build_price_data.py --green-dcc DIR --elspot FILE --declaration FILE

--green-dcc:   a copy of https://github.com/HewlettPackard/green-dcc (MIT licence; commit 3f6ea95c).
               Files used (local-time extracts of ISO data, *not* its smoothed "standardized" folder):
               data/electricity_prices/processed/US-TEX-ERCO/<Y>/US-TEX-ERCO_electricity_prices_<Y>.csv
                   ERCOT day-ahead settlement point price, hub average HB_HUBAVG, USD/MWh, times with
                   their UTC offset (Y = 2021, 2022, 2023)
               data/electricity_prices/processed/US-CAL-CISO/<Y>/US-CAL-CISO_electricity_prices_<Y>.csv
                   CAISO day-ahead LMP at TH_NP15_GEN-APND, USD/MWh, times in UTC without an offset
                   (OASIS GMT); each file runs from local midnight of 31 Dec of Y-1 to local midnight
                   of 1 Jan of Y+1, so neighbouring files overlap by 24 h (Y = 2022, 2023)
--elspot:      Energinet Energi Data Service "Elspotprices" export (CC BY 4.0), columns
               HourUTC;HourDK;PriceArea;SpotPriceDKK;SpotPriceEUR (semicolon, decimal comma), DK1 and
               DK2 from 2021-01-01 to 2024-03-31; copy used: github.com/Mohammed-Ibadullah/MBML
               Elspotprices.csv (commit 20e21770).
--declaration: Energinet Energi Data Service "DeclarationEmissionHour" export (CC BY 4.0), columns
               HourDK,PriceArea,FuelAllocationMethod,CO2PerkWh (Danish local time, no UTC column),
               2022-01-01 to 2024-01-11; copy used: github.com/Mikkel-schmidt/el-co2-data
               DeclarationEmissionHour.csv (commit 2e4d99f0).

Writes hourly_prices.parquet: utc_hour (hours since 2022-01-01 00:00 UTC, 17,520 rows = 2022 and
2023) + price__<series> (float64, source currency per MWh, as published: negative prices kept) +
carbon__<series> (float64, g CO2/kWh); and the "prices" section of manifest.json (source files with
sha256, per-year time-weighted means computed from the source rows, every repair).

Bad data are refused with exit status 2 and a message naming the file, row and problem: a missing
UTC hour, a non-numeric or non-finite value, a duplicated hour with a different value, a local time
that does not exist. Repairs made (each recorded in the manifest): identical rows repeated where two
source files overlap are dropped; the repeated local hour at the autumn daylight-saving change in
a local-time file is assigned to the two UTC hours in file order. Nothing is interpolated.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

HERE = Path(__file__).resolve().parent
YEARS = (2022, 2023)
T0 = pd.Timestamp("2022-01-01 00:00", tz="UTC")
HOURS = pd.date_range("2022-01-01 00:00", "2023-12-31 23:00", freq="h", tz="UTC")
GREEN = "data/electricity_prices/processed"


def refuse(path, row, msg: str):
    where = f", row {row}" if row is not None else ""
    print(f"build_price_data: {path}{where}: {msg} (nothing is silently filled)", file=sys.stderr)
    raise SystemExit(2)


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def numeric(values, path, rows) -> np.ndarray:
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float)
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.argmax(bad))
        refuse(path, int(rows[i]), f"value {values[i]!r} is not a finite number")
    return v


def on_hours(t: pd.DatetimeIndex, v: np.ndarray, rows: np.ndarray, files: list[str], label: str) -> tuple[np.ndarray, list[dict]]:
    """Put (UTC time, value) pairs on HOURS. Identical duplicates (overlapping files) are dropped with
    a note; a duplicate with a different value, or a missing hour, refuses."""
    notes: list[dict] = []
    df = pd.DataFrame({"t": t, "v": v, "row": rows, "file": files}).sort_values(["t"], kind="stable")
    dup = df["t"].duplicated(keep="first")
    if dup.any():
        first = df[~dup].set_index("t")
        for _, d in df[dup].iterrows():
            f = first.loc[d["t"]]
            if f["v"] != d["v"]:
                refuse(d["file"], int(d["row"]), f"hour {d['t']:%Y-%m-%d %H:00} UTC repeats with a different value "
                                                 f"({f['v']:g} in {f['file']} row {int(f['row'])} vs {d['v']:g})")
        n = int(dup.sum())
        inside = df[dup & df["t"].isin(HOURS)]
        notes.append({"series": label, "repair": "dropped identical repeated hours where source files overlap",
                      "hours": n, "of_which_in_shipped_years": int(len(inside))})
        df = df[~dup]
    s = df.set_index("t")
    s = s.reindex(HOURS)
    if s["v"].isna().any():
        h = s.index[s["v"].isna()][0]
        refuse(", ".join(sorted(set(files))), None, f"{label}: hour {h:%Y-%m-%d %H:00} UTC is missing")
    return s["v"].to_numpy(float), notes


def read_green_dcc(root: Path, years, zone: str, with_offset: bool
                   ) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, list[str], dict[str, str]]:
    """green-dcc's processed yearly price files of `zone` (US-TEX-ERCO: times with a UTC offset;
    US-CAL-CISO: UTC times without one): times, USD/MWh, source rows, source files, sha256s."""
    pattern = r"^\d{4}-\d\d-\d\d \d\d:00:00" + (r"[+-]\d\d:\d\d$" if with_offset else "$")
    what = "an hour with a UTC offset" if with_offset else "an hour (UTC, no offset)"
    ts, vs, rs, fs, sums = [], [], [], [], {}
    for y in years:
        rel = f"{GREEN}/{zone}/{y}/{zone}_electricity_prices_{y}.csv"
        p = root / rel
        sums[f"green-dcc:{rel}"] = sha256(p)
        d = pd.read_csv(p, dtype=str)
        if list(d.columns) != ["Datetime", "Price (USD/MWh)"]:
            refuse(p, 1, f"unexpected header {list(d.columns)}")
        rows = np.arange(2, len(d) + 2)
        ok = d["Datetime"].str.match(pattern).to_numpy()
        if not ok.all():
            i = int(np.argmax(~ok))
            refuse(p, int(rows[i]), f"time {d['Datetime'][i]!r} is not {what}")
        ts.append(pd.to_datetime(d["Datetime"], utc=True) if with_offset else pd.to_datetime(d["Datetime"]).dt.tz_localize("UTC"))
        vs.append(numeric(d["Price (USD/MWh)"].tolist(), p, rows))
        rs.append(rows)
        fs += [rel] * len(d)
    return pd.DatetimeIndex(pd.concat(ts)), np.concatenate(vs), np.concatenate(rs), fs, sums


def read_elspot(p: Path, area: str):
    d = pd.read_csv(p, sep=";", dtype=str)
    need = ["HourUTC", "HourDK", "PriceArea", "SpotPriceDKK", "SpotPriceEUR"]
    if list(d.columns) != need:
        refuse(p, 1, f"header {list(d.columns)}, expected {need}")
    rows = np.arange(2, len(d) + 2)
    m = (d["PriceArea"] == area).to_numpy()
    d, rows = d[m].reset_index(drop=True), rows[m]
    ok = d["HourUTC"].str.match(r"^\d{4}-\d\d-\d\d \d\d:00$").to_numpy()
    if not ok.all():
        i = int(np.argmax(~ok))
        refuse(p, int(rows[i]), f"HourUTC {d['HourUTC'][i]!r} is not an hour")
    t = pd.to_datetime(d["HourUTC"]).dt.tz_localize("UTC")
    v = numeric(d["SpotPriceEUR"].str.replace(",", ".", regex=False).tolist(), p, rows)
    # consistency of the two local/UTC columns: HourDK must be HourUTC in Europe/Copenhagen
    local = t.dt.tz_convert("Europe/Copenhagen").dt.strftime("%Y-%m-%d %H:%M")
    bad = (local != d["HourDK"]).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        refuse(p, int(rows[i]), f"HourDK {d['HourDK'][i]!r} is not HourUTC {d['HourUTC'][i]!r} in Danish time")
    return pd.DatetimeIndex(t), v, rows, [p.name] * len(d)


def read_declaration(p: Path, area: str) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, list[str], list[dict]]:
    d = pd.read_csv(p, dtype=str)
    need = ["HourDK", "PriceArea", "FuelAllocationMethod", "CO2PerkWh"]
    if list(d.columns) != need:
        refuse(p, 1, f"header {list(d.columns)}, expected {need}")
    rows = np.arange(2, len(d) + 2)
    m = (d["PriceArea"] == area).to_numpy()
    d, rows = d[m].reset_index(drop=True), rows[m]
    methods = sorted(set(d["FuelAllocationMethod"]))
    if methods != ["125%"]:
        refuse(p, None, f"{area}: expected one fuel-allocation method (125%), found {methods}")
    ok = d["HourDK"].str.match(r"^\d{4}-\d\d-\d\dT\d\d:00:00$").to_numpy()
    if not ok.all():
        i = int(np.argmax(~ok))
        refuse(p, int(rows[i]), f"HourDK {d['HourDK'][i]!r} is not an hour")
    local = pd.to_datetime(d["HourDK"])
    if not (local.diff().dropna() <= pd.Timedelta(0)).all():
        refuse(p, None, f"{area}: rows are not in descending time order (the order is needed to place the repeated autumn hour)")
    # ascending; the repeated autumn hour then appears as summer time first, winter time second
    order = np.arange(len(d))[::-1]
    local, rows_a = local.iloc[order].reset_index(drop=True), rows[order]
    vals = numeric(d["CO2PerkWh"].iloc[order].tolist(), p, rows_a)
    if (vals < 0).any():
        i = int(np.argmax(vals < 0))
        refuse(p, int(rows_a[i]), f"negative carbon intensity {vals[i]:g} g/kWh")
    try:
        aware = local.dt.tz_localize("Europe/Copenhagen", ambiguous="infer", nonexistent="raise")
    except Exception as exc:  # pytz/zoneinfo errors name the time
        refuse(p, None, f"{area}: local time cannot be placed on UTC ({exc})")
    rep = local[local.duplicated(keep=False)]
    notes = [{"series": f"carbon {area}", "repair": "repeated local hour at the autumn daylight-saving change: first row (in "
              "time order) read as summer time (UTC+2), second as winter time (UTC+1); the file has no UTC column and is in "
              "descending time order", "local_hours": sorted({f"{x:%Y-%m-%d %H:00}" for x in rep})}]
    return pd.DatetimeIndex(aware.dt.tz_convert("UTC")), vals, rows_a, [p.name] * len(d), notes


def year_means(v: np.ndarray) -> dict[str, float]:
    yrs = HOURS.year.to_numpy()
    return {str(y): float(v[yrs == y].mean()) for y in YEARS}


def source_year_means(t: pd.DatetimeIndex, v: np.ndarray) -> dict[str, float]:
    """Time-weighted mean of the source rows (each row one hour) whose UTC hour falls in each year,
    counting each distinct hour once: independent of the reindexing above."""
    s = pd.Series(v, index=t)
    s = s[~s.index.duplicated(keep="first")]
    return {str(y): float(s[s.index.year == y].mean()) for y in YEARS}


def build(green: Path, elspot: Path, declaration: Path) -> None:
    cat = yaml.safe_load((HERE / "regions.yaml").read_text())
    series_meta = cat["price_series"]
    cols: dict[str, np.ndarray] = {}
    files: dict[str, str] = {}
    man: dict[str, dict] = {}
    notes: list[dict] = []

    def add(kind: str, sid: str, t, v, rows, fs, unit: str, src: list[str]):
        arr, n = on_hours(t, v, rows, fs, f"{kind} {sid}")
        notes.extend(n)
        cols[f"{kind}__{sid}"] = arr
        man[f"{kind}__{sid}"] = {"unit": unit, "sources": src, "hours": int(arr.size),
                                 "annual_mean": year_means(arr), "source_annual_mean": source_year_means(t, v),
                                 "negative_hours": {str(y): int((arr[HOURS.year == y] < 0).sum()) for y in YEARS},
                                 "min": float(arr.min()), "max": float(arr.max())}

    t, v, r, fs, s = read_green_dcc(green, (2021, 2022, 2023), "US-TEX-ERCO", with_offset=True)
    files |= s
    add("price", "us-ercot", t, v, r, fs, "USD/MWh", sorted(s))
    t, v, r, fs, s = read_green_dcc(green, (2022, 2023), "US-CAL-CISO", with_offset=False)
    files |= s
    add("price", "us-caiso", t, v, r, fs, "USD/MWh", sorted(s))
    files[f"MBML:{elspot.name}"] = sha256(elspot)
    files[f"el-co2-data:{declaration.name}"] = sha256(declaration)
    for area in ("DK1", "DK2"):
        sid = f"dk-{area.lower()}"
        t, v, r, fs = read_elspot(elspot, area)
        add("price", sid, t, v, r, fs, "EUR/MWh", [f"MBML:{elspot.name}"])
        t, v, r, fs, n = read_declaration(declaration, area)
        notes.extend(n)
        add("carbon", sid, t, v, r, fs, "gCO2/kWh", [f"el-co2-data:{declaration.name}"])
    for k in cols:
        kind, sid = k.split("__")
        if kind == "price" and sid not in series_meta:
            raise SystemExit(f"regions.yaml has no price_series entry for {sid}")
    tbl = pa.table({"utc_hour": pa.array(np.arange(len(HOURS), dtype=np.int32))} | {k: pa.array(np.round(v, 5)) for k, v in cols.items()})
    pq.write_table(tbl, HERE / "hourly_prices.parquet", compression="zstd", compression_level=19)
    mpath = HERE / "manifest.json"
    doc = json.loads(mpath.read_text())
    doc["prices"] = {"built_by": "costsim/data/grid/build_price_data.py", "file": "hourly_prices.parquet", "time": "UTC",
                     "t0": "2022-01-01T00:00Z", "years": list(YEARS), "source_file_sha256": files, "series": man,
                     "repairs": notes, "interpolated_hours": 0}
    mpath.write_text(json.dumps(doc, indent=1, sort_keys=True))
    print("hourly_prices.parquet", (HERE / "hourly_prices.parquet").stat().st_size, "bytes")
    for k, m in man.items():
        print(k, m["unit"], {y: round(x, 3) for y, x in m["annual_mean"].items()}, "source", {y: round(x, 3) for y, x in m["source_annual_mean"].items()})


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--green-dcc", type=Path, required=True)
    ap.add_argument("--elspot", type=Path, required=True)
    ap.add_argument("--declaration", type=Path, required=True)
    a = ap.parse_args()
    build(a.green_dcc, a.elspot, a.declaration)
