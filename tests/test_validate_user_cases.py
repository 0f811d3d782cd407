"""What an outside author of held-back cases ran into (2026-12-07 stop): a case of a misspelt kind or an unknown id
passed as a 'known gap' without running, the inference runner priced layouts the CLI refuses (num_gpus ignored beside
tp, tp defaulting to num_gpus beside pp, tp / batch ignored in a deployment search), values the CLI refuses (batch 0,
acceptance 1.5, SLOs beside a fixed batch) ran, a metric its runner does not compute was compared anyway, and an
expected value of 0 or a tolerance that can never fail were accepted."""

from __future__ import annotations

import pytest
import yaml

from costsim.validation.engine import load_cases, run_cases
from tests.test_guards import _in_process

INF = dict(model="llama-3.1-70b", hardware="h100-sxm", engine="vllm", input_tokens=1000, output_tokens=500,
           weight_precision="fp8")


def _case(**kw):
    base = dict(id="C", kind="inference", source="s", inputs=dict(INF), metric="decode_tokens_per_s", expected=1000.0,
                tolerance_frac=0.2, tolerance_reason="r")
    inputs = kw.pop("inputs", {})
    base["inputs"].update(inputs)
    base.update(kw)
    return base


def _validate(tmp_path, capsys, *cases):
    f = tmp_path / "cases.yaml"
    f.write_text(yaml.safe_dump(list(cases)))
    return _in_process(["validate", "--cases", str(f), "--json"], capsys)


@pytest.mark.parametrize("case, words", [
    (_case(kind="inferance", known_gap="slow host"), ["kind", "did you mean 'inference'"]),
    (_case(inputs={"hardware": "h999"}, known_gap="slow host"), ["inputs.hardware", "h999"]),
    (_case(inputs={"engine": "vllmm"}), ["inputs.engine"]),
    (_case(kind="serve_gpu_power_per_gpu", metric="gpu_energy_per_token_j",
           inputs={"tp": 1, "batch": 8}), ["metric", "gpu_power_w"]),
    (_case(expected=0.0), ["expected", "case 'C'"]),  # named by its id where it has one (it read 'case #0')
    (_case(comparison="at_least", tolerance_frac=1.0), ["accepts any prediction"]),
    (_case(tolerance_frac=5.0), ["tolerance_frac", "case 'C'"]),
    (_case(id="x" * 5000), ["id"]),
])
def test_cases_that_cannot_run_or_cannot_fail_exit_2(case, words, tmp_path, capsys):
    if case["kind"] == "serve_gpu_power_per_gpu":
        case["inputs"] = {k: v for k, v in case["inputs"].items() if k in ("model", "hardware", "engine", "tp", "batch",
                                                                           "input_tokens", "output_tokens", "weight_precision")}
    code, out, err = _validate(tmp_path, capsys, case)
    assert code == 2 and all(w in err for w in words) and "Traceback" not in err, err


@pytest.mark.parametrize("inputs, words", [
    ({"num_gpus": 8, "tp": 2, "batch": 32}, ["must equal num_gpus"]),
    ({"batch": 0}, ["batch must be a whole number"]),
    ({"batch": -4}, ["batch must be a whole number"]),
    ({"batch": 32, "speculative_tokens": 2}, ["needs acceptance_frac"]),
    ({"batch": 32, "speculative_tokens": 2, "acceptance_frac": 1.5}, ["acceptance_frac must be a share"]),
    ({"batch": 256, "ttft_slo_s": 1.0}, ["give batch 'max'"]),
    ({"batch": 256, "max_num_seqs": 8}, ["more than max_num_seqs"]),
])
def test_inputs_the_cli_refuses_are_refused_in_a_case(inputs, words, tmp_path, capsys):
    code, out, err = _validate(tmp_path, capsys, _case(inputs=inputs))
    assert code == 2 and all(w in err for w in words) and "Traceback" not in err, err


def test_pp_without_tp_splits_num_gpus_as_the_cli_does(tmp_path):
    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest

    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump([_case(inputs={"num_gpus": 8, "pp": 2, "batch": 32}, metric="throughput_tokens_per_s")]))
    (r,) = run_cases(load_cases(f))
    cli = serve(ServeRequest(model="llama-3.1-70b", hardware="h100-sxm", engine="vllm", input_tokens=1000,
                             output_tokens=500, weight_precision="fp8", gpus=8, pp=2, batch=32, single_replica=True))
    assert cli["layout"]["tp"] == 4
    assert r.predicted == pytest.approx(cli["throughput_tokens_per_s"], rel=1e-6)


def test_a_deployment_search_case_keeps_the_sizes_it_fixes(tmp_path):
    f = tmp_path / "c.yaml"
    free = _case(id="A", metric="throughput_tokens_per_s", inputs={"num_gpus": 8, "layout": "search"})
    tp8 = _case(id="B", metric="throughput_tokens_per_s", inputs={"num_gpus": 8, "layout": "search", "tp": 8})
    f.write_text(yaml.safe_dump([free, tp8]))
    a, b = run_cases(load_cases(f))
    assert b.predicted < a.predicted  # one TP 8 replica is not the best deployment of 8 GPUs for a 70B model


def test_latency_cases_compare_what_serve_reports(tmp_path):
    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest

    f = tmp_path / "c.yaml"
    cases = [_case(id=m, metric=m, inputs={"num_gpus": 4, "batch": 64}) for m in ("ttft_s", "tpot_s")]
    f.write_text(yaml.safe_dump(cases))
    ttft, tpot = run_cases(load_cases(f))
    cli = serve(ServeRequest(model="llama-3.1-70b", hardware="h100-sxm", engine="vllm", input_tokens=1000,
                             output_tokens=500, weight_precision="fp8", gpus=4, batch=64, single_replica=True))
    assert ttft.predicted == pytest.approx(cli["ttft_s"], rel=1e-6)
    assert tpot.predicted == pytest.approx(cli["tpot_s"], rel=1e-6)


def test_training_case_values_are_read_as_written(tmp_path, capsys):
    case = dict(id="T", kind="training_step_time", source="s", metric="step_time_s", expected=5.0, tolerance_frac=0.2,
                tolerance_reason="r", inputs=dict(model="llama-3-8b", hardware="h100-sxm", gpus=64, seq_len=4096.9,
                                                  global_batch=512))
    code, out, err = _validate(tmp_path, capsys, case)
    assert code == 2 and "seq_len" in err and "Traceback" not in err, err
    case["inputs"]["seq_len"], case["inputs"]["sequence_parallel"] = 4096, "false"
    code, out, err = _validate(tmp_path, capsys, case)
    assert code == 2 and "sequence_parallel" in err, err


def test_a_serving_sim_case_finds_its_scenario_next_to_the_case_file(tmp_path):
    from pathlib import Path

    src = yaml.safe_load((Path(__file__).resolve().parents[1] / "scenarios" / "chat-llama3-70b-h100.yaml").read_text())
    src["simulation"]["duration_s"] = 180
    src.pop("variants", None)
    (tmp_path / "my-chat.yaml").write_text(yaml.safe_dump(src))
    f = tmp_path / "cases.yml"
    f.write_text(yaml.safe_dump([dict(id="S", kind="serving_sim", source="s", inputs={"scenario": "my-chat.yaml"},
                                      metric="ttft_mean_s", expected=0.5, tolerance_frac=0.9, tolerance_reason="r")]))
    (r,) = run_cases(load_cases(f))
    assert r.predicted is not None and r.predicted > 0, r.message


def test_cases_from_a_device_are_named_as_such(capsys):
    code, out, err = _in_process(["validate", "--cases", "/dev/null"], capsys)
    assert code == 2 and "neither a file nor a folder" in err, err


def test_a_training_case_train_would_refuse_exits_2(tmp_path, capsys):
    """A training case with tp 3 on 64 GPUs exited 1 ('FAIL (InputError: the fixed parallel sizes multiply to 3 ...')
    where `train` refuses the same inputs with exit 2 (a helper's fuzz sweep)."""
    case = dict(id="T3", kind="training_step_time", source="s", metric="step_time_s", expected=1.0, tolerance_frac=0.2,
                tolerance_reason="r", inputs={"model": "llama-3-8b", "hardware": "h100-sxm", "gpus": 64, "seq_len": 8192,
                                              "global_batch": 512, "precision": "bf16", "tp": 3})
    code, out, err = _validate(tmp_path, capsys, case)
    assert code == 2 and "T3" in err and "divide" in err and "Traceback" not in err, err
    code, out, err = _validate(tmp_path, capsys, dict(case, inputs={"model": "llama-3-8b", "hardware": "h100-sxm", "gpus": 64}))
    assert code == 2 and "inputs.seq_len is missing" in err, err
