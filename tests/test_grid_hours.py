"""Hour convention of the shipped EIA-930 series (costsim/data/grid): every row h is the hour [h, h+1)
UTC. The sources are hour-ending (EIA-930; the cleaned demand's README: "The reported demand value for
each hour corresponds to the integrated mean value in megawatts over the previous hour"); the build
(build_grid_data.py) moves demand one hour earlier and decides each generation file's convention by a
solar-noon check. These tests check the result against the sun, against source rows, against the
source's annual sums and against an independently timed series (day-ahead prices, interval start)."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from costsim.power import balancing as B


def _lon(rid: str) -> float:
    doc = yaml.safe_load((B.GRID_DIR / "regions.yaml").read_text(encoding="utf-8"))
    return float(doc["regions"][rid]["solar_longitude_deg"])


def _solar_offset_h(sun: np.ndarray, lon: float, days: slice = slice(None)) -> float:
    """Energy-weighted centre of the daily solar output minus the UTC solar noon, h, reading row h as the
    hour [h, h+1) (midpoint h + 0.5). Solar noon from NOAA's equation of time (fractional-year form); each
    day's night baseline (its minimum) is removed; days run from solar midnight to solar midnight."""
    d = np.arange(len(sun) // 24)[days]
    g = 2 * np.pi / 365 * d
    eqt = 229.18 * (0.000075 + 0.001868 * np.cos(g) - 0.032077 * np.sin(g) - 0.014615 * np.cos(2 * g) - 0.040849 * np.sin(2 * g))
    noon = d * 24 + (720 - 4 * lon - eqt) / 60
    num = den = 0.0
    for nn in noon:
        lo = int(np.floor(nn - 12))
        if lo < 0 or lo + 24 > len(sun):
            continue
        y = sun[lo:lo + 24] - sun[lo:lo + 24].min()
        num += float(((np.arange(lo, lo + 24) + 0.5 - nn) * y).sum())
        den += float(y.sum())
    return num / den


@pytest.mark.parametrize("rid", ["us-caiso", "us-ercot", "us-miso", "us-soco", "us-bpa", "us-pjm"])
def test_solar_output_centred_on_solar_noon(rid):
    """Within +-0.5 h of solar noon over the year and over each half-year (read as hour-ending rows, the
    old data: CAISO +0.7 h (+1.0 h from mid-June), ERCOT +0.9, MISO +1.1, SOCO +0.9, BPA +1.1)."""
    sun = B.load_ba_generation(rid)["SUN"]
    lon = _lon(rid)
    for days in (slice(None), slice(0, 181), slice(181, 365)):
        off = _solar_offset_h(sun, lon, days)
        assert abs(off) <= 0.5, (rid, days, round(off, 2))


def test_azps_solar_closer_to_noon_than_an_hour_later():
    """KNOWN GAP: AZPS's solar is centred ~0.7 h after solar noon even after the one-hour shift: its
    output goes on for hours after sunset (as read, 00-02 UTC: 365 / 268 / 144 MW against a ~420 MW
    midday plateau; probably storage, e.g. a solar-thermal plant with storage, not verified), while its
    morning ramp fits hour-ending stamps. An hour later (the old reading) it would be ~1.6 h."""
    off = _solar_offset_h(B.load_ba_generation("us-azps")["SUN"], _lon("us-azps"))
    assert 0.3 < off < 0.9, round(off, 2)


def test_generation_rows_against_source_rows():
    """Source rows of dc-rl data/CarbonIntensity/<BA>_NG_&_avgCI.csv (commit a92b4755), natural gas MW:
    hour-ending BAs move one hour earlier, PJM (hour-beginning) and CAISO before its June 2022 change stay."""
    h = {"2022-03-01 19:00": 1435, "2022-07-01 18:00": 4362, "2022-07-01 19:00": 4363, "2022-01-01 00:00": 0}
    rows = [("us-caiso", "2022-03-01 19:00", 3010.0),  # stamp 2022-03-01 19:00, hour-beginning (before 14 June)
            ("us-caiso", "2022-07-01 18:00", 5954.0),  # stamp 2022-07-01 19:00, hour-ending
            ("us-ercot", "2022-07-01 18:00", 37497.0),  # stamp 2022-07-01 19:00
            ("us-ercot", "2022-01-01 00:00", 13522.0),  # stamp 2022-01-01 01:00
            ("us-nyiso", "2022-07-01 18:00", 13303.0),  # stamp 2022-07-01 19:00 (no solar: EIA's hour-ending)
            ("us-pjm", "2022-07-01 19:00", 62550.0)]  # stamp 2022-07-01 19:00, hour-beginning
    for rid, t, mw in rows:
        assert B.load_ba_generation(rid)["NG"][h[t]] == pytest.approx(mw * 1e6), (rid, t)


def test_generation_convention_recorded_per_ba():
    man = B.manifest()["regions"]
    conv = {rid: r["generation_2022"]["hour_convention"] for rid, r in man.items() if "generation_2022" in r}
    assert len(conv) == 8
    for rid, c in conv.items():
        assert c["decided_by"] and c["segments"] and c["solar_longitude_deg"] == _lon(rid)
        last = c["segments"][-1]
        tail = [n for n in man[rid]["generation_2022"]["filled_gaps"] if n["start_hour_of_year"] == 8759]
        assert len(tail) == (1 if last["shift_h"] == -1 else 0), rid  # the hour ending 2023-01-01 00:00 is not in the file
    assert [s["convention"] for s in conv["us-pjm"]["segments"]] == ["hour-beginning"]
    assert [s["convention"] for s in conv["us-caiso"]["segments"]] == ["hour-beginning", "hour-ending"]
    assert conv["us-caiso"]["segments"][1]["from_utc"].startswith("2022-06-1")
    assert len(man["us-caiso"]["generation_2022"]["dropped_source_hours"]) == 1
    for rid in ("us-ercot", "us-miso", "us-soco", "us-bpa", "us-azps", "us-nyiso"):
        assert [s["convention"] for s in conv[rid]["segments"]] == ["hour-ending"], rid
    assert "no solar" in conv["us-nyiso"]["decided_by"]


def test_demand_rows_are_hour_starting():
    """ERCOT against its source rows (Ruggles & Farnham, cleaned demand, commit b80145df): row h = the
    source's stamp h + 1 h. 2016-2019: release_2020_Oct/balancing_authorities/ERCO.csv, stamps 2016-01-01
    01:00 / 02:00 = 40,328 / 39,263 MW and 2020-01-01 00:00 = 40,020 MW (the hour starting 2019-12-31 23:00);
    2020-2024: the sum of the eight ERCO-<sub>.csv of release_2025_Jan_include_subregions, stamp
    2020-01-01 01:00 = 41,645 MW, stamp 2024-12-31 23:00 = 45,692 MW."""
    assert B.manifest()["hours"].startswith("hour-starting")
    d = B.load_ba_demand("us-ercot").load_w / 1e6
    h2020 = 4 * 8760 + 24  # 2016 is a leap year
    assert list(d[:2]) == [40328, 39263]
    assert d[h2020 - 1] == 40020 and d[h2020] == 41645
    assert d[-2] == 45692


def test_last_hour_of_2024_filled_and_recorded():
    """The hour starting 2024-12-31 23:00 (stamp 2025-01-01 00:00) is in no source file: each BA's is the
    same hour of the previous day, recorded in the manifest; no other demand hour is filled."""
    man = B.manifest()["regions"]
    tbl = pq.read_table(B.DEMAND_FILE)
    for rid in B.ba_region_ids():
        f = man[rid]["filled_hours"]
        assert [n["utc_hour_starting"] for n in f] == ["2024-12-31 23:00:00"], rid
        assert f[0]["method"] == "same hour of the previous day" and f[0]["reason"]
        d = tbl[rid].to_numpy()
        assert d[-1] == d[-25] == round(f[0]["mw"]), rid


def test_annual_demand_equals_source_sums_exactly():
    """Annual energy = the sum of the source values whose hour lies in the year (stamps Y-01-01 01:00 to
    Y+1-01-01 00:00; integer MW, so exact): ERCOT subregion sums 2021-2023, computed from the source files.
    Read as hour-starting stamps (the old data) the sums were 392,564,774 / 430,663,145 / 446,858,490 MWh."""
    d = B.load_ba_demand("us-ercot")
    src = {2021: 392_560_860, 2022: 430_658_194, 2023: 446_861_856}
    for y, mwh in src.items():
        assert d.load_w[d.year == y].sum() / 1e6 == mwh, y
    man = B.manifest()["regions"]
    tbl = pq.read_table(B.DEMAND_FILE)
    yr = (B.DEMAND_T0 + np.arange(tbl.num_rows).astype("timedelta64[h]")).astype("datetime64[Y]").astype(int) + 1970
    for rid in B.ba_region_ids():
        col = tbl[rid].to_numpy().astype(float)
        for y, tot in man[rid]["annual_energy_mwh"].items():
            assert abs(col[yr == int(y)].sum() - tot) <= 0.5 * np.sum(yr == int(y)), (rid, y)


@pytest.mark.parametrize("rid", ["us-ercot", "us-caiso"])
def test_carbon_changes_line_up_with_day_ahead_price_changes(rid):
    """The 2022 hourly carbon and the real day-ahead price (hourly_prices.parquet; timed by interval start:
    gridstatus 'Interval Start' for ERCOT, OASIS INTERVALSTARTTIME_GMT for CAISO) co-move best with no lag.
    With the old hour-ending rows the carbon series fit best one hour later (lag +1)."""
    price = pq.read_table(B.PRICE_FILE)[f"price__{rid}"].to_numpy()[:8760]
    ci = B.ba_carbon_signal(rid).values

    def corr(lag: int) -> float:
        a, c = price[max(0, -lag):8760 - max(0, lag)], ci[max(0, lag):8760 + min(0, lag)]
        return float(np.corrcoef(np.diff(a), np.diff(c))[0, 1])

    assert corr(0) > max(corr(-1), corr(1)) + 0.03, [round(corr(k), 3) for k in (-1, 0, 1)]
