"""Measured GPU board power per phase on a lent GPU (not in CI). Leaves the card's settings alone.

python3 benchmarks/device/gpu_power.py --out DIR  -> DIR/gpu_power.json

Phases, each held ~8 s while nvidia-smi samples power.draw and SM clock every 100 ms:
  idle (context created, nothing running), bf16 matmul 8192^3 back-to-back (compute-bound),
  fp8 matmul 8192^3, HBM copy of 4 GiB back-to-back (memory-bound streaming),
  decode-like weight streaming GEMV (m=1..64 x 8192x28672 weights, memory-bound),
  'communication-like' wait (tiny kernels with sleeps: the GPU waiting on the network).
Reports median and p90 power per phase, achieved FLOP/s or bytes/s per phase.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time

import torch


SAMPLES = []


def sampler(path, stop):
    p = subprocess.Popen(["nvidia-smi", "--query-gpu=power.draw,clocks.sm,temperature.gpu", "--format=csv,noheader,nounits", "-lms", "100"],
                         stdout=subprocess.PIPE, text=True)
    for line in p.stdout:
        try:
            pw, clk, temp = (float(v) for v in line.split(","))
            SAMPLES.append((time.time(), pw, clk, temp))
        except ValueError:
            pass
        if stop.is_set():
            break
    p.terminate()
    p.wait()


def run_phase(name, fn, seconds, log):
    torch.cuda.synchronize()
    t0 = time.time()
    n = 0
    while time.time() - t0 < seconds:
        fn()
        n += 1
        if n % 10 == 0:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    t1 = time.time()
    log.append({"phase": name, "t_start": t0, "t_end": t1, "iterations": n})
    time.sleep(1.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--seconds", type=float, default=8.0)
    a = ap.parse_args()
    dev = torch.device("cuda")
    logf = tempfile.mktemp()
    stop = threading.Event()
    th = threading.Thread(target=sampler, args=(logf, stop))
    th.start()
    time.sleep(1.0)
    phases = []
    S = a.seconds
    x = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    w = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    time.sleep(S / 2)
    phases.append({"phase": "idle", "t_start": time.time() - S / 2, "t_end": time.time(), "iterations": 0})
    run_phase("bf16_matmul_8192", lambda: x @ w, S, phases)
    x8, w8 = x.to(torch.float8_e4m3fn), w.t().contiguous().to(torch.float8_e4m3fn).t()
    one = torch.tensor(1.0, device=dev)
    run_phase("fp8_matmul_8192", lambda: torch._scaled_mm(x8, w8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16), S, phases)
    big = torch.randn(2**31 // 2, device=dev, dtype=torch.bfloat16)
    big2 = torch.empty_like(big)
    run_phase("hbm_copy_4GiB", lambda: big2.copy_(big), S, phases)
    del big, big2
    W = torch.randn(8192, 28672, device=dev, dtype=torch.bfloat16)
    for m in (1, 64, 512):
        v = torch.randn(m, 8192, device=dev, dtype=torch.bfloat16)
        run_phase(f"gemv_weight_stream_m{m}", lambda: v @ W, S, phases)
    small = torch.randn(1024, device=dev)

    def wait_like():
        small.add_(1.0)
        torch.cuda.synchronize()
        time.sleep(0.002)

    run_phase("wait_like", wait_like, S, phases)
    time.sleep(0.5)
    stop.set()
    th.join()
    samples = list(SAMPLES)
    res = {"info": {"device": torch.cuda.get_device_name(dev), "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
           "method": __doc__, "phases": []}
    off = 0.0
    for ph in phases:
        lo, hi = ph["t_start"] + 1.5, ph["t_end"]
        sel = [s for s in samples if lo <= s[0] + off <= hi]
        pw = [s[1] for s in sel]
        clk = [s[2] for s in sel]
        rec = dict(ph)
        if pw:
            rec.update(power_w_median=statistics.median(pw), power_w_p90=sorted(pw)[int(0.9 * (len(pw) - 1))],
                       sm_clock_mhz_median=statistics.median(clk), n_samples=len(pw))
        res["phases"].append(rec)
        print(f"{ph['phase']:28s} n={rec.get('n_samples', 0):3d} power {rec.get('power_w_median', float('nan')):6.1f} W (p90 {rec.get('power_w_p90', float('nan')):6.1f}) clock {rec.get('sm_clock_mhz_median', float('nan')):6.0f} MHz iters {ph['iterations']}")
    os.makedirs(a.out, exist_ok=True)
    json.dump(res, open(os.path.join(a.out, "gpu_power.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
