"""Validation runner for the serving DES (kind 'serving_sim').

Case inputs: scenario (file name under the repo's scenarios/ or a path), metric (a summary key of
`simulate_serving`, or 'slo_p99_both_met' = 1.0 when both p99 SLO verdicts hold), seed, and
optional duration_s to override the scenario's. Simulations are cached per (scenario, seed,
duration) so several metrics of one run cost one simulation.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from costsim.errors import InputError
from costsim.specs.catalog import find_scenario_file
from costsim.specs.base import load_yaml_file, validate_spec
from costsim.specs.scenario import Scenario
from costsim.validation.engine import Case

def _scenario_path(ref: str, folder: Path | None = None) -> Path:
    """The scenario a case names: next to the case file first, then the working directory and scenarios/."""
    if folder is not None and not Path(ref).is_absolute() and (folder / ref).is_file():
        return folder / ref
    found = find_scenario_file(ref)
    if found is not None:
        return found
    raise InputError(f"validation scenario '{ref}' not found (looked next to the case file, in the working directory and "
                     "in scenarios/).")


@lru_cache(maxsize=8)
def _summary(path: str, seed: int, duration_s: float | None) -> dict[str, Any]:
    from costsim.sim.serving import simulate_serving

    ref = path
    data = load_yaml_file(Path(path), what="scenario")
    data.pop("variants", None)
    if duration_s is not None:
        data.setdefault("simulation", {})["duration_s"] = duration_s
    sc = validate_spec(Scenario, data, what="scenario", source=ref)
    return simulate_serving(sc, seed=seed).summary


def run_serving_case(case: Case) -> float:
    i = case.inputs
    s = _summary(str(_scenario_path(str(i["scenario"]), case._folder)), int(i.get("seed", 0)), i.get("duration_s"))
    m = i.get("metric", case.metric)
    if m == "slo_p99_both_met":
        return 1.0 if (s.get("slo_ttft_p99_met") and s.get("slo_tpot_p99_met")) else 0.0
    if m not in s:
        raise InputError(f"serving summary has no metric '{m}'.")
    return float(s[m])


def register(RUNNERS) -> None:
    RUNNERS["serving_sim"] = run_serving_case
