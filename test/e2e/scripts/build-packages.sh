#!/bin/sh
# build-packages.sh VERSION OUTDIR [PAD_MB [VARIANT]]
# Builds the fixture agent as OUTDIR/driveclient_VERSION-1_amd64.deb (dpkg-deb) and
# OUTDIR/driveclient-VERSION-1.el9.x86_64.rpm (rpmbuild, unsigned). With PAD_MB the package also
# carries /usr/share/driveclient/padding.bin: PAD_MB MiB of random (incompressible) bytes.
# VARIANT makes a faulty package for the fault scenarios (only on an upgrade; a fresh install
# behaves normally):
#   slow-scripts      preinst/%pre and postinst/%post each log "<ms> <script> <version>" to
#                     /var/log/driveclient-scripts.log, then sleep 3 s
#   failing-preinst   preinst/%pre print an error and exit 1 (the package is not unpacked)
#   failing-postinst  postinst/%post print an error and exit 1 (after the files are in place)
#   crashing-agent    the daemon logs "<ms> crash <version> <pid>" and exits 1 s after it started
#   failing-start     the init script's start (and restart) prints an error and exits 1 without
#                     starting the daemon; stop and status work (a fresh install's postinst/%post,
#                     which ignore a failed start, leave it stopped)
set -eu
usage="usage: build-packages.sh VERSION OUTDIR [PAD_MB [VARIANT]]"
VERSION=${1:?$usage}
OUTDIR=${2:?$usage}
PAD_MB=${3:-0}
VARIANT=${4:-}
LIVES=
case "$VARIANT" in
"" | slow-scripts | failing-preinst | failing-postinst | failing-start) ;;
crashing-agent) LIVES=1 ;;
*) echo "build-packages.sh: unknown variant: $VARIANT" >&2 && exit 2 ;;
esac
HERE=$(cd "$(dirname "$0")" && pwd)
AGENT="$HERE/../fixtures/agent"

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
WORK=$(mktemp -d "$OUTDIR/.build-$VERSION.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- payload, shared by both formats
STAGE="$WORK/stage"
install -d "$STAGE/usr/sbin" "$STAGE/etc/init.d" "$STAGE/var/cache/driveclient" "$STAGE/usr/share/driveclient"
sed -e "s/@VERSION@/$VERSION/" -e "s/@LIVES@/$LIVES/" "$AGENT/driveclient" >"$STAGE/usr/sbin/driveclient"
chmod 0755 "$STAGE/usr/sbin/driveclient"
install -m 0755 "$AGENT/driveclient-busy" "$STAGE/usr/sbin/driveclient-busy"
install -m 0755 "$AGENT/driveclient.init" "$STAGE/etc/init.d/driveclient"
if [ "$VARIANT" = failing-start ]; then
    sed -i "/^do_start() {\$/a\\    echo \"driveclient $VERSION: start failing on purpose\" >\&2\n    return 1" "$STAGE/etc/init.d/driveclient"
    grep -q "start failing on purpose" "$STAGE/etc/init.d/driveclient"
fi
echo "$VERSION" >"$STAGE/usr/share/driveclient/VERSION"
if [ "$PAD_MB" -gt 0 ]; then
    head -c "$((PAD_MB * 1024 * 1024))" /dev/urandom >"$STAGE/usr/share/driveclient/padding.bin"
fi

# --- .deb
DEB="$WORK/deb"
cp -a "$STAGE" "$DEB"
install -d "$DEB/DEBIAN"
cat >"$DEB/DEBIAN/control" <<EOF
Package: driveclient
Version: $VERSION-1
Architecture: amd64
Maintainer: cloudbackup-updater e2e suite <e2e@driveclient.invalid>
Section: admin
Priority: optional
Description: driveclient backup agent (end-to-end test fixture)
 Fixture agent used by the cloudbackup-updater end-to-end suite.
EOF
install -m 0755 "$AGENT/deb-postinst" "$DEB/DEBIAN/postinst"
install -m 0755 "$AGENT/deb-prerm" "$DEB/DEBIAN/prerm"
# fault SCRIPT LINE: a variant's upgrade fault goes in before the script's own work (after `set -e`).
fault() {
    printf '%s\n' "$2" | sed "s/@VERSION@/$VERSION/" >"$WORK/fault"
    sed -i "/^set -e\$/r $WORK/fault" "$1"
}
SLOW='if [ -n "${2:-}" ]; then echo "$(date +%s%3N) SCRIPT @VERSION@" >>/var/log/driveclient-scripts.log; sleep 3; fi'
case "$VARIANT" in
slow-scripts | failing-preinst)
    printf '#!/bin/sh\n# Fault variant %s: only the upgrade fault below.\nset -e\nexit 0\n' "$VARIANT" >"$DEB/DEBIAN/preinst"
    chmod 0755 "$DEB/DEBIAN/preinst"
    ;;
esac
case "$VARIANT" in
slow-scripts)
    fault "$DEB/DEBIAN/preinst" "$(echo "$SLOW" | sed 's/SCRIPT/preinst/')"
    fault "$DEB/DEBIAN/postinst" "$(echo "$SLOW" | sed 's/SCRIPT/postinst/')"
    ;;
failing-preinst)
    fault "$DEB/DEBIAN/preinst" 'if [ "$1" = upgrade ]; then echo "driveclient @VERSION@ preinst: failing on purpose" >&2; exit 1; fi'
    ;;
failing-postinst)
    fault "$DEB/DEBIAN/postinst" 'if [ "$1" = configure ] && [ -n "${2:-}" ]; then echo "driveclient @VERSION@ postinst: failing on purpose" >&2; exit 1; fi'
    ;;
esac
# Random padding does not compress: spend no time trying.
if [ "$PAD_MB" -gt 0 ]; then ZOPT="-Zgzip -z1"; else ZOPT="-Zxz"; fi
# shellcheck disable=SC2086
dpkg-deb --root-owner-group $ZOPT --build "$DEB" "$OUTDIR/driveclient_${VERSION}-1_amd64.deb" >/dev/null

# --- .rpm
TOP="$WORK/rpm"
mkdir -p "$TOP/BUILD" "$TOP/BUILDROOT" "$TOP/RPMS" "$TOP/SRPMS" "$TOP/SPECS" "$TOP/SOURCES"
if [ "$PAD_MB" -gt 0 ]; then PAYLOAD="w1.gzdio"; else PAYLOAD="w9.gzdio"; fi
rpmbuild -bb --quiet \
    --define "_topdir $TOP" \
    --define "_dbpath $WORK/rpmdb" \
    --define "_binary_payload $PAYLOAD" \
    --define "agent_version $VERSION" \
    --define "variant ${VARIANT:-none}" \
    --define "stage_dir $STAGE" \
    "$AGENT/driveclient.spec" >"$WORK/rpmbuild.log" 2>&1 || {
    cat "$WORK/rpmbuild.log" >&2
    exit 1
}
mv "$TOP/RPMS/x86_64/driveclient-${VERSION}-1.el9.x86_64.rpm" "$OUTDIR/"
