#!/usr/bin/env bash
# Builds borg from PyPI (source) into a root-owned virtualenv and prints the path of its borg.
# Usage: .ci/borg-venv.sh [VERSION]   (default 1.4.5; 2.0.0b23 for the borg 2 spike, same build deps)
#
# The venv lives under BORGPULL_CI_CACHE (default /var/cache/borgpull-ci), one directory per
# version; a complete one (marked by .complete) is reused, so only the first run builds
# (about 2 minutes on 2 cores). CI machines that keep /var/cache between runs never rebuild.
# The product trusts BORG_BINARY only when it and every directory above it are root's and not
# group/other-writable: the cache is created 0755 root.
set -euo pipefail
version="${1:-1.4.5}"
cache="${BORGPULL_CI_CACHE:-/var/cache/borgpull-ci}"
venv="$cache/borg-$version"
if [ -f "$venv/.complete" ] && "$venv/bin/borg" --version >/dev/null 2>&1; then
    echo "$venv/bin/borg"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s liblz4-dev libzstd-dev libxxhash-dev libacl1-dev libssl-dev pkg-config python3-dev build-essential python3-venv >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends liblz4-dev libzstd-dev libxxhash-dev libacl1-dev libssl-dev \
        pkg-config python3-dev build-essential python3-venv >&2
fi
install -d -o root -g root -m 0755 "$cache"
# A half-built venv (no .complete) is removed and built again.
rm -rf "$venv"
# Debian's interpreter (not a pyenv or other one earlier on PATH): root-owned, like /usr/bin/borg's.
/usr/bin/python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --no-cache-dir --no-binary borgbackup "borgbackup==$version" >&2
chown -R root:root "$venv"
chmod -R go-w "$venv"
"$venv/bin/borg" --version >&2
touch "$venv/.complete"
echo "$venv/bin/borg"
