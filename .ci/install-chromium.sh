#!/usr/bin/env bash
# Installs Debian's chromium for the browser test of `cab report --html`
# (audit/htmlreport/browser_test.go), unless it is already there.
# Needs root (CI runs as root) or passwordless sudo; uses only Debian packages.
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
	/usr/bin/chromium --version 2>/dev/null || true
	exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo -n)
	else
		echo "install-chromium: not root and no sudo; install Debian's chromium by hand" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version 2>/dev/null || true
