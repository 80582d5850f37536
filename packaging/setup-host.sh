#!/bin/sh
# Installs what "npm run package" and the packaging unit tests (test/packaging/) need on a
# Debian 12 host, as root. It does not run apt-get update: run that first (CI does, once).
#   dpkg-deb            dpkg (Essential)
#   rpmbuild, rpm       rpm
#   rpm2archive         rpm2cpio (a dependency of rpm; named for clarity)
#   lintian             the .deb's lintian check in the unit tests
#   rpmlint             the .rpm's rpmlint check in the unit tests
#   zsh                 the zsh completion's unit tests (test/main/Completions.test.ts); a shell only
#   bash-completion     the bash completion's unit tests, with bash's completion loader
#   git                 build.sh dates the packages from the last commit (SOURCE_DATE_EPOCH)
#   openssl             the throwaway CA and server certificates of the HTTPS tests
#   promtool            the metrics file's format check (test/domain/MetricsFormat.test.ts), Prometheus's
#                       own parser and linter: taken out of Debian's prometheus package into
#                       /usr/local/bin rather than installed with it, whose scripts would start a
#                       Prometheus server on this host
#   qemu-aarch64-static the arm64 package's smoke test (test/packaging/arm64Package.test.ts) runs its
#                       Node.js under qemu's user-mode emulator: taken out of Debian's
#                       qemu-user-static into /usr/local/bin, whose scripts would register binfmt
#                       handlers for every foreign architecture on this host
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends rpm rpm2cpio lintian rpmlint zsh bash-completion git openssl
if ! command -v promtool >/dev/null 2>&1; then
  promdir=$(mktemp -d)
  # apt warns that it downloads as root into a directory its _apt user cannot write: harmless.
  (cd "$promdir" && apt-get download prometheus)
  dpkg-deb -x "$promdir"/prometheus_*.deb "$promdir/root"
  install -m 0755 "$promdir/root/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$promdir"
fi
if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
  qemudir=$(mktemp -d)
  (cd "$qemudir" && apt-get download qemu-user-static)
  dpkg-deb --fsys-tarfile "$qemudir"/qemu-user-static_*.deb | tar -x -C "$qemudir" ./usr/bin/qemu-aarch64-static
  install -m 0755 "$qemudir/usr/bin/qemu-aarch64-static" /usr/local/bin/qemu-aarch64-static
  rm -rf "$qemudir"
fi
