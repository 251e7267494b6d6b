# SPDX-License-Identifier: GPL-2.0
#
# Shared by kmig's VM scripts: kernel discovery, per-kernel module builds and
# the initramfs of one VM.
#
# Kernel flavours:
#   generic, cloud  Debian's installed 6.1 kernels, with their headers
#   debug           Linux 6.1 from linux-source-6.1 with KASAN, lockdep,
#                   kmemleak, KFENCE and fault injection, built and cached by
#                   scripts/debug-kernel.sh

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$TOP/build
KSFT=$BUILD/linux-source/tools/testing/selftests

# kernel_release generic|cloud: the newest installed Debian 6.1 kernel of
# that flavour that also has headers and a module tree.
kernel_release() {
	case $1 in
	generic) pat='vmlinuz-6.1.*-amd64' ;;
	cloud) pat='vmlinuz-6.1.*-cloud-amd64' ;;
	*) echo "unknown kernel flavour $1" >&2; return 1 ;;
	esac
	for f in $(ls /boot/$pat 2>/dev/null | sort -V -r); do
		k=${f#/boot/vmlinuz-}
		case $1:$k in generic:*-cloud-amd64|generic:*-rt-amd64) continue ;; esac
		if [ -d "/usr/src/linux-headers-$k" ] && [ -d "/lib/modules/$k" ]; then
			echo "$k"
			return 0
		fi
	done
	echo "no $1 6.1 kernel with headers installed (make deps)" >&2
	return 1
}

# kernel_setup FLAVOUR: sets KVER, KDIR (module build tree), KIMAGE (what
# QEMU boots), KMODROOT (the kernel's own module tree, may not exist),
# KTREE (a full build tree, debug only), KQEMU (extra QEMU arguments) and
# KAPPEND (extra kernel command line).
kernel_setup() {
	KTREE= KQEMU= KAPPEND=
	case $1 in
	debug)
		KTREE=$("$TOP"/scripts/debug-kernel.sh) || return 1
		KVER=$(make -s -C "$KTREE" kernelrelease) || return 1
		KDIR=$KTREE
		KIMAGE=$KTREE/arch/x86/boot/bzImage
		# KASAN under TCG stalls in ACPI IRQ routing on the pc machine.
		KQEMU="-machine q35"
		# the fuzzers run longer under the debug kernel
		KAPPEND="KMIG_FUZZ_ITERS=60000 KMIG_FUZZ_CASES=12000"
		;;
	*)
		KVER=$(kernel_release "$1") || return 1
		KDIR=/usr/src/linux-headers-$KVER
		KIMAGE=/boot/vmlinuz-$KVER
		;;
	esac
	KMODROOT=/lib/modules/$KVER
	export KVER KDIR KIMAGE KMODROOT KTREE KQEMU KAPPEND
}

# build_module: build kmig.ko for KDIR in its own tree; prints its path.
build_module() {
	dir=$BUILD/kmod/$KVER
	mkdir -p "$dir"
	cp -a "$TOP"/Kbuild "$TOP"/uapi "$dir"/
	mkdir -p "$dir/module"
	# The sources only: an in-tree build's kmig.mod.c is generated for
	# another kernel, and a copy newer than this tree's objects would be
	# compiled as it is (wrong symbol CRCs: "invalid module format").
	for f in "$TOP"/module/*.[ch]; do
		case $f in *.mod.c) continue ;; esac
		cp -a "$f" "$dir/module/"
	done
	cp -a "$TOP"/module/Kbuild "$TOP"/module/compat "$dir/module/"
	make -s -C "$KDIR" M="$dir" modules >&2 || return 1
	echo "$dir/module/kmig.ko"
}

# stage_vm_root: the static userspace programs and the demo, for the VM's
# root filesystem. Prints the staging directory.
stage_vm_root() {
	make -s -C "$TOP/userspace" static >"$BUILD/userspace-static.log" 2>&1 ||
		{ cat "$BUILD/userspace-static.log" >&2; return 1; }
	root=$BUILD/vm-root
	rm -rf "$root"
	mkdir -p "$root/usr/bin" "$root/demo"
	cp "$TOP"/userspace/build/static/kmigctl \
		"$TOP"/userspace/build/static/kmig-vmm "$root/usr/bin/"
	[ -x "$TOP"/userspace/build/static/kmig-bench ] &&
		cp "$TOP"/userspace/build/static/kmig-bench "$root/usr/bin/"
	# selftests/vm/NAME-guest.sh is what /init runs in KMIG_MODE=NAME
	for f in "$TOP"/selftests/vm/*-guest.sh; do
		n=${f##*/}
		cp "$f" "$root/demo/${n%-guest.sh}"
	done
	echo "$root"
}

# vm_prepare FLAVOUR OUTDIR: kernel, module, selftests and initramfs
# (OUTDIR/initrd.gz) for one VM. Sets what kernel_setup sets.
vm_prepare() {
	kernel_setup "$1" || return 1
	echo "=== $1: $KVER" >&2
	make -s -C "$TOP" selftests >&2 || return 1
	ko=$(build_module) || { echo "module build for $KVER failed" >&2; return 1; }
	vmroot=$(stage_vm_root) || { echo "static userspace build failed" >&2; return 1; }
	# Stock QEMU and its Linux guest (Debian's generic kernel) for
	# kmig_qemu.sh, whatever kernel the VM itself boots.
	gk=$(kernel_release generic) &&
		"$TOP"/selftests/vm/qemu-root.sh "$BUILD/vm-qemu" "/boot/vmlinuz-$gk" ||
		{ echo "staging QEMU for the VM failed" >&2; return 1; }
	mkdir -p "$2"
	"$TOP"/selftests/vm/mkinitrd.sh "$ko" "$BUILD/selftests" "$KSFT" \
		"$2/initrd.gz" "$vmroot" "$BUILD/vm-qemu"
}
