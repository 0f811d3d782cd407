"""Routed-expert (MoE) GEMM times on a lent GPU: MXFP4 weights x BF16 activations on a part without
FP4 tensor cores (Hopper), against BF16 weights, at the shapes of gpt-oss and Qwen3-30B-A3B.

Run on a lent GPU machine (not in CI):  python3 benchmarks/device/moe_kernels.py --out DIR
Writes DIR/moe_kernels.json and prints a table. Needs PyTorch with CUDA and Triton >= 3.4
(tl.dot_scaled). Random-initialized tensors only; nothing downloaded.

Why: TensorRT-LLM serves gpt-oss on Hopper with Triton MoE kernels (triton_kernels' matmul_ogs)
that keep the experts in MXFP4 (e2m1 values, one e8m0 scale per 32) and upcast them to BF16 in
registers before the BF16 tensor-core product (Triton's `tl.dot_scaled` lowers so on parts
without FP4 MMA). No public measurement gives that kernel's rate at decode-sized batches, so the
cost model's "weight-only 4-bit at the BF16 kernels' efficiency" assumption is unchecked there.

What it times, per MoE layer GEMM (gate+up: K = d, N = 2 x d_ff; down: K = d_ff, N = d), for a
batch of T tokens routed top-k over E experts with uniform routing (min(E, T*k) experts touched,
ceil(T*k / touched) rows each):
1. `triton_mxfp4`: a batched Triton kernel, one program per (row block, column block, expert),
   weights packed e2m1 along K with e8m0 scales, `tl.dot_scaled(x, None, "bf16", w, s, "e2m1")`;
   best of a few tile configurations and two weight layouts (N- or K-contiguous).
2. `triton_bf16`: the same kernel with BF16 weights and `tl.dot` (same tiles).
3. `cublas_bf16`: torch.bmm over the touched experts' BF16 weights (cuBLAS batched GEMM).
The touched experts rotate between repeats so that small batches read weights from HBM, not L2.
Each kernel's output is checked against a float32 reference on dequantized weights first.
This is a plain batched kernel (no TMA, persistent scheduling or swizzled scale layout), so its
MXFP4 times bound matmul_ogs's from above; the BF16 pair shows how far it is from cuBLAS.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - the device image has Triton
    triton = None

CUDA = torch.cuda.is_available()

#: (name, d_model, d_ff per expert, experts, top-k): gpt-oss-120b and -20b config.json (hidden 2880,
#: intermediate 2880, 128 / 32 local experts, 4 per token); Qwen3-30B-A3B (hidden 2048, moe_intermediate 768,
#: 128 experts, 8 per token)
MODELS = [("gpt-oss-120b", 2880, 2880, 128, 4), ("qwen3-30b-a3b", 2048, 768, 128, 8)]
TOKENS = [1, 8, 32, 128, 256, 512, 1024, 2048, 4096, 8192]
#: (BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages)
CONFIGS = [(16, 128, 128, 4, 4), (32, 128, 128, 4, 4), (64, 128, 128, 4, 3), (128, 128, 128, 8, 3)]
#: kernel kinds and the weight layouts each is timed with
KINDS = (("triton_mxfp4", ("n_contig", "k_contig")), ("triton_mxfp4_upcast", ("n_contig", "k_contig")),
         ("triton_bf16", ("n_contig",)))
E2M1 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]

if triton is not None:
    @triton.jit(do_not_specialize=["M"])
    def _moe_gemm(x_ptr, w_ptr, s_ptr, y_ptr, eid_ptr, M, N, K,
                  sxe, sxm, sxk, swe, swk, swn, sse, ssn, ssk, sye, sym, syn,
                  BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, MX: tl.constexpr,
                  A_FMT: tl.constexpr, W_FMT: tl.constexpr, F32: tl.constexpr):
        pid = tl.program_id(0)
        g = tl.program_id(1)
        e = tl.load(eid_ptr + g).to(tl.int64)
        num_n = tl.cdiv(N, BN)
        pm = pid // num_n
        pn = pid % num_n
        rm = pm * BM + tl.arange(0, BM)
        rn = pn * BN + tl.arange(0, BN)
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        for k0 in range(0, K, BK):
            rk = k0 + tl.arange(0, BK)
            a = tl.load(x_ptr + g * sxe + rm[:, None] * sxm + rk[None, :] * sxk, mask=rm[:, None] < M, other=0.0)
            if MX:
                rkp = k0 // 2 + tl.arange(0, BK // 2)
                b = tl.load(w_ptr + e * swe + rkp[:, None] * swk + rn[None, :] * swn, mask=rn[None, :] < N, other=0)
                rs = k0 // 32 + tl.arange(0, BK // 32)
                sc = tl.load(s_ptr + e * sse + rn[:, None] * ssn + rs[None, :] * ssk, mask=rn[:, None] < N, other=127)
                if MX == 1:
                    acc = tl.dot_scaled(a, None, A_FMT, b, sc, W_FMT, acc)
                else:  # upcast written out: e2m1 nibbles -> bf16 bits, times 2^(scale - 127), BF16 MMA
                    lo = (b & 0xF).to(tl.int16)
                    hi = (b >> 4).to(tl.int16)
                    v = tl.reshape(tl.permute(tl.join(lo, hi), (0, 2, 1)), (BK, BN))  # row 2i low, 2i+1 high
                    ex = (v >> 1) & 3
                    mt = v & 1
                    bits = tl.where(ex == 0, mt * (126 << 7), ((ex + 126) << 7) | (mt << 6)) | ((v >> 3) << 15)
                    st = tl.trans(sc).to(tl.int16)  # [BK // 32, BN]
                    sv = tl.reshape(tl.broadcast_to(st[:, None, :], (BK // 32, 32, BN)), (BK, BN)) << 7
                    if F32:  # CPU interpreter check only (it has no bf16 arithmetic): the same bits as fp32
                        wv = (bits.to(tl.int32) << 16).to(tl.float32, bitcast=True)
                        wv = wv * (sv.to(tl.int32) << 16).to(tl.float32, bitcast=True)
                    else:
                        wv = bits.to(tl.bfloat16, bitcast=True) * sv.to(tl.bfloat16, bitcast=True)
                    acc = tl.dot(a, wv, acc)
            else:
                b = tl.load(w_ptr + e * swe + rk[:, None] * swk + rn[None, :] * swn, mask=rn[None, :] < N, other=0.0)
                acc = tl.dot(a, b, acc)
        ym = rm[:, None] < M
        tl.store(y_ptr + g * sye + rm[:, None] * sym + rn[None, :] * syn, acc.to(tl.bfloat16), mask=ym & (rn[None, :] < N))


def timed_s(fn, *, warmup=3, repeat=15):
    for i in range(warmup):
        fn(i)
    torch.cuda.synchronize()
    ts = []
    for i in range(repeat):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn(warmup + i)
        e.record()
        e.synchronize()
        ts.append(s.elapsed_time(e) / 1e3)
    return statistics.median(ts)


def dequant(packed_kn, scales_nk):
    """float32 [K, N] from e2m1 packed along K ([K//2, N], low nibble first) and e8m0 scales [N, K//32]."""
    lut = torch.tensor(E2M1 + [-v for v in E2M1], device=packed_kn.device)
    lo = lut[(packed_kn & 0xF).long()]
    hi = lut[(packed_kn >> 4).long()]
    w = torch.stack([lo, hi], dim=1).reshape(-1, packed_kn.shape[1])  # rows 2i (low), 2i+1 (high)
    sc = torch.exp2(scales_nk.float() - 127.0).t().repeat_interleave(32, dim=0)  # [K, N]
    return w * sc


class Shape:
    def __init__(self, k, n, n_experts, dev):
        self.k, self.n, self.e = k, n, n_experts
        self.f32 = False  # True only for the CPU interpreter check
        self.kp = 128 * math.ceil(k / 128)  # K padded to the tile (zero weights in the pad)
        g = torch.Generator(device=dev).manual_seed(k * 7 + n)
        self.packed = torch.randint(0, 256, (n_experts, self.kp // 2, n), dtype=torch.uint8, device=dev, generator=g)
        self.packed[:, k // 2:, :] = 0
        self.scales = torch.randint(118, 124, (n_experts, n, self.kp // 32), dtype=torch.uint8, device=dev, generator=g)
        self.packed_t = self.packed.transpose(1, 2).contiguous()  # [E, N, K//2]: K contiguous
        self.w16 = torch.empty((n_experts, self.kp, n), dtype=torch.bfloat16, device=dev)
        for i in range(n_experts):
            self.w16[i] = dequant(self.packed[i], self.scales[i]).to(torch.bfloat16)

    def run(self, kind, layout, cfg, x, y, eids):
        bm, bn, bk, warps, stages = cfg
        ea, m = x.shape[0], x.shape[1]
        grid = (triton.cdiv(m, bm) * triton.cdiv(self.n, bn), ea)
        if kind in ("triton_mxfp4", "triton_mxfp4_upcast"):
            w = self.packed if layout == "n_contig" else self.packed_t
            swe, swk, swn = (w.stride(0), w.stride(1), w.stride(2)) if layout == "n_contig" else (w.stride(0), w.stride(2), w.stride(1))
            s = self.scales
            _moe_gemm[grid](x, w, s, y, eids, m, self.n, self.kp, x.stride(0), x.stride(1), x.stride(2),
                            swe, swk, swn, s.stride(0), s.stride(1), s.stride(2), y.stride(0), y.stride(1), y.stride(2),
                            BM=bm, BN=bn, BK=bk, MX=1 if kind == "triton_mxfp4" else 2, A_FMT="bf16", W_FMT="e2m1", F32=self.f32, num_warps=warps, num_stages=stages)
        else:
            w = self.w16
            _moe_gemm[grid](x, w, w, y, eids, m, self.n, self.kp, x.stride(0), x.stride(1), x.stride(2),
                            w.stride(0), w.stride(1), w.stride(2), 0, 0, 0, y.stride(0), y.stride(1), y.stride(2),
                            BM=bm, BN=bn, BK=bk, MX=0, A_FMT="bf16", W_FMT="bf16", F32=self.f32, num_warps=warps, num_stages=stages)


def measure_model(name, d, dff, n_experts, topk, dev, tokens, configs, out):
    """Append one record per (GEMM, token count) and one correctness record per GEMM to `out`."""
    for gemm, (k, n) in (("gate_up", (d, 2 * dff)), ("down", (dff, d))):
        sh = Shape(k, n, n_experts, dev)
        # correctness on one small batch, every kernel variant, fresh random inputs
        xa = torch.randn(4, 40, sh.kp, dtype=torch.bfloat16, device=dev)
        xa[:, :, k:] = 0
        eids = torch.tensor([3, 0, n_experts - 1, 7], dtype=torch.int32, device=dev)
        ref = torch.stack([xa[i].float() @ sh.w16[int(e)].float() for i, e in enumerate(eids.tolist())])
        checks = {}
        usable = {}
        for kind, layouts in KINDS:
            for layout in layouts:
                for cfg in configs:
                    y = torch.full((4, 40, n), float("nan"), dtype=torch.bfloat16, device=dev)
                    try:
                        sh.run(kind, layout, cfg, xa, y, eids)
                        torch.cuda.synchronize()
                        err = float((y.float() - ref).norm() / ref.norm())
                    except Exception as exc:  # record, time the others
                        checks[f"{kind}/{layout}/{cfg}"] = repr(exc)[:300]
                        print(name, gemm, kind, layout, cfg, "FAILED", repr(exc)[:300], flush=True)
                        continue
                    checks[f"{kind}/{layout}/{cfg}"] = err
                    if err < 2e-2:  # bf16 operands, fp32 accumulation: ~4e-3; NaN fails too
                        usable.setdefault(kind, []).append((layout, cfg))
        print(name, gemm, "rel err", {k: v for k, v in checks.items() if not isinstance(v, float) or v > 1e-2} or "all < 1e-2",
              flush=True)
        for t in tokens:
            touched = min(n_experts, t * topk)
            rows = math.ceil(t * topk / touched)
            x = torch.randn(touched, rows, sh.kp, dtype=torch.bfloat16, device=dev)
            x[:, :, k:] = 0
            y = torch.empty(touched, rows, n, dtype=torch.bfloat16, device=dev)
            sets = max(1, n_experts // touched)
            eid_sets = [torch.arange(j * touched, (j + 1) * touched, dtype=torch.int32, device=dev) for j in range(sets)]
            rec = {"model": name, "gemm": gemm, "k": k, "n": n, "k_padded": sh.kp, "tokens": t, "topk": topk,
                   "experts": n_experts, "experts_touched": touched, "rows_per_expert": rows,
                   "flop": 2.0 * t * topk * k * n, "mxfp4_weight_bytes": touched * k * n * 4.25 / 8,
                   "bf16_weight_bytes": touched * k * n * 2.0}
            for kind, variants in usable.items():
                best = None
                for layout, cfg in variants:
                    if cfg[0] > 16 and cfg[0] >= 2 * max(rows, 16):
                        continue  # a tile far taller than the rows only wastes work
                    ts = timed_s(lambda i: sh.run(kind, layout, cfg, x, y, eid_sets[i % sets]))
                    if best is None or ts < best[0]:
                        best = (ts, layout, cfg)
                if best is not None:
                    rec[f"{kind}_time_s"] = best[0]
                    rec[f"{kind}_best"] = f"{best[1]} {best[2]}"
            def bmm(i):
                j = i % sets
                torch.bmm(x[:, :, :k], sh.w16[j * touched:(j + 1) * touched, :k, :], out=y)
            rec["cublas_bf16_time_s"] = timed_s(bmm)
            out.append(rec)
            us = lambda key: 1e6 * rec.get(key, float("nan"))
            t4 = min(rec.get("triton_mxfp4_time_s", math.inf), rec.get("triton_mxfp4_upcast_time_s", math.inf))
            print(f"{name:13s} {gemm:7s} T={t:5d} rows/e={rows:4d} mxfp4 {us('triton_mxfp4_time_s'):8.1f} "
                  f"upcast {us('triton_mxfp4_upcast_time_s'):8.1f} tri-bf16 {us('triton_bf16_time_s'):8.1f} "
                  f"cublas {us('cublas_bf16_time_s'):8.1f} us | best mxfp4 {rec['mxfp4_weight_bytes']/t4/1e12:5.2f} TB/s "
                  f"{rec['flop']/t4/1e12:6.1f} TF/s", flush=True)
        rec_checks = {"model": name, "gemm": gemm, "rel_err": checks}
        out.append(rec_checks)
        torch.cuda.empty_cache()


def device_info(dev, **extra) -> dict:
    """Versions, part and time of a run (printed and stored with its rows)."""
    info = {"torch": torch.__version__, "triton": triton.__version__, "cuda": torch.version.cuda,
            "device_name": torch.cuda.get_device_name(dev), "capability": list(torch.cuda.get_device_capability(dev)),
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}
    print(info, flush=True)
    return info


def run_models(models, measure, info: dict, out_path: str, method: str) -> None:
    """measure(model, rows) for each model; a model that fails is recorded and the others still run. The JSON is
    rewritten after each model, so a run stopped at its time limit keeps what it finished."""
    t0 = time.time()
    rows: list[dict] = []
    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    for model in models:
        try:
            measure(model, rows)
        except Exception as exc:  # record, keep the other models' rows
            rows.append({"model": model[0], "error": repr(exc)[:2000]})
            print(model[0], "ERROR", repr(exc)[:2000], flush=True)
        with open(out_path, "w") as f:
            json.dump({"info": info, "method": method, "rows": rows, "wall_s": time.time() - t0}, f, indent=1)
    print(f"wall {time.time() - t0:.0f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--quick", action="store_true", help="two token counts, one config (smoke run)")
    args = ap.parse_args()
    if not CUDA or triton is None:
        print("needs a CUDA device and Triton", file=sys.stderr)
        sys.exit(1)
    dev = torch.device("cuda")
    tokens = [8, 1024] if args.quick else TOKENS
    configs = CONFIGS[:1] if args.quick else CONFIGS
    run_models(MODELS, lambda m, rows: measure_model(*m, dev, tokens, configs, rows), device_info(dev),
               os.path.join(args.out, "moe_kernels.json"), __doc__)


if __name__ == "__main__":
    main()
