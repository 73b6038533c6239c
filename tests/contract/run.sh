#!/usr/bin/env bash
# Contract fuzzing: schemathesis against the OpenAPI document the running server
# serves (/api/v1/openapi.json). Short mode for CI: no 5xx, every response must
# match the document (status, content type, headers, body schema).
#   bash tests/contract/run.sh [max-examples]   (default 25 per operation)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
examples="${1:-25}"

SCHEMATHESIS_VERSION=4.32.5
cache="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/sessions-ci/schemathesis-$SCHEMATHESIS_VERSION"
if [[ ! -e "$cache/.ready" ]]; then
  rm -rf "$cache"
  python3 -m venv "$cache"
  "$cache/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  touch "$cache/.ready"
fi

cargo build --quiet --locked -p sessions-server
bin="$repo/target/debug/sessionsd"
work="$(mktemp -d)"
server=""
cleanup() { [[ -n "$server" ]] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export SESSIONS_DATABASE_URL="sqlite://$work/contract.db"
export SESSIONS_LISTEN="127.0.0.1:$port"
export SESSIONS_ADMIN_LISTEN="127.0.0.1:0"
export SESSIONS_LOG_FORMAT=json
# The fuzzer sends thousands of requests from one address.
export SESSIONS_RATE_LIMIT_REQUESTS=0
export SESSIONS_LOGIN_FAILURES_PER_USER=0

user_id="$("$bin" user add --username admin --name Admin --password contract-pw --role admin --role user 2>/dev/null | tail -n 1)"
"$bin" serve 2>"$work/server.log" &
server=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/api/v1/openapi.json" >/dev/null 2>&1 && break
  sleep 0.1
done
token="$(curl -fsS -X POST "http://127.0.0.1:$port/api/v1/login" -H 'content-type: application/json' \
  -d '{"user":"admin","password":"contract-pw"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["authToken"])')"
code="$(printf %s contract-pw | sha256sum | cut -d' ' -f1)"

# `Logout` (POST and GET) and `LogoutUser` (`{}` is the caller) would revoke the
# very token the run authenticates with.
"$cache/bin/schemathesis" run "http://127.0.0.1:$port/api/v1/openapi.json" \
  --header "X-User-Id: $user_id" \
  --header "X-Auth-Token: $token" \
  --header "x-2fa-code: $code" \
  --exclude-operation-id Logout \
  --exclude-operation-id Logout_get \
  --exclude-operation-id LogoutUser \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "$examples" \
  --seed 1 \
  --no-color

if grep -q '"level":"ERROR"' "$work/server.log"; then
  echo "contract: the server logged errors:" >&2
  grep '"level":"ERROR"' "$work/server.log" | head -n 20 >&2
  exit 1
fi
echo "contract: OK"
