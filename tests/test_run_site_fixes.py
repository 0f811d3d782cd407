"""What a sweep of `costsim run` (mutated scenarios, conservation checks) found (2026-12-07 stop): a site with a battery
was reported over its import cap by its load before the battery, goodput was counted per second of the whole run
while its requests are those after the warm-up, the work limit on simulated requests ignored how many variants a
scenario has, and fields without upper bounds turned into inf / nan results or endless runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.test_guards import _in_process

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "sweep-tiny-training.yaml"
CHAT = REPO / "scenarios" / "chat-llama3-70b-h100.yaml"


def _run(tmp_path, capsys, scenario, *sets: str):
    argv = ["run", str(scenario), "--out", str(tmp_path / "out"), "--no-pdf", "--json"]
    for s in sets:
        argv += ["--set", s]
    code, out, err = _in_process(argv, capsys)
    return code, err, (json.loads((tmp_path / "out" / "summary.json").read_text()) if code in (0, 3) else None)


def test_the_site_cap_binds_the_grid_import_not_the_load_behind_a_battery(tmp_path, capsys):
    code, err, doc = _run(tmp_path, capsys, TINY, "grid.import_cap_mw=2.0",
                          "grid.battery={energy_mwh: 1.0, power_mw: 0.8, policy: peak_shaving}")
    assert code == 0, err
    v = doc["variants"][0]
    tr, site = v["training"]["summary"], v["site"]
    assert tr["grid_cap_exceeded_s"] == 0.0
    assert site["peak_grid_import_w"] <= 2.0e6 * (1 + 1e-9)
    assert site["headroom_w"] >= -1e-6 and site["time_over_cap_frac"] == 0.0


def test_goodput_counts_per_second_of_the_window_its_requests_arrived_in(tmp_path, capsys):
    code, err, doc = _run(tmp_path, capsys, CHAT, "simulation.duration_s=300")
    assert code == 0, err
    s = doc["variants"][0]["serving"]["summary"]
    assert s["slo_attainment_frac"] > 0.99
    # all requests meet the SLOs: goodput is the throughput (it read (300 - 60) / 300 = 80 % of it)
    assert s["goodput_tokens_per_s"] == pytest.approx(s["throughput_tokens_per_s"], rel=0.1)


def test_the_request_limit_counts_every_variant(tmp_path, capsys):
    d = yaml.safe_load(CHAT.read_text())
    d["simulation"]["duration_s"] = 3600
    d["variants"] = [{"name": f"v{i}", "set": {}} for i in range(100)]
    many = tmp_path / "many.yaml"
    many.write_text(yaml.safe_dump(d))
    code, err, _ = _run(tmp_path, capsys, many, "simulation.replicates=2")
    assert code == 2 and "all 101 variants" in err and "Traceback" not in err


@pytest.mark.parametrize("setting, field", [
    ("facility.fabric_storage_w_per_gpu=1e308", "fabric_storage_w_per_gpu"),
    ("economics.host_embodied_frac=1e308", "host_embodied_frac"),
    ("training.step_time_s=1e-12", "step_time_s"),
    ("training.step_time_s=1e308", "step_time_s"),
    ("training.reliability.classes=[{name: x, rate_per_gpu_hour: 0.01, distribution: weibull, weibull_shape: 1.0e-9}]",
     "weibull_shape"),
])
def test_values_beyond_any_real_setting_exit_2_naming_the_field(setting, field, tmp_path, capsys):
    code, err, _ = _run(tmp_path, capsys, TINY, setting)
    assert code == 2 and field in err and "Traceback" not in err, err


def test_an_autoscaler_deciding_every_nanosecond_is_refused(tmp_path, capsys):
    code, err, _ = _run(tmp_path, capsys, CHAT, "simulation.duration_s=60", "serving.autoscaler.interval_s=1e-9")
    assert code == 2 and "interval_s" in err and "Traceback" not in err, err


def test_an_oversized_yaml_file_is_refused_before_parsing(tmp_path, capsys, monkeypatch):
    from costsim.specs import base

    monkeypatch.setattr(base, "MAX_YAML_BYTES", 1000)
    big = tmp_path / "big.yaml"
    big.write_text(CHAT.read_text() + "\n# " + "x" * 2000 + "\n")
    code, err, _ = _run(tmp_path, capsys, big)
    assert code == 2 and "MB" in err and "Traceback" not in err, err


def test_a_scenario_of_thousands_of_variants_is_pointed_to_sweep(tmp_path, capsys):
    d = yaml.safe_load(TINY.read_text())
    d["variants"] = [{"name": f"v{i}", "set": {}} for i in range(1001)]
    many = tmp_path / "many.yaml"
    many.write_text(yaml.safe_dump(d))
    code, err, _ = _run(tmp_path, capsys, many)
    assert code == 2 and "1002 variant(s)" in err and "is 1,002 variants" in err and "costsim sweep" in err and "Traceback" not in err, err


def test_a_run_ending_inside_a_bucket_counts_only_what_it_ran(tmp_path, capsys):
    """A training run that finished 64 s into its last 600-s bucket had that bucket's mean counted over 600 s: site energy
    1.381 MWh beside 996 kWh of facility energy, site duration 1,800 s for a 1,340-s run (a helper's sweep audit)."""
    code, out, err = _in_process(["run", "tests/data/sweep-tiny-training.yaml", "--out", str(tmp_path / "r"), "--no-pdf",
                                  "--json"], capsys)
    assert code == 0, err
    v = json.loads(out)["variants"][0]
    s = v["training"]["summary"]
    assert s["completed"] and s["wall_time_s"] % 600 != 0
    assert v["site"]["energy_j"] == pytest.approx(s["facility_energy_j"], rel=1e-6)
    assert v["site"]["duration_s"] == pytest.approx(s["wall_time_s"], rel=1e-9)
