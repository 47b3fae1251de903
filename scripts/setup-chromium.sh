#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver for the browser tests when either is missing.
# The tests drive /usr/bin/chromium through playwright-core, so Playwright's own browser download
# is never needed.
# Fast when both are present: it then only checks two paths. Needs root for apt-get.
set -euo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  echo "setup-chromium: /usr/bin/chromium or /usr/bin/chromedriver is missing, and installing" \
    "them needs root: run 'sudo apt-get install chromium chromium-driver'" >&2
  exit 1
fi

echo "setup-chromium: installing Debian's chromium and chromium-driver with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-liberation
/usr/bin/chromium --version
