/* test_agent.c — the agent's pure parts, no root: the shim state JSON reader,
 * the run-file reader, pod IP allocation, image resolution errors, the
 * service environment and endpoints files. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../agent/agent.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"
#include "testlib.h"

TEST(test_shim_state_running_and_exited)
{
	struct shim_state st;
	ck_assert_int_eq(shim_state_parse("{\"id\":\"a-1\",\"status\":\"running\",\"pid\":123,"
					  "\"shim_pid\":120,\"started_ms\":1700000000000,"
					  "\"finished_ms\":0,\"exit_code\":0,\"signal\":0,"
					  "\"oom\":false,\"reason\":\"\",\"rootfs\":\"/x:1\","
					  "\"cgroup\":\"skiff/a-1\",\"ip\":\"10.244.1.2\"}",
					  &st),
			 0);
	ck_assert_str_eq(st.status, "running");
	ck_assert_int_eq(st.pid, 123);
	ck_assert_int_eq(st.shim_pid, 120);
	ck_assert(st.started_ms == 1700000000000LL);
	ck_assert_str_eq(st.ip, "10.244.1.2");

	ck_assert_int_eq(
	    shim_state_parse(" {\"status\": \"exited\", \"exit_code\": 137,\n"
			     " \"signal\": 9, \"oom\": true, \"reason\": \"OOMKilled\","
			     " \"extra\": {\"nested\": [1, 2, {\"x\": \"}\"}]},"
			     " \"pid\": 7 }",
			     &st),
	    0);
	ck_assert_str_eq(st.status, "exited");
	ck_assert_int_eq(st.exit_code, 137);
	ck_assert_int_eq(st.signal, 9);
	ck_assert(st.oom);
	ck_assert_str_eq(st.reason, "OOMKilled");
	ck_assert_int_eq(st.pid, 7);
}
END_TEST

TEST(test_shim_state_garbage)
{
	struct shim_state st;
	const char *bad[] = { "",
			      "[]",
			      "{",
			      "{\"status\"",
			      "{\"status\":}",
			      "{\"pid\":1}",
			      "{\"status\":\"running\"",
			      "{\"status\":\"running\" \"pid\":1}",
			      "{\"status\":\"x\\" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(shim_state_parse(bad[i], &st) == -EBADMSG, "accepted '%s'", bad[i]);
}
END_TEST

TEST(test_run_file)
{
	char buf[32];
	const char *run = "attempt=3\ncontainer_id=u-3\nip=10.244.1.9\nlast_reason=\n";
	ck_assert_str_eq(state_run_get(run, "attempt", buf, sizeof(buf)), "3");
	ck_assert_str_eq(state_run_get(run, "ip", buf, sizeof(buf)), "10.244.1.9");
	ck_assert_str_eq(state_run_get(run, "last_reason", buf, sizeof(buf)), "");
	ck_assert_ptr_null(state_run_get(run, "att", buf, sizeof(buf)));
	ck_assert_ptr_null(state_run_get(run, "restarts", buf, sizeof(buf)));
	/* truncated to the buffer, never overflowing it */
	char small[4];
	ck_assert_str_eq(state_run_get(run, "container_id", small, sizeof(small)), "u-3");
	ck_assert_str_eq(state_run_get(run, "ip", small, sizeof(small)), "10.");
}
END_TEST

TEST(test_ipam)
{
	struct agent a = { 0 };
	struct agent_pod pods[4] = { 0 };
	char gw[32], ip[64];
	int prefix;

	ck_assert_int_eq(ipam_gateway("10.244.3.0/24", gw, sizeof(gw), &prefix), 0);
	ck_assert_str_eq(gw, "10.244.3.1");
	ck_assert_int_eq(prefix, 24);
	ck_assert_int_eq(ipam_gateway("10.244.3.0", gw, sizeof(gw), &prefix), -EINVAL);
	ck_assert_int_eq(ipam_gateway("10.244.3.0/8", gw, sizeof(gw), &prefix), -EINVAL);
	ck_assert_int_eq(ipam_gateway("nonsense/24", gw, sizeof(gw), &prefix), -EINVAL);

	/* a /30 has one pod address: .0 network, .1 gateway, .2, .3 broadcast */
	snprintf(a.pod_cidr, sizeof(a.pod_cidr), "10.9.0.0/30");
	ck_assert_int_eq(ipam_allocate(&a, &pods[0], ip, sizeof(ip)), 30);
	ck_assert_str_eq(ip, "10.9.0.2");
	snprintf(pods[0].ip, sizeof(pods[0].ip), "%s", ip);
	a.pods = &pods[0];
	ck_assert_int_eq(ipam_allocate(&a, &pods[1], ip, sizeof(ip)), -ENOSPC);

	/* a /29: .2 .. .6, never the gateway or the broadcast address, and no
	 * address twice */
	snprintf(a.pod_cidr, sizeof(a.pod_cidr), "10.9.1.0/29");
	a.pods = NULL;
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(ipam_allocate(&a, &pods[i], pods[i].ip, sizeof(pods[i].ip)), 29);
		ck_assert_str_ne(pods[i].ip, "10.9.1.1");
		ck_assert_str_ne(pods[i].ip, "10.9.1.7");
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(pods[i].ip, pods[j].ip);
		pods[i].next = a.pods;
		a.pods = &pods[i];
	}
}
END_TEST

TEST(test_image_errors)
{
	struct agent a = { 0 };
	_cleanup_free_ char *images = xasprintf("%s/images", tmpdir);
	_cleanup_free_ char *state = xasprintf("%s/state", tmpdir);
	_cleanup_free_ char *dir = xasprintf("%s/web:2", images);
	a.cfg.image_dir = images;
	a.cfg.state_dir = state;
	a.cfg.name = "n1";
	ck_assert_int_eq(skiff_mkdir_p(dir, 0755), 0);

	Skiff__Container c = SKIFF__CONTAINER__INIT;
	struct agent_image im = { 0 };
	char *msg = NULL;
	c.image = "web:1";
	ck_assert_int_eq(image_resolve(&a, NULL, &c, &im, &msg), -ENOENT);
	_cleanup_free_ char *want = xasprintf("ImageNotFound: image 'web:1' not in %s", images);
	ck_assert_str_eq(msg, want);
	free(msg);
	msg = NULL;
	c.image = "../etc";
	ck_assert_int_eq(image_resolve(&a, NULL, &c, &im, &msg), -EINVAL);
	ck_assert_msg(skiff_startswith(msg, "InvalidImageName: image '../etc'"), "%s", msg);
	free(msg);
	msg = NULL;
	/* a flat rootfs: one layer, no config */
	c.image = "web:2";
	ck_assert_int_eq(image_resolve(&a, NULL, &c, &im, &msg), 0);
	ck_assert_str_eq(im.layers[0], dir);
	ck_assert_ptr_null(im.layers[1]);
	ck_assert_ptr_null(im.img);
	agent_image_clear(&im);

	/* an image in the node's store (IMAGE_DIR/store): its layers and config */
	_cleanup_free_ char *src = xasprintf("%s/src", tmpdir);
	_cleanup_free_ char *passwd = xasprintf("%s/etc/passwd", src);
	_cleanup_free_ char *etc = xasprintf("%s/etc", src);
	ck_assert_int_eq(skiff_mkdir_p(etc, 0755), 0);
	const char *pw = "root:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n";
	ck_assert_int_eq(skiff_write_file_atomic(passwd, pw, strlen(pw), 0644), 0);
	_cleanup_free_ char *sdir = xasprintf("%s/store", images);
	struct skiff_image_store *st = NULL;
	struct skiff_image *img = NULL;
	char err[SKIFF_IMAGE_ERR_MAX];
	ck_assert_int_eq(skiff_image_store_open(sdir, &st), 0);
	ck_assert_int_eq(skiff_image_import(st, src, -1, "app:1", &img, err, sizeof(err)), 0);
	skiff_image_free(img);
	skiff_image_store_free(st);
	c.image = "app:1";
	ck_assert_int_eq(image_resolve(&a, NULL, &c, &im, &msg), 0);
	ck_assert_ptr_nonnull(im.img);
	ck_assert_ptr_nonnull(im.layers[0]);
	ck_assert_msg(strstr(im.layers[0], "/store/layers/sha256/"), "%s", im.layers[0]);
	ck_assert_str_eq(im.user, "");
	agent_image_clear(&im);
	/* Never: a missing image is not fetched */
	c.image = "app:2";
	c.image_pull_policy = "Never";
	ck_assert_int_eq(image_resolve(&a, NULL, &c, &im, &msg), -ENOENT);
	ck_assert_str_eq(msg, "ErrImageNeverPull: image 'app:2' is not on node n1 and "
			      "imagePullPolicy is Never");
	free(msg);
	msg = NULL;
	c.image = "app:1";
	ck_assert_int_eq(image_resolve(&a, NULL, &c, &im, &msg), 0);
	agent_image_clear(&im);
	/* a registry that cannot be reached: ErrImagePull naming image and host */
	c.image = "127.0.0.1:1/team/web:1.5";
	c.image_pull_policy = "IfNotPresent";
	a.cfg.registry_timeout_s = 2;
	ck_assert_int_eq(image_resolve(&a, NULL, &c, &im, &msg), -EIO);
	ck_assert_msg(skiff_startswith(msg, "ErrImagePull: manifest of web:1.5 at 127.0.0.1:1: "),
		      "%s", msg);
	free(msg);
	skiff_image_store_free(a.images);
}
END_TEST

TEST(test_service_env_and_endpoints)
{
	struct agent a = { 0 };
	struct agent_pod p = { 0 };
	a.cfg.state_dir = tmpdir;
	p.agent = &a;
	p.uid = "u1";

	Skiff__Assignment as = SKIFF__ASSIGNMENT__INIT;
	Skiff__Service svc = SKIFF__SERVICE__INIT, *svcp = &svc;
	Skiff__ObjectMeta sm = SKIFF__OBJECT_META__INIT;
	Skiff__ServiceSpec ss = SKIFF__SERVICE_SPEC__INIT;
	Skiff__ServicePort sp = SKIFF__SERVICE_PORT__INIT, *spp = &sp;
	Skiff__ServiceStatus st = SKIFF__SERVICE_STATUS__INIT;
	Skiff__Endpoint e1 = SKIFF__ENDPOINT__INIT, e2 = SKIFF__ENDPOINT__INIT;
	Skiff__Endpoint *eps[2] = { &e1, &e2 };
	sm.name = "users-db";
	sp.port = 5432;
	ss.n_ports = 1;
	ss.ports = &spp;
	e1.ip = "10.244.1.5";
	e1.port = 5432;
	e1.ready = true;
	e2.ip = "10.244.2.7";
	e2.port = 5432;
	e2.ready = false; /* not ready: not listed */
	st.n_endpoints = 2;
	st.endpoints = eps;
	svc.metadata = &sm;
	svc.spec = &ss;
	svc.status = &st;
	as.n_services = 1;
	as.services = &svcp;
	a.assignment = &as;

	char **env = endpoints_service_env(&a, "default");
	ck_assert_str_eq(env[0], "USERS_DB_SERVICE_PORT=5432");
	ck_assert_str_eq(env[1], "USERS_DB_SERVICE_ENDPOINTS=/etc/skiff/endpoints/users-db");
	ck_assert_ptr_null(env[2]);
	for (char **e = env; *e; e++)
		free(*e);
	free(env);

	ck_assert_int_eq(endpoints_write(&a, &p), 0);
	_cleanup_free_ char *path = xasprintf("%s/pods/u1/endpoints/users-db", tmpdir);
	_cleanup_free_ char *data = NULL;
	ck_assert_int_eq(skiff_read_file(path, 4096, &data, NULL), 0);
	ck_assert_str_eq(data, "10.244.1.5:5432\n");

	/* a service that goes away takes its file along */
	as.n_services = 0;
	ck_assert_int_eq(endpoints_write(&a, &p), 0);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

TEST_SUITE(.setup = tmpdir_setup, .teardown = tmpdir_teardown);
