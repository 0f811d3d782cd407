"""Inputs of the inference core: the device, model-shape, precision and layout records (floats or numpy
arrays that broadcast), shared by the core's memory model (costsim.core.inference_memory) and its step-time model
(costsim.core.inference)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Device:
    """Per-device parameters (floats or arrays that broadcast). Rates in FLOP/s and B/s, times in s."""

    peak_flop_per_s: object          # dense peak of the compute datatype
    vector_flop_per_s: object        # fp32 vector peak (dequantization ALU work)
    bandwidth_bytes_per_s: object
    memory_bytes: object
    matmul_frac: object
    bandwidth_frac: object
    attention_frac: object
    attention_half_tokens: object
    step_overhead_s: object
    layer_overhead_s: object
    seq_overhead_s: object
    usable_memory_frac: object
    scaleup_bytes_per_s: object      # per direction
    scaleup_latency_s: object
    comm_bandwidth_frac: object
    #: ranks per device on a ring fabric (ScaleUp.ring_ranks_per_device; 0 = switched, log-depth collective latency)
    scaleup_ring_ranks: object = 0.0
    #: dense peak of the datatype attention runs in (FMHA over the KV cache: fp8 with an fp8 KV
    #: cache on FP8-capable parts, else 16 bit); None = peak_flop_per_s (attention in the GEMM dtype)
    attn_peak_flop_per_s: object = None
    #: 1 = pipeline stages work at once on pp micro-batches of the batch (serving engines' pipeline parallelism); 0 = the
    #: whole batch passes the stages one after another and each GPU waits while the others run (sequential model
    #: parallelism: Hugging Face accelerate's device_map splits a plain PyTorch model's layers over GPUs that way)
    pipeline_overlap: object = 1.0
    #: host (CPU) time to launch one layer's kernels in one forward pass, s; a step takes
    #: sqrt(gpu^2 + host^2) (the GPU waits on a slower launcher). 0 for graph-captured engines
    host_launch_s_per_layer: object = 0.0
    #: bytes moved per vocabulary entry per sequence per step by logits + sampling (fp32 write + read)
    sampling_bytes_per_logit: object = 0.0
    #: host time per request admitted and retired under continuous batching (scheduling, KV-cache
    #: allocation, final detokenization), s; costs request_overhead_s x batch / output_tokens per step
    request_overhead_s: object = 0.0
    #: 1 = the engine runs a batch of prompts' attention as one concatenated sequence (masked but not
    #: skipped: (B*s)^2/2 pairs instead of B*s^2/2), as stacks without variable-length attention do; 0 = per prompt
    prefill_attention_concat: object = 0.0
    #: efficiency of the routed-expert (fused-MoE) kernels relative to the dense GEMMs, applied to both their
    #: weight streaming and their FLOPs (1 = as efficient; < 1 = e.g. a kernel running untuned tile configurations)
    moe_kernel_rel: object = 1.0
    #: HBM bytes per sequence per vocabulary entry moved by top-k masking of the logits (full passes over the
    #: vocabulary: sort keys and indices), at the device's streaming rate; charged for models whose default
    #: sampling sets top_k (Shape.topk_sampling); 0 = not charged
    topk_bytes_per_logit: object = 0.0
    #: share of the per-sequence step time (seq_overhead_s x batch) during which the GPU runs kernels (e.g. a
    #: PyTorch-native sampler sorting each sequence's logits) rather than waiting on the host; it then draws
    #: the step's kernel power (decode_step_power_w). 0 = host work: the GPU waits at warm idle
    seq_overhead_busy_frac: object = 0.0
    #: share of the memory left free after weights and workspace (within usable_memory_frac of the device)
    #: that the engine gives the KV cache. 1 = vLLM's rule (gpu_memory_utilization of the whole device, the
    #: rest all KV); TensorRT-LLM sizes its KV pool as kv_cache_free_gpu_mem_fraction of the free memory
    kv_free_memory_frac: object = 1.0
    #: bytes per GPU the runtime holds besides weights, activation workspace and KV cache (CUDA context,
    #: GEMM/communication workspaces, decoder buffers) when the engine sizes its KV pool from the memory it
    #: finds free; 0 where usable_memory_frac already reserves it (vLLM's gpu_memory_utilization)
    runtime_reserve_bytes: object = 0.0
    #: compute efficiency of the routed-expert (grouped) GEMMs relative to the dense GEMMs, their FLOPs only (their
    #: weight streaming keeps moe_kernel_rel): a grouped GEMM spreads its tiles over many small per-expert problems
    moe_compute_rel: object = 1.0
    #: a further factor on the routed-expert GEMMs' compute efficiency in prompt passes only, where each expert gets
    #: hundreds to thousands of rows and the grouped kernel runs compute-bound tile configurations (decode steps'
    #: expert GEMMs, a few rows per expert, stream weights at moe_kernel_rel instead). 1 = as moe_compute_rel
    moe_prefill_compute_rel: object = 1.0
    #: GPU time per routed (token, expert) pair per MoE layer of a decode step on each GPU, s: the MoE layer's
    #: per-assignment work that scales with the routed rows, not with the experts' FLOPs or bytes (the routing sort,
    #: copying and quantizing each token once per chosen expert, gathering and weighting the k outputs back).
    #: Decode steps; prompt tokens pay moe_prefill_pair_s (about a third: one rate for both over-predicts the published
    #: prompt-heavy rows by 25-40 %; engines.yaml, tensorrt-llm-pytorch). 0 = not charged
    moe_decode_pair_s: object = 0.0
    #: the same per routed (token, expert) pair per MoE layer for prompt tokens (prefill), s; 0 = not charged
    moe_prefill_pair_s: object = 0.0
    #: 1 = a decode step runs as the CUDA graph of the next captured batch size (TensorRT-LLM's enable_padding with
    #: its published capture list, CUDA_GRAPH_BATCH_SIZES): the padding sequences cost GEMM FLOPs, expert routing
    #: and communication like real ones, no KV cache or attention; 0 = the step runs at its own batch
    cuda_graph_padding: object = 0.0
    #: largest batch the engine captured a CUDA graph for (min(max_batch_size, max_num_tokens)): a padded step uses
    #: the listed sizes below it and this size itself; a batch above it runs eagerly at its own size
    cuda_graph_max_batch: object = 8192.0
    #: 1 = the engine allocates a sequence's KV cache as it grows and, when the pool is full, preempts the newest
    #: running sequence to recompute it later (vLLM's paged cache, SGLang's token pool; a finite job then runs as
    #: costsim.core.serving_paged); 0 = a sequence is admitted only with room for its whole length (TensorRT-LLM's
    #: GUARANTEED_NO_EVICT scheduler), so a finite job runs in waves (costsim.core.serving_curve.finite_job)
    kv_on_demand: object = 0.0
    #: how an expert-parallel group (attention data parallel over ep, experts split) moves tokens to the experts and
    #: back. 1 = an all-gather of every rank's tokens and a reduce-scatter of the expert outputs (every rank computes
    #: its experts for all tokens): the default of TensorRT-LLM's PyTorch backend without a multi-node-NVLink or
    #: DeepEP all-to-all (AllGatherReduceScatter), vLLM's all2all_backend 'allgather_reducescatter' and SGLang's
    #: DP-attention gather / scatter; the category default (costsim.core.inference.CATEGORY_DEFAULTS). 0 = an
    #: all-to-all carrying one copy of each token per chosen expert (DeepEP-style dispatch / combine kernels), also
    #: what a bare Device gets
    moe_allgather_dispatch: object = 0.0
    #: 1 = the dispatch carries the tokens already quantized to the expert GEMMs' input format (Precision.act_gemm_bytes:
    #: TensorRT-LLM's post-quant all-gather, NVFP4 / FP8); 0 = in 16 bit. The combine is 16 bit either way
    moe_dispatch_post_quant: object = 0.0
    #: coefficient of variation of the routed rows the experts of an MoE layer draw (router skew on the workload): with
    #: expert parallelism the step waits for the busiest rank (costsim.core.moe_routing.ep_load_factor); 0 = uniform
    #: (a bare Device), 0.5 the category default
    moe_expert_load_cv: object = 0.0
    #: energy of one tensor-core FLOP of the compute datatype, J: with power_budget_w it bounds how fast the part can
    #: run its GEMMs (costsim.core.power.power_limit_stretch_s). 0 = not modelled (no fitted value for the part and
    #: datatype; only Blackwell's FP4 has one, hardware_profiles efficiency.fp4_tensor_pj_per_flop)
    tensor_j_per_flop: object = 0.0
    #: the power the part's limit leaves for its dynamic work, TDP - idle, W (0 = no limit modelled)
    power_budget_w: object = 0.0
    #: a per-GPU power limit set below the TDP (nvidia-smi -pl), W: a decode step or prompt pass whose uncapped power
    #: is above it runs at the clock it leaves (costsim.core.power.cap_roofline_frac; the breakdown's power_cap_s);
    #: 0 = none. idle_w / tdp_w: the part's bare idle and TDP, which the power core reads with it
    power_cap_w: object = 0.0
    idle_w: object = 0.0
    tdp_w: object = 0.0
    #: devices one GPU reaches over the scale-up fabric (NVLink / NVSwitch domain, or the PCIe server of parts without
    #: NVLink): an expert-parallel all-to-all or a pipeline hand-off beyond them crosses the scale-out network
    local_group_size: object = np.inf
    #: query heads the sparse-attention (DSA) kernels compute per rank at least: FlashMLA's sparse kernels take 64 or
    #: 128 heads on Hopper, so vLLM pads a rank's heads up to 64 (vllm/v1/attention/backends/mla/flashmla_sparse.py:
    #: "64 heads -> 8/rank at TP=8: padding to 64 would waste 87% of the attention compute"); the Triton sparse-MLA
    #: kernels of other vendors' parts take multiples of 16 (costsim.estimators.inference_inputs.sparse_attention_min_heads);
    #: 0 = no padding
    sparse_attention_min_heads: object = 64.0
    #: dense peak of the datatype the DSA indexer scores in (FP8 on parts with FP8 tensor cores: DeepGEMM's
    #: fp8_mqa_logits); None = the attention datatype's peak
    indexer_peak_flop_per_s: object = None
    #: the device's share of its node's scale-out network (NICs), bytes/s per direction, and its per-step latency, s
    scaleout_bytes_per_s: object = 0.0
    scaleout_latency_s: object = 10e-6


@dataclass(frozen=True)
class Shape:
    """Model shape reduced to what the cost model needs (floats or arrays)."""

    n_layers: object
    d_model: object
    params_resident: object          # every stored parameter
    params_dense_stream: object      # read every decode step: all but routed experts and lookup-only embeddings
    params_lm_head: object           # vocab * d (matmul on the last position)
    params_expert: object            # one routed expert of one layer
    n_experts: object                # routed experts per MoE layer (1 = dense)
    experts_per_token: object
    n_moe_layers: object
    kv_elements_per_token_layer: object
    n_window_layers: object
    window_tokens: object            # inf where no sliding window
    kv_shard_max: object             # KV heads TP can split (1 for MLA)
    attn_flop_per_pair_prefill: object   # per (query, key) pair per layer: 2*h*(qk + v)
    attn_flop_per_ctx_decode: object     # per context token per layer (MLA absorbed form)
    ffn_act_width: object            # widest activation of the FFN per token (workspace)
    vocab_size: object
    topk_sampling: object = 0.0      # 1 where the model's default sampling sets top_k (generation_config), else 0
    params_lookup: object = 0.0      # lookup-only embeddings (untied input embedding, learned positions): stored, never streamed
    #: 1 where a sliding-window layer's KV cache holds only its window; 0 where the engine stores the whole
    #: context for it (TensorRT-LLM without max_attention_window) while its kernels still attend over the window
    kv_stores_window: object = 1.0
    #: values per token the routed experts take in and give out (LatentMoE's latent width; 0 = d_model): the MoE
    #: exchange and the experts' output traffic carry this many values per (token, expert) pair
    moe_width: object = 0.0
    #: tensor-parallel all-reduces per layer: one after the token mixer, one after the FFN (2; a hybrid model's layers
    #: without an FFN block have one, ModelSpec.n_ffn_free_layers, so its average is below 2)
    allreduces_per_layer: object = 2.0
    #: layers with a linear-attention recurrence (Gated DeltaNet, Mamba-2) instead of a KV cache; n_layers counts them too
    n_linear_layers: object = 0.0
    #: bytes of one sequence's recurrent + convolution state in one linear layer (whole layer, split by tp), at the
    #: dtypes the checkpoint asks for (Qwen3.5 mamba_ssm_dtype float32 for the recurrent state)
    linear_state_bytes_per_layer: object = 0.0
    #: linear-attention heads TP can split (Gated DeltaNet's key heads, Mamba-2's heads)
    linear_shard_max: object = 1.0
    #: FLOPs of one decode token in one linear layer (state decay, the recurrence's read and write, output)
    linear_flop_per_token_decode: object = 0.0
    #: FLOPs per prompt token of one linear layer in its chunked form
    linear_flop_per_token_prefill: object = 0.0
    #: DeepSeek Sparse Attention: keys each query attends to (the indexer's top-k); inf = dense attention. The KV cache
    #: holds every token; the attention reads and computes min(context, top-k) of them
    sparse_topk_tokens: object = np.inf
    #: bytes of one token's indexer key per softmax layer (FP8 + scales; cached for every token, read every step)
    indexer_bytes_per_token_layer: object = 0.0
    #: indexer FLOPs per (query, key) pair per layer (every earlier token is scored: linear in the context per query)
    indexer_flop_per_pair: object = 0.0
    #: speculative decoding: draft tokens proposed per sequence per step (0 = none). Each step verifies 1 + k tokens
    #: per sequence in one pass of the model and drafts them in k passes of a one-layer draft (an MTP module / EAGLE head)
    spec_tokens: object = 0.0
    #: tokens a verify step yields per sequence on average (accepted drafts + the bonus token; 1 without drafts)
    spec_tokens_per_step: object = 1.0
    #: query heads of a softmax-attention layer (the sparse-attention kernels' head padding, head_padding_factor)
    n_attention_heads: object = 0.0
    #: parameters every tensor-parallel rank holds and runs whole (a DSA indexer's projections: vLLM and SGLang build them
    #: as ReplicatedLinear); counted once in params_resident / params_dense_stream, the replicas' extra is added per GPU
    params_tp_replicated: object = 0.0


@dataclass(frozen=True)
class Precision:
    """Storage of weights, KV cache and activations (bytes per element, scale factors included)."""

    weight_bytes_per_param: object
    kv_bytes_per_element: object
    dequant_flop_per_weight: object
    #: ALU operations to upcast one microscaled (e2m1 / e3m2 + e8m0 scale) weight to BF16 inside a weight-only
    #: GEMM, per tile of UPCAST_TILE_ROWS activation rows it serves (parts without FP4/FP6 MMA); 0 elsewhere
    upcast_flop_per_weight_tile: object = 0.0
    act_bytes: object = 2.0          # activations exchanged between GPUs (all-reduce, all-to-all, PP) in 16 bit
    act_gemm_bytes: object = 2.0     # GEMM input activations (W8A8 / W4A4 quantize them; 2 = 16 bit)
    #: bytes per embedding / LM-head parameter beyond weight_bytes_per_param: quantized checkpoints (ModelOpt
    #: FP8/NVFP4, vLLM fp8, AWQ/GPTQ) keep the input embedding and the LM head in 16 bit; 0 = stored like the rest
    embed_extra_bytes_per_param: object = 0.0
    #: KV-cache bytes per token per softmax layer beyond kv_elements x kv_bytes_per_element: the FP8 sparse-MLA layout of
    #: DeepSeek Sparse Attention models keeps an fp32 scale per 128 latent values and the RoPE part in BF16 (vLLM's
    #: fp8_ds_mla: 512 + 16 + 128 = 656 bytes where a plain FP8 latent is 576); 0 elsewhere
    kv_extra_bytes_per_token_layer: object = 0.0


@dataclass(frozen=True)
class Layout:
    tp: object = 1
    pp: object = 1
    ep: object = 1


def _a(x):
    return np.asarray(x, dtype=float)


def moe_width(shape: "Shape"):
    """Values per token of the routed experts' inputs and outputs: Shape.moe_width where set, else d_model."""
    if not any_positive(shape.moe_width):  # hot path: every model but LatentMoE ones
        return _a(shape.d_model)
    w = _a(shape.moe_width)
    return np.where(w > 0, w, _a(shape.d_model))


def any_positive(x) -> bool:
    """Whether any element of x is > 0, without numpy's overhead for the plain floats a Shape usually holds (the
    searches call the core's optional-term checks thousands of times)."""
    if isinstance(x, (int, float)):
        return x > 0
    return bool(np.any(np.asarray(x, dtype=float) > 0))


def any_finite(x) -> bool:
    """Whether any element of x is finite (a plain float checked without numpy's overhead)."""
    if isinstance(x, (int, float)):
        return x != float("inf") and x == x
    return bool(np.any(np.isfinite(np.asarray(x, dtype=float))))
