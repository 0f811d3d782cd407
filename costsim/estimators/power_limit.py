"""A part's power limit on its tensor throughput: where the profile gives the energy of one FP4 tensor-core FLOP
(efficiency.fp4_tensor_pj_per_flop; fitted for Blackwell), FP4 GEMMs run no faster than the power the limit leaves
above idle pays for, over each decode step and prompt pass (costsim.core.power.power_limit_stretch_s: the limiter
averages over many kernels). Serving only: training's FP4 rows (MLPerf Training v5.1 on B300 / GB300) agree within
14 % without it, and a cap on their GEMMs' rate makes them 21-39 % slow; its steps mix FP4 GEMMs with BF16 attention
and communication, which a step-level energy account of the training core would have to weigh (not built)."""

from __future__ import annotations

from costsim.specs.hardware import Accelerator


def tensor_power_parameters(acc: Accelerator, dtype: str) -> dict[str, float]:
    """core.Device.tensor_j_per_flop (J) and power_budget_w (W) for GEMMs in `dtype` on `acc`: the profile's FP4 tensor
    energy where it has one and the GEMMs run in FP4, the budget its TDP leaves above idle; zeros (no power bound)
    otherwise."""
    pj = acc.efficiency.fp4_tensor_pj_per_flop
    if dtype != "fp4" or pj is None:
        return {"tensor_j_per_flop": 0.0, "power_budget_w": 0.0}
    return {"tensor_j_per_flop": pj * 1e-12, "power_budget_w": max(acc.tdp_w - acc.idle_w, 0.0)}
