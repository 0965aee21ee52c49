"""Bearer-token authentication and scopes for every service's admin routes.

Two sources, both optional and both per service: static API tokens, kept only as the
hex SHA-256 of the token (tokens are random and high-entropy, so a fast hash is
enough; several may be valid at once, which is how a token is rotated), and OIDC/JWT
access tokens, verified with PyJWT against a JWKS read from a file or a URL (cached),
checking signature, algorithm, issuer, audience and expiry.

A route declares what it needs with `dependencies=[require(Scope.X)]`; `create_app`
puts the service's `Authenticator` on `app.state`. A missing, unknown, expired or
otherwise invalid token is a 401, a valid one without the scope a 403, each with
`{"detail": ...}` and a `WWW-Authenticate` header (RFC 6750).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

import jwt
from fastapi import HTTPException, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.routing import BaseRoute


class Scope(StrEnum):
    STATE_READ = "state:read"
    """Routing and SLA state, policies, a contact's decisions and clocks."""
    POLICY_CHECK = "policy:check"
    """Check a policy file, explain a decision."""
    CUSTOMERS_READ = "customers:read"
    """Customer data (PII): lookups, profiles, a customer's contacts."""
    CUSTOMERS_IDENTIFY = "customers:identify"
    """Which customers hold a phone or an email: their ids, not their profiles."""
    CUSTOMERS_WRITE = "customers:write"
    """Create, change and delete customers and their identities."""
    CUSTOMERS_IMPORT = "customers:import"
    CUSTOMERS_MERGE = "customers:merge"
    CUSTOMERS_ERASE = "customers:erase"
    OPERATIONS_READ = "operations:read"
    """/healthz, /readyz and /metrics, when they are not public."""
    AUDIT_READ = "audit:read"
    """The audit trail: who read or changed which customers (ids only, never values)."""


IMPLIED_BY: dict[Scope, frozenset[Scope]] = {
    Scope.CUSTOMERS_IDENTIFY: frozenset({Scope.CUSTOMERS_READ}),
}
"""Scopes that a broader one includes: who may read customers may identify them."""


ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""Only public-key algorithms: `none` and HMAC (whose secret would be the public key) never."""

DEFAULT_PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics")
REALM = "switchboard"


class ApiToken(BaseModel):
    """One static token: `{"name": "ops-2026", "sha256": "<hex>", "scopes": ["state:read"]}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[!-~]+$")
    sha256: str = Field(pattern="^[0-9a-f]{64}$", description="hex SHA-256 of the token")
    scopes: frozenset[Scope]


class OidcSettings(BaseModel):
    """Where the signing keys are and what a token must say to be accepted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(min_length=1, description="the `iss` every token must carry")
    audience: str = Field(min_length=1, description="an `aud` every token must carry")
    jwks_file: Path | None = Field(None, description="a JWKS document on disk")
    jwks_url: str | None = Field(None, pattern="^https?://", description="or at a URL")
    jwks_cache_seconds: float = Field(300, gt=0, le=86_400)
    algorithms: frozenset[str] = Field(frozenset({"RS256", "ES256"}))
    leeway_seconds: float = Field(30, ge=0, le=300, description="clock skew allowed on exp/nbf")
    scope_claim: str = Field("scope", description="space-separated string or list of scopes")

    @model_validator(mode="after")
    def _one_key_source_and_safe_algorithms(self) -> Self:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError("set exactly one of oidc.jwks_file and oidc.jwks_url")
        unsafe = self.algorithms - ASYMMETRIC_ALGORITHMS
        if unsafe or not self.algorithms:
            raise ValueError(
                f"oidc.algorithms must be public-key algorithms from {sorted(ASYMMETRIC_ALGORITHMS)}"
                f" (got {sorted(self.algorithms)})"
            )
        return self


class AuthSettings(BaseModel):
    """`<PREFIX>AUTH__ENABLED`, `<PREFIX>AUTH__TOKENS` (JSON list), `<PREFIX>AUTH__OIDC__*`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="off only for local and test runs")
    tokens: tuple[ApiToken, ...] = ()
    oidc: OidcSettings | None = None
    public_paths: frozenset[str] = Field(
        frozenset(DEFAULT_PUBLIC_PATHS), description="operations routes served without a token"
    )

    @model_validator(mode="after")
    def _tokens_distinct(self) -> Self:
        names = [t.name for t in self.tokens]
        if len(set(names)) != len(names):
            raise ValueError("auth.tokens: every token needs its own name")
        if len({t.sha256 for t in self.tokens}) != len(self.tokens):
            raise ValueError("auth.tokens: the same token hash is listed twice")
        return self

    @property
    def has_sources(self) -> bool:
        return bool(self.tokens) or self.oidc is not None


def new_token() -> tuple[str, str]:
    """A fresh random token and the hex SHA-256 to put in the settings."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who called: a token's name or a JWT's subject, and the scopes it holds."""

    name: str
    scopes: frozenset[str]


def holds(principal: Principal, scope: Scope) -> bool:
    """Whether the principal holds `scope`, itself or through a scope that includes it."""
    return scope.value in principal.scopes or any(
        broader.value in principal.scopes for broader in IMPLIED_BY.get(scope, ())
    )


class Unauthorized(Exception):
    """No valid credentials; the message says why, never echoing the token."""


class KeysUnavailable(Exception):
    """The JWKS could not be read: the token may be fine, so this is not a 401."""


class _Keys:
    """The JWKS, re-read from its file when it changes, or fetched at most every
    `jwks_cache_seconds` (and once more, rate-limited, for a key id not yet seen)."""

    REFETCH_UNKNOWN_KID_S = 30.0

    def __init__(self, oidc: OidcSettings) -> None:
        self._oidc = oidc
        self._keys: dict[str | None, dict[str, Any]] = {}
        self._stamp: float | None = None
        self._fetched_at = -float("inf")
        self._lock = asyncio.Lock()

    async def get(self, kid: str | None) -> dict[str, Any]:
        async with self._lock:
            await self._refresh(kid)
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        if kid not in self._keys:
            raise Unauthorized(f"no signing key {kid!r} in the issuer's key set")
        return self._keys[kid]

    async def _refresh(self, kid: str | None) -> None:
        now = time.monotonic()
        if self._oidc.jwks_file is not None:
            path = self._oidc.jwks_file
            try:
                stamp = path.stat().st_mtime
                if stamp != self._stamp:
                    self._load(path.read_bytes())
                    self._stamp = stamp
            except (OSError, ValueError) as exc:
                raise KeysUnavailable(f"cannot read the JWKS file {path}: {exc}") from None
            return
        age = now - self._fetched_at
        stale = age > self._oidc.jwks_cache_seconds
        if stale or (kid not in self._keys and age > self.REFETCH_UNKNOWN_KID_S):
            assert self._oidc.jwks_url is not None
            try:
                body = await asyncio.to_thread(_fetch, self._oidc.jwks_url)
                self._load(body)
            except (OSError, ValueError) as exc:
                if not self._keys:
                    raise KeysUnavailable(f"cannot fetch the JWKS: {exc}") from None
            self._fetched_at = now

    def _load(self, body: bytes) -> None:
        document = json.loads(body)
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise ValueError('a JWKS is an object with a "keys" list')
        self._keys = {k.get("kid"): k for k in keys if isinstance(k, dict)}


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read(1_048_576)
        return body


class Authenticator:
    """Turns an `Authorization` header into a `Principal`, or raises `Unauthorized`."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self._tokens = [(bytes.fromhex(t.sha256), t) for t in settings.tokens]
        self._keys = _Keys(settings.oidc) if settings.oidc else None

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    async def authenticate(self, token: str | None) -> Principal:
        if not self.enabled:
            return Principal("anonymous (authentication off)", frozenset(Scope))
        if not token:
            raise Unauthorized("no bearer token: send `Authorization: Bearer <token>`")
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for stored, api_token in self._tokens:
            # Every stored hash is compared, in constant time, so timing shows nothing.
            if hmac.compare_digest(stored, digest):
                found = api_token
        if found is not None:
            return Principal(found.name, frozenset(found.scopes))
        if self._keys is not None and token.count(".") == 2:
            return await self._verify_jwt(token)
        raise Unauthorized("unknown or revoked token")

    async def _verify_jwt(self, token: str) -> Principal:
        oidc = self.settings.oidc
        assert oidc is not None
        assert self._keys is not None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("malformed token") from None
        alg = header.get("alg")
        if alg not in oidc.algorithms:
            raise Unauthorized(
                f"token algorithm {alg!r} is not accepted (expected one of"
                f" {', '.join(sorted(oidc.algorithms))})"
            )
        jwk = await self._keys.get(header.get("kid"))
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=oidc.audience,
                issuer=oidc.issuer,
                leeway=oidc.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized(f"token audience is not {oidc.audience!r}") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized(f"token issuer is not {oidc.issuer!r}") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None
        return Principal(str(claims["sub"]), _scopes_of(claims.get(oidc.scope_claim)))


def _scopes_of(claim: object) -> frozenset[str]:
    if isinstance(claim, str):
        return frozenset(claim.split())
    if isinstance(claim, list):
        return frozenset(s for s in claim if isinstance(s, str))
    return frozenset()


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token from the service's settings, or an OIDC access token (JWT).",
)


def _challenge(error: str, description: str, scope: str | None = None) -> dict[str, str]:
    # Parts of the message come from the token's unverified header: printable ASCII only.
    safe = "".join(c if " " <= c <= "~" and c != '"' else "'" for c in description)[:300]
    value = f'Bearer realm="{REALM}", error="{error}", error_description="{safe}"'
    if scope:
        value += f', scope="{scope}"'
    return {"WWW-Authenticate": value}


class ScopeRequirement:
    """The dependency behind `require`: authenticates the request and checks one scope."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(
        self,
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Security(_bearer),  # noqa: B008
    ) -> Principal:
        authenticator = getattr(request.app.state, "authenticator", None)
        if not isinstance(authenticator, Authenticator):
            # Fail closed: an app built without an authenticator serves no admin route.
            raise HTTPException(500, "the service has no authenticator configured")
        try:
            principal = await authenticator.authenticate(
                credentials.credentials if credentials else None
            )
        except Unauthorized as exc:
            error = "invalid_request" if credentials is None else "invalid_token"
            raise HTTPException(401, str(exc), headers=_challenge(error, str(exc))) from None
        except KeysUnavailable as exc:
            raise HTTPException(503, str(exc)) from None
        scope = self.scope.value
        if not holds(principal, self.scope):
            detail = f"token {principal.name!r} lacks the scope {scope!r} this route needs"
            raise HTTPException(
                403, detail, headers=_challenge("insufficient_scope", detail, scope)
            )
        request.state.principal = principal
        return principal


def current_principal(request: Request) -> Principal:
    """Who is calling, as the route's `require` dependency authenticated them.

    Route dependencies run before the endpoint's own, so a route declaring a scope has
    its principal here; one that declares none has nobody to name, which is a bug.
    """
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise HTTPException(500, "the route names its caller but declares no scope")
    return principal


def require(scope: Scope) -> Any:
    """A dependency that lets the request through only with a token holding `scope`.

    It is a `Security` dependency, so OpenAPI lists the scheme and the scope on the route.
    """
    return Security(ScopeRequirement(scope), scopes=[scope.value])


def document_refusals(routes: Sequence[BaseRoute]) -> None:
    """Add the 401 and 403 answers to the OpenAPI entry of every route that needs a scope."""
    detail = {"type": "object", "properties": {"detail": {"type": "string"}}}
    content = {"application/json": {"schema": detail}}
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        for dependency in route.dependencies:
            if isinstance(dependency.dependency, ScopeRequirement):
                scope = dependency.dependency.scope.value
                route.responses.setdefault(
                    401, {"description": "no token, or an invalid one", "content": content}
                )
                route.responses.setdefault(
                    403, {"description": f"the token lacks `{scope}`", "content": content}
                )
