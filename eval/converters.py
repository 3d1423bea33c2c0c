"""Turn the shared test material into evaluation datasets (the format of eval.dataset).

- ``msmarco``: already BEIR; copied as is (its qrels have no header).
- ``cranfield``: the classic 1400 aeronautics abstracts; qrels grades 1 (complete answer) to
  4 (minimum interest) become gains 4..1. Query ids are renumbered 1..225 in file order,
  which is how cranqrel numbers them (cran.qry's own .I numbers run 001..365 with gaps).
- ``speech``: every clip with a reference transcript: text->audio (the transcript as query),
  text->audio with a short keyword query (the transcript's rarest words), audio->text (the
  clip as query against the transcripts as documents).
- ``coco``: captions and images: text->image (a caption as query) and image->text (the image
  as query against all captions as documents).
- ``mixed``: text passages, speech and images in one corpus, with queries of every direction.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_WORD = re.compile(r"[a-z]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "by",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "they",
        "we",
        "you",
        "i",
        "his",
        "her",
        "their",
        "our",
        "your",
        "not",
        "no",
        "but",
        "so",
        "if",
        "then",
        "than",
        "there",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "some",
        "can",
        "could",
        "would",
        "should",
        "may",
        "might",
        "must",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "into",
        "over",
        "under",
        "about",
        "after",
        "before",
        "between",
        "through",
        "during",
    ]
)


@dataclass(frozen=True)
class SpeechClip:
    id: str
    file: Path
    transcript: str
    collection: str


def _lines(path: Path) -> list[str]:
    """Non-empty lines. JSON Lines split on "\\n" only: ``str.splitlines`` also splits on
    U+2028 and friends, which JSON strings may hold unescaped (MS MARCO passages do)."""
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def write_dataset(
    out: Path,
    *,
    name: str,
    corpus: Iterable[Mapping[str, Any]],
    queries: Iterable[Mapping[str, Any]],
    qrels: Iterable[tuple[str, str, int]],
    meta: Mapping[str, Any] | None = None,
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "qrels").mkdir(exist_ok=True)
    with (out / "corpus.jsonl").open("w") as fh:
        for row in corpus:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (out / "queries.jsonl").open("w") as fh:
        for row in queries:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (out / "qrels" / "test.tsv").open("w") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for q, d, g in qrels:
            fh.write(f"{q}\t{d}\t{g}\n")
    (out / "dataset.json").write_text(json.dumps({"name": name, **(meta or {})}, indent=2) + "\n")
    return out


# -- text ------------------------------------------------------------------------------------
def _spread(key: str) -> str:
    """A stable pseudo-random order (subsets spread over the whole list, the same every run)."""
    return hashlib.sha256(key.encode()).hexdigest()


def msmarco(
    shared: Path,
    out: Path,
    *,
    limit_queries: int | None = None,
    docs_per_query: int | None = None,
    distractors: int = 0,
    name: str = "msmarco",
) -> Path:
    """The agentset subset as is; or, with ``docs_per_query``, a bounded corpus: for each of
    the first ``limit_queries`` queries, that many of its judged passages (a stable sample that
    keeps the mix of grades), plus ``distractors`` unjudged passages."""
    source = shared / "text_retrieval" / "agentset_beir_subsets" / "msmarco"
    if docs_per_query is not None:
        return _msmarco_subset(source, out, limit_queries, docs_per_query, distractors, name)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "corpus.jsonl", out / "corpus.jsonl")
    queries = [json.loads(line) for line in _lines(source / "queries.jsonl")]
    if limit_queries:
        queries = queries[:limit_queries]
    (out / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (out / "qrels").mkdir(exist_ok=True)
    shutil.copyfile(source / "qrels" / "test.tsv", out / "qrels" / "test.tsv")
    meta = {"name": name, "directions": ["text->text"], "source": "agentset MS MARCO subset"}
    (out / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


def _msmarco_subset(
    source: Path,
    out: Path,
    limit_queries: int | None,
    docs_per_query: int,
    distractors: int,
    name: str,
) -> Path:
    judged: dict[str, dict[str, int]] = {}
    for line in _lines(source / "qrels" / "test.tsv"):
        parts = line.split()
        if len(parts) == 3 and parts[2].lstrip("-").isdigit():
            judged.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    rows = [json.loads(line) for line in _lines(source / "queries.jsonl")]
    rows = [r for r in rows if any(g > 0 for g in judged.get(r["_id"], {}).values())]
    rows = rows[:limit_queries] if limit_queries else rows
    keep: set[str] = set()
    for row in rows:
        query_id = str(row["_id"])
        sample = sorted(judged[query_id], key=lambda d: _spread(f"{query_id}:{d}"))
        keep.update(sample[:docs_per_query])
    all_judged = {d for docs in judged.values() for d in docs}
    docs = [json.loads(line) for line in _lines(source / "corpus.jsonl")]
    others = sorted(
        (d for d in docs if d["_id"] not in all_judged), key=lambda d: _spread(d["_id"])
    )
    keep.update(d["_id"] for d in others[:distractors])
    corpus = [
        {"_id": d["_id"], "title": d.get("title", ""), "text": d["text"]}
        for d in docs
        if d["_id"] in keep
    ]
    queries = [{"_id": r["_id"], "text": r["text"]} for r in rows]
    qrels = [
        (r["_id"], d, g) for r in rows for d, g in sorted(judged[r["_id"]].items()) if d in keep
    ]
    return write_dataset(
        out,
        name=name,
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        meta={
            "directions": ["text->text"],
            "source": "agentset MS MARCO subset, bounded",
            "docs_per_query": docs_per_query,
            "distractors": distractors,
        },
    )


XQUAD_LANGUAGES = ("ar", "de", "ru", "zh", "el", "hi")


def xquad(
    shared: Path,
    out: Path,
    language: str,
    *,
    limit_queries: int,
    limit_docs: int,
    name: str | None = None,
) -> Path:
    """A bounded XQuAD subset in one language: ``limit_queries`` questions (a stable sample
    spread over the whole set), their paragraphs, then other paragraphs (a stable sample) up
    to ``limit_docs``."""
    source = shared / "text_retrieval" / "xquad" / language
    judged: dict[str, dict[str, int]] = {}
    for line in _lines(source / "qrels" / "test.tsv"):
        parts = line.split("\t")
        if len(parts) == 3 and parts[2].strip().lstrip("-").isdigit():
            judged.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    rows = [json.loads(line) for line in _lines(source / "queries.jsonl")]
    rows = [r for r in rows if any(g > 0 for g in judged.get(r["_id"], {}).values())]
    rows = sorted(rows, key=lambda r: _spread(f"{language}:{r['_id']}"))[:limit_queries]
    keep = {d for r in rows for d, g in judged[r["_id"]].items() if g > 0}
    docs = [json.loads(line) for line in _lines(source / "corpus.jsonl")]
    others = sorted((d for d in docs if d["_id"] not in keep), key=lambda d: _spread(d["_id"]))
    keep.update(d["_id"] for d in others[: max(0, limit_docs - len(keep))])
    return write_dataset(
        out,
        name=name or f"xquad-{language}",
        corpus=(
            {"_id": d["_id"], "title": d.get("title", ""), "text": d["text"]}
            for d in docs
            if d["_id"] in keep
        ),
        queries=({"_id": r["_id"], "text": r["text"]} for r in rows),
        qrels=((r["_id"], d, g) for r in rows for d, g in judged[r["_id"]].items()),
        meta={"directions": ["text->text"], "source": f"XQuAD ({language})"},
    )


def _cranfield_records(path: Path) -> list[dict[str, str]]:
    records: list[dict[str, str]] = []
    field = None
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith(".I"):
            records.append({"id": line[2:].strip()})
            field = None
        elif line[:2] in (".T", ".A", ".B", ".W") and len(line.strip()) == 2:
            field = line[1]
            records[-1].setdefault(field, "")
        elif field and records:
            records[-1][field] = (records[-1][field] + " " + line.strip()).strip()
    return records


def cranfield(
    shared: Path,
    out: Path,
    *,
    limit_queries: int | None = None,
    limit_docs: int | None = None,
    name: str = "cranfield",
) -> Path:
    """All of Cranfield; or the first ``limit_queries`` queries against at most ``limit_docs``
    abstracts (their judged abstracts first, then the others in collection order)."""
    source = shared / "text_retrieval" / "cranfield"
    docs = _cranfield_records(source / "cran.all.1400")
    queries = _cranfield_records(source / "cran.qry")
    corpus = [{"_id": d["id"], "title": d.get("T", ""), "text": d.get("W", "")} for d in docs]
    query_rows = [{"_id": str(n), "text": q.get("W", "")} for n, q in enumerate(queries, 1)]
    qrels: list[tuple[str, str, int]] = []
    for line in (source / "cranqrel").read_text(encoding="utf-8").split("\n"):
        parts = line.split()
        if len(parts) >= 3 and int(parts[2]) in (1, 2, 3, 4):
            qrels.append((parts[0], parts[1], 5 - int(parts[2])))
        elif len(parts) >= 3 and int(parts[2]) == -1:
            qrels.append((parts[0], parts[1], 1))  # unjudged grade in some copies: relevant
    if limit_queries or limit_docs:
        query_rows = query_rows[:limit_queries] if limit_queries else query_rows
        asked = {q["_id"] for q in query_rows}
        qrels = [row for row in qrels if row[0] in asked]
        judged = list(dict.fromkeys(d for _, d, _ in qrels))
        ids = judged + [c["_id"] for c in corpus if c["_id"] not in set(judged)]
        kept = set(ids[:limit_docs] if limit_docs else ids)
        corpus = [c for c in corpus if c["_id"] in kept]
        qrels = [row for row in qrels if row[1] in kept]
    return write_dataset(
        out,
        name=name,
        corpus=corpus,
        queries=query_rows,
        qrels=qrels,
        meta={"directions": ["text->text"], "grades": "5 - Cleverdon code (1 best)"},
    )


# -- speech ----------------------------------------------------------------------------------
def speech_clips(shared: Path) -> list[SpeechClip]:
    """Every clip under ``audio/`` with a human reference transcript."""
    audio = shared / "audio"
    clips: list[SpeechClip] = []

    def rows(folder: Path) -> list[dict[str, str]]:
        with (folder / "transcripts.tsv").open(newline="") as fh:
            return list(csv.DictReader(fh, delimiter="\t"))

    for row in rows(audio / "ljspeech_coqui_tts"):
        clips.append(
            SpeechClip(
                row["id"],
                audio / "ljspeech_coqui_tts" / "wavs" / f"{row['id']}.flac",
                row["text"],
                "ljspeech",
            )
        )
    for row in rows(audio / "speechbrain_asr_samples"):
        clips.append(
            SpeechClip(
                row["id"],
                audio / "speechbrain_asr_samples" / f"{row['id']}.wav",
                row["text"],
                "speechbrain",
            )
        )
    for row in rows(audio / "pocketsphinx"):
        if row["file"].endswith(".wav"):
            clips.append(
                SpeechClip(
                    Path(row["file"]).stem,
                    audio / "pocketsphinx" / row["file"],
                    row["text"],
                    "pocketsphinx",
                )
            )
    for row in rows(audio / "lhotse"):
        clips.append(
            SpeechClip(
                Path(row["file"]).stem, audio / "lhotse" / row["file"], row["text"], "lhotse"
            )
        )
    for row in rows(audio / "faster_whisper"):
        # only jfk.flac has a true human reference (see SOURCES.md)
        if row["file"] == "jfk.flac":
            clips.append(
                SpeechClip(
                    "jfk", audio / "faster_whisper" / "jfk.flac", row["text"], "faster_whisper"
                )
            )
    for row in rows(audio / "fsdd_subset"):
        clips.append(
            SpeechClip(
                row["id"],
                audio / "fsdd_subset" / "recordings" / f"{row['id']}.wav",
                row["text"],
                "fsdd",
            )
        )
    return [c for c in clips if c.file.is_file()]


def keyword_query(
    transcript: str, document_frequency: Mapping[str, int], n_docs: int, size: int = 3
) -> str:
    """The transcript's ``size`` rarest content words, in their spoken order."""
    words = [w for w in _WORD.findall(transcript.lower()) if w not in _STOP and len(w) > 2]
    if not words:
        return transcript
    scored = sorted(set(words), key=lambda w: (document_frequency.get(w, 0), w))[:size]
    keep = set(scored)
    ordered = [w for w in dict.fromkeys(words) if w in keep]
    return " ".join(ordered)


def _round_robin(clips: list[SpeechClip], limit: int) -> list[SpeechClip]:
    """At most ``limit`` clips, taken in turn from each collection (so every one is there)."""
    by_collection: dict[str, list[SpeechClip]] = {}
    for clip in clips:
        by_collection.setdefault(clip.collection, []).append(clip)
    picked: list[SpeechClip] = []
    while len(picked) < limit and any(by_collection.values()):
        for queue in by_collection.values():
            if queue and len(picked) < limit:
                picked.append(queue.pop(0))
    return [c for c in clips if c in picked]


def speech(shared: Path, out: Path, *, limit: int | None = None, name: str = "speech") -> Path:
    """Keyword queries carry the direction label ``keyword->audio``."""
    clips = [c for c in speech_clips(shared) if c.collection != "fsdd"]
    if limit:
        clips = _round_robin(clips, limit)
    df: Counter[str] = Counter()
    for clip in clips:
        df.update(set(_WORD.findall(clip.transcript.lower())))
    (out / "audio").mkdir(parents=True, exist_ok=True)
    corpus: list[dict[str, Any]] = []
    queries: list[dict[str, Any]] = []
    qrels: list[tuple[str, str, int]] = []
    for clip in clips:
        local = out / "audio" / f"{clip.collection}-{clip.file.name}"
        if not local.exists():
            shutil.copyfile(clip.file, local)
        audio_id, text_id = f"a:{clip.collection}:{clip.id}", f"t:{clip.collection}:{clip.id}"
        corpus.append({"_id": audio_id, "file": f"audio/{local.name}", "modality": "audio"})
        corpus.append({"_id": text_id, "title": "", "text": clip.transcript})
        queries.append({"_id": f"q-transcript:{clip.id}", "text": clip.transcript})
        qrels.append((f"q-transcript:{clip.id}", audio_id, 1))
        queries.append(
            {
                "_id": f"q-keywords:{clip.id}",
                "text": keyword_query(clip.transcript, df, len(clips)),
                "direction": "keyword->audio",
            }
        )
        qrels.append((f"q-keywords:{clip.id}", audio_id, 1))
        queries.append(
            {"_id": f"q-audio:{clip.id}", "file": f"audio/{local.name}", "modality": "audio"}
        )
        qrels.append((f"q-audio:{clip.id}", text_id, 1))
    return write_dataset(
        out,
        name=name,
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        meta={
            "directions": ["text->audio", "keyword->audio", "audio->text"],
            "clips": len(clips),
            "note": "q-transcript and q-keywords are text->audio; q-audio is audio->text "
            "(its own clip is in the corpus too, so it also competes with itself)",
        },
    )


# -- images ----------------------------------------------------------------------------------
def coco(shared: Path, out: Path, *, limit: int | None = None, name: str = "coco") -> Path:
    root = shared / "image_caption" / "coco2017_subset"
    rows = [json.loads(line) for line in _lines(root / "captions.jsonl")]
    rows = [r for r in rows if (root / r["image"]).is_file()][:limit]
    (out / "images").mkdir(parents=True, exist_ok=True)
    corpus: list[dict[str, Any]] = []
    queries: list[dict[str, Any]] = []
    qrels: list[tuple[str, str, int]] = []
    for row in rows:
        image = root / row["image"]
        local = out / "images" / image.name
        if not local.exists():
            shutil.copyfile(image, local)
        image_id = f"img:{row['coco_id']}"
        corpus.append({"_id": image_id, "file": f"images/{local.name}", "modality": "image"})
        for n, caption in enumerate(row["captions"]):
            caption_id = f"cap:{row['coco_id']}:{n}"
            corpus.append({"_id": caption_id, "title": "", "text": caption})
            if n == 0:
                queries.append({"_id": f"q-caption:{row['coco_id']}", "text": caption})
                qrels.append((f"q-caption:{row['coco_id']}", image_id, 1))
            qrels.append((f"q-image:{row['coco_id']}", caption_id, 1))
        queries.append(
            {
                "_id": f"q-image:{row['coco_id']}",
                "file": f"images/{local.name}",
                "modality": "image",
            }
        )
    return write_dataset(
        out,
        name=name,
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        meta={
            "directions": ["text->image", "image->text"],
            "images": len(rows),
            "note": "quality needs real CLIP weights; with random weights these numbers "
            "are not meaningful",
        },
    )


def mixed(shared: Path, out: Path, *, passages: int = 500, images: int = 60) -> Path:
    """Passages, speech and images in one index, with each direction's queries."""
    parts = {
        "speech": speech(shared, out / "_speech"),
        "coco": coco(shared, out / "_coco", limit=images),
    }
    source = shared / "text_retrieval" / "agentset_beir_subsets" / "msmarco"
    qrels_rows = [line.split() for line in _lines(source / "qrels" / "test.tsv") if line.strip()]
    relevant = {d for _, d, g in qrels_rows if int(g) > 0}
    docs = [json.loads(line) for line in _lines(source / "corpus.jsonl")]
    keep = [d for d in docs if d["_id"] in relevant][: passages // 2]
    keep += [d for d in docs if d["_id"] not in relevant][: passages - len(keep)]
    kept = {d["_id"] for d in keep}
    corpus = [
        {"_id": f"p:{d['_id']}", "title": d.get("title", ""), "text": d["text"]} for d in keep
    ]
    queries = []
    qrels = [(q, f"p:{d}", int(g)) for q, d, g in qrels_rows if d in kept and int(g) > 0]
    judged = {q for q, _, _ in qrels}
    for line in _lines(source / "queries.jsonl"):
        row = json.loads(line)
        if row["_id"] in judged:
            queries.append({"_id": row["_id"], "text": row["text"]})
    for folder in parts.values():
        for line in _lines(folder / "corpus.jsonl"):
            row = json.loads(line)
            if "file" in row:
                row["file"] = f"{folder.name}/{row['file']}"
            corpus.append(row)
        for line in _lines(folder / "queries.jsonl"):
            row = json.loads(line)
            if "file" in row:
                row["file"] = f"{folder.name}/{row['file']}"
            queries.append(row)
        for line in _lines(folder / "qrels" / "test.tsv")[1:]:
            q, d, g = line.split("\t")
            qrels.append((q, d, int(g)))
    return write_dataset(
        out,
        name="mixed",
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        meta={"directions": "all", "parts": sorted(parts), "passages": len(keep)},
    )


CONVERTERS: dict[str, Callable[[Path, Path], Path]] = {
    "msmarco": msmarco,
    "cranfield": cranfield,
    "speech": speech,
    "coco": coco,
    "mixed": mixed,
}
