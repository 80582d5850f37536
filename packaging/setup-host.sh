#!/bin/sh
# Installs what "npm run package" and the packaging unit tests (test/packaging/) need on a
# Debian 12 host, as root. It does not run apt-get update: run that first (CI does, once).
#   dpkg-deb            dpkg (Essential)
#   rpmbuild, rpm       rpm
#   rpm2archive         rpm2cpio (a dependency of rpm; named for clarity)
#   lintian             the .deb's lintian check in the unit tests
#   git                 build.sh dates the packages from the last commit (SOURCE_DATE_EPOCH)
#   openssl             the throwaway CA and server certificates of the HTTPS tests
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends rpm rpm2cpio lintian git openssl
