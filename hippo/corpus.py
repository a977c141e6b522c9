"""Reading a corpus: finding files, decoding them safely, and cutting them into passages.

JSON and JSONL records with a `text` field (HippoRAG's `[{"title", "text"}]` corpus format)
are one passage each; a JSON object mapping titles to sentence lists (HippoRAG v1) is read
too. Plain `.txt` and `.md` documents are split into sentence-aligned passages: sentences end
at . ! ? (and ؟ ।) before a word that is not lower case, at the CJK marks 。！？ and at blank
lines; a "sentence" longer than the passage size is cut by words. Han and kana characters
count as half a word each (Chinese and Japanese have no spaces between words).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hippo.errors import HippoError

SUPPORTED_SUFFIXES = frozenset({".txt", ".md", ".json", ".jsonl"})
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kana and Han ideographs
_CJK_CLOSERS = "」』”’）》】〉"
_SENTENCE_END = re.compile(
    r"(?<=[.!?؟۔।])[\"')\]”’»]*\s+(?=[\"'(\[“‘«]?([^\W_]))"  # group 1: the next word's first character
    rf"|(?<=[。！？])[{_CJK_CLOSERS}]*\s*(?![。！？!?{_CJK_CLOSERS}])"
    r"|\n\s*\n"
)
_UNIT = re.compile(rf"(?P<cjk>[{_CJK}])|[^\s{_CJK}\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]{{1,50}}")
CJK_WORDS_PER_CHARACTER = 0.5
LONG_RUN_PASSAGES = 10  # a run this many passages long without a sentence mark is reported
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


class BadFileError(HippoError):
    """One corpus file cannot be read; indexing skips it with this message as a warning."""


@dataclass(frozen=True)
class Passage:
    """A unit of retrieval: a title and its text, identified by a hash of both."""

    id: str
    title: str
    text: str


def passage_string(passage: Passage) -> str:
    """The text embedded for a passage: its title line, then its text."""
    return f"{passage.title}\n{passage.text}" if passage.title else passage.text


@dataclass(frozen=True)
class SourceFile:
    """A corpus file found on disk, with the stat values used to detect changes."""

    path: Path
    size: int
    mtime_ns: int


def passage_id(title: str, text: str) -> str:
    """Stable content id of a passage: the same title and text always give the same id."""
    return hashlib.sha1(f"{title}\n{text}".encode()).hexdigest()[:16]


def discover(path: Path) -> list[SourceFile]:
    """Supported files at `path` (a file, or a folder searched recursively), sorted by path."""
    if not path.exists():
        raise HippoError(f"{path}: no such file or folder; pass a corpus folder or file")
    if path.is_file():
        candidates = [path]
    else:
        candidates = [
            p for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        ]
    found = []
    for file in sorted(candidates):
        if file.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        try:
            stat = file.stat()
        except FileNotFoundError:
            continue
        found.append(SourceFile(file.resolve(), stat.st_size, stat.st_mtime_ns))
    if path.is_file() and not found:
        raise HippoError(
            f"{path}: unsupported file type; use .txt, .md, .json or .jsonl"
        )
    return found


def decode(path: Path, data: bytes) -> str:
    """UTF-8 text of a file's bytes, or BadFileError for binary or undecodable content."""
    if b"\x00" in data[:8192]:
        raise BadFileError(f"{path}: looks binary (NUL bytes); skipped — remove it or convert to text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise BadFileError(
            f"{path}: not valid UTF-8 (byte {err.start}); skipped — convert it, "
            f"e.g. iconv -f latin1 -t utf-8"
        ) from None
    if not text.strip():
        raise BadFileError(f"{path}: empty file; skipped")
    return text


def split_sentences(text: str) -> list[str]:
    """Sentences of `text` by punctuation and blank lines (fast, no model needed)."""
    sentences, start = [], 0
    for boundary in _SENTENCE_END.finditer(text):
        if boundary.group(1) and boundary.group(1).islower():
            continue  # "e.g. this": an abbreviation inside a sentence
        sentences.append(text[start:boundary.end()].strip())
        start = boundary.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def count_words(text: str) -> float:
    """Words in `text`: whitespace-separated words (of at most 50 characters; a longer run
    counts once per 50), Han and kana characters half a word each."""
    return sum(map(_unit_weight, _UNIT.finditer(text)))


def cut_by_words(text: str, max_words: int) -> list[str]:
    """`text` in consecutive pieces of at most `max_words` words (see `count_words`)."""
    pieces, start, words = [], 0, 0.0
    for unit in _UNIT.finditer(text):
        weight = _unit_weight(unit)
        if words + weight > max_words and words:
            pieces.append(text[start:unit.start()].strip())
            start, words = unit.start(), 0.0
        words += weight
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def _unit_weight(unit: re.Match[str]) -> float:
    return CJK_WORDS_PER_CHARACTER if unit.group("cjk") else 1.0


def chunk_sentences(sentences: list[str], max_words: int, overlap: int) -> list[str]:
    """Groups sentences into chunks of at most ~max_words words, sharing `overlap` sentences."""
    chunks: list[str] = []
    start = 0
    while start < len(sentences):
        end, words = start, 0
        while end < len(sentences) and (end == start or words + _words(sentences[end]) <= max_words):
            words += _words(sentences[end])
            end += 1
        chunks.append(join_sentences(sentences[start:end]))
        if end >= len(sentences):
            break
        start = max(end - overlap, start + 1)
    return chunks


def _words(sentence: str) -> float:
    return count_words(sentence)


def join_sentences(sentences: list[str]) -> str:
    """Sentences as one text: a space between them, none after a CJK sentence mark."""
    text = sentences[0] if sentences else ""
    for sentence in sentences[1:]:
        text += sentence if text[-1] in "。！？" + _CJK_CLOSERS else " " + sentence
    return text


def document_title(path: Path, text: str) -> str:
    """The first Markdown heading, else the file name turned into words."""
    heading = _HEADING.search(text) if path.suffix.lower() == ".md" else None
    if heading:
        return heading.group(1).strip()
    return re.sub(r"[_\-]+", " ", path.stem).strip() or path.stem


def read_passages(
    path: Path, data: bytes, max_words: int, overlap: int, warn: Callable[[str], None] | None = None
) -> tuple[str, list[Passage]]:
    """The title and passages of one corpus file's bytes; BadFileError if it cannot be used.
    `warn` hears of text that had to be cut by words for lack of sentence punctuation."""
    text = decode(path, data)
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        from hippo.conversations import parse_conversations, session_passages

        if (sessions := parse_conversations(path, text)) is not None:
            return path.stem, [p for s in sessions for p in session_passages(s)]
        records = _json_records(path, text, suffix == ".jsonl")
        passages = [_file_record_passage(path, i, r) for i, r in enumerate(records)]
        title = path.stem
    else:
        title = document_title(path, text)
        body = _HEADING.sub("", text, count=1) if suffix == ".md" else text
        chunks = chunk_sentences(_bounded_sentences(path, body, max_words, warn), max_words, overlap)
        passages = [Passage(passage_id(title, c), title, c) for c in chunks]
    passages = [p for p in passages if p.text.strip()]
    if not passages:
        raise BadFileError(f"{path}: contains no passage text; skipped")
    return title, passages


def _bounded_sentences(
    path: Path, text: str, max_words: int, warn: Callable[[str], None] | None
) -> list[str]:
    """Sentences of `text`, those over `max_words` words cut by words."""
    bounded: list[str] = []
    for sentence in split_sentences(text):
        words = count_words(sentence)
        if words <= max_words:
            bounded.append(sentence)
            continue
        bounded.extend(cut_by_words(sentence, max_words))
        if warn and words > LONG_RUN_PASSAGES * max_words:
            warn(f"{path}: {words:.0f} words without sentence punctuation; "
                 f"cut into passages of --chunk-words {max_words} words")
    return bounded


def _json_records(path: Path, text: str, lines: bool) -> list[dict[str, Any]]:
    try:
        if lines:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            loaded = json.loads(text)
            records = _as_record_list(loaded)
    except json.JSONDecodeError as err:
        raise BadFileError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}; skipped") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise BadFileError(
            f'{path}: expected a list of {{"title", "text"}} records (or {{title: [sentences]}}); skipped'
        )
    return records


def _as_record_list(loaded: Any) -> Any:
    if isinstance(loaded, dict) and loaded and all(isinstance(v, list) for v in loaded.values()):
        return [{"title": t, "text": " ".join(map(str, s))} for t, s in loaded.items()]
    return loaded


def _file_record_passage(path: Path, index: int, record: dict[str, Any]) -> Passage:
    passage = record_passage(record)
    if passage is None:
        raise BadFileError(f'{path}: record {index} has no string "text" field; skipped')
    return passage


def record_passage(record: Mapping[str, Any]) -> Passage | None:
    """The one passage of a `{"title", "text"}` record; None if it has no string text."""
    text = record.get("text")
    if not isinstance(text, str):
        return None
    title = str(record.get("title") or "").strip()
    text = text.strip()
    return Passage(passage_id(title, text), title, text)


def content_hash(data: bytes) -> str:
    """SHA-256 of a file's bytes, used to tell real edits from touched files."""
    return hashlib.sha256(data).hexdigest()
