#!/usr/bin/env bash
# Makes the two base images the Dockerfile needs from THIS machine's Node.js, for sites (and CI
# sandboxes) that cannot pull from a registry. Real users need none of this: the Dockerfile defaults
# to the official node:20 images.
#
#   deploy/image/make-local-base.sh [tag-prefix]      (default: localhost/leasehold-base)
#
# Prints two lines, BUILD_IMAGE=<ref> and BASE_IMAGE=<ref>, for
#   podman build --build-arg BUILD_IMAGE=... --build-arg BASE_IMAGE=... .
#
# - <prefix>/node-runtime:<node version>: the node binary and the shared libraries it links (ldd),
#   CA certificates, /tmp. No shell, no package manager: the runtime stage needs neither.
# - <prefix>/node-build:<node version>: the runtime plus npm, Node's C headers (/usr/include/node, so
#   node-gyp compiles better-sqlite3 without downloading headers), and the files of the installed
#   Debian packages for a shell, coreutils, make, g++ and python3 (node-gyp's toolchain). npm trusts
#   this machine's CA bundle (NODE_EXTRA_CA_CERTS), as npm here does, for sites behind a TLS proxy.
# Both are `podman import`s of rootfs tars; an image that already exists for this node version is kept.
set -euo pipefail
prefix="${1:-localhost/leasehold-base}"
node_bin="$(command -v node)"
version="$("$node_bin" -p 'process.versions.node')"
runtime_ref="$prefix/node-runtime:$version"
build_ref="$prefix/node-build:$version"

have() { podman image exists "$1"; }
if have "$runtime_ref" && have "$build_ref"; then
  echo "BUILD_IMAGE=$build_ref"
  echo "BASE_IMAGE=$runtime_ref"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Copies paths (files, symlinks, directories) into a rootfs, keeping their absolute locations.
copy_into() {
  local root="$1"
  shift
  # --no-recursion on a list of files; directories listed by dpkg are created empty. Paths through the
  # merged-/usr links are stored under /usr; paths that do not exist here (diverted) are left out.
  local path
  for path in "$@"; do
    case "$path" in /bin | /sbin | /lib | /lib64) continue ;; esac
    case "$path" in /bin/* | /sbin/* | /lib/* | /lib64/*) path="/usr$path" ;; esac
    if [ -e "$path" ] || [ -L "$path" ]; then printf '%s\n' "${path#/}"; fi
  done | sort -u | tar -C / --no-recursion -cf - --files-from=- | tar -C "$root" -xf -
}

make_runtime() {
  local root="$1"
  mkdir -p "$root/tmp" "$root/etc/ssl/certs" "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/usr/lib64"
  chmod 1777 "$root/tmp"
  # Merged /usr, as on Debian 12 (and in the official images).
  for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
  cp "$node_bin" "$root/usr/bin/node"
  local libs
  libs="$(ldd "$node_bin" | grep -o '/[^ ]*' | sort -u)"
  for lib in $libs; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  # Name resolution needs the NSS modules glibc loads at run time (not in ldd's list).
  for lib in /lib/x86_64-linux-gnu/libnss_dns.so.2 /lib/x86_64-linux-gnu/libnss_files.so.2 \
    /lib/x86_64-linux-gnu/libresolv.so.2; do
    if [ -e "$lib" ]; then cp -L "$lib" "$root$lib"; fi
  done
  if [ -r /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"; fi
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

if ! have "$runtime_ref"; then
  make_runtime "$work/runtime"
  tar -C "$work/runtime" -cf - . | podman import --quiet \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'CMD ["/usr/bin/node"]' \
    - "$runtime_ref" >/dev/null
fi

if ! have "$build_ref"; then
  root="$work/build"
  make_runtime "$root"
  # The Debian packages of the toolchain and everything they depend on, as installed here.
  mapfile -t pkgs < <(apt-cache depends --recurse --installed --no-recommends --no-suggests \
    --no-conflicts --no-breaks --no-replaces --no-enhances \
    dash bash coreutils sed grep findutils tar gzip make g++ python3 2>/dev/null |
    grep -v '^ ' | grep -v '<' | sort -u)
  mapfile -t files < <(dpkg -L "${pkgs[@]}" 2>/dev/null | grep -v -E '^/usr/share/(doc|man|info|locale)/' | sort -u)
  copy_into "$root" "${files[@]}"
  # The host's /bin/sh link is dpkg-diverted, not listed by dpkg -L.
  [ -e "$root/usr/bin/sh" ] || ln -s dash "$root/usr/bin/sh"
  # cc and c++ are update-alternatives links (under /etc/alternatives), not package files.
  [ -e "$root/usr/bin/cc" ] || ln -s gcc "$root/usr/bin/cc"
  [ -e "$root/usr/bin/c++" ] || ln -s g++ "$root/usr/bin/c++"
  mkdir -p "$root/usr/lib/node_modules"
  cp -a /usr/lib/node_modules/npm "$root/usr/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/bin/npx"
  mkdir -p "$root/usr/include"
  cp -a /usr/include/node "$root/usr/include/"
  mkdir -p "$root/root"
  tar -C "$root" -cf - . | podman import --quiet \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'ENV npm_config_nodedir=/usr' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["/bin/sh"]' \
    - "$build_ref" >/dev/null
fi

echo "BUILD_IMAGE=$build_ref"
echo "BASE_IMAGE=$runtime_ref"
