"""The exchange mints a normal token of ours, narrowed to the publisher: what it carries,
what it allows and refuses, pending publishers, burning, and the publisher API."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from pypitoken_core import Context, Token, ValidationError
from pypitoken_core.exceptions import AlreadyExists, ConfigurationError, InvalidInput, NotFound
from pypitoken_core.oidc import Endpoints, TrustedPublishingSettings, gitlab_token_variable
from pypitoken_core.service import TokenService
from tests.oidc.conftest import AUDIENCE, error, mint
from tests.oidc_issuer import SHA, Issuer


def upload_foo() -> Context:
    return Context(project_name="foo", action="upload")


def _minted(endpoints: Endpoints, issuer: Issuer, **changes: object) -> str:
    response = mint(endpoints, issuer.sign(issuer.github_claims(AUDIENCE, **changes)))
    assert response.status == 200, response.body
    return str(response.body["token"])


def test_the_minted_token(
    service: TokenService, endpoints: Endpoints, issuer: Issuer, github: Callable[..., str]
) -> None:
    publisher_id = github()
    raw = _minted(endpoints, issuer)
    token = Token.load(raw)
    foo = service.directory.get_project("foo")  # type: ignore[union-attr]
    assert foo is not None
    now = int(time.time())
    dumped = [r.dump() for r in token.restrictions]
    assert dumped[0][0] == 0 and dumped[0][1] - dumped[0][2] == 900
    assert abs(dumped[0][2] - now) <= 5
    assert dumped[1:] == [
        [1, ["foo"]],
        [2, [foo.id]],
        [4, publisher_id, None],
        ["ptc.actions", ["upload"]],
    ]
    (record,) = service.list_tokens("alice")
    assert record.publisher_id == publisher_id
    assert record.actions == ("upload",) and record.projects == ("foo",)
    assert record.expires == dumped[0][1]
    assert record.description == (
        f"trusted publisher {publisher_id} (GitHub octo-org/octo-repo, workflow release.yml,"
        f" issuer {issuer.url}); run: repository=octo-org/octo-repo, ref=refs/tags/v1.0.0,"
        f" sha={SHA}, run_id=42,"
        " workflow=octo-org/octo-repo/.github/workflows/release.yml@refs/tags/v1.0.0"
    )
    minted = [e for e in service.list_events(token_id=record.id) if e.event == "minted"]
    assert minted[0].user == "alice" and minted[0].reason == record.description


def test_what_the_token_allows_and_refuses(
    service: TokenService, endpoints: Endpoints, issuer: Issuer, github: Callable[..., str]
) -> None:
    github()
    raw = _minted(endpoints, issuer)
    assert service.authenticate(raw, upload_foo()).user_name == "alice"
    with pytest.raises(ValidationError, match=r"^not valid for project 'bar'$"):
        service.authenticate(raw, Context(project_name="bar", action="upload"))
    with pytest.raises(ValidationError, match=r"^not valid for action 'download'$"):
        service.authenticate(raw, Context(project_name="foo", action="download"))
    later = int(time.time()) + 901
    with pytest.raises(ValidationError, match=r"^token expired at "):
        service.authenticate(raw, Context(project_name="foo", action="upload", now=later))
    (record,) = service.list_tokens("alice")
    service.revoke(record.id)
    with pytest.raises(ValidationError, match=r"^token revoked$"):
        service.authenticate(raw, upload_foo())


def test_the_tag_4_caveat_is_checked_against_the_record(
    service: TokenService, endpoints: Endpoints, issuer: Issuer, github: Callable[..., str]
) -> None:
    """The service supplies the record's publisher id: the caveat passes, and a copy of
    the key checking it with another publisher id fails."""
    publisher_id = github()
    raw = _minted(endpoints, issuer)
    token = Token.load(raw)
    with pytest.raises(ValidationError, match="trusted publisher"):
        token.check_context(
            b"k", Context(project_name="foo", action="upload", oidc_publisher_id="other")
        )
    assert service.authenticate(raw, upload_foo()).token_id is not None
    assert publisher_id in token.restrictions[3].describe()


def test_removing_the_publisher_revokes_its_tokens(
    service: TokenService, endpoints: Endpoints, issuer: Issuer, github: Callable[..., str]
) -> None:
    publisher_id = github()
    raw = _minted(endpoints, issuer)
    service.remove_publisher(publisher_id, by="alice")
    with pytest.raises(ValidationError, match=r"^token revoked$"):
        service.authenticate(raw, upload_foo())
    # no publisher trusts the issuer any more
    assert error(mint(endpoints, issuer.sign(issuer.github_claims(AUDIENCE))))[1] == (
        "invalid-payload"
    )
    with pytest.raises(NotFound, match="unknown publisher"):
        service.remove_publisher(publisher_id)


def test_burn(
    service: TokenService, endpoints: Endpoints, issuer: Issuer, github: Callable[..., str]
) -> None:
    github()
    raw = _minted(endpoints, issuer)
    forged = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    for body in (b"{}", b"nonsense", b'{"token": "pypi-x"}', f'{{"token": "{forged}"}}'.encode()):
        response = endpoints.burn(body)
        assert (response.status, response.body) == (202, {"message": "Accepted", "errors": []})
    assert service.authenticate(raw, upload_foo()).user_name == "alice"  # untouched
    plain, _ = service.mint("alice", projects=["foo"])
    assert endpoints.burn(f'{{"token": "{plain}"}}'.encode()).status == 202
    assert service.authenticate(plain, upload_foo()).user_name == "alice"  # not a publisher's
    assert endpoints.burn(f'{{"token": "{raw}"}}'.encode()).status == 202
    with pytest.raises(ValidationError, match=r"^token revoked$"):
        service.authenticate(raw, upload_foo())


def test_a_pending_publisher_creates_its_project(
    service: TokenService, endpoints: Endpoints, issuer: Issuer
) -> None:
    """Its token names the project; the first upload claims it for the registrant, by the
    usual rules; the next exchange finds it and the publisher is active."""
    pending = service.add_publisher(
        "github",
        {"repository": "octo-org/octo-repo", "workflow": "release.yml", "issuer": issuer.url},
        projects=["New_Project"],
        user="bob",
    )
    assert pending.pending and pending.projects == ("new-project",)
    raw = _minted(endpoints, issuer)
    assert [r.dump() for r in Token.load(raw).restrictions][1:] == [
        [1, ["new-project"]],
        [4, pending.id, None],
        ["ptc.actions", ["upload"]],
    ]
    assert service.directory.get_project("new-project") is None  # type: ignore[union-attr]
    identity = service.authenticate(raw, Context(project_name="new-project", action="upload"))
    claim = service.claim_upload(identity, "new-project", has_files=lambda: False)
    assert claim is not None
    service.confirm_claim(claim)  # the file is stored
    project = service.directory.get_project("new-project")  # type: ignore[union-attr]
    assert project is not None and service.list_roles(project) == [("bob", "Owner")]
    assert service.get_publisher(pending.id).pending
    later = _minted(endpoints, issuer)
    assert not service.get_publisher(pending.id).pending
    assert Token.load(later).restrictions[2].dump() == [2, [project.id]]


def test_a_pending_publisher_takes_no_unowned_project(
    service: TokenService, endpoints: Endpoints, issuer: Issuer
) -> None:
    """A name the index holds files of but nobody owns stays refused, publisher or not."""
    service.add_publisher(
        "github",
        {"repository": "octo-org/octo-repo", "workflow": "release.yml", "issuer": issuer.url},
        projects=["orphan"],
        user="bob",
    )
    raw = _minted(endpoints, issuer)
    identity = service.authenticate(raw, Context(project_name="orphan", action="upload"))
    with pytest.raises(ValidationError, match=r"^project 'orphan' has files on this index"):
        service.claim_upload(identity, "orphan", has_files=lambda: True)


def test_a_pending_publisher_whose_name_was_taken(
    service: TokenService, endpoints: Endpoints, issuer: Issuer
) -> None:
    pending = service.add_publisher(
        "github",
        {"repository": "octo-org/octo-repo", "workflow": "release.yml", "issuer": issuer.url},
        projects=["late"],
        user="bob",
    )
    service.add_project("late", owner="alice")
    assert error(mint(endpoints, issuer.sign(issuer.github_claims(AUDIENCE)))) == (
        422, "invalid-pending-publisher", "valid token, but project already exists",
    )  # fmt: skip
    with pytest.raises(NotFound):
        service.get_publisher(pending.id)


def test_a_registrant_who_lost_the_project(
    service: TokenService, endpoints: Endpoints, issuer: Issuer, github: Callable[..., str]
) -> None:
    github()
    service.remove_user("alice", transfer_to="bob")
    assert error(mint(endpoints, issuer.sign(issuer.github_claims(AUDIENCE)))) == (
        422, "invalid-publisher",
        f"valid token, but the user who registered publisher"
        f" {service.list_publishers()[0].id} no longer exists",
    )  # fmt: skip


def test_the_most_specific_publisher_mints(
    service: TokenService, endpoints: Endpoints, issuer: Issuer, github: Callable[..., str]
) -> None:
    github("foo")
    specific = github("bar", environment="Release")
    raw = _minted(endpoints, issuer)
    assert Token.load(raw).restrictions[3].dump() == [4, specific, None]
    other = _minted(endpoints, issuer, environment="other")
    assert Token.load(other).restrictions[1].dump() == [1, ["foo"]]


def test_gitlab(service: TokenService, endpoints: Endpoints, issuer: Issuer) -> None:
    service.add_publisher(
        "gitlab",
        {"project_path": "My-Group/my-project", "environment": "release", "issuer": issuer.url},
        projects=["foo"],
        user="alice",
    )
    response = mint(endpoints, issuer.sign(issuer.gitlab_claims(AUDIENCE)))
    assert response.status == 200, response.body
    for changes, reason in (
        ({"environment": "Release"}, "environment 'Release' is not 'release'"),
        ({"sha": ""}, "the token's 'ref_path' and 'sha' claims must not be empty"),
        (
            {"ci_config_ref_uri": "x/my-group/my-project//other.yml@refs/tags/v1.0.0"},
            "CI configuration 'x/my-group/my-project//other.yml@refs/tags/v1.0.0' is not",
        ),
        ({"sub": "project_path:my-group/other:ref_type:tag"}, "subject 'project_path:my-group"),
    ):
        token = issuer.sign(issuer.gitlab_claims(AUDIENCE, **changes))
        status, code, description = error(mint(endpoints, token))
        assert (status, code) == (422, "invalid-publisher")
        assert description.startswith(f"valid token, but no corresponding publisher ({reason}")


def test_any_issuer(service: TokenService, endpoints: Endpoints, issuer: Issuer) -> None:
    service.add_publisher(
        "oidc",
        {"issuer": issuer.url, "claims": {"sub": "repo:octo-org/octo-repo:environment:release",
                                          "ref_protected": "false"}},
        projects=["foo"],
        user="alice",
    )  # fmt: skip
    assert mint(endpoints, issuer.sign(issuer.github_claims(AUDIENCE))).status == 200
    token = issuer.sign(issuer.github_claims(AUDIENCE, ref_protected="true"))
    assert error(mint(endpoints, token)) == (
        422, "invalid-publisher",
        "valid token, but no corresponding publisher (claim 'ref_protected' is 'true', not"
        " 'false')",
    )  # fmt: skip


def test_adding_publishers(service: TokenService, issuer: Issuer) -> None:
    fields = {"repository": "octo-org/octo-repo", "workflow": "release.yml"}
    record = service.add_publisher("github", fields, projects=["foo"])  # the owner is the default
    assert service.user_name(record.added_by) == "alice"
    assert record.issuer == "https://token.actions.githubusercontent.com"
    assert [p.id for p in service.list_publishers("alice")] == [record.id]
    assert service.list_publishers("bob") == []
    with pytest.raises(ValidationError, match=r"^user bob may not upload to project 'foo'$"):
        service.add_publisher("github", fields, projects=["foo"], user="bob")
    for kind, bad, message in (
        ("gitea", fields, "unknown publisher kind 'gitea'"),
        ("github", {**fields, "workflow": "x/release.yml"}, "workflow 'x/release.yml' must be"),
        ("github", {**fields, "repository": "o/r/x"}, "'r/x' is not a GitHub repository"),
        ("github", {**fields, "owner_id": "abc"}, "owner_id 'abc' must be GitHub's numeric"),
        ("github", {**fields, "issuer": "http://example.com"}, "issuer 'http://example.com' must"),
        ("gitlab", {"project_path": "single"}, "'single' is not a GitLab project path"),
        ("oidc", {"issuer": issuer.url, "claims": {}}, "an oidc publisher needs at least one"),
        ("oidc", {"issuer": issuer.url, "claims": {"aud": "x"}}, "claim 'aud' is checked"),
    ):
        with pytest.raises(InvalidInput, match=message):
            service.add_publisher(kind, bad, projects=["foo"], user="alice")
    with pytest.raises(InvalidInput, match="name the user on whose behalf"):
        service.add_publisher("github", fields, projects=["not-yet"])
    with pytest.raises(InvalidInput, match="an index is named only on devpi"):
        service.add_publisher("github", fields, projects=["foo"], index="alice/dev")


def test_one_publisher_many_projects(
    service: TokenService, endpoints: Endpoints, issuer: Issuer
) -> None:
    """The same workflow added for more projects is one publisher for all (as on pypi.org);
    its tokens are for all of them, a project not created yet included."""
    fields = {"repository": "octo-org/octo-repo", "workflow": "release.yml", "issuer": issuer.url}
    first = service.add_publisher("github", fields, projects=["foo"], user="alice")
    again = service.add_publisher("github", fields, projects=["bar", "later"], user="alice")
    assert again.id == first.id
    assert (again.projects, again.pending) == (("foo", "bar", "later"), ("later",))
    assert service.list_publishers() == [again]
    raw = _minted(endpoints, issuer)
    assert Token.load(raw).restrictions[1].dump() == [1, ["foo", "bar", "later"]]
    for project in ("foo", "bar", "later"):
        assert service.authenticate(raw, Context(project_name=project, action="upload"))
    with pytest.raises(AlreadyExists, match=r"is the same workflow, registered by alice"):
        service.add_publisher("github", fields, projects=["baz"], user="bob")


def test_a_pending_project_taken_by_someone_else(
    service: TokenService, endpoints: Endpoints, issuer: Issuer
) -> None:
    """It leaves the publisher; the publisher's other projects keep being published."""
    fields = {"repository": "octo-org/octo-repo", "workflow": "release.yml", "issuer": issuer.url}
    record = service.add_publisher("github", fields, projects=["foo", "later"], user="alice")
    service.add_project("later", owner="bob")
    raw = _minted(endpoints, issuer)
    assert Token.load(raw).restrictions[1].dump() == [1, ["foo"]]
    assert service.get_publisher(record.id).projects == ("foo",)


def test_publishers_that_match_alike(
    service: TokenService, endpoints: Endpoints, issuer: Issuer
) -> None:
    """Two users' publishers matching one job as specifically: refused, with both ids."""
    one = service.add_publisher(
        "oidc", {"issuer": issuer.url, "claims": {"repository": "octo-org/octo-repo"}},
        projects=["foo"], user="alice",
    )  # fmt: skip
    two = service.add_publisher(
        "oidc", {"issuer": issuer.url, "claims": {"ref": "refs/tags/v1.0.0"}},
        projects=["baz"], user="bob",
    )  # fmt: skip
    status, code, description = error(mint(endpoints, issuer.sign(issuer.github_claims(AUDIENCE))))
    ids = sorted((one, two), key=lambda r: (r.created, r.id))  # oldest first, as listed
    assert (status, code, description) == (
        422, "invalid-publisher",
        f"valid token, but it matches several publishers equally ({ids[0].id}, {ids[1].id}):"
        " make one more specific (an environment, an owner id) or remove one",
    )  # fmt: skip
    service.remove_publisher(two.id)
    assert mint(endpoints, issuer.sign(issuer.github_claims(AUDIENCE))).status == 200


def test_settings() -> None:
    for lifetime in (899, 21601, "900"):
        with pytest.raises(ConfigurationError, match="lives 900 to 21600 seconds"):
            TrustedPublishingSettings(lifetime=lifetime)  # type: ignore[arg-type]
    assert TrustedPublishingSettings(lifetime=21600).lifetime == 21600
    with pytest.raises(ConfigurationError, match="must be up to 200 printable ASCII"):
        TrustedPublishingSettings(audience="127.0.0.1")
    assert gitlab_token_variable("pypi.example.com") == "PYPI_EXAMPLE_COM_ID_TOKEN"
    assert gitlab_token_variable("pypitoken-127.0.0.1:8443") == "PYPITOKEN_127_0_0_1_8443_ID_TOKEN"


def test_the_audience_and_the_lifetime(
    store: object, service: TokenService, issuer: Issuer, github: Callable[..., str]
) -> None:
    github()
    assert service.trusted_publishing(TrustedPublishingSettings()).audience == AUDIENCE
    ip = TokenService(service.store, b"s" * 32, domain="10.0.0.1:8443")
    assert ip.trusted_publishing(TrustedPublishingSettings()).audience == "pypitoken-10.0.0.1:8443"
    long = service.trusted_publishing(TrustedPublishingSettings(lifetime=3600))
    response = mint(long, issuer.sign(issuer.github_claims(AUDIENCE)))
    assert response.body["expires"] - time.time() == pytest.approx(3600, abs=5)
    capped = TokenService(service.store, b"s" * 32, domain=AUDIENCE, max_lifetime=600)
    off = capped.trusted_publishing(TrustedPublishingSettings())
    assert error(off.get_audience())[1] == "not-enabled"
