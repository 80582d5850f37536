#!/bin/sh
# sign-rpms.sh GNUPGHOME FINGERPRINT RPM...
# Signs the rpms in place with the throwaway key. Debian's rpmsign looks for gpg2 by default.
set -eu
export GNUPGHOME=${1:?usage: sign-rpms.sh GNUPGHOME FINGERPRINT RPM...}
FPR=${2:?usage: sign-rpms.sh GNUPGHOME FINGERPRINT RPM...}
shift 2
rpmsign --addsign \
    --define "%__gpg /usr/bin/gpg" \
    --define "%_gpg_name $FPR" \
    "$@" >/dev/null
