"""Memory per GPU of a training step over arrays of parallel layouts (numpy only).

Per GPU (bytes) on the most loaded pipeline stage:
  weights 2 B/param (bf16), gradients 2 B/param, Adam optimizer state 12 B/param (fp32 master,
  m, v) -- 16 B/param before sharding (ZeRO, Rajbhandari et al. 2020). ZeRO 1 shards the
  optimizer state, 2 also the gradients, 3 also the weights, over the data-parallel x
  context-parallel group (dense) and the expert-data-parallel group tp*dp*cp/(etp*ep) (experts; etp = tp unless MoE parallel folding sets it);
  ZeRO-3 keeps the gathered parameters of Framework.zero3_live_layers layers (FSDP: the one computing
  and the prefetched next one; XLA gathers matrix by matrix). Experts are split by expert parallelism and expert tensor parallelism (etp).
  Activations per layer per micro-batch (Korthikanti et al. 2022, arXiv 2205.05198, eq. 1-2,
  generalized to GQA and gated FFNs): replicated part 10*s*b*h (LayerNorm inputs, dropout
  masks, attention and MLP inputs; 8*s*b*h without dropout, Framework.dropout_masks), TP-sharded part (4 + 4*kv/H)*s*b*h + (4 or 6)*s*b*d_ff*k_eff,
  attention-matrix part 5*a*s^2*b, all divided by tp (the replicated part only with sequence
  parallelism). The s^2 part exists only without FlashAttention (Framework.flash_attention False:
  'megatron-2021/2022', Korthikanti's setup); FlashAttention (every current stack: Megatron-core + TE,
  NeMo, Meta) keeps Q, K, V, O and the row log-sum-exp, never the scores, so 'none' stores what
  'selective' stores (~34*s*b*h/t with SP) without the recompute FLOPs. XLA's selective layout
  (Framework.selective_saves 'xla-dots', MaxText remat_policy 'minimal') keeps the weight matmuls' outputs
  and the layer input, 2 B each, all over tp: 2*s*b*(2h + (H + 2kv)*hd + n_up*d_ff)/t. TorchTitan's per-op
  selective checkpointing ('torch-op-sac') keeps every other matmul output, the SDPA output and the layer
  input: 2*s*b*(h + H*hd + (all matmul outputs)/2)/t. Full recomputation stores
  the 2*s*b*h layer input (/tp with SP) plus one layer's working set.
  Stages: ceil(L/pp) layers on the most loaded stage; when pp*ceil(L/pp) > L the spare slots come
  off the first stage (activation-heaviest) and then the last stage (LM head) -- Llama 3 paper
  Sec. 3.3.2 (126 layers on 16 stages: 7, 8 x 14, 7), Megatron-core decoder_first/last_pipeline_
  num_layers. Virtual chunks split a stage's layers (uneven allowed). Micro-batches in flight on
  pipeline rank r (Megatron 1F1B; Narayanan et al. 2021 for the interleaved schedule):
  non-interleaved min(m, pp - r); interleaved min(m*vp, 2*(pp-r-1) + (vp-1)*pp + 1) chunks, i.e.
  min(m, pp + (pp-1-2r)/vp) stage-micro-batches (rank 0: the (1 + (pp-1)/(pp*vp)) factor).
  Memory is the largest of rank 0, rank 1 and the last rank (its LM head, logits: 6 B/logit of
  one micro-batch, Framework.logit_bytes where the stack keeps fewer, which never coexist with a
  full-recompute working set: only the larger counts), plus a framework reserve.
  LoRA fine-tuning (ModelShape.lora_rank > 0): the frozen base keeps only its weights (in the compute datatype of an
  fp8 / fp4 run, no master copy); the adapters (r x (k + n) per adapted GEMM) carry weights, gradients and optimizer
  state. A frozen GEMM without an adapter keeps no input (the FFN's FC1 and FC2 inputs with attention-only adapters);
  the adapters' own small tensors (x A, the dropout mask of their input) are not counted. QLoRA
  (ModelShape.lora_base_bytes) holds the frozen linear weights packed in NF4 (0.516 B each). A stack with less optimizer
  state (Framework.optimizer_state_bytes: torchtune's bf16 AdamW, 4 B) counts that instead of 12 B.
  Framework.act_fn_fp8_input_store keeps the FFN activation function's input in FP8 (1 byte) in an fp8 / fp4 run.
  Activation offload (Layout.act_offload): the stored activations live in host memory; the device
  holds OFFLOAD_DEVICE_LAYERS layers' worth (the one being written or read and the one prefetched).
"""

from __future__ import annotations

import numpy as np

from costsim.core.calibration import FRAMEWORK_RESERVE_BYTES
from costsim.core.frameworks import DEFAULT_FRAMEWORK, Framework
from costsim.core.training_shapes import (Layout, ModelShape, _f, expert_tp, full_recompute_frac, lora_input_kept,
                                         lora_params_per_layer)

BYTES_WEIGHT = 2.0  # bf16 weights
BYTES_GRAD = 2.0  # bf16 gradients
BYTES_OPTIMIZER = 12.0  # fp32 master weights + Adam m + v
BYTES_ACT = 2.0  # bf16 activations
BYTES_LOGIT = 6.0  # bf16 logits + fp32 copy for the loss
#: stored-activation layers on the device under activation offload: the layer whose activations are being copied out
#: (forward) or in (backward) and the one prefetched next
OFFLOAD_DEVICE_LAYERS = 2.0


def attention_span(m: ModelShape, seq_len):
    """Average key span per layer used in the attention FLOP term (window on windowed layers). A linear-attention layer
    attends over no keys; its chunked recurrence counts as the span whose softmax attention costs the same FLOPs
    (linear_fwd_flop_per_token / 4 H hd), whatever the sequence length. A sparse-attention (DSA) layer attends over its
    top-k keys and adds its indexer as the span of the same FLOPs (every key scored)."""
    s = _f(seq_len)
    if np.isfinite(m.sparse_topk):  # DSA: the top-k keys, plus the indexer's scoring of all s at its FLOPs per pair
        return np.minimum(s, m.sparse_topk) + s * m.indexer_flop_per_pair / (4.0 * m.n_heads * m.head_dim)
    if m.linear_layer_frac:
        equiv = m.linear_fwd_flop_per_token / (4.0 * m.n_heads * m.head_dim)
        return (1.0 - m.linear_layer_frac) * s + m.linear_layer_frac * equiv
    if m.sliding_window is None:
        return s
    w = np.minimum(s, float(m.sliding_window))
    return m.sliding_window_layer_frac * w + (1.0 - m.sliding_window_layer_frac) * s


def stage_layers(m: ModelShape, pp):
    """(first, middle, last) stage layer counts: ceil(L/pp) per stage, the spare slots taken off
    the first stage, then the last (Llama 3 Sec. 3.3.2). pp == 1: one stage holds all L."""
    pp = _f(pp)
    n_max = np.ceil(m.n_layers / pp)
    slack = pp * n_max - m.n_layers
    first = n_max - (slack >= 1)
    last = np.where(pp > 1, n_max - (slack >= 2), n_max)
    return first, n_max, last


def stage_params(m: ModelShape, lay: Layout, layers, has_emb, has_head):
    """(dense, expert) parameters on one device of a stage before ZeRO sharding."""
    tp, ep, etp = _f(lay.tp), _f(lay.ep), expert_tp(lay)
    emb = m.input_embedding_params * has_emb + (m.head_params if not m.tied_embeddings else 0.0) * has_head
    # Megatron keeps a copy of a tied embedding on the last stage when pp > 1
    if m.tied_embeddings:
        emb = emb + m.head_params * has_head * (1.0 - has_emb)
    dense = (layers * m.nonexpert_params_per_layer + emb) / tp
    expert = layers * m.expert_params_per_layer / (etp * ep)
    return dense, expert


def params_per_device(m: ModelShape, lay: Layout):
    """(dense, expert) parameters of the most loaded stage (middle stage layers + the larger of
    the embedding and the LM head) before ZeRO sharding -- used for DP traffic and optimizer."""
    pp = _f(lay.pp)
    first, n_max, last = stage_layers(m, pp)
    single = pp <= 1
    emb = np.where(single, m.input_embedding_params + (0.0 if m.tied_embeddings else m.head_params),
                   max(m.input_embedding_params, m.head_params))
    tp, ep, etp = _f(lay.tp), _f(lay.ep), expert_tp(lay)
    dense = (n_max * m.nonexpert_params_per_layer + emb) / tp
    expert = n_max * m.expert_params_per_layer / (etp * ep)
    return dense, expert


def trainable_params_per_device(m: ModelShape, lay: Layout):
    """(dense, expert) parameters that take gradients and optimizer state on the most loaded stage before ZeRO
    sharding: params_per_device, or a LoRA run's adapters only (the frozen base, embeddings and LM head take none).
    An adapter is split over tp like the GEMM it adapts (counted as r x (k + n) / tp)."""
    if m.lora_rank <= 0:
        return params_per_device(m, lay)
    _, n_max, _ = stage_layers(m, _f(lay.pp))
    a_dense, a_expert = lora_params_per_layer(m)
    return n_max * a_dense / _f(lay.tp), n_max * a_expert / (expert_tp(lay) * _f(lay.ep))


def activation_bytes_per_layer(m: ModelShape, lay: Layout, fw: "Framework | None" = None,
                               saved_input_bytes: float = 2.0, lowp_layer_frac: float = 1.0):
    """Stored activation bytes of one layer for one micro-batch on one GPU (Korthikanti et al.;
    the s^2 attention-score term only without FlashAttention). Low-precision training keeps the four
    linear-layer inputs (QKV and FC1: the LayerNorm outputs, h each; the attention output, heads x head_dim;
    the FFN activation, ffn_width_active) at `saved_input_bytes` per element instead of Korthikanti's 2, in
    the `lowp_layer_frac` of layers run in the narrow type. Returns (stored, working set)."""
    fw = fw or DEFAULT_FRAMEWORK
    tp, cp = _f(lay.tp), _f(lay.cp)
    sp = _f(lay.sequence_parallel) > 0
    r = _f(lay.recompute)
    s = _f(lay.seq_len) / cp
    b = _f(lay.micro_batch)
    h = float(m.d_model)
    sb = s * b
    kvf = m.kv_heads / m.n_heads
    attn_width = m.n_heads * m.head_dim / h
    per_ff = 6.0 if m.gated else 4.0
    rep_coef = (10.0 if fw.dropout_masks else 8.0) * h  # norm inputs, QKV and FC1 inputs (+ two 1-byte dropout masks)
    sh_coef = (4.0 + 4.0 * kvf) * h * attn_width + per_ff * m.ffn_width_active
    rep = sb * rep_coef / np.where(sp, tp, 1.0)
    selective = rep + sb * sh_coef / tp
    lora = m.lora_rank > 0
    if saved_input_bytes < 2.0 and not lora:  # quantized linear-layer inputs saved for backward (fp8 / NVFP4 training)
        cut = (2.0 - saved_input_bytes) * lowp_layer_frac
        selective = selective - cut * sb * (2.0 * h / np.where(sp, tp, 1.0) + (attn_width * h + m.ffn_width_active) / tp)
    if fw.act_fn_fp8_input_store and saved_input_bytes < 2.0:  # the activation function's input (up and gate) in FP8
        selective = selective - sb * (2.0 if m.gated else 1.0) * m.ffn_width_active * lowp_layer_frac / tp
    if lora:
        # a frozen GEMM without an adapter keeps no input (only its weight gradient would read it; Transformer Engine
        # saves a linear layer's input only when its weight requires a gradient, torchao's NF4 linear likewise): with
        # attention-only adapters the FFN's FC1 input (h) and FC2 input (the activation's output) go; the adapted
        # projections keep theirs in bf16 for the adapters (the attention output stays: the attention core keeps it)
        unkept = ((0.0 if lora_input_kept(m, "qkv") else 2.0 * h) + (0.0 if lora_input_kept(m, "up") else 2.0 * h))
        selective = selective - sb * (unkept / np.where(sp, tp, 1.0)
                                      + (0.0 if lora_input_kept(m, "down") else 2.0 * m.ffn_width_active / tp))
    keep_all = selective  # no recomputation with FlashAttention: Korthikanti's layout (the scores never stored)
    q_kv = (m.n_heads + 2.0 * m.kv_heads) * m.head_dim  # widths of the Q, K, V projections' outputs
    up = (2.0 if m.gated else 1.0) * m.ffn_width_active  # the FFN up (and gate) projections' outputs
    if fw.selective_saves == "xla-dots":  # matmul outputs + layer input, all sharded over the tensor axis
        # the residuals the backward needs: layer input, Q, K, V, the attention output projection's output (the
        # post-attention norm is recomputed from it) and the FFN up/gate outputs; the down projection's output only
        # enters the residual add, whose backward needs nothing, so it is not kept
        selective = sb * BYTES_ACT * (2.0 * h + q_kv + up) / tp
    elif fw.selective_saves == "torch-op-sac":  # every other matmul output + the SDPA output + the layer input
        mm_out = q_kv + h + up + h  # Q, K, V, attention output projection, FFN up/gate, down
        selective = sb * BYTES_ACT * (h + m.n_heads * m.head_dim + 0.5 * mm_out) / tp
    if fw.flash_attention:
        none = keep_all
    else:
        none = keep_all + 5.0 * m.n_heads * s * attention_span(m, lay.seq_len) * b / tp  # heads x s x S
    full_stored = 2.0 * sb * h / np.where(sp, tp, 1.0)
    # full recomputation of only some layers (Layout.recompute_layers): the others keep what they keep without it
    frac = full_recompute_frac(lay, stage_layers(m, _f(lay.pp))[1])
    full_avg = frac * full_stored + (1.0 - frac) * none
    # working set of a fully recomputed layer during its backward: everything that layer keeps without recomputation
    return np.where(r >= 2, full_avg, np.where(r >= 1, selective, none)), keep_all


def num_micro_batches(lay: Layout):
    return _f(lay.global_batch) / (_f(lay.dp) * _f(lay.micro_batch))


def in_flight_micro_batches(pp, vp, mcount, rank):
    """Stage-micro-batches of activations held by pipeline rank `rank` at the 1F1B peak."""
    pp, vp = _f(pp), _f(vp)
    inter = np.minimum(mcount, pp + (pp - 1.0 - 2.0 * rank) / vp)
    plain = np.minimum(mcount, np.maximum(pp - rank, 1.0))
    return np.maximum(np.where(vp > 1, inter, plain), 1.0)


def zero_shard_size(lay: Layout, fw: "Framework | None" = None, domain_size: float | None = None):
    """Ranks a ZeRO shard is spread over: the data x context parallel group, or only its ranks inside
    one scale-up domain when the framework shards within a domain (FSDP over a TPU slice)."""
    fw = fw or DEFAULT_FRAMEWORK
    dpg = _f(lay.dp) * _f(lay.cp)
    if fw.zero_shard_within_domain and domain_size is not None:
        per = np.maximum(1.0, np.floor(float(domain_size) / np.maximum(_f(lay.tp), 1.0)))
        return dpg / np.ceil(dpg / per)
    return dpg


def memory_per_gpu(m: ModelShape, lay: Layout, fw: "Framework | None" = None, domain_size: float | None = None,
                   saved_input_bytes: float = 2.0, lowp_layer_frac: float = 1.0, lowp_weight_bytes: float = 2.0) -> dict:
    """Memory breakdown per GPU (bytes) on the most loaded pipeline rank (first, second, last); saved_input_bytes and
    lowp_layer_frac as activation_bytes_per_layer (low-precision training's saved linear-layer inputs). A LoRA run's
    frozen linear-layer weights are held at `lowp_weight_bytes` (the compute datatype's storage: fp8 1, NVFP4 0.5625)
    in the lowp_layer_frac of layers run in it: with no master copy to update, the base is loaded in the narrow type
    (NeMo's fp8_params, which the AMD and Cisco MLPerf LoRA configs set; Transformer Engine's fp8_model_init)."""
    fw = fw or DEFAULT_FRAMEWORK
    tp, pp, cp, ep, dp, vp = (_f(x) for x in (lay.tp, lay.pp, lay.cp, lay.ep, lay.dp, lay.vp))
    z = _f(lay.zero)
    first, n_max, last = stage_layers(m, pp)
    shard_dense = zero_shard_size(lay, fw, domain_size)
    etp = expert_tp(lay)
    # the expert-data-parallel group: the stage's tp x (ZeRO group) ranks over the etp x ep that hold one copy
    shard_expert = np.maximum(shard_dense * tp / (etp * ep), 1.0)
    # bytes per (dense, expert) parameter after ZeRO sharding: the weights of every parameter, the gradients and
    # optimizer state of those that train (all of them, or a LoRA run's adapters)
    w_dense, w_exp = BYTES_WEIGHT / np.where(z >= 3, shard_dense, 1.0), BYTES_WEIGHT / np.where(z >= 3, shard_expert, 1.0)
    opt_b = BYTES_OPTIMIZER if fw.optimizer_state_bytes is None else fw.optimizer_state_bytes
    g_dense = BYTES_GRAD / np.where(z >= 2, shard_dense, 1.0) + opt_b / np.where(z >= 1, shard_dense, 1.0)
    g_exp = BYTES_GRAD / np.where(z >= 2, shard_expert, 1.0) + opt_b / np.where(z >= 1, shard_expert, 1.0)
    lora = m.lora_rank > 0
    a_dense, a_expert = lora_params_per_layer(m)
    frozen_scale = (lowp_layer_frac * min(lowp_weight_bytes, BYTES_WEIGHT) + (1.0 - lowp_layer_frac) * BYTES_WEIGHT) / BYTES_WEIGHT
    if m.lora_base_bytes > 0.0:  # QLoRA: every frozen linear weight packed (NF4), whatever the compute datatype
        frozen_scale = m.lora_base_bytes / BYTES_WEIGHT
    per_layer, working = activation_bytes_per_layer(m, lay, fw, saved_input_bytes, lowp_layer_frac)
    working = np.where(_f(lay.recompute) >= 2, working, 0.0)  # one layer re-materialized
    mcount = num_micro_batches(lay)
    logit_b = BYTES_LOGIT if fw.logit_bytes is None else fw.logit_bytes
    logits = logit_b * _f(lay.micro_batch) * _f(lay.seq_len) / cp * m.vocab_size / tp
    offload = _f(lay.act_offload) > 0
    single = pp <= 1
    one = np.ones_like(pp)
    ranks = (  # (layers, has_embedding, has_head, in-flight): first, second, last pipeline rank
        (first, one, np.where(single, 1.0, 0.0), in_flight_micro_batches(pp, vp, mcount, 0.0)),
        (n_max, 0.0 * one, 0.0 * one, in_flight_micro_batches(pp, vp, mcount, 1.0)),
        (last, 0.0 * one, one, in_flight_micro_batches(pp, vp, mcount, pp - 1.0)),
    )
    parts = []  # per rank: (dense, expert, activations, logits beyond the working set, total, trained dense,
    # trained expert, weight bytes)
    for r, (layers, has_emb, has_head, fl) in enumerate(ranks):
        dense, expert = stage_params(m, lay, layers, has_emb, has_head)
        if lora:  # the adapters on this rank's layers train, and their own weights count beside the frozen ones
            t_dense, t_exp = layers * a_dense / tp, layers * a_expert / (etp * ep)
            linear = layers * m.nonexpert_linear_params_per_layer / tp  # frozen linear weights
            weights = ((dense - linear) * w_dense + (linear * w_dense + expert * w_exp) * frozen_scale
                       + t_dense * w_dense + t_exp * w_exp)
            dense, expert = dense + t_dense, expert + t_exp
        else:
            t_dense, t_exp = dense, expert
            weights = dense * w_dense + expert * w_exp
        states = weights + t_dense * g_dense + t_exp * g_exp
        stored = layers * fl
        if np.any(offload):  # the stored activations wait in host memory but for the layers in transit
            stored = np.where(offload, np.minimum(stored, OFFLOAD_DEVICE_LAYERS), stored)
        acts = per_layer * stored + working
        # the logits live from the LM head to the loss backward, the recompute working set only
        # inside a layer's backward: never at once, so only the logits beyond the working set count
        lg = np.where(has_head > 0, np.maximum(logits - working, 0.0), 0.0)
        tot = states + acts + lg
        if r == 1:  # the second rank is a middle stage only with pp >= 3
            tot = np.where(pp >= 3, tot, 0.0)
        parts.append((dense, expert, acts, lg, tot, t_dense, t_exp, weights))
    t0, t1, t2 = parts[0][4], parts[1][4], parts[2][4]
    tot = np.maximum(np.maximum(t0, t1), t2)
    # ZeRO-3 / FSDP: the gathered (unsharded) parameters of the layer in use and of the prefetched next one
    gathered = np.where(z >= 3, fw.zero3_live_layers * BYTES_WEIGHT * (m.nonexpert_params_per_layer / tp
                                                                     + m.expert_params_per_layer / (etp * ep)), 0.0)
    reserve = FRAMEWORK_RESERVE_BYTES if fw.reserve_bytes is None else fw.reserve_bytes
    total = tot + gathered + reserve
    return MemoryBreakdown(parts, (t0, t1, t2), z, shard_dense, shard_expert, gathered, reserve, total, opt_b)


class MemoryBreakdown(dict):
    """Memory per GPU on the most loaded pipeline rank (bytes): total_bytes at once, the parts
    (weights, gradients, optimizer state, activations, logits, ZeRO-3 gathered weights, reserve) on
    first access -- a layout search needs only the total for its fit mask."""

    KEYS = ("weights_bytes", "gradients_bytes", "optimizer_bytes", "activations_bytes", "logits_bytes",
            "zero3_gathered_bytes", "reserve_bytes", "total_bytes")

    def __init__(self, parts, tots, z, shard_dense, shard_expert, gathered, reserve, total, optimizer_bytes=BYTES_OPTIMIZER):
        super().__init__()
        self._p, self._t, self._z, self._ob = parts, tots, z, optimizer_bytes
        self._sd, self._se, self._g, self._r = shard_dense, shard_expert, gathered, reserve
        dict.__setitem__(self, "total_bytes", total)

    def _pick(self, j):
        t0, t1, t2 = self._t
        take1 = t1 > t0
        take2 = t2 > np.maximum(t0, t1)
        return np.where(take2, self._p[2][j], np.where(take1, self._p[1][j], self._p[0][j]))

    def _compute(self, k):
        z, total = self._z, dict.__getitem__(self, "total_bytes")
        if k in ("weights_bytes", "gradients_bytes", "optimizer_bytes"):
            per, stage = {"weights_bytes": (BYTES_WEIGHT, 3), "gradients_bytes": (BYTES_GRAD, 2),
                          "optimizer_bytes": (self._ob, 1)}[k]
            if k == "weights_bytes":  # every parameter's weights (a LoRA run's frozen ones at their stored bytes)
                return self._pick(7)
            # the trained parameters' gradients and optimizer state
            return per * (self._pick(5) / np.where(z >= stage, self._sd, 1.0) + self._pick(6) / np.where(z >= stage, self._se, 1.0))
        if k == "activations_bytes":
            return self._pick(2)
        if k == "logits_bytes":
            return self._pick(3)
        if k == "zero3_gathered_bytes":
            return self._g + 0.0 * total
        if k == "reserve_bytes":
            return np.broadcast_to(self._r, np.shape(total)).astype(float)
        raise KeyError(k)

    def __getitem__(self, k):
        if not dict.__contains__(self, k):
            dict.__setitem__(self, k, self._compute(k))
        return dict.__getitem__(self, k)

    def __contains__(self, k):
        return k in self.KEYS

    def __iter__(self):
        return iter(self.KEYS)

    def __len__(self):
        return len(self.KEYS)

    def keys(self):
        return list(self.KEYS)

    def items(self):
        return [(k, self[k]) for k in self.KEYS]

    def values(self):
        return [self[k] for k in self.KEYS]

    def get(self, k, default=None):
        return self[k] if k in self.KEYS else default
