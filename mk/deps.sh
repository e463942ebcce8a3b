#!/bin/sh
# Install the Debian 12 packages kiln needs to build, test and run user code,
# when any is missing. Safe to run again: it only installs what is absent.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev
libcurl4-openssl-dev libjansson-dev libseccomp-dev libxlsxwriter-dev libcsv-dev
libminizip-dev zlib1g-dev libexpat1-dev libmicrohttpd-dev libssl-dev
libpython3.11-dev python3 python3-pandas python3-numpy python3-matplotlib python3-openpyxl python3-packaging
ca-certificates procps"
# The MCP client tests (tests/mcp) run on Node.js with npm; Debian's are added
# only when none is on PATH (one may be installed outside Debian's packages).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PKGS="$PKGS nodejs npm"
fi

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

echo "kiln: installing missing Debian packages:$missing" >&2
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "kiln: run 'make deps' as root (or install:$missing)" >&2
        exit 1
    fi
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
