#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build the test VM's initramfs: static busybox, /init, the kernel modules a
# KVM guest and the network tests need, kmig installed the way an operator
# installs it ("make install DESTDIR=root", which runs depmod for the VM's
# kernel), the kselftests with the kselftest runner, and any extra files.
#
# usage: mkinitrd.sh KMIG_KO SELFTEST_BIN_DIR KSFT_DIR OUT [EXTRA_DIR...]
#   The environment gives the kernel (KVER, KMODROOT, KTREE: lib.sh's
#   kernel_setup). EXTRA_DIR trees are copied over the root (demo programs).
set -e

ko=$1 tests=$2 ksft=$3 out=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
: "${KVER:?}" "${KMODROOT:=/lib/modules/$KVER}"
modroot=/lib/modules/$KVER

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/bin "$root"/sbin "$root"/usr/bin "$root"/usr/sbin \
	"$root"/proc "$root"/sys "$root"/dev "$root"/tmp "$root"/etc \
	"$root"/root "$root"/kselftest/kmig "$root"/kselftest/kselftest \
	"$root/$modroot"

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

# The kernel's own modules, with their dependencies from its modules.dep.
# A self-built kernel (KTREE) has them built in and lists them in
# modules.builtin, which modprobe reads.
if [ -f "$KMODROOT/modules.dep" ]; then
	for m in kernel/arch/x86/kvm/kvm-amd.ko kernel/drivers/net/veth.ko \
		kernel/drivers/virtio/virtio_pci.ko kernel/drivers/net/virtio_net.ko \
		kernel/drivers/block/loop.ko; do
		grep -q "^$m:" "$KMODROOT/modules.dep" || continue	# built in
		deps=$(grep "^$m:" "$KMODROOT/modules.dep" | cut -d: -f2)
		for f in $m $deps; do
			mkdir -p "$root/$modroot/$(dirname "$f")"
			cp "$KMODROOT/$f" "$root/$modroot/$f"
		done
	done
	cp "$KMODROOT"/modules.order "$KMODROOT"/modules.builtin \
		"$KMODROOT"/modules.builtin.modinfo "$root/$modroot/"
elif [ -n "$KTREE" ]; then
	cp "$KTREE"/modules.builtin "$KTREE"/modules.builtin.modinfo "$root/$modroot/"
	: > "$root/$modroot/modules.order"
fi

# kmig itself, as "make install" lays it out: the module in updates/ (then
# depmod for KVER), libkmig, its header and kmigctl under /usr. The installed
# kmigctl is dynamically linked, so the VM gets the host's C library too.
make -s -C "$top" install DESTDIR="$root" PREFIX=/usr KVER="$KVER" KO="$ko" \
	>"$root/tmp/install.log" 2>&1 || { cat "$root/tmp/install.log" >&2; exit 1; }
mv "$root/tmp/install.log" "$root/root/"
for lib in $(ldd "$root/usr/sbin/kmigctl" | grep -o '/[^ ]*' | grep -v libkmig); do
	mkdir -p "$root/$(dirname "$lib")"
	cp -L "$lib" "$root/$lib"
done

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
