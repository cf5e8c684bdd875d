"""The deployment of ``examples/pypiserver/deploy/``, started as written, in a sandbox.

The systemd unit's ``ExecStartPre`` and ``ExecStart`` run with the environment the unit
gives them, as a user who owns the state directory and nothing else; nginx (the Debian
package) runs ``nginx-pypi.conf`` unchanged in front of it, with a certificate for
``pypi.example.com`` from a throwaway CA (trustme). Everything runs in a
:class:`~tests.sandbox.Sandbox`: ports 80, 443 and 8080, ``/opt/pypitoken`` (the test
venv), ``/var/lib/pypitoken``, ``/etc/ssl`` and the name ``pypi.example.com`` are the
sandbox's own.

There is no systemd in the sandbox (nor on CI): the unit is checked with
``systemd-analyze verify`` and its command lines are run as systemd would run them (the
variables below); systemd's own handling (``User=`` switching, the sandboxing options,
``Restart=``) is not exercised. The service user is ``nobody`` standing in for
``pypitoken``, which the docs create with ``useradd``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import trustme

from tests.e2e.procs import Server
from tests.sandbox import Sandbox, sandbox

__all__ = ["DEPLOY", "Deployment", "deployment", "read_unit"]

DEPLOY = Path(__file__).resolve().parents[2] / "examples" / "pypiserver" / "deploy"
UNIT = DEPLOY / "pypitoken-pypiserver.service"
SITE = DEPLOY / "nginx-pypi.conf"
HOST = "pypi.example.com"
NOBODY = "65534"
#: What systemd 252 puts in a service's environment besides ``Environment=``: its default
#: PATH, and the variables of ``User=`` and ``StateDirectory=`` (systemd.exec(5)).
SYSTEMD_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "USER": "pypitoken",
    "LOGNAME": "pypitoken",
    "HOME": "/var/lib/pypitoken",
    "SHELL": "/usr/sbin/nologin",
    "STATE_DIRECTORY": "/var/lib/pypitoken",
}


def read_unit(path: Path = UNIT) -> list[tuple[str, str, str]]:
    """``(section, key, value)`` for every setting of a unit file, in order (keys repeat),
    with backslash-continued lines joined as systemd joins them."""
    settings: list[tuple[str, str, str]] = []
    section = ""
    pending = ""
    for raw in path.read_text().splitlines():
        line = pending + raw.strip() if pending else raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.append((section, key.strip(), value.strip()))
    return settings


def _command_line(value: str, env: dict[str, str]) -> list[str]:
    """An ``ExecStart=`` value as argv: systemd's quoting (shell-like) and ``${VAR}``."""
    argv = shlex.split(value.lstrip("-@:+!"))
    for name, val in env.items():
        argv = [word.replace("${" + name + "}", val) for word in argv]
    return argv


@dataclass
class Deployment:
    """The running deployment: the sandbox, the CA clients must trust, the unit's env."""

    box: Sandbox
    ca: Path
    env: dict[str, str]
    server: Server
    nginx: Server
    state: Path

    def as_service_user(self, argv: list[str]) -> list[str]:
        """``argv`` as the service's user, the way an admin runs the ``pypitoken`` CLI."""
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]

    def client_env(self) -> dict[str, str]:
        """What a client machine that trusts the site's CA has: twine (requests) reads
        ``REQUESTS_CA_BUNDLE``, pip ``PIP_CERT``."""
        return {"REQUESTS_CA_BUNDLE": str(self.ca), "PIP_CERT": str(self.ca)}


def _nginx_main(work: Path) -> Path:
    """A main nginx.conf for a foreground nginx whose files all live in ``work``; the
    site file is included unchanged, as Debian's nginx.conf includes sites-enabled/."""
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    main = work / "nginx.conf"
    main.write_text(
        f"daemon off;\nworker_processes 1;\npid {work}/nginx.pid;\nerror_log stderr notice;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        f"    access_log {work}/access.log;\n"
        f"    client_body_temp_path {work}/body;\n    proxy_temp_path {work}/proxy;\n"
        f"    fastcgi_temp_path {work}/fastcgi;\n    uwsgi_temp_path {work}/uwsgi;\n"
        f"    scgi_temp_path {work}/scgi;\n"
        f"    include {SITE};\n"
        "}\n"
    )
    return main


@contextlib.contextmanager
def deployment(work: Path) -> Iterator[Deployment]:
    """Start the unit's server and nginx in a new sandbox; stop both (by PID) at the end."""
    with sandbox("nginx", "systemd-analyze", "setpriv", "curl") as box:
        work.mkdir(parents=True, exist_ok=True)
        opt = work / "opt"
        opt.mkdir()
        (opt / "pypitoken").symlink_to(Path(sys.prefix))  # the venv the docs install
        var_lib = work / "var-lib"
        state = var_lib / "pypitoken"
        state.mkdir(parents=True)
        state.chmod(0o750)
        os.chown(state, int(NOBODY), int(NOBODY))  # StateDirectory= makes it the User='s
        var_lib.chmod(0o755)
        ssl = work / "ssl"
        (ssl / "certs").mkdir(parents=True)
        (ssl / "private").mkdir()
        ca = trustme.CA()
        cert = ca.issue_cert(HOST)
        cert.cert_chain_pems[0].write_to_path(str(ssl / "certs" / f"{HOST}.pem"))
        cert.private_key_pem.write_to_path(str(ssl / "private" / f"{HOST}.key"))
        ca_file = work / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        hosts = work / "hosts"
        hosts.write_text(f"127.0.0.1 localhost\n127.0.0.1 {HOST}\n")
        box.bind(opt, "/opt")
        box.bind(var_lib, "/var/lib")
        box.bind(ssl, "/etc/ssl")
        box.bind(hosts, "/etc/hosts")

        settings = read_unit()
        env = dict(SYSTEMD_ENV)
        for section, key, value in settings:
            if section == "Service" and key == "Environment":
                name, _, val = value.partition("=")
                env[name] = val
        service = {key: value for section, key, value in settings if section == "Service"}
        deploy = Deployment(box, ca_file, env, None, None, state)  # type: ignore[arg-type]
        pre = box.run(deploy.as_service_user(_command_line(service["ExecStartPre"], env)),
                      env=env, inherit_env=False)  # fmt: skip
        assert pre.returncode == 0, pre.stderr
        argv = deploy.as_service_user(_command_line(service["ExecStart"], env))
        with box.serve(argv, ready_url="http://127.0.0.1:8080/health", log=work / "server.log",
                       env=env, inherit_env=False, cwd=Path("/")) as server:  # fmt: skip
            deploy.server = server
            main = _nginx_main(work / "nginx")
            with box.serve(["nginx", "-c", str(main)], ready_url=f"https://{HOST}/health",
                           log=work / "nginx.log", cacert=ca_file) as nginx:  # fmt: skip
                deploy.nginx = nginx
                yield deploy
