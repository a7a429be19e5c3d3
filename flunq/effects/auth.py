"""Authentication of outgoing calls: basic, bearer, digest, OAuth2 and OpenID Connect.

:func:`auth_for` turns a *resolved* DSL authentication policy (secrets and ``use``
references already replaced by their properties, expressions evaluated) into an
:class:`Authenticator` that the HTTP code path applies to each request it sends:

- ``{"basic": {username, password}}``: ``Authorization: Basic base64(user:password)``, sent
  with the first request;
- ``{"bearer": {token}}``: ``Authorization: Bearer <token>``;
- ``{"digest": {username, password}}``: RFC 7616 challenge/response (MD5, SHA-256 and their
  ``-sess`` variants, ``qop=auth``; see :mod:`flunq.effects.digest`): the request goes out
  bare, and on a ``401`` carrying ``WWW-Authenticate: Digest ...`` it is sent once more
  with the computed response;
- ``{"oauth2": {...}}`` / ``{"oidc": {...}}``: an access token is obtained from the token
  endpoint with the ``client_credentials``, ``password`` or token-exchange grant and sent as
  a bearer token. ``oauth2`` posts to ``authority + endpoints.token`` (default
  ``/oauth2/token``; the endpoint is appended to the authority's path, so
  ``http://kc/realms/r`` + ``/auth/token`` is ``http://kc/realms/r/auth/token``; an absolute
  endpoint URI is used as is). ``oidc`` reads ``token_endpoint`` from
  ``<authority>/.well-known/openid-configuration`` (cached with the documents).
  Client authentication: ``client_secret_post`` (default), ``client_secret_basic``,
  ``none``, and ``client_secret_jwt``/``private_key_jwt`` when ``client.assertion`` holds the
  signed JWT (Flunq does not sign assertions). The request is form-encoded unless
  ``request.encoding`` is ``application/json``. Tokens are cached per policy until
  ``expires_in`` (minus a small margin; 5 minutes when the server does not say); a cached
  token answered by ``401`` is dropped and a new one is fetched once.
  ``authorization_code`` and ``refresh_token`` grants need a user or a stored refresh token
  and are refused with an ``authentication`` error. Token issuers (``issuers``) are not
  verified.

Failures to obtain a token (token endpoint unreachable, error status, no ``access_token``
in the answer, discovery failure) raise an ``authentication`` error (401). A policy that
lacks required properties raises a ``configuration`` error (400). Credentials and tokens
are never logged nor put in error details.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode

from flunq.effects import digest
from flunq.effects.client import Request, Response, TransportError
from flunq.effects.context import EffectContext
from flunq.errors import WorkflowError, problem

__all__ = [
    "Authenticator", "DigestAuth", "HeaderAuth", "OAuth2Auth", "auth_for", "basic_header", "fingerprint", "token_for",
]

log = logging.getLogger(__name__)

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_DEFAULT_TOKEN_TTL = 300.0
_SCHEMES = ("basic", "bearer", "digest", "oauth2", "oidc")
_CLIENT_METHODS = ("client_secret_post", "client_secret_basic", "client_secret_jwt", "private_key_jwt", "none")


async def auth_for(policy: Mapping[str, Any] | None, ctx: EffectContext) -> Authenticator | None:
    """An :class:`Authenticator` applying ``policy``, or ``None`` when there is no policy."""
    if not policy:
        return None
    scheme, props = _scheme_of(policy)
    if scheme == "basic":
        return HeaderAuth(basic_header(_required(props, scheme, "username"), _required(props, scheme, "password")))
    if scheme == "bearer":
        return HeaderAuth(f"Bearer {_required(props, scheme, 'token')}")
    if scheme == "digest":
        return DigestAuth(_required(props, scheme, "username"), _required(props, scheme, "password"))
    _check_grant(scheme, props)
    return OAuth2Auth(scheme, props, ctx)


def basic_header(username: str, password: str) -> str:
    """``Basic base64(username:password)``, UTF-8 encoded (RFC 7617)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class Authenticator:
    """Authenticates the requests of one call.

    The HTTP code path sends each request with :meth:`authorization` (when not ``None``)
    as its ``Authorization`` header; on a ``401`` it asks :meth:`challenged` and, when
    that gives a value, sends the request once more with it.
    """

    async def authorization(self) -> str | None:
        """The ``Authorization`` value to send first (``None``: send the request bare)."""
        return None

    async def challenged(self, request: Request, response: Response) -> str | None:
        """After ``response`` (a 401) to ``request``: the value to retry with, or ``None``."""
        return None


class HeaderAuth(Authenticator):
    """Sends a fixed ``Authorization`` value (basic and bearer)."""

    def __init__(self, value: str) -> None:
        self._value = value

    async def authorization(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return f"HeaderAuth({self._value.split(' ', 1)[0]} ***)"


class DigestAuth(Authenticator):
    """Answers a ``WWW-Authenticate: Digest`` challenge (RFC 7616)."""

    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self._password = password

    async def challenged(self, request: Request, response: Response) -> str | None:
        for name, value in response.headers:
            if name.lower() == "www-authenticate":
                challenge = digest.parse_challenge(value)
                if challenge is not None:
                    return digest.authorization(
                        challenge, self._username, self._password, request.method, request.target
                    )
        return None

    def __repr__(self) -> str:
        return "DigestAuth(***)"


class OAuth2Auth(Authenticator):
    """Sends an OAuth2 access token, obtained (or taken from the cache) at send time."""

    def __init__(self, scheme: str, props: Mapping[str, Any], ctx: EffectContext) -> None:
        self._scheme = scheme
        self._props = props
        self._ctx = ctx
        self._key = _cache_key(scheme, props)
        self._from_cache = False

    async def authorization(self) -> str | None:
        cached = self._ctx.tokens.get(self._key)
        self._from_cache = cached is not None
        return f"Bearer {cached or await self._token()}"

    async def challenged(self, request: Request, response: Response) -> str | None:
        if not self._from_cache:
            return None
        # The server may have revoked or expired the token before we thought it would.
        self._from_cache = False
        self._ctx.tokens.discard(self._key)
        return f"Bearer {await self._token()}"

    async def _token(self) -> str:
        return await token_for(self._scheme, self._props, self._ctx, key=self._key)

    def __repr__(self) -> str:
        return f"OAuth2Auth({self._scheme})"


async def token_for(
    scheme: str, props: Mapping[str, Any], ctx: EffectContext, *, key: str | None = None
) -> str:
    """An access token for an ``oauth2``/``oidc`` policy, from the cache or the token endpoint."""
    key = key or _cache_key(scheme, props)

    async def load() -> tuple[str, float | None]:
        endpoint = await _token_endpoint(scheme, props, ctx)
        return await _request_token(endpoint, props, ctx)

    return await ctx.tokens.get_or_load(key, load)


def _scheme_of(policy: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    schemes = [k for k in policy if k in _SCHEMES]
    if len(schemes) != 1 or len(policy) != 1:
        raise _config_error(
            "an authentication policy must have exactly one of "
            f"{', '.join(_SCHEMES)}; got {', '.join(sorted(map(str, policy))) or 'none'}"
        )
    props = policy[schemes[0]]
    if not isinstance(props, Mapping):
        raise _config_error(f"{schemes[0]} authentication properties must be an object")
    if "use" in props and len(props) == 1:
        raise _config_error(f"{schemes[0]} authentication still refers to secret {props['use']!r}")
    return schemes[0], props


def _required(props: Mapping[str, Any], scheme: str, name: str) -> str:
    value = props.get(name)
    if not isinstance(value, str) or (value == "" and name != "password"):
        raise _config_error(f"{scheme} authentication needs a string {name!r}")
    return value


def _check_grant(scheme: str, props: Mapping[str, Any]) -> None:
    _required(props, scheme, "authority")
    grant = props.get("grant")
    if grant not in ("client_credentials", "password", TOKEN_EXCHANGE):
        raise WorkflowError(
            problem(
                "authentication",
                title="Unsupported Grant",
                detail=f"{scheme} grant {grant!r} is not supported: use client_credentials, "
                f"password or {TOKEN_EXCHANGE}",
            )
        )


def fingerprint(policy: Any) -> str:
    """A digest of a policy, to key caches without keeping its secrets in clear."""
    canonical = json.dumps(policy, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _cache_key(scheme: str, props: Mapping[str, Any]) -> str:
    return fingerprint([scheme, props])


async def _token_endpoint(scheme: str, props: Mapping[str, Any], ctx: EffectContext) -> str:
    authority = str(props["authority"]).rstrip("/")
    if scheme == "oidc":
        return await _discover(authority, ctx)
    endpoints = props.get("endpoints") or {}
    path = endpoints.get("token") or "/oauth2/token"
    if "://" in path:
        return str(path)
    return f"{authority}/{str(path).lstrip('/')}"


async def _discover(authority: str, ctx: EffectContext) -> str:
    uri = f"{authority}/.well-known/openid-configuration"

    async def load() -> tuple[Any, float | None]:
        try:
            response = await _fetch(ctx, "GET", uri, [])
            document = response.json() if response.is_success else None
        except (TransportError, ValueError) as exc:
            raise _auth_error(f"OpenID discovery at {uri} failed: {type(exc).__name__}") from None
        if not isinstance(document, dict) or not isinstance(document.get("token_endpoint"), str):
            status = response.status
            raise _auth_error(f"OpenID discovery at {uri} gave no token_endpoint (status {status})")
        return document, None

    document = await ctx.documents.get_or_load(uri, load)
    return str(document["token_endpoint"])


async def _request_token(
    endpoint: str, props: Mapping[str, Any], ctx: EffectContext
) -> tuple[str, float | None]:
    fields, headers = _token_request(props)
    grouped = _grouped(fields)
    if (props.get("request") or {}).get("encoding") == "application/json":
        values = {k: v if len(v) > 1 else v[0] for k, v in grouped.items()}
        body = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()
        headers.append(("Content-Type", "application/json"))
    else:
        body = urlencode(grouped, doseq=True).encode()
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    log.debug("requesting an access token from %s (grant %s)", endpoint, props.get("grant"))
    try:
        response = await _fetch(ctx, "POST", endpoint, headers, body)
    except TransportError as exc:
        raise _auth_error(f"token endpoint {endpoint} unreachable: {type(exc).__name__}") from None
    answer = _token_answer(response)
    if not response.is_success or not isinstance(answer.get("access_token"), str):
        reason = answer.get("error") or "no access_token in the answer"
        description = answer.get("error_description")
        more = f" ({description})" if isinstance(description, str) else ""
        raise _auth_error(f"token endpoint {endpoint} answered {response.status}: {reason}{more}")
    return answer["access_token"], _ttl(answer.get("expires_in"))


async def _fetch(
    ctx: EffectContext, method: str, uri: str, headers: list[tuple[str, str]], body: bytes | None = None
) -> Response:
    """One exchange with an authorization server: JSON wanted, no redirects followed."""
    request = Request(
        method, uri, [("Accept", "application/json"), ("User-Agent", "flunq"), *headers], body, ctx.timeout
    )
    return await ctx.transport.exchange(request)


def _token_request(props: Mapping[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The token request's fields (grant + client authentication) and extra headers."""
    grant = props["grant"]
    fields: list[tuple[str, str]] = [("grant_type", grant)]
    if grant == "password":
        fields += [("username", _required(props, "oauth2", "username"))]
        fields += [("password", _required(props, "oauth2", "password"))]
    elif grant == TOKEN_EXCHANGE:
        fields += _exchange_fields(props)
    if props.get("scopes"):
        fields.append(("scope", " ".join(map(str, props["scopes"]))))
    fields += [("audience", str(a)) for a in props.get("audiences") or ()]
    headers: list[tuple[str, str]] = []
    client = props.get("client") or {}
    method = client.get("authentication") or "client_secret_post"
    client_id, secret = client.get("id"), client.get("secret")
    if method not in _CLIENT_METHODS:
        raise _config_error(f"unknown client authentication method {method!r}")
    if method == "client_secret_basic":
        if not isinstance(client_id, str) or not isinstance(secret, str):
            raise _config_error("client_secret_basic needs client.id and client.secret")
        # RFC 6749 §2.3.1: form-encode both parts before joining them.
        pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
        headers.append(("Authorization", "Basic " + base64.b64encode(pair).decode()))
        return fields, headers
    if method != "none" and not isinstance(client_id, str):
        raise _config_error(f"client authentication {method} needs client.id")
    if isinstance(client_id, str):
        fields.append(("client_id", client_id))
    if method == "client_secret_post" and isinstance(secret, str):
        fields.append(("client_secret", secret))
    elif method in ("client_secret_jwt", "private_key_jwt"):
        assertion = client.get("assertion")
        if not isinstance(assertion, str):
            raise _config_error(f"{method} needs client.assertion (a signed JWT)")
        fields += [("client_assertion_type", _JWT_BEARER), ("client_assertion", assertion)]
    return fields, headers


def _exchange_fields(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for role in ("subject", "actor"):
        token = props.get(role)
        if isinstance(token, Mapping) and "token" in token:
            fields += [(f"{role}_token", str(token["token"])), (f"{role}_token_type", str(token.get("type", "")))]
        elif role == "subject":
            raise _config_error("the token-exchange grant needs subject.token and subject.type")
    return fields


def _grouped(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in fields:
        out.setdefault(name, []).append(value)
    return out


def _token_answer(response: Response) -> dict[str, Any]:
    try:
        if response.media_type == "application/x-www-form-urlencoded":
            return dict(parse_qsl(response.text()))
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _ttl(expires_in: Any) -> float:
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError):
        return _DEFAULT_TOKEN_TTL
    # Renew a little early so that a token never expires on its way to the server.
    return seconds - min(30.0, seconds * 0.1)


def _config_error(detail: str) -> WorkflowError:
    return WorkflowError(problem("configuration", title="Invalid Authentication", detail=detail))


def _auth_error(detail: str) -> WorkflowError:
    return WorkflowError(problem("authentication", title="Unauthorized", detail=detail))
