"""The index's entity names found in a question without a parser: an Aho-Corasick automaton
(`pyahocorasick`) from each normalized entity name to its entity index.

A snapshot keeps the automata over its entity names in segments of rows (`name_segments`): an
add builds one over its new names only, merged with the segments before while they are no more
than twice its size, so each name is rebuilt a logarithmic number of times and a snapshot has a
logarithmic number of segments. It writes each beside its arrays (`save_names`; pickles read
back by an unpickler that allows the automaton class only, a segment the previous snapshot has
linked from it), so they always spell the snapshot's entity set; a query scans its
case-folded text once per segment. A match links where spaCy's token spans would
(`hippo.stages.link`'s "spacy" mentions): first spans between word boundaries that hold a word
looking like a name (capitalized beyond a sentence-initial stop word, a number, or a word of a
script without capitals) and not only stop words, longest first; then, in runs of a script
written without spaces (Chinese, Japanese, Thai...), any substring of two characters or more,
longest first. `capitalized_spans` stands in for spaCy's named-entity mentions.
"""

from __future__ import annotations

import importlib.util
import pickle
import re
import runpy
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import ahocorasick

from hippo.columns import link_file, segments_kept, sync

# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, kana, CJK ideographs.
UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
)
_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_NAME_WORD = re.compile(r"\w[\w'’-]*")
_SENTENCE_END = re.compile(r"(^|[.!?])[\s\"'“‘(\[]*$")


@cache
def stop_words() -> frozenset[str]:
    """spaCy's English stop words, read from its word-list module without importing spaCy
    (whose import pulls in thinc and, where installed, torch: seconds a process that never
    parses should not spend)."""
    spec = importlib.util.find_spec("spacy")  # finds the installed package without running it
    assert spec is not None and spec.submodule_search_locations, "spaCy is a dependency of hippo"
    word_list = Path(next(iter(spec.submodule_search_locations))) / "lang" / "en" / "stop_words.py"
    return frozenset(runpy.run_path(str(word_list))["STOP_WORDS"])


@dataclass(frozen=True)
class NameSegment:
    """The automaton over the normalized entity names of rows `start` to `end` - 1 (each name's
    value: its row). Names of stop words only are left out: they never link."""

    start: int
    end: int
    automaton: ahocorasick.Automaton

    @property
    def file(self) -> str:
        """Its file in a snapshot folder (`names_file`)."""
        return names_file(self.start, self.end)


def names_file(start: int, end: int) -> str:
    """The file of the segment over rows `start` to `end` - 1 (the same in every snapshot: its
    rows do not change)."""
    return f"names-{start}-{end}.pickle"


def _segment(names: Sequence[str], start: int, end: int) -> NameSegment:
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    stops = stop_words()
    for row in range(start, end):
        if any(word not in stops for word in _WORD.findall(names[row])):
            automaton.add_word(names[row], row)
    automaton.make_automaton()
    return NameSegment(start, end, automaton)


def name_segments(names: Sequence[str], kept: Sequence[NameSegment] = ()) -> list[NameSegment]:
    """The automata over `names` (normalized entity names, by row): `kept`, segments over their
    first rows, then one over the rest, merged with the last ones while it is at least half the
    size of the one before it."""
    segments, start = segments_kept(kept, len(names))
    if start < len(names) or not segments:
        segments.append(_segment(names, start, len(names)))
    return segments


def save_names(folder: Path, segments: Sequence[NameSegment], base: Path | None = None) -> None:
    """Writes each segment into snapshot folder `folder` (synced): a hard link to its file in
    snapshot folder `base` where that has it, else a pickle (it loads 14 times faster than
    pyahocorasick's own `save` format: 30 ms for 2Wiki's 41k names)."""
    for segment in segments:
        if base is not None and (base / segment.file).is_file():
            link_file(base / segment.file, folder / segment.file)
            continue
        with open(folder / segment.file, "wb") as handle:
            pickle.dump(segment.automaton, handle, protocol=pickle.HIGHEST_PROTOCOL)
            sync(handle)


def load_names(folder: Path, bounds: Sequence[Sequence[int]]) -> list[NameSegment]:
    """The segments a snapshot in `folder` saved, over rows `bounds` ((start, end) each)."""
    segments = []
    for start, end in bounds:
        with open(folder / names_file(start, end), "rb") as handle:
            automaton = _AutomatonUnpickler(handle).load()
        if not isinstance(automaton, ahocorasick.Automaton):
            raise ValueError(f"{names_file(start, end)} holds no name automaton")
        segments.append(NameSegment(start, end, automaton))
    return segments


class _AutomatonUnpickler(pickle.Unpickler):
    """Unpickles an automaton and nothing else: no other class or function can be named."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) != ("ahocorasick", "Automaton"):
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a name automaton's file")
        return ahocorasick.Automaton


def find_names(text: str, segments: Sequence[NameSegment], names: Sequence[str]) -> list[tuple[int, int, int]]:
    """Non-overlapping (start char, end char, entity) spans of `text` that spell a name."""
    folded, origin = _fold(text)
    spaced: list[tuple[int, int, int]] = []
    unspaced: list[tuple[int, int, int]] = []
    matches = [m for s in segments if folded and len(s.automaton) for m in s.automaton.iter(folded)]
    matches.sort(key=lambda m: (m[0], -len(names[m[1]])))  # one automaton's order, whatever the segments
    for last, entity in matches:
        first = last - len(names[entity]) + 1
        if (first > 0 and origin[first - 1] == origin[first]) or (
                last + 1 < len(origin) and origin[last + 1] == origin[last]):
            continue  # starts or ends inside a character that folded to several
        start, end = origin[first], origin[last] + 1
        if _bounded(text, start, end) and _spells_a_name(text, start, end):
            spaced.append((start, end, entity))
        if end - start >= 2 and UNSPACED.fullmatch(text, start, end):
            unspaced.append((start, end, entity))
    taken = [False] * len(text)
    found = _take(sorted(spaced, key=lambda m: (-len(_TOKEN.findall(text, m[0], m[1])), m[0])), taken)
    return found + _take(sorted(unspaced, key=lambda m: (m[0] - m[1], m[0])), taken)


def _fold(text: str) -> tuple[str, list[int]]:
    """`text` NFKC-normalized and case-folded character by character, whitespace runs as one
    space, with the position in `text` of each folded character."""
    pieces: list[str] = []
    origin: list[int] = []
    for position, char in enumerate(text):
        if char.isspace():
            if not pieces or pieces[-1] == " ":
                continue
            piece = " "
        else:
            piece = unicodedata.normalize("NFKC", char).casefold()
        pieces.extend(piece)
        origin.extend([position] * len(piece))
    return "".join(pieces), origin


def _take(matches: list[tuple[int, int, int]], taken: list[bool]) -> list[tuple[int, int, int]]:
    """The matches, in order, that overlap no character taken before (marking theirs taken)."""
    kept = []
    for start, end, entity in matches:
        if not any(taken[start:end]):
            kept.append((start, end, entity))
            taken[start:end] = [True] * (end - start)
    return kept


def _bounded(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] starts and ends at word boundaries."""
    return not (start > 0 and text[start - 1].isalnum() and text[start].isalnum()) and not (
        end < len(text) and text[end].isalnum() and text[end - 1].isalnum())


def _spells_a_name(text: str, start: int, end: int) -> bool:
    """Holds a word that looks like a name and a word that is not a stop word."""
    stops = stop_words()
    words = list(_WORD.finditer(text, start, end))
    return any(w.group().lower() not in stops for w in words) and any(
        _looks_like_name(text, w.start(), w.group()) for w in words)


def _looks_like_name(text: str, start: int, word: str) -> bool:
    """Capitalized (a sentence-initial word only when not a stop word), a number, or a word of a
    script without capitals (Arabic, Hebrew, Devanagari, CJK...)."""
    if word[:1].isupper():
        return not _SENTENCE_END.search(text, 0, start) or word.lower() not in stop_words()
    return any(c.isdigit() for c in word) or not any(c.isupper() or c.islower() for c in word)


def capitalized_spans(text: str, covered: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """(start, end) of each run of capitalized words in `text` (one space apart; a sentence-initial
    stop word left out) that holds a word other than a stop word and overlaps no `covered` span: the
    proper names a named-entity recognizer would find, e.g. "Thomas Rickman" for "tom rickman"."""
    runs: list[list[int]] = []
    for word in _NAME_WORD.finditer(text):
        if not word.group()[0].isupper() or not _looks_like_name(text, word.start(), word.group()):
            continue
        if runs and text[runs[-1][1]:word.start()] == " ":
            runs[-1][1] = word.end()
        else:
            runs.append([word.start(), word.end()])
    stops = stop_words()
    return [(start, end) for start, end in runs
            if any(w.lower() not in stops for w in _WORD.findall(text, start, end))
            and not any(start < e and s < end for s, e in covered)]
