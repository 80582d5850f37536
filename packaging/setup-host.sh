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
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends rpm rpm2cpio lintian rpmlint zsh bash-completion git openssl
