"""Registry of validation runners: kind -> function(case) -> predicted value.

Each domain adds its runners in its own module (training.py, inference.py, power.py) through
`register(RUNNERS)`; this module imports them so `costsim validate` sees every case.
"""

from __future__ import annotations

from typing import Callable

from costsim.validation.engine import Case
from costsim.validation.training import LAYOUT_KEYS

RUNNERS: dict[str, Callable[[Case], float]] = {}

_TRAINING_KEYS = frozenset({
    "model", "hardware", "gpus", "seq_len", "global_batch", "precision", "attention_precision", "sequence_parallel",
    "framework", "node", "scaleup_domain_size", "power_cap_w", "tokens", "failure_rate_per_gpu_hour", "checkpoint_time_s",
    "restart_time_s", "fp4_bf16_layers", "lora_rank", "lora_targets", "lora_dropout",
    "lora_base_precision"}) | frozenset(LAYOUT_KEYS)
_SERVE_POWER_KEYS = frozenset({"model", "hardware", "tp", "batch", "input_tokens", "output_tokens", "engine",
                               "weight_precision"})
#: the inputs each runner reads (see each runner's module docstring); a case naming anything else is refused before
#: anything runs, naming the key, since a misspelt key (tpp, output_tokns) would otherwise be silently ignored
INPUT_KEYS: dict[str, frozenset[str]] = {
    "inference": frozenset({"model", "model_shape", "hardware", "num_gpus", "tp", "pp", "ep", "weight_precision",
                            "kv_precision", "engine", "batch", "input_tokens", "output_tokens", "output_tokens_cv", "context_tokens",
                            "num_requests", "max_num_seqs", "layout", "ttft_slo_s", "tpot_slo_s", "overrides",
                            "speculative_tokens", "acceptance_frac", "state_precision"}),
    "training_step_time": _TRAINING_KEYS,
    "training_run": _TRAINING_KEYS | {"publisher_gpu_power_w", "publisher_kg_per_kwh"},
    "matmul_throughput": frozenset({"hardware", "dtype", "m", "n", "k", "timing"}),
    "measured_device_power": frozenset({"hardware", "measurement", "phase", "phase_model", "flop_per_iter",
                                        "bytes_per_iter", "dtype", "power_cap_w"}),
    "serve_gpu_power_per_gpu": _SERVE_POWER_KEYS,
    "serve_gpu_energy_per_token": _SERVE_POWER_KEYS,
    "node_training_power": frozenset({"node", "compute_util_frac", "memory_util_frac"}),
    "node_expected_peak_power": frozenset({"node", "compute_util_frac", "memory_util_frac"}),
    "site_training_power": frozenset({"hardware", "gpus", "pue"}),
    "serving_sim": frozenset({"scenario", "metric", "seed", "duration_s"}),
}


def check_inputs(cases: list[Case]) -> None:
    """Refuse (InputError, exit 2) a case whose inputs name a key its runner does not read."""
    import difflib

    from costsim.errors import InputError

    for c in cases:
        allowed = INPUT_KEYS.get(c.kind)
        if allowed is None:
            continue  # an unknown kind is reported per case by run_cases
        for key in c.inputs:
            if key not in allowed:
                near = difflib.get_close_matches(key, sorted(allowed), n=1)
                raise InputError(f"validation case '{c.id}': inputs.{key} is not an input of kind '{c.kind}'"
                                 + (f"; did you mean '{near[0]}'?" if near else "")
                                 + f" Inputs it reads: {', '.join(sorted(allowed))}.", field=f"inputs.{key}")


def _load() -> None:
    import importlib

    for name in ("training", "inference", "power", "serving"):
        try:
            mod = importlib.import_module(f"costsim.validation.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"costsim.validation.{name}":
                continue
            raise
        mod.register(RUNNERS)


_load()
