"""hippo: graph-based retrieval for LLMs in the spirit of HippoRAG 2."""

from hippo.errors import HippoError

__all__ = ["HippoError"]
__version__ = "0.1.0"
