#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build (or find in the cache) kmig's debug kernel: Linux 6.1 from Debian's
# linux-source-6.1, "make tinyconfig" plus selftests/vm/debug.config (KASAN,
# lockdep, kmemleak, KFENCE, fault injection, KVM).
#
# The tree lives outside the repository, in $KMIG_CACHE (default
# ~/.cache/kmig), under a key made of the fragment, the source package's
# version and the compiler; it is rebuilt only when one of them changes.
# A cold build takes about 13 minutes on 2 cores.
#
# usage: debug-kernel.sh    prints the built tree (kernel + module build dir)
set -e

top=$(cd "$(dirname "$0")/.." && pwd)
frag=$top/selftests/vm/debug.config
tarball=/usr/src/linux-source-6.1.tar.xz
[ -f "$tarball" ] || { echo "linux-source-6.1 is not installed (make deps)" >&2; exit 1; }

cache=${KMIG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kmig}
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || stat -c %Y "$tarball")
key=$( { cat "$frag"; echo "$srcver"; gcc --version | head -n1; } | sha256sum | cut -c1-16)
tree=$cache/debug-kernel-$key

if [ -f "$tree/.kmig-built" ]; then
	echo "$tree"
	exit 0
fi

echo "debug-kernel: building $tree (about 13 minutes on 2 cores)" >&2
mkdir -p "$cache"
# Old builds of other keys are 1.8 GB each: keep only this one.
for old in "$cache"/debug-kernel-*; do
	[ -d "$old" ] && [ "$old" != "$tree" ] && rm -rf "$old"
done
if [ ! -f "$tree/Makefile" ]; then
	rm -rf "$tree.tmp"
	mkdir -p "$tree.tmp"
	tar -xf "$tarball" -C "$tree.tmp" --strip-components=1
	mv "$tree.tmp" "$tree"
fi
cd "$tree"
make -s tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m .config "$frag" >/dev/null
make -s olddefconfig >/dev/null
# Every option of the fragment must have survived olddefconfig.
missing=0
grep -E '^CONFIG_[A-Z0-9_]+=' "$frag" | while IFS= read -r line; do
	grep -qxF "$line" .config || { echo "debug-kernel: $line was dropped" >&2; exit 1; }
done || missing=1
[ "$missing" = 0 ] || exit 1
make -s -j"$(nproc)" bzImage modules_prepare modules >build.log 2>&1 ||
	{ tail -n 40 build.log >&2; exit 1; }
touch .kmig-built
echo "$tree"
