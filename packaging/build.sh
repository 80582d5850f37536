#!/usr/bin/env bash
# Builds the cloudbackup-updater packages from the bundle dist/cloudbackup-updater.js and the
# launcher that checks the Node.js running it (dist/launcher*.js), in one of two flavours:
#   PACKAGE_FLAVOUR=noarch (default): the host's Node.js (/usr/bin/node, from its nodejs package)
#     dist/packages/cloudbackup-updater_<version>-<revision>_all.deb      (dpkg-deb)
#     dist/packages/cloudbackup-updater-<version>-<revision>.noarch.rpm   (rpmbuild)
#   PACKAGE_FLAVOUR=bundled: its own Node.js (packaging/runtime.json) in /usr/lib/cloudbackup-updater/node
#     dist/packages/cloudbackup-updater_<version>-<revision>_<amd64|arm64>.deb
#     dist/packages/cloudbackup-updater-<version>-<revision>.<x86_64|aarch64>.rpm
# Both have the same package name: an administrator moves between them with a plain install.
# <version> is package.json's (a pre-release "-" becomes "~", which sorts before the release
# in both formats). Run by "npm run package" after "npm run build"; needs node (with this
# repository's node_modules, for the copyright file), dpkg-deb, rpmbuild, gzip.
#
# Environment:
#   PACKAGE_FLAVOUR     noarch (default) or bundled
#   PACKAGE_ARCH        bundled only: amd64 (default) or arm64 (Debian's names)
#   PACKAGE_REVISION    package revision / rpm release (default 1)
#   PACKAGE_OUT_DIR     output directory (default dist/packages)
#   PACKAGE_MAINTAINER  "Name <address>" for the deb Maintainer, the changelogs and the rpm Packager
#   SOURCE_DATE_EPOCH   timestamp of the files and changelogs (default: the last commit's)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
cd "$REPO"

NAME=cloudbackup-updater
BUNDLE=dist/$NAME.js
COMPLETIONS=dist/completions
REVISION=${PACKAGE_REVISION:-1}
OUT_DIR=${PACKAGE_OUT_DIR:-dist/packages}
# A placeholder until the project names its maintainer: set PACKAGE_MAINTAINER for releases.
MAINTAINER=${PACKAGE_MAINTAINER:-cloudbackup-updater maintainers <maintainers@cloudbackup-updater.invalid>}

die() {
    echo "packaging/build.sh: $*" >&2
    exit 1
}

for tool in node dpkg-deb rpmbuild gzip md5sum; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (packaging/setup-host.sh installs what is needed)"
done
[ -f "$BUNDLE" ] || die "$BUNDLE is missing: run \"npm run build\" first"
[ -f "$COMPLETIONS/$NAME" ] && [ -f "$COMPLETIONS/_$NAME" ] || die "$COMPLETIONS/ is missing: run \"npm run build\" first"
[ "$(head -n 1 "$BUNDLE")" = "#!/usr/bin/env node" ] || die "$BUNDLE does not start with #!/usr/bin/env node"
# The flavour: which launcher (its interpreter line), the architecture, and the runtime dependency.
FLAVOUR=${PACKAGE_FLAVOUR:-noarch}
case $FLAVOUR in
    noarch)
        LAUNCHER=dist/launcher.js INTERPRETER=/usr/bin/node DEB_ARCH=all RPM_ARCH=noarch
        # Debian's nodejs has no epoch, so the version means what it says.
        DEB_DEPENDS="nodejs (>= 18)"
        ;;
    bundled)
        LAUNCHER=dist/launcher-bundled-node.js INTERPRETER=/usr/lib/$NAME/node/bin/node DEB_ARCH=${PACKAGE_ARCH:-amd64}
        # Node.js's official build needs glibc 2.28 (GLIBC_2.28), libstdc++ of GCC 7 (CXXABI_1.3.11)
        # and libgcc_s; dpkg-shlibdeps would ask for what this build machine's symbols files say
        # (libc6 2.34 here), which Debian 11 does not have. The rpm's come from rpmbuild (elfdeps).
        DEB_DEPENDS="libc6 (>= 2.28), libgcc-s1 | libgcc1, libstdc++6 (>= 7)"
        RUNTIME=$(node -e 'const p = require("./packaging/runtime.json").packages
            const arch = Object.keys(p).find((a) => p[a].deb === process.argv[1])
            if (arch !== undefined) console.log(`${arch} ${p[arch].rpm}`)' "$DEB_ARCH")
        [ -n "$RUNTIME" ] || die "PACKAGE_ARCH must be amd64 or arm64, not \"$DEB_ARCH\""
        RUNTIME_ARCH=${RUNTIME% *} RPM_ARCH=${RUNTIME#* }
        ;;
    *) die "PACKAGE_FLAVOUR must be noarch or bundled, not \"$FLAVOUR\"" ;;
esac
[ -f "$LAUNCHER" ] || die "$LAUNCHER is missing: run \"npm run build\" first"
[ "$(head -n 1 "$LAUNCHER")" = "#!$INTERPRETER" ] || die "$LAUNCHER does not start with #!$INTERPRETER"
[[ $REVISION =~ ^[0-9]+$ ]] || die "PACKAGE_REVISION must be a number, not \"$REVISION\""
[[ $MAINTAINER =~ ^[^\<\>]+\ \<[^\<\>@\ ]+@[^\<\>@\ ]+\>$ ]] || die "PACKAGE_MAINTAINER must look like \"Name <address>\""

NPM_VERSION=$(node -p 'require("./package.json").version')
VERSION=${NPM_VERSION//-/\~}
[[ $VERSION =~ ^[0-9]+(\.[0-9]+)*(~[0-9A-Za-z.]+)?$ ]] || die "package.json version \"$NPM_VERSION\" cannot be a package version"

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || stat -c %Y package.json)
fi
export SOURCE_DATE_EPOCH
DEB_DATE=$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")
RPM_DATE=$(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %d %Y')
MAN_DATE=$(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" '+%Y-%m-%d')

WORK=$(mktemp -d "${TMPDIR:-/tmp}/$NAME-package.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
umask 022

# fill TEMPLATE OUT KEY=VALUE...: replaces @KEY@ with VALUE.
fill() {
    local template=$1 out=$2 expr=() pair
    shift 2
    for pair in "$@"; do
        expr+=(-e "s|@${pair%%=*}@|${pair#*=}|g")
    done
    sed "${expr[@]}" "$template" >"$out"
    if grep -q '@[A-Z_]*@' "$out"; then die "unfilled placeholder in $out"; fi
}

FIRST_YEAR=$(git log --reverse --format=%cd --date=format:%Y 2>/dev/null | head -n 1 || true)
LAST_YEAR=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y)
COPYRIGHT_YEARS=${FIRST_YEAR:-$LAST_YEAR}
[ "$COPYRIGHT_YEARS" = "$LAST_YEAR" ] || COPYRIGHT_YEARS=$COPYRIGHT_YEARS-$LAST_YEAR
COPYRIGHT_YEARS=$COPYRIGHT_YEARS node "$HERE/copyright.mjs" >"$WORK/copyright"
if [ "$FLAVOUR" = bundled ]; then
    # bin/node and its LICENSE, checked against the sha512 that packaging/runtime.json pins.
    node "$HERE/fetch-runtime.mjs" "$RUNTIME_ARCH" "$WORK/runtime"
fi

# stage DIR FAMILY: the files both packages install, laid out for FAMILY (deb|rpm).
stage() {
    local dir=$1 family=$2 src options init unitdir restart
    if [ "$family" = deb ]; then
        src=$HERE/debian options=/etc/default/$NAME init=/etc/init.d/$NAME unitdir=/lib/systemd/system
        restart="nothing under systemd (the next pass reads it); SysV init: service $NAME restart"
    else
        src=$HERE/rpm options=/etc/sysconfig/$NAME init=/etc/rc.d/init.d/$NAME unitdir=/usr/lib/systemd/system
        restart="nothing under systemd (the next pass reads it); SysV init: $init restart"
    fi
    install -d "$dir/usr/bin" "$dir$unitdir" "$dir${init%/*}" "$dir${options%/*}" "$dir/etc/logrotate.d" \
        "$dir/usr/share/man/man8"
    # The launcher checks the runtime, then loads the bundle from /usr/lib/$NAME.
    install -m 0755 "$LAUNCHER" "$dir/usr/bin/$NAME"
    # A module, not a program: without the bundle's interpreter line (which "node dist/..." uses).
    install -d "$dir/usr/lib/$NAME"
    tail -n +2 "$BUNDLE" >"$dir/usr/lib/$NAME/$NAME.js"
    chmod 0644 "$dir/usr/lib/$NAME/$NAME.js"
    if [ "$FLAVOUR" = bundled ]; then
        install -D -m 0755 "$WORK/runtime/bin/node" "$dir/usr/lib/$NAME/node/bin/node"
    fi
    # V8's compile cache (the launcher's, on Node.js 22.8 and newer): root's, never /tmp.
    install -d "$dir/var/cache/$NAME"
    fill "$HERE/common/$NAME.service.in" "$dir$unitdir/$NAME.service" "ENVIRONMENT_FILE=$options"
    chmod 0644 "$dir$unitdir/$NAME.service"
    install -m 0644 "$HERE/common/$NAME.timer" "$dir$unitdir/$NAME.timer"
    install -m 0755 "$src/$NAME.init" "$dir$init"
    fill "$HERE/common/options.in" "$dir$options" "INIT_SCRIPT=$init" "RESTART_HINT=$restart"
    chmod 0644 "$dir$options"
    install -m 0644 "$HERE/common/$NAME.logrotate" "$dir/etc/logrotate.d/$NAME"
    fill "$HERE/common/$NAME.8.in" "$WORK/$NAME.8" "DATE=$MAN_DATE" "VERSION=$VERSION" "OPTIONS_FILE=$options"
    gzip -9n <"$WORK/$NAME.8" >"$dir/usr/share/man/man8/$NAME.8.gz"
    chmod 0644 "$dir/usr/share/man/man8/$NAME.8.gz"
    # Shell completions (npm run build writes them from the option specs); zsh's directory for
    # packaged functions is vendor-completions on Debian, site-functions on Red Hat and SUSE.
    local zshdir=/usr/share/zsh/vendor-completions
    [ "$family" = deb ] || zshdir=/usr/share/zsh/site-functions
    install -D -m 0644 "$COMPLETIONS/$NAME" "$dir/usr/share/bash-completion/completions/$NAME"
    install -D -m 0644 "$COMPLETIONS/_$NAME" "$dir$zshdir/_$NAME"
}

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)

# ---------------------------------------------------------------- .deb
DEB_VERSION=$VERSION-$REVISION
DEB_OUT=$OUT_DIR/${NAME}_${DEB_VERSION}_${DEB_ARCH}.deb
DEB=$WORK/deb
stage "$DEB" deb
install -d "$DEB/usr/share/doc/$NAME" "$DEB/usr/share/lintian/overrides" "$DEB/DEBIAN"
if [ "$FLAVOUR" = bundled ]; then
    cat "$HERE/debian/lintian-overrides" "$HERE/debian/lintian-overrides.bundled" >"$DEB/usr/share/lintian/overrides/$NAME"
    chmod 0644 "$DEB/usr/share/lintian/overrides/$NAME"
else
    install -m 0644 "$HERE/debian/lintian-overrides" "$DEB/usr/share/lintian/overrides/$NAME"
fi
install -m 0644 "$WORK/copyright" "$DEB/usr/share/doc/$NAME/copyright"
if [ "$FLAVOUR" = bundled ]; then
    install -m 0644 "$WORK/runtime/LICENSE" "$DEB/usr/share/doc/$NAME/LICENSE.node"
fi
cat >"$WORK/changelog.Debian" <<EOF
$NAME ($DEB_VERSION) stable; urgency=medium

  * Release $NPM_VERSION of cloudbackup-updater.

 -- $MAINTAINER  $DEB_DATE
EOF
gzip -9n <"$WORK/changelog.Debian" >"$DEB/usr/share/doc/$NAME/changelog.Debian.gz"
chmod 0644 "$DEB/usr/share/doc/$NAME/changelog.Debian.gz"

for script in postinst prerm postrm; do
    install -m 0755 "$HERE/debian/$script" "$DEB/DEBIAN/$script"
done
install -m 0644 "$HERE/debian/conffiles" "$DEB/DEBIAN/conffiles"
(cd "$DEB" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
    >"$DEB/DEBIAN/md5sums"
chmod 0644 "$DEB/DEBIAN/md5sums"
INSTALLED_SIZE=$(du -k -s --apparent-size --exclude=DEBIAN "$DEB" | cut -f1)
cat >"$DEB/DEBIAN/control" <<EOF
Package: $NAME
Version: $DEB_VERSION
Architecture: $DEB_ARCH
Maintainer: $MAINTAINER
Installed-Size: $INSTALLED_SIZE
Depends: $DEB_DEPENDS
Section: admin
Priority: optional
Description: keeps the driveclient backup agent installed and up to date
 cloudbackup-updater configures the repository of the driveclient backup
 agent (apt source and signing key), installs the agent when it is missing
 and upgrades it to the version the repository publishes, without ever
 stopping the agent during a backup, restore or cleanup.
 .
 Under systemd a timer runs it every hour; under SysV init it runs as a
 daemon that checks every hour. New agent versions are rolled out over a few
 hours.
EOF
chmod 0644 "$DEB/DEBIAN/control"
find "$DEB" -type d -exec chmod 0755 {} +
find "$DEB" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
dpkg-deb --root-owner-group -Zxz --build "$DEB" "$DEB_OUT" >/dev/null

# ---------------------------------------------------------------- .rpm
RPM_OUT=$OUT_DIR/$NAME-$VERSION-$REVISION.$RPM_ARCH.rpm
RPM_STAGE=$WORK/rpm-stage
TOP=$WORK/rpmbuild
stage "$RPM_STAGE" rpm
install -d "$RPM_STAGE/var/lib/$NAME" "$RPM_STAGE/usr/share/licenses/$NAME"
install -m 0644 "$WORK/copyright" "$RPM_STAGE/usr/share/licenses/$NAME/copyright"
if [ "$FLAVOUR" = bundled ]; then
    install -m 0644 "$WORK/runtime/LICENSE" "$RPM_STAGE/usr/share/licenses/$NAME/LICENSE.node"
fi
find "$RPM_STAGE" -type d -exec chmod 0755 {} +
mkdir -p "$TOP"/{BUILD,BUILDROOT,RPMS,SOURCES,SPECS,SRPMS}
{
    cat "$HERE/rpm/$NAME.spec"
    printf '\n%%changelog\n* %s %s - %s-%s\n- Release %s of cloudbackup-updater.\n' \
        "$RPM_DATE" "$MAINTAINER" "$VERSION" "$REVISION" "$NPM_VERSION"
} >"$TOP/SPECS/$NAME.spec"
rpmbuild -bb --quiet --target "$RPM_ARCH" \
    --define "_topdir $TOP" \
    --define "_dbpath $WORK/rpmdb" \
    --define "_buildhost reproducible" \
    --define "_binary_payload w6.xzdio" \
    --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_date_epoch 1" \
    --define "packager $MAINTAINER" \
    --define "pkg_version $VERSION" \
    --define "pkg_release $REVISION" \
    --define "stage_dir $RPM_STAGE" \
    --define "bundled_node $([ "$FLAVOUR" = bundled ] && echo 1 || echo 0)" \
    "$TOP/SPECS/$NAME.spec" >"$WORK/rpmbuild.log" 2>&1 || {
    cat "$WORK/rpmbuild.log" >&2
    die "rpmbuild failed"
}
mv "$TOP/RPMS/$RPM_ARCH/$NAME-$VERSION-$REVISION.$RPM_ARCH.rpm" "$RPM_OUT"

echo "$DEB_OUT"
echo "$RPM_OUT"
