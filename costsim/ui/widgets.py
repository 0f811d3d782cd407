"""Widgets built from spec fields: the label is ours, the tooltip is always the field's
description, bounds and choices come from the field's type and constraints.

Every widget takes a session-state key; the default is written into session state once, so a
share link (or a test) can seed a widget by setting its key before the page draws it.
"""

from __future__ import annotations

import re
import types
from pathlib import Path
import typing
from typing import Any, Callable, Literal

import streamlit as st
from pydantic import BaseModel

from costsim.api import catalog as api_catalog

AUTO = "auto"
#: the largest serving demand a page (or its share link) takes, requests/s (a billion: beyond any fleet)
MAX_DEMAND_RPS = 1e9


def help_text(cls: type[BaseModel], name: str) -> str:
    """The spec field's description (the single source of every tooltip)."""
    field = cls.model_fields[name]
    if not field.description:
        raise KeyError(f"{cls.__name__}.{name} has no description to use as a tooltip")
    return field.description


def literal_options(cls: type[BaseModel], name: str) -> list[Any]:
    """The Literal choices of a field (Optional and unions of Literals included), in order."""
    def walk(tp: Any) -> list[Any]:
        origin = typing.get_origin(tp)
        if origin is Literal:
            return list(typing.get_args(tp))
        if origin in (typing.Union, types.UnionType):
            return [v for a in typing.get_args(tp) for v in walk(a)]
        return []
    return walk(cls.model_fields[name].annotation)


def _seed(key: str, default: Any) -> None:
    if key not in st.session_state:
        st.session_state[key] = default


#: session key of {spec field name: the label of its widget on the page being drawn} (reset per page run)
LABELS_KEY = "_field_labels"
#: CLI flags whose field has another name (--acceptance-rate sets acceptance_frac)
FLAG_FIELDS = {"acceptance_rate": "acceptance_frac", "gpus_per_replica": "gpus",
               "single_replica": "deployment_search", "ttft_slo": "ttft_slo_s", "tpot_slo": "tpot_slo_s"}


#: session key of {spec field name: (its widget's label, widget value x scale = the spec's value)} for widgets in other
#: units than their field (trillions of tokens, ms): a bound in a message is said in the widget's units
SCALES_KEY = "_field_scales"


#: session key of {widget key: its label} (kept across runs: the keys are the page's own), so a share link's part
#: refused before its widget draws is named by the widget's label (`show_link_notes`)
KEY_LABELS_KEY = "_key_labels"


def labelled(key: str, label: str) -> str:
    """Record the label of the widget of session key `key` and return it: st.number_input(w.labelled(k, 'Trials'), key=k)."""
    st.session_state.setdefault(KEY_LABELS_KEY, {})[key] = label
    return label


def remember_label(name: str, label: str, scale: float = 1.0, *, key: str | None = None) -> None:
    """Record the label a spec field's widget shows (and the scale from its units to the field's), so a message
    naming the field or its CLI flag can name the widget instead, in the widget's units (`in_page_words`); with
    `key`, the widget's label by its session key too (`labelled`)."""
    st.session_state.setdefault(LABELS_KEY, {})[name] = label
    if key is not None:
        labelled(key, label)
    scales = st.session_state.setdefault(SCALES_KEY, {})
    if scale != 1.0:
        scales[name] = (label, scale)
    else:
        scales.pop(name, None)


def _number_words(text: str, scale: float) -> str:
    """A number of a pydantic bound message in the widget's units, with thousands separators (10,000 not 1e+16)."""
    from costsim.ui.numbers import number_text

    return number_text(float(text) / scale)  # 0.000000001 trillions, not 1e-09


#: "field 'tokens': Input should be less than or equal to 1e16 (got 1e+21)": the field, its bound and the value given
_FIELD_BOUND = re.compile(r"field '(?P<f>[A-Za-z_][A-Za-z0-9_.]*)'(?P<rest>: Input should be (?P<cmp>(?:greater|less) than"
                          r"(?: or equal to)?) (?P<bound>-?[0-9.]+(?:e[+-]?[0-9]+)?)(?: \(got (?P<got>-?[0-9.]+(?:e[+-]?[0-9]+)?)\))?)?")


def in_page_words(message: str) -> str:
    """A message written for the CLI or the API ('--battery-mwh', "field 'tokens'") with the page's widget labels
    in place of the flags and field names this page has a widget for; others are left as they are."""
    labels: dict[str, str] = dict(st.session_state.get(LABELS_KEY) or {})
    if not labels:
        return message
    scales: dict[str, tuple[str, float]] = dict(st.session_state.get(SCALES_KEY) or {})

    def field_of(path: str) -> str:
        """The labelled field a message's path names: itself, or a section's field by its own name ('facility.pue' is
        the PUE box's 'pue'); a list item's path ('fleet.3.gpus') only by itself."""
        if path in labels or "." not in path or any(part.isdigit() for part in path.split(".")):
            return path
        return path.rsplit(".", 1)[-1]

    def field_sub(m: re.Match) -> str:
        f = field_of(m.group("f"))
        lab = labels.get(f)
        if not lab:
            return m.group(0)
        if not m.group("rest"):
            return f"'{lab}'"
        shown_as, scale = scales.get(f, (lab, 1.0))
        scale = scale if shown_as == lab else 1.0  # a scale recorded for another page's widget of this field: not this one
        got = f" (got {_number_words(m.group('got'), scale)})" if m.group("got") else ""
        return f"'{lab}': Input should be {m.group('cmp')} {_number_words(m.group('bound'), scale)}{got}"

    def flag_sub(m: re.Match) -> str:
        name = m.group(1).replace("-", "_")
        field = FLAG_FIELDS.get(name, name) if labels.get(FLAG_FIELDS.get(name, name)) else name
        lab = labels.get(field)
        if not lab:
            return m.group(0)
        if not m.group("value"):
            return f"'{lab}'"
        shown_as, scale = scales.get(field, (lab, 1.0))  # '--tokens 1e+03' beside a box in trillions: its units
        return f"'{lab}' {_number_words(m.group('value'), scale if shown_as == lab else 1.0)}"

    out = _FIELD_BOUND.sub(field_sub, message)
    return re.sub(r"(?<![\w-])--([a-z][a-z0-9-]*)(?: (?P<value>-?[0-9][0-9.]*(?:e[+-]?[0-9]+)?)(?![\w.]))?", flag_sub, out)


def show_error(exc_or_text: Any) -> None:
    """st.error of an InputError (or text) in the page's words (`in_page_words`)."""
    text = getattr(exc_or_text, "message", None) or str(exc_or_text)
    st.error(in_page_words(text))


def number(cls: type[BaseModel], name: str, *, key: str, default: float | int | None, label: str,
           scale: float = 1.0, integer: bool = False, step: float | None = None,
           fmt: str | None = None, placeholder: str | None = None, max_value: float | None = None,
           said_as: str | None = None) -> Any:
    """A number input in display units; returns the value in the spec's units (x scale).
    default None gives an empty box (the spec's own default applies). A box may be emptied (`numbers.number_box`):
    with a placeholder, or no default, empty is None (what the placeholder says); any other empty box is said by its
    label, with what to enter, and the page computes nothing (`numbers.blank_error`). The spec's bounds are not the
    widget's: a value out of range reaches the spec's check and is refused with the field's message in the page's
    words (a widget bound kept the typed value unsent, with the previous run's results still on screen); `max_value`
    bounds the widget; `said_as` names the box in messages where its label alone is ambiguous."""
    from costsim.ui.numbers import number_box
    from costsim.ui.share import field_bounds

    remember_label(name, said_as or label, scale, key=key)
    lo, hi, lo_open, hi_open = field_bounds(cls, name, scale)
    if max_value is not None and max_value < hi:
        hi, hi_open = max_value, False
    v = number_box(label, key=key, default=default, blank_ok=default is None or placeholder is not None, integer=integer,
                   max_value=max_value, step=step, fmt=fmt, placeholder=placeholder, help=help_text(cls, name),
                   bounds=(lo, hi, lo_open, hi_open), said_as=said_as)
    if v is None:
        return None
    return int(v) if integer and scale == 1.0 else v * scale


def select(cls: type[BaseModel], name: str, *, key: str, default: Any, label: str,
           options: list[Any] | None = None, format_func: Callable[[Any], str] = str,
           auto: bool = False) -> Any:
    """A selectbox over the field's Literal choices (or given options); with auto=True an 'auto'
    choice first that returns None (the spec's default / searched)."""
    remember_label(name, label, key=key)
    opts = list(options if options is not None else literal_options(cls, name))
    if auto:
        opts = [AUTO, *opts]
    _seed(key, default if default is not None else AUTO)
    if st.session_state[key] not in opts:  # e.g. a share link with a value outside our list: never add it, say so
        fallback = default if default is not None else AUTO
        st.session_state[key] = fallback if fallback in opts else (opts[0] if opts else None)
        shown = st.session_state[key]
        st.warning(f"{label}: the value asked for (by a share link or an earlier choice) is not one of this page's choices; "
                   f"using {'auto' if shown == AUTO else format_func(shown)} instead.")
    v = st.selectbox(label, opts, key=key, help=help_text(cls, name),
                     format_func=lambda o: "auto" if o == AUTO else format_func(o))
    return None if v == AUTO else v


def checkbox(cls: type[BaseModel], name: str, *, key: str, default: bool, label: str) -> bool:
    remember_label(key.split("_", 1)[-1], label, key=key)  # by the key: a checkbox may switch a mode of another field
    _seed(key, default)
    return st.checkbox(label, key=key, help=help_text(cls, name))


def text(cls: type[BaseModel], name: str, *, key: str, default: str, label: str) -> str:
    remember_label(name, label, key=key)
    _seed(key, default)
    return st.text_input(label, key=key, help=help_text(cls, name))


@st.cache_data(show_spinner=False)
def hardware_catalog() -> list[dict[str, Any]]:
    return api_catalog.list_hardware()


@st.cache_data(show_spinner=False)
def model_catalog() -> list[dict[str, Any]]:
    return api_catalog.list_models()


@st.cache_data(show_spinner=False)
def engine_catalog() -> list[dict[str, Any]]:
    return api_catalog.list_engines()


def engine_label(engine_id: str) -> str:
    names = {e["id"]: e["name"] for e in engine_catalog()}
    return names.get(engine_id, engine_id)


def hardware_ids(categories: tuple[str, ...] | None = None) -> list[str]:
    return [h["id"] for h in hardware_catalog() if categories is None or h["category"] in categories]


@st.cache_data(show_spinner=False)
def node_catalog(hardware: str) -> list[dict[str, Any]]:
    """Node / system profiles that hold `hardware` (empty for an unknown id: the request's own check says why)."""
    from costsim.errors import InputError

    try:
        return api_catalog.list_nodes(hardware)
    except InputError:
        return []


def node_label(entry: dict[str, Any]) -> str:
    nic = entry.get("nic_gbit_per_s") or 0.0
    return f"{entry['name']} ({entry['id']}; {entry['devices_per_node']} per node, {nic:,.0f} Gb/s of NICs)"


def hardware_label(hid: str) -> str:
    for h in hardware_catalog():
        if h["id"] == hid:
            return f"{h['name']} ({hid})" if h.get("name") and h["name"] != hid else hid
    return hid


def model_label(mid: str) -> str:
    for m in model_catalog():
        if m["id"] == mid:
            p = m.get("params_total")
            size = f" · {p / 1e9:,.1f}B" if p else ""
            moe = " MoE" if (m.get("n_experts") or 1) > 1 else ""
            # Gated DeltaNet or Mamba-2 layers + softmax layers
            hybrid = (" hybrid Mamba-2" if m.get("linear_attention_kind") == "mamba2"
                      else " hybrid-attention" if m.get("linear_attention_layers") else "")
            sparse = " sparse-attention" if m.get("sparse_attention_topk") else ""  # DeepSeek Sparse Attention
            return f"{m.get('name') or mid}{size}{moe}{hybrid}{sparse}"
    return mid


def model_select(cls: type[BaseModel], *, key: str, default: str, label: str = "Model") -> str:
    ids = [m["id"] for m in model_catalog()]
    return select(cls, "model", key=key, default=default, label=label, options=ids, format_func=model_label)


def hardware_select(cls: type[BaseModel], *, key: str, default: str, label: str = "Hardware",
                    name: str = "hardware") -> str:
    return select(cls, name, key=key, default=default, label=label, options=hardware_ids(),
                  format_func=hardware_label)


def first_value(key: str, value: Any, arg: str = "value") -> dict[str, Any]:
    """A keyed widget's default (`value=`, or `index=` for a select) only while the session holds none for the key (a
    share link's value or the reader's choice): passing it as well would make Streamlit warn and, run outside
    Streamlit, the widget would read nothing. Spread it into the widget call: number_input(..., **first_value(k, 2.0))."""
    return {} if key in st.session_state else {arg: value}


def seed_state(values: dict[str, Any]) -> None:
    """Write widget values (e.g. from a share link) into session state before the widgets draw."""
    for k, v in values.items():
        st.session_state[k] = v


def seed_from_link(param: str, cls: type[BaseModel], to_state: Callable[[Any], dict[str, Any]]) -> None:
    """Once per session and link: decode ?param=..., validate through cls, seed the widgets."""
    from costsim.errors import InputError
    from costsim.ui.share import decode_spec

    token = st.query_params.get(param)
    done_key = f"_seeded_{param}"
    if not token or st.session_state.get(done_key) == token:
        return
    st.session_state[done_key] = token
    try:
        spec = decode_spec(cls, token)
        state = to_state(spec)  # a valid request this page cannot show (more rows than it has) is refused here
    except InputError as exc:
        link_note(f"Ignored the share link: {exc}")
        return
    seed_state(state)


#: session key of this run's share-link notes [(text, query name, widget key)], said once the widgets have drawn
LINK_NOTES_KEY = "_link_notes"
_NOTES_BOX_KEY = "_link_notes_box"


def link_note(text: str, name: str | None = None, key: str | None = None) -> None:
    """A share link's refusal, said once the page's widgets have drawn (`show_link_notes`): the link is read before
    them, when the labels that name its fields and parameters are not known yet ('fleet.0.gpus' is 'Accelerator 1:
    count'). `name`: the query parameter refused, whose widget (session `key`) names it. The note shows where the
    link was read (the top of the page)."""
    notes = st.session_state.setdefault(LINK_NOTES_KEY, [])
    if not notes:
        st.session_state[_NOTES_BOX_KEY] = st.container()
    notes.append((text, name, key))


def new_page_run() -> None:
    """Before a page draws (app.py): forget the previous run's emptied boxes and unsaid share-link notes."""
    from costsim.ui import numbers

    numbers.new_page_run()
    st.session_state.pop(LINK_NOTES_KEY, None)
    st.session_state.pop(_NOTES_BOX_KEY, None)


def show_link_notes() -> None:
    """Say this run's share-link notes (`link_note`) in the page's words: each refused parameter by its widget's label,
    each field by its widget's label and units (`in_page_words`)."""
    notes = st.session_state.pop(LINK_NOTES_KEY, None) or []
    box = st.session_state.pop(_NOTES_BOX_KEY, None)
    labels: dict[str, str] = dict(st.session_state.get(KEY_LABELS_KEY) or {})
    for text, name, key in notes:
        label = labels.get(key or "")
        if name and label:
            text = text.replace(f"share link's {name}", f"'{label}'")
        (box if box is not None else st).warning(in_page_words(text))


#: a page's inputs carried as query parameters of their own: {query name: (widget key, reader)} (readers: costsim.ui.share)
LinkInputs = dict[str, tuple[str, Callable[[str, str], Any]]]


def seed_inputs_from_link(link: LinkInputs) -> None:
    """Once per link value: each input's widget seeded from its own query parameter, read back by its reader; a value
    the reader refuses is said (naming the parameter) and ignored."""
    from costsim.errors import InputError

    for name, (key, read) in link.items():
        text = st.query_params.get(name)
        done_key = f"_seeded_{key}"
        if text is None or st.session_state.get(done_key) == text:
            continue
        st.session_state[done_key] = text
        try:
            st.session_state[key] = read(name, text)
        except InputError as exc:
            link_note(f"Ignored part of the share link: {exc.message}", name, key)


def share_inputs(link: LinkInputs, query: dict[str, str] | None = None, page_names: tuple[str, ...] = ()) -> None:
    """Keep the address bar a share link for this page's current inputs and show the link. The query is `query` (e.g.
    a request's token) plus each of `link`'s inputs as its widget's value (`share.link_text`); `page_names`: query
    parameters this page may hold for inputs not drawn now (the other mode's), removed from the address bar."""
    from costsim.ui.share import link_text, link_url

    show_link_notes()  # the widgets have drawn: the link's refusals in their labels' words
    query = dict(query or {})
    for name, (key, _) in link.items():
        query[name] = link_text(st.session_state.get(key))
        st.session_state[f"_seeded_{key}"] = query[name]  # our own link must not re-seed the widgets
    for name, value in query.items():
        if st.query_params.get(name) != value:
            st.query_params[name] = value
    for name in page_names:
        if name not in query and name in st.query_params:
            del st.query_params[name]
    try:
        page_url = st.context.url or ""
    except Exception:  # noqa: BLE001 - no browser context (tests, bare mode)
        page_url = ""
    with st.expander("Share link"):
        st.caption("The address bar already holds this link: the inputs as text (a request as validated JSON, "
                   "base64url), read back through the same checks as the widgets when opened.")
        st.code(link_url(page_url, query), language=None)


def share_box(param: str, spec: BaseModel, extras: LinkInputs | None = None) -> None:
    """Keep the address bar a share link for this page's request (?param=<token>), plus `extras`: inputs outside it
    as their own query parameters, and show the link."""
    from costsim.ui.share import encode_spec

    token = encode_spec(spec)
    st.session_state[f"_seeded_{param}"] = token  # our own link must not re-seed the widgets
    share_inputs(extras or {}, {param: token})


def grouped_number_columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """column_config for st.dataframe: numeric columns holding a value of 1,000 or more read with thousands separators
    (1,360,000 $, not 1360000; 4,860 MWh, not 4860); other columns as Streamlit draws them."""
    big: dict[str, Any] = {}
    for r in rows:
        for k, v in r.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) >= 1e3:
                big[k] = st.column_config.NumberColumn(k, format="localized")
    return big


def assumptions_box(assumptions: Any) -> None:
    """The result's assumptions (each with its source) as a table."""
    if not assumptions:
        return
    with st.expander("Assumptions and their sources"):
        if isinstance(assumptions, list) and all(isinstance(a, dict) for a in assumptions):
            st.dataframe(assumption_rows(assumptions), width="stretch", hide_index=True)
        else:
            st.json(assumptions, expanded=True)


def assumption_text(v: Any) -> str:
    """An assumption's value for a reader: 989.4T and 0.000025, not 9.894e+14 and 2.5e-05; 'compute 0.85, communication
    0.1', not a dict's repr."""
    from costsim.numtext import count, sig

    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        return count(v, 4) if abs(v) >= 1e6 else sig(v, 6)  # 0.000025, never 2.5e-05
    if isinstance(v, dict):
        return ", ".join(f"{k} {assumption_text(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(assumption_text(x) for x in v)
    return str(v)


def assumption_rows(assumptions: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The assumptions table: each one in words (its description, or its name read as words: 'peak flop per s', not
    peak_flop_per_s), its value, unit and source."""
    from costsim.ui.fmt import words

    return [{"assumption": a.get("description") or words(str(a.get("name", ""))), "value": assumption_text(a.get("value")),
             "unit": assumption_text(a.get("unit")), "source": assumption_text(a.get("source"))} for a in assumptions]


def request_and_result(param: str, cls: type[BaseModel], to_state: Callable[[Any], dict[str, Any]],
                       inputs: Callable[[], dict[str, Any]], build: Callable[[dict[str, Any]], BaseModel],
                       call: Callable[[str], dict[str, Any]],
                       extras: dict[str, tuple[str, float, float]] | None = None) -> tuple[dict[str, Any], BaseModel | None, dict[str, Any] | None]:
    """The shared top of a core page: seed the widgets from a share link, read them into a validated
    spec, show the share box, call the cached API. Returns (inputs, request, result); request or
    result is None after the page has shown why (bad input, or the API refused the request). `extras`: page
    inputs outside the request that the link carries as their own numbers ({query name: (widget key, lo, hi)})."""
    from costsim.errors import InputError
    from costsim.ui import compute
    from costsim.ui.numbers import blank_error
    from costsim.ui.share import read_number

    link: LinkInputs = {name: (key, read_number(lo, hi)) for name, (key, lo, hi) in (extras or {}).items()}
    seed_from_link(param, cls, to_state)
    seed_inputs_from_link(link)
    st.session_state[LABELS_KEY] = {}
    d = inputs()
    show_link_notes()
    if blank := blank_error():  # an emptied box: said by its label, nothing computed (it read 0 and priced with it)
        st.error(blank)
        return d, None, None
    try:
        req = build(d)
    except InputError as exc:
        show_error(exc)
        st.caption("The results below the inputs are shown again once every input is valid.")
        return d, None, None
    share_box(param, req, link)
    try:
        res = call(req.model_dump_json())
    except compute.Unavailable as why:
        st.info(f"This estimate is not available in this build: {why}.")
        return d, req, None
    except InputError as exc:
        show_error(exc)
        return d, req, None
    st.session_state[f"{param}_result"] = res
    return d, req, res


NO_REGION = "none"


def region_ids() -> list[str]:
    """The grid regions a page offers (costsim grid regions): shipped ids only, never a file path (browser input)."""
    try:
        from costsim.power.signals import available_regions
    except ImportError:
        return []
    return available_regions()


def energy_rate_inputs(prefix: str, cls: type[BaseModel], *, elec_default: float, gco2_default: float) -> dict[str, Any]:
    """The electricity price and carbon intensity of a Train / Serve request: a grid region (its annual means, as
    `--region`) or the flat rates typed in. Returns region (None: flat), elec and gco2 (None under a region)."""
    region = select(cls, "region", key=prefix + "region", default=NO_REGION, label="Grid region",
                    options=[NO_REGION, *region_ids()], format_func=lambda r: "none (flat rates)" if r == NO_REGION else r)
    if region != NO_REGION:
        st.caption(f"Electricity price and carbon: {region}'s annual means, every hour weighted equally "
                   "(choose none to type flat rates).")
        return {"region": region, "elec": None, "gco2": None}
    from costsim.specs.site import EconomicsSpec

    return {"region": None,
            "elec": number(EconomicsSpec, "electricity_usd_per_kwh", key=prefix + "elec", default=elec_default,
                           label="Electricity, $/kWh", step=0.01),
            "gco2": number(EconomicsSpec, "grid_gco2e_per_kwh", key=prefix + "gco2", default=gco2_default,
                           label="Grid carbon, gCO2e/kWh", step=10.0)}


def economics_data(d: dict[str, Any]) -> dict[str, Any]:
    """EconomicsSpec fields of a page's inputs (energy_rate_inputs and the rental price): the flat rates only
    without a region (a region beside a flat rate is refused)."""
    out = {"usd_per_gpu_hour": d.get("usd_per_gpu_hour")}
    if d.get("region") is None:
        out.update(electricity_usd_per_kwh=d.get("elec"), grid_gco2e_per_kwh=d.get("gco2"))
    return out


def rates_caption(res: dict[str, Any]) -> None:
    """Which electricity price and carbon intensity priced the result (its energy_rates)."""
    from costsim.report.fmt import energy_rates_text

    if text := energy_rates_text(res.get("energy_rates") if isinstance(res, dict) else None):
        st.caption(f"Electricity: {text}.")


def trust_caption(res: dict[str, Any]) -> None:
    """The result's trust range (held-out validation error of its regime), shown next to the headline numbers."""
    from costsim.api.trust import band_sentence

    for key in ("error_band", "power_error_band"):
        if text := band_sentence(res.get(key) if isinstance(res, dict) else None):
            st.caption(text)


def scenario_dirs() -> list[Path]:
    """Where shipped scenarios live: ./scenarios, then the installed package's copy or the checkout's (the catalog's
    scenarios_dir: an app started from another directory found none, and its Optimize page failed on Search)."""
    from costsim.specs.catalog import scenarios_dir

    return [d for d in dict.fromkeys([Path.cwd() / "scenarios", scenarios_dir()]) if d.is_dir()]


def scenario_files() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for d in scenario_dirs():
        for f in sorted(d.glob("*.y*ml")):
            out.setdefault(f.name, f)
    return out
