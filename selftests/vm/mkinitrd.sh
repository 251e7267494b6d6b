#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build the test VM's initramfs: static busybox, /init, kmig.ko and the
# kernel modules a KVM guest and the network tests need, the kselftests with
# the kselftest runner, and any extra files.
#
# usage: mkinitrd.sh KVER KMIG_KO SELFTEST_BIN_DIR KSFT_DIR OUT [EXTRA_DIR...]
#   EXTRA_DIR trees are copied over the root (for demo programs).
set -e

kver=$1 ko=$2 tests=$3 ksft=$4 out=$5
shift 5
here=$(cd "$(dirname "$0")" && pwd)
modroot=/lib/modules/$kver

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/bin "$root"/sbin "$root"/usr/bin "$root"/usr/sbin \
	"$root"/proc "$root"/sys "$root"/dev "$root"/tmp "$root"/etc \
	"$root"/root "$root"/kselftest/kmig "$root"/kselftest/kselftest

cp /bin/busybox "$root"/bin/busybox
for app in $(/bin/busybox --list); do
	[ -e "$root/bin/$app" ] || ln -s busybox "$root/bin/$app"
done
# The kselftest runner calls "/usr/bin/timeout --foreground", which busybox
# does not know.
cat > "$root"/usr/bin/timeout <<'EOT'
#!/bin/sh
[ "$1" = --foreground ] && shift
exec /bin/busybox timeout "$@"
EOT
chmod +x "$root"/usr/bin/timeout
echo "root:x:0:0:root:/root:/bin/sh" > "$root"/etc/passwd
echo "nobody:x:65534:65534:nobody:/:/bin/false" >> "$root"/etc/passwd
echo "root:x:0:" > "$root"/etc/group
echo "kvm:x:104:" >> "$root"/etc/group
echo "nogroup:x:65534:" >> "$root"/etc/group
[ "$(id -u)" = 0 ] && mknod -m 600 "$root"/dev/console c 5 1
cp "$here"/init "$root"/init

# Kernel modules, with their dependencies from the kernel's modules.dep.
mkdir -p "$root/$modroot/extra"
cp "$ko" "$root/$modroot/extra/kmig.ko"
for m in kernel/arch/x86/kvm/kvm-amd.ko kernel/drivers/net/veth.ko; do
	deps=$(grep "^$m:" "$modroot/modules.dep" | cut -d: -f2)
	for f in $m $deps; do
		mkdir -p "$root/$modroot/$(dirname "$f")"
		cp "$modroot/$f" "$root/$modroot/$f"
	done
done
cp "$modroot"/modules.order "$modroot"/modules.builtin \
	"$modroot"/modules.builtin.modinfo "$root/$modroot/"
depmod -b "$root" "$kver"

# kselftests, laid out as run_kselftest.sh expects.
cp "$ksft"/run_kselftest.sh "$root"/kselftest/
cp "$ksft"/kselftest/runner.sh "$ksft"/kselftest/prefix.pl \
	"$root"/kselftest/kselftest/
# The build directory holds the tests, their helpers, settings and the list
# of tests (lib.mk's emit_tests).
cp "$tests"/* "$root"/kselftest/kmig/
mv "$root"/kselftest/kmig/kselftest-list.txt "$root"/kselftest/

for extra in "$@"; do
	cp -a "$extra"/. "$root"/
done

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
