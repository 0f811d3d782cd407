"""Curtailment-enabled headroom against the published study, its invariants, the CLI/JSON
interface, and a 100k-GPU run that sees a balancing authority's curtailment events.

Study: Norris, Profeta, Patino-Echeverri, Cowie-Haskell, "Rethinking Load Growth: Assessing the
Potential for Integration of Large Flexible Loads in US Power Systems", Nicholas Institute, Duke
University, Feb 2025 (NI R 25-01, https://hdl.handle.net/10161/32077).
Method reproduced (pp. 15-17, App. C): EIA-930 hourly demand 2016-2024 (here: the cleaned series
of Ruggles & Farnham, same years), seasonal planning peaks (max summer / winter load over the nine
years), constant new load, goal-seek on the mean over years of the yearly curtailed energy share.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from costsim.api.grid import grid_headroom
from costsim.core import headroom as H
from costsim.power.balancing import ba_region_ids

YEARS = list(range(2016, 2025))  # the study's years, all shipped


@pytest.fixture(scope="module")
def results():
    return {r: grid_headroom(r, curtailment_pct=(0.25, 0.5, 1.0, 5.0), years=YEARS) for r in ba_region_ids()}


@pytest.mark.parametrize("region", ["us-pjm", "us-ercot", "us-miso", "us-caiso"])
def test_headroom_reproduces_study_figure1_at_half_percent(results, region):
    """Figure 1 (p. 4) / Figure 8 (p. 19): PJM 17.8, ERCOT 10.0, MISO 14.8, CAISO 5.0 GW at 0.5 %.
    +-20 %: the issue's tolerance for differences in data cleaning (ours: Ruggles & Farnham's MICE
    imputation; the study's: its own, App. B) and PJM 2020-2024 as a sum of subregions."""
    lv = results[region].results[1]
    assert lv.curtailment_pct == 0.5
    assert abs(lv.headroom_vs_study_frac) <= 0.20, (region, lv.headroom_w, lv.study_headroom_w)


#: BA and level -> why ours misses the study's Figure 1 by more than 20 % (all below the study). Not tuned away.
HEADROOM_KNOWN_GAPS = {
    ("us-pace", 0.25): "PacifiCorp East: ours 0.70 / 0.86 / 1.03 GW vs 1.2 / 1.5 / 1.8 GW. Cause not found: its cleaned "
                       "series has no flagged peak hours (2024 peak 9,562 MW, OKAY), and averaging per-year headroom (the other "
                       "reading of the method) gives -28..-37 % while it breaks ERCOT (+19..+119 %); the study's own EIA-930 "
                       "download and cleaning (App. B) may differ for this BA",
    ("us-azps", 1.0): "fast-growing Southwest BA (peak +12 % 2016-2024): -22 % at 1 % only; 0.25 / 0.5 % within 13 %",
    ("us-srp", 1.0): "fast-growing Southwest BA (peak +26 % 2016-2024): -24 % at 1 % only; 0.25 / 0.5 % within 17 %",
    ("us-pacw", 0.5): "PacifiCorp West: -20 % / -21 % at 0.5 / 1 %, -16 % at 0.25 %",
}
HEADROOM_KNOWN_GAPS[("us-pace", 0.5)] = HEADROOM_KNOWN_GAPS[("us-pace", 1.0)] = HEADROOM_KNOWN_GAPS[("us-pace", 0.25)]
HEADROOM_KNOWN_GAPS[("us-pacw", 1.0)] = HEADROOM_KNOWN_GAPS[("us-pacw", 0.5)]


def test_headroom_all_shipped_bas_all_levels_within_20pct(results):
    """All 22 BAs of the study, 2016-2024: within 20 % at every level except the recorded gaps, which stay
    below -45 % (so a regression there still fails)."""
    inside = 0
    for region, res in results.items():
        for lv in res.results:
            if lv.study_headroom_w is None:  # 5 %: the study gives only the national total (215 GW)
                continue
            if (region, lv.curtailment_pct) in HEADROOM_KNOWN_GAPS:
                assert -0.45 <= lv.headroom_vs_study_frac < 0.0, (region, lv.curtailment_pct, lv.headroom_vs_study_frac)
                continue
            assert abs(lv.headroom_vs_study_frac) <= 0.20, (region, lv.curtailment_pct, lv.headroom_vs_study_frac)
            inside += 1
    assert inside == 22 * 3 - len(HEADROOM_KNOWN_GAPS)


def test_national_total_headroom_matches_study(results):
    """Study p. 4 / Figure 7: 76 / 98 / 126 / 215 GW over its 22 BAs at 0.25 / 0.5 / 1 / 5 %. Ours: the same
    22 BAs (sum of each BA's headroom) within 10 %."""
    tot = np.sum([[lv.headroom_w for lv in r.results] for r in results.values()], axis=0) / 1e9
    assert np.allclose(tot, [76, 98, 126, 215], rtol=0.10), tot


#: Study Figure 10 (p. 20), averages over its 22 BAs, hours per year at 0.25 / 0.5 / 1 / 5 %: with any
#: curtailment, and keeping >= 50 / 75 / 90 % of the new load.
FIG10_HOURS = {"any": [85, 177, 366, 1848], "50": [73, 155, 323, 1644], "75": [50, 106, 224, 1127], "90": [24, 52, 110, 543]}


def test_hours_and_load_kept_match_study_cross_ba_averages(results):
    """Study p. 20 / Figure 10, averages over its 22 BAs (85 / 177 / 366 / 1,848 curtailed hours a year at
    0.25 / 0.5 / 1 / 5 %; of those, the hours that keep >= 50 / 75 / 90 % of the new load). Ours: the mean over
    the same 22 BAs. +-10 % on hours, +-4 points on each share (data cleaning differs).
    Measured (2016-2024, 22 BAs): 87 / 185 / 383 / 1,868 h; shares 0.85-0.89 / 0.59-0.62 / 0.28-0.31 against the
    study's 0.86-0.89 / 0.59-0.61 / 0.28-0.30."""
    hours = np.mean([[lv.curtailed_hours_per_year for lv in r.results] for r in results.values()], axis=0)
    assert np.allclose(hours, FIG10_HOURS["any"], rtol=0.10), hours
    study_any = np.array(FIG10_HOURS["any"], float)
    for key, attr in (("50", "hours_kept_50pct_frac"), ("75", "hours_kept_75pct_frac"), ("90", "hours_kept_90pct_frac")):
        ours = np.mean([[getattr(lv, attr) for lv in r.results] for r in results.values()], axis=0)
        study = np.array(FIG10_HOURS[key]) / study_any
        assert np.all(np.abs(ours - study) <= 0.04), (key, ours, study)


@pytest.mark.xfail(strict=True, reason=(
    "KNOWN GAP, cause below: the study reports mean curtailment durations of 1.7 / 2.1 / 2.5 / 4.5 h at 0.25 / 0.5 / 1 / "
    "5 % (p. 20, average over its 22 BAs); runs of consecutive curtailed hours on the same data and the same 22 BAs give "
    "4.0 / 4.5 / 5.2 / 9.1 h (so not a subset effect), although the national headroom (74 / 96 / 123 / 208 GW vs 76 / 98 "
    "/ 126 / 215), curtailed hours per year (87 / 185 / 383 / 1,868 vs 85 / 177 / 366 / 1,848) and the shares of hours "
    "keeping >= 50 / 75 / 90 % of the load (within 2 points) match. At 5 % the study's figures imply 1,848 / 4.5 = 410 "
    "events a year where the runs number ~200: its numbers are half the run lengths (next test), i.e. each event's start "
    "and end counted as an event. costsim's mean_event_h stays the run length. Not tuned away."))
def test_mean_event_length_matches_study_cross_ba_average(results):
    mean_ev = np.mean([[lv.mean_event_h for lv in r.results] for r in results.values()], axis=0)
    assert np.all(np.abs(mean_ev - np.array([1.7, 2.1, 2.5, 4.5])) <= 0.5), mean_ev


def test_study_event_length_is_curtailed_hours_per_change_of_state(results):
    """The cause of the gap above, checked with no free parameter: the study's 1.7 / 2.1 / 2.5 / 4.5 h (p. 20, average
    over its 22 BAs, years 2016-2024, seasonal peaks, constant load, the same method and data as the tests above) are,
    within the issue's +-0.5 h, the curtailed hours per change of state (an event's start and end each counted:
    hours_per_state_change_h, ours 2.0 / 2.3 / 2.6 / 4.6 h), and the run length is twice that. The study gives no
    formula; this is the counting that reproduces all four of its figures."""
    per_change = np.mean([[lv.hours_per_state_change_h for lv in r.results] for r in results.values()], axis=0)
    runs = np.mean([[lv.mean_event_h for lv in r.results] for r in results.values()], axis=0)
    assert np.all(np.abs(per_change - np.array([1.7, 2.1, 2.5, 4.5])) <= 0.5), per_change
    assert np.allclose(per_change, runs / 2, rtol=0.05)


def test_hours_limit_variant_and_shape():
    r = grid_headroom("us-ercot", curtailment_pct=[1.0], by="hours")
    assert abs(r.results[0].curtailed_hours_per_year / 87.6 - 1) < 0.02  # 1 % of the hours (8760-8784 a year)
    flat = grid_headroom("us-ercot", curtailment_pct=[0.5]).results[0].headroom_w
    # a load that sleeps 16:00-22:00 local (22-04 UTC), the evening peak, fits a higher peak
    shape = [0.0 if (h >= 22 or h < 4) else 1.0 for h in range(24)]
    shaped = grid_headroom("us-ercot", curtailment_pct=[0.5], shape=shape).results[0].headroom_w
    assert shaped > flat


def test_a_limit_no_load_can_meet_says_why_the_headroom_is_zero():
    """0.01 % of one year is under one hour: the seasonal peak hours (margin 0) curtail any new load whole, so the
    headroom is 0 GW. The table said 0.00 GW with no reason (a helper's audit)."""
    r = grid_headroom("us-pjm", curtailment_pct=[0.01, 0.05], years=[2023])
    assert r.results[0].headroom_w == 0.0 and r.results[1].headroom_w > 0.0
    said = [n for n in r.notes if n.startswith("no constant new load fits")]
    assert len(said) == 1 and "0.01 %" in said[0] and "0.05 %" not in said[0] and "hours a year" in said[0]
    assert not any(n.startswith("no constant new load fits") for n in grid_headroom("us-pjm", curtailment_pct=[0.5], years=[2023]).notes)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.0, 10.0), min_size=48, max_size=300), st.floats(0.01, 5.0))
def test_curtailment_rate_invariants(margins, load):
    m = np.asarray(margins)
    yr = np.repeat([0, 1], [m.size // 2, m.size - m.size // 2])
    rates = H.curtailment_rate(m, yr, [load, 2 * load])
    assert np.all((rates >= 0) & (rates <= 1)) and rates[1] >= rates[0] - 1e-12
    direct = np.mean([np.clip(load - m[yr == y], 0, load).sum() / (load * np.sum(yr == y)) for y in (0, 1)])
    assert rates[0] == pytest.approx(direct, rel=1e-9, abs=1e-12)
    hr = H.headroom_w(m * 1e6, yr, [0.05], tol_w=1.0)[0]
    assert H.curtailment_rate(m * 1e6, yr, [hr])[0] <= 0.05 + 1e-9


def test_pause_and_shift_bracket_curtailment():
    m = np.array([5.0, 1.0, 0.0, 3.0, 6.0, 6.0, 6.0, 6.0]) * 1e6
    c = H.curtailment_w(m, 4e6)
    p = H.pause_curtailment_w(m, 4e6, 0.3)
    assert np.all(p >= c) and p[2] == 4e6  # 100 % cut needed: pauses; 75 % cut < 70 % floor -> pauses too
    served, lost = H.shift_curtailment_w(m, 4e6, max_delay_h=3)
    assert np.allclose(served + lost, c) and served.sum() > 0


def test_cli_headroom_json_keys():
    r = subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", "grid", "headroom", "--region", "us-pjm",
                        "--curtailment", "0.25,0.5,1", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["region"] == "us-pjm" and doc["years"] == YEARS
    assert [x["curtailment_pct"] for x in doc["results"]] == [0.25, 0.5, 1.0]
    for x in doc["results"]:
        for k in ("curtailment_pct", "headroom_w", "events", "mean_event_h", "max_event_h", "load_kept_frac_median"):
            assert isinstance(x[k], (int, float)), k
    r = subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", "grid", "regions", "--json"], capture_output=True, text=True)
    ids = [x["region"] for x in json.loads(r.stdout)["regions"]]
    assert {"us-pjm", "us-ercot", "us-miso", "us-caiso", "us-azps", "us-pge"} <= set(ids) and len(ids) == 22


@pytest.mark.parametrize("args", [["--region", "us-nowhere"], ["--region", "us-pjm", "--curtailment", "0"],
                                  ["--region", "us-pjm", "--curtailment", "inf"], ["--region", "us-pjm", "--years", "2030"],
                                  ["--region", "us-pjm", "--by", "x" * 5000], ["--load-csv", "/nonexistent.csv"], []])
def test_cli_bad_input_exit_2(args):
    r = subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", "grid", "headroom", *args], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.startswith("error:"), (args, r.stderr[-300:])


def test_grid_page_renders_and_refuses_bad_limits():
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "costsim" / "ui" / "pages" / "grid.py"), default_timeout=120)
    at.run()
    assert not at.exception
    assert "GW of constant new load fits" in at.markdown[0].value
    at.text_input[0].set_value("abc").run()
    assert not at.exception and at.error


def test_events_chart_units():
    from costsim.api.grid import curtailment_events, load_series
    from costsim.power.ba_events import margin_w
    from costsim.report.grid_charts import events_over_year

    rows, t, c = curtailment_events("us-caiso", new_load_w=5e9, years=[2022])
    full = load_series("us-caiso")
    thr = (margin_w(full) + full.load_w)[full.year == 2022]
    fig = events_over_year(t, load_series("us-caiso", years=[2022]).load_w, thr, c, title="x")
    assert rows and fig.layout.yaxis.title.text == "GW" and fig.layout.yaxis2.title.text == "MW curtailed"
