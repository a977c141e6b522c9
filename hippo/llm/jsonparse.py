"""Lenient reading of JSON written by LLMs: code fences, chatter around it, odd key spellings."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```[\w-]*\s*(.*?)\s*(?:```|$)", re.DOTALL)
_KEY_JUNK = re.compile(r"[\s\-]+")


class NotJSON(ValueError):
    """The text holds no parseable JSON value."""


def loads_lenient(text: str) -> tuple[Any, int]:
    """The JSON value in `text` and how many repairs were needed to read it.

    Repairs: a ``` code fence stripped, text before or after the JSON value dropped.
    Raises NotJSON (with a short excerpt) when no object or array can be decoded.
    """
    repairs = 0
    body = text.strip()
    fenced = _FENCE.search(body)
    if fenced:
        body, repairs = fenced.group(1).strip(), repairs + 1
    try:
        return json.loads(body), repairs
    except json.JSONDecodeError:
        pass
    starts = [i for i in (body.find("{"), body.find("[")) if i >= 0]
    if starts:
        try:
            value, _ = json.JSONDecoder().raw_decode(body[min(starts):])
            return value, repairs + 1
        except json.JSONDecodeError:
            pass
    excerpt = body[:60].replace("\n", " ")
    raise NotJSON(f"not JSON: {excerpt!r}{'...' if len(body) > 60 else ''}")


def is_json(text: str) -> bool:
    """True when `loads_lenient` can read `text`."""
    try:
        loads_lenient(text)
    except NotJSON:
        return False
    return True


def normalize_keys(value: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Keys lower-cased with spaces and hyphens as underscores; counts keys that changed."""
    out: dict[str, Any] = {}
    changed = 0
    for key, item in value.items():
        clean = _KEY_JUNK.sub("_", str(key).strip()).lower()
        changed += clean != key
        out.setdefault(clean, item)
    return out, changed
