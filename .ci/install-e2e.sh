#!/usr/bin/env bash
# Installs what `make e2e` needs (e2e/): Debian's docker-registry (CNCF
# distribution), which the tests start on loopback, git (git http-backend
# serves the test repositories) and ssh-keygen (openssh-client: the tests sign
# plain-git merge commits with an SSH key), unless they are already there.
# Needs root (CI runs as root) or passwordless sudo; uses only Debian packages.
set -euo pipefail
source "$(dirname "$0")/apt.sh"

missing=()
command -v docker-registry >/dev/null 2>&1 || [[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)

if [[ ${#missing[@]} -gt 0 ]]; then
	apt_install install-e2e "${missing[@]}"
fi

# The tests start their own registry; a packaged service is not needed.
/usr/bin/docker-registry --version 2>/dev/null || docker-registry --version
git --version
