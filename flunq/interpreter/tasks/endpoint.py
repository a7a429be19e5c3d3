"""Resolving endpoints and authentication policies into plain effect arguments.

The interpreter does this part (it is pure: expressions, URI templates, secrets lent by
the runtime); the executor only performs the request.
"""

from __future__ import annotations

import base64
from typing import Any

import msgspec

from flunq import expressions
from flunq.dsl import model as m
from flunq.errors import WorkflowError
from flunq.interpreter.machine import Machine
from flunq.interpreter.state import TaskFrame
from flunq.interpreter.uritemplate import expand


def resolve_endpoint(
    mc: Machine, endpoint: m.Endpoint, frame: TaskFrame, vars: dict[str, Any]
) -> tuple[str, dict[str, Any] | None]:
    """(URI, resolved authentication or None) of an endpoint."""
    policy = None
    uri = endpoint
    if isinstance(endpoint, m.EndpointConfig):
        uri, policy = endpoint.uri, endpoint.authentication
    assert isinstance(uri, str)
    if expressions.is_expression(uri):
        value = mc.field(uri, frame.input, frame, vars)
        if not isinstance(value, str):
            raise WorkflowError.of("expression", detail=f"an endpoint expression must give a URI string, got {value!r}")
        uri = value
    else:
        uri = expand(uri, frame.input)
    auth = resolve_authentication(mc, policy, frame, vars) if policy is not None else None
    return uri, auth


def resolve_authentication(
    mc: Machine, policy: m.AuthenticationPolicy, frame: TaskFrame, vars: dict[str, Any]
) -> dict[str, Any]:
    """``{scheme: {properties}}`` with references, secrets and expressions resolved."""
    if policy.use is not None:
        policy = mc.defn.authentication(policy.use)
    scheme = policy.scheme
    config = getattr(policy, scheme)
    if config.use is not None:
        secret = mc.env.secrets.get(config.use)
        if not isinstance(secret, dict):
            raise WorkflowError.of(
                "authorization", detail=f"secret '{config.use}' is missing or is not an object"
            )
        props = dict(secret)  # data from the secret store: never evaluated as expressions
    else:
        props = msgspec.to_builtins(config)
        props.pop("use", None)
        props = mc.value(props, frame.input, frame, vars)
    frame.extra = {**frame.extra, "authorization": authorization_descriptor(scheme, props)}
    return {scheme: props}


def authorization_descriptor(scheme: str, props: dict[str, Any]) -> dict[str, Any]:
    """``$authorization``: the scheme and the credential it sends."""
    if scheme == "basic":
        pair = f"{props.get('username', '')}:{props.get('password', '')}".encode()
        return {"scheme": "Basic", "parameter": base64.b64encode(pair).decode()}
    if scheme == "bearer":
        return {"scheme": "Bearer", "parameter": props.get("token")}
    if scheme == "digest":
        return {"scheme": "Digest", "parameter": props.get("username")}
    return {"scheme": "Bearer", "parameter": None}  # oauth2/oidc: the token is obtained later
