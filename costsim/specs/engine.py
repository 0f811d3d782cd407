"""Serving-engine efficiency profiles (costsim/data/engines.yaml): how a software stack changes the
device's achievable fractions and per-step overheads.

An engine profile is data, like a hardware profile: every parameter either replaces a device default
of the inference core (costsim.core.inference.CATEGORY_DEFAULTS keys) or, with the suffix `_scale`,
multiplies it. `vendor_parameters` apply on top for devices of one vendor (ROCm kernels on AMD parts,
for example), and `device_parameters` for one hardware id (kernels tuned, or not, for that part), so one
engine id (`vllm`) means the stack a user actually gets on that hardware.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from costsim.errors import InputError
from costsim.specs.base import Spec, load_yaml_file, unknown_id, validate_spec

ENGINES_FILE = Path(__file__).resolve().parents[1] / "data" / "engines.yaml"


class EngineProfile(Spec):
    """One serving stack (TensorRT-LLM, vLLM, SGLang, llama.cpp, a research prototype)."""

    id: str = Field(..., pattern=r"^[a-z0-9]+([.-][a-z0-9]+)*$", description="Stable id used by --engine, the app and scenarios.")
    name: str = Field(..., description="Display name.")
    description: str = Field(..., description="What the stack is and the mechanism its parameters stand for (one or two sentences).")
    kind: str = Field(..., description="production | research | on-device.")
    vendors: list[str] | None = Field(None, description="Accelerator vendors the stack runs on (lower case); None = any.")
    parameters: dict[str, float] = Field(default_factory=dict, description="Replacements (or *_scale multipliers) of the device defaults of the inference core.")
    vendor_parameters: dict[str, dict[str, float]] = Field(default_factory=dict, description="Per vendor (lower case), applied after `parameters`.")
    device_parameters: dict[str, dict[str, float]] = Field(default_factory=dict, description="Per hardware id (e.g. b200), applied last: what this stack's kernels do on one part (tuned or untuned kernel configurations).")
    kv_cache_auto: Literal["follows_weights", "16bit"] = Field(
        "follows_weights", description="The KV cache the stack runs when none is asked for: 'follows_weights' = FP8 "
        "with FP8 / FP4 / MXFP4 / FP6 weights (TensorRT-LLM with ModelOpt checkpoints, which ship an FP8 KV cache; "
        "vendors' MLPerf configurations), else 16 bit; '16bit' = the model's 16-bit dtype whatever the weights (vLLM's "
        "and SGLang's --kv-cache-dtype auto).")
    weight_precisions: list[str] | None = Field(None, description="Weight formats the stack runs (llama.cpp: its GGUF types, bf16 / fp16, q8_0, q4_0, and MXFP4 for gpt-oss); None = any the hardware and core support. A deployment search tries only these; another asked for is refused naming the field.")
    parallelism: list[Literal["tp", "pp", "ep"]] = Field(
        ["tp", "pp", "ep"], min_length=1,
        description="Layout dimensions the stack splits a replica over: tp (tensor), pp (pipeline), ep (expert). Plain "
        "PyTorch runs pp only (Hugging Face accelerate's device_map: consecutive layers on each GPU); a deployment "
        "search tries only these, and a layout asking for another is refused naming the field.")
    fitted_on: list[str] = Field(default_factory=list, description="Validation case ids the fitted parameters came from.")
    sources: list[str] = Field(..., min_length=1, description="Where the parameters and mechanisms come from.")
    notes: str | None = Field(None, description="Caveats.")

    @model_validator(mode="after")
    def _check(self) -> "EngineProfile":
        for k, v in [*self.parameters.items(), *(kv for d in (*self.vendor_parameters.values(), *self.device_parameters.values()) for kv in d.items())]:
            if v < 0:
                raise ValueError(f"engine '{self.id}': parameter {k} must be >= 0, got {v}")
        return self


class EngineCatalog(Spec):
    engines: list[EngineProfile] = Field(..., min_length=1, description="Every engine profile.")


@lru_cache(maxsize=1)
def engines() -> dict[str, EngineProfile]:
    """All engine profiles by id (costsim/data/engines.yaml)."""
    data = load_yaml_file(ENGINES_FILE, what="engine catalog", shipped=True)
    cat = validate_spec(EngineCatalog, data, what="engine catalog", source=str(ENGINES_FILE))
    out: dict[str, EngineProfile] = {}
    for e in cat.engines:
        if e.id in out:
            raise InputError(f"duplicate engine id '{e.id}' in {ENGINES_FILE}.")
        out[e.id] = e
    return out


def engine_ids() -> list[str]:
    return list(engines())


def get_engine(ref: str) -> EngineProfile:
    """The profile for `ref`, or an InputError listing the known ids (exit 2 in the CLI)."""
    if not isinstance(ref, str) or not ref.strip():
        raise InputError(f"empty engine id; known engines: {', '.join(engines())}.", field="engine")
    table = engines()
    key = ref.strip()
    if key in table:
        return table[key]
    shown = key if len(key) <= 60 else key[:57] + "..."
    raise unknown_id("engine", shown, sorted(table), hint=f" Known engines: {', '.join(table)}.")
