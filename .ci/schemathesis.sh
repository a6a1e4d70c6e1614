#!/usr/bin/env bash
# Proves that `/openapi.json` is exactly as strict as the server: runs Schemathesis against
# `orgway demo` (the gateway in front of every dialect's simulator, on loopback) with the checks
# of .ci/schemathesis.toml, and fails on any of their failures. Bounded: a few minutes on two
# cores. Run from anywhere; .ci/run calls it after the tests. Arguments are passed on to
# `st run` (e.g. `--seed N` to repeat a run, `--report har` to see every exchange).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

SCHEMATHESIS_VERSION=4.32.5
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac

# Schemathesis in a virtual environment of its own, so its dependencies meet no other tool's.
venv="$target/schemathesis-venv"
if ! "$venv/bin/st" --version 2>/dev/null | grep -qx "st, version $SCHEMATHESIS_VERSION"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet -p orgway --bin orgway
orgway="$target/debug/orgway"

work="$(mktemp -d)"
demo_pid=""
cleanup() {
  if [ -n "$demo_pid" ]; then
    kill "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Port 0: the system picks a free port, and the demo prints the address it got.
"$orgway" demo --listen 127.0.0.1:0 --log-format json >"$work/demo.out" 2>"$work/demo.log" &
demo_pid=$!
base=""
for _ in $(seq 1 100); do
  base="$(sed -n 's|^orgway demo: gateway on \(http://[0-9.:]*\)$|\1|p' "$work/demo.out")"
  if [ -n "$base" ] && python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=2)' "$base" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$demo_pid" 2>/dev/null; then
    echo "schemathesis: orgway demo exited" >&2
    cat "$work/demo.out" "$work/demo.log" >&2
    exit 1
  fi
  base=""
  sleep 0.2
done
if [ -z "$base" ]; then
  echo "schemathesis: orgway demo did not come up" >&2
  exit 1
fi

# The config, plus path parameters drawn from the demo itself (read from it, not kept here):
# random org references are all 404, and a route refuses bad input in order (org, capability,
# query, body), so a query is only read for an org whose backend serves the route. Each route
# some backend serves gets one such org (DELETE gets each backend's last org, so the others live
# through the run); the other routes, and the fuzzing of every route, draw from all of them.
cp .ci/schemathesis.toml "$work/schemathesis.toml"
# Failing cases are kept beside the venv (for `st replay`), not in the work tree.
printf '\n[cache]\ndirectory = "%s"\n' "$target/schemathesis-cache" >>"$work/schemathesis.toml"
# The demo's development token (printed on the line after its heading): every scope, every org.
token="$(sed -n '/^DEVELOPMENT TOKEN/{n;s/^ *//;p;}' "$work/demo.out")"
if [ -z "$token" ]; then
  echo "schemathesis: orgway demo printed no development token" >&2
  exit 1
fi
export ORGWAY_TOKEN="$token"
python3 .ci/schemathesis_params.py "$base" >>"$work/schemathesis.toml"

echo "schemathesis $SCHEMATHESIS_VERSION against $base/openapi.json"
status=0
# From the temporary folder: Hypothesis keeps a folder of its own in the current one.
(cd "$work" && SCHEMATHESIS_HOOKS="$root/.ci/schemathesis_hooks.py" \
  "$venv/bin/st" --config-file "$work/schemathesis.toml" --no-color run "$base/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,positive_data_acceptance,negative_data_rejection \
  "$@") ||
  status=$?
if [ "$status" -ne 0 ]; then
  echo "schemathesis failed (exit $status); the gateway's last warnings:" >&2
  grep -E '"level":"(WARN|ERROR)"' "$work/demo.log" | tail -n 20 >&2 || true
fi
exit "$status"
