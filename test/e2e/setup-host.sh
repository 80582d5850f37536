#!/bin/sh
# setup-host.sh — installs what the end-to-end suite needs on a Debian 12 host (run as root).
# Idempotent: when every package is already installed it changes nothing and needs no network.
#
#   mmdebstrap            builds the throwaway bookworm roots (Depends: apt, python3, perl)
#   debian-archive-keyring  lets mmdebstrap verify the Debian mirror
#   rpm                   rpmbuild and rpmsign, for the fixture rpms
#   createrepo-c          createrepo_c, the rpm repository metadata
#   apt-utils             apt-ftparchive, the apt repository indices and Release
#   gnupg                 gpg, gpg-agent, gpgconf: the throwaway signing key and signatures
#   dpkg-dev              (dpkg-deb itself is in dpkg; kept for dpkg-architecture et al.)
#   mount                 mount/umount: overlay, proc and devpts inside the roots
#   perl-base, tar, gzip, coreutils, mawk are Essential/required and always present.
set -eu

PACKAGES="mmdebstrap debian-archive-keyring rpm createrepo-c apt-utils gnupg dpkg-dev mount"

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-host.sh: run as root" >&2
    exit 1
fi

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing="$missing $p"
done

if [ -n "$missing" ]; then
    echo "setup-host.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # --no-update: the caller (CI) has just run apt-get update.
    [ "${1:-}" = "--no-update" ] || apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $PACKAGES
fi

# Every tool the suite runs, checked once more so that a gap shows here and not mid-suite.
for tool in mmdebstrap rpmbuild rpmsign createrepo_c apt-ftparchive gpg gpgconf gpg-agent dpkg-deb \
    perl tar gzip chroot mount umount awk node; do
    command -v "$tool" >/dev/null || {
        echo "setup-host.sh: $tool is still missing" >&2
        exit 1
    }
done
if ! grep -qw overlay /proc/filesystems; then
    modprobe overlay 2>/dev/null || true
    grep -qw overlay /proc/filesystems || {
        echo "setup-host.sh: the kernel has no overlay file system" >&2
        exit 1
    }
fi
echo "setup-host.sh: host ready"
