# Sourced by the .ci/install-*.sh scripts. apt_install [--with-recommends]
# WHO PKG... installs Debian packages as root, or through passwordless sudo;
# otherwise it says which command to run as root and exits 1.
apt_install() {
	local recommends=(--no-install-recommends)
	if [[ ${1:-} == --with-recommends ]]; then
		recommends=()
		shift
	fi
	local who=$1
	shift
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			echo "$who: $* missing, and not root nor passwordless sudo: run 'apt-get install -y $*' as root" >&2
			exit 1
		fi
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${recommends[@]}" -o DPkg::Lock::Timeout=600 "$@" >/dev/null
}
