# exception-triage: the service on embedded defaults (SQLite, local Qdrant, packaged MiniLM, template drafts).
# Point TRIAGE_DATABASE_URL / TRIAGE_QDRANT_URL / TRIAGE_LLM_* at real services to scale out.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    TRIAGE_HOME=/data

WORKDIR /app
RUN useradd --create-home --uid 10001 triage && mkdir -p /data && chown triage /data
# CPU wheel of torch first, so the CUDA build is never pulled in.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY triage ./triage
RUN pip install --no-cache-dir .
COPY prompts ./prompts
COPY guardrails ./guardrails
COPY eval/datasets ./eval/datasets

USER triage
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["sh", "-c", "triage bootstrap && triage serve --host 0.0.0.0 --port 8000"]
