"""An offline batch job on a serving deployment: N identical requests queued at once (a nightly
evaluation, a synthetic-data or labelling run), priced end to end: wall time, GPU and facility
energy, cost and CO2e.

Each replica takes its share of the N requests (the first N mod R replicas one more). On an engine that reserves a
sequence's whole length when it admits it (TensorRT-LLM's default scheduler) a replica runs them in waves of its
batch: floor(n / B) waves of B sequences and one of n mod B (costsim.core.serving_curve.finite_job, the model the
validation runner checks against NVIDIA's trtllm-bench tables and the serving simulation). On an engine that
allocates KV as sequences grow (Device.kv_on_demand: vLLM, SGLang, ROCm vLLM) it admits up to max_num_seqs (the
request's, else B) and preempts and recomputes the newest when the pool fills (costsim.core.serving_paged, the
model the runner checks against AMD's and Azure's MI300X tables); a replica's share above 2 x PAGED_EXACT_WAVES x
max_num_seqs requests is priced from two exact schedules, at the marginal time per request between them (the
schedule repeats once the first admissions have drained). The job ends when the most loaded replica does;
GPUs of replicas that finish earlier, and GPUs of the budget no replica uses, idle at warm-idle power
until then. A wave draws the serving estimate's mean power per GPU at its own batch (prefill,
decode steps and the host's request handling, costsim.estimators.inference.estimate_serve), so a
part-full last wave draws less than the full ones. Facility energy, cost and CO2e come from the
same accounting as every other run (costsim.economics.accounting.account_run) over the whole GPU
budget for the job's wall time."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from costsim.core import inference as core
from costsim.core.serving_curve import finite_job
from costsim.core.serving_paged import paged_finite_job
from costsim.economics.accounting import account_run
from costsim.errors import InputError
from costsim.estimators.inference import PREFILL_CHUNK_TOKENS, core_inputs, estimate_serve, served_model
from costsim.estimators.trtllm_bench import fill_batch
from costsim.specs.catalog import node_for
from costsim.specs.hardware import Accelerator
from costsim.specs.model import ModelSpec
from costsim.specs.requests import ServeRequest
from costsim.units import S_PER_HOUR

#: a paged replica's share up to 2 x this many times max_num_seqs is scheduled exactly; a larger one is extrapolated
#: from the schedules of PAGED_EXACT_WAVES and 2 x PAGED_EXACT_WAVES times max_num_seqs requests (Llama 3.1 405B FP8
#: on 8 MI300X, 128 / 4,096 tokens, max_num_seqs 1-4 x the 975 requests the cache holds: the extrapolation is within
#: 5 % of the exact schedule at 4 and 8 x max_num_seqs requests)
PAGED_EXACT_WAVES = 1
#: most sequences a paged job may start per request the KV cache holds at full length: beyond it the engine preempts
#: and recomputes over and over, and the schedule (one segment per preemption) takes seconds to minutes to build
PAGED_MAX_OVERCOMMIT = 4.0


@dataclass(frozen=True)
class OfflineJob:
    """N requests queued at once on a deployment, from first prompt to last token."""

    requests: int
    """Requests in the job (each input_tokens in, output_tokens out)."""
    replicas: int
    """Replicas sharing the job."""
    requests_per_replica_max: int
    """Requests of the most loaded replica (ceil(requests / replicas))."""
    batch_per_replica: int
    """Sequences a replica runs at once."""
    waves: int
    """Waves the most loaded replica runs (full batches plus one for a remainder; on a paged-KV engine the
    admissions of max_num_seqs it would take without preemption)."""
    wall_time_s: float
    """Time until the last request's last token, s."""
    output_tokens: float
    """Output tokens of the whole job."""
    throughput_tokens_per_s: float
    """Output tokens / wall time, whole deployment (below the steady state when the last wave runs part-full)."""
    steady_throughput_tokens_per_s: float
    """The deployment's steady-state throughput at the same batch, tokens/s (an endless queue)."""
    gpu_hours: float
    """GPU-hours of the whole GPU budget for the job's wall time, h."""
    gpu_energy_j: float
    """Accelerator energy: busy replicas at their mean power, finished and unused GPUs at warm idle, J."""
    facility_energy_j: float
    """Accelerators + host + fabric, times PUE, J."""
    cost_usd: float | None
    """Rental or capex share plus electricity over the job, USD (None when the device has no price)."""
    co2e_kg: float
    """Operational plus embodied emissions over the job, kg CO2e."""
    scheduler: str = "waves"
    """How a replica runs its share: 'waves' (whole-length KV reserved at admission) or 'paged' (KV allocated as
    sequences grow, preemption by recompute)."""
    max_num_seqs: int | None = None
    """Most sequences a paged replica runs at once (None for waves)."""
    preemptions: int = 0
    """Requests the most loaded paged replica preempted and recomputed (a request preempted twice counts twice)."""
    recompute_tokens: float = 0.0
    """Tokens the most loaded paged replica prefilled a second time."""

    def to_dict(self) -> dict:
        return asdict(self)


def price_offline_job(req: ServeRequest, result: dict, model: ModelSpec, acc: Accelerator) -> OfflineJob:
    """The job of `req.requests` requests on the deployment (or single replica) `result` of `costsim
    serve` (keys layout, batch, weight_precision, kv_precision, engine, gpu_power_w, gpu_power_by_phase_w and,
    for a GPU budget, deployment)."""
    n = int(req.requests or 0)
    dep = result.get("deployment") or {}
    replicas = int(dep.get("replicas") or 1)
    lay = result["layout"]
    gpus_per_replica = int(lay.get("gpus") or result["gpus"])
    gpus_budget = int(result["gpus"]) if dep else gpus_per_replica
    layout = core.Layout(tp=int(lay["tp"]), pp=int(lay["pp"]), ep=int(lay["ep"]))
    wp, kv = result["weight_precision"], result["kv_precision"]
    ci = _core(model, acc, req, result["engine"], wp, kv)
    b = int(result["batch"])
    i, o = int(result["input_tokens"]), int(result["output_tokens"])
    if req.batch == "fill":  # the engine's own CUDA-graph sizes, as the replica was priced
        _, dev = fill_batch(model, ci.shape, ci.dev, acc, tp=layout.tp, pp=layout.pp, ep=layout.ep, num_gpus=gpus_per_replica,
                            input_tokens=i, output_tokens=o, weight_precision=wp, kv_precision=kv, max_batch_fit=b,
                            engine=result["engine"])
        ci = replace(ci, dev=dev)
    waves: dict[int, tuple[float, float]] = {}
    paged = float(ci.dev.kv_on_demand) > 0
    max_seqs = int(req.max_num_seqs) if req.max_num_seqs else b
    sched: dict[int, tuple[float, int, float]] = {}

    def paged_share(k: int) -> tuple[float, int, float]:
        return paged_replica_job(ci, layout, i, o, max_seqs, k, sched)

    def wave(x: int) -> tuple[float, float]:
        """(time s, mean power per GPU W) of one wave of x sequences on one replica."""
        if x not in waves:
            t = float(finite_job(ci.shape, ci.dev, ci.prec, layout, float(x), float(i), float(o), float(x))["job_time_s"])
            if x == b:
                p = float(result["gpu_power_w"])
            else:
                rep = req.model_copy(update=dict(gpus=gpus_per_replica, tp=layout.tp, pp=layout.pp, ep=layout.ep, weight_precision=wp,
                                                 kv_precision=kv, batch=x, single_replica=True, requests=None))
                p = float(estimate_serve(rep, model=model, acc=acc, with_curve=False)["gpu_power_w"])
            waves[x] = (t, p)
        return waves[x]

    def replica(k: int) -> tuple[float, float]:
        """(busy time s, energy per GPU J) of a replica given k requests."""
        if k <= 0:
            return 0.0, 0.0
        if paged:  # at the mean power of the batch it mostly runs (the full batch, or all k when fewer)
            t = paged_share(k)[0]
            return t, t * wave(min(k, b))[1]
        (t_full, p_full), rest = wave(b), k % b
        t_rest, p_rest = wave(rest) if rest else (0.0, 0.0)
        return (k // b) * t_full + t_rest, (k // b) * t_full * p_full + t_rest * p_rest

    heavy, light = _busiest_share(n, replicas), n // replicas   # the first n mod R replicas take one more request
    n_heavy = n - light * replicas if n % replicas else replicas
    (t_heavy, e_heavy), (t_light, e_light) = replica(heavy), replica(light)
    wall = t_heavy
    p_idle = float(result["gpu_power_by_phase_w"]["idle"])
    busy_j = n_heavy * e_heavy + (replicas - n_heavy) * e_light
    idle_s = n_heavy * (wall - t_heavy) + (replicas - n_heavy) * (wall - t_light)
    gpu_j = gpus_per_replica * (busy_j + p_idle * idle_s) + (gpus_budget - replicas * gpus_per_replica) * p_idle * wall
    acct = account_run(acc=acc, node=node_for(acc), num_gpus=gpus_budget, wall_time_s=wall, gpu_energy_j=gpu_j,
                       facility=req.facility, economics=req.economics,
                       gpu_peak_power_w=max(result["gpu_power_by_phase_w"].values()))
    per_wave = max_seqs if paged else b
    n_waves = heavy // per_wave + (1 if heavy % per_wave else 0)
    pre, rec = paged_share(heavy)[1:] if paged and heavy > 0 else (0, 0.0)
    return OfflineJob(
        requests=n, replicas=replicas, requests_per_replica_max=heavy, batch_per_replica=b, waves=n_waves,
        wall_time_s=wall, output_tokens=float(n) * o, throughput_tokens_per_s=float(n) * o / wall if wall > 0 else 0.0,
        steady_throughput_tokens_per_s=float(result["throughput_tokens_per_s"]), gpu_hours=gpus_budget * wall / S_PER_HOUR,
        gpu_energy_j=gpu_j, facility_energy_j=float(acct["facility_energy_j"]),
        cost_usd=float(acct["cost_usd"]) if acct["cost_usd"] is not None else None, co2e_kg=float(acct["co2e_kg"]),
        scheduler="paged" if paged else "waves", max_num_seqs=max_seqs if paged else None, preemptions=pre, recompute_tokens=rec,
    )


def paged_replica_job(ci, layout: core.Layout, input_tokens: int, output_tokens: int, max_seqs: int, k: int,
                      cache: dict | None = None) -> tuple[float, int, float]:
    """(time s, preemptions, recomputed tokens) of k identical requests queued at once on one replica of a paged-KV
    engine admitting up to max_seqs (costsim.core.serving_paged); shares above 2 x PAGED_EXACT_WAVES x max_seqs
    requests are extrapolated from two exact schedules at their marginal time per request. InputError (field
    max_num_seqs) when more than PAGED_MAX_OVERCOMMIT x the requests the cache holds would start, or the schedule
    would pass serving_paged's guard."""
    if k <= 0:
        return 0.0, 0, 0.0
    cache = {} if cache is None else cache
    i, o = float(input_tokens), float(output_tokens)
    cap = float(core.kv_capacity_tokens(ci.shape, ci.dev, ci.prec, layout, i + o, min(PREFILL_CHUNK_TOKENS, i + o)))
    whole_requests = cap / (i + o)
    if min(k, int(max_seqs)) > PAGED_MAX_OVERCOMMIT * whole_requests:
        raise InputError(f"max_num_seqs {int(max_seqs):,} starts {min(k, int(max_seqs)):,} requests where the KV cache holds "
                         f"{whole_requests:,.0f} at full length ({i + o:,.0f} tokens): the engine would preempt and recompute them "
                         f"over and over. costsim schedules up to {PAGED_MAX_OVERCOMMIT:g} x the requests the cache holds; give "
                         f"--max-num-seqs {max(1, int(PAGED_MAX_OVERCOMMIT * whole_requests)):,} or less.", field="max_num_seqs")

    def exact(n: int) -> tuple[float, int, float]:
        if n not in cache:
            try:
                job = paged_finite_job(ci.shape, ci.dev, ci.prec, layout, kv_capacity_tokens=cap, max_seqs=int(max_seqs),
                                       input_tokens=i, output_tokens=o, num_requests=int(n))
            except ValueError as e:
                raise InputError(f"the offline job cannot be scheduled with max_num_seqs {int(max_seqs):,} ({e}); give a "
                                 "smaller --max-num-seqs.", field="max_num_seqs") from None
            cache[n] = (job.job_time_s, int(job.schedule.preemptions), float(job.schedule.recompute_tokens))
        return cache[n]

    m = PAGED_EXACT_WAVES * int(max_seqs)
    if k <= 2 * m:
        return exact(k)
    (t1, p1, r1), (t2, p2, r2) = exact(m), exact(2 * m)
    f = (k - 2 * m) / m
    return t2 + f * (t2 - t1), int(round(p2 + f * (p2 - p1))), r2 + f * (r2 - r1)


def _core(model: ModelSpec, acc: Accelerator, req: ServeRequest, engine: str, weight_precision: str, kv_precision: str):
    return core_inputs(served_model(model, req), acc, weight_precision, kv_precision, engine)


def _busiest_share(requests: int, replicas: int) -> int:
    """Requests of the most loaded replica: ceil(requests / replicas)."""
    return -(-int(requests) // int(replicas))


def price_runner_up_jobs(req: ServeRequest, result: dict, model: ModelSpec, acc: Accelerator) -> None:
    """Add `job_wall_time_s` to each of `result`'s runners-up: the busiest replica's share of the same job at that
    deployment's layout and batch (waves, or the paged schedule on a paged-KV engine), s. A deployment ranked by steady throughput is not always the one that finishes
    a small job first (fewer, wider replicas decode faster per sequence)."""
    i, o = float(req.input_tokens), float(req.output_tokens)
    for r in result.get("runners_up") or []:
        ci = _core(model, acc, req, result["engine"], r["weight_precision"], r["kv_precision"])
        layout = core.Layout(tp=r["tp"], pp=r["pp"], ep=r["ep"])
        heavy = _busiest_share(int(req.requests or 0), r["replicas"])
        if float(ci.dev.kv_on_demand) > 0:
            max_seqs = int(req.max_num_seqs) if req.max_num_seqs else int(r["batch_per_replica"])
            try:
                r["job_wall_time_s"] = paged_replica_job(ci, layout, int(i), int(o), max_seqs, heavy)[0]
            except InputError:  # this runner-up's smaller cache would thrash at the request's max_num_seqs
                r["job_wall_time_s"] = None
            continue
        job = finite_job(ci.shape, ci.dev, ci.prec, layout, float(r["batch_per_replica"]), i, o, float(heavy))
        r["job_wall_time_s"] = float(job["job_time_s"]) if heavy > 0 else 0.0
