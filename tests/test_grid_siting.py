"""The 100k-GPU siting scenario (scenarios/100k-gpu-siting.yaml) runs, and its report names per
region the curtailment hours the run saw and the days they added. Coarse settings for speed:
16 days of a run starting 1 June 2023 (UTC), 10-minute timeline buckets; ERCOT's 2023 summer
(its record year) curtails the site in this window, the others do not."""

from __future__ import annotations

import pytest

from costsim.api.run import load_scenario, run_scenario
from costsim.report.fmt import headline_rows

SETS = ["training.max_days=16", "training.timeline.bucket_s=600", "training.timeline.fine_max_per_kind=0"]


@pytest.fixture(scope="module")
def run():
    return run_scenario(load_scenario("scenarios/100k-gpu-siting.yaml", SETS))


def test_siting_reports_curtailment_hours_and_days_added_per_region(run):
    names = [v.name for v in run.variants]
    assert names == ["pjm", "ercot", "miso", "caiso"]
    by = {v.name: v.parts["training"].summary for v in run.variants}
    for name, s in by.items():
        assert s["ba_region"] == f"us-{name}"
        for k in ("ba_curtailment_hours", "ba_events", "ba_extra_days", "ba_energy_not_drawn_j", "ba_cost_difference_usd",
                  "ba_battery_energy_to_avoid_j", "ba_power_cap_to_avoid_w", "co2e_kg", "cost_usd"):
            assert k in s, (name, k)
        assert s["num_gpus"] == 100_000
    e = by["ercot"]
    assert e["ba_curtailment_hours"] > 0 and e["ba_events"] >= 1
    assert e["ba_extra_days"] > 0 and e["ba_energy_not_drawn_j"] > 0
    assert e["ba_battery_energy_to_avoid_j"] > 0 and e["curtailment_pauses"] + (e["ba_extra_days"] > 0) >= 1
    for quiet in ("pjm", "miso", "caiso"):
        assert by[quiet]["ba_curtailment_hours"] == 0 and abs(by[quiet]["ba_extra_days"]) < 1e-9
    rows = headline_rows(run)
    assert ("training", "ba_curtailment_hours") in rows and ("training", "ba_extra_days") in rows


def test_real_carbon_differs_by_region(run):
    co2 = {v.name: v.parts["training"].summary["co2e_kg"] for v in run.variants}
    assert co2["caiso"] < co2["pjm"] < co2["miso"]  # 2022 in-BA generation mix: ~215 / 385 / 497 g/kWh
