"""A client generated from ``/schema/openapi.json`` by a real generator (openapi-python-client) triages a case
and reads its events: the schema is complete and true enough for a client generator to use as it is."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from litestar.testing.transport import TestClientTransport as AppTransport

from tests.integration.live_app import WORKFLOW, LiveApp, live_app

pytestmark = pytest.mark.slow  # starts a live app on a bootstrapped home

GENERATOR = shutil.which("openapi-python-client") or str(
    Path(sys.executable).with_name("openapi-python-client")
)
PACKAGE = "exception_triage_client"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    with live_app(tmp_path_factory.mktemp("generated")) as app:
        yield app


@pytest.fixture(scope="module")
def generated(env: LiveApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    if not Path(GENERATOR).exists():
        pytest.skip("openapi-python-client is not installed (it comes with the test extras)")
    folder = tmp_path_factory.mktemp("client")
    schema = env.client.get("/schema/openapi.json")
    assert schema.status_code == 200
    (folder / "openapi.json").write_text(schema.text, encoding="utf-8")
    result = subprocess.run(
        [GENERATOR, "generate", "--path", "openapi.json", "--meta", "none"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def operation(package: ModuleType, tag: str, name_part: str) -> Any:
    folder = Path(package.__file__).parent / "api" / tag
    module = next(p.stem for p in folder.glob("*.py") if name_part in p.stem)
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{module}")


def test_a_generated_client_triages_a_case_and_reads_its_events(env: LiveApp, generated: ModuleType) -> None:
    client_module = importlib.import_module(f"{PACKAGE}.client")
    models = importlib.import_module(f"{PACKAGE}.models")
    client = client_module.AuthenticatedClient(
        base_url="http://testserver.local",
        token=env.tokens[WORKFLOW],
        httpx_args={"transport": AppTransport(env.client, raise_server_exceptions=False)},
    )
    event = json.loads(Path("eval/datasets/order_exceptions/test.jsonl").read_text().splitlines()[3])["event"]
    event["event_id"] = "EVT-GENERATED-CLIENT-1"

    triage = operation(generated, "cases", "triage_exception")
    response = triage.sync_detailed(client=client, body=models.ExceptionEvent.from_dict(event))
    assert response.status_code == 201, response.content[:500]
    case = response.parsed
    assert isinstance(case, models.TriageCase)
    assert case.classification.label and case.status.value in {s.value for s in models.CaseStatus}

    feed = operation(generated, "events", "feed")
    page = feed.sync(client=client, types=[models.EventType.CASE_TRIAGED], limit=500)
    assert isinstance(page, models.EventPage)
    assert case.case_id in [e.subject for e in page.items]

    missing = operation(generated, "cases", "get_case").sync_detailed(case_id="case_nope", client=client)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.Problem) and missing.parsed.status == 404
