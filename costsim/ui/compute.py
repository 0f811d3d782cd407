"""Where the pages reach the API: late-bound lookups (a page whose API is not there yet says so
instead of failing) and st.cache_data wrappers keyed on the request's canonical JSON."""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any, Callable

import streamlit as st

from costsim.specs.requests import ServeRequest, SiteRequest, TrainRequest


def api_function(module: str, *names: str) -> tuple[Callable[..., Any] | None, str]:
    """First of `names` found in `module`, or (None, why). Import errors inside an existing module
    are reported too (a half-written module must not take the page down)."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        importlib.invalidate_caches()  # so a module written after start-up is found on the next rerun
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            return None, f"`{module}` does not exist yet"
        return None, f"`{module}` failed to import: {exc}"
    except Exception as exc:  # noqa: BLE001 - any error in someone else's module is shown, not raised
        return None, f"`{module}` failed to import: {type(exc).__name__}: {exc}"
    for name in names:
        fn = getattr(mod, name, None)
        if callable(fn):
            return fn, ""
    return None, f"`{module}` has no {' / '.join(f'`{n}()`' for n in names)} yet"


def plain(obj: Any) -> Any:
    """Any result (dict, pydantic model, dataclass, numpy arrays) -> JSON-compatible data."""
    if hasattr(obj, "model_dump"):
        obj = obj.model_dump(mode="json")
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)

    def default(o: Any) -> Any:
        if hasattr(o, "tolist"):
            return o.tolist()
        if hasattr(o, "model_dump"):
            return o.model_dump(mode="json")
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        if isinstance(o, Path):
            return str(o)
        if isinstance(o, (set, frozenset, tuple)):
            return list(o)
        return str(o)

    return json.loads(json.dumps(obj, default=default, allow_nan=True))


class Unavailable(RuntimeError):
    """The API this page needs is not there yet."""


def _call(module: str, names: tuple[str, ...], arg: Any) -> dict[str, Any]:
    fn, why = api_function(module, *names)
    if fn is None:
        raise Unavailable(why)
    return plain(fn(arg))


@st.cache_data(show_spinner=False, max_entries=1024)
def train(req_json: str) -> dict[str, Any]:
    return _call("costsim.api.train", ("train",), TrainRequest.model_validate_json(req_json))


@st.cache_data(show_spinner=False, max_entries=1024)
def serve(req_json: str) -> dict[str, Any]:
    return _call("costsim.api.serve", ("serve",), ServeRequest.model_validate_json(req_json))


@st.cache_data(show_spinner=False, max_entries=256)
def site(req_json: str) -> dict[str, Any]:
    return _call("costsim.api.site", ("site_report", "site", "estimate_site"),
                 SiteRequest.model_validate_json(req_json))


@st.cache_data(show_spinner=False, max_entries=64)
def site_timeline(req_json: str, hours: float = 24.0, seed: int = 0) -> dict[str, Any]:
    fn, why = api_function("costsim.api.site", "site_timeline")
    if fn is None:
        raise Unavailable(why)
    out = fn(SiteRequest.model_validate_json(req_json), hours=hours, seed=seed)
    return {k: (v.tolist() if hasattr(v, "tolist") else plain(v)) for k, v in out.items()}


def available(module: str, *names: str) -> str | None:
    """None when the API is there, else a sentence for st.info."""
    fn, why = api_function(module, *names)
    return None if fn is not None else why
