/* test_agent_disk.c — the agent's ephemeral-storage decisions (agent/disk.c,
 * no I/O): a container's limit and the node default, the pod file system's
 * size, which emptyDirs go on it, who reached a limit (or filled the file
 * system first), the eviction message, the exit record's verdict, and
 * --layer-dir on the runtime's command line. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "../../agent/agent.h"
#include "cleanup.h"
#include "testlib.h"
#include "util.h"

#define MI (INT64_C(1) << 20)

struct fixture {
	Skiff__PodSpec spec;
	Skiff__Container ctr[3], *ctrs[3];
	Skiff__ResourceRequirements res[3];
	Skiff__ResourceList lim[3];
	Skiff__Volume vol[3], *vols[3];
	Skiff__EmptyDirVolumeSource ed[3];
	Skiff__HostPathVolumeSource hp;
};

/* n containers with these limits (0: none), no volumes */
static void fixture_init(struct fixture *f, int n, const int64_t *limits)
{
	memset(f, 0, sizeof(*f));
	skiff__pod_spec__init(&f->spec);
	for (int i = 0; i < n; i++) {
		skiff__container__init(&f->ctr[i]);
		skiff__resource_requirements__init(&f->res[i]);
		skiff__resource_list__init(&f->lim[i]);
		f->lim[i].ephemeral_storage = limits[i];
		f->res[i].limits = &f->lim[i];
		f->ctr[i].resources = &f->res[i];
		f->ctrs[i] = &f->ctr[i];
	}
	f->spec.containers = f->ctrs;
	f->spec.n_containers = (size_t)n;
	f->spec.volumes = f->vols;
}

static Skiff__Volume *add_empty_dir(struct fixture *f, int64_t size_limit, const char *medium)
{
	size_t i = f->spec.n_volumes++;
	skiff__volume__init(&f->vol[i]);
	skiff__empty_dir_volume_source__init(&f->ed[i]);
	f->ed[i].size_limit = size_limit;
	f->ed[i].medium = (char *)medium;
	f->vol[i].empty_dir = &f->ed[i];
	f->vol[i].name = "v";
	f->vols[i] = &f->vol[i];
	return &f->vol[i];
}

TEST(test_container_limit_and_default)
{
	struct fixture f;
	int64_t l[] = { 512 * MI };
	fixture_init(&f, 1, l);
	ck_assert_int_eq(disk_container_limit(&f.ctr[0], 0), 512 * MI);
	ck_assert_int_eq(disk_container_limit(&f.ctr[0], 64 * MI), 512 * MI); /* own wins */
	f.lim[0].ephemeral_storage = 0;
	ck_assert_int_eq(disk_container_limit(&f.ctr[0], 0), 0);
	ck_assert_int_eq(disk_container_limit(&f.ctr[0], 64 * MI), 64 * MI);
	f.ctr[0].resources = NULL;
	ck_assert_int_eq(disk_container_limit(&f.ctr[0], 64 * MI), 64 * MI);
	ck_assert_int_eq(disk_container_limit(&f.ctr[0], 0), 0);
}
END_TEST

TEST(test_plan)
{
	struct fixture f;
	struct disk_plan p;

	/* nothing limited, no default: no pod file system (as before) */
	int64_t none[] = { 0, 0 };
	fixture_init(&f, 2, none);
	Skiff__Volume *plain = add_empty_dir(&f, 0, "");
	disk_plan_pod(&f.spec, 0, &p);
	ck_assert_int_eq(p.fs_bytes, 0);
	ck_assert(!p.shared);
	ck_assert(!disk_volume_on_fs(&p, plain));

	/* the node default limits both: 2 x 64Mi, the plain emptyDir shares it */
	disk_plan_pod(&f.spec, 64 * MI, &p);
	ck_assert_int_eq(p.fs_bytes, 128 * MI);
	ck_assert(p.shared);
	ck_assert(disk_volume_on_fs(&p, plain));

	/* one limited, one not: the unlimited one keeps the node's disk, and so
	 * does an emptyDir without sizeLimit (no pod total to bound it) */
	int64_t one[] = { 512 * MI, 0 };
	fixture_init(&f, 2, one);
	plain = add_empty_dir(&f, 0, "");
	Skiff__Volume *sized = add_empty_dir(&f, 100 * MI, "");
	Skiff__Volume *mem = add_empty_dir(&f, 8 * MI, "Memory");
	disk_plan_pod(&f.spec, 0, &p);
	ck_assert_int_eq(p.fs_bytes, 612 * MI); /* the tmpfs is not on it */
	ck_assert(!p.shared);
	ck_assert(!disk_volume_on_fs(&p, plain));
	ck_assert(disk_volume_on_fs(&p, sized));
	ck_assert(!disk_volume_on_fs(&p, mem));

	/* only an emptyDir sizeLimit: a file system for that volume */
	fixture_init(&f, 1, none);
	sized = add_empty_dir(&f, 32 * MI, "");
	disk_plan_pod(&f.spec, 0, &p);
	ck_assert_int_eq(p.fs_bytes, 32 * MI);
	ck_assert(disk_volume_on_fs(&p, sized));

	/* tiny limits: ext4 needs a minimum */
	int64_t tiny[] = { 1 * MI };
	fixture_init(&f, 1, tiny);
	disk_plan_pod(&f.spec, 0, &p);
	ck_assert_int_eq(p.fs_bytes, DISK_MIN_FS_BYTES);

	/* a hostPath volume is never on it */
	int64_t big[] = { 64 * MI };
	fixture_init(&f, 1, big);
	Skiff__Volume *h = add_empty_dir(&f, 0, "");
	h->empty_dir = NULL;
	skiff__host_path_volume_source__init(&f.hp);
	h->host_path = &f.hp;
	disk_plan_pod(&f.spec, 0, &p);
	ck_assert(!disk_volume_on_fs(&p, h));
}
END_TEST

TEST(test_over)
{
	/* nobody at a limit, plenty free */
	struct disk_use u[] = { { 64 * MI, 10 * MI }, { 8 * MI, 7 * MI } };
	ck_assert_int_eq(disk_over(u, 2, 40 * MI), -1);
	/* one at its limit (or within 1/16 of a small one): that one, full or not */
	u[1].used = 7 * MI + 512 * 1024;
	ck_assert_int_eq(disk_over(u, 2, 40 * MI), 1);
	u[1].used = 8 * MI;
	ck_assert_int_eq(disk_over(u, 2, 40 * MI), 1);
	ck_assert_int_eq(disk_over(u, 2, -1), 1);
	/* full before anyone reached a limit (ext4's metadata): the one
	 * nearest its limit */
	u[1].used = 2 * MI;
	u[0].used = 60 * MI;
	ck_assert_int_eq(disk_over(u, 2, 100 << 10), 0);
	ck_assert_int_eq(disk_over(u, 2, DISK_FULL_BYTES), -1);
	/* unlimited entries are never blamed */
	struct disk_use w[] = { { 0, 900 * MI } };
	ck_assert_int_eq(disk_over(w, 1, 0), -1);
	ck_assert_int_eq(disk_over(NULL, 0, 0), -1);
}
END_TEST

/* ext4 on a 64Mi image holds about 60Mi: a 64Mi limit alone on it is
 * reached at what it holds, two limits in proportion */
TEST(test_effective_limit)
{
	ck_assert_int_eq(disk_effective_limit(64 * MI, 64 * MI, 60 * MI), 60 * MI);
	ck_assert_int_eq(disk_effective_limit(16 * MI, 64 * MI, 60 * MI), 15 * MI);
	/* unknown or not smaller: the limit as it is */
	ck_assert_int_eq(disk_effective_limit(64 * MI, 64 * MI, 0), 64 * MI);
	ck_assert_int_eq(disk_effective_limit(64 * MI, 64 * MI, 70 * MI), 64 * MI);
	ck_assert_int_eq(disk_effective_limit(0, 64 * MI, 60 * MI), 0);
	/* 64Ti limits do not overflow */
	int64_t ti = INT64_C(1) << 40;
	ck_assert_int_eq(disk_effective_limit(64 * ti, 64 * ti, 32 * ti), 32 * ti);
}
END_TEST

TEST(test_messages_and_exit)
{
	_cleanup_free_ char *c = disk_evict_message(false, "web", 512 * MI, 512 * MI);
	ck_assert_str_eq(c, "ephemeral-storage limit 512Mi of container web reached (512Mi used)");
	_cleanup_free_ char *v = disk_evict_message(true, "scratch", 8 * MI, 8 * MI);
	ck_assert_str_eq(v, "emptyDir sizeLimit 8Mi of volume scratch reached (8Mi used)");

	/* the shim's exit record: at the limit, or the file system full */
	ck_assert(disk_exit_reached(64 * MI, 64 * MI, 10 * MI));
	ck_assert(disk_exit_reached(64 * MI, 63 * MI, 10 * MI)); /* within 1 MiB */
	ck_assert(disk_exit_reached(64 * MI, 58 * MI, 0));
	ck_assert(!disk_exit_reached(64 * MI, 58 * MI, 4 * MI));
	/* not recorded, or no limit: never */
	ck_assert(!disk_exit_reached(64 * MI, -1, 0));
	ck_assert(!disk_exit_reached(0, 900 * MI, 0));
	/* no free space recorded: the size alone decides */
	ck_assert(!disk_exit_reached(64 * MI, 10 * MI, -1));
}
END_TEST

TEST(test_startspec_layer_dir)
{
	Skiff__Pod pod;
	Skiff__ObjectMeta meta;
	Skiff__PodSpec spec;
	Skiff__Container ctr, *ctrs[1] = { &ctr };
	char *cmd[] = { "/bin/dd" };
	skiff__pod__init(&pod);
	skiff__object_meta__init(&meta);
	skiff__pod_spec__init(&spec);
	skiff__container__init(&ctr);
	meta.name = "p";
	pod.metadata = &meta;
	pod.spec = &spec;
	spec.containers = ctrs;
	spec.n_containers = 1;
	ctr.command = cmd;
	ctr.n_command = 1;
	struct startspec in = {
		.runtime = "rt",
		.containers_dir = "/c",
		.id = "u-1",
		.rootfs = "/r",
		.cgroup_parent = "skiff",
		.netns = "/n",
		.pod_ip = "",
		.node_name = "n",
		.pod = &pod,
		.container = &ctr,
		.layer_dir = "/st/pods/u/disk/layers/u-1",
	};
	struct strv a = { 0 };
	startspec_build(&in, &a);
	bool found = false;
	for (size_t i = 0; i + 1 < a.n; i++)
		if (streq(a.v[i], "--layer-dir")) {
			ck_assert_str_eq(a.v[i + 1], "/st/pods/u/disk/layers/u-1");
			found = true;
		}
	ck_assert(found);
	strv_free(&a);
	in.layer_dir = NULL;
	startspec_build(&in, &a);
	for (size_t i = 0; i < a.n; i++)
		ck_assert_str_ne(a.v[i], "--layer-dir");
	strv_free(&a);
}
END_TEST
