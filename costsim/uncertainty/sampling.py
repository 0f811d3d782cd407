"""Distributions as inverse CDFs and sampling designs (scipy.stats.qmc).

    ppf(dist, u, nominal=None) -> values          (u in (0, 1), any shape)
    unit_design(n, d, sampler=, seed=) -> (n, d)   points in the unit hypercube
    draw(spec, n, nominals=, integer=, saltelli=) -> SampleDesign

A Saltelli design (Saltelli et al. 2010, Comput. Phys. Commun. 181:259) evaluates n x (d + 2)
points: the rows of A, of B, and of AB_i (A with column i taken from B) for every input i; A and
B are the two halves of one 2d-dimensional design (as scipy.stats.sobol_indices draws them).
The same spec, seed and n always give the same points, and with the Sobol' sampler the first n
points of a larger n are the same points (a re-run with more samples keeps the earlier ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from scipy import stats
from scipy.stats import qmc

from costsim.core.trust import is_time_like
from costsim.errors import InputError
from costsim.specs.uncertainty import (
    EmpiricalDist,
    ErrorBandDist,
    LognormalDist,
    NormalDist,
    TriangularDist,
    UncertaintySpec,
    UniformDist,
)

SAMPLERS = ("sobol", "lhs", "random")
_EPS = 1e-12


def _u(u: Any) -> np.ndarray:
    return np.clip(np.asarray(u, float), _EPS, 1.0 - _EPS)


def ppf(dist: Any, u: Any, nominal: float | None = None, *, path: str = "input") -> np.ndarray:
    """Inverse CDF of one distribution at probabilities u (an error band needs the nominal value)."""
    u = _u(u)
    if isinstance(dist, UniformDist):
        return dist.low + u * (dist.high - dist.low)
    if isinstance(dist, TriangularDist):
        width = dist.high - dist.low
        return stats.triang(c=(dist.mode - dist.low) / width, loc=dist.low, scale=width).ppf(u)
    if isinstance(dist, NormalDist):
        if dist.low is None and dist.high is None:
            return stats.norm(loc=dist.mean, scale=dist.std).ppf(u)
        a = -np.inf if dist.low is None else (dist.low - dist.mean) / dist.std
        b = np.inf if dist.high is None else (dist.high - dist.mean) / dist.std
        return stats.truncnorm(a, b, loc=dist.mean, scale=dist.std).ppf(u)
    if isinstance(dist, LognormalDist):
        mu = math.log(dist.median)
        if dist.low is None and dist.high is None:
            return np.exp(mu + dist.sigma * stats.norm.ppf(u))
        a = -np.inf if dist.low is None else (math.log(dist.low) - mu) / dist.sigma
        b = np.inf if dist.high is None else (math.log(dist.high) - mu) / dist.sigma
        return np.exp(stats.truncnorm(a, b, loc=mu, scale=dist.sigma).ppf(u))
    if isinstance(dist, EmpiricalDist):
        vals = np.asarray(dist.values, float)
        w = np.ones_like(vals) if dist.weights is None else np.asarray(dist.weights, float)
        order = np.argsort(vals, kind="stable")
        vals, w = vals[order], w[order]
        cdf = np.cumsum(w) / w.sum()
        idx = np.minimum(np.searchsorted(cdf, u, side="right"), vals.size - 1)
        return vals[idx]
    if isinstance(dist, ErrorBandDist):
        if nominal is None or not math.isfinite(float(nominal)):
            raise InputError(f"uncertainty input '{path}': an error_band scales the field's nominal value, but the field has none; "
                             "set the field in the scenario (or use another distribution).", field=path)
        # the band is a result's error_band: published speed / predicted - 1 (power: the figure itself); a duration
        # (training.step_time_s) reads it inversely, time = nominal / (1 + e), with e drawn at 1 - u so that the
        # values still rise with u (an inverse CDF)
        time_like = is_time_like(path.rsplit(".", 1)[-1])
        q = 1.0 - u if time_like else u
        if dist.shape == "uniform":
            e = dist.low_frac + q * (dist.high_frac - dist.low_frac)
        else:
            width = dist.high_frac - dist.low_frac
            e = stats.triang(c=(0.0 - dist.low_frac) / width, loc=dist.low_frac, scale=width).ppf(q)
        return float(nominal) / (1.0 + e) if time_like else float(nominal) * (1.0 + e)
    raise InputError(f"uncertainty input '{path}': unknown distribution {type(dist).__name__}.", field=path)


def check_count(n: int, sampler: str, flag: str = "--samples") -> None:
    if sampler not in SAMPLERS:
        raise InputError(f"unknown sampler '{sampler}'; use one of {', '.join(SAMPLERS)}.", field="--sampler")
    if isinstance(n, bool) or int(n) < 1:
        raise InputError(f"{flag} must be >= 1, got {n}.", field=flag)
    if sampler == "sobol" and n & (n - 1):
        lo = 1 << (int(n).bit_length() - 1)
        raise InputError(f"{flag} {n}: the Sobol' sampler keeps its balance only with a power of two; use {lo} or {lo * 2} "
                         "(or --sampler lhs for any count).", field=flag)


def unit_design(n: int, d: int, *, sampler: str = "sobol", seed: int = 0) -> np.ndarray:
    """n points in [0, 1)^d: scrambled Sobol' (Owen scrambling), Latin hypercube, or i.i.d. uniform."""
    check_count(n, sampler)
    if sampler == "sobol":
        return qmc.Sobol(d=d, scramble=True, seed=np.random.default_rng(seed)).random(n)
    if sampler == "lhs":
        return qmc.LatinHypercube(d=d, seed=np.random.default_rng(seed)).random(n)
    return np.random.default_rng(seed).random((n, d))


@dataclass(frozen=True)
class SampleDesign:
    """Points to evaluate for an uncertainty study."""

    paths: tuple[str, ...]
    """Uncertain field paths, in the order of the design's columns."""
    values: dict[str, np.ndarray]
    """Path -> value of that field at every point (length num_points)."""
    sample_index: np.ndarray
    """Row j of A / B / AB_i that a point is (0..n-1); for a plain design, the point's own index."""
    block: np.ndarray
    """Object array: 'A', 'B' or 'AB<i>' (Saltelli design), or 'S' (plain design)."""
    n: int
    """Base sample count n."""
    saltelli: bool
    """True: n x (d + 2) points for Sobol' indices; False: n points."""
    sampler: str
    """sobol, lhs or random."""

    @property
    def num_points(self) -> int:
        return int(self.sample_index.size)


def num_points(n: int, d: int, saltelli: bool) -> int:
    return n * (d + 2) if saltelli else n


def draw(spec: UncertaintySpec, n: int, *, nominals: Mapping[str, float | None] | None = None,
         integer: Mapping[str, bool] | None = None, saltelli: bool | None = None, sampler: str | None = None,
         seed: int | None = None) -> SampleDesign:
    """The points of a study: n samples of every input (n x (d + 2) with a Saltelli design)."""
    paths = tuple(spec.inputs)
    d = len(paths)
    sampler = sampler or spec.sampler
    seed = spec.seed if seed is None else seed
    saltelli = (spec.sensitivity and d >= 1) if saltelli is None else saltelli
    nominals = nominals or {}
    integer = integer or {}
    if saltelli:
        ab = unit_design(n, 2 * d, sampler=sampler, seed=seed)
        A, B = ab[:, :d], ab[:, d:]
        blocks = [("A", A), ("B", B)]
        for i in range(d):
            ABi = A.copy()
            ABi[:, i] = B[:, i]
            blocks.append((f"AB{i}", ABi))
        U = np.concatenate([m for _, m in blocks])
        block = np.concatenate([np.full(n, name, dtype=object) for name, _ in blocks])
        sample_index = np.tile(np.arange(n), len(blocks))
    else:
        U = unit_design(n, d, sampler=sampler, seed=seed)
        block = np.full(n, "S", dtype=object)
        sample_index = np.arange(n)
    values: dict[str, np.ndarray] = {}
    for i, p in enumerate(paths):
        v = ppf(spec.inputs[p], U[:, i], nominals.get(p), path=p)
        if integer.get(p):
            v = np.rint(v).astype(np.int64)
        values[p] = v
    return SampleDesign(paths=paths, values=values, sample_index=sample_index, block=block, n=n, saltelli=bool(saltelli), sampler=sampler)
