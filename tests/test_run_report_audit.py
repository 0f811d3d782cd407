"""A planner's audit of `costsim run`'s reports: the assumptions table reads in words and units (no Python True / None,
no raw field names), a training run's cost names the rate it uses, counts round before they take their suffix, a
zero beside megawatts reads in MW, variant differences never read '-0.0%', and summary.json and report.xlsx open with
the answer report.html and the CLI give."""

from __future__ import annotations

import json
import re

import numpy as np

from costsim.api.run import PartResult, RunResult, VariantResult, combine_site, scenario_from_dict
from costsim.specs.scenario import scenario_hash

PY_REPR = re.compile(r"\b(True|False|None|nan|inf)\b")


def _result(variants: dict[str, dict]) -> RunResult:
    s = scenario_from_dict({"name": "audit", "description": "d", "training": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_gpus": 8}})
    out = []
    for name, summary in variants.items():
        t = np.arange(0, 600, 60.0)
        pr = PartResult(summary, {"t_s": t, "facility_power_mean_w": 1e4 + t}, {}, [{}], {})
        site, sts = combine_site({"training": pr}, None)
        out.append(VariantResult(name, s, scenario_hash(s), {"training": pr}, site, sts, 0.1))
    return RunResult(s, scenario_hash(s), 0, out, 0.1, "2026-01-01T00:00:00+00:00")


def test_the_assumptions_table_reads_in_words_and_units():
    """The table printed economics.include_embodied 'True', '[default None]' and 'facility.fabric_storage_w_per_gpu
    100.0'; a balancing authority's and a battery's settings had no row at all."""
    from costsim.report.assumptions import assumption_rows

    s = scenario_from_dict({"name": "a", "training": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_gpus": 8},
                            "grid": {"region": "us-pjm", "battery": {"energy_mwh": 10, "power_mw": 5},
                                     "balancing_authority": {"region": "us-pjm", "curtailment_pct": [0.25, 0.5]}}})
    rows = {r["path"]: r for r in assumption_rows(s) if r.get("path")}
    for r in rows.values():
        assert not PY_REPR.search(r["value"]) and not PY_REPR.search(r["source"]), r
        assert "_" not in r["item"], r["item"]  # words, not the field's name (its path is beside it)
    assert rows["economics.include_embodied"]["value"] == "yes"
    assert rows["facility.fabric_storage_w_per_gpu"]["value"] == "100 W per GPU"
    assert rows["economics.electricity_usd_per_kwh"]["value"] == "0.08 $/kWh"
    assert rows["economics.utilization_frac"]["value"] == "80 %"
    assert rows["grid.region"]["source"].endswith("[set by the scenario; default none]")
    assert rows["grid.battery.energy_mwh"]["value"] == "10 MWh" and rows["grid.balancing_authority.year"]["value"] == "2023"
    assert rows["grid.balancing_authority.curtailment_pct"]["value"] == "0.25 %, 0.5 %"


def test_a_training_runs_assumptions_name_the_rate_its_cost_uses():
    """Under purchase pricing the training simulation listed only the rental rate (3.495 $ per GPU-hour) beside a cost
    built on the amortized purchase price, and no source for the electricity price or grid carbon it billed."""
    from costsim.api.run import load_scenario, run_scenario

    s = load_scenario("scenarios/llama3-8b-vs-70b-training.yaml", ["economics.pricing=purchase", "simulation.duration_s=600",
                                                                   "simulation.replicates=1"])
    v = run_scenario(s).variants[0]
    names = {a["name"]: a for a in v.parts["training"].summary["assumptions"]}
    assert {"amortized_usd_per_gpu_hour", "electricity_usd_per_kwh", "grid_gco2e_per_kwh", "embodied_kgco2e_per_gpu"} <= set(names)
    assert "purchase" in names["amortized_usd_per_gpu_hour"]["source"]


def test_counts_round_before_they_take_their_suffix():
    from costsim.numtext import count

    assert count(999_999_999.7, 4) == "1B"  # was '1,000M' beside '1B' in the same row
    assert count(999_999.6) == "1M" and count(999_940_000, 4) == "999.9M" and count(1.5e15) == "1,500T"


def test_a_balancing_authoritys_zero_power_reads_in_megawatts():
    from costsim.report.fmt import fmt_value

    assert fmt_value("ba_power_cap_to_avoid_w", 0.0) == "0 MW"  # was '0 W' beside '2,111 MW'


def test_variant_differences_never_read_minus_zero():
    from costsim.report.conclusion import change_text, variant_deltas

    assert change_text(99.72, 99.75) == "-0.03%" and change_text(1.0, 1.0) == "0%" and change_text(5.978, 2.184) == "+173.7%"
    assert change_text(0.9994996, 0.9995) == "-0.00004%"  # not '-4e-05%' (phi3-family's SLO attainment)
    r = _result({"a": {"goodput_frac": 0.9975, "wall_time_s": 3600.0}, "b": {"goodput_frac": 0.9972, "wall_time_s": 3600.0}})
    cells = [row["b"] for row in variant_deltas(r)]
    assert cells and not any(re.search(r"[-+]0\.0%", c) for c in cells), cells


def test_the_cli_table_says_a_serving_rate_is_per_output_token(capsys, monkeypatch):
    """report.html labels serving's per-token figures 'per output (generated) token'; the CLI table printed the same
    rows as 'Energy per token', read per input + output token."""
    from costsim.cli.run import _headline

    monkeypatch.setenv("COLUMNS", "200")  # one line a row
    s = scenario_from_dict({"name": "srv", "serving": {"model": "llama-3-8b", "hardware": "h100-sxm"}})
    pr = PartResult({"feasible": True, "energy_per_token_j": 3.6, "throughput_tokens_per_s": 2000.0}, {}, {}, [{}], {})
    v = VariantResult("base", s, scenario_hash(s), {"serving": pr}, {}, {}, 0.1)
    _headline(RunResult(s, scenario_hash(s), 0, [v], 0.1, "2026-01-01T00:00:00+00:00"))
    out = re.sub(r"[\s│]+", " ", capsys.readouterr().out)
    assert "Energy per token (per output (generated) token)" in out, out


def test_summary_json_and_the_workbook_open_with_the_answer(tmp_path):
    import openpyxl

    from costsim.report import write_run

    r = _result({"base": {"feasible": True, "completed": True, "wall_time_s": 3600.0, "facility_energy_j": 3.6e9,
                          "cost_usd": 1234.0, "co2e_kg": 10.0}})
    write_run(r, tmp_path, pdf=False)
    doc = json.loads((tmp_path / "summary.json").read_text())
    assert list(doc)[0] == "answer" and doc["answer"] and doc["answer"][0].startswith("Training llama-3-8b on 8 h100-sxm takes")
    ws = openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)["summary"]
    first = next(ws.iter_rows(values_only=True))
    assert first[0] == "answer" and first[1] == doc["answer"][0]


def test_a_simulation_assumption_without_a_value_reads_as_a_dash():
    """tpu7x-405b-activation-offload (no price for a TPU under rental): 'training: $ per GPU hour  None USD/GPU-h'."""
    from costsim.economics.accounting import NO_PRICE_REASON
    from costsim.report.assumptions import _assumption_value

    assert _assumption_value(None, "USD/GPU-h") == "-" and _assumption_value(True, "") == "yes"
    assert "None" not in NO_PRICE_REASON


def test_a_huge_request_is_refused_with_a_short_number(tmp_path):
    """simulation.duration_s: 1e300 was refused (exit 2) with a 290-digit count of timeline buckets in the message."""
    from tests.conftest import run_cli

    f = tmp_path / "huge.yaml"
    f.write_text("name: h\ntraining: {model: llama-3-8b, hardware: h100-sxm, num_gpus: 8, tokens: 1.0e9}\n"
                 "simulation: {duration_s: 1.0e300}\n")
    p = run_cli("run", str(f), "--out", str(tmp_path / "out"), "--no-pdf")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "simulation.duration_s" in p.stderr and "~1.67e+298 timeline buckets" in p.stderr and len(p.stderr) < 600, p.stderr


def test_a_window_cut_training_run_says_how_long_the_window_was():
    """The CLI printed 'training did not complete in 0.0 simulated days' for a one-hour window (phi3-family)."""
    from costsim.cli.run import _problems

    r = _result({"base": {"completed": False, "wall_time_s": 3600.0, "wall_time_days": 3600.0 / 86400,
                          "projected_wall_time_s": 2.184 * 86400}})
    assert _problems(r) == ["base: training did not complete in the 60 min simulated (whole run projected at 2.184 days)."]


def test_a_set_that_every_variant_replaces_is_refused(tmp_path):
    """`--set training.model=...` on a scenario whose variants all set training.model (include_base false) ran the
    variants unchanged and exited 0, even for a 5,000-character model id."""
    import pytest

    from costsim.api.run import load_scenario
    from costsim.errors import InputError

    with pytest.raises(InputError, match=r"--set training.model=\.\.\. changes nothing") as ei:
        load_scenario("scenarios/llama3-8b-vs-70b-training.yaml", ["training.model=" + "z" * 5000])
    assert ei.value.field == "training.model"
    load_scenario("scenarios/llama3-8b-vs-70b-training.yaml", ["training.num_gpus=1024"])  # a field no variant sets


def test_time_series_sheets_have_labels_with_units(tmp_path):
    """The 'ts ...' sheets had the raw keys as headers (t_s, facility_power_mean_w)."""
    import openpyxl

    from costsim.report import write_run

    write_run(_result({"base": {"feasible": True}}), tmp_path, pdf=False)
    wb = openpyxl.load_workbook(tmp_path / "report.xlsx", read_only=True)
    header = next(wb["ts base training"].iter_rows(values_only=True))
    assert header[:2] == ("Time (s)", "Facility power mean (W)"), header
    assert not any("_" in str(h) for h in header)


def test_the_cost_chart_draws_the_breakdown_of_the_total_only():
    """100k-gpu-siting's cost chart drew 'training: Energy' ($4.77M, electricity_detail_usd) beside 'training:
    Electricity' (the same $4.77M): bars summing to more than the cost."""
    from costsim.report.charts import cost_breakdown

    r = _result({"base": {"cost_usd": 48.3e6, "cost_breakdown_usd": {"capex_amortized_usd": 43.5e6, "electricity_usd": 4.8e6},
                          "electricity_detail_usd": {"energy_usd": 4.8e6, "demand_charge_usd": 0.0, "included_in_rental": False}}})
    bars = cost_breakdown(r).data[0]
    assert list(bars.x) == ["training: Capex amortized", "training: Electricity"]
    assert abs(sum(bars.y) - 48.3) < 1e-9  # $M, the cost


def test_the_uncertainty_answer_names_its_driver_in_words():
    """The answer read 'driven mostly by economics.utilization_frac (total index 0.55)', and the CLI / HTML tables gave
    the same raw path (cut to 'economics.utili…' in the CLI)."""
    from costsim.report.uncertainty import conclusion, driver_text

    study = {"band": {"n": 64, "min": 2.5e6, "max": 4.9e6, "p10": 2.948e6, "p50": 3.587e6, "p90": 4.338e6},
             "indices": {"total_order": {"economics.utilization_frac": 0.55, "facility.pue": 0.2}}}
    text = conclusion({"design": "saltelli", "variants": {"base": {"metrics": {"training_cost_usd": study}}}})
    assert "driven mostly by Economics: utilization (total index 0.55)" in text and "_frac" not in text, text
    assert driver_text(("economics.utilization_frac", 0.55)) == "Economics: utilization (0.55)" and driver_text(None) == "-"


def test_the_energy_chart_splits_the_facility_energy_into_parts():
    """The energy chart drew nested totals side by side (serving: GPU 13.7, IT 28.4, facility 34.1 kWh; a siting run
    also its grid energy, curtailed energy and a battery size) as if they were parts of one total."""
    from costsim.report.charts import energy_breakdown

    r = _result({"base": {"gpu_energy_j": 4.9e7, "it_energy_j": 1.0e8, "facility_energy_j": 1.2e8, "grid_energy_j": 1.2e8,
                          "ba_battery_energy_to_avoid_j": 5e9}})
    bars = energy_breakdown(r).data[0]
    assert list(bars.x) == ["training: GPUs", "training: host, network and storage", "training: cooling and power overhead (PUE)"]
    assert abs(sum(bars.y) - 1.2e8 / 3.6e6) < 1e-9  # kWh: the parts sum to the facility energy
