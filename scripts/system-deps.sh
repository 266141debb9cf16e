#!/usr/bin/env bash
# The Debian packages the test suite runs (beside npm packages and etcd, which scripts/fetch-etcd.sh
# fetches into .cache/ by itself). One list, used two ways:
#
#   scripts/system-deps.sh check     exit 0 when all are there; otherwise name what is missing and the one
#                                    command that installs it, and exit 1 (`npm test` runs this first, so
#                                    it stops at once instead of failing tests ten minutes in)
#   scripts/system-deps.sh install   apt-get install what is missing (.ci/run; needs root)
#
# What each is for: openssl (a license verifies with `openssl pkeyutl`), curl (the README walkthrough),
# debian-archive-keyring (verifies trixie's index for fetch-etcd.sh), util-linux (flock; setpriv, which
# ties etcd members to the test process; unshare), iproute2 and nftables (the partition tests cut links
# inside their own network namespace), chromium (the dashboard's browser test, driven by playwright-core;
# no browser download), prometheus (promtool checks /metrics and the alert rules), faketime (a node with
# a shifted clock). The container and deployment tests (test/containers, the `containers` vitest project):
# podman with runc and catatonit, podman-compose, the dnsname network plugin, haproxy (`haproxy -c` and the
# compose stack) and systemd-analyze (unit verification).
#
# kubectl >= 1.27 (kustomize v5) is not in Debian 12 (its kubernetes-client is 1.20): it comes from
# pkgs.k8s.io or the Google Cloud SDK repository; `check` names it separately when it is missing.
set -euo pipefail

# command-or-file:package, one per line.
requirements=(
  "openssl:openssl"
  "curl:curl"
  "/usr/share/keyrings/debian-archive-keyring.gpg:debian-archive-keyring"
  "flock:util-linux"
  "setpriv:util-linux"
  "unshare:util-linux"
  "ip:iproute2"
  "nft:nftables"
  "chromium:chromium"
  "promtool:prometheus"
  "faketime:faketime"
  "podman:podman"
  "runc:runc"
  "/usr/libexec/podman/catatonit:catatonit"
  "podman-compose:podman-compose"
  "/usr/lib/cni/dnsname:golang-github-containernetworking-plugin-dnsname"
  "haproxy:haproxy"
  "systemd-analyze:systemd"
)

missing_packages() {
  local seen=" " entry what pkg
  for entry in "${requirements[@]}"; do
    what=${entry%%:*}
    pkg=${entry##*:}
    if [[ $what == /* ]]; then [[ -r $what ]] && continue; else command -v "$what" >/dev/null && continue; fi
    [[ $seen == *" $pkg "* ]] || seen+="$pkg "
  done
  echo "$seen" | xargs
}

mode=${1:-check}
missing=$(missing_packages)
kubectl_note() {
  command -v kubectl >/dev/null && return 0
  echo "kubectl >= 1.27 is missing too (not a Debian 12 package): install it from https://pkgs.k8s.io" >&2
  return 1
}

case $mode in
  check)
    if [[ -z $missing ]]; then kubectl_note; exit; fi
    {
      echo "npm test needs Debian packages that are not installed: $missing"
      echo "Install them with this one command, then run npm test again:"
      echo
      echo "  sudo apt-get install -y --no-install-recommends $missing"
      echo
      echo "(or: sudo scripts/system-deps.sh install; the list and what each is for: scripts/system-deps.sh)"
    } >&2
    kubectl_note || true
    exit 1
    ;;
  install)
    [[ -z $missing ]] && exit 0
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086 # a list of package names
    apt-get install -y -qq --no-install-recommends $missing
    kubectl_note || true
    ;;
  *)
    echo "usage: scripts/system-deps.sh check|install" >&2
    exit 2
    ;;
esac
