"""The BANKING77 threshold line of issue #15, estimated on a held-out split of the training file.

BANKING77's test split is kept off this machine, so: a stratified 60/20/20 split of ``train.csv`` (seed 13),
the frozen-encoder recipe trained on the 60%, thresholds proposed on the 20% calibration part for a target
precision, and what they achieve on the last 20%::

    python eval/banking77_thresholds.py [--model DIR] [--work DIR] [--target 0.99]

``--model`` reuses an artifact trained on the same 60% (the split is written to ``--work`` on the first run).
Prints one line per (confidence, method, scope) and the best any single threshold could do on the test part.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from triage.engines.classifier import load_classifier, train_classifier  # noqa: E402
from triage.engines.datasets import load_labelled  # noqa: E402
from triage.engines.embedder import CachingEmbedder, SentenceTransformerEmbedder  # noqa: E402
from triage.engines.policy.loader import load_policy  # noqa: E402
from triage.evaluation.classify import score_model  # noqa: E402
from triage.evaluation.metrics import arrays  # noqa: E402
from triage.evaluation.thresholds import threshold_suite  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets" / "banking77" / "train.csv"


def split(work: Path, seed: int) -> dict[str, Path]:
    from sklearn.model_selection import train_test_split

    paths = {name: work / f"{name}.csv" for name in ("train", "calibration", "test")}
    if all(p.is_file() for p in paths.values()):
        return paths
    with DATA.open(encoding="utf-8", newline="") as handle:
        rows = [(r["text"], r["label"]) for r in csv.DictReader(handle)]
    labels = [label for _, label in rows]
    train, rest = train_test_split(range(len(rows)), test_size=0.4, stratify=labels, random_state=seed)
    cal, test = train_test_split(rest, test_size=0.5, stratify=[labels[i] for i in rest], random_state=seed)
    work.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("calibration", cal), ("test", test)):
        with paths[name].open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(rows[i] for i in part)
    return paths


def best_coverage(conf: np.ndarray, hit: np.ndarray, level: float) -> float:
    order = np.argsort(-conf)
    precision = np.cumsum(hit[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(precision >= level)[0]
    return float((ok[-1] + 1) / len(order)) if ok.size else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--work", type=Path, default=Path("var/banking77"))
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    paths = split(args.work, args.seed)
    embedder = CachingEmbedder(SentenceTransformerEmbedder(), size=50_000)
    model = args.model or args.work / "model"
    if not (model / "metadata.json").is_file():
        train_classifier(load_labelled(paths["train"]), embedder, model, seed=args.seed, tune_encoder=False)
    classifier = load_classifier(model, embedder)
    calibration = score_model(classifier, load_labelled(paths["calibration"]))
    test = score_model(classifier, load_labelled(paths["test"]))
    policy = load_policy(ROOT / "guardrails" / "policy.yaml")
    conf, hit = arrays(test)
    print(f"test: n={len(test)} accuracy={hit.mean():.4f}")
    for level in (args.target, args.target - 0.005):
        print(
            f"best any single threshold can do on test: coverage {best_coverage(conf, hit, level):.3f} at {level}"
        )
    for confidence in (0.95, 0.9):
        for method, scope in (
            ("clopper-pearson", "pooled"),
            ("wilson", "pooled"),
            ("clopper-pearson", "per-class"),
        ):
            r = threshold_suite(
                calibration, classifier.labels, policy, target=args.target, confidence=confidence,
                method=method, scope=scope, test=test,
            )  # fmt: skip
            point = r["test"]["proposed"]
            never = sum(c["never_auto"] for c in r["per_category"].values())
            print(
                f"target {args.target} at {confidence:.0%} {method:15} {scope:9}: calibration coverage "
                f"{r['proposed']['coverage']:.3f}; test coverage {point['coverage']:.3f} precision "
                f"{point['precision'] if point['precision'] is None else round(point['precision'], 4)}; "
                f"never-auto categories {never}/{len(r['per_category'])}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
