"""Share links: a request or scenario as validated JSON in a URL query parameter.

The token is base64url (no padding) of the canonical JSON of the spec. Decoding parses the JSON
and validates it through the same pydantic spec the page uses, so a link can only ever carry
data the form itself could produce. Never pickle: unpickling a URL would run code on the server.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TypeVar
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


def decode_spec(cls: type[S], token: str) -> S:
    """base64url token -> validated spec; InputError (one paragraph) for anything malformed."""
    if len(token) > MAX_TOKEN_CHARS:
        raise InputError(f"share link is too long ({len(token)} characters, at most {MAX_TOKEN_CHARS}); "
                         "open the scenario file instead.")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InputError("share link is not valid base64url-encoded JSON; copy the whole link again.") from None
    if not isinstance(data, dict):
        raise InputError("share link must encode a JSON object of field: value pairs.")
    return validate_spec(cls, data, what=cls.__name__, source="share link")  # type: ignore[arg-type]


def share_query(param: str, spec: BaseModel) -> str:
    """The query string ('?param=token') that reproduces spec on its page."""
    return "?" + urlencode({param: encode_spec(spec)})


def share_url(page_url: str, param: str, spec: BaseModel) -> str:
    """page_url without its query, plus the share query."""
    base = page_url.split("?", 1)[0].split("#", 1)[0]
    return base + share_query(param, spec)
