"""Handlers of ``triage train``, ``triage predict`` and ``triage eval classify``.

Each takes the parsed ``argparse.Namespace`` and returns an exit code. Service errors are turned into one
``error: <message>`` line and exit code 2 here, at the boundary, and nowhere else.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
        }
        print(json.dumps(record, ensure_ascii=False))
    elapsed = time.monotonic() - started
    print(
        f"predicted {len(texts)} texts with model {classifier.version[:12]} in {elapsed:.2f}s",
        file=sys.stderr,
    )
    return 0


def run_eval_classify(args: argparse.Namespace) -> int:
    from triage.engines.classifier import evaluate, load_classifier
    from triage.engines.datasets import load_labelled

    try:
        rows = load_labelled(Path(args.data), **_columns(args))
        classifier = load_classifier(Path(args.model), _embedder())
        result = evaluate(classifier, rows)
    except TriageError as exc:
        return _fail(exc)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if getattr(args, "json", None):
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    if getattr(args, "report", None):
        Path(args.report).write_text(
            html_report(result, classifier.version, str(args.data)), encoding="utf-8"
        )
    cov = result["coverage_at_precision"]
    print(
        f"n={result['n']} accuracy={result['accuracy']:.4f} macro_f1={result['macro_f1']:.4f} "
        f"ece={result['ece']:.4f} coverage@0.95={cov['0.95']:.3f} coverage@0.99={cov['0.99']:.3f}",
        file=sys.stderr,
    )
    return 0


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def html_report(result: dict[str, Any], version: str, data: str) -> str:
    """A self-contained HTML page: headline metrics, reliability table, per-class table, top confusions."""
    cov = result["coverage_at_precision"]
    headline = _table(
        ["n", "accuracy", "macro F1", "ECE (15 bins)", "coverage@0.95", "coverage@0.99"],
        [[result["n"], result["accuracy"], result["macro_f1"], result["ece"], cov["0.95"], cov["0.99"]]],
    )
    reliability = _table(
        ["confidence bin", "count", "mean confidence", "accuracy", "gap", ""],
        [
            [
                f"{r['lower']:.3f}-{r['upper']:.3f}",
                r["count"],
                r["confidence"],
                r["accuracy"],
                r["accuracy"] - r["confidence"],
                "#" * round(40 * r["accuracy"]),
            ]
            for r in result["reliability"]
        ],
    )
    per_class = _table(
        ["label", "precision", "recall", "F1", "support"],
        [
            [label, m["precision"], m["recall"], m["f1"], m["support"]]
            for label, m in sorted(result["per_class"].items(), key=lambda kv: kv[1]["f1"])
        ],
    )
    confusions = _table(
        ["true label", "predicted", "count"],
        [[c["true"], c["predicted"], c["count"]] for c in result["confusions"]],
    )
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}"
        "table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
        "td:first-child,th:first-child{text-align:left}td:last-child{font-family:monospace;text-align:left}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Classifier evaluation</title>"
        f"<style>{style}</style></head><body><h1>Classifier evaluation</h1>"
        f"<p>model {html.escape(version)}<br>data {html.escape(data)}</p>"
        f"<h2>Headline</h2>{headline}<h2>Reliability (top-1 confidence)</h2>{reliability}"
        f"<h2>Per class (worst F1 first)</h2>{per_class}<h2>Most frequent confusions</h2>{confusions}"
        "</body></html>\n"
    )
