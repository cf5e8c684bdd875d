"""Publisher kinds: who is trusted, and whether a verified OIDC token's claims match.

One small class per kind, registered by name (``@_kind("github")``), as the caveats are by
tag: a new CI provider is one class here. Each kind knows

- its fields (``from_fields`` checks what an admin typed; ``config`` is the canonical
  JSON the store keeps; ``from_config`` reads it back),
- the lookup key a publisher is stored under and the keys a token's claims are looked
  up by (``lookup_key``, ``claim_keys``): one indexed read finds the candidates, whatever
  the number of publishers,
- why a token's claims do not match (``refusal``, None when they do), in words the CI
  log shows, and what of a run the audit trail keeps (``run_details``).

The matching follows Warehouse's (``warehouse/oidc/models/github.py``, ``gitlab.py``), with
one difference on purpose: every claim used is type-checked (Warehouse's
``str.__eq__(a, 123)`` is ``NotImplemented``, which is truthy).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from ..exceptions import InvalidInput
from ..store import PublisherRecord
from ._urls import check_issuer

__all__ = [
    "GITHUB_ISSUER",
    "GITLAB_ISSUER",
    "KINDS",
    "GenericPublisher",
    "GitHubPublisher",
    "GitLabPublisher",
    "Publisher",
    "describe_record",
    "from_record",
    "publisher_kind",
]

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"

#: Claims every token has and the verifier checks itself; never matched as configuration.
RESERVED_CLAIMS = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti"})

_GITHUB_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
_GITHUB_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")
_WORKFLOW = re.compile(r"[^/\\\x00-\x1f]{1,250}\.ya?ml")
_GITLAB_SEGMENT = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}")
_CI_CONFIG = re.compile(r"[^\\\x00-\x1f@]{1,250}\.ya?ml")
_MAX_TEXT = 255
_MAX_CLAIM_VALUE = 1000
_MAX_CLAIMS = 20


class _Mismatch(Exception):
    """A claim does not match: the message says which and how (internal to ``refusal``)."""


def _claim(claims: Mapping[str, Any], name: str) -> str:
    """The string claim ``name``; a missing or non-string claim is a mismatch."""
    value = claims.get(name)
    if value is None:
        raise _Mismatch(f"the token has no {name!r} claim")
    if type(value) is not str:
        raise _Mismatch(f"claim {name!r} must be a string, not {type(value).__name__}")
    return value


def _optional_claim(claims: Mapping[str, Any], name: str) -> str:
    """The string claim ``name``, or "" when absent; a non-string is a mismatch."""
    return _claim(claims, name) if claims.get(name) is not None else ""


def _text(fields: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = fields.get(name, "")
    if value is None:
        value = ""
    if type(value) is not str:
        raise InvalidInput(f"{name} must be a string")
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{name} is required")
    if len(value) > _MAX_TEXT or not value.isprintable():
        raise InvalidInput(f"{name} {value!r} is too long or has unprintable characters")
    return value


def _shown(value: str) -> str:
    """A claim value for a refusal description: quoted, and short."""
    return repr(value if len(value) <= 100 else value[:97] + "...")


_P = TypeVar("_P", bound="Publisher")

#: The publisher kinds by name.
KINDS: dict[str, type[Publisher]] = {}


def _kind(name: str) -> Callable[[type[_P]], type[_P]]:
    """Class decorator: register a publisher kind under ``name``; a reused name fails at
    import."""

    def decorator(cls: type[_P]) -> type[_P]:
        if name in KINDS:
            raise RuntimeError(f"publisher kind {name!r} is already registered")
        cls.kind = name
        KINDS[name] = cls
        return cls

    return decorator


def publisher_kind(name: object) -> type[Publisher]:
    """The kind called ``name``; :class:`InvalidInput` for any other."""
    cls = KINDS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InvalidInput(f"unknown publisher kind {name!r}; expected {', '.join(KINDS)}")
    return cls


def from_record(record: PublisherRecord) -> Publisher:
    """The publisher a store record describes; :class:`InvalidInput` if it is damaged or
    of a kind this version does not know."""
    return publisher_kind(record.kind).from_config(record.issuer, record.config)


def describe_record(record: PublisherRecord) -> str:
    """What a stored publisher trusts, in words; a damaged record still gets a line, so
    that it can be listed and removed."""
    try:
        return from_record(record).describe()
    except InvalidInput:
        return f"{record.kind} (damaged configuration)"


@dataclass(frozen=True, slots=True)
class Publisher:
    """The base of the kinds: ``issuer`` plus the kind's own fields (see module docstring)."""

    kind: ClassVar[str]
    default_issuer: ClassVar[str | None] = None

    issuer: str

    @classmethod
    def from_fields(cls: type[_P], fields: Mapping[str, Any]) -> _P:
        """Check what an admin typed (``issuer`` defaults to the kind's); raise
        :class:`InvalidInput` naming the first field that is wrong."""
        issuer = fields.get("issuer") or cls.default_issuer
        if issuer is None:
            raise InvalidInput(f"a {cls.kind} publisher needs an issuer")
        return cls._checked(check_issuer(issuer), fields)

    @classmethod
    def _checked(cls: type[_P], issuer: str, fields: Mapping[str, Any]) -> _P:
        raise NotImplementedError  # pragma: no cover - every kind defines it

    @classmethod
    def from_config(cls: type[_P], issuer: str, config: str) -> _P:
        """The publisher a store record describes (``config`` is :attr:`config`)."""
        try:
            fields = json.loads(config)
        except ValueError as exc:
            raise InvalidInput(f"damaged {cls.kind} publisher configuration") from exc
        if type(fields) is not dict:
            raise InvalidInput(f"damaged {cls.kind} publisher configuration")
        return cls._checked(issuer, fields)

    @property
    def fields(self) -> dict[str, Any]:
        """The kind's own fields (not the issuer), as shown and stored."""
        raise NotImplementedError  # pragma: no cover - every kind defines it

    @property
    def config(self) -> str:
        """The fields as canonical JSON: what the store keeps."""
        return json.dumps(self.fields, sort_keys=True, separators=(",", ":"))

    @property
    def lookup_key(self) -> str:
        """The key this publisher is stored under."""
        return _key(self.kind, self.issuer, self._subject())

    def _subject(self) -> str:
        raise NotImplementedError  # pragma: no cover - every kind defines it

    @classmethod
    def claim_keys(cls, issuer: str, claims: Mapping[str, Any]) -> list[str]:
        """The lookup keys of the publishers of this kind that may match ``claims``."""
        raise NotImplementedError  # pragma: no cover - every kind defines it

    def refusal(self, claims: Mapping[str, Any]) -> str | None:
        """Why a verified token's ``claims`` do not match this publisher (None: they do)."""
        try:
            self._match(claims)
        except _Mismatch as exc:
            return str(exc)
        return None

    def _match(self, claims: Mapping[str, Any]) -> None:
        raise NotImplementedError  # pragma: no cover - every kind defines it

    @property
    def specificity(self) -> int:
        """Of several publishers matching one token, the most specific mints (e.g. the one
        naming the token's environment over the one accepting any)."""
        return 0

    def run_details(self, claims: Mapping[str, Any]) -> dict[str, str]:
        """What the audit trail keeps of the run that presented ``claims``."""
        raise NotImplementedError  # pragma: no cover - every kind defines it

    def describe(self) -> str:
        """The publisher in words, for people."""
        raise NotImplementedError  # pragma: no cover - every kind defines it


def _key(kind: str, issuer: str, subject: str) -> str:
    return f"{kind}\n{issuer}\n{subject}"


def _details(claims: Mapping[str, Any], *names: str) -> dict[str, str]:
    return {n: v for n in names if type(v := claims.get(n)) is str}


@_kind("github")
@dataclass(frozen=True, slots=True)
class GitHubPublisher(Publisher):
    """A GitHub Actions workflow: ``owner/repository``, the workflow file, optionally an
    environment (matched case-insensitively, as GitHub does) and the owner's numeric id
    (pinned, so that a deleted and re-created account of the same name matches nothing)."""

    default_issuer: ClassVar[str | None] = GITHUB_ISSUER

    owner: str = ""
    repository: str = ""
    workflow: str = ""
    environment: str = ""
    owner_id: str = ""

    @classmethod
    def _checked(cls, issuer: str, fields: Mapping[str, Any]) -> GitHubPublisher:
        # ``repository`` may be given as OWNER/REPO, as on the command line.
        repository = _text(fields, "repository")
        if "/" in repository and not fields.get("owner"):
            owner, _, repository = repository.partition("/")
        elif not fields.get("owner"):
            raise InvalidInput(f"repository {repository!r} must be given as OWNER/REPO")
        else:
            owner = _text(fields, "owner")
        if not _GITHUB_OWNER.fullmatch(owner):
            raise InvalidInput(f"{owner!r} is not a GitHub user or organisation name")
        if not _GITHUB_REPO.fullmatch(repository):
            raise InvalidInput(f"{repository!r} is not a GitHub repository name")
        workflow = _text(fields, "workflow")
        if not _WORKFLOW.fullmatch(workflow):
            raise InvalidInput(
                f"workflow {workflow!r} must be the file name of a workflow in"
                " .github/workflows/, such as release.yml"
            )
        owner_id = _text(fields, "owner_id", required=False)
        if owner_id and not (owner_id.isascii() and owner_id.isdigit()):
            raise InvalidInput(f"owner_id {owner_id!r} must be GitHub's numeric account id")
        environment = _text(fields, "environment", required=False).lower()
        return cls(issuer, owner, repository, workflow, environment, owner_id)

    @property
    def fields(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "repository": self.repository,
            "workflow": self.workflow,
            "environment": self.environment,
            "owner_id": self.owner_id,
        }

    def _subject(self) -> str:
        return f"{self.owner}/{self.repository}".lower()

    @classmethod
    def claim_keys(cls, issuer: str, claims: Mapping[str, Any]) -> list[str]:
        repository = claims.get("repository")
        return [_key(cls.kind, issuer, repository.lower())] if type(repository) is str else []

    def _match(self, claims: Mapping[str, Any]) -> None:
        full = f"{self.owner}/{self.repository}"
        if _optional_claim(claims, "event_name") == "pull_request_target":
            raise _Mismatch("publishing from a 'pull_request_target' workflow is not allowed")
        repository = _claim(claims, "repository")
        if repository.lower() != full.lower():
            raise _Mismatch(f"repository {_shown(repository)} is not {full!r}")
        owner = _claim(claims, "repository_owner")
        if owner.lower() != self.owner.lower():
            raise _Mismatch(f"repository owner {_shown(owner)} is not {self.owner!r}")
        if self.owner_id:
            owner_id = _claim(claims, "repository_owner_id")
            if owner_id != self.owner_id:
                raise _Mismatch(
                    f"repository owner id {_shown(owner_id)} is not {self.owner_id!r}"
                    " (the account was deleted and re-created?)"
                )
        ref, sha = _optional_claim(claims, "ref"), _optional_claim(claims, "sha")
        if not (ref or sha):
            raise _Mismatch("the token has neither a 'ref' nor a 'sha' claim")
        job_workflow_ref = _claim(claims, "job_workflow_ref")
        path, _, at = job_workflow_ref.partition("@")
        folder = f"{full}/.github/workflows/"
        if not (
            path.lower().startswith(folder.lower())
            and path[len(folder) :] == self.workflow
            and at in {ref, sha} - {""}
        ):
            raise _Mismatch(
                f"workflow {_shown(job_workflow_ref)} is not {folder}{self.workflow}"
                " at the run's ref or sha"
            )
        if self.environment:
            environment = _optional_claim(claims, "environment")
            if environment.lower() != self.environment:
                raise _Mismatch(
                    f"environment {_shown(environment)} is not {self.environment!r}"
                    if environment
                    else f"the job runs in no environment; the publisher needs {self.environment!r}"
                )

    @property
    def specificity(self) -> int:
        # An environment narrows a workflow's runs; a pinned owner id only its account.
        return 2 * bool(self.environment) + bool(self.owner_id)

    def run_details(self, claims: Mapping[str, Any]) -> dict[str, str]:
        details = _details(claims, "repository", "job_workflow_ref", "ref", "sha", "run_id")
        if "job_workflow_ref" in details:
            details["workflow"] = details.pop("job_workflow_ref")
        return details

    def describe(self) -> str:
        text = f"GitHub {self.owner}/{self.repository}, workflow {self.workflow}"
        if self.environment:
            text += f", environment {self.environment}"
        if self.owner_id:
            text += f", owner id {self.owner_id}"
        if self.issuer != GITHUB_ISSUER:
            text += f", issuer {self.issuer}"
        return text


@_kind("gitlab")
@dataclass(frozen=True, slots=True)
class GitLabPublisher(Publisher):
    """A GitLab CI pipeline: the project path (``namespace/project``, subgroups allowed),
    the CI configuration file, optionally an environment (matched exactly, as GitLab
    does)."""

    default_issuer: ClassVar[str | None] = GITLAB_ISSUER

    project_path: str = ""
    ci_config: str = ".gitlab-ci.yml"
    environment: str = ""

    @classmethod
    def _checked(cls, issuer: str, fields: Mapping[str, Any]) -> GitLabPublisher:
        path = _text(fields, "project_path").strip("/")
        segments = path.split("/")
        if len(segments) < 2 or not all(_GITLAB_SEGMENT.fullmatch(s) for s in segments):
            raise InvalidInput(f"{path!r} is not a GitLab project path (namespace/project)")
        ci_config = _text(fields, "ci_config", required=False) or ".gitlab-ci.yml"
        if not _CI_CONFIG.fullmatch(ci_config) or ci_config.startswith("/"):
            raise InvalidInput(
                f"ci_config {ci_config!r} must be the path of the CI file in the repository,"
                " such as .gitlab-ci.yml"
            )
        environment = _text(fields, "environment", required=False)
        return cls(issuer, path, ci_config, environment)

    @property
    def fields(self) -> dict[str, Any]:
        return {
            "project_path": self.project_path,
            "ci_config": self.ci_config,
            "environment": self.environment,
        }

    def _subject(self) -> str:
        return self.project_path.lower()

    @classmethod
    def claim_keys(cls, issuer: str, claims: Mapping[str, Any]) -> list[str]:
        path = claims.get("project_path")
        return [_key(cls.kind, issuer, path.lower())] if type(path) is str else []

    def _match(self, claims: Mapping[str, Any]) -> None:
        path = _claim(claims, "project_path")
        if path.lower() != self.project_path.lower():
            raise _Mismatch(f"project path {_shown(path)} is not {self.project_path!r}")
        sub = _claim(claims, "sub")
        if ":".join(sub.split(":")[:2]).lower() != f"project_path:{self.project_path}".lower():
            raise _Mismatch(f"subject {_shown(sub)} is not of project {self.project_path!r}")
        ref_path, sha = _claim(claims, "ref_path"), _claim(claims, "sha")
        if not (ref_path and sha):
            raise _Mismatch("the token's 'ref_path' and 'sha' claims must not be empty")
        uri = _claim(claims, "ci_config_ref_uri")
        domain = self.issuer.split("://", 1)[1]
        base = f"{domain}/{self.project_path}//"
        rest = uri[len(base) :] if uri.lower().startswith(base.lower()) else None
        if rest not in (f"{self.ci_config}@{ref_path}", f"{self.ci_config}@{sha}"):
            raise _Mismatch(
                f"CI configuration {_shown(uri)} is not {base}{self.ci_config}"
                " at the pipeline's ref or sha"
            )
        if self.environment:
            environment = _optional_claim(claims, "environment")
            if environment != self.environment:
                raise _Mismatch(
                    f"environment {_shown(environment)} is not {self.environment!r}"
                    if environment
                    else f"the job runs in no environment; the publisher needs {self.environment!r}"
                )

    @property
    def specificity(self) -> int:
        return 1 if self.environment else 0

    def run_details(self, claims: Mapping[str, Any]) -> dict[str, str]:
        details = _details(claims, "project_path", "ci_config_ref_uri", "ref_path", "sha")
        details.update(_details(claims, "pipeline_id"))
        return details

    def describe(self) -> str:
        text = f"GitLab {self.project_path}, CI file {self.ci_config}"
        if self.environment:
            text += f", environment {self.environment}"
        if self.issuer != GITLAB_ISSUER:
            text += f", issuer {self.issuer}"
        return text


@_kind("oidc")
@dataclass(frozen=True, slots=True)
class GenericPublisher(Publisher):
    """Any OIDC issuer (Forgejo or Gitea Actions, Buildkite, Keycloak, ...): the issuer and
    claims that must all be present with exactly these string values."""

    claims: dict[str, str] = field(default_factory=dict)

    @classmethod
    def _checked(cls, issuer: str, fields: Mapping[str, Any]) -> GenericPublisher:
        claims = fields.get("claims")
        if type(claims) is not dict or not claims:
            raise InvalidInput(
                "an oidc publisher needs at least one claim to match (KEY=VALUE), such as"
                " its subject: sub=..."
            )
        if len(claims) > _MAX_CLAIMS:
            raise InvalidInput(f"an oidc publisher matches at most {_MAX_CLAIMS} claims")
        for key, value in claims.items():
            if type(key) is not str or not key or len(key) > 100 or not key.isprintable():
                raise InvalidInput(f"claim name {key!r} is empty, too long or unprintable")
            if key in RESERVED_CLAIMS:
                raise InvalidInput(f"claim {key!r} is checked for every token; match others")
            if type(value) is not str or len(value) > _MAX_CLAIM_VALUE:
                raise InvalidInput(f"claim {key!r} must have a string value")
        return cls(issuer, dict(sorted(claims.items())))

    @property
    def fields(self) -> dict[str, Any]:
        return {"claims": dict(self.claims)}

    def _subject(self) -> str:
        return self.claims.get("sub", "")

    @classmethod
    def claim_keys(cls, issuer: str, claims: Mapping[str, Any]) -> list[str]:
        keys = [_key(cls.kind, issuer, "")]
        sub = claims.get("sub")
        if type(sub) is str and sub:
            keys.append(_key(cls.kind, issuer, sub))
        return keys

    def _match(self, claims: Mapping[str, Any]) -> None:
        for key, expected in self.claims.items():
            value = _claim(claims, key)
            if value != expected:
                raise _Mismatch(f"claim {key!r} is {_shown(value)}, not {expected!r}")

    @property
    def specificity(self) -> int:
        return len(self.claims)

    def run_details(self, claims: Mapping[str, Any]) -> dict[str, str]:
        return _details(claims, "sub", *self.claims)

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.claims.items())
        return f"OIDC issuer {self.issuer} with {shown}"
