"""Configurations per second of the vectorized inference core.

Every catalog model x every catalog accelerator x batch 1..1024 (throughput-latency curves:
decode step + prefill + TTFT/TPOT/throughput per point), on one core. Writes
benchmarks/results/inference.json.

    .venv/bin/python benchmarks/bench_inference.py
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
import sys as _sys

_sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_info  # noqa: E402

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from costsim.core import inference as core  # noqa: E402
from costsim.core.serving_curve import serving_curve  # noqa: E402
from costsim.estimators.inference import device_from_accelerator, precision, shape_from_model  # noqa: E402
from costsim.specs.catalog import accelerators, models  # noqa: E402


def stack(objs):
    cls = type(objs[0])
    return cls(**{f: np.array([getattr(o, f) for o in objs], dtype=float) for f in cls.__dataclass_fields__})


def main() -> None:
    ms = list(models().values())
    accs = list(accelerators().values())
    batches = np.arange(1, 1025, dtype=float)
    shapes, devs, precs = [], [], []
    for m in ms:
        for a in accs:
            shapes.append(shape_from_model(m))
            devs.append(device_from_accelerator(a, "bf16")[0])
            precs.append(precision("bf16", None))
    n_pairs = len(shapes)
    # one row per (model, accelerator), one column per batch size
    S = stack(shapes)
    D = stack(devs)
    P = stack(precs)
    col = lambda obj: type(obj)(**{f: getattr(obj, f)[:, None] for f in obj.__dataclass_fields__})  # noqa: E731
    S, D, P = col(S), col(D), col(P)
    lay = core.Layout(tp=1, pp=1, ep=1)
    n_cfg = n_pairs * batches.size
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        curve = serving_curve(S, D, P, lay, batches[None, :], 1024.0, 256.0)
        mb = core.max_batch(S, D, P, lay, 1280.0, 8192.0)
        dt = time.perf_counter() - t0
        best = min(best, dt)
    assert curve["throughput_tokens_per_s"].shape == (n_pairs, batches.size)
    rate = n_cfg / best
    out = {
        "what": "throughput-latency curve points (decode step + batched prefill + single prefill + TTFT/TPOT/throughput) per second, one core",
        "models": len(ms), "accelerators": len(accs), "batch_sizes": int(batches.size),
        "configurations": int(n_cfg), "best_of_3_s": best, "configurations_per_s": rate,
        "target_configurations_per_s": 1e6, "meets_target": bool(rate >= 1e6),
        "feasible_pairs_tp1": int((mb[:, 0] >= 1).sum()),
        "machine_info": machine_info(),
    }
    print(json.dumps(out, indent=2))
    path = Path(__file__).resolve().parent / "results" / "inference.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
