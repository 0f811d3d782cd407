"""Training-step physics over arrays of parallel layouts (numpy only; no Python loop per layout).

Every function takes a `ModelShape`, a `HardwareShape` (plain dataclasses of floats,
costsim.core.training_shapes), a `Layout` whose fields are numpy arrays that broadcast together
(tp, pp, cp, ep, dp, vp, micro_batch, recompute 0 none | 1 selective | 2 full, zero 0..3,
sequence_parallel, seq_len, global_batch in sequences) and a `Framework` (costsim.core.frameworks).
Memory lives in costsim.core.training_memory.

FLOPs (per token, model FLOPs, the convention of PaLM Appendix B and Megatron-LM MFU):
    model_flop_per_token = 6 * N_mm + 12 * L * H * hd * S_att
  N_mm   = active parameters that take part in a matmul: every layer's projections, the active
           experts (top-k + shared) and the router, and the LM head (V*d); the input embedding
           lookup and learned position tables are excluded;
  12*L*H*hd*S_att = attention scores (QK^T) and context (AV), forward + backward, counting the
           whole S x S matrix (no causal discount), S_att = seq_len (or the sliding window on
           the layers that use one).
  Hardware FLOPs add the recomputed forward work: selective recomputes the attention core
  (+4*H*hd*S_att per layer per token), full recomputes the whole layer forward
  (+2*N_layer + 4*H*hd*S_att per layer per token).

Time per step, forward and backward kept apart (the windows communication can hide behind):
  per layer and micro-batch on one GPU:
    linear-layer GEMMs one by one at their per-GPU shape (rows = micro_batch*seq_len/cp tokens, split
      by tp along the Megatron axis) by costsim.core.matmul; fp8/fp4 speed up only these, on
      HardwareShape.lowp_layer_frac of the layers, and pay the HBM traffic that quantizes their
      operands (costsim.core.datatypes);
    attention core: FLOPs at ATTENTION_REL_EFF of the bf16 GEMM ceiling; without FlashAttention also
      the score matrix through HBM (ATTN_SCORE_BYTES_* per score: fused scale-mask-softmax, dropout);
    elementwise (norms, activations, residuals, rope, kernel gaps): ELEMENTWISE_BYTES_PER_D bytes per
      d_model per token through HBM, of which REPLICATED_ELEMENTWISE_BYTES_PER_D run in the region
      that only sequence parallelism splits over tp (LayerNorm, dropout, residual: Korthikanti et al.
      2022 Table 4), the rest inside the tensor-parallel region (always split);
    tensor-parallel collectives (Framework.tp_comm_exposed_frac of them exposed), context-parallel
      ring exchange not hidden behind the attention chunk, expert-parallel all-to-all (exposed; the share bound
      for other nodes over the NICs, the rest over the scale-up fabric at the same time);
    host-launched low-precision expert MLPs (Framework.moe_expert_launch 'host'): the GPU waits
      MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP per local expert per MoE layer and pass;
  stage time per micro-batch = max(first, middle, last stage + LM head) layers + pipeline P2P
    (1/tp of the activation per GPU with sequence parallelism or scatter/gather, else all of it);
  ZeRO-2 reduce-scatters the gradients every micro-batch; ZeRO-3 also all-gathers the weights for
    every micro-batch's forward and again for its backward (FSDP / DeepSpeed): each is prefetched
    behind that pass's compute, one layer's worth stays exposed (the first gather, the last reduce),
    and the rest is exposed when it exceeds the pass (costsim.core.comm.collective_s: hierarchical
    bandwidth, ring latency that grows with the ranks, Framework.zero_calls_per_layer calls);
  pipeline: m * t_stage + (pp-1) * t_chunk, t_chunk = the largest virtual chunk (ceil(layers/vp)
    layers): bubble (pp-1)/(m*vp) of the compute for even chunks (the per-micro-batch ZeRO and P2P
    exposure stretch every slot, so they stretch the bubble too);
  ZeRO-0/1 data parallelism: the gradient all-reduce / reduce-scatter once per step (in
    DP_BUCKET_PARAMS buckets) hidden behind the last micro-batch's backward, the parameter all-gather
    behind the first micro-batch's forward, when the framework overlaps them (dp_overlap), else
    after the flush; the rest is exposed;
  optimizer step: 32 B per local (sharded) parameter through HBM (2 x Framework.optimizer_state_bytes + 6 where the
    stack keeps less state: torchtune's pure-bf16 AdamW, 14).
Context parallelism with Framework.cp_comm_type "a2a" (Ulysses) replaces the hidden ring with exposed all-to-alls of
Q, K, V and the attention output per layer (and their mirror in the backward pass).
LoRA fine-tuning (ModelShape.lora_rank > 0): the frozen GEMMs run forward and input-gradient only (model FLOPs
4 * N_mm + 6 * N_adapter + attention); each adapted GEMM adds its adapter's bf16 GEMMs and elementwise kernels;
gradients, their data-parallel collectives, the per-step parameter all-gather and the optimizer cover the adapters
only, while ZeRO-3 still gathers the frozen weights every pass. Adapters sit one per fused GEMM (Megatron / NeMo) or
one per named projection (ModelShape.lora_modules: PEFT, torchtune), each with a dropout kernel unless the run's adapter
dropout is 0 (ModelShape.lora_dropout). QLoRA (ModelShape.lora_base_bytes, NF4): each forward, recomputed forward and
input-gradient pass through a frozen GEMM first dequantizes its packed weight to bf16 in HBM, and ZeRO-3 gathers the
packed bytes.
"""

from __future__ import annotations

import numpy as np

from costsim.core import comm
from costsim.core import matmul as mm
from costsim.core.calibration import (
    COMM_OVERLAP_SLOWDOWN_FRAC,
    ELEMENTWISE_BYTES_PER_D,
    HBM_ACHIEVABLE_FRAC,
    MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP,
    MOE_ROUTER_LOAD_CV,
    REPLICATED_ELEMENTWISE_BYTES_PER_D,
)
from costsim.core.frameworks import DEFAULT_FRAMEWORK, FRAMEWORKS, Framework
from costsim.core.lazy import LazyResults
from costsim.core.moe_routing import ep_load_factor
from costsim.core.training_memory import (  # noqa: F401  (re-exported: the training core's public names)
    BYTES_ACT,
    BYTES_GRAD,
    BYTES_LOGIT,
    BYTES_OPTIMIZER,
    BYTES_WEIGHT,
    activation_bytes_per_layer,
    attention_span,
    in_flight_micro_batches,
    memory_per_gpu,
    num_micro_batches,
    params_per_device,
    stage_layers,
    stage_params,
    trainable_params_per_device,
)
from costsim.core.training_shapes import (  # noqa: F401  (linear_gemms re-exported)
    HardwareShape,
    Layout,
    ModelShape,
    _f,
    expert_tp,
    full_recompute_frac,
    linear_gemms,
    lora_active_params_per_layer,
    lora_adapter_widths,
    lora_params_per_layer,
)

RECOMPUTE_MODES = ("none", "selective", "full")
__all__ = ["FRAMEWORKS", "DEFAULT_FRAMEWORK", "Framework", "HardwareShape", "Layout", "ModelShape", "evaluate",
           "step_time", "memory_per_gpu", "model_flop_per_token", "hardware_flop_per_token", "stage_layers"]

# FlashAttention throughput relative to the bf16 GEMM ceiling (estimate: FlashAttention-2 fwd+bwd
# reaches ~72% of A100 peak vs ~83% for GEMMs, Dao 2023 Fig. 4; FA3 on H100 bf16 similar)
ATTENTION_REL_EFF = 0.85
# Without FlashAttention (Megatron-LM <= 2022) every score of the s x S matrix goes through HBM:
# forward fused scale-mask-softmax (read 2 B, write 2 B) + attention dropout (read 2, write 2, 1 B
# mask) = 9 B; backward dropout (read 2 + mask 1, write 2) + softmax (read probs 2 and grads 2, write
# 2) = 11 B (byte count of Megatron's fused kernels; the QK^T output and AV input are GEMM operands).
ATTN_SCORE_BYTES_FWD = 9.0
ATTN_SCORE_BYTES_BWD = 11.0
OPTIMIZER_BYTES_PER_PARAM_TOUCHED = 32.0  # read+write master/m/v, read grad, write bf16 weight
# A LoRA adapter's elementwise work beside its two GEMMs (PEFT / NeMo LoRA with dropout on the adapter input, the
# MLPerf reference's 0.1, dropout_position 'pre'), bytes per element through HBM in bf16: dropout reads the input (2) and
# writes the dropped copy (2) and a 1-byte mask, forward and backward alike (5 per input element); the adapter's
# output is added into the frozen GEMM's (read 2 + 2, write 2 per output element), and in the backward pass its input
# gradient into the frozen GEMM's (6 per input element). Kernels per adapted GEMM: dropout and add forward, dropout,
# add and the scaled output gradient backward. Counted from the operations, not fitted.
LORA_DROPOUT_BYTES = 5.0
LORA_ADD_BYTES = 6.0
LORA_FWD_KERNELS = 2.0
LORA_BWD_KERNELS = 3.0
# Data-parallel gradient buckets: Megatron-core's default bucket size max(40M, 1M x dp x cp) parameters
# (megatron/training/training.py, ddp_bucket_size unset); one collective call per bucket.
DP_BUCKET_PARAMS = 40.0e6
DP_BUCKET_PARAMS_PER_RANK = 1.0e6


def dp_bucket_params(fw: Framework, dp_cp):
    """Parameters per data-parallel bucket (one reduce-scatter / all-gather call each): the stack's or request's
    Framework.dp_bucket_params, else Megatron-core's default over the dp x cp ranks."""
    if fw.dp_bucket_params:
        return fw.dp_bucket_params
    return np.maximum(DP_BUCKET_PARAMS, DP_BUCKET_PARAMS_PER_RANK * _f(dp_cp))


# ---------------------------------------------------------------------------------------------
# FLOPs
# ---------------------------------------------------------------------------------------------
def attention_fwd_flop_per_token_per_layer(m: ModelShape, seq_len):
    """QK^T and AV forward: 4 * H * hd * S_att (full matrix counted)."""
    return 4.0 * m.n_heads * m.head_dim * attention_span(m, seq_len)


def model_flop_per_token(m: ModelShape, seq_len):
    """6 * N_mm + 12 * L * H * hd * S_att (forward + backward, no recomputation). A LoRA run (m.lora_rank > 0) computes
    no weight gradients of the frozen base: 4 * N_mm (forward + input gradients) + 6 * N_adapter (the active adapters'
    forward, input and weight gradients) + the same attention term (its gradients flow back to the adapters below)."""
    attn = 3.0 * m.n_layers * attention_fwd_flop_per_token_per_layer(m, seq_len)
    if m.lora_rank > 0:
        return 4.0 * m.n_mm_params + 6.0 * m.n_layers * lora_active_params_per_layer(m) + attn
    return 6.0 * m.n_mm_params + attn


def selective_recompute_shares(fw: "Framework | None" = None) -> tuple[float, float, float]:
    """What 'selective' recomputation reruns in the backward pass, by the stack's saved layout
    (Framework.selective_saves): (attention core, share of the linear layers' forward, elementwise ops)."""
    saves = (fw or DEFAULT_FRAMEWORK).selective_saves
    if saves == "torch-op-sac":  # every other matmul and every elementwise op; the SDPA output is kept
        return 0.0, 0.5, 1.0
    if saves == "xla-dots":  # the flash kernel (not a dot) and the elementwise ops
        return 1.0, 0.0, 1.0
    return 1.0, 0.0, 0.0  # Megatron: the attention core only


def recompute_flop_per_token(m: ModelShape, seq_len, recompute, fw: "Framework | None" = None, full_frac=1.0):
    """Extra forward FLOPs per token recomputed during backward (full recomputation on `full_frac` of the layers:
    Layout.recompute_layers)."""
    r = _f(recompute)
    attn = m.n_layers * attention_fwd_flop_per_token_per_layer(m, seq_len)
    mm = 2.0 * m.n_layers * m.mm_params_per_layer
    s_attn, s_mm, _ = selective_recompute_shares(fw)
    return np.where(r >= 2, _f(full_frac) * (mm + attn), np.where(r >= 1, s_attn * attn + s_mm * mm, 0.0))


def hardware_flop_per_token(m: ModelShape, seq_len, recompute, fw: "Framework | None" = None, full_frac=1.0):
    return model_flop_per_token(m, seq_len) + recompute_flop_per_token(m, seq_len, recompute, fw, full_frac)


# ---------------------------------------------------------------------------------------------
# Linear layers
# ---------------------------------------------------------------------------------------------
def _gemm_args(hw: HardwareShape, bf16: bool = False):
    if bf16:
        return (hw.attn_peak, hw.attn_frac, hw.memory_bandwidth_bytes_per_s, hw.num_compute_units, hw.kernel_latency_s, 2.0)
    return (hw.peak_flop_per_s, hw.matmul_frac, hw.memory_bandwidth_bytes_per_s, hw.num_compute_units,
            hw.kernel_latency_s, hw.gemm_in_bytes)


def linear_layer_times(m: ModelShape, hw: HardwareShape, tokens, tp, ep, etp=None, load_cv=0.0, busiest=True):
    """(forward, backward) GEMM time of one layer's linear layers for one micro-batch on one GPU (s),
    by costsim.core.matmul: per-GPU shapes after TP (column-parallel splits N, row-parallel K),
    routed experts E/ep per rank split over etp ranks (expert tensor parallelism; None = tp) with
    tokens*(etp/tp)*k*ep/E rows each on the mean rank (under MoE parallel folding with etp < tp each rank
    dispatches its own sequence-parallel share of the tokens), times the busiest rank's excess
    (costsim.core.moe_routing.ep_load_factor at per-expert load CV `load_cv`: the layer waits for it; busiest False: the
    mean rank's); backward = dgrad +
    wgrad. A low-precision run (hw.quant_bytes_per_element > 0) times hw.lowp_layer_frac of the layers
    in the compute datatype plus the HBM traffic that quantizes their operands once per micro-batch
    (forward: the input X; backward: the output gradient dY; each read once and written row-wise and
    column-wise, hw.quant_bytes_per_element per element; weights are quantized once per optimizer step
    and left out), the rest at the bf16 rates. A LoRA run (m.lora_rank > 0) drops the frozen GEMMs' weight-gradient
    GEMM and adds each adapted GEMM's adapter in bf16: forward x A and (x A) B, backward both input gradients and
    both weight gradients, skinny GEMMs priced by the same model (memory-bound: they re-read the layer input).
    Evaluated on the unique (tokens, tp, ep, etp)
    combinations only."""
    T, tp, ep, etp = np.broadcast_arrays(_f(tokens), _f(tp), _f(ep), _f(tp if etp is None else etp))
    # one scalar key per (tokens, tp, ep): exact for whole numbers below 2^53 (tokens < 2^31, tp and
    # ep < 2^11); a 1-D unique is much cheaper than a unique over rows. Layouts with etp != tp (rare: MoE
    # parallel folding) take the row-wise unique.
    key = (T.ravel() * 2048.0 + tp.ravel()) * 2048.0 + ep.ravel()
    if np.array_equal(etp, tp):
        _, first_idx, inv = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first_idx, inv = np.unique(np.stack([key, etp.ravel()], axis=1), axis=0, return_index=True,
                                      return_inverse=True)
    inv = np.asarray(inv).ravel()
    Tu, tpu, epu, etpu = T.ravel()[first_idx], tp.ravel()[first_idx], ep.ravel()[first_idx], etp.ravel()[first_idx]
    lowp = hw.quant_bytes_per_element > 0.0
    f_lowp = hw.lowp_layer_frac if lowp else 1.0
    args, args16 = _gemm_args(hw), _gemm_args(hw, True)
    qrate = hw.memory_bandwidth_bytes_per_s * HBM_ACHIEVABLE_FRAC
    fwd = np.zeros_like(Tu)
    bwd = np.zeros_like(Tu)
    wgrad_gemms = 0.0 if m.lora_rank > 0 else 1.0  # a LoRA run's frozen base weights take no weight-gradient GEMM
    drop_k = 1.0 if m.lora_dropout else 0.0  # the adapters' dropout kernel, forward and backward
    drop_b = LORA_DROPOUT_BYTES * drop_k
    for (weight, n_out, k_in, split, kind), adapters in zip(linear_gemms(m), lora_adapter_widths(m)):
        t_split = etpu if kind == "expert" else tpu
        n = n_out / t_split if split == "n" else n_out + 0.0 * tpu
        k = k_in / t_split if split == "k" else k_in + 0.0 * tpu
        rows, count = Tu, 1.0
        if kind == "expert":
            rows = Tu * (etpu / tpu) * m.experts_per_token * epu / m.n_experts
            if busiest:
                rows = rows * ep_load_factor(m.n_experts, m.experts_per_token, epu, Tu * (etpu / tpu) * epu, load_cv)
            count = m.n_experts / epu
        f_t = mm.matmul_time_s(rows, n, k, *args)
        b_t = mm.matmul_time_s(rows, k, n, *args) + wgrad_gemms * mm.matmul_time_s(k, n, rows, *args)
        if lowp:
            q = hw.quant_bytes_per_element / qrate
            f_t = f_lowp * (f_t + q * rows * k) + (1.0 - f_lowp) * mm.matmul_time_s(rows, n, k, *args16)
            b16 = mm.matmul_time_s(rows, k, n, *args16) + wgrad_gemms * mm.matmul_time_s(k, n, rows, *args16)
            b_t = f_lowp * (b_t + q * rows * n) + (1.0 - f_lowp) * b16
        if m.lora_base_bytes > 0.0 and kind != "router":
            # QLoRA: each pass through a frozen GEMM (forward, input gradient) first dequantizes its 4-bit weight to a
            # bf16 copy in HBM (read the packed weight and its scales, write 2 bytes), which the GEMM then reads
            dq = n * k * (m.lora_base_bytes + BYTES_WEIGHT) / qrate + hw.kernel_latency_s
            f_t, b_t = f_t + dq, b_t + dq
        for w_out in adapters:  # each adapter's two bf16 GEMMs beside the frozen one: x A (k -> r), then B (r -> n_a)
            r_ = float(m.lora_rank)
            n_a = w_out / t_split if split == "n" else w_out + 0.0 * tpu
            f_t = f_t + mm.matmul_time_s(rows, r_, k, *args16) + mm.matmul_time_s(rows, n_a, r_, *args16)
            b_t = (b_t + mm.matmul_time_s(rows, r_, n_a, *args16) + mm.matmul_time_s(rows, k, r_, *args16)  # input grads
                   + mm.matmul_time_s(r_, n_a, rows, *args16) + mm.matmul_time_s(k, r_, rows, *args16))  # dB, dA
            # the adapter path's elementwise kernels, each a pass through HBM plus a kernel's fixed cost (LORA_DROPOUT_BYTES,
            # LORA_ADD_BYTES: dropout on its input, its output added into the frozen GEMM's, mirrored in the backward pass)
            # (no dropout kernel where the run's adapters have none: lora_dropout False)
            f_t = (f_t + (rows * (drop_b * k + LORA_ADD_BYTES * n_a)) / qrate
                   + (LORA_FWD_KERNELS - 1.0 + drop_k) * hw.kernel_latency_s)
            b_t = (b_t + (rows * (drop_b + LORA_ADD_BYTES) * k) / qrate
                   + (LORA_BWD_KERNELS - 1.0 + drop_k) * hw.kernel_latency_s)
        fwd = fwd + weight * count * f_t
        bwd = bwd + weight * count * b_t
    return fwd[inv].reshape(T.shape), bwd[inv].reshape(T.shape)


def _moe_gemm_excess(m: ModelShape, hw: HardwareShape, tokens, tp, ep, etp, lin_fwd, lin_bwd, recomputed):
    """GEMM time per layer and micro-batch the busiest expert-parallel rank spends beyond an even split of the routed
    tokens (forward, backward and recomputed forward), s: the other ranks wait it out, so the group's mean rank is busy
    with math for the rest only (0 for dense models)."""
    if not m.is_moe:
        return 0.0 * lin_fwd
    even_f, even_b = linear_layer_times(m, hw, tokens, tp, ep, etp, busiest=False)
    return (lin_fwd - even_f) * (1.0 + recomputed) + (lin_bwd - even_b)


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------
def param_gather_bytes_per_param(m: ModelShape, lay: Layout, hw: HardwareShape, fw: Framework):
    """Bytes per parameter the data-parallel parameter all-gather moves, as (dense, expert) averages over the most
    loaded stage's parameters (params_per_device): BYTES_WEIGHT, except that a stack gathering low-precision
    parameters (fw.lowp_param_gather) sends the linear layers' weights at the compute datatype's storage bytes
    (hw.gemm_in_bytes) in the hw.lowp_layer_frac of layers that run in it, and a QLoRA run (m.lora_base_bytes) gathers
    its frozen linear weights packed (FSDP2 shards torchao's NF4 tensors as they are stored)."""
    dense, _ = params_per_device(m, lay)
    _, n_max, _ = stage_layers(m, _f(lay.pp))
    return _gather_bytes(m, dense, n_max, _f(lay.tp), hw, fw)


def _gather_bytes(m: ModelShape, dense, n_max, tp, hw: HardwareShape, fw: Framework):
    """param_gather_bytes_per_param from the stage's dense parameters and layers the step already has."""
    if m.lora_base_bytes > 0.0:
        linear_b = m.lora_base_bytes
    elif not fw.lowp_param_gather or hw.gemm_in_bytes >= BYTES_WEIGHT:
        return BYTES_WEIGHT, BYTES_WEIGHT
    else:
        linear_b = hw.lowp_layer_frac * hw.gemm_in_bytes + (1.0 - hw.lowp_layer_frac) * BYTES_WEIGHT
    linear = n_max * m.nonexpert_linear_params_per_layer / tp
    share = np.clip(linear / np.maximum(dense, 1.0), 0.0, 1.0)
    return share * linear_b + (1.0 - share) * BYTES_WEIGHT, linear_b


def _overlap_exposed(comm_s, window_s):
    """Exposed time of communication overlapped with `window_s` of compute: what does not fit the
    window, plus the compute slowdown while both run (COMM_OVERLAP_SLOWDOWN_FRAC of the overlapped
    time: the collective's kernels take SMs and HBM bandwidth from the GEMMs)."""
    hidden = np.minimum(comm_s, window_s)
    return np.maximum(0.0, comm_s - window_s) + COMM_OVERLAP_SLOWDOWN_FRAC * hidden


def _zero_pass_exposed(comm_s, window_s, layers):
    """Exposed time of a per-micro-batch ZeRO collective prefetched behind a pass: one layer's share
    can never hide (the first gather / the last reduce) and the rest only up to the pass's length."""
    per_layer = comm_s / np.maximum(layers, 1.0)
    return _overlap_exposed(comm_s - per_layer, window_s) + per_layer


def step_time(m: ModelShape, hw: HardwareShape, lay: Layout, fw: Framework | None = None) -> dict:
    """Step time and its parts for every layout (arrays broadcast over the layout fields).

    Args: m [model shape], hw [hardware: FLOP/s, B/s, s], lay [layout arrays], fw [framework].
    Returns a dict of arrays: step_time_s [s] and its parts [s] (compute, exposed communication,
    bubble, TP/CP/EP/PP/DP communication, ZeRO exposure, optimizer), matmul_efficiency_frac [0..1],
    num_micro_batches [count]."""
    fw = fw or DEFAULT_FRAMEWORK
    fab = hw.fabric
    flat = hw.torus_dims == 0  # NCCL rings run through every rank; XLA on a torus goes axis by axis
    tp, pp, cp, ep, dp, vp = (_f(x) for x in (lay.tp, lay.pp, lay.cp, lay.ep, lay.dp, lay.vp))
    mb, r, z = _f(lay.micro_batch), _f(lay.recompute), _f(lay.zero)
    etp = expert_tp(lay)
    folded = etp != tp  # MoE parallel folding: the expert grid etp x ep x edp over the stage's tp x cp x dp ranks
    # the ranks of an expert-parallel group and of an expert-data-parallel group: a stack with MoE parallel folding
    # (Megatron-core's expert RankGenerator, order tp-ep-dp with cp folded in) lays the experts on their own grid,
    # ep consecutive groups of etp ranks, at any etp; otherwise experts span the data-parallel ranks (stride tp x cp).
    # The two orders differ only under context parallelism or folding.
    expert_grid = folded | bool(fw.moe_parallel_folding)
    sp = (_f(lay.sequence_parallel) > 0) & fw.sequence_parallel
    seq = _f(lay.seq_len)
    d = float(m.d_model)
    tokens = mb * seq / cp  # tokens of one micro-batch on one CP rank (GEMM rows before TP)
    hbm = hw.memory_bandwidth_bytes_per_s * HBM_ACHIEVABLE_FRAC
    rate_bf16 = hw.attn_core_rate * ATTENTION_REL_EFF  # the attention core's rate (bf16, or FP8 attention)
    # full recomputation reruns the forward of recompute_layers of a stage's layers (all by default): the average layer
    # pays that share of a recomputed forward (every full-recompute term below is linear in it)
    first, n_max, last = stage_layers(m, pp)
    # 'selective' only with recompute 1: under partial full recomputation the other layers rerun nothing
    full, sel = full_recompute_frac(lay, n_max), np.where(r == 1, 1.0, 0.0)
    s_attn, s_mm, s_elem = selective_recompute_shares(fw)
    sel_attn, sel_mm = sel * (1.0 - full) * s_attn, sel * (1.0 - full) * s_mm  # what 'selective' reruns
    redo_elem = np.maximum(full, sel * s_elem)

    # --- compute per layer per micro-batch on one GPU
    mm_fwd = 2.0 * m.mm_params_per_layer * tokens / tp
    load_cv = MOE_ROUTER_LOAD_CV[fw.moe_router_balance]
    lin_fwd, lin_bwd = linear_layer_times(m, hw, tokens, tp, ep, etp, load_cv)
    # the linear layers' FLOPs over their time: forward, input gradient and (unless a LoRA run freezes the base) weight
    # gradient of every GEMM, plus the adapters' own (6 x their parameters per token)
    lin_flop = (2.0 if m.lora_rank > 0 else 3.0) * mm_fwd + 6.0 * lora_active_params_per_layer(m) * tokens / tp
    eff = lin_flop / np.maximum(lin_fwd + lin_bwd, 1e-30) / hw.peak_flop_per_s
    t_attn = attention_fwd_flop_per_token_per_layer(m, seq) * tokens / tp / rate_bf16
    if fw.flash_attention:
        t_sc_f = t_sc_b = 0.0 * t_attn
    else:
        scores = m.n_heads / tp * tokens * attention_span(m, lay.seq_len)
        t_sc_f, t_sc_b = ATTN_SCORE_BYTES_FWD * scores / hbm, ATTN_SCORE_BYTES_BWD * scores / hbm
    t_attn_f = t_attn + t_sc_f
    t_attn_b = 2.0 * t_attn + t_sc_b + (full + sel_attn) * (t_attn + t_sc_f)
    e_total = ELEMENTWISE_BYTES_PER_D if fw.elementwise_bytes_per_d is None else fw.elementwise_bytes_per_d
    rep = min(REPLICATED_ELEMENTWISE_BYTES_PER_D, e_total)
    elem = d * tokens * (rep / np.where(sp, tp, 1.0) + (e_total - rep) / tp) / hbm
    t_elem_f, t_elem_b = elem / 3.0, elem * (2.0 + redo_elem) / 3.0
    t_fc = lin_fwd + t_attn_f + t_elem_f  # forward compute
    t_bc = lin_bwd + (full + sel_mm) * lin_fwd + t_attn_b + t_elem_b  # backward compute (+ recomputation)

    # --- tensor parallel (scale-up domain; enforced by the search): 2 all-reduces (4 RS/AG with SP); a MoE layer's
    # pair runs over the expert tensor-parallel group (none with etp 1: each rank dispatches its own tokens)
    act_bytes = BYTES_ACT * tokens * d
    t_tp_set = comm.collective_s("rs", 4.0 * act_bytes, tp, 1.0, fab, flat, calls=4.0)
    if m.is_moe and np.any(folded):
        moe_share = m.n_moe_layers / m.n_layers
        t_tp_moe = (comm.collective_s("rs", 2.0 * act_bytes, tp, 1.0, fab, flat, calls=2.0)
                    + comm.collective_s("rs", 2.0 * act_bytes * etp / tp, etp, 1.0, fab, flat, calls=2.0))
        t_tp_set = np.where(folded, (1.0 - moe_share) * t_tp_set + moe_share * t_tp_moe, t_tp_set)
    t_tp_set = t_tp_set * m.tp_collective_layer_frac
    t_tp_f = t_tp_set * fw.tp_comm_exposed_frac
    t_tp_b = t_tp_set * (1.0 + full) * fw.tp_comm_exposed_frac

    # --- context parallel ring exchange of K/V chunks, each hidden behind one attention chunk (the send / receive
    # kernels slow the chunk they overlap, as any collective hidden behind compute: _overlap_exposed)
    kv_bytes = BYTES_ACT * 2.0 * tokens * m.kv_heads * m.head_dim / np.minimum(tp, m.kv_heads)
    bw_cp, lat_cp = comm.group_bandwidth(cp, tp, hw.domain_size, hw.scaleup_bytes_per_s,
                                         hw.scaleout_per_gpu_bytes_per_s, hw.scaleup_latency_s)
    t_kv = comm.p2p_s(kv_bytes, bw_cp, lat_cp)
    chunk = t_attn / cp
    steps = cp - 1.0
    t_cp_f = steps * _overlap_exposed(t_kv, chunk)
    t_cp_b = steps * ((full + sel_attn) * _overlap_exposed(t_kv, chunk) + _overlap_exposed(2.0 * t_kv, 2.0 * chunk))
    if fw.cp_comm_type == "a2a":  # Ulysses: Q, K, V to head-sharded before the attention core, its output back after
        qkv_bytes = BYTES_ACT * tokens * (m.n_heads + 2.0 * m.kv_heads) * m.head_dim / tp
        o_bytes = BYTES_ACT * tokens * m.n_heads * m.head_dim / tp
        a2a_cp = (comm.all_to_all_two_tier_s(qkv_bytes, cp, tp, fab) + comm.all_to_all_two_tier_s(o_bytes, cp, tp, fab))
        a2a_cp = np.where(cp > 1, a2a_cp, 0.0) * (1.0 - m.linear_layer_frac)  # softmax-attention layers only
        t_cp_f = a2a_cp
        t_cp_b = a2a_cp * (1.0 + full + sel_attn)  # the mirrored exchanges (dO in; dQ, dK, dV out) + recomputed forward

    # --- expert parallel all-to-all (dispatch + combine, fwd and bwd, + recomputed fwd)
    if m.is_moe:
        a2a_bytes = BYTES_ACT * tokens / tp * m.experts_per_token * m.moe_width
        # each token copy goes straight to its expert's rank: the share bound for other scale-up domains crosses
        # the network, the rest stays on the scale-up fabric (comm.all_to_all_two_tier_s)
        # the EP group's rank stride: tp x cp (experts across data-parallel ranks), etp where the stack lays the
        # experts on a grid of their own (expert_grid below)
        stride_ep = np.where(expert_grid, etp, tp * cp)
        if fw.moe_dispatch == "deduplicated":  # one network copy per other domain holding the token's experts
            a2a = comm.all_to_all_dedup_s(a2a_bytes, ep, stride_ep, fab, m.experts_per_token, m.n_experts,
                                          m.expert_groups, m.expert_groups_per_token)
        else:
            a2a = comm.all_to_all_two_tier_s(a2a_bytes, ep, stride_ep, fab)
        # the busiest rank receives ep_load_factor times the mean rank's token copies, and the exchange ends with it
        group_tokens = tokens * np.where(folded, etp / tp, 1.0) * ep
        load_a2a = ep_load_factor(m.n_experts, m.experts_per_token, ep, group_tokens, load_cv)
        a2a = a2a * (m.n_moe_layers / m.n_layers) * load_a2a
        t_ep_f, t_ep_b = 2.0 * a2a, (2.0 + 2.0 * full) * a2a
    else:
        t_ep_f = t_ep_b = 0.0 * t_tp_f
        load_a2a = 1.0
    # EP all-to-all overlap: a layer's forward of one micro-batch runs interleaved with its backward of another, so
    # their dispatch / combine hide behind the other's compute (what does not fit stays exposed, and the compute
    # slows while both run, as every overlapped collective here)
    t_ep_f_x, t_ep_b_x = t_ep_f, t_ep_b
    overlap = _f(lay.ep_overlap) > 0
    if m.is_moe and np.any(overlap):
        both = t_ep_f + t_ep_b
        keep = np.where(overlap, _overlap_exposed(both, t_fc + t_bc) / np.maximum(both, 1e-30), 1.0)
        t_ep_f_x, t_ep_b_x = t_ep_f * keep, t_ep_b * keep

    # host-launched low-precision expert MLPs: the GPU waits while the host starts each local expert's kernels, once per
    # MoE layer and pass (the recomputed forward of full recomputation is a third pass)
    if m.is_moe and fw.moe_expert_launch == "host" and hw.gemm_in_bytes < 2.0:  # fp8 / fp4 operands
        t_host = (m.n_moe_layers / m.n_layers) * (m.n_experts / ep) * MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP
    else:
        t_host = 0.0 * t_fc
    t_host_f, t_host_b = t_host, t_host * (1.0 + full)
    t_layer_f = t_fc + t_tp_f + t_cp_f + t_ep_f_x + t_host_f
    t_layer_b = t_bc + t_tp_b + t_cp_b + t_ep_b_x + t_host_b
    t_layer = t_layer_f + t_layer_b
    # what the expert-parallel group's mean rank computes: the busiest rank's excess is a wait for the others (low power)
    t_moe_excess = _moe_gemm_excess(m, hw, tokens, tp, ep, etp, lin_fwd, lin_bwd, full + sel_mm)
    t_layer_compute = t_fc + t_bc - t_moe_excess

    # --- LM head + loss on the last stage (bf16, no recomputation), on the unique (tokens, tp) pairs
    T2, tp2 = np.broadcast_arrays(tokens, tp)
    hkey = T2.ravel() * 4096.0 + tp2.ravel()
    _, hfirst, hinv = np.unique(hkey, return_index=True, return_inverse=True)
    Tu, tpu = T2.ravel()[hfirst], tp2.ravel()[hfirst]
    a16 = _gemm_args(hw, True)
    head_u = (mm.matmul_time_s(Tu, m.vocab_size / tpu, d, *a16) + mm.matmul_time_s(Tu, d, m.vocab_size / tpu, *a16)
              + mm.matmul_time_s(d, m.vocab_size / tpu, Tu, *a16))
    t_head = head_u[np.asarray(hinv).ravel()].reshape(T2.shape)

    # --- pipeline point-to-point: vp boundaries per device, fwd activations + bwd gradients
    p2p_bytes = act_bytes / np.where(sp | fw.pp_scatter_gather, tp, 1.0)
    bw_pp, lat_pp = comm.group_bandwidth(pp, tp * cp * dp, hw.domain_size, hw.scaleup_bytes_per_s,
                                         hw.scaleout_per_gpu_bytes_per_s, hw.scaleup_latency_s)
    t_p2p = np.where(pp > 1, 2.0 * vp * comm.p2p_s(p2p_bytes, bw_pp, lat_pp), 0.0)

    # --- data parallel: sizes and groups (dense over dp*cp, experts over tp*dp*cp/(etp*ep): dp*cp/ep unless folded)
    dense, expert = params_per_device(m, lay)
    dpg = dp * cp
    # ZeRO shards over the whole data-parallel group, or (zero_shard_within_domain: FSDP over a TPU
    # slice's ICI, plain data parallelism across slices) over the ranks of one scale-up domain
    if fw.zero_shard_within_domain:
        zg, zx = comm.group_split(dpg, tp, hw.domain_size)
    else:
        zg, zx = dpg, 1.0 + 0.0 * dpg
    edp = np.maximum(zg * tp / (etp * ep), 1.0)
    edp_all = np.maximum(dpg * tp / (etp * ep), 1.0)  # the whole expert-data-parallel group
    exp_stride = np.where(expert_grid, etp * ep, tp * ep * cp)
    gbytes = fw.grad_reduce_bytes
    # the parameter all-gather moves the low-precision copy of the linear layers' weights where the stack keeps one
    # (Megatron-core fp8_param_gather / fp4_param_gather, on in Megatron-Bridge's FP8 and NVFP4 recipes): 1 byte per
    # FP8 weight, 0.5625 per NVFP4 weight (block scales included) in the low-precision layers; embeddings, LM head,
    # norms and the high-precision layers stay bf16
    gather_b = _gather_bytes(m, dense, n_max, tp, hw, fw)
    grad_b = (gbytes, gbytes)
    # the parameters that train (all of them; a LoRA run's adapters only): gradients, their collectives, the optimizer
    # and the per-step parameter all-gather of the updated shards; ZeRO-3 still gathers the frozen weights every pass
    t_dense, t_expert = trainable_params_per_device(m, lay) if m.lora_rank > 0 else (dense, expert)
    every, trained = (dense, expert), (t_dense, t_expert)

    def dp_coll(kind, bytes_per_param, calls_dense, calls_exp, n_dense, n_exp, agg=True, params=trained):
        b_dense, b_exp = bytes_per_param  # (dense, expert) bytes per parameter
        p_dense, p_exp = params
        t = comm.collective_s(kind, b_dense * p_dense, n_dense, tp, fab, flat, calls_dense, agg)
        if m.is_moe:
            t = t + comm.collective_s(kind, b_exp * p_exp, n_exp, exp_stride, fab, flat, calls_exp, agg)
        return t

    # ZeRO-2/3: per micro-batch, on the most loaded stage, prefetched behind each pass
    layer_calls = n_max * fw.zero_calls_per_layer
    rs_mb = dp_coll("rs", grad_b, layer_calls, layer_calls, zg, edp, fw.zero_hierarchical)
    ag_mb = dp_coll("ag", gather_b, layer_calls, layer_calls, zg, edp, fw.zero_hierarchical, params=every)
    fwd_window = n_max * t_layer_f
    bwd_window = n_max * t_layer_b
    z3_f = _zero_pass_exposed(ag_mb, fwd_window, n_max)
    z3_b = _zero_pass_exposed(ag_mb + rs_mb, bwd_window, n_max)
    z2_b = _zero_pass_exposed(rs_mb, bwd_window, n_max)
    zero_mb = np.where(z >= 3, z3_f + z3_b, np.where(z >= 2, z2_b, 0.0))

    # activation offload: a micro-batch's stored activations of the stage's layers go to host memory during its
    # forward pass and come back during its backward pass over the host link, behind the compute; a copy longer than
    # its pass keeps the device waiting
    offload = _f(lay.act_offload) > 0
    if np.any(offload):
        stored_layer, _ = activation_bytes_per_layer(m, lay, fw, hw.saved_input_bytes, hw.lowp_layer_frac)
        t_copy = stored_layer * n_max / hw.host_link_bytes_per_s
        t_off = np.where(offload, np.maximum(0.0, t_copy - fwd_window) + np.maximum(0.0, t_copy - bwd_window), 0.0)
    else:
        t_off = 0.0 * fwd_window

    # per micro-batch on every stage: gradient accumulation traffic, pipeline-engine overhead
    t_gacc = fw.grad_accum_bytes_per_param * (t_dense + t_expert) / hbm
    t_eng = np.where(pp > 1, fw.pp_microbatch_overhead_s, 0.0)
    mid = np.where(pp >= 3, n_max, 0.0)
    stage_compute = np.maximum(np.maximum(first, mid) * t_layer, last * t_layer + t_head)
    t_dev_micro = stage_compute + t_p2p + zero_mb + t_gacc + t_eng + t_off
    mcount = num_micro_batches(lay)
    chunk_layers = np.ceil(n_max / vp)
    bubble = (pp - 1.0) * (chunk_layers * t_layer + (t_p2p + zero_mb + t_eng) / vp)
    t_pipeline = mcount * t_dev_micro + bubble
    busy_stage = np.maximum(np.maximum(first, mid) * t_layer_compute, last * t_layer_compute + t_head) + t_gacc

    # ZeRO-0/1 (and ZeRO-2's parameter all-gather): once per step, bucketed; with sharding within a
    # domain, ZeRO-2/3 also all-reduce their gradient shard across the domains once per step
    buckets = np.maximum(1.0, (t_dense + t_expert) / dp_bucket_params(fw, dpg))
    t_rs = dp_coll("rs", grad_b, buckets, buckets, dpg, edp_all)
    t_ag = dp_coll("ag", gather_b, buckets, buckets, dpg, edp_all)
    t_ar = dp_coll("ar", grad_b, buckets, buckets, dpg, edp_all)
    t_x = comm.collective_s("ar", gbytes * (t_dense + t_expert) / zg, zx, tp * zg, fab, flat, calls=buckets)
    hide_b = bwd_window if fw.dp_overlap else 0.0 * bwd_window
    hide_f = fwd_window if fw.dp_overlap else 0.0 * fwd_window
    grad_step = np.where(z >= 2, t_x, np.where(z >= 1, t_rs, t_ar))
    param_step = np.where((z >= 1) & (z <= 2), t_ag, 0.0)
    dp_exposed = _overlap_exposed(grad_step, hide_b) + _overlap_exposed(param_step, hide_f)
    dp_total = grad_step + param_step + mcount * np.where(z >= 3, 2.0 * ag_mb + rs_mb, np.where(z >= 2, rs_mb, 0.0))
    zero_exposed = mcount * zero_mb + np.where(pp > 1, (pp - 1.0) * zero_mb / vp, 0.0)

    # --- optimizer step over the local shard
    zero_on = z >= 1
    shard = np.where(zero_on, zg, 1.0)
    local = t_dense / shard + t_expert / np.where(zero_on, edp, 1.0)
    touched = OPTIMIZER_BYTES_PER_PARAM_TOUCHED if fw.optimizer_state_bytes is None else 2.0 * fw.optimizer_state_bytes + 6.0
    t_opt = touched * local / hbm

    total = t_pipeline + dp_exposed + t_opt
    busy_compute = mcount * busy_stage + t_opt
    out = LazyResults()
    out.put("step_time_s", total)
    out.lazy("compute_time_s", lambda: busy_compute)  # GPU busy with math (compute power phase)
    out.lazy("exposed_comm_time_s", lambda: total - busy_compute)  # comm, bubble, waits (low power phase)
    out.lazy("bubble_time_s", lambda: bubble)
    out.lazy("tp_comm_time_s", lambda: mcount * n_max * (t_tp_f + t_tp_b))
    out.lazy("cp_comm_time_s", lambda: mcount * n_max * (t_cp_f + t_cp_b))
    out.lazy("ep_comm_time_s", lambda: mcount * n_max * (t_ep_f + t_ep_b))
    out.lazy("moe_host_launch_time_s", lambda: mcount * n_max * (t_host_f + t_host_b))
    out.lazy("moe_load_wait_time_s", lambda: mcount * n_max * (t_moe_excess + (t_ep_f_x + t_ep_b_x) * (1.0 - 1.0 / load_a2a)))
    out.lazy("pp_p2p_time_s", lambda: mcount * t_p2p)
    out.lazy("dp_comm_time_s", lambda: dp_total)
    out.lazy("dp_exposed_time_s", lambda: dp_exposed + zero_exposed)
    out.lazy("optimizer_time_s", lambda: t_opt)
    out.lazy("offload_wait_time_s", lambda: mcount * t_off)  # activation copies to / from host beyond their pass
    out.lazy("matmul_efficiency_frac", lambda: eff)
    out.lazy("num_micro_batches", lambda: mcount)
    return out


def evaluate(m: ModelShape, hw: HardwareShape, lay: Layout, fw: Framework | None = None) -> dict:
    """Everything for every layout: FLOPs, memory, time, throughput, MFU, fit mask."""
    mem = memory_per_gpu(m, lay, fw, hw.domain_size, hw.saved_input_bytes, hw.lowp_layer_frac, hw.gemm_in_bytes)
    t = step_time(m, hw, lay, fw)
    seq = _f(lay.seq_len)
    n_gpus = _f(lay.tp) * _f(lay.pp) * _f(lay.cp) * _f(lay.dp)
    tokens_per_step = _f(lay.global_batch) * seq
    model_flop = model_flop_per_token(m, seq) * tokens_per_step
    full_frac = full_recompute_frac(lay, stage_layers(m, _f(lay.pp))[1])
    hw_flop = hardware_flop_per_token(m, seq, lay.recompute, fw, full_frac) * tokens_per_step  # noqa: F841 (read lazily)
    step = t["step_time_s"]
    out = LazyResults()
    out.absorb(t)
    out.put("memory", mem)
    out.put("memory_per_gpu_bytes", mem["total_bytes"])
    out.put("fits_memory", mem["total_bytes"] <= hw.memory_bytes)
    out.lazy("num_gpus", lambda: n_gpus)
    out.lazy("tokens_per_step", lambda: tokens_per_step)
    out.lazy("model_flop_per_step", lambda: model_flop)
    out.lazy("hardware_flop_per_step", lambda: hw_flop)
    out.put("tokens_per_s", tokens_per_step / step)
    out.lazy("achieved_flop_per_s_per_gpu", lambda: model_flop / step / n_gpus)
    out.lazy("mfu_frac", lambda: model_flop / step / n_gpus / hw.peak_flop_per_s)
    out.lazy("hfu_frac", lambda: hw_flop / step / n_gpus / hw.peak_flop_per_s)
    out.lazy("compute_util_frac",
             lambda: hw_flop / n_gpus / np.maximum(t["compute_time_s"], 1e-30) / hw.peak_flop_per_s)
    return out
