#!/bin/bash
# make fresh: the two README commands on a machine where nothing is installed.
#
# Builds a bare Debian 12 (debootstrap --variant=minbase, plus git, make and ca-certificates:
# what README asks of a new user) in a directory under /var/tmp, clones this repository's
# HEAD into it, and runs `make demo` and then `make test` inside the chroot, exactly as
# typed. Prints the wall time of each step. Needs root and the host's apt sources; the
# mirror is read from them at run time and never written anywhere in the repository.
#
# The debootstrapped base is cached as a tarball in $FRESH_CACHE (default
# /var/tmp/redflagd-fresh), so only the first run pays for debootstrap. Everything else
# (the root, its mounts, processes left in it) is removed on exit, also on failure or
# Ctrl-C. Set FRESH_KEEP=1 to keep the root for a look after a failure.
set -euo pipefail

suite=bookworm
cache=${FRESH_CACHE:-/var/tmp/redflagd-fresh}
repo=$(git -C "$(dirname "$0")/../.." rev-parse --show-toplevel)
base_tar=$cache/$suite-minbase.tar.gz
root=

say() { printf 'fresh: %s\n' "$*"; }
die() { printf 'fresh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot)"

# The mirror of the host's first Debian source, from deb822 or one-line format.
host_mirror() {
	local f=/etc/apt/sources.list.d/debian.sources
	if [ -r "$f" ]; then
		sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$f" | grep -v security | head -n 1
	elif [ -r /etc/apt/sources.list ]; then
		awk '$1 == "deb" && $0 !~ /security/ { print ($2 ~ /^\[/ ? $3 : $2); exit }' \
			/etc/apt/sources.list
	fi
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [ -n "$root" ] && [ -d "$root" ]; then
		# Services a package or a test started inside the root would keep it busy.
		local pid
		for pid in $(ls /proc | grep -E '^[0-9]+$'); do
			[ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] && kill -9 "$pid" 2>/dev/null
		done
		for m in dev/pts dev sys proc; do
			mountpoint -q "$root/$m" && umount -l "$root/$m"
		done
		if [ "${FRESH_KEEP:-0}" = 1 ] && [ "$rc" -ne 0 ]; then
			say "kept $root (FRESH_KEEP=1); unmounted"
		else
			rm -rf --one-file-system "$root"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Wall time of each step, as seconds with one decimal.
declare -A took
now() { printf '%s' "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p "$cache"
if ! command -v debootstrap >/dev/null; then
	say "installing debootstrap on the host"
	apt-get update -q --error-on=any >/dev/null || die "'apt-get update' failed on the host"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null ||
		die "'apt-get install debootstrap' failed on the host"
fi

root=$(mktemp -d "$cache/root.XXXXXX")
chmod 755 "$root"
t0=$(now)
if [ -s "$base_tar" ]; then
	say "unpacking the cached base $base_tar"
	tar -xzf "$base_tar" -C "$root"
	took[debootstrap]="$(secs "$t0" "$(now)") (cached)"
else
	mirror=$(host_mirror)
	[ -n "$mirror" ] || die "no Debian mirror found in the host's apt sources"
	say "debootstrap $suite (minbase + git, make, ca-certificates)"
	debootstrap --variant=minbase --include=git,make,ca-certificates "$suite" "$root" \
		"$mirror" >"$cache/debootstrap.log" 2>&1 ||
		die "debootstrap failed; see $cache/debootstrap.log"
	took[debootstrap]=$(secs "$t0" "$(now)")
	# Cache a pristine base: written beside, then renamed, so a cut run leaves no half file.
	tar -czf "$base_tar.tmp" -C "$root" . && mv "$base_tar.tmp" "$base_tar"
fi

# apt inside the root uses the host's sources and resolver, as a real machine has its own;
# debootstrap writes no /etc/hosts, which every installed Debian has (localhost must resolve).
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
	cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
	: >"$root/etc/apt/sources.list"
fi
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
[ -s "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
# No init runs in a chroot: keep packages from starting their services (Dovecot would
# listen on 143 and outlive the run). The tests start their own servers on their own ports.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

for m in proc sys dev dev/pts; do
	mkdir -p "$root/$m"
	mount --bind "/$m" "$root/$m"
done

if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
	say "note: $repo has uncommitted changes; the chroot gets HEAD only"
fi
git clone -q --no-hardlinks "$repo" "$root/root/redflagd"
say "cloned $(git -C "$repo" rev-parse --short HEAD) into the root"

# Runs one command in the root as a new root login would, with every output line shown;
# records when the first line matching each of the given marks appeared.
declare -A seen
in_root() {
	local cmd=$1; shift
	local line last= mark
	seen=()
	while IFS= read -r line; do
		printf '  | %s\n' "$line"
		last=$line
		for mark in "$@"; do
			if [ -z "${seen[$mark]:-}" ] && [[ "$line" == *"$mark"* ]]; then
				seen[$mark]=$(now)
			fi
		done
	done < <(chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/sh -c "cd /root/redflagd && $cmd" 2>&1; echo "exit $?")
	[ "$last" = "exit 0" ]
}

say "make demo (first command on the bare machine)"
t0=$(now)
in_root "make demo" "  CC  " "  LD      build/redflagd" || die "make demo failed"
t1=$(now)
# make demo = deps, then the build, then the demo itself; the build's first and last
# lines split the time.
cc=${seen["  CC  "]:-$t0}
ld=${seen["  LD      build/redflagd"]:-$cc}
took[deps]=$(secs "$t0" "$cc")
took[build]=$(secs "$cc" "$ld")
took[demo]=$(secs "$ld" "$t1")

say "make test"
t0=$(now)
in_root "make test" || die "make test failed"
took[test]=$(secs "$t0" "$(now)")

say "both commands passed on a bare $suite"
for step in debootstrap deps build demo test; do
	printf 'fresh: %-12s %s s\n' "$step" "${took[$step]}"
done
