#!/bin/sh
# A throwaway devpi-server with API tokens, end to end: user alice, index alice/dev, a token
# scoped to one project, a twine upload with it, then a refused one. Needs devpi-server,
# devpi-client, twine and pypitoken-core[devpi] in the current environment.
#
#     PORT=3141 sh quickstart.sh
set -eu
PORT=${PORT:-3141}
URL="http://127.0.0.1:$PORT"
WORK=$(mktemp -d)
chmod 700 "$WORK"
DEVPI="devpi --clientdir $WORK/client"

devpi-gen-secret --secretfile "$WORK/secret" >/dev/null
devpi-init --serverdir "$WORK/server" --no-root-pypi --root-passwd rootpw >/dev/null 2>&1
devpi-server --serverdir "$WORK/server" --secretfile "$WORK/secret" \
    --host 127.0.0.1 --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID"; rm -rf "$WORK"' EXIT
echo "waiting for devpi-server (its argon2 start-up takes a few seconds)..."
until curl -sf -H 'Accept: application/json' "$URL/+api" >/dev/null; do sleep 0.5; done

$DEVPI use "$URL" >/dev/null
$DEVPI user -c alice password=alicepw email=alice@example.com >/dev/null
$DEVPI login alice --password alicepw >/dev/null
$DEVPI index -c dev bases= volatile=True >/dev/null

TOKEN=$($DEVPI api-token-create --project hello-token --index alice/dev \
    --expires 1h --description quickstart | tail -n 1)
$DEVPI api-token-list

# A tiny wheel for project hello-token, written with the standard library only.
python3 - "$WORK" <<'PY'
import base64, hashlib, sys, zipfile
d = sys.argv[1]
files = {
    "hello_token/__init__.py": b"",
    "hello_token-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: hello-token\nVersion: 1.0\n",
    "hello_token-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: quickstart\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
def rec(p, b):
    h = base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()
    return f"{p},sha256={h},{len(b)}"
record = "\n".join([rec(p, b) for p, b in files.items()] + ["hello_token-1.0.dist-info/RECORD,,"]) + "\n"
files["hello_token-1.0.dist-info/RECORD"] = record.encode()
with zipfile.ZipFile(f"{d}/hello_token-1.0-py3-none-any.whl", "w") as z:
    for p, b in files.items():
        z.writestr(p, b)
PY

echo "upload with the token (twine, user __token__):"
twine upload --non-interactive --disable-progress-bar --repository-url "$URL/alice/dev/" \
    -u __token__ -p "$TOKEN" "$WORK/hello_token-1.0-py3-none-any.whl"
echo "the same token on another index is refused:"
$DEVPI index -c other bases= volatile=True >/dev/null
if twine upload --non-interactive --disable-progress-bar --repository-url "$URL/alice/other/" \
    -u __token__ -p "$TOKEN" "$WORK/hello_token-1.0-py3-none-any.whl"; then
    echo "unexpected: upload accepted" >&2
    exit 1
fi
echo "done"
