"""Building a graph snapshot from the index's records: anew, or grown from the previous snapshot.

A full build derives entities, facts and provenance from every passage's extraction, searches
synonymy among all entities and writes every column. When the records only grew since the
previous snapshot (no passage of it gone, none extracted again since), the new snapshot is the
previous one plus the added passages: only their extractions are read and their records stored,
only their new entities searched for synonyms, only their edges and name automaton made, the
ANN indexes extended,
and their units' rows appended to the previous snapshot's column files (`hippo.snapshot`), so
that the previous vectors, passage texts and edges are neither read nor written again. In
either build, a unit set (passages, entities, facts) that lost no unit keeps the previous
snapshot's rows, first and in its order, with its vectors and its ANN index; its other units
follow, by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hippo.ann import UnitIndex, mapped_ann
from hippo.columns import Column, read_column, write_blocks
from hippo.config import IndexSettings
from hippo.corpus import Passage, passage_string
from hippo.embed import text_key
from hippo.errors import HippoError
from hippo.graph import (
    SYNONYM_EDGE,
    RowStack,
    SynonymPairs,
    add_synonym_pairs,
    build_edges,
    derive_records,
    synonym_pairs,
)
from hippo.names import name_segments
from hippo.snapshot import (
    GraphSnapshot,
    SnapshotParts,
    load_snapshot,
    pack_passages,
    snapshot_exists,
    unit_ann,
)
from hippo.store import DerivedRecords, IndexStore

EXTRACTION_MARK = "extraction_mark"  # snapshot info: the store's extraction mark its records reflect


@dataclass
class Units:
    """One unit set of the snapshot being built (passages, entities or facts): the previous
    snapshot's first `kept` rows (all of its units of the set, where it lost none; else none),
    then the units `ids` with their embedded `texts`; once loaded, those units' vectors (a file of
    the build's scratch folder) and the set's ANN index."""

    kept: int
    ids: list[str]
    texts: list[str]
    stored: tuple[Path, str, Column] | None = None  # the vectors' folder, file and shape, once loaded
    ann: UnitIndex | None = None

    def load(self, store: IndexStore, previous: GraphSnapshot | None, array: str, ann_threshold: int,
             scratch: Path) -> None:
        """Writes the vectors of `ids` from the store into file `array` of folder `scratch`, a block
        at a time (never the whole set in memory), then the ANN index from them, mapped (the
        previous snapshot's, extended, where rows were kept), which is written there too and read
        back with its codes mapped."""
        blocks = store.embedding_blocks([text_key(t) for t in self.texts])
        self.stored = scratch, array, write_blocks(scratch, array, blocks, "float32", store.embedding_dim)
        before = getattr(previous, array)[:self.kept] if previous is not None and self.kept else None
        index = previous.ann.get(array) if previous is not None and self.kept else None
        ann = unit_ann(before, self.vectors, ann_threshold, index)
        self.ann = None if ann is None else mapped_ann(scratch, array, ann)

    @property
    def vectors(self) -> np.ndarray:
        """The vectors of `ids`, memory-mapped anew at each call: the pages a caller reads leave
        this process's memory with its map (the kernel may evict them meanwhile)."""
        assert self.stored is not None, "vectors read before load"
        vectors = read_column(*self.stored)
        assert isinstance(vectors, np.ndarray)
        return vectors

    def all_vectors(self, previous: GraphSnapshot | None, array: str) -> np.ndarray:
        """The vectors of every row: the kept ones (read from the previous snapshot), then `ids`'."""
        if previous is None or not self.kept:
            return self.vectors
        return np.concatenate([np.asarray(getattr(previous, array)[:self.kept]), self.vectors])


def _units(previous_ids: list[str] | None, ids: set[str], text: dict[str, str]) -> Units:
    """The unit set `ids` after one with `previous_ids` (None: no previous snapshot); `text`: each
    new unit's embedded string."""
    kept = previous_ids if previous_ids is not None and ids.issuperset(previous_ids) else []
    added = sorted(ids.difference(kept))
    return Units(len(kept), added, [text[u] for u in added])


@dataclass
class SnapshotBuild:
    """One snapshot being built: the rows it writes (all, or in a grown build the added units'
    only), the records to store (likewise), and the snapshot it replaces."""

    settings: IndexSettings
    passages: list[Passage]  # the passages whose records are derived: all, or the added ones
    entities: dict[str, str]  # id -> name, of every entity `passages` mention (grown: and `previous`'s are known)
    facts: dict[str, tuple[str, str, str]]  # id -> (subject id, relation, object id): all, or the new ones
    derived: DerivedRecords
    mark: int  # the store's extraction mark when the records were read (recorded in the snapshot)
    previous: GraphSnapshot | None
    grown: bool  # the previous snapshot plus added passages
    units: dict[str, Units] = field(default_factory=dict)  # by snapshot array: "passage_vectors", ...

    @classmethod
    def start(cls, index_dir: Path, store: IndexStore, settings: IndexSettings) -> SnapshotBuild:
        """The build of the store's records: grown from the current snapshot where they only
        grew since it, else a full one."""
        mark, previous = store.extraction_mark(), _current_snapshot(index_dir)
        added = _added_passages(store, settings, previous)
        if added is None or previous is None:
            passages = store.passages()
            derived = derive_records(passages, store.extractions(settings.extractor))
            build = cls(settings, passages, derived.entities, derived.facts, derived, mark, previous, grown=False)
        else:
            passages = store.passages(added)
            new = derive_records(passages, store.extractions(settings.extractor, added))
            known = set(previous.fact_ids)
            derived = DerivedRecords(new.entities, {f: spo for f, spo in new.facts.items() if f not in known},
                                     new.passage_entities, new.passage_facts)
            build = cls(settings, passages, new.entities, derived.facts, derived, mark, previous, grown=True)
        build.units = build._unit_sets()
        return build

    def _unit_sets(self) -> dict[str, Units]:
        """The passages, entities and facts as unit sets, by snapshot array. A grown build keeps
        every previous unit and adds the ones it lacks: the added passages, their new facts (both
        new by construction) and those of their entities the previous snapshot has not."""
        previous, entities = self.previous, self.entities
        sets = {"passage": ({p.id: passage_string(p) for p in self.passages}),
                "entity": entities,
                "fact": {f: f"{entities[s]} {r} {entities[o]}" for f, (s, r, o) in self.facts.items()}}
        units = {}
        for kind, texts in sets.items():
            before = None if previous is None else getattr(previous, f"{kind}_ids")
            if self.grown and before is not None:
                added = sorted(texts.keys() - set(before) if kind == "entity" else texts)
                units[f"{kind}_vectors"] = Units(len(before), added, [texts[u] for u in added])
            else:
                units[f"{kind}_vectors"] = _units(None if before is None else list(before), set(texts), texts)
        return units

    def new_texts(self) -> list[str]:
        """The strings to embed, where not yet cached: those of the units the previous snapshot lacks."""
        return [text for units in self.units.values() for text in units.texts]

    def snapshot(self, store: IndexStore, scratch: Path) -> tuple[SnapshotParts, SynonymPairs]:
        """The new snapshot to write (vectors loaded into files of folder `scratch`, which it
        links; ANN indexes and synonymy pairs made) and its synonymy pairs (entity rows)."""
        previous = self.previous
        for array, units in self.units.items():
            units.load(store, previous, array, self.settings.ann_threshold, scratch)
        passages, entities, facts = (self.units[f"{kind}_vectors"] for kind in ("passage", "entity", "fact"))
        entity_ids = self._ids(entities, "entity_ids")
        row = {e: i for i, e in enumerate(entity_ids)}
        by_id = {p.id: p for p in self.passages}
        ordered = [by_id[p] for p in (passages.ids if self.grown else self._ids(passages, "passage_ids"))]
        synonyms = self._synonyms()
        first_row = passages.kept if self.grown else 0
        src, dst, weight, kind = build_edges(ordered, row, self.derived, self.settings.title_edge_weight, first_row)
        spo = [self.facts[f] for f in (facts.ids if self.grown else self._ids(facts, "fact_ids"))]
        packed = pack_passages(ordered)
        if self.grown:
            assert previous is not None
            packed["passage_offsets"] = packed["passage_offsets"][1:] + int(previous.passage_offsets[-1])
        columns = {
            **packed, "entity_ids": entities.ids, "entity_names": [self.entities[e] for e in entities.ids],
            "fact_ids": facts.ids, "fact_relations": [r for _, r, _ in spo],
            "fact_subject": np.asarray([row[s] for s, _, _ in spo], dtype=np.int64),
            "fact_object": np.asarray([row[o] for _, _, o in spo], dtype=np.int64),
            "edge_src": src, "edge_dst": dst, "edge_weight": weight, "edge_kind": kind,
            "synonym_first": synonyms.first, "synonym_second": synonyms.second,
            "synonym_weight": synonyms.cosine.astype(np.float64),
        }
        for array, units in self.units.items():
            columns[array] = units.vectors if self.grown else units.all_vectors(previous, array)
        names = self._names(entity_ids)
        if not self.grown:  # every row: the kept ones too
            columns |= {"entity_ids": entity_ids, "entity_names": names, "fact_ids": self._ids(facts, "fact_ids")}
        info = {"embedding_model": self.settings.embedding_model, "extractor": self.settings.extractor,
                EXTRACTION_MARK: self.mark}
        ann = {array: units.ann for array, units in self.units.items() if units.ann is not None}
        kept = previous.names if self.grown and previous is not None else ()
        return SnapshotParts(columns, info, name_segments(names, kept), ann, previous if self.grown else None), synonyms

    def _ids(self, units: Units, array: str) -> list[str]:
        """The ids of every row of a unit set: the kept ones, then the set's own."""
        before = [] if self.previous is None or not units.kept else list(getattr(self.previous, array))
        return before[:units.kept] + units.ids

    def _names(self, entity_ids: list[str]) -> list[str]:
        """The name of each entity of `entity_ids` (the previous snapshot's rows read from it)."""
        previous = self.previous
        kept = self.units["entity_vectors"].kept if previous is not None else 0
        return [*(previous.entity_names[:kept] if previous is not None else []),
                *(self.entities[e] for e in entity_ids[kept:])]

    def store_records(self, store: IndexStore, synonyms: SynonymPairs) -> None:
        """Writes the build's records and synonymy pairs into the store: all of them anew, or
        (grown) the added ones and the pairs that changed (found by array, not id by id)."""
        ids = self._ids(self.units["entity_vectors"], "entity_ids")
        if not self.grown or self.previous is None:
            store.replace_derived(self.derived, [(ids[i], ids[j], s) for i, j, s in synonyms])
            return
        before = self._previous_pairs()
        gone = before.take(before.missing_from(synonyms, len(ids)))
        fresh = synonyms.take(synonyms.missing_from(before, len(ids)))
        store.add_derived(self.derived, sorted((ids[i], ids[j]) for i, j, _ in gone),
                          [(ids[i], ids[j], s) for i, j, s in fresh])

    def texts(self) -> set[str]:
        """Keys of every string a full build's snapshot embeds (the cache keeps these)."""
        facts = (f"{self.entities[s]} {r} {self.entities[o]}" for s, r, o in self.facts.values())
        return {text_key(t) for t in [*map(passage_string, self.passages), *self.entities.values(), *facts]}

    def _synonyms(self) -> SynonymPairs:
        """Where the previous snapshot's entities all remain, its pairs updated with the added
        entities' (`add_synonym_pairs`; searched on the ANN index, the previous vectors are read
        only where it leads); else all searched anew."""
        entities, settings, previous = self.units["entity_vectors"], self.settings, self.previous
        k, threshold = settings.synonymy_k, settings.synonymy_threshold
        if not entities.kept:
            return synonym_pairs(entities.all_vectors(previous, "entity_vectors"), k, threshold, entities.ann)
        assert previous is not None
        vectors = (RowStack(previous.entity_vectors[:entities.kept], entities.vectors) if entities.ann is not None
                   else entities.all_vectors(previous, "entity_vectors"))
        added = np.arange(entities.kept, entities.kept + len(entities.ids))
        return add_synonym_pairs(vectors, self._previous_pairs(), added, k, threshold, entities.ann)

    def _previous_pairs(self) -> SynonymPairs:
        """The previous snapshot's synonymy pairs: the rows of its two entities, and their cosine."""
        previous = self.previous
        assert previous is not None
        synonym = previous.edge_kind == SYNONYM_EDGE
        offset = len(previous.passage_ids)
        first, second = (np.asarray(rows[synonym]).astype(np.int64) - offset
                         for rows in (previous.edge_src, previous.edge_dst))
        return SynonymPairs(first, second, np.asarray(previous.edge_weight[synonym]).astype(np.float32))


def _current_snapshot(index_dir: Path) -> GraphSnapshot | None:
    """The index's current snapshot, the one a build replaces; None when it has none or it
    does not load (the build is then a full one)."""
    if not snapshot_exists(index_dir):
        return None
    try:
        return load_snapshot(index_dir)
    except HippoError:
        return None


def _added_passages(store: IndexStore, settings: IndexSettings, previous: GraphSnapshot | None) -> list[str] | None:
    """The ids of the passages the previous snapshot lacks, by id, where the records only grew
    since it: no passage of it is gone or was extracted again since (a failed extraction
    retried). None otherwise, and for a snapshot that did not record its extraction mark."""
    if previous is None or EXTRACTION_MARK not in previous.info:
        return None
    before, now = set(previous.passage_ids), set(store.passage_ids())
    mark = int(str(previous.info[EXTRACTION_MARK]))
    if not before <= now or store.passages_extracted_since(settings.extractor, mark) & before:
        return None
    return sorted(now - before)
