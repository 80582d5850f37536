#!/bin/sh
# build-root.sh KIND OUT.tar
# Builds a throwaway Debian root with mmdebstrap (variant apt, this host's Debian mirror; Debian 12
# unless the kind says otherwise) and writes it as a tarball. KIND is one of:
#   apt     apt + init-system-helpers (service) + procps
#   rpm     the same + Debian's dnf and rpm, set up like an rpm-based host: rpmdb at /var/lib/rpm
#           (initialised, holding e2e-rootfs-provides so that /bin/sh etc. resolve, and
#           e2e-rootfs-libraries: glibc's and libstdc++'s sonames, from declare-libraries.sh), dnf's "local"
#           plugin disabled, skip_if_unavailable=False as on RHEL.
#   zypper  the apt root + Debian's zypper, rpm and libzypp-config (zypp.conf, /etc/zypp/repos.d),
#           the same rpmdb, dressed as SLES 15 SP5 (/usr/lib/os-release), and an /etc/popt that
#           hushes Debian rpm's "use Alien instead!" warning (see fixtures/roots/rpm-popt).
#   systemd the apt root + systemd, systemd-sysv, dbus, for booting systemd as PID 1 of a PID and
#           mount namespace (lib/booted.ts): units that would touch the host's kernel or wait for
#           a console are masked (fixtures/roots/systemd-masked), and so are the timers that would
#           run apt or dpkg behind the tests' backs; no cgroup accounting (fixtures/roots/
#           systemd-system.conf); an empty /etc/machine-id (lib/booted.ts writes one per boot).
#   systemd-rpm  both of the above in one root: the systemd root's packages and set-up, then the rpm
#           root's (dnf, rpm, the same rpmdb and dnf.conf), to boot and run dnf/rpm in under a real
#           systemd (systemd-rpm.test.ts).
# The platform matrix (matrix.test.ts), where the updater runs as installed from its package:
#   debian11         the apt root on Debian 11 (bullseye: apt 2.2, Node.js 12, so no nodejs here;
#                    the package carries its own runtime)
#   debian12-nodejs  the apt root plus Debian's own nodejs (18.x, the floor)
#   debian13-nodejs  the apt root on Debian 13 (trixie: apt 3, no apt-key, sqv verifying
#                    signatures) plus Debian's nodejs (20.x)
#   rpm-nodejs       the rpm root plus Debian's nodejs, declared to the rpmdb as a Red Hat nodejs
#                    declares itself (nodejs(engine) = its version; fixtures/roots/nodejs-declared.spec)
# A kind is a list of parts (below): each part adds its packages and customize hooks, in order.
# All get a permissive /usr/sbin/policy-rc.d and no Debian mirror in their apt sources (inside
# a root, only the agent repository on 127.0.0.1 is ever contacted).
set -eu
USAGE="usage: build-root.sh apt|rpm|zypper|systemd|systemd-rpm|debian11|debian12-nodejs|debian13-nodejs|rpm-nodejs OUT.tar"
KIND=${1:?$USAGE}
OUT=${2:?$USAGE}
HERE=$(cd "$(dirname "$0")" && pwd)
FIX="$HERE/../fixtures/roots"
# The mirror this host's apt uses (first URIs: of its deb822 sources), unless E2E_DEBIAN_MIRROR says.
HOST_MIRROR=$(awk '$1 == "URIs:" { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${E2E_DEBIAN_MIRROR:-${HOST_MIRROR:-http://deb.debian.org/debian}}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

set -- --variant=apt --include=init-system-helpers,procps \
    --customize-hook="upload $FIX/policy-rc.d /usr/sbin/policy-rc.d" \
    --customize-hook='chmod 0755 "$1/usr/sbin/policy-rc.d"' \
    --customize-hook='echo "# e2e root: no Debian mirror, the tests reach only 127.0.0.1" >"$1/etc/apt/sources.list"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin'

# e2e-rootfs-provides, built here; both rpm-based kinds install it into a fresh rpmdb at /var/lib/rpm.
build_rootfs_provides() {
    mkdir -p "$WORK/top"
    rpmbuild -bb --quiet --define "_topdir $WORK/top" --define "_dbpath $WORK/rpmdb" \
        "$FIX/rootfs-provides.spec" >"$WORK/rpmbuild.log" 2>&1 || {
        cat "$WORK/rpmbuild.log" >&2
        exit 1
    }
    find "$WORK/top/RPMS" -name '*.rpm' | head -n 1
}

SUITE=bookworm
case "$KIND" in
apt) PARTS= ;;
rpm) PARTS=rpm ;;
zypper) PARTS=zypper ;;
systemd) PARTS=systemd ;;
systemd-rpm) PARTS="systemd rpm" ;;
debian11) PARTS= SUITE=bullseye ;;
debian12-nodejs) PARTS=nodejs ;;
debian13-nodejs) PARTS=nodejs SUITE=trixie ;;
rpm-nodejs) PARTS="rpm nodejs nodejs-in-rpmdb" ;;
*)
    echo "build-root.sh: unknown kind: $KIND" >&2
    exit 2
    ;;
esac

for PART in $PARTS; do
    case "$PART" in
    rpm)
        PROVIDES=$(build_rootfs_provides)
        set -- "$@" --include=dnf,rpm \
            --customize-hook='mkdir -p "$1/etc/rpm" "$1/etc/dnf/plugins" "$1/var/lib/rpm"' \
            --customize-hook="upload $FIX/rpm-macros /etc/rpm/macros" \
            --customize-hook="upload $PROVIDES /tmp/rootfs-provides.rpm" \
            --customize-hook='chroot "$1" rpm --initdb' \
            --customize-hook='chroot "$1" rpm -i --nodeps /tmp/rootfs-provides.rpm' \
            --customize-hook='rm -f "$1/tmp/rootfs-provides.rpm"' \
            --customize-hook="sh $FIX/declare-libraries.sh \"\$1\"" \
            --customize-hook='printf "[main]\nenabled=0\n" >"$1/etc/dnf/plugins/local.conf"' \
            --customize-hook='sed -i "s/^skip_if_unavailable=.*/skip_if_unavailable=False/" "$1/etc/dnf/dnf.conf"'
        ;;
    zypper)
        PROVIDES=$(build_rootfs_provides)
        set -- "$@" --include=zypper,rpm,libzypp-config \
            --customize-hook='mkdir -p "$1/etc/rpm" "$1/var/lib/rpm"' \
            --customize-hook="upload $FIX/rpm-macros /etc/rpm/macros" \
            --customize-hook="upload $FIX/rpm-popt /etc/popt" \
            --customize-hook="upload $PROVIDES /tmp/rootfs-provides.rpm" \
            --customize-hook='chroot "$1" rpm --initdb' \
            --customize-hook='chroot "$1" rpm -i --nodeps /tmp/rootfs-provides.rpm' \
            --customize-hook='rm -f "$1/tmp/rootfs-provides.rpm"' \
            --customize-hook="sh $FIX/declare-libraries.sh \"\$1\"" \
            --customize-hook="upload $FIX/sles-os-release /usr/lib/os-release"
        ;;
    systemd)
        # Masked as `systemctl mask` does (a link to /dev/null in /etc/systemd/system), without running
        # systemctl anywhere; the list, one unit a line, is fixtures/roots/systemd-masked.
        set -- "$@" --include=systemd,systemd-sysv,dbus \
            --customize-hook="upload $FIX/systemd-masked /tmp/systemd-masked" \
            --customize-hook='grep -v "^#" "$1/tmp/systemd-masked" | while read -r unit; do [ -z "$unit" ] || ln -sfn /dev/null "$1/etc/systemd/system/$unit"; done' \
            --customize-hook='rm -f "$1/tmp/systemd-masked"' \
            --customize-hook='mkdir -p "$1/etc/systemd/system.conf.d"' \
            --customize-hook="upload $FIX/systemd-system.conf /etc/systemd/system.conf.d/e2e.conf" \
            --customize-hook=': >"$1/etc/machine-id"' \
            --customize-hook='rm -f "$1/var/lib/dbus/machine-id" && ln -s /etc/machine-id "$1/var/lib/dbus/machine-id"'
        ;;
    nodejs)
        set -- "$@" --include=nodejs
        ;;
    nodejs-in-rpmdb)
        # After the rpm part (an initialised rpmdb) and the nodejs part (Debian's package installed).
        set -- "$@" --customize-hook="sh $FIX/declare-nodejs.sh \"\$1\""
        ;;
    esac
done

PARTIAL="${OUT%.tar}.partial.tar"
mmdebstrap --quiet "$@" "$SUITE" "$PARTIAL" "$MIRROR"
mv "$PARTIAL" "$OUT"
