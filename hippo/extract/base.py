"""The OpenIE contract: what an extractor returns and how entity names are normalized."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hippo.corpus import Passage

_EDGE_PUNCT = re.compile(r"^[^\w(]+|[^\w)]+$", re.UNICODE)
_SPACES = re.compile(r"\s+")
_LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['’]s$")


@dataclass(frozen=True)
class Triple:
    """A subject-relation-object fact; subject and object are normalized entity names."""

    subject: str
    relation: str
    object: str

    def text(self) -> str:
        """The fact as one phrase, the string that is embedded and shown."""
        return f"{self.subject} {self.relation} {self.object}"


@dataclass(frozen=True)
class Extraction:
    """OpenIE output for one passage. `error` set means it failed and will be retried."""

    entities: tuple[str, ...] = ()
    triples: tuple[Triple, ...] = ()
    repairs: int = 0
    error: str | None = field(default=None, compare=False)


class Extractor(Protocol):
    """Turns passages into entities and triples; `name` is recorded in the index."""

    name: str

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        """One Extraction per passage, in order."""
        ...


def normalize_entity(name: str) -> str:
    """Canonical entity key: NFKC, case-folded, trimmed of articles, possessives and edge
    punctuation, whitespace collapsed. Letters of every script are kept."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = _SPACES.sub(" ", text).strip()
    text = _EDGE_PUNCT.sub("", text)
    text = _POSSESSIVE.sub("", text)
    text = _LEADING_ARTICLE.sub("", text)
    return _balance_brackets(_EDGE_PUNCT.sub("", text)).strip()


def _balance_brackets(text: str) -> str:
    """Drops a leading "(" or trailing ")" that has no partner, keeping "Ray (film)" whole."""
    while text.startswith("(") and ")" not in text:
        text = text[1:].lstrip()
    while text.endswith(")") and "(" not in text:
        text = text[:-1].rstrip()
    if text.count("(") > text.count(")"):
        text += ")"
    return text


def normalize_relation(relation: str) -> str:
    """A relation phrase in lower case with single spaces."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", relation).casefold()).strip()
