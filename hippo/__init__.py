"""hippo: graph-based retrieval for LLMs in the spirit of HippoRAG 2.

The Python API lives in `hippo.api`; its names are importable from here
(`from hippo import Hippo`) and load on first use, so `import hippo` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hippo.errors import HippoError

if TYPE_CHECKING:
    from hippo.api import Answer, Hippo, Retrieval, RetrievedPassage
    from hippo.indexer import IndexReport

__all__ = ["Answer", "Hippo", "HippoError", "IndexReport", "Retrieval", "RetrievedPassage"]
__version__ = "0.1.0"

_LAZY = {"Answer": "hippo.api", "Hippo": "hippo.api", "Retrieval": "hippo.api",
         "RetrievedPassage": "hippo.api", "IndexReport": "hippo.indexer"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hippo' has no attribute {name!r}")
