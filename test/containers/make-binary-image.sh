#!/usr/bin/env bash
# Imports a one-binary image from this machine (the binary at <dest>, plus the shared libraries ldd
# lists), for the compose test where etcd's and HAProxy's upstream images cannot be pulled.
#   make-binary-image.sh <image-ref> <binary> <dest-path-in-image>
set -euo pipefail
ref="$1" bin="$2" dest="$3"
podman image exists "$ref" && exit 0
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/usr/lib64" "$root/tmp" "$root/etc" "$root/var/lib" "$root/run"
chmod 1777 "$root/tmp"
for d in bin lib lib64; do ln -s "usr/$d" "$root/$d"; done
mkdir -p "$root$(dirname "$dest")"
cp -L "$bin" "$root$dest"
for lib in $(ldd "$bin" | grep -o '/[^ ]*' | sort -u) /lib/x86_64-linux-gnu/libnss_dns.so.2 \
  /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/libresolv.so.2; do
  if [ -e "$lib" ]; then mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"; fi
done
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
tar -C "$root" -cf - . | podman import --quiet --change "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin" - "$ref" >/dev/null
