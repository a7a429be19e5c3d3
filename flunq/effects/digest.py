"""HTTP Digest access authentication (RFC 7616), client side.

:func:`authorization` answers a ``WWW-Authenticate: Digest ...`` challenge: algorithms
``MD5``, ``SHA-256``, ``SHA-512-256`` (where the platform has it) and ``SHA`` (SHA-1, as
some old servers use), each with its ``-sess`` variant; ``qop=auth`` (and the RFC 2069
form when the challenge offers no ``qop``). ``auth-int`` alone is not supported: the
challenge is then left unanswered. Each challenge is answered once, so the nonce count
is always ``00000001``.
"""

from __future__ import annotations

import hashlib
import os
import re

__all__ = ["authorization", "parse_challenge"]

_HASHES = {"MD5": "md5", "SHA": "sha1", "SHA-256": "sha256", "SHA-512-256": "sha512_256", "SHA-512": "sha512"}
_SCHEME = re.compile(r"(?:^|,)\s*Digest\s+", re.IGNORECASE)
_PARAM = re.compile(r'\s*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)\s*(?:,|$)')


def parse_challenge(header: str) -> dict[str, str] | None:
    """The parameters of the ``Digest`` challenge in a ``WWW-Authenticate`` value, if any."""
    match = _SCHEME.search(header)
    if match is None:
        return None
    params: dict[str, str] = {}
    pos = match.end()
    while pos < len(header):
        param = _PARAM.match(header, pos)
        if param is None:
            break  # the next challenge (another scheme) starts here
        value = param.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[param.group(1).lower()] = value
        pos = param.end()
    return params


def authorization(
    challenge: dict[str, str], username: str, password: str, method: str, uri: str
) -> str | None:
    """The ``Authorization`` value answering ``challenge``, or ``None`` if we cannot."""
    realm, nonce = challenge.get("realm"), challenge.get("nonce")
    algorithm = challenge.get("algorithm", "MD5")
    base = algorithm.upper().removesuffix("-SESS")
    if realm is None or nonce is None or base not in _HASHES:
        return None
    hash_name = _HASHES[base]
    if hash_name not in hashlib.algorithms_available:
        return None

    def h(text: str) -> str:
        return hashlib.new(hash_name, text.encode()).hexdigest()

    qops = [q.strip().lower() for q in challenge.get("qop", "").split(",") if q.strip()]
    if qops and "auth" not in qops:
        return None
    cnonce = os.urandom(16).hex()
    nc = "00000001"
    ha1 = h(f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    # RFC 2069 (no qop) leaves the nonce count and client nonce out of the response.
    response = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}") if qops else h(f"{ha1}:{nonce}:{ha2}")
    fields = [
        f'username="{_quoted(username)}"', f'realm="{_quoted(realm)}"', f'nonce="{_quoted(nonce)}"',
        f'uri="{_quoted(uri)}"', f'response="{response}"', f"algorithm={algorithm}",
    ]
    if "opaque" in challenge:
        fields.append(f'opaque="{_quoted(challenge["opaque"])}"')
    if qops:
        fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
    return "Digest " + ", ".join(fields)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
