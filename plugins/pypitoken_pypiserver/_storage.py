"""pypiserver's package storage, with the ownership rules at the moment a file is stored.

The auther runs before pypiserver's handler, so it cannot know whether the request will
store anything: pypiserver ignores ``submit`` and ``verify``, discards ``doc_upload``,
refuses a bad file name, may fail to write. A project must be claimed only by a stored
file, so the claim is taken where pypiserver stores one: ``add_package`` of the backend in
``config.backend``, which every launch style goes through. Right before the write the
service decides (and takes a new name for the uploader); a failed write gives the name
back. Taking the claim before writing, atomically in the store, means two first uploads
of one name never both write: the second is refused before its file touches the disk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import BinaryIO

from pypiserver.backend import IBackend
from pypiserver.bottle_wrapper import HTTPError, request
from pypiserver.core import PkgFile

from pypitoken_core.exceptions import ValidationError
from pypitoken_core.service import Claim, TokenService

from ._auth import UPLOADER_KEY, Uploader, forbidden, project_of_file
from ._redact import redact

__all__ = ["OwnedStorage"]

log = logging.getLogger("pypitoken_pypiserver")


def _uploader() -> Uploader | None:
    """The current request's :class:`Uploader`, or None (none left, or no request)."""
    try:
        found = request.environ.get(UPLOADER_KEY)
    except RuntimeError:  # no request on this thread
        return None
    return found if isinstance(found, Uploader) else None


class OwnedStorage(IBackend):
    """pypiserver's backend, with :meth:`add_package` under the ownership rules.

    ``checked`` says pypiserver authenticates uploads (``update`` in ``-a``): then every
    stored file must come with the :class:`Uploader` the auther left, or it is refused.
    Otherwise uploads are anonymous and pass untouched. ``adopt_for`` is the user who
    adopts projects found with files but no owner (``--adopt-unowned``).
    """

    def __init__(
        self,
        backend: IBackend,
        service: Callable[[], TokenService],
        *,
        checked: bool,
        adopt_for: str | None = None,
    ) -> None:
        self._backend = backend
        self._service = service
        self._checked = checked
        self._adopt_for = adopt_for

    def __repr__(self) -> str:
        return f"<OwnedStorage of {self._backend!r}>"

    def has_files(self, project: str) -> bool:
        """Whether pypiserver serves any file of ``project`` (stops at the first one)."""
        return next(iter(self._backend.find_project_packages(project)), None) is not None

    def add_package(self, filename: str, stream: BinaryIO) -> None:
        uploader = _uploader()
        if uploader is None:
            if self._checked:
                raise forbidden("Forbidden", "this upload was not checked")
            self._backend.add_package(filename, stream)
            return
        project = project_of_file(filename)
        if project != uploader.project:
            raise forbidden("Forbidden", f"file {filename!r} is not of the checked project")
        label = "Forbidden" if uploader.identity.token_id is None else "Invalid API Token"
        service = self._service()

        def has_files() -> bool:  # a directory walk: only for new or unowned projects
            return self.has_files(uploader.project)

        try:
            claim = service.claim_upload(
                uploader.identity, project, has_files=has_files, adopt_for=self._adopt_for
            )
        except ValidationError as exc:
            raise forbidden(label, exc) from None
        except HTTPError:
            raise
        except Exception as exc:
            log.error(
                "pypitoken: %s while claiming %r: %s", type(exc).__name__, project, redact(str(exc))
            )
            raise forbidden(label, "the server could not check this upload") from None
        try:
            self._backend.add_package(filename, stream)
        except BaseException:
            if claim is not None:
                self._release(service, claim, has_files)
            raise
        if claim is not None:
            service.confirm_claim(claim)

    @staticmethod
    def _release(service: TokenService, claim: Claim, has_files: Callable[[], bool]) -> None:
        try:
            service.release_claim(claim, has_files=has_files)
        except Exception as exc:
            # The write's own error is what the client sees; this one goes to the admin.
            log.error(
                "pypitoken: could not release the claim on %r by %s after a failed write "
                "(%s: %s); check it with `pypitoken project list`",
                claim.project,
                claim.user_name,
                type(exc).__name__,
                redact(str(exc)),
            )

    # Everything else is pypiserver's own.

    def get_all_packages(self) -> Iterable[PkgFile]:
        return self._backend.get_all_packages()

    def find_project_packages(self, project: str) -> Iterable[PkgFile]:
        return self._backend.find_project_packages(project)

    def find_version(self, name: str, version: str) -> Iterable[PkgFile]:
        return self._backend.find_version(name, version)

    def get_projects(self) -> Iterable[str]:
        return self._backend.get_projects()

    def exists(self, filename: str) -> bool:
        return self._backend.exists(filename)

    def digest(self, pkg: PkgFile) -> str | None:
        return self._backend.digest(pkg)

    def package_count(self) -> int:
        return self._backend.package_count()

    def remove_package(self, pkg: PkgFile) -> None:
        self._backend.remove_package(pkg)
