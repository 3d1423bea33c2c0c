"""Target-schema mapping at translation time (filled in by the mapping package)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.errors import BadInputError

if TYPE_CHECKING:
    from translators.compiled import CompiledWsdl
    from translators.result import Translation
    from translators.service import TranslateOptions, TranslatorService


def apply_target(
    service: TranslatorService,
    translation: Translation,
    options: TranslateOptions,
    compiled: CompiledWsdl | None,
) -> Translation:
    raise BadInputError("target schemas are not supported yet")
