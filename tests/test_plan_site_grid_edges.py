"""What a hostile and metamorphic sweep of `plan`, `site` and `grid` found (2026-12-07 stop): a flat objective picked
the first size, the plan moved with bounds that did not bind, a mixed fleet's power cap was said to fit when one part
could not be capped, huge whole numbers crashed, a device profile's 1e308 W became inf / nan results, and messages
rounded a 10 kW overshoot to '0.0 MW' or named the wrong flag."""

from __future__ import annotations

import pytest

from costsim.api.plan import plan
from costsim.api.plan_grid import size_lattice
from costsim.api.site import build_request, site_report
from costsim.errors import InputError
from costsim.numtext import power
from costsim.specs.overrides import parse_number
from costsim.specs.plan import PlanRequest

BASE = dict(target_loss=2.0, lifetime_tokens=1e13)


def test_size_lattice_is_anchored_to_round_sizes():
    a = size_lattice(1e8, 1e13, 8)
    b = size_lattice(1e8, 9e12, 8)
    assert a.size == 41 and a[0] == 1e8 and a[-1] == 1e13
    # a bound that moves leaves every size inside both where it was
    common = a[a <= 9e12]
    assert b[-1] == 9e12 and all(x in b for x in common)


def test_a_bound_that_does_not_bind_leaves_the_plan_unchanged():
    ref = plan(PlanRequest(**BASE))
    for extra in ({"max_params": 9e12}, {"min_params": 1e9}, {"max_params": 5e10}):
        r = plan(PlanRequest(**BASE, **extra))
        assert r.chosen.params == pytest.approx(ref.chosen.params, rel=1e-9), extra
        assert r.chosen.total.usd == pytest.approx(ref.chosen.total.usd, rel=1e-9), extra


def test_a_flat_objective_picks_the_cheapest_of_its_ties():
    usd = plan(PlanRequest(**BASE))
    peak = plan(PlanRequest(**BASE, objective="peak_mw"))
    # the training fleet sets the peak for every size: among equal peaks the cheapest plan, not a 98-year run
    assert peak.chosen.total.peak_power_w == pytest.approx(usd.chosen.total.peak_power_w, rel=1e-6)
    assert peak.chosen.total.usd <= 1.01 * usd.chosen.total.usd
    assert peak.chosen.training.days < 30


def test_plan_messages_name_the_binding_flag():
    r = plan(PlanRequest(**BASE, train_gpus=1))
    assert not r.feasible and "--train-gpus" in r.reason and "out of memory" in r.reason
    r = plan(PlanRequest(**BASE, fit="muennighoff2023", unique_tokens=1e11))
    assert not r.feasible and "--unique-tokens" in r.reason
    with pytest.raises(ValueError, match=r"max_params \(1e\+06\) must be above min_params \(1e\+08, the default\)"):
        PlanRequest(**BASE, max_params=1e6)


def test_whole_numbers_beyond_the_float_range_are_named_not_crashed():
    with pytest.raises(InputError, match="must be a finite number"):
        parse_number("9" * 400, field="gpus", label="--gpus")
    assert parse_number("12", field="gpus") == 12


def test_a_mixed_fleet_is_capped_above_each_parts_idle_draw_and_fits():
    """Caps in proportion to peak draw left tpu-v4 56 W, under its 90 W idle (then; 52 W since), yet said the fleet fit; each part now keeps
    its idle draw and the same share of its dynamic range, so the caps fit whenever the budget is above idle."""
    from costsim.specs.catalog import get_accelerator

    r = site_report(build_request(["tpu-v4", "rtx-5090"], [1000, 1000], grid_cap_mw=0.78))
    caps = r["per_gpu_power_cap_to_fit"]
    for hw in ("tpu-v4", "rtx-5090"):
        cap = caps[hw]["gpu_power_cap_w"]
        assert cap is not None and cap > get_accelerator(hw).idle_w
    fleet = {x["hardware"]: x for x in r["fleet"]}
    it_w = sum((caps[h]["gpu_power_cap_w"] + fleet[h]["host_power_per_gpu_w"] + fleet[h]["fabric_storage_w_per_gpu"]) * 1000
               for h in caps)
    assert it_w * r["pue"] == pytest.approx(0.78e6, rel=1e-9)  # the caps use the grid cap exactly
    # below the fleet's idle draw nothing fits, and the reason says so
    r = site_report(build_request(["tpu-v4", "rtx-5090"], [1000, 1000], grid_cap_mw=0.58))  # idle needs 0.590 MW
    assert all(v["gpu_power_cap_w"] is None for v in r["per_gpu_power_cap_to_fit"].values())
    assert "idle draw" in r["reason"]
    # one part alone: budget / count, as before
    r = site_report(build_request(["h100-sxm"], [1000], grid_cap_mw=1.0))
    assert r["per_gpu_power_cap_to_fit"]["h100-sxm"]["gpu_power_cap_w"] == pytest.approx(
        r["per_gpu_power_cap_to_fit"]["h100-sxm"]["uniform_gpu_power_cap_w"])


def test_site_reasons_keep_three_significant_figures():
    r = site_report(build_request(["h100-sxm"], [1000], grid_cap_mw=1.37))
    assert "exceeds the grid cap 1.37 MW by" in r["reason"] and "0.0 MW" not in r["reason"]
    assert power(1.375e6) == "1.38 MW" and power(1e4) == "10 kW" and power(56) == "56 W" and power(1e-300) == "1e-300 W"


def test_a_battery_policy_without_a_battery_is_refused():
    with pytest.raises((InputError, ValueError), match="needs a battery"):
        build_request(["h100-sxm"], [10], battery_policy="smoothing")


def test_device_numbers_far_beyond_any_part_are_refused(tmp_path):
    from pathlib import Path

    import yaml

    here = Path(__file__).resolve().parents[1] / "hardware_profiles" / "accelerators" / "h100-sxm.yaml"
    data = yaml.safe_load(here.read_text())
    data["tdp_w"] = 1e308
    bad = tmp_path / "huge.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match="tdp_w"):
        site_report(build_request([str(bad)], [100]))


@pytest.mark.parametrize("args, words", [
    (["--min-power-frac", "nan"], ["--min-power-frac", "finite"]),
    (["--min-power-frac", "2"], ["--min-power-frac", "0 to 1"]),
    (["--curtailment", "1,1"], ["--curtailment", "twice"]),
])
def test_grid_headroom_flags_name_the_problem(args, words, capsys):
    from tests.test_guards import _in_process

    code, out, err = _in_process(["grid", "headroom", "--region", "us-pjm", *args], capsys)
    assert code == 2 and all(w in err for w in words) and "Traceback" not in err, err
