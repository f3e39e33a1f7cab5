"""Deterministic generator of synthetic historical order-exception cases: the command.

Writes ``history.jsonl`` and ``test.jsonl`` in the contract's shipped-history format. Everything is made up:
ids, companies, people (phone numbers in the fictional 555-01xx range, e-mail domains under ``.example``),
amounts. The same seed and sizes give byte-identical files::

    python -m eval.generate_history --seed 7 --out eval/datasets/order_exceptions

The wording, value pools and weights are data files in ``eval/history/``; the labels and their actions come
from ``guardrails/taxonomy.yaml``; each label's facts and action weights are a module of
``eval.history.labels``; ``eval.history.factory`` draws one case and ``eval.history.dataset`` the two files.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from eval.history.actions import ACTIONS
from eval.history.dataset import HISTORY_WINDOW, TEST_WINDOW, distribution_table, generate, write_jsonl
from eval.history.mix import MIX

__all__ = [
    "ACTIONS",
    "HISTORY_WINDOW",
    "LABEL_WEIGHTS",
    "OUTCOMES",
    "TEST_WINDOW",
    "distribution_table",
    "generate",
    "main",
    "write_jsonl",
]

LABEL_WEIGHTS: dict[str, int] = MIX.labels
OUTCOMES: tuple[str, ...] = tuple(MIX.outcomes)


def main(argv: Sequence[str] | None = None) -> None:
    """Write both files for the given seed and sizes, and print the label table."""
    parser = argparse.ArgumentParser(
        description="Generate the synthetic order-exception history and test set."
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("eval/datasets/order_exceptions"))
    parser.add_argument("--history", type=int, default=3600, help="number of history cases")
    parser.add_argument("--test", type=int, default=800, help="number of test cases")
    args = parser.parse_args(argv)
    history, test = generate(args.seed, args.history, args.test)
    write_jsonl(args.out / "history.jsonl", history)
    write_jsonl(args.out / "test.jsonl", test)
    print(distribution_table(history, test))
    print(f"wrote {len(history)} history and {len(test)} test cases to {args.out} (seed {args.seed})")


if __name__ == "__main__":
    main()
