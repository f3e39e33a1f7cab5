"""Recipes compared by ``train_classifier`` itself under shift: Bitext trained on the rows without colloquial
(``Q``) or noisy (``Z``) variation, scored on those held-out rows as written (``shift``) and perturbed and
wrapped in talk from a filler pool training never uses (``shift_long``); or BANKING77 on an 80/20 split.

    python eval/recipe_shift.py bitext default "weights_on=both,long_share=0.5"
    python eval/recipe_shift.py banking default
    python eval/recipe_shift.py --tuned bitext default   # with the fine-tuned encoder member (`triage train`)

Each argument after the dataset is a recipe variant (``default`` or ``field=value,...`` over ``Recipe``);
prints one JSON line per variant: the mixture weights chosen, accuracy, ECE, coverage at 99 % precision and the
share called novel. Frozen-encoder recipe (``tune_encoder=False``, the bootstrap's) unless ``--tuned``.
"""

from __future__ import annotations

import csv
import json
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from triage.engines.classifier import Recipe, evaluate, load_classifier, train_classifier
from triage.engines.classifier.augment import lengthen, perturb
from triage.engines.datasets import LabelledText
from triage.engines.embedder import CachingEmbedder, SentenceTransformerEmbedder

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
HELD_OUT_FLAGS = set("QZ")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def splits(which: str) -> tuple[list[LabelledText], dict[str, list[LabelledText]]]:
    if which == "banking":
        rows = _read(DATASETS / "banking77" / "train.csv")
        random.Random(13).shuffle(rows)
        cut = int(len(rows) * 0.8)
        train = [LabelledText(r["text"], r["label"]) for r in rows[:cut]]
        return train, {"iid": [LabelledText(r["text"], r["label"]) for r in rows[cut:]]}
    rows = _read(DATASETS / "bitext-customer-support" / "train.csv")
    train = [LabelledText(r["text"], r["label"]) for r in rows if not set(r["flags"]) & HELD_OUT_FLAGS]
    held = [r for r in rows if set(r["flags"]) & HELD_OUT_FLAGS]
    rng = random.Random(1)
    return train, {
        "shift": [LabelledText(r["text"], r["label"]) for r in held],
        "shift_long": [
            LabelledText(lengthen(perturb(r["text"], rng), rng, "eval"), r["label"]) for r in held
        ],
    }


def recipe_of(variant: str) -> Recipe:
    recipe = Recipe()
    if variant == "default":
        return recipe
    for item in variant.split(","):
        key, value = item.split("=", 1)
        recipe = replace(recipe, **{key: type(getattr(recipe, key))(value)})
    return recipe


def main(argv: list[str]) -> None:
    tuned = "--tuned" in argv
    argv = [a for a in argv if a != "--tuned"]
    which, variants = argv[0], argv[1:] or ["default"]
    train, tests = splits(which)
    embedder = CachingEmbedder(SentenceTransformerEmbedder(), size=200_000)
    for variant in variants:
        out = Path("var") / "recipe-shift" / f"{which}-{'tuned-' if tuned else ''}{variant}"
        started = time.monotonic()
        meta = train_classifier(
            train, embedder, out, progress=False, recipe=recipe_of(variant), tune_encoder=tuned
        )
        classifier = load_classifier(out, embedder)
        record: dict[str, object] = {
            "data": which,
            "variant": variant,
            "tuned": tuned,
            "seconds": round(time.monotonic() - started),
            "weights": meta["calibration"]["weights"],
            "members": meta["metrics"]["cv_member_accuracy"],
        }
        for name, rows in tests.items():
            result = evaluate(classifier, rows)
            novel = [p.novel for p in classifier.predict([r.text for r in rows[:2000]])]
            record[name] = {
                "acc": round(result["accuracy"], 4),
                "ece": round(result["ece"], 4),
                "cov99": round(result["coverage_at_precision"]["0.99"], 3),
                "novel": round(float(np.mean(novel)), 3),
            }
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
