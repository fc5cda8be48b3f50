#!/usr/bin/env bash
# Installs what the browser tests need (audit/htmlreport/browser_test.go,
# webui/browser_test.go, through internal/browsertest): Debian's chromium,
# unless it is already there, and axe-core from npm (pinned) into
# ${XDG_CACHE_HOME:-$HOME/.cache}/cab/axe-core-$AXE_VERSION, where the
# tests look for it (or set CAB_AXE to an axe.min.js).
# Chromium needs root (CI runs as root) or passwordless sudo; uses only
# Debian packages and the npm registry.
set -euo pipefail
source "$(dirname "$0")/apt.sh"

# AXE_VERSION must match internal/browsertest.AxeVersion.
AXE_VERSION=4.14.1

install_chromium() {
	if [[ -x /usr/bin/chromium ]]; then
		return 0
	fi
	apt_install --with-recommends install-chromium chromium fonts-dejavu-core
}

install_axe() {
	local dir="${XDG_CACHE_HOME:-$HOME/.cache}/cab/axe-core-$AXE_VERSION"
	if [[ -f $dir/node_modules/axe-core/axe.min.js ]]; then
		echo "axe-core $AXE_VERSION: $dir"
		return 0
	fi
	if ! command -v npm >/dev/null 2>&1; then
		apt_install install-chromium npm
	fi
	mkdir -p "$dir"
	npm install --no-save --no-audit --no-fund --ignore-scripts --prefix "$dir" "axe-core@$AXE_VERSION" >/dev/null
	echo "axe-core $AXE_VERSION: $dir"
}

install_chromium
/usr/bin/chromium --version 2>/dev/null || true
install_axe
