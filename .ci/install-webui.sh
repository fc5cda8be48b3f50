#!/usr/bin/env bash
# Installs what the web UI's tests (webui/) need beyond Chromium: Debian's
# python3-icalendar, the real iCalendar parser /calendar.ics is read back
# with. Needs root (CI runs as root) or passwordless sudo; Debian packages only.
set -euo pipefail

if python3 -c "import icalendar" 2>/dev/null || /usr/bin/python3 -c "import icalendar" 2>/dev/null; then
	exit 0
fi
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO=(sudo -n)
	else
		echo "install-webui: python3-icalendar missing, and not root nor passwordless sudo: run 'apt-get install -y python3-icalendar' as root" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends python3-icalendar >/dev/null
/usr/bin/python3 -c 'import icalendar; print("python3-icalendar", icalendar.__version__)'
