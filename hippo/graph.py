"""The knowledge graph, HippoRAG 2 style: entity nodes and passage nodes joined by fact
edges (subject-object), mention edges (passage-entity) and synonymy edges (entity-entity)."""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hippo.ann import UnitIndex
from hippo.corpus import Passage
from hippo.extract.base import Extraction, normalize_entity
from hippo.store import DerivedRecords

FACT_EDGE, MENTION_EDGE, SYNONYM_EDGE = 0, 1, 2


def entity_id(name: str) -> str:
    """Stable id of a normalized entity name."""
    return hashlib.sha1(f"entity\n{name}".encode()).hexdigest()[:16]


def fact_id(subject: str, relation: str, obj: str) -> str:
    """Stable id of a (subject, relation, object) triple of names."""
    return hashlib.sha1(f"fact\n{subject}\t{relation}\t{obj}".encode()).hexdigest()[:16]


def derive_records(passages: Sequence[Passage], extractions: dict[str, Extraction]) -> DerivedRecords:
    """Entities, facts and provenance of the given passages. Each titled passage mentions its
    title as an entity: encyclopedic questions name page topics, so titles anchor the graph."""
    entities: dict[str, str] = {}
    facts: dict[str, tuple[str, str, str]] = {}
    passage_entities: set[tuple[str, str]] = set()
    passage_facts: set[tuple[str, str]] = set()

    def add_entity(name: str) -> str:
        eid = sys.intern(entity_id(name))  # one string per entity, not one per mention (a third of the records)
        entities.setdefault(eid, name)
        return eid

    for passage in passages:
        extraction = extractions.get(passage.id, Extraction())
        names = [normalize_entity(passage.title)] if passage.title else []
        names += list(extraction.entities)
        for triple in extraction.triples:
            names += [triple.subject, triple.object]
            fid = fact_id(triple.subject, triple.relation, triple.object)
            facts.setdefault(fid, (add_entity(triple.subject), triple.relation, add_entity(triple.object)))
            passage_facts.add((passage.id, fid))
        for name in names:
            if name:
                passage_entities.add((passage.id, add_entity(name)))
    return DerivedRecords(entities, facts, sorted(passage_entities), sorted(passage_facts))


SYNONYM_ROW_BLOCK = 1024
SYNONYM_QUERY_BLOCK = 16_384  # entities searched on the ANN index at a time (their vectors copied)
SYNONYM_SEARCH_BEAM = 64  # HNSW efSearch for an entity's k nearest (queries use 512 for 256 candidates)


@dataclass(frozen=True)
class SynonymPairs:
    """Synonymy pairs as arrays: entity rows `first` < `second` and their `cosine` (float32),
    sorted by (first, second); iterating gives (i, j, cosine) tuples."""

    first: np.ndarray
    second: np.ndarray
    cosine: np.ndarray

    @classmethod
    def empty(cls) -> SynonymPairs:
        """No pairs."""
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))

    def __len__(self) -> int:
        return int(self.first.size)

    def __iter__(self) -> Iterator[tuple[int, int, float]]:
        return zip(self.first.tolist(), self.second.tolist(), self.cosine.tolist(), strict=True)

    def keys(self, width: int) -> np.ndarray:
        """One int64 per pair, first * width + second (`width` above every row): equal pairs, equal keys."""
        return self.first * width + self.second

    def missing_from(self, other: SynonymPairs, width: int) -> np.ndarray:
        """Mask of these pairs that `other` lacks (`width` as for `keys`): both key arrays sorted,
        one searched in the other in order (np.isin hashes both: ~5x slower at 5M pairs)."""
        mine, theirs = self.keys(width), np.sort(other.keys(width))
        missing = np.ones(mine.size, dtype=bool)
        if theirs.size:
            order = np.argsort(mine)
            ordered = mine[order]
            missing[order] = theirs[np.minimum(np.searchsorted(theirs, ordered), theirs.size - 1)] != ordered
        return missing

    def take(self, which: np.ndarray) -> SynonymPairs:
        """The pairs at positions (or boolean mask) `which`."""
        return SynonymPairs(self.first[which], self.second[which], self.cosine[which])


class RowStack:
    """The rows of two arrays as those of one (`head`'s, then `tail`'s) without joining them: an
    add's entity vectors are the previous snapshot's, memory-mapped (1.6 GB at 1M entities), then
    the added ones, and its synonymy search reads only the rows it indexes."""

    def __init__(self, head: np.ndarray, tail: np.ndarray) -> None:
        self.head, self.tail = head, tail
        self.shape = (head.shape[0] + tail.shape[0], tail.shape[1])

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        out = np.empty((rows.size, self.shape[1]), dtype=np.float32)
        low = rows < self.head.shape[0]
        out[low] = self.head[rows[low]]
        out[~low] = self.tail[rows[~low] - self.head.shape[0]]
        return out


def synonym_pairs(vectors: np.ndarray, k: int, threshold: float, index: UnitIndex | None = None) -> SynonymPairs:
    """(i, j, cosine) for entity pairs i<j where j is among i's k most similar entities (or i
    among j's) with cosine >= threshold. `vectors` must be L2-normalized.

    With `index` (the snapshot's ANN index over the entities, which it has past the index's ANN
    threshold), each entity's neighbours come from it (`approximate_synonym_pairs`): the exact
    search below is quadratic, 51 s at 107k entities against 28.5 s (measured), hours at a
    million. Without: exact brute force in float32 row blocks, each pair computed once (a block's
    rows against the columns from its first row on: half the products of the full matrix); the
    threshold is applied before ranking, so only the few candidates above it are sorted, both
    ways, for each entity's top k (sklearn's kNN sorts every row, which is far slower on large
    entity sets).
    """
    n = vectors.shape[0]
    if n < 2 or k == 0:
        return SynonymPairs.empty()
    if index is not None:
        return approximate_synonym_pairs(vectors, k, threshold, index)
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    firsts, seconds, cosines = [], [], []
    for start in range(0, n, SYNONYM_ROW_BLOCK):
        block = matrix[start:start + SYNONYM_ROW_BLOCK] @ matrix[start:].T  # column c is entity start + c
        above = block >= threshold
        square = above[:, :above.shape[0]]
        square &= np.triu(square, k=1)  # pairs i < j only: the diagonal and below are the earlier blocks'
        rows, cols = sparse_nonzero(above)
        firsts.append(start + rows)
        seconds.append(start + cols)
        cosines.append(block[rows, cols])
    return _top_k_pairs(np.concatenate(firsts), np.concatenate(seconds), np.concatenate(cosines), k)


def sparse_nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.nonzero` of a C-contiguous 2-D boolean array that is mostly False, faster: it looks for
    non-zero 8-byte words first and unpacks those alone (1.57 s -> 0.2 s over the 838 million
    cells of 2Wiki's synonymy search, with 0.01% of them true)."""
    flat = mask.reshape(-1)
    whole = flat.size // 8 * 8
    words = np.flatnonzero(flat[:whole].view(np.uint64))
    word_rows, offsets = np.nonzero(flat[:whole].reshape(-1, 8)[words])
    cells = np.concatenate([words[word_rows] * 8 + offsets, whole + np.flatnonzero(flat[whole:])])
    return np.divmod(cells, mask.shape[1])


def approximate_synonym_pairs(vectors: np.ndarray, k: int, threshold: float, index: UnitIndex) -> SynonymPairs:
    """`synonym_pairs` with each entity's k nearest found by `index`, an HNSW index over
    `vectors` (`hippo.ann`, searched with a smaller beam than queries use:
    `SYNONYM_SEARCH_BEAM`), their cosines computed exactly; time about linear in the entities.
    A pair the index misses is missing (recall measured in bench/SCALE.md)."""
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    return _unique_pairs(*_nearest_candidates(matrix, np.arange(matrix.shape[0]), k, threshold, index))


def add_synonym_pairs(
    vectors: np.ndarray | RowStack, pairs: SynonymPairs, added: np.ndarray, k: int, threshold: float,
    index: UnitIndex | None = None,
) -> SynonymPairs:
    """`synonym_pairs` of entity `vectors` from those of the entities before rows `added` joined
    them: `pairs`, in the present numbering. Only the added entities are searched (against all,
    exactly, or with `index` as `synonym_pairs` does); an earlier entity's k most similar are then
    the best k of its earlier pairs and its pairs with added entities. Only the entities whose
    ranking can change are ranked again: those with a new candidate and their partners (a pair
    between two others keeps its place), so the time follows the added entities, not all.
    Without `index` the result is `synonym_pairs`' exactly; with it, an earlier entity gains an
    added neighbour only where the added entity's search found it, and the pairs of entities no
    added one reached stay as the search that made them left them (recall against an exact search
    as before: 0.990 at 30k). `vectors` may be a `RowStack` (searched with `index` only)."""
    n = vectors.shape[0]
    if k == 0 or n < 2:
        return SynonymPairs.empty()
    if index is not None:
        first, second, cosine = _nearest_candidates(vectors, added, k, threshold, index)
    else:
        assert isinstance(vectors, np.ndarray), "an exact search needs the vectors as one array"
        first, second, cosine = _exact_candidates(np.ascontiguousarray(vectors, dtype=np.float32), added, threshold)
    new = _unique_pairs(first, second, cosine)  # a pair of two added entities: found by both, kept once
    touched = np.zeros(n, dtype=bool)
    touched[new.first], touched[new.second] = True, True
    near = touched[pairs.first] | touched[pairs.second]  # earlier pairs of an entity whose ranking changes
    ranked = touched.copy()  # ... and of their partners, whose rankings decide those pairs too
    ranked[pairs.first[near]], ranked[pairs.second[near]] = True, True
    context = pairs.take(ranked[pairs.first] | ranked[pairs.second])
    recomputed = _top_k_pairs(np.r_[context.first, new.first], np.r_[context.second, new.second],
                              np.r_[context.cosine, new.cosine], k)
    recomputed = recomputed.take(touched[recomputed.first] | touched[recomputed.second])
    merged = SynonymPairs(*(np.r_[a, b] for a, b in zip(
        (pairs.first[~near], pairs.second[~near], pairs.cosine[~near]),
        (recomputed.first, recomputed.second, recomputed.cosine), strict=True)))
    return merged.take(np.argsort(merged.keys(n), kind="stable"))


Candidates = tuple[np.ndarray, np.ndarray, np.ndarray]  # entity rows, their partners, cosines


def _exact_candidates(matrix: np.ndarray, rows: np.ndarray, threshold: float) -> Candidates:
    """Every (row, other entity, cosine) with cosine >= threshold for entity `rows`, exactly."""
    firsts, seconds, cosines = [], [], []
    for start in range(0, rows.size, SYNONYM_ROW_BLOCK):
        chunk = rows[start:start + SYNONYM_ROW_BLOCK]
        block = matrix[chunk] @ matrix.T
        block[np.arange(chunk.size), chunk] = -np.inf  # not itself
        found, others = np.nonzero(block >= threshold)
        firsts.append(chunk[found])
        seconds.append(others)
        cosines.append(block[found, others])
    empty = np.zeros(0, dtype=np.int64)
    return (np.concatenate([empty, *firsts]), np.concatenate([empty, *seconds]),
            np.concatenate([np.zeros(0, np.float32), *cosines]))


def _nearest_candidates(matrix: np.ndarray | RowStack, rows: np.ndarray, k: int, threshold: float,
                        index: UnitIndex) -> Candidates:
    """(row, other entity, cosine) for each of entity `rows`' k nearest that `index` finds, with
    cosine >= threshold (computed exactly)."""
    found = np.concatenate([  # + 1: an entity finds itself; a block of rows at a time (`matrix` may be mapped)
        index.nearest_rows(matrix[rows[s:s + SYNONYM_QUERY_BLOCK]], k + 1, beam=SYNONYM_SEARCH_BEAM)
        for s in range(0, rows.size, SYNONYM_QUERY_BLOCK)] or [np.zeros((0, k + 1), dtype=np.int64)])
    firsts, seconds = np.repeat(rows, k + 1), found.ravel()
    keep = (seconds >= 0) & (seconds != firsts)
    firsts, seconds = firsts[keep], seconds[keep]
    cosines = np.concatenate([np.einsum("ij,ij->i", matrix[firsts[s:s + SYNONYM_ROW_BLOCK]],
                                        matrix[seconds[s:s + SYNONYM_ROW_BLOCK]])
                              for s in range(0, firsts.size, SYNONYM_ROW_BLOCK)] or [np.zeros(0, np.float32)])
    above = cosines >= threshold
    return firsts[above], seconds[above], cosines[above]


def _top_k_pairs(first: np.ndarray, second: np.ndarray, cosine: np.ndarray, k: int) -> SynonymPairs:
    """The pairs among (first, second, cosine), each given once in either order, where one
    entity is among the other's k most similar (ties: the lower row first)."""
    entity, other, similarity = np.r_[first, second], np.r_[second, first], np.r_[cosine, cosine]
    order = np.lexsort((other, -similarity, entity))  # by entity, most similar first, ties by lower index
    rank = np.arange(order.size) - np.searchsorted(entity[order], entity[order])
    kept = order[rank < k]
    return _unique_pairs(entity[kept], other[kept], similarity[kept])


def _unique_pairs(first: np.ndarray, second: np.ndarray, cosine: np.ndarray) -> SynonymPairs:
    """The pairs given in either order, once each (the first given), sorted."""
    low, high, once = _distinct_pairs(first, second)
    return SynonymPairs(low[once], high[once], cosine[once].astype(np.float32))


def _distinct_pairs(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs given in either order as (low, high) rows, and the position of each distinct pair's
    first occurrence, in (low, high) order."""
    low, high = np.minimum(first, second).astype(np.int64), np.maximum(first, second).astype(np.int64)
    _, once = np.unique(low * (int(high.max(initial=0)) + 1) + high, return_index=True)
    return low, high, once


Edges = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # src, dst, weight, kind


def build_edges(
    passages: Sequence[Passage],
    entity_rows: Mapping[str, int],
    derived: DerivedRecords,
    title_weight: float = 1.0,
    first_row: int = 0,
) -> Edges:
    """The fact and mention edges of `derived` (src, dst, weight, kind) in unit numbering: passage
    i of `passages` as row `first_row` + i, an entity as -1 - its row (`entity_rows`), so that
    passages added later renumber no edge (`hippo.snapshot`). Fact edges weigh the number of
    distinct relations joining the pair (the lower entity row first); the mention edge from a
    passage to its own title entity weighs `title_weight` (its topic, not one name among many;
    the README's Results give the measured gain)."""
    passage_row = {p.id: first_row + i for i, p in enumerate(passages)}
    mentioning = {pid for pid, _ in derived.passage_entities}  # a grown graph's: the added passages only
    title_entity = {p.id: entity_id(normalize_entity(p.title)) for p in passages if p.title and p.id in mentioning}
    fact_pairs = Counter(
        tuple(sorted((entity_rows[s], entity_rows[o])))
        for s, _, o in derived.facts.values() if s != o
    )
    rows: list[tuple[int, int, float, int]] = [(-1 - a, -1 - b, float(w), FACT_EDGE)
                                               for (a, b), w in fact_pairs.items()]
    rows += [
        (passage_row[pid], -1 - entity_rows[eid], title_weight if title_entity.get(pid) == eid else 1.0, MENTION_EDGE)
        for pid, eid in derived.passage_entities if pid in passage_row
    ]
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0), np.zeros(0, dtype=np.int8)
    src, dst, weight, kind = zip(*rows, strict=True)
    return (np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64),
            np.asarray(weight, dtype=np.float64), np.asarray(kind, dtype=np.int8))


def merge_fact_edges(edges: Edges) -> Edges:
    """`edges` with the fact edges joining the same pair (added by different snapshots) as one,
    first, weighing the sum of their weights (the distinct relations counted in each)."""
    src, dst, weight, kind = edges
    fact = kind == FACT_EDGE
    width = int(max(src.max(initial=0), dst.max(initial=0))) + 1
    pairs, where = np.unique(src[fact] * width + dst[fact], return_inverse=True)
    summed = np.bincount(where, weights=weight[fact], minlength=pairs.size)
    rest = ~fact
    return (np.r_[pairs // width, src[rest]], np.r_[pairs % width, dst[rest]], np.r_[summed, weight[rest]],
            np.r_[np.full(pairs.size, FACT_EDGE, dtype=np.int8), kind[rest]])
