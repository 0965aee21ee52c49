"""Admin-route authentication: hashed API tokens, OIDC/JWT against a JWKS, scopes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter
from pydantic import ValidationError

from switchboard_runtime.auth import (
    ApiToken,
    Authenticator,
    AuthSettings,
    OidcSettings,
    Scope,
    new_token,
    require,
    token_hash,
)
from switchboard_runtime.settings import ServiceSettings
from switchboard_runtime.web import create_app

ISSUER = "https://id.example.test/"
AUDIENCE = "switchboard-admin"


def make_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_of(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [public | {"kid": kid, "use": "sig"}]}


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "svc-dashboard",
        "iat": now,
        "exp": now + 300,
        "scope": "state:read policy:check",
    }
    return {k: v for k, v in (base | changes).items() if v is not None}


def sign(key: rsa.RSAPrivateKey, kid: str = "k1", **changes: Any) -> str:
    return jwt.encode(claims(**changes), key, algorithm="RS256", headers={"kid": kid})


def app_with(auth: AuthSettings) -> Any:
    router = APIRouter()

    @router.get("/state", dependencies=[require(Scope.STATE_READ)])
    async def state() -> dict[str, str]:
        return {"ok": "state"}

    @router.post("/erase", dependencies=[require(Scope.CUSTOMERS_ERASE)])
    async def erase() -> dict[str, str]:
        return {"ok": "erased"}

    return create_app("demo", {}, [router], auth=Authenticator(auth))


async def call(app: Any, method: str, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, headers=headers)


@pytest.fixture
def key() -> rsa.RSAPrivateKey:
    return make_key()


@pytest.fixture
def jwks_file(tmp_path: Path, key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks_of(key, "k1")))
    return path


@pytest.fixture
def oidc_app(jwks_file: Path) -> Any:
    oidc = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=jwks_file)
    return app_with(AuthSettings(oidc=oidc))


# -- static API tokens ---------------------------------------------------------------


async def test_api_tokens_are_kept_as_hashes_and_rotate_with_two_valid_at_once() -> None:
    old, old_hash = new_token()
    new, new_hash = new_token()
    scopes = frozenset({Scope.STATE_READ})
    app = app_with(
        AuthSettings(
            tokens=(
                ApiToken(name="ops-2026-01", sha256=old_hash, scopes=scopes),
                ApiToken(name="ops-2026-02", sha256=new_hash, scopes=scopes),
            )
        )
    )
    assert old_hash == hashlib.sha256(old.encode()).hexdigest()
    for token in (old, new):
        assert (await call(app, "GET", "/state", token)).json() == {"ok": "state"}
    refused = await call(app, "GET", "/state", old + "x")
    assert refused.status_code == 401
    assert refused.json() == {"detail": "unknown or revoked token"}
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


async def test_no_token_is_401_and_a_token_without_the_scope_is_403() -> None:
    token, digest = new_token()
    reader = ApiToken(name="reader", sha256=digest, scopes=frozenset({Scope.STATE_READ}))
    app = app_with(AuthSettings(tokens=(reader,)))
    missing = await call(app, "POST", "/erase")
    assert missing.status_code == 401
    assert "Authorization: Bearer" in missing.json()["detail"]
    assert missing.headers["www-authenticate"].startswith('Bearer realm="switchboard"')
    denied = await call(app, "POST", "/erase", token)
    assert denied.status_code == 403
    assert denied.json() == {
        "detail": "token 'reader' lacks the scope 'customers:erase' this route needs"
    }
    challenge = denied.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert challenge.endswith('scope="customers:erase"')


async def test_operations_routes_are_open_unless_configured_otherwise() -> None:
    token, digest = new_token()
    ops = ApiToken(name="prom", sha256=digest, scopes=frozenset({Scope.OPERATIONS_READ}))
    open_app = app_with(AuthSettings(tokens=(ops,)))
    assert (await call(open_app, "GET", "/metrics")).status_code == 200
    closed = app_with(AuthSettings(tokens=(ops,), public_paths=frozenset({"/healthz"})))
    assert (await call(closed, "GET", "/healthz")).status_code == 200
    assert (await call(closed, "GET", "/metrics")).status_code == 401
    assert (await call(closed, "GET", "/readyz")).status_code == 401
    assert (await call(closed, "GET", "/metrics", token)).status_code == 200


async def test_authentication_off_lets_every_request_through() -> None:
    app = app_with(AuthSettings(enabled=False))
    assert (await call(app, "POST", "/erase")).json() == {"ok": "erased"}


def test_openapi_documents_the_scheme_and_each_routes_scope() -> None:
    document = app_with(AuthSettings()).openapi()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["paths"]["/erase"]["post"]["security"] == [{"bearer": ["customers:erase"]}]
    assert "security" not in document["paths"]["/healthz"]["get"]
    answers = document["paths"]["/erase"]["post"]["responses"]
    assert answers["403"]["description"] == "the token lacks `customers:erase`"
    assert "401" in answers
    assert "401" not in document["paths"]["/healthz"]["get"]["responses"]


def test_tokens_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    class Example(ServiceSettings):
        model_config = {"env_prefix": "EX_", "env_nested_delimiter": "__"}

    listed = [{"name": "ops", "sha256": token_hash("t"), "scopes": ["state:read"]}]
    monkeypatch.setenv("EX_AUTH__TOKENS", json.dumps(listed))
    monkeypatch.setenv("EX_AUTH__OIDC__ISSUER", ISSUER)
    monkeypatch.setenv("EX_AUTH__OIDC__AUDIENCE", AUDIENCE)
    monkeypatch.setenv("EX_AUTH__OIDC__JWKS_URL", "http://127.0.0.1:1/jwks.json")
    settings = Example()
    assert settings.auth.tokens[0].scopes == {Scope.STATE_READ}
    assert settings.auth.oidc is not None
    assert settings.auth.oidc.jwks_url == "http://127.0.0.1:1/jwks.json"


def test_settings_refuse_unknown_scopes_duplicate_names_and_symmetric_algorithms() -> None:
    with pytest.raises(ValidationError, match="scopes"):
        ApiToken(name="x", sha256="ab" * 32, scopes=frozenset({"everything"}))
    same = ApiToken(name="x", sha256="ab" * 32, scopes=frozenset())
    with pytest.raises(ValidationError, match="its own name"):
        AuthSettings(tokens=(same, same.model_copy(update={"sha256": "cd" * 32})))
    for algorithms in ({"HS256"}, {"none"}, {"RS256", "HS512"}):
        with pytest.raises(ValidationError, match="public-key algorithms"):
            OidcSettings(
                issuer=ISSUER,
                audience=AUDIENCE,
                jwks_file=Path("jwks.json"),
                algorithms=frozenset(algorithms),
            )


# -- OIDC / JWT ----------------------------------------------------------------------


async def test_a_signed_access_token_with_the_scope_is_accepted(
    oidc_app: Any, key: rsa.RSAPrivateKey
) -> None:
    assert (await call(oidc_app, "GET", "/state", sign(key))).json() == {"ok": "state"}
    denied = await call(oidc_app, "POST", "/erase", sign(key))
    assert denied.status_code == 403
    assert "'svc-dashboard' lacks the scope 'customers:erase'" in denied.json()["detail"]


async def test_a_list_valued_scope_claim_is_read_too(
    tmp_path: Path, key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks_of(key, "k1")))
    oidc = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=path, scope_claim="scp")
    app = app_with(AuthSettings(oidc=oidc))
    token = sign(key, scope=None, scp=["customers:erase"])
    assert (await call(app, "POST", "/erase", token)).json() == {"ok": "erased"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"exp": int(time.time()) - 3600}, "token expired"),
        ({"iss": "https://evil.example.test/"}, f"token issuer is not {ISSUER!r}"),
        ({"aud": "someone-else"}, f"token audience is not {AUDIENCE!r}"),
        ({"exp": None}, 'invalid token: Token is missing the "exp" claim'),
        ({"sub": None}, 'invalid token: Token is missing the "sub" claim'),
    ],
)
async def test_expired_or_foreign_tokens_are_401(
    oidc_app: Any, key: rsa.RSAPrivateKey, changes: dict[str, Any], message: str
) -> None:
    response = await call(oidc_app, "GET", "/state", sign(key, **changes))
    assert response.status_code == 401
    assert response.json() == {"detail": message}
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_token_signed_by_another_key_is_401(oidc_app: Any) -> None:
    response = await call(oidc_app, "GET", "/state", sign(make_key()))
    assert response.status_code == 401
    assert response.json()["detail"].startswith("invalid token: Signature verification failed")
    unknown_kid = await call(oidc_app, "GET", "/state", sign(make_key(), kid="k9"))
    assert unknown_kid.json() == {"detail": "no signing key 'k9' in the issuer's key set"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(header: dict[str, Any], secret: bytes | None) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims()).encode())}"
    if secret is None:
        return signing_input + "."
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


async def test_alg_none_and_hmac_with_the_public_key_are_refused(
    oidc_app: Any, key: rsa.RSAPrivateKey
) -> None:
    unsigned = _forged({"alg": "none", "typ": "JWT", "kid": "k1"}, None)
    response = await call(oidc_app, "GET", "/state", unsigned)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("token algorithm 'none' is not accepted")
    # The classic confusion: HMAC "signed" with the issuer's public key as the secret.
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    confused = _forged({"alg": "HS256", "typ": "JWT", "kid": "k1"}, public_pem)
    response = await call(oidc_app, "GET", "/state", confused)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("token algorithm 'HS256' is not accepted")


async def test_what_a_forged_header_says_stays_out_of_the_response_headers(
    oidc_app: Any,
) -> None:
    # The unknown key id is quoted in the message; a header cannot carry it as it is.
    forged = _forged({"alg": "RS256", "kid": "k\u20ac"}, None)
    response = await call(oidc_app, "GET", "/state", forged)
    assert response.status_code == 401
    assert response.json() == {"detail": "no signing key 'k\u20ac' in the issuer's key set"}
    assert response.headers["www-authenticate"].isascii()


async def test_a_rotated_jwks_file_is_read_again(
    oidc_app: Any, jwks_file: Path, key: rsa.RSAPrivateKey
) -> None:
    assert (await call(oidc_app, "GET", "/state", sign(key))).status_code == 200
    successor = make_key()
    rotate(jwks_file, jwks_of(successor, "k2"))
    assert (await call(oidc_app, "GET", "/state", sign(successor, kid="k2"))).status_code == 200
    assert (await call(oidc_app, "GET", "/state", sign(key))).status_code == 401


def rotate(path: Path, jwks: dict[str, Any]) -> None:
    """Replace the file, with a later mtime even on a file system of coarse timestamps."""
    stamp = path.stat().st_mtime + 1
    path.write_text(json.dumps(jwks))
    os.utime(path, (stamp, stamp))


@pytest.fixture
def jwks_server(key: rsa.RSAPrivateKey) -> Iterator[tuple[str, list[int]]]:
    body = json.dumps(jwks_of(key, "k1")).encode()
    hits = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits[0] += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json", hits
    server.shutdown()
    server.server_close()
    thread.join()


async def test_a_jwks_url_is_fetched_once_and_cached(
    jwks_server: tuple[str, list[int]], key: rsa.RSAPrivateKey
) -> None:
    url, hits = jwks_server
    oidc = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=url)
    app = app_with(AuthSettings(oidc=oidc))
    for _ in range(3):
        assert (await call(app, "GET", "/state", sign(key))).status_code == 200
    assert hits == [1]


async def test_an_unreachable_jwks_is_503_not_a_verdict_on_the_token(
    key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    oidc = OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=tmp_path / "absent.json")
    response = await call(app_with(AuthSettings(oidc=oidc)), "GET", "/state", sign(key))
    assert response.status_code == 503
    assert response.json()["detail"].startswith("cannot read the JWKS file")
