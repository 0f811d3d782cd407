"""Fitted and estimated efficiency parameters of the training-step model (costsim.core.training).

Joint fit (`.venv/bin/python -m costsim.validation.training --fit`, least squares on the log of the
step-time ratio, every parameter at once; issue 14 refit after the physics for sharded data
parallelism, deep pipelines, non-FlashAttention score traffic, TPU tori and 2021 stacks):
  MATMUL_FRAC['a100'] = 0.769, ELEMENTWISE_BYTES_PER_D = 249, MATMUL_FRAC['tpu'] = 0.809,
  TRAINING_SUSTAINED_FRAC['h100'] = 0.838, COMM_OVERLAP_SLOWDOWN_FRAC = 0.461,
  FRAMEWORKS['deepspeed-megatron-2021'].pp_microbatch_overhead_s = 0.0344 s,
  fitted on K22-sel, K175-sel, K530-sel, K1T-sel (Korthikanti et al. 2022 Table 5, A100),
             DGXC405-576 (NVIDIA dgxc-benchmarking, Llama 3.1 405B on 576 H100),
             NAR21-T1-1.7B, NAR21-T1-7.5B (Narayanan et al. 2021 Table 1: small d, tp 1 and 4),
             FOUNDRY-MPT13B-A100-40G-128 (llm-foundry FSDP, FlashAttention, tp 1),
             NAR21-T2-Z3-175B-384 (Narayanan et al. 2021 Table 2, ZeRO-3, 4 sequences per GPU),
             MTNLG-530B-2240 (Smith et al. 2022, 280 nodes), MAXTEXT-V4-22B-1x (MaxText on one v4 slice);
  residuals: -4.3%, +3.8%, -0.4%, 0.0%, 0.0%, +4.6%, -4.0%, -1.4%, -1.9%, +2.4%, 0.0% (in the order
             NAR21-T1-1.7B, NAR21-T1-7.5B, NAR21-T2-Z3-175B-384, MTNLG-530B-2240, MAXTEXT-V4-22B-1x,
             FOUNDRY-MPT13B-A100-40G-128, K22-sel, K175-sel, K530-sel, K1T-sel, DGXC405-576);
  refit (2026-12-04) after GEMM tiles count their padding (costsim.core.matmul.wave_efficiency: an output
  narrower than a tile computes the whole tile); the parameters moved by <= 2.5 %;
  not refit (2026-12-07) after the context-parallel ring's send / receive slow the attention chunk they overlap
  (_overlap_exposed, as every hidden collective): the fit then returns TRAINING_SUSTAINED_FRAC['h100'] 0.8425
  (DGXC405-576 runs CP 2; +0.5 %, inside the 1 % the fit test allows) and the others within 0.1 %; refitting would
  move every H100 row 0.5 % faster and the fits chained on it (TorchTitan's AsyncTP exposure 0.78 -> 0.79);
  checked on every other training_step_time case (held out; costsim/validation/cases/*.yaml say why).
FP8 gain and the H100 GEMM ceiling / row half-saturation points: fitted on the 8192x8192 row of an
H100 kernel measurement (FP8_FRAC_RATIO, GEMM_ROWS_HALF_BY_FAMILY, costsim.core.matmul); the other
measured shapes are held out (validation kind matmul_throughput).
Estimates (not fitted; documented): A100 GEMM row half-saturation, HBM fraction, reserve,
REPLICATED_ELEMENTWISE_BYTES_PER_D (from Korthikanti Table 4), FP4_FRAC_RATIO_VS_FP8.
"""

from __future__ import annotations

# Achievable fraction of the dense bf16/fp16 peak for large, well-shaped GEMMs inside a training
# step (kernel efficiency x clock under load). Keyed by accelerator family (id prefix).
MATMUL_FRAC = {
    "a100": 0.769,  # fitted on whole steps (module docstring); kernels.csv: 70-80% of 312 TFLOP/s
    "h100": 0.835,  # large-shape GEMM ceiling fitted on the H100 kernel measurement (costsim.core.matmul)
    "tpu": 0.809,  # XLA-compiled training step on the MXUs, fitted on MAXTEXT-V4-22B-1x (module docstring)
    # AWS Trainium (trainium1, trainium2: NeuronCores through the Neuron compiler), FITTED on NEURON-TRN1-LLAMA31-70B-512
    # (AWS's published NeuronX Distributed Llama 3.1 70B pre-training on 512 Trn1 chips, -39 % at the 0.75 default, -1 %
    # at 0.426). Held out: the Trn1 Llama 3.1 8B / Llama 2 7B / GPT-3 175B rows (-53 / -36 / -25 % at the default; -26 /
    # +3 / +12 %) and AXLearn's Llama 2 7B on 1,024 Trn2 chips (-56 % -> -32 %)
    "trainium": 0.426,
}
#: where each family's MATMUL_FRAC comes from, in words (catalog display)
MATMUL_FRAC_BASIS = {
    "a100": "fitted on published A100 training runs (Korthikanti et al. 2022, Narayanan et al. 2021, llm-foundry)",
    "h100": "an H100 kernel measurement times a sustained-load factor fitted on a published H100 run (H200 and H800 share it)",
    "tpu": "fitted on a published TPU v4 MaxText run",
    "trainium": "fitted on AWS's published Trn1 NeuronX Distributed Llama 3.1 70B pre-training run (Trn2 shares it)",
}

# Sustained-load factor of a training step relative to an isolated GEMM, where MATMUL_FRAC comes
# from a single-kernel measurement (H100): eight GPUs at their 700 W limit for minutes run below the
# boost clock the isolated kernel sees (H100 SXM boost 1,980 MHz; power-capped sustained clocks are
# lower). Families whose MATMUL_FRAC is fitted on whole steps (a100, tpu) already include it: 1.0.
# FITTED jointly with the step-model parameters (costsim.validation.training.fit) on DGXC405-576.
# Devices priced from a maximum-achievable-matmul measurement (efficiency.mamf_bf16_tflop_per_s) get their own
# sustained-load factor: FITTED (`python -m costsim.validation.training --fit --mamf`, bounded to <= 1) on
# MLPERF51-MI355X-8B-8 (AMD's MLPerf Training v5.1 Llama 3.1 8B on 8 MI355X): the bound binds (unconstrained 1.055,
# residual +4.4 % at 1.0; +3.7 % once FP8 runs all-gather FP8 parameters). Held out: the MI325X Primus rows (-0.7 %,
# -0.2 %), MI355X Mixtral 8x22B (-13 %) (costsim/validation/cases/training_amd_published.yaml) and the Dell /
# Supermicro MI355X MLPerf runs (-0.1 %, training_mlperf51.yaml). The prior tried first, the H100's 0.838, put the
# MI325X rows 16-17 % slow. Physically: a power-managed part reaches its board limit within one large GEMM, so the MAMF
# mean (100 calls after 50 warm-ups) is already taken at the sustained clock (the Azure MI300X table measures
# 16384^3 below 8192^3: measured_azure_gemm.yaml), unlike the H100 kernel measurement.
TRAINING_SUSTAINED_FRAC_MAMF = 1.0
TRAINING_SUSTAINED_FRAC = {"h100": 0.838}  # fitted (module docstring): ~1.65 of the 1.98 GHz boost clock


def training_sustained_frac(accelerator_id: str, mamf_bf16_frac: float | None = None) -> float:
    """Sustained-load factor of a training step: the family's fitted one; a device priced from a MAMF measurement
    (mamf_bf16_frac given, no fitted family) gets TRAINING_SUSTAINED_FRAC_MAMF."""
    fam = accelerator_family(accelerator_id)
    if fam:
        return TRAINING_SUSTAINED_FRAC.get(fam, 1.0)
    return TRAINING_SUSTAINED_FRAC_MAMF if mamf_bf16_frac else 1.0


# Default for hardware without a fitted family: a little below the fitted H100/A100 values
# (an estimate until a calibration case exists for that device).
MATMUL_FRAC_DEFAULT = 0.75
MATMUL_FRAC_SOURCE = ("a100, tpu and trainium fitted on whole training steps, h100 from an H100 kernel measurement times a fitted "
                      "sustained-load factor (costsim.core.calibration); devices with a measured maximum achievable matmul "
                      "rate (efficiency.mamf_bf16_tflop_per_s: MI300X, MI325X, MI350X, MI355X, Gaudi 2, Gaudi 3) the H100 "
                      "ceiling scaled by their MAMF efficiency relative to the H100's; other devices default to 0.75")

# The H100 SXM's maximum achievable BF16 matmul rate on the same shape search as the other devices' profile
# values (efficiency.mamf_bf16_tflop_per_s): 794.5 of 989.4 TFLOP/s (torch 2.7.0+cu126), stas00/ml-engineering
# compute/accelerator/README.md 'Maximum Achievable Matmul FLOPS comparison table' at commit 744d01e18b79
# (2026-08-22, CC BY-SA 4.0). A device's GEMM ceiling = MATMUL_FRAC['h100'] x (its MAMF / its bf16 peak) /
# H100_MAMF_BF16_FRAC: the fitted H100 kernel ceiling carried over by the ratio one benchmark measures on both.
H100_MAMF_BF16_FRAC = 794.5 / 989.4


def mamf_scaled_frac(mamf_bf16_frac: float) -> float:
    """GEMM ceiling (fraction of the bf16 peak) of a device without a fitted family, from its measured MAMF
    efficiency relative to the H100's (capped at 1). It sits above the MAMF share itself: the tile and wave-quantization
    model (costsim.core.matmul) takes the rest at each shape, as it does for the H100's fitted ceiling."""
    return min(1.0, MATMUL_FRAC["h100"] * mamf_bf16_frac / H100_MAMF_BF16_FRAC)

# Elementwise / normalization / softmax / dropout traffic per token per layer, in bytes per unit
# of d_model, forward + backward (memory-bound ops between the GEMMs). Estimate from a byte
# count: forward 2 norms (~8d), 2 residual adds (~12d), activation over d_ff=4d (~24d), dropouts
# and bias adds (~16d) = ~60d bytes; backward ~2x; recomputation and softmax/rope extras ->
# ~300 B per d per token per layer. (A free fit prefers larger values and X0 -> 0 with the same
# residuals, so the byte count is kept and X0 is fitted.)
# Refit (issue 14) once the attention-score traffic of non-FlashAttention stacks got its own term
# (costsim.core.training ATTN_SCORE_BYTES_*) and tp-1 FlashAttention stacks joined the fit: 249 B per
# d per token per layer (PyTorch eager / Megatron kernels; XLA: frameworks.XLA_ELEMENTWISE_BYTES_PER_D).
# It was 1269 when it also had to carry the s x s score traffic of the Korthikanti runs.
ELEMENTWISE_BYTES_PER_D = 249.0

# Of those, the bytes in the region that only sequence parallelism splits over tp (LayerNorms,
# bias-dropout-residual adds): without SP they run on every TP rank in full. Measured: Korthikanti
# et al. 2022 Table 4 (22B layer, tp 8, micro-batch 4 x 2048): sequence parallelism takes the layer from
# 19.6 ms to 19.0 ms (forward + backward); 0.6 ms = rep * d * tokens * (1 - 1/8) / (0.8 x 2.04 TB/s)
# -> 22 B per d per token per layer (a fused-kernel byte count gives ~25-45).
REPLICATED_ELEMENTWISE_BYTES_PER_D = 22.0

# Compute slowdown while a collective overlaps it: NCCL runs its rings as CUDA blocks on the same SMs
# (one block per channel, up to 32 channels) and streams through the same HBM, so overlapped GEMMs
# slow down by a fraction of the overlapped time. FITTED (see the module docstring).
COMM_OVERLAP_SLOWDOWN_FRAC = 0.461  # FITTED on NAR21-T2-Z3-175B-384 (module docstring)

# Host time per local expert, per MoE layer and pass (forward, backward, recomputed forward), of a low-precision (FP8 /
# MXFP8 / NVFP4) expert MLP whose kernels the host launches (costsim.core.frameworks.Framework.moe_expert_launch
# 'host': Transformer Engine's grouped linear layers outside any CUDA graph, after the dispatcher's token-count
# device-to-host sync), during which the GPU waits. FITTED on MB2511-Q30B-B200-8 (Megatron-Bridge 25.11, Qwen3-30B-A3B on
# 8 B200s, MXFP8, 16 local experts, partial CUDA graphs of router and dispatch preprocessing only): 28.19 s published
# against 7.02 s of GPU work, i.e. 21.2 s over 48 layers x 64 micro-batches x 2 passes x 16 experts. Held out: the
# same release's GB200 row (same constant to 1 %: 16 experts, 16 micro-batches), its DeepSeek-V3 B200 row, the 26.06 H100
# FP8 and B300 DeepSeek-V3 / gpt-oss rows and the 26.08 gpt-oss rows, all recipes that leave the expert MLPs to the host
# (costsim/validation/cases/training_megatron_bridge.yaml). BF16 expert MLPs: 0 (the BF16 recipe on 16 H100s with the
# same partial graphs, MBSKILL-Q30B-H100-16-EPOVL-OFF, bounds it below 0.06 ms: its grouped GEMM is one C++ loop of
# launches, without the per-expert quantization kernels and quantized-tensor bookkeeping of the FP8 path). Refit
# 2026-12-06 (2.154e-4 before) once the expert GEMMs wait for the busiest EP rank's multinomial excess
# (MOE_ROUTER_LOAD_CV 'forced': the run's random routing).
MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP = 2.149e-4

# Coefficient of variation of the per-expert routed-row counts of a training run's MoE layers, by how the run balances
# its router (Framework.moe_router_balance; costsim.core.moe_routing.ep_load_factor adds the multinomial spread of
# the micro-batch's tokens and takes the busiest expert-parallel rank). Estimates, not fitted:
#   forced     0     Megatron's moe_router_force_load_balancing (random logits: uniform routing, only the multinomial
#                    spread remains). NVIDIA's published MoE throughput runs set it: Megatron-Bridge
#                    scripts/performance/utils/overrides.py (dropless runs) and its flat recipes' _benchmark_common
#                    ("if num_moe_experts: moe_router_force_load_balancing = True"); NeMo's DeepSeek-V3 H100 scripts
#                    force it with DeepEP and otherwise drop tokens at capacity factor 1.0 (no rank above the mean).
#   aux-loss   0.26  GShard / Switch auxiliary loss: Wang et al. 2024 (arXiv 2408.15664) Table 2, 64 routed experts
#                    top-6, aux-loss coefficient 0.001: MaxVio_global (busiest expert / mean - 1, over the validation
#                    set) 0.72 (1B) and 0.52 (3B); for normal per-expert loads the busiest of 64 sits normal_max_z(64)
#                    = 2.41 standard deviations above the mean, so CV 0.30 and 0.22 (values read from two secondary
#                    summaries of the paper; the per-batch figure, larger, is only plotted).
#   loss-free  0.017 DeepSeek-V3's auxiliary-loss-free bias balancing: same table, MaxVio_global 0.04 -> CV 0.017.
MOE_ROUTER_LOAD_CV = {"forced": 0.0, "aux-loss": 0.26, "loss-free": 0.017}

# Saturating per-GPU GEMM shape: eff = frac * x/(x+X0) * T/(T+T0) with x = d_model/tp and
# T = micro_batch*seq_len/cp rows. X0 fitted on K*-sel + DGXC405-576 (the MFU rise from the 22B
# to the 1T shape at tp=8). T0 is an estimate: kernels.csv (vidur, A100) shows a 512-row MLP
# already at ~74% of peak, so the row half-saturation point is small.
GEMM_WIDTH_HALF = 348.0
GEMM_ROWS_HALF = 32.0

# Achievable fraction of peak HBM bandwidth for streaming elementwise kernels
# (kernels.csv: A100 weight streaming at 76% of 2.04 TB/s; H100 at 84% of 3.35 TB/s).
HBM_ACHIEVABLE_FRAC = 0.8

# Memory the framework keeps for itself: CUDA context, NCCL buffers, allocator fragmentation
# (estimate: PyTorch + NCCL typically 2-4 GB on an 80 GB device).
FRAMEWORK_RESERVE_BYTES = 3.0e9

# FP8 linear-layer GEMMs (Transformer Engine / torch._scaled_mm), measured on one H100 SXM
# (costsim/data/measurements/h100_sxm_gpu_calibration_2026-11-27.json, 2026-11-27):
# 8192^3: bf16 755 TFLOP/s (76.3% of 989.4), fp8 1275 TFLOP/s (64.4% of 1978.9) -> the fp8
# large-GEMM fraction is 0.844 x the bf16 one (1.69x the bf16 speed, not 2x). Smaller GEMMs gain
# less because fp8 needs more rows to saturate: T0 below (M=512: 1.46x, M=128: 1.30x measured).
# Only the linear layers speed up: attention (FlashAttention, bf16), the LM head, elementwise
# ops and communication keep their bf16 time (costsim.core.training.step_time).
FP8_FRAC_RATIO = (1275.0 / 1978.9) / (755.0 / 989.4)  # 0.844, measured (fitted on the 8192x8192 row)
# FP4 (NVFP4) GEMMs: no kernel measurement in this project yet. ESTIMATE: the fp4/fp8 ceiling ratio
# equals the measured fp8/bf16 one (each halving of the operand width keeps 84% of the ideal 2x),
# i.e. 1.69x over fp8 at large shapes where the FP4 peak is 2x the FP8 one (B200, GB200, MI355X), and
# 3 x 0.844 = 2.53x on Blackwell Ultra (B300, GB300), whose FP4 peak is 3x its FP8 peak: NVIDIA quotes
# "up to 3x over FP8 on GB300" (arXiv 2509.25149); matmul_frac takes the datasheet fp4/fp8 ratio (the
# serving core prices FP4 from the FP4 datasheet peak alike). Checked (held out): GB300 NVFP4 405B
# Megatron-Bridge and MLPerf rows +32 / +31 % -> +14 / +14 %, B300 NVFP4 8B +26 -> +15 %.
FP4_FRAC_RATIO_VS_FP8 = FP8_FRAC_RATIO
FP8_SOURCE = ("fp8/bf16 GEMM throughput measured on one H100 SXM (costsim/data/measurements/"
              "h100_sxm_gpu_calibration_2026-11-27.json): 1.69x at 8192^3, less for small GEMMs")

# GEMM row half-saturation T0 (tokens) by accelerator family and datatype.
#  h100 bf16 153, fp8 266: least squares on the N=K=8192 row (M = 512..16384) of the H100
#    measurement above (used_for_fit in costsim/validation/cases/measured_h100_gemm.yaml; the other
#    shapes there are held out).
#  a100 32: kernels.csv (vidur, A100): a 512-row MLP already at ~74% of peak (estimate).
GEMM_ROWS_HALF_BY_FAMILY = {
    ("h100", "bf16"): 153.0, ("h100", "fp16"): 153.0, ("h100", "fp8"): 266.0,
    ("a100", "bf16"): 32.0, ("a100", "fp16"): 32.0,
}
GEMM_ROWS_HALF_FP8_FACTOR = 266.0 / 153.0  # fp8 T0 / bf16 T0 where only bf16 is known (H100 ratio)


#: parts that share a measured family's die, SM count and power limit: the H200 and H800 SXM are GH100 with the
#: H100 SXM's 132 SMs and 700 W (the H200 with HBM3e, the H800 with less NVLink). Checked on the H200: its GEMMs
#: measured on a lent H200 (costsim/validation/cases/measured_h200.yaml, held out) at 741 vs the H100's 755 TFLOP/s
#: bf16 at 8192^3. GH200's GPU is the same die and clocks (132 SMs, 1,980 MHz; NVIDIA's GH200 datasheet) with a 900 W limit:
#: its measured best BF16 matmul, 828.6 TFLOP/s (ml-engineering's MAMF table), is 4 % above the H100 SXM's 794.5
FAMILY_ALIASES = {"h200": "h100", "h800": "h100", "gh200": "h100"}


def accelerator_family(accelerator_id: str) -> str | None:
    """The fitted family an accelerator id belongs to (h100 for h100-sxm, h200, h800, gh200-*; a100; tpu), or None."""
    for prefix, fam in FAMILY_ALIASES.items():
        if accelerator_id.startswith(prefix):
            return fam
    for prefix in MATMUL_FRAC:
        if accelerator_id.startswith(prefix):
            return prefix
    return None


def gemm_rows_half(accelerator_id: str, dtype: str) -> float:
    """Row half-saturation T0 of the GEMM-shape function for this accelerator and datatype."""
    fam = accelerator_family(accelerator_id)
    if fam is not None and (fam, dtype) in GEMM_ROWS_HALF_BY_FAMILY:
        return GEMM_ROWS_HALF_BY_FAMILY[(fam, dtype)]
    if fam is None:  # no measurement for this device: the H100 values (a current-generation GPU; estimate)
        return GEMM_ROWS_HALF_BY_FAMILY.get(("h100", dtype), GEMM_ROWS_HALF_BY_FAMILY[("h100", "bf16")])
    base = GEMM_ROWS_HALF_BY_FAMILY.get((fam, "bf16"), GEMM_ROWS_HALF)
    return base * (GEMM_ROWS_HALF_FP8_FACTOR if dtype == "fp8" else 1.0)


def matmul_frac(accelerator_id: str, dtype: str, peak_dtype_flop_per_s: float, peak_bf16_flop_per_s: float,
                profile_override: float | None = None, mamf_bf16_frac: float | None = None,
                peak_fp8_flop_per_s: float | None = None) -> float:
    """Achievable fraction of the `dtype` peak for large GEMMs (bf16 fraction x the measured fp8
    ratio for fp8, capped at the measured wall-clock gain where the datasheet ratio is not 2x).
    The bf16 fraction: the profile's override, else the fitted family's, else the H100's scaled by the device's
    measured MAMF efficiency (`mamf_bf16_frac` = MAMF / bf16 peak), else MATMUL_FRAC_DEFAULT."""
    base = profile_override
    if base is None:
        fam = accelerator_family(accelerator_id)
        if fam:
            base = MATMUL_FRAC[fam]
        elif mamf_bf16_frac:
            base = mamf_scaled_frac(mamf_bf16_frac)
        else:
            base = MATMUL_FRAC_DEFAULT
    if dtype in ("fp8", "fp4") and peak_dtype_flop_per_s > 0 and peak_bf16_flop_per_s > 0:
        # measured on H100: fp8 reaches FP8_FRAC_RATIO x the bf16 fraction of its (2x) peak, i.e.
        # a wall-clock gain of 2 * FP8_FRAC_RATIO; on other devices the same wall-clock gain.
        # fp4: one more halving of the operand width at the same loss (FP4_FRAC_RATIO_VS_FP8)
        # fp4 over fp8: the datasheet ratio where the part publishes both (Blackwell Ultra: 3x, B200 / MI355X: 2x),
        # at the same per-halving loss; the serving core prices FP4 from the FP4 datasheet peak the same way
        fp4_over_fp8 = (peak_dtype_flop_per_s / peak_fp8_flop_per_s if dtype == "fp4" and peak_fp8_flop_per_s
                        and peak_dtype_flop_per_s > peak_fp8_flop_per_s else 2.0)
        # the wall-clock gain follows the part's own datasheet ratio: a part whose FP8 rate equals its BF16 rate (Intel
        # Gaudi 3: 1,835 TFLOP/s both) gains nothing in its GEMMs, and no step of the chain runs slower than the type
        # before it (a stack would keep that type)
        fp8_over_bf16 = (peak_dtype_flop_per_s if dtype == "fp8" else (peak_fp8_flop_per_s or peak_dtype_flop_per_s / 2.0)) \
            / peak_bf16_flop_per_s
        gain = max(1.0, fp8_over_bf16 * FP8_FRAC_RATIO) * (max(1.0, fp4_over_fp8 * FP4_FRAC_RATIO_VS_FP8) if dtype == "fp4" else 1.0)
        return min(1.0, base * gain * peak_bf16_flop_per_s / peak_dtype_flop_per_s)
    return base
