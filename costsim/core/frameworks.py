"""Training software stacks: what a framework can do (layout options) and how it schedules
communication (what stays exposed). Plain data, no hardware, no layout.

A framework changes the step time through mechanisms, never through a speed factor:
  * which layout options exist (recompute modes, ZeRO stages, interleaved pipeline, sequence
    parallelism) -- the search only considers what the stack could run;
  * FlashAttention or not: without it the s x s attention scores are written, soft-maxed, dropped
    out and read back through HBM (costsim.core.training: ATTN_SCORE_BYTES) and stored for backward
    (costsim.core.training_memory);
  * how much of the tensor-parallel collectives overlaps the GEMMs;
  * whether the data-parallel gradient reduction overlaps the backward pass or runs after the
    pipeline flush, and in which datatype it travels;
  * pipeline point-to-point with or without the scatter/gather trick (Narayanan et al. 2021 Sec. 4.1);
  * how many collective calls ZeRO-2/3 issues per layer (each call pays the ring latency, which grows
    with the number of ranks).
"""

from __future__ import annotations

from dataclasses import dataclass


# XLA fuses normalization, activation and residual ops into the matmul prologues/epilogues, so far
# fewer bytes per token go through HBM than with PyTorch eager kernels. ESTIMATE from a byte count of
# what stays unfused per layer (two RMSNorms ~24 B/d fwd+bwd, two residual adds ~24, rope/softmax
# statistics and the remat of both ~40, per token): ~120 B per d_model per token per layer, fwd+bwd.
# torch.compile (Inductor) fuses the same chains into Triton kernels around the GEMMs: the same estimate.
XLA_ELEMENTWISE_BYTES_PER_D = 120.0
# torchtune's CEWithChunkedOutputLoss (num_output_chunks 8): the LM head writes its bf16 logits (2 B each) as 8 chunks and
# the loss upcasts one chunk at a time to fp32 (4 B per logit of that chunk): 2 + 4 / 8 B per logit held from the head
# to the loss backward (pytorch/torchtune torchtune/modules/loss/ce_chunked_output_loss.py)
TORCHTUNE_LOGIT_BYTES = 2.0 + 4.0 / 8.0


@dataclass(frozen=True)
class Framework:
    """Software-stack behaviour that changes exposed time or the layouts on offer.

    tp_comm_exposed_frac: share of the tensor-parallel collective time on the critical path (1.0:
      issued between the GEMMs, Megatron-LM <= 2022; 0.25: Transformer Engine userbuffer overlap,
      Megatron-core/NeMo 2024+, estimate).
    flash_attention: scores never materialized (Dao et al. 2022); False: Megatron-LM 2021/2022 fused
      scale-mask-softmax + dropout over the full score matrix.
    sequence_parallel: the stack has Megatron sequence parallelism (Korthikanti et al. 2022).
    recompute_modes / zero_stages: the options the stack offers (0 none, 1 selective, 2 full; ZeRO 0..3).
    interleaved_pipeline: virtual pipeline stages (Narayanan et al. 2021); DeepSpeed's pipeline engine
      runs plain 1F1B only.
    context_parallel / expert_parallel: the stack splits sequences (Megatron-core context parallelism,
      2024) / places experts on different ranks (MoE expert parallelism).
    pp_scatter_gather: a stage boundary sends 1/tp of the activation per GPU and all-gathers it over
      NVLink (Narayanan et al. 2021 Sec. 4.1); otherwise every TP rank sends the whole activation.
    dp_overlap: ZeRO-0/1 gradient reduction bucketed behind the last micro-batch's backward and the
      parameter all-gather behind the first forward; False: both after the pipeline flush.
    grad_reduce_bytes: bytes per gradient element in the data-parallel reduction (fp32 main grads: 4).
    zero_calls_per_layer: ZeRO-2/3 collective calls per layer and pass (PyTorch FSDP and Megatron-core:
      one flat buffer per layer; DeepSpeed ZeRO-3 2021 fetches per parameterized submodule).
    zero_hierarchical: ZeRO-2/3 collectives use the whole node's NICs (NCCL rings through a node's
      devices, or hierarchical ICI-then-DCN); False: every rank's share crosses the network through
      its own NIC share (vanilla ZeRO-3 over all ranks, MiCS (Zhang et al. 2022, VLDB) Sec. 2.2, 3.3).
    zero_shard_within_domain: ZeRO-3 shards only within a scale-up domain (a TPU slice: FSDP over ICI)
      and replicates across domains (data parallelism over DCN, one gradient all-reduce per step);
      PyTorch HYBRID_SHARD / MiCS likewise.
    grad_accum_bytes_per_param: HBM bytes per local parameter per micro-batch to accumulate gradients
      (0: wgrad GEMMs accumulate straight into fp32 main grads, Megatron's gradient-accumulation
      fusion; 10: an autograd hook adds the bf16 gradient into an fp32 buffer: read 2 + 4, write 4).
    pp_microbatch_overhead_s: fixed time per micro-batch per pipeline stage outside kernels and
      transfers (instruction scheduling, blocking handshakes of the P2P implementation).
    elementwise_bytes_per_d: HBM bytes per d_model per token per layer of the non-GEMM kernels when
      the stack fuses them differently from PyTorch/Megatron (XLA fuses elementwise ops into matmul
      prologues/epilogues); None: calibration.ELEMENTWISE_BYTES_PER_D.
    reserve_bytes: memory the runtime keeps for itself; None: calibration.FRAMEWORK_RESERVE_BYTES.
    zero3_live_layers: layers of gathered (unsharded) weights alive at once under ZeRO-3.
    lowp_param_gather: FP8 / NVFP4 training keeps a low-precision copy of the linear layers' weights and the
      distributed optimizer (or FSDP) all-gathers that copy (Megatron-core fp8_param_gather / fp4_param_gather, set
      by every FP8 and NVFP4 recipe of Megatron-Bridge and by MLPerf's NeMo configs); False: bf16 parameters.
    selective_saves: what 'selective' recomputation keeps per layer, and so what it recomputes. "megatron":
      Korthikanti et al.'s selective layout (LayerNorm inputs, dropout masks, attention and MLP inputs; the attention
      core recomputed).
      "xla-dots": JAX's checkpoint_dots_with_no_batch_dims policy (MaxText remat_policy 'minimal'): the outputs of
      the weight matmuls the backward needs (Q, K, V, attention output projection, FFN up/gate; the down
      projection's output only feeds the residual add) and the layer input are kept, every one sharded over the
      tensor axis by GSPMD; norms, activations and the attention core (a flash kernel, not a dot) are
      recomputed, and there are no dropout masks. "torch-op-sac": TorchTitan's per-op selective activation
      checkpointing (ac_mode selective, selective_ac_option 'op'): the outputs of every other matmul, of the SDPA
      attention kernel and the layer input are kept; the other half of the matmuls and every elementwise op are
      recomputed in the backward pass, the attention core is not.
    moe_parallel_folding: the stack lays the MoE layers' expert grid (expert tensor parallel x expert parallel x expert
      data parallel) over the attention layers' tp x cp x dp ranks independently (Megatron-core's
      expert_tensor_parallel_size, Liu et al. 2025, arXiv 2504.14960), so an expert may be split over fewer ranks than
      tp (etp 1 under tp 2) and expert parallelism may span tensor- and context-parallel ranks.
    moe_a2a_overlap: the stack can run a MoE layer's dispatch / combine all-to-all while another micro-batch computes
      (forward of one interleaved with backward of the other: Megatron-core overlap_moe_expert_parallel_comm, 2025,
      after DeepSeek-V3's DualPipe); not with full recomputation.
    moe_dispatch: how the expert all-to-all moves tokens. "all-to-all": one copy per (token, expert) straight to the
      expert's rank (Megatron-core's alltoall dispatcher, the 2024 stacks). "deduplicated": one copy per (token, other
      scale-up domain holding its experts) over the network, fanned out inside the domain (DeepEP, Megatron-core's
      'flex' dispatcher with the DeepEP or HybridEP backend, 2025); a request's ep_dispatcher sets it.
    moe_expert_launch: how a MoE layer's expert MLP kernels start. "device": captured in a CUDA graph with a
      device-initiated grouped GEMM that reads the tokens per expert from GPU memory (Megatron-core full-iteration
      graphs with paged stashing, Megatron-Bridge's 2026 MXFP8 recipes), so no host work per expert. "host": launched
      by the host once per layer and pass after the dispatcher's token-count device-to-host sync (eager MoE layers, or
      Transformer Engine graphs of only attention, router and dispatch preprocessing: Megatron-Bridge's recipes up to
      25.11 and several 2026 ones), so a low-precision expert MLP keeps the GPU waiting
      calibration.MOE_HOST_LAUNCH_S_PER_LOCAL_EXPERT_LOWP per local expert (its quantization kernels and quantized
      tensors are set up per expert); a request's moe_expert_launch sets it.
    moe_router_balance: how the run keeps its MoE router's load even, which sets how much busier than the mean the
      busiest expert-parallel rank is in each MoE layer (calibration.MOE_ROUTER_LOAD_CV): "forced" (Megatron's
      moe_router_force_load_balancing, random routing: what NVIDIA's published throughput runs set), "aux-loss"
      (a GShard / Switch auxiliary loss: real pre-training of most MoE models) or "loss-free" (DeepSeek-V3's bias
      balancing). A request's moe_router_balance sets it.
    dp_bucket_params: parameters per data-parallel gradient bucket, i.e. per reduce-scatter / all-gather call of the
      distributed optimizer (the run's ddp bucket_size after Megatron closes each bucket at the first parameter that
      reaches it); None = Megatron-core's default, max(40M, 1M x dp x cp). A request's dp_bucket_params
      sets it.
    activation_offload / activation_offload_searched: the stack can keep the activations each layer saves for its
      backward pass in host memory (MaxText's remat_policy 'offload' targets, Megatron-core / Transformer Engine
      --cpu-offloading) / the layout search tries it (on TPU slices, where MaxText's large-model recipes offload the
      layer inputs); a request's activation_offload picks it on a stack that has it.
    logit_bytes: HBM bytes per logit the stack holds from the LM head to the loss backward; None =
      training_memory.BYTES_LOGIT (bf16 logits + the fp32 copy the loss upcasts, Megatron / PyTorch). XLA fuses the
      loss's fp32 arithmetic into its reductions and keeps the bf16 logits and their bf16 gradient: 4.
    dropout_masks: the stack's runs train with dropout unless told otherwise, so each layer stores two 1-byte masks of
      s x b x h for the backward (Korthikanti et al.'s memory accounting). True for the Megatron stacks: Megatron-LM's
      argument defaults are --hidden-dropout 0.1 and --attention-dropout 0.1. False where the stack's models or scripts
      have no dropout: TorchTitan's Llama, MaxText (dropout_rate 0), llm-foundry's MPT configs (attn/resid pdrop 0),
      Habana's MLPerf GPT-3 run_gpt.sh (DROPOUT=0.0). A request's dropout sets it for its own run (Megatron-Bridge and
      NeMo Llama recipes set both dropouts to 0).
    cp_comm_type: how context parallelism exchanges the sequence. "p2p" (Megatron-core's default ring: K/V chunks pass
      rank to rank, each hidden behind one chunk of attention) or "a2a" (DeepSpeed-Ulysses style, Megatron-core
      cp_comm_type a2a, the default of NeMo's MLPerf LoRA configs: an all-to-all turns sequence-sharded Q, K, V into
      head-sharded ones before the attention core and one turns its output back; the backward pass mirrors them. The
      attention core needs every head's whole sequence, so nothing hides them). A request's cp_comm_type sets it.
    lora_dropout: a LoRA run's adapters apply dropout to their input by default (MLPerf's NeMo LoRA reference: 0.1);
      False where the stack's recipes set it to 0 (torchtune's LoRA and QLoRA configs: lora_dropout 0.0). A request's
      lora_dropout sets it.
    pipeline_parallel: the stack can split the layers into pipeline stages (torchtune cannot: FSDP and tensor parallelism
      only).
    optimizer_state_bytes: bytes per trained parameter of optimizer state; None = training_memory.BYTES_OPTIMIZER (12:
      an fp32 master copy and Adam's fp32 m and v beside bf16 weights, mixed-precision training). 4: Adam's m and v in
      bf16 beside bf16 weights updated in place, no master copy (torchtune's dtype bf16 recipes with torch.optim.AdamW,
      whose state takes the parameters' dtype). The optimizer step then touches 2 x this + 6 bytes per parameter.
    act_fn_fp8_input_store: the FFN's activation function keeps its input for the backward pass in FP8 (1 byte per
      element instead of 2; Megatron-core activation_func_fp8_input_store, NeMo FP8_ACT=1) in an fp8 / fp4 run; memory
      only. A request's fp8_activation_store sets it.
    """

    name: str = "megatron-core-2024"
    tp_comm_exposed_frac: float = 0.25
    flash_attention: bool = True
    sequence_parallel: bool = True
    recompute_modes: tuple[int, ...] = (0, 1, 2)
    zero_stages: tuple[int, ...] = (0, 1, 2, 3)
    interleaved_pipeline: bool = True
    context_parallel: bool = True
    expert_parallel: bool = True
    pp_scatter_gather: bool = True
    dp_overlap: bool = True
    grad_reduce_bytes: float = 2.0
    zero_calls_per_layer: float = 1.0
    zero_hierarchical: bool = True
    zero_shard_within_domain: bool = False
    grad_accum_bytes_per_param: float = 0.0
    pp_microbatch_overhead_s: float = 0.0
    elementwise_bytes_per_d: float | None = None
    reserve_bytes: float | None = None
    zero3_live_layers: float = 2.0
    lowp_param_gather: bool = False
    selective_saves: str = "megatron"
    moe_parallel_folding: bool = False
    moe_a2a_overlap: bool = False
    moe_dispatch: str = "all-to-all"
    moe_expert_launch: str = "device"
    moe_router_balance: str = "forced"
    dp_bucket_params: float | None = None
    dropout_masks: bool = False
    cp_comm_type: str = "p2p"
    act_fn_fp8_input_store: bool = False
    activation_offload: bool = False
    activation_offload_searched: bool = False
    pipeline_parallel: bool = True
    optimizer_state_bytes: float | None = None
    lora_dropout: bool = True
    logit_bytes: float | None = None
    source: str = ""
    year: int = 2024

    def supports(self, dim: str, value: int) -> bool:
        if dim == "recompute":
            return int(value) in self.recompute_modes
        if dim == "zero":
            return int(value) in self.zero_stages
        if dim == "vp":
            return self.interleaved_pipeline or int(value) == 1
        if dim == "cp":
            return self.context_parallel or int(value) == 1
        if dim == "pp":
            return self.pipeline_parallel or int(value) == 1
        if dim == "ep":
            return self.expert_parallel or int(value) == 1
        if dim == "folding":  # an expert tensor-parallel size below tp
            return self.moe_parallel_folding or not value
        if dim == "ep_overlap":
            return self.moe_a2a_overlap or not value
        if dim == "act_offload":
            return self.activation_offload or not value
        return True


FRAMEWORKS: dict[str, Framework] = {
    "megatron-core-2024": Framework(
        "megatron-core-2024", 0.25, True, lowp_param_gather=True, moe_parallel_folding=True, moe_a2a_overlap=True,
        dropout_masks=True, activation_offload=True,
        source="Megatron-core / NeMo 24.x with Transformer Engine (TP comm overlap, FlashAttention, distributed optimizer "
               "with overlapped grad reduce-scatter and param all-gather); ZeRO-2/3 as PyTorch FSDP2 / Megatron-core FSDP "
               "(one flat buffer per layer)",
        year=2024),
    "megatron-2022": Framework(
        "megatron-2022", 1.0, False, zero_stages=(0, 1), dp_overlap=False,
        context_parallel=False, expert_parallel=False, dropout_masks=True,
        source="Megatron-LM as measured by Korthikanti et al. 2022 (arXiv 2205.05198): sequence parallelism and selective "
               "recomputation, no FlashAttention, TP collectives between GEMMs",
        year=2022),
    "megatron-2021": Framework(
        "megatron-2021", 1.0, False, sequence_parallel=False, recompute_modes=(0, 2), zero_stages=(0,), dp_overlap=False,
        grad_reduce_bytes=4.0, grad_accum_bytes_per_param=10.0,
        context_parallel=False, expert_parallel=False, dropout_masks=True,
        source="Megatron-LM PTD-P as measured by Narayanan et al. 2021 (SC21, arXiv 2104.04473): interleaved 1F1B, "
               "scatter/gather P2P, fused kernels, full activation recomputation only (selective recomputation and sequence "
               "parallelism arrived in 2022), no distributed optimizer, fp32 main-grad all-reduce after the pipeline flush; "
               "each micro-batch's fp16 gradients added into the fp32 main_grad by a hook (local DDP; the wgrad GEMM "
               "accumulating in place, gradient-accumulation fusion, came with Megatron-LM 3.0 in 2022)",
        year=2021),
    "deepspeed-megatron-2021": Framework(
        "deepspeed-megatron-2021", 1.0, False, sequence_parallel=False, recompute_modes=(0, 2), zero_stages=(0, 1),
        interleaved_pipeline=False, pp_scatter_gather=False, dp_overlap=False, grad_accum_bytes_per_param=10.0,
        pp_microbatch_overhead_s=0.0344,  # FITTED on MTNLG-530B-2240 (costsim.core.calibration docstring)
        context_parallel=False, expert_parallel=False, dropout_masks=True,
        source="Megatron-DeepSpeed 3D parallelism (MT-NLG, Smith et al. 2022 arXiv 2201.11990; BLOOM, bigscience tr11): "
               "DeepSpeed PipelineEngine (plain 1F1B, whole activations sent by every TP rank, gradient reduction after the "
               "flush), Megatron tensor parallelism, ZeRO-1",
        year=2021),
    "deepspeed-zero3-2021": Framework(
        "deepspeed-zero3-2021", 1.0, False, sequence_parallel=False, recompute_modes=(0, 2), zero_calls_per_layer=6.0,
        zero_hierarchical=False,
        context_parallel=False, expert_parallel=False, dropout_masks=True,
        source="DeepSpeed ZeRO-3 without model parallelism as compared by Narayanan et al. 2021 Table 2: parameters fetched "
               "per parameterized submodule (2 LayerNorms, QKV, attention output, FC1, FC2 = 6 collectives per layer and "
               "pass), gradients reduce-scattered per micro-batch",
        year=2021),
    "fsdp-2023": Framework(
        "fsdp-2023", 1.0, True, sequence_parallel=False, recompute_modes=(0, 2), zero_stages=(2, 3),
        context_parallel=False, expert_parallel=False,
        source="PyTorch FSDP (FULL_SHARD / SHARD_GRAD_OP, one FlatParameter per transformer block, backward prefetch) with "
               "FlashAttention and full activation checkpointing: MosaicML llm-foundry / Composer benchmarks 2023",
        year=2023),
    "xla-tpu": Framework(
        "xla-tpu", 0.25, True, zero_calls_per_layer=4.0, zero_shard_within_domain=True, reserve_bytes=1.0e9,
        zero3_live_layers=1.0, elementwise_bytes_per_d=XLA_ELEMENTWISE_BYTES_PER_D, selective_saves="xla-dots",
        activation_offload=True, activation_offload_searched=True, logit_bytes=4.0,
        source="JAX/XLA on TPU (MaxText, Pathways/PaLM): GSPMD sharding, FSDP as ZeRO-3 with XLA async all-gathers per "
               "weight (~4 per layer after fusion), hierarchical ICI-then-DCN collectives, splash/flash attention; "
               "selective recomputation is MaxText's remat_policy 'minimal' (jax checkpoint_dots_with_no_batch_dims, "
               "google/maxtext MaxText/layers/models.py); activation offload is its remat_policy 'offload' targets "
               "(decoder_layer_input=offload in the TPU7x recipes, AI-Hypercomputer/tpu-recipes training/ironwood); "
               "logits at 4 bytes each, bf16 values and bf16 gradient (the TPU7x gpt-oss-120b recipe, 20 sequences of "
               "8,192 tokens per chip over a 201,088-entry vocabulary, fits its 192 GiB only so)",
        year=2023),
    "torchtitan-2024": Framework(
        # AsyncTP hides only part of the tensor-parallel collectives: tp_comm_exposed_frac FITTED on TT-70B-256-2D-ASYNCTP
        # (costsim/validation/cases/training_torchtitan.yaml); the same table's row without AsyncTP (829 tokens/s per GPU)
        # is within 1 % of costsim with every TP collective exposed (1.0), and AsyncTP saves 1.06 s of its ~5.8 s
        "torchtitan-2024", 0.78, True, zero_stages=(0, 2, 3), expert_parallel=False, grad_reduce_bytes=4.0,
        elementwise_bytes_per_d=XLA_ELEMENTWISE_BYTES_PER_D, lowp_param_gather=True, selective_saves="torch-op-sac",
        source="PyTorch TorchTitan (2024-12: torch 1963fc8, torchao eab345c, torchtitan 9dec370): FSDP2 (per-block "
               "FlatParameter-free sharding, ZeRO-3; ZeRO-2 with pipeline parallelism), gradients reduce-scattered in "
               "fp32 (mixed_precision_reduce float32), tensor parallelism with sequence parallelism and AsyncTP "
               "(collectives partly overlapped with the GEMMs), 1F1B / interleaved 1F1B pipelines, context parallelism (ring "
               "attention in SDPA), torch.compile per block (elementwise ops fused like XLA's), torchao Float8 linears "
               "with FP8 FSDP all-gathers, per-op selective activation checkpointing (docs/performance.md)",
        year=2024),
    "megatron-deepspeed-gaudi": Framework(
        "megatron-deepspeed-gaudi", 1.0, True, zero_stages=(0, 1), interleaved_pipeline=False, pp_scatter_gather=False,
        dp_overlap=False, grad_accum_bytes_per_param=10.0, context_parallel=False, expert_parallel=False,
        source="Intel Habana's Megatron-DeepSpeed for Gaudi as run in MLPerf Training v3.1 / v4.0 GPT-3 "
               "(mlcommons/training_results_v3.1 and v4.0 Intel-HabanaLabs/benchmarks/gpt3/run_gpt.sh): DeepSpeed "
               "PipelineEngine (plain 1F1B, gradient reduction after the flush), Megatron tensor parallelism with sequence "
               "parallelism and its collectives between the GEMMs, Habana's fused SDPA kernel (--use-fused-sdpa true: "
               "no s x s scores stored), ZeRO-0/1, bf16 gradients accumulated through hooks (accumulate_grads_via_hooks), "
               "dropout 0",
        year=2023),
    "torchtune-2024": Framework(
        "torchtune-2024", 1.0, True, sequence_parallel=False, recompute_modes=(0, 2), zero_stages=(0, 2, 3),
        interleaved_pipeline=False, pipeline_parallel=False, context_parallel=False, expert_parallel=False,
        elementwise_bytes_per_d=XLA_ELEMENTWISE_BYTES_PER_D, activation_offload=True, logit_bytes=TORCHTUNE_LOGIT_BYTES,
        optimizer_state_bytes=4.0, lora_dropout=False,
        source="PyTorch torchtune (2024-11, pytorch/torchtune@1814feb17): single-device and FSDP2 fine-tuning recipes "
               "(full, LoRA, QLoRA) in pure bf16 (dtype bf16: weights, gradients and torch.optim.AdamW state in bf16, no "
               "fp32 master copy), torch.compile per transformer layer (elementwise ops fused as TorchTitan's), SDPA "
               "flash attention, whole-layer activation checkpointing, activation offloading to host memory on a side "
               "stream (enable_activation_offloading), CEWithChunkedOutputLoss (the LM head's output in 8 chunks, each "
               "upcast to fp32 only inside its loss chunk), no pipeline or context parallelism, no dropout",
        year=2024),
}
DEFAULT_FRAMEWORK = FRAMEWORKS["megatron-core-2024"]


def default_framework_name(vendor: str) -> str:
    """The stack a planner gets without asking: XLA on Google TPUs, Megatron-core elsewhere."""
    return "xla-tpu" if vendor.strip().lower() == "google" else "megatron-core-2024"


# Features a layout can depend on, with the first public stack that had them: what a planner needs to
# see why a published run (on an older stack) could not use the layout the search finds.
FEATURES: dict[str, tuple[str, int, str]] = {
    "interleaved_pipeline": ("interleaved 1F1B pipeline schedule (virtual stages)", 2021,
                             "Narayanan et al. 2021, arXiv 2104.04473"),
    "selective_recompute": ("selective activation recomputation", 2022, "Korthikanti et al. 2022, arXiv 2205.05198"),
    "sequence_parallel": ("Megatron sequence parallelism", 2022, "Korthikanti et al. 2022, arXiv 2205.05198"),
    "flash_attention": ("FlashAttention (no s x s scores in memory or HBM traffic)", 2022, "Dao et al. 2022, arXiv 2205.14135"),
    "distributed_optimizer": ("sharded optimizer state (ZeRO-1 / Megatron distributed optimizer)", 2022,
                              "Rajbhandari et al. 2020 (DeepSpeed); Megatron-LM distributed optimizer 2022"),
    "zero_sharded_weights": ("sharded gradients/weights (ZeRO-2/3, FSDP)", 2021,
                             "Rajbhandari et al. 2020; PyTorch FSDP (Zhao et al. 2023, arXiv 2304.11277)"),
    "context_parallel": ("context parallelism (sequence split across GPUs, ring attention overlapped with compute)", 2024,
                         "Megatron-core / Transformer Engine 2024; Llama 3 used an all-gather form only for 128k contexts "
                         "(arXiv 2407.21783 Sec. 3.3.2)"),
    "expert_parallel": ("expert parallelism (MoE all-to-all)", 2021, "Fedus et al. 2021 (Switch); Megatron-core MoE 2023"),
    "moe_parallel_folding": ("MoE parallel folding (expert tensor parallelism below TP, expert parallelism across "
                             "tensor-parallel ranks)", 2025, "Liu et al. 2025, arXiv 2504.14960 (Megatron-core)"),
    "moe_a2a_overlap": ("expert all-to-all overlapped with another micro-batch's compute", 2025,
                        "DeepSeek-V3 DualPipe (arXiv 2412.19437); Megatron-core overlap_moe_expert_parallel_comm"),
    "moe_dedup_dispatch": ("node-deduplicated expert dispatch (one network copy per token and node: DeepEP, HybridEP)",
                           2025, "DeepSeek-V3 report (arXiv 2412.19437) Sec. 3.2.2; deepseek-ai/DeepEP (2025-02); "
                                 "Megatron-core flex dispatcher"),
    "tp_comm_overlap": ("tensor-parallel communication overlapped with GEMMs", 2023, "Transformer Engine userbuffers / "
                        "Megatron-core tp_comm_overlap"),
    "dp_comm_overlap": ("data-parallel reduce-scatter/all-gather overlapped with backward/forward", 2023,
                        "Megatron-core DDP overlap_grad_reduce / overlap_param_gather"),
    "fp8": ("FP8 linear layers", 2022, "Transformer Engine on Hopper (Micikevicius et al. 2022, arXiv 2209.05433)"),
    "fp4": ("NVFP4 linear layers", 2025, "NVIDIA, arXiv 2509.25149"),
}


def layout_features(layout: dict, fw: Framework, precision: str, sequence_parallel: bool) -> list[str]:
    """FEATURES keys a layout (costsim.core.search.layout_row) relies on under framework `fw`."""
    out = []
    if layout["vp"] > 1:
        out.append("interleaved_pipeline")
    if layout["recompute"] == "selective":
        out.append("selective_recompute")
    if layout["tp"] > 1 and sequence_parallel and fw.sequence_parallel:
        out.append("sequence_parallel")
    if fw.flash_attention:
        out.append("flash_attention")
    if layout["zero"] >= 1:
        out.append("distributed_optimizer")
    if layout["zero"] >= 2:
        out.append("zero_sharded_weights")
    if layout["cp"] > 1:
        out.append("context_parallel")
    if layout["ep"] > 1:
        out.append("expert_parallel")
    if layout.get("etp", layout["tp"]) != layout["tp"]:
        out.append("moe_parallel_folding")
    if layout.get("ep_overlap"):
        out.append("moe_a2a_overlap")
    if layout["ep"] > 1 and fw.moe_dispatch == "deduplicated":
        out.append("moe_dedup_dispatch")
    if layout["tp"] > 1 and fw.tp_comm_exposed_frac < 1.0:
        out.append("tp_comm_overlap")
    if layout["dp"] > 1 and fw.dp_overlap:
        out.append("dp_comm_overlap")
    if precision in ("fp8", "fp4"):
        out.append(precision)
    return out
