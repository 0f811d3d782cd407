"""Batched core-mode sweeps: points that differ only in numbers the cores broadcast are one group,
validated once and evaluated in one call of the batched estimators (struct of arrays).

Which overrides broadcast (`broadcast_parts`): training.tokens and the numeric facility / economics fields
(costsim.economics.batch.VARIABLE_FIELDS). Every other override (model, hardware, GPU count,
precision, layout, sequence length, seeds of the simulation, ...) is part of the group key:
points with the same variant and the same values of those overrides form one group. So a grid of
10 GPU counts x 100 token budgets x 1,000 prices is 10 groups of 100,000 points.

Per group: the scenario of its first point is validated once (pydantic); the broadcast values of
every point are checked against their fields' bounds at once (costsim.specs.vector_check). A point
that fails the check, and every point of a group whose first point does not validate, runs the
per-point path (costsim.sweep.points.evaluate_point), so its id, row and error text are exactly
what a per-point sweep stores.

Point ids keep their definition (costsim.sweep.points.point_id): the canonical JSON of the
validated point is the group's JSON with each broadcast value written in its slot, hashed per
point (`IdTemplate`); tests/test_sweep_batched.py checks them against build_tasks. Rows hold the
same columns as per-point rows (the batched estimates are flattened the same way) plus, for an
uncertainty design, sample_index and sample_block. `wall_s` of a batched row is the group's
evaluation time divided by its points. The worker side (evaluate_group) is costsim.sweep.batched_eval.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from costsim.economics.batch import NO_EFFECT_FIELDS, VARIABLE_FIELDS
from costsim.errors import InputError
from costsim.specs.overrides import apply_overrides, set_path, split_path
from costsim.specs.scenario import Scenario, scenario_hash
from costsim.specs.vector_check import field_rule, invalid_mask
from costsim.sweep.points import (
    RandomSpec,
    _file_hashes,
    is_integer_field,
    point_doc,
    random_columns,
)

SITE_PATHS = tuple(VARIABLE_FIELDS) + tuple(NO_EFFECT_FIELDS)
DEFAULT_CHUNK_POINTS = 100_000
_HEX = np.array([ord(c) for c in "0123456789abcdef"], dtype=np.uint8)


def broadcast_parts(path: str, scenario: Scenario) -> dict[str, str] | None:
    """{part: request key} when the override broadcasts in core mode, else None (a group key)."""
    norm = ".".join(str(p) for p in split_path(path))
    parts = [p for p in ("training", "serving") if getattr(scenario, p) is not None]
    if norm == "training.tokens" and scenario.training is not None:
        return {"training": "tokens"}
    if norm in SITE_PATHS:
        return {p: norm for p in parts}
    return None


@functools.lru_cache(maxsize=256)
def _owner_rule(path: str):
    """The bound rule of the scenario field a path names (None when unknown)."""
    from costsim.specs.overrides import check_path

    parts = split_path(path)
    if len(parts) < 2:
        return None
    try:
        alts = check_path(Scenario, parts[:-1], original=path)
    except InputError:
        return None
    for a in alts:
        if isinstance(a, type) and hasattr(a, "model_fields"):
            return field_rule(a, str(parts[-1]))
    return None


# ----------------------------------------------------------------------------- point ids


def hex_ids(digests: bytes, n: int) -> np.ndarray:
    """n 8-byte digests -> n 16-hex-digit ids (numpy 'S16')."""
    b = np.frombuffer(digests, dtype=np.uint8).reshape(n, 8)
    out = np.empty((n, 16), dtype=np.uint8)
    out[:, 0::2] = _HEX[b >> 4]
    out[:, 1::2] = _HEX[b & 15]
    return out.reshape(-1).view("S16")


def json_numbers(values: np.ndarray, integer: bool) -> list[str]:
    """JSON text of each number as json.dumps writes it (repr of a finite float; an int's digits).
    Grid values repeat: each distinct value is formatted once."""
    a = np.asarray(values).astype(np.int64) if integer else np.asarray(values, dtype=float)
    fmt = str if integer else float.__repr__
    if a.size > 64:
        u, inv = np.unique(a, return_inverse=True)
        if u.size * 4 < a.size:
            texts = np.asarray(list(map(fmt, u.tolist())), dtype=object)
            return texts[inv].tolist()
    return list(map(fmt, a.tolist()))


class IdTemplate:
    """The canonical JSON of a group's points with a slot per broadcast value and one for the seed:
    `ids(values, seeds)` hashes each point as costsim.sweep.points.point_id would."""

    def __init__(self, doc: Mapping[str, Any], slots: Sequence[str], variant: str, mode: str, files: Mapping[str, str]):
        import costsim

        doc = copy.deepcopy(dict(doc))
        marks = {p: f"@@costsim-slot-{i}@@" for i, p in enumerate(slots)}
        for p, m in marks.items():
            set_path(doc, split_path(p), m, original=p)
        seed_mark = "@@costsim-slot-seed@@"
        blob = json.dumps({"point": doc, "variant": variant, "seed": seed_mark, "mode": mode, "files": dict(files),
                           "costsim": getattr(costsim, "__version__", "?")}, sort_keys=True, separators=(",", ":"), default=str)
        quoted = {json.dumps(m): p for p, m in marks.items()}
        quoted[json.dumps(seed_mark)] = "__seed__"
        order: list[str] = []
        pieces: list[str] = []
        rest = blob
        while True:
            hits = [(rest.find(q), q) for q in quoted if rest.find(q) >= 0]
            if not hits:
                pieces.append(rest)
                break
            pos, q = min(hits)
            pieces.append(rest[:pos])
            order.append(quoted[q])
            rest = rest[pos + len(q):]
        if sorted(order) != sorted(list(slots) + ["__seed__"]):
            raise ValueError("id template: a slot was not found exactly once in the canonical JSON")
        self.order = order
        self.pieces = pieces

    def ids(self, texts: Mapping[str, Sequence[str]], n: int) -> np.ndarray:
        """texts: slot -> JSON text of each point's value ('__seed__' included). The constant text
        before the first slot is hashed once; each point hashes the rest, formatted in one step."""
        cols = [texts[s] for s in self.order]
        rest = "%s" + "%s".join(p.replace("%", "%%") for p in self.pieces[1:])
        h0 = hashlib.sha256(self.pieces[0].encode())
        out = []
        append = out.append
        for vals in zip(*cols):
            h = h0.copy()
            h.update((rest % vals).encode())
            append(h.digest()[:8])
        return hex_ids(b"".join(out), n)


def interleave(pieces: Sequence[str], cols: Sequence[Sequence[str]], n: int) -> list[str]:
    """pieces[0] + cols[0][i] + pieces[1] + cols[1][i] + ... for every point i."""
    if not cols:
        return [pieces[0]] * n
    fmt = "%s".join(p.replace("%", "%%") for p in pieces)
    return [fmt % vals for vals in zip(*cols)]


# ----------------------------------------------------------------------------- the plan


@dataclass
class Group:
    """Points that share a variant and the values of every non-broadcast override."""

    variant: str
    variant_set: dict[str, Any]
    keyed: list[tuple[str, Any]]
    """Non-broadcast overrides (path, value), in override order."""
    bgrid: dict[str, np.ndarray]
    """Broadcast grid paths -> their values (the group runs their cartesian product)."""
    samples: np.ndarray | None
    """Indices into the sample table of the samples in this group (None: no sample dimension)."""
    num_points: int = 0


@dataclass
class GroupTask:
    """A work unit of one group: every array has one entry per point."""

    key: str
    scenario_hash: str
    base: dict[str, Any]
    variant: str
    variant_set: dict[str, Any]
    mode: str
    axes: list[tuple[str, Any]]
    """Override order: (path, constant) or (path, None) where `values[path]` holds the values."""
    values: dict[str, np.ndarray]
    seeds: np.ndarray
    point_ids: np.ndarray
    parts: dict[str, dict[str, str]]
    """Broadcast path -> {part: request key}."""
    design: dict[str, np.ndarray] = field(default_factory=dict)
    """Extra per-point columns (sample_index, sample_block)."""

    def __len__(self) -> int:
        return int(self.point_ids.size)


@dataclass(frozen=True)
class GroupResult:
    """The rows of a GroupTask as one Arrow table (plus counts for the driver)."""

    key: str
    scenario_hash: str
    variant: str
    table: Any
    errors: int
    rows: int


class BatchPlan:
    """Groups of a core-mode sweep; `points_total` is known before anything is enumerated."""

    def __init__(self, scenario: Scenario, *, grid: list[tuple[str, list[Any]]], sample_paths: list[str],
                 sample_values: dict[str, np.ndarray], sample_design: dict[str, np.ndarray], n_samples: int,
                 seeds: int, mode: str):
        self.scenario = scenario
        self.h = scenario_hash(scenario)
        self.mode = mode
        self.seeds = seeds
        base = scenario.model_dump(mode="json", exclude={"variants"})
        base.setdefault("simulation", {})["replicates"] = 1
        self.base = base
        variants = [(v.name, dict(v.set)) for v in scenario.variants]
        if scenario.simulation.include_base or not variants:
            variants.insert(0, ("base", {}))
        self.variants = variants
        self.grid = grid
        self.sample_paths = sample_paths
        self.sample_values = sample_values
        self.sample_design = sample_design
        self.n_samples = n_samples
        self.parts: dict[str, dict[str, str]] = {}
        integer: dict[str, bool] = {}
        for p, vals in grid:
            bp = broadcast_parts(p, scenario)
            if bp is not None and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vals):
                self.parts[p] = bp
        for p in sample_paths:
            bp = broadcast_parts(p, scenario)
            arr = sample_values[p]
            if bp is not None and arr.dtype.kind in "iuf":
                self.parts[p] = bp
        for p in self.parts:
            integer[p] = bool(is_integer_field(p))
        self.integer = integer
        kgrid = [(p, vals) for p, vals in grid if p not in self.parts]
        self.bgrid_paths = [p for p, _ in grid if p in self.parts]
        self.n_bgrid = int(np.prod([len(v) for p, v in grid if p in self.parts])) if self.bgrid_paths else 1
        keyed_samples = [p for p in sample_paths if p not in self.parts]
        # sample classes: samples with the same keyed values
        classes: dict[tuple, list[int]] = {}
        if n_samples:
            if keyed_samples:
                cols = [sample_values[p].tolist() for p in keyed_samples]
                for j, t in enumerate(zip(*cols)):
                    classes.setdefault(t, []).append(j)
            else:
                classes[()] = list(range(n_samples))
        self.groups: list[Group] = []
        combos = list(itertools.product(*[[(p, v) for v in vals] for p, vals in kgrid])) if kgrid else [()]
        bgrid = {p: np.asarray(vals, dtype=np.int64 if integer[p] else float) for p, vals in grid if p in self.parts}
        for vname, vset in variants:
            for combo in combos:
                if n_samples:
                    for t, js in classes.items():
                        keyed = list(combo) + list(zip(keyed_samples, t))
                        g = Group(vname, vset, keyed, bgrid, np.asarray(js, np.int64))
                        g.num_points = self.n_bgrid * len(js) * seeds
                        self.groups.append(g)
                else:
                    g = Group(vname, vset, list(combo), bgrid, None)
                    g.num_points = self.n_bgrid * seeds
                    self.groups.append(g)
        self.points_total = sum(g.num_points for g in self.groups)

    # ------------------------------------------------------------------ per-group arrays

    def axes(self, g: Group) -> list[tuple[str, Any]]:
        keyed = dict(g.keyed)
        return [(p, None if p in self.parts else keyed[p]) for p, _ in self.grid] + \
               [(p, None if p in self.parts else keyed[p]) for p in self.sample_paths]

    def arrays(self, g: Group) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
        """(broadcast values per path, seeds, design columns), one entry per point of the group.
        Point order: broadcast grid combination (outer), sample, seed (inner)."""
        nb = self.n_bgrid
        ns = 1 if g.samples is None else g.samples.size
        k = self.seeds
        n = nb * ns * k
        values: dict[str, np.ndarray] = {}
        if self.bgrid_paths:
            mesh = np.meshgrid(*[g.bgrid[p] for p in self.bgrid_paths], indexing="ij")
            for p, m in zip(self.bgrid_paths, mesh):
                values[p] = np.repeat(m.reshape(-1), ns * k)
        design: dict[str, np.ndarray] = {}
        if g.samples is not None:
            for p in self.sample_paths:
                if p in self.parts:
                    values[p] = np.tile(np.repeat(self.sample_values[p][g.samples], k), nb)
            for c, arr in self.sample_design.items():
                design[c] = np.tile(np.repeat(arr[g.samples], k), nb)
        return values, np.tile(np.arange(k, dtype=np.int64), nb * ns), design

    def representative(self, g: Group, values: Mapping[str, np.ndarray], i: int = 0) -> dict[str, Any]:
        """The raw data of point i of the group (before validation)."""
        vbase = apply_overrides(self.base, g.variant_set, model=Scenario)
        ov = []
        keyed = dict(g.keyed)
        for p, _ in self.axes(g):
            ov.append((p, _py(values[p][i]) if p in self.parts else keyed[p]))
        data = apply_overrides(vbase, ov, model=Scenario)
        data.setdefault("simulation", {})["replicates"] = 1
        return data


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def build_plan(scenario: Scenario, *, grid: list[tuple[str, list[Any]]] | None, random: list[RandomSpec] | None,
               samples: int, seeds: int, mode: str, design: Any = None) -> BatchPlan | None:
    """The batched plan of a sweep, or None when the per-point path must run it (simulation mode,
    an override path given twice)."""
    if mode != "core":
        return None
    grid = grid or []
    sample_paths: list[str] = []
    sample_values: dict[str, np.ndarray] = {}
    sample_design: dict[str, np.ndarray] = {}
    n_samples = 0
    if design is not None:  # uncertainty design (costsim.uncertainty.sampling.SampleDesign), with any --random dims in it
        n_samples = design.num_points
        for p in design.paths:
            sample_paths.append(p)
            sample_values[p] = np.asarray(design.values[p])
        sample_design = {"sample_index": np.asarray(design.sample_index, np.int64), "sample_block": np.asarray(design.block, dtype=object)}
    elif random:
        cols = random_columns(random, samples, seed_material=scenario_hash(scenario))
        n_samples = int(samples)
        for spec, col in zip(random, cols):
            sample_paths.append(spec.path)
            sample_values[spec.path] = np.asarray(col, dtype=np.int64 if spec.integer else float)
    paths = [".".join(str(x) for x in split_path(p)) for p, _ in grid] + [".".join(str(x) for x in split_path(p)) for p in sample_paths]
    if len(set(paths)) != len(paths):
        return None
    for a, b in itertools.permutations(paths, 2):
        if b.startswith(a + "."):
            return None
    return BatchPlan(scenario, grid=grid, sample_paths=sample_paths, sample_values=sample_values, sample_design=sample_design,
                     n_samples=n_samples, seeds=seeds, mode=mode)


# ----------------------------------------------------------------------------- enumeration (driver)


@dataclass
class Enumerated:
    """What the driver runs after enumeration: batched work units and per-point tasks."""

    tasks: list[Any]
    points_total: int
    """Distinct points of the sweep (a value listed twice is one point)."""
    skipped: int
    """Points already in the store."""
    fallback_points: int
    """Points that run the per-point path (a value outside its field's bounds, or a group that does not validate)."""
    positions: dict[str, np.ndarray] | None = None
    """Uncertainty designs: point_id, variant, sample_index, sample_block of every design position."""


def _legacy_task(plan: BatchPlan, g: Group, values: Mapping[str, np.ndarray], seeds: np.ndarray, i: int,
                 design: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """A per-point task (costsim.sweep.points.evaluate_point) for point i of a group; its id is
    computed exactly as build_tasks computes it."""
    from costsim.sweep.points import point_id

    data = plan.representative(g, values, i)
    doc, own_seed, _ = point_doc(data)
    keyed = dict(g.keyed)
    ov = [(p, _py(values[p][i]) if p in plan.parts else keyed[p]) for p, _ in plan.axes(g)]
    seed = own_seed + int(seeds[i])
    t = {"point_id": point_id(doc, g.variant, seed, plan.mode, _file_hashes(doc)), "scenario_hash": plan.h, "base": plan.base,
         "variant": g.variant, "variant_set": g.variant_set, "overrides": ov, "seed": seed, "mode": plan.mode}
    if design:
        t["design"] = {c: _py(a[i]) for c, a in design.items()}
    return t


def _group_key(g: Group) -> str:
    return json.dumps([g.variant, g.keyed, None if g.samples is None else g.samples.tolist()], sort_keys=True, default=str)


def enumerate_plan(plan: BatchPlan, *, done: np.ndarray | None = None, chunk_points: int = DEFAULT_CHUNK_POINTS) -> Enumerated:
    """Validate each group once, give every point its id, drop finished and repeated points, and
    cut the rest into work units of at most chunk_points."""
    done = done if done is not None else np.zeros(0, dtype="S16")
    fallback = 0
    # pass 1: validation and ids, group by group
    per_group: list[tuple[Group, np.ndarray, np.ndarray, int, list[dict[str, Any]]]] = []
    seen_groups: set[str] = set()
    positions: list[dict[str, Any]] = []
    for g in plan.groups:
        key = _group_key(g)
        if key in seen_groups:  # a non-broadcast value listed twice: the same points again
            continue
        seen_groups.add(key)
        values, seeds, design = plan.arrays(g)
        n = seeds.size
        bad = np.zeros(n, bool)
        for p in values:
            rule = _owner_rule(p)
            if rule is not None:
                bad |= invalid_mask(rule, values[p])
        good = np.flatnonzero(~bad)
        ids = np.zeros(0, dtype="S16")
        own_seed = 0
        tmpl = None
        if good.size:
            doc, own_seed, valid = point_doc(plan.representative(g, values, int(good[0])))
            if valid:
                try:
                    tmpl = IdTemplate(doc, list(values), g.variant, plan.mode, _file_hashes(doc))
                except (ValueError, InputError):
                    tmpl = None
        if tmpl is None:
            legacy_idx = list(range(n))
            good = np.zeros(0, np.int64)
        else:
            legacy_idx = [int(i) for i in np.flatnonzero(bad)]
            texts = {p: json_numbers(values[p][good], plan.integer[p]) for p in values}
            texts["__seed__"] = json_numbers(own_seed + seeds[good], True)
            ids = tmpl.ids(texts, good.size)
        legacy = [_legacy_task(plan, g, values, seeds, i, design) for i in legacy_idx]
        if design:  # every design position, repeated points included (the analysis needs each position)
            pid = np.empty(n, dtype="S16")
            pid[good] = ids
            for t, i in zip(legacy, legacy_idx):
                pid[i] = t["point_id"].encode()
            positions.append({"point_id": pid, "variant": np.full(n, g.variant, dtype=object), **design})
        per_group.append((g, good, ids, own_seed, legacy))
    # pass 2: the same id twice is one point (first occurrence), finished points are skipped
    all_ids = np.concatenate([ids for _, _, ids, _, _ in per_group] + [np.zeros(0, dtype="S16")])
    keep = np.zeros(all_ids.size, bool)
    if all_ids.size:
        _, first = np.unique(all_ids, return_index=True)
        keep[first] = True
    fresh = keep & ~np.isin(all_ids, done) if done.size else keep
    skipped = int((keep & ~fresh).sum())
    unique = int(keep.sum())
    # pass 3: work units
    tasks: list[Any] = []
    legacy_seen: set[str] = set()
    done_set = None
    off = 0
    for g, good, ids, own_seed, legacy in per_group:
        m = fresh[off:off + ids.size]
        off += ids.size
        if m.any():
            values, seeds, design = plan.arrays(g)
            sel = good[m]
            gids = ids[m]
            seeds_abs = own_seed + seeds[sel]
            axes = plan.axes(g)
            for c0 in range(0, sel.size, chunk_points):
                sl = slice(c0, c0 + chunk_points)
                idx = sel[sl]
                tasks.append(GroupTask(key=f"{gids[sl][0].decode()}-{idx.size}", scenario_hash=plan.h, base=plan.base,
                                       variant=g.variant, variant_set=g.variant_set, mode=plan.mode, axes=axes,
                                       values={p: values[p][idx] for p in values}, seeds=seeds_abs[sl], point_ids=gids[sl],
                                       parts={p: plan.parts[p] for p in values}, design={c: a[idx] for c, a in design.items()}))
        for t in legacy:
            if t["point_id"] in legacy_seen:
                continue
            legacy_seen.add(t["point_id"])
            unique += 1
            fallback += 1
            if done.size:
                if done_set is None:
                    done_set = set(done.tolist())
                if t["point_id"].encode() in done_set:
                    skipped += 1
                    continue
            tasks.append([t])
    pos = None
    if positions:
        pos = {k: np.concatenate([p[k] for p in positions]) for k in positions[0]}
    return Enumerated(tasks, unique, skipped, fallback, pos)
