"""Facility, grid, battery and hourly signals.

facility: IT power (devices + host + cluster fabric), PUE (constant or load/temperature), water.
grid: import cap and curtailment windows, per-GPU power cap from a site cap.
battery: dispatch policies (peak shaving, smoothing, arbitrage) over a power time series.
signals: hourly price and carbon (`Signal.at(t)`), region CSVs.
"""
