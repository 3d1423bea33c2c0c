"""Saved mappings: one reviewable JSON file per version, keyed by a hash of what the mapping
was made for (source schema, target schema, model, prompt version).

Files live at ``<data_dir>/translator/mappings/<key>.v<N>.json``; the highest version is the
one applied. Saving identical rules again keeps the current version; editing a file by hand
and saving it (``mmrag mapping test --save``) makes the next version.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from rag.errors import MappingError
from translators.convert.jsonout import dumps
from translators.mapping.dsl import MappingFile, Rule

__all__ = ["MappingStore", "mapping_key", "rule_json", "rules_digest", "schema_digest"]

_FILE = re.compile(r"^([0-9a-f]{32})\.v([0-9]+)\.json$")


def schema_digest(schema: Any) -> str:
    return hashlib.sha256(dumps(schema).encode()).hexdigest()


def mapping_key(source_schema: Any, target_schema: Any, model: str, prompt_version: str) -> str:
    payload = dumps(
        {
            "source": schema_digest(source_schema),
            "target": schema_digest(target_schema),
            "model": model,
            "prompt": prompt_version,
        }
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def rules_digest(rules: tuple[Rule, ...]) -> str:
    body = [r.model_dump(mode="json", exclude_defaults=True) for r in rules]
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def rule_json(rule: Rule) -> dict[str, Any]:
    """A rule as written in mapping files: target, op, then only the fields it uses."""
    body = rule.model_dump(mode="json", exclude_defaults=True, exclude={"rules"})
    ordered = {"target": rule.target, "op": rule.op, **body}
    if rule.rules is not None:
        ordered["rules"] = [rule_json(r) for r in rule.rules]
    return ordered


class MappingStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def versions(self, key: str) -> list[int]:
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.iterdir():
            match = _FILE.match(path.name)
            if match and match.group(1) == key:
                found.append(int(match.group(2)))
        return sorted(found)

    def path(self, key: str, version: int) -> Path:
        return self.folder / f"{key}.v{version}.json"

    def latest(self, key: str) -> MappingFile | None:
        versions = self.versions(key)
        return self.load(self.path(key, versions[-1])) if versions else None

    @staticmethod
    def load(path: Path) -> MappingFile:
        try:
            return MappingFile.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MappingError(f"cannot read mapping {path.name}: {exc}") from None

    def save(self, mapping: MappingFile) -> tuple[MappingFile, Path]:
        """Write ``mapping`` as the next version (unless its rules equal the latest's)."""
        latest = self.latest(mapping.key)
        if latest is not None and rules_digest(latest.rules) == rules_digest(mapping.rules):
            return latest, self.path(latest.key, latest.version)
        version = (latest.version + 1) if latest is not None else 1
        saved = mapping.model_copy(update={"version": version})
        path = self.path(saved.key, version)
        self.folder.mkdir(parents=True, exist_ok=True)
        body = saved.model_dump(mode="json")
        # Rules without their unused fields read like the mapping language itself.
        body["rules"] = [rule_json(r) for r in saved.rules]
        text = json.dumps(body, indent=2, ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.replace(tmp, path)
        return saved, path
