"""Serving part of the scenario schema (owned by the serving-simulation work).

A serving workload is a fleet of model replicas behind a router, fed by an arrival process.
Every field is described; the descriptions are CLI help, UI tooltips and JSON-Schema text.
The simulation itself lives in `costsim.sim.serving` (`simulate_serving`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from costsim.specs.base import Spec

WeightPrecision = Literal["bf16", "fp16", "fp8", "int8", "int4", "q8_0", "q4_0", "fp4", "mxfp4", "fp6"]
KvPrecision = Literal["bf16", "fp16", "fp8", "int8", "int4", "fp4"]
SpeculativeTokens = Annotated[int | None, Field(ge=0, le=16, description=(
    "Speculative decoding: draft tokens per sequence per step (a DeepSeek MTP module, an EAGLE head; 0 or None = none). "
    "Each step verifies 1 + k tokens in one pass of the model and drafts them in k passes of a one-layer draft; it "
    "yields (1 - a^(k+1)) / (1 - a) tokens at acceptance a."))]
AcceptanceFrac = Annotated[float | None, Field(gt=0, lt=1, description=(
    "Speculative decoding: the chance a drafted token is accepted given the ones before it were (DeepSeek-V3's MTP "
    "module: 0.85-0.90 for its one draft token). Required with speculative_tokens."))]

StatePrecision = Annotated[Literal["fp32", "bf16", "fp16"] | None, Field(description=(
    "Storage of a hybrid model's recurrent state (Mamba-2 / Gated DeltaNet layers), as vLLM's --mamba-ssm-cache-dtype "
    "and SGLang's --mamba-ssm-dtype set it: fp32, bf16 or fp16 (None = the model's linear_state_dtype, what its "
    "checkpoint and the engines' defaults ask for). The state is read and rewritten every decode step, so its bytes "
    "set decode speed and how many sequences fit; ignored for models without such layers."))]


def check_speculation(speculative_tokens: int | None, acceptance_frac: float | None) -> None:
    """Drafts need their acceptance: refuse speculative_tokens > 0 without acceptance_frac."""
    if speculative_tokens and acceptance_frac is None:
        raise ValueError("speculative_tokens needs acceptance_frac (--acceptance-rate: the chance a drafted token is "
                         "accepted, between 0 and 1 exclusive; DeepSeek-V3's MTP module: 0.85-0.90)")


class ArrivalSpec(Spec):
    """When requests arrive."""

    process: Literal["poisson", "gamma", "diurnal", "trace"] = Field(
        "poisson",
        description="Arrival process: 'poisson' (exponential gaps), 'gamma' (gamma gaps with coefficient of variation cv; "
        "cv > 1 is bursty), 'diurnal' (Poisson whose rate follows diurnal_profile hour by hour), 'trace' (replay "
        "timestamps from trace_path).",
    )
    rate_per_s: float | None = Field(
        None, gt=0,
        description="Mean arrival rate, requests/s. Required for poisson/gamma/diurnal; for 'trace' it rescales the "
        "trace's timestamps to this mean rate (None = replay the trace as recorded).",
    )
    cv: float = Field(1.0, gt=0, le=20, description="Coefficient of variation of inter-arrival gaps for 'gamma' (1 = Poisson).")
    diurnal_profile: list[float] | None = Field(
        None, min_length=1, max_length=8784,
        description="Hourly rate multipliers for 'diurnal' (piecewise constant, one per hour, repeated; at most 8,784, a leap year's hours; normalized so "
        "their mean is 1, so rate_per_s stays the daily mean). None = a built-in chat-like day (trough ~0.35 at 04:00, "
        "peak ~1.6 at 14:00; estimate).",
    )
    start_hour: float = Field(0.0, ge=0, lt=24, description="Hour of day at simulation time 0 (diurnal profile and trace-free runs).")
    trace_path: str | None = Field(
        None,
        description="CSV with columns timestamp_s,input_tokens,output_tokens (used by process 'trace' and by length "
        "distributions of kind 'trace'). Relative paths are tried against the working directory, then the repo's "
        "scenarios/ folder (e.g. 'traces/chat-sample.csv').",
    )
    trace_repeat: bool = Field(True, description="Loop the trace when the simulated duration is longer than the trace.")

    @model_validator(mode="after")
    def _check(self) -> "ArrivalSpec":
        if self.process in ("poisson", "gamma", "diurnal") and self.rate_per_s is None:
            raise ValueError(f"arrivals.process '{self.process}' needs arrivals.rate_per_s (requests per second)")
        if self.process == "trace" and not self.trace_path:
            raise ValueError("arrivals.process 'trace' needs arrivals.trace_path (a CSV timestamp_s,input_tokens,output_tokens)")
        if self.diurnal_profile is not None and (min(self.diurnal_profile) < 0 or sum(self.diurnal_profile) <= 0):
            raise ValueError("arrivals.diurnal_profile multipliers must be >= 0 with a positive sum")
        return self


class LengthDist(Spec):
    """A token-length distribution (prompt or output)."""

    kind: Literal["fixed", "uniform", "lognormal", "trace"] = Field(
        "fixed",
        description="'fixed' (always mean), 'uniform' (integers low..high), 'lognormal' (mean and cv, rounded, "
        "truncated to [low, high]: values outside are redrawn and the count is reported), 'trace' (bootstrap from "
        "the trace CSV, jointly with the other length when both are 'trace').",
    )
    mean: float | None = Field(None, gt=0, description="Mean tokens (fixed value for 'fixed'; mean of the untruncated lognormal).")
    cv: float = Field(1.0, gt=0, le=10, description="Coefficient of variation of the lognormal (std / mean before truncation).")
    low: int = Field(1, ge=1, description="Smallest length, tokens (uniform lower bound; lognormal truncation).")
    high: int | None = Field(None, ge=1, description="Largest length, tokens (uniform upper bound; lognormal truncation; None = model context).")

    @model_validator(mode="after")
    def _check(self) -> "LengthDist":
        if self.kind in ("fixed", "lognormal") and self.mean is None:
            raise ValueError(f"length kind '{self.kind}' needs 'mean' (tokens)")
        if self.kind == "uniform" and self.high is None:
            raise ValueError("length kind 'uniform' needs 'high' (tokens)")
        if self.high is not None and self.high < self.low:
            raise ValueError("length 'high' must be >= 'low'")
        return self


class SchedulerSpec(Spec):
    """Per-replica iteration-level (continuous) batching, as in vLLM."""

    max_num_batched_tokens: int = Field(8192, ge=1, description="Token budget of one iteration (decode tokens + prefill chunk tokens).")
    max_num_seqs: int = Field(256, ge=1, description="Most sequences running at once on a replica (max batch).")
    chunked_prefill: bool = Field(True, description="Split prompts into chunks that share iterations with decodes (vLLM chunked prefill). "
                                  "Off: a prefill iteration runs whole prompts only and pauses decodes.")
    preemption: Literal["recompute", "swap"] = Field("recompute", description="When the KV cache is full, the newest running sequence is "
                                                     "preempted: 'recompute' drops its KV and re-prefills it later; 'swap' copies its KV "
                                                     "to host memory over PCIe and back.")
    kv_block_tokens: int = Field(16, ge=1, le=1024, description="Tokens per KV-cache block (paged attention block size).")
    gpu_memory_utilization_frac: float | None = Field(None, gt=0, le=1, description="Share of device memory the engine may use "
                                                      "(weights + workspace + KV cache), as vLLM's gpu_memory_utilization (None = the "
                                                      "device category default of the inference core: 0.9 GPUs, 0.55 phones).")
    swap_bytes_per_s: float = Field(25e9, gt=0, description="Host<->device copy rate for swap preemption, B/s (PCIe Gen5 x16 "
                                    "~50 GB/s peak per direction; ~25 GB/s achieved, estimate).")
    max_waiting_per_replica: int | None = Field(None, ge=1, description="Admission control: a request routed to a replica "
                                                "that already has this many waiting is dropped (None = queue without limit).")

    @model_validator(mode="after")
    def _budget_holds_the_batch(self) -> "SchedulerSpec":
        # vLLM refuses this too (SchedulerConfig: max_num_batched_tokens must be >= max_num_seqs): with a smaller
        # token budget a decode step cannot give every running sequence its token
        if self.max_num_batched_tokens < self.max_num_seqs:
            raise ValueError(f"max_num_batched_tokens ({self.max_num_batched_tokens}) is below max_num_seqs ({self.max_num_seqs}): one "
                             "iteration could not give every running sequence its next token; raise max_num_batched_tokens or "
                             "lower max_num_seqs")
        return self


POOLS = ("prefill", "decode")  # the disaggregated pools: each may run its own replica group, within its own autoscaler bounds


class DisaggregationSpec(Spec):
    """Prefill/decode disaggregation (Splitwise, DistServe): separate pools, KV moved over the network."""

    enabled: bool = Field(False, description="Run prefills on a prefill pool and decodes on a decode pool.")
    prefill_replicas: int = Field(1, ge=1, description="Replicas in the prefill pool (taken from the layout of prefill_group, else of the first replica group).")
    decode_replicas: int = Field(1, ge=1, description="Replicas in the decode pool.")
    kv_transfer_bytes_per_s: float | None = Field(None, gt=0, description="Network rate for the KV transfer of one request, B/s "
                                                  "(None = the scale-out bandwidth of the prefill replica's GPUs, or of a decode replica's where that is slower).")
    kv_transfer_latency_s: float = Field(20e-6, ge=0, description="Fixed latency per KV transfer, s.")
    decode_group: str | None = Field(None, max_length=64, description="Name of a serving.replica_groups entry whose hardware and "
                                     "layout the decode pool runs (Splitwise: prompts on H100, decodes on A100 or H200); None = the "
                                     "first group's. The prefill pool runs prefill_group (None = the first group). The decode "
                                     "group's own num_replicas must be 0 or decode_replicas (decode_replicas counts the pool), unless "
                                     "it runs the prefill pool too.")
    prefill_group: str | None = Field(None, max_length=64, description="Name of a serving.replica_groups entry whose hardware and "
                                      "layout the prefill pool runs, so the groups may be listed in any order; None = the first group "
                                      "(where decode_group names the first group too, both pools run there). A group other than the "
                                      "first that runs it has num_replicas 0 or prefill_replicas (prefill_replicas counts the pool; "
                                      "prefill_replicas + decode_replicas where it runs both).")

    def pool_group_index(self, pool: str, names: list[str]) -> int:
        """Index in serving.replica_groups (names) of the group the pool ('prefill' or 'decode') runs: the one
        prefill_group / decode_group names, else the first."""
        name = getattr(self, f"{pool}_group")
        return names.index(name) if name is not None and name in names else 0


class ReplicaGroup(Spec):
    """A set of identical replicas (mixed hardware = several groups)."""

    name: str = Field("main", description="Label of the group in outputs.")
    hardware: str | None = Field(None, description="Accelerator id or YAML path (None = the workload's hardware).")
    num_replicas: int = Field(1, ge=0, description="Replicas in this group at t=0 (the autoscaler may change the first group; a group "
                              "running a disaggregated pool starts with disaggregation.prefill_replicas / decode_replicas).")
    gpus_per_replica: int = Field(1, ge=1, description="Accelerators per replica (tp x pp x ep; tensor parallel unless pp / ep say otherwise).")
    pp: int = Field(1, ge=1, description="Pipeline-parallel stages per replica (tp = gpus_per_replica / (pp x ep)).")
    ep: int = Field(1, ge=1, description="Expert-parallel size per replica (MoE only).")
    weight_precision: WeightPrecision = Field("bf16", description="Weight storage: bf16/fp16, fp8, int8, int4, llama.cpp q8_0 (8.5 bits/weight) / q4_0 (4.5 bits/weight), fp4 (NVFP4), mxfp4, fp6 (MXFP6).")
    kv_precision: KvPrecision | None = Field(None, description="KV-cache precision (None = what the engine runs: fp8 with fp8/fp4/fp6 weights on TensorRT-LLM-class engines, bf16 otherwise and on vllm / sglang).")
    power_cap_w: float | None = Field(None, gt=0, description="Per-GPU power cap for this group, W (None = the workload's power_cap_w_per_gpu).")


def check_pool_groups(d: DisaggregationSpec, groups: list[ReplicaGroup]) -> None:
    """disaggregation.prefill_group / decode_group each name exactly one replica group and need disaggregation; a
    group that runs a pool has num_replicas 0 or the size of the pools it runs, but the first group where it runs the
    prefill pool (its num_replicas was never read there)."""
    names = [g.name for g in groups]
    for pool in POOLS:
        name = getattr(d, f"{pool}_group")
        if name is None:
            continue
        if not d.enabled:
            raise ValueError(f"serving.disaggregation.{pool}_group names the {pool} pool's group; set disaggregation.enabled: true "
                             f"or leave {pool}_group out")
        if names.count(name) != 1:
            raise ValueError(f"serving.disaggregation.{pool}_group {name!r} must name exactly one of serving.replica_groups "
                             f"({', '.join(repr(n) for n in names) or 'none given'}); give the groups distinct names")
    if not d.enabled or not groups:
        return
    runs: dict[int, list[str]] = {}
    for pool in POOLS:
        runs.setdefault(d.pool_group_index(pool, names), []).append(pool)
    for i, pools in runs.items():
        if i == 0 and "prefill" in pools:
            continue
        size = sum(getattr(d, f"{p}_replicas") for p in pools)
        if groups[i].num_replicas not in (0, size):
            keys = " + ".join(f"disaggregation.{p}_replicas" for p in pools)
            raise ValueError(f"replica group {groups[i].name!r} runs the {' and '.join(pools)} pool{'s' if len(pools) > 1 else ''}, whose "
                             f"size is {keys} ({size}); set its num_replicas to 0 (or to {size})")


@dataclass(frozen=True)
class PoolBounds:
    """The fewest and most replicas the autoscaler keeps in one pool, and the keys that set them (for messages)."""

    min_replicas: int
    max_replicas: int
    min_key: str = "min_replicas"
    max_key: str = "max_replicas"


class AutoscalerSpec(Spec):
    policy: Literal["none", "target_utilization", "queue_length"] = Field("none", description="'target_utilization': keep replica occupancy "
                                                                          "(larger of batch slots and KV blocks in use) near target; 'queue_length': keep waiting requests per replica near target.")
    target_utilization_frac: float = Field(0.7, gt=0, le=1, description="Occupancy to aim for (target_utilization): mean over active replicas of max(running / max_num_seqs, KV blocks used / KV blocks).")
    target_queue_per_replica: float = Field(4.0, gt=0, description="Waiting requests per replica to aim for (queue_length).")
    interval_s: float = Field(30.0, ge=1.0, description="Seconds between autoscaler decisions, at least 1 (Kubernetes' horizontal autoscaler decides every 15 s by default).")
    startup_delay_s: float = Field(120.0, ge=0, description="Seconds from the decision to a new replica taking traffic (boot, weight load); "
                                   "it draws idle power and is billed meanwhile.")
    min_replicas: int = Field(1, ge=0, description="Fewest replicas of the autoscaled (first) group; with disaggregation, of each pool (prefill, decode) "
                              "unless prefill_min_replicas / decode_min_replicas set its own.")
    max_replicas: int = Field(1000, ge=1, description="Most replicas of the autoscaled (first) group; with disaggregation, of each pool (prefill, decode) "
                              "unless prefill_max_replicas / decode_max_replicas set its own.")
    prefill_min_replicas: int | None = Field(None, ge=0, description="With disaggregation: fewest replicas of the prefill pool (None = min_replicas).")
    prefill_max_replicas: int | None = Field(None, ge=1, description="With disaggregation: most replicas of the prefill pool (None = max_replicas).")
    decode_min_replicas: int | None = Field(None, ge=0, description="With disaggregation: fewest replicas of the decode pool (None = min_replicas).")
    decode_max_replicas: int | None = Field(None, ge=1, description="With disaggregation: most replicas of the decode pool (None = max_replicas; "
                                            "a decode pool sized for the answers beside a small prefill pool, as Splitwise and Dynamo run them).")

    def bounds(self, role: str) -> PoolBounds:
        """The bounds of the pool `role` scales: 'prefill' and 'decode' (disaggregation) take their own keys where set,
        else min_replicas / max_replicas; 'mixed' takes those."""
        if role not in POOLS:
            return PoolBounds(self.min_replicas, self.max_replicas)
        lo, hi = getattr(self, f"{role}_min_replicas"), getattr(self, f"{role}_max_replicas")
        return PoolBounds(self.min_replicas if lo is None else lo, self.max_replicas if hi is None else hi,
                          "min_replicas" if lo is None else f"{role}_min_replicas", "max_replicas" if hi is None else f"{role}_max_replicas")

    @property
    def pool_keys_set(self) -> list[str]:
        """The per-pool bound keys given (prefill_min_replicas, ...)."""
        return [f"{p}_{k}" for p in POOLS for k in ("min_replicas", "max_replicas") if getattr(self, f"{p}_{k}") is not None]

    @model_validator(mode="after")
    def _check(self) -> "AutoscalerSpec":
        if self.min_replicas > self.max_replicas:
            raise ValueError("autoscaler.min_replicas must not exceed autoscaler.max_replicas")
        for pool in POOLS:
            b = self.bounds(pool)
            if b.min_replicas > b.max_replicas:
                raise ValueError(f"autoscaler.{b.min_key} ({b.min_replicas}) exceeds autoscaler.{b.max_key} ({b.max_replicas}), the "
                                 f"{pool} pool's bounds; lower {b.min_key} or set {pool}_max_replicas to at least {b.min_replicas}")
        return self


class SloSpec(Spec):
    ttft_s: float | None = Field(None, gt=0, description="Time-to-first-token limit per request, s (None = no limit; with only "
                                 "ttft_p99_s given, slo_attainment_frac and goodput count requests under that limit).")
    tpot_s: float | None = Field(None, gt=0, description="Time-per-output-token limit per request (mean over its decode), s (None = no limit).")
    ttft_p99_s: float | None = Field(None, gt=0, description="Fleet verdict: p99 TTFT must be at most this, s (MLPerf server: 2 s for Llama 2 70B).")
    tpot_p99_s: float | None = Field(None, gt=0, description="Fleet verdict: p99 TPOT must be at most this, s (MLPerf server: 0.2 s).")


class ServingWorkload(Spec):
    model: str = Field(..., description="Model catalog id or model YAML path.")
    hardware: str = Field(..., description="Accelerator catalog id or hardware YAML path.")
    num_replicas: int = Field(1, ge=1, description="Replicas when replica_groups is empty.")
    gpus_per_replica: int = Field(1, ge=1, description="Accelerators per replica (tp x pp x ep) when replica_groups is empty.")
    pp: int = Field(1, ge=1, description="Pipeline-parallel stages per replica when replica_groups is empty.")
    ep: int = Field(1, ge=1, description="Expert-parallel size per replica (MoE) when replica_groups is empty.")
    gpus: int | None = Field(None, ge=1, le=1_000_000, description="GPU budget: leave the per-replica layout open (no num_replicas / gpus_per_replica / "
                             "replica_groups) and the deployment search (costsim.api.serve.search_deployment) picks replicas x TP x PP x EP, "
                             "and the weight precision unless weight_precision is set, for the best throughput under the SLOs.")
    engine: str = Field("default", max_length=64, description="Serving-engine profile (costsim/data/engines.yaml): default, tensorrt-llm, "
                        "tensorrt-llm-pytorch, vllm, rocm-vllm (2024), rocm-vllm-2026, sglang, llama.cpp, research-2023, splitwise-characterization, pytorch-eager.")
    top_k: int | None = Field(None, ge=0, le=1_000_000, description="top_k of the requests' sampling: None = the model's published default "
                              "(Qwen3 20, Gemma 3 64, Llama 3.1 none), 0 = none (greedy or top-p); vLLM charges top-k masking per sequence per step.")
    speculative_tokens: SpeculativeTokens = None
    acceptance_frac: AcceptanceFrac = None
    state_precision: StatePrecision = None
    weight_precision: WeightPrecision | None = Field(None, description="Weight storage when replica_groups is empty (None = bf16; searched with a GPU budget).")
    kv_precision: KvPrecision | None = Field(None, description="KV-cache precision when replica_groups is empty (None = what the engine runs: fp8 with fp8/fp4/fp6 weights on TensorRT-LLM-class engines, bf16 otherwise and on vllm / sglang).")
    replica_groups: list[ReplicaGroup] = Field(default_factory=list, description="Replica groups (mixed hardware); empty = one group from the fields above.")
    arrivals: ArrivalSpec = Field(default_factory=lambda: ArrivalSpec(rate_per_s=1.0), description="Arrival process.")
    input_tokens: LengthDist = Field(default_factory=lambda: LengthDist(kind="fixed", mean=512), description="Prompt length distribution.")
    output_tokens: LengthDist = Field(default_factory=lambda: LengthDist(kind="fixed", mean=256), description="Output length distribution.")
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec, description="Per-replica batching scheduler.")
    disaggregation: DisaggregationSpec = Field(default_factory=DisaggregationSpec, description="Prefill/decode disaggregation.")
    routing: Literal["round_robin", "least_outstanding", "power_aware"] = Field(
        "least_outstanding",
        description="Router: 'round_robin'; 'least_outstanding' (fewest requests in flight); 'power_aware' (the group with the "
        "lowest modeled energy per token that still has batch headroom, least outstanding inside it).",
    )
    autoscaler: AutoscalerSpec = Field(default_factory=AutoscalerSpec, description="Replica autoscaler (first group; with disaggregation "
                                       "the prefill and decode pools, on their own groups, are scaled apart, each on its own occupancy or queue and "
                                       "within its own bounds: prefill_min_replicas / prefill_max_replicas, decode_min_replicas / "
                                       "decode_max_replicas, else min_replicas / max_replicas).")
    slo: SloSpec = Field(default_factory=SloSpec, description="Latency objectives.")
    power_cap_w_per_gpu: float | None = Field(None, gt=0, description="Per-GPU power cap, W (None = none; a grid import cap can also set one).")
    timeline_bucket_s: float | None = Field(None, gt=0, description="Width of the power/throughput timeline buckets, s (None = duration/240, at least 1 s).")
    warmup_s: float = Field(0.0, ge=0, description="Requests arriving before this time are simulated but left out of the latency statistics.")
    curtailment_hold_s: float = Field(0.0, ge=0, le=86400.0, description="Grid curtailment (grid.curtailment, grid.balancing_authority): seconds a request that finds no replica powered may wait at the router for one (shifted load: its TTFT includes the wait); 0 = dropped at once.")
    device_battery_wh: float | None = Field(None, gt=0, description="Battery energy of a phone/laptop replica, Wh: adds battery drain "
                                            "per hour of use to the summary (iPhone 14 Pro ~12.4 Wh, estimate from 3200 mAh x 3.87 V).")
    request_table_limit: int = Field(2_000_000, ge=0, description="Most per-request rows kept in the output table (latency histograms).")

    @model_validator(mode="after")
    def _budget(self) -> "ServingWorkload":
        check_speculation(self.speculative_tokens, self.acceptance_frac)
        a = self.autoscaler
        if a.policy != "none" and self.gpus is None and not self.replica_groups and self.num_replicas > a.max_replicas:
            raise ValueError(f"serving.num_replicas ({self.num_replicas}) is above autoscaler.max_replicas ({a.max_replicas}): "
                             "the fleet starts with num_replicas; start at most max_replicas or raise it")
        d = self.disaggregation
        check_pool_groups(d, self.replica_groups)
        if a.pool_keys_set and not d.enabled:
            raise ValueError(f"serving.autoscaler.{a.pool_keys_set[0]} bounds a pool of a disaggregated fleet; set serving.disaggregation.enabled: "
                             "true or leave it out (min_replicas / max_replicas bound the fleet's replicas)")
        if a.policy != "none" and d.enabled:
            for pool in POOLS:
                b, n = a.bounds(pool), getattr(d, f"{pool}_replicas")
                if n > b.max_replicas:
                    raise ValueError(f"serving.disaggregation.{pool}_replicas ({n}) starts the {pool} pool above autoscaler.{b.max_key} "
                                     f"({b.max_replicas}); start at most {b.max_replicas} or raise {pool}_max_replicas")
        if self.gpus is not None:
            explicit = {"num_replicas", "gpus_per_replica", "pp", "ep"} & self.model_fields_set
            if explicit or self.replica_groups:
                names = ", ".join(sorted(explicit)) or "replica_groups"
                raise ValueError(f"serving.gpus is a GPU budget for the deployment search; leave out {names} (or drop gpus and give the layout)")
        return self

    @model_serializer(mode="wrap")
    def _budget_dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # with a GPU budget the layout fields were left at their defaults (the check above refuses them when set); a
        # dump leaves them out, so the dump validates again (variants, sweeps and the resolved scenario re-read it)
        data = handler(self)
        if isinstance(data, dict) and self.gpus is not None:
            for key in ("num_replicas", "gpus_per_replica", "pp", "ep"):
                if key not in self.model_fields_set:
                    data.pop(key, None)
        return data

    @property
    def single_replica(self) -> bool:
        """True when the section gives the per-replica layout (no GPU budget to search)."""
        return self.gpus is None

    @property
    def tp(self) -> int | None:
        """Tensor-parallel size of an explicit layout (gpus_per_replica / (pp x ep)); None with a GPU budget."""
        return None if self.gpus is not None else max(1, self.gpus_per_replica // (self.pp * self.ep))
