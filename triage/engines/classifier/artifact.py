"""The on-disk classifier artifact: tensors in safetensors, vocabulary and metadata in JSON, nothing executable.

Layout of an artifact directory::

    weights.safetensors   every numeric array of the recipe (float32)
    vocabulary.json       per TF-IDF member (``char``, ``word``), its n-grams in column order
    metadata.json         version, embedding model, labels, data hash, metrics, calibration, recipe, file hashes

``version`` is one content hash over the weight files. ``metadata.json`` carries the hash of each file and a
hash of its own content, so loading names the file that was changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from triage.core.errors import ArtifactError
from triage.core.hashing import sha256_file, sha256_files, sha256_json

WEIGHTS_FILE = "weights.safetensors"
VOCABULARY_FILE = "vocabulary.json"
METADATA_FILE = "metadata.json"
WEIGHT_FILES = (WEIGHTS_FILE, VOCABULARY_FILE)
FORMAT_VERSION = 2


def _metadata_digest(metadata: dict[str, Any]) -> str:
    return sha256_json({k: v for k, v in metadata.items() if k != "metadata_sha256"})


def write_artifact(
    out_dir: Path,
    tensors: dict[str, NDArray[np.float32]],
    vocabulary: dict[str, list[str]],
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """Write the artifact and return the completed metadata (``version``, file hashes, self-hash)."""
    from safetensors.numpy import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
        str(out_dir / WEIGHTS_FILE),
    )
    (out_dir / VOCABULARY_FILE).write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
    paths = [out_dir / name for name in WEIGHT_FILES]
    completed = dict(metadata)
    completed["format_version"] = FORMAT_VERSION
    completed["files"] = {path.name: sha256_file(path) for path in paths}
    completed["version"] = sha256_files(paths, out_dir)
    completed["metadata_sha256"] = _metadata_digest(completed)
    (out_dir / METADATA_FILE).write_text(
        json.dumps(completed, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return completed


def read_artifact(
    model_dir: Path,
) -> tuple[dict[str, Any], dict[str, NDArray[np.float32]], dict[str, list[str]]]:
    """Read and verify an artifact; ``ArtifactError`` names the missing or modified file."""
    from safetensors.numpy import load_file

    meta_path = model_dir / METADATA_FILE
    if not meta_path.is_file():
        raise ArtifactError(f"{model_dir}: not a classifier artifact ({METADATA_FILE} is missing)")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{meta_path}: unreadable ({exc})") from exc
    if not isinstance(metadata, dict) or metadata.get("metadata_sha256") != _metadata_digest(metadata):
        raise ArtifactError(f"{meta_path}: modified after training (its content hash does not match)")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{meta_path}: unsupported artifact format {metadata.get('format_version')!r}")
    for name in WEIGHT_FILES:
        path = model_dir / name
        if not path.is_file():
            raise ArtifactError(f"{path}: missing from the artifact")
        if sha256_file(path) != metadata["files"].get(name):
            raise ArtifactError(f"{path}: modified after training (sha256 does not match metadata.json)")
    try:
        tensors = load_file(str(model_dir / WEIGHTS_FILE))
        vocabulary = json.loads((model_dir / VOCABULARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # pragma: no cover - hashes matched, so only a writer bug gets here
        raise ArtifactError(f"{model_dir}: unreadable artifact ({exc})") from exc
    return metadata, tensors, vocabulary
