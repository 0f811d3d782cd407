"""Uncertainty studies end to end: design -> batched sweep -> bands and Sobol' indices.

The analytic check: in core mode facility energy = IT energy x PUE and operational CO2e = facility
kWh x grid intensity (+ a constant embodied share), so with PUE and intensity independent and
uniform, CO2e = a + c * PUE * G. For a product of independent inputs the Sobol' indices are known:
V_P = Var(P) E[G]^2, V_G = Var(G) E[P]^2, V_PG = Var(P) Var(G), V = V_P + V_G + V_PG;
S_P = V_P / V, ST_P = (V_P + V_PG) / V (Sobol' 1993). Tolerance 0.03 at n = 1024: the estimator's
sampling error there is ~0.01 (measured over seeds).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from costsim.api.run import load_scenario, scenario_from_dict
from costsim.errors import InputError
from costsim.sweep import run_sweep
from costsim.sweep.points import parse_grid, parse_random
from costsim.sweep.store import query
from costsim.sweep.uncertainty import analyze, design_for, study

REPO = Path(__file__).resolve().parents[1]
SCEN = REPO / "scenarios" / "llama3-70b-training-uncertainty.yaml"
BASE = {
    "name": "uq-check",
    "training": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_gpus": 1024, "tokens": 1e12, "global_batch": 8192,
                 "layout": {"tp": 1, "pp": 1, "cp": 1, "micro_batch": 1, "recompute": "selective", "zero": 1, "vp": 1}},
}


def _product_indices(p_lo, p_hi, g_lo, g_hi):
    ep, eg = (p_lo + p_hi) / 2, (g_lo + g_hi) / 2
    vp, vg = (p_hi - p_lo) ** 2 / 12, (g_hi - g_lo) ** 2 / 12
    v_p, v_g, v_pg = vp * eg**2, vg * ep**2, vp * vg
    v = v_p + v_g + v_pg
    return (v_p / v, v_g / v), ((v_p + v_pg) / v, (v_g + v_pg) / v)


def test_study_reproduces_analytic_indices_of_a_product(tmp_path):
    doc = dict(BASE, uncertainty={"samples": 1024, "inputs": {
        "facility.pue": {"dist": "uniform", "low": 1.05, "high": 1.95},
        "economics.grid_gco2e_per_kwh": {"dist": "uniform", "low": 20, "high": 800}}})
    s = scenario_from_dict(doc)
    res = study(s, out=tmp_path / "uq", samples=1024, metrics=["training_facility_energy_j", "training_co2e_kg"])
    assert res["sweep"]["ran"] == 1024 * 4 and res["sweep"]["batched"]
    m = res["variants"]["base"]["metrics"]
    energy = m["training_facility_energy_j"]["indices"]
    assert energy["first_order"]["facility.pue"] == pytest.approx(1.0, abs=0.03)
    assert abs(energy["total_order"]["economics.grid_gco2e_per_kwh"]) < 0.03
    # CO2e = embodied (constant) + operational (PUE x intensity x const): the product's indices
    (s_p, s_g), (st_p, st_g) = _product_indices(1.05, 1.95, 20, 800)
    co2 = m["training_co2e_kg"]["indices"]
    assert co2["first_order"]["facility.pue"] == pytest.approx(s_p, abs=0.03)
    assert co2["first_order"]["economics.grid_gco2e_per_kwh"] == pytest.approx(s_g, abs=0.03)
    assert co2["total_order"]["facility.pue"] == pytest.approx(st_p, abs=0.03)
    assert co2["total_order"]["economics.grid_gco2e_per_kwh"] == pytest.approx(st_g, abs=0.03)
    band = m["training_facility_energy_j"]["band"]
    assert band["p10"] < band["p50"] < band["p90"] and band["n"] == 2048
    # P50 of energy sits at the median PUE (energy is linear in PUE)
    e_lo = m["training_facility_energy_j"]["band"]["min"] / 1.05
    assert band["p50"] == pytest.approx(e_lo * 1.5, rel=0.02)
    # every design position is recorded (two positions may be one point)
    assert query(tmp_path / "uq", "SELECT count(*) FROM design")[1] == [(1024 * 4,)]


def test_grid_sweep_gets_exact_grid_indices(tmp_path):
    s = scenario_from_dict(BASE)
    run_sweep(s, out=str(tmp_path), mode="core", grid=parse_grid(["facility.pue=1.1,1.3,1.5", "economics.electricity_usd_per_kwh=0.05,0.1"]))
    doc = analyze(tmp_path, metrics=["training_facility_energy_j", "training_cost_usd"])
    assert doc["design"] == "grid"
    e = doc["variants"]["base"]["metrics"]["training_facility_energy_j"]["indices"]
    assert e["method"] == "grid_anova"
    assert e["first_order"]["facility.pue"] == pytest.approx(1.0, abs=1e-12)
    assert e["total_order"]["economics.electricity_usd_per_kwh"] == pytest.approx(0.0, abs=1e-12)
    # rental pricing: electricity is in the rental price, cost does not move with either
    c = doc["variants"]["base"]["metrics"]["training_cost_usd"]
    assert c["indices"] is None and "does not vary over the grid" in c["notes"]
    # the sweep report shows the section, and its charts come after the one inlined plotly.js
    from costsim.report import write_sweep_report

    html = write_sweep_report(tmp_path).read_text(encoding="utf-8")
    assert "Uncertainty and what drives it" in html and "exact for the grid" in html
    assert html.count("window.PlotlyConfig") == 1 and html.index("window.PlotlyConfig") < html.index("Plotly.newPlot")


def test_grid_crossed_with_random_samples_is_not_called_full_factorial(tmp_path):
    """A grid x --random sweep is not a full-factorial grid: the report says what made its points,
    and the grid indices are withheld (random spread sits inside every cell)."""
    s = scenario_from_dict(BASE)
    run_sweep(s, out=str(tmp_path), mode="core", grid=parse_grid(["facility.pue=1.1,1.3"]),
              random=parse_random(["economics.electricity_usd_per_kwh=0.05:0.15"]), samples=5)
    doc = analyze(tmp_path, metrics=["training_facility_energy_j"])
    assert doc["design"] == "grid" and doc["points"] == 10 and doc["samples"] == 5 and doc["random_inputs"] == 1
    from costsim.report.uncertainty import section_html

    html = section_html(doc, lambda fig: "")
    assert "full-factorial grid crossed with 5 random samples of 1 input: 10 points" in html
    assert "full-factorial grid of" not in html


def test_cli_run_samples_writes_bands_indices_and_report(tmp_path, cli):
    out = tmp_path / "run"
    r = cli("run", str(SCEN), "--out", str(out), "--no-pdf", "--samples", "32", "--json", "--set", "simulation.duration_s=600",
            timeout=400)
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads(r.stdout)["uncertainty"]
    assert doc["design"] == "saltelli" and doc["points"] == 32 * 7
    cost = doc["variants"]["base"]["metrics"]["training_cost_usd"]
    assert cost["band"]["p10"] < cost["band"]["p50"] < cost["band"]["p90"]
    assert set(cost["indices"]["total_order"]) == {"economics.electricity_usd_per_kwh", "economics.grid_gco2e_per_kwh", "facility.pue",
                                                   "economics.utilization_frac", "economics.residual_value_frac"}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Uncertainty and what drives it" in html and "P10" in html and "What drives" in html
    assert (out / "uncertainty" / "uncertainty.json").is_file()
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["uncertainty"]["samples"] == 32


def test_cli_sweep_samples_from_the_uncertainty_section(tmp_path, cli):
    out = tmp_path / "sw"
    r = cli("sweep", str(SCEN), "--mode", "core", "--samples", "16", "--sampler", "lhs", "--no-sensitivity", "--out", str(out),
            "--no-progress", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout)
    assert res["ran"] == 16 and res["uncertainty"]
    doc = json.loads((out / "uncertainty.json").read_text())
    assert doc["design"] == "plain" and doc["sampler"] == "lhs"
    assert doc["variants"]["base"]["metrics"]["training_cost_usd"]["indices"] is None
    assert "Uncertainty and what drives it" in (out / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("args, words", [
    (["--samples", "12"], "power of two"),
    (["--samples", "16", "--set", "uncertainty.inputs={training.step_time_s: {dist: error_band, low_frac: -0.1, high_frac: 0.2}}"], "closed-form"),
    (["--samples", "16", "--set", "uncertainty.inputs={" + "x" * 5000 + ": {dist: uniform, low: 1, high: 2}}"], "uncertainty.inputs"),
])
def test_cli_run_samples_bad_input_exit_2(tmp_path, cli, args, words):
    r = cli("run", str(SCEN), "--out", str(tmp_path / "o"), "--no-pdf", *args)
    assert r.returncode == 2, (r.stdout + r.stderr)[-1500:]
    assert "Traceback" not in r.stderr and words in r.stderr, r.stderr[-1500:]
    assert len(r.stderr) < 3000


@pytest.mark.parametrize("sets, kw, words", [
    ([], dict(n=16, sampler="halton"), "sampler"),
    ([], dict(n=-3), "samples"),
    ([], dict(n=1 << 40), "more than"),
    (["uncertainty.inputs={training.model: {dist: uniform, low: 1, high: 2}}"], dict(n=16), "not a numeric field"),
    (["uncertainty.inputs={facility.pue: {dist: lognormal, median: -1, sigma: 0.3}}"], dict(n=16), "median"),
    (["uncertainty.inputs={facility.pue: {dist: triangular, low: 1.5, mode: 1.2, high: 1.4}}"], dict(n=16), "triangular"),
    (["uncertainty.inputs={facility.pue: {dist: empirical, values: [1.1, 1.2], weights: [1]}}"], dict(n=16), "weight"),
    (["uncertainty.inputs={facility.pue: {dist: normal, mean: 1.2, std: .nan}}"], dict(n=16), "std"),
])
def test_bad_uncertainty_input_is_an_input_error(sets, kw, words):
    with pytest.raises(InputError, match=words):
        s = load_scenario(SCEN, sets)
        design_for(s, kw.pop("n"), **kw)


def test_samples_need_an_uncertainty_section_and_not_random(tmp_path, cli):
    tiny = REPO / "tests" / "data" / "sweep-tiny-training.yaml"
    r = cli("run", str(tiny), "--out", str(tmp_path / "o"), "--no-pdf", "--samples", "8")
    assert r.returncode == 2 and "uncertainty" in r.stderr and "Traceback" not in r.stderr
    r = cli("sweep", str(SCEN), "--mode", "core", "--samples", "16", "--random", "facility.pue=1:2", "--out", str(tmp_path / "s"), "--no-progress")
    assert r.returncode == 2 and "--no-uncertainty" in r.stderr
    with pytest.raises(InputError, match="uncertainty"):
        design_for(load_scenario(tiny), 8)


def test_error_band_in_sim_mode_scales_the_core_step_time():
    s = load_scenario(SCEN, ["uncertainty.inputs={training.step_time_s: {dist: error_band, low_frac: -0.1, high_frac: 0.3, regime: dense-h100, cases: 12}}"])
    d = design_for(s, 64, mode="sim", sensitivity=False)
    from costsim.estimators.training import step_profile
    from costsim.specs.requests import TrainRequest
    from costsim.sweep.points import _request_from

    nominal = step_profile(_request_from(s.training, TrainRequest, {"gpus": "num_gpus"}, s))["step_time_s"]
    v = d.values["training.step_time_s"]
    # the band is a result's error_band (published speed / predicted - 1): a step time reads it inversely
    assert v.min() >= nominal / 1.3 - 1e-9 and v.max() <= nominal / 0.9 + 1e-9
    assert math.isclose(float(np.median(v)), nominal / 1.1, rel_tol=0.03)
