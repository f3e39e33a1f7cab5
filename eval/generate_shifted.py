"""The shifted slice of the shipped test set: the same cases, their descriptions written the way people in the
field write them.

``test.jsonl``'s descriptions read like system messages. In the field many arrive as notes a customer-service
agent typed or as a customer's e-mail pasted in: colloquial, misspelt, lower-case, wrapped in talk that says
nothing of the category. This command rewrites every test case's ``description`` that way (typos, casing,
shortcuts and dropped punctuation from ``augment.perturb``, then an opening and closing from a pool of agents'
phrases that neither the training copies nor the CV harness use) and keeps everything else, outcome and label
included, so the slice is scored exactly like the test set::

    python -m eval.generate_shifted --seed 11    # writes eval/datasets/order_exceptions/test_shifted.jsonl

The same seed gives byte-identical output (a test checks the shipped file). ``make eval`` reports the slice on
its own (``var/eval/e2e-shifted.json``), and so does ``tests/integration/test_shifted_slice.py``.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from pathlib import Path

from triage.engines.classifier.augment import perturb

SOURCE = Path("eval/datasets/order_exceptions/test.jsonl")
TARGET = SOURCE.with_name("test_shifted.jsonl")

OPENERS = (
    "cust called abt this -",
    "Note from the CS desk:",
    "per phone call w/ the buyer,",
    "FW from customer email:",
    "left a vm for the customer.",
    "heads up,",
    "2nd ticket on this one.",
    "Logged by Priya on the late shift:",
)
CLOSERS = (
    "pls advise asap",
    "customer is not happy about it",
    "need an answer b4 end of day",
    "can someone pick this up",
    "will check back tmrw",
    "they want a call back",
    "thx",
    "adding to the queue for now",
)


def shift(description: str, rng: random.Random) -> str:
    """``description`` as an agent's note: perturbed, with an opener and one or two closing phrases."""
    body = perturb(description, rng)
    closers = rng.sample(CLOSERS, k=rng.randint(1, 2))
    return " ".join([rng.choice(OPENERS), body, *closers])


def shifted_lines(lines: Sequence[str], seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for line in lines:
        row = json.loads(line)
        row["event"]["description"] = shift(row["event"]["description"], rng)[:4000]
        out.append(json.dumps(row, ensure_ascii=False))
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    lines = [line for line in args.source.read_text(encoding="utf-8").splitlines() if line.strip()]
    args.out.write_text("\n".join(shifted_lines(lines, args.seed)) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} shifted cases to {args.out} (seed {args.seed})")


if __name__ == "__main__":
    main()
