"""Trusted publishers: registering them, and minting a token for a verified CI run.

The service's half of trusted publishing (the verification and the HTTP semantics are in
:mod:`pypitoken_core.oidc`). A publisher acts on behalf of the user who registered it:
its tokens are that user's tokens, narrowed to the publisher's projects (and index, on
devpi), to uploading, and to a short window, and they carry pypi.org's trusted-publisher
caveat naming it. So a publisher can never do more than its registrant could with a
token of their own, and the ownership rules apply as to any token.

The exchange reads top to bottom: find the candidates (one indexed read per lookup key
the token's claims give), match them, refuse a ``jti`` already taken (a read), check the
projects (creating a pending publisher's), mint, and only then take the ``jti`` for good
(an atomic insert-if-absent). Taking it last means that a failure anywhere before leaves
the CI token usable for a retry, and that nothing but success follows once it is taken:
uv retries a 5xx with the same token. Should two requests race with one token, the loser's
freshly minted token (never handed out) is revoked.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from . import names
from ._audit import Auditor, event
from ._minting import issue
from ._ownership import OWNER, Ownership, bad_project_name
from ._time import MAX_TIMESTAMP
from .exceptions import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    StoreError,
    ValidationError,
)
from .oidc import KINDS, LEEWAY, ExchangeError, Minted, Publisher, from_record, publisher_kind
from .store import Directory, Project, PublisherRecord, Publishers, SingleUse, TokenRecords, User

__all__ = ["Publishing"]

log = logging.getLogger("pypitoken_core.service")


def _invalid_publisher(reason: str) -> ExchangeError:
    return ExchangeError("invalid-publisher", f"valid token, but {reason}")


class Publishing:
    """The trusted publishers of one service's store (see module docstring).

    ``store`` must keep publishers and single-use marks; ``directory`` is None when the
    index server keeps its own projects (devpi: a publisher then names its index).
    """

    def __init__(
        self,
        store: TokenRecords,
        secret: bytes,
        policy: Ownership,
        auditor: Auditor,
        directory: Directory | None,
        *,
        domain: str,
        prefix: str,
    ) -> None:
        if not isinstance(store, Publishers) or not isinstance(store, SingleUse):
            raise StoreError(f"{store.url} keeps no trusted publishers")
        self._records = store
        self._marks: SingleUse = store
        self._publishers: Publishers = store
        self._secret = secret
        self._policy = policy
        self._audit = auditor
        self._directory = directory
        self._domain = domain
        self._prefix = prefix

    def __repr__(self) -> str:
        return f"<Publishing store={self._records.url!r}>"

    # -- reading -------------------------------------------------------------------------

    def registered(self) -> list[PublisherRecord]:
        """Every publisher, oldest first."""
        return self._publishers.list_publishers()

    def get(self, publisher_id: str) -> PublisherRecord | None:
        """The publisher with this id, or None."""
        return self._publishers.get_publisher(publisher_id)

    def issuer_known(self, issuer: str) -> bool:
        """Whether a publisher trusts ``issuer`` (before any of its keys is fetched)."""
        return self._publishers.has_issuer(issuer)

    # -- registering -------------------------------------------------------------------

    def add(
        self,
        kind: str,
        fields: Mapping[str, Any],
        *,
        projects: Sequence[str],
        user: User | None,
        index: str | None,
    ) -> PublisherRecord:
        """Register a publisher for ``projects`` on behalf of ``user`` (see
        :meth:`TokenService.add_publisher`)."""
        publisher = publisher_kind(kind).from_fields(fields)
        wanted = _project_names(projects)
        pending = False
        directory = self._directory
        if directory is not None:
            if index is not None:
                raise InvalidInput("an index is named only on devpi")
            found = {name: directory.get_project(name) for name in wanted}
            missing = [name for name, project in found.items() if project is None]
            if missing and len(wanted) > 1:
                raise NotFound(
                    f"unknown project(s) {', '.join(missing)}: a pending publisher names"
                    " one project, which its first publish creates"
                )
            pending = bool(missing)
            if user is None:
                user = self._default_user(directory, found)
            for project in found.values():
                if project is not None:
                    refused = self._policy.mint_refusal(
                        user, project, directory.get_role(project.id, user.id)
                    )
                    if refused is not None:
                        raise ValidationError(refused)
        else:
            if user is None:
                raise InvalidInput("name the user the publisher uploads as")
            if not index or index.count("/") != 1 or not all(index.split("/")):
                raise InvalidInput(
                    f"name the index the publisher uploads to, as user/index, not {index!r}"
                )
        record = PublisherRecord(
            id=str(uuid.uuid4()),
            kind=publisher.kind,
            issuer=publisher.issuer,
            config=publisher.config,
            lookup_key=publisher.lookup_key,
            projects=tuple(wanted),
            index=index,
            pending=pending,
            added_by=user.id,
            created=int(time.time()),
        )
        self._publishers.add_publisher(
            record,
            event=event(
                "publisher_added",
                user=user.name,
                project=wanted[0],
                reason=f"{record.id}: {publisher.describe()}" + (" (pending)" if pending else ""),
            ),
        )
        return record

    def _default_user(self, directory: Directory, found: Mapping[str, Project | None]) -> User:
        """Without a user named: the owner of the one existing project, if it has one."""
        projects = [p for p in found.values() if p is not None]
        owners = [
            name
            for project in projects[:1]
            for name, role in directory.list_roles(project.id)
            if role == OWNER
        ]
        if len(projects) != 1 or len(found) != 1 or not owners:
            raise InvalidInput("name the user on whose behalf the publisher uploads")
        user = self._records.get_user(owners[0])
        if user is None:  # removed meanwhile
            raise NotFound(f"unknown user {owners[0]!r}")
        return user

    def remove(self, publisher_id: str, *, by: str | None = None) -> None:
        """Remove a publisher and revoke its tokens (:class:`NotFound` if unknown)."""
        record = self._publishers.get_publisher(publisher_id)
        gone = event(
            "publisher_removed",
            user=by,
            project=None if record is None else record.projects[0],
            reason=publisher_id,
        )
        if record is None or not self._publishers.remove_publisher(publisher_id, event=gone):
            raise NotFound(f"unknown publisher {publisher_id!r}")

    # -- the exchange ------------------------------------------------------------------

    def exchange(self, claims: Mapping[str, Any], *, lifetime: int) -> Minted:
        """Mint an upload token for the publisher that ``claims`` (verified) match.

        Raises :class:`ExchangeError` with the code the client shows, or
        :class:`StoreError` before anything is consumed.
        """
        now = int(time.time())
        record, publisher = self._match(claims)
        jti_key = f"oidc-jti\n{record.issuer}\n{claims['jti']}"
        if self._marks.is_taken(jti_key, now):
            raise ExchangeError("invalid-reuse-token", "invalid token: already used")
        owner = self._records.get_user_by_id(record.added_by)
        if owner is None:
            raise _invalid_publisher(
                f"the user who registered publisher {record.id} no longer exists"
            )
        project_ids = self._projects(record, owner)
        run = publisher.run_details(claims)
        shown_run = ", ".join(f"{k}={v}" for k, v in run.items())
        raw, minted = issue(
            self._records,
            self._secret,
            owner,
            domain=self._domain,
            prefix=self._prefix,
            now=now,
            projects=list(record.projects),
            project_ids=project_ids,
            indexes=[] if record.index is None else [record.index],
            actions=["upload"],
            not_before=now,
            expires=now + lifetime,
            description=(
                f"trusted publisher {record.id} ({publisher.describe()}); run: {shown_run}"
            ),
            publisher_id=record.id,
        )
        # PyJWT accepted ``exp`` because int() of it works ("123" and 1.5 do too).
        keep_until = min(max(int(claims["exp"]), now) + LEEWAY, MAX_TIMESTAMP)
        try:
            taken = self._marks.take_once(jti_key, keep_until, now)
        except StoreError:
            self._unissue(minted.id, "the token store failed while taking the CI token's jti")
            raise
        if not taken:
            self._unissue(minted.id, "its CI token was exchanged twice at once")
            raise ExchangeError("invalid-reuse-token", "invalid token: already used")
        return Minted(raw, now + lifetime)

    def _match(self, claims: Mapping[str, Any]) -> tuple[PublisherRecord, Publisher]:
        issuer = claims["iss"]
        candidates: dict[str, PublisherRecord] = {}
        for kind in KINDS.values():
            for key in kind.claim_keys(issuer, claims):
                for record in self._publishers.find_publishers(key):
                    candidates.setdefault(record.id, record)
        if not candidates:
            raise _invalid_publisher("no corresponding publisher")
        matched: list[tuple[PublisherRecord, Publisher]] = []
        reasons: list[str] = []
        for record in sorted(candidates.values(), key=lambda r: (r.created, r.id)):
            try:
                publisher = from_record(record)
            except InvalidInput as exc:
                reasons.append(f"publisher {record.id}: {exc}")
                continue
            reason = publisher.refusal(claims)
            if reason is None and record.issuer == issuer:
                matched.append((record, publisher))
            elif reason is not None:
                reasons.append(reason)
        if not matched:
            raise _invalid_publisher(f"no corresponding publisher ({'; '.join(reasons[:3])})")
        # The most specific (e.g. naming the job's environment) wins; the oldest of those.
        return max(matched, key=lambda m: m[1].specificity)

    def _projects(self, record: PublisherRecord, owner: User) -> list[str]:
        """The ids of the publisher's projects, creating a pending publisher's project."""
        directory = self._directory
        if directory is None:
            return []
        ids: list[str] = []
        for name in record.projects:
            project = directory.get_project(name)
            if project is None and record.pending:
                try:
                    project = directory.add_project(name, owner.id)
                    self._audit.record(
                        event(
                            "project_created",
                            user=owner.name,
                            project=name,
                            reason=f"first publish of pending trusted publisher {record.id}",
                        )
                    )
                except AlreadyExists:  # another exchange of this publisher, just now
                    project = directory.get_project(name)
            if project is None:
                raise _invalid_publisher(f"project {name!r} no longer exists")
            role = directory.get_role(project.id, owner.id)
            if record.pending and role != OWNER:
                self.remove(record.id, by=owner.name)
                raise ExchangeError(
                    "invalid-pending-publisher", "valid token, but project already exists"
                )
            refused = self._policy.mint_refusal(owner, project, role)
            if refused is not None:
                raise _invalid_publisher(f"its registrant cannot upload: {refused}")
            ids.append(project.id)
        if record.pending:
            self._publishers.activate_publisher(record.id)
        return ids

    def _unissue(self, token_id: str, why: str) -> None:
        """Revoke a token minted for a request that then failed (it was never handed out)."""
        try:
            self._records.revoke_token(
                token_id, event=event("revoked", token_id=token_id, reason=f"unissued: {why}")
            )
        except StoreError:
            log.exception("could not revoke the unissued token %s", token_id)


def _project_names(projects: Sequence[str]) -> list[str]:
    if isinstance(projects, str) or not projects:
        raise InvalidInput("name at least one project")
    wanted: list[str] = []
    for name in projects:
        bad = bad_project_name(name)
        if bad is not None:
            raise InvalidInput(bad)
        normalized = names.normalize(name)
        if normalized not in wanted:
            wanted.append(normalized)
    return wanted
