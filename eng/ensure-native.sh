#!/usr/bin/env bash
# Makes sure the native runtime TorchSharp 0.107 (libtorch-cpu 2.10) needs is present: libstdc++ with GLIBCXX_3.4.32.
# Idempotent and near-instant when nothing is needed. On Debian 12 as root it installs Debian 13's
# libstdc++6 through a private apt source list (the system's own sources stay untouched);
# elsewhere it prints the exact fix and exits non-zero.
set -euo pipefail

needed=GLIBCXX_3.4.32

libstdcxx() {
  ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 /{print $NF; exit}'
}

has_symbol() {
  local lib
  lib=$(libstdcxx)
  [ -n "$lib" ] && [ -r "$lib" ] && grep -qa "$needed" "$lib"
}

if has_symbol; then
  exit 0
fi

os_id=$(. /etc/os-release 2>/dev/null && echo "${ID:-}")
os_codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")

explain() {
  cat >&2 <<MSG
error: TorchSharp 0.107 (libtorch-cpu 2.10) needs libstdc++ with $needed (GCC 13 or newer); this system's
       $(libstdcxx || echo "libstdc++.so.6 (not found)") does not provide it.
fix:   $1
MSG
  exit 1
}

if [ "$os_id" != debian ] || [ "$os_codename" != bookworm ]; then
  explain "install libstdc++6 from GCC 13 or newer (Ubuntu 24.04, Debian 13 and Fedora 39+ ship it), then run this script again."
fi
if [ "$(id -u)" != 0 ]; then
  explain "run 'sudo $0' once: on Debian 12 it installs Debian 13's libstdc++6 (and libc6 2.41 with it) without changing your apt sources."
fi

echo "ensure-native: $needed missing; installing Debian 13's libstdc++6 (one-time, ~30 s)..." >&2
# Reuse the mirror the system already uses (deb822 file on current images; sources.list elsewhere).
uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$uri" ] || uri=$(awk '/^deb .*bookworm/{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$uri" ] || uri=http://deb.debian.org/debian
key="signed-by=/usr/share/keyrings/debian-archive-keyring.gpg"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/lists/partial"
printf 'deb [%s] %s bookworm main\ndeb [%s] %s trixie main\n' "$key" "$uri" "$key" "$uri" > "$d/sources.list"
o=(-o "Dir::Etc::SourceList=$d/sources.list" -o "Dir::Etc::SourceParts=/dev/null" -o "Dir::State::Lists=$d/lists")
apt-get "${o[@]}" -q update >&2
DEBIAN_FRONTEND=noninteractive apt-get "${o[@]}" -q install -y -t trixie libstdc++6 >&2
ldconfig

if ! has_symbol; then
  explain "the install finished but $needed is still missing from $(libstdcxx); install libstdc++6 (GCC 13+) by hand."
fi
echo "ensure-native: $needed now provided by $(libstdcxx)." >&2
