"""Whose files a token's request makes devpi store or delete.

devpi keeps a release file, a documentation zip or a tox result at
``{user}/{index}/+f/{hash}/{file name}``: the key names no project, the file's record
names the project that stored it last, and an upload is checked only for a file name that
*starts with* the form's ``name`` (``views.py: abort_if_invalid_filename``). So a token
scoped to ``mine`` could store ``minecraft-1.0-py3-none-any.whl`` under ``mine`` (the
victim's bytes re-mark the victim's file as ``mine``'s, other bytes then delete it),
delete that file again, or store ``mine`` documentation for version ``tools-1.0`` as
``mine-tools-1.0.doc.zip``, the documentation of ``mine-tools``.

For a token request, every file devpi would store or delete on a stage must be the checked
project's:

- its name, split by devpi's own ``splitbasename`` (for a tox result, the name of the
  release file it belongs to), names exactly that project, and in an upload form or a
  push, exactly that version;
- a file already stored under the key devpi would write (which it would re-mark) or that
  it would delete is recorded by devpi as that project's;
- a file devpi would delete is linked from no other project. devpi shares one stored file
  between projects that stored the same bytes under the same name, and only a project
  whose normalised name starts the file's normalised name can have stored it, so the
  projects to look at are the few whose names are prefixes of the file's.

The last two catch what the first cannot: a name devpi itself splits as another project's
(``mine-1.0-2.0.tar.gz`` of a project ``mine-1.0`` splits as mine ``1.0-2.0``). Paths
covered: ``file_upload`` and ``doc_upload`` forms, internal pushes (the target stage),
tox results (``POST +f/...``), and deletions of a file (``+f``/``+e``), of a version and
of a project. Mirrors are left alone: their files are named upstream and no token stores
one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from devpi_common.metadata import splitbasename
from devpi_common.validation import is_valid_archive_name, normalize_name
from devpi_server.filestore import FileEntry, get_hashes, make_splitdir

from ._request import FILE_ACTIONS, IndexWrite, is_index_write, read_index_write

__all__ = ["FILE_ROUTES", "foreign_file"]

#: devpi's routes of stored files: ``POST`` stores a tox result, ``DELETE`` deletes.
FILE_ROUTES = frozenset({"/{user}/{index}/+f/{relpath:.*}", "/{user}/{index}/+e/{relpath:.*}"})
_PROJECT_ROUTE = "/{user}/{index}/{project}"
_VERSION_ROUTE = "/{user}/{index}/{project}/{version}"


def foreign_file(request: Any, xom: Any, stage: Any, project: str) -> str | None:
    """Why ``request`` would make devpi store or delete, on ``stage``, a file that is not
    ``project``'s; None if every such file is, or there is none.

    Reads what devpi would read to find those files: the uploaded file (hashed, as devpi
    hashes it, to find its key), the links of the versions involved, the files' records,
    and the links of the projects whose names are prefixes of a file devpi would delete.
    """
    if not hasattr(stage, "store_releasefile"):
        return None  # a mirror
    files = _Files(xom, stage, project)
    method = request.method
    route = getattr(request.matched_route, "name", None)
    if is_index_write(request):
        write = read_index_write(request)
        if write.kind == "submit" and write.action in FILE_ACTIONS and write.version:
            return files.submitted(request, write, write.version)
        if write.kind == "push" and write.target == stage.name and write.version:
            return files.pushed(request.context.stage, write.version)
        return None
    if route in FILE_ROUTES and method == "POST":
        return files.toxresult(request.path_info.strip("/"))
    if method != "DELETE":
        return None
    if route in FILE_ROUTES:
        reasons = files.entry_deleted(request.path_info.strip("/"))
    elif route == _VERSION_ROUTE:
        reasons = files.versions_deleted([request.context.version])
    elif route == _PROJECT_ROUTE:
        reasons = files.versions_deleted(sorted(stage.list_versions_perstage(project)))
    else:
        return None
    return next(reasons, None)


def _named(basename: str, project: str, version: str | None = None) -> str | None:
    """Why devpi's split of ``basename`` is not ``project`` (and ``version``), or None."""
    try:
        name, found, _ = splitbasename(basename, checkarch=False)
    except ValueError:
        name, found = "", ""
    if not name:
        return f"devpi cannot tell the project of file {basename!r}"
    if normalize_name(name) != project:
        return f"file {basename!r} is a file of project {normalize_name(name)!r}, not {project!r}"
    # wheel names escape a version's other characters to "_" (PEP 427), as devpi knows
    if version is not None and found not in (version, re.sub(r"[^\w\d.]+", "_", version)):
        return f"file {basename!r} is version {found!r}, not {version!r}"
    return None


def _link_name(link: Any) -> str:
    """The name a linked file's project is read from: a tox result's is its release file's."""
    if link.rel == "toxresult" and link.for_entrypath:
        return str(link.for_entrypath).rsplit("/", 1)[-1]
    return str(link.basename)


class _Files:
    """The checks of one request on one stage, for the token's ``project``."""

    def __init__(self, xom: Any, stage: Any, project: str) -> None:
        self.xom = xom
        self.stage = stage
        self.project = project
        self._linked: dict[str, set[str]] = {}  # project -> the files its links name

    # -- what devpi knows of a stored file ----------------------------------------------------

    def _links(self, project: str, version: str, stage: Any = None) -> list[Any]:
        """The links of ``project`` ``version`` (none for a version not registered)."""
        stage = stage or self.stage
        try:
            return list(stage.get_linkstore_perstage(project, version).get_links())
        except stage.MissesRegistration:
            return []

    def _stored_at(self, hash_spec: str, basename: str) -> Any:
        """The file devpi keeps where ``filestore.store`` would put ``basename`` with this
        content, or None."""
        hashdir_a, hashdir_b = make_splitdir(hash_spec)
        key = self.xom.keyfs.STAGEFILE(
            user=self.stage.username,
            index=self.stage.index,
            hashdir_a=hashdir_a,
            hashdir_b=hashdir_b,
            filename=basename,
        )
        entry = FileEntry(key)
        return entry if entry.meta else None

    def _recorded(self, entry: Any) -> str | None:
        """Why the stored file ``entry`` (or None) is not recorded as the project's."""
        owner = None if entry is None else entry.project
        if owner is None or normalize_name(owner) == self.project:
            return None
        return f"file {entry.basename!r} is stored for project {normalize_name(owner)!r}"

    def _shared(self, entry: Any) -> str | None:
        """Why deleting the stored file ``entry`` would delete another project's file."""
        name = normalize_name(entry.basename)
        projects = self.stage.list_projects_perstage()
        for end in range(1, len(name) + 1):
            other = name[:end]
            if other != self.project and other in projects:
                if entry.relpath in self._linked_by(other):
                    return f"file {entry.basename!r} is also a file of project {other!r}"
        return None

    def _linked_by(self, project: str) -> set[str]:
        if project not in self._linked:
            self._linked[project] = {
                str(link.relpath)
                for version in self.stage.list_versions_perstage(project)
                for link in self._links(project, version)
            }
        return self._linked[project]

    def _deleted(self, name: str, entry: Any) -> str | None:
        """Why devpi may not delete ``entry``, whose project is read from ``name``."""
        return _named(name, self.project) or self._recorded(entry) or self._shared(entry)

    # -- the paths ------------------------------------------------------------------------------

    def submitted(self, request: Any, write: IndexWrite, version: str) -> str | None:
        """An upload form's file: ``content`` under its own name, or documentation as
        devpi names it (``store_doczip``: ``{project}-{version}.doc.zip``)."""
        if write.action == "file_upload":
            basename, rel = write.filename, "releasefile"
            if basename is None:
                return None  # devpi refuses a form without a file
            if "/" in basename or "\\" in basename or not is_valid_archive_name(basename):
                return f"{basename!r} is not a valid archive name"
        else:
            basename, rel = f"{self.project}-{version}.doc.zip", "doczip"
        hashes = get_hashes(request.POST["content"].file)
        return _named(basename, self.project, version) or self._stored(
            hashes.get_default_spec(), basename, rel, version
        )

    def _stored(self, hash_spec: str, basename: str, rel: str, version: str) -> str | None:
        """A file devpi stores as the project's ``version``: the key it writes must hold
        none of another project's, and the file it replaces (the version's link of the
        same name, on a volatile index) must be the project's alone."""
        reason = self._recorded(self._stored_at(hash_spec, basename))
        for link in self._links(self.project, version):
            if reason is None and link.rel == rel and link.basename == basename:
                reason = self._recorded(link.entry) or self._shared(link.entry)
        return reason

    def pushed(self, source: Any, version: str) -> str | None:
        """An internal push to this stage: each release file and documentation zip of the
        version on ``source``, stored here as ``_push_links`` stores it (release files
        under their own names, documentation as ``store_doczip`` names it)."""
        for link in self._links(self.project, version, source):
            if link.rel == "releasefile":
                basename = str(link.basename)
            elif link.rel == "doczip":
                basename = f"{self.project}-{version}.doc.zip"
            else:
                continue  # tox results follow their release file, under names of its own
            hash_spec = link.entry.hashes.get_default_spec()
            reason = _named(basename, self.project, version) or self._stored(
                hash_spec, basename, link.rel, version
            )
            if reason is not None:
                return reason
        return None

    def toxresult(self, relpath: str) -> str | None:
        """A tox result, stored beside the release file it is posted to, named after it."""
        link = self.stage.get_link_from_entrypath(relpath)
        if link is None:
            return None  # devpi answers 404
        return _named(_link_name(link), self.project) or self._recorded(link.entry)

    def entry_deleted(self, relpath: str) -> Iterator[str]:
        """``DELETE +f/...``: ``del_entry`` deletes the file and every link of its version
        with the same name (and their tox results)."""
        entry = self.xom.filestore.get_file_entry(relpath)
        if entry is None or not entry.meta:
            return  # devpi answers 404 or 410
        link = self.stage.get_link_from_entrypath(relpath)
        reason = self._deleted(entry.basename if link is None else _link_name(link), entry)
        if reason is not None:
            yield reason
        if entry.project and entry.version:
            for other in self._links(normalize_name(entry.project), entry.version):
                if other.basename == entry.basename:
                    yield from self._link_reasons([other])

    def versions_deleted(self, versions: Iterable[str]) -> Iterator[str]:
        """``DELETE`` of a version or a whole project: every file linked from them goes."""
        for version in versions:
            yield from self._link_reasons(self._links(self.project, version))

    def _link_reasons(self, links: Iterable[Any]) -> Iterator[str]:
        for link in links:
            reason = self._deleted(_link_name(link), link.entry)
            if reason is not None:
                yield reason
