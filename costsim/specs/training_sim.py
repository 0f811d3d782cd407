"""Training part of the scenario schema (owned by the training-simulation work).

A `TrainingWorkload` says what job runs (model, hardware, GPUs, tokens, batch, layout) and what
happens to it over weeks: failures per component class, hot spares, planned maintenance,
evaluation pauses, the checkpoint policy, power mitigation, power dynamics (ramps) and how the
timeline is recorded. Defaults are documented assumptions; each value says where it comes from.

Default failure rates: Llama 3 405B, arXiv 2407.21783 Table 5 (copied with source into
costsim/data/reliability_llama3.yaml; loaded by `llama3_failure_classes()`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, model_validator

from costsim.core.goodput import DEFAULT_MAINTENANCE_DOWNTIME_S, DEFAULT_MAINTENANCE_PER_DAY
from costsim.specs.base import Spec
from costsim.specs.requests import (CpCommType, EpDispatcher, FrameworkName, LoraBasePrecision, LoraTargets, MoeExpertLaunch, MoeRouterBalance, Precision,
                                   Recompute)

_RELIABILITY_FILE = Path(__file__).resolve().parents[1] / "data" / "reliability_llama3.yaml"

# Assumptions (not in the Llama 3 paper; documented here, overridable per class)
DEFAULT_RESTART_S = 600.0  # detect the hang, tear down, relaunch 16k ranks, NCCL init, load the checkpoint
DEFAULT_REPAIR_S = 4 * 3600.0  # a failed node out of the pool (diagnose, swap a part, burn-in)
DEFAULT_SPARE_SWAP_S = 120.0  # bring a hot-spare node into the job's host list


class FailureClass(Spec):
    name: str = Field(..., description="Component class (faulty_gpu, gpu_hbm3_memory, software_bug, ...).")
    rate_per_gpu_hour: float = Field(..., ge=0, description="Interruptions of the whole job caused by this class, per GPU-hour of the job (the job rate is this x num_gpus).")
    hardware: bool = Field(True, description="True: the failed node leaves the job (a hot spare replaces it, or the job waits for repair_s); False: restart on the same nodes.")
    distribution: Literal["exponential", "weibull"] = Field("exponential", description="Time between interruptions of this class: exponential (Poisson arrivals) or Weibull (renewal process at the job level, same mean).")
    weibull_shape: float = Field(1.0, ge=0.05, le=20, description="Weibull shape k (k<1: infant mortality / clustered failures, k>1: wear-out), 0.05 to 20 (published fits of cluster failures lie near 0.5-1: Schroeder & Gibson, DSN 2006, 0.7-0.8). Only used with distribution 'weibull'.")
    restart_s: float | None = Field(None, ge=0, description="Time from the interruption until training runs again: detection, relaunch, collective init, checkpoint load, s (None = reliability.restart_s).")
    repair_s: float | None = Field(None, ge=0, description="Time a failed node stays out of the pool, s (hardware classes; None = reliability.repair_s).")


@lru_cache(maxsize=1)
def _llama3_doc() -> dict:
    with open(_RELIABILITY_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def llama3_gpu_hours() -> float:
    d = _llama3_doc()
    return float(d["snapshot_days"]) * 24.0 * float(d["snapshot_gpus"])


def llama3_failure_classes() -> list[FailureClass]:
    """Per-class rates from Llama 3 405B Table 5: count / (54 d x 24 h x 16,384 GPUs)."""
    gh = llama3_gpu_hours()
    return [FailureClass(name=c["name"], rate_per_gpu_hour=c["count"] / gh, hardware=bool(c["hardware"]))
            for c in _llama3_doc()["classes"]]


def llama3_planned_per_day() -> float:
    d = _llama3_doc()
    return float(d["planned_interruptions"]) / float(d["snapshot_days"])


class Reliability(Spec):
    classes: list[FailureClass] | None = Field(None, description="Failure classes (None = the 18 root-cause classes of Llama 3 405B, arXiv 2407.21783 Table 5: 419 interruptions in 54 days on 16,384 GPUs, ~1.97e-5 per GPU-hour).")
    rate_scale: float = Field(1.0, ge=0, description="Multiplies every class rate (1 = as given; 0 = no failures; 2 = a fleet twice as flaky).")
    restart_s: float = Field(DEFAULT_RESTART_S, ge=0, description="Default time from an interruption until training runs again, s (assumption: 10 min for detection + relaunch + NCCL init + checkpoint load at 16k GPUs; not published).")
    repair_s: float = Field(DEFAULT_REPAIR_S, ge=0, description="Default time a failed node is out of the pool, s (assumption: 4 h).")
    hot_spare_nodes: int | None = Field(None, ge=0, description="Healthy spare nodes kept ready (None = 1% of the job's nodes, rounded up). A hardware failure takes one out for repair_s; with none left the job waits for a repair.")
    spare_swap_s: float = Field(DEFAULT_SPARE_SWAP_S, ge=0, description="Extra downtime to swap a hot spare into the job, s (assumption: 2 min).")
    restart_on_failure_during_restart: bool = Field(True, description="A failure during a restart restarts it from the beginning (the Daly model); False = it is absorbed by the ongoing restart.")

    def failure_classes(self) -> list[FailureClass]:
        return list(self.classes) if self.classes is not None else llama3_failure_classes()

    def restart_s_of(self, c: FailureClass) -> float:
        """Time from an interruption of class `c` until training runs again, s: its own, else restart_s."""
        return c.restart_s if c.restart_s is not None else self.restart_s


class Maintenance(Spec):
    per_day: float = Field(DEFAULT_MAINTENANCE_PER_DAY, ge=0, le=100, description="Planned interruptions per day (default 47 in 54 days: Llama 3 405B, arXiv 2407.21783 section 3.3.4). Each is preceded by a checkpoint, so no work is lost.")
    schedule: Literal["periodic", "poisson"] = Field("poisson", description="Evenly spaced, or Poisson arrivals with the same mean.")
    downtime_s: float = Field(DEFAULT_MAINTENANCE_DOWNTIME_S, ge=0, le=1e6, description="Time the job is down for each planned interruption, before the restart, s (assumption: 10 min for config/code/firmware pushes).")


class Evaluation(Spec):
    every_s: float | None = Field(None, gt=0, description="Run an evaluation after this much productive training time, s (None = no evaluation pauses).")
    duration_s: float = Field(300.0, ge=0, description="Length of one evaluation pause, s (forward passes only: GPUs near compute power, no training progress).")


class CheckpointPolicy(Spec):
    policy: Literal["fixed", "young_daly"] = Field("young_daly", description="'fixed': every interval_s of training; 'young_daly': the optimum interval for the job's failure rate and checkpoint cost (Daly 2006 higher-order form of sqrt(2 C M)).")
    interval_s: float = Field(3600.0, gt=0, description="Training time between checkpoints with policy 'fixed', s.")
    mode: Literal["sync", "async"] = Field("sync", description="'sync': training stalls for the whole write; 'async': it stalls only to snapshot state to host memory, the write proceeds in the background (a checkpoint counts once written).")
    checkpoint_bytes: float | None = Field(None, gt=0, description="Bytes in one checkpoint (None = from the training core: weights + optimizer state; fallback 14 bytes/parameter).")
    storage_bandwidth_gb_per_s: float | None = Field(None, gt=0, description="Aggregate write bandwidth to checkpoint storage, GB/s (None = 0.125 GB/s per GPU, i.e. 1 GB/s per 8-GPU node; Meta's Tectonic gave Llama 3 2 TB/s sustained for 16k GPUs).")
    snapshot_gb_per_s_per_gpu: float = Field(25.0, gt=0, description="Device-to-host copy rate for async snapshots, GB/s per GPU (PCIe Gen5 x16 in practice).")
    min_interval_s: float = Field(60.0, gt=0, description="Lower bound on the checkpoint interval, s (the Young/Daly optimum is clipped to it and the clip is reported).")


class PowerMitigation(Spec):
    gpu_power_floor_frac_of_tdp: float | None = Field(None, ge=0, le=1, description="Keep every GPU of the job at least at this share of TDP while the job holds it (during exposed communication, checkpoint stalls and evaluation), by a power-burning kernel; narrows swings, costs energy (reported as mitigation_energy_j).")
    filler_during_restarts: bool = Field(False, description="Also hold the floor during restarts and maintenance (a filler workload on the healthy GPUs).")


class PowerDynamics(Spec):
    phase_edge_s: float = Field(0.1, gt=0, le=60, description="Duration of the synchronized compute<->communication power edge at the facility meter, s (assumption: GPU power moves in tens of ms; ranks of a 10k+ job enter a collective within ~0.1 s). Sets max_ramp_w_per_s of iterations.")
    start_ramp_s: float = Field(5.0, gt=0, le=3600, description="Ramp from idle to full training power when the job (re)starts, s, at most an hour (assumption: ranks reach their first step over a few seconds; a longer start is initialization, which reliability.restart_s prices).")
    stop_ramp_s: float = Field(2.0, gt=0, le=3600, description="Ramp down from training to idle at a stop or failure, s, at most an hour (assumption).")
    min_gpu_cap_frac_of_tdp: float = Field(0.3, gt=0, le=1, description="Lowest GPU power cap the driver allows, as a share of TDP (H100: 200 W of 700 W ~ 0.29). Below it the job pauses instead.")


class Timeline(Spec):
    bucket_s: float = Field(60.0, gt=0, description="Coarse timeline bucket, s (min/mean/max facility power computed analytically from the iteration pattern inside each bucket).")
    fine_resolution_s: float = Field(0.1, gt=0, description="Sample spacing of the fine windows around events, s.")
    fine_pre_s: float = Field(20.0, ge=0, description="Fine window starts this long before an event, s.")
    fine_post_s: float = Field(40.0, ge=0, description="Fine window ends this long after an event, s.")
    fine_max_per_kind: int = Field(2, ge=0, le=100, description="Fine windows kept per event kind (start, checkpoint, failure, restart, stop, ...); the first ones of each kind.")


class Layout(Spec):
    tp: int | None = Field(None, ge=1, description="Tensor-parallel size (None = searched by the training core).")
    pp: int | None = Field(None, ge=1, description="Pipeline-parallel size (None = searched).")
    cp: int | None = Field(None, ge=1, description="Context-parallel size (None = searched).")
    ep: int | None = Field(None, ge=1, description="Expert-parallel size (MoE; None = searched).")
    etp: int | None = Field(None, ge=1, le=4096, description="Expert tensor-parallel size, a divisor of tp (MoE; None = searched: tp, or 1 under MoE parallel folding).")
    ep_overlap: bool | None = Field(None, description="Expert all-to-all overlapped with another micro-batch's compute (MoE, ep > 1; None = searched).")
    activation_offload: bool | None = Field(None, description="Saved activations kept in host memory, copied over the host link behind the compute (None = searched where the stack tries it, else off).")
    ep_dispatcher: EpDispatcher | None = Field(None, description="Expert all-to-all: all-to-all (one copy per token and expert) or deduplicated (one network copy per token and other node holding its experts: DeepEP, HybridEP); None = the training stack's.")
    moe_expert_launch: MoeExpertLaunch | None = Field(None, description="Expert MLP kernels started by the device (CUDA graph, device-initiated grouped GEMM) or the host (per expert, after the dispatcher's sync: fp8 / fp4 experts keep the GPU waiting); None = the training stack's (device).")
    moe_router_balance: MoeRouterBalance | None = Field(None, description="How the run balances its MoE router: forced (random routing, as NVIDIA's published throughput runs), aux-loss (auxiliary balancing loss: busiest expert-parallel rank further above the mean) or loss-free (DeepSeek-V3's bias balancing); None = forced.")
    dp: int | None = Field(None, ge=1, description="Data-parallel size (None = num_gpus / (tp*pp*cp)).")
    dp_bucket_params: float | None = Field(None, ge=1e6, le=1e13, description="Parameters per data-parallel gradient bucket (a run's ddp bucket_size; None = Megatron-core's default max(40M, 1M x dp x cp)).")
    dropout: bool | None = Field(None, description="The run trains with dropout (two 1-byte masks of sequence x hidden per layer kept for the backward); None = the training stack's default (Megatron stacks: yes).")
    recompute_layers: int | None = Field(None, ge=1, le=100_000, description="With recompute full: layers of each pipeline stage that recompute, as costsim train --recompute-layers (None = all).")
    cp_comm_type: CpCommType | None = Field(None, description="Context-parallel exchange, as costsim train --cp-comm-type: p2p (ring, hidden behind attention) or a2a (Ulysses all-to-alls, exposed); None = the training stack's (p2p).")
    fp8_activation_store: bool | None = Field(None, description="fp8 / fp4 runs: the FFN activation function's input kept in FP8, as costsim train --fp8-activation-store; None = off.")
    vp: int | None = Field(None, ge=1, description="Virtual pipeline stages per GPU (None = searched).")
    micro_batch: int | None = Field(None, ge=1, description="Micro-batch in sequences (None = searched).")
    recompute: Recompute | None = Field(None, description="Activation recomputation: none, selective, full (None = searched).")
    zero: Literal[0, 1, 2, 3] | None = Field(None, description="ZeRO / distributed-optimizer stage (None = searched).")


class TrainingWorkload(Spec):
    model: str = Field(..., description="Model catalog id or model YAML path.")
    hardware: str = Field(..., description="Accelerator catalog id or hardware YAML path.")
    num_gpus: int = Field(..., ge=1, description="GPUs in the job.")
    tokens: float | None = Field(None, gt=0, le=1e16, description="Training tokens to process (accepts 15.6e12; at most 1e16; None = the model's training_tokens).")
    seq_len: int = Field(4096, ge=1, le=10_000_000, description="Sequence length, tokens (at most 10,000,000, the longest published context).")
    global_batch: int | None = Field(None, ge=1, le=100_000_000, description="Global batch in sequences, at most 100,000,000 (None = about 4M tokens / seq_len).")
    precision: Precision = Field("bf16", description="Matmul datatype (bf16, fp16, fp8, fp4 = NVFP4 on FP4-capable devices).")
    attention_precision: Literal["bf16", "fp8"] = Field("bf16", description="Datatype of the attention core: bf16, or fp8 (Transformer Engine FP8 dot-product attention) on FP8-capable devices.")
    fp4_bf16_layers: int | None = Field(None, ge=0, le=100_000, description="NVFP4 runs: transformer layers kept in BF16, as costsim train --fp4-bf16-layers (None = 0, Megatron-core's default).")
    lora_rank: int | None = Field(None, ge=1, le=65_536, description="LoRA fine-tuning: adapter rank, as costsim train --lora-rank (None = full-parameter training). A LoRA run needs tokens (its fine-tuning length).")
    lora_targets: LoraTargets | None = Field(None, max_length=200, description="Linear layers with LoRA adapters, as costsim train --lora-targets: attention (default), all-linear, or a comma list of projections with one adapter each (q, k, v, o, gate, up, down; e.g. q,v).")
    lora_dropout: float | None = Field(None, ge=0.0, lt=1.0, description="LoRA adapters' dropout probability, as costsim train --lora-dropout (above 0 a dropout kernel per adapter; None = the training stack's).")
    lora_base_precision: LoraBasePrecision | None = Field(None, description="Frozen base storage of a LoRA run, as costsim train --lora-base-precision: nf4 = QLoRA (4-bit NormalFloat, bf16 compute). None = the compute datatype's.")
    layout: Layout = Field(default_factory=Layout, description="Parallel layout; unset fields are searched by the training core.")
    framework: FrameworkName | None = Field(None, description="Training stack, as costsim train --framework (None = xla-tpu on Google TPUs, megatron-core-2024 elsewhere).")
    power_cap_w: float | None = Field(None, gt=0, le=100_000, description="Per-GPU power limit, W, as costsim train --power-cap-w: the step runs at the clock it leaves and the GPUs draw at most this much (a grid import cap can lower it further). None = the TDP.")
    step_time_s: float | None = Field(None, ge=1e-6, le=1e6, description="Override of the step time, s, 1e-6 to 1e6 (None = from the training core). For what-ifs and tests.")
    max_days: float | None = Field(None, gt=0, description="Stop after this many days of wall time even if tokens remain (e.g. 54 = the Llama 3 reliability snapshot). None = run to completion (or simulation.duration_s).")
    reliability: Reliability = Field(default_factory=Reliability, description="Failure classes, restart and repair times, hot spares.")
    maintenance: Maintenance = Field(default_factory=Maintenance, description="Planned interruptions.")
    evaluation: Evaluation = Field(default_factory=Evaluation, description="Evaluation pauses.")
    checkpoint: CheckpointPolicy = Field(default_factory=CheckpointPolicy, description="Checkpoint interval and write mode.")
    mitigation: PowerMitigation = Field(default_factory=PowerMitigation, description="Power-swing mitigation (GPU power floor, filler workload).")
    power: PowerDynamics = Field(default_factory=PowerDynamics, description="Ramp times and power-cap behaviour (documented assumptions).")
    timeline: Timeline = Field(default_factory=Timeline, description="Coarse timeline bucket and fine windows around events.")

    @model_validator(mode="after")
    def _layout_fits(self) -> "TrainingWorkload":
        lay = self.layout
        prod = 1
        for v in (lay.tp, lay.pp, lay.cp, lay.dp):
            if v is not None:
                prod *= v
        if prod > self.num_gpus or self.num_gpus % prod:
            raise ValueError(f"layout tp*pp*cp*dp = {prod} must divide num_gpus = {self.num_gpus}")
        if lay.dp is not None and self.global_batch is not None and self.global_batch % lay.dp:
            raise ValueError(f"global_batch {self.global_batch} must be a multiple of layout.dp {lay.dp}")
        if self.lora_rank and self.tokens is None:
            raise ValueError("a LoRA fine-tuning run (lora_rank) needs tokens: its length is not the model's pre-training "
                             "(training_tokens); give training.tokens, e.g. 1e9")
        for name in ("lora_targets", "lora_dropout", "lora_base_precision"):
            if getattr(self, name) is not None and not self.lora_rank:
                raise ValueError(f"{name} describes LoRA adapters but lora_rank is not given; add lora_rank (e.g. 16) or "
                                 f"drop {name}")
        return self
