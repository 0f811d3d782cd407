"""Vectorized LLM inference cost model (numpy only): prefill, decode step, KV cache, memory fit.

Every function takes numpy arrays (or floats) that broadcast against each other, so one call
evaluates any number of (model, hardware, precision, batch, context, layout) configurations.
The same method serves data-center GPUs, laptops and phones; only the device parameters
(`Device`) differ (profile `efficiency` fields or the category defaults below).

Method (per GPU of a replica with tensor parallel tp, pipeline parallel pp, expert parallel ep;
gpus = tp * pp * ep; with ep > 1 the dense part runs data-parallel over ep, experts are sharded):

decode step (one new token for each of B sequences, mean context c):
  weights   = dense params / (tp*pp) + touched routed experts / (tp*ep*pp), at the weight precision;
              a batch of b tokens touches E*(1-(1-k/E)^b) of the E routed experts per MoE layer
  kv read   = (B/ep) sequences * KV bytes at context c (sliding-window layers cap c at the window)
              / pp / min(tp, kv heads)  (MLA latents are not split by TP); linear-attention layers (Gated
              DeltaNet) hold no KV: each sequence's fixed state is read and rewritten every step
              (2 x state bytes / pp / min(tp, linear key heads)), 7 dk dv FLOPs per value head; sparse-attention
              layers (DSA) read min(c, top-k) latents and every token's indexer key (core.inference_sparse)
  time(op)  = smooth roofline sqrt(t_mem^2 + t_compute^2) for (weights, matmuls) and for
              (kv read, attention); t_mem at bandwidth_frac * peak bandwidth, t_compute at
              matmul_frac * peak of the compute datatype (llama.cpp q4_0/q8_0 add dequantization
              ALU work per weight read; FP4/FP6 weights on parts without FP4/FP6 MMA add their upcast to
              BF16 per weight per 128-row tile, MICROSCALED_UPCAST_FLOP_PER_WEIGHT); routed-expert bytes
              and FLOPs at moe_kernel_rel of those rates (fused-MoE kernels less efficient than dense
              GEMMs, e.g. untuned tile configurations)
  + 2 TP all-reduces per layer (latency + ring bandwidth), EP all-to-alls, PP hand-offs
  + layer_overhead_s per layer (kernel latency floors) + moe_decode_pair_s per routed (token, expert)
  pair per MoE layer (routing / permute / finalize work, engine-specific); an engine without graph
  capture waits on the host launching every layer's kernels:
  stage = sqrt(gpu^2 + (layers x host_launch_s_per_layer)^2)
  + step_overhead_s per engine iteration (one per pipeline micro-batch)
  + seq_overhead_s per sequence per step (vLLM-class host work: scheduling, input preparation,
    detokenization; 0 for C++ engines) + logits / sampling traffic (vocab x sampling_bytes_per_logit)
    + top-k masking (vocab x topk_bytes_per_logit per sequence, models whose default sampling sets top_k)
  with pp stages the batch runs as pp micro-batches of B/pp: step = pp * stage(B/pp).
  An engine that pads decode steps to CUDA-graph batch sizes (cuda_graph_padding 1) computes the
  GEMMs, expert routing and collectives of the next captured size (graph_batch); KV reads and
  attention stay those of the real sequences.
  The serving curve adds request_overhead_s x B / O per step (admitting and retiring B/O requests).

Precisions: weights / KV / GEMM activations in bytes with their scale factors (NVFP4 4.5 bits,
MXFP4 4.25, MXFP6 6.25, int4 4.5, ...); the GEMMs run in the datatype the device's tensor cores
support (FP4/FP6 on Blackwell and MI355X at fp4_matmul_rel of matmul_frac, FP8/INT8 at
lowp_matmul_rel, else weight-only in 16 bit) and attention in fp8 with an fp8 KV cache.

prefill (B prompts of s tokens): matmul FLOPs 2 * active params * tokens (the LM head only for
  the last token of each prompt) + causal attention 2 * h * (qk + v) * pairs per softmax layer (linear-attention
  layers: their chunked form's FLOPs per token, ModelSpec.linear_prefill_flop_per_token_per_layer, at the attention
  kernels' long-prompt efficiency, and one state write per prompt; sparse-attention layers: the top-k pairs in MLA's
  absorbed form plus the indexer over every pair, core.inference_sparse) at an
  attention efficiency that rises with prompt length (kernels.csv: 6-15% of A100 peak at 0.5-2.8k
  tokens), memory floor = weights read once (+ KV write + GEMM activations at their storage
  precision), smooth roofline as above, plus bandwidth-dominated TP all-reduces of tokens *
  d_model * 2 bytes, plus moe_prefill_pair_s per routed (token, expert) pair per MoE layer, plus the
  experts' output traffic (moe_dispersion_bytes_per_gpu: 4 bytes x d_model (LatentMoE: its latent width, Shape.moe_width)
  per routed pair per MoE layer,
  not split by TP). The routed experts' prompt GEMMs run at moe_compute_rel x moe_prefill_compute_rel of
  the dense GEMMs' efficiency (engine-specific: vLLM's Triton fused MoE 0.26). Engines
  without variable-length attention (prefill_attention_concat = 1) attend a batch of prompts as one
  concatenated sequence.

The smooth roofline sqrt(m^2 + c^2) reproduces vidur's A100 MLP kernel times (kernels.csv:
1, 64, 512 tokens) within ~5%; max(m, c) misses the transition by up to 15%.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from costsim.core.inference_memory import (  # noqa: F401  (the memory model; callers reach it as costsim.core.inference)
    _kv_tp_split, kv_budget_bytes_per_gpu, kv_bytes_per_sequence, kv_bytes_per_sequence_per_gpu, kv_bytes_per_token,
    linear_state_bytes_per_sequence, linear_state_bytes_per_sequence_per_gpu, tp_replicated_extra_params_per_gpu,
    kv_bytes_stored_per_sequence,
    kv_capacity_tokens, kv_token_layers, lm_head_extra_bytes_per_gpu, max_batch, memory_per_gpu_bytes, usable_memory_bytes,
    weight_bytes_per_gpu, workspace_bytes_per_gpu,
)
from costsim.core.inference_types import Device, Layout, Precision, Shape, _a, any_finite, any_positive, moe_width  # noqa: F401  (re-exported)
from costsim.core.inference_linear import linear_decode_work, linear_prefill_work
from costsim.core.inference_sparse import (  # noqa: F401  (causal_pairs re-exported)
    causal_pairs, head_padding_factor, indexer_decode_work, is_sparse, sparse_prefill_work,
)
from costsim.core.inference_comm import allreduce_time_s, alltoall_time_s, moe_exchange_time_s, pp_handoff_s  # noqa: F401  (re-exported)
from costsim.core.inference_moe import normal_max_z, dispatch_bytes, ep_load_factor, experts_touched  # noqa: F401  (re-exported)
from costsim.core.inference_power import (POWER_CAP_THROUGHPUT_FLOOR_FRAC, decode_step_power_w, power_capped,  # noqa: F401  (re-exported)
                                         prefill_power_w)
from costsim.core.power import power_limit_stretch_s
from costsim.core.inference_precision import (  # noqa: F401  (re-exported)
    ACT_BITS_BY_COMPUTE_DTYPE, DEQUANT_FLOP_PER_WEIGHT, KV_BITS_PER_ELEMENT, LOWP_DTYPES, MICROSCALED_DTYPES,
    MICROSCALED_UPCAST_FLOP_PER_WEIGHT, UPCAST_FIT_CASES, UPCAST_TILE_ROWS, WEIGHT_BITS_PER_PARAM, activation_bits,
    compute_dtype, upcast_flop_per_weight_tile, upcast_tiles,
)

# --------------------------------------------------------------------------------------------
# device parameters: category defaults (priors from kernels.csv, fitted where the case file says)
# --------------------------------------------------------------------------------------------
_GPU = dict(
    matmul_frac=0.72,        # kernels.csv: large matmuls at 70-80% of A100 peak (vidur)
    bandwidth_frac=0.80,     # kernels.csv: weight streaming at 76-84% of HBM peak
    attention_frac=0.29,     # prefill attention peak relative to matmul_frac (kernels.csv fit 0.22/0.75)
    attention_half_tokens=1150.0,  # prompt length at which attention reaches half of that (kernels.csv fit)
    step_overhead_s=1.0e-3,  # scheduler, sampling, launch of a CUDA graph (modern engines)
    layer_overhead_s=25e-6,  # kernels.csv: non-attention ops of a 7B layer at 1 token 0.29 ms vs 0.26 roofline
    seq_overhead_s=0.0,
    usable_memory_frac=0.90,  # vLLM default gpu_memory_utilization (CUDA context + fragmentation in the rest)
    comm_bandwidth_frac=0.55,  # kernels.csv: 64 MB all-reduce ~167 GB/s bus bandwidth on 300 GB/s NVLink 3
    # FP8/INT8 and NVFP4/MXFP4/FP6 tensor-core fractions relative to matmul_frac, each fitted on the 128 / 128 trtllm-bench
    # row of Llama 3.x 70B on one GPU (exact lengths): I-trt017-70b-h200-fp8-tp1-128-128 (with request_overhead_s) and
    # I-trt-70b-b200-fp4-tp1-128-128. They were fitted on MLPerf's Llama 2 70B Offline rows (I-mlperf-h200-off,
    # I-mlperf41-b200x1-fp4-off: 0.886 / 0.646) at an assumed 300-token prompt; with the dataset's measured 222 those
    # rows run 12-16 % below these fractions (their known gaps say why that may be)
    lowp_matmul_rel=0.845,
    fp4_matmul_rel=0.628,
    host_launch_s_per_layer=0.0,  # host (CPU) time to launch one layer's kernels per step; 0 = CUDA/HIP graphs
    sampling_bytes_per_logit=8.0,  # fp32 logits written by the LM head and read once by the sampler, per vocab entry
    request_overhead_s=7.4e-4,  # host work per request admitted and retired (scheduling, KV allocation, final detokenization): fitted on I-trt-8b-h100-fp8-tp1-128-128
    prefill_attention_concat=0.0,  # variable-length (per prompt) attention in batched prefill
    moe_kernel_rel=1.0,      # routed-expert (fused-MoE) kernels at the dense kernels' efficiency (tuned kernels)
    topk_bytes_per_logit=0.0,  # top-k masking of the logits: HBM bytes per sequence per vocabulary entry (engine-specific; 0 = not charged)
    seq_overhead_busy_frac=0.0,  # share of the per-sequence time the GPU runs kernels (0 = host work, the GPU waits)
    kv_free_memory_frac=1.0,  # share of the memory left after weights and workspace that becomes KV cache (vLLM: all of it)
    runtime_reserve_bytes=0.0,  # memory the runtime holds outside weights, workspace and KV (vLLM: inside the 10 % reserve)
    sliding_window_kv=1.0,   # 1 = a sliding-window layer's KV cache holds only its window; 0 = the whole context
    sliding_window_attention=1.0,  # 1 = the kernels attend over only a sliding-window layer's window; 0 = over the whole context
    moe_compute_rel=1.0,     # routed-expert GEMM FLOPs at the dense GEMMs' efficiency (engine-specific below 1)
    moe_prefill_compute_rel=1.0,  # a further factor on it in prompt passes only (engine-specific below 1: vLLM's Triton fused MoE)
    # what replaces it for expert weights of 4 bits computed in 16 bit (W4A16: int4, and MXFP4 / NVFP4 on parts without
    # FP4 tensor cores), where the engine runs those on a kernel family of their own (vLLM: Marlin); 0 = not set (as above)
    w4a16_moe_prefill_compute_rel=0.0,
    # prompt attention efficiency (replaces attention_frac) for models with learned attention sinks where the engine has
    # no sink-capable fast kernel on the part (vLLM on Ampere / Ada: its Triton attention); 0 = not set (attention_frac)
    sink_attention_frac=0.0,
    moe_decode_pair_s=0.0,   # GPU time per routed (token, expert) pair per MoE layer of a decode step (engine-specific; 0 = none)
    moe_prefill_pair_s=0.0,  # the same for prompt tokens
    cuda_graph_padding=0.0,  # 1 = decode steps padded to the next CUDA-graph batch size (engine-specific)
    cuda_graph_max_batch=8192.0,  # largest captured CUDA-graph batch (the engine's min(max_batch_size, max_num_tokens))
    kv_on_demand=0.0,        # 1 = KV allocated as sequences grow, recompute preemption when full (vLLM, SGLang); 0 = reserved at admission
    moe_allgather_dispatch=1.0,  # expert parallelism by all-gather + reduce-scatter (the engines' default; Device says which)
    moe_dispatch_post_quant=0.0,  # the dispatch in 16 bit (TensorRT-LLM quantizes first: its profiles set 1)
    moe_expert_load_cv=0.5,  # coefficient of variation of the experts' routed rows (expert-parallel load imbalance; see Device)
    pipeline_overlap=1.0,    # 1 = pipeline stages work on pp micro-batches at once; 0 = one after another (see Device)
)
_SOC = dict(
    matmul_frac=0.74,        # fitted: llama.cpp Metal prefill pp512, M1 Max (f16/q8_0/q4_0)
    bandwidth_frac=0.80,     # fitted: llama.cpp Metal decode tg128, M1 Max (f16/q8_0/q4_0)
    attention_frac=0.29,     # same prior as GPUs (no Apple attention kernel data)
    attention_half_tokens=1150.0,
    step_overhead_s=1.2e-3,  # fitted: llama.cpp Metal decode tg128, M1 Max
    layer_overhead_s=30e-6,  # prior: Metal command-buffer dispatch per layer
    seq_overhead_s=0.0,
    usable_memory_frac=0.70,  # macOS caps GPU working set at ~2/3-3/4 of unified memory
    comm_bandwidth_frac=0.55,
    lowp_matmul_rel=0.75,
    fp4_matmul_rel=0.75,
    host_launch_s_per_layer=0.0,
    sampling_bytes_per_logit=8.0,
    request_overhead_s=0.0,  # single-stream on-device runs: no batching scheduler
    prefill_attention_concat=0.0,
    moe_kernel_rel=1.0,
    topk_bytes_per_logit=0.0,
    seq_overhead_busy_frac=0.0,
    kv_free_memory_frac=1.0,
    runtime_reserve_bytes=0.0,
    sliding_window_kv=1.0,
    sliding_window_attention=1.0,
    moe_compute_rel=1.0,
    moe_prefill_compute_rel=1.0,
    w4a16_moe_prefill_compute_rel=0.0,
    sink_attention_frac=0.0,
    moe_decode_pair_s=0.0,
    moe_prefill_pair_s=0.0,
    cuda_graph_padding=0.0,
    cuda_graph_max_batch=8192.0,
    kv_on_demand=0.0,
    moe_allgather_dispatch=1.0,
    moe_dispatch_post_quant=0.0,
    moe_expert_load_cv=0.5,
    pipeline_overlap=1.0,
)
CATEGORY_DEFAULTS: dict[str, dict[str, float]] = {
    "datacenter_gpu": _GPU,
    "ai_accelerator": _GPU,
    # per-token host work of a desktop engine (llama.cpp: graph build, launch, sampling on the CPU). FITTED on
    # LCPP-4090-CODELLAMA-7B-Q8_0-TG128 (llama-bench tg128, CUDA, 2024-01: 0.63 ms); the 1.5 ms prior it replaced put
    # every llama.cpp CUDA row 6-26 % slow (RTX 4090 and 5090 rows, all held out)
    "consumer_gpu": _GPU | {"step_overhead_s": 0.63e-3},
    "laptop_soc": _SOC,
    "desktop_soc": _SOC,
    "phone_soc": _SOC | {"usable_memory_frac": 0.55},  # iOS app memory limit (increased-memory entitlement)
    "edge_module": _SOC | {"usable_memory_frac": 0.80},
}


# --------------------------------------------------------------------------------------------
# MoE
# --------------------------------------------------------------------------------------------
def _ep_load(shape: Shape, ep, routed_tokens, dev: Device, is_moe):
    """ep_load_factor where the model has experts split over ep > 1 ranks, else 1 (not evaluated for dense grids)."""
    split = is_moe & (_a(ep) > 1)
    if not np.any(split):
        return 1.0
    return np.where(split, ep_load_factor(shape.n_experts, shape.experts_per_token, ep, routed_tokens, dev.moe_expert_load_cv), 1.0)


#: batch sizes TensorRT-LLM's published throughput runs capture as CUDA graphs (perf-overview.md llm_options,
#: cuda_graph_config batch_sizes, enable_padding true); a decode batch between two runs as the larger one
CUDA_GRAPH_BATCH_SIZES = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 384, 512, 1024, 2048, 4096, 8192], dtype=float)


def graph_batch(batch, padding, max_graph_batch=CUDA_GRAPH_BATCH_SIZES[-1]):
    """The batch a decode step computes: with padding (1), the smallest captured CUDA-graph size >= batch. The
    engine captures the sizes of CUDA_GRAPH_BATCH_SIZES up to max_graph_batch (its max_batch_size, and at most
    max_num_tokens) plus max_graph_batch itself, since a listed size above it is one the user accepted padding to
    (TensorRT-LLM model_engine.py, _filter_cuda_graph_batch_sizes): 642 sequences under a max_batch_size of 896
    compute as 896. A batch above max_graph_batch (or above 8,192) runs eagerly as itself. Without padding (0), the
    batch."""
    b = _a(batch)
    pad = _a(padding)
    if not np.any(pad > 0):  # the common case: no padding, no search
        return b
    cap = _a(max_graph_batch)
    i = np.minimum(np.searchsorted(CUDA_GRAPH_BATCH_SIZES, np.ceil(b - 1e-9)), len(CUDA_GRAPH_BATCH_SIZES) - 1)
    size = np.maximum(CUDA_GRAPH_BATCH_SIZES[i], b)
    padded = np.where(b <= cap, np.minimum(size, np.maximum(cap, b)), b)
    return np.where(pad > 0, padded, b)


def _smooth_roofline(t_mem, t_comp):
    return np.sqrt(t_mem * t_mem + t_comp * t_comp)


def _attn_flop_per_s(dev: Device):
    """Achievable attention FLOP/s: the attention datatype's peak at the device's matmul fraction."""
    peak = dev.peak_flop_per_s if dev.attn_peak_flop_per_s is None else dev.attn_peak_flop_per_s
    return _a(peak) * _a(dev.matmul_frac)


def _indexer_flop_per_s(dev: Device):
    """Achievable FLOP/s of a sparse-attention indexer's scoring: its datatype's peak (FP8) at the matmul fraction."""
    if dev.indexer_peak_flop_per_s is None:
        return _attn_flop_per_s(dev)
    return _a(dev.indexer_peak_flop_per_s) * _a(dev.matmul_frac)


def activation_bytes_per_token_layer(shape: Shape, prec: Precision, layout: Layout):
    """HBM bytes of GEMM activations per token per layer per GPU: inputs of the QKV, output, FFN-up
    and FFN-down GEMMs at the GEMM input precision (quantized for W8A8 / W4A4, with scales) plus
    their outputs written in 16 bit; split over TP. Counted in prefill, where a chunk's activations
    (hundreds of MB) stream through HBM; a decode step's (a few MB) stay in L2."""
    d, f = _a(shape.d_model), _a(shape.ffn_act_width)
    in_el = 3.0 * d + 0.5 * f
    out_el = 3.0 * d + _a(shape.kv_elements_per_token_layer) + f
    return (in_el * _a(prec.act_gemm_bytes) + out_el * 2.0) / _a(layout.tp)


def sampling_bytes(shape: Shape, dev: Device, sequences):
    """HBM bytes of the logits and sampling of `sequences` sequences: fp32 logits over the vocabulary written and
    read, plus top-k masking of the logits (topk_bytes_per_logit per vocabulary entry) where the model samples
    with top_k."""
    topk = _a(0.0 if shape.topk_sampling is None else shape.topk_sampling) * _a(0.0 if dev.topk_bytes_per_logit is None else dev.topk_bytes_per_logit)
    return _a(sequences) * _a(shape.vocab_size) * (_a(dev.sampling_bytes_per_logit) + topk)


def sampling_time_s(shape: Shape, dev: Device, sequences):
    """Time of `sampling_bytes` at the device's streaming rate, s."""
    return sampling_bytes(shape, dev, sequences) / (_a(dev.bandwidth_bytes_per_s) * _a(dev.bandwidth_frac))


# --------------------------------------------------------------------------------------------
# decode
# --------------------------------------------------------------------------------------------
def decode_step_breakdown(shape: Shape, dev: Device, prec: Precision, layout: Layout, batch, context_tokens):
    """One decode step per generated token of each sequence (parts in s): decode_step_pass, or with speculative decoding
    (Shape.spec_tokens > 0) speculative_step: a verify pass and its drafts, per token they yield on average."""
    if any_positive(shape.spec_tokens):
        dec = speculative_step(shape, dev, prec, layout, batch, context_tokens)
    else:
        dec = decode_step_pass(shape, dev, prec, layout, batch, context_tokens)
    if not any_positive(dev.power_cap_w):
        return dec
    return power_capped(dec, "step_time_s", dev, decode_step_power_w(dec, dev, dev.idle_w, dev.tdp_w),
                         dec["matmul_compute_s"], dec["weights_memory_s"])


def speculative_step(shape: Shape, dev: Device, prec: Precision, layout: Layout, batch, context_tokens):
    """Speculative decoding (DeepSeek MTP, EAGLE), per generated token: each real step drafts k tokens per sequence in k
    sequential passes of a one-layer draft (priced as one average layer of the model at the batch, plus its LM head and
    sampling) and verifies them with 1 + k query rows per sequence in one pass of the model (GEMM rows, attention FLOPs,
    collectives and sampling x (1 + k); the KV cache read once), which yields Shape.spec_tokens_per_step tokens per
    sequence on average (costsim.core.speculative.tokens_per_step). Every part (times, bytes, FLOPs) is divided by that
    yield, so a 'step' stays one token per sequence for every consumer (TPOT, throughput, the DES, power)."""
    k = _a(shape.spec_tokens)
    plain = replace(shape, spec_tokens=0.0, spec_tokens_per_step=1.0)
    verify = decode_step_pass(plain, dev, prec, layout, batch, context_tokens, queries_per_seq=1.0 + k)
    one = decode_step_pass(plain, dev, prec, layout, batch, context_tokens)
    per_layer = (one["step_time_s"] - one["sampling_s"] - one["step_overhead_s"]) / _a(shape.n_layers)
    # the draft's LM head streams whole on each TP rank's share, 16-bit where the checkpoint keeps it so
    lm_head_bytes = _a(shape.params_lm_head) * (_a(prec.weight_bytes_per_param) + _a(prec.embed_extra_bytes_per_param)) / _a(layout.tp)
    lm_head_s = lm_head_bytes / (_a(dev.bandwidth_bytes_per_s) * _a(dev.bandwidth_frac))
    draft_s = k * (per_layer + lm_head_s + one["sampling_s"])
    tau = _a(shape.spec_tokens_per_step)
    out = {key: (v / tau if key != "experts_touched_per_layer" else v) for key, v in verify.items()}
    out["step_time_s"] = (verify["step_time_s"] + draft_s) / tau
    out["draft_s"] = draft_s / tau
    return out


def pipeline_micro_batches(dev: Device, pp):
    """Micro-batches a pipeline works on at once: pp where its stages overlap (Device.pipeline_overlap 1), else 1."""
    return np.where(_a(dev.pipeline_overlap) > 0, _a(pp), 1.0)


def decode_step_pass(shape: Shape, dev: Device, prec: Precision, layout: Layout, batch, context_tokens,
                     queries_per_seq=1.0):
    """Time of one decode step (each of `batch` sequences gets one token) at mean context
    `context_tokens`, with its parts (s). All arguments broadcast.

    GPU time per pipeline stage = weights/matmul roofline + attention roofline + TP/EP/PP
    communication + per-layer overhead; an engine that launches kernels from the host each step
    (no CUDA/HIP graphs) takes sqrt(gpu^2 + host^2) per stage, host = layers x host_launch_s_per_layer.
    Per step: step_overhead_s per pipeline micro-batch (each is an engine iteration) + seq_overhead_s x
    batch (scheduler, input preparation, detokenization per sequence) + logits/sampling memory traffic.
    """
    tp, pp, ep = _a(layout.tp), _a(layout.pp), _a(layout.ep)
    b_total = _a(batch)
    n_mb = pipeline_micro_batches(dev, pp)  # pp micro-batches in flight, or 1 where the stages run one after another
    b = b_total / n_mb                    # micro-batch per pipeline stage
    # sequences per ep rank (dense part is data parallel over ep): a sequence is not split, so with fewer sequences than
    # ranks the busiest rank still holds a whole one while the others idle
    b_rank = np.maximum(b / ep, np.minimum(b, 1.0))
    # what the GEMMs, expert routing and collectives process: the rank's batch padded to its CUDA graph
    # (a speculative verify pass runs queries_per_seq query rows per sequence through the GEMMs; engines capture its
    # graphs per batch of sequences at a fixed draft length)
    q = None if np.isscalar(queries_per_seq) and queries_per_seq == 1.0 else _a(queries_per_seq)  # None: one row each
    g_rank = graph_batch(b_rank, dev.cuda_graph_padding, dev.cuda_graph_max_batch)
    if q is not None:
        g_rank = g_rank * q
    g = g_rank * ep
    wb = _a(prec.weight_bytes_per_param)
    bw = _a(dev.bandwidth_bytes_per_s) * _a(dev.bandwidth_frac)
    flops = _a(dev.peak_flop_per_s) * _a(dev.matmul_frac)
    is_moe = _a(shape.n_experts) > 1
    layers = _a(shape.n_layers) / pp
    moe_layers = _a(shape.n_moe_layers) / pp * is_moe

    # weights and matmuls
    dense_params = _a(shape.params_dense_stream) / (tp * pp)
    if any_positive(shape.params_tp_replicated):  # a DSA indexer's projections, whole on every TP rank
        dense_params = dense_params + tp_replicated_extra_params_per_gpu(shape, layout)
    touched = np.where(is_moe, experts_touched(shape.n_experts, shape.experts_per_token, g), 0.0)
    expert_params_read = moe_layers * touched * _a(shape.params_expert) / (tp * ep)
    params_read = dense_params + expert_params_read
    moe_rel = _a(1.0 if dev.moe_kernel_rel is None else dev.moe_kernel_rel)
    t_weights_mem = ((dense_params + expert_params_read / moe_rel) * wb + lm_head_extra_bytes_per_gpu(shape, prec, layout)) / bw
    dense_mm = 2.0 * g_rank * dense_params
    expert_mm = 2.0 * g * moe_layers * _a(shape.experts_per_token) * _a(shape.params_expert) / (tp * ep)
    mm_flop = dense_mm + expert_mm
    dq_flop = _a(prec.dequant_flop_per_weight) * params_read
    up = _a(prec.upcast_flop_per_weight_tile)
    if np.any(up > 0):  # microscaled weights upcast to BF16 for each row tile they serve, added to the MMA time
        expert_rows = g * _a(shape.experts_per_token) / np.maximum(touched, 1.0)
        dq_flop = dq_flop + up * (dense_params * upcast_tiles(g_rank) + expert_params_read * upcast_tiles(expert_rows))
    # expert parallelism: the step waits for the rank whose experts drew the most rows (ep_load_factor)
    load = _ep_load(shape, ep, g, dev, is_moe)
    t_matmul = (dense_mm + load * expert_mm / (moe_rel * _a(dev.moe_compute_rel))) / flops + dq_flop / _a(dev.vector_flop_per_s)
    t_weights = _smooth_roofline(t_weights_mem, t_matmul)

    # attention over the KV cache
    kv_split = _kv_tp_split(shape, layout)
    kv_read = b_rank * kv_bytes_per_sequence(shape, prec, context_tokens) / (pp * kv_split)
    attn_flop = b_rank * kv_token_layers(shape, context_tokens) / pp * _a(shape.attn_flop_per_ctx_decode) / tp
    if q is not None:  # every verify row attends over the sequence's context
        attn_flop = attn_flop * q
    if any_positive(shape.n_linear_layers):  # linear-attention layers: read and rewrite each sequence's state
        lin_bytes, lin_flop = linear_decode_work(shape, layout, b_rank)
        kv_read, attn_flop = kv_read + lin_bytes, attn_flop + lin_flop
    t_attn_compute = attn_flop / _attn_flop_per_s(dev)
    if any_finite(shape.sparse_topk_tokens):  # sparse attention: the kernels' padded heads, and the indexer scoring
        # every cached token at its own rate (its keys are read with the KV)
        attn_flop = attn_flop * head_padding_factor(shape, dev, layout)
        idx_bytes, idx_flop = indexer_decode_work(shape, layout, b_rank, context_tokens)
        kv_read, attn_flop = kv_read + idx_bytes, attn_flop + idx_flop
        t_attn_compute = (attn_flop - idx_flop) / _attn_flop_per_s(dev) + idx_flop / _indexer_flop_per_s(dev)
    t_kv_mem = kv_read / bw
    t_attn = _smooth_roofline(t_kv_mem, t_attn_compute)

    # communication
    msg = g_rank * _a(shape.d_model) * _a(prec.act_bytes)
    t_tp = _a(shape.allreduces_per_layer) * layers * allreduce_time_s(msg, tp, dev)
    t_ep = moe_exchange_time_s(g, moe_width(shape), moe_layers, ep, dev, tp, shape.experts_per_token, prec.act_bytes,
                               dispatch_bytes(prec, dev))
    t_pp = pp_handoff_s(msg, layout, dev)

    t_layers = layers * _a(dev.layer_overhead_s)
    # the MoE layers' per-assignment work of a decode step: each of the rank's b / ep tokens (padded to its CUDA graph)
    # goes to k experts; with TP every rank routes and permutes all of its tokens (not split by tp). Decode only (see Device.moe_decode_pair_s)
    t_pairs = load * moe_layers * g_rank * _a(shape.experts_per_token) * _a(dev.moe_decode_pair_s)
    stage_gpu = t_weights + t_attn + t_tp + t_ep + t_pp + t_layers + t_pairs
    host = layers * _a(dev.host_launch_s_per_layer)
    stage = _smooth_roofline(stage_gpu, host) if np.any(host > 0) else stage_gpu
    rows_sampled = b_total if q is None else b_total * q
    t_sample = sampling_time_s(shape, dev, rows_sampled)
    # every pipeline micro-batch is an engine iteration of its own (scheduling, sampling, graph launch)
    fixed = n_mb * _a(dev.step_overhead_s) + _a(dev.seq_overhead_s) * b_total + t_sample
    # a GPU runs its stage once per micro-batch (n_mb x stage) and, where the stages run one after another, waits
    # while the other pp - 1 run theirs: the step's wall time is pp stage times either way
    t_wait_pp = (pp - n_mb) * stage
    # a part whose GEMMs need more power than its limit leaves runs them at lowered clocks (Device.tensor_j_per_flop)
    t_power = power_limit_stretch_s(pp * stage + fixed, n_mb * mm_flop, dev.tensor_j_per_flop, dev.power_budget_w)
    total = pp * stage + fixed + t_power
    return {
        "step_time_s": total,
        "power_limit_s": t_power,
        "weights_s": n_mb * t_weights,
        "weights_memory_s": n_mb * t_weights_mem,
        "matmul_compute_s": n_mb * t_matmul,
        "attention_s": n_mb * t_attn,
        "kv_memory_s": n_mb * t_kv_mem,
        "tp_allreduce_s": n_mb * t_tp,
        "ep_alltoall_s": n_mb * t_ep,
        "pp_handoff_s": n_mb * t_pp,
        "layer_overhead_s": n_mb * t_layers,
        "moe_routing_s": n_mb * t_pairs,
        "host_launch_wait_s": n_mb * (stage - stage_gpu),
        "pipeline_wait_s": t_wait_pp,
        "sampling_s": t_sample,
        "step_overhead_s": fixed - t_sample,
        "bytes_read_per_gpu": n_mb * (params_read * wb + lm_head_extra_bytes_per_gpu(shape, prec, layout) + kv_read),
        "matmul_flop_per_gpu": n_mb * (mm_flop + attn_flop),
        "experts_touched_per_layer": touched,
        # the work behind each part, per GPU per step (for decode_step_power_w)
        "weights_bytes_per_gpu": n_mb * (params_read * wb + lm_head_extra_bytes_per_gpu(shape, prec, layout)),
        "weights_flop_per_gpu": n_mb * mm_flop,
        "kv_bytes_per_gpu": n_mb * kv_read,
        "attention_flop_per_gpu": n_mb * attn_flop,
        "sampling_bytes_per_gpu": sampling_bytes(shape, dev, rows_sampled),
        "seq_overhead_s": _a(dev.seq_overhead_s) * b_total,
    }


def decode_step_time_s(shape: Shape, dev: Device, prec: Precision, layout: Layout, batch, context_tokens):
    return decode_step_breakdown(shape, dev, prec, layout, batch, context_tokens)["step_time_s"]


# --------------------------------------------------------------------------------------------
# prefill
# --------------------------------------------------------------------------------------------
#: HBM bytes per d_model value per routed (token, expert) pair per MoE layer of a prompt pass: the expert's 16-bit output
#: written (2) and read back by the weighted sum (2); see moe_dispersion_bytes_per_gpu
MOE_DISPERSION_BYTES_PER_VALUE = 4.0


def moe_dispersion_bytes_per_gpu(shape: Shape, layout: Layout, tokens):
    """HBM bytes of the MoE layers' token dispersion in a prompt pass, per GPU (0 for dense models).

    Each routed (token, expert) pair leaves the expert's down projection as a 16-bit vector of d_model values (LatentMoE:
    its latent width) (written)
    that the weighted sum over the token's k experts reads back: 2 x 2 bytes x d_model per pair per MoE layer. With
    tensor parallelism every rank holds all d_model columns of its partial outputs (the down projection splits its
    reduction, moe_inter / tp, not its output), so these bytes do not shrink with TP, while the experts' FLOPs do: at
    TP 4-8 they take about as long as the expert GEMMs themselves (DeepSeek-R1 at TP 8 on H200: ~60 ns of traffic per
    token and MoE layer against ~70 ns of FP8 GEMM). Charged in addition to the roofline: the weighted sum is a
    memory-bound kernel of its own, and the down projection's K (moe_inter / tp) is too small for its output write to
    hide under its FLOPs. Prompt passes only: a decode step's few MB of them stay in L2, as activation_bytes_per_token_layer."""
    is_moe = _a(shape.n_experts) > 1
    moe_layers = _a(shape.n_moe_layers) * is_moe / _a(layout.pp)
    return moe_layers * _a(tokens) / _a(layout.ep) * _a(shape.experts_per_token) * moe_width(shape) * MOE_DISPERSION_BYTES_PER_VALUE


def prefill_pass(shape: Shape, dev: Device, prec: Precision, layout: Layout, batch, prompt_tokens):
    """Time to prefill `batch` prompts of `prompt_tokens` tokens in one pass (s), with parts, uncapped."""
    tp, pp, ep = _a(layout.tp), _a(layout.pp), _a(layout.ep)
    bsz, s = _a(batch), _a(prompt_tokens)
    tokens = bsz * s
    # the prompts are data parallel over the ep ranks (attention and dense layers): a prompt is not split, so with fewer
    # prompts than ranks the busiest rank still runs a whole one (`busy` x its even share) while the others idle
    busy = np.maximum(1.0, ep * np.minimum(tokens, s) / np.maximum(tokens, 1e-30))
    wb = _a(prec.weight_bytes_per_param)
    bw = _a(dev.bandwidth_bytes_per_s) * _a(dev.bandwidth_frac)
    flops = _a(dev.peak_flop_per_s) * _a(dev.matmul_frac)
    is_moe = _a(shape.n_experts) > 1
    moe_layers = _a(shape.n_moe_layers) * is_moe
    nl, nw = _a(shape.n_layers), _a(shape.n_window_layers)
    nsm = nl - _a(shape.n_linear_layers)  # softmax-attention layers

    moe_rel = _a(1.0 if dev.moe_kernel_rel is None else dev.moe_kernel_rel)
    body = _a(shape.params_dense_stream) - _a(shape.params_lm_head)
    dense_mm = busy * (2.0 * body * tokens + 2.0 * _a(shape.params_lm_head) * bsz) / (tp * pp * ep)
    replicated = tp_replicated_extra_params_per_gpu(shape, layout)  # run whole on every TP rank (0.0 for most models)
    if any_positive(replicated):
        dense_mm = dense_mm + 2.0 * busy * tokens / ep * replicated
    expert_mm = 2.0 * tokens * moe_layers * _a(shape.experts_per_token) * _a(shape.params_expert) / (tp * pp * ep)
    mm_flop = dense_mm + expert_mm
    pairs = (nsm - nw) * causal_pairs(s, np.inf) + nw * causal_pairs(s, shape.window_tokens)
    concat = _a(0.0 if dev.prefill_attention_concat is None else dev.prefill_attention_concat)
    if np.any(concat > 0):  # attention over the concatenated batch (research stacks)
        pairs_concat = (nsm - nw) * causal_pairs(tokens, np.inf) + nw * causal_pairs(tokens, shape.window_tokens)
        attn_pairs = np.where(concat > 0, pairs_concat, bsz * pairs)
        s_attn = np.where(concat > 0, tokens, s)  # the sequence length the attention kernel sees
    else:
        attn_pairs, s_attn = bsz * pairs, s
    attn_flop = busy * attn_pairs * _a(shape.attn_flop_per_pair_prefill) / (tp * pp * ep)
    attn_eff = _a(dev.attention_frac) * s_attn / (s_attn + _a(dev.attention_half_tokens))
    t_idx, idx_flop, idx_bytes = 0.0, 0.0, 0.0
    if any_finite(shape.sparse_topk_tokens):  # sparse attention: the top-k pairs in the absorbed form, the indexer over all pairs
        main_flop, idx_flop, idx_bytes = sparse_prefill_work(shape, dev, layout, bsz, s)
        attn_flop = np.where(is_sparse(shape), main_flop, attn_flop)
        t_idx = idx_flop / (_indexer_flop_per_s(dev) * attn_eff)
    # prompt GEMMs carry no microscaled upcast term (Precision.upcast_flop_per_weight_tile): see UPCAST_FIT_CASES
    # the prompt pass's expert GEMMs (hundreds to thousands of rows per expert: compute-bound tiles) at the engine's
    # grouped-GEMM efficiency, times its prompt-pass factor (Device.moe_prefill_compute_rel)
    moe_eff = moe_rel * _a(dev.moe_compute_rel) * _a(dev.moe_prefill_compute_rel)
    load = _ep_load(shape, ep, tokens, dev, is_moe)
    t_mm = (dense_mm + load * expert_mm / moe_eff) / flops + _a(prec.dequant_flop_per_weight) * body / (tp * pp) / _a(dev.vector_flop_per_s)
    t_attn = attn_flop / (_attn_flop_per_s(dev) * attn_eff) + t_idx
    lin_write = 0.0
    if any_positive(shape.n_linear_layers):  # chunked linear attention: FLOPs linear in the prompt, at the attention
        # kernels' long-prompt efficiency; each prompt leaves its final state
        lin_flop, lin_write = linear_prefill_work(shape, layout, bsz, tokens)
        attn_flop = attn_flop + lin_flop
        t_attn = t_attn + lin_flop / (_attn_flop_per_s(dev) * _a(dev.attention_frac))
    touched = np.where(is_moe, experts_touched(shape.n_experts, shape.experts_per_token, tokens), 0.0)
    dense_read = _a(shape.params_dense_stream) / (tp * pp)
    if any_positive(replicated):
        dense_read = dense_read + replicated
    expert_read = moe_layers * touched * _a(shape.params_expert) / ep / (tp * pp)
    params_read = dense_read + expert_read
    kv_write = busy * bsz * kv_bytes_stored_per_sequence(shape, prec, s) / (pp * _kv_tp_split(shape, layout) * ep) + lin_write
    act_traffic = busy * tokens / ep * nl / pp * activation_bytes_per_token_layer(shape, prec, layout)
    t_mem = ((dense_read + expert_read / moe_rel) * wb + lm_head_extra_bytes_per_gpu(shape, prec, layout) + kv_write + act_traffic
             + idx_bytes) / bw
    t_compute = _smooth_roofline(t_mem, t_mm + t_attn)
    msg = busy * tokens / ep * _a(shape.d_model) * _a(prec.act_bytes)
    t_tp = _a(shape.allreduces_per_layer) * nl * allreduce_time_s(msg, tp, dev)
    t_ep = moe_exchange_time_s(tokens, moe_width(shape), moe_layers, ep, dev, tp, shape.experts_per_token, prec.act_bytes,
                               dispatch_bytes(prec, dev))
    t_pp = (pp - 1.0) * pp_handoff_s(msg, layout, dev)
    t_layers = nl * _a(dev.layer_overhead_s)
    # the MoE layers' per-assignment work for the prompt tokens (per GPU: its tokens / ep, its layers / pp)
    t_pairs = load * moe_layers * tokens / ep * _a(shape.experts_per_token) * _a(dev.moe_prefill_pair_s) / pp
    disp = moe_dispersion_bytes_per_gpu(shape, layout, tokens)
    t_disp = disp / bw
    gpu = t_compute + t_tp + t_ep + t_pp + t_layers + t_pairs + t_disp
    host = nl * _a(dev.host_launch_s_per_layer)
    body_t = _smooth_roofline(gpu, host) if np.any(host > 0) else gpu
    # stages that run one after another (Device.pipeline_overlap 0): the prompts wait while the other pp - 1 stages run
    t_wait_pp = (_a(layout.pp) - pipeline_micro_batches(dev, layout.pp)) * body_t
    t_sample = sampling_time_s(shape, dev, bsz)
    total = body_t + t_wait_pp + _a(dev.step_overhead_s) + _a(dev.seq_overhead_s) * bsz + t_sample
    t_power = power_limit_stretch_s(total, mm_flop, dev.tensor_j_per_flop, dev.power_budget_w)
    total = total + t_power
    return {
        "prefill_time_s": total,
        "power_limit_s": t_power,
        "compute_s": t_compute,
        "matmul_s": t_mm,
        "attention_s": t_attn,
        "memory_floor_s": t_mem,
        "tp_allreduce_s": t_tp,
        "ep_alltoall_s": t_ep,
        "pp_handoff_s": t_pp,
        "layer_overhead_s": t_layers,
        "moe_routing_s": t_pairs,
        "moe_dispersion_s": t_disp,
        "host_launch_wait_s": body_t - gpu,
        "pipeline_wait_s": t_wait_pp,
        "sampling_s": t_sample,
        "matmul_flop_per_gpu": mm_flop + attn_flop + idx_flop,
        "bytes_per_gpu": params_read * wb + lm_head_extra_bytes_per_gpu(shape, prec, layout) + kv_write + act_traffic + disp + idx_bytes,
    }


def prefill_time_s(shape: Shape, dev: Device, prec: Precision, layout: Layout, batch, prompt_tokens):
    return prefill_breakdown(shape, dev, prec, layout, batch, prompt_tokens)["prefill_time_s"]


def prefill_breakdown(shape: Shape, dev: Device, prec: Precision, layout: Layout, batch, prompt_tokens):
    """Time to prefill `batch` prompts of `prompt_tokens` tokens in one pass (s), with parts; under the device's power
    limit (Device.power_cap_w) at the clock it leaves (power_cap_s)."""
    pre = prefill_pass(shape, dev, prec, layout, batch, prompt_tokens)
    if not any_positive(dev.power_cap_w):
        return pre
    return power_capped(pre, "prefill_time_s", dev, prefill_power_w(pre, dev, dev.idle_w, dev.tdp_w),
                         pre["matmul_s"] + pre["attention_s"], pre["memory_floor_s"])


def broadcast_fields(obj, index):
    """Select `index` from every array field of a Shape/Device/Precision/Layout (scalars pass)."""
    vals = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        vals[f.name] = np.asarray(v)[index] if np.ndim(v) else v
    return type(obj)(**vals)
