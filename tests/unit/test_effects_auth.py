"""Authentication of HTTP calls: basic, bearer, digest, OAuth2 and OpenID Connect."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from flunq.effects import EffectContext, perform
from flunq.errors import ERROR_TYPE_PREFIX, WorkflowError
from flunq.interpreter.protocol import Perform

API = "https://api.test/pets/1"
AUTHORITY = "http://keycloak/realms/fake-authority"
SECRET = "workflow-runtime-secret"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make_ctx(clock: Clock) -> AsyncIterator[Callable[..., EffectContext]]:
    opened: list[tuple[EffectContext, httpx.AsyncClient]] = []

    def make(handler: Callable[[httpx.Request], httpx.Response]) -> EffectContext:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        ctx = EffectContext(client, clock=clock)
        opened.append((ctx, client))
        return ctx

    yield make
    for ctx, client in opened:
        await ctx.aclose()
        await client.aclose()


async def call(ctx: EffectContext, authentication: dict[str, Any], **args: Any) -> Any:
    args = {"method": "get", "uri": API, "authentication": authentication, **args}
    return await perform(Perform(effect_id="e", kind="http", args=args), ctx)


async def failure(ctx: EffectContext, authentication: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(WorkflowError) as caught:
        await call(ctx, authentication)
    return caught.value.problem


# --- basic, bearer ----------------------------------------------------------------------


async def test_basic_sends_the_exact_header_httpbin_expects(make_ctx: Callable[..., EffectContext]) -> None:
    expected = "Basic c2VydmVybGVzcy13b3JrZmxvdzpjb25mb3JtYW5jZS10ZXN0"

    def httpbin(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != expected:
            return httpx.Response(401)
        return httpx.Response(200, json={"authenticated": True, "user": "serverless-workflow"})

    ctx = make_ctx(httpbin)
    policy = {"basic": {"username": "serverless-workflow", "password": "conformance-test"}}
    result = await call(ctx, policy, uri="https://httpbin.org/basic-auth/serverless-workflow/conformance-test")
    assert result == {"authenticated": True, "user": "serverless-workflow"}
    error = await failure(ctx, {"basic": {"username": "serverless-workflow", "password": "wrong"}})
    assert (error["status"], error["title"]) == (401, "Unauthorized")
    assert error["type"] == ERROR_TYPE_PREFIX + "communication"


async def test_bearer_sends_the_token(make_ctx: Callable[..., EffectContext]) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={})

    await call(make_ctx(handler), {"bearer": {"token": "abc.def"}})
    assert seen == ["Bearer abc.def"]


@pytest.mark.parametrize(
    "policy",
    [
        {"basic": {"username": "u"}},
        {"bearer": {}},
        {"digest": {"password": "p"}},
        {"basic": {"username": "u", "password": "p"}, "bearer": {"token": "t"}},
        {"kerberos": {}},
        {"basic": {"use": "mySecret"}},
        {"oauth2": {"grant": "client_credentials"}},
    ],
)
async def test_incomplete_policies_are_configuration_errors(
    make_ctx: Callable[..., EffectContext], policy: dict[str, Any]
) -> None:
    error = await failure(make_ctx(lambda r: httpx.Response(200)), policy)
    assert error["type"] == ERROR_TYPE_PREFIX + "configuration"
    assert error["status"] == 400


# --- digest -----------------------------------------------------------------------------


def digest_server(
    algorithm: str, password: str = "s3cret", qop: str | None = "auth", scheme_list: str = "{digest}"
) -> Callable[[httpx.Request], httpx.Response]:
    """Challenges bare requests; answers 200 only to a correct RFC 7616 (or 2069) response."""
    hash_name = {"MD5": "md5", "SHA-256": "sha256"}[algorithm.removesuffix("-sess")]
    realm, nonce, opaque = "flunq@test", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "5ccc069c403ebaf9f0171e9517f40e41"

    def h(text: str) -> str:
        return hashlib.new(hash_name, text.encode()).hexdigest()

    def handler(request: httpx.Request) -> httpx.Response:
        header = request.headers.get("authorization", "")
        if not header.startswith("Digest "):
            offered = f', qop="{qop}"' if qop else ""
            digest = f'Digest realm="{realm}"{offered}, algorithm={algorithm}, nonce="{nonce}", opaque="{opaque}"'
            return httpx.Response(401, headers={"WWW-Authenticate": scheme_list.format(digest=digest)})
        fields = {k: a or b for k, a, b in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header[7:])}
        ha1 = h(f"{fields['username']}:{realm}:{password}")
        if algorithm.endswith("-sess"):
            ha1 = h(f"{ha1}:{nonce}:{fields['cnonce']}")
        ha2 = h(f"{request.method}:{fields['uri']}")
        if qop:
            expected = h(f"{ha1}:{nonce}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}")
        else:
            expected = h(f"{ha1}:{nonce}:{ha2}")
        ok = (
            fields["response"] == expected
            and fields["uri"] == request.url.raw_path.decode()
            and fields["opaque"] == opaque
            and fields["algorithm"] == algorithm
            and ("qop" in fields) == bool(qop)
        )
        return httpx.Response(200, json={"user": fields["username"]}) if ok else httpx.Response(401)

    return handler


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "MD5-sess", "SHA-256-sess"])
async def test_digest_answers_the_challenge(make_ctx: Callable[..., EffectContext], algorithm: str) -> None:
    ctx = make_ctx(digest_server(algorithm))
    policy = {"digest": {"username": "mufasa", "password": "s3cret"}}
    assert await call(ctx, policy, uri="https://api.test/dir/index.html?q=1") == {"user": "mufasa"}


@pytest.mark.parametrize(
    ("qop", "schemes"),
    [(None, "{digest}"), ("auth,auth-int", 'Basic realm="old", {digest}'), ("auth", "Bearer, {digest}")],
)
async def test_digest_without_qop_and_among_other_challenges(
    make_ctx: Callable[..., EffectContext], qop: str | None, schemes: str
) -> None:
    ctx = make_ctx(digest_server("MD5", qop=qop, scheme_list=schemes))
    assert await call(ctx, {"digest": {"username": "mufasa", "password": "s3cret"}}) == {"user": "mufasa"}


@pytest.mark.parametrize(("algorithm", "qop"), [("MD5", "auth-int"), ("SHA-256", "auth")])
async def test_digest_challenges_we_cannot_answer_leave_the_401(
    make_ctx: Callable[..., EffectContext], algorithm: str, qop: str
) -> None:
    server = digest_server(algorithm, qop=qop)
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        response = server(request)
        if algorithm == "SHA-256":  # pretend the server uses an algorithm nobody knows
            challenge = response.headers.get("www-authenticate", "").replace("SHA-256", "SHA-3-999")
            response.headers["www-authenticate"] = challenge
        return response

    error = await failure(make_ctx(handler), {"digest": {"username": "mufasa", "password": "s3cret"}})
    assert error["status"] == 401
    assert len(calls) == 1


async def test_digest_with_a_wrong_password_fails_with_401(make_ctx: Callable[..., EffectContext]) -> None:
    error = await failure(make_ctx(digest_server("MD5")), {"digest": {"username": "mufasa", "password": "no"}})
    assert error["status"] == 401


# --- oauth2 / oidc ----------------------------------------------------------------------


class AuthServer:
    """A token endpoint plus a resource server accepting the tokens it issued."""

    def __init__(self, *, expires_in: Any = 3600, token_path: str = "/realms/fake-authority/auth/token") -> None:
        self.expires_in = expires_in
        self.token_path = token_path
        self.token_requests: list[httpx.Request] = []
        self.discoveries = 0
        self.revoked: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            self.discoveries += 1
            return httpx.Response(200, json={"issuer": AUTHORITY, "token_endpoint": f"http://keycloak{self.token_path}"})
        if request.url.path == self.token_path:
            self.token_requests.append(request)
            answer: dict[str, Any] = {"access_token": f"tok-{len(self.token_requests)}", "token_type": "bearer"}
            if self.expires_in is not None:
                answer["expires_in"] = self.expires_in
            return httpx.Response(200, json=answer)
        if request.headers.get("authorization", "").startswith("Basic "):
            return httpx.Response(200, json={"basic": True})
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not token.startswith("tok-") or token in self.revoked:
            return httpx.Response(401)
        return httpx.Response(200, json={"token": token})

    def form(self, index: int = -1) -> dict[str, list[str]]:
        return parse_qs(self.token_requests[index].content.decode())


def oauth2(**extra: Any) -> dict[str, Any]:
    props = {
        "authority": AUTHORITY,
        "grant": "client_credentials",
        "endpoints": {"token": "/auth/token"},
        "client": {"id": "workflow-runtime-id", "secret": SECRET},
    }
    return {"oauth2": {**props, **extra}}


async def test_client_credentials_token_is_fetched_once_and_cached(
    make_ctx: Callable[..., EffectContext],
) -> None:
    server = AuthServer()
    ctx = make_ctx(server)
    assert await call(ctx, oauth2()) == {"token": "tok-1"}
    assert await call(ctx, oauth2()) == {"token": "tok-1"}
    assert len(server.token_requests) == 1
    request = server.token_requests[0]
    assert str(request.url) == "http://keycloak/realms/fake-authority/auth/token"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert server.form() == {
        "grant_type": ["client_credentials"],
        "client_id": ["workflow-runtime-id"],
        "client_secret": [SECRET],
    }


async def test_default_token_endpoint_is_oauth2_token(make_ctx: Callable[..., EffectContext]) -> None:
    server = AuthServer(token_path="/realms/fake-authority/oauth2/token")
    await call(make_ctx(server), oauth2(endpoints=None))
    assert server.token_requests[0].url.path == "/realms/fake-authority/oauth2/token"


async def test_tokens_are_renewed_when_they_expire(make_ctx: Callable[..., EffectContext], clock: Clock) -> None:
    server = AuthServer(expires_in=60)
    ctx = make_ctx(server)
    await call(ctx, oauth2())
    clock.now += 10
    assert await call(ctx, oauth2()) == {"token": "tok-1"}
    clock.now += 45  # 55 s: past 60 s minus the renewal margin
    assert await call(ctx, oauth2()) == {"token": "tok-2"}
    assert len(server.token_requests) == 2


async def test_distinct_policies_get_distinct_tokens(make_ctx: Callable[..., EffectContext]) -> None:
    server = AuthServer()
    ctx = make_ctx(server)
    await call(ctx, oauth2())
    assert await call(ctx, oauth2(scopes=["pets:read"])) == {"token": "tok-2"}


async def test_a_rejected_cached_token_is_replaced_once(make_ctx: Callable[..., EffectContext]) -> None:
    server = AuthServer()
    ctx = make_ctx(server)
    await call(ctx, oauth2())
    server.revoked.add("tok-1")
    assert await call(ctx, oauth2()) == {"token": "tok-2"}
    assert len(server.token_requests) == 2


async def test_basic_client_authentication_json_encoding_scopes_and_audiences(
    make_ctx: Callable[..., EffectContext],
) -> None:
    server = AuthServer()
    policy = oauth2(
        client={"id": "id:1", "secret": "s&cret", "authentication": "client_secret_basic"},
        request={"encoding": "application/json"},
        scopes=["a", "b"],
        audiences=["api"],
    )
    await call(make_ctx(server), policy)
    request = server.token_requests[0]
    assert request.headers["authorization"] == "Basic aWQlM0ExOnMlMjZjcmV0"  # id%3A1:s%26cret
    assert json.loads(request.content) == {"grant_type": "client_credentials", "scope": "a b", "audience": "api"}


async def test_password_grant_sends_the_resource_owner_credentials(
    make_ctx: Callable[..., EffectContext],
) -> None:
    server = AuthServer()
    await call(make_ctx(server), oauth2(grant="password", username="alice", password="wonder"))
    form = server.form()
    assert form["grant_type"] == ["password"]
    assert (form["username"], form["password"]) == (["alice"], ["wonder"])


async def test_oidc_discovers_the_token_endpoint_once(make_ctx: Callable[..., EffectContext]) -> None:
    server = AuthServer(token_path="/realms/fake-authority/protocol/openid-connect/token")
    ctx = make_ctx(server)
    policy = {"oidc": {"authority": AUTHORITY, "grant": "client_credentials",
                       "client": {"id": "workflow-runtime-id", "secret": SECRET}}}
    assert await call(ctx, policy) == {"token": "tok-1"}
    ctx.tokens.clear()  # force a second token request, which must reuse the discovery
    assert await call(ctx, policy) == {"token": "tok-2"}
    assert server.discoveries == 1
    assert server.token_requests[0].url.path == "/realms/fake-authority/protocol/openid-connect/token"


async def test_token_endpoint_errors_are_authentication_errors(make_ctx: Callable[..., EffectContext]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"error": "invalid_client", "error_description": "Invalid client credentials"}
        return httpx.Response(401, json=body)

    error = await failure(make_ctx(handler), oauth2())
    assert error["type"] == ERROR_TYPE_PREFIX + "authentication"
    assert error["status"] == 401
    assert "invalid_client" in error["detail"] and "Invalid client credentials" in error["detail"]
    assert SECRET not in json.dumps(error)


async def test_failed_discovery_is_an_authentication_error(make_ctx: Callable[..., EffectContext]) -> None:
    ctx = make_ctx(lambda request: httpx.Response(404))
    error = await failure(ctx, {"oidc": {"authority": AUTHORITY, "grant": "client_credentials",
                                         "client": {"id": "x", "secret": "y"}}})
    assert error["type"] == ERROR_TYPE_PREFIX + "authentication"
    assert "openid-configuration" in error["detail"]


@pytest.mark.parametrize("grant", ["authorization_code", "refresh_token"])
async def test_interactive_grants_are_unsupported(make_ctx: Callable[..., EffectContext], grant: str) -> None:
    server = AuthServer()
    error = await failure(make_ctx(server), oauth2(grant=grant))
    assert error["type"] == ERROR_TYPE_PREFIX + "authentication"
    assert grant in error["detail"] and "not supported" in error["detail"]
    assert server.token_requests == []


async def test_secrets_never_reach_the_logs(
    make_ctx: Callable[..., EffectContext], caplog: pytest.LogCaptureFixture
) -> None:
    server = AuthServer()
    ctx = make_ctx(server)
    with caplog.at_level(logging.DEBUG):
        await call(ctx, oauth2())
        await call(ctx, {"basic": {"username": "u", "password": "pa55word"}}, uri="https://api.test/x?api_key=k3y")
    assert caplog.records  # the calls were logged...
    for secret in (SECRET, "tok-1", "pa55word", "k3y"):  # ...without any secret
        assert secret not in caplog.text
