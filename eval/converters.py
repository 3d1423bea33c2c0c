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
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping
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
def msmarco(shared: Path, out: Path, *, limit_queries: int | None = None) -> Path:
    source = shared / "text_retrieval" / "agentset_beir_subsets" / "msmarco"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / "corpus.jsonl", out / "corpus.jsonl")
    queries = [
        json.loads(line) for line in (source / "queries.jsonl").read_text().split("\n") if line
    ]
    if limit_queries:
        queries = queries[:limit_queries]
    (out / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (out / "qrels").mkdir(exist_ok=True)
    shutil.copyfile(source / "qrels" / "test.tsv", out / "qrels" / "test.tsv")
    meta = {"name": "msmarco", "directions": ["text->text"], "source": "agentset MS MARCO subset"}
    (out / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


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


def cranfield(shared: Path, out: Path) -> Path:
    source = shared / "text_retrieval" / "cranfield"
    docs = _cranfield_records(source / "cran.all.1400")
    queries = _cranfield_records(source / "cran.qry")
    corpus = [{"_id": d["id"], "title": d.get("T", ""), "text": d.get("W", "")} for d in docs]
    query_rows = [{"_id": str(n), "text": q.get("W", "")} for n, q in enumerate(queries, 1)]
    qrels = []
    for line in (source / "cranqrel").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and int(parts[2]) in (1, 2, 3, 4):
            qrels.append((parts[0], parts[1], 5 - int(parts[2])))
        elif len(parts) >= 3 and int(parts[2]) == -1:
            qrels.append((parts[0], parts[1], 1))  # unjudged grade in some copies: relevant
    return write_dataset(
        out,
        name="cranfield",
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


def speech(shared: Path, out: Path) -> Path:
    clips = [c for c in speech_clips(shared) if c.collection != "fsdd"]
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
            {"_id": f"q-keywords:{clip.id}", "text": keyword_query(clip.transcript, df, len(clips))}
        )
        qrels.append((f"q-keywords:{clip.id}", audio_id, 1))
        queries.append(
            {"_id": f"q-audio:{clip.id}", "file": f"audio/{local.name}", "modality": "audio"}
        )
        qrels.append((f"q-audio:{clip.id}", text_id, 1))
    return write_dataset(
        out,
        name="speech",
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        meta={
            "directions": ["text->audio", "audio->text"],
            "clips": len(clips),
            "note": "q-transcript and q-keywords are text->audio; q-audio is audio->text "
            "(its own clip is in the corpus too, so it also competes with itself)",
        },
    )


# -- images ----------------------------------------------------------------------------------
def coco(shared: Path, out: Path, *, limit: int | None = None) -> Path:
    root = shared / "image_caption" / "coco2017_subset"
    rows = [json.loads(line) for line in (root / "captions.jsonl").read_text().split("\n") if line]
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
        name="coco",
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
    qrels_rows = [
        line.split()
        for line in (source / "qrels" / "test.tsv").read_text().splitlines()
        if line.strip()
    ]
    relevant = {d for _, d, g in qrels_rows if int(g) > 0}
    docs = [json.loads(line) for line in (source / "corpus.jsonl").read_text().split("\n") if line]
    keep = [d for d in docs if d["_id"] in relevant][: passages // 2]
    keep += [d for d in docs if d["_id"] not in relevant][: passages - len(keep)]
    kept = {d["_id"] for d in keep}
    corpus = [
        {"_id": f"p:{d['_id']}", "title": d.get("title", ""), "text": d["text"]} for d in keep
    ]
    queries = []
    qrels = [(q, f"p:{d}", int(g)) for q, d, g in qrels_rows if d in kept and int(g) > 0]
    judged = {q for q, _, _ in qrels}
    for line in (source / "queries.jsonl").read_text().split("\n"):
        if not line.strip():
            continue
        row = json.loads(line)
        if row["_id"] in judged:
            queries.append({"_id": row["_id"], "text": row["text"]})
    for folder in parts.values():
        for line in (folder / "corpus.jsonl").read_text().split("\n"):
            if not line.strip():
                continue
            row = json.loads(line)
            if "file" in row:
                row["file"] = f"{folder.name}/{row['file']}"
            corpus.append(row)
        for line in (folder / "queries.jsonl").read_text().split("\n"):
            if not line.strip():
                continue
            row = json.loads(line)
            if "file" in row:
                row["file"] = f"{folder.name}/{row['file']}"
            queries.append(row)
        for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]:
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


CONVERTERS = {
    "msmarco": msmarco,
    "cranfield": cranfield,
    "speech": speech,
    "coco": coco,
    "mixed": mixed,
}
