"""German, Chinese and Arabic text (data/multilingual): chunking in every script, retrieval
with the bundled MiniLM where it can, and `--embedding-model` for a local model folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hippo import Hippo
from hippo.cli import main
from hippo.corpus import count_words, read_passages, split_sentences
from hippo.models import embedding_model_path
from hippo.stats import index_stats
from tests.conftest import REPO

CORPUS = REPO / "data" / "multilingual"


@pytest.fixture(scope="module")
def multilingual(tmp_path_factory: pytest.TempPathFactory) -> Hippo:
    h = Hippo(tmp_path_factory.mktemp("multilingual") / "index")
    h.index([CORPUS])
    return h


@pytest.mark.parametrize(("name", "mark", "sentences"), [
    ("qingshi.txt", "。", 32), ("muehlbach.md", ".", 25), ("wadi.txt", ".", 20),
])
def test_every_script_is_cut_into_sentence_aligned_passages(name: str, mark: str, sentences: int) -> None:
    path = CORPUS / name
    text = path.read_text(encoding="utf-8")
    assert len(split_sentences(text.split("\n", 1)[1] if name.endswith(".md") else text)) == sentences
    _, passages = read_passages(path, path.read_bytes(), 120, 1)
    assert len(passages) >= 2
    assert all(p.text.endswith(mark) and count_words(p.text) <= 120 for p in passages)


def _top(h: Hippo, question: str) -> str:
    return h.retrieve(question, pipeline="dense", top_k=1).passages[0].text


def test_german_question_finds_its_passage_with_minilm(multilingual: Hippo) -> None:
    assert "Klara Vogt" in _top(multilingual, "Wer hat die Mühlbachbrücke entworfen?")


@pytest.mark.parametrize(("question", "title", "answer"), [
    ("Wer hat die Mühlbachbrücke entworfen?", "Mühlbachbrücke", "Klara Vogt"), ("谁设计了青石桥？", "青石桥", "李明"),
    ("من صمم جسر الوادي؟", "جسر الوادي", "سامي حداد"),
])
def test_default_pipeline_links_a_title_in_any_script_and_ranks_its_passage_first(
    multilingual: Hippo, question: str, title: str, answer: str
) -> None:
    """The question spells a page title exactly (no capitals in Chinese or Arabic): hipporag2
    links it, and that page ranks first even where MiniLM's dense ranking cannot read the
    script: the best fact, parsed from foreign text by the English spaCy model, seeds its
    entities with its low cosine, not with a rescaled 1.0."""
    top = multilingual.retrieve(question, top_k=3)
    assert top.passages[0].title == title
    assert answer in top.passages[0].text
    link = next(t for t in top.trace if t["stage"] == "link")
    assert [e["entity"] for e in link["entities"] if e["score"] == 1.0] == [title.casefold()]


def test_rescaled_fact_seeds_let_a_foreign_parse_outrank_the_named_page(multilingual: Hippo, tmp_path: Path) -> None:
    """The case `fact_seed = "cosine"` fixes: with HippoRAG 2's min-max rescaling (and no
    `fact_threshold`) the Chinese question's best, unrelated fact weighs as much as the exactly
    named title."""
    pipeline = (REPO / "pipelines" / "hipporag2.toml").read_text(encoding="utf-8")
    pipeline = pipeline.replace('fact_seed = "cosine"', 'fact_seed = "min_max"')
    rescaled = tmp_path / "rescaled.toml"
    rescaled.write_text(pipeline.replace("fact_threshold = 0.35", "fact_threshold = 0"), encoding="utf-8")
    top = multilingual.retrieve("谁设计了青石桥？", pipeline=str(rescaled), top_k=3)
    assert top.passages[0].title != "青石桥"
    assert "青石桥" in [p.title for p in top.passages]


def test_a_question_that_links_nothing_gets_the_dense_ranking(multilingual: Hippo) -> None:
    """No title spelled and no fact near the Chinese question (the parser's facts are English
    noise): hipporag2 links nothing and ranks as `dense` does, which finds the bridge."""
    question = "谁设计了柳州镇的石拱桥？"
    graph = multilingual.retrieve(question, top_k=3)
    dense = multilingual.retrieve(question, pipeline="dense", top_k=3)
    link = next(t for t in graph.trace if t["stage"] == "link")
    assert link["facts"] == [] and link["entities"] == []
    assert [p.id for p in graph.passages] == [p.id for p in dense.passages]
    assert graph.passages[0].title == "青石桥"


def test_minilm_cannot_read_chinese_or_arabic() -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(embedding_model_path("all-MiniLM-L6-v2"))
    assert tokenizer.tokenize("谁设计了青石桥").count("[UNK]") >= 4
    assert len(tokenizer.tokenize("جسر الوادي")) >= 8  # two words, eight pieces


def test_embedding_model_option_takes_a_local_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "models" / "my-minilm"
    model.parent.mkdir()
    model.symlink_to(embedding_model_path("all-MiniLM-L6-v2"), target_is_directory=True)
    corpus = tmp_path / "muehlbach.md"
    corpus.write_bytes((CORPUS / "muehlbach.md").read_bytes())
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    index = ["--index", str(tmp_path / "idx")]
    result = runner.invoke(main, ["index", str(corpus), *index, "--quiet", "--embedding-model", "models/my-minilm"])
    assert result.exit_code == 0, result.output
    assert index_stats(tmp_path / "idx")["embedding_model"] == str(model.absolute())

    monkeypatch.chdir(REPO)  # the recorded path holds from anywhere
    assert "Klara Vogt" in _top(Hippo(tmp_path / "idx"), "Wer hat die Mühlbachbrücke entworfen?")

    other = runner.invoke(main, ["index", str(corpus), *index, "--embedding-model", "all-MiniLM-L6-v2"])
    assert other.exit_code == 2
    assert f"built with embedding model '{model.absolute()}', not 'all-MiniLM-L6-v2'" in other.stderr

    missing = runner.invoke(main, ["index", str(corpus), "--index", str(tmp_path / "new"),
                                   "--embedding-model", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1
    assert f"--embedding-model {tmp_path / 'nope'}: no such folder" in missing.stderr
    assert not (tmp_path / "new").exists()

    empty = tmp_path / "empty-model"
    empty.mkdir()
    broken = runner.invoke(main, ["index", str(corpus), "--index", str(tmp_path / "new"),
                                  "--embedding-model", str(empty)])
    assert broken.exit_code == 2 and "Traceback" not in broken.output
    assert f"embedding model '{empty}' cannot be loaded (no config.json in it)" in broken.stderr
    assert not (tmp_path / "new").exists()
