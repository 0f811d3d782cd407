"""Variance-based sensitivity: how much of an output's spread each uncertain input explains.

First-order index S_i = Var(E[Y | X_i]) / Var(Y): the share of the variance input i explains on
its own. Total index ST_i = E[Var(Y | X_~i)] / Var(Y): its share including every interaction
(ST_i >= S_i; sum of S_i <= 1, equality for an additive model). Sobol' (1993); estimators of
Saltelli et al. (2010, Comput. Phys. Commun. 181:259, Table 2 (b) and (f)) as implemented by
scipy.stats.sobol_indices, fed with evaluations of a Saltelli design (costsim.uncertainty.sampling).

- `sobol_from_blocks(f_A, f_B, f_AB)`: indices (and 95% bootstrap intervals) from evaluations;
  points whose evaluation failed (NaN) drop their whole row j from A, B and every AB_i.
- `sobol_of(func, ppfs, n)`: draw the design, evaluate a vectorized function, return indices
  (the Ishigami check in tests/test_uncertainty.py uses it).
- `grid_indices(factors, y)`: exact first-order and total indices of a balanced full-factorial
  grid (the grid values taken as equally likely), from group means: what a grid sweep reports.
- `band(y)`: P10 / P50 / P90, mean, standard deviation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import stats

from costsim.errors import InputError
from costsim.uncertainty.sampling import unit_design

BAND_QUANTILES = (("p10", 0.10), ("p50", 0.50), ("p90", 0.90))


@dataclass(frozen=True)
class SobolIndices:
    """Sobol' indices of one output."""

    names: tuple[str, ...]
    """Input names (field paths), in column order."""
    first_order: np.ndarray
    """S_i per input (fraction of variance, 0..1 up to estimation noise)."""
    total_order: np.ndarray
    """ST_i per input (fraction of variance, 0..1 up to estimation noise)."""
    n: int
    """Base samples used (rows j with every evaluation finite)."""
    dropped: int = 0
    """Rows j left out because an evaluation failed (NaN)."""
    variance: float = 0.0
    """Variance of the output over A and B (output unit squared)."""
    first_order_ci: np.ndarray | None = None
    """95% bootstrap interval of S_i, shape (d, 2), or None."""
    total_order_ci: np.ndarray | None = None
    """95% bootstrap interval of ST_i, shape (d, 2), or None."""
    method: str = "saltelli_2010"
    """Estimator (scipy.stats.sobol_indices method, or 'grid_anova')."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "n": self.n, "dropped": self.dropped, "variance": self.variance,
                               "first_order": {k: float(v) for k, v in zip(self.names, self.first_order)},
                               "total_order": {k: float(v) for k, v in zip(self.names, self.total_order)}}
        if self.first_order_ci is not None and self.total_order_ci is not None:
            out["first_order_ci"] = {k: [float(a), float(b)] for k, (a, b) in zip(self.names, self.first_order_ci)}
            out["total_order_ci"] = {k: [float(a), float(b)] for k, (a, b) in zip(self.names, self.total_order_ci)}
        return out


#: largest base sample for scipy's BCa bootstrap intervals: their jackknife evaluates the estimator once per left-out row,
#: O(n^2) time and memory (16,384 samples took 2 min and 7 GB, 65,536 ran out of memory); above it the intervals are the
#: percentile bootstrap over rows (_bootstrap, O(n_resamples x n))
BCA_MAX_N = 2048


def sobol_from_blocks(f_A: Any, f_B: Any, f_AB: Any, names: Sequence[str], *, bootstrap: bool = True,
                      n_resamples: int = 200, seed: int = 0) -> SobolIndices:
    """Indices from the evaluations of a Saltelli design: f_A, f_B shape (n,), f_AB shape (d, n)."""
    fa = np.asarray(f_A, float).reshape(-1)
    fb = np.asarray(f_B, float).reshape(-1)
    fab = np.asarray(f_AB, float)
    d = len(names)
    if fab.ndim == 1:
        fab = fab.reshape(d, -1)
    if fab.shape != (d, fa.size) or fb.size != fa.size:
        raise InputError(f"Saltelli evaluations have inconsistent shapes: f_A {fa.shape}, f_B {fb.shape}, f_AB {fab.shape} for {d} inputs.",
                         field="design")
    keep = np.isfinite(fa) & np.isfinite(fb) & np.all(np.isfinite(fab), axis=0)
    n = int(keep.sum())
    dropped = int(fa.size - n)
    if n < 2:
        nan = np.full(d, np.nan)
        return SobolIndices(tuple(names), nan, nan.copy(), n, dropped)
    fa, fb, fab = fa[keep], fb[keep], fab[:, keep]
    var = float(np.var(np.concatenate([fa, fb])))
    ci1 = cit = None
    if n & (n - 1) == 0 and n <= BCA_MAX_N:  # scipy's own estimator (it requires a power-of-two n)
        res = stats.sobol_indices(func={"f_A": fa[None, :], "f_B": fb[None, :], "f_AB": fab[:, None, :]}, n=n)
        s1 = np.atleast_1d(np.asarray(res.first_order, float)).reshape(-1)
        st = np.atleast_1d(np.asarray(res.total_order, float)).reshape(-1)
        if bootstrap and n >= 8 and var > 0:
            try:
                # scipy's BCa bootstrap draws from numpy's global generator (SobolResult.bootstrap takes no rng): seed
                # it for this call and put it back, so the same rows give the same intervals (they differed run to run)
                state = np.random.get_state()
                try:
                    np.random.seed(seed)
                    with warnings.catch_warnings():  # an index that is exactly 0 has a degenerate bootstrap (BCa warns)
                        warnings.simplefilter("ignore")
                        bs = res.bootstrap(confidence_level=0.95, n_resamples=n_resamples)
                finally:
                    np.random.set_state(state)
                ci1 = _ci(bs.first_order.confidence_interval, s1)
                cit = _ci(bs.total_order.confidence_interval, st)
            except (ValueError, FloatingPointError):  # degenerate resamples (constant output): no interval
                ci1 = cit = None
    else:  # rows dropped, or a design too large for BCa: the same Saltelli (2010) estimators, percentile bootstrap over rows
        s1, st = saltelli_2010(fa, fb, fab)
        if bootstrap and n >= 8 and var > 0:
            ci1, cit = _bootstrap(fa, fb, fab, n_resamples, seed)
    return SobolIndices(tuple(names), s1, st, n, dropped, var, ci1, cit)


def saltelli_2010(fa: np.ndarray, fb: np.ndarray, fab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-order and total indices, Saltelli et al. (2010) Table 2 (b) and (f), after centring
    on the mean of A and B (as scipy.stats.sobol_indices does); zero variance -> zero indices."""
    mean = np.mean(np.concatenate([fa, fb]))
    a, b, ab = fa - mean, fb - mean, fab - mean
    var = np.var(np.concatenate([a, b]))
    if not var > 0:
        return np.zeros(ab.shape[0]), np.zeros(ab.shape[0])
    s1 = np.mean(b * (ab - a), axis=-1) / var
    st = 0.5 * np.mean((a - ab) ** 2, axis=-1) / var
    return s1, st


def _ci(interval: Any, estimate: np.ndarray) -> np.ndarray:
    """(d, 2) interval; where the bootstrap is degenerate (NaN) the interval collapses to the estimate."""
    lo = np.asarray(interval.low, float).reshape(-1)
    hi = np.asarray(interval.high, float).reshape(-1)
    return np.stack([np.where(np.isfinite(lo), lo, estimate), np.where(np.isfinite(hi), hi, estimate)], axis=1)


def _bootstrap(fa: np.ndarray, fb: np.ndarray, fab: np.ndarray, n_resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """95% percentile intervals of S_i and ST_i, resampling rows j with replacement."""
    rng = np.random.default_rng(seed)
    n = fa.size
    s1s, sts = [], []
    for _ in range(n_resamples):
        j = rng.integers(0, n, n)
        a, b = saltelli_2010(fa[j], fb[j], fab[:, j])
        s1s.append(a)
        sts.append(b)
    lo, hi = 2.5, 97.5
    return (np.stack([np.percentile(s1s, lo, axis=0), np.percentile(s1s, hi, axis=0)], axis=1),
            np.stack([np.percentile(sts, lo, axis=0), np.percentile(sts, hi, axis=0)], axis=1))


def saltelli_blocks(values: Any, block: Any, sample_index: Any, d: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrange evaluations of a Saltelli design (any order) into f_A (n,), f_B (n,), f_AB (d, n);
    missing points are NaN."""
    y = np.asarray(values, float)
    blk = np.asarray(block, dtype=object)
    j = np.asarray(sample_index, np.int64)
    f_A = np.full(n, np.nan)
    f_B = np.full(n, np.nan)
    f_AB = np.full((d, n), np.nan)
    for name in np.unique(blk):
        sel = blk == name
        if name == "A":
            f_A[j[sel]] = y[sel]
        elif name == "B":
            f_B[j[sel]] = y[sel]
        elif isinstance(name, str) and name.startswith("AB") and name[2:].isdigit() and int(name[2:]) < d:
            f_AB[int(name[2:]), j[sel]] = y[sel]
    return f_A, f_B, f_AB


def sobol_of(func: Callable[[np.ndarray], np.ndarray], ppfs: Sequence[Callable[[np.ndarray], np.ndarray]], n: int,
             names: Sequence[str] | None = None, *, sampler: str = "sobol", seed: int = 0, bootstrap: bool = False) -> SobolIndices:
    """Indices of a vectorized func(x: (m, d)) -> (m,), inputs given by their inverse CDFs."""
    d = len(ppfs)
    names = tuple(names or [f"x{i + 1}" for i in range(d)])
    ab = unit_design(n, 2 * d, sampler=sampler, seed=seed)
    A = np.column_stack([ppfs[i](ab[:, i]) for i in range(d)])
    B = np.column_stack([ppfs[i](ab[:, d + i]) for i in range(d)])
    f_A = np.asarray(func(A), float)
    f_B = np.asarray(func(B), float)
    f_AB = np.empty((d, n))
    for i in range(d):
        ABi = A.copy()
        ABi[:, i] = B[:, i]
        f_AB[i] = func(ABi)
    return sobol_from_blocks(f_A, f_B, f_AB, names, bootstrap=bootstrap, seed=seed)


def grid_indices(factors: Mapping[str, Any], y: Any) -> SobolIndices:
    """Exact Sobol' indices of a balanced full-factorial grid (every combination once, each value of
    a factor equally likely): S_i = Var(mean of y by X_i) / Var(y), ST_i = 1 - Var(mean of y by
    all factors but X_i) / Var(y). InputError when the grid is not balanced and complete."""
    names = tuple(factors)
    y = np.asarray(y, float)
    if not names or y.size == 0:
        raise InputError("grid sensitivity needs at least one swept factor and one result.", field="grid")
    if not np.all(np.isfinite(y)):
        raise InputError("grid sensitivity needs a result at every grid point; some points failed or are missing.", field="grid")
    codes = []
    for name in names:
        _, inv = np.unique(np.asarray(factors[name]), return_inverse=True)
        codes.append(inv.reshape(-1))
    sizes = [int(c.max()) + 1 for c in codes]
    if int(np.prod(sizes)) != y.size:
        raise InputError(f"grid sensitivity needs each of the {int(np.prod(sizes))} combinations exactly once; got {y.size} points.", field="grid")
    flat_idx = np.ravel_multi_index(codes, sizes)
    if np.unique(flat_idx).size != y.size:
        raise InputError("grid sensitivity needs each combination exactly once (a combination repeats).", field="grid")
    cube = np.empty(sizes)
    cube.reshape(-1)[flat_idx] = y
    var = float(cube.var())
    if var <= (1e-12 * float(np.abs(y).max())) ** 2:  # constant up to rounding: nothing to attribute
        var = 0.0
    s1 = np.zeros(len(names))
    st = np.zeros(len(names))
    if var > 0:
        for i in range(len(names)):
            others = tuple(k for k in range(len(names)) if k != i)
            s1[i] = float(cube.mean(axis=others).var()) / var if others else 1.0
            st[i] = 1.0 - float(cube.mean(axis=i).var()) / var
    return SobolIndices(names, s1, st, int(y.size), 0, var, method="grid_anova")


def band(y: Any) -> dict[str, float]:
    """P10 / P50 / P90, mean, std (ddof=1) and count of the finite values of y."""
    a = np.asarray(y, float)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return {"n": 0}
    out = {name: float(np.quantile(a, q)) for name, q in BAND_QUANTILES}
    out.update({"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else 0.0, "min": float(a.min()),
                "max": float(a.max()), "n": int(a.size)})
    return out


@dataclass(frozen=True)
class OutputStudy:
    """The uncertainty of one output: its band and (optionally) its Sobol' indices."""

    name: str
    """Output column (e.g. training_cost_usd)."""
    band: dict[str, float]
    """p10, p50, p90, mean, std, min, max, n."""
    indices: SobolIndices | None = None
    """Sobol' indices, when the design allows them."""
    notes: list[str] = field(default_factory=list)
    """Why indices are missing, or how many points failed."""

    def as_dict(self) -> dict[str, Any]:
        return {"band": self.band, "indices": self.indices.as_dict() if self.indices is not None else None, "notes": list(self.notes)}
