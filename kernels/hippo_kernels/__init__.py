"""Personalized PageRank kernels for hippo (importable on their own: no hippo imports).

``ppr`` is the one entry point (``prepare`` readies a graph for many calls); backends are imported
lazily so ``import hippo_kernels`` stays light.
"""

from hippo_kernels.api import ppr, prepare
from hippo_kernels.graph import Graph

__all__ = ["Graph", "ppr", "prepare"]
