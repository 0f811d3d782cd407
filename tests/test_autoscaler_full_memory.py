"""A mixed serving replica whose next queued request has no KV room reads full to the autoscaler (as a decode replica
with KV queued for it does since the disaggregation audit): its blocks in use stop short of the capacity by less than a
request, so target_utilization 0.95 never grew the fleet however long the queue."""

from __future__ import annotations

from costsim.sim.serving import simulate_serving
from tests.test_serving_disagg_pools import _conserved, _sc


def test_a_full_mixed_replica_with_a_queue_grows_the_fleet_at_a_high_target():
    serving = {"arrivals": {"process": "poisson", "rate_per_s": 2.0}, "input_tokens": {"kind": "fixed", "mean": 2000},
               "output_tokens": {"kind": "fixed", "mean": 1500}, "scheduler": {"gpu_memory_utilization_frac": 0.25},
               "num_replicas": 1, "autoscaler": {"policy": "target_utilization", "target_utilization_frac": 0.95,
                                                 "interval_s": 10, "startup_delay_s": 20, "min_replicas": 1,
                                                 "max_replicas": 10}}
    s = simulate_serving(_sc(serving, 300.0), seed=0).summary
    _conserved(s)
    assert s["num_gpus_peak"] >= 4  # it stayed at 1-2 replicas (each reading ~0.9) while requests queued
