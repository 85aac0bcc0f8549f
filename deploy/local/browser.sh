#!/usr/bin/env bash
# Debian's chromium, for the review page's tests in a real headless browser (driven by
# Playwright from pytest with executable_path=/usr/bin/chromium; never `playwright
# install`, which downloads a browser build this machine cannot fetch). Installs only
# when missing; a no-op on machines that already have it.
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "[browser] no apt-get: install chromium yourself to run the browser tests" >&2
  exit 0
fi
sudo=()
[[ $EUID -eq 0 ]] || sudo=(sudo)
echo "[browser] installing Debian's chromium (apt-get)" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  chromium fonts-dejavu-core >/dev/null
