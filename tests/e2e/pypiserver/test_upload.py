"""Uploads through ``pypitoken-pypiserver run`` (default ``-a update``), with real twine.

One server for the module; every test uses its own users and projects.
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.twine_output import twine_refusal

from .client import basic, form_body, request, upload_body
from .conftest import TOKEN_USER, Index

pytestmark = pytest.mark.e2e


def output(proc) -> str:
    return proc.stdout + proc.stderr


def test_project_token_uploads_wheel_and_sdist(index: Index, dists) -> None:
    alice = index.admin.user("up-alice")
    index.admin("project", "add", "up-ok", "--owner", alice)
    token = index.admin.mint(alice, "up-ok")
    wheel, sdist = dists("up-ok")

    proc = index.twine(TOKEN_USER, token, wheel, sdist)

    assert proc.returncode == 0, output(proc)
    assert {wheel.name, sdist.name} <= index.stored()


def test_token_for_another_project_is_refused_with_reason(index: Index, dists) -> None:
    carl = index.admin.user("other-carl")
    index.admin("project", "add", "other-mine", "--owner", carl)
    token = index.admin.mint(carl, "other-mine")
    wheel, _ = dists("other-theirs")

    proc = index.twine(TOKEN_USER, token, wheel)

    assert twine_refusal(proc) == "Invalid API Token: not valid for project 'other-theirs'"
    assert wheel.name not in index.stored()
    mine, _ = dists("other-mine")
    assert index.twine(TOKEN_USER, token, mine).returncode == 0


def test_upload_named_for_one_project_with_file_of_another_is_refused(index: Index, dists) -> None:
    # pypiserver files an upload under its file name; the form's name must not be trusted.
    sam = index.admin.user("spoof-sam")
    index.admin("project", "add", "spoof-ok", "--owner", sam)
    auth = basic(TOKEN_USER, index.admin.mint(sam, "spoof-ok"))
    victim, _ = dists("spoof-victim")
    own, _ = dists("spoof-ok")

    for path, name in ((victim, "spoof-ok"), (own, "spoof-victim")):
        body, ctype = upload_body(path, name)
        resp = request(index.url, "POST", "/", auth=auth, body=body, content_type=ctype)
        assert resp.status == 403, resp
        assert resp.reason == (f"Forbidden: file {path.name!r} does not belong to project {name!r}")
    assert victim.name not in index.stored()

    body, ctype = upload_body(own, "spoof-ok")
    assert request(index.url, "POST", "/", auth=auth, body=body, content_type=ctype).status == 200


def test_spellings_of_a_name_are_one_project(index: Index, dists) -> None:
    nora = index.admin.user("norm-nora")
    index.admin("project", "add", "Norm.Me", "--owner", nora)
    token = index.admin.mint(nora, "norm_me")
    files = [*dists("Norm.Me", "0.1"), *dists("norm_me", "0.2"), *dists("norm-me", "0.3")]

    proc = index.twine(TOKEN_USER, token, *files)
    assert proc.returncode == 0, output(proc)

    wheel, _ = dists("NORM__me", "0.4")
    body, ctype = upload_body(wheel, "nOrM.-mE")
    resp = request(
        index.url, "POST", "/", auth=basic(TOKEN_USER, token), body=body, content_type=ctype
    )
    assert resp.status == 200, resp


def test_expired_token_is_refused(index: Index, dists) -> None:
    eve = index.admin.user("exp-eve")
    token = index.admin.mint(eve, expires="1s")
    time.sleep(1.2)

    proc = index.twine(TOKEN_USER, token, dists("exp-proj")[0])

    assert twine_refusal(proc).startswith("Invalid API Token: token expired at ")
    lasting = index.admin.mint(eve, expires="1h")
    assert index.twine(TOKEN_USER, lasting, dists("exp-proj")[0]).returncode == 0


def test_token_revoked_while_the_server_runs(index: Index, dists) -> None:
    rob = index.admin.user("rev-rob")
    token = index.admin.mint(rob)
    assert index.twine(TOKEN_USER, token, dists("rev-proj", "0.1")[0]).returncode == 0

    index.admin("token", "revoke", index.admin.token_id(token))
    proc = index.twine(TOKEN_USER, token, dists("rev-proj", "0.2")[0])

    assert twine_refusal(proc) == "Invalid API Token: token revoked"


def test_token_of_a_removed_user_is_refused(index: Index, dists) -> None:
    gus = index.admin.user("gone-gus")
    token = index.admin.mint(gus)
    wheel, _ = dists("gone-proj")
    body, ctype = upload_body(wheel, "gone-proj")
    auth = basic(TOKEN_USER, token)

    index.admin("user", "remove", gus)
    resp = request(index.url, "POST", "/", auth=auth, body=body, content_type=ctype)

    assert (resp.status, resp.reason) == (403, "Invalid API Token: token revoked")


def test_token_narrowed_offline(index: Index, dists) -> None:
    rita = index.admin.user("narrow-rita")
    token = index.admin.mint(rita)
    narrowed = index.admin.restrict(token, "--project", "narrow-a", "--expires", "1h")

    assert index.twine(TOKEN_USER, narrowed, dists("narrow-a")[0]).returncode == 0
    refused = index.twine(TOKEN_USER, narrowed, dists("narrow-b")[0])
    assert twine_refusal(refused) == (
        "Invalid API Token: This token can only be used for project(s): narrow-a."
        " Received: narrow-b"
    )
    # The original token is not narrowed by what its holder did to a copy.
    assert index.twine(TOKEN_USER, token, dists("narrow-b")[0]).returncode == 0


def test_ownership_pypi_keeps_bob_out_of_alices_project(index: Index, dists) -> None:
    alice = index.admin.user("own-alice")
    bob = index.admin.user("own-bob")
    alice_token, bob_token = index.admin.mint(alice), index.admin.mint(bob)
    assert index.twine(TOKEN_USER, alice_token, dists("own-proj", "0.1")[0]).returncode == 0

    proc = index.twine(TOKEN_USER, bob_token, dists("own-proj", "0.2")[0])
    assert twine_refusal(proc) == (
        "Invalid API Token: user own-bob may not upload to project 'own-proj'"
    )

    index.admin("project", "add-maintainer", "own-proj", bob)
    assert index.twine(TOKEN_USER, bob_token, dists("own-proj", "0.2")[0]).returncode == 0


def test_remove_pkg_is_refused_without_allow_token_delete(index: Index, dists) -> None:
    dan = index.admin.user("del-dan")
    token = index.admin.mint(dan)
    wheel, _ = dists("del-proj")
    assert index.twine(TOKEN_USER, token, wheel).returncode == 0

    body, ctype = form_body({":action": "remove_pkg", "name": "del-proj", "version": "0.1"})
    resp = request(
        index.url, "POST", "/", auth=basic(TOKEN_USER, token), body=body, content_type=ctype
    )

    assert (resp.status, resp.reason) == (
        403,
        "Invalid API Token: not valid for action 'delete'",
    )
    assert wheel.name in index.stored()


def test_credentials_missing_wrong_or_not_a_token(index: Index, dists) -> None:
    body, ctype = upload_body(dists("creds-proj")[0], "creds-proj")
    post = {"body": body, "content_type": ctype}

    anonymous = request(index.url, "POST", "/", **post)
    assert anonymous.status == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    # No -P: a username other than __token__ has nothing to check against.
    someone = request(index.url, "POST", "/", auth=basic("someone", "pw"), **post)
    assert (someone.status, someone.reason) == (403, "Forbidden")
    garbage = request(index.url, "POST", "/", auth=basic(TOKEN_USER, "pypi-garbage"), **post)
    unreadable = "Invalid API Token: malformed token (Deserialization error: "
    assert (garbage.status, garbage.reason) == (
        403,
        unreadable + "cannot determine data format of binary-encoded macaroon)",
    )
    # A token as the password with an empty username is still a token.
    empty_user = request(index.url, "POST", "/", auth=basic("", "pypi-AgEIbad"), **post)
    assert (empty_user.status, empty_user.reason[: len(unreadable)]) == (403, unreadable)
    carl = index.admin.user("creds-carl")
    good = request(index.url, "POST", "/", auth=basic("", index.admin.mint(carl)), **post)
    assert good.status == 200, good


def test_reason_phrase_is_one_line_of_ascii(index: Index, dists) -> None:
    ivy = index.admin.user("phrase-ivy")
    auth = basic(TOKEN_USER, index.admin.mint(ivy))
    wheel, _ = dists("phrase-proj")
    body, ctype = upload_body(wheel, "ünï\r\nSet-Cookie: x=1")

    resp = request(index.url, "POST", "/", auth=auth, body=body, content_type=ctype)

    assert resp.status == 403
    assert resp.reason == (
        "Forbidden: file 'phrase_proj-0.1-py3-none-any.whl' does not belong to project"
        " '?n?\\r\\nSet-Cookie: x=1'"
    )
    assert resp.reason.isascii() and resp.reason.isprintable()
    assert "set-cookie" not in resp.headers
