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
                            "speculative_tokens", "acceptance_frac", "state_precision", "power_cap_w"}),
    "training_step_time": _TRAINING_KEYS,
    "training_run": _TRAINING_KEYS | {"publisher_gpu_power_w", "publisher_kg_per_kwh"},
    "matmul_throughput": frozenset({"hardware", "dtype", "m", "n", "k", "timing"}),
    "measured_device_power": frozenset({"hardware", "measurement", "phase", "phase_model", "flop_per_iter",
                                        "bytes_per_iter", "dtype", "power_cap_w"}),
    "serve_gpu_power_per_gpu": _SERVE_POWER_KEYS,
    "power_cap_throughput": frozenset({"gpu", "power_cap_w", "tdp_w", "idle_w", "power_uncapped_w"}),
    "serve_gpu_energy_per_token": _SERVE_POWER_KEYS,
    "node_training_power": frozenset({"node", "compute_util_frac", "memory_util_frac"}),
    "node_expected_peak_power": frozenset({"node", "compute_util_frac", "memory_util_frac"}),
    "site_training_power": frozenset({"hardware", "gpus", "pue"}),
    "serving_sim": frozenset({"scenario", "metric", "seed", "duration_s"}),
}


#: the metrics each runner computes (a case comparing another quantity is refused before anything runs)
METRICS: dict[str, frozenset[str]] = {
    "inference": frozenset({"batch_latency_s", "decode_step_time_s", "decode_tokens_per_s", "prefill_time_s",
                            "prefill_tokens_per_s", "speculative_speedup", "power_cap_throughput_frac", "throughput_tokens_per_s",
                            "ttft_s", "tpot_s"}),
    "training_step_time": frozenset({"step_time_s", "mfu_frac", "tokens_per_s", "achieved_flop_per_s_per_gpu",
                                     "peak_memory_allocated_bytes"}),
    "training_run": frozenset({"gpu_hours", "publisher_energy_mwh", "publisher_tco2e"}),
    "matmul_throughput": frozenset({"flop_per_s"}),
    "measured_device_power": frozenset({"gpu_power_w"}),
    "serve_gpu_power_per_gpu": frozenset({"gpu_power_w"}),
    "power_cap_throughput": frozenset({"throughput_frac"}),
    "serve_gpu_energy_per_token": frozenset({"gpu_energy_per_output_token_j"}),
    "node_training_power": frozenset({"node_power_w"}),
    "node_expected_peak_power": frozenset({"node_power_w"}),
    "site_training_power": frozenset({"facility_power_w"}),
    "serving_sim": None,  # any key of the serving simulation's summary (checked when the run's summary exists)
}


def _refuse(c: Case, field: str, text: str, choices) -> None:
    import difflib

    from costsim.errors import InputError

    near = difflib.get_close_matches(str(text), sorted(choices), n=1)
    raise InputError(f"validation case '{c.id[:80]}': {field} {str(text)[:80]!r} is not one of "
                     f"{', '.join(sorted(choices))}" + (f"; did you mean '{near[0]}'?" if near else "."), field=field)


def _check_ids(c: Case) -> None:
    """The catalog ids a case names (hardware, model, engine) exist: an unknown one is bad input, not a model miss."""
    from costsim.errors import InputError
    from costsim.specs.catalog import get_accelerator, get_model
    from costsim.specs.engine import get_engine

    inp = c.inputs
    for key, lookup in (("hardware", get_accelerator), ("model", get_model), ("engine", get_engine)):
        v = inp.get(key)
        if isinstance(v, str):
            try:
                lookup(v)
            except InputError as exc:
                raise InputError(f"validation case '{c.id[:80]}': inputs.{key}: {exc.message}", field=f"inputs.{key}") from None


def check_inputs(cases: list[Case]) -> None:
    """Refuse (InputError, exit 2) a case of an unknown kind, comparing a metric its runner does not compute, naming
    an unknown catalog id, or whose inputs name a key its runner does not read."""
    import difflib

    from costsim.errors import InputError

    for c in cases:
        allowed = INPUT_KEYS.get(c.kind)
        if allowed is None:
            _refuse(c, "kind", c.kind, INPUT_KEYS)
        metrics = METRICS.get(c.kind)
        if metrics is not None and c.metric not in metrics:
            _refuse(c, "metric", c.metric, metrics)
        if c.kind == "serving_sim" and "metric" in c.inputs and c.inputs["metric"] != c.metric:
            raise InputError(f"validation case '{c.id[:80]}': inputs.metric {c.inputs['metric']!r} differs from the case's "
                             f"metric {c.metric!r}; give the compared quantity once, as metric.", field="inputs.metric")
        _check_ids(c)
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
