"""pypiserver with API tokens as a WSGI ``application``, for waitress, gunicorn or mod_wsgi.

    waitress-serve --listen 127.0.0.1:8080 wsgi_app:application
    gunicorn -c gunicorn.conf.py wsgi_app:application

Run from this directory (or put it on ``PYTHONPATH``). Configured by the environment:

    PYPISERVER_PACKAGES      package directory (default ./packages)
    PYPISERVER_AUTHENTICATE  what needs credentials, comma-separated (default update)
    PYPISERVER_PASSWORDS     optional htpasswd file for password users beside tokens
    PYPITOKEN_DB             token store URL (default sqlite ./pypitoken.sqlite3)
"""

import os

from pypitoken_pypiserver import make_app

application = make_app(
    roots=[os.environ.get("PYPISERVER_PACKAGES", "./packages")],
    authenticate=os.environ.get("PYPISERVER_AUTHENTICATE", "update").split(","),
    password_file=os.environ.get("PYPISERVER_PASSWORDS") or None,
    disable_fallback=True,
    token_db=os.environ.get("PYPITOKEN_DB"),
)
