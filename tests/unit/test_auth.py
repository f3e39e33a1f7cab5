"""Unit tests of the auth domain: keys, JWTs, route rules, the middleware and guards on a tiny app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.testing import TestClient

from triage.config import Settings
from triage.core.actors import Actor, Role
from triage.core.errors import ConfigurationError, InvalidInput, NotFound, TriageError
from triage.domain.auth import (
    ApiKeyAuthMiddleware,
    AuthBackend,
    JwtVerifier,
    KeyService,
    enforce_route_rules,
    may_see_team,
    requires_roles,
    rule_for,
    visible_teams,
)
from triage.domain.auth.guards import effective_rule
from triage.domain.auth.ratelimit import build_rate_limit_middleware
from triage.domain.auth.services import Failure, InMemoryApiKeyStore, hash_key

ISSUER, AUDIENCE = "https://idp.example.test/", "exception-triage"


@pytest.fixture
def keys() -> KeyService:
    return KeyService(InMemoryApiKeyStore())


def test_created_key_authenticates_and_only_its_hash_is_stored(keys: KeyService) -> None:
    created = keys.create(Role.AGENT, "ana@example.test", ["emea", "emea"])
    record = keys.store.get(created.key_id)
    assert record is not None
    assert created.key not in json.dumps(record.__dict__, default=str)
    assert record.key_hash == hash_key(created.key)
    assert record.teams == ("emea",)
    actor = keys.authenticate(created.key)
    assert actor == Actor("ana@example.test", Role.AGENT, ("emea",), created.key_id)


def test_keys_are_unique_and_high_entropy(keys: KeyService) -> None:
    made = {keys.create(Role.WORKFLOW, f"svc-{i}").key for i in range(50)}
    assert len(made) == 50
    assert all(len(key) >= 60 for key in made)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),
        lambda k: k.replace("trk_", "trx_"),
        lambda k: k + "x",
        lambda k: k[:20],
        lambda k: k.upper(),
        lambda k: "",
    ],
)
def test_tampered_keys_are_refused(keys: KeyService, mutate: Any) -> None:
    created = keys.create(Role.SUPERVISOR, "sam")
    assert keys.authenticate(mutate(created.key)) is None


def test_revoked_key_is_refused_and_names_its_owner(keys: KeyService) -> None:
    created = keys.create(Role.COMPLIANCE, "carla")
    first = keys.revoke(created.key_id)
    again = keys.revoke(created.key_id)
    assert first.revoked_at is not None and again.revoked_at == first.revoked_at
    verdict = keys.check(created.key)
    assert verdict.actor is None and verdict.failure is Failure.REVOKED
    assert verdict.claimed is not None and verdict.claimed.subject == "carla"


def test_revoking_an_unknown_key_is_not_found(keys: KeyService) -> None:
    with pytest.raises(NotFound):
        keys.revoke("0123456789abcdef")


@pytest.mark.parametrize(("role", "subject"), [("root", "x"), ("agent", ""), ("agent", "a\nb")])
def test_invalid_key_requests_are_refused(keys: KeyService, role: str, subject: str) -> None:
    with pytest.raises((InvalidInput, ValueError)):
        keys.create(role, subject)


# --- JWT ---------------------------------------------------------------------------------------------


def _rsa_jwks(kid: str = "k1") -> tuple[Any, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    public.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return private, {"keys": [public]}


@pytest.fixture(scope="module")
def idp() -> tuple[Any, dict[str, Any]]:
    return _rsa_jwks()


def _token(private: Any, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "jane@example.test",
        "role": "supervisor",
        "teams": ["emea"],
        "iat": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": "k1"})


def test_valid_jwt_maps_role_and_teams(idp: tuple[Any, dict[str, Any]]) -> None:
    private, jwks = idp
    service = KeyService(
        InMemoryApiKeyStore(), jwt_verifier=JwtVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=jwks)
    )
    actor = service.authenticate(_token(private))
    assert actor == Actor("jane@example.test", Role.SUPERVISOR, ("emea",), "jwt:jane@example.test")


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://evil.example/"},
        {"aud": "someone-else"},
        {"exp": int(time.time()) - 3600},
        {"role": "root"},
        {"role": None},
        {"sub": None},
        {"teams": "emea"},
    ],
)
def test_jwt_with_bad_claims_is_refused(idp: tuple[Any, dict[str, Any]], overrides: dict[str, Any]) -> None:
    private, jwks = idp
    verifier = JwtVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=jwks)
    assert verifier.verify(_token(private, **overrides)) is None


def test_jwt_signed_by_another_key_or_with_hmac_or_none_is_refused(idp: tuple[Any, dict[str, Any]]) -> None:
    _, jwks = idp
    verifier = JwtVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=jwks)
    other, _ = _rsa_jwks()
    assert verifier.verify(_token(other)) is None
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "role": "admin", "exp": int(time.time()) + 60}
    # Algorithm confusion: HS256 keyed with the public key's material, and an unsigned token.
    forged = _forge(claims, "HS256", secret=json.dumps(jwks["keys"][0]).encode())
    assert verifier.verify(forged) is None
    assert verifier.verify(_forge(claims, "none", secret=None)) is None


def _forge(claims: dict[str, Any], alg: str, secret: bytes | None) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": alg, "typ": "JWT", "kid": "k1"}).encode())
    body = b64(json.dumps(claims).encode())
    signing_input = f"{head}.{body}".encode()
    signature = b64(hmac.new(secret, signing_input, hashlib.sha256).digest()) if secret else ""
    return f"{head}.{body}.{signature}"


def test_ec_jwks_from_file_and_settings(tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    public.update({"kid": "ec1"})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public]}))
    settings = Settings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwt_jwks_file=path, home=tmp_path)
    service = KeyService.from_settings(settings, InMemoryApiKeyStore())
    token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "wf", "role": "workflow", "exp": int(time.time()) + 60},
        private,
        algorithm="ES256",
        headers={"kid": "ec1"},
    )
    actor = service.authenticate(token)
    assert actor is not None and actor.role is Role.WORKFLOW


def test_half_configured_jwt_and_symmetric_jwks_fail_fast(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        KeyService.from_settings(Settings(jwt_issuer=ISSUER, home=tmp_path), InMemoryApiKeyStore())
    with pytest.raises(ConfigurationError):
        JwtVerifier(issuer=ISSUER, audience=AUDIENCE, jwks={"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})


# --- route rules and object rules ----------------------------------------------------------------------


def test_route_rules_follow_the_contract() -> None:
    assert rule_for("GET", "/v1/audit").allows(Role.COMPLIANCE)  # type: ignore[union-attr]
    assert not rule_for("GET", "/v1/audit").allows(Role.WORKFLOW)  # type: ignore[union-attr]
    decide = rule_for("POST", "/v1/cases/{case_id}/decisions")
    assert decide is not None and decide.roles == {Role.AGENT, Role.SUPERVISOR}
    assert rule_for("GET", "/schema/openapi.json") is not None and rule_for("GET", "/schema").public  # type: ignore[union-attr]
    assert rule_for("POST", "/schema/openapi.json") is None
    assert rule_for("DELETE", "/v1/audit") is None
    assert rule_for("GET", "/v1/not-a-route") is None
    assert effective_rule("GET", "/v1/new", {"roles": ["agent"]}).allows(Role.AGENT)  # type: ignore[union-attr]
    assert effective_rule("GET", "/v1/new", {}) is None


def test_agents_see_only_their_teams() -> None:
    agent = Actor("a", Role.AGENT, ("emea",))
    assert visible_teams(agent) == frozenset({"emea"})
    assert may_see_team(agent, "emea") and not may_see_team(agent, "apac") and not may_see_team(agent, None)
    assert not may_see_team(Actor("b", Role.AGENT, ()), "emea")
    assert may_see_team(Actor("s", Role.SUPERVISOR), "apac")


# --- middleware, guards and rate limit on a tiny app -----------------------------------------------------


@get("/v1/audit", sync_to_thread=False)
def audit_route() -> dict[str, str]:
    return {"ok": "audit"}


@get("/v1/cases/{case_id:str}", sync_to_thread=False)
def case_route(case_id: str, request: Request[Actor, Any, Any]) -> dict[str, str]:
    return {"case_id": case_id, "subject": request.user.subject}


@post("/v1/unlisted", sync_to_thread=False)
def unlisted_route() -> dict[str, str]:
    return {"ok": "unlisted"}


@get("/v1/opted-in", opt={"roles": ["agent"]}, sync_to_thread=False)
def opted_in_route() -> dict[str, str]:
    return {"ok": "opted"}


@get(
    "/v1/guarded",
    opt={"roles": ["agent", "supervisor"]},
    guards=[requires_roles(Role.SUPERVISOR)],
    sync_to_thread=False,
)
def guarded_route() -> dict[str, str]:
    return {"ok": "guarded"}


@get("/health", sync_to_thread=False)
def health_route() -> dict[str, str]:
    return {"status": "ok"}


def _problem(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status = exc.status_code if isinstance(exc, TriageError | HTTPException) else 500
    detail = exc.detail if isinstance(exc, TriageError | HTTPException) else "error"
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    return Response({"status": status, "detail": detail}, status_code=status, headers=headers)


def _app(keys: KeyService, denials: list[tuple[Actor, str, str]], per_minute: int = 1000) -> Litestar:
    backend = AuthBackend(
        keys, record_denial=lambda actor, route, reason: denials.append((actor, route, reason))
    )
    settings = Settings(rate_limit_per_minute=per_minute)
    return Litestar(
        route_handlers=[audit_route, case_route, unlisted_route, opted_in_route, guarded_route, health_route],
        middleware=[ApiKeyAuthMiddleware.define(backend), build_rate_limit_middleware(settings)],
        guards=[enforce_route_rules],
        exception_handlers={TriageError: _problem, HTTPException: _problem},
        openapi_config=None,
    )


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_middleware_and_guards_allow_deny_and_audit(keys: KeyService) -> None:
    denials: list[tuple[Actor, str, str]] = []
    compliance = keys.create(Role.COMPLIANCE, "carla").key
    agent = keys.create(Role.AGENT, "ana", ["emea"]).key
    supervisor = keys.create(Role.SUPERVISOR, "sam").key
    revoked = keys.create(Role.COMPLIANCE, "old")
    keys.revoke(revoked.key_id)
    with TestClient(_app(keys, denials)) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/v1/audit").status_code == 401
        assert client.get("/v1/audit", headers={"Authorization": "Basic abc"}).status_code == 401
        assert client.get("/v1/audit", headers=_auth("trk_nonsense")).status_code == 401
        assert client.get("/v1/audit", headers=_auth(compliance)).status_code == 200
        assert client.get("/v1/audit", headers=_auth(agent)).status_code == 403
        assert denials[-1][0].subject == "ana" and denials[-1][1] == "GET /v1/audit"
        response = client.get("/v1/audit", headers=_auth(revoked.key))
        assert response.status_code == 401 and "revoked" in response.json()["detail"]
        assert denials[-1][0].subject == "old"
        assert client.get("/v1/cases/c1", headers=_auth(agent)).json()["subject"] == "ana"
        assert client.post("/v1/unlisted", headers=_auth(supervisor)).status_code == 403
        assert "no authorization rule" in denials[-1][2]
        assert client.get("/v1/opted-in", headers=_auth(agent)).status_code == 200
        assert client.get("/v1/opted-in", headers=_auth(supervisor)).status_code == 403
        assert client.get("/v1/guarded", headers=_auth(agent)).status_code == 403
        assert client.get("/v1/guarded", headers=_auth(supervisor)).status_code == 200
        # A path segment named "schema" must not slip past authentication.
        assert client.get("/v1/cases/schema").status_code == 401


def test_rate_limit_is_per_key_with_retry_after(keys: KeyService) -> None:
    first = keys.create(Role.COMPLIANCE, "one").key
    second = keys.create(Role.COMPLIANCE, "two").key
    with TestClient(_app(keys, [], per_minute=3)) as client:
        statuses = [client.get("/v1/audit", headers=_auth(first)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = client.get("/v1/audit", headers=_auth(first))
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert client.get("/v1/audit", headers=_auth(second)).status_code == 200
        assert all(client.get("/health").status_code == 200 for _ in range(5))
