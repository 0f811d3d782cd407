"""costsim.uncertainty: uncertain inputs as distributions, quasi-random sampling designs and
variance-based sensitivity (numpy + scipy.stats; no simulation, no I/O).

- `sampling`: a scenario's `uncertainty:` distributions (costsim.specs.uncertainty) -> inverse
  CDFs, and sample designs: scrambled Sobol', Latin hypercube or random, plain or Saltelli (A, B,
  AB_i matrices for Sobol' indices).
- `sensitivity`: first-order and total Sobol' indices from a Saltelli design
  (scipy.stats.sobol_indices, Saltelli 2010 estimators, bootstrap intervals), exact indices of a
  full-factorial grid, P10/P50/P90 summaries, and the one-at-a-time tornado data (quick view).
"""
