"""The index command's progress display moves per unit, and the summary repeats failures."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from indexers.pipeline import Indexer
from indexers.report import FileResult, FileStatus, IndexReport, UnitListener
from rag.cli.progress import RichIndexProgress, print_summary
from rag.store.edge import EmbeddedStore
from rag.types import Modality
from tests.conftest import SettingsFactory
from tests.media import png_bytes, write_wav
from tests.unit.indexers.test_pipeline import Fakes


class Recording(RichIndexProgress):
    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self.files_done_at_unit: list[int] = []

    def unit_read(self, modality: Modality) -> None:
        super().unit_read(modality)
        self.files_done_at_unit.append(int(self._progress.tasks[0].completed))


def test_units_move_before_the_batch_is_flushed(
    tmp_path: Path, make_settings: SettingsFactory
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.png").write_bytes(png_bytes(color=(200, 10, 10)))
    (corpus / "b.txt").write_text("Stop signs are red octagons. " * 40)
    write_wav(corpus / "talk.wav", [(2, True), (1, False), (2, True)])
    settings = make_settings()
    fakes = Fakes()
    out = io.StringIO()
    store = EmbeddedStore(tmp_path / "qdrant")
    try:
        with Recording(Console(file=out, width=160)) as progress:
            assert isinstance(progress, UnitListener)
            indexer = Indexer(settings, fakes.registry(settings), store, listener=progress)
            report = indexer.index_paths([corpus])
            units_task = progress._progress.tasks[1]
            assert units_task.completed == sum(report.units().values())
            detail = str(units_task.fields["detail"])
    finally:
        store.close()
    assert report.ok
    # Every unit was seen while no file had finished yet: the bar moved per unit, not per
    # flushed batch (the files all finish together at the one flush of this small run).
    assert len(progress.files_done_at_unit) == sum(report.units().values())
    assert progress.files_done_at_unit[0] == 0
    for modality in ("text", "image", "audio"):
        assert modality in detail


def test_summary_repeats_every_failure_after_the_table() -> None:
    report = IndexReport(
        results=[
            FileResult("ok.txt", Modality.TEXT, FileStatus.INDEXED, units=3),
            FileResult("bad.png", Modality.IMAGE, FileStatus.FAILED, reason="corrupt image"),
            FileResult("odd.bin", None, FileStatus.FAILED, reason="unsupported file type"),
        ]
    )
    out = io.StringIO()
    print_summary(Console(file=out, width=160), report)
    text = out.getvalue()
    table_end = text.index("audio")
    assert "2 file(s) failed" in text[table_end:]
    assert text.index("bad.png: corrupt image") > table_end
    assert text.index("odd.bin: unsupported file type") > table_end
