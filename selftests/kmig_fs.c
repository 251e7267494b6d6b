// SPDX-License-Identifier: GPL-2.0
/*
 * The kmig filesystem (mount -t kmig): guest memory any VMM opens by path.
 * Sizing by ftruncate(), mount options and limits, mmap rules, sharing
 * across opens and processes, lifetime after unlink, the memory-fd ioctls and
 * sessions on path-opened files, read(), the call sequences of QEMU's
 * memory-backend-file and Cloud Hypervisor, and the "large" mount option.
 */
#include <linux/fs.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kmig_stream.h"
#include "kselftest_harness.h"

#define NPAGES		16
#define MOUNT_SIZE_MB	16
#define MOUNT_OPTS	"size=16M"

/* Is the "kmig" filesystem type registered? */
static bool kmigfs_registered(void)
{
	char line[128];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !strcmp(line, "nodev\tkmig\n");
	fclose(f);
	return found;
}

/* Mount a kmig filesystem with @opts on a new directory; 0 or -errno. */
static int kmigfs_mount(char *dir, size_t len, const char *opts)
{
	snprintf(dir, len, "/tmp/kmigfs.XXXXXX");
	if (!mkdtemp(dir))
		return -errno;
	if (mount("none", dir, "kmig", 0, opts)) {
		int err = -errno;

		rmdir(dir);
		return err;
	}
	return 0;
}

static void kmigfs_umount(const char *dir)
{
	/* A failed test may leave files open: detach then. */
	if (umount2(dir, 0))
		umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/* ftruncate() that returns 0 or -errno. */
static int trunc_fd(int fd, off_t size)
{
	return ftruncate(fd, size) ? -errno : 0;
}

static long long file_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -errno : st.st_size;
}

/* Free blocks of the filesystem at @path, in pages, or -errno. */
static long long free_pages(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) ? -errno : (long long)sf.f_bfree;
}

FIXTURE(fs) {
	char dir[64];
	char path[128];
	long ps;
	int dev;
};

FIXTURE_SETUP(fs)
{
	int ret;

	self->ps = page_size();
	if (!kmigfs_registered())
		SETUP_SKIP("no \"kmig\" filesystem type in /proc/filesystems");
	ret = kmigfs_mount(self->dir, sizeof(self->dir), MOUNT_OPTS);
	ASSERT_EQ(0, ret) TH_LOG("mount -t kmig: %s", strerror(-ret));
	snprintf(self->path, sizeof(self->path), "%s/vm1", self->dir);
	self->dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
}

FIXTURE_TEARDOWN(fs)
{
	close(self->dev);
	kmigfs_umount(self->dir);
}

/* A new file at @path of @pages pages, open O_RDWR; fd or -errno. */
static int sized_file_ps(const char *path, long pages, long ps)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int ret;

	if (fd < 0)
		return -errno;
	ret = trunc_fd(fd, pages * ps);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

static int sized_file(FIXTURE_DATA(fs) *self, const char *path, long pages)
{
	return sized_file_ps(path, pages, self->ps);
}

static void *map(int fd, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

TEST_F(fs, create_truncate_stat_seek)
{
	struct stat st;
	int fd = open(self->path, O_RDWR | O_CREAT | O_EXCL, 0640);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(0640, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_size);
	EXPECT_EQ(0, lseek(fd, 0, SEEK_END));
	ASSERT_EQ(0, trunc_fd(fd, NPAGES * self->ps));
	EXPECT_EQ(NPAGES * self->ps, file_size(fd));
	EXPECT_EQ(NPAGES * self->ps, lseek(fd, 0, SEEK_END));
	EXPECT_EQ(self->ps, lseek(fd, self->ps, SEEK_SET));
	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_EQ(NPAGES * self->ps, st.st_size);
	close(fd);
}

/* Cloud Hypervisor calls set_len() even when the size is already right. */
TEST_F(fs, same_size_again_is_a_no_op)
{
	int fd = sized_file(self, self->path, NPAGES), fd2;

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, trunc_fd(fd, NPAGES * self->ps));
	EXPECT_EQ(0, truncate(self->path, NPAGES * self->ps));
	fd2 = open(self->path, O_RDWR);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, trunc_fd(fd2, NPAGES * self->ps));
	EXPECT_EQ(NPAGES * self->ps, file_size(fd2));
	close(fd2);
	close(fd);
}

TEST_F(fs, resize_refused)
{
	int fd = sized_file(self, self->path, NPAGES);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EPERM, trunc_fd(fd, 2 * NPAGES * self->ps));
	EXPECT_EQ(-EPERM, trunc_fd(fd, (NPAGES - 1) * self->ps));
	EXPECT_EQ(-EPERM, trunc_fd(fd, 0));
	EXPECT_EQ(-EPERM, trunc_fd(fd, NPAGES * self->ps + 1));
	EXPECT_EQ(NPAGES * self->ps, file_size(fd));
	/* O_TRUNC is a truncation to 0. */
	EXPECT_EQ(-1, open(self->path, O_RDWR | O_TRUNC));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(NPAGES * self->ps, file_size(fd));
	close(fd);
}

TEST_F(fs, unaligned_size_refused)
{
	int fd = open(self->path, O_RDWR | O_CREAT, 0600);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, trunc_fd(fd, self->ps - 1));
	EXPECT_EQ(-EINVAL, trunc_fd(fd, self->ps + 1));
	EXPECT_EQ(0, file_size(fd));
	/* Size 0 again is fine, and so is O_TRUNC, while there is no object. */
	EXPECT_EQ(0, trunc_fd(fd, 0));
	close(fd);
	fd = open(self->path, O_RDWR | O_TRUNC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, trunc_fd(fd, self->ps));
	EXPECT_EQ(self->ps, file_size(fd));
	close(fd);
}

/* size= bounds the sum of the sizes; an unlinked file holds its share. */
TEST_F(fs, size_limit_enospc_until_last_reference)
{
	long half = (MOUNT_SIZE_MB << 20) / self->ps / 2;
	char path2[160];
	int fd, fd2;
	void *p;

	snprintf(path2, sizeof(path2), "%s/vm2", self->dir);
	EXPECT_EQ((MOUNT_SIZE_MB << 20) / self->ps, free_pages(self->dir));
	fd = sized_file(self, self->path, half + 1);
	ASSERT_LE(0, fd);
	EXPECT_EQ(half - 1, free_pages(self->dir));
	EXPECT_EQ(-ENOSPC, sized_file(self, path2, half));
	fd2 = open(path2, O_RDWR);
	ASSERT_LE(0, fd2);
	/* The file stays, unsized; a smaller size fits. */
	EXPECT_EQ(0, file_size(fd2));
	EXPECT_EQ(0, trunc_fd(fd2, (half - 1) * self->ps));
	EXPECT_EQ(0, free_pages(self->dir));
	ASSERT_EQ(0, unlink(path2));
	close(fd2);
	EXPECT_EQ(half - 1, free_pages(self->dir));

	p = map(fd, (half + 1) * self->ps);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, unlink(self->path));
	close(fd);
	/* The mapping still holds the first file's share. */
	EXPECT_EQ(-ENOSPC, sized_file(self, path2, half + 1));
	munmap(p, (half + 1) * self->ps);
	EXPECT_EQ((MOUNT_SIZE_MB << 20) / self->ps, free_pages(self->dir));
	fd2 = sized_file(self, path2, 2 * half);
	EXPECT_LE(0, fd2);
	close(fd2);
}

TEST_F(fs, above_max_mem_mb_efbig)
{
	char saved[32];
	int fd = open(self->path, O_RDWR | O_CREAT, 0600);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kmig_param_read("max_mem_mb", saved, sizeof(saved)));
	ASSERT_EQ(0, kmig_param_write("max_mem_mb", "1"));
	EXPECT_EQ(-EFBIG, trunc_fd(fd, 2 << 20));
	EXPECT_EQ(0, file_size(fd));
	EXPECT_EQ(0, trunc_fd(fd, 1 << 20));
	ASSERT_EQ(0, kmig_param_write("max_mem_mb", saved));
	close(fd);
}

TEST(bad_mount_options)
{
	static const char *const bad[] = {
		"bogus=1", "size=12x", "size=", "size=k", "mode=8",
		"mode=17777", "uid=-1", "uid=4294967295", "uid=root",
		"gid=abc", "nr_inodes=1q", "size", "size=-1", "size=1M2",
	};
	unsigned int i;
	char dir[64];

	if (!kmigfs_registered())
		SKIP(return, "no \"kmig\" filesystem type");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = kmigfs_mount(dir, sizeof(dir), bad[i]);

		EXPECT_EQ(-EINVAL, ret) {
			TH_LOG("-o %s", bad[i]);
		}
		if (!ret)
			kmigfs_umount(dir);
	}
}

/* The /proc/mounts line of the mount at @dir, in @line. */
static bool mounts_line(const char *dir, char *line, size_t len)
{
	FILE *f = fopen("/proc/mounts", "r");
	bool found = false;
	char key[96];

	if (!f)
		return false;
	snprintf(key, sizeof(key), "none %s kmig ", dir);
	while (!found && fgets(line, len, f))
		found = !strncmp(line, key, strlen(key));
	fclose(f);
	return found;
}

TEST(mount_options_applied_and_shown)
{
	char dir[64], line[512];
	struct statfs sf;
	struct stat st;

	if (!kmigfs_registered())
		SKIP(return, "no \"kmig\" filesystem type");
	ASSERT_EQ(0, kmigfs_mount(dir, sizeof(dir),
				  "mode=0750,uid=1234,gid=5678,size=1M,nr_inodes=10"));
	ASSERT_EQ(0, stat(dir, &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(0750, st.st_mode & 07777);
	EXPECT_EQ(1234, st.st_uid);
	EXPECT_EQ(5678, st.st_gid);
	ASSERT_EQ(0, statfs(dir, &sf));
	EXPECT_EQ(KMIGFS_MAGIC, sf.f_type);
	EXPECT_EQ((1 << 20) / page_size(), sf.f_blocks);
	EXPECT_EQ(10, sf.f_files);
	EXPECT_EQ(9, sf.f_ffree);	/* the root directory is one */
	ASSERT_TRUE(mounts_line(dir, line, sizeof(line)));
	TH_LOG("%s", line);
	EXPECT_NE(NULL, strstr(line, ",mode=0750"));
	EXPECT_NE(NULL, strstr(line, ",uid=1234"));
	EXPECT_NE(NULL, strstr(line, ",gid=5678"));
	EXPECT_NE(NULL, strstr(line, ",size=1048576"));
	EXPECT_NE(NULL, strstr(line, ",nr_inodes=10"));
	kmigfs_umount(dir);

	/* The defaults: root-owned 1777, no limits, nothing to show. */
	ASSERT_EQ(0, kmigfs_mount(dir, sizeof(dir), NULL));
	ASSERT_EQ(0, stat(dir, &st));
	EXPECT_EQ(01777, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
	ASSERT_EQ(0, statfs(dir, &sf));
	EXPECT_EQ(0, sf.f_blocks);
	ASSERT_TRUE(mounts_line(dir, line, sizeof(line)));
	EXPECT_EQ(NULL, strstr(line, "mode="));
	EXPECT_EQ(NULL, strstr(line, "size="));
	kmigfs_umount(dir);
}

TEST(nr_inodes_limit)
{
	char dir[64], path[96];
	int fd[3];

	if (!kmigfs_registered())
		SKIP(return, "no \"kmig\" filesystem type");
	ASSERT_EQ(0, kmigfs_mount(dir, sizeof(dir), "nr_inodes=3"));
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		fd[i] = open(path, O_RDWR | O_CREAT, 0600);
		if (i < 2) {
			EXPECT_LE(0, fd[i]);
		} else {
			EXPECT_EQ(ENOSPC, errno);
		}
	}
	EXPECT_EQ(-1, fd[2]);
	close(fd[1]);
	snprintf(path, sizeof(path), "%s/f1", dir);
	ASSERT_EQ(0, unlink(path));
	snprintf(path, sizeof(path), "%s/f2", dir);
	fd[2] = open(path, O_RDWR | O_CREAT, 0600);
	EXPECT_LE(0, fd[2]);
	close(fd[2]);
	close(fd[0]);
	kmigfs_umount(dir);
}

TEST(remount_changes_limits)
{
	char dir[64], path[96];
	int fd;

	if (!kmigfs_registered())
		SKIP(return, "no \"kmig\" filesystem type");
	ASSERT_EQ(0, kmigfs_mount(dir, sizeof(dir), "size=1M"));
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOSPC, trunc_fd(fd, 2 << 20));
	ASSERT_EQ(0, mount("none", dir, "kmig", MS_REMOUNT, "size=4M"));
	EXPECT_EQ(0, trunc_fd(fd, 2 << 20));
	EXPECT_EQ(-1, mount("none", dir, "kmig", MS_REMOUNT, "size=1M"));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ((2 << 20) / page_size(), free_pages(dir));
	close(fd);
	kmigfs_umount(dir);
}

TEST(unprivileged_mount_refused)
{
	char dir[64] = "/tmp/kmigfs.XXXXXX";
	int status;
	pid_t pid;

	if (!kmigfs_registered())
		SKIP(return, "no \"kmig\" filesystem type");
	ASSERT_NE(NULL, mkdtemp(dir));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(2);
		if (!mount("none", dir, "kmig", 0, NULL))
			_exit(3);
		_exit(errno == EPERM ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

TEST_F(fs, flat_directory)
{
	char sub[160];

	snprintf(sub, sizeof(sub), "%s/sub", self->dir);
	EXPECT_EQ(-1, mkdir(sub, 0755));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, mknod(sub, S_IFIFO | 0600, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, symlink("/", sub));
	EXPECT_EQ(EPERM, errno);
}

TEST_F(fs, rename_and_link_keep_the_object)
{
	char other[160], third[160];
	unsigned char *p, *q;
	int fd, fd2;

	snprintf(other, sizeof(other), "%s/renamed", self->dir);
	snprintf(third, sizeof(third), "%s/linked", self->dir);
	fd = sized_file(self, self->path, NPAGES);
	ASSERT_LE(0, fd);
	p = map(fd, NPAGES * self->ps);
	ASSERT_NE(MAP_FAILED, p);
	p[3 * self->ps] = 0x5a;
	ASSERT_EQ(0, rename(self->path, other));
	ASSERT_EQ(0, link(other, third));
	ASSERT_EQ(0, unlink(other));
	fd2 = open(third, O_RDWR);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(NPAGES * self->ps, file_size(fd2));
	q = map(fd2, NPAGES * self->ps);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(0x5a, q[3 * self->ps]);
	munmap(q, NPAGES * self->ps);
	munmap(p, NPAGES * self->ps);
	close(fd2);
	close(fd);
}

/* The rest of a regular file's life, as documented. */
TEST_F(fs, other_file_operations)
{
	int fd = sized_file(self, self->path, NPAGES), fd2, pipefd[2];
	char other[160];
	struct stat st;

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, fsync(fd));
	EXPECT_EQ(0, fchmod(fd, 0604));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0604, st.st_mode & 07777);
	EXPECT_EQ(0, fchown(fd, 1000, 1000));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(1000, st.st_uid);
	EXPECT_EQ(NPAGES * self->ps, st.st_size);
	EXPECT_EQ(-1, open(self->path, O_RDWR | O_DIRECT));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-1, splice(fd, NULL, pipefd[1], NULL, self->ps, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, sendfile(pipefd[1], fd, NULL, self->ps));
	EXPECT_EQ(EINVAL, errno);
	close(pipefd[0]);
	close(pipefd[1]);
	snprintf(other, sizeof(other), "%s/other", self->dir);
	fd2 = open(other, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-1, syscall(SYS_renameat2, AT_FDCWD, self->path, AT_FDCWD,
			      other, RENAME_NOREPLACE));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(0, syscall(SYS_renameat2, AT_FDCWD, self->path, AT_FDCWD,
			     other, RENAME_EXCHANGE));
	EXPECT_EQ(0, file_size(fd2));
	ASSERT_EQ(0, stat(other, &st));
	EXPECT_EQ(NPAGES * self->ps, st.st_size);
	/* Busy while a file is open. */
	EXPECT_EQ(-1, umount2(self->dir, 0));
	EXPECT_EQ(EBUSY, errno);
	close(fd2);
	close(fd);
}

TEST_F(fs, mmap_before_size_einval)
{
	int fd = open(self->path, O_RDWR | O_CREAT, 0600);

	ASSERT_LE(0, fd);
	EXPECT_EQ(MAP_FAILED, map(fd, self->ps));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST_F(fs, mmap_rules_of_memory_fds)
{
	int fd = sized_file(self, self->path, NPAGES);
	void *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, self->ps, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, self->ps, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	p = map(fd, (NPAGES + 1) * self->ps);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, self->ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 NPAGES * self->ps);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

/* Two opens of one path, and a process that opens it by name, share pages. */
TEST_F(fs, opens_and_processes_share_memory)
{
	int fd = sized_file(self, self->path, NPAGES), fd2, status;
	unsigned char *a, *b;
	pid_t pid;

	ASSERT_LE(0, fd);
	fd2 = open(self->path, O_RDWR);
	ASSERT_LE(0, fd2);
	a = map(fd, NPAGES * self->ps);
	b = map(fd2, NPAGES * self->ps);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	for (long i = 0; i < NPAGES; i++)
		a[i * self->ps + 1] = 0x30 + i;
	for (long i = 0; i < NPAGES; i++)
		ASSERT_EQ(0x30 + i, b[i * self->ps + 1]);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int cfd = open(self->path, O_RDWR);
		unsigned char *c;

		if (cfd < 0)
			_exit(2);
		c = map(cfd, NPAGES * self->ps);
		if (c == MAP_FAILED)
			_exit(3);
		for (long i = 0; i < NPAGES; i++)
			if (c[i * self->ps + 1] != 0x30 + i)
				_exit(4);
		memset(c + 5 * self->ps, 0x77, self->ps);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0x77, a[5 * self->ps + 100]);
	EXPECT_EQ(0x77, b[5 * self->ps]);
	munmap(a, NPAGES * self->ps);
	munmap(b, NPAGES * self->ps);
	close(fd2);
	close(fd);
}

TEST_F(fs, data_survives_unlink_while_mapped)
{
	long all = (MOUNT_SIZE_MB << 20) / self->ps;
	int fd = sized_file(self, self->path, NPAGES);
	unsigned char *p;

	ASSERT_LE(0, fd);
	p = map(fd, NPAGES * self->ps);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0xa5, NPAGES * self->ps);
	ASSERT_EQ(0, unlink(self->path));
	close(fd);
	EXPECT_EQ(all - NPAGES, free_pages(self->dir));
	for (long i = 0; i < NPAGES * self->ps; i += 512)
		ASSERT_EQ(0xa5, p[i]);
	p[7] = 1;
	munmap(p, NPAGES * self->ps);
	/* The last reference is gone, and with it the object. */
	EXPECT_EQ(all, free_pages(self->dir));
	EXPECT_EQ(-1, open(self->path, O_RDWR));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(fs, data_survives_unlink_while_open)
{
	long all = (MOUNT_SIZE_MB << 20) / self->ps;
	int fd = sized_file(self, self->path, NPAGES);
	unsigned char *p, buf[64];

	ASSERT_LE(0, fd);
	p = map(fd, NPAGES * self->ps);
	ASSERT_NE(MAP_FAILED, p);
	memset(p + 2 * self->ps, 0x3c, self->ps);
	munmap(p, NPAGES * self->ps);
	ASSERT_EQ(0, unlink(self->path));
	EXPECT_EQ(all - NPAGES, free_pages(self->dir));
	ASSERT_EQ(sizeof(buf), pread(fd, buf, sizeof(buf), 2 * self->ps + 8));
	for (unsigned int i = 0; i < sizeof(buf); i++)
		ASSERT_EQ(0x3c, buf[i]);
	p = map(fd, NPAGES * self->ps);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0x3c, p[3 * self->ps - 1]);
	munmap(p, NPAGES * self->ps);
	close(fd);
	EXPECT_EQ(all, free_pages(self->dir));
}

TEST_F(fs, ioctls_before_size_enodata)
{
	int fd = open(self->path, O_RDWR | O_CREAT, 0600);
	struct kmig_mem_stats st;
	__u64 bitmap[1];

	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENODATA, kmig_mem_stats(fd, &st));
	EXPECT_EQ(-ENODATA, kmig_track(fd, KMIG_MEM_TRACK_START, 0));
	EXPECT_EQ(-ENODATA, kmig_track(fd, KMIG_MEM_TRACK_STOP, 0));
	EXPECT_EQ(-ENODATA, kmig_harvest_bitmap(fd, 0, 1, bitmap, 0));
	/* Unknown ioctls stay unknown. */
	EXPECT_EQ(-ENOTTY, kmig_ioctl(fd, _IO(KMIG_IOC_MAGIC, 0x7f), &st));
	EXPECT_EQ(-ENOTTY, kmig_ioctl(fd, KMIG_GET_INFO, &st));
	ASSERT_EQ(0, trunc_fd(fd, NPAGES * self->ps));
	ASSERT_EQ(0, kmig_mem_stats(fd, &st));
	EXPECT_EQ(NPAGES, st.pages);
	EXPECT_EQ(0, st.populated_pages);
	close(fd);
}

/* Tracking through one fd sees writes through a mapping of another. */
TEST_F(fs, track_and_harvest_across_opens)
{
	int ctl = sized_file(self, self->path, NPAGES), vmm;
	struct kmig_mem_stats st;
	__u64 bitmap[1];
	unsigned char *p;

	ASSERT_LE(0, ctl);
	vmm = open(self->path, O_RDWR);
	ASSERT_LE(0, vmm);
	p = map(vmm, NPAGES * self->ps);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, NPAGES * self->ps);
	ASSERT_EQ(0, kmig_track(ctl, KMIG_MEM_TRACK_START, 0));
	p[3 * self->ps] = 2;
	p[7 * self->ps + 9] = 2;
	ASSERT_EQ(2, kmig_harvest_bitmap(ctl, 0, NPAGES, bitmap, 0));
	EXPECT_EQ((1ULL << 3) | (1ULL << 7), bitmap[0]);
	/* Re-armed: the next write to page 3 is seen again. */
	p[3 * self->ps + 1] = 3;
	ASSERT_EQ(1, kmig_harvest_bitmap(vmm, 0, NPAGES, bitmap, 0));
	EXPECT_EQ(1ULL << 3, bitmap[0]);
	ASSERT_EQ(0, kmig_mem_stats(ctl, &st));
	EXPECT_EQ(1, st.tracking);
	EXPECT_EQ(NPAGES, st.populated_pages);
	EXPECT_EQ(3, st.write_faults);
	ASSERT_EQ(0, kmig_track(vmm, KMIG_MEM_TRACK_STOP, 0));
	munmap(p, NPAGES * self->ps);
	close(vmm);
	close(ctl);
}

/* A reader must not take a migration's dirty bits. */
TEST_F(fs, read_only_fd_cannot_change_tracking)
{
	int fd = sized_file(self, self->path, NPAGES), ro;
	struct kmig_mem_stats st;
	__u64 bitmap[1];
	void *p;

	ASSERT_LE(0, fd);
	ro = open(self->path, O_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_EQ(0, kmig_mem_stats(ro, &st));
	EXPECT_EQ(-EBADF, kmig_track(ro, KMIG_MEM_TRACK_START, 0));
	ASSERT_EQ(0, kmig_track(fd, KMIG_MEM_TRACK_START, 0));
	EXPECT_EQ(-EBADF, kmig_harvest_bitmap(ro, 0, NPAGES, bitmap, 0));
	EXPECT_EQ(-EBADF, kmig_track(ro, KMIG_MEM_TRACK_STOP, 0));
	/* A read-only shared mapping is fine; a writable one is not. */
	p = mmap(NULL, self->ps, PROT_READ, MAP_SHARED, ro, 0);
	EXPECT_NE(MAP_FAILED, p);
	munmap(p, self->ps);
	EXPECT_EQ(MAP_FAILED, map(ro, self->ps));
	EXPECT_EQ(EACCES, errno);
	close(ro);
	close(fd);
}

/*
 * Fill @npages of @fd through a mapping (every third page left zero), send
 * them in one final round over a TCP pair into @dst and compare what @dst
 * then reads back.
 */
static void send_file_into(struct __test_metadata *_metadata, int dev, int fd,
			   int dst, long npages, long ps)
{
	long len = npages * ps;
	int a, b, send, recv;
	unsigned char *src, *buf;

	src = map(fd, len);
	ASSERT_NE(MAP_FAILED, src);
	for (long i = 0; i < npages; i++)
		if (i % 3)
			memset(src + i * ps, 0x40 + i, ps);
	ASSERT_EQ(0, kmig_track(fd, KMIG_MEM_TRACK_START, KMIG_TRACK_ALL_DIRTY));
	ASSERT_EQ(0, tcp_pair(&a, &b));
	send = kmig_session(dev, a, KMIG_ROLE_SEND, KMIG_PROTO_V2,
			    KMIG_CAP_ZERO_PAGES, &fd, 1, 0);
	ASSERT_LE(0, send);
	recv = kmig_session(dev, b, KMIG_ROLE_RECV, KMIG_PROTO_V2,
			    KMIG_CAP_ZERO_PAGES, &dst, 1, 0);
	ASSERT_LE(0, recv);
	ASSERT_EQ(0, kmig_send_full_round(send, KMIG_ROUND_FINAL));
	ASSERT_EQ(0, kmig_send_end(send));
	ASSERT_EQ(0, kmig_recv_all(recv, NULL, 0, NULL));
	buf = malloc(len);
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(len, pread(dst, buf, len, 0));
	EXPECT_EQ(0, memcmp(src, buf, len));
	free(buf);
	close(recv);
	close(send);
	close(a);
	close(b);
	munmap(src, len);
}

/* A send session takes a path-opened file; so does a receive session. */
TEST_F(fs, session_on_path_opened_files)
{
	char dst_path[160];
	int fd, dst;

	snprintf(dst_path, sizeof(dst_path), "%s/dst", self->dir);
	fd = sized_file(self, self->path, NPAGES);
	ASSERT_LE(0, fd);
	dst = sized_file(self, dst_path, NPAGES);
	ASSERT_LE(0, dst);
	send_file_into(_metadata, self->dev, fd, dst, NPAGES, self->ps);
	close(dst);
	close(fd);
}

TEST_F(fs, session_refuses_unsized_and_read_only)
{
	int fd = open(self->path, O_RDWR | O_CREAT, 0600), ro, a, b;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, unix_pair(&a, &b));
	EXPECT_EQ(-ENODATA, kmig_session(self->dev, b, KMIG_ROLE_RECV,
					 KMIG_PROTO_V2, 0, &fd, 1, 0));
	ASSERT_EQ(0, trunc_fd(fd, NPAGES * self->ps));
	ro = open(self->path, O_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_EQ(-EBADF, kmig_session(self->dev, b, KMIG_ROLE_RECV,
				       KMIG_PROTO_V2, 0, &ro, 1, 0));
	close(ro);
	close(a);
	close(b);
	close(fd);
}

TEST_F(fs, read_returns_bytes_and_zero_holes)
{
	int fd = sized_file(self, self->path, NPAGES);
	long len = NPAGES * self->ps;
	struct kmig_mem_stats st;
	unsigned char *p, *buf;

	ASSERT_LE(0, fd);
	p = map(fd, len);
	ASSERT_NE(MAP_FAILED, p);
	memset(p + self->ps, 0x11, self->ps);
	p[3 * self->ps + 5] = 0x22;
	buf = malloc(len + 1);
	ASSERT_NE(NULL, buf);
	memset(buf, 0xff, len + 1);
	/* One read(2) call per page at most is not promised: loop. */
	for (long got = 0, n; got < len; got += n) {
		n = read(fd, buf + got, len + 1 - got);
		ASSERT_LT(0, n);
	}
	EXPECT_EQ(0, read(fd, buf, 1));
	/* Holes were read as zeros without being populated. */
	ASSERT_EQ(0, kmig_mem_stats(fd, &st));
	EXPECT_EQ(2, st.populated_pages);
	for (long i = 0; i < len; i++) {
		unsigned char want = i / self->ps == 1 ? 0x11 :
				     i == 3 * self->ps + 5 ? 0x22 : 0;

		ASSERT_EQ(want, buf[i]);
	}
	EXPECT_EQ(0xff, buf[len]);
	/* The mapping agrees (reading it populates every page). */
	EXPECT_EQ(0, memcmp(p, buf, len));
	EXPECT_EQ(4, pread(fd, buf, 4, 3 * self->ps + 4));
	EXPECT_EQ(0x00, buf[0]);
	EXPECT_EQ(0x22, buf[1]);
	EXPECT_EQ(0, pread(fd, buf, 4, len));
	free(buf);
	munmap(p, len);
	close(fd);

	/* An unsized file reads as empty. */
	fd = open(self->dir, O_TMPFILE | O_RDWR, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, read(fd, &st, sizeof(st)));
	close(fd);
}

/* Writes must go through a mapping, where tracking sees them. */
TEST_F(fs, write_refused)
{
	int fd = sized_file(self, self->path, NPAGES);
	char buf[16] = "data";

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, write(fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, pwrite(fd, buf, sizeof(buf), self->ps));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST_F(fs, fallocate_eopnotsupp)
{
	int fd = sized_file(self, self->path, NPAGES);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				0, self->ps));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, fallocate(fd, 0, 0, self->ps));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(fd);
}

TEST_F(fs, statfs_magic)
{
	int fd = sized_file(self, self->path, NPAGES);
	struct statfs sf;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstatfs(fd, &sf));
	EXPECT_EQ(KMIGFS_MAGIC, sf.f_type);
	EXPECT_EQ(self->ps, sf.f_bsize);
	EXPECT_EQ((MOUNT_SIZE_MB << 20) / self->ps, sf.f_blocks);
	EXPECT_EQ((MOUNT_SIZE_MB << 20) / self->ps - NPAGES, sf.f_bfree);
	EXPECT_EQ(sf.f_bfree, sf.f_bavail);
	close(fd);
}

/* That was ENXIO for memory fds; a kmigfs file reopens like any file. */
TEST_F(fs, reopen_through_proc_self_fd)
{
	int fd = sized_file(self, self->path, NPAGES), fd2;
	unsigned char *a, *b;
	struct stat s1, s2;
	char proc[64];

	ASSERT_LE(0, fd);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	fd2 = open(proc, O_RDWR);
	ASSERT_LE(0, fd2) TH_LOG("open %s: %s", proc, strerror(errno));
	ASSERT_EQ(0, fstat(fd, &s1));
	ASSERT_EQ(0, fstat(fd2, &s2));
	EXPECT_EQ(s1.st_ino, s2.st_ino);
	EXPECT_EQ(NPAGES * self->ps, lseek(fd2, 0, SEEK_END));
	a = map(fd, NPAGES * self->ps);
	b = map(fd2, NPAGES * self->ps);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	a[9] = 0x99;
	EXPECT_EQ(0x99, b[9]);
	munmap(a, NPAGES * self->ps);
	munmap(b, NPAGES * self->ps);
	close(fd2);
	close(fd);
}

/*
 * QEMU 7.2 memory-backend-file,mem-path=FILE,share=on: open (creating it if
 * missing), size by lseek(SEEK_END), ftruncate only if 0, fstatfs, then
 * mmap MAP_SHARED|MAP_FIXED over a PROT_NONE reservation with a guard page.
 */
static void qemu_map(struct __test_metadata *_metadata, int fd, long size,
		     long ps)
{
	unsigned char *resv, *p;
	struct statfs sf;
	off_t cur;

	cur = lseek(fd, 0, SEEK_END);
	ASSERT_EQ(0, cur);
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));
	ASSERT_EQ(0, ftruncate(fd, size));
	ASSERT_EQ(0, fstatfs(fd, &sf));
	EXPECT_NE(0x958458f6, sf.f_type);	/* not hugetlbfs */
	resv = mmap(NULL, size + ps, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, resv);
	p = mmap(resv, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0);
	ASSERT_EQ(resv, p);
	memset(p, 0x6b, size);
	EXPECT_EQ(0x6b, p[size - 1]);
	/* A discard is refused cleanly; QEMU then zeroes by itself. */
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				0, ps));
	EXPECT_EQ(EOPNOTSUPP, errno);
	munmap(resv, size + ps);
}

TEST_F(fs, qemu_memory_backend_file)
{
	int fd;

	fd = open(self->path, O_RDWR);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(ENOENT, errno);
	fd = open(self->path, O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	qemu_map(_metadata, fd, NPAGES * self->ps, self->ps);
	close(fd);
	/* A second QEMU (or a restart) finds the size and keeps the data. */
	fd = open(self->path, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(NPAGES * self->ps, lseek(fd, 0, SEEK_END));
	close(fd);
}

/* mem-path=DIR: QEMU creates a temporary file in it and unlinks it. */
TEST_F(fs, qemu_memory_backend_directory)
{
	long all = (MOUNT_SIZE_MB << 20) / self->ps;
	char tmpl[160];
	int fd;

	snprintf(tmpl, sizeof(tmpl), "%s/qemu_back_mem.XXXXXX", self->dir);
	fd = mkstemp(tmpl);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, unlink(tmpl));
	qemu_map(_metadata, fd, NPAGES * self->ps, self->ps);
	EXPECT_EQ(all - NPAGES, free_pages(self->dir));
	close(fd);
	EXPECT_EQ(all, free_pages(self->dir));
}

/* Cloud Hypervisor with a directory: an O_TMPFILE, set_len(), mmap. */
TEST_F(fs, tmpfile)
{
	long all = (MOUNT_SIZE_MB << 20) / self->ps;
	unsigned char *p, *q;
	char proc[64];
	int fd, fd2;

	fd = open(self->dir, O_TMPFILE | O_RDWR, 0600);
	ASSERT_LE(0, fd) TH_LOG("O_TMPFILE: %s", strerror(errno));
	EXPECT_EQ(0, file_size(fd));
	ASSERT_EQ(0, trunc_fd(fd, NPAGES * self->ps));
	EXPECT_EQ(0, trunc_fd(fd, NPAGES * self->ps));
	p = map(fd, NPAGES * self->ps);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 0x42;
	EXPECT_EQ(all - NPAGES, free_pages(self->dir));
	/* It can be given a name. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ASSERT_EQ(0, linkat(AT_FDCWD, proc, AT_FDCWD, self->path,
			    AT_SYMLINK_FOLLOW));
	fd2 = open(self->path, O_RDWR);
	ASSERT_LE(0, fd2);
	q = map(fd2, NPAGES * self->ps);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(0x42, q[0]);
	munmap(q, NPAGES * self->ps);
	close(fd2);
	ASSERT_EQ(0, unlink(self->path));
	munmap(p, NPAGES * self->ps);
	close(fd);
	EXPECT_EQ(all, free_pages(self->dir));
}

TEST_F(fs, info_reports_the_feature)
{
	struct kmig_info info;

	ASSERT_EQ(0, kmig_get_info(self->dev, &info));
	EXPECT_TRUE(info.features & KMIG_FEAT_FS);
}

/* One "kmig-NAME:" figure of /proc/self/fdinfo/FD, or -1. */
static long long fdinfo(int fd, const char *name)
{
	char path[64], line[128], key[64];
	long long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	snprintf(key, sizeof(key), "kmig-%s:", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			val = strtoll(line + strlen(key), NULL, 10);
	fclose(f);
	return val;
}

TEST_F(fs, fdinfo)
{
	int fd = open(self->path, O_RDWR | O_CREAT, 0600);
	unsigned char *p;

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, fdinfo(fd, "size"));
	ASSERT_EQ(0, trunc_fd(fd, NPAGES * self->ps));
	EXPECT_EQ(NPAGES * self->ps, fdinfo(fd, "size"));
	EXPECT_EQ(0, fdinfo(fd, "populated"));
	p = map(fd, NPAGES * self->ps);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = p[4 * self->ps] = 1;
	EXPECT_EQ(2, fdinfo(fd, "populated"));
	EXPECT_EQ(0, fdinfo(fd, "tracking"));
	EXPECT_EQ(0, fdinfo(fd, "sessions"));
	munmap(p, NPAGES * self->ps);
	close(fd);
}

/*
 * Pages are charged to the memory cgroup of the task that sized the file,
 * not to the one that faults them in: a VMM in its VM's cgroup sizes and
 * maps the file, and a helper that touches guest memory charges nothing.
 */
TEST_F(fs, pages_charged_to_creator_memcg)
{
	const char *cg = "/sys/fs/cgroup/kmig-fs-memcg-test";
	char current[128], procs[128];
	long before, after, n = 256;
	unsigned char *p;
	int fd, status;
	pid_t pid;

	if (access("/sys/fs/cgroup/cgroup.subtree_control", W_OK))
		SKIP(return, "cgroup2 is not mounted at /sys/fs/cgroup");
	kmig_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	mkdir(cg, 0755);
	snprintf(current, sizeof(current), "%s/memory.current", cg);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	if (access(current, R_OK))
		SKIP(rmdir(cg); return, "no cgroup2 memory controller");

	fd = open(self->path, O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char pidbuf[32];

		snprintf(pidbuf, sizeof(pidbuf), "%d", getpid());
		if (kmig_write_file(procs, pidbuf))
			_exit(2);
		_exit(ftruncate(fd, n * self->ps) ? 3 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));

	/* This process is not in the cgroup; it faults every page. */
	p = map(fd, n * self->ps);
	ASSERT_NE(MAP_FAILED, p);
	before = kmig_read_long(current);
	for (long i = 0; i < n; i++)
		p[i * self->ps] = 1;
	after = kmig_read_long(current);
	TH_LOG("memory.current of the creator's cgroup: %ld -> %ld", before,
	       after);
	EXPECT_LE(n, (after - before) / self->ps);
	munmap(p, n * self->ps);
	close(fd);
	unlink(self->path);
	rmdir(cg);
}

/*
 * The "large" mount option: files sized while it is set are
 * KMIG_MEM_CREATE_LARGE objects, 64 KiB folios on first touch.
 */
#define FOLIO_PAGES	16
#define LARGE_PAGES	256	/* 1 MiB with 4 KiB pages: 16 folios */

/* Write one byte into each of the first @pages pages of @fd's object. */
static int touch_pages(int fd, long pages, long ps)
{
	unsigned char *p = map(fd, pages * ps);

	if (p == MAP_FAILED)
		return -errno;
	for (long i = 0; i < pages; i++)
		p[i * ps + 7] = i + 1;
	munmap(p, pages * ps);
	return 0;
}

/* GET_STATS large_folios of @fd, or -errno. */
static long large_folios(int fd)
{
	struct kmig_mem_stats st;
	int ret = kmig_mem_stats(fd, &st);

	return ret ? ret : (long)st.large_folios;
}

/* Is @opt one of the options of the /proc/mounts line of @dir? */
static bool mount_has_opt(const char *dir, const char *opt)
{
	char line[512], *opts, *tok, *save;

	if (!mounts_line(dir, line, sizeof(line)))
		return false;
	/* "none DIR kmig OPTS 0 0" */
	opts = strchr(line + strlen("none ") + strlen(dir) + 1, ' ');
	if (!opts)
		return false;
	opts = strtok_r(opts + 1, " ", &save);
	for (tok = strtok_r(opts, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save))
		if (!strcmp(tok, opt))
			return true;
	return false;
}

FIXTURE(large) {
	char dir[64];
	char path[128];
	long ps;
	int dev;
};

FIXTURE_SETUP(large)
{
	int ret;

	self->ps = page_size();
	if (!kmigfs_registered())
		SETUP_SKIP("no \"kmig\" filesystem type in /proc/filesystems");
	ret = kmigfs_mount(self->dir, sizeof(self->dir), MOUNT_OPTS ",large");
	ASSERT_EQ(0, ret) TH_LOG("mount -t kmig -o large: %s", strerror(-ret));
	snprintf(self->path, sizeof(self->path), "%s/vm1", self->dir);
	self->dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
}

FIXTURE_TEARDOWN(large)
{
	close(self->dev);
	kmigfs_umount(self->dir);
}

TEST_F(large, first_touch_populates_folios)
{
	int fd = sized_file_ps(self->path, LARGE_PAGES, self->ps);
	struct kmig_mem_stats st;
	unsigned char *p;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kmig_mem_stats(fd, &st));
	EXPECT_EQ(0, st.populated_pages);
	EXPECT_EQ(0, st.large_folios);
	p = map(fd, LARGE_PAGES * self->ps);
	ASSERT_NE(MAP_FAILED, p);
	p[5 * self->ps] = 0x55;
	ASSERT_EQ(0, kmig_mem_stats(fd, &st));
	/* A fresh test VM has 64 KiB blocks to spare. */
	ASSERT_EQ(1, st.large_folios);
	EXPECT_EQ(FOLIO_PAGES, st.populated_pages);
	for (long i = 0; i < LARGE_PAGES; i++)
		p[i * self->ps + 7] = i + 1;
	ASSERT_EQ(0, kmig_mem_stats(fd, &st));
	EXPECT_LT(0, st.large_folios);
	EXPECT_EQ(LARGE_PAGES / FOLIO_PAGES, st.large_folios);
	EXPECT_EQ(LARGE_PAGES, st.populated_pages);
	EXPECT_EQ(st.large_folios, fdinfo(fd, "large-folios"));
	EXPECT_EQ(LARGE_PAGES, fdinfo(fd, "populated"));
	/* Each page is its own, through the mapping and through read(). */
	for (long i = 0; i < LARGE_PAGES; i++) {
		unsigned char b[8];

		ASSERT_EQ(i == 5 ? 0x55 : 0, p[i * self->ps]);
		ASSERT_EQ(8, pread(fd, b, 8, i * self->ps));
		ASSERT_EQ((unsigned char)(i + 1), b[7]);
	}
	munmap(p, LARGE_PAGES * self->ps);
	close(fd);
}

/* The same sequence on a mount without the option: single pages only. */
TEST_F(fs, single_pages_without_large)
{
	int fd = sized_file(self, self->path, LARGE_PAGES);
	struct kmig_mem_stats st;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, touch_pages(fd, LARGE_PAGES, self->ps));
	ASSERT_EQ(0, kmig_mem_stats(fd, &st));
	EXPECT_EQ(0, st.large_folios);
	EXPECT_EQ(LARGE_PAGES, st.populated_pages);
	EXPECT_EQ(0, fdinfo(fd, "large-folios"));
	close(fd);
}

/* An end that is not a whole folio is made of single pages. */
TEST_F(large, partial_end_uses_single_pages)
{
	long n = FOLIO_PAGES + 3;
	int fd = sized_file_ps(self->path, n, self->ps);
	struct kmig_mem_stats st;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, touch_pages(fd, n, self->ps));
	ASSERT_EQ(0, kmig_mem_stats(fd, &st));
	EXPECT_EQ(1, st.large_folios);
	EXPECT_EQ(n, st.populated_pages);
	close(fd);
}

TEST(large_shown_in_proc_mounts)
{
	char dir[64];

	if (!kmigfs_registered())
		SKIP(return, "no \"kmig\" filesystem type");
	ASSERT_EQ(0, kmigfs_mount(dir, sizeof(dir), "large"));
	EXPECT_TRUE(mount_has_opt(dir, "large"));
	EXPECT_FALSE(mount_has_opt(dir, "nolarge"));
	kmigfs_umount(dir);

	/* nolarge is the default, and not shown; the last one given wins. */
	ASSERT_EQ(0, kmigfs_mount(dir, sizeof(dir), NULL));
	EXPECT_FALSE(mount_has_opt(dir, "large"));
	kmigfs_umount(dir);
	ASSERT_EQ(0, kmigfs_mount(dir, sizeof(dir), "large,nolarge"));
	EXPECT_FALSE(mount_has_opt(dir, "large"));
	EXPECT_FALSE(mount_has_opt(dir, "nolarge"));
	kmigfs_umount(dir);
	ASSERT_EQ(0, kmigfs_mount(dir, sizeof(dir), "nolarge,size=1M,large"));
	EXPECT_TRUE(mount_has_opt(dir, "large"));
	EXPECT_TRUE(mount_has_opt(dir, "size=1048576"));
	kmigfs_umount(dir);
}

TEST(large_with_value_einval)
{
	static const char *const bad[] = {
		"large=3", "large=1", "large=", "nolarge=0", "large=yes",
	};
	char dir[64];

	if (!kmigfs_registered())
		SKIP(return, "no \"kmig\" filesystem type");
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = kmigfs_mount(dir, sizeof(dir), bad[i]);

		EXPECT_EQ(-EINVAL, ret) {
			TH_LOG("-o %s", bad[i]);
		}
		if (!ret)
			kmigfs_umount(dir);
	}
	/* Nor on remount, which then changes nothing. */
	ASSERT_EQ(0, kmigfs_mount(dir, sizeof(dir), "large"));
	EXPECT_EQ(-1, mount("none", dir, "kmig", MS_REMOUNT, "large=3"));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, mount("none", dir, "kmig", MS_REMOUNT, "nolarge=0"));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_TRUE(mount_has_opt(dir, "large"));
	kmigfs_umount(dir);
}

/*
 * Remount toggles the option for files sized afterwards; a file keeps what
 * it got when its size was set, touched before or after the remount.
 */
TEST(remount_toggles_large)
{
	static const char *const name[] = { "a", "b", "c", "d" };
	long ps = page_size(), n = 4 * FOLIO_PAGES;
	char dir[64], path[96];
	int fd[4];

	if (!kmigfs_registered())
		SKIP(return, "no \"kmig\" filesystem type");
	ASSERT_EQ(0, kmigfs_mount(dir, sizeof(dir), "size=16M"));
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, name[i]);
		fd[i] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		ASSERT_LE(0, fd[i]);
	}
	/* a: sized without the option, and touched once it is set */
	ASSERT_EQ(0, trunc_fd(fd[0], n * ps));
	ASSERT_EQ(0, mount("none", dir, "kmig", MS_REMOUNT, "large"));
	EXPECT_TRUE(mount_has_opt(dir, "large"));
	EXPECT_TRUE(mount_has_opt(dir, "size=16777216"));
	ASSERT_EQ(0, trunc_fd(fd[1], n * ps));
	/* A remount that does not name it keeps it. */
	ASSERT_EQ(0, mount("none", dir, "kmig", MS_REMOUNT, "size=8M"));
	EXPECT_TRUE(mount_has_opt(dir, "large"));
	ASSERT_EQ(0, touch_pages(fd[0], n, ps));
	ASSERT_EQ(0, trunc_fd(fd[2], n * ps));
	ASSERT_EQ(0, mount("none", dir, "kmig", MS_REMOUNT, "nolarge"));
	EXPECT_FALSE(mount_has_opt(dir, "large"));
	EXPECT_TRUE(mount_has_opt(dir, "size=8388608"));
	ASSERT_EQ(0, trunc_fd(fd[3], n * ps));
	for (int i = 1; i < 4; i++)
		ASSERT_EQ(0, touch_pages(fd[i], n, ps));

	EXPECT_EQ(0, large_folios(fd[0]));
	EXPECT_EQ(4, large_folios(fd[1]));
	EXPECT_EQ(4, large_folios(fd[2]));
	EXPECT_EQ(0, large_folios(fd[3]));
	/* Sizing a sized file again is a no-op: it stays what it was. */
	EXPECT_EQ(0, trunc_fd(fd[1], n * ps));
	EXPECT_EQ(4, large_folios(fd[1]));
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	kmigfs_umount(dir);
}

/* Dirty tracking stays per page within a folio. */
TEST_F(large, track_and_harvest_per_page)
{
	long n = 4 * FOLIO_PAGES;
	int ctl = sized_file_ps(self->path, n, self->ps), vmm;
	struct kmig_mem_stats st;
	__u64 bitmap[1];
	unsigned char *p;

	ASSERT_LE(0, ctl);
	vmm = open(self->path, O_RDWR);
	ASSERT_LE(0, vmm);
	p = map(vmm, n * self->ps);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, n * self->ps);
	ASSERT_EQ(4, large_folios(ctl));
	ASSERT_EQ(0, kmig_track(ctl, KMIG_MEM_TRACK_START, 0));
	EXPECT_EQ(0, kmig_harvest_bitmap(ctl, 0, n, bitmap, 0));
	EXPECT_EQ(0, bitmap[0]);
	p[3 * self->ps] = 2;
	p[17 * self->ps + 9] = 2;
	p[18 * self->ps] = 2;
	p[63 * self->ps + 100] = 2;
	ASSERT_EQ(4, kmig_harvest_bitmap(ctl, 0, n, bitmap, 0));
	EXPECT_EQ((1ULL << 3) | (1ULL << 17) | (1ULL << 18) | (1ULL << 63),
		  bitmap[0]);
	/* Re-armed: pages 3 and 5 of one folio are seen, and only they. */
	p[3 * self->ps + 1] = 3;
	p[5 * self->ps] = 3;
	ASSERT_EQ(2, kmig_harvest_bitmap(vmm, 0, n, bitmap, 0));
	EXPECT_EQ((1ULL << 3) | (1ULL << 5), bitmap[0]);
	ASSERT_EQ(0, kmig_mem_stats(ctl, &st));
	EXPECT_EQ(1, st.tracking);
	EXPECT_EQ(n, st.populated_pages);
	EXPECT_EQ(4, st.large_folios);
	EXPECT_EQ(6, st.write_faults);
	ASSERT_EQ(0, kmig_track(vmm, KMIG_MEM_TRACK_STOP, 0));
	munmap(p, n * self->ps);
	close(vmm);
	close(ctl);
}

/* A send session from a large file into another; the receiver's is large. */
TEST_F(large, send_session)
{
	int fd, dst;
	char dst_path[160];

	snprintf(dst_path, sizeof(dst_path), "%s/dst", self->dir);
	fd = sized_file_ps(self->path, LARGE_PAGES, self->ps);
	ASSERT_LE(0, fd);
	dst = sized_file_ps(dst_path, LARGE_PAGES, self->ps);
	ASSERT_LE(0, dst);
	send_file_into(_metadata, self->dev, fd, dst, LARGE_PAGES, self->ps);
	/* The source was touched in folios; every folio of the destination
	 * got data, each as one folio.
	 */
	EXPECT_EQ(LARGE_PAGES / FOLIO_PAGES, large_folios(fd));
	EXPECT_EQ(LARGE_PAGES / FOLIO_PAGES, large_folios(dst));
	close(dst);
	close(fd);
}

TEST_HARNESS_MAIN
