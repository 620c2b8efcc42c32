/* seccomp.c — the container's system call filter, built with libseccomp.
 *
 * The default filter allows everything except what Docker's default profile
 * refuses to an unprivileged container: mounts, pivot_root, kexec, modules,
 * reboot, keyrings, ptrace, bpf, perf_event_open, open_by_handle_at, io_uring,
 * setns, clock setting, swap, accounting, and clone/unshare asking for a new
 * namespace (CLONE_NEWUSER …, checked on the flags argument); clone3 gets
 * ENOSYS so libc falls back to clone, whose flags can be checked. A
 * --cap-add of the matching capability lifts a group, as in Docker. Other
 * architectures' system calls (i386 on x86_64) kill the process.
 *
 * Compiling the filter takes a few milliseconds, so the BPF program is cached
 * in SKIFF_RUNTIME_RUN_DIR, named by a hash of the rules (and libseccomp's
 * version) and by the capability groups that shape it.
 * --seccomp FILE gives a list of system call names (one per line, '#'
 * comments) refused with EPERM instead of the default list.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include "cleanup.h"
#include "runtime.h"
#include "util.h"

#define NS_FLAGS                                                                                   \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
	 CLONE_NEWCGROUP | CLONE_NEWTIME)

struct group {
	int cap; /* -1: always blocked */
	const char *const *calls;
};

static const char *const sys_admin[] = { "mount",
					 "umount",
					 "umount2",
					 "pivot_root",
					 "setns",
					 "open_tree",
					 "move_mount",
					 "fsopen",
					 "fsconfig",
					 "fsmount",
					 "fspick",
					 "mount_setattr",
					 "quotactl",
					 "quotactl_fd",
					 "lookup_dcookie",
					 "fanotify_init",
					 "name_to_handle_at",
					 "syslog",
					 "vm86",
					 "vm86old",
					 NULL };
static const char *const always[] = { "kexec_load",	 "kexec_file_load",   "keyctl",
				      "add_key",	 "request_key",	      "bpf",
				      "perf_event_open", "open_by_handle_at", "userfaultfd",
				      "uselib",		 "nfsservctl",	      "create_module",
				      "get_kernel_syms", "query_module",      "_sysctl",
				      "swapon",		 "swapoff",	      "io_uring_setup",
				      "io_uring_enter",	 "io_uring_register", NULL };
static const char *const sys_pacct[] = { "acct", NULL };
static const char *const sys_module[] = { "init_module", "finit_module", "delete_module", NULL };
static const char *const sys_boot[] = { "reboot", NULL };
static const char *const sys_ptrace[] = { "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
					  NULL };
static const char *const sys_time[] = {
	"settimeofday",	   "stime", "clock_settime", "clock_settime64", "clock_adjtime",
	"clock_adjtime64", NULL
};
static const char *const sys_rawio[] = { "iopl", "ioperm", NULL };
static const char *const sys_nice[] = { "set_mempolicy", "mbind", "migrate_pages", "move_pages",
					NULL };

static const struct group groups[] = {
	{ -1, always },
	{ CAP_SYS_ADMIN, sys_admin },
	{ CAP_SYS_MODULE, sys_module },
	{ CAP_SYS_BOOT, sys_boot },
	{ CAP_SYS_PTRACE, sys_ptrace },
	{ CAP_SYS_TIME, sys_time },
	{ CAP_SYS_RAWIO, sys_rawio },
	{ CAP_SYS_NICE, sys_nice },
	{ CAP_SYS_PACCT, sys_pacct },
};

static int block(scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return -EINVAL;
	if (nr < 0)
		return 0; /* not on this architecture */
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
}

static int build_default(scmp_filter_ctx ctx, uint64_t cap_add)
{
	int r;

	for (size_t g = 0; g < ARRAY_SIZE(groups); g++) {
		if (groups[g].cap >= 0 && (cap_add & (UINT64_C(1) << groups[g].cap)))
			continue;
		for (const char *const *c = groups[g].calls; *c; c++) {
			r = block(ctx, *c);
			if (r < 0)
				return r;
		}
	}
	if (cap_add & (UINT64_C(1) << CAP_SYS_ADMIN))
		return 0;
	/* New namespaces: refuse each flag on clone's and unshare's first
	 * argument; clone3 passes flags in memory, so it gets ENOSYS. */
	for (int bit = 0; bit < 64; bit++) {
		uint64_t f = UINT64_C(1) << bit;
		if (!(NS_FLAGS & f))
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
		if (r < 0)
			return r;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
		if (r < 0)
			return r;
	}
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

static int build_file(scmp_filter_ctx ctx, const char *path)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = skiff_read_file(path, 1 << 20, &text, NULL);
	if (r < 0)
		return r;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *h = strchr(line, '#');
		if (h)
			*h = 0;
		line += strspn(line, " \t");
		line[strcspn(line, " \t\r")] = 0;
		if (!*line)
			continue;
		r = block(ctx, line);
		if (r < 0)
			return r == -EINVAL ? -EBADMSG : r;
	}
	return 0;
}

static int compile(const struct skiff_config *c, uint64_t cap_add, struct skiff_bpf *ret)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	int r;

	if (!ctx)
		return -ENOMEM;
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); /* we set it ourselves */
	r = c && c->seccomp == SKIFF_SECCOMP_FILE ? build_file(ctx, c->seccomp_file)
						  : build_default(ctx, cap_add);
	if (r < 0)
		goto out;
	fd = memfd_create("skiff-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		goto out;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter)) {
		r = -EIO;
		goto out;
	}
	ret->filter = xmalloc(st.st_size);
	if (pread(fd, ret->filter, st.st_size, 0) != st.st_size) {
		free(ret->filter);
		ret->filter = NULL;
		r = -EIO;
		goto out;
	}
	ret->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	r = 0;
out:
	seccomp_release(ctx);
	return r;
}

/* Names the rule set in the cache file name, so a changed list (or another
 * libseccomp) never loads a stale program. */
static uint32_t rules_hash(void)
{
	uint32_t h = 2166136261u;
	const char *ver = SKIFF_VERSION;
	const struct scmp_version *lib = seccomp_version();

	for (size_t g = 0; g < ARRAY_SIZE(groups); g++) {
		h = (h ^ (uint32_t)(groups[g].cap + 1)) * 16777619u;
		for (const char *const *c = groups[g].calls; *c; c++)
			for (const char *p = *c; *p; p++)
				h = (h ^ (unsigned char)*p) * 16777619u;
	}
	for (const char *p = ver; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	if (lib)
		h = (h ^ (lib->major << 16 | lib->minor << 8 | lib->micro)) * 16777619u;
	return h;
}

static uint64_t relevant_caps(uint64_t cap_add)
{
	uint64_t m = 0;

	for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
		if (groups[g].cap >= 0)
			m |= UINT64_C(1) << groups[g].cap;
	return cap_add & m;
}

int skiff_seccomp_prepare(const struct skiff_config *c, struct skiff_bpf *ret)
{
	uint64_t caps = relevant_caps(c->cap_add);
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r;

	*ret = (struct skiff_bpf){ 0 };
	if (c->seccomp == SKIFF_SECCOMP_UNCONFINED)
		return 0;
	if (c->seccomp == SKIFF_SECCOMP_FILE)
		return compile(c, 0, ret);
	path = xasprintf("%s/seccomp-%08x-%016llx.bpf", SKIFF_RUNTIME_RUN_DIR, rules_hash(),
			 (unsigned long long)caps);
	r = skiff_read_file(path, 65536 * sizeof(struct sock_filter), &data, &len);
	if (r >= 0 && len > 0 && len % sizeof(struct sock_filter) == 0 &&
	    len / sizeof(struct sock_filter) <= 4096) {
		ret->filter = (struct sock_filter *)TAKE_PTR(data);
		ret->len = (unsigned short)(len / sizeof(struct sock_filter));
		return 0;
	}
	r = compile(c, caps, ret);
	if (r < 0)
		return r;
	/* Best effort: a cache we cannot write only costs time. */
	if (skiff_mkdir_p(SKIFF_RUNTIME_RUN_DIR, 0700) >= 0)
		(void)skiff_write_file_atomic(path, ret->filter,
					      ret->len * sizeof(struct sock_filter), 0600);
	return 0;
}

int skiff_seccomp_load(const struct skiff_bpf *bpf)
{
	struct sock_fprog prog = { .len = bpf->len, .filter = bpf->filter };

	if (!bpf->filter)
		return 0;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return -errno;
	return 0;
}

void skiff_bpf_done(struct skiff_bpf *b)
{
	free(b->filter);
	b->filter = NULL;
	b->len = 0;
}
