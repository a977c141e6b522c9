"""Building a graph snapshot from the index's records: anew, or grown from the previous snapshot.

A full build derives entities, facts and provenance from every passage's extraction, searches
synonymy among all entities and builds the ANN indexes. When the records only grew since the
previous snapshot (no passage of it gone, none extracted again since), the new snapshot is the
previous one plus the added passages: only their extractions are read and their records stored,
only their new entities searched for synonyms, the previous edges renumbered and kept, and the
ANN indexes extended, so that work is proportional to the passages added. The snapshot's arrays,
passage texts and name automaton are still written whole (see bench/SCALE.md). In either build,
each unit set (passages, entities, facts) that lost no unit takes its known units' vectors and
its ANN index from the previous snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hippo.ann import UnitIndex
from hippo.config import IndexSettings
from hippo.corpus import Passage, passage_string
from hippo.embed import text_key
from hippo.errors import HippoError
from hippo.graph import (
    SYNONYM_EDGE,
    Edges,
    add_synonym_pairs,
    build_edges,
    derive_records,
    merge_edges,
    synonym_pairs,
)
from hippo.snapshot import (
    GraphSnapshot,
    UnitGrowth,
    load_snapshot,
    pack_passages,
    snapshot_exists,
    unit_ann,
    unit_growth,
)
from hippo.store import DerivedRecords, IndexStore

EXTRACTION_MARK = "extraction_mark"  # snapshot info: the store's extraction mark its records reflect
Pairs = list[tuple[int, int, float]]


@dataclass
class Units:
    """One unit set of the snapshot being built (passages, entities or facts, sorted by id): the
    strings embedded for them, how the set grew from the previous snapshot's (None: it lost
    units, or there is no previous snapshot), and once loaded their vectors and ANN index."""

    ids: list[str]
    texts: list[str]
    growth: UnitGrowth | None
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    ann: UnitIndex | None = None

    def new_texts(self) -> list[str]:
        """The strings of the units the previous snapshot lacks (all, without a growth)."""
        return self.texts if self.growth is None else [self.texts[i] for i in self.growth.added]

    def load(self, store: IndexStore, array: str, previous: GraphSnapshot | None, ann_threshold: int) -> None:
        """Fills in the vectors (of a unit the previous snapshot had, from it; of the others, from
        the store) and the ANN index (extended from the previous snapshot's where the set grew)."""
        if self.growth is None or previous is None:
            self.vectors = store.load_embeddings([text_key(t) for t in self.texts])
        else:
            self.vectors = np.empty((len(self.ids), store.embedding_dim), dtype=np.float32)
            self.vectors[self.growth.kept] = getattr(previous, array)
            self.vectors[self.growth.added] = store.load_embeddings([text_key(t) for t in self.new_texts()])
        self.ann = unit_ann(self.vectors, ann_threshold, previous.ann.get(array) if previous else None, self.growth)


@dataclass
class SnapshotBuild:
    """One snapshot being built: its passages, entities and facts (by id), the records to store
    (all of them, or in a grown build the added passages' only), and the snapshot it replaces."""

    settings: IndexSettings
    passages: list[Passage]
    entities: dict[str, str]  # id -> name
    facts: dict[str, tuple[str, str, str]]  # id -> (subject id, relation, object id)
    derived: DerivedRecords
    mark: int  # the store's extraction mark when the records were read (recorded in the snapshot)
    previous: GraphSnapshot | None
    grown: bool  # the previous snapshot plus added passages
    units: dict[str, Units] = field(default_factory=dict)  # by snapshot array: "passage_vectors", ...

    @classmethod
    def start(cls, index_dir: Path, store: IndexStore, settings: IndexSettings) -> SnapshotBuild:
        """The build of the store's records: grown from the current snapshot where they only
        grew since it, else a full one."""
        mark, passages, previous = store.extraction_mark(), store.passages(), _current_snapshot(index_dir)
        added = _added_passages(store, settings, previous, passages)
        if added is None or previous is None:
            derived = derive_records(passages, store.extractions(settings.extractor))
            build = cls(settings, passages, derived.entities, derived.facts, derived, mark, previous, grown=False)
        else:
            new = derive_records(added, store.extractions(settings.extractor, [p.id for p in added]))
            entities = dict(zip(previous.entity_ids, previous.entity_names, strict=True)) | new.entities
            facts = {fid: (previous.entity_ids[s], relation, previous.entity_ids[o]) for fid, s, relation, o in zip(
                previous.fact_ids, previous.fact_subject, previous.fact_relations, previous.fact_object, strict=True)}
            derived = DerivedRecords(new.entities, {f: spo for f, spo in new.facts.items() if f not in facts},
                                     new.passage_entities, new.passage_facts)
            build = cls(settings, passages, entities, facts | derived.facts, derived, mark, previous, grown=True)
        build.units = build._unit_sets()
        return build

    def _unit_sets(self) -> dict[str, Units]:
        """The passages, entities and facts as unit sets, by snapshot array, with their growth."""
        entity_ids, fact_ids = sorted(self.entities), sorted(self.facts)
        fact_texts = [f"{self.entities[s]} {r} {self.entities[o]}" for s, r, o in (self.facts[f] for f in fact_ids)]
        sets = {"passage": ([p.id for p in self.passages], [passage_string(p) for p in self.passages]),
                "entity": (entity_ids, [self.entities[e] for e in entity_ids]), "fact": (fact_ids, fact_texts)}
        previous = self.previous
        return {f"{kind}_vectors": Units(ids, texts, unit_growth(getattr(previous, f"{kind}_ids"), ids)
                                         if previous is not None else None)
                for kind, (ids, texts) in sets.items()}

    def new_texts(self) -> list[str]:
        """The strings to embed, where not yet cached: the units the previous snapshot lacks."""
        return [text for units in self.units.values() for text in units.new_texts()]

    def snapshot(self, store: IndexStore) -> tuple[GraphSnapshot, Pairs]:
        """The new snapshot (vectors loaded, ANN indexes and synonymy pairs made) and its synonymy
        pairs (entity rows)."""
        for array, units in self.units.items():
            units.load(store, array, self.previous, self.settings.ann_threshold)
        entities, facts = self.units["entity_vectors"], self.units["fact_vectors"]
        synonyms = self._synonyms()
        edges = build_edges(self.passages, entities.ids, self.derived, synonyms, self.settings.title_edge_weight)
        if self.grown:
            edges = merge_edges(self._previous_edges(), edges)
        row = {e: i for i, e in enumerate(entities.ids)}
        spo = [self.facts[f] for f in facts.ids]
        snapshot = GraphSnapshot(
            **pack_passages(self.passages), entity_ids=entities.ids, entity_names=entities.texts,
            fact_ids=facts.ids, fact_relations=[r for _, r, _ in spo],
            fact_subject=np.asarray([row[s] for s, _, _ in spo], dtype=np.int64),
            fact_object=np.asarray([row[o] for _, _, o in spo], dtype=np.int64),
            passage_vectors=self.units["passage_vectors"].vectors, entity_vectors=entities.vectors,
            fact_vectors=facts.vectors, edge_src=edges[0], edge_dst=edges[1], edge_weight=edges[2],
            edge_kind=edges[3], info={"embedding_model": self.settings.embedding_model,
                                      "extractor": self.settings.extractor, EXTRACTION_MARK: self.mark},
            ann={array: units.ann for array, units in self.units.items() if units.ann is not None},
        )
        return snapshot, synonyms

    def store_records(self, store: IndexStore, synonyms: Pairs) -> None:
        """Writes the build's records and synonymy pairs into the store: all of them anew, or
        (grown) the added ones and the pairs that changed."""
        ids = self.units["entity_vectors"].ids
        pairs = {(ids[i], ids[j]): s for i, j, s in synonyms}
        if not self.grown or self.previous is None:
            store.replace_derived(self.derived, [(a, b, s) for (a, b), s in pairs.items()])
            return
        names = self.previous.entity_ids
        first, second, _ = self._previous_pairs()
        before = {(names[i], names[j]) for i, j in zip(first.tolist(), second.tolist(), strict=True)}
        store.add_derived(self.derived, sorted(before - pairs.keys()),
                          [(a, b, s) for (a, b), s in pairs.items() if (a, b) not in before])

    def texts(self) -> set[str]:
        """Keys of every string the snapshot embeds (the cache keeps these)."""
        return {text_key(t) for units in self.units.values() for t in units.texts}

    def _synonyms(self) -> Pairs:
        """Where the previous snapshot's entities all remain, its pairs updated with the added
        entities' (`add_synonym_pairs`); else all searched anew."""
        entities, settings = self.units["entity_vectors"], self.settings
        k, threshold = settings.synonymy_k, settings.synonymy_threshold
        if entities.growth is None:
            return synonym_pairs(entities.vectors, k, threshold, entities.ann)
        first, second, cosine = self._previous_pairs()
        pairs = np.column_stack([entities.growth.kept[first], entities.growth.kept[second], cosine])
        return add_synonym_pairs(entities.vectors, pairs, entities.growth.added, k, threshold, entities.ann)

    def _previous_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The previous snapshot's synonymy pairs: the rows of its two entities, and their cosine."""
        previous = self.previous
        assert previous is not None
        synonym = previous.edge_kind == SYNONYM_EDGE
        offset = len(previous.passage_ids)
        return (np.asarray(previous.edge_src[synonym]) - offset, np.asarray(previous.edge_dst[synonym]) - offset,
                np.asarray(previous.edge_weight[synonym]))

    def _previous_edges(self) -> Edges:
        """The previous snapshot's fact and mention edges, its nodes renumbered as they are now."""
        previous, passages = self.previous, self.units["passage_vectors"].growth
        entities = self.units["entity_vectors"].growth
        assert previous is not None and passages is not None and entities is not None
        node = np.concatenate([passages.kept, len(self.passages) + entities.kept])
        kept = previous.edge_kind != SYNONYM_EDGE
        return (node[previous.edge_src[kept]], node[previous.edge_dst[kept]], np.asarray(previous.edge_weight[kept]),
                np.asarray(previous.edge_kind[kept]))


def _current_snapshot(index_dir: Path) -> GraphSnapshot | None:
    """The index's current snapshot, the one a build replaces; None when it has none or it
    does not load (the build is then a full one)."""
    if not snapshot_exists(index_dir):
        return None
    try:
        return load_snapshot(index_dir)
    except HippoError:
        return None


def _added_passages(
    store: IndexStore, settings: IndexSettings, previous: GraphSnapshot | None, passages: list[Passage],
) -> list[Passage] | None:
    """The passages the previous snapshot lacks, where the records only grew since it: no passage
    of it is gone or was extracted again since (a failed extraction retried). None otherwise, and
    for a snapshot that did not record its extraction mark (made by an older hippo)."""
    if previous is None or EXTRACTION_MARK not in previous.info:
        return None
    before, now = set(previous.passage_ids), {p.id for p in passages}
    mark = int(str(previous.info[EXTRACTION_MARK]))
    if not before <= now or store.passages_extracted_since(settings.extractor, mark) & before:
        return None
    return [p for p in passages if p.id not in before]
