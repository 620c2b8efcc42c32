/* test_runtime.c — skiff-runtime's pure parts without root: option parsing
 * and its one-line errors, the --net spec, capability names, the shim state
 * JSON round trip, and lib/netlink's address parsers. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../runtime/runtime.h"
#include "cleanup.h"
#include "netlink.h"
#include "util.h"
#include "testlib.h"

/* Parse a NULL-terminated argument list as `run` would. */
static int parse(struct skiff_config *c, char **err, const char *first, ...)
{
	char *argv[64];
	int argc = 0;
	va_list ap;

	argv[argc++] = (char *)"run";
	va_start(ap, first);
	for (const char *a = first; a && argc < 63; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	*err = NULL;
	return skiff_config_parse(argc, argv, false, c, err);
}

TEST(test_options_ok)
{
	struct skiff_config c;
	_cleanup_free_ char *err = NULL;

	ck_assert_int_eq(parse(&c, &err, "--rootfs", "/", "--name", "web-1", "--memory", "64Mi",
			       "--cpus", "0.5", "--pids", "100", "--env", "A=1", "--env", "A=2",
			       "-w", "/srv", "--user", "1000:50", "--net",
			       "bridge:br0,ip=10.1.2.3/24,gw=10.1.2.1", "--cap-add", "net_admin",
			       "--cgroup-parent", "/skiff/vm1/", "--", "/bin/sh", "-c", "true",
			       NULL),
			 0);
	ck_assert_str_eq(c.id, "web-1");
	ck_assert_str_eq(c.hostname, "web-1");
	ck_assert_int_eq(c.memory, 64 * 1024 * 1024);
	ck_assert_int_eq(c.cpu_milli, 500);
	ck_assert_int_eq(c.pids, 100);
	ck_assert_int_eq(c.uid, 1000);
	ck_assert_int_eq(c.gid, 50);
	ck_assert_str_eq(c.workdir, "/srv");
	ck_assert_str_eq(c.cgroup_parent, "skiff/vm1");
	ck_assert_int_eq(c.net, SKIFF_NET_BRIDGE);
	ck_assert_str_eq(c.bridge, "br0");
	ck_assert_str_eq(c.ip_cidr, "10.1.2.3/24");
	ck_assert_str_eq(c.gw, "10.1.2.1");
	ck_assert(c.cap_add & (UINT64_C(1) << 12)); /* CAP_NET_ADMIN */
	ck_assert_str_eq(c.argv[0], "/bin/sh");
	ck_assert_str_eq(c.argv[2], "true");
	ck_assert_ptr_null(c.argv[3]);
	/* A=2 replaced A=1; PATH, HOSTNAME and HOME were added */
	int a = 0, path = 0;
	for (size_t i = 0; i < c.n_env; i++) {
		a += strncmp(c.env[i], "A=", 2) == 0;
		path += strncmp(c.env[i], "PATH=", 5) == 0;
		if (strncmp(c.env[i], "A=", 2) == 0)
			ck_assert_str_eq(c.env[i], "A=2");
	}
	ck_assert_int_eq(a, 1);
	ck_assert_int_eq(path, 1);
	ck_assert_ptr_null(c.env[c.n_env]);
	skiff_config_free(&c);
}
END_TEST

static void expect_error(const char *needle, const char *o1, const char *v1)
{
	struct skiff_config c;
	_cleanup_free_ char *err = NULL;

	ck_assert_int_lt(parse(&c, &err, "--rootfs", "/", o1, v1, "--", "/bin/true", NULL), 0);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, needle), "error '%s' does not name '%s'", err, needle);
	ck_assert_ptr_null(strchr(err, '\n'));
	skiff_config_free(&c);
}

TEST(test_options_errors)
{
	expect_error("--memory '12Q'", "--memory", "12Q");
	expect_error("--cpus 'lots'", "--cpus", "lots");
	expect_error("--pids '0'", "--pids", "0");
	expect_error("'averyveryverylongname'", "--net",
		     "bridge:averyveryverylongname,ip=1.2.3.4/24");
	expect_error("ip '10.0.0.1/33'", "--net", "bridge:br0,ip=10.0.0.1/33");
	expect_error("ip '10.0.0/24'", "--net", "bridge:br0,ip=10.0.0/24");
	expect_error("gw 'x'", "--net", "bridge:br0,ip=10.0.0.2/24,gw=x");
	expect_error("ip=CIDR is required", "--net", "bridge:br0");
	expect_error("--net 'wifi'", "--net", "wifi");
	expect_error("--cap-add 'FLY'", "--cap-add", "FLY");
	expect_error("--user 'bob'", "--user", "bob");
	expect_error("--workdir 'rel'", "--workdir", "rel");
	expect_error("--name 'a/b'", "--name", "a/b");
	expect_error("--volume 'x'", "--volume", "x");
	expect_error("--cgroup-parent '../up'", "--cgroup-parent", "../up");
	expect_error("--env 'NOVALUE'", "--env", "NOVALUE");

	struct skiff_config c;
	_cleanup_free_ char *err = NULL;
	ck_assert_int_lt(parse(&c, &err, "--rootfs", "/does/not/exist", "--", "/bin/true", NULL),
			 0);
	ck_assert_ptr_nonnull(strstr(err, "rootfs '/does/not/exist'"));
	skiff_config_free(&c);
	free(err);
	ck_assert_int_lt(parse(&c, &err, "--rootfs", "/", NULL), 0);
	ck_assert_ptr_nonnull(strstr(err, "no command"));
	skiff_config_free(&c);
}
END_TEST

TEST(test_state_round_trip)
{
	char dir[] = "/tmp/skiff-test-state-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	_cleanup_free_ char *cdir = xasprintf("%s/c1", dir);
	ck_assert_int_eq(mkdir(cdir, 0700), 0);

	struct skiff_state s = { .id = xstrdup("c1"),
				 .status = xstrdup("exited"),
				 .pid = 42,
				 .shim_pid = 41,
				 .started_ms = 1700000000000,
				 .finished_ms = 1700000000123,
				 .exit_code = 137,
				 .signal = 9,
				 .oom = true,
				 .reason = xstrdup("OOMKilled"),
				 .rootfs = xstrdup("/img/\"quoted\"\\dir"),
				 .cgroup = xstrdup("skiff/vm1/c1"),
				 .ip = NULL,
				 .pid_starttime = 123456789,
				 .shim_starttime = 123456788 };
	ck_assert_int_eq(skiff_state_write(dir, &s), 0);
	struct skiff_state r;
	ck_assert_int_eq(skiff_state_read(dir, "c1", &r), 0);
	ck_assert_str_eq(r.id, "c1");
	ck_assert_str_eq(r.status, "exited");
	ck_assert_int_eq(r.pid, 42);
	ck_assert_int_eq(r.shim_pid, 41);
	ck_assert_int_eq(r.started_ms, 1700000000000);
	ck_assert_int_eq(r.finished_ms, 1700000000123);
	ck_assert_int_eq(r.exit_code, 137);
	ck_assert_int_eq(r.signal, 9);
	ck_assert(r.oom);
	ck_assert_str_eq(r.reason, "OOMKilled");
	ck_assert_str_eq(r.rootfs, "/img/\"quoted\"\\dir");
	ck_assert_str_eq(r.cgroup, "skiff/vm1/c1");
	ck_assert_ptr_null(r.ip);
	ck_assert_uint_eq(r.pid_starttime, 123456789);
	ck_assert_uint_eq(r.shim_starttime, 123456788);
	/* the JSON carries every field of the contract */
	_cleanup_free_ char *json = skiff_state_to_json(&s);
	const char *keys[] = { "\"id\"",	 "\"status\"",	    "\"pid\"",	     "\"shim_pid\"",
			       "\"started_ms\"", "\"finished_ms\"", "\"exit_code\"", "\"signal\"",
			       "\"oom\"",	 "\"reason\"",	    "\"rootfs\"",    "\"cgroup\"",
			       "\"ip\"" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		ck_assert_msg(strstr(json, keys[i]), "missing %s", keys[i]);
	skiff_state_done(&r);
	skiff_state_done(&s);

	/* bytes that are not UTF-8 are replaced (the file stays JSON) and
	 * control characters escaped; both read back */
	s = (struct skiff_state){ .id = xstrdup("c1"),
				  .status = xstrdup("running"),
				  .rootfs = xstrdup("/img/caf\xe9\n\x01") };
	ck_assert_int_eq(skiff_state_write(dir, &s), 0);
	ck_assert_int_eq(skiff_state_read(dir, "c1", &r), 0);
	ck_assert_str_eq(r.rootfs, "/img/caf\xef\xbf\xbd\n\x01");
	_cleanup_free_ char *json2 = skiff_state_to_json(&s);
	ck_assert_ptr_nonnull(strstr(json2, "\"rootfs\":\"/img/caf\xef\xbf\xbd\\n\\u0001\""));
	ck_assert_ptr_nonnull(strstr(json2, "\"reason\":null"));
	skiff_state_done(&r);
	skiff_state_done(&s);

	/* garbage is refused, not half-read */
	_cleanup_free_ char *p = xasprintf("%s/c1/state", dir);
	ck_assert_int_eq(skiff_write_file_atomic(p, "{\"id\":", 6, 0644), 0);
	ck_assert_int_eq(skiff_state_read(dir, "c1", &r), -EBADMSG);
	ck_assert_int_eq(skiff_state_read(dir, "absent", &r), -ENOENT);
	skiff_rm_rf(dir);
}
END_TEST

TEST(test_netlink_parsers)
{
	uint32_t a;
	int p;

	ck_assert_int_eq(skiff_netlink_parse_cidr("10.244.1.5/24", &a, &p), 0);
	ck_assert_int_eq(p, 24);
	ck_assert_uint_eq(a, htonl(0x0af40105));
	ck_assert_int_eq(skiff_netlink_parse_cidr("0.0.0.0/0", &a, &p), 0);
	const char *bad[] = {
		"10.0.0.1", "10.0.0.1/", "10.0.0.1/33", "10.0.0.1/-1", "10.0.0.1/+8",
		"10.0.0/8", "x/8",	 "10.0.0.1/8x", "/8",	       "10.0.0.256/8"
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(skiff_netlink_parse_cidr(bad[i], &a, &p) == -EINVAL, "%s", bad[i]);
	ck_assert_int_eq(skiff_netlink_parse_ip("1.2.3.4", &a), 0);
	ck_assert_int_eq(skiff_netlink_parse_ip("1.2.3", &a), -EINVAL);
	ck_assert_int_eq(skiff_netlink_ifname_valid("skiff0"), 0);
	ck_assert_int_eq(skiff_netlink_ifname_valid("123456789012345"), 0);
	ck_assert_int_eq(skiff_netlink_ifname_valid("1234567890123456"), -EINVAL);
	ck_assert_int_eq(skiff_netlink_ifname_valid(""), -EINVAL);
	ck_assert_int_eq(skiff_netlink_ifname_valid("a/b"), -EINVAL);
	ck_assert_int_eq(skiff_netlink_ifname_valid("a b"), -EINVAL);
	ck_assert_int_eq(skiff_netlink_ifname_valid(".."), -EINVAL);

	/* veth names: 14 characters, stable per id, distinct per id */
	_cleanup_free_ char *v1 = skiff_net_host_ifname("pod-a-1");
	_cleanup_free_ char *v2 = skiff_net_host_ifname("pod-a-1");
	_cleanup_free_ char *v3 = skiff_net_host_ifname("pod-a-2");
	ck_assert_uint_eq(strlen(v1), 14);
	ck_assert_str_eq(v1, v2);
	ck_assert_str_ne(v1, v3);
}
END_TEST

TEST(test_caps_and_ids)
{
	int cap;

	ck_assert_int_eq(skiff_cap_parse("NET_ADMIN", &cap), 0);
	ck_assert_int_eq(cap, 12);
	ck_assert_int_eq(skiff_cap_parse("CAP_SYS_ADMIN", &cap), 0);
	ck_assert_int_eq(cap, 21);
	ck_assert_int_eq(skiff_cap_parse("sys_ptrace", &cap), 0);
	ck_assert_int_eq(skiff_cap_parse("NOPE", &cap), -EINVAL);
	ck_assert(skiff_id_valid("uid-p071-1"));
	ck_assert(!skiff_id_valid(""));
	ck_assert(!skiff_id_valid("../x"));
	ck_assert(!skiff_id_valid("-x"));
	char longid[80];
	memset(longid, 'a', 65);
	longid[65] = 0;
	ck_assert(!skiff_id_valid(longid));
	longid[64] = 0;
	ck_assert(skiff_id_valid(longid));
}
END_TEST
