#!/bin/sh
# publish-repo.sh GNUPGHOME OUTDIR BASE_URL VERSION PACKAGE...
# Writes the agent repository, in the contract's layout, into OUTDIR (which must not exist):
#   version.txt                 VERSION and a newline
#   debian/agentrepo.key        the signing key, ASCII-armoured
#   debian/                     apt repository: suite serveragent, component main, arch amd64,
#                               Release signed as InRelease and Release.gpg
#   redhat/                     rpm repository (createrepo_c) holding the (signed) rpms, with
#                               repodata/repomd.xml signed as repomd.xml.asc (zypper checks it;
#                               lacking repomd.xml.key, it finds the key through gpgkey=)
#   redhat/RPM-GPG-KEY-drivesrvr  the same key, for dnf's gpgkey=
#   redhat/drivesrvr.repo       [drivesrvr] with baseurl/gpgkey under BASE_URL, gpgcheck=1
# PACKAGE arguments are .deb and .rpm files; they are hard-linked when possible.
set -eu
usage="usage: publish-repo.sh GNUPGHOME OUTDIR BASE_URL VERSION PACKAGE..."
export GNUPGHOME=${1:?$usage}
OUT=${2:?$usage}
BASE=${3:?$usage}
VERSION=${4:?$usage}
shift 4
BASE=${BASE%/}

mkdir "$OUT"
POOL="$OUT/debian/pool/main/d/driveclient"
BIN="$OUT/debian/dists/serveragent/main/binary-amd64"
mkdir -p "$POOL" "$BIN" "$OUT/redhat"
for f in "$@"; do
    case "$f" in
    *.deb) dest="$POOL" ;;
    *.rpm) dest="$OUT/redhat" ;;
    *) echo "publish-repo.sh: not a package: $f" >&2 && exit 2 ;;
    esac
    ln "$f" "$dest/" 2>/dev/null || cp "$f" "$dest/"
done

printf '%s\n' "$VERSION" >"$OUT/version.txt"

# --- apt
gpg --quiet --armor --export >"$OUT/debian/agentrepo.key"
(
    cd "$OUT/debian"
    apt-ftparchive packages pool >dists/serveragent/main/binary-amd64/Packages
    gzip -9 -k dists/serveragent/main/binary-amd64/Packages
    apt-ftparchive \
        -o APT::FTPArchive::Release::Origin=driveclient-e2e \
        -o APT::FTPArchive::Release::Label=driveclient-e2e \
        -o APT::FTPArchive::Release::Suite=serveragent \
        -o APT::FTPArchive::Release::Codename=serveragent \
        -o APT::FTPArchive::Release::Architectures=amd64 \
        -o APT::FTPArchive::Release::Components=main \
        release dists/serveragent >dists/serveragent/Release.tmp
    mv dists/serveragent/Release.tmp dists/serveragent/Release
    gpg --quiet --clearsign -o dists/serveragent/InRelease dists/serveragent/Release
    gpg --quiet --detach-sign --armor -o dists/serveragent/Release.gpg dists/serveragent/Release
)

# --- rpm
gpg --quiet --armor --export >"$OUT/redhat/RPM-GPG-KEY-drivesrvr"
createrepo_c --quiet --no-database "$OUT/redhat" >/dev/null
gpg --quiet --detach-sign --armor -o "$OUT/redhat/repodata/repomd.xml.asc" "$OUT/redhat/repodata/repomd.xml"
cat >"$OUT/redhat/drivesrvr.repo" <<REPO
[drivesrvr]
name=driveclient backup agent (e2e)
baseurl=$BASE/redhat/
enabled=1
gpgcheck=1
gpgkey=$BASE/redhat/RPM-GPG-KEY-drivesrvr
REPO
