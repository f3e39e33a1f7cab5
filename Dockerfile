# exception-triage: one API replica. Embedded defaults (SQLite, local Qdrant, packaged MiniLM, template drafts)
# unless TRIAGE_DATABASE_URL / TRIAGE_QDRANT_URL / TRIAGE_RATE_LIMIT_STORE_URL / TRIAGE_LLM_* point elsewhere
# (see deploy/compose.yaml for several replicas on PostgreSQL, Redis and a Qdrant cluster).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    TRIAGE_HOME=/data

WORKDIR /app
RUN useradd --create-home --uid 10001 triage && mkdir -p /data && chown 10001 /data
# The same install as `make install` (pip, the project with torch==2.13.0 pinned); the CPU build of torch comes
# from PyTorch's CPU index first, so the multi-GB CUDA build is never pulled in.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY triage ./triage
RUN pip install --no-cache-dir .
COPY prompts ./prompts
COPY guardrails ./guardrails
COPY eval/datasets ./eval/datasets

USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"]
# bootstrap is idempotent: it builds only what /data lacks, then the API serves.
CMD ["sh", "-c", "triage bootstrap && exec triage serve --host 0.0.0.0 --port 8000"]
