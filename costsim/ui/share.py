"""Share links: a request or scenario as validated JSON in a URL query parameter.

The token is base64url (no padding) of the canonical JSON of the spec. Decoding parses the JSON
and validates it through the same pydantic spec the page uses, so a link can only ever carry
data the form itself could produce. Never pickle: unpickling a URL would run code on the server.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any, Callable, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel

from costsim.errors import InputError
from costsim.specs.base import validate_spec

S = TypeVar("S", bound=BaseModel)

MAX_TOKEN_CHARS = 16_000  # a generous URL budget; a longer token is refused, not truncated


def encode_spec(spec: BaseModel) -> str:
    """Spec -> base64url of its JSON (sorted keys, fields left at their defaults omitted, no padding)."""
    doc = json.dumps(spec.model_dump(mode="json", exclude_defaults=True), sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(doc.encode("utf-8")).decode("ascii").rstrip("=")


def spec_words(cls: type[BaseModel]) -> str:
    """A spec class as a reader's words: TrainRequest -> 'train request' (a message said 'invalid TrainRequest')."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", cls.__name__).lower()


def decode_spec(cls: type[S], token: str) -> S:
    """base64url token -> validated spec; InputError (one paragraph) for anything malformed."""
    if len(token) > MAX_TOKEN_CHARS:
        raise InputError(f"share link is too long ({len(token)} characters, at most {MAX_TOKEN_CHARS}); "
                         "open the scenario file instead.")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise InputError("share link is not valid base64url-encoded JSON; copy the whole link again.") from None
    if not isinstance(data, dict):
        raise InputError("share link must encode a JSON object of field: value pairs.")
    try:
        check_catalog_only(data)
        return validate_spec(cls, data, what=spec_words(cls), source="share link")  # type: ignore[arg-type]
    except RecursionError:
        raise InputError("share link nests its JSON too deeply; copy the whole link again.") from None


# Fields that name something the server would otherwise resolve on its own disk (a catalog id *or* a
# file path). A share link comes from anyone, so there only catalog ids are accepted: a path would let
# a link make the server read a local file and show it in an error message.
def _model_ids() -> set[str]:
    from costsim.specs.catalog import models
    return set(models())


def _hardware_ids() -> set[str]:
    from costsim.specs.catalog import accelerators
    return set(accelerators())


def _node_ids() -> set[str]:
    from costsim.specs.catalog import nodes
    return set(nodes())


def _region_ids() -> set[str]:
    from costsim.power.signals import available_regions
    return set(available_regions())


def _trace_ids() -> set[str]:
    from costsim.specs.catalog import scenarios_dir
    return {f"traces/{p.name}" for p in (scenarios_dir() / "traces").glob("*.csv")}


_REF_FIELDS: dict[str, tuple[str, Callable[[], set[str]]]] = {
    "model": ("a model catalog id (`costsim models list`)", _model_ids),
    "hardware": ("an accelerator catalog id (`costsim hardware list`)", _hardware_ids),
    "accelerator": ("an accelerator catalog id (`costsim hardware list`)", _hardware_ids),
    "node": ("a node catalog id", _node_ids),
    "region": ("a region id (costsim/data/regions)", _region_ids),
    "trace_path": ("a shipped trace (traces/<name>.csv from scenarios/)", _trace_ids),
}
_PATH_SPLIT = re.compile(r"[.\[\]]")


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _last_segment(key: str) -> str:
    """'training.model' -> 'model'; 'variants[0].set' -> 'set' (so --set-style paths in a variant's
    `set` are checked like nested fields)."""
    parts = [p for p in _PATH_SPLIT.split(key) if p]
    return parts[-1] if parts else key


def catalog_refusal(field: str, v: Any) -> str | None:
    """Why `v` may not be the value of catalog field `field` ('model', 'hardware', ...) of a link, or None when it may."""
    what, ids = _REF_FIELDS[field]
    if v is None or v in ids():
        return None
    return (f"{_short(v)} is not {what}. The app takes catalog ids only, never paths to files on the server; to use "
            "your own model or hardware YAML, run the scenario with the CLI (`costsim run`).")


def check_catalog_only(data: Any, where: str = "", *, context: str = "share link") -> None:
    """Refuse (InputError) any model/hardware/node/region/trace value in a share link (or anything
    else the app receives from a browser) that is not a catalog id, before anything is validated or
    resolved: nothing is read from disk, and the message is the same whether or not a file of that
    name exists."""
    if isinstance(data, dict):
        for k, v in data.items():
            path = f"{where}.{k}" if where else str(k)
            field = _last_segment(str(k)) if isinstance(k, str) else ""
            if field in _REF_FIELDS and (v is None or isinstance(v, str)):
                if why := catalog_refusal(field, v):
                    raise InputError(f"{context} field '{path}': {why}", field=path)
            else:
                check_catalog_only(v, path, context=context)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            check_catalog_only(v, f"{where}.{i}" if where else str(i), context=context)


def link_url(page_url: str, query: dict[str, str]) -> str:
    """page_url without its query or fragment ('' for none), plus `query` ({name: text}) as its query string: the link
    that reproduces a page ('?train=<token>', '?serve=<token>&demand=40', '?region=us-ercot&limits=0.5%2C+1')."""
    return page_url.split("?", 1)[0].split("#", 1)[0] + "?" + urlencode(query)


def parse_extra_number(text: str, *, name: str, lo: float, hi: float, integer: bool = False, lo_open: bool = False,
                       hi_open: bool = False) -> float:
    """A page input outside the request carried as its own query parameter (a number): finite and within [lo, hi]
    (lo_open / hi_open: a strict bound), else InputError naming it (a link comes from anyone), in the widget's words
    ('must be a whole number from 4 to 200')."""
    from costsim.specs.overrides import short_text
    from costsim.ui.numbers import range_words

    try:
        x = float(str(text)[:64])
    except ValueError:
        raise InputError(f"share link's {name} is {short_text(text)!r}, not a number; copy the whole link again.",
                         field=name) from None
    inside = (lo < x if lo_open else lo <= x) and (x < hi if hi_open else x <= hi)
    if not math.isfinite(x) or not inside or (integer and x != int(x)):
        raise InputError(f"share link's {name} must be {range_words(lo, hi, integer=integer, lo_open=lo_open, hi_open=hi_open)} "
                         f"(the link gives {short_text(text)}).", field=name)
    return x


# Page inputs carried as query parameters of their own (?region=us-ercot&limits=0.5,1): each is read back by a reader
# (query name, text) -> the widget's value, which refuses (InputError naming the parameter) anything the page's own
# widgets could not hold. A link comes from anyone: choices are checked against the page's, catalog fields against
# the catalog (`check_catalog_only`), numbers against a range, text against a length.
LinkReader = Callable[[str, str], Any]
MAX_LINK_TEXT_CHARS = 2_000


def link_text(value: Any) -> str:
    """A widget's value as its query text (the inverse of the readers below): lists comma-separated, flags 1 / 0,
    whole numbers without a decimal point, an empty box as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(link_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:.12g}"
    return str(value)


def read_choice(choices: list[Any]) -> LinkReader:
    """One of the page's choices, as given."""
    def read(name: str, text: str) -> Any:
        from costsim.specs.overrides import short_text

        if text not in choices:
            raise InputError(f"share link's {name} is {short_text(text)!r}, not one of this page's choices.", field=name)
        return text
    return read


def read_ids(choices: list[str], field: str, *, many: bool = False) -> LinkReader:
    """A catalog id of `field` ('model', 'hardware', ...) among the page's choices; with many=True a comma-separated
    list of them (possibly empty). Never a path: `check_catalog_only` refuses one before anything is looked up."""
    one = read_choice(choices)

    def read(name: str, text: str) -> Any:
        items = [t.strip() for t in text.split(",") if t.strip()] if many else [text]
        for item in items:
            if why := catalog_refusal(field, item):  # before anything is looked up: never a path
                raise InputError(f"share link's {name}: {why}", field=name)
            one(name, item)
        return items if many else items[0]
    return read


def read_number(lo: float, hi: float, *, integer: bool = False, optional: bool = False, lo_open: bool = False,
                hi_open: bool = False) -> LinkReader:
    """A number in [lo, hi] (an int for an integer widget, else a float; lo_open / hi_open: a strict bound); with
    optional=True '' is None (an empty box)."""
    def read(name: str, text: str) -> Any:
        if optional and not text.strip():
            return None
        x = parse_extra_number(text, name=name, lo=lo, hi=hi, integer=integer, lo_open=lo_open, hi_open=hi_open)
        return int(x) if integer else x
    return read


def read_field_number(cls: type[BaseModel], name: str, *, scale: float = 1.0, integer: bool = False) -> LinkReader:
    """A number for the widget of spec field cls.name, which shows the field's value / scale (trillions of tokens,
    ms): within the field's own bounds, in the widget's units; '' is an empty box where the field may be None."""
    lo, hi, lo_open, hi_open = field_bounds(cls, name, scale)
    field = cls.model_fields[name]
    return read_number(lo, hi, integer=integer, optional=not field.is_required() and field.default is None,
                       lo_open=lo_open, hi_open=hi_open)


def field_bounds(cls: type[BaseModel], name: str, scale: float = 1.0) -> tuple[float, float, bool, bool]:
    """The bounds of spec field cls.name in its widget's units (the field's value / scale): (lo, hi, lo_open, hi_open),
    -inf / inf where there is none; lo_open / hi_open for a strict bound (gt, lt)."""
    import annotated_types as at

    meta = cls.model_fields[name].metadata
    low = next((m for m in meta if isinstance(m, (at.Ge, at.Gt))), None)
    high = next((m for m in meta if isinstance(m, (at.Le, at.Lt))), None)
    lo = (low.ge if isinstance(low, at.Ge) else low.gt) / scale if low is not None else -math.inf
    hi = (high.le if isinstance(high, at.Le) else high.lt) / scale if high is not None else math.inf
    return lo, hi, isinstance(low, at.Gt), isinstance(high, at.Lt)


def read_text(max_chars: int = MAX_LINK_TEXT_CHARS) -> LinkReader:
    """Free text of at most max_chars characters (the page parses and checks it as it does typed text)."""
    def read(name: str, text: str) -> str:
        if len(text) > max_chars:
            raise InputError(f"share link's {name} is {len(text):,} characters long, at most {max_chars:,}.", field=name)
        return text
    return read


def read_flag(name: str, text: str) -> bool:
    """A checkbox: 1 or 0."""
    if text not in ("0", "1"):
        raise InputError(f"share link's {name} must be 1 or 0.", field=name)
    return text == "1"
