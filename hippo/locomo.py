"""LoCoMo as an evaluation set: its questions, and their evidence as gold sessions and turns.

A LoCoMo question's `evidence` lists dialog ids `D<s>:<t>` (turn t of session s); the gold
sessions are `<sample_id>/session_<s>`. Category 5 questions are adversarial (their answer,
`adversarial_answer`, says the conversation does not hold it) and are reported apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hippo.conversations import is_locomo
from hippo.errors import HippoError

ADVERSARIAL = 5
CATEGORY_NAMES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
_DIA_ID = re.compile(r"D(\d+):(\d+)")


@dataclass(frozen=True)
class ConversationQuestion:
    """A question about one conversation, with its gold dialog ids."""

    id: str
    conversation: str
    question: str
    answers: tuple[str, ...]
    category: int
    evidence: tuple[str, ...]  # dialog ids, e.g. ("D1:3", "D2:8")

    @property
    def gold_sessions(self) -> frozenset[str]:
        """`<conversation>/session_<s>` of every evidence turn."""
        return frozenset(f"{self.conversation}/session_{dia_id[1:].split(':')[0]}" for dia_id in self.evidence)


def evidence_ids(evidence: Any) -> tuple[str, ...]:
    """The distinct dialog ids in a LoCoMo `evidence` list, in order. Entries that pack
    several ids (`"D8:6; D9:17"`) are split; text that is not a dialog id is ignored."""
    found = [f"D{int(s)}:{int(t)}" for item in evidence or [] for s, t in _DIA_ID.findall(str(item))]
    return tuple(dict.fromkeys(found))


def read_locomo(path: Path) -> list[dict[str, Any]]:
    """The samples of a LoCoMo file; HippoError when the file is not LoCoMo."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HippoError(f"{path}: cannot read it as LoCoMo JSON ({err})") from None
    if not is_locomo(loaded):
        raise HippoError(f'{path}: not LoCoMo (a list of {{"sample_id", "conversation", "qa"}} objects)')
    return loaded


def is_locomo_file(path: Path) -> bool:
    """True when `path` is a .json file in LoCoMo's shape."""
    if path.suffix.lower() != ".json":
        return False
    try:
        return is_locomo(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False


def locomo_questions(samples: list[dict[str, Any]]) -> list[ConversationQuestion]:
    """Every question of every sample; ids are `<sample_id>:<n>` (n counts from 0)."""
    questions = []
    for sample in samples:
        name = str(sample["sample_id"])
        for n, qa in enumerate(sample.get("qa") or []):
            if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
                raise HippoError(f"LoCoMo {name}: qa {n} has no string `question`")
            answer = qa.get("answer", qa.get("adversarial_answer", ""))
            questions.append(ConversationQuestion(
                f"{name}:{n}", name, qa["question"], (str(answer),), int(qa.get("category", 0)),
                evidence_ids(qa.get("evidence"))))
    return questions


def conversation_only(sample: dict[str, Any]) -> list[dict[str, Any]]:
    """A one-sample LoCoMo list holding just the conversation (no questions, answers or
    LoCoMo's generated summaries), for indexing that conversation alone."""
    return [{"sample_id": sample["sample_id"], "conversation": sample["conversation"]}]
