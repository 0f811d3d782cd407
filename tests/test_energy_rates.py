"""`costsim train --region` / `costsim serve --region`: a run priced at a grid region's annual mean electricity price and
carbon intensity (as `costsim plan --region`), and every train / serve result saying which rates it used."""

from __future__ import annotations

import json

import pytest

from costsim.api.serve import serve
from costsim.api.train import train
from costsim.errors import InputError
from costsim.power.signals import load_region
from costsim.specs.base import validate_spec
from costsim.specs.requests import ServeRequest, TrainRequest
from tests.conftest import run_cli

TRAIN = dict(model="llama-3-8b", hardware="h100-sxm", gpus=64, tokens=1e11)
SERVE = dict(model="llama-3.1-8b", hardware="h100-sxm")


def test_a_region_prices_training_at_its_annual_mean_carbon():
    flat = train(TrainRequest(**TRAIN))
    fr = train(TrainRequest(**TRAIN, region="fr-france"))
    prof = load_region("fr-france")
    rates = fr["energy_rates"]
    assert rates["region"] == "fr-france" and rates["grid_gco2e_per_kwh"] == pytest.approx(prof.carbon.mean())
    assert rates["electricity_usd_per_kwh"] == pytest.approx(prof.price.mean())
    assert "annual mean" in rates["basis"]
    assert flat["energy_rates"]["region"] is None and flat["energy_rates"]["grid_gco2e_per_kwh"] == 400.0
    assert "default" in flat["energy_rates"]["basis"]
    # the same run, its energy alike; only the operational CO2e follows the grid (~56 against 400 g/kWh)
    assert fr["facility_energy_j"] == pytest.approx(flat["facility_energy_j"])
    op = lambda r: r["co2e_breakdown_kg"]["operational_location_based_kg"]  # noqa: E731
    assert op(fr) == pytest.approx(op(flat) * prof.carbon.mean() / 400.0, rel=1e-6)
    assert fr["co2e_breakdown_kg"]["embodied_kg"] == pytest.approx(flat["co2e_breakdown_kg"]["embodied_kg"])


def test_a_region_prices_serving_and_the_fewer_gpus_option_alike():
    flat = serve(ServeRequest(**SERVE))
    de = serve(ServeRequest(**SERVE, region="de-germany"))
    assert de["energy_rates"]["region"] == "de-germany"
    assert de["throughput_tokens_per_s"] == pytest.approx(flat["throughput_tokens_per_s"])
    g = de["energy_rates"]["grid_gco2e_per_kwh"]
    assert g != 400.0
    assert (de["co2e_g_per_million_tokens"] < flat["co2e_g_per_million_tokens"]) == (g < 400.0)


def test_a_region_beside_a_flat_rate_is_refused_naming_both():
    with pytest.raises(InputError) as ei:
        validate_spec(TrainRequest, {**TRAIN, "region": "us-pjm", "economics": {"grid_gco2e_per_kwh": 30}}, what="train options")
    assert "region" in ei.value.message and "--grid-gco2e-per-kwh" in ei.value.message
    with pytest.raises(InputError, match="electricity-usd-per-kwh"):
        validate_spec(ServeRequest, {**SERVE, "region": "us-pjm", "economics": {"electricity_usd_per_kwh": 0.1}}, what="serve options")
    with pytest.raises(InputError, match="unknown region 'mars'"):
        serve(ServeRequest(**SERVE, region="mars"))


def test_cli_region_row_json_and_bad_input():
    r = run_cli("train", "--model", "llama-3-8b", "--hardware", "h100-sxm", "--gpus", "64", "--tokens", "1e11", "--region", "us-ercot")
    assert r.returncode == 0, r.stderr
    assert "electricity" in r.stdout and "us-ercot, annual mean" in r.stdout
    assert "tCO2e on the us-ercot grid." in " ".join(r.stdout.split())  # the answer says which grid
    doc = json.loads(run_cli("serve", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--region", "fr-france", "--json").stdout)
    assert doc["energy_rates"]["region"] == "fr-france"
    r = run_cli("serve", "--model", "llama-3.1-8b", "--hardware", "h100-sxm")
    assert "CO2e per million output tokens" in r.stdout and "costsim's default" in r.stdout
    for args in (("--region", "mars"), ("--region", "us-pjm", "--grid-gco2e-per-kwh", "30"), ("--region", " ")):
        bad = run_cli("serve", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", *args)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr and "region" in bad.stderr, bad.stderr


def test_gpu_counts_in_answers_and_titles_are_grouped():
    from costsim.numtext import grouped

    assert (grouped(1_000_000), grouped(8), grouped(None), grouped(2.5)) == ("1,000,000", "8", "-", "2.5")
    r = run_cli("serve", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--gpus", "1024", "--requests", "1000000")
    assert "on 1,024 x h100-sxm" in r.stdout and "Best use of 1,024 x h100-sxm" in r.stdout.replace("\n", " ")
    r = run_cli("train", "--model", "llama-3-8b", "--hardware", "h100-sxm", "--gpus", "1024", "--tokens", "1e11")
    assert "on 1,024 x h100-sxm" in r.stdout
