#!/bin/sh
# make-key.sh GNUPGHOME
# Generates a throwaway, passphrase-less RSA signing key in GNUPGHOME (created, mode 0700) and
# prints its fingerprint. The home gets a gpg.conf that keeps gpg quiet and offline.
set -eu
HOME_DIR=${1:?usage: make-key.sh GNUPGHOME}
mkdir -p "$HOME_DIR"
chmod 0700 "$HOME_DIR"
export GNUPGHOME="$HOME_DIR"
cat >"$GNUPGHOME/gpg.conf" <<CONF
batch
no-tty
pinentry-mode loopback
passphrase ""
CONF
gpg --quiet --quick-gen-key "driveclient e2e repository <e2e@driveclient.invalid>" rsa2048 sign 2d 2>/dev/null
gpg --quiet --with-colons --list-secret-keys 2>/dev/null | awk -F: '$1 == "fpr" { print $10; exit }'
