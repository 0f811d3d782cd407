"""Routed-expert GEMM times with FP8 block-scaled weights on a lent Hopper GPU (not in CI), at the per-GPU shapes of
Qwen3-235B-A22B and DeepSeek-V3/R1 under expert parallelism over 8 GPUs.

Run on a lent GPU machine:  python3 benchmarks/device/moe_fp8_kernels.py --out DIR   -> DIR/moe_fp8_kernels.json

Why: NVIDIA's FP8 checkpoints of these models (and DeepSeek's own) scale weights per 128 x 128 block and activations
per token per 128 channels; on Hopper the FP8 tensor-core products of each 128-deep K block are rescaled and summed
in FP32 registers (DeepGEMM's "promotion", vLLM's and SGLang's Triton fused-MoE `block_shape=[128, 128]` path).
costsim prices these GEMMs as FP8 weight streaming at the dense kernels' bandwidth fraction plus a fitted time per
routed pair; the Hopper rows of Qwen3-235B / DeepSeek R1 with EP8 still come out 34-61 % fast where decode dominates.
This measures what one such kernel achieves at decode-sized rows per expert.

What it times, per GEMM of one MoE layer on one GPU (gate+up: K = d, N = 2 x d_ff; down: K = d_ff, N = d), for R rows
per local expert over all E local experts (uniform routing):
1. `triton_fp8_block`: a batched Triton kernel, one program per (row block, column block, expert): FP8 e4m3 x FP8
   e4m3 `tl.dot` per 128-deep block, times the activation's per-row scale and the weight block's scale, summed in
   FP32; best of a few tiles and two weight layouts (N- or K-contiguous);
2. `cublas_bf16`: torch.bmm over the same experts in BF16 (the dense library at twice the bytes);
3. the byte floor: FP8 weights + scales once at the measured copy bandwidth.
Each variant is checked against a float32 reference on the dequantized operands first (fresh random inputs).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import torch

from moe_kernels import device_info, run_models, timed_s  # same folder: the scripts run as files

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - the device image has Triton
    triton = None

CUDA = torch.cuda.is_available()

#: (name, d_model, d_ff per expert, local experts at EP8): Qwen3-235B-A22B config.json (hidden 4096, moe_intermediate
#: 1536, 128 experts -> 16 per GPU); DeepSeek-V3 config.json (hidden 7168, moe_intermediate 2048, 256 routed experts
#: -> 32 per GPU)
MODELS = [("qwen3-235b-a22b-ep8", 4096, 1536, 16), ("deepseek-v3-ep8", 7168, 2048, 32)]
ROWS = [1, 4, 8, 16, 32, 64, 128, 256, 512]
#: (BLOCK_M, BLOCK_N, num_warps, num_stages); BLOCK_K is the 128-deep scale block
CONFIGS = [(16, 128, 4, 4), (32, 128, 4, 4), (64, 128, 4, 4), (128, 128, 8, 3)]
BLOCK = 128

if triton is not None:
    @triton.jit(do_not_specialize=["M"])
    def _moe_fp8_block(x_ptr, xs_ptr, w_ptr, ws_ptr, y_ptr, M, N, K,
                       sxe, sxm, sxk, sse, ssm, ssk, swe, swk, swn, twe, twk, twn, sye, sym, syn,
                       BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr):
        pid = tl.program_id(0)
        e = tl.program_id(1).to(tl.int64)
        num_n = tl.cdiv(N, BN)
        pm = pid // num_n
        pn = pid % num_n
        rm = pm * BM + tl.arange(0, BM)
        rn = pn * BN + tl.arange(0, BN)
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        for k0 in range(0, K, BK):
            rk = k0 + tl.arange(0, BK)
            a = tl.load(x_ptr + e * sxe + rm[:, None] * sxm + rk[None, :] * sxk, mask=rm[:, None] < M, other=0.0)
            b = tl.load(w_ptr + e * swe + rk[:, None] * swk + rn[None, :] * swn, mask=rn[None, :] < N, other=0.0)
            a_s = tl.load(xs_ptr + e * sse + rm * ssm + (k0 // BK) * ssk, mask=rm < M, other=0.0)
            b_s = tl.load(ws_ptr + e * twe + (k0 // BK) * twk + ((pn * BN) // BK) * twn)
            acc += tl.dot(a, b) * a_s[:, None] * b_s
        tl.store(y_ptr + e * sye + rm[:, None] * sym + rn[None, :] * syn, acc.to(y_ptr.dtype.element_ty),
                 mask=(rm[:, None] < M) & (rn[None, :] < N))


class Shape:
    """E local experts' weights of one GEMM: FP8 values [E, K, N] (two layouts), block scales [E, K/128, N/128]."""

    def __init__(self, k, n, n_experts, dev, fp8_dtype):
        self.k, self.n, self.e = k, n, n_experts
        g = torch.Generator(device=dev).manual_seed(k * 3 + n)
        w = torch.randn(n_experts, k, n, device=dev, generator=g, dtype=torch.float32)
        self.w8 = w.to(fp8_dtype)                      # [E, K, N], N contiguous
        self.w8_t = self.w8.transpose(1, 2).contiguous()  # [E, N, K], K contiguous
        self.ws = torch.rand(n_experts, k // BLOCK, math.ceil(n / BLOCK), device=dev, generator=g) * 1e-2 + 1e-3
        self.w16 = (self.w8.float() * self.ws.repeat_interleave(BLOCK, 1).repeat_interleave(BLOCK, 2)[:, :, :n]).to(torch.bfloat16)

    def run(self, layout, cfg, x8, xs, y):
        bm, bn, warps, stages = cfg
        m = x8.shape[1]
        grid = (triton.cdiv(m, bm) * triton.cdiv(self.n, bn), self.e)
        if layout == "n_contig":
            w, (swe, swk, swn) = self.w8, self.w8.stride()
        else:
            w = self.w8_t
            swe, swn, swk = w.stride()
        _moe_fp8_block[grid](x8, xs, w, self.ws, y, m, self.n, self.k, *x8.stride(), *xs.stride(), swe, swk, swn,
                             *self.ws.stride(), *y.stride(), BM=bm, BN=bn, BK=BLOCK, num_warps=warps, num_stages=stages)


def quantize_rows(x, fp8_dtype):
    """Per-row, per-128-channel scales (DeepSeek's activation quantization): x ~ x8 * scale."""
    e, m, k = x.shape
    blocks = x.view(e, m, k // BLOCK, BLOCK)
    scale = blocks.abs().amax(-1).clamp(min=1e-4) / 448.0
    x8 = (blocks / scale[..., None]).to(fp8_dtype).view(e, m, k)
    return x8, scale.contiguous()


def measure_model(name, d, dff, n_experts, dev, rows_list, configs, out, fp8_dtype, copy_bytes_per_s):
    for gemm, (k, n) in (("gate_up", (d, 2 * dff)), ("down", (dff, d))):
        sh = Shape(k, n, n_experts, dev, fp8_dtype)
        xa, xsa = quantize_rows(torch.randn(n_experts, 40, k, device=dev), fp8_dtype)
        ref = (xa.float() * xsa.repeat_interleave(BLOCK, 2)) @ sh.w16.float()
        checks, usable = {}, []
        for layout in ("n_contig", "k_contig"):
            for cfg in configs:
                y = torch.full((n_experts, 40, n), float("nan"), dtype=torch.bfloat16, device=dev)
                try:
                    sh.run(layout, cfg, xa, xsa, y)
                    torch.cuda.synchronize()
                    err = float((y.float() - ref).norm() / ref.norm())
                except Exception as exc:  # record, time the others
                    checks[f"{layout}/{cfg}"] = repr(exc)[:300]
                    print(name, gemm, layout, cfg, "FAILED", repr(exc)[:300], flush=True)
                    continue
                checks[f"{layout}/{cfg}"] = err
                if err < 2e-2:
                    usable.append((layout, cfg))
        print(name, gemm, "rel err", checks, flush=True)
        for rows in rows_list:
            x8, xs = quantize_rows(torch.randn(n_experts, rows, k, device=dev), fp8_dtype)
            y = torch.empty(n_experts, rows, n, dtype=torch.bfloat16, device=dev)
            x16 = torch.randn(n_experts, rows, k, device=dev, dtype=torch.bfloat16)
            fp8_bytes = n_experts * (k * n + 4 * (k // BLOCK) * math.ceil(n / BLOCK))
            rec = {"model": name, "gemm": gemm, "k": k, "n": n, "local_experts": n_experts, "rows_per_expert": rows,
                   "flop": 2.0 * n_experts * rows * k * n, "fp8_weight_bytes": fp8_bytes,
                   "fp8_floor_s": fp8_bytes / copy_bytes_per_s}
            best = None
            for layout, cfg in usable:
                if cfg[0] > 16 and cfg[0] >= 2 * max(rows, 16):
                    continue
                ts = timed_s(lambda i: sh.run(layout, cfg, x8, xs, y))
                if best is None or ts < best[0]:
                    best = (ts, layout, cfg)
            if best is not None:
                rec["triton_fp8_block_time_s"], rec["triton_fp8_block_best"] = best[0], f"{best[1]} {best[2]}"
            rec["cublas_bf16_time_s"] = timed_s(lambda i: torch.bmm(x16, sh.w16, out=y))
            out.append(rec)
            t8 = rec.get("triton_fp8_block_time_s", float("nan"))
            print(f"{name:20s} {gemm:7s} rows={rows:4d} fp8-block {1e6*t8:8.1f} us (floor {1e6*rec['fp8_floor_s']:7.1f}) "
                  f"cublas-bf16 {1e6*rec['cublas_bf16_time_s']:8.1f} us | fp8 {fp8_bytes/t8/1e12:5.2f} TB/s "
                  f"{rec['flop']/t8/1e12:6.1f} TF/s", flush=True)
        out.append({"model": name, "gemm": gemm, "rel_err": checks})
        torch.cuda.empty_cache()


def copy_bandwidth(dev) -> float:
    """Device-to-device copy of 1 GiB: bytes read + written per second."""
    src = torch.randint(0, 255, (2**30,), dtype=torch.uint8, device=dev)
    dst = torch.empty_like(src)
    return 2 * src.numel() / timed_s(lambda i: dst.copy_(src))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    args = ap.parse_args()
    if not CUDA or triton is None:
        print("needs a CUDA device and Triton", file=sys.stderr)
        sys.exit(1)
    dev = torch.device("cuda")
    copy_bytes_per_s = copy_bandwidth(dev)
    run_models(MODELS, lambda m, rows: measure_model(*m, dev, ROWS, CONFIGS, rows, torch.float8_e4m3fn, copy_bytes_per_s),
               device_info(dev, copy_bytes_per_s=copy_bytes_per_s), os.path.join(args.out, "moe_fp8_kernels.json"),
               __doc__)

if __name__ == "__main__":
    main()
