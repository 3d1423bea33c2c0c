"""Evaluation datasets: BEIR-compatible, extended to every modality.

A dataset is a folder::

    corpus.jsonl     {"_id", "title"?, "text"}            a text document, as in BEIR
                     {"_id", "file", "modality"?}          or a file (image, audio, document)
    queries.jsonl    {"_id", "text"}                       a text query, as in BEIR
                     {"_id", "file", "modality"?}          or an image / audio query
                     "direction"?: a label that overrides the computed direction
                                   (e.g. ``keyword->audio`` for keyword queries)
    qrels/<split>.tsv  query-id <TAB> corpus-id <TAB> grade   (a header line is optional)
    dataset.json     optional: {"name", "description", "directions"?, "license"?}

``file`` paths are relative to the dataset folder. ``modality`` defaults from the file's
extension. Grades are integers; > 0 means relevant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.errors import BadInputError
from rag.types import Modality


@dataclass(frozen=True)
class CorpusItem:
    id: str
    modality: Modality
    text: str | None = None
    title: str | None = None
    file: Path | None = None


@dataclass(frozen=True)
class QueryItem:
    id: str
    modality: Modality
    text: str | None = None
    file: Path | None = None
    direction: str | None = None


@dataclass
class Dataset:
    name: str
    root: Path
    corpus: list[CorpusItem]
    queries: list[QueryItem]
    qrels: dict[str, dict[str, int]]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def judged_queries(self) -> list[QueryItem]:
        return [q for q in self.queries if any(g > 0 for g in self.qrels.get(q.id, {}).values())]

    def direction(self, query: QueryItem) -> str:
        """e.g. ``text->image``: the query's modality and the modality of its relevant items
        (or the query's own ``direction`` label)."""
        if query.direction:
            return query.direction
        by_id = self.corpus_by_id
        targets = {
            by_id[doc].modality.value
            for doc, grade in self.qrels.get(query.id, {}).items()
            if grade > 0 and doc in by_id
        }
        target = targets.pop() if len(targets) == 1 else "mixed"
        return f"{query.modality.value}->{target}"

    @property
    def corpus_by_id(self) -> dict[str, CorpusItem]:
        return {item.id: item for item in self.corpus}


def load_dataset(root: Path, *, split: str = "test") -> Dataset:
    root = Path(root)
    if not (root / "corpus.jsonl").is_file() or not (root / "queries.jsonl").is_file():
        raise BadInputError(f"{root} is not a dataset: corpus.jsonl and queries.jsonl are required")
    meta: dict[str, Any] = {}
    if (root / "dataset.json").is_file():
        meta = json.loads((root / "dataset.json").read_text())
    corpus = [_corpus_item(root, row) for row in _jsonl(root / "corpus.jsonl")]
    queries = [_query_item(root, row) for row in _jsonl(root / "queries.jsonl")]
    qrels = _qrels(root / "qrels" / f"{split}.tsv")
    return Dataset(meta.get("name", root.name), root, corpus, queries, qrels, meta)


def _jsonl(path: Path) -> Iterator[Mapping[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise BadInputError(f"{path.name} line {number}: {exc}") from exc


def _modality(row: Mapping[str, Any], file: Path | None) -> Modality:
    if "modality" in row:
        return Modality(row["modality"])
    if file is None:
        return Modality.TEXT
    from indexers.discovery import modality_for

    found = modality_for(file)
    if found is None:
        raise BadInputError(f"cannot tell the modality of {file.name}; add a modality field")
    return found


def _corpus_item(root: Path, row: Mapping[str, Any]) -> CorpusItem:
    file = root / row["file"] if row.get("file") else None
    return CorpusItem(
        id=str(row["_id"]),
        modality=_modality(row, file),
        text=row.get("text"),
        title=row.get("title") or None,
        file=file,
    )


def _query_item(root: Path, row: Mapping[str, Any]) -> QueryItem:
    file = root / row["file"] if row.get("file") else None
    direction = row.get("direction")
    return QueryItem(
        str(row["_id"]), _modality(row, file), row.get("text"), file, str(direction or "") or None
    )


def _qrels(path: Path) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise BadInputError(f"missing relevance judgements: {path}")
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split("\t") if "\t" in line else line.split()
        if not parts or not line.strip():
            continue
        if number == 1 and not parts[-1].lstrip("-").isdigit():
            continue  # a header: query-id corpus-id score
        if len(parts) == 4:  # TREC style: qid 0 docid grade
            parts = [parts[0], parts[2], parts[3]]
        if len(parts) != 3:
            raise BadInputError(f"{path.name} line {number}: expected 3 columns")
        qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels
