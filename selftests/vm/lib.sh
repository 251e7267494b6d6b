# SPDX-License-Identifier: GPL-2.0
#
# Shared by kmig's VM scripts: kernel discovery and per-kernel module builds.

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

# build_module KVER: build kmig.ko for KVER in its own tree; prints its path.
build_module() {
	dir=$BUILD/kmod/$1
	mkdir -p "$dir"
	cp -a "$TOP"/Kbuild "$TOP"/uapi "$dir"/
	mkdir -p "$dir/module"
	cp -a "$TOP"/module/*.[ch] "$TOP"/module/Kbuild "$TOP"/module/compat \
		"$dir/module/"
	make -s -C "/usr/src/linux-headers-$1" M="$dir" modules >&2 || return 1
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
	cp "$TOP"/selftests/vm/demo-guest.sh "$root/demo/demo"
	echo "$root"
}
