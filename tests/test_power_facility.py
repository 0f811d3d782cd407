"""Facility power, region signals and the site API/CLI."""

import json

import numpy as np
import pytest

from costsim.errors import InputError
from costsim.power import facility as fac
from costsim.power.signals import Signal, available_regions, load_region, parse_region_csv
from costsim.specs.catalog import get_accelerator, node_for
from costsim.specs.site import FacilitySpec


def test_regions_shipped_and_means_match_headers():
    regs = available_regions()
    assert len(regs) >= 8
    for r in regs:
        p = load_region(r)
        # stylized typical days (12 x 24) or, for the balancing authorities with real data, an hourly year
        assert p.price.values.shape in ((12, 24), (8760,)) and p.carbon.values.shape == p.price.values.shape
        assert p.meta.get("source") and p.meta.get("date")
        assert p.price.mean() == pytest.approx(float(p.meta["annual_mean_usd_per_kwh"]), rel=2e-3)
        assert p.carbon.mean() == pytest.approx(float(p.meta["annual_mean_gco2e_per_kwh"]), rel=2e-3)


def test_signal_at_maps_hours_and_months():
    v = np.arange(288, dtype=float).reshape(12, 24)
    s = Signal(v, "x")
    assert float(s.at(0)) == 0
    assert float(s.at(3600 * 5 + 10)) == 5
    assert float(s.at(31 * 86400)) == 24  # 1 February 00:00
    s2 = Signal(v, "x", start_month=3, start_hour=23)
    assert float(s2.at(0)) == v[2, 23]
    assert float(s2.at(3600)) == v[2, 0]  # next day, still March
    np.testing.assert_array_equal(s.at(np.array([0, 3600])), [0, 1])


def test_user_csv_same_format_roundtrip(tmp_path):
    lines = ["month,hour,usd_per_kwh,gco2e_per_kwh"] + [f"{m},{h},{0.1 + h / 1000},{100 + m}" for m in range(1, 13) for h in range(24)]
    f = tmp_path / "mine.csv"
    f.write_text("\n".join(lines))
    p = load_region(str(f))
    assert float(p.price.at(3600 * 7)) == pytest.approx(0.107)
    assert float(p.carbon.at(40 * 86400)) == 102


@pytest.mark.parametrize("text", ["month,hour,usd_per_kwh\n1,0,0.1", "month,hour,usd_per_kwh,gco2e_per_kwh\n1,0,x,3",
                                  "month,hour,usd_per_kwh,gco2e_per_kwh\n" + "\n".join(f"1,{h},0.1,1" for h in range(24))])
def test_bad_region_csv_is_input_error(text):
    with pytest.raises(InputError):
        parse_region_csv(text)


def test_unknown_region_suggests():
    with pytest.raises(InputError, match="us-pjm-virginia"):
        load_region("us-pjm-virgina")


def test_node_and_site_targets():
    acc = get_accelerator("h100-sxm")
    node = node_for(acc)
    g = fac.gpu_power_w(acc, "training")
    node_w = 8 * g + node.host_power_w
    assert abs(node_w / 8400 - 1) <= 0.15
    site = 1e5 * float(fac.it_power_per_gpu_w(acc, node, FacilitySpec(), g)) * 1.2
    assert 115e6 <= site <= 165e6
    assert fac.gpu_power_w(acc, "training", statistic="mean") < g


def test_facility_power_models():
    f = FacilitySpec(pue=1.3)
    np.testing.assert_allclose(fac.facility_power_w([1e6, 2e6], f), [1.3e6, 2.6e6])
    lt = FacilitySpec(pue=1.3, pue_model="load_temperature")
    p = fac.facility_power_w(np.array([0.5e6, 1e6]), lt, design_it_power_w=1e6)
    assert p[1] == pytest.approx(1.3e6)
    assert p[0] / 0.5e6 > 1.3  # partial load -> higher PUE
    assert fac.water_l(3.6e6 * 1000, FacilitySpec(wue_l_per_kwh=0.5)) == pytest.approx(500.0)


def test_site_cli_json_and_exit_codes(cli):
    r = cli("site", "--hardware", "h100-sxm", "--gpus", "100000", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert 115e6 <= d["facility_peak_power_w"] <= 165e6
    names = {a["name"] for a in d["assumptions"]}
    assert {"pue", "h100-sxm_host_power_per_gpu_w", "h100-sxm_gpu_training_power_frac_of_tdp"} <= names
    for k in ("it_peak_power_w", "facility_peak_power_w", "facility_mean_power_w", "grid_cap_w", "headroom_w", "max_gpus_under_cap", "energy_cost_usd_per_day"):
        assert k in d
    r = cli("site", "--hardware", "h100-sxm", "--gpus", "100000", "--hardware", "b200", "--gpus", "1000", "--grid-cap-mw", "100",
            "--region", "de-germany", "--json")
    assert r.returncode == 3
    d = json.loads(r.stdout)
    assert d["feasible"] is False and d["headroom_w"] < 0 and d["reason"]
    assert d["max_gpus_under_cap"]["h100-sxm"] * d["fleet"][0]["it_peak_power_per_gpu_w"] * d["pue"] <= 100e6
    assert (d["max_gpus_under_cap"]["h100-sxm"] + 1) * d["fleet"][0]["it_peak_power_per_gpu_w"] * d["pue"] > 100e6
    assert d["region"]["region"] == "de-germany"
    r = cli("site", "--hardware", "h100-sxm", "--gpus", "1000", "--grid-cap-mw", "5", "--battery-mwh", "4", "--battery-mw", "2",
            "--region", "us-caiso-california", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["battery"]["arbitrage_saving_usd_per_day"] > 0


@pytest.mark.parametrize("args", [["--hardware", "h100-sxm"], ["--hardware", "nope", "--gpus", "3"],
                                  ["--hardware", "h100-sxm", "--gpus", "2", "--region", "atlantis"],
                                  ["--hardware", "h100-sxm", "--gpus", "2", "--battery-mwh", "3"]])
def test_site_cli_bad_input_exit_2(cli, args):
    r = cli("site", *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr


def test_power_validation_cases_pass():
    from costsim.validation.engine import load_cases, run_cases

    res = run_cases([c for c in load_cases() if c.id.startswith(("P-", "M-h100-power-"))])
    assert len(res) >= 16
    bad = [(r.id, r.predicted, r.message) for r in res if not r.passed]
    assert not bad
    assert any(r.used_for_fit for r in res) and any(not r.used_for_fit for r in res)
