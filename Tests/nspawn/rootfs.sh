#!/bin/bash
# Debian bookworm rootfs for booting a real systemd with systemd-nspawn.
#
# The rootfs is built once with debootstrap and cached under a directory keyed
# by a hash of everything that determines its content (suite, variant, package
# list, this script's setup steps). Each run gets a fresh working copy (an
# overlayfs over the cache, or a plain copy where overlayfs is unavailable), so
# runs never contaminate the cache.
#
# Usage:
#   rootfs.sh cache              build the cached rootfs if missing; print its path
#   rootfs.sh fresh WORKDIR      ensure the cache, then make WORKDIR/root a fresh
#                                working copy of it; print WORKDIR/root
#   rootfs.sh discard WORKDIR    unmount and delete a working copy made by `fresh`
#   rootfs.sh key                print the cache key
#
# Environment:
#   BORGPULL_NSPAWN_CACHE   cache root (default /var/cache/borgpull-nspawn)
#   BORGPULL_DEBIAN_MIRROR  mirror (default http://deb.debian.org/debian)
#   BORGPULL_NSPAWN_COPY=1  force a plain copy instead of overlayfs
#
# Host packages: debootstrap, systemd-container (systemd-nspawn), util-linux.
set -euo pipefail

SUITE=bookworm
VARIANT=minbase
# Keep sorted; any change here changes the cache key.
PACKAGES=(
  borgbackup
  dbus
  iproute2
  libcap2
  libcap2-bin
  libpam-systemd
  libseccomp2
  openssh-client
  openssh-server
  polkitd
  procps
  python3
  socat
  systemd
  systemd-sysv
)
# Bumped when the post-debootstrap setup below changes meaning.
SETUP_VERSION=1

CACHE_ROOT=${BORGPULL_NSPAWN_CACHE:-/var/cache/borgpull-nspawn}
MIRROR=${BORGPULL_DEBIAN_MIRROR:-http://deb.debian.org/debian}

die() { echo "rootfs.sh: $*" >&2; exit 1; }
log() { echo "rootfs.sh: $*" >&2; }

cache_key() {
  local IFS=,
  printf 'suite=%s\nvariant=%s\npackages=%s\nsetup=%s\narch=%s\n' \
    "$SUITE" "$VARIANT" "${PACKAGES[*]}" "$SETUP_VERSION" "$(uname -m)" |
    sha256sum | cut -c1-16
}

# Steps run once on the freshly bootstrapped tree, before it is frozen in the cache.
setup_tree() {
  local root=$1
  echo borgpull-test > "$root/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 borgpull-test\n' > "$root/etc/hosts"
  # Empty machine-id: systemd-nspawn/systemd initialise it at boot (first-boot semantics
  # are not wanted, so keep the file but empty -> a transient id per boot).
  : > "$root/etc/machine-id"
  # Units that only make noise or fail in a container.
  for u in systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer \
           e2scrub_all.timer fstrim.timer man-db.timer dpkg-db-backup.timer \
           systemd-networkd-wait-online.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$u"
  done
  # ssh is started by the tests that need it, with their own config.
  rm -f "$root/etc/systemd/system/multi-user.target.wants/ssh.service" \
        "$root/etc/systemd/system/sshd.service"
  # Smaller cache; nothing inside installs packages.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  # No root password: the tests enter via nsenter, never via login.
  printf 'SETUP_VERSION=%s\nKEY=%s\n' "$SETUP_VERSION" "$(cache_key)" > "$root/etc/borgpull-nspawn-rootfs"
}

build_cache() {
  local key dir tmp
  key=$(cache_key)
  dir="$CACHE_ROOT/$key"
  mkdir -p "$CACHE_ROOT"
  # Serialise concurrent builders.
  exec 9>"$CACHE_ROOT/.lock"
  flock 9
  if [[ -f "$dir/.complete" ]]; then
    echo "$dir/root"
    return 0
  fi
  command -v debootstrap >/dev/null || die "debootstrap missing (apt-get install debootstrap)"
  # Leftovers of interrupted builds (we hold the lock, so none is in progress).
  rm -rf "$dir" "$CACHE_ROOT"/.build-*
  tmp="$CACHE_ROOT/.build-$key.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  local IFS=,
  log "building $SUITE ($VARIANT) into $dir; packages: ${PACKAGES[*]}"
  local t0=$SECONDS
  if ! debootstrap --variant="$VARIANT" --include="${PACKAGES[*]}" \
        "$SUITE" "$tmp/root" "$MIRROR" > "$tmp/debootstrap.log" 2>&1; then
    tail -n 30 "$tmp/debootstrap.log" >&2
    rm -rf "$tmp"
    die "debootstrap failed"
  fi
  unset IFS
  setup_tree "$tmp/root"
  mv "$tmp" "$dir"
  touch "$dir/.complete"
  log "built in $((SECONDS - t0)) s"
  echo "$dir/root"
}

fresh() {
  local work=$1 cache
  cache=$(build_cache)
  [[ -e "$work/root" ]] && die "$work/root exists; discard it first"
  mkdir -p "$work"
  mkdir -p "$work/upper" "$work/ovlwork" "$work/root"
  if [[ ${BORGPULL_NSPAWN_COPY:-0} != 1 ]] &&
     mount -t overlay overlay \
       -o "lowerdir=$cache,upperdir=$work/upper,workdir=$work/ovlwork" "$work/root" 2>/dev/null; then
    echo overlay > "$work/.kind"
  else
    rmdir "$work/upper" "$work/ovlwork"
    cp -a --reflink=auto "$cache/." "$work/root/"
    echo copy > "$work/.kind"
  fi
  echo "$work/root"
}

discard() {
  local work=$1
  [[ -d "$work" ]] || return 0
  if mountpoint -q "$work/root" 2>/dev/null; then
    umount "$work/root" 2>/dev/null || umount -l "$work/root"
  fi
  rm -rf --one-file-system "$work"
}

[[ $(id -u) == 0 ]] || die "must run as root"
case ${1:-} in
  cache) build_cache ;;
  fresh) [[ $# == 2 ]] || die "usage: rootfs.sh fresh WORKDIR"; fresh "$2" ;;
  discard) [[ $# == 2 ]] || die "usage: rootfs.sh discard WORKDIR"; discard "$2" ;;
  key) cache_key ;;
  *) die "usage: rootfs.sh cache | fresh WORKDIR | discard WORKDIR | key" ;;
esac
