PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test test-fast fuzz lint bench bench-service bench-onnx bench-search bench-retrieval bench-llm bench-triage clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "python3.11 is required"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Serves the bootstrap model at once; once ready, the server trains the tuned model in the background (nice 19,
# one thread) and promotes it when it validates (see the README's "Models" section).
run: install
	$(BIN)/triage bootstrap
	TRIAGE_MODEL_BACKGROUND_TUNING=true $(BIN)/triage serve --host 127.0.0.1 --port 8000

test: install
	$(BIN)/python -m pytest tests

fuzz: install
	TRIAGE_FUZZ_EXAMPLES=17 TRIAGE_FUZZ_MIN_REQUESTS=5000 $(BIN)/python -m pytest tests/integration/test_schemathesis.py

test-fast: install
	$(BIN)/python -m pytest tests -m "not slow"

lint: install
	$(BIN)/ruff check triage tests eval deploy
	$(BIN)/ruff format --check triage tests eval deploy
	$(BIN)/mypy triage
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile
	$(BIN)/python deploy/validate_compose.py deploy/compose.yaml

# The service against the model's floor (both encoder backends), search at 100k cases, int8 on BANKING77.
# Bootstraps ./var first when it is missing (the bench copies it, never changes it).
bench: install
	$(BIN)/triage bootstrap > /dev/null
	$(BIN)/python -m eval.bench service+onnx

bench-service: install
	$(BIN)/triage bootstrap > /dev/null
	$(BIN)/python -m eval.bench service

bench-onnx: install
	$(BIN)/python -m eval.bench onnx

bench-search: install
	$(BIN)/triage bootstrap > /dev/null
	$(BIN)/python -m eval.bench search

bench-retrieval: install
	$(BIN)/python -m eval.bench retrieval

bench-llm: install
	$(BIN)/python -m eval.bench llm

bench-triage: install
	$(BIN)/python -m eval.bench triage

# Every evaluation suite on the shipped data: var/eval/eval.json and var/eval/report.html (see triage eval --help).
.PHONY: eval eval-fast
EVAL_DATA := --history eval/datasets/order_exceptions/history.jsonl --data eval/datasets/order_exceptions/test.jsonl
eval: install
	$(BIN)/python -m triage.commands.evaluation all $(EVAL_DATA) --candidate eval/policies/stricter.yaml \
		--candidate eval/policies/wider-auto.yaml --costs eval/costs.yaml --out var/eval
	$(BIN)/python -m triage.commands.evaluation e2e --history eval/datasets/order_exceptions/history.jsonl \
		--model var/eval/model --data eval/datasets/order_exceptions/test_shifted.jsonl --json var/eval/e2e-shifted.json

# The CI version: small samples, compared with the committed baseline (exit 1 on a regression).
eval-fast: install
	$(BIN)/python -m triage.commands.evaluation all --fast $(EVAL_DATA) --candidate eval/policies/stricter.yaml \
		--out var/eval-fast --baseline eval/baselines/fast.json

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
