#!/usr/bin/env sh
# Makes the compose stack's secrets once: the key-encryption key (base64 of 32 random bytes; losing it
# loses the stored licenses, so back it up) and the bootstrap admin token. Never overwrites.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets vendor-keys
[ -e secrets/kek ] || openssl rand -base64 32 >secrets/kek
[ -e secrets/admin.env ] || printf 'LEASEHOLD_ADMIN_TOKEN=lh_admin_%s\n' "$(openssl rand -hex 24)" >secrets/admin.env
# The kek is read by the non-root node user inside the container (podman/docker secrets keep the mode).
chmod 0644 secrets/kek
echo "secrets in $(pwd)/secrets"
