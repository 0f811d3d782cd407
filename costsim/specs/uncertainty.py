"""The `uncertainty:` section of a scenario: field paths (the same paths as `--set`) mapped to
probability distributions. No other field changes type: a field keeps its nominal value in plain
runs, and `costsim run --samples N` / `costsim sweep --samples N` draw it from its distribution.

    uncertainty:
      sampler: sobol              # sobol (scrambled) | lhs (Latin hypercube) | random
      samples: 256                # base sample count when --samples is not given (optional)
      inputs:
        economics.electricity_usd_per_kwh: {dist: lognormal, median: 0.08, sigma: 0.35}
        facility.pue: {dist: triangular, low: 1.08, mode: 1.2, high: 1.5}
        training.tokens: {dist: uniform, low: 12e12, high: 18e12}
        economics.grid_gco2e_per_kwh: {dist: empirical, values: [120, 380, 420, 560]}
        training.step_time_s: {dist: error_band, low_frac: -0.12, high_frac: 0.25, regime: dense-h100}

Distributions (each `dist:` and its parameters):
- normal: mean, std (optional low / high truncate it);
- lognormal: median, sigma (standard deviation of the natural log; optional low / high truncate);
- uniform: low, high;  triangular: low, mode, high;
- empirical: values (and optional weights): draws one of the values (inverse of the step CDF);
- error_band: low_frac, high_frac (and the informational cases, regime): the validation-error
  band of the accuracy work, as a result's `error_band` gives it (published speed / predicted - 1;
  power: the power itself); e uniform on [low_frac, high_frac] (shape: triangular puts the mode at
  e = 0), value = nominal x (1 + e), or for a duration (a field in seconds, e.g. training.step_time_s:
  times read inversely) nominal / (1 + e). The nominal is the field's own value; for
  training.step_time_s left unset it is the step time of the training core.
An integer field (training.num_gpus) gets draws rounded to the nearest integer.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from costsim.specs.base import Spec

MAX_INPUTS = 64
MAX_EMPIRICAL_VALUES = 100_000


class NormalDist(Spec):
    dist: Literal["normal"] = Field(..., description="Normal (Gaussian) distribution.")
    mean: float = Field(..., description="Mean, in the field's unit.")
    std: float = Field(..., gt=0, description="Standard deviation, in the field's unit.")
    low: float | None = Field(None, description="Truncate below this value (optional).")
    high: float | None = Field(None, description="Truncate above this value (optional).")

    @model_validator(mode="after")
    def _bounds(self) -> "NormalDist":
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"normal: low ({self.low}) must be below high ({self.high})")
        return self


class LognormalDist(Spec):
    dist: Literal["lognormal"] = Field(..., description="Log-normal distribution (the log of the value is normal).")
    median: float = Field(..., gt=0, description="Median, in the field's unit (exp of the log-mean).")
    sigma: float = Field(..., gt=0, le=10, description="Standard deviation of the natural log of the value (0.35 ~ a P10-P90 range of x0.64..x1.57).")
    low: float | None = Field(None, gt=0, description="Truncate below this value (optional).")
    high: float | None = Field(None, gt=0, description="Truncate above this value (optional).")

    @model_validator(mode="after")
    def _bounds(self) -> "LognormalDist":
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"lognormal: low ({self.low}) must be below high ({self.high})")
        return self


class UniformDist(Spec):
    dist: Literal["uniform"] = Field(..., description="Uniform distribution on [low, high].")
    low: float = Field(..., description="Lowest value, in the field's unit.")
    high: float = Field(..., description="Highest value, in the field's unit.")

    @model_validator(mode="after")
    def _bounds(self) -> "UniformDist":
        if not self.low < self.high:
            raise ValueError(f"uniform: low ({self.low}) must be below high ({self.high})")
        return self


class TriangularDist(Spec):
    dist: Literal["triangular"] = Field(..., description="Triangular distribution on [low, high] with its peak at mode.")
    low: float = Field(..., description="Lowest value, in the field's unit.")
    mode: float = Field(..., description="Most likely value, in the field's unit.")
    high: float = Field(..., description="Highest value, in the field's unit.")

    @model_validator(mode="after")
    def _bounds(self) -> "TriangularDist":
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(f"triangular: need low <= mode <= high and low < high, got {self.low}, {self.mode}, {self.high}")
        return self


class EmpiricalDist(Spec):
    dist: Literal["empirical"] = Field(..., description="Empirical distribution: one of the given values (e.g. measured or published values).")
    values: list[float] = Field(..., min_length=1, max_length=MAX_EMPIRICAL_VALUES, description="The observed values, in the field's unit.")
    weights: list[float] | None = Field(None, description="Relative weight of each value (optional; default equal). Must be >= 0 with a positive sum.")

    @model_validator(mode="after")
    def _weights(self) -> "EmpiricalDist":
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(f"empirical: {len(self.weights)} weights for {len(self.values)} values; give one weight per value")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("empirical: weights must be >= 0 with a positive sum")
        return self


class ErrorBandDist(Spec):
    dist: Literal["error_band"] = Field(..., description="Validation-error band of the regime (from `error_band` in train/serve/run results: published speed, or power, / predicted - 1): value = nominal x (1 + e), e on [low_frac, high_frac]; a duration (a field in seconds, e.g. training.step_time_s) reads it inversely, nominal / (1 + e).")
    low_frac: float = Field(..., gt=-1, le=10, description="Lowest relative error of the regime's validation cases (e.g. -0.12 = the published speed can be 12% below the prediction: a step time 1/0.88 of it).")
    high_frac: float = Field(..., gt=-1, le=10, description="Highest relative error of the regime's validation cases (e.g. 0.25 = 25% above).")
    cases: int | None = Field(None, ge=0, description="Validation cases behind the band (informational).")
    regime: str | None = Field(None, max_length=200, description="Name of the regime the band comes from (informational).")
    shape: Literal["uniform", "triangular"] = Field("uniform", description="uniform on the band (default: the band is a min/max over cases), or triangular with its mode at the prediction.")

    @model_validator(mode="after")
    def _band(self) -> "ErrorBandDist":
        if not self.low_frac < self.high_frac:
            raise ValueError(f"error_band: low_frac ({self.low_frac}) must be below high_frac ({self.high_frac})")
        if self.shape == "triangular" and not self.low_frac <= 0.0 <= self.high_frac:
            raise ValueError("error_band: a triangular band has its mode at the prediction (e = 0), so it needs low_frac <= 0 <= high_frac; "
                             "use shape: uniform for a band that does not contain the prediction")
        return self


Distribution = Annotated[
    Union[NormalDist, LognormalDist, UniformDist, TriangularDist, EmpiricalDist, ErrorBandDist],
    Field(discriminator="dist"),
]
DIST_NAMES = ("normal", "lognormal", "uniform", "triangular", "empirical", "error_band")


class UncertaintySpec(Spec):
    inputs: dict[str, Distribution] = Field(..., min_length=1, max_length=MAX_INPUTS, description="Field path (as in --set, e.g. economics.electricity_usd_per_kwh) -> its distribution.")
    sampler: Literal["sobol", "lhs", "random"] = Field("sobol", description="How samples are drawn: scrambled Sobol' (quasi-random, needs a power-of-two count), Latin hypercube, or plain random.")
    samples: int | None = Field(None, ge=1, le=1 << 20, description="Base sample count used by `costsim run` when --samples is not given (None = no uncertainty study unless --samples asks).")
    seed: int = Field(0, ge=0, description="Seed of the sampler's scrambling (same seed and count = same samples).")
    sensitivity: bool = Field(True, description="Estimate variance-based (Sobol') sensitivity indices: samples x (inputs + 2) evaluations (Saltelli design) instead of samples.")

    @model_validator(mode="after")
    def _paths(self) -> "UncertaintySpec":
        from costsim.errors import InputError
        from costsim.specs.overrides import _kind, check_path, split_path
        from costsim.specs.scenario import Scenario

        for path in self.inputs:
            try:
                parts = split_path(path)
                alts = check_path(Scenario, parts, original=path)
            except InputError as exc:
                raise ValueError(f"uncertainty input: {exc.message}") from None
            if parts[0] in ("uncertainty", "variants", "name", "description"):
                raise ValueError(f"uncertainty input '{path}': only numeric fields of the workload, facility, grid, economics or simulation can be uncertain")
            if _kind(alts) != "num":
                raise ValueError(f"uncertainty input '{path}' is not a numeric field; give the path of a number (e.g. economics.electricity_usd_per_kwh)")
        return self
