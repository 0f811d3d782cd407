"""Edges a demanding user reaches (2026-12-07 stop): a device given as a model file, a training sequence shorter than
any published run, a batch search that stops below what memory holds, a fixed batch above that stop, and the first
token of a request whose whole batch is replaced every step (one output token)."""

from __future__ import annotations

import pytest

from costsim.api.serve import serve
from costsim.api.train import SHORTEST_PUBLISHED_SEQ_LEN_TOKENS, request_warnings
from costsim.core import inference as core
from costsim.core.serving_curve import serving_curve
from costsim.errors import InputError
from costsim.estimators.inference import MAX_CURVE_BATCH, core_inputs
from costsim.specs.base import load_yaml_document
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.requests import ServeRequest, TrainRequest


def test_a_device_file_is_named_as_such_not_as_missing(tmp_path):
    with pytest.raises(InputError, match="not a regular file"):
        load_yaml_document("/dev/null", what="model")
    with pytest.raises(InputError, match="does not exist"):
        load_yaml_document(tmp_path / "absent.yaml", what="model")


def _train(seq_len: int) -> TrainRequest:
    return TrainRequest(model="llama-3-8b", hardware="h100-sxm", gpus=8, tokens=1e9, seq_len=seq_len)


def test_a_sequence_shorter_than_any_published_run_warns():
    assert request_warnings(_train(4096)) == []
    assert request_warnings(_train(SHORTEST_PUBLISHED_SEQ_LEN_TOKENS)) == []
    (w,) = request_warnings(_train(1))
    assert "sequence length 1 token " in w and "--seq-len" in w


def _serve(**kw):
    base = dict(model="llama-3.2-1b", hardware="h200", gpus=1, input_tokens=64, output_tokens=64)
    return serve(ServeRequest(**(base | kw)))


def test_batch_search_stopping_below_memory_says_so():
    r = _serve()
    assert r["feasible"] and r["max_batch"] > MAX_CURVE_BATCH
    assert r["batch"] == MAX_CURVE_BATCH
    assert any(f"{MAX_CURVE_BATCH:,}" in w and "--batch" in w for w in r["warnings"])
    # an engine cap below the stop: nothing was left unpriced, no note
    r = _serve(max_num_seqs=1024)
    assert r["feasible"] and not r.get("warnings")


def test_a_fixed_batch_above_the_search_stop_is_priced_when_memory_holds_it():
    r = _serve(batch=8000)
    assert r["feasible"], r.get("reason")
    assert r["batch"] == 8000 and r["deployment"]["batch_per_replica"] == 8000
    assert not r.get("warnings")
    # beyond memory it is still refused, naming the batch
    r = _serve(batch=r["max_batch"] + 1)
    assert not r["feasible"] and "does not fit" in r["reason"]


def test_first_token_waits_for_the_prompts_admitted_with_it():
    ci = core_inputs(get_model("llama-3-8b"), get_accelerator("h100-sxm"), "bf16", None, "default")
    lay = core.Layout(tp=1, pp=1, ep=1)
    one = serving_curve(ci.shape, ci.dev, ci.prec, lay, 1024.0, 512, 1)
    # one output token: every step replaces the whole batch, so the first token waits for all 1,024 prompts
    assert float(one["ttft_s"]) >= float(one["prefill_time_s"])
    long = serving_curve(ci.shape, ci.dev, ci.prec, lay, 16.0, 512, 512)
    pre1 = float(core.prefill_time_s(ci.shape, ci.dev, ci.prec, lay, 1.0, 512))
    # long answers: a step admits fewer than one prompt, so one prompt's prefill + a running step, as before
    assert float(long["ttft_s"]) == pytest.approx(pre1 + float(long["decode_step_time_s"]))


# --- a stack that runs no tensor / expert parallelism and splits layers sequentially (pytorch-eager) ---------------

def test_plain_pytorch_deployments_split_layers_only():
    from costsim.estimators.deployment import search_deployment

    s = search_deployment(get_model("mixtral-8x7b"), get_accelerator("h100-sxm"), 8, input_tokens=512, output_tokens=256,
                          engine="pytorch-eager")
    assert s.feasible
    for d in (s.chosen, *s.runners_up):
        assert d.tp == 1 and d.ep == 1
    with pytest.raises(InputError, match="runs no tensor parallelism") as ei:
        search_deployment(get_model("llama-3-70b"), get_accelerator("h100-sxm"), 8, input_tokens=512, output_tokens=256,
                          engine="pytorch-eager", tp=2)
    assert ei.value.field == "tp"
    # one replica of 8 GPUs without --tp: the layers split eight ways (not a refused tp 8)
    r = serve(ServeRequest(model="llama-3-70b", hardware="h100-sxm", gpus=8, single_replica=True, engine="pytorch-eager"))
    assert r["layout"]["tp"] == 1 and r["layout"]["pp"] == 8


def test_sequential_stages_wait_for_each_other():
    m, a = get_model("llama-3-8b"), get_accelerator("h100-sxm")
    seq = core_inputs(m, a, "bf16", None, "pytorch-eager")
    ovl = core_inputs(m, a, "bf16", None, "pytorch-eager", {"pipeline_overlap": 1.0})
    pp2, pp1 = core.Layout(tp=1, pp=2, ep=1), core.Layout(tp=1, pp=1, ep=1)
    b, ctx = 256.0, 1024.0
    d_seq = core.decode_step_breakdown(seq.shape, seq.dev, seq.prec, pp2, b, ctx)
    d_ovl = core.decode_step_breakdown(ovl.shape, ovl.dev, ovl.prec, pp2, b, ctx)
    d_one = core.decode_step_breakdown(seq.shape, seq.dev, seq.prec, pp1, b, ctx)
    assert float(d_ovl["pipeline_wait_s"]) == 0.0
    # each GPU runs its half of the layers for the whole batch, then waits as long for the other half
    assert float(d_seq["pipeline_wait_s"]) > 0.4 * float(d_seq["step_time_s"])
    # two sequential stages are no faster than one GPU holding every layer, and slower than an overlapped pipeline
    assert float(d_seq["step_time_s"]) >= 0.95 * float(d_one["step_time_s"])
    assert float(d_seq["step_time_s"]) > float(d_ovl["step_time_s"])
    # the waiting GPU draws less: mean power below the overlapped pipeline's
    p = lambda d, ci: float(core.decode_step_power_w(d, ci.dev, a.idle_w, a.tdp_w))
    assert p(d_seq, seq) < p(d_ovl, ovl)
    # a prompt passes both stages in turn: its TTFT is the whole prefill, not the per-stage share
    c_seq = serving_curve(seq.shape, seq.dev, seq.prec, pp2, 1.0, 2048, 128)
    c_one = serving_curve(seq.shape, seq.dev, seq.prec, pp1, 1.0, 2048, 128)
    assert float(c_seq["ttft_s"]) >= 0.95 * float(c_one["ttft_s"])


def test_batch_fill_holds_every_sequence_memory_holds():
    r = serve(ServeRequest(model="llama-3.2-1b", hardware="h200", gpus=1, input_tokens=64, output_tokens=64, batch="fill",
                           single_replica=True))
    # no engine cap (no max_num_seqs, not a TensorRT-LLM scheduler): the whole KV cache, not the 'max' search's stop
    assert r["feasible"] and r["max_batch"] > MAX_CURVE_BATCH and r["batch"] == r["max_batch"]


def test_a_serving_scenario_names_the_layout_its_engine_cannot_run(tmp_path):
    from pathlib import Path

    from costsim.api.run import load_scenario, run_scenario

    scn = Path(__file__).resolve().parents[1] / "scenarios" / "chat-llama3-70b-h100.yaml"
    s = load_scenario(scn, ["serving.engine=pytorch-eager", "simulation.duration_s=120"])
    with pytest.raises(InputError, match="gpus_per_replica 8 at pp 1 x ep 1 asks for tp 8") as ei:
        run_scenario(s)
    assert ei.value.field == "serving.pp"
