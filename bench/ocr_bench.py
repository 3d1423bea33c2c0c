"""OCR throughput with 1 and N pool workers (issue 15: OCR no longer runs behind one lock).

Decodes and OCRs COCO images the way indexing does (``load_image``, ``ocr_copy``, the
registry's PP-OCRv4 engine), on ``workers`` threads sharing one ``OcrEngine`` pool of that
size, and prints images/s per worker count and whether every count read the same text::

    python -m bench.ocr_bench --images 24 --workers 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def coco_files(shared: Path, n: int) -> list[Path]:
    found = sorted((shared / "image_caption" / "coco2017_subset").rglob("*.jpg"))
    if not found:
        raise SystemExit(f"no COCO images under {shared}/image_caption/coco2017_subset")
    return found[:n]


def run(files: Sequence[Path], workers: int) -> tuple[float, list[str]]:
    """Seconds for all files through a pool of ``workers`` engines, and the texts read."""
    from rag.media.image import load_image, ocr_copy
    from rag.models.ocr import load_ocr
    from rag.settings import OcrSettings

    engine = load_ocr(OcrSettings(workers=workers))

    def one(path: Path) -> str:
        image, _ = load_image(path, max_pixels=50_000_000)
        return engine.text(ocr_copy(image))

    with ThreadPoolExecutor(workers) as threads:  # warm-up: every engine made and run once
        list(threads.map(one, list(files[:workers])))
        started = time.perf_counter()
        texts = list(threads.map(one, files))
    return time.perf_counter() - started, texts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    files = coco_files(args.shared, args.images)
    rows = []
    reference: list[str] | None = None
    for workers in args.workers:
        seconds, texts = run(files, workers)
        reference = texts if reference is None else reference
        rows.append(
            {
                "workers": workers,
                "images": len(files),
                "seconds": round(seconds, 2),
                "images_per_s": round(len(files) / seconds, 2),
                "same_text_as_first": texts == reference,
                "images_with_text": sum(1 for t in texts if t.strip()),
            }
        )
        print(
            f"workers {workers:>2}: {len(files) / seconds:6.2f} images/s "
            f"({seconds:.1f} s for {len(files)}; same text: {texts == reference}; "
            f"{rows[-1]['images_with_text']} with text)",
            flush=True,
        )
    print(f"cores {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}")
    if args.out:
        args.out.write_text(json.dumps({"rows": rows, "cores": os.cpu_count()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
