"""Parallel-layout search: every valid (tp, pp, cp, ep, dp, vp, micro_batch, recompute, zero) at
once with numpy, infeasible ones masked, fastest first. Dimensions the caller fixes stay fixed.

Validity rules (Megatron-LM conventions):
  tp | gpus, tp <= scale-up domain, n_heads % tp == 0, kv heads divisible by tp or tp by them,
     d_ff % tp == 0;
  pp | gpus/tp, pp <= n_layers; vp <= ceil(n_layers/pp) (each virtual chunk holds a layer; uneven
     stages and chunks allowed: the most loaded stage and the largest chunk set the pace); vp > 1 only with pp > 1 and a micro-batch count divisible by pp;
  cp a power of two with seq_len % (2*cp) == 0 (load-balanced causal chunks);
  dp = gpus / (tp*pp*cp) a whole number; ep | n_experts and ep | dp (experts sharded across the
     data-parallel ranks; 1 for dense models); with MoE parallel folding (a stack with
     Framework.moe_parallel_folding; etp 0 means etp = tp): etp | tp and ep*etp | tp*cp*dp (the expert grid
     over the stage's ranks; searched: etp = tp and etp = 1); ep_overlap (Framework.moe_a2a_overlap) only with
     ep > 1 and not with full recomputation; act_offload (activations kept in host memory) where the stack has it,
     searched where Framework.activation_offload_searched;
  global_batch % (dp*micro_batch) == 0 (when the batch is given; otherwise each layout rounds the
     target batch to a multiple of dp*micro_batch and may move it at most DEFAULT_BATCH_SLACK_FRAC, so
     the batch bounds data parallelism as it does in practice);
  memory per GPU <= device memory.
Ranking: tokens per second (fastest first).
"""

from __future__ import annotations

import time

import numpy as np

from costsim.core.frameworks import DEFAULT_FRAMEWORK
from costsim.core.training import Framework, HardwareShape, Layout, ModelShape, evaluate
from costsim.core.training_shapes import resolve_etp

MICRO_BATCHES = (1, 2, 4, 8, 16, 32, 64)
MAX_CP = 32
MAX_VP = 16
DIMS = ("tp", "pp", "cp", "ep", "vp", "etp", "ep_overlap", "act_offload", "micro_batch", "recompute", "zero")


def divisors(n: int) -> list[int]:
    n = int(n)
    small = [i for i in range(1, int(n**0.5) + 1) if n % i == 0]
    return sorted(set(small + [n // i for i in small]))


def candidate_values(m: ModelShape, gpus: int, seq_len: int, domain_size: int, fixed: dict,
                     framework: Framework | None = None) -> dict[str, np.ndarray]:
    """Per-dimension candidate lists (a fixed dimension has exactly its value); recompute modes, ZeRO
    stages and virtual pipeline stages limited to what the framework offers."""
    fw = framework or DEFAULT_FRAMEWORK
    div = divisors(gpus)
    kv = m.kv_heads
    tp = [t for t in div if t <= domain_size and m.n_heads % t == 0 and (kv % t == 0 or t % kv == 0) and m.d_ff % t == 0]
    pp = [p for p in div if p <= m.n_layers]
    cp = [c for c in div if (c & (c - 1)) == 0 and c <= MAX_CP and (c == 1 or seq_len % (2 * c) == 0)]
    ep = [e for e in divisors(m.n_experts)] if m.n_experts > 1 else [1]
    vp = list(range(1, min(MAX_VP, m.n_layers) + 1)) if fw.interleaved_pipeline else [1]
    cp = cp if fw.context_parallel else [1]
    pp = pp if fw.pipeline_parallel else [1]
    ep = ep if fw.expert_parallel else [1]
    # expert tensor parallelism: 0 = tp; folding (etp 1 under tp > 1) where the stack has it
    etp = [0, 1] if m.n_experts > 1 and fw.expert_parallel and fw.moe_parallel_folding else [0]
    ep_overlap = [0, 1] if m.n_experts > 1 and fw.expert_parallel and fw.moe_a2a_overlap else [0]
    act_offload = [0, 1] if fw.activation_offload_searched else [0]
    out = {"tp": tp, "pp": pp, "cp": cp, "ep": ep, "vp": vp, "etp": etp, "ep_overlap": ep_overlap,
           "act_offload": act_offload, "micro_batch": list(MICRO_BATCHES),
           "recompute": list(fw.recompute_modes), "zero": list(fw.zero_stages)}
    for k, v in fixed.items():
        if v is not None and k in out:
            out[k] = [v]
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def _tp_ok(m: ModelShape, t: int) -> bool:
    kv = m.kv_heads
    return m.n_heads % t == 0 and (kv % t == 0 or t % kv == 0) and m.d_ff % t == 0


def _or_list(vals: list[int]) -> str:
    vals = [str(v) for v in vals]
    return vals[0] if len(vals) == 1 else ", ".join(vals[:-1]) + " or " + vals[-1]


def fixed_violations(m: ModelShape, gpus: int, seq_len: int, domain_size: int, fixed: dict,
                     framework: Framework | None = None) -> list[tuple[str, str]]:
    """The validity rules of `candidate_values` applied to the dimensions the caller fixes (a fixed
    value replaces the candidate list, so it must pass the same rules here). Returns (field, message)
    pairs naming the rule and values that would pass; empty when every fixed value is valid."""
    out: list[tuple[str, str]] = []
    fw = framework or DEFAULT_FRAMEWORK
    names = {0: "none", 1: "selective", 2: "full"}
    if fixed.get("recompute") is not None and not fw.supports("recompute", fixed["recompute"]):
        ok = [names[r] for r in fw.recompute_modes]
        out.append(("recompute", f"--recompute {names[int(fixed['recompute'])]} is not available in framework '{fw.name}'; "
                                 f"it offers {_or_list(ok)}."))
    if fixed.get("zero") is not None and not fw.supports("zero", fixed["zero"]):
        out.append(("zero", f"--zero {int(fixed['zero'])} is not available in framework '{fw.name}'; it offers "
                            f"{_or_list(list(fw.zero_stages))}."))
    if fixed.get("vp") is not None and not fw.supports("vp", fixed["vp"]):
        out.append(("vp", f"--vp {int(fixed['vp'])}: framework '{fw.name}' has no interleaved pipeline schedule; use 1."))
    if fixed.get("pp") is not None and not fw.supports("pp", fixed["pp"]):
        out.append(("pp", f"--pp {int(fixed['pp'])}: framework '{fw.name}' has no pipeline parallelism; use 1."))
    if fixed.get("cp") is not None and not fw.supports("cp", fixed["cp"]):
        out.append(("cp", f"--cp {int(fixed['cp'])}: framework '{fw.name}' has no context parallelism; use 1."))
    if fixed.get("ep") is not None and not fw.supports("ep", fixed["ep"]):
        out.append(("ep", f"--ep {int(fixed['ep'])}: framework '{fw.name}' has no expert parallelism; use 1."))
    div = divisors(gpus)
    tp = fixed.get("tp")
    if tp is not None:
        tp = int(tp)
        if tp > domain_size:
            ok = [t for t in div if t <= domain_size and _tp_ok(m, t)]
            out.append(("tp", f"--tp {tp}: tensor parallelism must fit one scale-up domain of {domain_size} devices "
                              f"(its all-reduces run every layer over the scale-up links); try {_or_list(ok or [1])}."))
        elif not _tp_ok(m, tp):
            ok = [t for t in div if t <= domain_size and _tp_ok(m, t)]
            out.append(("tp", f"--tp {tp} must divide the model's {m.n_heads} attention heads, its {m.kv_heads} KV heads "
                              f"(or be a multiple of them) and d_ff {m.d_ff}; try {_or_list(ok or [1])}."))
    pp = fixed.get("pp")
    if pp is not None and int(pp) > m.n_layers:
        ok = [p for p in div if p <= m.n_layers][-4:]
        out.append(("pp", f"--pp {int(pp)} exceeds the model's {m.n_layers} layers: every pipeline stage needs at least "
                          f"one layer; try {_or_list(ok)}."))
    etp = fixed.get("etp")
    if etp is not None and int(etp) > 0:
        if tp is not None and (tp % int(etp) != 0):
            out.append(("etp", f"--etp {int(etp)} must divide --tp {tp} (each expert is split over a subgroup of the "
                               f"tensor-parallel ranks); try {_or_list([e for e in divisors(tp)])}."))
        elif tp is not None and int(etp) != tp and not fw.supports("folding", True):
            out.append(("etp", f"--etp {int(etp)} below --tp {tp} is MoE parallel folding, which framework '{fw.name}' "
                               f"does not have; use --etp {tp} or the megatron-core-2024 stack."))
    if fixed.get("ep_overlap"):
        if not fw.supports("ep_overlap", True):
            out.append(("ep_overlap", f"--ep-overlap: framework '{fw.name}' cannot overlap the expert all-to-all with "
                                      "another micro-batch's compute; drop it or use the megatron-core-2024 stack."))
        elif fixed.get("ep") is not None and int(fixed["ep"]) <= 1:
            out.append(("ep_overlap", "--ep-overlap hides the expert-parallel all-to-all, which needs --ep above 1."))
        elif fixed.get("recompute") is not None and int(fixed["recompute"]) >= 2:
            out.append(("ep_overlap", "--ep-overlap does not run with full activation recomputation (Megatron-core "
                                      "refuses the pair); use --recompute selective or none."))
    if fixed.get("act_offload") and not fw.supports("act_offload", True):
        out.append(("activation_offload", f"--activation-offload: framework '{fw.name}' cannot keep activations in host "
                                          "memory; drop it, or use megatron-core-2024 (Transformer Engine CPU offloading) "
                                          "or xla-tpu (MaxText's offload remat policy)."))
    ep = fixed.get("ep")
    if ep is not None and int(ep) > 1 and all(fixed.get(k) is not None for k in ("tp", "pp", "cp")):
        t_, c_ = int(fixed["tp"]), int(fixed["cp"])
        dp = gpus / (t_ * int(fixed["pp"]) * c_)
        if etp is not None and int(etp) > 0:
            etps = [int(etp)]
        else:
            etps = [t_] + ([1] if fw.supports("folding", True) and t_ > 1 else [])

        def _fits(e: int) -> bool:
            return int(dp) % int(ep) == 0 if e == t_ else (t_ * c_ * int(dp)) % (int(ep) * e) == 0
        if dp == int(dp) and not any(_fits(e) for e in etps):
            ok = [e for e in divisors(int(dp)) if e <= int(ep)][-3:]
            if etps == [t_]:
                folding = fw.supports("folding", True)
                why_not = "" if folding else f" (framework {fw.name!r} has no MoE parallel folding)"
                also = (", or --etp 1 (MoE parallel folding: expert parallelism across the tensor-parallel ranks)."
                        if folding and t_ > 1 else ".")
                out.append(("ep", f"--ep {int(ep)} must divide the data-parallel size dp = gpus / (tp x pp x cp) = {int(dp)} "
                                  "when each expert is split over all tensor-parallel ranks (expert tensor parallelism = "
                                  f"tp){why_not}. Try --ep {_or_list(ok or [1])}, --tp 1{also}"))
            else:
                out.append(("ep", f"--ep {int(ep)} does not fit the stage's {t_ * c_ * int(dp)} ranks (tp x cp x dp) with "
                                  f"expert tensor parallelism {_or_list([str(e) for e in etps])}: ep x etp must divide "
                                  f"tp x cp x dp and, with etp = tp, ep must divide dp = {int(dp)}. Try --ep "
                                  f"{_or_list(ok or [1])}."))
    cp = fixed.get("cp")
    if cp is not None and int(cp) > 1:
        c = int(cp)
        if (c & (c - 1)) != 0 or seq_len % (2 * c) != 0:
            ok = [x for x in div if (x & (x - 1)) == 0 and (x == 1 or seq_len % (2 * x) == 0)][-4:]
            out.append(("cp", f"--cp {c}: context parallelism must be a power of two that divides seq_len/2 = "
                              f"{seq_len / 2:g} (load-balanced causal chunks, two per rank); try {_or_list(ok)}."))
    return out


class FlatView(dict):
    """Read-only dict of arrays evaluated on a broadcast grid, flattened to the valid layouts on
    first access (the search itself reads only two keys; the rest is materialized on demand)."""

    def __init__(self, src: dict, shape: tuple, idx: np.ndarray):
        super().__init__()
        self._src, self._shape, self._idx = src, shape, idx

    def _flat(self, v):
        if isinstance(v, dict):
            return FlatView(v, self._shape, self._idx)
        return np.broadcast_to(np.asarray(v, dtype=float) if not isinstance(v, np.ndarray) else v,
                               self._shape).reshape(-1)[self._idx] if np.ndim(v) else np.full(self._idx.size, float(v))

    def __getitem__(self, k):
        if not dict.__contains__(self, k):
            dict.__setitem__(self, k, self._flat(self._src[k]))
        return dict.__getitem__(self, k)

    def __contains__(self, k):
        return k in self._src

    def __iter__(self):
        return iter(self._src)

    def __len__(self):
        return len(self._src)

    def keys(self):
        return self._src.keys()

    def items(self):
        return [(k, self[k]) for k in self._src]

    def values(self):
        return [self[k] for k in self._src]

    def get(self, k, default=None):
        return self[k] if k in self._src else default


DEFAULT_BATCH_SLACK_FRAC = 0.25  # default batch may move at most 25% to fit dp*micro_batch


def enumerate_layouts(m: ModelShape, gpus: int, seq_len: int, global_batch: int | None, target_batch_tokens: float,
                      domain_size: int, fixed: dict, sequence_parallel: bool, framework: Framework | None = None):
    """All combinations as a broadcast grid (outer (tp, pp, cp, ep, vp) survivors x micro_batch x
    recompute x zero), the structural-validity mask on that grid and the enumerated count."""
    cand = candidate_values(m, gpus, seq_len, domain_size, fixed, framework)
    sequence_parallel = sequence_parallel and (framework or DEFAULT_FRAMEWORK).sequence_parallel
    n_enum = int(np.prod([cand[d].size for d in DIMS]))
    # stage 1: the small (tp, pp, cp, ep, vp) grid and its structural rules (prefilter)
    outer = ("tp", "pp", "cp", "ep", "vp", "etp", "ep_overlap", "act_offload")
    grids = np.meshgrid(*(cand[d] for d in outer), indexing="ij")
    o = {d: a.ravel() for d, a in zip(outer, grids)}
    dp = gpus / (o["tp"] * o["pp"] * o["cp"])
    ok = (dp == np.floor(dp)) & (dp >= 1)
    if fixed.get("dp") is not None:
        ok &= dp == fixed["dp"]
    ok &= o["vp"] <= np.ceil(m.n_layers / o["pp"])  # every virtual chunk holds a layer
    ok &= (o["vp"] == 1) | (o["pp"] > 1)
    etp = resolve_etp(o["etp"], o["tp"])
    folded = etp != o["tp"]
    dps = np.where(ok, dp, 1.0)
    ok &= np.where(folded, (np.mod(o["tp"], etp) == 0) & (np.mod(o["tp"] * o["cp"] * dps, o["ep"] * etp) == 0),
                   np.mod(dps, o["ep"]) == 0)
    if 0.0 in cand["etp"]:  # an explicit etp equal to tp repeats the etp = tp (0) layouts
        ok &= (o["etp"] == 0) | folded
    ok &= (o["ep_overlap"] == 0) | (o["ep"] > 1)  # nothing to overlap without expert parallelism
    # micro-batch divisibility against the outer dp, before building the big grid
    mbs = cand["micro_batch"]
    if global_batch is not None:
        per_any = (global_batch % (dp[:, None] * mbs[None, :]) == 0)
        ok &= per_any.any(axis=1)
    keep = np.nonzero(ok)[0]
    n_o = keep.size
    o = {d: v[keep].reshape(n_o, 1, 1, 1) for d, v in o.items()}
    o["dp"] = dp[keep].reshape(n_o, 1, 1, 1)
    mb = mbs.reshape(1, -1, 1, 1)
    rc = cand["recompute"].reshape(1, 1, -1, 1)
    zr = cand["zero"].reshape(1, 1, 1, -1)
    shape = (n_o, mb.size, rc.size, zr.size)
    per = o["dp"] * mb
    if global_batch is not None:
        gbs = np.full(per.shape, float(global_batch))
        valid = np.mod(gbs, per) == 0
    else:
        # no batch given: about target_batch_tokens per step, rounded to a multiple of dp*micro_batch;
        # a layout whose dp*micro_batch would push the batch more than DEFAULT_BATCH_SLACK_FRAC away
        # from the target is excluded (the batch, not the GPU count, bounds data parallelism)
        b0 = max(1.0, target_batch_tokens / seq_len)
        gbs = np.maximum(1.0, np.round(b0 / per)) * per
        valid = np.abs(gbs - b0) <= DEFAULT_BATCH_SLACK_FRAC * b0 + 0.5
    mcount = gbs / per
    valid &= (o["vp"] == 1) | (np.mod(mcount, o["pp"]) == 0)
    if np.any(o["ep_overlap"] > 0):  # the all-to-all overlap does not run with full recompute
        valid = valid & ((o["ep_overlap"] == 0) | (rc < 2))
    valid = np.broadcast_to(valid, shape)
    lay = Layout(tp=o["tp"], pp=o["pp"], cp=o["cp"], ep=o["ep"], dp=o["dp"], vp=o["vp"], micro_batch=mb,
                 recompute=rc, zero=zr, sequence_parallel=np.float64(1.0 if sequence_parallel else 0.0),
                 seq_len=np.float64(seq_len), global_batch=gbs, etp=o["etp"], ep_overlap=o["ep_overlap"],
                 act_offload=o["act_offload"], recompute_layers=np.float64(fixed.get("recompute_layers") or 0.0))
    return lay, valid, n_enum


def flat_layout(lay: Layout, shape: tuple, idx: np.ndarray) -> Layout:
    return Layout(**{k: np.broadcast_to(getattr(lay, k), shape).reshape(-1)[idx] for k in lay.__dataclass_fields__})


#: the request's layout fields a reason names (their CLI flags), in the order a reader sets them
FIXED_FLAGS = ("tp", "pp", "cp", "ep", "etp", "dp", "vp", "micro_batch")


def _fixed_text(fixed: dict) -> str:
    """'; fixed in this request: --vp 1000, --micro-batch 4 (each must fit the rules above; drop one to let the
    search choose it)', or '' when the request fixes none of the layout's sizes."""
    given = [f"--{k.replace('_', '-')} {int(fixed[k])}" for k in FIXED_FLAGS if fixed.get(k) is not None]
    return (f"; fixed in this request: {', '.join(given)} (each must fit the rules above; drop one to let the search "
            "choose it)") if given else ""


def search(m: ModelShape, hw: HardwareShape, gpus: int, seq_len: int, global_batch: int | None,
           target_batch_tokens: float, fixed: dict, sequence_parallel: bool = True, top_k: int = 5,
           framework: Framework | None = None) -> dict:
    """Enumerate, evaluate vectorized (each term at the size of the dimensions it depends on,
    broadcast only at the end), mask, rank. Returns the arrays of the valid layouts (flat) with
    the feasible ones in ranked order (best first) plus counts, timing and, when nothing fits, why."""
    t0 = time.perf_counter()
    glay, valid, n_enum = enumerate_layouts(m, gpus, seq_len, global_batch, target_batch_tokens, hw.domain_size, fixed,
                                            sequence_parallel, framework)
    shape = valid.shape
    idx = np.flatnonzero(valid)
    n_valid = idx.size
    if n_valid == 0:
        empty = Layout(**{k: np.zeros(0) for k in Layout.__dataclass_fields__})
        return {"configs_enumerated": n_enum, "configs_evaluated": 0, "feasible_configs": 0,
                "search_time_s": time.perf_counter() - t0, "order": np.zeros(0, int), "layout": empty, "eval": None,
                "reason": "no parallel layout satisfies the divisibility rules for this model, GPU count, sequence length "
                          "and global batch (tp must divide the heads and fit one scale-up domain, dp = gpus/(tp*pp*cp) "
                          "must divide the global batch, fixed dimensions must be consistent)"
                          + ("" if global_batch is not None else
                             f"; with no batch given the default is about {target_batch_tokens:.3g} tokens per step, "
                             "which bounds data parallelism: give a larger --global-batch-tokens for this many GPUs")
                          + _fixed_text(fixed)}
    ev_grid = evaluate(m, hw, glay, framework)
    ev = FlatView(ev_grid, shape, idx)
    fits = ev["fits_memory"] > 0
    feas = np.nonzero(fits)[0]
    order = feas[np.argsort(-ev["tokens_per_s"][feas], kind="stable")]
    lay = flat_layout(glay, shape, idx)
    reason = None
    if order.size == 0:
        i = int(np.argmin(ev["memory_per_gpu_bytes"]))
        row = layout_row(lay, i)
        off = row["activation_offload"]
        reason = (f"out of memory: the leanest of {n_valid} valid layouts (tp={row['tp']}, pp={row['pp']}, "
                  f"cp={row['cp']}, dp={row['dp']}, recompute={row['recompute']}, "
                  f"zero={row['zero']}{', activation offload' if off else ''}) needs {ev['memory_per_gpu_bytes'][i] / 1e9:.1f} GB per GPU ({_memory_parts_text(ev, i)}) "
                  f"but the device has {hw.memory_bytes / 1e9:.1f} GB; use more GPUs, a larger-memory device or a smaller model"
                  + ("" if off or not (framework or DEFAULT_FRAMEWORK).activation_offload else
                     ", or keep the saved activations in host memory (--activation-offload)"))
    return {"configs_enumerated": n_enum, "configs_evaluated": int(n_valid), "feasible_configs": int(feas.size),
            "configs_computed": int(np.prod(shape)),
            "search_time_s": time.perf_counter() - t0, "order": order, "layout": lay, "eval": ev, "reason": reason}


def _memory_parts_text(ev, i: int) -> str:
    """'weights 17.6 GB, gradients 17.6 GB, ...': the parts of layout i's memory per GPU that are not zero."""
    parts = (("weights", "weights_bytes"), ("gradients", "gradients_bytes"), ("optimizer", "optimizer_bytes"),
             ("activations", "activations_bytes"), ("logits", "logits_bytes"), ("gathered ZeRO-3 weights", "zero3_gathered_bytes"),
             ("runtime reserve", "reserve_bytes"))
    mem = ev["memory"]
    vals = ((name, float(mem[key][i])) for name, key in parts)
    return ", ".join(f"{name} {v / 1e9:.1f} GB" for name, v in vals if v >= 0.05e9)


# layout keys that only mean something with expert parallelism (readers' tables leave them out otherwise)
MOE_ONLY_LAYOUT_KEYS = ("etp", "ep_overlap")


def layout_row(lay: Layout, i: int) -> dict:
    def at(v):  # the i-th value of a flat layout field, or its scalar default
        return float(np.broadcast_to(v, np.shape(lay.tp))[i])
    return {"tp": int(lay.tp[i]), "pp": int(lay.pp[i]), "cp": int(lay.cp[i]), "ep": int(lay.ep[i]),
            "etp": int(at(resolve_etp(lay.etp, lay.tp))), "ep_overlap": at(lay.ep_overlap) > 0, "dp": int(lay.dp[i]),
            "activation_offload": at(lay.act_offload) > 0,
            "vp": int(lay.vp[i]), "micro_batch": int(lay.micro_batch[i]),
            "recompute": ("none", "selective", "full")[int(lay.recompute[i])], "zero": int(lay.zero[i]),
            "global_batch": int(lay.global_batch[i]),
            **({"recompute_layers": int(at(lay.recompute_layers))}
               if at(lay.recompute_layers) > 0 and int(lay.recompute[i]) == 2 else {})}
