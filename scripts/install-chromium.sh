#!/usr/bin/env bash
# Installs the browsers from Debian's packages when missing (needs root; otherwise says what to run):
# - chromium-headless-shell: what the WhatsApp bridge runs, about half the memory of the full
#   browser (bench/bridge_memory.py); when it cannot be installed, the bridge falls back to chromium;
# - chromium: the full browser, for the interface tests (tests/chat, tests/admin) and the fallback.
# Idempotent: does nothing when both are there.
set -uo pipefail
want=()
command -v chromium >/dev/null 2>&1 || want+=(chromium)
[ -x /usr/lib/chromium/chromium-headless-shell ] || command -v chromium-headless-shell >/dev/null 2>&1 \
  || want+=(chromium-headless-shell)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing: ${want[*]} (run: sudo apt-get install ${want[*]})" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
if ! apt-get install -y -qq "${want[@]}" >/dev/null; then
  # One at a time: a release without chromium-headless-shell still gets chromium (the fallback).
  for pkg in "${want[@]}"; do
    apt-get install -y -qq "$pkg" >/dev/null || echo "$pkg could not be installed" >&2
  done
fi
exit 0
