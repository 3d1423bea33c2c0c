"""The bundled LLM (SmolLM2-135M, local) proposes a mapping for a real operation; the mapping
is checked, repaired where needed, saved, and applied; output validates against the target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from rag.models import ModelRegistry
from rag.settings import Settings, TranslatorSettings
from tests.conftest import MODEL_CACHE, REPO_ROOT
from translators.mapping.store import MappingStore
from translators.mapping.workflow import propose_from_samples
from translators.service import TranslateOptions, TranslatorService, WsdlRef

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "translators"


@pytest.fixture
def country_wsdl(shared_data: Path) -> Path:
    path = shared_data / "wsdl_soap" / "wsdl-to-postman" / "test" / "data" / "validWSDLs11"
    wsdl = path / "countryInformation.wsdl"
    if not wsdl.is_file():
        pytest.skip("countryInformation.wsdl is not in the shared corpus")
    return wsdl


@pytest.mark.slow
def test_bundled_llm_proposes_a_mapping_that_validates_and_is_applied(
    models: ModelRegistry, country_wsdl: Path, tmp_path: Path
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        cache_dir=MODEL_CACHE,
        translator=TranslatorSettings(llm_max_tokens=160),
    )
    service = TranslatorService(settings, llm=models.llm)
    xml = (FIXTURES / "countryinfo_fullcountryinfo_response.xml").read_bytes()
    target = json.loads((FIXTURES / "country_target.schema.json").read_text())
    result = service.translate(
        xml, WsdlRef(path=country_wsdl), TranslateOptions(target_schema=target)
    )
    assert result.mode == "mapped"
    Draft202012Validator(target).validate(result.data)
    assert result.data["sName"] == "Netherlands"
    assert result.mapping is not None
    assert result.mapping["rules_from_llm"] >= 1, "the LLM contributed no usable rule"
    saved = MappingStore(service.state_dir / "mappings").latest(result.mapping["key"])
    assert saved is not None
    assert saved.report["valid_on_samples"] is True
    assert saved.report["llm"]["raw_reply"]
    # Applied again from the saved file: no LLM call, byte-identical output.
    again = service.translate(
        xml, WsdlRef(path=country_wsdl), TranslateOptions(target_schema=target)
    )
    assert again.as_dict() == result.as_dict()


@pytest.mark.slow
def test_per_message_llm_mode_never_returns_invalid_json(
    models: ModelRegistry, country_wsdl: Path, tmp_path: Path
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        cache_dir=MODEL_CACHE,
        translator=TranslatorSettings(llm_max_tokens=48),
    )
    service = TranslatorService(settings, llm=models.llm)
    xml = (FIXTURES / "countryinfo_fullcountryinfo_response.xml").read_bytes()
    target = json.loads((FIXTURES / "country_target.schema.json").read_text())
    # The saved mapping is made without the LLM, so only the per-message calls are timed here.
    propose_from_samples(
        service, [xml], WsdlRef(path=country_wsdl), TranslateOptions(), target, use_llm=False
    )
    result = service.translate(
        xml, WsdlRef(path=country_wsdl), TranslateOptions(target_schema=target, mode="llm")
    )
    Draft202012Validator(target).validate(result.data)
    assert result.mode == "llm" or {f.kind for f in result.fallbacks} & {
        "llm_message",
        "llm_unavailable",
    }
