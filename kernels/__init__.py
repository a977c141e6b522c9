"""Personalized PageRank kernels for hippo (importable on their own: no hippo imports).

``ppr`` is the one entry point; backends are imported lazily so ``import kernels`` stays light.
"""

from kernels.api import ppr

__all__ = ["ppr"]
