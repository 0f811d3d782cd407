"""Trust ranges (issue 14 item 4): error bands from held-out validation error by regime."""

from __future__ import annotations

import json
import math

import pytest

from costsim.core.trust import ErrorRecord, error_band, regime_table, scale_of, truth_over_prediction


def _rec(i, fam="training", vendor="NVIDIA", devices=2048, t=0.0, fit=False):
    return ErrorRecord(case_id=f"c{i}", family=fam, vendor=vendor, devices=devices, truth_over_prediction_frac=t, used_for_fit=fit)


def test_orientation_of_time_and_rate_metrics():
    # we predict a step 10% too long: the published speed is 10% above ours
    assert truth_over_prediction(0.10, "step_time_s", "training") == pytest.approx(0.10)
    # we predict throughput 10% too high: published is 1/1.1 of ours
    assert truth_over_prediction(0.10, "throughput_tokens_per_s", "serving") == pytest.approx(1 / 1.1 - 1)
    assert truth_over_prediction(0.25, "gpu_hours", "training") == pytest.approx(0.25)
    assert truth_over_prediction(0.10, "gpu_power_w", "power") == pytest.approx(1 / 1.1 - 1)
    assert math.isnan(truth_over_prediction(-1.0, "mfu_frac", "training"))


def test_band_is_p10_p90_of_held_out_cases_in_the_regime():
    recs = [_rec(i, t=x) for i, x in enumerate([-0.2, -0.1, -0.05, 0, 0.01, 0.02, 0.05, 0.1, 0.12, 0.3])]
    recs += [_rec(99, t=5.0, fit=True)]  # fitted cases never count
    b = error_band(recs, "training", "nvidia", 4096)
    assert b.cases == 10 and b.regime == "training, nvidia, large cluster (>1,024)"
    assert b.low_frac == pytest.approx(-0.11) and b.high_frac == pytest.approx(0.138)
    d = b.as_dict()
    assert {"low_frac", "high_frac", "cases", "regime"} <= set(d) and "held-out" in d["label"]


def test_band_widens_when_the_regime_has_too_few_cases():
    recs = [_rec(i, devices=64, t=0.01 * i) for i in range(9)] + [_rec(20 + i, vendor="AMD", devices=8, t=-0.3) for i in range(3)]
    b = error_band(recs, "training", "AMD", 8)
    assert b.regime == "training, any vendor and scale" and b.cases == 12
    b = error_band(recs, "training", "NVIDIA", 4096)  # no large-cluster cases: the vendor's cases
    assert b.regime == "training, NVIDIA, any scale" and b.cases == 9
    assert error_band(recs, "power", "NVIDIA", 1) is None


def test_band_always_contains_zero():
    recs = [_rec(i, t=0.2 + 0.01 * i) for i in range(10)]
    b = error_band(recs, "training", "NVIDIA", 4096)
    assert b.low_frac == 0.0 and b.high_frac > 0.2


def test_scale_buckets():
    assert scale_of(1) == "1 device" and scale_of(8).startswith("1 node") and scale_of(9).startswith("cluster")
    assert scale_of(16384).startswith("large")


def test_shipped_records_match_a_fresh_validation_run():
    """costsim/data/validation_errors.json is what `costsim validate --write-bands` writes today; a change that
    moves a prediction must regenerate it (the bands would silently describe old code otherwise)."""
    from costsim.api.trust import RECORDS_PATH
    from costsim.validation.bands import error_rows
    from costsim.validation.engine import load_cases, run_cases

    shipped = {r["case_id"]: r for r in json.loads(RECORDS_PATH.read_text())["records"]}
    cases = load_cases()
    fresh = {r["case_id"]: r for r in error_rows(cases, run_cases(cases))}
    assert set(fresh) == set(shipped), "validation cases changed: run `costsim validate --write-bands`"
    stale = [k for k, r in fresh.items() if r["family"] != shipped[k]["family"] or r["used_for_fit"] != shipped[k]["used_for_fit"]
             or r["sparse"] != shipped[k].get("sparse")
             or abs((r["truth_over_prediction_frac"] or 0) - (shipped[k]["truth_over_prediction_frac"] or 0)) > 1e-6]
    assert not stale, f"predictions moved for {stale[:10]}: run `costsim validate --write-bands`"
    # the regime keys too: a change to how a case's vendor, scale (devices, node), engine or mode is read moves its band
    keys = ("vendor", "devices", "node_devices", "engine", "mode", "metric", "kind")
    moved = [(k, f) for k, r in fresh.items() for f in keys if r.get(f) != shipped[k].get(f)]
    assert not moved, f"regime keys moved for {moved[:10]}: run `costsim validate --write-bands`"
    table = regime_table([ErrorRecord(r["case_id"], r["family"], r["vendor"], r["devices"],
                                      r["truth_over_prediction_frac"] if r["truth_over_prediction_frac"] is not None else math.nan,
                                      r["used_for_fit"], r["sparse"]) for r in fresh.values()])
    fams = {g["family"] for g in table}
    assert fams == {"training", "serving", "power"}
    assert {g["models"] for g in table if g["family"] == "serving"} == {"dense", "MoE"}


def test_train_serve_and_run_results_carry_the_band(cli, tmp_path):
    from costsim.api.serve import serve
    from costsim.api.train import train
    from costsim.specs.requests import ServeRequest, TrainRequest

    r = train(TrainRequest(model="llama-3-70b", hardware="h100-sxm", gpus=1024, tokens=15e12))
    b = r["error_band"]
    assert b["cases"] >= 8 and b["low_frac"] <= 0 <= b["high_frac"] and b["regime"].startswith("training")
    assert r["power_error_band"]["regime"].startswith("power")
    r = serve(ServeRequest(model="llama-3-8b", hardware="h100-sxm", gpus=1))
    assert r["error_band"]["regime"].startswith("serving") and r["error_band"]["cases"] >= 8
    pb = r["power_error_band"]  # power and energy figures read on the power cases of the regime
    assert pb["regime"] == "power, NVIDIA, 1 device, dense models" and pb["cases"] >= 8 and pb["applies_to"] == "power and energy"
    assert "-0%" not in pb["label"]
    p = cli("run", "scenarios/phi3-mini-on-iphone.yaml", "--out", str(tmp_path / "o"), "--no-pdf")
    assert p.returncode == 0, p.stderr
    assert "trust range" in p.stdout
    doc = json.loads((tmp_path / "o" / "summary.json").read_text())
    band = doc["variants"][0]["serving"]["error_band"]
    assert band["regime"] == "serving, Apple, 1 device, dense models" and band["cases"] >= 8
    assert doc["variants"][0]["serving"]["power_error_band"]["applies_to"] == "power and energy"
    assert "trust range of power and energy" in p.stdout
    assert "Trust ranges" in (tmp_path / "o" / "report.html").read_text()


def test_validate_prints_error_by_regime(cli):
    p = cli("validate", "--kind", "inference")
    assert p.returncode == 0, p.stderr
    assert "held-out error by regime" in p.stdout and "serving" in p.stdout


def test_dense_and_moe_models_read_on_their_own_cases():
    """MoE serving errors differ from dense ones (TensorRT-LLM's MoE rows run well below costsim's prediction): a
    regime with enough cases of the model's architecture uses only those; one without falls back and says so."""
    from costsim.core.trust import ErrorRecord, error_band

    recs = ([ErrorRecord(f"d{i}", "serving", "NVIDIA", 1, 0.01 * (i - 10), False) for i in range(20)]
            + [ErrorRecord(f"m{i}", "serving", "NVIDIA", 1, -0.5 + 0.01 * i, False, sparse=True) for i in range(10)])
    dense = error_band(recs, "serving", "NVIDIA", 1, sparse=False)
    moe = error_band(recs, "serving", "NVIDIA", 1, sparse=True)
    both = error_band(recs, "serving", "NVIDIA", 1)
    assert dense.cases == 20 and dense.regime.endswith("dense models") and dense.low_frac > -0.1
    assert moe.cases == 10 and moe.regime.endswith("MoE models") and moe.low_frac < -0.4
    assert both.cases == 30 and "models" not in both.regime
    few = error_band(recs[:20] + recs[20:23], "serving", "NVIDIA", 1, sparse=True)  # 3 MoE cases: too few for their own band
    # ... so the broader band is used, widened to cover all three (-0.50 .. -0.48), and it says so
    assert few.cases == 23 and few.regime == "serving, NVIDIA, 1 device; widened to cover all 3 held-out MoE-model cases of NVIDIA"
    assert few.low_frac == pytest.approx(-0.5) and few.high_frac == pytest.approx(error_band(recs[:23], "serving", "NVIDIA", 1).high_frac)
    inside = [ErrorRecord(f"n{i}", "serving", "NVIDIA", 1, 0.0, False, sparse=True) for i in range(3)]
    calm = error_band(recs[:20] + inside, "serving", "NVIDIA", 1, sparse=True)  # MoE cases inside the band: nothing to widen
    assert calm.regime == "serving, NVIDIA, 1 device" and calm.low_frac == error_band(recs[:20] + inside, "serving", "NVIDIA", 1).low_frac

    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest

    r = serve(ServeRequest(model="qwen3-30b-a3b", hardware="b200", gpus=1))
    assert r["error_band"]["regime"] == "serving, NVIDIA, 1 device, MoE models"


def test_a_named_engine_reads_on_its_own_cases():
    """Engines err differently on the same models (TensorRT-LLM's MoE rows run well below costsim's prediction,
    vLLM's do not): a named engine with enough cases in the regime gets its own band; too few, or the default
    (calibration baseline) engine, fall back to the architecture's band."""
    from costsim.core.trust import ErrorRecord, error_band

    recs = ([ErrorRecord(f"t{i}", "serving", "NVIDIA", 1, -0.6 + 0.02 * i, False, sparse=True, engine="tensorrt-llm")
             for i in range(10)]
            + [ErrorRecord(f"v{i}", "serving", "NVIDIA", 1, -0.05 + 0.01 * i, False, sparse=True, engine="vllm")
               for i in range(10)])
    trt = error_band(recs, "serving", "NVIDIA", 1, sparse=True, engine="tensorrt-llm")
    vllm = error_band(recs, "serving", "NVIDIA", 1, sparse=True, engine="vllm")
    both = error_band(recs, "serving", "NVIDIA", 1, sparse=True)
    assert trt.cases == 10 and trt.regime.endswith("MoE models, engine tensorrt-llm") and trt.low_frac < -0.5
    assert vllm.cases == 10 and vllm.low_frac > -0.1 and vllm.high_frac < 0.1
    assert both.cases == 20 and "engine" not in both.regime
    assert error_band(recs, "serving", "NVIDIA", 1, sparse=True, engine="sglang").regime.endswith("MoE models")

    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest

    base = dict(model="qwen3-30b-a3b", hardware="b200", gpus=1)
    assert serve(ServeRequest(**base, engine="vllm"), with_curve=False)["error_band"]["regime"].endswith("engine vllm")
    assert "engine" not in serve(ServeRequest(**base), with_curve=False)["error_band"]["regime"]


def test_validate_runs_a_planners_own_cases(cli, tmp_path):
    """`--cases FILE` runs one's own measurements through the same runners; `--id` picks shipped cases; the answer
    comes first as a sentence, and a miss outside the tolerance fails (exit 1)."""
    own = tmp_path / "mine.yaml"
    own.write_text("""
- id: MY-8B-H100-DECODE
  kind: inference
  source: our lab, 2026-11
  inputs: {model: llama-3-8b, hardware: h100-sxm, num_gpus: 1, tp: 1, weight_precision: bf16, batch: 1,
           input_tokens: 128, output_tokens: 128}
  metric: throughput_tokens_per_s
  expected: 1.0
  tolerance_frac: 0.2
  tolerance_reason: deliberately wrong expected value
""")
    p = cli("validate", "--cases", str(own))
    assert p.returncode == 1, p.stderr
    assert p.stdout.splitlines()[0].startswith("1 case: 0 pass") and "MY-8B-H100-DECODE" in p.stdout
    p = cli("validate", "--id", "trtpg-gpt-oss-120b-h200", "--json")
    assert p.returncode == 0, p.stderr
    ids = [c["id"] for c in json.loads(p.stdout)["cases"]]
    assert ids and all("trtpg-gpt-oss-120b-h200" in i.lower() for i in ids)
    typo = tmp_path / "typo.yaml"
    typo.write_text(own.read_text().replace("output_tokens: 128", "output_tokns: 128"))
    p = cli("validate", "--cases", str(typo))  # a misspelt input is refused, not silently ignored
    assert p.returncode == 2 and "inputs.output_tokns" in p.stderr and "did you mean 'output_tokens'" in p.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: X\n  kind: inference\n")
    p = cli("validate", "--cases", str(bad))
    assert p.returncode == 2 and "Traceback" not in p.stderr + p.stdout and "source" in p.stderr


@pytest.mark.parametrize("args, needle", [
    (("--cases", "/tmp/" + "x" * 300), "cannot be read"),
    (("--cases", "x" * 5000), "at most 1024"),
    (("--id", "y" * 5000), "..."),
])
def test_validate_hostile_paths_and_ids_exit_2_without_traceback(cli, args, needle):
    p = cli("validate", *args)
    assert p.returncode == 2 and needle in p.stderr and "Traceback" not in p.stderr + p.stdout and "internal error" not in p.stderr
    assert len(p.stderr) < 400


def test_scale_buckets_follow_the_parts_node():
    """One node is up to 8 devices, or the part's whole node where it holds more: a 16-chip Trainium instance and a
    72-GPU NVL72 rack read as '1 node', and the cluster bucket starts above them."""
    from costsim.api.trust import band_for, node_devices_of
    from costsim.core.trust import scale_of

    assert scale_of(8) == "1 node (2-8 devices)" and scale_of(9) == "cluster (9-1,024)" and scale_of(2048).startswith("large")
    assert scale_of(16, 16) == "1 node (2-16 devices)" and scale_of(17, 16) == "cluster (17-1,024)"
    assert scale_of(4, 4) == "1 node (2-8 devices)"  # a 4-chip TPU host keeps the 8-device bucket
    assert node_devices_of("trainium1") == 16 and node_devices_of("gb200") == 72 and node_devices_of("h100-sxm") == 8
    assert node_devices_of("no-such-part") == 8
    from costsim.api.trust import load_records
    from costsim.core.trust import regime_table

    scales = {(g["vendor"], g["scale"]) for g in regime_table(load_records()) if g["family"] == "serving"}
    assert ("AWS", "1 node (2-16 devices)") in scales and ("AWS", "1 node (2-12 devices)") in scales
    assert band_for("serving", "trainium1", 16, "llama-2-70b") is not None
