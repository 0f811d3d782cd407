"""The plain-number shapes the training core prices (costsim.core.training_shapes), built from the catalog specs and a
TrainRequest: the model as the request trains it (LoRA adapters included) and the accelerator with its node and fabric
for one compute datatype (GEMM ceilings, power-limited clocks, low-precision storage and quantization bytes)."""

from __future__ import annotations

import dataclasses
import math

from costsim.core.calibration import (HBM_ACHIEVABLE_FRAC, MATMUL_FRAC_BASIS, accelerator_family, gemm_rows_half,
                                      matmul_frac, training_sustained_frac)
from costsim.core.datatypes import quantize_bytes_per_element, saved_input_bytes_per_element, storage_bytes_per_element
from costsim.core.power import cap_throughput_frac, warm_idle_power_w
from costsim.core.training_shapes import (HOST_LINK_DEFAULT_BYTES_PER_S, NF4_BYTES_PER_WEIGHT, HardwareShape, ModelShape,
                                         lora_params_per_layer)
from costsim.errors import InputError
from costsim.estimators.network import nic_share_bytes_per_s
from costsim.specs.hardware import Accelerator, Node
from costsim.specs.model import ModelSpec
from costsim.specs.requests import TrainRequest


def model_shape(spec: ModelSpec) -> ModelShape:
    return ModelShape(
        n_layers=spec.n_layers, d_model=spec.d_model, n_heads=spec.n_heads, kv_heads=spec.kv_heads, head_dim=spec.hd,
        d_ff=spec.d_ff, gated=spec.gated, vocab_size=spec.vocab_size, tied_embeddings=spec.tied_embeddings,
        n_experts=spec.n_experts, experts_per_token=spec.experts_per_token, n_shared_experts=spec.n_shared_experts,
        n_moe_layers=spec.n_moe_layers, attn_params_per_layer=spec.mixer_params_per_layer,
        norm_params_per_layer=spec.norm_params_per_layer, dense_ffn_params_per_layer=spec.dense_ffn_params_per_layer,
        expert_params=spec.expert_params,
        input_embedding_params=float(spec.vocab_size * spec.d_model + (spec.max_context * spec.d_model if spec.learned_positions else 0)),
        params_total=spec.params_total, sliding_window=spec.sliding_window,
        sliding_window_layer_frac=spec.sliding_window_layer_frac, d_ff_dense=spec.d_ff_dense,
        expert_groups=spec.expert_groups or 0, expert_groups_per_token=spec.expert_groups_per_token or 0,
        linear_layer_frac=spec.linear_attention_layers / spec.n_layers,
        linear_fwd_flop_per_token=spec.linear_prefill_flop_per_token_per_layer,
        sparse_topk=float(spec.sparse_attention_topk) if spec.sparse_attention_topk else math.inf, indexer_flop_per_pair=spec.indexer_layer_frac * spec.indexer_flop_per_pair,
        n_ffn_free_layers=spec.n_ffn_free_layers, shared_expert_params_in=spec.shared_expert_params if spec.is_moe else 0.0,
        moe_latent_dim=spec.moe_latent_dim or 0)


def lora_shape(ms: ModelShape, req: TrainRequest, dropout: bool = True) -> ModelShape:
    """The model shape as the request trains it: with a LoRA run's adapters (ModelShape.lora_rank, lora_ffn or
    lora_modules) and a QLoRA run's packed base (lora_base_bytes), else as is; `dropout`: whether the adapters apply
    dropout (the run's stack's Framework.lora_dropout)."""
    if not req.lora_rank:
        return ms
    targets = req.lora_targets or "attention"
    modules = () if targets in ("attention", "all-linear") else tuple(targets.split(","))
    return dataclasses.replace(ms, lora_rank=int(req.lora_rank), lora_ffn=targets == "all-linear", lora_modules=modules,
                               lora_base_bytes=NF4_BYTES_PER_WEIGHT if req.lora_base_precision == "nf4" else 0.0,
                               lora_dropout=bool(dropout))


def lora_targets_label(ms: ModelShape) -> str:
    """Where a LoRA run's adapters sit, as TrainRequest.lora_targets spells it: attention, all-linear or a module list."""
    return ",".join(ms.lora_modules) if ms.lora_modules else ("all-linear" if ms.lora_ffn else "attention")


def lora_targets_text(targets: str) -> str:
    """Where a LoRA run's adapters sit (TrainRequest.lora_targets, canonical form), in words."""
    return {"all-linear": "every linear layer", "attention": "the attention projections (QKV, output)"}.get(
        targets, f"the {targets.replace(',', ', ')} projections, one adapter each")


def trainable_params(ms: ModelShape) -> float:
    """Parameters that take gradients and optimizer state, whole model: all of them, or a LoRA run's adapters."""
    if ms.lora_rank <= 0:
        return float(ms.params_total)
    a_dense, a_expert = lora_params_per_layer(ms)
    return float(ms.n_layers * (a_dense + a_expert))


def power_cap_compute_frac(acc: Accelerator, power_cap_w: float | None) -> float:
    """Compute-phase throughput under a per-GPU power limit, as a fraction of the throughput at the TDP (1 without a
    cap or with a cap at or above the TDP): costsim.core.power.cap_throughput_frac, compute phase (clock-bound, the
    DVFS model of the power core). A limit at or below the warm-idle power cannot run a training step."""
    if power_cap_w is None:
        return 1.0
    check_power_cap_w(acc, power_cap_w)
    return float(cap_throughput_frac(power_cap_w, acc.tdp_w, acc.idle_w, "compute"))


def check_power_cap_w(acc: Accelerator, power_cap_w: float) -> None:
    """A per-GPU power limit the part accepts and can run under: finite, at most its TDP, above its warm idle (exit 2
    naming the field otherwise)."""
    if not math.isfinite(power_cap_w):
        raise InputError(f"power cap must be a finite number of watts, got {power_cap_w!r}.", field="power_cap_w")
    if power_cap_w > acc.tdp_w:  # nvidia-smi -pl / rocm-smi refuse limits above the board's maximum, the profile's TDP
        raise InputError(f"power cap {power_cap_w:.10g} W is above {acc.id}'s TDP ({acc.tdp_w:g} W), the most the board draws or "
                         f"accepts as a limit: it would change nothing. Give a cap up to {acc.tdp_w:g} W, or none.", field="power_cap_w")
    floor = float(warm_idle_power_w(acc.idle_w, acc.tdp_w))
    if power_cap_w <= floor:
        raise InputError(f"power cap {power_cap_w:.10g} W is at or below {acc.id}'s warm-idle power ({floor:.0f} W): nothing could run. "
                         f"Give a cap between {floor:.0f} W and the TDP ({acc.tdp_w:g} W), or none.", field="power_cap_w")



def _capable(dtype: str, most: int = 0) -> str:
    """The catalog's devices with a tensor-core rate for `dtype`, for a message ('b200, b300, ...'; `most` > 0 keeps
    that many and adds '...'): read from the profiles, so a new part is named without editing the message."""
    from costsim.specs.catalog import accelerators

    ids = sorted(k for k, a in accelerators().items() if a.supports(dtype))
    return ", ".join(ids[:most] + ["..."] if most and len(ids) > most else ids)

def hardware_shape(acc: Accelerator, node: Node | None, precision: str, domain_size: int | None = None,
                   attention_precision: str = "bf16", power_cap_w: float | None = None,
                   lowp_layer_frac: float = 1.0, quant_layouts: int = 2) -> HardwareShape:
    """The accelerator, its node's NICs and its fabric as plain numbers for one compute datatype.
    `domain_size` narrows the scale-up domain (a TPU slice, part of an NVLink rack); `attention_precision`
    fp8 runs the attention core in FP8 (Transformer Engine FP8 dot-product attention); `power_cap_w` a per-GPU power
    limit below the TDP slows the GEMMs and the attention core by power_cap_compute_frac (the sustained-load factor
    times the clock the cap leaves); `lowp_layer_frac` the share of the layers a low-precision run computes in its
    datatype (the rest in bf16); `quant_layouts` the quantized copies an NVFP4 activation needs (2: row-wise for the
    forward / input-gradient GEMM and column-wise for the weight gradient; 1 for a LoRA run's frozen GEMMs, which
    take no weight gradient)."""
    if attention_precision not in ("bf16", "fp8"):
        raise InputError(f"attention precision must be bf16 or fp8, got {str(attention_precision)[:40]!r}.",
                         field="attention_precision")
    if attention_precision == "fp8" and not acc.supports("fp8"):
        raise InputError(f"hardware '{acc.id}' has no FP8 tensor-core rate, so --attention-precision fp8 cannot run on it; "
                         "use bf16 attention, or an FP8-capable device.", field="attention_precision")
    if precision == "fp4" and not acc.supports("fp4"):
        has = [d for d in ("fp8", "bf16") if acc.supports(d)]
        raise InputError(f"hardware '{acc.id}' has no FP4 tensor-core rate, so --precision fp4 cannot run on it; use "
                         f"--precision {' or '.join(has) or 'bf16'} here, or an FP4-capable device ({_capable('fp4')}).",
                         field="precision")
    if precision == "fp8" and not acc.supports("fp8"):
        raise InputError(f"hardware '{acc.id}' has no FP8 tensor-core rate, so --precision fp8 cannot run on it (it would "
                         f"train in bf16); use --precision bf16 here, or an FP8-capable device ({_capable('fp8', most=8)}).",
                         field="precision")
    peak = acc.peak_flop_per_s(precision)
    if peak <= 0:
        raise InputError(f"hardware '{acc.id}' has no peak rate for {precision} or a fallback datatype; choose another --precision.", field="precision")
    peak_bf16 = acc.peak_flop_per_s("bf16")
    dtype = precision if acc.supports(precision) else "bf16"
    # the stored format of an FP4 run: NVFP4 (16-element E4M3 blocks plus a per-tensor scale, an amax pass) on NVIDIA,
    # OCP MXFP4 (32-element E8M0 blocks, no amax pass) on AMD's CDNA 4, the FP4 format its matrix cores and AMD's
    # training stacks run (MLPerf Training's MI350X / MI355X logs: lowest_numerical_precision_linear mxfp4)
    fmt = "mxfp4" if dtype == "fp4" and acc.vendor == "AMD" else dtype
    mamf = mamf_bf16_frac(acc)
    sustained = training_sustained_frac(acc.id, mamf) if acc.efficiency.matmul_frac is None else 1.0
    sustained = sustained * power_cap_compute_frac(acc, power_cap_w)
    frac = sustained * device_matmul_frac(acc, dtype, peak, mamf)
    # attention (FlashAttention), the LM head and (fp4) the high-precision layers stay in bf16
    lowp = dtype in ("fp8", "fp4")
    attn_dtype = "bf16" if lowp and peak_bf16 > 0 else dtype
    attn_peak = peak_bf16 if lowp and peak_bf16 > 0 else peak
    attn_frac = sustained * device_matmul_frac(acc, attn_dtype, attn_peak, mamf)
    if attention_precision == "fp8":
        core_peak = acc.peak_flop_per_s("fp8")
        core_frac = sustained * device_matmul_frac(acc, "fp8", core_peak, mamf)
    else:
        core_peak, core_frac = 0.0, 0.0
    out_per_gpu = nic_share_bytes_per_s(acc, node)
    per_node = node.devices_per_node if node is not None and node.scaleout_bytes_per_s > 0 else acc.scaleup.domain_size
    domain = acc.scaleup.domain_size if domain_size is None else min(int(domain_size), acc.scaleup.domain_size)
    torus = acc.scaleup.torus_dims or 0
    link = (acc.scaleup.link_gb_per_s_per_direction or 0.0) * 1e9
    return HardwareShape(peak_flop_per_s=peak, matmul_frac=frac, memory_bytes=acc.memory_bytes,
                         # the core streams at this x HBM_ACHIEVABLE_FRAC: min(HBM peak x that fraction, DMA engines' rate)
                         memory_bandwidth_bytes_per_s=acc.memory_bandwidth_bytes_per_s * min(1.0, acc.streaming_frac_cap / HBM_ACHIEVABLE_FRAC),
                         scaleup_bytes_per_s=max(acc.scaleup_bytes_per_s, 1e9), scaleup_latency_s=acc.scaleup.latency_s,
                         domain_size=domain, scaleout_per_gpu_bytes_per_s=out_per_gpu, devices_per_node=per_node,
                         gemm_rows_half=gemm_rows_half(acc.id, dtype), bf16_peak_flop_per_s=attn_peak,
                         bf16_matmul_frac=attn_frac, bf16_gemm_rows_half=gemm_rows_half(acc.id, attn_dtype),
                         attention_peak_flop_per_s=core_peak, attention_matmul_frac=core_frac,
                         num_compute_units=float(num_compute_units(acc)),
                         gemm_in_bytes=storage_bytes_per_element(fmt) if lowp else 2.0,
                         lowp_layer_frac=lowp_layer_frac if lowp else 1.0,
                         quant_bytes_per_element=quantize_bytes_per_element(fmt, layouts=quant_layouts) if dtype == "fp4" else 0.0,
                         saved_input_bytes=saved_input_bytes_per_element(fmt) if lowp else 2.0,
                         torus_dims=int(torus) if link > 0 else 0, torus_link_bytes_per_s=link,
                         host_link_bytes_per_s=acc.host_link_bytes_per_s or HOST_LINK_DEFAULT_BYTES_PER_S)


def device_matmul_frac(acc: Accelerator, dtype: str, peak_dtype_flop_per_s: float, mamf: float | None) -> float:
    """costsim.core.calibration.matmul_frac for a catalog device: its bf16 and fp8 datasheet peaks, its profile's
    override and its MAMF measurement (`mamf`, mamf_bf16_frac)."""
    return matmul_frac(acc.id, dtype, peak_dtype_flop_per_s, acc.peak_flop_per_s("bf16"), acc.efficiency.matmul_frac, mamf,
                       acc.peak_flop_per_s("fp8") if acc.supports("fp8") else None)


def training_gemm_ceiling(acc: Accelerator) -> tuple[float, str]:
    """The fraction of the bf16 peak a large training GEMM reaches on `acc` (GEMM ceiling x sustained-load factor,
    before wave quantization and shape effects) and where that number comes from, for catalog display."""
    mamf = mamf_bf16_frac(acc)
    peak = acc.peak_flop_per_s("bf16") or acc.peak_flop_per_s("fp16")
    if acc.efficiency.matmul_frac is not None:
        return acc.efficiency.matmul_frac, "the profile's efficiency.matmul_frac"
    frac = training_sustained_frac(acc.id, mamf) * matmul_frac(acc.id, "bf16", peak, peak, None, mamf)
    fam = accelerator_family(acc.id)
    if fam:
        return frac, MATMUL_FRAC_BASIS.get(fam, "fitted (costsim.core.calibration)")
    if mamf:
        return frac, (f"its measured best BF16 matmul ({mamf * 100:.0f} % of peak) relative to the H100's, "
                      "carried onto the fitted H100 ceiling")
    return frac, ("a default, no fitted value or measured matmul rate for this device (costsim validate lists the "
                  "held-out runs that check it)")


def mamf_bf16_frac(acc: Accelerator) -> float | None:
    """The device's measured maximum achievable BF16 matmul rate as a fraction of its bf16 peak (None: not measured)."""
    mamf, peak = acc.efficiency.mamf_bf16_tflop_per_s, acc.peak_tflop_per_s.bf16
    return mamf / peak if mamf and peak else None


def num_compute_units(acc: Accelerator) -> int:
    """SMs / compute units for GEMM wave quantization: the profile's value or the category default."""
    from costsim.core.matmul import NUM_COMPUTE_UNITS_DEFAULT

    n = acc.efficiency.num_compute_units
    return int(n) if n else NUM_COMPUTE_UNITS_DEFAULT.get(str(acc.category), 132)
