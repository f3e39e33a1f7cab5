"""Cross-validation harness used to choose the classifier recipe (``training.Recipe``).

Usage (from the project root; HF_HUB_OFFLINE=1, OMP_NUM_THREADS=1)::

    python eval/classifier_cv.py --data ../shared/datasets/banking77/train.csv --scheme stratified
    python eval/classifier_cv.py --data ../shared/datasets/bitext-customer-support/train.csv --scheme cluster
    python eval/classifier_cv.py --data ../shared/datasets/banking77/train.csv --no-augment

Schemes:

* ``stratified``: 5-fold stratified CV (in-distribution figure).
* ``cluster``: within each label, KMeans on the frozen embeddings splits the rows into 5 phrasing clusters and
  each fold holds one cluster of every label out: the test phrasings were never seen in training. On Bitext,
  scored ``perturbed``, this is the "shifted Bitext" figure.
* ``flags`` (data with Bitext's ``flags`` column): each fold holds out one kind of language variation and trains
  only on rows without it: colloquial (``Q``), noise and misspellings (``Z``), lexical and morphological
  variation (``L``, ``M``), rare registers (offensive ``W``, coordinated ``C``, expanded ``E``, keyword ``K``).
  Every row is held out in at most one fold (the first kind it carries); rows with none of these kinds are
  always trained on. This is the shift the field brings: the test phrasing is a kind of variation the training
  rows do not have.

``--weights-on both`` chooses the mixture weights on the held-out rows as written and perturbed together
(what ``train_classifier`` does), ``clean`` on the rows as written only.

Training rows get one noisy copy (``augment.perturb``, ``random.Random(2)``), as in the recipe. Every held-out row
is scored twice: as written (``clean``) and after ``perturb`` with ``random.Random(1)`` (``perturbed``: typos,
casing, colloquial shortcuts, dropped punctuation). Each member's out-of-fold log-probabilities are cached under
``--cache``; the mixture weights are chosen on the clean out-of-fold NLL over the recipe's simplex grid (as
``train_classifier`` does on its held-out fold) and temperatures are cross-fitted (fitted on the other folds).
Prints one JSON line per member and one for the mixture.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import softmax

from triage.engines.classifier.augment import lengthen, perturb
from triage.engines.classifier.calibration import fit_temperature
from triage.engines.classifier.metrics import coverage_at_precision, expected_calibration_error
from triage.engines.classifier.model import EMBEDDING_MEMBERS, TUNED_MEMBERS, new_vectorizer
from triage.engines.classifier.training import Recipe, _fit_lr, choose_weights, phrasing_clusters


def embed_cached(texts: list[str], cache: Path) -> np.ndarray:
    key = hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16]
    path = cache / f"emb-{key}.npy"
    if path.is_file():
        return np.asarray(np.load(path))
    from triage.engines.embedder import SentenceTransformerEmbedder

    vectors = SentenceTransformerEmbedder().embed(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


SHIFT_KINDS: tuple[tuple[str, str], ...] = (
    ("colloquial", "Q"),
    ("noise", "Z"),
    ("lexical", "LM"),
    ("rare registers", "WCEK"),
)


def flag_folds(flags: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shifted folds by kind of variation (see ``flags`` in the module docstring)."""
    fold_of = np.full(len(flags), -1)
    for f, (_, letters) in enumerate(SHIFT_KINDS):
        fold_of[[i for i, fl in enumerate(flags) if fold_of[i] < 0 and set(fl) & set(letters)]] = f
    out = []
    for f, (_, letters) in enumerate(SHIFT_KINDS):
        train = np.array([i for i, fl in enumerate(flags) if not set(fl) & set(letters)])
        out.append((train, np.nonzero(fold_of == f)[0]))
    return out


def folds_for(
    scheme: str, emb: np.ndarray, y: np.ndarray, k: int, flags: list[str] | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    if scheme == "flags":
        if flags is None:
            raise SystemExit("--scheme flags needs a flags column (Bitext)")
        return flag_folds(flags)
    if scheme == "stratified":
        return list(StratifiedKFold(k, shuffle=True, random_state=0).split(emb, y))
    group = phrasing_clusters(emb, y, k)
    return [(np.nonzero(group != f)[0], np.nonzero(group == f)[0]) for f in range(k)]


def tuned_embeddings(
    data: dict[str, Any], folds: list[tuple[np.ndarray, np.ndarray]], cache: Path, tag: str
) -> list[dict[str, np.ndarray]]:
    """Per fold: the encoder tuned on that fold's training rows, applied to every text (cached)."""
    from triage.engines.embedder import SentenceTransformerEmbedder
    from triage.engines.tuning import TunedEmbedder, TuningPlan, fine_tune

    base = SentenceTransformerEmbedder().model

    out = []
    for f, (tr, _) in enumerate(folds):
        plan = TuningPlan()
        path = cache / f"tuned-{tag}-e{plan.epochs:g}-lr{plan.learning_rate:g}-s0-fold{f}.npz"
        if not path.is_file():
            started = time.monotonic()
            tensors = fine_tune(
                base,
                [data["texts"][i] for i in tr],
                [data["noisy_train"][i] for i in tr],
                data["y"][tr],
                data["n_labels"],
            )
            tuned = TunedEmbedder(base, tensors, model_id="cv")
            arrays = {
                "emb": tuned.embed(data["texts"]),
                "emb_train_noise": tuned.embed(data["noisy_train"]),
                "emb_test_noise": tuned.embed(data["noisy_test"]),
            }
            np.savez(path, **arrays)
            print(json.dumps({"fold": f, "tuned_seconds": round(time.monotonic() - started)}), flush=True)
        out.append(dict(np.load(path)))
    return out


def member_oof(
    member: str,
    recipe: Recipe,
    augment: bool,
    folds: list[tuple[np.ndarray, np.ndarray]],
    data: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Out-of-fold log-probabilities of one member, for clean and perturbed held-out rows."""
    y, n_labels = data["y"], data["n_labels"]
    out = {"clean": np.zeros((len(y), n_labels)), "perturbed": np.zeros((len(y), n_labels))}
    for f, (tr, te) in enumerate(folds):
        if member.startswith("tuned"):
            data = data | data["tuned"][f]
        idx = np.concatenate([tr, tr]) if augment else tr
        copy = (
            np.concatenate([np.zeros(len(tr), bool), np.ones(len(tr), bool)])
            if augment
            else np.zeros(len(tr), bool)
        )
        vectorizer: Any = None
        if member in EMBEDDING_MEMBERS or member.startswith("tuned"):
            train = np.where(copy[:, None], data["emb_train_noise"][idx], data["emb"][idx])
        else:
            vectorizer = new_vectorizer(member, recipe.max_features_of(member))
            train = vectorizer.fit_transform(
                [data["noisy_train"][i] if c else data["texts"][i] for i, c in zip(idx, copy, strict=True)]
            )

        def featurize(emb: np.ndarray, texts: list[str], v: Any = vectorizer) -> Any:
            return emb if v is None else v.transform(texts)

        head: Any = (
            recipe.neighbours(train, y[idx], n_labels)
            if member in ("knn", "tuned_knn")
            else _fit_lr(train, y[idx], recipe.c_of(member.replace("tuned", "embedding")), recipe.max_iter)[0]
        )
        out["clean"][te] = head.log_proba(featurize(data["emb"][te], [data["texts"][i] for i in te]))
        out["perturbed"][te] = head.log_proba(
            featurize(data["emb_test_noise"][te], [data["noisy_test"][i] for i in te])
        )
    return out


def score(mixed: dict[str, np.ndarray], y: np.ndarray, fold_of: np.ndarray) -> dict[str, Any]:
    """Accuracy, ECE and coverage at 99% precision of the held-out rows (``fold_of`` >= 0), as written and
    perturbed; each fold's temperature is fitted on the other folds' rows as written."""
    held_rows = fold_of >= 0
    record = {}
    for kind, logits in mixed.items():
        hit = logits.argmax(1) == y
        conf = np.zeros(len(y))
        for f in np.unique(fold_of[held_rows]):
            held = fold_of == f
            others = held_rows & ~held
            t = fit_temperature(mixed["clean"][others], y[others])
            conf[held] = softmax(logits[held] / t, axis=1).max(1)
        record[kind] = {
            "acc": round(float(hit[held_rows].mean()), 4),
            "ece": round(expected_calibration_error(conf[held_rows], hit[held_rows]), 4),
            "cov99": round(coverage_at_precision(conf[held_rows], hit[held_rows], 0.99), 3),
        }
    return record


def run(  # noqa: PLR0913 - the CLI's knobs, passed through
    data_path: Path,
    scheme: str,
    cache: Path,
    k: int,
    augment: bool,
    recipe: Recipe,
    tuned: bool = False,
    weights_on: str = "both",
    long_test: bool = False,
    long_train: float = 0.0,
) -> dict[str, Any]:
    with data_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    labels = sorted({r["label"] for r in rows})
    y = np.array([labels.index(r["label"]) for r in rows])
    texts = [r["text"] for r in rows]
    rng_test, rng_train = random.Random(1), random.Random(2)
    noisy_test = [perturb(t, rng_test) for t in texts]
    noisy_train = [perturb(t, rng_train) for t in texts]
    if long_test:  # the field's long messages: every shifted test copy wrapped in filler (the eval pool)
        noisy_test = [lengthen(t, rng_test, "eval") for t in noisy_test]
    if long_train:  # that share of the training copies wrapped in filler from the training pool
        noisy_train = [
            lengthen(t, rng_train, "train") if rng_train.random() < long_train else t for t in noisy_train
        ]
    data: dict[str, Any] = {"y": y, "n_labels": len(labels), "texts": texts}
    data |= {"noisy_test": noisy_test, "noisy_train": noisy_train}
    for key, values in (("emb", texts), ("emb_train_noise", noisy_train), ("emb_test_noise", noisy_test)):
        data[key] = embed_cached(values, cache)
    flags = [r["flags"] for r in rows] if rows and "flags" in rows[0] else None
    folds = folds_for(scheme, data["emb"], y, k, flags)
    fold_of = np.full(len(y), -1)
    for f, (_, te) in enumerate(folds):
        fold_of[te] = f
    tag = f"{data_path.parent.name}-{scheme}-{k}-{'aug' if augment else 'noaug'}"
    tag += ("-longtest" if long_test else "") + (f"-longtrain{long_train:g}" if long_train else "")
    members: tuple[str, ...] = ("embedding", "char", "word", "knn")
    if tuned:
        data["tuned"] = tuned_embeddings(data, folds, cache, tag)
        members = (*members, *TUNED_MEMBERS, "tuned_knn")
    oof = {}
    for member in members:
        knobs = (
            f"k{recipe.knn_k}-t{recipe.knn_temperature:g}"
            if member in ("knn", "tuned_knn")
            else f"C{recipe.c_of(member.replace('tuned', 'embedding')):g}"
        )
        path = cache / f"oof-{tag}-{member}-{knobs}-it{recipe.max_iter}.npz"
        started = time.monotonic()
        if path.is_file():
            oof[member] = dict(np.load(path))
        else:
            oof[member] = member_oof(member, recipe, augment, folds, data)
            cache.mkdir(parents=True, exist_ok=True)
            np.savez(path, **oof[member])
        record = {"data": data_path.parent.name, "scheme": scheme, "augment": augment, "member": member}
        print(
            json.dumps(
                record | score(oof[member], y, fold_of) | {"seconds": round(time.monotonic() - started)}
            )
        )
    held = fold_of >= 0
    kinds = ("clean", "perturbed") if weights_on == "both" else ("clean",)
    weights, _ = choose_weights(
        [np.vstack([oof[m][kind][held] for kind in kinds]) for m in members],
        np.tile(y[held], len(kinds)),
        recipe.weight_step,
    )
    mixed = {
        kind: sum(w * oof[m][kind] for w, m in zip(weights, members, strict=True))
        for kind in ("clean", "perturbed")
    }
    record = {"data": data_path.parent.name, "scheme": scheme, "augment": augment, "member": "mixture"}
    record |= {"weights_on": weights_on, "long_test": long_test, "long_train": long_train}
    record |= {"weights": dict(zip(members, weights, strict=True))} | score(mixed, y, fold_of)
    print(json.dumps(record), flush=True)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--scheme", choices=["stratified", "cluster", "flags"], default="stratified")
    parser.add_argument("--weights-on", choices=["both", "clean"], default="both")
    parser.add_argument("--long-test", action="store_true", help="wrap every shifted test copy in filler")
    parser.add_argument("--long-train", type=float, default=0.0, help="share of training copies wrapped")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-augment", dest="augment", action="store_false")
    parser.add_argument("--tuned", action="store_true", help="add the fine-tuned encoder members")
    parser.add_argument("--cache", type=Path, default=Path("scratch/cv-cache"))
    args = parser.parse_args()
    run(
        args.data,
        args.scheme,
        args.cache,
        args.folds,
        args.augment,
        Recipe(),
        args.tuned,
        args.weights_on,
        args.long_test,
        args.long_train,
    )


if __name__ == "__main__":
    main()
