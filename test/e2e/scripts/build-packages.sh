#!/bin/sh
# build-packages.sh VERSION OUTDIR [PAD_MB]
# Builds the fixture agent as OUTDIR/driveclient_VERSION-1_amd64.deb (dpkg-deb) and
# OUTDIR/driveclient-VERSION-1.el9.x86_64.rpm (rpmbuild, unsigned). With PAD_MB the package also
# carries /usr/share/driveclient/padding.bin: PAD_MB MiB of random (incompressible) bytes.
set -eu
VERSION=${1:?usage: build-packages.sh VERSION OUTDIR [PAD_MB]}
OUTDIR=${2:?usage: build-packages.sh VERSION OUTDIR [PAD_MB]}
PAD_MB=${3:-0}
HERE=$(cd "$(dirname "$0")" && pwd)
AGENT="$HERE/../fixtures/agent"

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
WORK=$(mktemp -d "$OUTDIR/.build-$VERSION.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- payload, shared by both formats
STAGE="$WORK/stage"
install -d "$STAGE/usr/sbin" "$STAGE/etc/init.d" "$STAGE/var/cache/driveclient" "$STAGE/usr/share/driveclient"
sed "s/@VERSION@/$VERSION/" "$AGENT/driveclient" >"$STAGE/usr/sbin/driveclient"
chmod 0755 "$STAGE/usr/sbin/driveclient"
install -m 0755 "$AGENT/driveclient-busy" "$STAGE/usr/sbin/driveclient-busy"
install -m 0755 "$AGENT/driveclient.init" "$STAGE/etc/init.d/driveclient"
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
    --define "stage_dir $STAGE" \
    "$AGENT/driveclient.spec" >"$WORK/rpmbuild.log" 2>&1 || {
    cat "$WORK/rpmbuild.log" >&2
    exit 1
}
mv "$TOP/RPMS/x86_64/driveclient-${VERSION}-1.el9.x86_64.rpm" "$OUTDIR/"
