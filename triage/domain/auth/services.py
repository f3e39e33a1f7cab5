"""Who is calling: API keys (stored hashed) and, optionally, JWTs from an identity provider.

An API key looks like ``trk_<key_id>_<secret>``: ``key_id`` (16 hex characters) finds the row, the
SHA-256 of the whole key is compared in constant time with the stored hash. The secret has 256 bits of
entropy, so a plain SHA-256 is enough (no password-hashing work factor needed) and the clear key is never
stored. A JWT is accepted only when an issuer, an audience and a JWKS file are configured; it is verified
offline against that file with asymmetric algorithms only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import jwt
from pydantic import ValidationError

from triage.config import Settings
from triage.core.actors import Actor, Role
from triage.core.errors import ConfigurationError, InvalidInput, NotFound
from triage.domain.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, ApiKeyRecord

KEY_PREFIX = "trk_"
_KEY_RE = re.compile(r"^trk_(?P<key_id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43})$")
_MAX_TOKEN_CHARS = 8192
_ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


DenialRecorder = Callable[[Actor, str, str], None]
"""``record_denial(actor, route, reason)``: writes one audit record; raising makes the request fail."""


def hash_key(key: str) -> str:
    """SHA-256 hex digest of a whole API key: what the database stores instead of the key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh ``(key_id, key)`` pair; the key carries 256 random bits."""
    key_id = secrets.token_hex(8)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


class ApiKeyStore(Protocol):
    """Persistence port of the key service (``ApiKeyRepository`` in production, a dict in unit tests)."""

    def add(self, record: ApiKeyRecord) -> None: ...

    def get(self, key_id: str) -> ApiKeyRecord | None: ...

    def revoke(self, key_id: str, at: datetime) -> bool: ...

    def count(self) -> int: ...

    def list(self) -> Sequence[ApiKeyRecord]: ...


class Failure(StrEnum):
    MISSING = "missing"
    MALFORMED = "malformed"
    UNKNOWN = "unknown_key"
    REVOKED = "revoked_key"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - a reason code, not a secret


@dataclass(frozen=True)
class Authentication:
    """The verdict on one presented credential.

    ``actor`` is set when the credential is valid. When it is not, ``claimed`` names the owner of a real but
    revoked key, so the refusal can be audited against a subject; unknown or garbled credentials name nobody.
    """

    actor: Actor | None
    failure: Failure | None = None
    method: str | None = None
    claimed: Actor | None = None


class JwtVerifier:
    """Verifies bearer JWTs offline against a JWKS file, for deployments with an identity provider.

    Required claims: ``iss`` and ``aud`` equal to the configured ones, ``exp``, ``sub`` and ``role`` (one of
    the service's roles); ``teams`` (a list of strings) is optional. ``none`` and HMAC algorithms are refused:
    the algorithm comes from the key in the file, never from the token's header.
    """

    def __init__(self, *, issuer: str, audience: str, jwks: dict[str, Any], leeway_s: float = 30.0) -> None:
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        try:
            key_set = jwt.PyJWKSet.from_dict(jwks)
        except (jwt.PyJWKSetError, jwt.InvalidKeyError) as exc:
            raise ConfigurationError(f"JWKS is unusable: {exc}") from exc
        self._keys = [key for key in key_set.keys if key.algorithm_name in _ASYMMETRIC_ALGORITHMS]
        if not self._keys:
            raise ConfigurationError("JWKS holds no asymmetric signing key (RSA, EC or OKP) usable for JWTs")

    @classmethod
    def from_file(cls, path: Path, *, issuer: str, audience: str) -> JwtVerifier:
        try:
            jwks = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read the JWKS file {path}: {exc}") from exc
        if not isinstance(jwks, dict):
            raise ConfigurationError(f"the JWKS file {path} is not a JSON object with a 'keys' list")
        return cls(issuer=issuer, audience=audience, jwks=jwks)

    def verify(self, token: str) -> Actor | None:
        """The actor the token speaks for, or ``None`` when any check fails."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            return None
        kid = header.get("kid")
        candidates = [key for key in self._keys if key.key_id == kid] if kid else self._keys
        if len(candidates) != 1:
            return None
        key = candidates[0]
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[key.algorithm_name],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.InvalidTokenError:
            return None
        return _actor_from_claims(claims)


def _actor_from_claims(claims: dict[str, Any]) -> Actor | None:
    subject, role, teams = claims.get("sub"), claims.get("role"), claims.get("teams", [])
    if not isinstance(subject, str) or not 0 < len(subject) <= 128:
        return None
    if role not in {r.value for r in Role}:
        return None
    if not isinstance(teams, list) or len(teams) > 32 or not all(isinstance(t, str) and t for t in teams):
        return None
    return Actor(subject=subject, role=Role(role), teams=tuple(teams), key_id=f"jwt:{subject}")


class KeyService:
    """Creates, revokes and checks API keys; checks JWTs when a verifier is configured."""

    def __init__(self, store: ApiKeyStore, *, jwt_verifier: JwtVerifier | None = None) -> None:
        self.store = store
        self.jwt_verifier = jwt_verifier

    @classmethod
    def from_settings(cls, settings: Settings, store: ApiKeyStore) -> KeyService:
        """The service as configured: JWTs are accepted only when issuer, audience and JWKS file are set."""
        issuer, audience, jwks_file = settings.jwt_issuer, settings.jwt_audience, settings.jwt_jwks_file
        if issuer is None and audience is None and jwks_file is None:
            return cls(store)
        if issuer is None or audience is None or jwks_file is None:
            raise ConfigurationError(
                "JWT verification needs TRIAGE_JWT_ISSUER, TRIAGE_JWT_AUDIENCE and TRIAGE_JWT_JWKS_FILE set"
            )
        verifier = JwtVerifier.from_file(jwks_file, issuer=issuer, audience=audience)
        return cls(store, jwt_verifier=verifier)

    def create(self, role: Role | str, subject: str, teams: Iterable[str] = ()) -> ApiKeyCreated:
        """A new key for ``subject``; the returned ``key`` is the only time the secret exists in clear."""
        try:
            spec = ApiKeyCreate(role=Role(role), subject=subject, teams=tuple(teams))
        except ValidationError as exc:
            raise InvalidInput(f"invalid API key request: {exc.errors()[0]['msg']}") from exc
        key_id, key = new_key()
        record = ApiKeyRecord(
            key_id=key_id,
            key_hash=hash_key(key),
            prefix=key[: len(KEY_PREFIX) + 8],
            role=spec.role.value,
            subject=spec.subject,
            teams=tuple(dict.fromkeys(spec.teams)),
            created_at=datetime.now(UTC),
            revoked_at=None,
        )
        self.store.add(record)
        return ApiKeyCreated(
            key_id=key_id,
            key=key,
            prefix=record.prefix,
            role=spec.role,
            subject=spec.subject,
            teams=record.teams,
        )

    def revoke(self, key_id: str) -> ApiKeyRead:
        """Revoke a key at once; revoking twice keeps the first revocation time."""
        record = self.store.get(key_id)
        if record is None:
            raise NotFound(f"no API key with id {key_id!r}")
        if record.revoked_at is None:
            self.store.revoke(key_id, datetime.now(UTC))
            record = self.store.get(key_id) or record
        return record.to_read()

    def list(self) -> list[ApiKeyRead]:
        return [record.to_read() for record in self.store.list()]

    def has_keys(self) -> bool:
        return self.store.count() > 0

    def authenticate(self, token: str) -> Actor | None:
        """The actor a bearer token speaks for, or ``None``."""
        return self.check(token).actor

    def check(self, token: str | None) -> Authentication:
        """Like :meth:`authenticate`, with the reason for a refusal and, for revoked keys, who owned it."""
        if not token:
            return Authentication(actor=None, failure=Failure.MISSING)
        if len(token) > _MAX_TOKEN_CHARS:
            return Authentication(actor=None, failure=Failure.MALFORMED)
        if token.startswith(KEY_PREFIX):
            return self._check_key(token)
        if self.jwt_verifier is not None and token.count(".") == 2:
            actor = self.jwt_verifier.verify(token)
            if actor is None:
                return Authentication(actor=None, failure=Failure.INVALID_TOKEN, method="jwt")
            return Authentication(actor=actor, method="jwt")
        return Authentication(actor=None, failure=Failure.MALFORMED)

    def _check_key(self, token: str) -> Authentication:
        match = _KEY_RE.match(token)
        if match is None:
            return Authentication(actor=None, failure=Failure.MALFORMED, method="api_key")
        record = self.store.get(match["key_id"])
        if record is None:
            # Same work as a real comparison, so timing does not tell unknown ids from wrong secrets.
            hmac.compare_digest(hash_key(token), "0" * 64)
            return Authentication(actor=None, failure=Failure.UNKNOWN, method="api_key")
        if not hmac.compare_digest(hash_key(token), record.key_hash):
            return Authentication(actor=None, failure=Failure.UNKNOWN, method="api_key")
        actor = Actor(
            subject=record.subject, role=Role(record.role), teams=record.teams, key_id=record.key_id
        )
        if record.revoked_at is not None:
            return Authentication(actor=None, failure=Failure.REVOKED, method="api_key", claimed=actor)
        return Authentication(actor=actor, method="api_key")


class InMemoryApiKeyStore:
    """A dict-backed :class:`ApiKeyStore` for unit tests and throwaway apps."""

    def __init__(self) -> None:
        self._rows: dict[str, ApiKeyRecord] = {}

    def add(self, record: ApiKeyRecord) -> None:
        self._rows[record.key_id] = record

    def get(self, key_id: str) -> ApiKeyRecord | None:
        return self._rows.get(key_id)

    def revoke(self, key_id: str, at: datetime) -> bool:
        record = self._rows.get(key_id)
        if record is None or record.revoked_at is not None:
            return False
        self._rows[key_id] = ApiKeyRecord(**{**record.__dict__, "revoked_at": at})
        return True

    def count(self) -> int:
        return len(self._rows)

    def list(self) -> Sequence[ApiKeyRecord]:
        return list(self._rows.values())
