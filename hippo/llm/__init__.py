"""LLMs behind one protocol (`LLM.generate`), chosen by `--llm`, with an on-disk response cache."""

from hippo.llm.base import LLMRequestError, LLMUnavailable, Message
from hippo.llm.cache import ResponseCache, default_cache_path
from hippo.llm.client import LLM, LLMStats
from hippo.llm.factory import make_llm

__all__ = [
    "LLM",
    "LLMRequestError",
    "LLMStats",
    "LLMUnavailable",
    "Message",
    "ResponseCache",
    "default_cache_path",
    "make_llm",
]
