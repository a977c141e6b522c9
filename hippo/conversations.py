"""Conversations as a corpus: sessions of dated, attributed turns.

Two file shapes are recognised by their content:

* LoCoMo's JSON (a list of `{"sample_id", "conversation": {"session_N", "session_N_date_time",
  ...}, ...}`): each `session_N` is a session of the conversation named by `sample_id`, each
  of its turns keeps its dialog id (`dia_id`, e.g. `D3:5`), speaker and text (a shared photo's
  caption is kept as `[shares a photo: ...]`).
* hippo's plain conversation format, JSON Lines with one turn per line:
  `{"conversation": "c1", "session": 1, "date": "8 May 2023", "speaker": "Ann", "text": "..."}`
  (optional `"id"`: the turn's dialog id, default `D<session>:<n>` counting the session's turns).

A session becomes one group of passages, one per turn. A turn's passage text carries its date
and speaker (`[8 May 2023] Ann: ...`), so the reader sees who said what and when. Turn
passages are untitled, because a title is embedded with its passage and the session key in
front of every turn measurably hurt dense retrieval (see the README); the memory tables map
each turn to its session and dialog id. Two identical turns on the same date are one passage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hippo.corpus import BadFileError, Passage, passage_id

_SESSION_KEY = re.compile(r"^session_(\d+)$")
JSONL_FIELDS = ("conversation", "session", "speaker", "text")


@dataclass(frozen=True)
class Turn:
    """One utterance: its dialog id, speaker and words."""

    dia_id: str
    speaker: str
    text: str


@dataclass(frozen=True)
class Session:
    """A dated session of one conversation."""

    conversation: str
    session_id: str  # "session_<n>" or the name the file gives
    date: str
    turns: tuple[Turn, ...]

    @property
    def key(self) -> str:
        """`<conversation>/<session_id>`, e.g. `conv-26/session_3`."""
        return f"{self.conversation}/{self.session_id}"

    @property
    def number(self) -> int | None:
        """n of `session_<n>`, None for other names."""
        match = _SESSION_KEY.match(self.session_id)
        return int(match.group(1)) if match else None


def session_name(session: str | int) -> str:
    """The session id as stored: a number n becomes `session_<n>`, a name stays as given."""
    text = str(session).strip()
    return f"session_{text}" if text.isdigit() else text


def dated(session: Session, text: str) -> str:
    """`[date] text` (just `text` for an undated session)."""
    return f"[{session.date}] {text}" if session.date else text


def turn_text(session: Session, turn: Turn) -> str:
    """A turn's passage text: `[date] Speaker: words`."""
    return dated(session, f"{turn.speaker}: {turn.text}")


def session_passages(session: Session) -> list[Passage]:
    """One untitled passage per turn (identical dated turns share one passage)."""
    return [Passage(passage_id("", text), "", text) for text in (turn_text(session, t) for t in session.turns)]


def transcript(session: Session) -> str:
    """The whole session as text: a date line, then one `Speaker: words` line per turn."""
    head = f"{session.key} ({session.date})" if session.date else session.key
    return "\n".join([head, *(f"{t.speaker}: {t.text}" for t in session.turns)])


def parse_conversations(path: Path, text: str) -> list[Session] | None:
    """The sessions of a LoCoMo or conversation-JSONL file, or None when the file has
    another shape (so the caller reads it as ordinary records). BadFileError when it has a
    conversation's shape but a broken record."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError:
            return None
        return locomo_sessions(path, loaded) if is_locomo(loaded) else None
    if suffix == ".jsonl":
        records = _jsonl_records(text)
        if records and all(isinstance(r, dict) and "speaker" in r and "conversation" in r for r in records):
            return jsonl_sessions(path, records)
    return None


def is_locomo(loaded: Any) -> bool:
    """True for LoCoMo's shape: a list of objects with `sample_id` and a `conversation` object."""
    return (isinstance(loaded, list) and bool(loaded) and all(
        isinstance(r, dict) and "sample_id" in r and isinstance(r.get("conversation"), dict) for r in loaded))


def locomo_sessions(path: Path, samples: Sequence[dict[str, Any]]) -> list[Session]:
    """Every session of every LoCoMo conversation, in session order."""
    sessions = []
    for sample in samples:
        name, conversation = str(sample["sample_id"]), sample["conversation"]
        numbers = sorted(int(m.group(1)) for k in conversation if (m := _SESSION_KEY.match(k)))
        for n in numbers:
            turns = conversation[f"session_{n}"]
            if not isinstance(turns, list):
                raise BadFileError(f"{path}: {name} session_{n} is not a list of turns; skipped")
            parsed = tuple(_locomo_turn(path, name, n, i, t) for i, t in enumerate(turns, 1))
            if parsed:
                date = str(conversation.get(f"session_{n}_date_time") or "")
                sessions.append(Session(name, f"session_{n}", date, parsed))
    if not sessions:
        raise BadFileError(f"{path}: a LoCoMo file without any session turns; skipped")
    return sessions


def _locomo_turn(path: Path, name: str, session: int, index: int, turn: Any) -> Turn:
    if not isinstance(turn, dict) or not isinstance(turn.get("text"), str):
        raise BadFileError(f"{path}: {name} session_{session} turn {index} has no string `text`; skipped")
    text = turn["text"].strip()
    if turn.get("blip_caption"):
        text = f"{text} [shares a photo: {turn['blip_caption']}]"
    return Turn(str(turn.get("dia_id") or f"D{session}:{index}"), str(turn.get("speaker", "")), text)


def _jsonl_records(text: str) -> list[Any]:
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError:
        return []


def jsonl_sessions(path: Path, records: Iterable[dict[str, Any]]) -> list[Session]:
    """Sessions from conversation JSON Lines records, in order of first appearance."""
    grouped: dict[tuple[str, str], list[Turn]] = {}
    dates: dict[tuple[str, str], str] = {}
    for line, record in enumerate(records, 1):
        missing = [f for f in JSONL_FIELDS[:3] if not isinstance(record.get(f), str | int)]
        missing += [] if isinstance(record.get("text"), str) else ["text"]
        if missing:
            raise BadFileError(f"{path}: line {line} lacks {', '.join(missing)} (a conversation turn needs "
                               f"{', '.join(JSONL_FIELDS)}); skipped")
        key = (str(record["conversation"]), session_name(record["session"]))
        turns = grouped.setdefault(key, [])
        dates.setdefault(key, str(record.get("date") or ""))
        number = key[1].removeprefix("session_")
        dia_id = str(record.get("id") or f"D{number}:{len(turns) + 1}")
        turns.append(Turn(dia_id, str(record["speaker"]), record["text"].strip()))
    return [Session(c, s, dates[(c, s)], tuple(t)) for (c, s), t in grouped.items()]


def session_records(conversation: str, session: str | int, turns: Sequence[Any], date: str) -> list[dict[str, Any]]:
    """Conversation JSON Lines records for one session; `turns` are {"speaker", "text"[, "id"]}
    dicts or (speaker, text) pairs."""
    records = []
    for index, turn in enumerate(turns, 1):
        if isinstance(turn, dict):
            speaker, text, dia_id = turn.get("speaker"), turn.get("text"), turn.get("id")
        elif isinstance(turn, list | tuple) and len(turn) == 2:
            (speaker, text), dia_id = turn, None
        else:
            raise ValueError(f"turn {index}: expected {{'speaker', 'text'}} or (speaker, text), got {turn!r}")
        if not isinstance(speaker, str) or not isinstance(text, str) or not text.strip():
            raise ValueError(f"turn {index}: speaker and text must be strings and text not empty")
        record = {"conversation": conversation, "session": session, "date": date, "speaker": speaker, "text": text}
        records.append({**record, "id": dia_id} if dia_id else record)
    return records
