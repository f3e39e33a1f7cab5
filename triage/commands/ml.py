"""Handlers of ``triage train``, ``triage predict`` and ``triage eval classify`` (now the harness's suite).

Each takes the parsed ``argparse.Namespace`` and returns an exit code. Service errors are turned into one
``error: <message>`` line and exit code 2 here, at the boundary, and nowhere else.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from triage.core.errors import ArtifactError, InvalidInput, TriageError

if TYPE_CHECKING:
    from triage.engines.embedder import SentenceTransformerEmbedder

EXIT_ERROR = 2


def _embedder() -> SentenceTransformerEmbedder:
    from triage.config import get_settings
    from triage.engines.embedder import SentenceTransformerEmbedder

    settings = get_settings()
    return SentenceTransformerEmbedder(settings.embedding_model, batch_size=settings.embedding_batch_size)


def _fail(exc: TriageError) -> int:
    print(f"error: {exc.detail}", file=sys.stderr)
    return EXIT_ERROR


def _columns(args: argparse.Namespace) -> dict[str, str]:
    return {"text_col": getattr(args, "text_col", "text"), "label_col": getattr(args, "label_col", "label")}


def run_train(args: argparse.Namespace) -> int:
    from triage.engines.classifier import train_classifier
    from triage.engines.classifier.training import validate_rows
    from triage.engines.datasets import load_labelled

    try:
        rows = load_labelled(Path(args.data), **_columns(args))
        validate_rows(rows)  # before the embedding model loads, so bad data fails in a second
        metadata = train_classifier(
            rows,
            _embedder(),
            Path(args.out),
            seed=getattr(args, "seed", 0) or 0,
            progress=sys.stderr.isatty(),
        )
    except TriageError as exc:
        return _fail(exc)
    cv = metadata["metrics"]["cv"]
    print(
        f"trained {metadata['version'][:12]} on {metadata['rows']} rows, {len(metadata['labels'])} labels "
        f"in {metadata['training_seconds']:.0f}s: CV accuracy {cv['accuracy']:.4f}, ECE {cv['ece']:.4f}, "
        f"coverage@0.99 {cv['coverage_at_precision']['0.99']:.3f} -> {args.out}",
        file=sys.stderr,
    )
    return 0


def _predict_texts(args: argparse.Namespace) -> list[str]:
    from triage.engines.datasets import iter_labelled

    texts = list(getattr(args, "texts", None) or [])
    data = getattr(args, "data", None)
    if data:
        path = Path(data)
        if path.suffix.lower() == ".txt":
            texts.extend(
                line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
            )
        else:
            columns = _columns(args)
            try:
                texts.extend(row.text for row in iter_labelled(path, **columns))
            except InvalidInput:
                texts.extend(_unlabelled_texts(path, columns["text_col"]))
    if not texts:
        raise InvalidInput("nothing to predict: give TEXT arguments or --data FILE")
    return texts


def _unlabelled_texts(path: Path, text_col: str) -> list[str]:
    """Texts from a CSV/JSONL file that has no label column."""
    import csv

    from triage.engines.datasets import iter_labelled

    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or text_col not in reader.fieldnames:
                raise InvalidInput(f"{path}: missing column {text_col!r} (columns: {reader.fieldnames})")
            return [str(row[text_col] or "") for row in reader]
    texts = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}:{line_no}: invalid JSON ({exc.msg})") from exc
        if not isinstance(record, dict) or text_col not in record:
            # Let the reader produce its own message (history format, missing column ...).
            list(iter_labelled(path, text_col=text_col))
        texts.append(str(record[text_col] or ""))
    return texts


def run_predict(args: argparse.Namespace) -> int:
    from triage.engines.classifier import load_classifier

    try:
        texts = _predict_texts(args)
        if not (Path(args.model) / "metadata.json").is_file():
            raise ArtifactError(f"{args.model}: not a classifier artifact (metadata.json is missing)")
        classifier = load_classifier(Path(args.model), _embedder())
        started = time.monotonic()
        predictions = classifier.predict(texts)
    except TriageError as exc:
        return _fail(exc)
    for text, prediction in zip(texts, predictions, strict=True):
        record = {
            "text": text,
            "label": prediction.label,
            "confidence": round(prediction.confidence, 6),
            "alternatives": [
                {"label": a.label, "confidence": round(a.confidence, 6)} for a in prediction.alternatives
            ],
            "novelty": prediction.novelty,
            "novel": prediction.novel,
        }
        print(json.dumps(record, ensure_ascii=False))
    elapsed = time.monotonic() - started
    print(
        f"predicted {len(texts)} texts with model {classifier.version[:12]} in {elapsed:.2f}s",
        file=sys.stderr,
    )
    return 0


def run_eval_classify(args: argparse.Namespace) -> int:
    """``triage eval classify``: the ``classify`` suite of the evaluation harness (``triage.commands.evaluation``)."""
    from triage.commands.evaluation import run_eval

    args.suite = "classify"
    return run_eval(args)
