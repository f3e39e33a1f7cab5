"""int8 ONNX against the default encoder on BANKING77: ``python -m eval.bench_onnx``.

BANKING77's training file (``../shared/datasets/banking77/train.csv``) is split 80/20, stratified, seed 13 (as the
README's classifier figures); the frozen-encoder ensemble (what ``triage bootstrap`` trains) is trained on the
80 % once and kept under ``--cache`` with its int8 encoder; then the held-out 20 % is classified with each
backend. Printed: accuracy of each and the difference in points, the overlap of the five nearest training
texts found with int8 query vectors against those found with the default ones (both searching the default's
vectors, as a collection indexed before a switch of backend would be searched), and one encoder pass (one
text, median) per backend. Exit 0 always: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BANKING77 = ROOT.parent / "shared" / "datasets" / "banking77" / "train.csv"
DEFAULT_CACHE = ROOT / "var" / "bench" / "banking77"
SEED = 13
K = 5


def split(cache: Path) -> tuple[Path, Path]:
    """The 80/20 stratified split of BANKING77's training file, written once under ``cache``."""
    import csv

    from sklearn.model_selection import train_test_split

    train, test = cache / "train.csv", cache / "test.csv"
    if train.is_file() and test.is_file():
        return train, test
    with BANKING77.open(encoding="utf-8", newline="") as handle:
        rows = [(r["text"], r["label"]) for r in csv.DictReader(handle)]
    head, tail = train_test_split(rows, test_size=0.2, stratify=[r[1] for r in rows], random_state=SEED)
    cache.mkdir(parents=True, exist_ok=True)
    for path, part in ((train, head), (test, tail)):
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(part)
    return train, test


def trained_model(cache: Path, train: Path, embedder: Any) -> Path:
    """The frozen-encoder ensemble trained on ``train`` (with its int8 encoder), built once under ``cache``."""
    from triage.engines.classifier import train_classifier
    from triage.engines.datasets import load_labelled
    from triage.engines.onnx_encoder import MANIFEST_FILE, export_onnx_encoder

    model_dir = cache / "model"
    if not (model_dir / "metadata.json").is_file():
        print(f"training the frozen-encoder ensemble on {train} (once; a few minutes)", file=sys.stderr)
        train_classifier(
            load_labelled(train), embedder, model_dir, seed=0, progress=False, tune_encoder=False
        )
    if not (model_dir / MANIFEST_FILE).is_file():
        export_onnx_encoder(model_dir, embedder)
    return model_dir


def bank_vectors(cache: Path, embedder: Any, texts: list[str]) -> np.ndarray:
    """The training texts' default vectors, computed once and kept under ``cache``."""
    path = cache / "bank.npy"
    if path.is_file():
        return np.load(path)
    bank = embedder.embed(texts)
    np.save(path, bank)
    return np.asarray(bank)


def pass_ms(embedder: Any, texts: list[str]) -> float:
    """Median milliseconds of one encoder pass over one text."""
    samples = []
    for text in texts:
        started = time.perf_counter()
        embedder.embed([text])
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def overlap_at_k(bank: np.ndarray, reference: np.ndarray, other: np.ndarray, k: int = K) -> float:
    """Mean share of the ``k`` nearest bank rows that ``other``'s queries find among ``reference``'s."""

    def top(queries: np.ndarray) -> np.ndarray:
        return np.argpartition(-(queries @ bank.T), k - 1, axis=1)[:, :k]

    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(top(reference), top(other), strict=True)]))


def run(cache: Path, limit: int | None) -> dict[str, Any]:
    from triage.engines.classifier import evaluate, load_classifier
    from triage.engines.datasets import load_labelled
    from triage.engines.embedder import CachingEmbedder, SentenceTransformerEmbedder, configure_threads
    from triage.engines.onnx_encoder import OnnxEmbedder

    configure_threads(1)
    train, test = split(cache)
    torch_embedder = SentenceTransformerEmbedder()
    model_dir = trained_model(cache, train, CachingEmbedder(torch_embedder, size=30_000))
    onnx_embedder = OnnxEmbedder(model_dir, threads=1)
    rows = load_labelled(test)[:limit]
    result: dict[str, Any] = {"test_rows": len(rows), "model": str(model_dir)}
    cached = CachingEmbedder(torch_embedder, size=len(rows) + 1)  # its test vectors serve the overlap too
    for name, embedder in (("default", cached), ("int8", onnx_embedder)):
        started = time.perf_counter()
        metrics = evaluate(load_classifier(model_dir, embedder), rows)
        result[name] = {"accuracy": metrics["accuracy"], "seconds": round(time.perf_counter() - started, 1)}
    result["accuracy_loss_points"] = round(
        100 * (result["default"]["accuracy"] - result["int8"]["accuracy"]), 2
    )
    texts = [row.text for row in rows]
    bank = bank_vectors(cache, torch_embedder, [row.text for row in load_labelled(train)])
    reference, quantized = cached.embed(texts), onnx_embedder.embed(texts)
    result["neighbour_overlap_at_5"] = round(overlap_at_k(bank, reference, quantized), 4)
    result["cosine_to_default"] = round(float(np.mean(np.sum(reference * quantized, axis=1))), 4)
    sample = texts[:200]
    result["pass_ms"] = {
        "default": round(pass_ms(torch_embedder, sample), 2),
        "int8": round(pass_ms(onnx_embedder, sample), 2),
    }
    result["speedup"] = round(result["pass_ms"]["default"] / result["pass_ms"]["int8"], 2)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_onnx", description=__doc__)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--limit", type=int, default=None, help="classify only the first N held-out rows")
    parser.add_argument(
        "--home", type=Path, default=None, help="ignored (``make bench`` passes it to each bench)"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench" / "onnx.json")
    args = parser.parse_args(argv)
    if not BANKING77.is_file():
        print(f"skipped: {BANKING77} is not here", file=sys.stderr)
        return 0
    result = run(args.cache, args.limit)
    print(
        f"BANKING77 held-out ({result['test_rows']} rows): accuracy default {result['default']['accuracy']:.4f}, "
        f"int8 {result['int8']['accuracy']:.4f} (loss {result['accuracy_loss_points']:.2f} points); "
        f"neighbour overlap@5 {result['neighbour_overlap_at_5']:.3f}; one pass {result['pass_ms']['default']:.1f} ms "
        f"vs {result['pass_ms']['int8']:.1f} ms ({result['speedup']:.1f}x)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
