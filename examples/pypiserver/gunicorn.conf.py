"""gunicorn settings for pypiserver with API tokens.

    gunicorn -c gunicorn.conf.py 'pypitoken_pypiserver:make_app(root="/srv/packages",
        token_db="sqlite:////srv/pypitoken.sqlite3", authenticate=["update", "download", "list"])'

Every worker opens its own connection to the token store (also with ``preload_app``), so
a revocation is seen by all workers from the next request on. Use SQLite on a local disk
for one host, PostgreSQL for several.
"""

import os

bind = os.environ.get("BIND", "127.0.0.1:8080")
workers = int(os.environ.get("WORKERS", "2"))
# The access log names the worker (%(p)s); it never contains the Authorization header.
accesslog = "-"
access_log_format = '%(p)s %(h)s "%(r)s" %(s)s %(b)s'
