"""Real hourly wholesale prices (ERCOT, CAISO, Denmark DK1/DK2) and Danish hourly carbon shipped in
costsim/data/grid/hourly_prices.parquet: hour count and UTC alignment against rows read from the
source files, annual means against the sources, wiring into the region profiles, user CSV still works,
the build refuses bad data with exit 2."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from costsim.errors import InputError
from costsim.power import balancing as B
from costsim.power.signals import available_regions, load_region, parse_region_csv

MAN = json.loads((B.GRID_DIR / "manifest.json").read_text())["prices"]

# Time-weighted annual means over the UTC calendar year, computed while reviewing the source files
# (pandas, independently of the build script): ERCOT/CAISO USD/MWh, DK EUR/MWh, DK carbon g/kWh.
SOURCE_MEANS = {
    ("price", "us-ercot"): {2022: 64.3205, 2023: 55.9376},
    ("price", "us-caiso"): {2022: 88.9807, 2023: 61.4520},
    ("price", "dk-dk1"): {2022: 219.0318, 2023: 86.8282},
    ("price", "dk-dk2"): {2022: 210.1490, 2023: 81.2572},
    ("carbon", "dk-dk1"): {2022: 146.097, 2023: 100.082},
    ("carbon", "dk-dk2"): {2022: 63.115, 2023: 51.538},
}


def _series(kind, sid, year):
    return B.load_price_source_units(sid, year) if kind == "price" else B.load_carbon_series(sid, year)


def test_table_shape_and_utc_hours():
    t = pq.read_table(B.PRICE_FILE)
    assert t.num_rows == 17520  # 2022 + 2023, UTC, no leap day
    assert np.array_equal(t["utc_hour"].to_numpy(), np.arange(17520))
    for kind, sid in SOURCE_MEANS:
        col = t[f"{kind}__{sid}"].to_numpy()
        assert col.shape == (17520,) and np.all(np.isfinite(col))
        for y in (2022, 2023):
            assert _series(kind, sid, y).shape == (8760,)
    assert MAN["interpolated_hours"] == 0 and MAN["t0"] == "2022-01-01T00:00Z"


@pytest.mark.parametrize("kind,sid", list(SOURCE_MEANS))
def test_annual_means_match_the_source_within_1pct(kind, sid):
    for y, want in SOURCE_MEANS[(kind, sid)].items():
        got = float(_series(kind, sid, y).mean())
        assert got == pytest.approx(want, rel=0.01), (kind, sid, y)
        assert got == pytest.approx(MAN["series"][f"{kind}__{sid}"]["source_annual_mean"][str(y)], rel=0.01)


def test_utc_alignment_against_source_rows():
    # ERCOT file rows carry a UTC offset: 2021-12-31 18:00-06:00 is 2022-01-01 00:00 UTC (hour 0)
    assert B.load_price_source_units("us-ercot", 2022)[0] == pytest.approx(33.69)
    assert B.load_price_source_units("us-ercot", 2022)[8759] == pytest.approx(23.34)  # 2022-12-31 17:00-06:00
    # CAISO rows are UTC: 2022-01-01 00:00 and 2022-07-01 12:00 (day 181)
    assert B.load_price_source_units("us-caiso", 2022)[0] == pytest.approx(79.62412)
    assert B.load_price_source_units("us-caiso", 2022)[181 * 24 + 12] == pytest.approx(69.68469)
    # Energinet HourUTC 2022-01-01 00:00 and 2023-06-30 12:00 (day 180), DK1
    assert B.load_price_source_units("dk-dk1", 2022)[0] == pytest.approx(41.330002)
    assert B.load_price_source_units("dk-dk1", 2023)[180 * 24 + 12] == pytest.approx(83.150002)
    # carbon file is Danish local time: 2023-07-01T14:00 (CEST, UTC+2) is 12:00 UTC
    assert B.load_carbon_series("dk-dk1", 2023)[181 * 24 + 12] == pytest.approx(106.590822)


def test_negative_prices_are_kept_and_repairs_recorded():
    caiso = B.load_price_source_units("us-caiso", 2023)
    dk1 = B.load_price_source_units("dk-dk1", 2023)
    assert (caiso < 0).sum() == MAN["series"]["price__us-caiso"]["negative_hours"]["2023"] == 146
    assert (dk1 < 0).sum() == MAN["series"]["price__dk-dk1"]["negative_hours"]["2023"] == 281
    reps = {r["series"]: r for r in MAN["repairs"]}
    assert reps["price us-caiso"]["hours"] == 24  # identical rows where two files overlap
    assert reps["carbon DK1"]["local_hours"] == ["2022-10-30 02:00", "2023-10-29 02:00"]
    for name in MAN["source_file_sha256"]:
        assert len(MAN["source_file_sha256"][name]) == 64


def test_regions_use_the_real_price():
    ercot = load_region("us-ercot")
    assert "REAL ERCOT day-ahead" in ercot.meta["source"] and "STYLIZED" not in ercot.meta["source"]
    assert np.allclose(ercot.price.values, B.load_price_usd_per_kwh("us-ercot", 2022))
    assert ercot.meta["kind"] == "real year (carbon and price)"
    miso = load_region("us-miso")  # no real price shipped: the stylized sibling, labelled
    assert "STYLIZED typical day of us-miso-iowa" in miso.meta["source"]
    for rid in ("dk-dk1", "dk-dk2", "us-caiso"):
        assert rid in available_regions() and B.region_kind(rid) == "real"
    dk = load_region("dk-dk1", start_month=7)
    assert "REAL Nord Pool day-ahead" in dk.meta["source"] and "ECB annual mean 2023" in dk.meta["source"]
    assert "DeclarationEmissionHour" in dk.meta["source"]
    # EUR -> USD at the recorded ECB annual mean, hour by hour
    assert dk.price.mean() == pytest.approx(86.8282 * 1.0813 / 1000, rel=1e-3)
    assert dk.carbon.at(0.0) == pytest.approx(B.load_carbon_series("dk-dk1", 2023)[4344])  # 1 July 00:00 UTC
    assert dk.price.values.min() < 0  # negative hours survive the conversion


def test_real_price_changes_the_energy_cost_against_the_stylized_fallback():
    """A flat 10 MW load for a year: energy cost on the real ERCOT 2022 price vs the stylized ERCOT
    typical day (the fallback used before); the real year is priced differently and has spikes."""
    real = load_region("us-ercot").price
    stylized = load_region("us-ercot-texas").price
    t = np.arange(8760) * 3600.0
    cost_real = float((real.at(t) * 10e3).sum())  # USD/kWh x kWh per hour
    cost_styl = float((stylized.at(t) * 10e3).sum())
    assert abs(cost_real / cost_styl - 1) > 0.01  # 2.5 % apart on the annual mean
    # hour by hour the two are far apart: the load running in the real year's 876 dearest hours pays
    # well over twice the stylized price of the same hours
    dear = np.argsort(real.values)[-876:]
    assert real.values[dear].mean() > 2 * stylized.annual_hourly()[dear].mean()
    assert cost_real == pytest.approx(64.3205 * 10 * 8760, rel=0.01)  # $/MWh x MW x h
    assert real.values.max() > 5 * stylized.values.max()  # scarcity hours exist only in the real year
    # time-shifting matters more on the real series: energy-weighted price of a load running only in the
    # 2,000 cheapest hours of the year
    cheap = np.argsort(real.values)[:2000]
    p = np.zeros(8760)
    p[cheap] = 10e6
    assert real.weighted_mean(p, 3600.0) < 0.6 * real.mean()


def test_grid_price_regions_listing():
    from costsim.api import grid as api

    rows = {r.region: r for r in api.grid_price_regions()}
    assert rows["us-ercot"].price == "real" and rows["us-pjm"].price == "stylized"
    assert rows["dk-dk1"].year == 2023 and rows["dk-dk1"].carbon == "real"
    assert rows["dk-dk1"].mean_usd_per_kwh == pytest.approx(86.8282 * 1.0813 / 1000, rel=1e-3)
    info = {r.region: r for r in api.grid_regions()}
    assert info["us-caiso"].price.startswith("real hourly 2022")
    assert info["us-miso"].price.startswith("stylized")


def test_user_csv_of_a_real_year_still_works_with_negative_prices():
    rows = ["hour_of_year,usd_per_kwh,gco2e_per_kwh"] + [f"{h},{0.05 - 0.06 * (h % 24 == 12):.4f},{300 + h % 7}" for h in range(8760)]
    prof = parse_region_csv("\n".join(rows), path="mine.csv")
    assert prof.price.values.shape == (8760,) and prof.price.values.min() == pytest.approx(-0.01)
    with pytest.raises(InputError, match="intensities non-negative"):
        parse_region_csv("\n".join(rows[:5] + ["4,0.05,-1"] + rows[6:]), path="bad.csv")


def _build_module():
    spec = importlib.util.spec_from_file_location("build_price_data", B.GRID_DIR / "build_price_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_build_refuses_bad_data_with_exit_2(capsys):
    bp = _build_module()
    t = bp.HOURS
    v = np.arange(t.size, dtype=float)
    rows = np.arange(2, t.size + 2)
    files = ["f.csv"] * t.size
    arr, notes = bp.on_hours(t, v, rows, files, "price x")
    assert np.array_equal(arr, v) and notes == []
    keep = np.ones(t.size, bool)
    keep[100] = False  # a missing hour
    with pytest.raises(SystemExit) as e:
        bp.on_hours(t[keep], v[keep], rows[keep], [f for f, k in zip(files, keep) if k], "price x")
    assert e.value.code == 2 and "2022-01-05 04:00 UTC is missing" in capsys.readouterr().err
    # a duplicated hour with a different value names the row
    t2 = t.append(pd.DatetimeIndex([t[5]]))
    with pytest.raises(SystemExit) as e:
        bp.on_hours(t2, np.append(v, 99.0), np.append(rows, 17522), files + ["g.csv"], "price x")
    err = capsys.readouterr().err
    assert e.value.code == 2 and "g.csv, row 17522" in err and "different value" in err
    # an identical duplicate (overlapping files) is dropped with a note
    arr, notes = bp.on_hours(t2, np.append(v, v[5]), np.append(rows, 17522), files + ["g.csv"], "price x")
    assert np.array_equal(arr, v) and notes[0]["hours"] == 1
    with pytest.raises(SystemExit) as e:
        bp.numeric(["1.0", "abc"], "h.csv", np.array([2, 3]))
    assert e.value.code == 2 and "h.csv, row 3" in capsys.readouterr().err


def test_a_plan_comparing_regions_on_different_price_bases_says_so():
    """us-caiso's real year is wholesale day-ahead energy (89 USD/MWh), us-caiso-california's typical day the all-in
    industrial rate (186): a cost ranking across them priced one grid twice (a helper's data audit)."""
    from costsim.api.plan_compare import compare_plans
    from costsim.power.balancing import PRICE_BASIS_ALL_IN, PRICE_BASIS_WHOLESALE, price_basis
    from costsim.specs.plan import PlanRequest

    assert price_basis("us-caiso") == price_basis("dk-dk1") == PRICE_BASIS_WHOLESALE
    assert price_basis("us-caiso-california") == price_basis("us-pjm") == PRICE_BASIS_ALL_IN  # us-pjm: its stylized sibling
    req = PlanRequest(target_loss=2.0, lifetime_tokens=1e13, economics={"pricing": "purchase"})
    mixed = compare_plans(req, train_hardware=["h100-sxm"], serve_hardware=["h100-sxm"], regions=["us-caiso", "us-caiso-california"])
    assert "not priced on one basis" in mixed.answer
    same = compare_plans(req, train_hardware=["h100-sxm"], serve_hardware=["h100-sxm"], regions=["us-pjm-virginia", "us-caiso-california"])
    assert "not priced on one basis" not in same.answer


def test_an_hourly_region_file_holds_each_hour_once():
    """hour_of_year 0.5 crashed with an internal error (exit 1); a repeated or missing hour was accepted and shifted the
    rest of the year (a helper's data audit)."""
    from costsim.errors import InputError
    from costsim.power.signals import parse_region_csv

    def csv(hours):
        return "hour_of_year,usd_per_kwh,gco2e_per_kwh\n" + "\n".join(f"{h},0.1,300" for h in hours)

    parse_region_csv(csv(range(8760)), path="ok.csv")
    for hours, words in ((["0.5"] + list(range(1, 8760)), "whole numbers"), (list(range(8759)) + [5], "hour 5"),
                         ([7 * h for h in range(8760)], "outside")):
        with pytest.raises(InputError, match=words):
            parse_region_csv(csv(hours), path="bad.csv")


def test_a_typical_day_region_beside_a_balancing_authority_names_the_two_clocks():
    """grid.start_hour read us-pjm-virginia's typical day in local time and us-pjm's curtailment events in UTC, 5 h
    apart, without a word (a helper's data audit)."""
    from costsim.power.balancing import clock_note

    note = clock_note("us-pjm-virginia", "us-pjm")
    assert note and "UTC" in note and "-5 h" in note and "grid.region us-pjm" in note
    assert clock_note("us-pjm", "us-pjm") is None and clock_note(None, "us-pjm") is None
