"""Conversations as a corpus: LoCoMo's JSON and hippo's conversation JSON Lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hippo.conversations import parse_conversations, session_passages, session_records
from hippo.corpus import BadFileError, read_passages

LOCOMO = [{
    "sample_id": "conv-9",
    "conversation": {
        "speaker_a": "Ann", "speaker_b": "Ben",
        "session_2_date_time": "1:00 pm on 9 May, 2023",
        "session_2": [{"speaker": "Ben", "dia_id": "D2:1", "text": "Back from Lisbon!"}],
        "session_1_date_time": "2:00 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ann", "dia_id": "D1:1", "text": "Hi Ben."},
            {"speaker": "Ben", "dia_id": "D1:2", "text": "Look at my dog.", "blip_caption": "a beagle on grass"},
        ],
    },
    "qa": [{"question": "Where was Ben?", "answer": "Lisbon", "evidence": ["D2:1"], "category": 4}],
}]


def test_locomo_sessions_keep_dialog_ids_speakers_dates_in_session_order(tmp_path: Path) -> None:
    sessions = parse_conversations(tmp_path / "locomo.json", json.dumps(LOCOMO))
    assert sessions is not None
    assert [s.key for s in sessions] == ["conv-9/session_1", "conv-9/session_2"]
    first = sessions[0]
    assert first.date == "2:00 pm on 8 May, 2023"
    assert [(t.dia_id, t.speaker) for t in first.turns] == [("D1:1", "Ann"), ("D1:2", "Ben")]
    assert first.turns[1].text == "Look at my dog. [shares a photo: a beagle on grass]"


def test_turn_passages_carry_date_and_speaker_untitled(tmp_path: Path) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps(LOCOMO))
    title, passages = read_passages(path, path.read_bytes(), 120, 1)
    assert title == "locomo"
    assert [p.title for p in passages] == ["", "", ""]
    assert passages[0].text == "[2:00 pm on 8 May, 2023] Ann: Hi Ben."


def test_identical_turns_on_two_dates_stay_two_passages(tmp_path: Path) -> None:
    records = [{"conversation": "c", "session": s, "date": d, "speaker": "A", "text": "Bye!"}
               for s, d in ((1, "1 May"), (2, "2 May"), (3, ""))]
    sessions = parse_conversations(tmp_path / "c.jsonl", "\n".join(json.dumps(r) for r in records))
    assert sessions is not None
    assert len({p.id for s in sessions for p in session_passages(s)}) == 3
    assert sessions[2].date == "" and session_passages(sessions[2])[0].text == "A: Bye!"


def test_conversation_jsonl_groups_turns_and_numbers_dialog_ids(tmp_path: Path) -> None:
    records = session_records("c1", 3, [("Ann", "Hello"), {"speaker": "Ben", "text": "Hi", "id": "X7"}], "today")
    sessions = parse_conversations(tmp_path / "c.jsonl", "\n".join(json.dumps(r) for r in records))
    assert sessions is not None and len(sessions) == 1
    assert sessions[0].key == "c1/session_3"
    assert [t.dia_id for t in sessions[0].turns] == ["D3:1", "X7"]


def test_other_json_is_not_a_conversation(tmp_path: Path) -> None:
    assert parse_conversations(tmp_path / "c.json", json.dumps([{"title": "A", "text": "B"}])) is None
    assert parse_conversations(tmp_path / "c.jsonl", json.dumps({"title": "A", "text": "B"})) is None


def test_a_broken_turn_names_the_file_and_line(tmp_path: Path) -> None:
    line = json.dumps({"conversation": "c", "session": 1, "speaker": "A", "text": 5})
    with pytest.raises(BadFileError, match=r"c\.jsonl: line 1 lacks text"):
        parse_conversations(tmp_path / "c.jsonl", line)
    with pytest.raises(ValueError, match="turn 1"):
        session_records("c", 1, [("A",)], "")
