"""A finite offline job (N identical requests queued at once) runs in waves of the batch; the TensorRT-LLM case
generators read the number of requests from the published dataset table."""

import numpy as np
import pytest

from costsim.core import inference as core
from costsim.core.serving_curve import finite_job, serving_curve
from costsim.estimators.inference import core_inputs
from costsim.specs.catalog import get_accelerator, get_model
from costsim.validation.cases.build_trtllm_cases import dataset_sizes, job_inputs
from costsim.validation.engine import Case
from costsim.validation.inference import predict


@pytest.fixture(scope="module")
def llama70b_b200():
    ci = core_inputs(get_model("llama-3.1-70b"), get_accelerator("b200"), "fp4", None, "tensorrt-llm-pytorch", None)
    return ci.shape, ci.dev, ci.prec, core.Layout(tp=1)


def _tpot(env, b, i, o):
    return float(serving_curve(*env, float(b), i, o)["tpot_s"])


def test_whole_waves_give_the_steady_state(llama70b_b200):
    steady = float(serving_curve(*llama70b_b200, 300.0, 1000, 2000)["throughput_tokens_per_s"])
    job = finite_job(*llama70b_b200, 300.0, 1000, 2000, 1500)
    assert float(job["waves"]) == 5
    assert float(job["throughput_tokens_per_s"]) == pytest.approx(steady, rel=1e-12)


def test_a_short_last_wave_costs_a_whole_decode_at_its_own_batch(llama70b_b200):
    i, o = 1000, 2000
    job = finite_job(*llama70b_b200, 283.0, i, o, 1500)
    # 5 waves of 283 and one of 85, each O steps of its batch's time per output token
    want_s = 5 * o * _tpot(llama70b_b200, 283, i, o) + o * _tpot(llama70b_b200, 85, i, o)
    assert float(job["waves"]) == 6
    assert float(job["job_time_s"]) == pytest.approx(want_s, rel=1e-12)
    assert float(job["throughput_tokens_per_s"]) == pytest.approx(1500 * o / want_s, rel=1e-12)
    steady = float(serving_curve(*llama70b_b200, 283.0, i, o)["throughput_tokens_per_s"])
    assert float(job["throughput_tokens_per_s"]) < steady


def test_fewer_requests_than_the_batch_run_as_one_wave(llama70b_b200):
    job = finite_job(*llama70b_b200, 4096.0, 128, 128, 1000)
    at_n = float(serving_curve(*llama70b_b200, 1000.0, 128, 128)["throughput_tokens_per_s"])
    assert float(job["waves"]) == 1
    assert float(job["throughput_tokens_per_s"]) == pytest.approx(at_n, rel=1e-12)


def test_finite_job_is_vectorized_and_tends_to_the_steady_state(llama70b_b200):
    n = np.array([300.0, 301.0, 3_000_001.0])
    job = finite_job(*llama70b_b200, 300.0, 1000, 1000, n)
    thr = job["throughput_tokens_per_s"]
    steady = float(serving_curve(*llama70b_b200, 300.0, 1000, 1000)["throughput_tokens_per_s"])
    assert thr.shape == (3,)
    assert thr[1] < thr[0]  # one request more costs a whole extra wave
    assert thr[2] == pytest.approx(steady, rel=1e-4)


def test_case_input_num_requests_prices_the_job_and_is_checked():
    inputs = {"model": "llama-3.1-70b", "hardware": "b200", "num_gpus": 1, "tp": 1, "weight_precision": "fp4",
              "engine": "tensorrt-llm-pytorch", "batch": "max", "input_tokens": 1000, "output_tokens": 2000}

    def case(**extra):
        return Case(id="t", kind="inference", inputs={**inputs, **extra}, metric="throughput_tokens_per_s",
                    expected=6271.0, comparison="within", tolerance_frac=0.25, tolerance_reason="", source="test",
                    used_for_fit=False)

    steady, job = predict(case()), predict(case(num_requests=1500))
    assert job < steady
    for bad in (0, -3, 1.5, "many", True):
        with pytest.raises(ValueError, match="num_requests"):
            predict(case(num_requests=bad))
    with pytest.raises(ValueError, match="num_requests"):
        predict(case(num_requests=1500, layout="search"))


V10_TABLE = """
| Input Length | Output Length |  $seq_len  | $num_requests      |
| ------------ | ------------- | ---------- | ------------------ |
| 128          | 128           | 256        | 30000              |
| 1000         | 2000          | 3000       | 1500               |

### Running the Benchmark
"""
PER_GPU_TABLE = """
| Input Length | Output Length | Number of Requests |
|--------------|---------------|---------------------|
| 1024         | 1024          | 3000                |
| 32768        | 1024          | 1000                |
"""


def test_dataset_sizes_reads_both_published_table_forms():
    assert dataset_sizes(V10_TABLE) == {(128, 128): 30000, (1000, 2000): 1500}
    assert dataset_sizes(PER_GPU_TABLE) == {(1024, 1024): 3000, (32768, 1024): 1000}
    assert job_inputs(dataset_sizes(PER_GPU_TABLE), 1024, 1024) == {"num_requests": 3000}
    assert job_inputs(dataset_sizes(PER_GPU_TABLE), 1000, 1000) == {}  # not listed: priced at steady state


def test_dataset_sizes_without_the_table_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        dataset_sizes("| Sequence Length (ISL/OSL) | B200<br/>TP1 (FP4) |\n")
    assert e.value.code == 2
    assert "Preparing a Dataset" in capsys.readouterr().err


def test_the_serving_simulation_runs_an_offline_job_in_the_same_waves(tmp_path):
    """The discrete-event simulator (chunked prefill mixed into decode steps, paged KV, one event per iteration) and
    the analytic waves agree on a job of N identical requests queued at t = 0; the steady state does not."""
    from costsim.sim.serving import simulate_serving
    from costsim.specs.scenario import Scenario

    i, o, n, b = 500, 500, 300, 128  # waves of 128, 128 and 44
    trace = tmp_path / "job.csv"
    trace.write_text("timestamp_s,input_tokens,output_tokens\n" + f"0,{i},{o}\n" * n)
    sc = Scenario.model_validate({
        "name": "offline-job",
        "serving": {"model": "llama-3.1-8b", "hardware": "h100-sxm", "num_replicas": 1, "gpus_per_replica": 1,
                    "weight_precision": "fp8", "engine": "tensorrt-llm-pytorch",
                    "scheduler": {"max_num_seqs": b, "max_num_batched_tokens": 8192},
                    "arrivals": {"process": "trace", "trace_path": str(trace), "trace_repeat": False},
                    "input_tokens": {"kind": "trace"}, "output_tokens": {"kind": "trace"}},
        "simulation": {"duration_s": 3600}})
    out = simulate_serving(sc, seed=0)
    req = out.tables["requests"]
    assert out.summary["requests_completed"] == n and int(np.sum(req["preemptions"])) == 0
    des_job_s = float(np.max(np.asarray(req["arrival_s"]) + np.asarray(req["e2e_s"])))
    ci = core_inputs(get_model("llama-3.1-8b"), get_accelerator("h100-sxm"), "fp8", None, "tensorrt-llm-pytorch", None)
    env = (ci.shape, ci.dev, ci.prec, core.Layout(tp=1))
    waves_s = float(finite_job(*env, float(b), i, o, n)["job_time_s"])
    steady_s = n * o / float(serving_curve(*env, float(b), i, o)["throughput_tokens_per_s"])
    assert des_job_s == pytest.approx(waves_s, rel=0.03)
    assert abs(des_job_s / steady_s - 1) > 0.08  # the short last wave is real in the simulation too


def test_trtllm_bench_max_batch_follows_its_rounding():
    from costsim.estimators.trtllm_bench import finetune_max_batch
    assert [finetune_max_batch(n) for n in (10, 100, 255, 283, 1000, 1144, 5000)] == [64, 128, 256, 384, 1024, 1280, 4096]
    assert finetune_max_batch(1000, pp=4) == 256


def _bench(mid, hw, n, wp, kv, i, o):
    from costsim.estimators.trtllm_bench import trtllm_bench_settings
    m, a = get_model(mid), get_accelerator(hw)
    ci = core_inputs(m, a, wp, kv, "tensorrt-llm-pytorch", None)
    return trtllm_bench_settings(m, ci.shape, a, num_gpus=n, pp=1, input_tokens=i, output_tokens=o, weight_precision=wp,
                                 kv_precision=kv)


def test_trtllm_bench_estimate_follows_its_own_kv_arithmetic():
    """Its estimate is its formula, not the engine's pool: close to costsim's KV capacity for a GQA model on one GPU,
    far below it for MLA (128 heads of 56 dims counted) and for KV heads fewer than the GPUs (max(tp, kv heads))."""
    dense = _bench("llama-3.1-8b", "h100-sxm", 1, "fp8", None, 1000, 1000)
    ci = core_inputs(get_model("llama-3.1-8b"), get_accelerator("h100-sxm"), "fp8", None, "tensorrt-llm-pytorch", None)
    pool = float(core.max_batch(ci.shape, ci.dev, ci.prec, core.Layout(tp=1), 2000, 2000))
    assert dense.kv_requests_estimate == pytest.approx(pool, rel=0.1)   # no runtime reserve or workspace in its count
    mla = _bench("deepseek-v3", "h200", 8, "fp8", "fp8", 1000, 1000)
    # 2 x 61 layers x 128 heads x 56 dims x 1 byte per token, 8 x 143,771 MiB less 671e9-odd bytes of FP8 weights
    per_request = 2 * 61 * 128 * 56 * 2000
    free = 8 * 143771 * 2 ** 20 - float(core_inputs(get_model("deepseek-v3"), get_accelerator("h200"), "fp8", "fp8",
                                                      "tensorrt-llm-pytorch", None).shape.params_resident)
    assert mla.kv_requests_estimate == pytest.approx(0.95 * free / per_request, rel=1e-9)
    assert mla.max_batch_size == 384
    gqa = _bench("qwen3-235b-a22b", "h100-sxm", 8, "fp8", None, 128, 4096)   # 4 KV heads counted as 8 at --tp 8
    assert gqa.max_batch_size == 640
    # an NVFP4 checkpoint stores two weights per element: its engine size comes out near a quarter of the bytes
    from costsim.estimators.trtllm_bench import checkpoint_elements
    shape = core_inputs(get_model("llama-3.1-70b"), get_accelerator("b200"), "fp4", None, "tensorrt-llm-pytorch", None).shape
    assert 0.5 < checkpoint_elements(shape, "fp4") / float(shape.params_resident) < 0.6
    # quantizations its table does not know (gpt-oss's MXFP4) take the LLM API default
    assert _bench("gpt-oss-20b", "h200", 1, "mxfp4", "bf16", 1000, 1000).max_batch_size == 2048


def test_fill_with_attention_dp_caps_each_rank_at_the_bench_max_batch():
    """DeepSeek R1 on four B200s (attention data parallel over the EP ranks) at 1,024 / 8,192: trtllm-bench sets 96
    per rank, so the job runs 384 sequences though the pool holds 868."""
    inputs = {"model": "deepseek-v3", "hardware": "b200", "num_gpus": 4, "tp": 1, "ep": 4, "weight_precision": "fp4",
              "kv_precision": "fp8", "engine": "tensorrt-llm-pytorch", "input_tokens": 1024, "output_tokens": 8192,
              "num_requests": 1500}

    def case(**extra):
        return Case(id="t", kind="inference", inputs={**inputs, **extra}, metric="throughput_tokens_per_s",
                    expected=15448.0, comparison="within", tolerance_frac=0.25, tolerance_reason="", source="test",
                    used_for_fit=False)

    assert _bench("deepseek-v3", "b200", 4, "fp4", "fp8", 1024, 8192).max_batch_size == 96
    fill = predict(case(batch="fill"))
    assert fill == pytest.approx(predict(case(batch=384, overrides={"cuda_graph_max_batch": 96.0})), rel=1e-12)
    assert fill < 0.8 * predict(case(batch=868, overrides={"cuda_graph_max_batch": 1024.0}))


def test_fill_admits_every_sequence_that_fits_and_captures_graphs_up_to_the_bench_max_batch():
    """batch: fill runs the KV-capacity batch (not the best one); on the padding engine the captured graphs are the
    listed sizes up to trtllm-bench's max_batch_size plus that size itself, so a batch between the last listed size
    and max_batch_size pads to max_batch_size, not to the next listed size."""
    inputs = {"model": "llama-3.1-405b", "hardware": "h200", "num_gpus": 8, "tp": 8, "weight_precision": "fp8",
              "engine": "tensorrt-llm-pytorch", "input_tokens": 500, "output_tokens": 2000}

    def case(**extra):
        return Case(id="t", kind="inference", inputs={**inputs, **extra}, metric="throughput_tokens_per_s",
                    expected=4724.0, comparison="within", tolerance_frac=0.25, tolerance_reason="", source="test",
                    used_for_fit=False)

    ci = core_inputs(get_model("llama-3.1-405b"), get_accelerator("h200"), "fp8", None, "tensorrt-llm-pytorch", None)
    mb = int(core.max_batch(ci.shape, ci.dev, ci.prec, core.Layout(tp=8), 2500, 2500))
    bench = _bench("llama-3.1-405b", "h200", 8, "fp8", None, 500, 2000)
    assert bench.max_batch_size == 1280 and bench.max_num_tokens == 2048 and bench.cuda_graph_max_batch == 1280
    fill = predict(case(batch="fill"))
    assert fill == pytest.approx(predict(case(batch=mb, overrides={"cuda_graph_max_batch": 1280.0})), rel=1e-12)
    assert 1024 < mb <= 1280
    # 1,144 sequences compute as the 1,280 graph, not the listed 2,048 (never captured) nor eagerly
    assert core.graph_batch(1144.0, 1.0, 1280.0) == 1280.0 and core.graph_batch(1144.0, 1.0, 8192.0) == 2048.0
    assert core.graph_batch(1300.0, 1.0, 1280.0) == 1300.0   # above the largest graph: eager
    padded_to_2048 = predict(case(batch="fill", overrides={"cuda_graph_max_batch": 8192}))
    assert padded_to_2048 < 0.9 * fill
    with pytest.raises(ValueError, match="fill"):
        predict(case(batch="fill", ttft_slo_s=1.0))


def test_a_padding_engine_searches_its_graph_sizes():
    """The throughput of a padding engine peaks at its CUDA-graph sizes, so the batch search includes them: Llama
    70B FP4 on one B200 fits 283 sequences of 3,000 tokens and serves best at 256 (283 would compute as 384)."""
    from costsim.api.serve import search_deployment, serve
    from costsim.core.serving_curve import batch_grid
    from costsim.specs.requests import ServeRequest
    assert 256.0 in batch_grid(283, extra=core.CUDA_GRAPH_BATCH_SIZES) and 256.0 not in batch_grid(283)
    assert 384.0 not in batch_grid(283, extra=core.CUDA_GRAPH_BATCH_SIZES)
    r = serve(ServeRequest(model="llama-3.1-70b", hardware="b200", gpus=1, single_replica=True, weight_precision="fp4",
                           engine="tensorrt-llm-pytorch", input_tokens=1000, output_tokens=2000))
    assert r["batch"] == 256 and r["max_batch"] > 256
    s = search_deployment("llama-3.1-70b", "b200", 1, input_tokens=1000, output_tokens=2000, weight_precision="fp4",
                          engine="tensorrt-llm-pytorch", runners_up=0)
    assert s.chosen is not None and s.chosen.batch_per_replica == 256


def test_serve_reports_the_cuda_graph_a_padded_step_computes():
    import subprocess
    import sys
    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest
    base = dict(model="llama-3.1-70b", hardware="b200", gpus=1, single_replica=True, weight_precision="fp4",
                input_tokens=1000, output_tokens=2000, batch="283")
    assert serve(ServeRequest(**base, engine="tensorrt-llm-pytorch"))["cuda_graph_batch_per_rank"] == 384
    assert serve(ServeRequest(**base))["cuda_graph_batch_per_rank"] is None  # the default engine does not pad
    out = subprocess.run([sys.executable, "-c", "from costsim.cli import main; main()", "serve", "--model", "llama-3.1-70b",
                          "--hardware", "b200", "--gpus", "1", "--single-replica", "--weight-precision", "fp4", "--engine",
                          "tensorrt-llm-pytorch", "--input-tokens", "1000", "--output-tokens", "2000", "--batch", "283"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "a CUDA graph of 384 sequences per rank" in " ".join(out.stdout.split())


def test_serve_batch_fill_prices_the_job_as_the_validation_runner_does():
    """`costsim serve --batch fill --requests N --single-replica` on a TensorRT-LLM engine admits what trtllm-bench's
    max_batch_size allows, with its CUDA-graph sizes: the job is the validation runner's prediction for the same row."""
    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest
    from costsim.validation.engine import load_cases

    case = next(c for c in load_cases() if c.id == "I-trtpg-70b-h200-fp8-tp2-1024-1024")
    i = case.inputs
    req = ServeRequest(model=i["model"], hardware=i["hardware"], gpus=i["num_gpus"], tp=i["tp"], single_replica=True,
                       weight_precision=i["weight_precision"], kv_precision=i["kv_precision"], engine=i["engine"],
                       batch="fill", input_tokens=i["input_tokens"], output_tokens=i["output_tokens"],
                       requests=i["num_requests"])
    r = serve(req, with_curve=False)
    assert r["job"]["throughput_tokens_per_s"] == pytest.approx(predict(case), rel=1e-9)
    by_max = serve(req.model_copy(update={"batch": "max"}), with_curve=False)
    assert r["batch"] != by_max["batch"]  # not the throughput-optimal batch: what the engine admits


def test_batch_fill_on_a_paged_engine_is_every_sequence_that_fits_up_to_max_num_seqs():
    from costsim.api.serve import serve
    from costsim.specs.requests import ServeRequest

    base = dict(model="llama-3.1-8b", hardware="h100-sxm", gpus=1, single_replica=True, engine="vllm",
                input_tokens=1000, output_tokens=1000)
    full = serve(ServeRequest(**base, batch="fill"), with_curve=False)
    assert full["batch"] == full["max_batch"]
    capped = serve(ServeRequest(**base, batch="fill", max_num_seqs=100), with_curve=False)
    assert capped["batch"] == 100


def test_batch_fill_refuses_slos_and_a_deployment_search():
    from costsim.errors import InputError
    from costsim.specs.base import validate_spec
    from costsim.specs.requests import ServeRequest

    base = dict(model="llama-3.1-8b", hardware="h100-sxm", batch="fill")
    with pytest.raises(InputError, match="latency limits"):
        validate_spec(ServeRequest, {**base, "gpus": 1, "single_replica": True, "tpot_slo_s": 0.05}, what="serve")
    with pytest.raises(InputError, match="single_replica"):
        validate_spec(ServeRequest, {**base, "gpus": 8}, what="serve")


def test_cli_batch_fill_and_a_bad_batch_exit_2(cli):
    r = cli("serve", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--gpus", "8", "--batch", "fill")
    assert r.returncode == 2 and "single_replica" in r.stderr and "Traceback" not in r.stderr
    r = cli("serve", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--batch", "full")
    assert r.returncode == 2 and "'max' or 'fill'" in r.stderr
    r = cli("serve", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--gpus", "1", "--single-replica",
            "--engine", "tensorrt-llm-pytorch", "--batch", "fill", "--json")
    assert r.returncode == 0, r.stderr


def test_validation_runner_prices_the_output_length_spread_only_for_steady_state_cases():
    """A case's output_tokens_cv sets the curve's running context; a finite job of identical requests refuses it, and
    a value outside [0, 10] is refused naming the key."""
    from costsim.validation.engine import Case
    from costsim.validation.inference import predict

    def case(**inp):
        return Case(id="x", kind="inference", source="s", metric="throughput_tokens_per_s", expected=1.0, tolerance_frac=0.25,
                    tolerance_reason="r", inputs={"model": "llama-3.1-8b", "hardware": "h100-sxm", "batch": 64,
                                                  "input_tokens": 512, "output_tokens": 2048, **inp})
    assert predict(case(output_tokens_cv=1.0)) < predict(case())
    assert predict(case(output_tokens_cv=0.0)) == predict(case())
    with pytest.raises(ValueError, match="identical requests"):
        predict(case(output_tokens_cv=1.0, num_requests=100))
    with pytest.raises(ValueError, match="output_tokens_cv"):
        predict(case(output_tokens_cv=-1.0))
