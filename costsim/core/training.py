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
  attention-matrix part 5*a*s^2*b (dropped by selective recomputation), all divided by tp
  (the replicated part only with sequence parallelism); full recomputation stores the 2*s*b*h
  layer input (/tp with SP) plus one layer's working set. The first stage holds min(pp, m)
  micro-batches of its layers, times (1 + (pp-1)/(pp*vp)) with the interleaved schedule.
  Plus 6 B/logit for the LM head/loss of one micro-batch, plus a framework reserve.

Time per step:
  per layer and micro-batch: matmul + attention FLOPs / (peak * eff) + elementwise bytes /
  (HBM bandwidth * frac) + tensor-parallel collectives (exposed; Megatron 2022 schedules them
  on the critical path, Framework.tp_comm_exposed_frac of it with TE overlap) + context-parallel ring exchange not hidden behind the attention chunk
  + expert-parallel all-to-all (exposed);
  eff = matmul_frac * x/(x + X0) * T/(T + T0), x = d_model/tp (per-GPU GEMM width),
        T = micro_batch*seq_len/cp (GEMM rows): a saturating function of the per-GPU shape;
  pipeline: (m + (pp-1)/vp) * t_device_per_micro_batch  (bubble (pp-1)/(m*vp + pp-1));
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

RECOMPUTE_MODES = ("none", "selective", "full")

# ---- fitted and documented constants (see costsim/core/calibration.py for the fit) ----------
from costsim.core.calibration import (  # noqa: E402
    ELEMENTWISE_BYTES_PER_D,
    FRAMEWORK_RESERVE_BYTES,
    GEMM_ROWS_HALF,
    GEMM_WIDTH_HALF,
    HBM_ACHIEVABLE_FRAC,
)

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


@dataclass(frozen=True)
class Framework:
    """Software-stack behaviour that changes exposed time (not hardware, not layout).

    tp_comm_exposed_frac: share of tensor-parallel collective time on the critical path.
      Megatron-LM 2022 (Korthikanti et al.) issues them between GEMMs: 1.0. Transformer Engine
      userbuffer overlap (Megatron-core / NeMo 2024+, `tp_comm_overlap`) pipelines them with the
      GEMMs: TP_COMM_EXPOSED_FRAC_OVERLAPPED (estimate) -- the default.
    """

    name: str = "megatron-core-2024"
    tp_comm_exposed_frac: float = 0.25


FRAMEWORKS = {
    "megatron-core-2024": Framework("megatron-core-2024", 0.25),
    "megatron-2022": Framework("megatron-2022", 1.0),
}


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
def layers_per_device(m: ModelShape, pp, vp):
    """Layers on the most loaded device: ceil(L / (pp*vp)) per virtual stage, vp stages."""
    pp, vp = _f(pp), _f(vp)
    return np.minimum(np.ceil(m.n_layers / (pp * vp)) * vp, float(m.n_layers))


def params_per_device(m: ModelShape, lay: Layout):
    """(dense, expert) parameters held by the most loaded device before ZeRO sharding."""
    tp, pp, ep = _f(lay.tp), _f(lay.pp), _f(lay.ep)
    ld = layers_per_device(m, pp, lay.vp)
    emb_in = m.input_embedding_params
    head = 0.0 if m.tied_embeddings else m.head_params
    # pp == 1: embedding and head on the same device; pp > 1: first stage (embedding) or last
    # stage (head; Megatron keeps a copy of a tied embedding there too) -- take the larger.
    emb = np.where(pp > 1, max(emb_in, m.head_params), emb_in + head)
    dense = (ld * m.nonexpert_params_per_layer + emb) / tp
    expert = ld * m.expert_params_per_layer / (tp * ep)
    return dense, expert


def activation_bytes_per_layer(m: ModelShape, lay: Layout):
    """Stored activation bytes of one layer for one micro-batch on one GPU (Korthikanti et al.)."""
    tp, cp = _f(lay.tp), _f(lay.cp)
    sp = _f(lay.sequence_parallel) > 0
    r = _f(lay.recompute)
    s = _f(lay.seq_len) / cp
    b = _f(lay.micro_batch)
    h = float(m.d_model)
    sbh = s * b * h
    kvf = m.kv_heads / m.n_heads
    attn_width = m.n_heads * m.head_dim / h
    replicated = 10.0 * sbh
    per_ff = 6.0 if m.gated else 4.0
    sharded = (4.0 + 4.0 * kvf) * sbh * attn_width + per_ff * s * b * m.ffn_width_active
    attn_matrix = 5.0 * m.n_heads * s * attention_span(m, lay.seq_len) * b  # heads x s x S
    rep = np.where(sp, replicated / tp, replicated)
    selective = rep + sharded / tp
    none = selective + attn_matrix / tp
    full_stored = np.where(sp, 2.0 * sbh / tp, 2.0 * sbh)
    return np.where(r >= 2, full_stored, np.where(r >= 1, selective, none)), selective


def num_micro_batches(lay: Layout):
    return _f(lay.global_batch) / (_f(lay.dp) * _f(lay.micro_batch))


def memory_per_gpu(m: ModelShape, lay: Layout) -> dict:
    """Memory breakdown per GPU (bytes) on the most loaded device."""
    tp, pp, cp, ep, dp, vp = (_f(x) for x in (lay.tp, lay.pp, lay.cp, lay.ep, lay.dp, lay.vp))
    z = _f(lay.zero)
    dense, expert = params_per_device(m, lay)
    shard_dense = dp * cp
    shard_expert = np.maximum(dp * cp / ep, 1.0)
    weights = BYTES_WEIGHT * (dense / np.where(z >= 3, shard_dense, 1.0) + expert / np.where(z >= 3, shard_expert, 1.0))
    grads = BYTES_GRAD * (dense / np.where(z >= 2, shard_dense, 1.0) + expert / np.where(z >= 2, shard_expert, 1.0))
    optim = BYTES_OPTIMIZER * (dense / np.where(z >= 1, shard_dense, 1.0) + expert / np.where(z >= 1, shard_expert, 1.0))
    per_layer, working = activation_bytes_per_layer(m, lay)
    mcount = num_micro_batches(lay)
    in_flight = np.minimum(pp, np.maximum(mcount, 1.0))
    interleave = np.where(vp > 1, 1.0 + (pp - 1.0) / (pp * vp), 1.0)
    ld = layers_per_device(m, pp, vp)
    acts = per_layer * ld * in_flight * interleave
    acts = acts + np.where(_f(lay.recompute) >= 2, working, 0.0)  # one layer re-materialized
    logits = BYTES_LOGIT * _f(lay.micro_batch) * _f(lay.seq_len) / cp * m.vocab_size / tp
    total = weights + grads + optim + acts + logits + FRAMEWORK_RESERVE_BYTES
    return {"weights_bytes": weights, "gradients_bytes": grads, "optimizer_bytes": optim,
            "activations_bytes": acts, "logits_bytes": logits,
            "reserve_bytes": np.broadcast_to(FRAMEWORK_RESERVE_BYTES, np.shape(total)).astype(float),
            "total_bytes": total}


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------
def matmul_efficiency(m: ModelShape, hw: HardwareShape, lay: Layout):
    """Achievable fraction of peak: matmul_frac * x/(x+X0) * T/(T+T0) (per-GPU GEMM shape)."""
    x = m.d_model / _f(lay.tp)
    t = _f(lay.micro_batch) * _f(lay.seq_len) / _f(lay.cp)
    return hw.matmul_frac * x / (x + GEMM_WIDTH_HALF) * t / (t + GEMM_ROWS_HALF)


def step_time(m: ModelShape, hw: HardwareShape, lay: Layout, fw: Framework | None = None) -> dict:
    """Step time and its parts (s) for every layout."""
    fw = fw or FRAMEWORKS["megatron-core-2024"]
    tp, pp, cp, ep, dp, vp = (_f(x) for x in (lay.tp, lay.pp, lay.cp, lay.ep, lay.dp, lay.vp))
    mb, r, z = _f(lay.micro_batch), _f(lay.recompute), _f(lay.zero)
    sp = _f(lay.sequence_parallel) > 0
    seq = _f(lay.seq_len)
    d = float(m.d_model)
    tokens = mb * seq / cp  # tokens of one micro-batch on one CP rank (GEMM rows before TP)
    eff = matmul_efficiency(m, hw, lay)
    rate = hw.peak_flop_per_s * eff

    # --- compute per layer per micro-batch on one GPU
    mm_fwd = 2.0 * m.mm_params_per_layer * tokens / tp
    attn_fwd = attention_fwd_flop_per_token_per_layer(m, seq) * tokens / tp
    passes_mm = 3.0 + np.where(r >= 2, 1.0, 0.0)
    passes_attn = 3.0 + np.where(r >= 1, 1.0, 0.0)
    t_mm = (mm_fwd * passes_mm + attn_fwd * passes_attn) / rate
    t_attn_fwd = attn_fwd / rate
    elem_share = np.where(sp, 1.0 / tp, 10.0 / 34.0 + (24.0 / 34.0) / tp)
    elem_bytes = ELEMENTWISE_BYTES_PER_D * d * tokens * elem_share * np.where(r >= 2, 4.0 / 3.0, 1.0)
    t_elem = elem_bytes / (hw.memory_bandwidth_bytes_per_s * HBM_ACHIEVABLE_FRAC)
    t_layer_compute = t_mm + t_elem

    # --- tensor parallel (scale-up domain; enforced by the search)
    act_bytes = BYTES_ACT * tokens * d
    bw_tp, lat_tp = comm.group_bandwidth(tp, 1.0, hw.domain_size, hw.scaleup_bytes_per_s,
                                         hw.scaleout_per_gpu_bytes_per_s, hw.scaleup_latency_s)
    fwd_sets = 1.0 + 1.0 + np.where(r >= 2, 1.0, 0.0)  # fwd + bwd (+ recomputed fwd)
    t_tp_sp = fwd_sets * 4.0 * comm.ring_reduce_scatter_s(act_bytes, tp, bw_tp, lat_tp)
    t_tp_ar = fwd_sets * 2.0 * comm.ring_all_reduce_s(act_bytes, tp, bw_tp, lat_tp)
    t_tp = np.where(sp, t_tp_sp, t_tp_ar) * fw.tp_comm_exposed_frac

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
        t_ep = np.zeros_like(t_tp)

    t_layer = t_layer_compute + t_tp + t_cp + t_ep
    ld = layers_per_device(m, pp, vp)

    # --- LM head + loss on the last stage (no recomputation)
    t_head = 3.0 * 2.0 * m.head_params * tokens / tp / rate

    # --- pipeline point-to-point: vp boundaries per device, fwd activations + bwd gradients
    p2p_bytes = act_bytes / np.where(sp, tp, 1.0)
    bw_pp, lat_pp = comm.group_bandwidth(pp, tp * cp * dp, hw.domain_size, hw.scaleup_bytes_per_s,
                                         hw.scaleout_per_gpu_bytes_per_s, hw.scaleup_latency_s)
    t_p2p = np.where(pp > 1, 2.0 * vp * comm.p2p_s(p2p_bytes, bw_pp, lat_pp), 0.0)

    t_dev_micro = ld * t_layer + t_head + t_p2p
    mcount = num_micro_batches(lay)
    bubble = (pp - 1.0) / vp * t_dev_micro
    t_pipeline = mcount * t_dev_micro + bubble

    # --- data parallel gradient/parameter traffic
    dense, expert = params_per_device(m, lay)
    bw_dp, lat_dp = comm.group_bandwidth(dp * cp, tp, hw.domain_size, hw.scaleup_bytes_per_s,
                                         hw.scaleout_per_gpu_bytes_per_s, hw.scaleup_latency_s)
    edp = np.maximum(dp * cp / ep, 1.0)
    bw_edp, lat_edp = comm.group_bandwidth(edp, tp * ep * cp, hw.domain_size, hw.scaleup_bytes_per_s,
                                           hw.scaleout_per_gpu_bytes_per_s, hw.scaleup_latency_s)
    g_dense, g_exp = BYTES_GRAD * dense, BYTES_GRAD * expert
    t_rs = comm.ring_reduce_scatter_s(g_dense, dp * cp, bw_dp, lat_dp) + comm.ring_reduce_scatter_s(g_exp, edp, bw_edp, lat_edp)
    t_ag = comm.ring_all_gather_s(BYTES_WEIGHT * dense, dp * cp, bw_dp, lat_dp) + comm.ring_all_gather_s(BYTES_WEIGHT * expert, edp, bw_edp, lat_edp)
    t_ar = comm.ring_all_reduce_s(g_dense, dp * cp, bw_dp, lat_dp) + comm.ring_all_reduce_s(g_exp, edp, bw_edp, lat_edp)
    bwd_window = (2.0 / 3.0) * ld * t_layer_compute
    fwd_window = (1.0 / 3.0) * ld * t_layer_compute
    dp_exposed = np.where(z >= 1, np.maximum(0.0, t_rs - bwd_window) + np.maximum(0.0, t_ag - fwd_window),
                          np.maximum(0.0, t_ar - bwd_window))
    dp_total = np.where(z >= 1, t_rs + t_ag, t_ar)
    # ZeRO-3: weights gathered for every micro-batch's forward and backward, prefetched
    z3 = np.where(z >= 3, mcount * np.maximum(0.0, 2.0 * t_ag - t_dev_micro), 0.0)

    # --- optimizer step over the local shard
    shard = np.where(z >= 1, dp * cp, 1.0)
    local = dense / shard + expert / np.where(z >= 1, edp, 1.0)
    t_opt = OPTIMIZER_BYTES_PER_PARAM_TOUCHED * local / (hw.memory_bandwidth_bytes_per_s * HBM_ACHIEVABLE_FRAC)

    total = t_pipeline + dp_exposed + z3 + t_opt
    busy_compute = mcount * (ld * t_layer_compute + t_head) + t_opt
    return {
        "step_time_s": total,
        "compute_time_s": busy_compute,  # GPU busy with math (compute power phase)
        "exposed_comm_time_s": total - busy_compute,  # comm, bubble, waits (low power phase)
        "bubble_time_s": bubble,
        "tp_comm_time_s": mcount * ld * t_tp,
        "cp_comm_time_s": mcount * ld * t_cp,
        "ep_comm_time_s": mcount * ld * t_ep,
        "pp_p2p_time_s": mcount * t_p2p,
        "dp_comm_time_s": dp_total,
        "dp_exposed_time_s": dp_exposed + z3,
        "optimizer_time_s": t_opt,
        "matmul_efficiency_frac": eff,
        "num_micro_batches": mcount,
    }


def evaluate(m: ModelShape, hw: HardwareShape, lay: Layout, fw: Framework | None = None) -> dict:
    """Everything for every layout: FLOPs, memory, time, throughput, MFU, fit mask."""
    mem = memory_per_gpu(m, lay)
    t = step_time(m, hw, lay, fw)
    seq = _f(lay.seq_len)
    n_gpus = _f(lay.tp) * _f(lay.pp) * _f(lay.cp) * _f(lay.dp)
    tokens_per_step = _f(lay.global_batch) * seq
    model_flop = model_flop_per_token(m, seq) * tokens_per_step
    hw_flop = hardware_flop_per_token(m, seq, lay.recompute) * tokens_per_step
    step = t["step_time_s"]
    out = dict(t)
    out.update({
        "memory": mem,
        "memory_per_gpu_bytes": mem["total_bytes"],
        "fits_memory": mem["total_bytes"] <= hw.memory_bytes,
        "num_gpus": n_gpus,
        "tokens_per_step": tokens_per_step,
        "model_flop_per_step": model_flop,
        "hardware_flop_per_step": hw_flop,
        "tokens_per_s": tokens_per_step / step,
        "achieved_flop_per_s_per_gpu": model_flop / step / n_gpus,
        "mfu_frac": model_flop / step / n_gpus / hw.peak_flop_per_s,
        "hfu_frac": hw_flop / step / n_gpus / hw.peak_flop_per_s,
        "compute_util_frac": hw_flop / n_gpus / np.maximum(t["compute_time_s"], 1e-30) / hw.peak_flop_per_s,
    })
    return out
