#!/usr/bin/env bash
# Installs Debian's Chromium for the console's browser test (Playwright's own
# browser download cannot reach its servers from here). Needs root or sudo.
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi; }
echo "install-chromium: apt-get install chromium" >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
