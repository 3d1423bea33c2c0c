"""Fixtures for translator unit tests: the hand-written constructs WSDL and a service."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.settings import Settings
from tests.conftest import REPO_ROOT, SettingsFactory
from translators.service import TranslatorService, WsdlRef

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "translators"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def service(make_settings: SettingsFactory) -> TranslatorService:
    return TranslatorService(make_settings())


@pytest.fixture
def constructs() -> WsdlRef:
    return WsdlRef(path=FIXTURES / "constructs.wsdl")


def settings_with(make_settings: SettingsFactory, **translator: object) -> Settings:
    return make_settings(translator=translator)
