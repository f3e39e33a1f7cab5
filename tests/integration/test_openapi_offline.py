"""Works from anywhere: the OpenAPI page renders offline (its script served by the process, nothing from a CDN),
and the governed files are found when the service starts from another folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from litestar.testing import TestClient

from triage.app import create_app
from triage.config import Settings


def test_the_schema_page_loads_nothing_from_another_host(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path, environment="test"))
    with TestClient(app) as client:
        page = client.get("/schema")
        assert page.status_code == 200
        sources = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]""", page.text)
        assert sources, page.text[:500]
        assert all(source.startswith("/") for source in sources), sources
        for source in sources:
            asset = client.get(source)
            assert asset.status_code == 200 and len(asset.content) > 100_000, source


def test_governed_files_are_found_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(home=tmp_path / "home")
    for path in (settings.policy_file, settings.taxonomy_file, settings.factcheck_file, settings.prompts_dir):
        assert path.is_absolute() and path.exists(), path
