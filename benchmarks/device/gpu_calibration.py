"""One short, prepared GPU run that measures what the cost model's efficiency parameters stand for.

Run on a lent GPU machine (not in CI):  python3 benchmarks/device/gpu_calibration.py --out DIR
Writes DIR/gpu_calibration.json and prints a table. Needs PyTorch with CUDA. Everything is
random-initialized (no weights downloaded). Timed with CUDA events: warm-up first, median of repeats.

Measures
1. HBM bandwidth: device-to-device copy of a 4 GiB tensor (bytes read + bytes written).
2. Matmul throughput, bf16 (and fp8 via torch._scaled_mm where supported) over M (tokens) for
   weight shapes of Llama-like layers: how achieved TFLOP/s depends on the GEMM shape.
3. Decode step time of a Llama-3-8B-shaped decoder (32 layers, d 4096, 32 heads, 8 KV heads,
   d_ff 14336, vocab 128256), bf16, written out in plain PyTorch (RMSNorm, RoPE-free GQA attention
   over a static KV cache, SwiGLU), captured in a CUDA graph to remove Python launch overhead
   (as serving engines do), for batch x context grid; plus eager (no graph) at batch 1 to show
   the per-step overhead a framework adds.
4. Prefill time of the same model for prompt lengths (batch 1) and batches of 512-token prompts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F


CUDA = torch.cuda.is_available()


def timed_ms(fn, *, warmup=3, repeat=10):
    for _ in range(warmup):
        fn()
    if not CUDA:  # CPU dry run only
        ts = []
        for _ in range(repeat):
            t = time.perf_counter(); fn(); ts.append(1e3 * (time.perf_counter() - t))
        return statistics.median(ts)
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        s = torch.cuda.Event(enable_timing=True)
        e = torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    return statistics.median(times)


def measure_bandwidth(dev):
    n = (4 * 2**30 if CUDA else 2**24) // 2
    a = torch.randn(n, dtype=torch.bfloat16, device=dev)
    b = torch.empty_like(a)
    ms = timed_ms(lambda: b.copy_(a), warmup=3, repeat=20)
    nbytes = 2 * a.numel() * a.element_size()
    del a, b
    if CUDA:
        torch.cuda.empty_cache()
    return {"copy_bytes": nbytes, "time_s": ms / 1e3, "bytes_per_s": nbytes / (ms / 1e3)}


def measure_matmul(dev, small=False):
    out = []
    shapes_nk = [(4096, 4096), (14336, 4096), (4096, 14336), (8192, 8192), (28672 // 8, 8192), (8192, 28672 // 8), (6144, 16384)]
    ms_list = [1, 8, 32, 128, 512, 2048, 8192, 16384]
    if small:
        shapes_nk, ms_list = [(256, 256)], [1, 64]
    have_fp8 = CUDA and hasattr(torch, "_scaled_mm") and torch.cuda.get_device_capability(dev)[0] >= 9
    for n, k in shapes_nk:
        w = torch.randn(k, n, dtype=torch.bfloat16, device=dev) * 0.02
        for m in ms_list:
            x = torch.randn(m, k, dtype=torch.bfloat16, device=dev)
            t = timed_ms(lambda: x @ w, warmup=5, repeat=20) / 1e3
            flop = 2.0 * m * n * k
            rec = {"dtype": "bf16", "m": m, "n": n, "k": k, "time_s": t, "flop_per_s": flop / t,
                   "weight_bytes_per_s": (k * n * 2) / t}
            if have_fp8 and m % 16 == 0:
                try:
                    x8 = x.to(torch.float8_e4m3fn)
                    w8 = w.t().contiguous().to(torch.float8_e4m3fn).t()
                    one = torch.tensor(1.0, device=dev)
                    t8 = timed_ms(lambda: torch._scaled_mm(x8, w8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16), warmup=5, repeat=20) / 1e3
                    rec["fp8_time_s"] = t8
                    rec["fp8_flop_per_s"] = flop / t8
                except Exception as exc:  # record, don't die
                    rec["fp8_error"] = repr(exc)[:200]
            out.append(rec)
            del x
        del w
    if CUDA:
        torch.cuda.empty_cache()
    return out


class Decoder(torch.nn.Module):
    """Llama-shaped decoder in plain PyTorch with a static KV cache (random weights)."""

    def __init__(self, n_layers, d, n_heads, n_kv, d_ff, vocab, dev, dtype=torch.bfloat16):
        super().__init__()
        self.n_layers, self.d, self.h, self.kv, self.hd = n_layers, d, n_heads, n_kv, d // n_heads
        mk = lambda *s: (torch.randn(*s, device=dev, dtype=dtype) * 0.02)
        self.emb = mk(vocab, d)
        self.layers = []
        for _ in range(n_layers):
            self.layers.append({
                "wqkv": mk(d, (n_heads + 2 * n_kv) * self.hd), "wo": mk(n_heads * self.hd, d),
                "w13": mk(d, 2 * d_ff), "w2": mk(d_ff, d),
                "n1": torch.ones(d, device=dev, dtype=dtype), "n2": torch.ones(d, device=dev, dtype=dtype),
            })
        self.lm = mk(d, vocab)
        self.nf = torch.ones(d, device=dev, dtype=dtype)

    @staticmethod
    def rms(x, w):
        return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-5).to(x.dtype) * w

    def forward(self, tok, kcache, vcache, ctx):
        # tok: (B, T); kcache/vcache: (L, B, kv, Tmax, hd); attends over positions [0, ctx+T)
        B, T = tok.shape
        x = self.emb[tok]
        for i, p in enumerate(self.layers):
            h = self.rms(x, p["n1"])
            qkv = h @ p["wqkv"]
            q, k, v = qkv.split([self.h * self.hd, self.kv * self.hd, self.kv * self.hd], dim=-1)
            q = q.view(B, T, self.h, self.hd).transpose(1, 2)
            k = k.view(B, T, self.kv, self.hd).transpose(1, 2)
            v = v.view(B, T, self.kv, self.hd).transpose(1, 2)
            kcache[i, :, :, ctx:ctx + T] = k
            vcache[i, :, :, ctx:ctx + T] = v
            kk = kcache[i, :, :, :ctx + T]
            vv = vcache[i, :, :, :ctx + T]
            a = F.scaled_dot_product_attention(q, kk, vv, is_causal=(T > 1 and ctx == 0), enable_gqa=True)
            x = x + a.transpose(1, 2).reshape(B, T, -1) @ p["wo"]
            h = self.rms(x, p["n2"])
            g, u = (h @ p["w13"]).chunk(2, dim=-1)
            x = x + (F.silu(g) * u) @ p["w2"]
        return self.rms(x[:, -1], self.nf) @ self.lm


def measure_decoder(dev, small=False):
    if small:
        cfg = dict(n_layers=2, d=256, n_heads=4, n_kv=2, d_ff=512, vocab=1000)
        batches, ctxs, prompts, pbatches = [1, 4], [64], [32], [2]
    else:
        cfg = dict(n_layers=32, d=4096, n_heads=32, n_kv=8, d_ff=14336, vocab=128256)
        batches, ctxs, prompts, pbatches = [1, 8, 32, 64, 128, 256], [512, 2048], [128, 512, 2048, 8192], [4, 16]
    torch.manual_seed(0)
    m = Decoder(dev=dev, **cfg)
    L, kv, hd = cfg["n_layers"], cfg["n_kv"], cfg["d"] // cfg["n_heads"]
    weight_bytes = sum(t.numel() * t.element_size() for p in m.layers for t in p.values()) + m.lm.numel() * 2
    res = {"config": cfg, "weight_bytes": weight_bytes, "decode": [], "prefill": []}
    for ctx in ctxs:
        for B in batches:
            kc_bytes = 2 * L * B * kv * (ctx + 1) * hd * 2
            if CUDA and kc_bytes + weight_bytes > 0.85 * torch.cuda.get_device_properties(dev).total_memory:
                continue
            kc = torch.zeros(L, B, kv, ctx + 1, hd, device=dev, dtype=torch.bfloat16).normal_()
            vc = torch.zeros_like(kc).normal_()
            tok = torch.randint(0, cfg["vocab"], (B, 1), device=dev)
            with torch.inference_mode():
                step = lambda: m(tok, kc, vc, ctx)
                rec = {"batch": B, "context": ctx, "kv_bytes": 2 * L * B * kv * ctx * hd * 2}
                if B == 1 or small:
                    rec["eager_time_s"] = timed_ms(step, warmup=2, repeat=10) / 1e3
                try:
                    if not CUDA:
                        raise RuntimeError("no CUDA graphs on CPU")
                    s = torch.cuda.Stream()
                    s.wait_stream(torch.cuda.current_stream())
                    with torch.cuda.stream(s):
                        for _ in range(2):
                            step()
                    torch.cuda.current_stream().wait_stream(s)
                    g = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(g):
                        step()
                    rec["graph_time_s"] = timed_ms(g.replay, warmup=3, repeat=20) / 1e3
                    del g
                except Exception as exc:
                    rec["graph_error"] = repr(exc)[:200]
            res["decode"].append(rec)
            print("decode", rec, flush=True)
            del kc, vc
            if CUDA:
                torch.cuda.empty_cache()
    for T in prompts:
        for B in [1] + [b for b in pbatches if T == 512 or small]:
            kc = torch.zeros(L, B, kv, T, hd, device=dev, dtype=torch.bfloat16)
            vc = torch.zeros_like(kc)
            tok = torch.randint(0, cfg["vocab"], (B, T), device=dev)
            with torch.inference_mode():
                t = timed_ms(lambda: m(tok, kc, vc, 0), warmup=2, repeat=5) / 1e3
            rec = {"batch": B, "prompt_tokens": T, "time_s": t}
            res["prefill"].append(rec)
            print("prefill", rec, flush=True)
            del kc, vc
            if CUDA:
                torch.cuda.empty_cache()
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--small", action="store_true", help="tiny shapes (dry run)")
    args = ap.parse_args()
    if not CUDA and not args.small:
        print("no CUDA device (use --small for a CPU dry run)", file=sys.stderr)
        sys.exit(1)
    dev = torch.device("cuda" if CUDA else "cpu")
    t0 = time.time()
    info = {"torch": torch.__version__, "cuda": torch.version.cuda, "host": platform.node(),
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if CUDA:
        props = torch.cuda.get_device_properties(dev)
        info.update(device_name=torch.cuda.get_device_name(dev), capability=list(torch.cuda.get_device_capability(dev)),
                    total_memory_bytes=props.total_memory, sm_count=props.multi_processor_count)
    print(info, flush=True)
    result = {"info": info, "method": __doc__}
    result["bandwidth"] = measure_bandwidth(dev)
    print("bandwidth", result["bandwidth"], flush=True)
    result["matmul"] = measure_matmul(dev, small=args.small)
    result["decoder"] = measure_decoder(dev, small=args.small)
    result["wall_s"] = time.time() - t0
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "gpu_calibration.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nbandwidth {result['bandwidth']['bytes_per_s']/1e12:.2f} TB/s")
    for r in result["matmul"]:
        if r["n"] in (8192, 14336):
            print(f"mm m={r['m']:6d} n={r['n']:6d} k={r['k']:6d} bf16 {r['flop_per_s']/1e12:7.1f} TF/s  fp8 {r.get('fp8_flop_per_s', float('nan'))/1e12:7.1f}")
    for r in result["decoder"]["decode"]:
        print(f"decode B={r['batch']:4d} ctx={r['context']:5d} graph {1e3*r.get('graph_time_s', float('nan')):.2f} ms eager {1e3*r.get('eager_time_s', float('nan')):.2f} ms")
    for r in result["decoder"]["prefill"]:
        print(f"prefill B={r['batch']:3d} T={r['prompt_tokens']:5d} {1e3*r['time_s']:.1f} ms")
    print(f"wall {result['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
