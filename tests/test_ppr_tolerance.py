"""The `ppr` stage stops at its default tolerance with the same top 10 as a converged float64 run."""

from __future__ import annotations

import json
from pathlib import Path

from hippo import Hippo
from hippo.stages.ppr import PPRStage
from tests.conftest import REPO, SAMPLE_QUESTIONS


def test_default_tolerance_keeps_the_converged_top_10(sample_index: Path, tmp_path: Path) -> None:
    converged = tmp_path / "converged.toml"
    spec = (REPO / "pipelines" / "hipporag2.toml").read_text(encoding="utf-8")
    converged.write_text(spec.replace('type = "ppr"', 'type = "ppr"\ntol = 1e-12\nprecision = "float64"'),
                         encoding="utf-8")
    assert PPRStage().tol > 1e-6  # the early stop under test
    hippo = Hippo(sample_index)
    for line in SAMPLE_QUESTIONS.read_text(encoding="utf-8").splitlines():
        question = json.loads(line)["question"]
        ranked = [[p.id for p in hippo.retrieve(question, pipeline=p, top_k=10).passages]
                  for p in ("hipporag2", str(converged))]
        assert ranked[0] == ranked[1], question
