// SPDX-License-Identifier: GPL-2.0
/*
 * A real KVM guest on kmig memory. A minimal VMM gives a VM 1 MiB of RAM from
 * a kmig memory object and runs a 16-bit guest that increments one byte in
 * each page listed in a table, then halts. The harvested set must equal the
 * guest's pages exactly, every round: KVM writes through its own fault path
 * (GUP, then the mmu notifier when kmig re-arms).
 */
#include <linux/kvm.h>
#include <stdint.h>

#include "kmig_test.h"
#include "kselftest_harness.h"

#define RAM_SIZE	(1 << 20)
#define NPAGES		(RAM_SIZE / 4096)
#define TABLE_GPA	0x500		/* u16 count, then u16 page numbers */
#define CODE_GPA	0x1000
#define FIRST_DATA_PAGE	2		/* pages 0 and 1 hold table and code */
#define MAX_WRITES	200

/*
 * The guest: for each page number in the table, load ES with page << 8
 * (segment base page * 4096) and increment the byte at ES:0. No stack.
 */
extern const unsigned char guest_code[], guest_code_end[];
asm(".pushsection .rodata\n"
    "guest_code:\n"
    ".code16\n"
    "	xor %ax, %ax\n"
    "	mov %ax, %ds\n"
    "	mov $" "0x500" ", %si\n"
    "	mov (%si), %cx\n"
    "	add $2, %si\n"
    "1:	test %cx, %cx\n"
    "	jz 2f\n"
    "	mov (%si), %ax\n"
    "	shl $8, %ax\n"
    "	mov %ax, %es\n"
    "	incb %es:0\n"
    "	add $2, %si\n"
    "	dec %cx\n"
    "	jmp 1b\n"
    "2:	hlt\n"
    "	jmp 2b\n"
    ".code64\n"
    "guest_code_end:\n"
    ".popsection\n");

FIXTURE(kvm) {
	int kvm, vm, vcpu, dev, mem;
	struct kvm_run *run;
	size_t run_size;
	unsigned char *ram;
	__u64 map[NPAGES / 64];
};

/* large: guest RAM is KMIG_MEM_CREATE_LARGE (64 KiB folios) */
FIXTURE_VARIANT(kvm) {
	int rearm;
	bool large;
};

FIXTURE_VARIANT_ADD(kvm, wp) {
	.rearm = KMIG_REARM_WP,
};

FIXTURE_VARIANT_ADD(kvm, unmap) {
	.rearm = KMIG_REARM_UNMAP,
};

FIXTURE_VARIANT_ADD(kvm, wp_large) {
	.rearm = KMIG_REARM_WP,
	.large = true,
};

FIXTURE_VARIANT_ADD(kvm, unmap_large) {
	.rearm = KMIG_REARM_UNMAP,
	.large = true,
};

FIXTURE_SETUP(kvm)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = RAM_SIZE,
	};
	struct kmig_info info;

	self->kvm = -1;
	self->ram = MAP_FAILED;
	self->run = MAP_FAILED;
	self->dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, kmig_get_info(self->dev, &info));
	if (variant->rearm == KMIG_REARM_WP &&
	    !(info.features & KMIG_FEAT_WP_HELPERS))
		SETUP_SKIP("kernel lacks CONFIG_MAPPING_DIRTY_HELPERS (wp_shared_mapping_range not exported)");
	self->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (self->kvm < 0)
		SETUP_SKIP("/dev/kvm is absent (%s): no KVM in this kernel or CPU",
			   strerror(errno));
	ASSERT_EQ(0, kmig_param_write("force_unmap_rearm",
				      variant->rearm == KMIG_REARM_UNMAP ? "Y" : "N"));

	self->vm = ioctl(self->kvm, KVM_CREATE_VM, 0);
	ASSERT_LE(0, self->vm);
	self->mem = kmig_mem_create_flags(self->dev, RAM_SIZE, variant->large ?
					  KMIG_MEM_CREATE_LARGE : 0);
	ASSERT_LE(0, self->mem);
	self->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->mem, 0);
	ASSERT_NE(MAP_FAILED, self->ram);
	memcpy(self->ram + CODE_GPA, guest_code, guest_code_end - guest_code);

	region.userspace_addr = (unsigned long)self->ram;
	ASSERT_EQ(0, ioctl(self->vm, KVM_SET_USER_MEMORY_REGION, &region));
	self->vcpu = ioctl(self->vm, KVM_CREATE_VCPU, 0);
	ASSERT_LE(0, self->vcpu);
	self->run_size = ioctl(self->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	self->run = mmap(NULL, self->run_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->vcpu, 0);
	ASSERT_NE(MAP_FAILED, self->run);
	ASSERT_EQ(0, kmig_track(self->mem, KMIG_MEM_TRACK_START, 0));
}

FIXTURE_TEARDOWN(kvm)
{
	if (self->run != MAP_FAILED)
		munmap(self->run, self->run_size);
	if (self->kvm >= 0) {
		close(self->vcpu);
		close(self->vm);
		close(self->kvm);
	}
	if (self->ram != MAP_FAILED) {
		munmap(self->ram, RAM_SIZE);
		close(self->mem);
	}
	kmig_param_write("force_unmap_rearm", "N");
	close(self->dev);
}

/* Run the guest over the given pages until it halts. */
static int run_guest(struct __test_metadata *_metadata,
		     FIXTURE_DATA(kvm) *self, const uint16_t *pages, int n)
{
	uint16_t *table = (uint16_t *)(self->ram + TABLE_GPA);
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	table[0] = n;
	memcpy(table + 1, pages, n * sizeof(*pages));
	/* The VMM's own writes to the table page are not the guest's. */
	if (kmig_harvest_bitmap(self->mem, 0, NPAGES, self->map, 0) < 0)
		return -1;

	if (ioctl(self->vcpu, KVM_GET_SREGS, &sregs))
		return -1;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds.base = 0;
	sregs.ds.selector = 0;
	sregs.es.base = 0;
	sregs.es.selector = 0;
	if (ioctl(self->vcpu, KVM_SET_SREGS, &sregs))
		return -1;
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rflags = 2;
	if (ioctl(self->vcpu, KVM_SET_REGS, &regs))
		return -1;
	if (ioctl(self->vcpu, KVM_RUN, 0))
		return -1;
	if (self->run->exit_reason != KVM_EXIT_HLT) {
		TH_LOG("unexpected exit reason %u", self->run->exit_reason);
		return -1;
	}
	return 0;
}

TEST_F(kvm, guest_writes_are_harvested_exactly)
{
	unsigned int seed = 42;
	unsigned char before[NPAGES];

	for (int round = 0; round < 60; round++) {
		uint16_t pages[MAX_WRITES];
		__u64 want[NPAGES / 64] = { 0 };
		int n = round % 10 == 9 ? 0 : rand_r(&seed) % MAX_WRITES;
		long count = 0;

		for (int i = 0; i < n; i++) {
			pages[i] = FIRST_DATA_PAGE +
				   rand_r(&seed) % (NPAGES - FIRST_DATA_PAGE);
			if (!test_bit64(want, pages[i]))
				count++;
			set_bit64(want, pages[i]);
		}
		for (int i = 0; i < NPAGES; i++)
			before[i] = self->ram[i * 4096];

		ASSERT_EQ(0, run_guest(_metadata, self, pages, n))
			TH_LOG("round %d", round);
		ASSERT_EQ(count, kmig_harvest_bitmap(self->mem, 0, NPAGES,
						     self->map, 0))
			TH_LOG("round %d: %d writes", round, n);
		for (int i = 0; i < NPAGES; i++) {
			ASSERT_EQ(test_bit64(want, i), test_bit64(self->map, i))
				TH_LOG("round %d, page %d", round, i);
		}
		/* The guest really ran: each listed page went up. */
		for (int i = 0; i < n; i++) {
			int c = 0;

			for (int j = 0; j < n; j++)
				c += pages[j] == pages[i];
			ASSERT_EQ((unsigned char)(before[pages[i]] + c),
				  self->ram[pages[i] * 4096]);
		}
	}
}

/* Guest and VMM writing in the same round are both reported. */
TEST_F(kvm, guest_and_vmm_writes_together)
{
	uint16_t pages[] = { 10, 11, 12, 200 };

	ASSERT_EQ(0, run_guest(_metadata, self, pages, 4));
	self->ram[50 * 4096 + 7] = 1;		/* the VMM, after the run */
	ASSERT_EQ(5, kmig_harvest_bitmap(self->mem, 0, NPAGES, self->map, 0));
	EXPECT_TRUE(test_bit64(self->map, 50));
	EXPECT_TRUE(test_bit64(self->map, 200));
	/* Re-armed: the same pages again are reported again. */
	ASSERT_EQ(0, run_guest(_metadata, self, pages, 4));
	ASSERT_EQ(4, kmig_harvest_bitmap(self->mem, 0, NPAGES, self->map, 0));
}

TEST_HARNESS_MAIN
