"""The Train and Serve pages take a grid region (as `--region`): the run's CO2e at the region's annual mean carbon, the
flat-rate boxes hidden while a region is chosen, the choice kept by a share link, and the rates said under the result."""

from __future__ import annotations

import pytest

from costsim.specs.requests import ServeRequest, TrainRequest
from costsim.ui.share import encode_spec
from tests.test_app import no_errors, open_page


def _captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_train_region_prices_the_carbon_and_survives_a_share_link():
    req = TrainRequest(model="llama-3.1-8b", hardware="h100-sxm", gpus=64, tokens=1e11, seq_len=8192)
    at = open_page("train", train=encode_spec(req))
    no_errors(at)
    flat = at.session_state["train_result"]
    assert flat["energy_rates"]["region"] is None and "400 gCO2e/kWh" in _captions(at)
    at.selectbox(key="train_region").set_value("fr-france").run()
    no_errors(at)
    fr = at.session_state["train_result"]
    assert fr["energy_rates"]["region"] == "fr-france"
    assert fr["co2e_kg"] < 0.5 * flat["co2e_kg"]  # France's grid: ~56 against the flat 400 gCO2e/kWh
    assert "fr-france, annual mean" in _captions(at)
    assert not any(n.key == "train_gco2" for n in at.number_input)  # the flat boxes give way to the region
    link = TrainRequest(**{**req.model_dump(), "region": "fr-france"})
    at2 = open_page("train", train=encode_spec(link))
    no_errors(at2)
    assert at2.selectbox(key="train_region").value == "fr-france"
    assert at2.session_state["train_result"]["co2e_kg"] == pytest.approx(fr["co2e_kg"])


def test_serve_region_is_said_under_the_result():
    req = ServeRequest(model="llama-3.1-8b", hardware="h100-sxm", gpus=8, region="de-germany")
    at = open_page("serve", serve=encode_spec(req))
    no_errors(at)
    assert at.selectbox(key="serve_region").value == "de-germany"
    assert at.session_state["serve_result"]["energy_rates"]["region"] == "de-germany"
    assert "de-germany, annual mean" in _captions(at)
