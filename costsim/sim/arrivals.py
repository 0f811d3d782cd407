"""Arrival times and token lengths, sampled up front as numpy arrays (one Generator per run).

Sampling everything before the event loop keeps the DES light: a request is an index into these
arrays. Processes:
  poisson   exponential gaps at rate_per_s
  gamma     gamma gaps, shape 1/cv^2, mean 1/rate (cv > 1 bursty, cv < 1 smoother than Poisson)
  diurnal   non-homogeneous Poisson with piecewise-constant hourly rate rate*m[h]/mean(m), sampled by
            time rescaling: unit-rate Poisson points in cumulative intensity Lambda(t), t = Lambda^-1
  trace     timestamps from a CSV (timestamp_s,input_tokens,output_tokens), optionally rescaled to a
            mean rate and looped
Lengths: fixed, uniform (integers), lognormal (mean, cv; truncated to [low, high] by redrawing,
count reported), trace (bootstrap rows, jointly for input and output when both are 'trace').
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from costsim.errors import InputError
from costsim.specs.catalog import find_scenario_file
from costsim.specs.serving_sim import ArrivalSpec, LengthDist

# A chat-like day (hourly multipliers, local time 00..23). ESTIMATE shaped after public descriptions of
# consumer chat traffic (night trough, afternoon peak); normalized to mean 1 before use.
DEFAULT_DIURNAL = [0.55, 0.45, 0.40, 0.36, 0.35, 0.40, 0.55, 0.80, 1.05, 1.25, 1.40, 1.50,
                   1.55, 1.58, 1.60, 1.55, 1.45, 1.35, 1.25, 1.15, 1.05, 0.95, 0.80, 0.65]

@dataclass
class Trace:
    timestamp_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    path: str


#: most prompt or output tokens one trace row may ask for (far above any model's context; a guard against values that
#: overflow the simulation's integer arrays, not a context limit: lengths above the model's are capped as drawn ones)
MAX_TRACE_TOKENS = 100_000_000


def resolve_trace_path(ref: str) -> Path:
    found = find_scenario_file(ref)
    if found is not None:
        return found
    raise InputError(f"trace file '{ref}' not found (tried the working directory and the scenarios/ folder); give a CSV with "
                     "columns timestamp_s,input_tokens,output_tokens (costsim/sim/traces.py writes sample traces).",
                     field="serving.arrivals.trace_path")


def load_trace(ref: str) -> Trace:
    path = resolve_trace_path(ref)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        ts = np.array([float(r["timestamp_s"]) for r in rows])
        inp = np.array([int(float(r["input_tokens"])) for r in rows], dtype=np.int64)
        out = np.array([int(float(r["output_tokens"])) for r in rows], dtype=np.int64)
    except UnicodeDecodeError as exc:
        raise InputError(f"trace file '{path}' is not a UTF-8 text file (undecodable byte at offset {exc.start}); give a CSV "
                         "saved as UTF-8 with columns timestamp_s,input_tokens,output_tokens.", field="serving.arrivals.trace_path") from None
    except OSError as exc:
        raise InputError(f"cannot read trace file '{path}': {exc.strerror}.", field="serving.arrivals.trace_path") from None
    except (KeyError, ValueError, TypeError, OverflowError) as exc:
        what = str(exc) if len(str(exc)) <= 120 else str(exc)[:120] + "..."
        raise InputError(f"trace file '{path}' is malformed ({what}); it needs numeric columns timestamp_s,input_tokens,output_tokens.",
                         field="serving.arrivals.trace_path") from None
    if len(ts) == 0:
        raise InputError(f"trace file '{path}' has no rows.", field="serving.arrivals.trace_path")
    if not np.all(np.isfinite(ts)):
        raise InputError(f"trace file '{path}': every timestamp_s must be a finite number of seconds (found "
                         f"{int(np.sum(~np.isfinite(ts)))} NaN or infinite).", field="serving.arrivals.trace_path")
    if np.any(inp > MAX_TRACE_TOKENS) or np.any(out > MAX_TRACE_TOKENS):
        raise InputError(f"trace file '{path}': token counts must be at most {MAX_TRACE_TOKENS:,} per request (largest "
                         f"found: {int(max(inp.max(), out.max())):,}).", field="serving.arrivals.trace_path")
    if np.any(np.diff(ts) < 0) or np.any(inp < 1) or np.any(out < 1):
        raise InputError(f"trace file '{path}': timestamps must be non-decreasing and token counts >= 1.",
                         field="serving.arrivals.trace_path")
    return Trace(ts - ts[0], inp, out, str(path))


def _diurnal_times(rate: float, profile: list[float], start_hour: float, duration_s: float, rng) -> np.ndarray:
    m = np.asarray(profile, float)
    m = m / m.mean()
    n_h = int(np.ceil((start_hour * 3600 + duration_s) / 3600.0)) + 1
    hours = np.arange(n_h)
    lam = rate * m[hours % len(m)]
    edges = hours * 3600.0 - start_hour * 3600.0  # hour edges in sim time
    cum = np.concatenate([[0.0], np.cumsum(lam * 3600.0)])  # Lambda at edges (from edges[0])
    t_edges = np.concatenate([edges, [edges[-1] + 3600.0]])
    lam0 = np.interp(0.0, t_edges, cum)
    lam_end = np.interp(duration_s, t_edges, cum)
    n = rng.poisson(lam_end - lam0)
    u = np.sort(rng.uniform(lam0, lam_end, n))  # conditional uniformity of Poisson points
    return np.interp(u, cum, t_edges)


def arrival_times(spec: ArrivalSpec, duration_s: float, rng: np.random.Generator, trace: Trace | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Arrival times in [0, duration_s); second value: trace row index per arrival (trace process) or None."""
    if spec.process == "poisson" or (spec.process == "gamma" and spec.cv == 1.0):
        n_exp = int(spec.rate_per_s * duration_s * 1.1 + 10 * np.sqrt(spec.rate_per_s * duration_s) + 20)
        gaps = rng.exponential(1.0 / spec.rate_per_s, n_exp)
    elif spec.process == "gamma":
        k = 1.0 / spec.cv ** 2
        n_exp = int(spec.rate_per_s * duration_s * 1.1 + 10 * spec.cv * np.sqrt(spec.rate_per_s * duration_s) + 20)
        gaps = rng.gamma(k, 1.0 / (spec.rate_per_s * k), n_exp)
    elif spec.process == "diurnal":
        return _diurnal_times(spec.rate_per_s, spec.diurnal_profile or DEFAULT_DIURNAL, spec.start_hour, duration_s, rng), None
    else:
        assert trace is not None
        ts = trace.timestamp_s
        span = float(ts[-1]) + (float(np.mean(np.diff(ts))) if len(ts) > 1 else 1.0)
        if span <= 0.0:
            # every request at the same instant: an offline burst (a batch job queued at once), replayed once
            if spec.rate_per_s is not None:
                raise InputError("arrivals.rate_per_s cannot rescale this trace: all its requests arrive at the same time "
                                 f"({float(ts[0]):g} s), so it has no rate. Drop rate_per_s to replay the burst as recorded, "
                                 "or spread the timestamps.", field="serving.arrivals.rate_per_s")
            keep = ts < duration_s
            return ts[keep], np.arange(len(ts))[keep]
        scale = 1.0
        if spec.rate_per_s is not None:
            scale = (len(ts) / span) / spec.rate_per_s
        span_s = span * scale
        reps = int(np.ceil(duration_s / span_s)) if spec.trace_repeat else 1
        t = np.concatenate([ts * scale + r * span_s for r in range(reps)])
        idx = np.tile(np.arange(len(ts)), reps)
        keep = t < duration_s
        return t[keep], idx[keep]
    t = np.cumsum(gaps)
    while t[-1] < duration_s:  # rare: draw more
        more = np.cumsum(rng.exponential(1.0 / spec.rate_per_s, len(gaps))) + t[-1]
        t = np.concatenate([t, more])
    return t[t < duration_s], None


def sample_lengths(dist: LengthDist, n: int, rng: np.random.Generator, *, cap: int, trace: Trace | None,
                   trace_col: str, trace_idx: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Integer lengths >= 1 and the number of lognormal draws redrawn for lying outside [low, high]."""
    hi = min(dist.high, cap) if dist.high is not None else cap
    if dist.kind == "fixed":
        v = int(round(dist.mean))
        if v > cap:
            raise InputError(f"fixed length {v} exceeds the model context ({cap} tokens); lower it.", field="serving.input_tokens")
        return np.full(n, v, dtype=np.int64), 0
    if dist.kind == "uniform":
        return rng.integers(dist.low, hi + 1, n).astype(np.int64), 0
    if dist.kind == "trace":
        if trace is None:
            raise InputError("length kind 'trace' needs serving.arrivals.trace_path.", field="serving.input_tokens")
        idx = trace_idx if trace_idx is not None else None
        col = getattr(trace, trace_col)
        if idx is None:
            raise RuntimeError("internal: trace index missing")
        return np.minimum(col[idx], cap).astype(np.int64), int(np.sum(col[idx] > cap))
    sigma2 = np.log1p(dist.cv ** 2)
    mu = np.log(dist.mean) - sigma2 / 2
    v = np.rint(rng.lognormal(mu, np.sqrt(sigma2), n))
    bad = (v < dist.low) | (v > hi)
    redrawn = int(bad.sum())
    tries = 0
    while bad.any():
        v[bad] = np.rint(rng.lognormal(mu, np.sqrt(sigma2), int(bad.sum())))
        bad = (v < dist.low) | (v > hi)
        tries += 1
        if tries > 200:
            raise InputError(f"lognormal length (mean {dist.mean}, cv {dist.cv}) rarely falls inside [{dist.low}, {hi}]; widen the bounds.",
                             field="serving.input_tokens")
    return v.astype(np.int64), redrawn


def sample_workload(spec_arr: ArrivalSpec, inp: LengthDist, out: LengthDist, duration_s: float, rng: np.random.Generator,
                    *, max_context: int) -> dict:
    """All requests of a run: arrival_s, input_tokens, output_tokens (numpy) + sampling notes."""
    need_trace = spec_arr.process == "trace" or inp.kind == "trace" or out.kind == "trace"
    trace = load_trace(spec_arr.trace_path) if need_trace and spec_arr.trace_path else None
    t, idx = arrival_times(spec_arr, duration_s, rng, trace)
    n = len(t)
    if idx is None and trace is not None:
        idx = rng.integers(0, len(trace.timestamp_s), n)  # bootstrap rows (joint input/output)
    i_len, i_red = sample_lengths(inp, n, rng, cap=max_context - 1, trace=trace, trace_col="input_tokens", trace_idx=idx)
    o_len, o_red = sample_lengths(out, n, rng, cap=max_context - 1, trace=trace, trace_col="output_tokens", trace_idx=idx)
    return {"arrival_s": t, "input_tokens": i_len, "output_tokens": o_len,
            "input_lengths_redrawn": i_red, "output_lengths_redrawn": o_red,
            "trace_path": trace.path if trace else None}
