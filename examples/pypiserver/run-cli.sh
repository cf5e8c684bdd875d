#!/bin/sh
# A private index on http://127.0.0.1:$PORT: uploads and reads need a token.
# Creates user alice on first run and prints a new token for her, then runs the server.
#
#     DATA=./pypiserver-data PORT=8080 sh run-cli.sh
set -eu
DATA=${DATA:-./pypiserver-data}
PORT=${PORT:-8080}
mkdir -p "$DATA/packages"
DATA=$(cd "$DATA" && pwd)
# Read by both `pypitoken` and `pypitoken-pypiserver` (same as --db / --token-db).
export PYPITOKEN_DB="sqlite:///$DATA/pypitoken.sqlite3"

pypitoken user list | grep -q '^alice	' || pypitoken user add alice
echo "token for alice (shown once):"
pypitoken token create --user alice --description "run-cli.sh example"

exec pypitoken-pypiserver run -i 127.0.0.1 -p "$PORT" -a update,download,list \
    --disable-fallback --ownership pypi "$DATA/packages"
