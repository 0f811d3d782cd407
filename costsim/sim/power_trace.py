"""Piecewise power traces without storing iterations: segments, coarse buckets, fine windows.

A trace is a contiguous list of segments covering [0, end). Each segment has one of three shapes:

- CONST: power `a` throughout;
- RAMP:  power moves linearly from `a` to `b`;
- WAVE:  the synchronous training iteration: `a` (compute phase) for `hi_s`, then `b`
  (exposed communication) until `period_s`, repeating from the segment start.

Coarse buckets (min / mean / max per bucket) are computed analytically from these shapes, so a
54-day run at 6-s steps needs no per-iteration storage. Fine windows sample the same trace at
sub-second spacing with trapezoid phase edges (`edge_s` wide, centred on the square-wave edges,
so the energy of the sampled and the analytic trace is the same).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONST, RAMP, WAVE = 0, 1, 2


@dataclass
class Trace:
    t0: np.ndarray
    t1: np.ndarray
    shape: np.ndarray
    a: np.ndarray
    b: np.ndarray
    period_s: np.ndarray
    hi_s: np.ndarray

    @property
    def end_s(self) -> float:
        return float(self.t1[-1]) if len(self.t1) else 0.0

    def with_levels(self, a: np.ndarray, b: np.ndarray) -> "Trace":
        return Trace(self.t0, self.t1, self.shape, a, b, self.period_s, self.hi_s)


def _ramp_len(period, dur):
    """A RAMP's intended duration is stored in period_s (a ramp cut short by an event keeps its
    slope); 0 means the segment's own duration."""
    d = np.where(period > 0, period, dur)
    return np.where(d > 0, d, 1.0)


def _partial_integral(shape, a, b, period, hi, dur, u):
    """Integral of a segment's power from its start to offset u (arrays)."""
    u = np.asarray(u, float)
    out = a * u  # CONST
    with np.errstate(divide="ignore", invalid="ignore"):
        d = _ramp_len(period, dur)
        uu = np.minimum(u, d)
        ramp = a * uu + (b - a) * uu * uu / (2.0 * d) + b * np.maximum(u - d, 0.0)
        per = np.where(period > 0, period, 1.0)
        n = np.floor(u / per)
        r = u - n * per
        wave = n * (a * hi + b * (per - hi)) + a * np.minimum(r, hi) + b * np.maximum(r - hi, 0.0)
    out = np.where(shape == RAMP, ramp, out)
    out = np.where(shape == WAVE, wave, out)
    return out


def total_energy_j(tr: Trace) -> float:
    dur = tr.t1 - tr.t0
    return float(np.sum(_partial_integral(tr.shape, tr.a, tr.b, tr.period_s, tr.hi_s, dur, dur)))


def _pairs(tr: Trace, bucket_s: float):
    """(segment index, bucket index, overlap start, overlap end) for every overlap, time-ordered."""
    keep = tr.t1 > tr.t0
    idx = np.nonzero(keep)[0]
    t0, t1 = tr.t0[idx], tr.t1[idx]
    bf = np.floor(t0 / bucket_s).astype(np.int64)
    bl = np.maximum(np.ceil(t1 / bucket_s).astype(np.int64) - 1, bf)
    cnt = bl - bf + 1
    seg = np.repeat(idx, cnt)
    off = np.repeat(np.cumsum(cnt) - cnt, cnt)
    bucket = np.repeat(bf, cnt) + (np.arange(cnt.sum()) - off)
    s = np.maximum(tr.t0[seg], bucket * bucket_s)
    e = np.minimum(tr.t1[seg], (bucket + 1) * bucket_s)
    ok = e > s
    return seg[ok], bucket[ok], s[ok], e[ok]


def bucket_stats(tr: Trace, bucket_s: float, levels: list[tuple[np.ndarray, np.ndarray]] | None = None):
    """Per bucket: start time, covered seconds, and for the trace's levels (and any extra level
    pairs given, same shapes): min, mean, max, integral. Exact for CONST/WAVE/RAMP."""
    seg, bucket, s, e = _pairs(tr, bucket_s)
    nb = int(bucket.max()) + 1 if len(bucket) else 0
    starts = np.r_[0, np.nonzero(np.diff(bucket))[0] + 1]
    bid = bucket[starts]
    covered = np.add.reduceat(e - s, starts)
    t_s = bid * bucket_s
    out_levels = []
    sh, per, hi = tr.shape[seg], tr.period_s[seg], tr.hi_s[seg]
    dur = (tr.t1 - tr.t0)[seg]
    u0, u1 = s - tr.t0[seg], e - tr.t0[seg]
    # which phases of a wave the overlap touches
    perw = np.where(per > 0, per, 1.0)
    r0 = u0 - np.floor(u0 / perw) * perw
    ln = u1 - u0
    hi_present = (r0 < hi) | (ln > perw - r0)
    lo_present = (per - hi > 0) & ((r0 >= hi) | (r0 + ln > hi))
    for a_all, b_all in [(tr.a, tr.b)] + list(levels or []):
        a, b = a_all[seg], b_all[seg]
        integ = _partial_integral(sh, a, b, per, hi, dur, u1) - _partial_integral(sh, a, b, per, hi, dur, u0)
        # min / max of the overlap
        d = _ramp_len(per, dur)
        ps, pe = a + (b - a) * np.minimum(u0 / d, 1.0), a + (b - a) * np.minimum(u1 / d, 1.0)
        wmin = np.where(lo_present, np.where(hi_present, np.minimum(a, b), b), a)
        wmax = np.where(hi_present, np.where(lo_present, np.maximum(a, b), a), b)
        vmin = np.where(sh == CONST, a, np.where(sh == RAMP, np.minimum(ps, pe), wmin))
        vmax = np.where(sh == CONST, a, np.where(sh == RAMP, np.maximum(ps, pe), wmax))
        bi = np.add.reduceat(integ, starts)
        out_levels.append({
            "min": np.minimum.reduceat(vmin, starts),
            "max": np.maximum.reduceat(vmax, starts),
            "integral": bi,
            "mean": bi / covered,
        })
    assert len(bid) == nb, "trace must be contiguous"
    return t_s, covered, out_levels


def power_at(tr: Trace, t: np.ndarray, edge_s: float) -> np.ndarray:
    """Instantaneous power at times t (fine windows). WAVE edges are trapezoids `edge_s` wide."""
    t = np.asarray(t, float)
    i = np.clip(np.searchsorted(tr.t0, t, side="right") - 1, 0, len(tr.t0) - 1)
    sh, a, b = tr.shape[i], tr.a[i], tr.b[i]
    per, hi = tr.period_s[i], tr.hi_s[i]
    u = t - tr.t0[i]
    dur = tr.t1[i] - tr.t0[i]
    with np.errstate(divide="ignore", invalid="ignore"):
        ramp = a + (b - a) * np.clip(u / _ramp_len(per, dur), 0, 1)
        perw = np.where(per > 0, per, 1.0)
        r = u - np.floor(u / perw) * perw
        h = 0.5 * np.minimum(edge_s, np.minimum(hi, perw - hi))
        hw = np.where(h > 0, h, 1.0)
        frac_hi = np.where(r < hi - h, 1.0, np.where(r < hi + h, (hi + h - r) / (2 * hw), 0.0))
        # rising edge around r = 0 / period (not at the very start of the segment)
        rise = (r > perw - h) & (u + h < dur)
        frac_hi = np.where(rise, (r - (perw - h)) / (2 * hw), frac_hi)
        frac_hi = np.where((r < h) & (u >= h), (r + h) / (2 * hw), frac_hi)
        frac_hi = np.where(u < h, 1.0, frac_hi)
        wave = b + (a - b) * frac_hi
    return np.where(sh == CONST, a, np.where(sh == RAMP, ramp, wave))


def max_ramp_w_per_s(tr: Trace, edge_s: float) -> float:
    """Largest |dP/dt| of the trace: wave edges (swing / edge_s), ramps (delta / duration) and the
    jumps between adjacent segments (taken as edges of edge_s)."""
    dur = tr.t1 - tr.t0
    ok = dur > 0
    wave = (tr.shape == WAVE) & ok
    r = 0.0
    if wave.any():
        r = max(r, float(np.max(np.abs(tr.a[wave] - tr.b[wave]))) / edge_s)
    ramp = (tr.shape == RAMP) & ok
    if ramp.any():
        r = max(r, float(np.max(np.abs(tr.b[ramp] - tr.a[ramp]) / _ramp_len(tr.period_s[ramp], dur[ramp]))))
    # jumps at segment boundaries (end level of one vs start level of the next)
    if ok.sum() > 1:
        idx = np.nonzero(ok)[0]
        d = _ramp_len(tr.period_s[idx], dur[idx])
        ramp_end = tr.a[idx] + (tr.b[idx] - tr.a[idx]) * np.minimum(dur[idx] / d, 1.0)
        # a wave segment ends at a step boundary, i.e. after its exposed-comm phase (b)
        end_level = np.where(tr.shape[idx] == RAMP, ramp_end, np.where(tr.shape[idx] == WAVE, tr.b[idx], tr.a[idx]))
        start_level = tr.a[idx]
        jumps = np.abs(start_level[1:] - end_level[:-1])
        r = max(r, float(np.max(jumps)) / edge_s)
    return r
