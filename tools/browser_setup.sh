#!/usr/bin/env bash
# Provisions what the browser tests (tests/test_web_*.py, tests/harness/browser.py) need: Debian's Chromium at
# /usr/bin/chromium, the playwright Python package in the project's venv, and the newest ComfyUI frontend
# (comfyui-frontend-package NEWEST_FRONTEND) in $ACEPP_CACHE/frontends/<version>, never in the venv: the
# venv keeps the 1.32.x that ComfyUI 0.3.75 pins, and the tests serve the newest one from a second server
# with that folder first on its PYTHONPATH. Playwright never downloads a browser here: the tests launch
# /usr/bin/chromium. Idempotent: when everything is present it only checks and returns (< 1 s).
#
#   bash tools/browser_setup.sh          (as root, or with sudo available, on a Debian/Ubuntu machine)
#
# Uses ACEPP_PYTHON when set, else sources tools/runtime.sh to get it. To move the newest frontend, change
# NEWEST_FRONTEND (`pip index versions comfyui-frontend-package` lists the releases), or set
# ACEPP_NEWEST_FRONTEND for one run (the tests read the same variable).
set -euo pipefail

PLAYWRIGHT_VERSION="1.65.2"
NEWEST_FRONTEND="${ACEPP_NEWEST_FRONTEND:-1.58.1}"
CHROMIUM="/usr/bin/chromium"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

fail() {
  echo "[ACE++ browser setup] FAILED: $*" >&2
  exit 1
}

if [ -z "${ACEPP_PYTHON:-}" ]; then
  # shellcheck source=runtime.sh
  source "$root/tools/runtime.sh"
fi
[ -x "$ACEPP_PYTHON" ] || fail "ACEPP_PYTHON=$ACEPP_PYTHON is not an executable python (run: source tools/runtime.sh)"

start=$SECONDS
did=""

if [ ! -x "$CHROMIUM" ]; then
  sudo_cmd=()
  if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null || fail "$CHROMIUM is missing and this is not root (no sudo either): install Debian's 'chromium' package"
    sudo_cmd=(sudo)
  fi
  command -v apt-get >/dev/null || fail "$CHROMIUM is missing and there is no apt-get: install Chromium so that $CHROMIUM exists"
  echo "[ACE++ browser setup] installing Debian's chromium (apt-get; under a minute on a fast mirror)"
  log="$(mktemp)"
  if ! { "${sudo_cmd[@]}" apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
           chromium fonts-liberation; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    fail "apt-get could not install chromium (log tail above)"
  fi
  rm -f "$log"
  [ -x "$CHROMIUM" ] || fail "apt-get installed chromium but $CHROMIUM does not exist"
  did+=" chromium"
fi

have="$("$ACEPP_PYTHON" -c 'from importlib.metadata import version; print(version("playwright"))' 2>/dev/null || true)"
if [ "$have" != "$PLAYWRIGHT_VERSION" ]; then
  echo "[ACE++ browser setup] installing playwright==$PLAYWRIGHT_VERSION into the venv (pip)"
  log="$(mktemp)"
  if ! "$ACEPP_PYTHON" -m pip install --quiet --disable-pip-version-check -c "$root/tools/constraints.txt" \
       "playwright==$PLAYWRIGHT_VERSION" >"$log" 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -n 20 >&2
    rm -f "$log"
    fail "pip could not install playwright==$PLAYWRIGHT_VERSION (log tail above)"
  fi
  rm -f "$log"
  "$ACEPP_PYTHON" -c "import playwright.sync_api" 2>/dev/null || fail "playwright installed but does not import"
  did+=" playwright"
fi

ACEPP_CACHE="${ACEPP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aceplusplus}"
frontend="$ACEPP_CACHE/frontends/$NEWEST_FRONTEND"
if [ ! -f "$frontend/comfyui_frontend_package/static/index.html" ] ||
   [ ! -d "$frontend/comfyui_frontend_package-$NEWEST_FRONTEND.dist-info" ]; then
  echo "[ACE++ browser setup] installing comfyui-frontend-package==$NEWEST_FRONTEND into $frontend (pip --target)"
  # Into a scratch folder first, then renamed: an interrupted install never looks complete.
  rm -rf "$frontend" "$frontend.partial"
  mkdir -p "$(dirname "$frontend")"
  log="$(mktemp)"
  if ! "$ACEPP_PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps -c "$root/tools/constraints.txt" \
       --target "$frontend.partial" "comfyui-frontend-package==$NEWEST_FRONTEND" >"$log" 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -n 20 >&2
    rm -rf "$log" "$frontend.partial"
    fail "pip could not install comfyui-frontend-package==$NEWEST_FRONTEND (log tail above)"
  fi
  rm -f "$log"
  [ -f "$frontend.partial/comfyui_frontend_package/static/index.html" ] ||
    fail "comfyui-frontend-package==$NEWEST_FRONTEND installed without comfyui_frontend_package/static/index.html"
  mv "$frontend.partial" "$frontend"
  did+=" frontend-$NEWEST_FRONTEND"
fi

if [ -n "$did" ]; then
  echo "[ACE++ browser setup] installed:$did in $((SECONDS - start)) s ($("$CHROMIUM" --version 2>/dev/null | head -n1))"
fi
