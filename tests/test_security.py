"""Review fixes: share links carry catalog ids only, errors never echo unknown values, no inf/nan,
deep JSON refused, duplicate YAML keys refused, --set values typed by their field."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from costsim.errors import InputError
from costsim.specs.base import describe_validation_error, load_yaml_file
from costsim.specs.requests import ServeRequest, SiteRequest, TrainRequest
from costsim.specs.scenario import Scenario
from costsim.ui.share import decode_spec, encode_spec

SECRET = "hunter2-s3cr3t"


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


@pytest.fixture
def secret_yaml(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text(f"password: {SECRET}\n", encoding="utf-8")
    return p


@pytest.fixture
def no_file_reads(monkeypatch):
    """Fail the test if anything resolves a YAML file while decoding a link."""
    calls: list[str] = []

    def spy(path, *, what):
        calls.append(str(path))
        raise AssertionError(f"share-link decoding read {path}")

    import costsim.specs.base as base
    import costsim.specs.catalog as catalog
    from costsim.specs.catalog import accelerators, models, nodes
    accelerators(), models(), nodes()  # catalogs are cached before the spy goes in
    monkeypatch.setattr(base, "load_yaml_file", spy)
    monkeypatch.setattr(catalog, "load_yaml_file", spy)
    return calls


@pytest.mark.parametrize("cls,doc", [
    (TrainRequest, {"model": "{p}", "hardware": "h100-sxm", "gpus": 8}),
    (TrainRequest, {"model": "llama-3-8b", "hardware": "{p}", "gpus": 8}),
    (ServeRequest, {"model": "{p}", "hardware": "h100-sxm"}),
    (SiteRequest, {"hardware": "{p}"}),
    (SiteRequest, {"hardware": "h100-sxm", "region": "{p}"}),
])
def test_share_link_with_a_file_path_is_refused_before_reading(cls, doc, secret_yaml, no_file_reads):
    d = {k: (str(secret_yaml) if v == "{p}" else v) for k, v in doc.items()}
    with pytest.raises(InputError) as ei:
        decode_spec(cls, _b64(d))
    msg = ei.value.message
    assert SECRET not in msg and "catalog" in msg or "region id" in msg
    assert no_file_reads == []
    # same message for a path that does not exist: the link cannot probe the disk
    d2 = {k: (str(secret_yaml.parent / "nope.yaml") if v == "{p}" else v) for k, v in doc.items()}
    with pytest.raises(InputError) as ei2:
        decode_spec(cls, _b64(d2))
    assert ei2.value.message.replace("nope.yaml", "x.yaml") == msg


def test_train_via_share_link_never_shows_the_secret(secret_yaml):
    from costsim.api.train import train
    token = _b64({"model": str(secret_yaml), "hardware": "h100-sxm", "gpus": 8})
    with pytest.raises(InputError) as ei:
        train(decode_spec(TrainRequest, token))
    assert SECRET not in str(ei.value)


def test_scenario_share_link_refuses_paths_in_sections_and_variants(secret_yaml, no_file_reads):
    base = {"name": "t", "training": {"model": "llama-3-8b", "hardware": "h100-sxm", "num_gpus": 64}}
    bad = [
        dict(base, training=dict(base["training"], model=str(secret_yaml))),
        dict(base, variants=[{"name": "v", "set": {"training.hardware": str(secret_yaml)}}]),
        dict(base, variants=[{"name": "v", "set": {"training": {"model": str(secret_yaml), "hardware": "h100-sxm"}}}]),
        dict(base, variants=[{"name": "v", "set": {"variants[0].set": {"training.model": str(secret_yaml)}}}]),
        dict(base, grid={"region": str(secret_yaml)}),
        dict(base, serving={"model": "llama-3-8b", "hardware": "h100-sxm",
                            "arrivals": {"process": "trace", "trace_path": "/etc/passwd"}}),
    ]
    for doc in bad:
        with pytest.raises(InputError) as ei:
            decode_spec(Scenario, _b64(doc))
        assert SECRET not in ei.value.message and "share link" in ei.value.message
    assert no_file_reads == []
    ok = decode_spec(Scenario, _b64(dict(base, grid={"region": "fr-france"},
                                          variants=[{"name": "v", "set": {"training.model": "llama-3-70b"}}])))
    assert ok.grid.region == "fr-france"


def test_catalog_ids_still_round_trip():
    req = TrainRequest(model="llama-3-8b", hardware="h100-sxm", gpus=8)
    assert decode_spec(TrainRequest, encode_spec(req)) == req


def test_deeply_nested_json_is_an_input_error():
    token = base64.urlsafe_b64encode(("[" * 5000 + "]" * 5000).encode()).decode()
    with pytest.raises(InputError):
        decode_spec(TrainRequest, token)
    nested: dict = {}
    cur = nested
    for _ in range(900):
        cur["a"] = {}
        cur = cur["a"]
    with pytest.raises(InputError):
        decode_spec(TrainRequest, _b64({"model": "llama-3-8b", "x": nested}))


def test_validation_error_never_echoes_unknown_field_values_and_truncates():
    with pytest.raises(ValidationError) as ei:
        TrainRequest.model_validate({"model": "llama-3-8b", "hardware": "h100-sxm", "password": SECRET})
    msg = describe_validation_error(ei.value, what="t", source=None)
    assert "password" in msg and SECRET not in msg
    with pytest.raises(ValidationError) as ei:
        TrainRequest.model_validate({"model": "llama-3-8b", "hardware": "h100-sxm", "gpus": "x" * 500})
    msg = describe_validation_error(ei.value, what="t", source=None)
    assert "gpus" in msg and "x" * 70 not in msg and "xxx" in msg


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_specs_refuse_inf_and_nan(bad):
    with pytest.raises(ValidationError):
        TrainRequest(model="llama-3-8b", hardware="h100-sxm", tokens=bad)


def test_cli_set_inf_exits_2(tmp_path):
    from conftest import run_cli
    r = run_cli("run", "scenarios/llama3-405b-pretraining.yaml", "--set", "training.tokens=.inf",
                "--out", str(tmp_path / "o"))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "training.tokens" in r.stderr


def test_inf_in_scenario_file_is_an_input_error():
    from costsim.api.run import scenario_from_dict
    with pytest.raises(InputError, match="finite"):
        scenario_from_dict({"name": "t", "training": {"model": "llama-3-8b", "hardware": "h100-sxm",
                                                      "num_gpus": 64, "tokens": float("inf")}})


def test_duplicate_yaml_keys_are_refused(tmp_path):
    p = tmp_path / "dup.yaml"
    p.write_text("name: a\ntraining:\n  num_gpus: 8\n  num_gpus: 16\n", encoding="utf-8")
    with pytest.raises(InputError) as ei:
        load_yaml_file(p, what="scenario")
    m = ei.value.message
    assert "num_gpus" in m and "line 4" in m and str(p) in m
    ok = tmp_path / "merge.yaml"
    ok.write_text("a: &x {p: 1, q: 2}\nb:\n  <<: *x\n  p: 5\n", encoding="utf-8")  # merge keys may be overridden
    assert load_yaml_file(ok, what="scenario")["b"] == {"p": 5, "q": 2}
    # the shipped catalog's faster (libyaml) loader keeps both rules
    with pytest.raises(InputError, match="line 4"):
        load_yaml_file(p, what="accelerator", shipped=True)
    assert load_yaml_file(ok, what="accelerator", shipped=True)["b"] == {"p": 5, "q": 2}


def test_the_catalog_loader_reads_every_shipped_file_as_the_user_file_loader_does():
    from costsim.specs.base import load_yaml_document
    from costsim.specs.catalog import hardware_profiles_dir, models_dir
    from costsim.validation.engine import CASES_DIR

    files = [*sorted(hardware_profiles_dir().glob("*/*.yaml")), *sorted(models_dir().glob("*.yaml")),
             *sorted(CASES_DIR.glob("*.yaml"))]
    assert len(files) > 200
    for f in files:
        assert load_yaml_document(f, what="x", shipped=True) == load_yaml_document(f, what="x"), f


def test_scenario_editor_takes_catalog_ids_only(tmp_path, monkeypatch):
    """The Scenario page's YAML editor is browser input too: a file path is refused before any file
    is read, and the refusal does not depend on whether the file exists."""
    import costsim.specs.base as base
    from costsim.errors import InputError
    from costsim.ui.pages import scenario as page

    secret = tmp_path / "secret.yaml"
    secret.write_text("password: hunter2\n")
    reads = []
    real = base.load_yaml_file
    monkeypatch.setattr(base, "load_yaml_file", lambda *a, **k: reads.append(a) or real(*a, **k))
    msgs = []
    for ref in (str(secret), str(tmp_path / "missing.yaml")):
        with pytest.raises(InputError) as exc:
            page.parse(f"name: x\ntraining: {{model: {ref}, hardware: h100-sxm, num_gpus: 8}}\n", "editor")
        assert "hunter2" not in exc.value.message
        msgs.append(exc.value.message.replace(ref, "REF"))
    assert msgs[0] == msgs[1] and not reads


def test_a_5000_digit_number_or_an_impossible_date_is_bad_input_not_an_internal_error(tmp_path):
    """PyYAML converts an integer of over 4,300 digits (Python's limit) or 2020-13-45 with a ValueError, which reached
    the CLI as an internal error (exit 1) from `--set` and from a scenario file."""
    from costsim.specs.overrides import parse_value
    from costsim.ui.pages.scenario import parse
    from tests.conftest import run_cli

    big = "9" * 5000
    assert parse_value(big) == big and parse_value("2020-13-45") == "2020-13-45"  # the field then says what it wants
    r = run_cli("run", "scenarios/chat-llama3-70b-h100.yaml", "--out", str(tmp_path / "o"), "--set",
                f"serving.autoscaler.max_replicas={big}")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "max_replicas" in r.stderr, r.stderr
    for text in (f"name: x\ntraining: {{num_gpus: {big}}}\n", "name: x\nwhen: 2020-13-45\n"):
        f = tmp_path / "s.yaml"
        f.write_text(text)
        with pytest.raises(InputError, match="cannot convert"):
            load_yaml_file(f, what="scenario")
        with pytest.raises(InputError, match="cannot convert"):
            parse(text, "the editor")
