"""Reports: unit formatting, HTML (self-contained, escaped), XLSX, PDF, tornado, site power sum."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from costsim.api.run import PartResult, RunResult, VariantResult, combine_site, load_scenario, ranges_of, run_scenario, sim_available
from costsim.report import write_run
from costsim.report.charts import tornado
from costsim.report.fmt import fmt_range, fmt_value, scale
from costsim.report.html import run_report_html
from costsim.report.pdf import find_chromium
from costsim.specs.scenario import scenario_hash
from costsim.api.run import scenario_from_dict

EVIL = '<script>alert("x")</script> & co'


def test_scale_units():
    assert scale("wall_time_s", 54 * 86400) == (54.0, "days")
    assert scale("facility_energy_j", 7.2e9) == (2.0, "MWh")
    assert scale("peak_power_w", 5e7) == (50.0, "MW")
    assert scale("cost_usd", 2.5e6) == (2.5, "$M")
    assert scale("co2e_kg", 3e3) == (3.0, "tCO2e")
    assert scale("goodput_frac", 0.9)[1] == "%"
    assert fmt_value("feasible", False) == "no" and fmt_value("x", None) == "-"
    assert fmt_range("cost_usd", {"min": 1e6, "max": 1e6, "p5": 1e6, "p95": 1e6, "n": 3}) == ""
    assert "min–max" in fmt_range("cost_usd", {"min": 1e6, "max": 2e6, "p5": 1.1e6, "p95": 1.9e6, "n": 3})


def test_ranges_of():
    r = ranges_of([{"a": 1.0, "b": "x", "c": True}, {"a": 3.0, "b": "y", "c": False}])
    assert set(r) == {"a"} and r["a"]["min"] == 1 and r["a"]["max"] == 3 and r["a"]["p50"] == 2
    assert ranges_of([{"a": 1.0}]) == {}


def _part(t, p, pmax=None):
    ts = {"t_s": np.asarray(t, float), "facility_power_mean_w": np.asarray(p, float)}
    if pmax is not None:
        ts["facility_power_max_w"] = np.asarray(pmax, float)
    return PartResult({}, ts, {}, [{}], {})


def test_combine_site_sums_on_union_axis_and_checks_cap():
    tr = _part([0, 10, 20], [100, 200, 100], [150, 250, 150])
    sv = _part([0, 5, 10, 15, 20], [10, 20, 30, 40, 50])
    site, ts = combine_site({"training": tr, "serving": sv}, import_cap_w=260.0)
    assert list(ts["t_s"]) == [0, 5, 10, 15, 20]
    assert list(ts["site_power_w"]) == [110, 120, 230, 240, 150]
    # maxima: training max + serving mean (serving gives no max column)
    assert site["peak_power_w"] == 290 and site["peak_of_mean_power_w"] == 240
    assert site["headroom_w"] == pytest.approx(-30)
    assert 0 < site["time_over_cap_frac"] < 1
    # energy = each part's integral over its own buckets (a part's last bucket as wide as its one before, where its
    # summary does not say when it ended): training 10-s buckets, serving 5-s ones; the union axis had cut training's
    # last bucket to serving's 5 s (2026-12-07: the site's energy is the sum of the parts' energies)
    assert site["energy_j"] == pytest.approx((100 + 200 + 100) * 10 + (10 + 20 + 30 + 40 + 50) * 5)
    assert site["duration_s"] == pytest.approx(30)


def test_tornado_orders_by_spread():
    rows = []
    for g in (1, 2, 4):
        for price in (0.05, 0.10):
            rows.append({"status": "ok", "param_g": g, "param_price": price, "cost_usd": 100.0 / g + price})
    rows.append({"status": "error", "param_g": 8, "param_price": 0.1, "cost_usd": None})
    fig = tornado(rows, "cost_usd", ["param_g", "param_price"])
    assert fig is not None and list(fig.data[0].y) == ["price", "g"]  # widest last (= on top)
    assert tornado([], "cost_usd", ["param_g"]) is None


def _fake_result():
    s = scenario_from_dict({"name": EVIL, "description": EVIL,
                            "training": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_gpus": 8}})
    t = np.arange(0, 600, 60.0)
    pr = PartResult({"feasible": True, "wall_time_s": 3600.0, "cost_usd": 1234.0, "cost_breakdown_usd": {"rental_usd": 1234.0},
                     "facility_energy_j": 3.6e9, "note": EVIL},
                    {"t_s": t, "facility_power_mean_w": 1e4 + t}, {}, [{"cost_usd": 1.0}, {"cost_usd": 2.0}],
                    ranges_of([{"cost_usd": 1.0}, {"cost_usd": 2.0}]))
    site, sts = combine_site({"training": pr}, None)
    v = VariantResult(EVIL, s, scenario_hash(s), {"training": pr}, site, sts, 0.1)
    return RunResult(s, scenario_hash(s), 0, [v], 0.1, "2026-01-01T00:00:00+00:00")


def test_html_is_self_contained_and_escaped():
    html = run_report_html(_fake_result())
    assert EVIL not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in html
    assert not re.search(r"<script[^>]+src=", html)
    assert "plotly" in html.lower() and html.count('class="chart"') >= 2
    # headline first: the headline table comes before the charts and the assumptions
    assert html.index("Headline numbers") < html.index("Charts") < html.index("Assumptions and sources")
    assert "h100" in html.lower() and "https://" in html  # hardware sources listed


def test_write_run_files_and_xlsx(tmp_path):
    import openpyxl
    import pyarrow.parquet as pq

    out = write_run(_fake_result(), tmp_path, pdf=False)
    for f in ("scenario.yaml", "metadata.json", "summary.json", "timeseries.parquet", "report.html", "report.xlsx"):
        assert (tmp_path / f).is_file(), f
    wb = openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)
    assert {"summary", "assumptions"} <= set(wb.sheetnames)
    assert any(n.startswith("ts ") for n in wb.sheetnames)
    src = [r[3] for r in wb["assumptions"].iter_rows(min_row=2, values_only=True)]
    assert any(s and "http" in s for s in src)
    t = pq.read_table(tmp_path / "timeseries.parquet")
    assert {"variant", "part", "t_s"} <= set(t.column_names) and t.num_rows > 0
    assert out["notices"] == []


@pytest.mark.skipif(find_chromium() is None, reason="no headless Chromium on this machine")
def test_pdf_with_chromium(tmp_path):
    out = write_run(_fake_result(), tmp_path, pdf=True)
    pdf = tmp_path / "report.pdf"
    assert pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-", out["notices"]


def test_pdf_notice_without_chromium(tmp_path, monkeypatch):
    import costsim.report.pdf as pdfmod

    monkeypatch.setattr(pdfmod, "find_chromium", lambda: None)
    out = write_run(_fake_result(), tmp_path, pdf=True)
    assert not (tmp_path / "report.pdf").exists()
    assert len(out["notices"]) == 1 and "report.pdf skipped" in out["notices"][0] and "\n" not in out["notices"][0]


@pytest.mark.skipif(not (sim_available("training") and sim_available("serving")), reason="needs both simulations")
def test_train_and_serve_on_one_capped_site():
    """Serving keeps its power; training gets the cap minus serving's peak; the site sums both."""
    s = load_scenario("scenarios/phi3-family-vs-llama3-8b.yaml",
                      ["simulation.duration_s=600", "simulation.include_base=true", "variants=[]", "grid.import_cap_mw=2.0",
                       "training.num_gpus=1024"])
    r = run_scenario(s)
    v = r.variants[0]
    assert set(v.parts) == {"training", "serving"}
    sv_peak = max(np.max(v.parts["serving"].timeseries["facility_power_w"]), 0)
    assert v.site["training_cap_w"] == pytest.approx(2.0e6 - sv_peak, rel=1e-9)
    assert v.parts["training"].summary["grid_cap_w"] == pytest.approx(v.site["training_cap_w"], rel=1e-6)
    ts = v.site_timeseries
    assert np.allclose(ts["site_power_w"], ts["training_facility_power_mean_w"] + ts["serving_facility_power_w"])


def test_a_sweep_over_variants_draws_one_sensitivity_chart_per_variant():
    """An 8B and a 70B model averaged into one tornado fitted neither (a helper's report review): each variant gets
    its own chart, and swept values read without 17 digits."""
    from costsim.report.html import sweep_report_html

    rows = [{"status": "ok", "variant": v, "param_training_num_gpus": g, "param_economics_electricity_usd_per_kwh": p,
             "training_cost_usd": base * (1 + p) * (2048 / g) ** 0.1}
            for v, base in (("small", 2.5e6), ("large", 1.7e7)) for g in (2048, 4096) for p in (0.04768535261750874, 0.15)]
    page = sweep_report_html({"scenario": "s", "mode": "core"}, rows, "training_cost_usd")
    assert "Sensitivity of Training cost: large" in page and "Sensitivity of Training cost: small" in page
    assert "0.04768535261750874" not in page and "0.04769" in page


def test_the_spreadsheet_carries_the_trust_ranges_and_the_uncertainty_study(tmp_path):
    """report.xlsx had neither the error bands (dicts were skipped) nor the uncertainty study's P10-P90 and Sobol'
    indices, which only report.html showed (a helper's report review)."""
    import subprocess
    import sys

    import openpyxl

    out = tmp_path / "u"
    r = subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", "run",
                        "scenarios/llama3-70b-training-uncertainty.yaml", "--out", str(out)], capture_output=True, text=True,
                       cwd=str(Path(__file__).resolve().parents[1]))
    assert r.returncode == 0, r.stderr
    wb = openpyxl.load_workbook(out / "report.xlsx", read_only=True)
    assert "uncertainty" in wb.sheetnames
    keys = [row[2] for row in wb["summary"].iter_rows(values_only=True) if len(row) > 3]
    assert "error_band.low_frac" in keys and "power_error_band.cases" in keys
    unc = list(wb["uncertainty"].iter_rows(values_only=True))
    assert unc[0][:5] == ("variant", "metric (SI units)", "p10", "p50", "p90")
    assert any(row[1] == "training_cost_usd" and row[8] is not None for row in unc[1:])
    full = openpyxl.load_workbook(out / "report.xlsx")
    header = next(i for i, r in enumerate(full["summary"].iter_rows(values_only=True), 1) if r[0] == "variant")  # below the answer
    assert full["summary"].freeze_panes == f"A{header + 1}" and full["uncertainty"].freeze_panes == "A2"  # headers stay in view
    # the table and the closing line counted 1,792 points where the progress bar and the store had 1,728: the design's
    # rows that repeat a point (its empirical input has 4 values) run once (a helper's documentation pass)
    import json as _json
    import re

    from costsim.sweep.store import query

    doc = _json.loads((out / "uncertainty" / "uncertainty.json").read_text())
    stored = query(out / "uncertainty", "SELECT count(DISTINCT point_id) FROM points")[1][0][0]
    assert doc["distinct_points"] == stored
    said = re.findall(r"([\d,]+) design rows on ([\d,]+) distinct points", r.stdout + r.stderr)
    assert said and all(int(b.replace(",", "")) == stored and int(a.replace(",", "")) == doc["points"] for a, b in said)


def test_the_answer_prices_the_span_it_times_and_says_why_a_cost_is_missing():
    """A training run the window cut is answered with its projected time AND its projected energy, cost and CO2e (the
    window's $158.5k had stood beside a 43-day projection costing $3.43M); an unpriced part says so with the fix; the
    simulation's assumptions read with units (a helper's report review)."""
    from types import SimpleNamespace

    from costsim.report.assumptions import _assumption_value
    from costsim.report.conclusion import _training_sentence

    w = SimpleNamespace(model="llama-3-70b", num_gpus=1024, hardware="h100-sxm", lora_rank=None)
    cut = {"completed": False, "wall_time_s": 7 * 86400.0, "projected_wall_time_s": 43.31 * 86400,
           "facility_energy_j": 246.5 * 3.6e9, "projected_facility_energy_j": 5.3e3 * 3.6e9,
           "cost_usd": 158.5e3, "projected_cost_usd": 3.432e6, "co2e_kg": 92.55e3, "projected_co2e_kg": 2.0e6}
    sent = _training_sentence(cut, w, {}, {})
    assert "43.31 days" in sent and "$3.432M" in sent and "5,300 MWh" in sent and "$158.5k" not in sent
    unpriced = _training_sentence({"completed": True, "wall_time_s": 86400.0 * 3, "cost_usd": None,
                                   "cost_unavailable_reason": "tpu-v7 has no price for this pricing basis (no quote)"}, w, {}, {})
    assert "no cost: tpu-v7 has no price" in unpriced and "economics.usd_per_gpu_hour" in unpriced
    assert _assumption_value(2e12, "B/s") == "2,000 GB/s" and _assumption_value(1.9732816719714516e-05, "1/GPU-h") == "0.00001973 per GPU-hour"


def test_labels_and_units_of_keys_past_the_si_suffixes():
    """Keys named in days, MWh, MW, litres and W/s read with their unit; Little's law's lambda x W is a count of
    requests, not watts; the spreadsheet's summary rows carry the label and the value with its unit, a record's field
    taking the record's unit (a review of report.xlsx: 'Littles law lambda 149.7 W', 'Wall time days 0.04167',
    'Max ramp w per second', 'time_in_state_s.down 2,866' with no unit)."""
    from costsim.report.fmt import fmt_value, label
    from costsim.report.xlsx import _readable

    assert fmt_value("littles_law_lambda_w", 149.7) == "149.7" and "requests" in label("littles_law_lambda_w")
    assert fmt_value("wall_time_days", 12.5) == "12.5 days" and label("wall_time_days") == "Wall time"
    assert fmt_value("facility_energy_mwh", 33.37) == "33.37 MWh" and label("facility_energy_mwh") == "Facility energy"
    assert fmt_value("power_mw", 20) == "20 MW" and fmt_value("water_l", 12.0) == "12 L"
    assert label("max_ramp_w_per_s") == "Max ramp" and fmt_value("max_ramp_w_per_s", 2.148e8) == "214.8 MW/s"
    assert label("interruptions_by_class") and "NIC" in label("nic") and label("io_expansion_board") == "I/O expansion board"
    assert _readable("down", 713.0, "training", "Time in state: ", unit_key="time_in_state_s") == ["Time in state: Down", "11.88 min"]
    assert _readable("embodied_kg", 2803.5, "training", "", unit_key="co2e_breakdown_kg")[1] == "2.804 tCO2e"
    assert _readable("cases", 24, "training", "Error band: ") == ["Error band: Cases", "24"]


def test_a_multi_variant_answer_opens_with_a_verdict():
    """Three variants' answers had no verdict: each variant got its own sentence and the reader compared them. The
    answer now opens with which variant wins each criterion and by how much; a window-cut run competes on its
    projection, a serving variant that misses its SLOs or an infeasible one is left out and named, near-equal
    figures tie."""
    from types import SimpleNamespace as NS

    from costsim.report.conclusion import verdict

    def var(name, part, **summary):
        return NS(name=name, parts={part: NS(summary=summary, ranges={})}, scenario=NS(), site={})

    day = 86400.0
    res = NS(variants=[
        var("big", "training", completed=True, wall_time_s=10 * day, cost_usd=2e6, facility_energy_j=3.6e12, co2e_kg=4e5),
        var("small", "training", completed=False, wall_time_s=1 * day, projected_wall_time_s=4 * day, cost_usd=1e5,
            projected_cost_usd=1.0e6, facility_energy_j=3.6e11, projected_facility_energy_j=1.8e12, co2e_kg=1e4, projected_co2e_kg=4e5),
        var("capped", "training", completed=True, grid_cap_feasible=False, wall_time_s=0.5 * day, cost_usd=1.0)])
    (sent,) = verdict(res)
    # a window-cut run's figures are its projections, and say so (it had ranked against a completed run unmarked)
    assert sent.startswith("Across the 3 variants' training, fastest: small (4 days projected, 60% below big)")
    assert "cheapest: small ($1M projected, 50% below big)" in sent and "least CO2e: big and small tie at 400 tCO2e" in sent
    assert "capped left out (does not fit the grid import cap)" in sent
    srv = NS(variants=[var("a", "serving", slo_ttft_p99_met=True, cost_usd_per_million_tokens=2.0, energy_per_token_j=1.0),
                       var("b", "serving", slo_ttft_p99_met=False, cost_usd_per_million_tokens=1.0, energy_per_token_j=0.5),
                       var("c", "serving", cost_usd_per_million_tokens=3.0, energy_per_token_j=2.0)])
    (s2,) = verdict(srv)
    assert "a wins every count: cheapest per token at $2 per million tokens, least energy per token at 1 J, 33-50% below c" in s2
    assert "b left out (misses its latency SLOs)" in s2
    assert verdict(NS(variants=res.variants[:1])) == []
    # near-equal figures that read differently are a tie within the margin, with the spread (it said 'tie at 52,319
    # MWh' where one was 52,372), and a comparison one variant alone qualifies for says so (it said nothing)
    near = NS(variants=[var("pjm", "training", completed=True, wall_time_s=day, facility_energy_j=52_319 * 3.6e9),
                        var("ercot", "training", completed=True, wall_time_s=day, facility_energy_j=52_372 * 3.6e9)])
    assert "tie within 0.5% (52,319 MWh to 52,372 MWh)" in verdict(near)[0]
    alone = NS(variants=[var("hybrid", "serving", slo_ttft_p99_met=True, cost_usd_per_million_tokens=2.0),
                         var("dense", "serving", slo_ttft_p99_met=False, cost_usd_per_million_tokens=1.0)])
    assert verdict(alone) == ["Across the 2 variants' serving, only hybrid qualifies; dense left out (misses its latency SLOs)."]


def test_all_results_lists_records_field_by_field_and_wraps_text():
    """report.html's 'All results' dropped every record (cost_breakdown_usd, time_in_state_s, co2e_breakdown_kg) and set
    long text in unbreakable number cells, so the table ran off the page (a report review)."""
    from costsim.report.html import CSS, _summary_items

    items = _summary_items({"wall_time_s": 3600.0, "time_in_state_s": {"down": 713.0}, "co2e_breakdown_kg": {"embodied_kg": 2803.5},
                            "notes": ["x"], "step_table_source": "costsim.core.inference (decode_step_breakdown / ...)"})
    assert [(k, u) for k, _, u in items] == [("wall_time_s", "wall_time_s"), ("time_in_state_s.down", "time_in_state_s"),
                                             ("co2e_breakdown_kg.embodied_kg", "co2e_breakdown_kg.embodied_kg"),
                                             ("step_table_source", "step_table_source")]
    assert "overflow-wrap:break-word" in CSS


def test_a_device_on_its_battery_answers_in_hours_of_use():
    """The iPhone scenario asks how much battery an hour of chat takes; its answer and table left it out (the numbers
    were only in summary.json; a helper's documentation pass)."""
    from costsim.report.conclusion import conclusion
    from costsim.report.fmt import headline_keys

    res = run_scenario(load_scenario("scenarios/phi3-mini-on-iphone.yaml"))
    s = res.variants[0].parts["serving"].summary
    assert 0 < s["battery_drain_frac_per_hour"] < 1 and s["battery_hours_of_chat"] == pytest.approx(1 / s["battery_drain_frac_per_hour"])
    assert f"a full battery lasts {s['battery_hours_of_chat']:,.3g} hours of this traffic" in " ".join(conclusion(res))
    keys = headline_keys(s)
    assert "battery_hours_of_chat" in keys and "battery_drain_frac_per_hour" in keys
    assert fmt_value("battery_drain_frac_per_hour", 0.25) == "25 % per hour"


def test_human_output_writes_no_exponents():
    """Exponents in prose and tables (a helper's documentation pass): the plan's '5.76e+23 FLOP in total', a
    headline's '7.2e+11T' FLOP, validate's '3.13e+04' cells, the sweep estimate's '~3.02e+03 ms', query's '2.90169e+06',
    engines' '3.83e-05'."""
    from costsim.cli.run import _cell_text
    from costsim.numtext import count
    from costsim.validation.labels import MetricDisplay

    assert fmt_value("total_flop", 7.2e23) == "720 ZFLOP" and count(1.5e15) == "1,500T" and count(1.39e12) == "1.39T"
    assert MetricDisplay("throughput, tokens/s").text(31297.4) == "31,300"
    assert _cell_text(2901690.0) == "2,901,690" and _cell_text(0.977196) == "0.977196"
    assert fmt_value("seq_overhead_s", 3.83e-5) == "0.0383 ms"
    for text in (MetricDisplay("x").text(1.23e7), _cell_text(1.23e7), fmt_value("training_flop", 5.76e23), count(9.9e15)):
        assert "e+" not in text and "e-" not in text, text


def test_tornado_of_random_draws_reads_fifths_not_single_rows():
    # a --random sweep: every row has its own value of each parameter; the metric follows a alone, b is noise-free
    # but its extreme rows carry whatever a was drawn there
    rng = np.random.default_rng(3)
    a, b = rng.uniform(1.0, 2.0, 200), rng.uniform(0.0, 1.0, 200)
    rows = [{"status": "ok", "param_a": float(x), "param_b": float(y), "cost_usd": 100.0 * x} for x, y in zip(a, b)]
    # the row with the largest b has a small a, the one with the smallest b a large a: single rows would rank b first
    i_hi, i_lo = int(np.argmax(b)), int(np.argmin(b))
    rows[i_hi]["param_a"], rows[i_hi]["cost_usd"] = 1.0, 100.0
    rows[i_lo]["param_a"], rows[i_lo]["cost_usd"] = 2.0, 200.0
    fig = tornado(rows, "cost_usd", ["param_a", "param_b"])
    assert list(fig.data[0].y) == ["b", "a"]  # a widest (on top)
    spread = {name: abs(h - l) for name, l, h in zip(fig.data[0].y, fig.data[0].x, fig.data[1].x)}
    assert spread["a"] > 60.0 and spread["b"] < 20.0
    assert fig.data[0].name == "lowest fifth of draws" and fig.data[0].text[0].startswith("<= ")


def test_a_zero_energy_reads_in_the_unit_of_the_energies_beside_it():
    """A run with no power-floor kernel read 'mitigation energy 0 J' beside '33.37 MWh' of facility energy (report.html's
    all results, the spreadsheet, the CLI table, the app's scenario page: all report.fmt.fmt_value); a zero total energy
    reads 0 MWh, and the app's energy figures say the same ('0 kWh' before). An energy per token stays in J."""
    from costsim.ui.fmt import energy_mwh

    assert fmt_value("mitigation_energy_j", 0.0) == "0 MWh" and fmt_value("battery_losses_j", 0) == "0 MWh"
    assert fmt_value("ba_energy_not_drawn_j", 1e-6) == "0 MWh"  # float noise reads as the zero it is
    assert fmt_value("facility_energy_j", 1.2013e11) == "33.37 MWh" and fmt_value("serving_facility_energy_j", 1.6664e9) == "462.9 kWh"
    assert fmt_value("energy_per_token_j", 0.0) == "0 J" and fmt_value("energy_per_token_j", 30.59) == "30.59 J"
    assert energy_mwh(0.0) == "0 MWh" and energy_mwh(3.6e9) == "1.00 MWh"
    r = _fake_result()
    r.variants[0].parts["training"].summary["mitigation_energy_j"] = 0.0
    html = re.sub(r"<[^>]+>", " ", run_report_html(r))
    assert re.search(r"\b0 MWh\b", html) and not re.search(r"(?<![\d.,])0 J\b", html)


def test_a_zero_site_power_reads_in_megawatts_and_a_devices_in_watts():
    """'site: Headroom 0 W' sat beside '50 MW' (found in the app check); a device's power stays in W."""
    assert fmt_value("headroom_w", 0.0) == "0 MW" and fmt_value("facility_peak_power_w", 0.0) == "0 MW"
    assert fmt_value("grid_import_max_w", 1e-6) == "0 MW"
    assert fmt_value("gpu_power_w", 0.0) == "0 W" and fmt_value("host_power_per_gpu_w", 0.0) == "0 W"
    assert fmt_value("headroom_w", 5e7) == "50 MW"


def test_all_results_raw_column_reads_as_a_reader_expects():
    """The 'raw' column of report.html's 'All results' printed Python's None / True / False: a missing value reads '-',
    a switch yes / no, and a number unrounded in the SI unit its key names."""
    import html as html_lib

    r = _fake_result()
    pr = r.variants[0].parts["training"]
    pr.summary.update({"gpu_power_cap_w": None, "checkpoint_interval_clipped": False, "goodput_frac": float("nan"),
                       "tokens_trained": 14999999999999.998})
    page = run_report_html(r)
    table = page[page.index("<h2>All results</h2>"):page.index("<h2>Scenario (resolved")]
    cells = [html_lib.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", table)]
    assert not {"None", "True", "False", "nan"} & set(cells), cells
    rows = {cells[i]: cells[i + 2] for i in range(0, len(cells), 4)}  # key -> raw
    assert rows["feasible"] == "yes" and rows["checkpoint_interval_clipped"] == "no"
    assert rows["gpu_power_cap_w"] == "-" and rows["goodput_frac"] == "-"
    assert rows["wall_time_s"] == "3600.0 s" and rows["facility_energy_j"] == "3600000000.0 J"
    assert rows["cost_breakdown_usd.rental_usd"] == "1234.0 USD" and rows["tokens_trained"] == "14999999999999.998"
    from costsim.report.fmt import fmt_raw

    assert fmt_raw("x", np.bool_(True)) == "yes" and fmt_raw("energy_j", np.float64(2.5)) == "2.5 J"


def test_a_range_whose_ends_print_the_same_prints_one_value():
    """The console headline read 'Tokens trained 15T / 15T – 15T, min–max of 3 replicates': float noise
    (14999999999999.998 against 15e12) made a range of ends that print the same."""
    from costsim.report.uncertainty import conclusion

    assert fmt_range("tokens_trained", {"min": 14999999999999.998, "max": 15e12, "n": 3}) == ""
    assert fmt_range("wall_time_s", {"min": 3600.0 * (1 - 1e-12), "max": 3600.0, "n": 3}) == ""
    assert fmt_range("tokens_trained", {"min": 10.05e12, "max": 10.18e12, "n": 3}) == "10.05T – 10.18T, min–max of 3 replicates"
    # p5 and p95 print the same while the extremes differ: one value, still labelled
    r = {"p5": 1e6 * (1 - 1e-12), "p95": 1e6, "min": 0.9e6, "max": 1.1e6, "n": 30}
    assert fmt_range("cost_usd", r) == "$1M, p5–p95 of 30 replicates"
    band = {"n": 32, "min": 14999999999999.998, "max": 15e12, "p10": 14999999999999.998, "p50": 15e12, "p90": 15e12}
    cost = {"n": 32, "min": 1e6, "max": 2e6, "p10": 1.2e6, "p50": 1.5e6, "p90": 1.8e6}
    doc = {"design": "sobol", "variants": {"base": {"metrics": {"training_tokens_trained": {"band": band},
                                                                "training_cost_usd": {"band": cost}}}}}
    text = conclusion(doc)
    assert "15T – 15T" not in text and "okens trained" not in text and "P10–P90 $1.2M – $1.8M" in text, text
