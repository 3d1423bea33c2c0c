"""The modality-gap check through the real models on a tiny mixed dataset."""

from __future__ import annotations

import json
from pathlib import Path

from eval.converters import write_dataset
from eval.dataset import load_dataset
from eval.gap import modality_gap
from rag.models import ModelRegistry
from rag.settings import Settings
from rerankers.calibration import load_calibration


def _tiny_mixed(shared: Path, out: Path) -> Path:
    wavs = shared / "audio" / "ljspeech_coqui_tts" / "wavs"
    rows = (shared / "audio" / "ljspeech_coqui_tts" / "transcripts.tsv").read_text().split("\n")
    clips = [line.split("\t")[:2] for line in rows[1:3]]
    captions = [
        json.loads(line)
        for line in (shared / "image_caption" / "coco2017_subset" / "captions.jsonl")
        .read_text()
        .split("\n")[:2]
    ]
    corpus = [
        {"_id": "p1", "text": "The volcano erupted and lava flowed down the mountain."},
        {"_id": "p2", "text": "Interest rates were raised by the central bank this quarter."},
        {"_id": "p3", "text": "The recipe needs flour, butter, sugar and two eggs."},
    ]
    corpus += [
        {"_id": f"a:{cid}", "file": str(wavs / f"{cid}.flac"), "modality": "audio"}
        for cid, _ in clips
    ]
    corpus += [
        {
            "_id": f"i:{c['coco_id']}",
            "file": str(shared / "image_caption" / "coco2017_subset" / c["image"]),
            "modality": "image",
        }
        for c in captions
    ]
    queries = [
        {"_id": "qt", "text": "what did the central bank do to interest rates"},
        {"_id": "qa", "text": clips[0][1]},
        {"_id": "qi", "text": captions[0]["captions"][0]},
    ]
    qrels = [
        ("qt", "p2", 1),
        ("qa", f"a:{clips[0][0]}", 1),
        ("qi", f"i:{captions[0]['coco_id']}", 1),
    ]
    return write_dataset(out, name="tiny-mixed", corpus=corpus, queries=queries, qrels=qrels)


def test_gap_on_a_tiny_mixed_dataset(
    tmp_path: Path, shared_data: Path, session_settings: Settings, models: ModelRegistry
) -> None:
    data = load_dataset(_tiny_mixed(shared_data, tmp_path / "tiny"))
    result = modality_gap(
        data, session_settings, models, load_calibration(session_settings.calibration_dir)
    )
    assert result["kind"] == "modality-gap"
    directions = result["directions"]
    assert set(directions) == {"text->text", "text->audio", "text->image"}
    for row in directions.values():
        for metric in ("recall@10", "ndcg@10"):
            values = row[metric]
            assert 0.0 <= values["mixed"] <= 1.0
            assert values["single"] is not None
            assert values["gap"] == values["single"] - values["mixed"]
    # a tiny corpus: the text and the speech targets are found in both indexes
    assert directions["text->text"]["recall@10"]["single"] == 1.0
    assert directions["text->audio"]["recall@10"]["mixed"] == 1.0
    if result["clip_random"]:
        assert directions["text->image"]["meaningful"] is False
        assert directions["text->text"]["meaningful"] is True
