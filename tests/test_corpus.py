"""Reading corpus files: formats, passage splitting, stable ids and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hippo.corpus import (
    BadFileError,
    chunk_sentences,
    count_words,
    discover,
    passage_id,
    read_passages,
    split_sentences,
)
from hippo.errors import HippoError


def _read(path: Path, text: str | bytes, words: int = 120, overlap: int = 1):
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    path.write_bytes(data)
    return read_passages(path, data, words, overlap)


def test_json_list_records_are_one_passage_each(tmp_path: Path) -> None:
    records = [{"title": "A", "text": "Alpha text."}, {"title": "B", "text": "Beta text."}]
    _, passages = _read(tmp_path / "c.json", json.dumps(records))
    assert [(p.title, p.text) for p in passages] == [("A", "Alpha text."), ("B", "Beta text.")]
    assert passages[0].id == passage_id("A", "Alpha text.")


def test_hipporag_v1_title_to_sentences_dict(tmp_path: Path) -> None:
    _, passages = _read(tmp_path / "c.json", json.dumps({"Paris": ["Paris is big.", " It is old."]}))
    assert passages[0].title == "Paris"
    assert passages[0].text == "Paris is big.  It is old."


def test_jsonl_records(tmp_path: Path) -> None:
    _, passages = _read(tmp_path / "c.jsonl", '{"title": "A", "text": "x y"}\n\n{"title": "B", "text": "z"}\n')
    assert [p.title for p in passages] == ["A", "B"]


def test_markdown_title_from_heading_and_sentence_chunks(tmp_path: Path) -> None:
    body = " ".join(f"Sentence number {i} is here." for i in range(30))
    title, passages = _read(tmp_path / "notes.md", f"# My Notes\n\n{body}\n", words=20, overlap=1)
    assert title == "My Notes"
    assert len(passages) > 3
    assert all(p.title == "My Notes" for p in passages)
    assert all(p.text.endswith(".") for p in passages)
    assert split_sentences(passages[0].text)[-1] == split_sentences(passages[1].text)[0]  # overlap of 1


def test_text_title_from_file_name(tmp_path: Path) -> None:
    title, passages = _read(tmp_path / "korvan_motors-history.txt", "Korvan built cars. It sold many.")
    assert title == "korvan motors history"
    assert passages[0].text == "Korvan built cars. It sold many."


def test_split_sentences_keeps_abbreviations_of_lowercase_continuations() -> None:
    assert split_sentences("He left. She stayed! Did they? yes e.g. this") == [
        "He left.", "She stayed!", "Did they? yes e.g. this"
    ]


def test_chunk_never_drops_a_long_sentence() -> None:
    long = "word " * 50
    chunks = chunk_sentences(["Short one.", long.strip(), "Tail."], max_words=10, overlap=0)
    assert long.strip() in chunks
    assert "Tail." in chunks[-1]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"   \n", "empty file"),
        ("blob.txt", b"\x00\x01\x02binary", "looks binary"),
        ("latin.txt", "café au lait".encode("latin-1"), "not valid UTF-8"),
        ("bad.json", b'[{"title": "A", "text": ', "invalid JSON"),
        ("notext.json", b'[{"title": "A"}]', 'no string "text" field'),
        ("scalar.json", b'"just a string"', "expected a list"),
    ],
)
def test_bad_files_raise_one_line_errors_naming_the_file(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    with pytest.raises(BadFileError) as err:
        _read(tmp_path / name, content)
    message = str(err.value)
    assert name in message and reason in message and "\n" not in message


def test_discover_filters_suffixes_and_hidden_folders(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.pdf").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.md").write_text("x")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "d.txt").write_text("x")
    assert [f.path.name for f in discover(tmp_path)] == ["a.txt", "c.md"]


def test_discover_missing_path_and_unsupported_file(tmp_path: Path) -> None:
    with pytest.raises(HippoError, match="no such file or folder"):
        discover(tmp_path / "nope")
    (tmp_path / "x.pdf").write_text("x")
    with pytest.raises(HippoError, match="unsupported file type"):
        discover(tmp_path / "x.pdf")


def test_punctuation_free_text_is_cut_by_words_and_reported(tmp_path: Path) -> None:
    words = [f"word{i % 997}" for i in range(155_000)]  # about 1.2 MB, not one sentence mark
    notes: list[str] = []
    data = " ".join(words).encode()
    (tmp_path / "dump.txt").write_bytes(data)
    _, passages = read_passages(tmp_path / "dump.txt", data, 120, 1, warn=notes.append)
    assert len(data) > 1_200_000
    assert all(count_words(p.text) <= 120 for p in passages)
    assert sum(count_words(p.text) for p in passages) >= len(words)  # nothing dropped
    assert notes == [f"{tmp_path / 'dump.txt'}: 155000 words without sentence punctuation; "
                     "cut into passages of --chunk-words 120 words"]


def test_a_huge_token_is_cut_into_bounded_pieces(tmp_path: Path) -> None:
    _, passages = _read(tmp_path / "blob.txt", "x" * 300_000, words=20)
    assert len(passages) > 1 and max(len(p.text) for p in passages) <= 20 * 50


def test_cjk_sentence_marks_split_and_characters_count_as_words(tmp_path: Path) -> None:
    sentence = "青石桥是一座位于河谷上的古老石桥，由工程师李明设计。"  # 24 ideographs and 2 marks
    text = sentence * 150
    assert split_sentences(text) == [sentence] * 150
    assert count_words(sentence) == 12  # 24 ideographs at half a word each; punctuation is no word
    _, passages = _read(tmp_path / "zh.txt", text, words=120, overlap=1)
    assert 10 <= len(passages) <= 20
    assert passages[0].text.startswith(sentence + sentence)  # joined without spaces
    assert all(p.text.endswith("。") for p in passages)


def test_sentences_split_in_caseless_scripts_and_keep_closing_quotes() -> None:
    arabic = "صمم المهندس الجسر. بني الجسر عام ١٩٠٠؟ نعم."
    assert split_sentences(arabic) == ["صمم المهندس الجسر.", "بني الجسر عام ١٩٠٠؟", "نعم."]
    assert split_sentences('He said "Go." Then he left.') == ['He said "Go."', "Then he left."]
    assert split_sentences("「走吧。」他说。好！！真的？") == ["「走吧。」", "他说。", "好！！", "真的？"]
