#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 60), two at a time,
# and prints the executions of each; a crash stops its target with the input
# saved under fuzz/artifacts/<target>/.
#   bash fuzz/run.sh [SECONDS]
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain
# accept them (no other toolchain can be fetched here).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz@0.13.2
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
logs="$(mktemp -d)"
run() {
  local target="$1" dict="$2"
  cargo fuzz run -O "$target" -- -max_total_time="$seconds" ${dict:+-dict="$dict"} \
    >"$logs/$target.log" 2>&1
}
status=0
pair() {
  run "$1" "$2" & local first=$!
  run "$3" "$4" & local second=$!
  wait "$first" || status=1
  wait "$second" || status=1
}
pair rest_params dict/rest.dict listing_query dict/rest.dict
pair user_agent dict/user_agent.dict proto_roundtrip ""
run grpc_requests "" || status=1
for target in rest_params listing_query user_agent proto_roundtrip grpc_requests; do
  runs="$(grep -Eo 'Done [0-9]+ runs' "$logs/$target.log" || echo 'no summary (crashed?)')"
  echo "fuzz: $target: $runs in ${seconds} s"
done
exit "$status"
