"""A planning request: reach a quality target (or spend a compute budget) and serve a lifetime demand,
at the least $, MWh, tCO2e or peak MW (costsim.api.plan)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from costsim.specs.base import Spec, region_named
from costsim.specs.site import EconomicsSpec, FacilitySpec

FIT_IDS = ("hoffmann2022", "hoffmann2022-precise", "besiroglu2024", "muennighoff2023")


class PlanRequest(Spec):
    target_loss: float | None = Field(None, gt=0, le=20, description="Quality target: loss (nats per token) under the chosen fit.")
    compute_budget_flop: float | None = Field(None, ge=1e15, le=1e32, description="Instead of a target: the training compute, FLOP, "
                                              "1e15 to 1e32 (the compute-optimal allocation of it; below 1e15 the "
                                              "scaling-law fits are far outside their data).")
    target_score: str | None = Field(None, max_length=100, description="Quality target as a benchmark score, BENCH=VALUE (e.g. "
                                     "mmlu=70): converted to a loss per fit through the score map of costsim/core/scores.py.")
    family: str = Field("llama-3", max_length=100, description="Data-quality family of the planned model for score targets and "
                        "predictions (a family of costsim/data/benchmarks.yaml; one with a single published score has no term).")
    lifetime_tokens: float | None = Field(None, ge=0, le=1e20, description="Tokens served over the model's life (input + output).")
    requests_per_day: float | None = Field(None, ge=0, le=1e13, description="Lifetime demand as requests per day (with years and "
                                           "the token counts per request).")
    years: float = Field(2.0, ge=0.01, le=50, description="Serving lifetime, years, 0.01 (about 4 days) to 50 (sets the fleet's "
                         "tokens per second).")
    peak_to_mean: float = Field(1.0, ge=1.0, le=100.0, description="Serving demand's peak over its mean (1 to 100): the "
                                "fleet is sized for the peak, so it holds this many times the accelerators the mean "
                                "demand keeps busy; the extra capacity is paid for (rental or capex, embodied carbon) and "
                                "idles at its idle power off-peak. 1 = a fleet sized at the mean (every accelerator always "
                                "busy); chat traffic's daily peak is typically 2-3x its mean.")
    input_tokens: int = Field(512, ge=1, le=1_000_000, description="Prompt tokens per request.")
    output_tokens: int = Field(256, ge=1, le=1_000_000, description="Generated tokens per request.")
    mode: Literal["cost", "flops"] = Field("cost", description="cost: price training and serving with the cores; flops: "
                                           "6ND + 2N D_inf (the papers' accounting, for checks).")
    fit: str = Field("besiroglu2024", description=f"Loss law fit: {', '.join(FIT_IDS)}.")
    objective: Literal["usd", "mwh", "co2e", "peak_mw"] = Field("usd", description="What the plan minimizes in cost mode.")
    train_hardware: str = Field("h100-sxm", max_length=1024, description="Accelerator id for training.")
    train_gpus: int = Field(4096, ge=1, le=10_000_000, description="Accelerators in the training job (sets days and peak MW).")
    train_precision: Literal["bf16", "fp16", "fp8", "fp4"] = Field("bf16", description="Training compute datatype.")
    serve_hardware: str = Field("h100-sxm", max_length=1024, description="Accelerator id for serving.")
    serve_precision: Literal["bf16", "fp16", "fp8", "int8", "int4", "fp4", "fp6"] | None = Field(
        None, description="Serving weight format (None: the deployment search picks among the native formats).")
    serve_engine: str = Field("default", max_length=64, description="Serving-engine profile (costsim/data/engines.yaml) the "
                              "serving fleet is priced with.")
    ttft_slo_s: float | None = Field(None, gt=0, le=3600, description="Serving time-to-first-token limit, s: the deployment "
                                     "search prices the fleet at the largest batch that meets it.")
    tpot_slo_s: float | None = Field(None, gt=0, le=60, description="Serving time-per-output-token limit, s (as ttft_slo_s).")
    region: str | None = Field(None, max_length=1024, description="Region id: its mean hourly price and carbon price the "
                               "electricity of both phases (None: the economics defaults).")
    unique_tokens: float | None = Field(None, ge=1e8, le=1e16, description="Unique training tokens available (data limit; "
                                        "muennighoff2023 prices the repeats), 1e8 to 1e16 (100M tokens is the smallest unique "
                                        "set in Muennighoff et al. 2023's runs).")
    compare: list[str] = Field(default_factory=list, max_length=20, description="Catalog models to price against the plan "
                               "(their size and training tokens).")
    max_params: float = Field(1e13, gt=0, le=1e15, description="Largest model size considered.")
    min_params: float = Field(1e8, ge=1e6, description="Smallest model size considered (at least 1e6 parameters).")
    grid_cap_mw: float | None = Field(None, gt=0, le=1_000_000, description="Site import cap, MW (at most 1,000,000): a plan whose training or serving peak exceeds it is infeasible.")
    facility: FacilitySpec = Field(default_factory=FacilitySpec, description="PUE and facility model.")
    economics: EconomicsSpec = Field(default_factory=EconomicsSpec, description="Prices and carbon intensity.")

    @field_validator("train_hardware", "serve_hardware", "region", mode="before")
    @classmethod
    def _one_choice(cls, v, info):
        if isinstance(v, (list, tuple)):
            raise ValueError(f"one id per plan; to compare several, give each in its own scenario variant "
                             f"(set: {{plan.{info.field_name}: ...}}) or run `costsim plan --{info.field_name.replace('_', '-')} a,b`, "
                             "which plans and ranks every combination")
        return v

    @field_validator("region")
    @classmethod
    def _region_named(cls, v: str | None) -> str | None:
        return region_named(v)

    @model_validator(mode="after")
    def _one_target(self) -> "PlanRequest":
        if sum(x is not None for x in (self.target_loss, self.compute_budget_flop, self.target_score)) != 1:
            raise ValueError("give exactly one of --target-loss, --target-score or --compute-budget-flop")
        if self.lifetime_tokens is not None and self.requests_per_day is not None:
            raise ValueError("give the lifetime demand either as --lifetime-tokens or as --requests-per-day (with --years), not both")
        if self.fit not in FIT_IDS:
            raise ValueError(f"unknown fit '{self.fit}'; use one of {', '.join(FIT_IDS)}")
        if self.min_params >= self.max_params:
            raise ValueError(f"max_params ({self.max_params:.3g}) must be above min_params ({self.min_params:.3g}"
                             f"{', the default' if self.min_params == 1e8 else ''}); raise --max-params or lower --min-params")
        total = self.lifetime_total_tokens()
        if 0 < total < 1:
            field = "lifetime_tokens" if self.lifetime_tokens is not None else "requests_per_day"
            raise ValueError(f"{field}: the lifetime demand comes to {total:.3g} tokens, less than one; give 0 for no serving "
                             "or a demand of at least one token")
        return self

    def lifetime_total_tokens(self) -> float:
        if self.lifetime_tokens is not None:
            return float(self.lifetime_tokens)
        if self.requests_per_day is not None:
            return float(self.requests_per_day) * 365.25 * self.years * (self.input_tokens + self.output_tokens)
        return 0.0

    def lifetime_output_tokens(self) -> float:
        return self.lifetime_total_tokens() * self.output_tokens / (self.input_tokens + self.output_tokens)
