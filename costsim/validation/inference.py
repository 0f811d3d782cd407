"""Validation runner for inference cases (kind: inference).

Case inputs:
  model: catalog id, or model_shape: {ModelSpec fields} for models outside the catalog
  hardware: accelerator id;  num_gpus: GPUs the measurement used (default 1)
  tp, pp, ep: layout of one replica, tp x pp x ep = num_gpus (default tp = num_gpus / (pp x ep));
  layout: search -> the deployment search of `costsim serve --gpus num_gpus` (replicas x TP x PP x EP
          at the case's weight precision; costsim.estimators.deployment.search_deployment): the
          published figure is a whole system's offline / server throughput; tp, pp, ep and batch given with it
          fix those sizes in the search
  weight_precision, kv_precision, batch (int; 'max': the highest-throughput batch that fits the
          replica's memory, capped by max_num_seqs when the engine had one, as a tuned deployment runs; 'fill':
          every sequence the replica's KV cache holds for whole requests, capped the same way and, on a
          TensorRT-LLM engine, by the max_batch_size trtllm-bench sets (per rank with attention data parallelism),
          as that benchmark runs them: costsim.estimators.trtllm_bench.fill_batch, which `costsim serve --batch
          fill` uses too; an engine that pads decode steps to CUDA graphs captures them up to min(max_batch_size,
          max_num_tokens), that size included, costsim.estimators.trtllm_bench), input_tokens, output_tokens
  context_tokens: mean context of a decode step (default input_tokens + output_tokens / 2)
  output_tokens_cv: coefficient of variation of the requests' output lengths where the source publishes their
          distribution (default 0: all alike); sets the running sequences' mean context of a throughput curve
          (core.serving_curve.decode_context_tokens). Not with num_requests (identical requests)
  num_requests: the benchmark ran this many identical requests queued at once (trtllm-bench's dataset size):
          throughput_tokens_per_s is then the whole job's, in waves of the batch (core.serving_curve.finite_job);
          on an engine that allocates KV as sequences grow (kv_on_demand: vLLM, SGLang) all of them up to
          max_num_seqs (else the batch) start together and the newest are preempted and recomputed when the
          cache fills (core.serving_paged); without it, the steady state
  engine: engine profile id (costsim/data/engines.yaml; default 'default')
  ttft_slo_s, tpot_slo_s: latency limits applied to the throughput-latency curve
  state_precision: a hybrid model's recurrent-state storage as the run set it (vLLM --mamba-ssm-cache-dtype, SGLang
          --mamba-ssm-dtype: fp32 / bf16 / fp16; default the model's linear_state_dtype)
  power_cap_w: a per-GPU power limit below the TDP the measurement ran under (nvidia-smi -pl; MLPerf Max-Q runs), as
          `costsim serve --power-cap-w`
  speculative_tokens, acceptance_frac: speculative decoding (draft tokens per step, per-token acceptance); a source's
          measured mean acceptance length L is given as the acceptance that yields it, (1 - a^(k+1)) / (1 - a) = L
metric: decode_tokens_per_s | prefill_tokens_per_s | prefill_time_s | decode_step_time_s | speculative_speedup (decode
        tokens/s with the case's speculative decoding over the same decode step without it) |
        power_cap_throughput_frac (throughput_tokens_per_s under the case's power_cap_w over the same without it) |
        throughput_tokens_per_s | ttft_s | tpot_s (the steady state's time to first token and time per output
        token at the batch, costsim.core.serving_curve, the `ttft_s` / `tpot_s` of `costsim serve --json`) |
        batch_latency_s (a static batch generated to the end, as vLLM's
        benchmark_latency measures it: the prefill of `batch` prompts, which gives the first token, then
        output_tokens - 1 decode steps at the mean context input_tokens + output_tokens / 2)
"""

from __future__ import annotations


from costsim.core import inference as core
from costsim.core.serving_curve import batch_grid, best_index, decode_context_tokens, finite_job, graph_sizes, serving_curve
from costsim.core.serving_paged import paged_finite_job
from costsim.estimators.deployment import search_deployment
from costsim.estimators.inference import MAX_CURVE_BATCH, PREFILL_CHUNK_TOKENS, core_inputs
from costsim.estimators.inference_inputs import with_speculation, with_state_precision
from costsim.estimators.trtllm_bench import fill_batch
from costsim.specs.base import validate_spec
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.model import STATE_DTYPE_BYTES, ModelSpec
from costsim.specs.requests import MAX_OUTPUT_TOKENS_CV
from costsim.validation.engine import Case


def _model(inp: dict) -> ModelSpec:
    if "model_shape" in inp:
        return validate_spec(ModelSpec, dict(inp["model_shape"]), what="case model_shape")
    return get_model(inp["model"])


def _output_cv(inp: dict) -> float:
    """The case's output-length coefficient of variation (0 = identical requests); a finite job is identical requests."""
    cv = inp.get("output_tokens_cv", 0.0)
    if isinstance(cv, bool) or not isinstance(cv, (int, float)) or not 0.0 <= float(cv) <= MAX_OUTPUT_TOKENS_CV:
        raise ValueError(f"output_tokens_cv must be a number in [0, {MAX_OUTPUT_TOKENS_CV:g}], got {cv!r}")
    if cv and inp.get("num_requests") is not None:
        raise ValueError("output_tokens_cv describes steady-state traffic of varied lengths; num_requests prices identical requests")
    return float(cv)


def _num_requests(inp: dict) -> float:
    n = inp["num_requests"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"num_requests must be a whole number >= 1, got {n!r}")
    return float(n)


def _speculation(m: ModelSpec, inp: dict) -> ModelSpec:
    """The case's model served with its speculative decoding (speculative_tokens, acceptance_frac), if any."""
    k = inp.get("speculative_tokens")
    if k is None:
        return m
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= 16:
        raise ValueError(f"speculative_tokens must be a whole number in [0, 16], got {k!r}")
    return with_speculation(m, k, inp.get("acceptance_frac"))


def _state_precision(m: ModelSpec, inp: dict) -> ModelSpec:
    """The case's model with its recurrent state at the engine's storage (state_precision: fp32 / bf16 / fp16), if given."""
    sp = inp.get("state_precision")
    if sp is not None and sp not in STATE_DTYPE_BYTES:
        raise ValueError(f"state_precision must be one of {', '.join(STATE_DTYPE_BYTES)}, got {sp!r}")
    return with_state_precision(m, sp)


def _whole(inp: dict, key: str) -> None:
    v = inp[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{key} must be a whole number >= 1, got {v!r}")


def _check(inp: dict, metric: str) -> None:
    """What `costsim serve` would refuse, refused here too (ValueError: the CLI's `validate --cases` exits 2)."""
    b = inp.get("batch")
    if b is not None and b not in ("max", "fill") and (isinstance(b, bool) or not isinstance(b, int) or b < 1):
        raise ValueError(f"batch must be a whole number >= 1, 'max' or 'fill', got {b!r}")
    for key in ("num_gpus", "tp", "pp", "ep"):
        if key in inp:
            _whole(inp, key)
    a = inp.get("acceptance_frac")
    if a is not None and (isinstance(a, bool) or not isinstance(a, (int, float)) or not 0.0 <= float(a) <= 1.0):
        raise ValueError(f"acceptance_frac must be a share in [0, 1], got {a!r}")
    if inp.get("speculative_tokens") and a is None:
        raise ValueError("speculative_tokens needs acceptance_frac (the per-token acceptance of the drafts)")
    if isinstance(b, int) and (inp.get("ttft_slo_s") is not None or inp.get("tpot_slo_s") is not None):
        raise ValueError("ttft_slo_s / tpot_slo_s choose a batch: give batch 'max' (a fixed batch does not read them)")
    cap = inp.get("max_num_seqs")
    if isinstance(b, int) and cap is not None and b > cap:
        raise ValueError(f"batch {b} is more than max_num_seqs {cap}: the engine never runs more sequences")
    if "context_tokens" in inp and not metric.startswith("decode"):
        raise ValueError("context_tokens is the mean context of a decode step: decode_* metrics read it, "
                         f"{metric} does not")


def predict(case: Case) -> float:
    inp = case.inputs
    _check(inp, case.metric)
    if case.metric == "speculative_speedup":
        # decode tokens per second per sequence with the case's speculative decoding over the same step without it
        plain = case.model_copy(update={"metric": "decode_tokens_per_s",
                                        "inputs": {k: v for k, v in inp.items() if k not in ("speculative_tokens", "acceptance_frac")}})
        return predict(case.model_copy(update={"metric": "decode_tokens_per_s"})) / predict(plain)
    if case.metric == "power_cap_throughput_frac":
        if inp.get("power_cap_w") is None:
            raise ValueError("power_cap_throughput_frac compares a run under power_cap_w with one without it: give power_cap_w")
        free = case.model_copy(update={"metric": "throughput_tokens_per_s",
                                       "inputs": {k: v for k, v in inp.items() if k != "power_cap_w"}})
        return predict(case.model_copy(update={"metric": "throughput_tokens_per_s"})) / predict(free)
    m = _state_precision(_speculation(_model(inp), inp), inp)
    a = get_accelerator(inp["hardware"])
    wp = inp.get("weight_precision", "bf16")
    engine = inp.get("engine", "default")
    n = int(inp.get("num_gpus", 1))
    i = float(inp.get("input_tokens", 0) or 0)
    o = float(inp.get("output_tokens", 0) or 0)
    metric = case.metric
    cap = inp.get("max_num_seqs")
    cv = _output_cv(inp)
    if inp.get("layout") == "search":
        if metric != "throughput_tokens_per_s":
            raise ValueError("layout: search cases compare throughput_tokens_per_s")
        if inp.get("num_requests") is not None:
            raise ValueError("num_requests is for a fixed layout; layout: search cases price the steady state")
        s = search_deployment(m, a, n, input_tokens=int(i), output_tokens=int(o), weight_precision=wp,
                              kv_precision=inp.get("kv_precision"), engine=engine, tp=inp.get("tp"), pp=inp.get("pp"),
                              ep=inp.get("ep"), batch=inp.get("batch", "max"), ttft_slo_s=inp.get("ttft_slo_s"),
                              tpot_slo_s=inp.get("tpot_slo_s"), overrides=inp.get("overrides"), runners_up=0,
                              max_batch=int(cap) if cap else None, output_tokens_cv=cv, power_cap_w=inp.get("power_cap_w"))
        if not s.feasible or s.chosen is None:
            raise ValueError(s.reason or "no deployment fits")
        return s.chosen.throughput_tokens_per_s
    ci = core_inputs(m, a, wp, inp.get("kv_precision"), engine, inp.get("overrides"), power_cap_w=inp.get("power_cap_w"))
    shape, prec, dev = ci.shape, ci.prec, ci.dev
    pp, ep = int(inp.get("pp", 1)), int(inp.get("ep", 1))  # whole numbers >= 1 (_check)
    if "tp" not in inp and n % (pp * ep):
        raise ValueError(f"num_gpus ({n}) must be a multiple of pp x ep ({pp * ep})")
    tp = int(inp.get("tp", max(1, n // (pp * ep))))
    if tp * pp * ep != n:
        raise ValueError(f"tp ({tp}) x pp ({pp}) x ep ({ep}) = {tp * pp * ep} must equal num_gpus ({n}) (one replica; "
                         "layout: search prices replicas of a GPU budget)")
    lay = core.Layout(tp=tp, pp=pp, ep=ep)
    if inp.get("batch") in ("max", "fill"):
        mb = int(core.max_batch(shape, dev, prec, lay, i + o, min(PREFILL_CHUNK_TOKENS, i + o)))
        if mb < 1:
            raise ValueError("the model does not fit this replica")
        mb = min(mb, MAX_CURVE_BATCH, int(cap) if cap else MAX_CURVE_BATCH)
    if inp.get("batch") == "fill":
        if inp.get("ttft_slo_s") is not None or inp.get("tpot_slo_s") is not None:
            raise ValueError("batch: fill admits every sequence that fits; latency limits need batch: max")
        b, dev = fill_batch(m, shape, dev, a, tp=int(lay.tp), pp=int(lay.pp), ep=int(lay.ep), num_gpus=n, input_tokens=i,
                            output_tokens=o, weight_precision=wp, kv_precision=inp.get("kv_precision"), max_batch_fit=mb,
                            engine=engine, cuda_graph_override="cuda_graph_max_batch" in (inp.get("overrides") or {}))
    elif inp.get("batch") == "max":
        curve = serving_curve(shape, dev, prec, lay, batch_grid(mb, extra=graph_sizes(dev)), i, o, cv)
        k = best_index(curve, max_batch=mb, ttft_slo_s=inp.get("ttft_slo_s"), tpot_slo_s=inp.get("tpot_slo_s"))
        if k < 0:
            raise ValueError("no batch meets the SLOs")
        b = float(curve["batch"][k])
    else:
        b = float(inp.get("batch", 1))
        static = metric != "throughput_tokens_per_s" or (inp.get("num_requests") is not None and float(dev.kv_on_demand) <= 0)
        if static:  # a static batch must fit the replica's memory (a paged engine's job preempts instead, and a measured
            # continuous batch's mean running batch is an average over sequences of every length)
            # what each sequence holds: a decode step's context, a prompt, or a static batch's full length at its end
            kv_len = (float(inp.get("context_tokens", decode_context_tokens(i, o))) + 1.0 if metric.startswith("decode") else
                      i if metric.startswith("prefill") else i + o)
            fit = int(core.max_batch(shape, dev, prec, lay, kv_len, min(PREFILL_CHUNK_TOKENS, max(i, 1.0))))
            if b > fit:
                raise ValueError(f"batch {int(b)} does not fit: the KV cache of {int(b)} sequences of {kv_len:.0f} tokens each "
                                 f"needs more than the memory left after the weights; at most {max(fit, 0)} fit")
    if metric in ("decode_tokens_per_s", "decode_step_time_s"):
        ctx = float(inp.get("context_tokens", decode_context_tokens(i, o, cv)))
        t = float(core.decode_step_time_s(shape, dev, prec, lay, b, ctx))
        return b / t if metric == "decode_tokens_per_s" else t
    if metric in ("prefill_tokens_per_s", "prefill_time_s"):
        t = float(core.prefill_time_s(shape, dev, prec, lay, b, i))
        return b * i / t if metric == "prefill_tokens_per_s" else t
    if metric == "throughput_tokens_per_s":
        if inp.get("num_requests") is not None:
            if float(dev.kv_on_demand) > 0:
                # a paged-KV engine admits up to its max_num_seqs (the case's, else the batch priced) and preempts
                cap_tokens = float(core.kv_capacity_tokens(shape, dev, prec, lay, i + o, min(PREFILL_CHUNK_TOKENS, i + o)))
                return paged_finite_job(shape, dev, prec, lay, kv_capacity_tokens=cap_tokens, max_seqs=int(cap) if cap else int(b),
                                        input_tokens=i, output_tokens=o, num_requests=int(_num_requests(inp))).throughput_tokens_per_s
            return float(finite_job(shape, dev, prec, lay, b, i, o, _num_requests(inp))["throughput_tokens_per_s"])
        return float(serving_curve(shape, dev, prec, lay, b, i, o, cv)["throughput_tokens_per_s"])
    if metric in ("ttft_s", "tpot_s"):  # the steady state's latencies at the batch, as `costsim serve` reports them
        return float(serving_curve(shape, dev, prec, lay, b, i, o, cv)[metric])
    if metric == "batch_latency_s":
        t_pre = float(core.prefill_time_s(shape, dev, prec, lay, b, i))
        return t_pre + max(o - 1.0, 0.0) * float(core.decode_step_time_s(shape, dev, prec, lay, b, decode_context_tokens(i, o)))
    raise ValueError(f"inference runner does not know metric '{metric}'")


def register(runners) -> None:
    runners["inference"] = predict
