"""Scenario schema, --set overrides, load_scenario errors, scenario_hash, `costsim schema`."""

from __future__ import annotations

import json

import pytest

from costsim.api.run import load_scenario, scenario_from_dict, variant_scenarios
from costsim.errors import InputError
from costsim.specs.overrides import apply_overrides, parse_set, parse_value, split_path
from costsim.specs.scenario import Scenario, scenario_hash

BASE = {
    "name": "t",
    "training": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_gpus": 64, "tokens": 1e10},
}


def test_split_and_parse():
    assert split_path("grid.curtailment[1].start_h") == ["grid", "curtailment", 1, "start_h"]
    assert split_path("variants.0.name") == ["variants", 0, "name"]
    assert parse_value("512") == 512 and parse_value("0.5") == 0.5 and parse_value("true") is True
    assert parse_value("null") is None and parse_value("h100-sxm") == "h100-sxm" and parse_value("[1, 2]") == [1, 2]
    assert parse_set("training.num_gpus=2048") == ("training.num_gpus", 2048)
    with pytest.raises(InputError):
        parse_set("training.num_gpus")


def test_apply_overrides_nested_creates_sections_and_keeps_input():
    out = apply_overrides(BASE, ["training.num_gpus=128", "grid.battery.energy_mwh=10", "grid.battery.power_mw=5",
                                 "training.layout.tp=2", "simulation.seed=7"], model=Scenario)
    assert out["training"]["num_gpus"] == 128 and BASE["training"]["num_gpus"] == 64
    assert out["grid"]["battery"] == {"energy_mwh": 10, "power_mw": 5}
    s = Scenario.model_validate(out)
    assert s.grid.battery.power_mw == 5 and s.simulation.seed == 7 and s.training.layout.tp == 2


def test_numeric_string_from_set_is_coerced():
    s = scenario_from_dict(BASE, ["training.tokens=15e12"])  # YAML reads 15e12 as a string
    assert s.training.tokens == 15e12


def test_unknown_path_names_it_and_suggests():
    with pytest.raises(InputError) as ei:
        apply_overrides(BASE, ["training.num_gpu=12"], model=Scenario)
    assert "training.num_gpu" in ei.value.message and "num_gpus" in ei.value.message
    with pytest.raises(InputError) as ei:
        apply_overrides(BASE, ["nonsense=1"], model=Scenario)
    assert "nonsense" in ei.value.message


def test_list_index_paths():
    data = dict(BASE, grid={"curtailment": [{"start_h": 1, "duration_h": 2}]})
    out = apply_overrides(data, ["grid.curtailment.0.start_h=5"], model=Scenario)
    assert out["grid"]["curtailment"][0]["start_h"] == 5
    with pytest.raises(InputError, match="out of range"):
        apply_overrides(data, ["grid.curtailment.3.start_h=5"], model=Scenario)
    with pytest.raises(InputError, match="index"):
        apply_overrides(data, ["grid.curtailment.start_h=5"], model=Scenario)


def test_hash_is_canonical_and_changes():
    a = scenario_from_dict(BASE)
    b = scenario_from_dict({"training": dict(BASE["training"]), "name": "t"})  # other key order
    assert scenario_hash(a) == scenario_hash(b) and len(scenario_hash(a)) == 16
    c = scenario_from_dict(BASE, ["training.num_gpus=65"])
    assert scenario_hash(c) != scenario_hash(a)


def test_variants_base_and_overrides():
    data = dict(BASE, variants=[{"name": "big", "set": {"training.num_gpus": 256}}])
    s = scenario_from_dict(data)
    vs = dict(variant_scenarios(s))
    assert list(vs) == ["base", "big"] and vs["big"].training.num_gpus == 256 and vs["base"].training.num_gpus == 64
    s2 = scenario_from_dict(data, ["simulation.include_base=false"])
    assert [n for n, _ in variant_scenarios(s2)] == ["big"]


def test_bad_variant_path_and_duplicate_names():
    with pytest.raises(InputError) as ei:
        scenario_from_dict(dict(BASE, variants=[{"name": "x", "set": {"training.gpus": 1}}]))
    assert "variants.0" in ei.value.message and "training.gpus" in ei.value.message
    with pytest.raises(InputError, match="unique"):
        scenario_from_dict(dict(BASE, variants=[{"name": "x", "set": {}}, {"name": "x", "set": {}}]))


def test_unknown_model_names_field(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("name: x\ntraining: {model: llama-9-9b, hardware: h100-sxm, num_gpus: 8}\n")
    with pytest.raises(InputError) as ei:
        load_scenario(f)
    assert "training.model" in ei.value.message and str(f) in ei.value.message


def test_malformed_yaml_and_wrong_field(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("name: x\ntraining: {model: llama-3-8b, hardware: h100-sxm\n")
    with pytest.raises(InputError) as ei:
        load_scenario(f)
    assert "bad.yaml" in ei.value.message and "line" in ei.value.message
    f.write_text("name: x\ntraining: {model: llama-3-8b, hardware: h100-sxm, num_gpus: -3}\n")
    with pytest.raises(InputError) as ei:
        load_scenario(f)
    assert "training.num_gpus" in ei.value.message and "bad.yaml" in ei.value.message
    f.write_text("name: x\n")
    with pytest.raises(InputError, match="training"):
        load_scenario(f)


def test_deeply_nested_yaml_is_bad_input_not_a_crash(tmp_path):
    """Hundreds of nested brackets exhaust PyYAML's recursive composer: a scenario file holding them (or a --set value)
    exited 1 as an 'internal error' (RecursionError) instead of exit 2 naming the file."""
    deep = "[" * 5000 + "]" * 5000
    f = tmp_path / "deep.yaml"
    f.write_text(f"name: x\ntraining: {{model: llama-3-8b, hardware: h100-sxm, num_gpus: 8}}\nfacility: {{pue: {deep}}}\n")
    with pytest.raises(InputError) as ei:
        load_scenario(f)
    assert "deep.yaml" in ei.value.message and "nests" in ei.value.message
    assert parse_value(deep) == deep  # a --set value: kept as text, which the field then refuses by name
    f.write_text("name: x\ntraining: {model: llama-3-8b, hardware: h100-sxm, num_gpus: 8, tokens: 1e9}\n")
    with pytest.raises(InputError) as ei:
        load_scenario(f, [f"facility.pue={deep}"])
    assert "facility.pue" in ei.value.message


def test_cli_malformed_scenario_exit_2_no_traceback(tmp_path, cli):
    f = tmp_path / "bad.yaml"
    f.write_text("name: x\ntraining: {model: llama-3-8b, hardware: h100-sxm, num_gpus: 8, bogus_field: 1}\n")
    r = cli("run", str(f), "--out", str(tmp_path / "o"))
    assert r.returncode == 2, r.stderr
    assert "training.bogus_field" in r.stderr and "bad.yaml" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    r = cli("run", str(f), "--out", str(tmp_path / "o"), "--set", "training.nope=3")
    assert r.returncode == 2 and "training.nope" in r.stderr and "Traceback" not in r.stderr


def test_cli_schema(cli, tmp_path):
    r = cli("schema")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {"training", "serving", "grid", "simulation", "variants"} <= set(doc["properties"])
    assert "TrainingWorkload" in doc["$defs"] and doc["$defs"]["SimulationSpec"]["properties"]["seed"]["description"]


def test_cli_run_writes_files(tmp_path, cli):
    from costsim.api.run import sim_available

    if not sim_available("training"):
        pytest.skip("costsim.sim.training not available in this build")
    from pathlib import Path

    tiny = Path(__file__).parent / "data" / "sweep-tiny-training.yaml"
    out = tmp_path / "run"
    r = cli("run", str(tiny), "--out", str(out), "--no-pdf", "--json", "--seed", "3", "--set", "simulation.replicates=2")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["seed"] == 3 and doc["variants"][0]["training"]["replicates"] == 2
    assert doc["variants"][0]["training"]["ranges"]["wall_time_s"]["n"] == 2
    for f in ("scenario.yaml", "metadata.json", "summary.json", "timeseries.parquet", "report.html", "report.xlsx"):
        assert (out / f).is_file(), f
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["seed"] == 3 and meta["run_id"] == doc["scenario_hash"] and meta["wall_s"] > 0


def test_set_values_are_typed_by_their_field():
    out = apply_overrides(BASE, ["name=yes", "description=on", "training.num_gpus=1e3", "training.tokens=15T",
                                 "grid.region=null", "simulation.include_base=no"], model=Scenario)
    assert out["name"] == "yes" and out["description"] == "on"  # text fields keep the raw text (not YAML 1.1 bools)
    assert out["training"]["num_gpus"] == 1000 and out["training"]["tokens"] == 15e12
    assert out["grid"]["region"] is None and out["simulation"]["include_base"] is False
    s = scenario_from_dict(BASE, ["training.num_gpus=1e3", "name=no"])
    assert s.training.num_gpus == 1000 and s.name == "no"
    for bad in ("training.num_gpus=yes", "training.tokens=true", "training.tokens=lots", "training.tokens=.inf"):
        with pytest.raises(InputError) as ei:
            apply_overrides(BASE, [bad], model=Scenario)
        assert bad.split("=")[0] in ei.value.message
    with pytest.raises(InputError):  # a typed boolean for a number field (variant `set` mappings)
        apply_overrides(BASE, {"training.tokens": True}, model=Scenario)
