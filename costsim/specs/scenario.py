"""The scenario schema: one file composes hardware and fleet, model(s), workload (training,
serving, or both on one site), facility and grid, economics and simulation settings.

Ownership: this top-level composition belongs to the scenario/sweep work; the training workload
lives in specs/training_sim.py and the serving workload in specs/serving_sim.py.
Its canonical JSON hash is the run id (`scenario_hash`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from costsim.specs.plan import PlanRequest
from costsim.specs.base import Spec
from costsim.specs.serving_sim import ServingWorkload
from costsim.specs.site import EconomicsSpec, FacilitySpec, GridSpec
from costsim.specs.training_sim import TrainingWorkload
from costsim.specs.uncertainty import UncertaintySpec


class SimulationSpec(Spec):
    seed: int = Field(0, ge=0, description="Seed of the run's one numpy Generator; same scenario + seed = identical results on every executor.")
    duration_s: float | None = Field(None, ge=1.0, description="Simulated time window, s, at least 1 s (None = until the workload completes; serving needs a duration). A shorter window simulates nothing: a training step and its start ramp take seconds (the training part refuses a window shorter than its own start ramp + one step), and no served request finishes in under a second.")
    replicates: int = Field(1, ge=1, le=10000, description="Monte Carlo replicates (seeds seed, seed+1, ...).")
    include_base: bool = Field(True, description="With variants: also run the base scenario (as variant 'base') beside them. False = only the listed variants.")


class Variant(Spec):
    name: str = Field(..., min_length=1, max_length=200, description="Label of this variant in comparisons (at most 200 characters).")
    set: dict[str, Any] = Field(default_factory=dict, description="Overrides applied to the base scenario, as path=value pairs (same paths as --set).")


class Scenario(Spec):
    name: str = Field(..., min_length=1, max_length=200, description="Scenario name (shown in reports; at most 200 characters).")
    description: str = Field("", max_length=5000, description="What question this scenario answers (at most 5,000 characters).")
    training: TrainingWorkload | None = Field(None, description="A training job on the site (optional).")
    serving: ServingWorkload | None = Field(None, description="A serving fleet on the site (optional).")
    facility: FacilitySpec = Field(default_factory=FacilitySpec, description="PUE / facility model.")
    grid: GridSpec = Field(default_factory=GridSpec, description="Grid import cap, battery, region signals, curtailment.")
    economics: EconomicsSpec = Field(default_factory=EconomicsSpec, description="Prices, carbon intensity, amortization.")
    simulation: SimulationSpec = Field(default_factory=SimulationSpec, description="Seed, duration, replicates.")
    variants: list[Variant] = Field(default_factory=list, description="Named variants run side by side (comparisons: small vs large, with vs without battery).")
    plan: PlanRequest | None = Field(None, description="A planning question (costsim plan): the model size and token count that reach a quality target or spend a compute budget and serve a lifetime demand at the least cost; facility and economics come from the scenario.")
    uncertainty: UncertaintySpec | None = Field(None, description="Distributions of uncertain inputs (field path -> distribution) for `--samples` studies: P10/P50/P90 bands and Sobol' sensitivity indices (see costsim/specs/uncertainty.py).")

    @model_validator(mode="after")
    def _has_workload(self) -> "Scenario":
        if self.training is None and self.serving is None and self.plan is None:
            raise ValueError("a scenario needs a 'training', 'serving' or 'plan' section")
        dur = self.simulation.duration_s
        if self.serving is not None and dur is not None and self.serving.warmup_s >= dur:
            raise ValueError(f"serving.warmup_s ({self.serving.warmup_s:g} s) is not below simulation.duration_s ({dur:g} s): every "
                             "request would fall in the warm-up and none would be measured; shorten the warm-up or lengthen the run")
        return self

    @model_serializer(mode="wrap")
    def _drop_empty_uncertainty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # a scenario without an uncertainty section dumps (and hashes) exactly as before the section existed
        data = handler(self)
        if isinstance(data, dict) and data.get("uncertainty", 0) is None:
            data.pop("uncertainty")
        if isinstance(data, dict) and data.get("plan", 0) is None:  # likewise a scenario without a plan section
            data.pop("plan")
        return data


def scenario_hash(s: Scenario) -> str:
    """Canonical JSON (sorted keys, defaults filled) -> sha256, first 16 hex digits: the run id."""
    doc = json.dumps(s.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema of a scenario file (editor completion: `costsim schema > scenario.schema.json`)."""
    doc = Scenario.model_json_schema()
    doc["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    doc.setdefault("title", "costsim scenario")
    return doc
