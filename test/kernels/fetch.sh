#!/usr/bin/env bash
# Downloads the matrix's Debian kernels and busybox-static into the cache (outside the repository) with an apt
# configuration of its own (sources, lists, status and cache under the cache directory; the system's apt is not
# touched), and unpacks each kernel image. Prints one line per kernel: name arch release vmlinuz.
# Usage: fetch.sh [kernel name...]   (default: every kernel of kernels.list)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${SYSCALLHEALTH_KERNEL_CACHE:-/var/cache/syscallhealth-kernels}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
apt_dir="$cache/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$cache/debs"
# One fetch at a time in the cache (other checkouts share it).
exec 9> "$cache/.lock"
flock 9
touch "$apt_dir/status"

# The suites the kernels come from (kernels.list), for both architectures.
suites=$(awk '!/^#/ && NF {print $3}' "$here/kernels.list" | sort -u)
: > "$apt_dir/sources.list.new"
for s in $suites; do
	echo "deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $s main" >> "$apt_dir/sources.list.new"
done
mv "$apt_dir/sources.list.new" "$apt_dir/sources.list"

apt_opts=(
	-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::State::Status=$apt_dir/status"
	-o "Dir::Cache=$apt_dir/cache" -o Debug::NoLocking=1 -o Acquire::Languages=none -o APT::Sandbox::User=root
	-o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o APT::Architectures::=arm64
)

# Refresh the package lists at most once a day; without network, the cached ones serve.
stamp="$apt_dir/lists/.updated"
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
	if apt-get "${apt_opts[@]}" -qq update >&2; then touch "$stamp"
	else echo "fetch.sh: apt-get update failed; using the cached lists" >&2; fi
fi

# download PACKAGE[:ARCH] SUITE: the newest version of it in SUITE, into the cache; prints the .deb's path.
download() {
	local pkg=$1 suite=$2 arch=${1#*:} name=${1%%:*} version deb
	[ "$arch" = "$1" ] && arch=amd64
	version=$(apt-cache "${apt_opts[@]}" show "$pkg/$suite" 2>/dev/null | awk '/^Version:/ {print $2; exit}')
	[ -n "$version" ] || { echo "fetch.sh: $pkg not found in $suite" >&2; return 1; }
	deb=$(ls "$cache/debs/${name}_${version//:/%3a}_${arch}.deb" 2>/dev/null || true)
	if [ -z "$deb" ]; then
		(cd "$cache/debs" && apt-get "${apt_opts[@]}" -qq download "$pkg=$version" >&2)
		deb=$(ls "$cache/debs/${name}_${version//:/%3a}_${arch}.deb")
	fi
	echo "$deb"
}

# The image package a meta-package (linux-image-cloud-amd64) of SUITE depends on.
image_package() {
	local pkg=$1 suite=$2 arch=${1#*:} dep
	[ "$arch" = "$1" ] && arch=amd64
	dep=$(apt-cache "${apt_opts[@]}" show "$pkg/$suite" | awk -F'[ ,]' '/^Depends:/ {print $2; exit}')
	[ -n "$dep" ] || { echo "fetch.sh: no image package behind $pkg in $suite" >&2; return 1; }
	echo "$dep:$arch"
}

for arch in amd64 arm64; do
	bb="$cache/busybox-$arch"
	if [ ! -x "$bb" ]; then
		deb=$(download "busybox-static:$arch" bookworm)
		tmp=$(mktemp -d); dpkg-deb -x "$deb" "$tmp"; cp "$tmp/bin/busybox" "$bb.new"; rm -rf "$tmp"; mv "$bb.new" "$bb"
	fi
done

want=" $* "
while read -r name arch suite meta; do
	case "$name" in ''|'#'*) continue ;; esac
	[ $# -eq 0 ] || [[ "$want" == *" $name "* ]] || continue
	dir="$cache/kernels/$name"
	if [ ! -f "$dir/vmlinuz" ]; then
		pkg=$(image_package "$meta" "$suite")
		deb=$(download "$pkg" "$suite")
		tmp=$(mktemp -d); dpkg-deb -x "$deb" "$tmp"
		mkdir -p "$dir"
		release=$(basename "$(ls -d "$tmp"/lib/modules/*)")
		cp "$tmp/boot/vmlinuz-$release" "$dir/vmlinuz.new"
		echo "$release" > "$dir/release"
		rm -rf "$tmp"; mv "$dir/vmlinuz.new" "$dir/vmlinuz"
	fi
	echo "$name $arch $(cat "$dir/release") $dir/vmlinuz"
done < "$here/kernels.list"
