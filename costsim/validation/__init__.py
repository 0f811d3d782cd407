"""Validation against published measurements.

Case files: costsim/validation/cases/*.yaml, each a list of cases:

    - id: K22-sel                      # unique
      kind: training_step_time         # which runner computes the prediction
      source: Korthikanti et al. 2022 (arXiv 2205.05198) Table 5
      inputs: {...}                    # whatever the runner needs
      metric: step_time_s
      expected: 1.10
      comparison: within               # within | at_least | at_most
      tolerance_frac: 0.15
      tolerance_reason: "..."          # why the tolerance is what it is
      used_for_fit: true               # was this case used to fit a parameter?
      known_gap: null                  # or the cause of a known miss (reported, does not fail)

Runners are registered by kind in `costsim.validation.runners`. Never widen a tolerance to pass.
"""

from costsim.validation.engine import Case, CaseResult, load_cases, run_cases

__all__ = ["Case", "CaseResult", "load_cases", "run_cases"]
