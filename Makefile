# SPDX-License-Identifier: GPL-2.0
#
# kmig: kernel-assisted VM live migration.
#
#   make            module + userspace + selftests
#   make module     kmig.ko against KDIR
#   make debug      kmig.ko with DEBUG and -g
#   make check      sparse (C=2) + W=1 + checkpatch; fails on any warning
#   make style      checkpatch only
#   make test       everything, in QEMU, on the generic and cloud kernels
#                   (KERNEL=debug: on a KASAN/lockdep/kmemleak kernel)
#   make demo       the live migration demo (README)
#   make demo-qemu  the same with stock QEMU and a Linux guest
#   make bench      kmig_bench in the test VM (Documentation/performance.rst)
#   make clean

KERNELRELEASE ?= $(shell uname -r)
# Debian's generic 6.1 headers, newest first, when the running kernel has none.
DEBIAN_KDIR := $(lastword $(sort $(filter-out %-cloud-amd64 %-rt-amd64, \
		$(wildcard /usr/src/linux-headers-*-amd64))))
KDIR ?= $(firstword $(wildcard /lib/modules/$(KERNELRELEASE)/build) $(DEBIAN_KDIR))

BUILD := $(CURDIR)/build
LINUX_SRC := $(BUILD)/linux-source
CHECKPATCH := $(LINUX_SRC)/scripts/checkpatch.pl
KMIG_SOURCES := $(filter-out %.mod.c,$(wildcard module/*.[ch] module/compat/*.h)) \
		uapi/linux/kmig.h

all: module userspace selftests

deps:
	@scripts/deps.sh

$(LINUX_SRC)/.stamp:
	@scripts/linux-source.sh $(LINUX_SRC)

module:
	@test -n "$(KDIR)" || { echo "no kernel headers: make deps" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

debug:
	$(MAKE) -C $(KDIR) M=$(CURDIR) CONFIG_KMIG_DEBUG=y modules

userspace:
	$(MAKE) -C userspace

KSFT_ARGS = KSFT_DIR=$(LINUX_SRC)/tools/testing/selftests OUTPUT=$(BUILD)/selftests
selftests: $(LINUX_SRC)/.stamp
	@mkdir -p $(BUILD)/selftests
	$(MAKE) -C selftests $(KSFT_ARGS)
	@cp selftests/settings selftests/*.sh $(BUILD)/selftests/
	@$(MAKE) -s --no-print-directory -C selftests $(KSFT_ARGS) \
		COLLECTION=kmig emit_tests > $(BUILD)/selftests/kselftest-list.txt

# sparse and W=1 over a fresh build of kmig's objects; any diagnostic in a
# kmig file fails the target.
check: $(LINUX_SRC)/.stamp style
	@mkdir -p $(BUILD)
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean >/dev/null
	$(MAKE) -C $(KDIR) M=$(CURDIR) C=2 W=1 modules 2>&1 | tee $(BUILD)/check.log
	@if grep -E '(module|uapi)/[^:]*:[0-9]+:[0-9]*:? *(warning|error)' \
			$(BUILD)/check.log; then \
		echo "check: FAILED (diagnostics above)"; exit 1; \
	fi
	@echo "check: sparse and W=1 clean"

# --strict for kernel code; uapi headers cannot use BIT().
CHECKPATCH_FLAGS := --no-tree --show-types --strict -q --ignore FILE_PATH_CHANGES
style: $(LINUX_SRC)/.stamp
	@perl $(CHECKPATCH) $(CHECKPATCH_FLAGS) -f \
		$(filter-out module/trace.h,$(filter module/%,$(KMIG_SOURCES)))
	@# The TRACE_EVENT() layout of upstream trace headers, as --strict sees it.
	@perl $(CHECKPATCH) $(CHECKPATCH_FLAGS) --ignore OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT -f \
		module/trace.h
	@perl $(CHECKPATCH) $(CHECKPATCH_FLAGS) --ignore BIT_MACRO -f \
		$(filter uapi/%,$(KMIG_SOURCES))
	@echo "style: checkpatch clean"

# make test KERNEL=debug: the debug kernel instead (KERNEL="generic debug" for
# several).
test: deps
	@$(if $(KERNEL),KMIG_KERNELS="$(KERNEL)") selftests/vm/test-all.sh

demo: deps
	@selftests/vm/demo.sh

demo-qemu: deps
	@selftests/vm/demo-qemu.sh

# make bench [BENCH_ARGS="-r 5 stream"] [BENCH_PART=track]: kmig_bench in
# the test VM; BENCH_PART runs one part of selftests/vm/bench-guest.sh alone.
bench: deps
	@BENCH_ARGS="$(BENCH_ARGS)" BENCH_PART="$(BENCH_PART)" selftests/vm/bench.sh

# make install [DESTDIR=] [PREFIX=/usr/local] [KVER=$(uname -r)]: the module
# under /lib/modules/KVER/updates (then depmod), <linux/kmig.h>, libkmig
# with its pkg-config file, kmigctl, the man pages and the udev rule.
# KO= installs an already built kmig.ko instead of building one against KDIR.
PREFIX ?= /usr/local
KVER ?= $(patsubst /usr/src/linux-headers-%,%,$(DEBIAN_KDIR))
KO ?=
install: $(if $(KO),,module)
	install -D -m 0644 $(or $(KO),module/kmig.ko) \
		$(DESTDIR)/lib/modules/$(KVER)/updates/kmig.ko
	depmod $(if $(DESTDIR),-b $(DESTDIR)) $(KVER)
	install -D -m 0644 uapi/linux/kmig.h $(DESTDIR)$(PREFIX)/include/linux/kmig.h
	install -D -m 0644 udev/60-kmig.rules $(DESTDIR)/lib/udev/rules.d/60-kmig.rules
	$(MAKE) -C userspace install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

# DKMS: copy the tree to /usr/src/kmig-VERSION, then build and install it
# for KVER (pass -k: the build host may run another kernel).
DKMS_VERSION := 0.2.0
dkms-install:
	rm -rf /usr/src/kmig-$(DKMS_VERSION)
	mkdir -p /usr/src/kmig-$(DKMS_VERSION)
	cp -a Kbuild Makefile dkms.conf module uapi /usr/src/kmig-$(DKMS_VERSION)/
	rm -rf /usr/src/kmig-$(DKMS_VERSION)/module/generated
	-dkms remove kmig/$(DKMS_VERSION) --all >/dev/null 2>&1
	dkms add kmig/$(DKMS_VERSION)
	dkms build kmig/$(DKMS_VERSION) -k $(KVER)
	dkms install kmig/$(DKMS_VERSION) -k $(KVER)

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean >/dev/null 2>&1
	-$(MAKE) -C userspace clean >/dev/null 2>&1
	rm -rf $(BUILD) module/generated

.PHONY: all deps module debug userspace selftests check style test demo demo-qemu bench install \
	dkms-install clean
