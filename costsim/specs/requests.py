"""Requests for the core-only commands (`costsim train`, `costsim serve`, `costsim site`).

CLI flags and UI widgets map 1:1 onto these fields; their descriptions are the help text and
tooltips. Owners extend them; field names are interfaces (keep them).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from costsim.core.training_shapes import LORA_MODULES

from costsim.specs.base import Spec, region_named
from costsim.specs.serving_sim import AcceptanceFrac, SpeculativeTokens, StatePrecision, check_speculation
from costsim.specs.site import EconomicsSpec, FacilitySpec

Precision = Literal["bf16", "fp16", "fp8", "fp4"]
WeightPrecision = Literal["bf16", "fp16", "fp8", "int8", "int4", "q8_0", "q4_0", "fp4", "mxfp4", "fp6"]
KvPrecision = Literal["bf16", "fp16", "fp8", "int8", "int4", "fp4"]
ServeObjective = Literal["throughput", "usd_per_token"]
Recompute = Literal["none", "selective", "full"]
#: LoRA target names as PEFT / torchtune / Hugging Face checkpoints spell them -> costsim's (LORA_MODULES)
_LORA_MODULE_ALIASES = {"q_proj": "q", "k_proj": "k", "v_proj": "v", "o_proj": "o", "output_proj": "o", "out_proj": "o",
                        "gate_proj": "gate", "w1": "gate", "up_proj": "up", "w3": "up", "down_proj": "down", "w2": "down"}


def lora_targets_named(value: str) -> str:
    """TrainRequest.lora_targets in its canonical form: 'attention', 'all-linear', or the projection modules as a comma list
    in LORA_MODULES order (q_proj, v_proj -> 'q,v'); a clear error naming the accepted names otherwise."""
    v = str(value).strip().lower()
    if v in ("attention", "all-linear"):
        return v
    names = [p.strip() for p in v.split(",") if p.strip()]
    mods = {_LORA_MODULE_ALIASES.get(n, n) for n in names}
    bad = sorted(n for n in names if _LORA_MODULE_ALIASES.get(n, n) not in LORA_MODULES)
    if not names or bad:
        shown = ", ".join(repr(b[:40]) for b in bad[:3]) or repr(v[:40])
        raise ValueError(f"unknown LoRA target {shown}: give attention, all-linear, or a comma list of the projections "
                         f"{', '.join(LORA_MODULES)} (Hugging Face names such as q_proj, v_proj also work), e.g. q,v")
    return ",".join(m for m in LORA_MODULES if m in mods)


# adapters of a LoRA run (TrainRequest.lora_targets): the attention projections (one adapter per fused QKV and output
# GEMM, Megatron / NeMo), every linear layer, or named projection modules (one adapter each, PEFT / torchtune)
LoraTargets = Annotated[str, AfterValidator(lora_targets_named)]
# frozen-base storage of a LoRA run (TrainRequest.lora_base_precision): NF4 = QLoRA
LoraBasePrecision = Literal["nf4"]
# costsim.core.frameworks.Framework.cp_comm_type values
CpCommType = Literal["p2p", "a2a"]
# costsim.core.frameworks.Framework.moe_dispatch values
EpDispatcher = Literal["all-to-all", "deduplicated"]
# costsim.core.frameworks.Framework.moe_expert_launch values
MoeExpertLaunch = Literal["device", "host"]
# costsim.core.frameworks.Framework.moe_router_balance values (calibration.MOE_ROUTER_LOAD_CV)
MoeRouterBalance = Literal["forced", "aux-loss", "loss-free"]
# training stacks of costsim.core.frameworks.FRAMEWORKS (a test keeps the two lists equal)
FrameworkName = Literal["megatron-core-2024", "megatron-2022", "megatron-2021", "deepspeed-megatron-2021",
                        "deepspeed-zero3-2021", "fsdp-2023", "xla-tpu", "torchtitan-2024", "megatron-deepspeed-gaudi",
                        "torchtune-2024"]


#: the training core's bound on interruptions per GPU-hour (one GPU failing every hour: a job of 8 fails every 7.5 min)
MAX_FAILURE_RATE_PER_GPU_HOUR = 1.0


#: a train / serve request's grid region (TrainRequest.region, ServeRequest.region)
RunRegion = Annotated[Annotated[str, Field(max_length=1024)] | None, AfterValidator(region_named), Field(
    description="Grid region id (costsim grid regions lists them) or a CSV path with columns "
    "month,hour,usd_per_kwh,gco2e_per_kwh: the run's energy is priced at the region's annual mean electricity price and "
    "carbon intensity (every hour of the year weighted equally), as costsim plan --region prices it; replaces "
    "economics.grid_gco2e_per_kwh and electricity_usd_per_kwh.")]


class TrainRequest(Spec):
    model: str = Field(..., description="Model catalog id (e.g. llama-3-70b) or path to a model YAML file.")
    hardware: str = Field(..., description="Accelerator catalog id (e.g. h100-sxm) or path to a hardware YAML file.")
    gpus: int = Field(..., ge=1, le=10_000_000, description="Number of accelerators in the job (at most 10,000,000, the work limit `costsim limits` shows).")
    tokens: float | None = Field(None, gt=0, le=1e16, description="Training tokens (accepts 15e12; at most 1e16, the bound of plan's unique_tokens, ~300x the largest published run); default the model's training_tokens.")
    seq_len: int = Field(4096, ge=1, le=10_000_000, description="Sequence length, tokens (at most 10,000,000, the longest published context).")
    global_batch: int | None = Field(None, ge=1, le=100_000_000, description="Global batch in sequences, at most 100,000,000 (default: about 4M tokens / seq_len, rounded to a multiple of dp).")
    global_batch_tokens: float | None = Field(None, gt=0, le=1e10, description="Global batch in tokens, at most 1e10 (~600x Llama 3's 16M; alternative to global_batch).")
    precision: Precision = Field("bf16", description="Compute datatype of the linear-layer matmuls (bf16, fp16, fp8, fp4 = NVFP4 on devices with an FP4 tensor-core rate). FP8/FP4 gain what calibration shows, not 2x/4x: quantization traffic, bf16 attention, embeddings and LM head.")
    attention_precision: Literal["bf16", "fp8"] = Field("bf16", description="Datatype of the attention core (FlashAttention's QK^T and PV): bf16, or fp8 (Transformer Engine FP8 dot-product attention, as MLPerf's NVFP4 Llama runs use) on FP8-capable devices.")
    tp: int | None = Field(None, ge=1, description="Tensor-parallel size (None = searched).")
    pp: int | None = Field(None, ge=1, description="Pipeline-parallel size (None = searched).")
    cp: int | None = Field(None, ge=1, description="Context-parallel size (None = searched).")
    ep: int | None = Field(None, ge=1, description="Expert-parallel size (None = searched; MoE only).")
    etp: int | None = Field(None, ge=1, le=4096, description="Expert tensor-parallel size: the GPUs one expert's weights "
                            "are split over, a divisor of tp (None = searched: tp, or 1 under MoE parallel folding on "
                            "megatron-core-2024; MoE only).")
    ep_overlap: bool | None = Field(None, description="Run each MoE layer's expert all-to-all while another micro-batch "
                                    "computes (Megatron-core overlap_moe_expert_parallel_comm; None = searched where the "
                                    "training stack has it; MoE with ep > 1 only).")
    activation_offload: bool | None = Field(None, description="Keep the activations each layer saves for its backward "
                                            "pass in host memory, copied over the device's host link behind the "
                                            "compute (MaxText's offload remat policy, Megatron-core / Transformer "
                                            "Engine CPU offloading); None = searched where the training stack tries it "
                                            "(xla-tpu), else off.")
    ep_dispatcher: EpDispatcher | None = Field(None, description="How the expert all-to-all moves tokens (MoE, ep > 1): "
                                               "all-to-all (one copy per token and expert, Megatron-core's alltoall "
                                               "dispatcher) or deduplicated (one network copy per token and other node "
                                               "holding its experts, fanned out over NVLink there: DeepEP, HybridEP); "
                                               "None = the training stack's (all-to-all).")
    moe_expert_launch: MoeExpertLaunch | None = Field(None, description="How each MoE layer's expert MLP kernels start "
                                                   "(MoE only): device (in a CUDA graph with a device-initiated grouped "
                                                   "GEMM, Megatron-core full-iteration graphs) or host (launched per expert "
                                                   "after the dispatcher's token-count sync: eager MoE layers or graphs of "
                                                   "only attention and router; at fp8 / fp4 the GPU waits ~0.2 ms per local "
                                                   "expert per layer and pass); None = the training stack's (device).")
    moe_router_balance: MoeRouterBalance | None = Field(None, description="How the run keeps its MoE router's load "
                                                      "even, which sets how far above the mean the busiest expert-parallel "
                                                      "rank's share of the routed tokens sits in each MoE layer (every rank "
                                                      "waits for it): forced (random routing, Megatron's "
                                                      "moe_router_force_load_balancing, which NVIDIA's published MoE "
                                                      "throughput runs set: only the sampling spread of the tokens), "
                                                      "aux-loss (an auxiliary balancing loss, as real pre-training of most "
                                                      "MoE models: per-expert load CV 0.26) or loss-free (DeepSeek-V3's bias "
                                                      "balancing: CV 0.017); None = forced. MoE only.")
    dp: int | None = Field(None, ge=1, description="Data-parallel size (None = derived: gpus / (tp*pp*cp)).")
    dp_bucket_params: float | None = Field(None, ge=1e6, le=1e13, description="Parameters per data-parallel gradient "
                                           "bucket, i.e. per reduce-scatter / all-gather call (1e6 to 1e13; a run's ddp "
                                           "bucket_size, which Megatron rounds up to whole parameters); None = "
                                           "Megatron-core's default max(40M, 1M x dp x cp). Fewer, larger "
                                           "buckets pay the collectives' latency fewer times.")
    dropout: bool | None = Field(None, description="The run trains with dropout, so every layer keeps two 1-byte masks of "
                                 "sequence x hidden for the backward (Korthikanti et al. 2022); None = the training stack's "
                                 "default (the Megatron stacks: yes, Megatron-LM's argument defaults 0.1; TorchTitan, "
                                 "MaxText, FSDP/llm-foundry and Habana's MLPerf scripts: no). Current pre-training recipes "
                                 "(Llama 3, Megatron-Bridge, NeMo) set 0: give --no-dropout for them.")
    vp: int | None = Field(None, ge=1, description="Virtual pipeline stages per GPU for the interleaved schedule (None = searched).")
    micro_batch: int | None = Field(None, ge=1, description="Micro-batch size in sequences (None = searched).")
    recompute: Recompute | None = Field(None, description="Activation recomputation: none, selective or full (None = searched).")
    recompute_layers: int | None = Field(None, ge=1, le=100_000, description="With --recompute full: how many layers of each pipeline stage recompute their forward pass (Megatron-core recompute_method block, recompute_num_layers N; NeMo ACM=block, ACL=N); the other layers keep their activations. None = every layer.")
    zero: Literal[0, 1, 2, 3] | None = Field(None, description="ZeRO / distributed-optimizer stage (None = searched).")
    sequence_parallel: bool = Field(True, description="Megatron sequence parallelism with TP (shards norms/dropout activations).")
    framework: FrameworkName | None = Field(None, description="Training stack: megatron-core-2024, megatron-2022, megatron-2021, deepspeed-megatron-2021, deepspeed-zero3-2021, fsdp-2023, xla-tpu, torchtitan-2024 (TorchTitan: FSDP2, AsyncTP, torch.compile), megatron-deepspeed-gaudi (Intel Habana's Megatron-DeepSpeed: fused SDPA, sequence parallelism, DeepSpeed pipeline) or torchtune-2024 (torchtune fine-tuning: pure bf16 with bf16 AdamW state, torch.compile, FSDP2, activation offloading, chunked cross-entropy; no pipeline parallelism) (default: xla-tpu on Google TPUs, megatron-core-2024 elsewhere). It limits the layouts searched to what the stack offers and sets how its communication overlaps.")
    node: str | None = Field(None, max_length=200, description="Node/system profile id whose NICs carry scale-out traffic (default: the accelerator's usual node).")
    scaleup_domain_size: int | None = Field(None, ge=1, le=1_000_000, description="Devices per scale-up domain actually used, when smaller than the profile's (a TPU slice such as 64 chips of v4-128, an NVL36 half rack); traffic between domains goes over the scale-out network.")
    fp4_bf16_layers: int | None = Field(None, ge=0, le=100_000, description="NVFP4 runs (--precision fp4): transformer layers whose linear GEMMs stay in BF16 (Megatron-core's first_last_layers_bf16 with its counts at the start and end). None = 0, Megatron-core's default and what NVIDIA's published NVFP4 throughput runs price; the NVFP4 paper's accuracy recipe keeps 10 of 62 (the first 2 and last 8; arXiv 2509.25149).")
    cp_comm_type: CpCommType | None = Field(None, description="How context parallelism (cp > 1) exchanges the sequence: p2p (Megatron-core's default ring, K/V chunks passed rank to rank behind the attention) or a2a (DeepSpeed-Ulysses all-to-alls of Q, K, V and the attention output, which nothing hides; NeMo's MLPerf LoRA configs); None = the training stack's (p2p).")
    fp8_activation_store: bool | None = Field(None, description="fp8 / fp4 runs: the FFN activation function keeps its input for the backward pass in FP8 (Megatron-core activation_func_fp8_input_store, NeMo FP8_ACT=1), halving that part of the activation memory; None = the training stack's (off).")
    lora_rank: int | None = Field(None, ge=1, le=65_536, description="LoRA fine-tuning: rank r of the low-rank adapters trained beside the frozen base weights (Hu et al. 2021; MLPerf's Llama 2 70B LoRA benchmark uses 16). The base then takes no weight gradients, gradient traffic or optimizer state; only the adapters train. None = full-parameter training. Give --tokens for the fine-tuning run's length: the model's training_tokens is its pre-training.")
    lora_targets: LoraTargets | None = Field(None, max_length=200, description="Which linear layers carry LoRA adapters (with lora_rank): attention (one adapter on the fused QKV GEMM and one on the output projection, MLPerf's and NeMo's default), all-linear (also the FFN and expert GEMMs, one adapter per fused GEMM), or a comma list of projection modules with one adapter each, as PEFT and torchtune place them: q, k, v, o, gate, up, down (e.g. q,v, the LoRA paper's choice; Hugging Face names such as q_proj also work). None = attention.")
    lora_dropout: float | None = Field(None, ge=0.0, lt=1.0, description="LoRA runs: dropout probability on the adapters' input (PEFT lora_dropout, NeMo adapter_dropout; MLPerf's reference 0.1, torchtune's recipes 0). Above 0 each adapter runs a dropout kernel forward and backward; 0 skips it. None = the training stack's (megatron-core and the others: on; torchtune-2024: off).")
    lora_base_precision: LoraBasePrecision | None = Field(None, description="LoRA runs: how the frozen base's linear-layer weights are stored. nf4 = QLoRA (Dettmers et al. 2023): 4-bit NormalFloat with double quantization, 4.127 bits per weight, each GEMM pass dequantizing the weight to bf16 first; the run computes in bf16 (--precision bf16). None = the compute datatype's storage (bf16, or fp8 / fp4 in a low-precision run).")
    power_cap_w: float | None = Field(None, gt=0, le=100_000, description="Per-GPU power limit, W (nvidia-smi -pl; default: the TDP). Below the TDP the clocks drop and the compute phases (GEMMs, attention) slow by costsim.core.power's clock model; memory-bound kernels and communication do not; GPU power and energy are capped.")
    top_k: int = Field(5, ge=1, le=100, description="How many of the fastest layouts to return.")
    failure_rate_per_gpu_hour: float | None = Field(None, ge=0, le=MAX_FAILURE_RATE_PER_GPU_HOUR, description="Unexpected interruptions per GPU-hour, at most 1 (default from Llama 3 405B: 419 in 54 days on 16,384 GPUs).")
    checkpoint_time_s: float | None = Field(None, ge=0, le=1e7, description="Time to write one checkpoint, s, at most 1e7 (about 4 months; default from checkpoint bytes / storage bandwidth).")
    restart_time_s: float | None = Field(None, ge=0, le=1e7, description="Time from an interruption until training resumes, s (at most 1e7, about 4 months).")
    maintenance_per_day: float | None = Field(None, ge=0, le=100, description="Planned stops per day (maintenance, firmware and config pushes), each after a checkpoint, then down for the maintenance downtime, then the restart; at most 100 (default from Llama 3 405B: 47 in 54 days; 0 = none).")
    maintenance_downtime_s: float | None = Field(None, ge=0, le=1e6, description="Time the job is down for each planned stop before its restart, s (at most 1e6; default 600, an assumption).")
    facility: FacilitySpec = Field(default_factory=FacilitySpec, description="PUE and facility model.")
    economics: EconomicsSpec = Field(default_factory=EconomicsSpec, description="Prices and carbon intensity.")
    region: RunRegion = None

    @model_validator(mode="after")
    def _batch(self) -> "TrainRequest":
        if self.global_batch is not None and self.global_batch_tokens is not None:
            raise ValueError("give either global_batch (sequences) or global_batch_tokens, not both")
        region_or_flat_rates(self.region, self.economics)
        return self


def region_or_flat_rates(region: str | None, economics: EconomicsSpec) -> None:
    """A region sets both electricity rates; a flat rate given beside it would be silently replaced: refuse the pair. A
    rate at its default is not a choice (a request that went through JSON lists every field): only one that differs."""
    fields = type(economics).model_fields
    given = sorted(k for k in ("electricity_usd_per_kwh", "grid_gco2e_per_kwh") if getattr(economics, k) != fields[k].default)
    if region is not None and given:
        flags = " and ".join(f"economics.{k} (--{k.replace('_', '-')})" for k in given)
        raise ValueError(f"region {region[:80]!r} prices the energy at its annual means, which would replace {flags}: "
                         "give the region or the flat rate, not both")


#: runners-up a deployment search reports when the request gives none
DEFAULT_RUNNERS_UP = 4


#: upper bound of ServeRequest.output_tokens_cv (and of a validation case's output_tokens_cv): a coefficient of variation
#: of 10 already puts the running context at 50x the mean answer; anything larger is a typo
MAX_OUTPUT_TOKENS_CV = 10.0


class ServeRequest(Spec):
    model: str = Field(..., description="Model catalog id or path to a model YAML file.")
    hardware: str = Field(..., description="Accelerator catalog id or path to a hardware YAML file.")
    gpus: int | None = Field(None, ge=1, le=1_000_000, description="GPU budget: the deployment search splits it into replicas x TP x PP x EP for the best throughput "
                             "(or $/token) under the SLOs. With single_replica: accelerators of the one replica. None: one replica on the fewest GPUs that fit "
                             "the weights and some KV cache.")
    tp: int | None = Field(None, ge=1, le=4096, description="Tensor-parallel size per replica (default: searched for a GPU budget; gpus / (pp*ep) for a single replica).")
    pp: int | None = Field(None, ge=1, le=4096, description="Pipeline-parallel size per replica (default: searched for a GPU budget; 1 for a single replica).")
    ep: int | None = Field(None, ge=1, le=4096, description="Expert-parallel size per replica, MoE only (default: searched for a GPU budget; 1 for a single replica).")
    weight_precision: WeightPrecision | None = Field(None, description="Weight storage: bf16/fp16, fp8, int8, int4, llama.cpp q8_0 (8.5 bits/weight) / q4_0 (4.5), "
                                                     "fp4 (NVFP4: 4.5 bits with an fp8 scale per 16 values, W4A4 on FP4 tensor cores), mxfp4 (4.25 bits, "
                                                     "e8m0 scale per 32), fp6 (MXFP6, 6.25 bits). Default: searched among the formats the hardware "
                                                     "computes natively (bf16, fp8, fp4) and the model's released one (gpt-oss: "
                                                     "mxfp4) for a GPU budget; bf16 for a single replica.")
    kv_precision: KvPrecision | None = Field(None, description="KV-cache storage precision (default: what the engine runs: fp8 with fp8/fp4/fp6 weights on TensorRT-LLM-class engines, bf16 otherwise and on vllm / sglang, whose auto is the model dtype).")
    engine: str = Field("default", max_length=64, description="Serving-engine profile (costsim/data/engines.yaml): default (TensorRT-LLM-class on NVIDIA, ROCm/vLLM on AMD), "
                        "tensorrt-llm (C++ runtime), tensorrt-llm-pytorch (PyTorch backend), vllm, rocm-vllm (2024), rocm-vllm-2026, sglang, llama.cpp, research-2023, "
                        "splitwise-characterization, pytorch-eager.")
    top_k: int | None = Field(None, ge=0, le=1_000_000, description="top_k of the requests' sampling: None = the model's published default "
                              "(generation_config: Qwen3 20, Gemma 3 64, Llama 3.1 none), 0 = no top-k (greedy or top-p only). Engines that "
                              "charge top-k masking (vLLM) pay full passes over the vocabulary per sequence per step for it.")
    speculative_tokens: SpeculativeTokens = None
    acceptance_frac: AcceptanceFrac = None
    state_precision: StatePrecision = None
    batch: int | Literal["max", "fill"] = Field("max", description="Concurrent sequences per replica, or 'max' = the highest-throughput batch that fits memory and any SLO, "
                                               "or 'fill' = every sequence the KV cache holds as the engine admits them: capped by max_num_seqs, "
                                               "on TensorRT-LLM engines by the max_batch_size trtllm-bench sets (one replica; no SLOs).")
    input_tokens: int = Field(512, ge=1, le=10_000_000, description="Prompt tokens per request.")
    output_tokens: int = Field(256, ge=1, le=10_000_000, description="Generated tokens per request.")
    output_tokens_cv: float = Field(0.0, ge=0.0, le=MAX_OUTPUT_TOKENS_CV, description="Coefficient of variation (std / mean) of the requests' "
                                    "output lengths; 0 = every request generates output_tokens. Long answers hold their batch slot "
                                    "longer, so the running sequences' mean context is input + output x (1 + cv^2) / 2 (e.g. 1.25 "
                                    "for DeepSeek-R1's MLPerf dataset). Steady-state serving only, not with requests.")
    ttft_slo_s: float | None = Field(None, gt=0, le=3600, description="Time-to-first-token limit, s (at most 3,600, as costsim plan's).")
    tpot_slo_s: float | None = Field(None, gt=0, le=3600, description="Time-per-output-token limit, s (at most 3,600).")
    single_replica: bool = Field(False, description="Price one replica of `gpus` accelerators (the behaviour before the deployment search) instead of searching the best deployment of the budget.")
    objective: ServeObjective = Field("throughput", description="What the deployment search maximizes: 'throughput' (output tokens/s of the whole deployment) or "
                                      "'usd_per_token' (lowest $ per output token).")
    runners_up: int | None = Field(None, ge=0, le=50, description="How many next-best deployments of a GPU budget to report beside the "
                                   f"chosen one (None = {DEFAULT_RUNNERS_UP}; only with a deployment search).")
    requests: int | None = Field(None, ge=1, le=10**15, description="Also price an offline batch job of this many requests queued at once "
                                 "(input_tokens in, output_tokens out each): wall time (in waves of the batch, or on a paged-KV engine up to "
                                 "max_num_seqs with preemption), GPU and facility energy, "
                                 "cost and CO2e of the whole job on the chosen deployment.")
    max_num_seqs: int | None = Field(None, ge=1, le=1_000_000, description="The engine's max_num_seqs: the most sequences a replica runs at "
                                     "once. Caps batch 'max' and the deployment search (None = no cap but memory). With requests on an "
                                     "engine that allocates KV as sequences grow (vllm, sglang, rocm-vllm, the AMD default), the job "
                                     "admits up to this many and preempts and recomputes the newest when the KV cache fills "
                                     "(None = the batch priced).")
    power_cap_w: float | None = Field(None, gt=0, le=100_000, description="Per-GPU power limit, W (nvidia-smi -pl; default: the TDP). "
                                      "A decode step or prompt pass whose power is above it runs at the clock it leaves: GEMMs slow "
                                      "with the clock, weight and KV streaming hardly until the clock falls below what keeps HBM busy "
                                      "(costsim.core.power); GPU power is at most the cap.")
    facility: FacilitySpec = Field(default_factory=FacilitySpec, description="PUE and facility model.")
    economics: EconomicsSpec = Field(default_factory=EconomicsSpec, description="Prices and carbon intensity.")
    region: RunRegion = None

    @model_validator(mode="after")
    def _max_num_seqs(self) -> "ServeRequest":
        check_speculation(self.speculative_tokens, self.acceptance_frac)
        region_or_flat_rates(self.region, self.economics)
        if self.max_num_seqs is not None and isinstance(self.batch, int) and self.batch > self.max_num_seqs:
            raise ValueError(f"batch {self.batch} is more than max_num_seqs {self.max_num_seqs}: the engine never runs more "
                             "sequences than max_num_seqs; lower batch, raise max_num_seqs, or use batch 'max'")
        if self.batch == "fill":
            if self.ttft_slo_s is not None or self.tpot_slo_s is not None:
                raise ValueError("batch 'fill' admits every sequence that fits, whatever its latency; latency limits "
                                 "(ttft_slo_s / tpot_slo_s) need batch 'max' or a number")
            if self.deployment_search:
                raise ValueError("batch 'fill' prices one replica as its engine fills it; price one replica (single_replica: "
                                 "--single-replica, or untick the deployment search in the app) or use batch 'max' for the "
                                 "best deployment of the GPU budget")
        if self.output_tokens_cv > 0 and self.requests is not None:
            raise ValueError("requests prices a job of identical requests (output_tokens each); output_tokens_cv describes "
                             "steady-state traffic of varied lengths: drop one of them")
        if not self.deployment_search:  # one replica: nothing is searched, so nothing to rank or report beside it
            how = "single_replica prices one replica" if self.single_replica else "without gpus one replica is priced"
            if self.objective != "throughput":
                raise ValueError(f"objective {self.objective!r} ranks the deployments of a GPU budget, but {how}; give gpus "
                                 "(--gpus N) without single_replica, or drop objective")
            if self.runners_up is not None:
                raise ValueError(f"runners_up lists the next-best deployments of a GPU budget, but {how}; give gpus (--gpus N) "
                                 "without single_replica, or drop runners_up")
        return self

    @property
    def deployment_search(self) -> bool:
        """True when the request asks for the best deployment of a GPU budget."""
        return self.gpus is not None and not self.single_replica


class FleetEntry(Spec):
    hardware: str = Field(..., description="Accelerator catalog id.")
    gpus: int = Field(..., ge=1, le=10**12, description="Number of these accelerators on the site (at most 10^12; a site above the largest power station or a fleet above a year of world accelerator shipments carries an implausibility warning).")
    workload: Literal["training", "inference", "idle"] = Field("training", description="What the devices run (sets their power phase).")


class SiteRequest(Spec):
    fleet: list[FleetEntry] = Field(..., min_length=1, description="Accelerators on the site.")
    pue: float = Field(1.2, ge=1.0, le=3.0, description="Power usage effectiveness.")
    grid_cap_mw: float | None = Field(None, gt=0, le=1_000_000, description="Grid import cap, MW (at most 1,000,000: a terawatt).")
    region: str | None = Field(None, description="Region id for hourly price and carbon.")
    battery_mwh: float | None = Field(None, gt=0, le=10_000_000, description="Battery nameplate energy, MWh (optional; at most 10 million; usable: the 5-95 % state-of-charge window).")
    battery_mw: float | None = Field(None, gt=0, le=1_000_000, description="Battery power rating, MW (optional; at most 1,000,000).")
    battery_policy: Literal["peak_shaving", "smoothing", "arbitrage", "optimal"] | None = Field(None, description="Battery dispatch policy: peak_shaving keeps import under the cap, smoothing takes the fast training swings off the grid, arbitrage buys cheap / sells dear on the region's hourly price, optimal solves the dispatch with perfect foresight (linear program, least cost) (None = arbitrage when the fleet fits under the cap, else peak_shaving).")

    @field_validator("region")
    @classmethod
    def _region_named(cls, v: str | None) -> str | None:
        return region_named(v)

    @model_validator(mode="after")
    def _policy_needs_battery(self) -> "SiteRequest":
        if self.battery_policy is not None and self.battery_mwh is None and self.battery_mw is None:
            raise ValueError(f"battery_policy {self.battery_policy} needs a battery: give battery_mwh and battery_mw "
                             "(--battery-mwh, --battery-mw), or drop the policy")
        return self
