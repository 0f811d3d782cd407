"""Training-step physics over arrays of parallel layouts (numpy only; no Python loop per layout).

Every function takes a `ModelShape`, a `HardwareShape` (plain dataclasses of floats) and a
`Layout` whose fields are numpy arrays that broadcast together: tp, pp, cp, ep, dp, vp,
micro_batch, recompute (0 none | 1 selective | 2 full), zero (0..3), sequence_parallel (bool),
seq_len and global_batch (sequences).

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

Memory per GPU (bytes) on the most loaded pipeline stage:
  weights 2 B/param (bf16), gradients 2 B/param, Adam optimizer state 12 B/param (fp32 master,
  m, v) -- 16 B/param before sharding (ZeRO, Rajbhandari et al. 2020). ZeRO 1 shards the
  optimizer state, 2 also the gradients, 3 also the weights, over the data-parallel x
  context-parallel group (dense) and the expert-data-parallel group dp*cp/ep (experts).
  Experts are split by expert parallelism and tensor parallelism.
  Activations per layer per micro-batch (Korthikanti et al. 2022, arXiv 2205.05198, eq. 1-2,
  generalized to GQA and gated FFNs): replicated part 10*s*b*h (LayerNorm inputs, dropout
  masks, attention and MLP inputs), TP-sharded part (4 + 4*kv/H)*s*b*h + (4 or 6)*s*b*d_ff*k_eff,
  attention-matrix part 5*a*s^2*b, all divided by tp (the replicated part only with sequence
  parallelism). The s^2 part exists only without FlashAttention (Framework.flash_attention False:
  'megatron-2022', Korthikanti's setup); FlashAttention (every current stack: Megatron-core + TE,
  NeMo, Meta) keeps Q, K, V, O and the row log-sum-exp, never the scores, so 'none' stores what
  'selective' stores (~34*s*b*h/t with SP) without the recompute FLOPs. Full recomputation stores
  the 2*s*b*h layer input (/tp with SP) plus one layer's working set.
  Stages: ceil(L/pp) layers on the most loaded stage; when pp*ceil(L/pp) > L the spare slots come
  off the first stage (activation-heaviest) and then the last stage (LM head) -- Llama 3 paper
  Sec. 3.3.2 (126 layers on 16 stages: 7, 8 x 14, 7), Megatron-core decoder_first/last_pipeline_
  num_layers. Virtual chunks split a stage's layers (uneven allowed). Micro-batches in flight on
  pipeline rank r (Megatron 1F1B; Narayanan et al. 2021 for the interleaved schedule):
  non-interleaved min(m, pp - r); interleaved min(m*vp, 2*(pp-r-1) + (vp-1)*pp + 1) chunks, i.e.
  min(m, pp + (pp-1-2r)/vp) stage-micro-batches (rank 0: the (1 + (pp-1)/(pp*vp)) factor).
  Memory is the largest of rank 0, rank 1 and the last rank (its LM head, logits: 6 B/logit of
  one micro-batch), plus a framework reserve.

Time per step:
  per layer and micro-batch: linear GEMM time + attention FLOPs / bf16 rate + elementwise bytes /
  (HBM bandwidth * frac) + tensor-parallel collectives (exposed; Megatron 2022 schedules them
  on the critical path, Framework.tp_comm_exposed_frac of it with TE overlap) + context-parallel ring exchange not hidden behind the attention chunk
  + expert-parallel all-to-all (exposed);
  linear-layer GEMMs (QKV/out projections, FFN/experts) timed one by one at their per-GPU shape
        (rows = micro_batch*seq_len/cp tokens, split by tp along the Megatron axis) by
        costsim.core.matmul (roofline of peak * matmul_frac vs HBM traffic, tile/wave quantization
        on num_compute_units) through linear_layer_times; FP8 speeds up only these GEMMs;
        attention (FlashAttention, bf16) runs at ATTENTION_REL_EFF of the bf16 GEMM ceiling; the LM
        head, elementwise ops and communication keep their bf16 time;
  stage time per micro-batch = max(first stage, middle stage, last stage + LM head) layers;
  pipeline: m * t_stage + (pp-1) * t_chunk, t_chunk = the largest virtual chunk
  (ceil(layers/vp) layers): bubble (pp-1)/(m*vp) of the compute for even chunks;
  data parallel: gradient reduce-scatter hidden behind the last micro-batch's backward, the
  parameter all-gather behind the first micro-batch's forward; the rest is exposed (ZeRO 0:
  one all-reduce behind the last backward; ZeRO 3 also gathers weights every micro-batch,
  prefetched behind that micro-batch's compute);
  optimizer step: 32 B per local (sharded) parameter through HBM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costsim.core import comm
from costsim.core import matmul as mm

RECOMPUTE_MODES = ("none", "selective", "full")

# ---- fitted and documented constants (see costsim/core/calibration.py for the fit) ----------
from costsim.core.calibration import (  # noqa: E402
    ELEMENTWISE_BYTES_PER_D,
    FRAMEWORK_RESERVE_BYTES,
    GEMM_ROWS_HALF,
    HBM_ACHIEVABLE_FRAC,
)

# FlashAttention throughput relative to the bf16 GEMM ceiling (estimate: FlashAttention-2 fwd+bwd
# reaches ~72% of A100 peak vs ~83% for GEMMs, Dao 2023 Fig. 4; FA3 on H100 bf16 similar)
ATTENTION_REL_EFF = 0.85

BYTES_WEIGHT = 2.0  # bf16 weights
BYTES_GRAD = 2.0  # bf16 gradients
BYTES_OPTIMIZER = 12.0  # fp32 master weights + Adam m + v
BYTES_ACT = 2.0  # bf16 activations
BYTES_LOGIT = 6.0  # bf16 logits + fp32 copy for the loss
OPTIMIZER_BYTES_PER_PARAM_TOUCHED = 32.0  # read+write master/m/v, read grad, write bf16 weight


@dataclass(frozen=True)
class ModelShape:
    """Plain numbers describing a transformer for the core (built from ModelSpec by estimators)."""

    n_layers: int
    d_model: int
    n_heads: int
    kv_heads: int
    head_dim: int
    d_ff: int
    gated: bool
    vocab_size: int
    tied_embeddings: bool
    n_experts: int
    experts_per_token: int
    n_shared_experts: int
    n_moe_layers: int
    attn_params_per_layer: float
    norm_params_per_layer: float
    dense_ffn_params_per_layer: float  # FFN of a dense layer (dense model: every layer)
    expert_params: float  # one expert's FFN
    input_embedding_params: float  # V*d (+ positions)
    params_total: float
    sliding_window: int | None = None
    sliding_window_layer_frac: float = 1.0
    d_ff_dense: int | None = None

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1

    @property
    def head_params(self) -> float:
        """LM head matmul parameters (a real matmul whether tied or not)."""
        return float(self.vocab_size * self.d_model)

    @property
    def n_dense_layers(self) -> int:
        return self.n_layers - self.n_moe_layers

    @property
    def router_params(self) -> float:
        return float(self.d_model * self.n_experts) if self.is_moe else 0.0

    @property
    def mm_params_per_layer(self) -> float:
        """Average active matmul parameters per layer (attention + active FFN/experts + router)."""
        L = self.n_layers
        moe = self.n_moe_layers * ((self.experts_per_token + self.n_shared_experts) * self.expert_params + self.router_params)
        dense = self.n_dense_layers * self.dense_ffn_params_per_layer
        return self.attn_params_per_layer + (moe + dense) / L

    @property
    def nonexpert_params_per_layer(self) -> float:
        """Average parameters per layer that are not routed experts (replicated over EP)."""
        L = self.n_layers
        moe = self.n_moe_layers * (self.n_shared_experts * self.expert_params + self.router_params)
        dense = self.n_dense_layers * self.dense_ffn_params_per_layer
        return self.attn_params_per_layer + self.norm_params_per_layer + (moe + dense) / L

    @property
    def expert_params_per_layer(self) -> float:
        """Average routed-expert parameters per layer (all experts; split by EP)."""
        return self.n_moe_layers * self.n_experts * self.expert_params / self.n_layers

    @property
    def ffn_width_active(self) -> float:
        """Average active FFN width per token per layer (d_ff * (k + shared) on MoE layers)."""
        L = self.n_layers
        moe = self.n_moe_layers * (self.experts_per_token + self.n_shared_experts) * self.d_ff
        dense = self.n_dense_layers * (self.d_ff_dense or self.d_ff)
        return (moe + dense) / L

    @property
    def n_mm_params(self) -> float:
        return self.n_layers * self.mm_params_per_layer + self.head_params


@dataclass(frozen=True)
class HardwareShape:
    """Plain numbers describing the accelerator and its node for one compute datatype."""

    peak_flop_per_s: float  # dense peak of the compute datatype
    matmul_frac: float  # achievable fraction of that peak for large GEMMs (fitted)
    memory_bytes: float
    memory_bandwidth_bytes_per_s: float
    scaleup_bytes_per_s: float  # per direction, per device
    scaleup_latency_s: float
    domain_size: int
    scaleout_per_gpu_bytes_per_s: float  # node NIC total / devices per node
    devices_per_node: int
    # peak_flop_per_s / matmul_frac / gemm_rows_half describe the linear-layer GEMMs in the compute
    # datatype (fp8 speeds up only these). Attention (FlashAttention) and the LM head run in bf16:
    # bf16_* below (0 -> the same as the compute datatype, i.e. a bf16/fp16 run).
    gemm_rows_half: float = 0.0  # T0 (0 -> calibration.GEMM_ROWS_HALF)
    bf16_peak_flop_per_s: float = 0.0
    bf16_matmul_frac: float = 0.0
    bf16_gemm_rows_half: float = 0.0
    # GEMM time model (costsim.core.matmul): compute units the output tiles spread over, the fixed
    # in-stream cost per kernel, operand bytes of the compute datatype (fp8: 1)
    num_compute_units: float = 132.0
    kernel_latency_s: float = mm.IN_STREAM_LATENCY_S
    gemm_in_bytes: float = 2.0

    @property
    def rows_half(self) -> float:
        return self.gemm_rows_half or GEMM_ROWS_HALF

    @property
    def attn_peak(self) -> float:
        return self.bf16_peak_flop_per_s or self.peak_flop_per_s

    @property
    def attn_frac(self) -> float:
        return self.bf16_matmul_frac or self.matmul_frac

    @property
    def attn_rows_half(self) -> float:
        return self.bf16_gemm_rows_half or self.rows_half


@dataclass(frozen=True)
class Framework:
    """Software-stack behaviour that changes exposed time (not hardware, not layout).

    tp_comm_exposed_frac: share of tensor-parallel collective time on the critical path.
      Megatron-LM 2022 (Korthikanti et al.) issues them between GEMMs: 1.0. Transformer Engine
      userbuffer overlap (Megatron-core / NeMo 2024+, `tp_comm_overlap`) pipelines them with the
      GEMMs: 0.25 (estimate) -- the default.
    flash_attention: FlashAttention (Dao et al. 2022): the s x s attention scores are never stored
      (megatron-core + Transformer Engine, NeMo, Meta's stack); False for Megatron-LM 2022
      (Korthikanti et al.'s measurements, which store softmax output and dropout mask).
    """

    name: str = "megatron-core-2024"
    tp_comm_exposed_frac: float = 0.25
    flash_attention: bool = True


FRAMEWORKS = {
    "megatron-core-2024": Framework("megatron-core-2024", 0.25, True),
    "megatron-2022": Framework("megatron-2022", 1.0, False),
}
DEFAULT_FRAMEWORK = FRAMEWORKS["megatron-core-2024"]


@dataclass
class Layout:
    """Arrays (or scalars) of parallel layouts; fields broadcast together."""

    tp: np.ndarray
    pp: np.ndarray
    cp: np.ndarray
    ep: np.ndarray
    dp: np.ndarray
    vp: np.ndarray
    micro_batch: np.ndarray
    recompute: np.ndarray  # 0 none, 1 selective, 2 full
    zero: np.ndarray
    sequence_parallel: np.ndarray
    seq_len: np.ndarray
    global_batch: np.ndarray

    @classmethod
    def of(cls, **kw) -> "Layout":
        return cls(**{k: np.asarray(v, dtype=float) for k, v in kw.items()})


def _f(x):
    return np.asarray(x, dtype=float)


# ---------------------------------------------------------------------------------------------
# FLOPs
# ---------------------------------------------------------------------------------------------
def attention_span(m: ModelShape, seq_len):
    """Average key span per layer used in the attention FLOP term (window on windowed layers)."""
    s = _f(seq_len)
    if m.sliding_window is None:
        return s
    w = np.minimum(s, float(m.sliding_window))
    return m.sliding_window_layer_frac * w + (1.0 - m.sliding_window_layer_frac) * s


def attention_fwd_flop_per_token_per_layer(m: ModelShape, seq_len):
    """QK^T and AV forward: 4 * H * hd * S_att (full matrix counted)."""
    return 4.0 * m.n_heads * m.head_dim * attention_span(m, seq_len)


def model_flop_per_token(m: ModelShape, seq_len):
    """6 * N_mm + 12 * L * H * hd * S_att (forward + backward, no recomputation)."""
    return 6.0 * m.n_mm_params + 3.0 * m.n_layers * attention_fwd_flop_per_token_per_layer(m, seq_len)


def recompute_flop_per_token(m: ModelShape, seq_len, recompute):
    """Extra forward FLOPs per token recomputed during backward."""
    r = _f(recompute)
    attn = m.n_layers * attention_fwd_flop_per_token_per_layer(m, seq_len)
    layer_fwd = 2.0 * m.n_layers * m.mm_params_per_layer + attn
    return np.where(r >= 2, layer_fwd, np.where(r >= 1, attn, 0.0))


def hardware_flop_per_token(m: ModelShape, seq_len, recompute):
    return model_flop_per_token(m, seq_len) + recompute_flop_per_token(m, seq_len, recompute)


# ---------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------
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
    tp, ep = _f(lay.tp), _f(lay.ep)
    emb = m.input_embedding_params * has_emb + (m.head_params if not m.tied_embeddings else 0.0) * has_head
    # Megatron keeps a copy of a tied embedding on the last stage when pp > 1
    if m.tied_embeddings:
        emb = emb + m.head_params * has_head * (1.0 - has_emb)
    dense = (layers * m.nonexpert_params_per_layer + emb) / tp
    expert = layers * m.expert_params_per_layer / (tp * ep)
    return dense, expert


def params_per_device(m: ModelShape, lay: Layout):
    """(dense, expert) parameters of the most loaded stage (middle stage layers + the larger of
    the embedding and the LM head) before ZeRO sharding -- used for DP traffic and optimizer."""
    pp = _f(lay.pp)
    first, n_max, last = stage_layers(m, pp)
    single = pp <= 1
    emb = np.where(single, m.input_embedding_params + (0.0 if m.tied_embeddings else m.head_params),
                   max(m.input_embedding_params, m.head_params))
    tp, ep = _f(lay.tp), _f(lay.ep)
    dense = (n_max * m.nonexpert_params_per_layer + emb) / tp
    expert = n_max * m.expert_params_per_layer / (tp * ep)
    return dense, expert


def activation_bytes_per_layer(m: ModelShape, lay: Layout, fw: "Framework | None" = None):
    """Stored activation bytes of one layer for one micro-batch on one GPU (Korthikanti et al.;
    the s^2 attention-score term only without FlashAttention). Returns (stored, working set)."""
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
    rep_coef = 10.0 * h
    sh_coef = (4.0 + 4.0 * kvf) * h * attn_width + per_ff * m.ffn_width_active
    rep = sb * rep_coef / np.where(sp, tp, 1.0)
    selective = rep + sb * sh_coef / tp
    if fw.flash_attention:
        none = selective
    else:
        none = selective + 5.0 * m.n_heads * s * attention_span(m, lay.seq_len) * b / tp  # heads x s x S
    full_stored = 2.0 * sb * h / np.where(sp, tp, 1.0)
    return np.where(r >= 2, full_stored, np.where(r >= 1, selective, none)), selective


def num_micro_batches(lay: Layout):
    return _f(lay.global_batch) / (_f(lay.dp) * _f(lay.micro_batch))


def in_flight_micro_batches(pp, vp, mcount, rank):
    """Stage-micro-batches of activations held by pipeline rank `rank` at the 1F1B peak."""
    pp, vp = _f(pp), _f(vp)
    inter = np.minimum(mcount, pp + (pp - 1.0 - 2.0 * rank) / vp)
    plain = np.minimum(mcount, np.maximum(pp - rank, 1.0))
    return np.maximum(np.where(vp > 1, inter, plain), 1.0)


def memory_per_gpu(m: ModelShape, lay: Layout, fw: "Framework | None" = None) -> dict:
    """Memory breakdown per GPU (bytes) on the most loaded pipeline rank (first, second, last)."""
    tp, pp, cp, ep, dp, vp = (_f(x) for x in (lay.tp, lay.pp, lay.cp, lay.ep, lay.dp, lay.vp))
    z = _f(lay.zero)
    first, n_max, last = stage_layers(m, pp)
    shard_dense = dp * cp
    shard_expert = np.maximum(dp * cp / ep, 1.0)
    # bytes per (dense, expert) parameter after ZeRO sharding
    b_dense = (BYTES_WEIGHT / np.where(z >= 3, shard_dense, 1.0) + BYTES_GRAD / np.where(z >= 2, shard_dense, 1.0)
               + BYTES_OPTIMIZER / np.where(z >= 1, shard_dense, 1.0))
    b_exp = (BYTES_WEIGHT / np.where(z >= 3, shard_expert, 1.0) + BYTES_GRAD / np.where(z >= 2, shard_expert, 1.0)
             + BYTES_OPTIMIZER / np.where(z >= 1, shard_expert, 1.0))
    per_layer, working = activation_bytes_per_layer(m, lay, fw)
    working = np.where(_f(lay.recompute) >= 2, working, 0.0)  # one layer re-materialized
    mcount = num_micro_batches(lay)
    logits = BYTES_LOGIT * _f(lay.micro_batch) * _f(lay.seq_len) / cp * m.vocab_size / tp
    single = pp <= 1
    one = np.ones_like(pp)
    ranks = {  # name: (layers, has_embedding, has_head, in-flight, logits)
        "first": (first, one, np.where(single, 1.0, 0.0), in_flight_micro_batches(pp, vp, mcount, 0.0)),
        "second": (n_max, 0.0 * one, 0.0 * one, in_flight_micro_batches(pp, vp, mcount, 1.0)),
        "last": (last, 0.0 * one, one, in_flight_micro_batches(pp, vp, mcount, pp - 1.0)),
    }
    best = None
    for name, (layers, has_emb, has_head, fl) in ranks.items():
        dense, expert = stage_params(m, lay, layers, has_emb, has_head)
        states = dense * b_dense + expert * b_exp
        acts = per_layer * layers * fl + working
        lg = np.where(has_head > 0, logits, 0.0)
        tot = states + acts + lg
        if name == "second":  # exists only with pp >= 3
            tot = np.where(pp >= 3, tot, 0.0)
        if best is None:
            best = [tot, dense, expert, acts, lg]
        else:
            take = tot > best[0]
            best = [np.where(take, new, old) for new, old in zip((tot, dense, expert, acts, lg), best)]
    tot, dense, expert, acts, lg = best
    weights = BYTES_WEIGHT * (dense / np.where(z >= 3, shard_dense, 1.0) + expert / np.where(z >= 3, shard_expert, 1.0))
    grads = BYTES_GRAD * (dense / np.where(z >= 2, shard_dense, 1.0) + expert / np.where(z >= 2, shard_expert, 1.0))
    optim = BYTES_OPTIMIZER * (dense / np.where(z >= 1, shard_dense, 1.0) + expert / np.where(z >= 1, shard_expert, 1.0))
    total = tot + FRAMEWORK_RESERVE_BYTES
    return {"weights_bytes": weights, "gradients_bytes": grads, "optimizer_bytes": optim,
            "activations_bytes": acts, "logits_bytes": lg,
            "reserve_bytes": np.broadcast_to(FRAMEWORK_RESERVE_BYTES, np.shape(total)).astype(float),
            "total_bytes": total}


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------
def linear_gemms(m: ModelShape):
    """Per-layer linear GEMMs as (weight, n_out, k_in, tp-split axis, kind) before parallel splits:
    weight = average count per layer (dense/MoE layer mix), kind 'dense' | 'expert' | 'router'.
    FLOPs add up to 2 * mm_params_per_layer per token."""
    d = float(m.d_model)
    q_out = float(m.n_heads * m.head_dim)
    qkv_out = max(m.attn_params_per_layer / d - q_out, 1.0)
    L = float(m.n_layers)
    out = [(1.0, qkv_out, d, "n", "dense"), (1.0, d, q_out, "k", "dense")]
    up_share = 2.0 / 3.0 if m.gated else 0.5

    def ffn(params, weight, kind):
        return [(weight, params * up_share / d, d, "n", kind), (weight, d, params * (1.0 - up_share) / d, "k", kind)]

    if m.n_dense_layers > 0:
        out += ffn(m.dense_ffn_params_per_layer, m.n_dense_layers / L, "dense")
    if m.is_moe and m.n_moe_layers > 0:
        w = m.n_moe_layers / L
        out += ffn(m.expert_params, w, "expert")
        if m.n_shared_experts:
            out += ffn(m.expert_params, w * m.n_shared_experts, "dense")
        out.append((w, float(m.n_experts), d, "none", "router"))
    return out


def _gemm_args(hw: HardwareShape, bf16: bool = False):
    if bf16:
        return (hw.attn_peak, hw.attn_frac, hw.memory_bandwidth_bytes_per_s, hw.num_compute_units, hw.kernel_latency_s, 2.0)
    return (hw.peak_flop_per_s, hw.matmul_frac, hw.memory_bandwidth_bytes_per_s, hw.num_compute_units,
            hw.kernel_latency_s, hw.gemm_in_bytes)


def linear_layer_times(m: ModelShape, hw: HardwareShape, tokens, tp, ep):
    """(forward, backward) GEMM time of one layer's linear layers for one micro-batch on one GPU (s),
    by costsim.core.matmul: per-GPU shapes after TP (column-parallel splits N, row-parallel K),
    routed experts E/ep per rank with tokens*k*ep/E rows each (uniform routing); backward = dgrad +
    wgrad. Evaluated on the unique (tokens, tp, ep) combinations only."""
    T, tp, ep = np.broadcast_arrays(_f(tokens), _f(tp), _f(ep))
    key = np.stack([T.ravel(), tp.ravel(), ep.ravel()])
    uniq, inv = np.unique(key, axis=1, return_inverse=True)
    inv = np.asarray(inv).ravel()
    Tu, tpu, epu = uniq
    args = _gemm_args(hw)
    fwd = np.zeros_like(Tu)
    bwd = np.zeros_like(Tu)
    for weight, n_out, k_in, split, kind in linear_gemms(m):
        n = n_out / tpu if split == "n" else n_out + 0.0 * tpu
        k = k_in / tpu if split == "k" else k_in + 0.0 * tpu
        rows, count = Tu, 1.0
        if kind == "expert":
            rows = Tu * m.experts_per_token * epu / m.n_experts
            count = m.n_experts / epu
        f_t = mm.matmul_time_s(rows, n, k, *args)
        b_t = mm.matmul_time_s(rows, k, n, *args) + mm.matmul_time_s(k, n, rows, *args)
        fwd = fwd + weight * count * f_t
        bwd = bwd + weight * count * b_t
    return fwd[inv].reshape(T.shape), bwd[inv].reshape(T.shape)


def step_time(m: ModelShape, hw: HardwareShape, lay: Layout, fw: Framework | None = None) -> dict:
    """Step time and its parts (s) for every layout."""
    fw = fw or DEFAULT_FRAMEWORK
    tp, pp, cp, ep, dp, vp = (_f(x) for x in (lay.tp, lay.pp, lay.cp, lay.ep, lay.dp, lay.vp))
    mb, r, z = _f(lay.micro_batch), _f(lay.recompute), _f(lay.zero)
    sp = _f(lay.sequence_parallel) > 0
    seq = _f(lay.seq_len)
    d = float(m.d_model)
    tokens = mb * seq / cp  # tokens of one micro-batch on one CP rank (GEMM rows before TP)
    # attention (FlashAttention, bf16) at ATTENTION_REL_EFF of the bf16 GEMM ceiling
    rate_bf16 = hw.attn_peak * hw.attn_frac * ATTENTION_REL_EFF

    # --- compute per layer per micro-batch on one GPU: linear GEMMs by costsim.core.matmul
    mm_fwd = 2.0 * m.mm_params_per_layer * tokens / tp
    attn_fwd = attention_fwd_flop_per_token_per_layer(m, seq) * tokens / tp
    passes_attn = 3.0 + np.where(r >= 1, 1.0, 0.0)
    lin_fwd, lin_bwd = linear_layer_times(m, hw, tokens, tp, ep)
    t_lin = lin_fwd * (1.0 + np.where(r >= 2, 1.0, 0.0)) + lin_bwd
    eff = 3.0 * mm_fwd / np.maximum(lin_fwd + lin_bwd, 1e-30) / hw.peak_flop_per_s
    t_attn_fwd = attn_fwd / rate_bf16
    t_mm = t_lin + t_attn_fwd * passes_attn
    elem_share = np.where(sp, 1.0 / tp, 10.0 / 34.0 + (24.0 / 34.0) / tp)
    elem_bytes = ELEMENTWISE_BYTES_PER_D * d * tokens * elem_share * np.where(r >= 2, 4.0 / 3.0, 1.0)
    t_elem = elem_bytes / (hw.memory_bandwidth_bytes_per_s * HBM_ACHIEVABLE_FRAC)
    t_layer_compute = t_mm + t_elem

    # --- tensor parallel (scale-up domain; enforced by the search)
    act_bytes = BYTES_ACT * tokens * d
    bw_tp, lat_tp = comm.group_bandwidth(tp, 1.0, hw.domain_size, hw.scaleup_bytes_per_s,
                                         hw.scaleout_per_gpu_bytes_per_s, hw.scaleup_latency_s)
    fwd_sets = 2.0 + np.where(r >= 2, 1.0, 0.0)  # fwd + bwd (+ recomputed fwd)
    rs = comm.ring_reduce_scatter_s(act_bytes, tp, bw_tp, lat_tp)
    t_tp = fwd_sets * rs * 4.0 * fw.tp_comm_exposed_frac  # 4 RS/AG (SP) = 2 all-reduces

    # --- context parallel ring exchange of K/V chunks, each hidden behind one attention chunk
    kv_bytes = BYTES_ACT * 2.0 * tokens * m.kv_heads * m.head_dim / np.minimum(tp, m.kv_heads)
    bw_cp, lat_cp = comm.group_bandwidth(cp, tp, hw.domain_size, hw.scaleup_bytes_per_s,
                                         hw.scaleout_per_gpu_bytes_per_s, hw.scaleup_latency_s)
    t_kv = comm.p2p_s(kv_bytes, bw_cp, lat_cp)
    chunk = t_attn_fwd / cp
    steps = cp - 1.0
    t_cp = steps * (np.maximum(0.0, t_kv - chunk) * (1.0 + np.where(r >= 1, 1.0, 0.0))
                    + np.maximum(0.0, 2.0 * t_kv - 2.0 * chunk))

    # --- expert parallel all-to-all (dispatch + combine, fwd and bwd, + recomputed fwd)
    if m.is_moe:
        a2a_bytes = BYTES_ACT * tokens / tp * m.experts_per_token * d
        bw_ep, lat_ep = comm.group_bandwidth(ep, tp * cp, hw.domain_size, hw.scaleup_bytes_per_s,
                                             hw.scaleout_per_gpu_bytes_per_s, hw.scaleup_latency_s)
        n_a2a = 4.0 + np.where(r >= 2, 2.0, 0.0)
        t_ep = n_a2a * comm.all_to_all_s(a2a_bytes, ep, bw_ep, lat_ep) * (m.n_moe_layers / m.n_layers)
    else:
        t_ep = 0.0 * t_tp

    t_layer = t_layer_compute + t_tp + t_cp + t_ep
    first, n_max, last = stage_layers(m, pp)

    # --- LM head + loss on the last stage (bf16, no recomputation)
    hf, hb = (mm.matmul_time_s(tokens, m.vocab_size / tp, d, *_gemm_args(hw, True)),
              mm.matmul_time_s(tokens, d, m.vocab_size / tp, *_gemm_args(hw, True))
              + mm.matmul_time_s(d, m.vocab_size / tp, tokens, *_gemm_args(hw, True)))
    t_head = hf + hb

    # --- pipeline point-to-point: vp boundaries per device, fwd activations + bwd gradients
    p2p_bytes = act_bytes / np.where(sp, tp, 1.0)
    bw_pp, lat_pp = comm.group_bandwidth(pp, tp * cp * dp, hw.domain_size, hw.scaleup_bytes_per_s,
                                         hw.scaleout_per_gpu_bytes_per_s, hw.scaleup_latency_s)
    t_p2p = np.where(pp > 1, 2.0 * vp * comm.p2p_s(p2p_bytes, bw_pp, lat_pp), 0.0)

    mid = np.where(pp >= 3, n_max, 0.0)
    stage_compute = np.maximum(np.maximum(first, mid) * t_layer, last * t_layer + t_head)
    t_dev_micro = stage_compute + t_p2p
    mcount = num_micro_batches(lay)
    chunk_layers = np.ceil(n_max / vp)
    bubble = (pp - 1.0) * (chunk_layers * t_layer + t_p2p / vp)
    t_pipeline = mcount * t_dev_micro + bubble
    busy_stage = np.maximum(np.maximum(first, mid) * t_layer_compute, last * t_layer_compute + t_head)

    # --- data parallel gradient/parameter traffic
    dense, expert = params_per_device(m, lay)
    bw_dp, lat_dp = comm.group_bandwidth(dp * cp, tp, hw.domain_size, hw.scaleup_bytes_per_s,
                                         hw.scaleout_per_gpu_bytes_per_s, hw.scaleup_latency_s)
    edp = np.maximum(dp * cp / ep, 1.0)
    g_dense, g_exp = BYTES_GRAD * dense, BYTES_GRAD * expert
    t_rs = comm.ring_reduce_scatter_s(g_dense, dp * cp, bw_dp, lat_dp)
    if m.is_moe:
        bw_edp, lat_edp = comm.group_bandwidth(edp, tp * ep * cp, hw.domain_size, hw.scaleup_bytes_per_s,
                                               hw.scaleout_per_gpu_bytes_per_s, hw.scaleup_latency_s)
        t_rs = t_rs + comm.ring_reduce_scatter_s(g_exp, edp, bw_edp, lat_edp)
    t_ag = t_rs * (BYTES_WEIGHT / BYTES_GRAD)  # same sizes, same groups
    t_ar = 2.0 * t_rs
    bwd_window = (2.0 / 3.0) * n_max * t_layer_compute
    fwd_window = (1.0 / 3.0) * n_max * t_layer_compute
    zero_on = z >= 1
    dp_exposed = np.where(zero_on, np.maximum(0.0, t_rs - bwd_window) + np.maximum(0.0, t_ag - fwd_window),
                          np.maximum(0.0, t_ar - bwd_window))
    dp_total = np.where(zero_on, t_rs + t_ag, t_ar)
    # ZeRO-3: weights gathered for every micro-batch's forward and backward, prefetched
    z3 = np.where(z >= 3, mcount * np.maximum(0.0, 2.0 * t_ag - t_dev_micro), 0.0)

    # --- optimizer step over the local shard
    shard = np.where(zero_on, dp * cp, 1.0)
    local = dense / shard + expert / np.where(zero_on, edp, 1.0)
    t_opt = OPTIMIZER_BYTES_PER_PARAM_TOUCHED * local / (hw.memory_bandwidth_bytes_per_s * HBM_ACHIEVABLE_FRAC)

    total = t_pipeline + dp_exposed + z3 + t_opt
    busy_compute = mcount * busy_stage + t_opt
    return {
        "step_time_s": total,
        "compute_time_s": busy_compute,  # GPU busy with math (compute power phase)
        "exposed_comm_time_s": total - busy_compute,  # comm, bubble, waits (low power phase)
        "bubble_time_s": bubble,
        "tp_comm_time_s": mcount * n_max * t_tp,
        "cp_comm_time_s": mcount * n_max * t_cp,
        "ep_comm_time_s": mcount * n_max * t_ep,
        "pp_p2p_time_s": mcount * t_p2p,
        "dp_comm_time_s": dp_total,
        "dp_exposed_time_s": dp_exposed + z3,
        "optimizer_time_s": t_opt,
        "matmul_efficiency_frac": eff,
        "num_micro_batches": mcount,
    }


def evaluate(m: ModelShape, hw: HardwareShape, lay: Layout, fw: Framework | None = None) -> dict:
    """Everything for every layout: FLOPs, memory, time, throughput, MFU, fit mask."""
    mem = memory_per_gpu(m, lay, fw)
    t = step_time(m, hw, lay, fw)
    seq = _f(lay.seq_len)
    n_gpus = _f(lay.tp) * _f(lay.pp) * _f(lay.cp) * _f(lay.dp)
    tokens_per_step = _f(lay.global_batch) * seq
    model_flop = model_flop_per_token(m, seq) * tokens_per_step
    hw_flop = hardware_flop_per_token(m, seq, lay.recompute) * tokens_per_step
    step = t["step_time_s"]
    out = dict(t)
    per_gpu_rate = model_flop / step / n_gpus
    out.update({
        "memory": mem,
        "memory_per_gpu_bytes": mem["total_bytes"],
        "fits_memory": mem["total_bytes"] <= hw.memory_bytes,
        "num_gpus": n_gpus,
        "tokens_per_step": tokens_per_step,
        "model_flop_per_step": model_flop,
        "hardware_flop_per_step": hw_flop,
        "tokens_per_s": tokens_per_step / step,
        "achieved_flop_per_s_per_gpu": per_gpu_rate,
        "mfu_frac": per_gpu_rate / hw.peak_flop_per_s,
        "hfu_frac": hw_flop / step / n_gpus / hw.peak_flop_per_s,
        "compute_util_frac": hw_flop / n_gpus / np.maximum(t["compute_time_s"], 1e-30) / hw.peak_flop_per_s,
    })
    return out
