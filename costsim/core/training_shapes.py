"""Plain-number shapes the training core works on (numpy only): the model (`ModelShape`), the
accelerator and its fabric for one compute datatype (`HardwareShape`) and arrays of parallel layouts
(`Layout`). Built from the pydantic specs by costsim.estimators.training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costsim.core import comm
from costsim.core import matmul as mm
from costsim.core.calibration import GEMM_ROWS_HALF

#: device <-> host memory bandwidth per direction where the accelerator profile gives none
#: (Accelerator.host_link_gb_per_s_per_direction), B/s: what pinned-memory copies reach over a PCIe Gen4 x16 link
#: (~25 of its 32 GB/s; Gen5 doubles it). Offloaded activations (Layout.act_offload) move over it
HOST_LINK_DEFAULT_BYTES_PER_S = 25.0e9


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
    expert_groups: int = 0  # group-limited routing (DeepSeek-V3: 8 groups, 4 per token); 0 = none
    expert_groups_per_token: int = 0
    linear_layer_frac: float = 0.0  # share of layers with a linear-attention recurrence (Gated DeltaNet) instead of softmax
    linear_fwd_flop_per_token: float = 0.0  # forward FLOPs per token of one such layer's chunked recurrence
    sparse_topk: float = float("inf")  # DeepSeek Sparse Attention: keys each query attends to (inf = dense attention)
    indexer_flop_per_pair: float = 0.0  # its lightning indexer's forward FLOPs per (query, key) pair, every pair scored
    n_ffn_free_layers: int = 0  # layers with a token mixer and no FFN block (hybrid Mamba models: Nemotron-H)
    shared_expert_params_in: float = 0.0  # one shared expert at d_model (0 = expert_params: no LatentMoE)
    moe_latent_dim: int = 0  # LatentMoE: routed experts' input / output width (0 = d_model)
    # LoRA fine-tuning (Hu et al. 2021): rank of the low-rank adapters trained beside the frozen base weights (0 = every
    # parameter trains); adapters sit on the attention projections (QKV, output), and with lora_ffn also on the FFN and
    # expert GEMMs (QLoRA's all-linear recipe). The base weights then take no weight gradients, gradient traffic or
    # optimizer state (costsim.core.training, costsim.core.training_memory)
    lora_rank: int = 0
    lora_ffn: bool = False
    # LoRA adapters per projection module (the PEFT / torchtune convention: one adapter per q, k, v, o, gate, up, down
    # projection, each with its own A and B; LORA_MODULES) instead of one per fused GEMM (the Megatron / NeMo convention
    # above: linear_qkv, linear_proj, linear_fc1, linear_fc2); empty = the fused convention with lora_ffn
    lora_modules: tuple[str, ...] = ()
    # QLoRA (Dettmers et al. 2023, arXiv 2305.14314): bytes per frozen linear-layer weight when the frozen base is stored
    # in a 4-bit weight-only format that every GEMM pass dequantizes to the compute datatype (NF4 with double
    # quantization: NF4_BYTES_PER_WEIGHT); 0 = the base is held in the compute datatype
    lora_base_bytes: float = 0.0
    # the adapters apply dropout to their input (a kernel and its mask forward and backward: LORA_DROPOUT_BYTES); False
    # where the run's adapter dropout is 0 (torchtune's recipes) and PEFT / NeMo skip the kernel
    lora_dropout: bool = True

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1

    @property
    def head_params(self) -> float:
        """LM head matmul parameters (a real matmul whether tied or not)."""
        return float(self.vocab_size * self.d_model)

    @property
    def n_dense_layers(self) -> int:
        """Layers with a dense FFN (not MoE, not FFN-free)."""
        return self.n_layers - self.n_moe_layers - self.n_ffn_free_layers

    @property
    def shared_expert_params(self) -> float:
        """One shared expert (at d_model; the routed experts' size without LatentMoE)."""
        return self.shared_expert_params_in or self.expert_params

    @property
    def moe_latent_params(self) -> float:
        """LatentMoE's down and up projections of one MoE layer (d_model x latent each, dense); 0 without LatentMoE."""
        return 2.0 * self.d_model * self.moe_latent_dim

    @property
    def moe_width(self) -> float:
        """Values per token the routed experts take in and give out (LatentMoE's latent width, else d_model)."""
        return float(self.moe_latent_dim or self.d_model)

    @property
    def tp_collective_layer_frac(self) -> float:
        """Share of the tensor-parallel collectives of a mixer + FFN layer that the average layer runs (one pair per
        block: a layer without an FFN block runs half; 1 without such layers)."""
        return 1.0 - 0.5 * self.n_ffn_free_layers / self.n_layers

    @property
    def router_params(self) -> float:
        return float(self.d_model * self.n_experts) if self.is_moe else 0.0

    @property
    def mm_params_per_layer(self) -> float:
        """Average active matmul parameters per layer (attention + active FFN/experts + router)."""
        L = self.n_layers
        moe = self.n_moe_layers * (self.experts_per_token * self.expert_params + self.n_shared_experts * self.shared_expert_params
                                   + self.router_params + self.moe_latent_params)
        dense = self.n_dense_layers * self.dense_ffn_params_per_layer
        return self.attn_params_per_layer + (moe + dense) / L

    @property
    def nonexpert_params_per_layer(self) -> float:
        """Average parameters per layer that are not routed experts (replicated over EP)."""
        L = self.n_layers
        moe = self.n_moe_layers * (self.n_shared_experts * self.shared_expert_params + self.router_params + self.moe_latent_params)
        dense = self.n_dense_layers * self.dense_ffn_params_per_layer
        return self.attn_params_per_layer + self.norm_params_per_layer + (moe + dense) / L

    @property
    def nonexpert_linear_params_per_layer(self) -> float:
        """Average non-expert parameters per layer that sit in linear layers (nonexpert_params_per_layer less the norms)."""
        return self.nonexpert_params_per_layer - self.norm_params_per_layer

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


#: LoRA target modules in the PEFT / torchtune naming (ModelShape.lora_modules): the attention's query, key, value and
#: output projections, the FFN's gate, up and down projections (an expert's likewise)
LORA_MODULES = ("q", "k", "v", "o", "gate", "up", "down")
#: bytes per weight of NF4 with double quantization (Dettmers et al. 2023 Sec. 3): 4-bit codes, an 8-bit absmax per block
#: of 64 weights and an fp32 scale per 256 of those absmaxes: 4 + 8/64 + 32/(64 x 256) = 4.127 bits (torchao's
#: NF4Tensor, torchtune's QLoRA: block_size 64, scaler_block_size 256; bitsandbytes' 4-bit with double quantization)
NF4_BYTES_PER_WEIGHT = (4.0 + 8.0 / 64.0 + 32.0 / (64.0 * 256.0)) / 8.0


def linear_gemms(m: ModelShape):
    """Per-layer linear GEMMs as (weight, n_out, k_in, tp-split axis, kind) before parallel splits:
    weight = average count per layer (dense/MoE layer mix), kind 'attn' (the QKV and output projections) | 'dense'
    (FFN, shared experts, LatentMoE projections) | 'expert' (one routed expert's GEMM) | 'router'.
    FLOPs add up to 2 * mm_params_per_layer per token."""
    return [g[:5] for g in _linear_gemms_roles(m)]


def _linear_gemms_roles(m: ModelShape):
    """linear_gemms with each GEMM's role as a sixth entry: 'qkv', 'o', 'up' (the FFN's up, with the gate fused beside it
    when gated), 'down', 'latent' (LatentMoE's projections) or 'router'."""
    d = float(m.d_model)
    q_out = float(m.n_heads * m.head_dim)
    qkv_out = max(m.attn_params_per_layer / d - q_out, 1.0)
    L = float(m.n_layers)
    out = [(1.0, qkv_out, d, "n", "attn", "qkv"), (1.0, d, q_out, "k", "attn", "o")]
    up_share = 2.0 / 3.0 if m.gated else 0.5

    def ffn(params, weight, kind, width=d):
        return [(weight, params * up_share / width, width, "n", kind, "up"),
                (weight, width, params * (1.0 - up_share) / width, "k", kind, "down")]

    if m.n_dense_layers > 0:
        out += ffn(m.dense_ffn_params_per_layer, m.n_dense_layers / L, "dense")
    if m.is_moe and m.n_moe_layers > 0:
        w = m.n_moe_layers / L
        out += ffn(m.expert_params, w, "expert", m.moe_width)
        if m.n_shared_experts:
            out += ffn(m.shared_expert_params, w * m.n_shared_experts, "dense")
        if m.moe_latent_params:  # LatentMoE: d -> latent before dispatch, latent -> d after the combine
            out += [(w, m.moe_width, d, "n", "dense", "latent"), (w, d, m.moe_width, "k", "dense", "latent")]
        out.append((w, float(m.n_experts), d, "none", "router", "router"))
    return out


def _module_widths(m: ModelShape, n_out: float, role: str) -> tuple[float, ...]:
    """Output widths of the per-module adapters (ModelShape.lora_modules) on one GEMM of `role`: the fused QKV GEMM's
    q (heads x head_dim), k and v (the rest, halved); the FFN up GEMM's gate and up (halves when gated; up alone
    otherwise); the output and down projections whole."""
    mods = m.lora_modules
    if role == "qkv":
        q = float(m.n_heads * m.head_dim)
        kv = max(n_out - q, 0.0) / 2.0
        return tuple(w for name, w in (("q", q), ("k", kv), ("v", kv)) if name in mods and w > 0)
    if role == "up":
        if m.gated:
            return tuple(n_out / 2.0 for name in ("gate", "up") if name in mods)
        return (n_out,) if "up" in mods else ()
    if role in ("o", "down"):
        return (n_out,) if role in mods else ()
    return ()


def lora_adapter_widths(m: ModelShape) -> list[tuple[float, ...]]:
    """Per linear GEMM (linear_gemms order), the output widths of the LoRA adapters beside it (empty: none): one adapter
    of the GEMM's own width on the attention projections, and with ModelShape.lora_ffn on the FFN and expert GEMMs (the
    fused convention), or one per adapted projection module (ModelShape.lora_modules); none for a full-parameter run,
    the router or LatentMoE's projections."""
    out = []
    for _, n_out, _, _, kind, role in _linear_gemms_roles(m):
        if m.lora_rank <= 0 or role in ("router", "latent"):
            out.append(())
        elif m.lora_modules:
            out.append(_module_widths(m, n_out, role))
        else:
            out.append((n_out,) if (kind == "attn" or (m.lora_ffn and kind in ("dense", "expert"))) else ())
    return out


def lora_input_kept(m: ModelShape, role: str) -> bool:
    """Whether a LoRA run keeps the input of the frozen GEMM of `role` ('qkv', 'up', 'down') for the backward pass: only
    an adapter beside it reads it (its dA), the frozen weight takes no gradient."""
    for (_, _, _, _, _, r), widths in zip(_linear_gemms_roles(m), lora_adapter_widths(m)):
        if r == role and widths:
            return True
    return False


def lora_params_per_layer(m: ModelShape) -> tuple[float, float]:
    """LoRA adapter parameters per layer, averaged over the layer mix, as (non-expert, routed-expert: all experts):
    r x (k_in + n_out) per adapter (A: k_in x r, B: r x n_out; Hu et al. 2021, arXiv 2106.09685 Sec. 4);
    (0, 0) for a full-parameter run."""
    dense = expert = 0.0
    for (weight, _, k_in, _, kind), widths in zip(linear_gemms(m), lora_adapter_widths(m)):
        p = sum(weight * m.lora_rank * (w + k_in) for w in widths)
        if kind == "expert":
            expert += p * m.n_experts
        else:
            dense += p
    return dense, expert


def lora_active_params_per_layer(m: ModelShape) -> float:
    """LoRA adapter parameters one token runs through per layer (the routed experts' adapters only for its top-k
    experts), averaged over the layer mix; 0 for a full-parameter run."""
    total = 0.0
    for (weight, _, k_in, _, kind), widths in zip(linear_gemms(m), lora_adapter_widths(m)):
        total += sum(weight * m.lora_rank * (w + k_in) for w in widths) * (m.experts_per_token if kind == "expert" else 1.0)
    return total


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
    # the attention core (FlashAttention's QK^T and PV): bf16 unless the stack runs FP8 dot-product attention
    # (Transformer Engine fp8_dpa): its datatype's peak and achievable fraction (0 -> the bf16_* values)
    attention_peak_flop_per_s: float = 0.0
    attention_matmul_frac: float = 0.0
    # GEMM time model (costsim.core.matmul): compute units the output tiles spread over, the fixed
    # in-stream cost per kernel, operand bytes of the compute datatype (fp8: 1)
    num_compute_units: float = 132.0
    kernel_latency_s: float = mm.IN_STREAM_LATENCY_S
    gemm_in_bytes: float = 2.0
    # low-precision training (costsim.core.datatypes): share of the layers whose linear GEMMs run in the compute
    # datatype (1; an NVFP4 recipe keeping layers in bf16, TrainRequest.fp4_bf16_layers, gives those the bf16_* rates),
    # and the HBM bytes to quantize one GEMM operand element (read bf16, write the narrow type and its block scales,
    # amax pass; 0 for bf16/fp16)
    lowp_layer_frac: float = 1.0
    quant_bytes_per_element: float = 0.0
    # bytes per element of a low-precision linear layer's input kept for its backward pass (Transformer Engine
    # saves the quantized copy the weight-gradient GEMM reads, not the bf16 input: fp8 one byte, NVFP4 a row-wise
    # and a column-wise copy with block scales); 2 = bf16 (a bf16/fp16 run). costsim.core.training_memory
    saved_input_bytes: float = 2.0
    # communication fabric beyond the scale-up rate above (costsim.core.comm.Fabric): per-step latency
    # of the scale-out network, and a torus (TPU ICI) instead of a switch: dimensions, per-link rate
    scaleout_latency_s: float = comm.SCALEOUT_LATENCY_S
    torus_dims: int = 0
    torus_link_bytes_per_s: float = 0.0
    # device <-> host memory, per direction (activation offload)
    host_link_bytes_per_s: float = HOST_LINK_DEFAULT_BYTES_PER_S

    @property
    def fabric(self) -> comm.Fabric:
        return comm.Fabric(domain_size=float(self.domain_size), scaleup_bytes_per_s=self.scaleup_bytes_per_s,
                           scaleup_latency_s=self.scaleup_latency_s,
                           scaleout_bytes_per_s=self.scaleout_per_gpu_bytes_per_s,
                           scaleout_latency_s=self.scaleout_latency_s, torus_dims=int(self.torus_dims),
                           torus_link_bytes_per_s=self.torus_link_bytes_per_s)

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
    def attn_core_rate(self) -> float:
        """Peak x achievable fraction of the attention core's datatype, FLOP/s (before ATTENTION_REL_EFF)."""
        if self.attention_peak_flop_per_s and self.attention_matmul_frac:
            return self.attention_peak_flop_per_s * self.attention_matmul_frac
        return self.attn_peak * self.attn_frac

    @property
    def attn_rows_half(self) -> float:
        return self.bf16_gemm_rows_half or self.rows_half


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
    # expert tensor-parallel size: the ranks one expert's weights are split over. 0 = tp (each expert split like
    # the dense layers, experts placed across data-parallel ranks); a divisor of tp below it = Megatron-core's MoE
    # parallel folding (expert_tensor_parallel_size), the expert grid etp x ep x edp laid over the same
    # tp x cp x dp ranks of a stage, so expert parallelism may span tensor- and context-parallel ranks
    etp: np.ndarray | float = 0.0
    # 1: each MoE layer's all-to-all runs while the other micro-batch of a forward/backward pair computes (Megatron-core
    # overlap_moe_expert_parallel_comm, after DeepSeek-V3's DualPipe, arXiv 2412.19437 Sec. 3.2.1); 0: on the critical path
    ep_overlap: np.ndarray | float = 0.0
    # 1: the activations each layer keeps for its backward pass live in host memory (written during the forward pass,
    # read back ahead of the backward: MaxText remat_policy 'offload' of the layer input, Megatron-core / Transformer
    # Engine --cpu-offloading), so the device holds only the few layers in transit (training_memory.OFFLOAD_DEVICE_LAYERS)
    # and the copies ride the host link behind the compute; 0: kept on the device
    act_offload: np.ndarray | float = 0.0
    # full recomputation of only some layers: the layers of each pipeline stage that rerun their forward pass in the
    # backward (Megatron-core recompute_method 'block' with recompute_num_layers N; NeMo ACM=block, ACL=N); 0 = every
    # layer. Only with recompute 2 (full); the other layers keep their activations as without recomputation
    recompute_layers: np.ndarray | float = 0.0

    @classmethod
    def of(cls, **kw) -> "Layout":
        return cls(**{k: np.asarray(v, dtype=float) for k, v in kw.items()})


def full_recompute_frac(lay: Layout, n_max):
    """Share of a stage's layers full recomputation reruns (1 where recompute_layers is 0 or covers the stage; 0 without
    full recomputation): a stage's average layer recomputes this fraction of its forward pass."""
    n = _f(lay.recompute_layers)
    share = np.where(n > 0, np.minimum(n / np.maximum(_f(n_max), 1.0), 1.0), 1.0)
    return np.where(_f(lay.recompute) >= 2, share, 0.0)


def resolve_etp(etp, tp):
    """Expert tensor-parallel sizes with 0 (Layout.etp's 'same as tp') replaced by tp (arrays broadcast)."""
    etp = np.asarray(etp, dtype=float)
    return np.where(etp > 0, etp, np.asarray(tp, dtype=float))


def expert_tp(lay: Layout):
    """The expert tensor-parallel size of every layout (Layout.etp, 0 meaning tp)."""
    return resolve_etp(lay.etp, lay.tp)


def _f(x):
    return np.asarray(x, dtype=float)
