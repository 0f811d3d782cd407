"""Parallel-layout search: every valid (tp, pp, cp, ep, dp, vp, micro_batch, recompute, zero) at
once with numpy, infeasible ones masked, fastest first. Dimensions the caller fixes stay fixed.

Validity rules (Megatron-LM conventions):
  tp | gpus, tp <= scale-up domain, n_heads % tp == 0, kv heads divisible by tp or tp by them,
     d_ff % tp == 0;
  pp | gpus/tp, pp <= n_layers; pp*vp <= n_layers (uneven stages allowed: the most loaded stage
     sets the pace); vp > 1 only with pp > 1 and a micro-batch count divisible by pp;
  cp a power of two with seq_len % (2*cp) == 0 (load-balanced causal chunks);
  dp = gpus / (tp*pp*cp) a whole number; ep | n_experts and ep | dp (experts sharded across the
     data-parallel ranks; 1 for dense models);
  global_batch % (dp*micro_batch) == 0 (when the batch is given; otherwise each layout rounds the
     target batch to a multiple of dp*micro_batch);
  memory per GPU <= device memory.
Ranking: tokens per second (fastest first).
"""

from __future__ import annotations

import time

import numpy as np

from costsim.core.training import Framework, HardwareShape, Layout, ModelShape, evaluate

MICRO_BATCHES = (1, 2, 4, 8, 16)
MAX_CP = 32
MAX_VP = 16
DIMS = ("tp", "pp", "cp", "ep", "vp", "micro_batch", "recompute", "zero")


def divisors(n: int) -> list[int]:
    n = int(n)
    small = [i for i in range(1, int(n**0.5) + 1) if n % i == 0]
    return sorted(set(small + [n // i for i in small]))


def candidate_values(m: ModelShape, gpus: int, seq_len: int, domain_size: int, fixed: dict) -> dict[str, np.ndarray]:
    """Per-dimension candidate lists (a fixed dimension has exactly its value)."""
    div = divisors(gpus)
    kv = m.kv_heads
    tp = [t for t in div if t <= domain_size and m.n_heads % t == 0 and (kv % t == 0 or t % kv == 0) and m.d_ff % t == 0]
    pp = [p for p in div if p <= m.n_layers]
    cp = [c for c in div if (c & (c - 1)) == 0 and c <= MAX_CP and (c == 1 or seq_len % (2 * c) == 0)]
    ep = [e for e in divisors(m.n_experts)] if m.n_experts > 1 else [1]
    vp = list(range(1, min(MAX_VP, m.n_layers) + 1))
    out = {"tp": tp, "pp": pp, "cp": cp, "ep": ep, "vp": vp, "micro_batch": list(MICRO_BATCHES),
           "recompute": [0, 1, 2], "zero": [0, 1, 2, 3]}
    for k, v in fixed.items():
        if v is not None and k in out:
            out[k] = [v]
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def enumerate_layouts(m: ModelShape, gpus: int, seq_len: int, global_batch: int | None, target_batch_tokens: float,
                      domain_size: int, fixed: dict, sequence_parallel: bool):
    """All combinations (flat arrays) and the structural-validity mask."""
    cand = candidate_values(m, gpus, seq_len, domain_size, fixed)
    n_enum = int(np.prod([cand[d].size for d in DIMS]))
    # stage 1: the small (tp, pp, cp, ep, vp) grid and its structural rules
    outer = ("tp", "pp", "cp", "ep", "vp")
    grids = np.meshgrid(*(cand[d] for d in outer), indexing="ij")
    o = {d: a.ravel() for d, a in zip(outer, grids)}
    dp = gpus / (o["tp"] * o["pp"] * o["cp"])
    ok = (dp == np.floor(dp)) & (dp >= 1)
    if fixed.get("dp") is not None:
        ok &= dp == fixed["dp"]
    ok &= o["pp"] * o["vp"] <= m.n_layers
    ok &= (o["vp"] == 1) | (o["pp"] > 1)
    ok &= np.mod(np.where(ok, dp, 1.0), o["ep"]) == 0
    keep = np.nonzero(ok)[0]
    o = {d: v[keep] for d, v in o.items()}
    o["dp"] = dp[keep]
    # stage 2: expand the survivors by (micro_batch, recompute, zero)
    inner = ("micro_batch", "recompute", "zero")
    ig = np.meshgrid(*(cand[d] for d in inner), indexing="ij")
    ii = {d: a.ravel() for d, a in zip(inner, ig)}
    n_o, n_i = keep.size, ii["zero"].size
    g = {d: np.repeat(v, n_i) for d, v in o.items()}
    g.update({d: np.tile(v, n_o) for d, v in ii.items()})
    dpi = g["dp"]
    per = dpi * g["micro_batch"]
    if global_batch is not None:
        gbs = np.full_like(per, float(global_batch))
        ok = np.mod(gbs, per) == 0
    else:
        gbs = np.maximum(1.0, np.round(target_batch_tokens / seq_len / per)) * per
        ok = np.ones(per.size, bool)
    mcount = gbs / per
    ok &= (g["vp"] == 1) | (np.mod(mcount, g["pp"]) == 0)
    idx = np.nonzero(ok)[0]
    lay = Layout(tp=g["tp"][idx], pp=g["pp"][idx], cp=g["cp"][idx], ep=g["ep"][idx], dp=dpi[idx], vp=g["vp"][idx],
                 micro_batch=g["micro_batch"][idx], recompute=g["recompute"][idx], zero=g["zero"][idx],
                 sequence_parallel=np.full(idx.size, 1.0 if sequence_parallel else 0.0),
                 seq_len=np.full(idx.size, float(seq_len)), global_batch=gbs[idx])
    return lay, n_enum


def search(m: ModelShape, hw: HardwareShape, gpus: int, seq_len: int, global_batch: int | None,
           target_batch_tokens: float, fixed: dict, sequence_parallel: bool = True, top_k: int = 5,
           framework: Framework | None = None) -> dict:
    """Enumerate, evaluate vectorized, mask, rank. Returns the arrays of the feasible layouts in
    ranked order (best first) plus counts, timing and, when nothing fits, why."""
    t0 = time.perf_counter()
    lay, n_enum = enumerate_layouts(m, gpus, seq_len, global_batch, target_batch_tokens, hw.domain_size, fixed, sequence_parallel)
    n_valid = lay.tp.size
    if n_valid == 0:
        return {"configs_enumerated": n_enum, "configs_evaluated": 0, "feasible_configs": 0,
                "search_time_s": time.perf_counter() - t0, "order": np.zeros(0, int), "layout": lay, "eval": None,
                "reason": "no parallel layout satisfies the divisibility rules for this model, GPU count, sequence length "
                          "and global batch (tp must divide the heads and fit one scale-up domain, dp = gpus/(tp*pp*cp) "
                          "must divide the global batch, fixed dimensions must be consistent)"}
    ev = evaluate(m, hw, lay, framework)
    fits = ev["fits_memory"]
    feas = np.nonzero(fits)[0]
    order = feas[np.argsort(-ev["tokens_per_s"][feas], kind="stable")]
    reason = None
    if order.size == 0:
        i = int(np.argmin(ev["memory_per_gpu_bytes"]))
        reason = (f"out of memory: the leanest of {n_valid} valid layouts (tp={int(lay.tp[i])}, pp={int(lay.pp[i])}, "
                  f"cp={int(lay.cp[i])}, dp={int(lay.dp[i])}, recompute={['none', 'selective', 'full'][int(lay.recompute[i])]}, "
                  f"zero={int(lay.zero[i])}) needs {ev['memory_per_gpu_bytes'][i] / 1e9:.1f} GB per GPU but the device has "
                  f"{hw.memory_bytes / 1e9:.1f} GB; use more GPUs, a larger-memory device or a smaller model")
    return {"configs_enumerated": n_enum, "configs_evaluated": n_valid, "feasible_configs": int(feas.size),
            "search_time_s": time.perf_counter() - t0, "order": order, "layout": lay, "eval": ev, "reason": reason}


def layout_row(lay: Layout, i: int) -> dict:
    return {"tp": int(lay.tp[i]), "pp": int(lay.pp[i]), "cp": int(lay.cp[i]), "ep": int(lay.ep[i]), "dp": int(lay.dp[i]),
            "vp": int(lay.vp[i]), "micro_batch": int(lay.micro_batch[i]),
            "recompute": ("none", "selective", "full")[int(lay.recompute[i])], "zero": int(lay.zero[i]),
            "global_batch": int(lay.global_batch[i])}
