"""Trusted publishers: registering them, and minting a token for a verified CI run.

The service's half of trusted publishing (the verification and the HTTP semantics are in
:mod:`pypitoken_core.oidc`). A publisher acts on behalf of the user who registered it:
its tokens are that user's tokens, narrowed to the publisher's projects (and index, on
devpi), to uploading, and to a short window, and they carry pypi.org's trusted-publisher
caveat naming it. So a publisher can never do more than its registrant could with a
token of their own, and the ownership rules apply as to any token.

The exchange reads top to bottom: find the candidates (one indexed read per lookup key
the token's claims give), match them, refuse a ``jti`` already taken (a read), check the
projects (a pending publisher's is claimed by its first upload), mint, and only then take
the ``jti`` for good (an atomic insert-if-absent). Taking it last means that a failure
anywhere before leaves the CI token usable for a retry, and that nothing but success
follows once it is taken: uv retries a 5xx with the same token. Should two requests race
with one token, the loser's freshly minted token (never handed out) is revoked.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from . import names
from ._audit import event
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
        :meth:`TokenService.add_publisher`): a new one, or the same publisher (kind,
        configuration, index and user) with the projects added, as pypi.org attaches one
        publisher to several projects."""
        publisher = publisher_kind(kind).from_fields(fields)
        wanted = _project_names(projects)
        missing: list[str] = []
        directory = self._directory
        if directory is not None:
            if index is not None:
                raise InvalidInput("an index is named only on devpi")
            found = {name: directory.get_project(name) for name in wanted}
            missing = [name for name, project in found.items() if project is None]
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
        twins = [
            r
            for r in self._publishers.find_publishers(publisher.lookup_key)
            if (r.kind, r.issuer, r.config, r.index)
            == (publisher.kind, publisher.issuer, publisher.config, index)
        ]
        same = [r for r in twins if r.added_by == user.id]
        if twins and not same:
            other = self._records.get_user_by_id(twins[0].added_by)
            raise AlreadyExists(
                f"publisher {twins[0].id} is the same workflow, registered by"
                f" {other.name if other else 'a removed user'}: a publisher uploads on behalf"
                " of one user, who adds the projects to it"
            )
        shown = f"{publisher.describe()}" + (f" (pending: {', '.join(missing)})" if missing else "")
        if same:
            record = same[0]
            added = [name for name in wanted if name not in record.projects]
            projects_now = record.projects + tuple(added)
            pending_now = record.pending + tuple(n for n in missing if n in added)
            if added:
                self._publishers.set_publisher_projects(record.id, projects_now, pending_now)
                self._records.add_event(
                    event(
                        "publisher_added",
                        user=user.name,
                        project=added[0],
                        reason=f"{record.id}: {', '.join(added)} added; {shown}",
                    )
                )
            return dataclasses.replace(record, projects=projects_now, pending=pending_now)
        record = PublisherRecord(
            id=str(uuid.uuid4()),
            kind=publisher.kind,
            issuer=publisher.issuer,
            config=publisher.config,
            lookup_key=publisher.lookup_key,
            projects=tuple(wanted),
            index=index,
            pending=tuple(missing),
            added_by=user.id,
            created=int(time.time()),
        )
        self._publishers.add_publisher(
            record,
            event=event(
                "publisher_added", user=user.name, project=wanted[0], reason=f"{record.id}: {shown}"
            ),
        )
        return record

    def _default_user(self, directory: Directory, found: Mapping[str, Project | None]) -> User:
        """Without a user named: the owner of the one project named, if it exists."""
        projects = [p for p in found.values() if p is not None]
        owners = [
            name
            for project in projects[:1]
            for name, role in directory.list_roles(project.id)
            if role == OWNER
        ]
        if len(found) != 1 or not owners:
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
        project_names, project_ids = self._projects(record, owner)
        run = publisher.run_details(claims)
        shown_run = ", ".join(f"{k}={v}" for k, v in run.items())
        raw, minted = issue(
            self._records,
            self._secret,
            owner,
            domain=self._domain,
            prefix=self._prefix,
            now=now,
            projects=project_names,
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
        # The most specific (e.g. naming the job's environment) wins. Two as specific are
        # two users' (one publisher per user and workflow): which one the job speaks for
        # is not for the index to guess.
        top = max(p.specificity for _, p in matched)
        best = [(r, p) for r, p in matched if p.specificity == top]
        if len(best) > 1:
            raise _invalid_publisher(
                "it matches several publishers equally ("
                + ", ".join(r.id for r, _ in best)
                + "): make one more specific (an environment, an owner id) or remove one"
            )
        return best[0]

    def _projects(self, record: PublisherRecord, owner: User) -> tuple[list[str], list[str]]:
        """The names and ids of the projects the publisher's token is for.

        A pending project (named before it existed) is not created here: the token names
        it, and its first upload claims it for the registrant by the index's usual rules
        (so a name the index holds files of but nobody owns stays refused). Once it exists
        with the registrant as its owner it is pending no more; if someone else took the
        name, the publisher loses it. A project the registrant can no longer upload to is
        left out; if none is left, the exchange is refused with the reasons.
        """
        directory = self._directory
        if directory is None:
            return list(record.projects), []
        names: list[str] = []
        ids: list[str] = []
        reasons: list[str] = []
        taken: list[str] = []
        created: list[str] = []
        for name in record.projects:
            project = directory.get_project(name)
            if project is None:
                if name in record.pending:
                    names.append(name)
                else:
                    reasons.append(f"project {name!r} no longer exists")
                continue
            role = directory.get_role(project.id, owner.id)
            if name in record.pending:
                if role != OWNER:
                    taken.append(name)
                    continue
                created.append(name)
            refused = self._policy.mint_refusal(owner, project, role)
            if refused is not None:
                reasons.append(f"its registrant cannot upload: {refused}")
                continue
            names.append(name)
            ids.append(project.id)
        if taken or created:
            self._settle(record, taken, created, owner)
        if not names:
            if taken:
                raise ExchangeError(
                    "invalid-pending-publisher", "valid token, but project already exists"
                )
            raise _invalid_publisher("; ".join(reasons))
        # The id caveat holds for every use or none: with a project not created yet (no id
        # to check against), the names alone scope the token.
        return names, ids if len(ids) == len(names) else []

    def _settle(
        self, record: PublisherRecord, taken: list[str], created: list[str], owner: User
    ) -> None:
        """Pending projects now created (by the registrant: pending no more) or taken by
        someone else (dropped; the publisher goes with its last project)."""
        projects = tuple(n for n in record.projects if n not in taken)
        pending = tuple(n for n in record.pending if n not in taken and n not in created)
        if not projects:
            self.remove(record.id, by=owner.name)
        else:
            self._publishers.set_publisher_projects(record.id, projects, pending)

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
