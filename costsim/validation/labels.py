"""How a validation metric reads in a table: a label with its display unit and the factor from the case's SI value
(`metric` keys such as throughput_tokens_per_s stay in the case files and the JSON)."""

from __future__ import annotations

from dataclasses import dataclass

from costsim.numtext import sig


@dataclass(frozen=True)
class MetricDisplay:
    """One metric's table label ("decode step, ms") and the factor from its SI value to the display unit."""

    label: str
    scale: float = 1.0

    def value(self, v: float | None) -> float | None:
        return None if v is None else v * self.scale

    def text(self, v: float | None) -> str:
        return "-" if v is None else sig(v * self.scale, 4)  # 31,300, not 3.13e+04


_DISPLAY = {
    "throughput_tokens_per_s": MetricDisplay("throughput, tokens/s"),
    "decode_tokens_per_s": MetricDisplay("decode rate, tokens/s"),
    "prefill_tokens_per_s": MetricDisplay("prefill rate, tokens/s"),
    "step_time_s": MetricDisplay("step time, s"),
    "decode_step_time_s": MetricDisplay("decode step, ms", 1e3),
    "prefill_time_s": MetricDisplay("prefill time, ms", 1e3),
    "batch_latency_s": MetricDisplay("batch latency, s"),
    "speculative_speedup": MetricDisplay("speculative speedup, x"),
    "throughput_frac": MetricDisplay("throughput kept, % of uncapped", 100.0),
    "power_cap_throughput_frac": MetricDisplay("throughput under the power cap, % of uncapped", 100.0),
    "ttft_mean_s": MetricDisplay("mean TTFT, ms", 1e3),
    "tpot_mean_s": MetricDisplay("mean TPOT, ms", 1e3),
    "flop_per_s": MetricDisplay("matmul rate, TFLOP/s", 1e-12),
    "mfu_frac": MetricDisplay("MFU, %", 100.0),
    "peak_memory_allocated_bytes": MetricDisplay("peak memory allocated, GiB", 1.0 / 2**30),
    "gpu_energy_per_output_token_j": MetricDisplay("GPU energy per output token, J"),
    "gpu_power_w": MetricDisplay("GPU power, W"),
    "node_power_w": MetricDisplay("node power, kW", 1e-3),
    "facility_power_w": MetricDisplay("facility power, MW", 1e-6),
    "gpu_hours": MetricDisplay("GPU-hours, h"),
    "publisher_tco2e": MetricDisplay("emissions as published, tCO2e"),
    "publisher_energy_mwh": MetricDisplay("energy as published, MWh"),
    "slo_p99_both_met": MetricDisplay("p99 SLOs met (1 = yes)"),
}


def metric_display(metric: str) -> MetricDisplay:
    """The display of `metric`; an unknown key (a user's case file) reads as itself, unscaled."""
    return _DISPLAY.get(metric, MetricDisplay(metric))


_KINDS = {
    "inference": "serving (one replica)",
    "serving_sim": "serving simulation",
    "training_step_time": "training step",
    "training_run": "training run",
    "matmul_throughput": "matmul kernel",
    "measured_device_power": "device power, measured",
    "power_cap_throughput": "throughput under a power limit",
    "serve_gpu_energy_per_token": "serving energy per token",
    "serve_gpu_power_per_gpu": "serving power per GPU",
    "node_expected_peak_power": "node peak power",
    "node_training_power": "node power in training",
    "site_training_power": "site power in training",
}


def kind_label(kind: str) -> str:
    """What a case kind (the runner that prices it) reads as; an unknown kind reads as itself."""
    return _KINDS.get(kind, kind)
