#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing kmig needs on Debian 12, if missing.
# Idempotent and quiet when everything is there. Must run as root (or with
# sudo available) when something is missing.
set -e

PKGS="build-essential bc bison flex libelf-dev libssl-dev kmod cpio xz-utils
      gzip qemu-system-x86 busybox-static sparse linux-source-6.1
      linux-image-amd64 linux-headers-amd64
      linux-image-cloud-amd64 linux-headers-cloud-amd64
      clang llvm python3 iproute2 liburing-dev libjson-c-dev"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# Kernel packages pull in initramfs-tools; kmig never boots those images.
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
