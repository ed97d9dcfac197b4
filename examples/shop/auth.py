"""auth: logs customers in with a signed JWT (ES256) and publishes the key set that checks it.

The signing key is made when the process starts (a restart rotates it; the gateway fetches
the new key set when it meets the new key id). A demo: there is no password.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, Field

import interlink as il

auth = il.Service("auth", version="1.0.0")

ISSUER = "shop-auth"
AUDIENCE = "shop"
TOKEN_SECONDS = 3600

_key = ec.generate_private_key(ec.SECP256R1())
_kid = uuid.uuid4().hex[:12]


class Login(BaseModel):
    customer: str = Field(min_length=1, examples=["ada"])


class Token(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


class KeySet(BaseModel):
    keys: list[dict[str, Any]]


@auth.rpc
async def login(req: Login, ctx: il.Context) -> Token:
    """A token for ``customer``, with the scopes a shopper has."""
    now = int(time.time())
    claims = {
        "sub": req.customer,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + TOKEN_SECONDS,
        "scope": "orders:read orders:write",
    }
    token = jwt.encode(claims, _key, algorithm="ES256", headers={"kid": _kid})
    return Token(access_token=token, expires_in=TOKEN_SECONDS)


@auth.route("GET", "/auth/jwks.json")
async def jwks() -> KeySet:
    """The public key set (RFC 7517) that verifies this process's tokens."""
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(_key.public_key()))
    public.update(kid=_kid, alg="ES256", use="sig")
    return KeySet(keys=[public])
