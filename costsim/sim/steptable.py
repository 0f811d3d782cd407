"""Precomputed iteration-time lookup tables for the serving simulation.

The simulation never computes a step time from the model per event: it builds one `StepTable`
per replica layout before the run and looks times up by (decode batch, mean context) and by
prefill tokens, with linear interpolation along context / tokens.

Source of the numbers: the vectorized inference core (`costsim.core.inference` through
`costsim.estimators.inference`: the same decode/prefill breakdowns `step_time_table` evaluates, plus
their FLOPs and bytes for power). The table's `source` is reported in the summary (`step_table_source`).

Mixed iterations (decodes + prefill chunk, chunked prefill) take
    t_mixed(B, c, P) = max(t_dec(B, c), t_pre(P + B) + [t_dec(B, c) - t_dec(B, c_min)])
i.e. the B decode tokens ride the prefill's matmuls (compute-bound) and the decode attention's KV
reads (the context-dependent part of the decode step) are added on top, as separate kernels.

Power cap: a cell's uncapped device power P0 (inference_core_arrays) comes from
`costsim.core.inference.decode_step_power_w` (decode: each part of the step at its own utilization) or
`costsim.core.inference.prefill_power_w` (prefill: its mean compute / memory utilization); under a cap the cell runs at
one clock and its compute and memory parts slow by their own laws (`costsim.core.power.cap_roofline_frac`), no cell
faster than a larger one, and draws min(P0, cap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from costsim.core.inference import POWER_CAP_THROUGHPUT_FLOOR_FRAC
from costsim.core.power import cap_roofline_frac, warm_idle_power_w
from costsim.specs.hardware import Accelerator
from costsim.specs.model import ModelSpec



@dataclass
class StepTable:
    """Per-replica lookup table. Lists (not arrays) so scalar lookups in the event loop are fast."""

    gpus: int
    max_batch: int
    ctx_step: float
    ctx_max: float
    dec_time: list  # [B][ci] seconds, B = 0..max_batch (row 0 unused)
    dec_power: list  # [B][ci] W per GPU
    pre_step: float
    pre_max: float
    pre_time: list  # [pi] seconds for pi * pre_step tokens
    pre_power: list  # [pi] W per GPU
    kv_bytes_per_token: float
    kv_capacity_tokens: float
    weight_bytes: float
    idle_power_w: float  # per GPU, warm idle
    source: str
    notes: list = field(default_factory=list)
    #: KV-pool tokens one sequence's linear-attention state takes whatever its context (0 without linear layers)
    state_tokens_per_sequence: float = 0.0
    cap_throughput_frac_min: float = 1.0  # slowest cell's throughput under the power cap, fraction of uncapped (before the floor)
    cap_cells_at_floor: int = 0  # cells the cap would stop (fraction < CAP_THROUGHPUT_FLOOR_FRAC), run at the floor
    cap_cells_total: int = 0
    # Work behind each cell, per GPU per iteration (uncapped counts: a power cap stretches the time,
    # not the work), from the same inference-core breakdowns as the times: model FLOPs (matmuls +
    # attention) and HBM bytes moved (weights + KV reads / writes). Same shapes as dec_time / pre_time.
    dec_flop: list = field(default_factory=list)
    dec_bytes: list = field(default_factory=list)
    pre_flop: list = field(default_factory=list)
    pre_bytes: list = field(default_factory=list)
    peak_flop_per_s: float = 0.0  # per GPU, peak of the compute datatype (spec sheet, not derated)
    peak_bytes_per_s: float = 0.0  # per GPU, peak memory bandwidth (spec sheet)
    request_overhead_s: float = 0.0  # host time per request admitted and retired (the inference core's request_overhead_s)
    #: pipeline stages that work on micro-batches at once (the core's pipeline_micro_batches: pp where they overlap, else 1);
    #: an iteration's time is one stage's, so a prompt's last chunk still crosses the other stages - 1 after it
    pipeline_stages: float = 1.0

    def pipeline_trip_s(self, chunk_tokens: float) -> float:
        """Time a prompt's last chunk takes through the pipeline's other stages after the iteration that prefilled it
        (the flow shop's pp - 1 chunk stage times, as the core's TTFT), s; 0 without overlapping stages."""
        if self.pipeline_stages <= 1.0 or chunk_tokens <= 0:
            return 0.0
        return (self.pipeline_stages - 1.0) * self.prefill_s(chunk_tokens)

    def decode_s(self, b: int, ctx_mean: float) -> float:
        x = ctx_mean / self.ctx_step
        i = int(x)
        row = self.dec_time[b]
        if i >= len(row) - 1:
            # beyond the grid: extrapolate linearly along context (decode is linear in context)
            return row[-1] + (row[-1] - row[-2]) * (x - (len(row) - 1))
        return row[i] + (row[i + 1] - row[i]) * (x - i)

    def decode_sp(self, b: int, ctx_mean: float) -> tuple[float, float]:
        """(decode step time s, device power W per GPU) in one lookup."""
        x = ctx_mean / self.ctx_step
        i = int(x)
        row = self.dec_time[b]
        n = len(row) - 1
        if i >= n:
            return row[-1] + (row[-1] - row[-2]) * (x - n), self.dec_power[b][-1]
        fr = x - i
        return row[i] + (row[i + 1] - row[i]) * fr, self.dec_power[b][i + (fr >= 0.5)]

    def decode_spw(self, b: int, ctx_mean: float) -> tuple[float, float, float, float]:
        """(decode step time s, device power W per GPU, FLOPs per GPU, bytes per GPU) in one lookup
        (time and power exactly as decode_sp; work interpolated linearly along context)."""
        x = ctx_mean / self.ctx_step
        i = int(x)
        row = self.dec_time[b]
        n = len(row) - 1
        if i >= n:
            fr = x - n
            fl = self.dec_flop[b]
            by = self.dec_bytes[b]
            return (row[-1] + (row[-1] - row[-2]) * fr, self.dec_power[b][-1],
                    fl[-1] + (fl[-1] - fl[-2]) * fr, by[-1] + (by[-1] - by[-2]) * fr)
        fr = x - i
        fl = self.dec_flop[b]
        by = self.dec_bytes[b]
        return (row[i] + (row[i + 1] - row[i]) * fr, self.dec_power[b][i + (fr >= 0.5)],
                fl[i] + (fl[i + 1] - fl[i]) * fr, by[i] + (by[i + 1] - by[i]) * fr)

    def mixed_all(self, b: int, ctx_mean: float, prefill_tokens: float) -> tuple[float, float, float, float]:
        """One mixed iteration in one lookup: (time s, device power W per GPU, FLOPs per GPU, bytes per GPU).
        Time and power exactly as mixed_s / mixed_power_w; the work composed as the time is: the
        prefill pass over P + b tokens plus the decode attention's context-dependent part."""
        pt = prefill_tokens + b if b else prefill_tokens
        x = pt / self.pre_step
        i = int(x)
        tr = self.pre_time
        pf = self.pre_flop
        pb = self.pre_bytes
        n = len(tr) - 1
        if i >= n:
            f = x - n
            t_pre = tr[-1] + (tr[-1] - tr[-2]) * f
            fl = pf[-1] + (pf[-1] - pf[-2]) * f
            by = pb[-1] + (pb[-1] - pb[-2]) * f
        else:
            f = x - i
            t_pre = tr[i] + (tr[i + 1] - tr[i]) * f
            fl = pf[i] + (pf[i + 1] - pf[i]) * f
            by = pb[i] + (pb[i + 1] - pb[i]) * f
        j = int(x + 0.5)
        p_pre = self.pre_power[j if j < n else n]
        if b == 0:
            return t_pre, p_pre, fl, by
        x = ctx_mean / self.ctx_step
        i = int(x)
        row = self.dec_time[b]
        df = self.dec_flop[b]
        db = self.dec_bytes[b]
        n = len(row) - 1
        if i >= n:
            f = x - n
            td = row[-1] + (row[-1] - row[-2]) * f
            fd = df[-1] + (df[-1] - df[-2]) * f
            bd = db[-1] + (db[-1] - db[-2]) * f
        else:
            f = x - i
            td = row[i] + (row[i + 1] - row[i]) * f
            fd = df[i] + (df[i + 1] - df[i]) * f
            bd = db[i] + (db[i + 1] - db[i]) * f
        j = int(x + 0.5)
        p_dec = self.dec_power[b][j if j < n else n]
        t_mix = t_pre + (td - row[0])
        t = td if td >= t_mix else t_mix
        # energy, not the larger power: the prompt pass over P + b tokens at its power for its time, the decode
        # attention over the running contexts (and a decode-bound remainder) at the decode step's
        return (t, (p_pre * t_pre + p_dec * (t - t_pre)) / t if t > 0 else p_dec, fl + fd - df[0], by + bd - db[0])

    def decode_power_w(self, b: int, ctx_mean: float) -> float:
        i = min(int(ctx_mean / self.ctx_step + 0.5), len(self.dec_power[b]) - 1)
        return self.dec_power[b][i]

    def prefill_s(self, tokens: float) -> float:
        x = tokens / self.pre_step
        i = int(x)
        row = self.pre_time
        if i >= len(row) - 1:
            return row[-1] + (row[-1] - row[-2]) * (x - (len(row) - 1))
        return row[i] + (row[i + 1] - row[i]) * (x - i)

    def prefill_power_w(self, tokens: float) -> float:
        return self.pre_power[min(int(tokens / self.pre_step + 0.5), len(self.pre_power) - 1)]

    def mixed_s(self, b: int, ctx_mean: float, prefill_tokens: float) -> float:
        """One iteration with b decode sequences (mean context ctx_mean) and a prefill chunk."""
        if b == 0:
            return self.prefill_s(prefill_tokens)
        td = self.decode_s(b, ctx_mean)
        kv_part = td - self.dec_time[b][0]
        return max(td, self.prefill_s(prefill_tokens + b) + kv_part)

    def mixed_power_w(self, b: int, ctx_mean: float, prefill_tokens: float) -> float:
        """Mean device power of a mixed iteration (as mixed_all): the prompt pass's power for its time, the decode
        step's for the rest of the iteration. The larger of the two for the whole iteration (the rule until
        2026-12-07) charged nearly every iteration of a busy fleet at prefill power: +15 % GPU energy per token
        against `costsim serve` at the same batch (a helper's cross-command sweep)."""
        return self.mixed_all(b, ctx_mean, prefill_tokens)[1]


def inference_core_arrays(model: ModelSpec, acc: Accelerator, *, tp: int, weight_precision: str, kv_precision: str | None,
                          batch_sizes, context_lengths, prefill_tokens, max_batched_tokens: int, max_seqs: int,
                          memory_frac: float | None, pp: int = 1, ep: int = 1, engine: str = "default") -> dict:
    """Arrays from the vectorized inference core (costsim.core.inference via costsim.estimators.inference),
    the same functions `step_time_table` uses, plus the per-GPU FLOPs and bytes behind each time and each
    cell's uncapped device power, W per GPU. Prefill of P tokens runs as P/512 prompts of 512 tokens (as `step_time_table`)."""
    from costsim.core import inference as ci
    from costsim.estimators import inference as est

    c_in = est.core_inputs(model, acc, weight_precision, kv_precision, engine)
    shape, prec, dev, dtype = c_in.shape, c_in.prec, c_in.dev, c_in.compute_dtype
    layout = ci.Layout(tp=tp, pp=pp, ep=ep)
    gpus = tp * pp * ep
    B = np.asarray(batch_sizes, float)[:, None]
    C = np.asarray(context_lengths, float)[None, :]
    dec = ci.decode_step_breakdown(shape, dev, prec, layout, B, C)
    dt = np.asarray(dec["step_time_s"], float) * np.ones_like(C)
    bw = dev.bandwidth_bytes_per_s
    pk = dev.peak_flop_per_s
    Pt = np.asarray(prefill_tokens, float)
    prompt = np.minimum(Pt, 512.0)
    pre = ci.prefill_breakdown(shape, dev, prec, layout, Pt / prompt, prompt)
    pt = np.asarray(pre["prefill_time_s"], float)
    frac = dev.usable_memory_frac if memory_frac is None else memory_frac
    free = float(ci.kv_budget_bytes_per_gpu(replace(dev, usable_memory_frac=frac),
                                            ci.weight_bytes_per_gpu(shape, prec, layout),
                                            ci.workspace_bytes_per_gpu(shape, layout, max_batched_tokens, max_seqs, prec)))
    kv_tok_gpu = float(ci.kv_bytes_per_sequence_per_gpu(shape, prec, layout, 1.0))
    # linear-attention state: a fixed slot per sequence, taken from the same pool as its KV blocks (vLLM V1's hybrid
    # allocator), counted in token-equivalents of that pool
    state_tok = float(ci.linear_state_bytes_per_sequence_per_gpu(shape, layout)) / kv_tok_gpu
    return {
        "decode_time_s": dt,
        "decode_flop_per_gpu": np.asarray(dec["matmul_flop_per_gpu"], float) * np.ones_like(dt),
        "decode_bytes_per_gpu": np.asarray(dec["bytes_read_per_gpu"], float) * np.ones_like(dt),
        "prefill_flop_per_gpu": np.asarray(pre["matmul_flop_per_gpu"], float) * np.ones_like(pt),
        "prefill_bytes_per_gpu": np.asarray(pre["bytes_per_gpu"], float) * np.ones_like(pt),
        "peak_flop_per_s": float(pk),
        "peak_bytes_per_s": float(bw),
        "decode_power_w": np.asarray(ci.decode_step_power_w(dec, dev, acc.idle_w, acc.tdp_w), float) * np.ones_like(dt),
        # the compute and memory parts of each cell's roofline (the power cap slows each by its own law: _apply_cap)
        "decode_compute_s": np.asarray(dec["matmul_compute_s"], float) * np.ones_like(dt),
        "decode_memory_s": np.asarray(dec["weights_memory_s"], float) * np.ones_like(dt),
        "prefill_time_s": pt,
        "prefill_power_w": np.asarray(ci.prefill_power_w(pre, dev, acc.idle_w, acc.tdp_w), float),
        "prefill_compute_s": np.asarray(pre["matmul_s"] + pre["attention_s"], float) * np.ones_like(pt),
        "prefill_memory_s": np.asarray(pre["memory_floor_s"], float) * np.ones_like(pt),
        "kv_bytes_per_token": kv_tok_gpu * min(tp, shape.kv_shard_max) * pp * ep,
        "kv_capacity_tokens": max(0.0, free) / kv_tok_gpu,
        "state_tokens_per_sequence": state_tok,
        "weight_bytes": float(ci.weight_bytes_per_gpu(shape, prec, layout)) * gpus,
        "source": f"costsim.core.inference (decode_step_breakdown / prefill_breakdown, compute dtype {dtype})",
        "request_overhead_s": float(dev.request_overhead_s or 0.0),
        "pipeline_stages": float(ci.pipeline_micro_batches(dev, pp)),
    }


def _core_arrays(model, acc, *, tp, weight_precision, kv_precision, batch_sizes, context_lengths, prefill_tokens,
                 max_batched_tokens, max_seqs, memory_frac, pp=1, ep=1, engine="default") -> dict:
    """The inference core's arrays (looked up by the DES, never recomputed per event)."""
    return inference_core_arrays(model, acc, tp=tp, weight_precision=weight_precision, kv_precision=kv_precision,
                                 batch_sizes=batch_sizes, context_lengths=context_lengths, prefill_tokens=prefill_tokens,
                                 max_batched_tokens=max_batched_tokens, max_seqs=max_seqs, memory_frac=memory_frac,
                                 pp=pp, ep=ep, engine=engine)


# Throughput floor applied to cells the cap would stop outright (throughput fraction 0 in
# costsim.core.power: the cap is below the cell's clock-independent power), the inference core's. Such cells are counted
# (StepTable.cap_cells_at_floor) and reported in the simulation's notes, never clipped silently.
CAP_THROUGHPUT_FLOOR_FRAC = POWER_CAP_THROUGHPUT_FLOOR_FRAC


def _apply_cap(t, p0, compute_s, memory_s, acc: Accelerator, cap_w):
    """(capped time, capped power, lowest throughput fraction before the floor, cells at the floor) of cells of
    uncapped power `p0` (W per GPU) whose rooflines have a compute part `compute_s` and a memory part `memory_s`.
    Under the cap the cell runs at one clock and each part slows by its own law (costsim.core.power.cap_roofline_frac):
    classed wholly compute- or memory-bound, a prefill of 264 tokens took 2.15x as long as one of 297 at 350 W on an
    H100, and a request's first token came before its own prefill time."""
    if cap_w is None or cap_w >= acc.tdp_w:
        return t, p0, 1.0, 0
    frac = cap_roofline_frac(cap_w, acc.idle_w, p0, compute_s, memory_s) * np.ones_like(np.asarray(t, float))
    # more work never takes less time: a cell may run padded to any larger one (a prompt's tokens to a longer
    # prefill's, a step to a longer context or a larger batch), so its capped time is at most theirs. Near the ridge
    # the mixed clock still falls faster with the memory share than the work does (the power model's fixed shares)
    at_floor = int(np.sum(frac < CAP_THROUGHPUT_FLOOR_FRAC))
    fmin = float(frac.min()) if frac.size else 1.0
    frac = np.maximum(frac, CAP_THROUGHPUT_FLOOR_FRAC)
    capped = np.asarray(t, float) / frac
    for axis in range(capped.ndim):  # the suffix minimum along every work axis (tokens; batch and context)
        capped = np.flip(np.minimum.accumulate(np.flip(capped, axis), axis=axis), axis)
    return capped, np.minimum(p0, cap_w), fmin, at_floor


def build_step_table(model: ModelSpec, acc: Accelerator, *, tp: int, weight_precision: str, kv_precision: str | None,
                     max_batch: int, max_prefill_tokens: int, max_context: int, memory_frac: float | None,
                     power_cap_w: float | None, pp: int = 1, ep: int = 1, engine: str = "default") -> StepTable:
    """Build the lookup table for one replica layout (done once per group, before the run)."""
    gpus = tp * pp * ep  # (`pp` is reused below for the prefill power array)
    n_ctx = 128
    ctx_step = max(1.0, math.ceil(max_context / n_ctx))
    ctx = np.arange(n_ctx + 1, dtype=float) * ctx_step
    ctx[0] = 1.0
    batches = np.arange(1, max_batch + 1, dtype=float)
    pre_max = max_prefill_tokens + max_batch
    n_pre = 256
    pre_step = max(1.0, math.ceil(pre_max / n_pre))
    pre = np.arange(n_pre + 1, dtype=float) * pre_step
    pre[0] = 1.0
    a = _core_arrays(model, acc, tp=tp, weight_precision=weight_precision, kv_precision=kv_precision,
                     batch_sizes=batches, context_lengths=ctx, prefill_tokens=pre,
                     max_batched_tokens=max_prefill_tokens, max_seqs=max_batch, memory_frac=memory_frac,
                     pp=pp, ep=ep, engine=engine)
    dt, dp, fmin_d, nfl_d = _apply_cap(a["decode_time_s"], a["decode_power_w"], a["decode_compute_s"], a["decode_memory_s"],
                                       acc, power_cap_w)
    pt, pp, fmin_p, nfl_p = _apply_cap(a["prefill_time_s"], a["prefill_power_w"], a["prefill_compute_s"], a["prefill_memory_s"],
                                       acc, power_cap_w)
    dt = np.vstack([dt[:1] * 0 + np.nan, dt])  # row 0 unused
    dp = np.vstack([dp[:1] * 0 + np.nan, dp])
    df = a["decode_flop_per_gpu"]
    db = a["decode_bytes_per_gpu"]
    df = np.vstack([df[:1] * 0 + np.nan, df])
    db = np.vstack([db[:1] * 0 + np.nan, db])
    idle = float(warm_idle_power_w(acc.idle_w, acc.tdp_w))  # warm idle (model loaded)
    return StepTable(
        gpus=gpus, max_batch=max_batch, ctx_step=ctx_step, ctx_max=float(ctx[-1]),
        dec_time=dt.tolist(), dec_power=dp.tolist(), pre_step=pre_step, pre_max=float(pre[-1]),
        pre_time=pt.tolist(), pre_power=pp.tolist(),
        kv_bytes_per_token=float(a["kv_bytes_per_token"]),
        kv_capacity_tokens=float(a["kv_capacity_tokens"]),
        state_tokens_per_sequence=float(a["state_tokens_per_sequence"]),
        weight_bytes=float(a["weight_bytes"]), idle_power_w=idle, source=str(a["source"]),
        cap_throughput_frac_min=min(fmin_d, fmin_p), cap_cells_at_floor=nfl_d + nfl_p, cap_cells_total=int(dt.size + pt.size),
        dec_flop=df.tolist(), dec_bytes=db.tolist(), pre_flop=np.asarray(a["prefill_flop_per_gpu"], float).tolist(),
        pre_bytes=np.asarray(a["prefill_bytes_per_gpu"], float).tolist(),
        peak_flop_per_s=float(a["peak_flop_per_s"]), peak_bytes_per_s=float(a["peak_bytes_per_s"]),
        request_overhead_s=float(a.get("request_overhead_s", 0.0)),
        pipeline_stages=float(a.get("pipeline_stages", 1.0)),
    )
