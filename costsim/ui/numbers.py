"""Number boxes a reader may empty: every page's number inputs go through `number_box`.

Streamlit's number input, given a default, cannot be left empty: an emptied box snapped back to the widget's minimum
(0 for most) and the page computed with it (Electricity, $/kWh emptied read 0.00 and priced the run's power at nothing).
Here every box is drawn without a widget default, so an emptied box reads as empty; a box whose empty state means
something (its placeholder says what: 'unlimited', 'the TDP') passes it on as None, and any other empty box is
recorded so the page says which box is empty, in its label's words and units, and what to enter, and computes nothing
until every box holds a number (`blank_error`). The boxes' last numbers are kept to say what a box held.
"""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from costsim.errors import InputError

#: session key of the empty boxes of the page being drawn: {widget key: (label, what to enter)} (reset per page run by
#: `new_page_run`; a box that holds a number again leaves it, so a page run on its own says no stale box)
BLANK_KEY = "_blank_boxes"
#: session key of {widget key: the last number its box held}
LAST_KEY = "_last_numbers"


def new_page_run() -> None:
    """Forget the empty boxes of the previous run (app.py, before a page draws)."""
    st.session_state[BLANK_KEY] = {}


def number_text(x: float) -> str:
    """A number as a reader writes it: 1,024 and 150,000 (thousands separators), 0.08, 0.00001 (never 1e-05)."""
    from costsim.numtext import sig

    x = float(f"{float(x):.12g}")
    if x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return sig(x, 6) if 1e-12 <= abs(x) < 1e15 else f"{x:,.6g}"


def range_words(lo: float | None, hi: float | None, *, integer: bool = False, lo_open: bool = False,
                hi_open: bool = False) -> str:
    """'a whole number from 4 to 200', 'a number above 0', 'a number of at least 1', 'a number' (no finite bound)."""
    what = "a whole number" if integer else "a number"
    has_lo = lo is not None and math.isfinite(lo)
    has_hi = hi is not None and math.isfinite(hi)
    if has_lo and has_hi:
        if lo_open or hi_open:
            return f"{what} {'above' if lo_open else 'of at least'} {number_text(lo)} and {'below' if hi_open else 'at most'} {number_text(hi)}"
        return f"{what} from {number_text(lo)} to {number_text(hi)}"
    if has_lo:
        return f"{what} {'above' if lo_open else 'of at least'} {number_text(lo)}"
    if has_hi:
        return f"{what} {'below' if hi_open else 'of at most'} {number_text(hi)}"
    return what


def number_box(label: str, *, key: str, default: float | int | None, where: Any = None, blank_ok: bool = False,
               integer: bool = False, min_value: float | None = None, max_value: float | None = None,
               step: float | None = None, fmt: str | None = None, placeholder: str | None = None, help: str | None = None,
               bounds: tuple[float | None, float | None, bool, bool] | None = None, said_as: str | None = None) -> Any:
    """st.number_input (in `where`, a column or the sidebar; the page by default) that a reader may empty. The default
    is written into session state once (a share link or a test seeds the box by setting its key first), never passed
    as the widget's default: a widget default made an emptied box read its minimum. An empty box returns None; unless
    `blank_ok` (its placeholder says what empty means) it is recorded for `blank_error`. `bounds` (lo, hi, lo_open,
    hi_open) are what the message asks for when they are not the widget's own (a spec field's, checked by the spec);
    `said_as`: the box's name in the message where its label alone is ambiguous ('Accelerator 2: count', not 'Count')."""
    if key not in st.session_state:
        st.session_state[key] = (int(default) if integer else float(default)) if default is not None else None
    kwargs: dict[str, Any] = {}
    cast = int if integer else float
    if min_value is not None:
        kwargs["min_value"] = cast(min_value)
    if max_value is not None:
        kwargs["max_value"] = cast(max_value)
    if step is not None:
        kwargs["step"] = cast(step)
    elif integer:
        kwargs["step"] = 1
    if fmt:
        kwargs["format"] = fmt
    v = (where if where is not None else st).number_input(label, value=None, key=key, help=help, placeholder=placeholder,
                                                          **kwargs)
    last: dict[str, Any] = st.session_state.setdefault(LAST_KEY, {})
    blanks: dict[str, tuple[str, str]] = st.session_state.setdefault(BLANK_KEY, {})
    if v is not None:
        last[key] = v
        blanks.pop(key, None)
        return v
    if not blank_ok:
        lo, hi, lo_open, hi_open = bounds if bounds is not None else (min_value, max_value, False, False)
        held = last.get(key, default)
        ask = range_words(lo, hi, integer=integer, lo_open=lo_open, hi_open=hi_open)
        blanks[key] = (said_as or label, ask + (f"; it held {number_text(held)}" if held is not None else ""))
    return None


def blank_error(only: tuple[str, ...] | None = None) -> str | None:
    """The message for this run's empty boxes (each named by its label, with what to enter), or None when none is;
    `only`: just the boxes of these labels (the one a button of the page needs)."""
    blanks = [b for b in (st.session_state.get(BLANK_KEY) or {}).values() if only is None or b[0] in only]
    if not blanks:
        return None
    if len(blanks) == 1:
        label, ask = blanks[0]
        return f"'{label}' is empty: enter {ask}. Nothing is computed until every box holds a number."
    each = "; ".join(f"'{label}' ({ask})" for label, ask in blanks)
    return f"{len(blanks)} boxes are empty: {each}. Enter a number in each; nothing is computed until every box holds one."


def check_filled() -> None:
    """InputError naming this run's empty boxes (`blank_error`), if any."""
    if text := blank_error():
        raise InputError(text)
