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

/* argv of the container against an image config */
static char *argv_of(const Skiff__Container *c, const struct skiff_image_config *img)
{
	struct strv a = { 0 };
	startspec_argv(c, img, &a);
	char *s = joined(&a);
	strv_free(&a);
	return s;
}

TEST(test_entrypoint_rules)
{
	struct fixture f;
	fixture_init(&f);
	char *ep[] = { "/bin/web", "--serve", NULL };
	char *cmd[] = { "--port", "80", NULL };
	struct skiff_image_config img = { .entrypoint = ep, .cmd = cmd };
	char *mycmd[] = { "/bin/sh" }, *myargs[] = { "-c", "true" };

	/* neither: Entrypoint + Cmd */
	f.ctr.n_command = f.ctr.n_args = 0;
	_cleanup_free_ char *s1 = argv_of(&f.ctr, &img);
	ck_assert_str_eq(s1, "/bin/web --serve --port 80");
	/* command replaces Entrypoint and drops Cmd */
	f.ctr.command = mycmd;
	f.ctr.n_command = 1;
	_cleanup_free_ char *s2 = argv_of(&f.ctr, &img);
	ck_assert_str_eq(s2, "/bin/sh");
	/* command and args: both the container's */
	f.ctr.args = myargs;
	f.ctr.n_args = 2;
	_cleanup_free_ char *s3 = argv_of(&f.ctr, &img);
	ck_assert_str_eq(s3, "/bin/sh -c true");
	/* args alone replaces Cmd, keeps Entrypoint */
	f.ctr.n_command = 0;
	_cleanup_free_ char *s4 = argv_of(&f.ctr, &img);
	ck_assert_str_eq(s4, "/bin/web --serve -c true");
	/* an image with Cmd only: Cmd is the program */
	struct skiff_image_config cmd_only = { .cmd = cmd };
	f.ctr.n_args = 0;
	_cleanup_free_ char *s5 = argv_of(&f.ctr, &cmd_only);
	ck_assert_str_eq(s5, "--port 80");
	/* nothing to run: no image config, no command */
	struct strv a = { 0 };
	ck_assert_uint_eq(startspec_argv(&f.ctr, NULL, &a), 0);
	ck_assert_uint_eq(startspec_argv(&f.ctr, &(struct skiff_image_config){ 0 }, &a), 0);
	strv_free(&a);
}
END_TEST

TEST(test_image_config)
{
	struct fixture f;
	fixture_init(&f);
	char *ep[] = { "/bin/web", NULL };
	char *env[] = { "PATH=/usr/bin:/bin", "MODE=image", "=bad", NULL };
	struct skiff_image_config img = { .entrypoint = ep, .env = env, .working_dir = "/app" };
	char *layers[] = { "/st/layers/a", "/st/layers/b", NULL };
	skiff__env_var__init(&f.env[0]);
	f.envs[0] = &f.env[0];
	f.env[0].name = "MODE";
	f.env[0].value = "pod";
	f.ctr.env = f.envs;
	f.ctr.n_env = 1;
	f.ctr.n_command = 0;
	f.ctr.n_args = 0;
	f.in.image = &img;
	f.in.layers = layers;
	f.in.user = "1000:1000";
	struct strv a = { 0 };
	startspec_build(&f.in, &a);
	_cleanup_free_ char *s = joined(&a);
	/* the layers lowest first, instead of the flat rootfs */
	ck_assert_msg(strstr(s, " --rootfs /st/layers/a --rootfs /st/layers/b --hostname "), "%s",
		      s);
	ck_assert_msg(!strstr(s, "/img/web:1"), "%s", s);
	/* the image's env first, the pod's after it (the runtime keeps the last) */
	const char *ienv = strstr(s, "--env MODE=image");
	const char *penv = strstr(s, "--env MODE=pod");
	ck_assert_msg(ienv && penv && ienv < penv, "%s", s);
	ck_assert_msg(strstr(s, "--env PATH=/usr/bin:/bin"), "%s", s);
	ck_assert_msg(!strstr(s, "=bad"), "%s", s);
	ck_assert_msg(strstr(s, " --workdir /app "), "%s", s);
	ck_assert_msg(strstr(s, " --user 1000:1000 "), "%s", s);
	ck_assert_msg(skiff_endswith(s, " -- /bin/web"), "%s", s);
	strv_free(&a);

	/* the container's workingDir wins over the image's */
	f.ctr.working_dir = "/srv";
	startspec_build(&f.in, &a);
	_cleanup_free_ char *s2 = joined(&a);
	ck_assert_msg(strstr(s2, " --workdir /srv ") && !strstr(s2, "/app"), "%s", s2);
	strv_free(&a);
}
END_TEST
