"""A finite job on an engine that allocates KV cache as sequences grow (vLLM's paged cache, SGLang's token pool)
and preempts by recompute when it runs out.

N identical requests (I prompt tokens, O output tokens) are queued at once, as vLLM's benchmark_throughput runs them.
The engine admits waiting requests while its KV pool holds their current tokens and fewer than `max_seqs` run
(vLLM's max_num_seqs); every decode step each running sequence needs one more token slot, and when the pool is full
the newest running sequence is preempted: its cache is freed and it goes back to the head of the queue, to recompute
its prompt and the tokens it had generated as a prefill when it is admitted again (vLLM's RECOMPUTE preemption, the
only mode of its V1 engine: vllm/v1/core/sched/scheduler.py, `_preempt_request` and `waiting.prepend_request`).

Where every admitted request fits at full length (N <= max_seqs x capacity / (I + O)) this is the waves model of
costsim.core.serving_curve.finite_job. Where it does not, all of them start together at a larger batch, then the
running set shrinks as contexts grow (the pool holds capacity / context sequences), and the preempted ones finish
later after recomputing up to I + O tokens each: more decode steps at long contexts and extra prefill work, so
slower than whole waves of the sequences that fit (AMD's Llama 3.1 405B rows on 8 MI300X, 128 / 4,096 tokens:
1,500 requests where 975 fit at full length).

The schedule (who runs at each step) depends only on token counts, not on time, so it is built first, in cohorts of
requests with the same progress (paged_schedule), and priced afterwards in one vectorized call of the step-time
model per kind of work (paged_finite_job). Simplifications: the pool is counted in tokens at the average KV bytes per
token of a full-length sequence (no 16-token block rounding, worth < 1 % at these lengths); a recomputed prompt is
priced as one prefill batch per admission round, not as chunks spread over decode steps (vLLM's chunked prefill
moves the same tokens through the same GEMMs); prefix-cache hits on a preempted request's freed blocks are not
counted (under preemption the pool's free blocks are the ones new tokens take next); with attention data parallelism
(experts over ep ranks, each rank its own sequences) the ranks' pools are taken as one, balanced."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costsim.core.inference import decode_step_time_s, prefill_time_s
from costsim.core.inference_types import Device, Layout, Precision, Shape

#: cohorts a schedule may hold, and decode segments it may build, before it is refused: a job that thrashes (far
#: more requests started than the pool holds at full length, each preempted again and again) builds one segment per
#: preemption, ~80 us each; the published jobs need at most ~1,000 (a guard, not a limit they reach)
MAX_COHORTS = 20_000
MAX_SEGMENTS = 100_000


@dataclass(frozen=True)
class PagedSchedule:
    """Who ran at each step of a paged finite job: decode segments (consecutive steps with the same running set)
    and prefill rounds (requests admitted together), in order."""

    decode_steps: np.ndarray
    """Steps of each decode segment."""
    decode_batch: np.ndarray
    """Sequences running in each segment."""
    decode_context_tokens: np.ndarray
    """Mean context of the segment's sequences at its middle step, tokens."""
    prefill_sequences: np.ndarray
    """Requests admitted in each prefill round."""
    prefill_tokens: np.ndarray
    """Mean tokens each of them (re)computes: the prompt, plus the tokens generated before a preemption."""
    preemptions: int
    """Requests preempted (a request preempted twice counts twice)."""
    recompute_tokens: float
    """Tokens prefilled a second time: the prompts and generated tokens of preempted requests."""
    peak_batch: int
    """Most sequences running at once."""


def paged_schedule(num_requests: int, input_tokens: float, output_tokens: float, kv_capacity_tokens: float,
                   max_seqs: int) -> PagedSchedule:
    """The schedule of `num_requests` identical requests on an engine with a KV pool of `kv_capacity_tokens` and
    at most `max_seqs` running (see the module docstring). Raises ValueError if one request cannot fit the pool."""
    n, i, o = int(num_requests), float(input_tokens), int(round(float(output_tokens)))
    cap, s_max = float(kv_capacity_tokens), int(max_seqs)
    if n < 1 or o < 1 or s_max < 1:
        raise ValueError("a paged job needs at least one request, one output token and max_seqs >= 1")
    if cap < i + o:
        raise ValueError(f"one request of {i + o:,.0f} tokens does not fit a KV pool of {cap:,.0f} tokens")
    waiting: list[list[float]] = [[float(n), 0.0]]      # [count, generated], head first
    running: list[list[float]] = []                      # [count, generated], oldest first
    seg_steps: list[float] = []
    seg_batch: list[float] = []
    seg_ctx: list[float] = []
    pre_n: list[float] = []
    pre_tok: list[float] = []
    preempted = 0
    recompute = 0.0
    peak = 0
    done = 0
    while done < n:
        batch = sum(c for c, _ in running)
        used = sum(c * (i + g) for c, g in running)
        # admission: the queue's head while the pool holds its tokens (and one slot to decode) and max_seqs allows
        adm_n = adm_tok = 0.0
        while waiting and batch < s_max:
            c, g = waiting[0]
            need = i + g + 1.0
            k = min(c, s_max - batch, np.floor((cap - used - batch) / need))
            if k < 1:
                break
            running.append([k, g])
            batch += k
            used += k * (i + g)
            adm_n += k
            adm_tok += k * (i + g)
            if g > 0:
                recompute += k * (i + g)
            if k == c:
                waiting.pop(0)
            else:
                waiting[0][0] = c - k
        if adm_n:
            pre_n.append(adm_n)
            pre_tok.append(adm_tok / adm_n)
        if batch == 0:
            raise ValueError("no request could be admitted")   # unreachable: cap >= i + o
        # preemption: the newest sequences leave until every running one has a slot for its next token
        while used + batch > cap:
            c, g = running[-1]
            k = min(c, np.ceil((used + batch - cap) / (i + g + 1.0)))
            running[-1][0] = c - k
            if running[-1][0] == 0:
                running.pop()
            batch -= k
            used -= k * (i + g)
            preempted += int(k)
            if waiting and waiting[0][1] == g:
                waiting[0][0] += k
            else:
                waiting.insert(0, [k, g])
        peak = max(peak, int(batch))
        # decode until the oldest cohort finishes or the pool is full
        to_finish = o - max(g for _, g in running)
        to_full = int(np.floor((cap - used) / batch))
        steps = max(1, min(int(to_finish), to_full))
        seg_steps.append(float(steps))
        seg_batch.append(float(batch))
        seg_ctx.append(used / batch + 0.5 * (steps - 1))
        for cohort in running:
            cohort[1] += steps
        done += int(sum(c for c, g in running if g >= o))
        running = [cohort for cohort in running if cohort[1] < o]
        # cohorts with equal progress merge (requests admitted in different rounds at the same point)
        merged: list[list[float]] = []
        for c, g in running:
            if merged and merged[-1][1] == g:
                merged[-1][0] += c
            else:
                merged.append([c, g])
        running = merged
        if len(running) + len(waiting) > MAX_COHORTS or len(seg_steps) > MAX_SEGMENTS:
            raise ValueError(f"the paged schedule passed {MAX_SEGMENTS:,} decode segments or {MAX_COHORTS:,} cohorts "
                             f"after {done:,} of {n:,} requests ({preempted:,} preemptions): the KV pool holds "
                             f"{cap / (i + o):,.0f} whole requests and {min(n, s_max):,} start; lower max_seqs")
    return PagedSchedule(
        decode_steps=np.asarray(seg_steps), decode_batch=np.asarray(seg_batch), decode_context_tokens=np.asarray(seg_ctx),
        prefill_sequences=np.asarray(pre_n), prefill_tokens=np.asarray(pre_tok), preemptions=preempted,
        recompute_tokens=recompute, peak_batch=peak,
    )


@dataclass(frozen=True)
class PagedJob:
    """A finite job priced on its paged schedule."""

    job_time_s: float
    """First admission to last token, s."""
    throughput_tokens_per_s: float
    """Output tokens of the whole job over its time, tokens/s."""
    decode_time_s: float
    """Time in decode steps, s."""
    prefill_time_s: float
    """Time prefilling prompts, recomputed ones included, s."""
    schedule: PagedSchedule
    """The schedule it was priced on."""


def paged_finite_job(shape: Shape, dev: Device, prec: Precision, layout: Layout, *, kv_capacity_tokens: float,
                     max_seqs: int, input_tokens: float, output_tokens: float, num_requests: int) -> PagedJob:
    """Time and throughput of `num_requests` identical requests queued at once on a paged-KV engine (scalars)."""
    sch = paged_schedule(num_requests, input_tokens, output_tokens, kv_capacity_tokens, max_seqs)
    t_dec = float(np.sum(sch.decode_steps * decode_step_time_s(shape, dev, prec, layout, sch.decode_batch,
                                                                sch.decode_context_tokens)))
    t_pre = float(np.sum(prefill_time_s(shape, dev, prec, layout, sch.prefill_sequences, sch.prefill_tokens))) \
        if sch.prefill_sequences.size else 0.0
    req = 0.0 if dev.request_overhead_s is None else float(dev.request_overhead_s)
    t = t_dec + t_pre + req * float(np.sum(sch.prefill_sequences))
    out = float(num_requests) * float(output_tokens)
    return PagedJob(job_time_s=t, throughput_tokens_per_s=out / t, decode_time_s=t_dec, prefill_time_s=t_pre,
                    schedule=sch)
