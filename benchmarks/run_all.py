"""Run every benchmark script (benchmarks/bench_*.py) and print the headline numbers.

    make bench        (or: .venv/bin/python benchmarks/run_all.py [name ...])

Each script writes benchmarks/results/<name>.json; this runner prints them side by side.
Benchmarks measure speed; tests never assert wall time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(a in s.stem for a in argv)]
    rc = 0
    for s in scripts:
        t0 = time.perf_counter()
        print(f"== {s.name}", flush=True)
        r = subprocess.run([sys.executable, str(s)], cwd=HERE.parent)
        print(f"   ({time.perf_counter() - t0:.1f} s, exit {r.returncode})", flush=True)
        rc |= r.returncode
    print("\n== results")
    for f in sorted((HERE / "results").glob("*.json")):
        try:
            d = json.loads(f.read_text())
        except json.JSONDecodeError:
            continue
        flat = {k: v for k, v in d.items() if isinstance(v, (int, float, str))} if isinstance(d, dict) else {}
        print(f"{f.stem}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in list(flat.items())[:8]))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
