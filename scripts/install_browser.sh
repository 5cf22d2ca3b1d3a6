#!/usr/bin/env bash
# The headless browser the viewer's tests drive (tests/test_viewer_browser.py): Debian's chromium, no download by
# Playwright. Run as root (CI) or with sudo; a no-op when /usr/bin/chromium is already there.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium chromium-driver
