"""``make bench``: every benchmark, each bounded in requests and time, loopback only.

python -m eval.bench all | retrieval | llm | triage
"""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "retrieval": "eval.bench_retrieval",
    "llm": "eval.bench_llm",
    "triage": "eval.bench_triage",
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    which = args.pop(0) if args else "all"
    names = list(BENCHES) if which == "all" else [which]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from all, {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        print(f"== {name} ==", flush=True)
        module = importlib.import_module(BENCHES[name])
        status |= int(module.main(args) or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
