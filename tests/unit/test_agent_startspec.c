/* test_agent_startspec.c — the runtime's command line for a container
 * (agent/startspec.c): the sandbox joined by path, the SKIFF_* and service
 * environment before the container's own, limits, volumes, the endpoints
 * mount, the command and its args last, and what is left out. */
#include <check.h>
#include <string.h>

#include "../../agent/agent.h"
#include "cleanup.h"
#include "util.h"
#include "testlib.h"

/* argv joined with single spaces */
static char *joined(const struct strv *a)
{
	size_t len = 1;
	for (size_t i = 0; i < a->n; i++)
		len += strlen(a->v[i]) + 1;
	char *s = xcalloc(1, len);
	for (size_t i = 0; i < a->n; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, a->v[i]);
	}
	return s;
}

struct fixture {
	Skiff__Pod pod;
	Skiff__ObjectMeta meta;
	Skiff__PodSpec spec;
	Skiff__Container ctr, *ctrs[1];
	Skiff__EnvVar env[2], *envs[2];
	Skiff__ResourceRequirements res;
	Skiff__ResourceList lim;
	char *cmd[2], *args[2];
	struct startspec in;
};

static void fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	skiff__pod__init(&f->pod);
	skiff__object_meta__init(&f->meta);
	skiff__pod_spec__init(&f->spec);
	skiff__container__init(&f->ctr);
	f->meta.name = "web-1";
	f->pod.metadata = &f->meta;
	f->pod.spec = &f->spec;
	f->ctrs[0] = &f->ctr;
	f->spec.containers = f->ctrs;
	f->spec.n_containers = 1;
	f->cmd[0] = "/bin/web";
	f->args[0] = "--port";
	f->args[1] = "8080";
	f->ctr.command = f->cmd;
	f->ctr.n_command = 1;
	f->ctr.args = f->args;
	f->ctr.n_args = 2;
	f->in = (struct startspec){
		.runtime = "/usr/bin/skiff-runtime",
		.containers_dir = "/st/containers",
		.id = "uid1-3",
		.rootfs = "/img/web:1",
		.cgroup_parent = "skiff/n1",
		.netns = "/st/pods/uid1/netns",
		.pod_ip = "10.244.1.7",
		.node_name = "n1",
		.pod = &f->pod,
		.container = &f->ctr,
	};
}

TEST(test_minimal)
{
	struct fixture f;
	fixture_init(&f);
	struct strv a = { 0 };
	startspec_build(&f.in, &a);
	_cleanup_free_ char *s = joined(&a);
	ck_assert_str_eq(s,
			 "/usr/bin/skiff-runtime shim --foreground --state /st/containers "
			 "--id uid1-3 --rootfs /img/web:1 --hostname web-1 --cgroup-parent "
			 "skiff/n1 --net ns:/st/pods/uid1/netns --env SKIFF_POD_NAME=web-1 "
			 "--env SKIFF_POD_IP=10.244.1.7 --env SKIFF_NODE_NAME=n1 --env "
			 "SKIFF_NAMESPACE=default --env SKIFF_ENDPOINTS_DIR=/etc/skiff/endpoints "
			 "-- /bin/web --port 8080");
	ck_assert_ptr_null(a.v[a.n]);
	strv_free(&a);
}
END_TEST

TEST(test_everything)
{
	struct fixture f;
	fixture_init(&f);
	f.spec.hostname = "db";
	for (int i = 0; i < 2; i++) {
		skiff__env_var__init(&f.env[i]);
		f.envs[i] = &f.env[i];
	}
	f.env[0].name = "MODE";
	f.env[0].value = "a=b c";
	f.env[1].name = "BAD=NAME"; /* skipped: not a variable name */
	f.env[1].value = "x";
	f.ctr.env = f.envs;
	f.ctr.n_env = 2;
	f.ctr.working_dir = "/srv";
	skiff__resource_requirements__init(&f.res);
	skiff__resource_list__init(&f.lim);
	f.lim.memory = 64 << 20;
	f.lim.cpu_milli = 250;
	f.res.limits = &f.lim;
	f.ctr.resources = &f.res;
	char *senv[] = { "USERS_DB_SERVICE_PORT=5432", NULL };
	char *vols[] = { "/st/pods/uid1/volumes/data:/data", "/etc/x:/x:ro", NULL };
	f.in.service_env = senv;
	f.in.volumes = vols;
	f.in.endpoints_dir = "/st/pods/uid1/endpoints";
	f.in.log_max = 1024;
	f.in.pids_limit = 4096;
	struct strv a = { 0 };
	startspec_build(&f.in, &a);
	_cleanup_free_ char *s = joined(&a);
	ck_assert_msg(strstr(s, " --hostname db "), "%s", s);
	ck_assert_msg(strstr(s, " --log-max 1024 "), "%s", s);
	ck_assert_msg(strstr(s, " --pids 4096 "), "%s", s);
	ck_assert_msg(strstr(s, " --memory 67108864 --cpus 250m "), "%s", s);
	ck_assert_msg(strstr(s, " --workdir /srv "), "%s", s);
	ck_assert_msg(!strstr(s, "BAD=NAME"), "%s", s);
	/* services before the container's own, so the container's own win */
	const char *svc = strstr(s, "USERS_DB_SERVICE_PORT=5432");
	const char *own = strstr(s, "--env MODE=a=b c");
	ck_assert(svc && own && svc < own);
	ck_assert_msg(strstr(s, " --volume /st/pods/uid1/volumes/data:/data --volume /etc/x:/x:ro "
				"--volume /st/pods/uid1/endpoints:/etc/skiff/endpoints:ro -- "),
		      "%s", s);
	/* one argv item per value, even with spaces */
	bool found = false;
	for (size_t i = 0; i < a.n; i++)
		found = found || strcmp(a.v[i], "MODE=a=b c") == 0;
	ck_assert(found);
	ck_assert_str_eq(a.v[a.n - 1], "8080");
	strv_free(&a);
	ck_assert_ptr_null(a.v);
}
END_TEST
