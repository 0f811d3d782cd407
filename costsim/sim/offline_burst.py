"""An offline job in the serving simulation: N identical requests that all arrive at t = 0 on one replica (a trace
whose timestamps are all 0, replayed once), run by the replica's own continuous-batching scheduler with whole-prompt
prefills. The discrete-event counterpart of costsim.core.serving_paged.paged_finite_job (and of the waves model
where every request fits): the same job, priced block by block and request by request."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from costsim.sim.serving import simulate_serving
from costsim.specs.scenario import Scenario


@dataclass(frozen=True)
class BurstResult:
    """The simulated offline job."""

    makespan_s: float
    """First arrival to the last request's last token, s."""
    requests_completed: int
    """Requests that finished."""
    preemptions: int
    """Preemptions the scheduler made."""


def run_offline_burst(trace_dir: Path, *, model: str, hardware: str, engine: str, num_requests: int, input_tokens: int,
                      output_tokens: int, max_num_seqs: int, seed: int = 1) -> BurstResult:
    """Simulate `num_requests` requests of `input_tokens` / `output_tokens` queued at once on one replica (one GPU)
    admitting up to `max_num_seqs`; the trace file is written under `trace_dir`."""
    trace = Path(trace_dir) / "offline-burst.csv"
    trace.write_text("timestamp_s,input_tokens,output_tokens\n" + f"0.0,{input_tokens},{output_tokens}\n" * num_requests)
    sc = Scenario.model_validate({"name": "offline-burst", "simulation": {"duration_s": 1e6}, "serving": {
        "model": model, "hardware": hardware, "engine": engine,
        "arrivals": {"process": "trace", "trace_path": str(trace)},
        "input_tokens": {"kind": "fixed", "mean": input_tokens}, "output_tokens": {"kind": "fixed", "mean": output_tokens},
        "scheduler": {"max_num_seqs": max_num_seqs, "chunked_prefill": False,
                      "max_num_batched_tokens": max(8192, input_tokens * max_num_seqs)}}})
    run = simulate_serving(sc, seed=seed)
    rq = run.tables["requests"]
    end = np.asarray(rq["arrival_s"], dtype=float) + np.asarray(rq["e2e_s"], dtype=float)
    return BurstResult(makespan_s=float(np.max(end)) if end.size else 0.0,
                       requests_completed=int(run.summary["requests_completed"]),
                       preemptions=int(run.summary["preemptions"]))
