#!/usr/bin/env bash
# Provision etcd 3.5 for tests and the developer cluster, without a system install.
#
# Debian 12's etcd-server is 3.4.23 (end of life, with lease and watch bugs fixed in 3.5), so we take
# Debian 13 (trixie)'s etcd-server (3.5.16), which also runs on Debian 12: `apt-get download` against a
# private trixie source list, then `dpkg -x` into .cache/etcd/root. Nothing is fetched from anywhere but
# Debian's mirror, and the host's apt state is never touched.
#
# Result: .cache/etcd/root/usr/bin/etcd (and etcdctl from etcd-client, if that download works).
# Idempotent: exits at once when that binary exists and reports 3.5.x, or LEASEHOLD_ETCD_BIN runs.
# LEASEHOLD_DEBIAN_MIRROR overrides http://deb.debian.org/debian (another Debian mirror).
# If the download fails and /usr/bin/etcd >= 3.4 exists, it says so with a WARNING and exits 0;
# locateEtcd() in @leasehold/devtools then falls back to etcd on PATH.
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root_dir/.cache/etcd"
bin="$cache/root/usr/bin/etcd"
mirror="${LEASEHOLD_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf 'fetch-etcd: %s\n' "$*" >&2; }

# Prints the x.y.z version of the etcd binary $1, or nothing when it does not run.
etcd_version() {
  "$1" --version 2>/dev/null | sed -n 's/^etcd Version: \([0-9][0-9.]*\).*/\1/p' | head -n1
}

is_35() { [[ "$(etcd_version "$1")" == 3.5.* ]]; }

if [[ -x "$bin" ]] && is_35 "$bin"; then
  log "etcd $(etcd_version "$bin") already at ${bin#"$root_dir"/}"
  exit 0
fi
# locateEtcd() prefers LEASEHOLD_ETCD_BIN; when that runs, there is nothing to fetch.
if [[ -n "${LEASEHOLD_ETCD_BIN:-}" ]] && [[ -n "$(etcd_version "$LEASEHOLD_ETCD_BIN")" ]]; then
  log "using LEASEHOLD_ETCD_BIN=$LEASEHOLD_ETCD_BIN (etcd $(etcd_version "$LEASEHOLD_ETCD_BIN")); nothing to fetch"
  exit 0
fi

mkdir -p "$cache"
# Two test runs may start at once; the second waits and then finds the binary in place.
exec 9>"$cache/.lock"
flock 9
if [[ -x "$bin" ]] && is_35 "$bin"; then
  log "etcd $(etcd_version "$bin") already at ${bin#"$root_dir"/}"
  exit 0
fi

# fallback_or_fail MESSAGE [LOG_FILE]: say what failed (with the log's last lines), then use the system
# etcd if it is recent enough, else exit 1.
fallback_or_fail() {
  log "ERROR: could not fetch etcd 3.5 from Debian trixie ($mirror): $1"
  if [[ -n "${2:-}" && -s "$2" ]]; then
    tail -n 5 "$2" | sed 's/^/fetch-etcd:   | /' >&2
  fi
  if [[ -x /usr/bin/etcd ]]; then
    local v
    v="$(etcd_version /usr/bin/etcd)"
    if [[ -n "$v" ]] && printf '%s\n' 3.4.0 "$v" | sort -V -C; then
      log "WARNING: falling back to the system etcd $v at /usr/bin/etcd. Tests and the dev cluster"
      log "WARNING: expect 3.5; 3.4 is end of life and has lease and watch bugs fixed in 3.5."
      exit 0
    fi
  fi
  log "Without etcd the HA tests cannot run. Check network access to $mirror, then run scripts/fetch-etcd.sh"
  log "again; or point LEASEHOLD_ETCD_BIN at an etcd 3.5 binary."
  exit 1
}

for tool in apt-get dpkg-deb flock; do
  command -v "$tool" >/dev/null || fallback_or_fail "'$tool' is not installed (this script needs Debian's apt and dpkg)"
done
[[ -r "$keyring" ]] || fallback_or_fail "$keyring is missing (apt-get install debian-archive-keyring)"

# Private apt configuration: only the trixie source list, our own lists and cache, no host preferences.
apt_dir="$cache/apt"
rm -rf "$apt_dir"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
echo "deb [signed-by=$keyring] $mirror trixie main" >"$apt_dir/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::Etc::Preferences=/dev/null"
  -o "Dir::Etc::PreferencesParts=/dev/null"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "Acquire::Languages=none"
  -o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
)

log "downloading the Debian trixie package index from $mirror"
apt-get -q --error-on=any "${apt_opts[@]}" update >"$cache/apt-update.log" 2>&1 ||
  fallback_or_fail "apt-get update failed (see ${cache#"$root_dir"/}/apt-update.log)" "$cache/apt-update.log"

debs="$cache/debs"
rm -rf "$debs"
mkdir -p "$debs"
# apt-get download writes into the current directory. As root it warns that the download runs
# unsandboxed because _apt cannot write here; that is harmless.
log "downloading etcd-server"
(cd "$debs" && apt-get -q "${apt_opts[@]}" download etcd-server) >"$cache/apt-download.log" 2>&1 ||
  fallback_or_fail "apt-get download etcd-server failed (see ${cache#"$root_dir"/}/apt-download.log)" \
    "$cache/apt-download.log"
# etcd-client gives etcdctl, handy for poking at a dev cluster; optional.
(cd "$debs" && apt-get -q "${apt_opts[@]}" download etcd-client) >>"$cache/apt-download.log" 2>&1 ||
  log "note: etcd-client (etcdctl) could not be downloaded; continuing without it"

# Unpack into a fresh directory and swap it in, so an interrupted run never leaves a half tree behind.
staging="$cache/root.new"
rm -rf "$staging"
mkdir -p "$staging"
for deb in "$debs"/*.deb; do
  dpkg-deb -x "$deb" "$staging"
done
rm -rf "$cache/root"
mv "$staging" "$cache/root"
rm -rf "$apt_dir" # the package index is ~100 MB and only needed for the download

if ! is_35 "$bin"; then
  fallback_or_fail "the unpacked ${bin#"$root_dir"/} does not report version 3.5.x: $("$bin" --version 2>&1 | head -n1 || true)"
fi
log "etcd $(etcd_version "$bin") ready at ${bin#"$root_dir"/} (from $(cd "$debs" && echo *.deb))"
