"""Tokens against a real devpi-server: twine uploads, refusals, offline restrictions,
credential forms, the management API and the devpi-client commands."""

from __future__ import annotations

import base64
import time
import uuid

import pypitoken
import pytest

from tests.e2e.twine_output import twine_refusal

from .conftest import PASSWORDS, Devpi, devpi_client, wait_until

pytestmark = pytest.mark.e2e

# The documented id scheme (examples/devpi/README.md), computed independently here.
_USER_NS = uuid.uuid5(uuid.NAMESPACE_URL, "pypitoken-core:devpi:user")
_PROJECT_NS = uuid.uuid5(uuid.NAMESPACE_URL, "pypitoken-core:devpi:project")


def user_id(name: str) -> str:
    return str(uuid.uuid5(_USER_NS, name))


def project_id(index: str, project: str) -> str:
    return str(uuid.uuid5(_PROJECT_NS, f"{index}/{project}"))


def restricted(devpi: Devpi, token: str, **restrictions: object) -> str:
    """Narrow a token offline with pypitoken 7.1.1 itself, as a token holder would."""
    tok = pypitoken.Token.load(token)
    tok.restrict(**restrictions)
    raw = tok.dump()
    devpi.tokens.append(raw)
    return raw


_versions = iter(range(1, 10_000))


def new_wheel(devpi: Devpi, name: str = "tinypkg"):
    return devpi.wheel(name, f"1.{next(_versions)}")


# -- twine ------------------------------------------------------------------------------


def test_twine_upload_with_project_scoped_token(devpi: Devpi) -> None:
    _, token = devpi.mint(projects=["tinypkg"], indexes=["alice/dev"], description="ci")
    dist = new_wheel(devpi)
    proc = devpi.twine("alice/dev", dist, "__token__", token)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listing = devpi.api("GET", "/alice/dev/tinypkg")
    assert listing.status == 200
    assert dist.name.split("-")[1] in listing.body["result"]


@pytest.mark.parametrize(
    ("mint", "index", "project", "reason"),
    [
        ({"projects": ["tinypkg"]}, "alice/dev", "otherpkg", "not valid for project 'otherpkg'"),
        ({"indexes": ["alice/dev"]}, "alice/other", "tinypkg", "not valid for index 'alice/other'"),
        ({"actions": ["download"]}, "alice/dev", "tinypkg", "not valid for action 'upload'"),
    ],
    ids=["other-project", "other-index", "download-only"],
)
def test_twine_refusals_name_the_reason(devpi: Devpi, mint, index, project, reason) -> None:
    _, token = devpi.mint(**mint)
    proc = devpi.twine(index, new_wheel(devpi, project), "__token__", token)
    assert twine_refusal(proc) == f"Invalid API Token: {reason}"


def test_expired_token_is_refused(devpi: Devpi) -> None:
    _, token = devpi.mint(expires=1)
    wait_until(
        lambda: devpi.auth_status(auth=("__token__", token)) != ["ok", "alice", []],
        timeout=5,
        what="token expiry",
    )
    proc = devpi.twine("alice/dev", new_wheel(devpi), "__token__", token)
    assert twine_refusal(proc).startswith("Invalid API Token: token expired at ")


def test_revoked_token_is_refused(devpi: Devpi) -> None:
    token_id, token = devpi.mint(projects=["tinypkg"])
    assert devpi.upload("alice/dev", new_wheel(devpi), auth=("__token__", token)).status == 200
    assert devpi.api("DELETE", f"/alice/+api-tokens/{token_id}", user="alice").status == 200
    proc = devpi.twine("alice/dev", new_wheel(devpi), "__token__", token)
    assert twine_refusal(proc) == "Invalid API Token: token revoked"


def test_token_never_exceeds_its_owner(devpi: Devpi) -> None:
    devpi.create_index("bob/dev")
    _, token = devpi.mint()  # alice, unrestricted
    reply = devpi.upload("bob/dev", new_wheel(devpi), auth=("__token__", token))
    # devpi's own ACL: alice may not upload to bob/dev
    assert (reply.status, reply.reason) == (403, "no permission to submit")
    assert devpi.upload("alice/dev", new_wheel(devpi), auth=("__token__", token)).status == 200


# -- offline restrictions written by pypitoken 7.1.1 -------------------------------------


ONLY = "Invalid API Token: This token can only be used"
PROJECTS_ONLY = ONLY + " for project(s): {allowed}. Received: {project}"
WINDOW = ONLY + " between timestamps {start} (incl) and {end} (excl). Received: "


@pytest.mark.parametrize(
    ("restrictions", "project", "reason"),
    [
        ({"project_names": ["tinypkg"]}, "tinypkg", None),
        ({"project_names": ["tinypkg"]}, "otherpkg", PROJECTS_ONLY),
        ({"legacy_project_names": ["tinypkg"]}, "tinypkg", None),
        ({"legacy_project_names": ["tinypkg"]}, "otherpkg", PROJECTS_ONLY),
        ({"project_ids": [project_id("alice/dev", "tinypkg")]}, "tinypkg", None),
        ({"project_ids": [project_id("alice/dev", "tinypkg")]}, "otherpkg", PROJECTS_ONLY),
        ({"user_id": user_id("alice")}, "tinypkg", None),
        (
            {"user_id": user_id("bob")},
            "tinypkg",
            ONLY + f" by user with id: {user_id('bob')}. Received: {user_id('alice')}",
        ),
        ("date-now", "tinypkg", None),
        ("date-past", "tinypkg", WINDOW),
        ("legacy-date-now", "tinypkg", None),
        ("legacy-date-past", "tinypkg", WINDOW),
    ],
)
def test_pypitoken_restrictions(devpi: Devpi, restrictions, project, reason) -> None:
    now = int(time.time())
    dates = {
        "date-now": {"not_before": now - 10, "not_after": now + 600},
        "date-past": {"not_before": now - 600, "not_after": now - 10},
        "legacy-date-now": {"legacy_not_before": now - 10, "legacy_not_after": now + 600},
        "legacy-date-past": {"legacy_not_before": now - 600, "legacy_not_after": now - 10},
    }
    _, token = devpi.mint(indexes=["alice/dev"])
    kwargs = dates[restrictions] if isinstance(restrictions, str) else restrictions
    token = restricted(devpi, token, **kwargs)
    reply = devpi.upload("alice/dev", new_wheel(devpi, project), auth=("__token__", token))
    if reason is None:
        assert reply.status == 200, reply
        return
    by_id = "project_ids" in kwargs
    expected = reason.format(
        allowed=project_id("alice/dev", "tinypkg") if by_id else "tinypkg",
        project=project_id("alice/dev", project) if by_id else project,
        start=now - 600,
        end=now - 10,
    )
    assert reply.status == 403, reply
    assert reply.reason.startswith(expected), (reply.reason, expected)
    if reason is not WINDOW:
        assert reply.reason == expected


def test_narrowed_offline_outside_the_mint_scope(devpi: Devpi) -> None:
    _, token = devpi.mint(projects=["tinypkg"])
    token = restricted(devpi, token, project_names=["otherpkg"])
    reasons = {
        # the holder's caveat, then the record's scope
        "tinypkg": "This token can only be used for project(s): otherpkg. Received: tinypkg",
        "otherpkg": "not valid for project 'otherpkg'",
    }
    for project, reason in reasons.items():
        proc = devpi.twine("alice/dev", new_wheel(devpi, project), "__token__", token)
        assert twine_refusal(proc) == f"Invalid API Token: {reason}"


# -- credential forms ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "form", ["__token__", "empty-user", "token-as-user", "owner", "bearer", "x-devpi-auth"]
)
def test_credential_forms(devpi: Devpi, form: str) -> None:
    _, token = devpi.mint()
    kwargs = {
        "__token__": {"auth": ("__token__", token)},
        "empty-user": {"auth": ("", token)},
        "token-as-user": {"auth": (token, "")},
        "owner": {"auth": ("alice", token)},
        "bearer": {"headers": {"Authorization": f"Bearer {token}"}},
        "x-devpi-auth": {
            "headers": {"X-Devpi-Auth": base64.b64encode(f"alice:{token}".encode()).decode()}
        },
    }[form]
    assert devpi.auth_status(**kwargs) == ["ok", "alice", []]
    assert devpi.upload("alice/dev", new_wheel(devpi), **kwargs).status == 200


def test_token_of_another_user_under_a_name(devpi: Devpi) -> None:
    _, token = devpi.mint()
    reply = devpi.auth_status(auth=("bob", token))
    assert reply.status == 403 and "does not belong to user 'bob'" in reply.reason


@pytest.mark.parametrize(
    "garbage",
    [
        "pypi-",
        "pypi-AAAA",
        "pypi-" + "A" * 6000,
        "pypi-AgEFZGV2cGkCJDBh!!",
        "pypi-\u00e9\u00e9",
        "pypi-AgEFZGV2cGkCJDBhZjRlMGQ5LWM0ZDQtNGYwNC1hOTEwLTdhMGY2NzQ5MTI2ZgACEFsxLCBb",
    ],
)
def test_garbage_tokens_are_refused_never_500(devpi: Devpi, garbage: str) -> None:
    forms = ({"auth": ("__token__", garbage)}, {"headers": {"Authorization": f"Bearer {garbage}"}})
    for kwargs in forms:
        try:
            reply = devpi.api("GET", "/+api", **kwargs)
        except UnicodeEncodeError:
            continue  # urllib cannot even send it
        assert (reply.status, reply.reason) == (403, "Invalid API Token: malformed token")
        upload = devpi.upload("alice/dev", new_wheel(devpi), **kwargs)
        assert (upload.status, upload.reason) == (403, "Invalid API Token: malformed token")


def test_tampered_token_is_refused(devpi: Devpi) -> None:
    _, token = devpi.mint(projects=["tinypkg"])
    body = base64.urlsafe_b64decode(token[5:] + "=" * (-len(token[5:]) % 4))
    forged_body = body[:-1] + bytes([body[-1] ^ 1])  # flip one bit of the signature
    forged = "pypi-" + base64.urlsafe_b64encode(forged_body).decode().rstrip("=")
    reply = devpi.upload("alice/dev", new_wheel(devpi), auth=("__token__", forged))
    # Before its signature is verified, a token is told nothing about its record.
    assert (reply.status, reply.reason) == (403, "Invalid API Token: invalid or unknown token")
    assert devpi.upload("alice/dev", new_wheel(devpi), auth=("__token__", token)).status == 200


def test_passwords_and_other_credentials_fall_through(devpi: Devpi) -> None:
    assert devpi.auth_status(user="alice") == ["ok", "alice", []]
    # A password that merely looks like a token is not ours: devpi checks it (and refuses).
    assert devpi.auth_status(auth=("alice", "pypi-notatoken")) == ["noauth", "", []]
    proc = devpi.twine("alice/dev", new_wheel(devpi), "alice", PASSWORDS["alice"])
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- actions ------------------------------------------------------------------------------


def test_delete_needs_the_delete_action(devpi: Devpi) -> None:
    dist = new_wheel(devpi)
    version = dist.name.split("-")[1]
    assert devpi.upload("alice/dev", dist, user="alice").status == 200
    _, plain = devpi.mint(projects=["tinypkg"])
    reply = devpi.api("DELETE", f"/alice/dev/tinypkg/{version}", auth=("__token__", plain))
    assert (reply.status, reply.reason) == (
        403,
        "Invalid API Token: not valid for action 'delete'",
    )
    _, deleter = devpi.mint(projects=["tinypkg"], actions=["delete"])
    reply = devpi.api("DELETE", f"/alice/dev/tinypkg/{version}", auth=("__token__", deleter))
    assert reply.status == 200, reply


def test_tokens_never_manage_users_or_indexes(devpi: Devpi) -> None:
    _, token = devpi.mint()
    auth = ("__token__", token)
    for method, path, data, reason in (
        ("PUT", "/alice/fromtoken", {"bases": []}, "Forbidden"),
        ("PATCH", "/alice/dev", {"volatile": False}, "Forbidden"),
        ("PATCH", "/alice", {"password": "x"}, "Forbidden"),
        ("DELETE", "/alice/other", None, "Invalid API Token: not valid for action 'delete'"),
    ):
        reply = devpi.api(method, path, data, auth=auth)
        assert (reply.status, reply.reason) == (403, reason), (method, path)
    assert devpi.api("GET", "/alice/fromtoken").status == 404
    assert devpi.auth_status(user="alice") == ["ok", "alice", []]  # password unchanged


# -- management API -----------------------------------------------------------------------


def test_list_shows_records_without_secrets(devpi: Devpi) -> None:
    token_id, token = devpi.mint(
        projects=["tinypkg"],
        indexes=["alice/dev"],
        description="listed",
        expires="2099-01-01T00:00:00+00:00",
        actions=["upload"],
    )
    reply = devpi.api("GET", "/alice/+api-tokens", user="alice")
    assert reply.status == 200 and reply.body["type"] == "api-tokens"
    (entry,) = [t for t in reply.body["result"]["tokens"] if t["id"] == token_id]
    assert entry["description"] == "listed"
    assert entry["projects"] == ["tinypkg"] and entry["indexes"] == ["alice/dev"]
    assert entry["actions"] == ["upload"] and entry["expires"] == 4070908800
    assert token[5:40] not in str(reply.body) and "salt" not in str(reply.body)


def test_management_permissions(devpi: Devpi) -> None:
    token_id, token = devpi.mint()
    as_token = {"auth": ("__token__", token)}
    for method, path in (
        ("POST", "/alice/+api-tokens"),
        ("GET", "/alice/+api-tokens"),
        ("DELETE", f"/alice/+api-tokens/{token_id}"),
    ):
        data = {} if method == "POST" else None
        by_token = devpi.api(method, path, data, **as_token)
        assert (by_token.status, by_token.reason) == (403, "Forbidden"), (method, path)
        by_bob = devpi.api(method, path, data, user="bob")
        assert (by_bob.status, by_bob.reason) == (403, "Forbidden"), (method, path)
        assert devpi.api(method, path, {} if method == "POST" else None).status == 401
    assert devpi.api("DELETE", f"/bob/+api-tokens/{token_id}", user="bob").status == 404
    assert devpi.auth_status(**as_token) == ["ok", "alice", []]  # nothing was revoked
    reply = devpi.api("POST", "/alice/+api-tokens", {"projects": ["tinypkg"]}, user="root")
    assert reply.status == 201
    from_root = reply.body["result"]["token"]
    devpi.tokens.append(from_root)
    assert devpi.auth_status(auth=("__token__", from_root)) == ["ok", "alice", []]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"color": "red"}, "unknown field"),
        ({"projects": "tinypkg"}, "must be a list of at most 100 names"),
        ({"indexes": ["dev"]}, "user/index"),
        ({"expires": "tomorrow"}, "ISO 8601"),
        ({"expires": -5}, "positive"),
        ({"expires": "2001-01-01T00:00:00+00:00"}, "future"),
        ({"actions": ["admin"]}, "action"),
        ({"projects": ["not a name!"]}, "project"),
    ],
)
def test_create_rejects_bad_requests(devpi: Devpi, body, message) -> None:
    reply = devpi.api("POST", "/alice/+api-tokens", body, user="alice")
    assert reply.status == 400, reply
    assert message in reply.body["message"], reply


# -- devpi-client --------------------------------------------------------------------------


def test_devpi_client_commands_and_login(devpi: Devpi, tmp_path) -> None:
    cd = tmp_path / "client"
    devpi_client(cd, "use", f"{devpi.url}/alice/dev", check=True)
    devpi_client(cd, "login", "alice", "--password", PASSWORDS["alice"], check=True)
    # password login still works for uploads with the plugin installed
    devpi_client(cd, "upload", str(new_wheel(devpi)), check=True)
    created = devpi_client(
        cd,
        "api-token-create",
        "-p",
        "tinypkg",
        "-i",
        "alice/dev",
        "-e",
        "3600",
        "-d",
        "from the client",
        check=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    devpi.tokens.append(token)
    assert token.startswith("pypi-")
    token_id = pypitoken.Token.load(token).identifier
    listed = devpi_client(cd, "api-token-list", check=True)
    assert token_id in listed.stdout and "from the client" in listed.stdout
    assert token not in listed.stdout + listed.stderr
    assert devpi.upload("alice/dev", new_wheel(devpi), auth=("__token__", token)).status == 200
    devpi_client(cd, "api-token-revoke", token_id, check=True)
    reply = devpi.upload("alice/dev", new_wheel(devpi), auth=("__token__", token))
    assert (reply.status, reply.reason) == (403, "Invalid API Token: token revoked")


def test_devpi_tokens_keeps_working(devpi: Devpi) -> None:
    devpi_token = devpi.devpi_tokens_token(
        allowed=["upload", "pkg_read"], indexes=["alice/dev"], projects=["tinypkg"]
    )
    proc = devpi.twine("alice/dev", new_wheel(devpi), "alice", devpi_token)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reply = devpi.upload("alice/dev", new_wheel(devpi, "otherpkg"), auth=("alice", devpi_token))
    assert (reply.status, reply.reason) == (403, "Forbidden")


def test_no_token_in_server_log(devpi: Devpi) -> None:
    # Tokens of its own, used and refused, so that the log has something to show even
    # when this test runs alone; the others' tokens are checked too when they ran.
    _, own = devpi.mint(projects=["tinypkg"])
    assert devpi.upload("alice/dev", new_wheel(devpi), auth=("__token__", own)).status == 200
    refused = devpi.upload("alice/dev", new_wheel(devpi, "otherpkg"), auth=("__token__", own))
    assert refused.status == 403 and "not valid for project 'otherpkg'" in refused.reason
    log = devpi.log_text()
    assert "pypitoken: refused token" in log  # the refusal was logged, by id
    assert own in devpi.tokens
    for token in devpi.tokens:
        assert token not in log
        assert token.split("-", 1)[1][:40] not in log
    assert "Traceback" not in log and " 500 " not in log
