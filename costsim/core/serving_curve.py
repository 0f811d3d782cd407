"""Throughput-latency of one serving replica at every batch size (vectorized over batch).

Continuous batching in steady state: B sequences decode together; every step B/O requests
finish and are replaced, so each step also carries the prefill of B*I/O new prompt tokens.
  decode_step_time_s  = step at the running sequences' mean context (decode_context_tokens):
                        I + O/2 for requests of one length; with output lengths of coefficient of
                        variation cv, I + O (1 + cv^2) / 2, because a request holds its slot for as many
                        steps as it has output tokens (long answers fill the batch more of the time)
  tpot_s              = decode_step_time_s + max(prefill_time(B prompts), one prompt's trip through the pipeline) / O
                        (prefill stalls shared; with pipeline parallelism a slot's cycle is never shorter than its own
                        prompt's pp-stage trip, which only B >= pp sequences hide behind the other stages' work)
                        + request_overhead_s x B / O   (host work to admit / retire the B/O requests per step)
  throughput          = B / tpot_s   output tokens per second over whole requests
  ttft_s              = prefill of one prompt, or of the B / O prompts admitted with it when that is longer (short
                        outputs), + one running decode step (worst wait) when B > 1; with pipeline
                        parallelism the prompt passes the pp stages one after another: its chunks of at most
                        PREFILL_CHUNK_TOKENS overlap in the pipeline, so the prompt takes its per-stage prefill time
                        plus pp - 1 times its slowest chunk's stage time (largest_chunk_stage_s; pp x the stage time
                        for a single-chunk prompt)

A finite job (finite_job): N identical requests queued at once, as an offline benchmark runs them
(trtllm-bench throughput, vLLM benchmark_throughput). Requests admitted together finish together,
so the job runs in waves: floor(N/B) waves of B and one of the remaining N mod B, each taking
O x tpot_s at its own batch. Throughput = N x O / job time: below the steady state when the last
wave is small next to the others (N of 1,000-3,000 at a few hundred to thousands of sequences).
"""

from __future__ import annotations

import numpy as np

from costsim.core.inference import (CUDA_GRAPH_BATCH_SIZES, Device, Layout, Precision, Shape, decode_step_time_s,
                                    pipeline_micro_batches, prefill_time_s)


#: largest prefill chunk the workspace is sized for (vLLM max_num_batched_tokens-like): a longer prompt passes a pipeline in
#: chunks of at most this many tokens
PREFILL_CHUNK_TOKENS = 8192


def decode_context_tokens(input_tokens, output_tokens, output_cv=0.0):
    """Mean context of the running sequences of a continuously refilled batch, tokens.

    A request with output length o holds its slot for o steps at contexts i+1 .. i+o, so the slots' mean context is
    E[i] + E[o^2] / (2 E[o]) = I + O (1 + cv^2) / 2 for output lengths of mean O and coefficient of variation cv
    (independent of the prompt length); I + O / 2 when every request has the same length (cv 0)."""
    cv = np.asarray(output_cv, dtype=float)
    return np.asarray(input_tokens, dtype=float) + 0.5 * np.asarray(output_tokens, dtype=float) * (1.0 + cv * cv)


def largest_chunk_stage_s(shape: Shape, dev: Device, prec: Precision, layout: Layout, input_tokens, t_prompt_s=None):
    """One pipeline stage's time for the largest chunk of a prompt split into chunks of at most PREFILL_CHUNK_TOKENS, s.

    The chunks flow through pp identical stages in order, so the prompt leaves the last stage after the first stage's
    time for all of them plus pp - 1 times its slowest chunk (a flow shop's makespan). A chunk's stage time is the
    prefill time it adds at its place in the prompt (its tokens attend to everything before them): the last full chunk,
    or the short remainder after it when that is slower. With n equal chunks this is the (n + pp - 1) / n of the
    prompt's time the formula before it used, which made 8,193 tokens (8,192 + 1) 37 % faster than 8,192."""
    i = np.asarray(input_tokens, dtype=float)
    full_end = np.maximum(np.floor(i / PREFILL_CHUNK_TOKENS), 1.0) * PREFILL_CHUNK_TOKENS
    full_end = np.minimum(full_end, i)
    before = full_end - PREFILL_CHUNK_TOKENS

    def t(x):  # one prompt of x tokens, 0 for none
        x = np.asarray(x, dtype=float)
        return np.where(x > 0, prefill_time_s(shape, dev, prec, layout, 1.0, np.maximum(x, 1.0)), 0.0)

    t_all = t(i) if t_prompt_s is None else np.asarray(t_prompt_s, dtype=float)
    t_end = np.where(full_end < i, t(full_end), t_all)
    last_full = t_end - t(before)
    remainder = t_all - t_end
    return np.maximum(last_full, remainder)


def serving_curve(shape: Shape, dev: Device, prec: Precision, layout: Layout, batch, input_tokens, output_tokens,
                  output_cv=0.0):
    """The curve at every batch (see the module docstring); output_cv is the coefficient of variation of the
    requests' output lengths (0 = all alike), which sets the running sequences' mean context."""
    b = np.asarray(batch, dtype=float)
    i = np.asarray(input_tokens, dtype=float)
    o = np.asarray(output_tokens, dtype=float)
    t_dec = decode_step_time_s(shape, dev, prec, layout, b, decode_context_tokens(i, o, output_cv))
    t_pre = prefill_time_s(shape, dev, prec, layout, b, i)
    t_pre1 = prefill_time_s(shape, dev, prec, layout, 1.0, i)
    req = np.asarray(0.0 if dev.request_overhead_s is None else dev.request_overhead_s, dtype=float)
    # a prompt's own latency through the pipeline: its stage time plus pp - 1 of its slowest chunk's (stages that
    # overlap); where the stages run one after another prefill_time_s already holds all pp of them
    stages = pipeline_micro_batches(dev, layout.pp)
    t_pre1_pipe = t_pre1 + (stages - 1.0) * largest_chunk_stage_s(shape, dev, prec, layout, i, t_pre1)
    # a slot's cycle is its prompt and its O steps: the stages' work for the B prompts admitted per cycle (t_pre), but
    # never less than the prompt's own trip through the pipeline, which only B >= pp micro-batches keep the other
    # stages busy during (with fewer sequences than stages the pipeline idles while a prompt passes it)
    tpot = t_dec + np.maximum(t_pre, t_pre1_pipe) / o + req * b / o
    # the wait for a running step: its wall time (a speculative step's decode_step_time_s is per token it yields)
    step_wall = t_dec * np.where(np.asarray(shape.spec_tokens, dtype=float) > 0,
                                 np.asarray(shape.spec_tokens_per_step, dtype=float), 1.0)
    # a new prompt is prefilled with the B / O others admitted in the same step: when they outweigh one prompt (short
    # outputs, e.g. O = 1 where every step replaces the whole batch) the first token waits for all of them
    # (where the stages run one after another, prefill_time_s already holds all pp of them: no overlap to count)
    ttft = np.maximum(t_pre1_pipe, t_pre / o) + np.where(b > 1, step_wall, 0.0)
    return {
        "batch": b,
        "decode_step_time_s": t_dec,
        "prefill_time_s": t_pre,
        "ttft_s": ttft,
        "tpot_s": tpot,
        "decode_tokens_per_s": b / t_dec,
        "throughput_tokens_per_s": b / tpot,
    }


def best_index(curve: dict, *, max_batch=None, ttft_slo_s=None, tpot_slo_s=None):
    """Index of the highest-throughput point that fits memory and the SLOs; -1 when none does."""
    ok = np.ones_like(curve["batch"], dtype=bool)
    if max_batch is not None:
        ok &= curve["batch"] <= max_batch
    if ttft_slo_s is not None:
        ok &= curve["ttft_s"] <= ttft_slo_s
    if tpot_slo_s is not None:
        ok &= curve["tpot_s"] <= tpot_slo_s
    if not ok.any():
        return -1
    thr = np.where(ok, curve["throughput_tokens_per_s"], -np.inf)
    return int(np.argmax(thr))


def batch_grid(max_batch: int, points: int = 48, extra=None) -> np.ndarray:
    """Every batch up to 64, then a geometric grid up to max_batch (max_batch included), plus the `extra` batches
    up to max_batch (an engine's CUDA-graph sizes, where a padded engine's throughput peaks)."""
    m = int(max(1, max_batch))
    small = np.arange(1, min(m, 64) + 1)
    if m <= 64:
        return small.astype(float)
    big = np.unique(np.round(np.geomspace(64, m, points)).astype(int))
    more = np.zeros(0) if extra is None else np.asarray(extra, dtype=float).ravel()
    return np.unique(np.concatenate([small, big, [m], more[(more >= 1) & (more <= m)]])).astype(float)


def graph_sizes(dev: Device):
    """The CUDA-graph batch sizes a padding engine runs at (for batch_grid's extra), None for one that does not pad."""
    return CUDA_GRAPH_BATCH_SIZES if np.any(np.asarray(dev.cuda_graph_padding) > 0) else None


def finite_job(shape: Shape, dev: Device, prec: Precision, layout: Layout, batch, input_tokens, output_tokens,
               num_requests):
    """Time and throughput of `num_requests` identical requests queued at once, at most `batch` in flight.

    Returns arrays (broadcast over batch and num_requests): job_time_s, throughput_tokens_per_s
    (output tokens over the whole job), waves (full waves plus one for a remainder)."""
    b = np.asarray(batch, dtype=float)
    n = np.asarray(num_requests, dtype=float)
    o = np.asarray(output_tokens, dtype=float)
    full = np.floor(n / b)
    rest = n - full * b
    t_full = o * serving_curve(shape, dev, prec, layout, b, input_tokens, output_tokens)["tpot_s"]
    t_rest = o * serving_curve(shape, dev, prec, layout, np.maximum(rest, 1.0), input_tokens, output_tokens)["tpot_s"]
    job_s = full * t_full + np.where(rest > 0, t_rest, 0.0)
    return {
        "job_time_s": job_s,
        "throughput_tokens_per_s": n * o / job_s,
        "waves": full + (rest > 0),
    }
