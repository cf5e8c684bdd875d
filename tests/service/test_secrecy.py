"""The raw token, its signature, its key and the server secret never leak.

One run exercises minting, success, every kind of refusal, revocation and user removal,
capturing every exception message, repr, audit event and log record on the way; then
each secret is searched for in all of it.
"""

from __future__ import annotations

import logging

import pytest

from pypitoken_core import PyPITokenException, Token, _macaroon
from pypitoken_core.service import TokenService, derive_key
from tests.service.conftest import MakeService, delete, download, upload


def needles(raw: str, secret: bytes, key: bytes) -> list[str]:
    body = raw.partition("-")[2]
    signature = _macaroon.decode(_macaroon.b64decode(body)).signature
    return [
        raw,
        body,
        body[-43:],  # the signature, base64
        signature.hex(),
        secret.decode(),
        key.hex(),
        repr(key),
        repr(signature),
        repr(secret),
    ]


def test_nothing_secret_in_exceptions_reprs_events_or_logs(
    make_service: MakeService, secret: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    svc = make_service(domain="pkgs.example")
    svc.add_user("alice")
    svc.add_user("bob")
    svc.add_project("foo", "alice")
    raw, record = svc.mint("alice", projects=["foo"], expires=3600, description="ci")
    wide, wide_record = svc.mint("alice")
    key = derive_key(secret, record.salt)
    narrowed = Token.load(raw).restrict(actions=["download"]).dump()

    def attempt(token: object, context: object) -> None:
        try:
            identity = svc.authenticate(token, context)  # type: ignore[arg-type]
            texts.extend([repr(identity), str(identity)])
        except PyPITokenException as exc:
            texts.extend([str(exc), repr(exc), *exc.args, *getattr(exc, "reasons", ())])

    attempt(raw, upload("foo"))
    attempt(raw, upload("bar"))
    attempt(raw, delete("foo"))
    attempt(raw, upload("foo", now=record.created + 7200))
    attempt(narrowed, upload("foo"))
    attempt(raw[:-4], upload("foo"))
    attempt(raw + "A", upload("foo"))
    attempt(raw.replace("pypi-", "pypj-", 1), upload("foo"))
    attempt(raw + "x" * 9000, upload("foo"))
    attempt("pypi-" + raw, upload("foo"))
    attempt(Token.create("x", record.id, b"guess").dump(), upload("foo"))
    attempt(wide, download("foo"))
    svc.revoke(record.id)
    attempt(raw, upload("foo"))
    svc.remove_user("alice", transfer_to="bob")
    attempt(wide, upload("foo"))

    token = Token.load(raw)
    texts += [repr(svc), str(svc), repr(svc.store), repr(token), str(token)]
    texts += [repr(svc.get_token(record.id)), repr(svc.get_token(wide_record.id))]
    texts += [repr(e) for e in svc.store.list_events(limit=1000)]
    texts += [r.getMessage() for r in caplog.records]
    texts += [r.exc_text or "" for r in caplog.records]
    haystack = "\n".join(texts)
    assert "token revoked" in haystack  # the run did exercise the refusals
    for needle in [*needles(raw, secret, key), *needles(wide, secret, key)]:
        assert needle not in haystack, needle


def test_repr_of_service_never_shows_the_secret(service: TokenService, secret: bytes) -> None:
    for text in (repr(service), str(service), repr(service.store)):
        assert secret.decode() not in text
        assert secret.hex() not in text
