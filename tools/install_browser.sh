#!/usr/bin/env bash
# Install Debian's Chromium for the browser check of the built site, where it is missing and we are root.
set -u
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the browser check"
  apt-get install -y -qq chromium >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; } ||
    echo "note: could not install chromium; the browser check will be skipped"
else
  echo "note: chromium is missing and cannot be installed here (needs root and apt-get); the browser check will be skipped"
fi
exit 0
