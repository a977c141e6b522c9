"""OpenIE extractors, chosen by name (`hippo index --extractor NAME`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hippo.errors import HippoError
from hippo.extract.base import Extraction, Extractor, Triple, normalize_entity, normalize_relation

_FACTORIES: dict[str, Callable[..., Extractor]] = {}


def register_extractor(name: str, factory: Callable[..., Extractor]) -> None:
    """Makes `factory(**options)` available as extractor `name`."""
    _FACTORIES[name] = factory


def extractor_names() -> list[str]:
    """Names accepted by `get_extractor`."""
    _register_builtins()
    return sorted(_FACTORIES)


def get_extractor(name: str, **options: Any) -> Extractor:
    """A ready extractor by name; HippoError naming the choices if unknown. Every factory
    takes `workers` (processes it may use; 1 = this one)."""
    _register_builtins()
    if name not in _FACTORIES:
        raise HippoError(f"--extractor {name!r} is unknown; choose one of: {', '.join(sorted(_FACTORIES))}")
    return _FACTORIES[name](**options)


def _register_builtins() -> None:
    if "spacy" in _FACTORIES:
        return
    from hippo.extract.spacy_ie import SpacyExtractor

    register_extractor("spacy", lambda workers=1, **_: SpacyExtractor(workers=workers))
    register_extractor("llm", _llm_extractor)


def _llm_extractor(workers: int = 1, **options: Any) -> Extractor:
    """The LLM extractor; `workers` is unused (the LLM layer has its own concurrency limit)."""
    from hippo.extract.llm_ie import LLMExtractor

    return LLMExtractor.from_options(**options)


__all__ = [
    "Extraction",
    "Extractor",
    "Triple",
    "extractor_names",
    "get_extractor",
    "normalize_entity",
    "normalize_relation",
    "register_extractor",
]
