#!/usr/bin/env bash
# Installs what the web UI's tests (webui/) need beyond Chromium: Debian's
# python3-icalendar, the real iCalendar parser /calendar.ics is read back
# with. Needs root (CI runs as root) or passwordless sudo; Debian packages only.
set -euo pipefail
source "$(dirname "$0")/apt.sh"

if python3 -c "import icalendar" 2>/dev/null || /usr/bin/python3 -c "import icalendar" 2>/dev/null; then
	exit 0
fi
apt_install install-webui python3-icalendar
/usr/bin/python3 -c 'import icalendar; print("python3-icalendar", icalendar.__version__)'
