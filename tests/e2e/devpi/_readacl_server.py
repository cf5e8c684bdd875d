"""devpi-server's own ``main`` plus a tiny read-ACL plugin, for the read-protection test.

Stock devpi-server lets everyone read packages; plugins (devpi-lockdown style) restrict
``pkg_read`` through ``devpiserver_stage_get_principals_for_pkg_read``. This one adds the
index option ``acl_pkg_read`` (default: anonymous), as devpi-server's own tests do.
With ``--without-pypitoken`` the pypitoken_devpi plugin is left out: a stock server.
"""

from __future__ import annotations

import sys

from devpi_server.config import get_pluginmanager, hookimpl
from devpi_server.main import CommandRunner, _main
from devpi_server.model import ACLList


class ReadACL:
    @hookimpl
    def devpiserver_indexconfig_defaults(self, index_type: str) -> dict[str, ACLList]:
        return {"acl_pkg_read": ACLList([":ANONYMOUS:"])}

    @hookimpl
    def devpiserver_stage_get_principals_for_pkg_read(self, ixconfig: dict) -> list[str] | None:
        return ixconfig.get("acl_pkg_read")


def main() -> int:
    pm = get_pluginmanager()
    pm.register(ReadACL(), "test-readacl")
    argv = list(sys.argv)
    if "--without-pypitoken" in argv:
        # Stock devpi-server (plus the read ACL) for comparisons: our entry point is loaded
        # by get_pluginmanager(); blocking its name unregisters it.
        argv.remove("--without-pypitoken")
        pm.set_blocked("pypitoken_devpi")
    with CommandRunner(pluginmanager=pm) as runner:
        runner.return_code = _main(pm, argv=argv)
    return runner.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
