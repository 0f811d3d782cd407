"""Serving estimate inputs: a catalog model, accelerator, weight / KV format and engine profile -> the inference core's
records (costsim.core.inference Shape, Precision, Device), with every efficiency parameter resolved once (category
default, accelerator profile, engine profile, the kernels the engine picks for this model and format, request overrides).
costsim.estimators.inference prices serving with them and re-exports these names."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from costsim.core import inference as core
from costsim.core.speculative import tokens_per_step
from costsim.errors import InputError
from costsim.estimators.network import network_parameters
from costsim.estimators.power_limit import tensor_power_parameters
from costsim.specs.engine import get_engine
from costsim.specs.hardware import DTYPES, Accelerator
from costsim.specs.model import ModelSpec


# --------------------------------------------------------------------------------------------
# spec -> core
# --------------------------------------------------------------------------------------------
def shape_from_model(m: ModelSpec) -> core.Shape:
    routed_all = m.n_moe_layers * m.n_experts * m.expert_params if m.is_moe else 0.0
    lookup_only = (0.0 if m.tied_embeddings else m.vocab_size * m.d_model) + (m.max_context * m.d_model if m.learned_positions else 0.0)
    h = m.n_heads
    if m.attention_type == "mla":
        rope = m.qk_rope_head_dim or 0
        nope = m.qk_nope_head_dim or m.hd
        v = m.v_head_dim or m.hd
        pre = 2.0 * h * ((nope + rope) + v)
        dec = 2.0 * h * ((m.kv_lora_rank or 0) + rope) + 2.0 * h * (m.kv_lora_rank or 0)
        kv_shard = 1
    else:
        pre = dec = 4.0 * h * m.hd
        kv_shard = m.kv_heads
    n_win = int(round(m.n_layers * m.sliding_window_layer_frac)) if m.sliding_window else 0
    d_ff_widest = max(m.d_ff_dense or m.d_ff, m.d_ff)
    width = (2 if m.gated else 1) * d_ff_widest * (max(1, m.experts_per_token + m.n_shared_experts) if m.is_moe else 1)
    # a speculative draft (MTP module / EAGLE head) is stored as about one more layer of the model
    draft = (m.params_total - m.embedding_params) / m.n_layers if m.speculative_tokens else 0.0
    return core.Shape(
        n_layers=float(m.n_layers), d_model=float(m.d_model),
        allreduces_per_layer=float(m.n_layers + m.n_ffn_layers) / m.n_layers,
        moe_width=float(m.moe_width) if m.moe_latent_dim else 0.0, params_resident=m.params_total + draft,
        params_dense_stream=m.params_total - lookup_only - routed_all, params_lm_head=float(m.vocab_size * m.d_model),
        params_expert=m.expert_params if m.is_moe else 0.0, n_experts=float(m.n_experts),
        experts_per_token=float(m.experts_per_token), n_moe_layers=float(m.n_moe_layers),
        kv_elements_per_token_layer=m.kv_elements_per_token_per_layer(), n_window_layers=float(n_win),
        window_tokens=float(m.sliding_window) if m.sliding_window else math.inf, kv_shard_max=float(kv_shard),
        attn_flop_per_pair_prefill=pre, attn_flop_per_ctx_decode=dec, ffn_act_width=float(width),
        vocab_size=float(m.vocab_size), topk_sampling=1.0 if m.default_top_k else 0.0, params_lookup=lookup_only,
        n_linear_layers=float(m.linear_attention_layers), linear_state_bytes_per_layer=m.linear_state_bytes_per_layer,
        linear_shard_max=float(m.linear_shard_max), linear_flop_per_token_decode=m.linear_decode_flop_per_token_per_layer,
        linear_flop_per_token_prefill=m.linear_prefill_flop_per_token_per_layer,
        sparse_topk_tokens=float(m.sparse_attention_topk) if m.sparse_attention_topk else math.inf,
        # averaged over the softmax layers: only indexer_layers of them score and cache keys (IndexShare)
        indexer_bytes_per_token_layer=m.indexer_layer_frac * m.indexer_key_bytes_per_token_layer,
        indexer_flop_per_pair=m.indexer_layer_frac * m.indexer_flop_per_pair,
        n_attention_heads=float(m.n_heads),
        spec_tokens=float(m.speculative_tokens),
        spec_tokens_per_step=float(tokens_per_step(m.speculative_tokens, m.speculative_acceptance_frac or 0.0)),
        params_tp_replicated=m.n_softmax_layers * m.indexer_layer_frac * m.indexer_params_per_layer,
    )


#: Weight formats whose checkpoints ship with an fp8 KV cache by default (TensorRT-LLM / ModelOpt FP8
#: and NVFP4 checkpoints, AMD Quark MXFP4 in MLPerf v5.1); others keep a 16-bit KV cache.
FP8_KV_BY_DEFAULT = ("fp8", "fp4", "mxfp4", "fp6")


#: Weight formats whose checkpoints keep the input embedding and the LM head in 16 bit (NVIDIA ModelOpt
#: FP8 / NVFP4 exclude lm_head from quantization; vLLM's fp8 and AWQ/GPTQ int4/int8 quantize linear layers
#: only; OCP MXFP4 (gpt-oss) ships embeddings and unembedding in BF16). GGUF q8_0 / q4_0 store them
#: quantized and keep their own per-tensor types (modelled at the file's format).
EMBEDDINGS_16BIT = ("fp8", "int8", "int4", "fp4", "mxfp4", "fp6")


def default_kv_precision(weight_precision: str, engine: str = "default") -> str:
    """The KV cache a request gets when it names none: FP8 with quantized weights (FP8_KV_BY_DEFAULT) on engines whose
    default follows the checkpoint, 16 bit on engines whose 'auto' is the model's dtype (vLLM, SGLang)."""
    if get_engine(engine).kv_cache_auto == "16bit":
        return "bf16"
    return "fp8" if weight_precision in FP8_KV_BY_DEFAULT else "bf16"


def precision(weight_precision: str, kv_precision: str | None, compute_dtype: str | None = None) -> core.Precision:
    """Bytes per weight / KV element / GEMM activation (scale factors included). `compute_dtype`
    (from `device_from_accelerator`) sets the GEMM input activation format; None = 16 bit."""
    kv = kv_precision or default_kv_precision(weight_precision)
    if weight_precision not in core.WEIGHT_BITS_PER_PARAM:
        raise InputError(f"weight precision '{weight_precision}' is not one of {', '.join(core.WEIGHT_BITS_PER_PARAM)}.", field="weight_precision")
    if kv not in core.KV_BITS_PER_ELEMENT:
        raise InputError(f"KV precision '{kv}' is not one of {', '.join(core.KV_BITS_PER_ELEMENT)}.", field="kv_precision")
    act_bits = core.activation_bits(weight_precision, compute_dtype) if compute_dtype else 16.0
    wb = core.WEIGHT_BITS_PER_PARAM[weight_precision] / 8.0
    embed_extra = max(0.0, 2.0 - wb) if weight_precision in EMBEDDINGS_16BIT else 0.0
    return core.Precision(weight_bytes_per_param=wb,
                          kv_bytes_per_element=core.KV_BITS_PER_ELEMENT[kv] / 8.0,
                          dequant_flop_per_weight=core.DEQUANT_FLOP_PER_WEIGHT[weight_precision],
                          upcast_flop_per_weight_tile=(core.upcast_flop_per_weight_tile(weight_precision, compute_dtype)
                                                       if compute_dtype else 0.0),
                          act_gemm_bytes=act_bits / 8.0, embed_extra_bytes_per_param=embed_extra)


def device_parameters(acc: Accelerator, engine: str = "default", overrides: dict[str, float] | None = None) -> dict[str, float]:
    """Efficiency parameters for a device: category default, then profile `efficiency` fields,
    then the engine profile (costsim/data/engines.yaml; its vendor-specific part for this device's
    vendor, then its part for this hardware id), then explicit overrides."""
    eng = get_engine(engine)
    vendor = acc.vendor.strip().lower()
    if eng.vendors is not None and vendor not in eng.vendors:
        raise InputError(f"engine '{eng.id}' runs on {', '.join(eng.vendors)} hardware; '{acc.id}' is {acc.vendor}. "
                         f"Pick another --engine (e.g. default or vllm).", field="engine")
    p = dict(core.CATEGORY_DEFAULTS.get(acc.category, core.CATEGORY_DEFAULTS["datacenter_gpu"]))
    eff = acc.efficiency
    if eff.matmul_frac is not None:
        p["matmul_frac"] = eff.matmul_frac
    if eff.memory_bandwidth_frac is not None:
        p["bandwidth_frac"] = eff.memory_bandwidth_frac
    if eff.step_overhead_s is not None:
        p["step_overhead_s"] = eff.step_overhead_s
    for table in (eng.parameters, eng.vendor_parameters.get(vendor, {}), eng.device_parameters.get(acc.id, {})):
        for k, v in table.items():
            base = k[: -len("_scale")] if k.endswith("_scale") else k
            if base not in p:
                raise InputError(f"engine '{eng.id}' sets unknown parameter '{k}'; known: {', '.join(sorted(p))}.", field="engine")
            p[base] = p[base] * v if k.endswith("_scale") else float(v)
    p["bandwidth_frac"] = min(p["bandwidth_frac"], acc.streaming_frac_cap)
    for k, v in (overrides or {}).items():
        if k not in p:
            raise InputError(f"unknown device parameter override '{k}'; known: {', '.join(sorted(p))}.", field="overrides")
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise InputError(f"device parameter override {k} must be a finite number >= 0, got {v!r}.", field="overrides")
        p[k] = float(v)
    for k, (ok, rng, what) in _FRACTION_PARAMETERS.items():
        if not ok(p[k]):
            raise InputError(f"{k} must be in {rng} ({what}), got {p[k]}.", field="overrides" if k in (overrides or {}) else "engine")
    return p


#: device parameters that are fractions or 0/1 flags: test, range as written, meaning (bad values name the field and the range)
_FRACTION_PARAMETERS = {
    "seq_overhead_busy_frac": (lambda x: 0.0 <= x <= 1.0, "[0, 1]", "the share of the per-sequence time the GPU runs kernels"),
    "moe_kernel_rel": (lambda x: 0.0 < x <= 1.0, "(0, 1]", "the fused-MoE kernels' efficiency relative to dense GEMMs"),
    "usable_memory_frac": (lambda x: 0.0 < x <= 1.0, "(0, 1]", "the share of device memory the engine may allocate"),
    "kv_free_memory_frac": (lambda x: 0.0 < x <= 1.0, "(0, 1]", "the share of the memory free after weights that becomes KV cache"),
    "moe_compute_rel": (lambda x: 0.0 < x <= 1.0, "(0, 1]", "the routed-expert GEMMs' compute efficiency relative to dense GEMMs"),
    "moe_prefill_compute_rel": (lambda x: 0.0 < x <= 1.0, "(0, 1]", "the routed-expert GEMMs' further compute efficiency factor in prompt passes"),
    "w4a16_moe_prefill_compute_rel": (lambda x: 0.0 <= x <= 1.0, "[0, 1]", "the prompt-pass factor of 4-bit weight-only expert GEMMs (0 = moe_prefill_compute_rel)"),
    "sink_attention_frac": (lambda x: 0.0 <= x <= 1.0, "[0, 1]", "the prompt attention efficiency of attention-sink models (0 = attention_frac)"),
    "sliding_window_kv": (lambda x: x in (0.0, 1.0), "{0, 1}", "whether a sliding-window layer's KV cache holds only its window (1) or the whole context (0)"),
    "sliding_window_attention": (lambda x: x in (0.0, 1.0), "{0, 1}", "whether the kernels attend over only a sliding-window layer's window (1) or the whole context (0)"),
    "cuda_graph_padding": (lambda x: x in (0.0, 1.0), "{0, 1}", "whether decode steps are padded to the next CUDA-graph batch size (1) or not (0)"),
    "kv_on_demand": (lambda x: x in (0.0, 1.0), "{0, 1}", "whether the engine allocates KV cache as sequences grow and preempts when full (1) or reserves a sequence's whole length at admission (0)"),
    "moe_allgather_dispatch": (lambda x: x in (0.0, 1.0), "{0, 1}", "whether expert parallelism all-gathers the tokens and reduce-scatters the outputs (1) or runs a per-expert all-to-all (0)"),
    "moe_dispatch_post_quant": (lambda x: x in (0.0, 1.0), "{0, 1}", "whether the expert dispatch carries the GEMMs' quantized input format (1) or 16-bit tokens (0)"),
    "pipeline_overlap": (lambda x: x in (0.0, 1.0), "{0, 1}", "whether pipeline stages work on micro-batches at once (1) or one after another (0)"),
}


def device_from_accelerator(acc: Accelerator, weight_precision: str, engine: str = "default",
                            overrides: dict[str, float] | None = None,
                            kv_precision: str | None = None) -> tuple[core.Device, str, dict[str, float]]:
    """Core device parameters for serving `weight_precision` weights on `acc` with `engine`:
    the compute datatype (tensor-core rate from the profile), its achievable fraction (fp8/int8 at
    lowp_matmul_rel, fp4/fp6 at fp4_matmul_rel of matmul_frac) and the attention datatype (fp8 FMHA
    with an fp8 KV cache on FP8-capable parts, else 16 bit)."""
    supported = frozenset(d for d in DTYPES if acc.supports(d))
    dtype = core.compute_dtype(weight_precision, supported)
    p = device_parameters(acc, engine, overrides)
    rel = 1.0
    if dtype in core.LOWP_DTYPES and acc.supports(dtype):
        rel = p["lowp_matmul_rel"]
    elif dtype in core.MICROSCALED_DTYPES and acc.supports(dtype):
        rel = p["fp4_matmul_rel"]
    mm = p["matmul_frac"] * rel
    peak = acc.peak_flop_per_s(dtype)
    if peak <= 0:
        raise InputError(f"hardware '{acc.id}' has no peak rate for {dtype} or any fallback datatype; add peak_tflop_per_s to its profile.", field="hardware")
    kv = kv_precision or default_kv_precision(weight_precision, engine)
    half = "bf16" if acc.supports("bf16") else "fp16"
    attn_dtype = "fp8" if (kv == "fp8" and acc.supports("fp8") and dtype in ("fp8", "fp4", "fp6")) else (dtype if dtype in ("bf16", "fp16") else half)
    attn_peak = acc.peak_flop_per_s(attn_dtype) or peak
    vec = acc.peak_flop_per_s("fp32") or peak
    dev = core.Device(
        peak_flop_per_s=peak, vector_flop_per_s=vec, bandwidth_bytes_per_s=acc.memory_bandwidth_bytes_per_s,
        memory_bytes=acc.memory_bytes, matmul_frac=mm, bandwidth_frac=p["bandwidth_frac"],
        attention_frac=p["attention_frac"], attention_half_tokens=p["attention_half_tokens"],
        step_overhead_s=p["step_overhead_s"], layer_overhead_s=p["layer_overhead_s"], seq_overhead_s=p["seq_overhead_s"],
        usable_memory_frac=p["usable_memory_frac"], scaleup_bytes_per_s=acc.scaleup_bytes_per_s,
        scaleup_latency_s=acc.scaleup.latency_s, scaleup_ring_ranks=float(acc.scaleup.ring_ranks_per_device or 0),
        comm_bandwidth_frac=p["comm_bandwidth_frac"],
        attn_peak_flop_per_s=attn_peak, indexer_peak_flop_per_s=acc.peak_flop_per_s("fp8") if acc.supports("fp8") else attn_peak,
        sparse_attention_min_heads=sparse_attention_min_heads(acc),
        host_launch_s_per_layer=p["host_launch_s_per_layer"],
        sampling_bytes_per_logit=p["sampling_bytes_per_logit"], request_overhead_s=p["request_overhead_s"],
        prefill_attention_concat=p["prefill_attention_concat"], moe_kernel_rel=p["moe_kernel_rel"],
        topk_bytes_per_logit=p["topk_bytes_per_logit"], seq_overhead_busy_frac=p["seq_overhead_busy_frac"],
        kv_free_memory_frac=p["kv_free_memory_frac"], runtime_reserve_bytes=p["runtime_reserve_bytes"], moe_compute_rel=p["moe_compute_rel"],
        moe_prefill_compute_rel=p["moe_prefill_compute_rel"],
        moe_decode_pair_s=p["moe_decode_pair_s"], moe_prefill_pair_s=p["moe_prefill_pair_s"],
        cuda_graph_padding=p["cuda_graph_padding"], cuda_graph_max_batch=p["cuda_graph_max_batch"],
        kv_on_demand=p["kv_on_demand"], moe_allgather_dispatch=p["moe_allgather_dispatch"],
        moe_dispatch_post_quant=p["moe_dispatch_post_quant"], moe_expert_load_cv=p["moe_expert_load_cv"], pipeline_overlap=p["pipeline_overlap"], **tensor_power_parameters(acc, dtype), **network_parameters(acc),
    )
    return dev, dtype, p


#: query heads per rank the sparse-MLA kernels compute at least: FlashMLA's (NVIDIA Hopper / Blackwell) take 64 or 128;
#: the portable Triton sparse-MLA kernels other parts run accept multiples of 16
#: (vllm/v1/attention/backends/mla/flashmla_sparse.py, _compute_fp8_decode_padded_heads)
SPARSE_MLA_MIN_HEADS = {"nvidia": 64.0}
TRITON_SPARSE_MLA_MIN_HEADS = 16.0


def sparse_attention_min_heads(acc: Accelerator) -> float:
    """Query heads per rank a DSA model's sparse attention kernels compute at least on `acc` (padding below that)."""
    return SPARSE_MLA_MIN_HEADS.get(acc.vendor.strip().lower(), TRITON_SPARSE_MLA_MIN_HEADS)


@dataclass(frozen=True)
class CoreInputs:
    """Everything the inference core needs for one (model, hardware, precision, engine)."""

    shape: core.Shape
    """Model shape reduced for the core."""
    prec: core.Precision
    """Weight / KV / activation bytes per element."""
    dev: core.Device
    """Device rates and engine-adjusted efficiencies."""
    compute_dtype: str
    """Datatype the GEMMs run in (e.g. fp8, fp4, bf16)."""
    params: dict[str, float]
    """The resolved efficiency parameters (category default, profile, engine, overrides)."""


def with_sampling(m: ModelSpec, top_k: int | None) -> ModelSpec:
    """The model as served with requests' `top_k` (None = its published default; 0 = no top-k). A top-k above the
    vocabulary is refused (it would keep every token: give 0 for no top-k)."""
    if top_k is not None and top_k > m.vocab_size:
        raise InputError(f"--top-k {top_k:,} is more than {m.id or 'the model'}'s vocabulary ({m.vocab_size:,} tokens): it would keep "
                         f"every token; give at most {m.vocab_size:,}, or 0 for sampling without top-k.", field="top_k")
    if top_k is None or (top_k or None) == m.default_top_k:
        return m
    return m.model_copy(update={"default_top_k": top_k or None})


def with_speculation(m: ModelSpec, draft_tokens: int | None, acceptance_frac: float | None) -> ModelSpec:
    """The model as served with speculative decoding (`draft_tokens` drafts per step, each accepted with probability
    `acceptance_frac`); unchanged when draft_tokens is None."""
    if draft_tokens is None:
        return m
    return m.model_copy(update={"speculative_tokens": draft_tokens,
                                "speculative_acceptance_frac": acceptance_frac if draft_tokens else None})


def with_state_precision(m: ModelSpec, state_precision: str | None) -> ModelSpec:
    """The model with its linear-attention recurrent state stored at `state_precision` (fp32 / bf16 / fp16); unchanged
    when None or when the model has no linear-attention layers."""
    if state_precision is None or not m.linear_attention_layers:
        return m
    return m.model_copy(update={"linear_state_dtype": state_precision})


def served_model(m: ModelSpec, req) -> ModelSpec:
    """The model as a request serves it: its sampling top_k, its speculative decoding and its recurrent-state storage
    (the request's top_k, speculative_tokens, acceptance_frac and state_precision, where it has them)."""
    m = with_sampling(m, getattr(req, "top_k", None))
    m = with_state_precision(m, getattr(req, "state_precision", None))
    return with_speculation(m, getattr(req, "speculative_tokens", None), getattr(req, "acceptance_frac", None))


def kernel_family_parameters(m: ModelSpec, weight_precision: str, dtype: str, params: dict[str, float]) -> dict[str, float]:
    """Device fields that depend on which kernels the engine picks for this model and weight format: the prompt-pass
    factor of 4-bit weight-only expert GEMMs (w4a16_moe_prefill_compute_rel, where set: vLLM's Marlin MoE on Ampere /
    Ada) and the prompt attention efficiency of attention-sink models (sink_attention_frac, where set: vLLM's Triton
    attention where FlashAttention 2 has no sinks). Empty where neither applies."""
    out: dict[str, float] = {}
    w4a16 = weight_precision in ("int4", "fp4", "mxfp4") and dtype not in core.MICROSCALED_DTYPES
    if w4a16 and m.is_moe and params["w4a16_moe_prefill_compute_rel"] > 0:
        out["moe_prefill_compute_rel"] = params["w4a16_moe_prefill_compute_rel"]
    if m.attention_sinks and params["sink_attention_frac"] > 0:
        out["attention_frac"] = params["sink_attention_frac"]
    return out


def core_inputs(m: ModelSpec, acc: Accelerator, weight_precision: str, kv_precision: str | None = None,
                engine: str = "default", overrides: dict[str, float] | None = None, *,
                power_cap_w: float | None = None) -> CoreInputs:
    """Shape, precision and device for the core, consistently resolved (one place for all callers); with a per-GPU
    power limit below the TDP the device runs its steps at the clock it leaves (Device.power_cap_w)."""
    allowed = get_engine(engine).weight_precisions
    if allowed is not None and weight_precision not in allowed:
        raise InputError(f"engine '{engine}' runs {', '.join(allowed)} weights, not {weight_precision}; pick one of those "
                         "with --weight-precision, or another --engine.", field="weight_precision")
    kv = kv_precision or default_kv_precision(weight_precision, engine)  # the engine's default, resolved once
    dev, dtype, params = device_from_accelerator(acc, weight_precision, engine, overrides, kv)
    # an explicit override of the general value wins over the kernel family's
    picked = {k: v for k, v in kernel_family_parameters(m, weight_precision, dtype, params).items() if k not in (overrides or {})}
    dev, params = replace(dev, **picked), params | picked
    shape = shape_from_model(m)
    if params["sliding_window_attention"] == 0.0:
        # the engine ignores the model's sliding window: every layer keeps and attends over the whole context
        # (TensorRT-LLM's C++ runtime unless max_attention_window_size is set)
        shape = replace(shape, n_window_layers=0.0)
    elif params["sliding_window_kv"] == 0.0:
        # the kernels attend over the window, but the KV cache keeps the whole context (TensorRT-LLM's PyTorch
        # backend unless kv_cache_config max_attention_window is set)
        shape = replace(shape, kv_stores_window=0.0)
    prec = precision(weight_precision, kv, dtype)
    if kv == "fp8" and m.sparse_attention_topk is not None:
        # DeepSeek Sparse Attention's FP8 latent cache: 656-byte layout (scales, BF16 RoPE), dequantized to BF16 inside
        # the sparse kernels, which compute in BF16 (FlashMLA's FP8 sparse decoding kernel: docs/20250929-hopper-fp8-
        # sparse-deep-dive.md; vLLM up-converts the cache for its BF16 sparse prefill kernel, PR 27532)
        prec = replace(prec, kv_extra_bytes_per_token_layer=m.fp8_sparse_latent_extra_bytes_per_token_layer)
        half = acc.peak_flop_per_s("bf16") or acc.peak_flop_per_s("fp16")
        if half:
            dev = replace(dev, attn_peak_flop_per_s=half)
    if power_cap_w is not None:
        from costsim.estimators.training_shapes import check_power_cap_w

        check_power_cap_w(acc, power_cap_w)
        if power_cap_w < acc.tdp_w:
            dev = replace(dev, power_cap_w=float(power_cap_w), idle_w=float(acc.idle_w), tdp_w=float(acc.tdp_w))
    return CoreInputs(shape=shape, prec=prec, dev=dev, compute_dtype=dtype, params=params)
