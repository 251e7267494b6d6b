#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Stage stock QEMU and a Linux guest for kmig's QEMU tests
# (selftests/kmig_qemu.sh) into a directory that mkinitrd.sh copies over the
# test VM's root:
#   /usr/bin/qemu-system-x86_64, its libraries and the firmware it loads
#     (Debian's qemu-system-x86 package, as installed on this host);
#   /qemu-guest/vmlinuz, Debian's generic 6.1 kernel, the guest's kernel;
#   /qemu-guest/initrd.gz, busybox and guest-load.c, the guest's workload.
#
# usage: qemu-root.sh OUTDIR GUEST_KERNEL_IMAGE
set -e

out=$1 kimage=$2
here=$(cd "$(dirname "$0")" && pwd)
qemu=$(command -v qemu-system-x86_64)

rm -rf "$out"
mkdir -p "$out/usr/bin" "$out/usr/share/qemu" "$out/usr/share/seabios" \
	"$out/qemu-guest"
cp "$qemu" "$out/usr/bin/"
for lib in $(ldd "$qemu" | grep -o '/[^ ]*'); do
	mkdir -p "$out/$(dirname "$lib")"
	cp -L "$lib" "$out/$lib"
done
# -machine pc with -kernel: SeaBIOS, the Linux boot option ROM, the vAPIC
# ROM. Nothing else: the tests run QEMU with -nodefaults.
cp /usr/share/seabios/bios-256k.bin "$out/usr/share/seabios/"
cp /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/kvmvapic.bin \
	"$out/usr/share/qemu/"
cp "$kimage" "$out/qemu-guest/vmlinuz"

g=$(mktemp -d)
trap 'rm -rf "$g"' EXIT
mkdir -p "$g/bin" "$g/proc" "$g/dev"
cp /bin/busybox "$g/bin/"
for app in sh mount cat; do
	ln -s busybox "$g/bin/$app"
done
${CC:-cc} -O2 -Wall -Werror -static -o "$g/bin/guest-load" "$here/guest-load.c"
# kmig.load=busy|idle and kmig.mib=N on the guest's command line.
cat > "$g/init" <<'EOT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev
load=idle mib=16
for a in $(cat /proc/cmdline); do
	case $a in
	kmig.load=*) load=${a#*=} ;;
	kmig.mib=*) mib=${a#*=} ;;
	esac
done
echo "guest: up, load $load, $mib MiB"
exec /bin/guest-load "$mib" "$load" >/dev/ttyS0 2>&1
EOT
chmod +x "$g/init"
(cd "$g" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/qemu-guest/initrd.gz"
