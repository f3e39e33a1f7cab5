"""The benchmarks, each bounded in requests and time, loopback only.

python -m eval.bench service | onnx | search | retrieval | llm | triage | all

``make bench`` runs ``service`` (the service against the model's floor, both encoder backends, and search at
100,000 cases) then ``onnx`` (int8 against the default encoder on BANKING77): under five minutes once the
cached BANKING77 model and 100k-case shard under ``var/bench/`` exist (the first run builds them).
"""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "service": "eval.bench_service",
    "onnx": "eval.bench_onnx",
    "search": "eval.bench_search",
    "retrieval": "eval.bench_retrieval",
    "llm": "eval.bench_llm",
    "triage": "eval.bench_triage",
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    which = args.pop(0) if args else "all"
    names = list(BENCHES) if which == "all" else which.split("+")
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
