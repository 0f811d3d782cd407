"""Catalog loading: accelerators and nodes from hardware_profiles/, models from costsim/data/models.

Wherever an id is accepted, a path to a YAML file of the same schema is accepted too.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TypeVar

from costsim.errors import InputError
from costsim.specs.base import Spec, check_ref_text, load_yaml_file, path_is_file, unknown_id, validate_spec
from costsim.specs.hardware import Accelerator, Node
from costsim.specs.model import ModelSpec

T = TypeVar("T", bound=Spec)

_REPO_ROOT = Path(__file__).resolve().parents[2]


def _pkg_dir(package: str, fallback: Path) -> Path:
    try:
        p = Path(str(resources.files(package)))
        if p.is_dir():
            return p
    except (ModuleNotFoundError, TypeError):
        pass
    return fallback


def hardware_profiles_dir() -> Path:
    return _pkg_dir("costsim.hardware_profiles", _REPO_ROOT / "hardware_profiles")


def models_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "models"


def _looks_like_path(ref: str) -> bool:
    return ref.endswith((".yaml", ".yml", ".json")) or "/" in ref or "\\" in ref


@lru_cache(maxsize=None)
def _load_dir(directory: str, cls_name: str) -> dict[str, Spec]:
    cls = {"Accelerator": Accelerator, "Node": Node, "ModelSpec": ModelSpec}[cls_name]
    out: dict[str, Spec] = {}
    for f in sorted(Path(directory).glob("*.yaml")):
        data = load_yaml_file(f, what=cls_name.lower(), shipped=True)
        spec = validate_spec(cls, data, what=f"{cls_name} profile", source=str(f))
        sid = getattr(spec, "id")
        if sid != f.stem:
            raise InputError(f"catalog file '{f}' holds id '{sid}'; the file name must equal the id ({sid}.yaml).")
        out[sid] = spec
    _check_aliases(out, directory)
    return out


def _check_aliases(table: dict[str, Spec], directory: str) -> None:
    """An alias may name one entry only, and never another entry's id."""
    seen: dict[str, str] = {}
    for sid, spec in table.items():
        for alias in getattr(spec, "aliases", []):
            other = alias if alias in table else seen.get(alias)
            if other is not None:
                raise InputError(f"catalog {directory}: alias '{alias}' of '{sid}' already names '{other}'; remove one of them.")
            seen[alias] = sid


_CHECKPOINT_SUFFIXES = ("-instruct", "-chat", "-base", "-it")


def _by_alias(ref: str, table: dict[str, T], kind: str) -> T | None:
    """The entry that lists `ref` among its aliases; for models also the entry `ref` names with a
    checkpoint suffix (llama-3.1-8b-instruct, llama-2-70b-chat, gemma-2-9b-it: same shape as the base)."""
    hit = next((spec for spec in table.values() if ref in getattr(spec, "aliases", [])), None)
    if hit is None and kind == "model":
        for suffix in _CHECKPOINT_SUFFIXES:
            if ref.endswith(suffix) and len(ref) > len(suffix):
                stem = ref[: -len(suffix)]
                return table.get(stem) or _by_alias(stem, table, "")
    return hit


def accelerators() -> dict[str, Accelerator]:
    return _load_dir(str(hardware_profiles_dir() / "accelerators"), "Accelerator")  # type: ignore[return-value]


def nodes() -> dict[str, Node]:
    return _load_dir(str(hardware_profiles_dir() / "nodes"), "Node")  # type: ignore[return-value]


def models() -> dict[str, ModelSpec]:
    return _load_dir(str(models_dir()), "ModelSpec")  # type: ignore[return-value]


def _resolve(ref: str, table: dict[str, T], cls: type[T], kind: str) -> T:
    if not isinstance(ref, str) or not ref.strip():
        raise InputError(f"empty {kind} reference; give a catalog id or a YAML file path.")
    ref = check_ref_text(ref.strip(), what=kind)
    if ref in table:
        return table[ref]
    aliased = _by_alias(ref, table, kind)
    if aliased is not None:
        return aliased
    if _looks_like_path(ref) or path_is_file(ref):
        data = load_yaml_file(ref, what=kind)
        return validate_spec(cls, data, what=f"{kind} file", source=ref)
    raise unknown_id("hardware" if kind == "hardware" else ("models" if kind == "model" else kind), ref, sorted(table))


def asked_as(model: str, hardware: str) -> dict[str, str]:
    """The names a request gave that are aliases of catalog entries, keyed model_asked_as /
    hardware_asked_as (results carry the canonical ids; this says what the user typed)."""
    out: dict[str, str] = {}
    for key, ref, table, kind in (("model_asked_as", model, models(), "model"), ("hardware_asked_as", hardware, accelerators(), "hardware")):
        if isinstance(ref, str) and ref.strip() not in table and _by_alias(ref.strip(), table, kind) is not None:
            out[key] = ref.strip()
    return out


def get_accelerator(ref: str) -> Accelerator:
    return _resolve(ref, accelerators(), Accelerator, "hardware")


def get_node(ref: str) -> Node:
    return _resolve(ref, nodes(), Node, "node")


def get_model(ref: str) -> ModelSpec:
    return _resolve(ref, models(), ModelSpec, "model")


def node_for(acc: Accelerator) -> Node | None:
    """The node profile a device usually ships in, or None (then callers use category defaults)."""
    if acc.default_node and acc.default_node in nodes():
        return nodes()[acc.default_node]
    for n in nodes().values():
        if n.accelerator == acc.id:
            return n
    return None


def scenarios_dir() -> Path:
    return _pkg_dir("costsim.scenarios", _REPO_ROOT / "scenarios")


def find_scenario_file(ref: str) -> Path | None:
    """A file named relative to the working directory or to the shipped scenarios/ folder (scenario
    YAML, trace CSV); None when neither has it."""
    p = Path(ref)
    cands = [p] if p.is_absolute() else [Path.cwd() / p, _REPO_ROOT / "scenarios" / p, scenarios_dir() / p]
    return next((c for c in cands if path_is_file(c)), None)
