#!/usr/bin/env bash
# Makes Asterisk 22 (the LTS a dealer installs today) runnable next to the host's Asterisk 16,
# idempotently, and prints the folder to put first in PATH to use it:
#
#   PATH="$(scripts/asterisk22.sh):$PATH" dialer lab up
#
# Debian ships Asterisk 22 only in sid, whose libc is newer than the host's, so it lives in a
# minimal sid chroot (debootstrap) below DCC_CACHE (default /var/cache/dcc-dialer). A wrapper named
# `asterisk` runs the chroot's binary; the project folder and /tmp are bind-mounted at the same
# paths inside, so the lab's paths, ports, control socket and PIDs look exactly as with the host's
# Asterisk. The first run takes about a minute (debootstrap and two packages from the Debian
# mirror apt already uses); later runs only check the mounts.
#
# Never `rm -rf` the chroot while it is mounted (it would reach into /tmp and the project):
# run `scripts/asterisk22.sh --unmount` first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${DCC_CACHE:-/var/cache/dcc-dialer}"
root="$cache/asterisk22"
bin="$cache/asterisk22-bin"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# The same Debian mirror as the host's apt sources (deb.debian.org unless configured otherwise).
mirror() {
  local uri
  uri="$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | head -n1 || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

mounts=("/proc" "/dev" "/tmp" "$here")

unmount_all() {
  local m
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m="$root${mounts[$i]}"
    if mountpoint -q "$m" 2>/dev/null; then $SUDO umount -l "$m"; fi
  done
}

if [ "${1:-}" = "--unmount" ]; then
  unmount_all
  exit 0
fi

if [ ! -x "$root/usr/sbin/asterisk" ]; then
  echo "==> building the Asterisk 22 chroot in $root (once)" >&2
  command -v debootstrap >/dev/null 2>&1 || {
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  $SUDO mkdir -p "$cache"
  tmp_root="$root.partial"
  $SUDO rm -rf --one-file-system "$tmp_root"
  # sid's index on the mirror can be past its Valid-Until date: accept it, it is only for the lab.
  apt_opts=(-o Acquire::Check-Valid-Until=false -qq)
  # apt's and the package scripts' chatter about a chroot without init or /dev/pts is harmless:
  # it goes to a log shown only when the build fails.
  build_log="$cache/asterisk22-build.log"
  if ! {
    $SUDO debootstrap --variant=minbase sid "$tmp_root" "$(mirror)" &&
      $SUDO chroot "$tmp_root" apt-get "${apt_opts[@]}" update &&
      $SUDO chroot "$tmp_root" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y \
        --no-install-recommends asterisk asterisk-modules &&
      $SUDO chroot "$tmp_root" apt-get clean
  } >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    echo "scripts/asterisk22.sh: building the Asterisk 22 chroot failed; full log: $build_log" >&2
    exit 1
  fi
  # Renamed last, so an interrupted build is redone rather than half used.
  $SUDO mv "$tmp_root" "$root"
fi

for m in "${mounts[@]}"; do
  target="$root$m"
  $SUDO mkdir -p "$target"
  if [ "$m" = "/proc" ]; then
    mountpoint -q "$target" || $SUDO mount -t proc proc "$target"
    continue
  fi
  # Already the same folder inside (a project below /tmp is inside through the /tmp mount: mounting
  # it again would pin the folder, which could then no longer be removed while mounted).
  if [ "$(stat -c %d:%i "$target")" = "$(stat -c %d:%i "$m")" ]; then
    continue
  fi
  # A mount that shows another folder is stale: the project was removed and made again at the same
  # path (a fresh checkout in CI) while the chroot still holds the old, deleted one. Asterisk would
  # read no configuration there and never make the lab's control socket.
  if mountpoint -q "$target"; then
    $SUDO umount -l "$target"
  fi
  $SUDO mount --bind "$m" "$target"
done

$SUDO mkdir -p "$bin"
wrapper="$bin/asterisk"
want="#!/bin/sh
# Asterisk 22 from the sid chroot of scripts/asterisk22.sh; paths are the same inside and out.
exec ${SUDO:+$SUDO }chroot $root /usr/sbin/asterisk \"\$@\""
if [ "$(cat "$wrapper" 2>/dev/null)" != "$want" ]; then
  printf '%s\n' "$want" | $SUDO tee "$wrapper" >/dev/null
  $SUDO chmod 755 "$wrapper"
fi
echo "$bin"
