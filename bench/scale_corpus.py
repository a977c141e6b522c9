"""Generate a synthetic English corpus of any size with multi-hop questions whose gold passages are known.

    python bench/scale_corpus.py --passages 100000 --out /tmp/scale-100k [--seed 0] [--questions 500]

Writes OUT/corpus.json (HippoRAG `[{"title", "text"}]`, one passage per entity page, then the
pages of any `--append CORPUS.json`, e.g. the shared 2Wiki, MuSiQue and HotpotQA corpora) and
OUT/questions.json (`question`, `answer`, `supporting_titles`), so `hippo index OUT/corpus.json`
and `hippo eval --dataset OUT/questions.json --corpus OUT/corpus.json` measure recall at scale,
not only speed. The same seed and size give the same files byte for byte.

The world: people (engineers, architects, painters), the works they made, the firms and
schools they belonged to, and the towns they were born in. Each entity has one page that names
its neighbours, so a question about a work's designer's birthplace needs two pages (the work's,
then the person's), and one about the birthplace's region needs three. Names are made of
syllables, so no page can be answered from a language model's memory.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SYLLABLES = ("ka", "ri", "mo", "len", "dar", "vel", "sin", "tor", "bra", "mi", "lo", "qua", "fen", "hal", "gor",
             "nis", "pel", "ta", "vor", "ul", "ben", "cas", "dor", "el", "fa", "gri", "hol", "is", "jor", "kel",
             "lun", "mar", "nor", "os", "pra", "ren", "sal", "tir", "ur", "vin", "wen", "yar", "zel", "ath", "bel",
             "cor", "dun", "em", "fir", "gal")
REGIONS = ("the northern uplands", "the river plain", "the coastal lowlands", "the eastern marches",
           "the lake district", "the southern hills", "the western fens", "the high valleys")
OCCUPATIONS = ("civil engineer", "architect", "painter", "sculptor", "surveyor", "shipwright")
WORK_KINDS = {"civil engineer": ("viaduct", "bridge", "canal lock", "railway tunnel"),
              "architect": ("town hall", "library", "railway station", "concert hall"),
              "painter": ("altarpiece", "landscape painting", "portrait series", "fresco cycle"),
              "sculptor": ("fountain", "memorial", "statue", "relief"),
              "surveyor": ("county map", "coastal chart", "boundary survey", "river atlas"),
              "shipwright": ("schooner", "paddle steamer", "lifeboat", "ferry")}
ORG_KINDS = ("engineering firm", "academy", "guild", "design studio", "polytechnic school")
FILLER = (
    "Contemporary accounts describe {it} as modest in scale but careful in its details.",
    "Records of {it} survive in the municipal archive, including letters and ledgers.",
    "Local historians have written about {it} in several short studies.",
    "{It} appears in travel guides of the period, usually with a brief description.",
    "Little is known about the early years of {it}, as many documents were lost in a fire.",
    "A restoration in the late twentieth century returned {it} to its original appearance.",
)


def article(word: str) -> str:
    """`word` with "a" or "an" before it."""
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


@dataclass
class World:
    """Entities and their links; every list index is an entity id of that kind."""

    towns: list[tuple[str, str]] = field(default_factory=list)  # (name, region)
    orgs: list[tuple[str, str, int, int]] = field(default_factory=list)  # (name, kind, town, founder person)
    people: list[dict[str, int | str]] = field(default_factory=list)
    works: list[tuple[str, str, int, int, int]] = field(default_factory=list)  # (name, kind, person, town, year)


class Names:
    """Unique capitalized names from syllables, drawn with the world's random generator."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[str] = set()

    def word(self, syllables: int) -> str:
        return "".join(self._rng.choice(SYLLABLES) for _ in range(syllables)).capitalize()

    def unique(self, make: str) -> str:
        while True:
            if make == "person":
                name = f"{self.word(2)} {self.word(self._rng.choice((2, 3)))}"
            elif make == "town":
                name = self.word(self._rng.choice((2, 3)))
            else:
                name = f"{self.word(2)} {self.word(2)}"
            if name not in self._used:
                self._used.add(name)
                return name


def build_world(passages: int, seed: int) -> World:
    """Entity counts in the proportions 10% towns, 10% organizations, 40% people, 40% works."""
    rng = random.Random(seed)
    names = Names(rng)
    world = World()
    n_towns, n_orgs = max(2, passages // 10), max(2, passages // 10)
    n_people = max(2, passages * 4 // 10)
    n_works = max(1, passages - n_towns - n_orgs - n_people)
    world.towns = [(names.unique("town"), rng.choice(REGIONS)) for _ in range(n_towns)]
    for _ in range(n_people):
        occupation = rng.choice(OCCUPATIONS)
        born = rng.randrange(1780, 1920)
        world.people.append({
            "name": names.unique("person"), "occupation": occupation, "born": born,
            "died": born + rng.randrange(45, 90), "town": rng.randrange(n_towns), "org": rng.randrange(n_orgs),
            "teacher": -1,
        })
    for i, person in enumerate(world.people):
        if i:
            person["teacher"] = rng.randrange(i)  # an earlier person: no cycles
    for _ in range(n_orgs):
        name = names.unique("org")
        world.orgs.append((name, rng.choice(ORG_KINDS), rng.randrange(n_towns), rng.randrange(n_people)))
    for _ in range(n_works):
        person = rng.randrange(n_people)
        kind = rng.choice(WORK_KINDS[str(world.people[person]["occupation"])])
        year = int(world.people[person]["born"]) + rng.randrange(25, 45)
        world.works.append((f"{names.unique('work')} {kind.title()}", kind, person, rng.randrange(n_towns), year))
    return world


def pages(world: World, seed: int) -> Iterator[dict[str, str]]:
    """One `{"title", "text"}` page per entity, with two filler sentences each."""
    rng = random.Random(seed + 1)

    def filler(it: str) -> str:
        return " ".join(s.format(it=it, It=it[0].upper() + it[1:]) for s in rng.sample(FILLER, 2))

    for name, region in world.towns:
        text = (f"{name} is a market town in {region}. Its population is about {rng.randrange(2, 90) * 1000:,}. "
                f"The town grew around a river crossing and a weekly fair. {filler('the town')}")
        yield {"title": name, "text": text}
    for name, kind, town, founder in world.orgs:
        text = (f"{name} is {article(kind)} founded in {world.towns[town][0]} by {world.people[founder]['name']}. "
                f"It trained many apprentices and kept workshops in the old quarter. {filler('the ' + kind)}")
        yield {"title": name, "text": text}
    for person in world.people:
        name = str(person["name"])
        teacher = int(person["teacher"])
        trained = f" {name} was trained by {world.people[teacher]['name']}." if teacher >= 0 else ""
        text = (f"{name} ({person['born']}-{person['died']}) was {article(str(person['occupation']))} born in "
                f"{world.towns[int(person['town'])][0]}.{trained} {name} was a member of "
                f"{world.orgs[int(person['org'])][0]}. {filler('their work')}")
        yield {"title": name, "text": text}
    for name, kind, person, town, year in world.works:
        text = (f"The {name} is {article(kind)} in {world.towns[town][0]}, completed in {year}. It was made by the "
                f"{world.people[person]['occupation']} {world.people[person]['name']}. {filler('the ' + kind)}")
        yield {"title": name, "text": text}


def questions(world: World, count: int, seed: int) -> list[dict[str, object]]:
    """Two- and three-hop questions about works, with the pages that answer them."""
    rng = random.Random(seed + 2)
    found: list[dict[str, object]] = []
    for w in rng.sample(range(len(world.works)), min(count, len(world.works))):
        work, _, p, _, _ = world.works[w]
        person = world.people[p]
        town, region = world.towns[int(person["town"])]
        teacher = int(person["teacher"])
        hop = rng.randrange(3)
        if hop == 0:
            q, answer, gold = f"In which town was the maker of the {work} born?", town, [work, person["name"]]
        elif hop == 1 and teacher >= 0:
            q, answer = f"Who trained the {person['occupation']} who made the {work}?", world.people[teacher]["name"]
            gold = [work, person["name"]]
        else:
            q, answer, gold = f"In which region lies the birthplace of the maker of the {work}?", region, [
                work, person["name"], town]
        found.append({"id": f"scale-{w}", "question": q, "answer": answer, "supporting_titles": gold})
    return found


def write(out: Path, passages: int, n_questions: int, seed: int, append: Sequence[Path] = ()) -> tuple[int, int]:
    """Writes corpus.json (the generated pages, then those of the `append` corpora) and
    questions.json under `out`; returns (pages, questions) written."""
    world = build_world(passages, seed)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    real = (page for path in append for page in json.loads(path.read_text(encoding="utf-8")))
    with (out / "corpus.json").open("w", encoding="utf-8") as corpus:
        corpus.write("[\n")
        for page in itertools.chain(pages(world, seed), real):
            corpus.write((",\n" if written else "") + json.dumps(page, ensure_ascii=False))
            written += 1
        corpus.write("\n]\n")
    asked = questions(world, n_questions, seed)
    (out / "questions.json").write_text(json.dumps(asked, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return written, len(asked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, required=True, help="corpus size (pages)")
    parser.add_argument("--out", type=Path, required=True, help="folder for corpus.json and questions.json")
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--append", type=Path, action="append", default=[], metavar="CORPUS.json",
                        help="also write the pages of this HippoRAG corpus (e.g. the shared 2Wiki one); repeatable")
    args = parser.parse_args()
    if args.passages < 10:
        parser.error("--passages must be at least 10")
    written, asked = write(args.out, args.passages, args.questions, args.seed, args.append)
    print(f"{written:,} passages and {asked} questions in {args.out}")


if __name__ == "__main__":
    main()
