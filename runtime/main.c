/* main.c — skiff-runtime's entry point: picks the sub-command. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "runtime.h"

static void usage(FILE *f)
{
	fputs(
	    "usage: skiff-runtime run --rootfs DIR [OPTIONS] -- CMD [ARG...]\n"
	    "       skiff-runtime shim --state DIR --id ID --rootfs DIR [OPTIONS] -- CMD [ARG...]\n"
	    "       skiff-runtime state --state DIR ID\n"
	    "       skiff-runtime list --state DIR [--json]\n"
	    "       skiff-runtime kill --state DIR ID [SIGNAL]\n"
	    "       skiff-runtime delete --state DIR ID [--force]\n"
	    "       skiff-runtime exec --state DIR [-e K=V] [-w DIR] [-u UID[:GID]] ID -- CMD "
	    "[ARG...]\n"
	    "options: --name NAME --hostname H --env K=V --workdir DIR --user UID[:GID]\n"
	    "         --memory 64Mi --cpus 0.5 --pids 128 --volume SRC:DST[:ro] --read-only\n"
	    "         --net none|host|ns:PATH|bridge:BR,ip=CIDR[,gw=IP] --cap-add CAP\n"
	    "         --seccomp default|unconfined|FILE --cgroup-parent PATH\n"
	    "         --init  (shim only: --log-max BYTES --layer-dir DIR --foreground)\n"
	    "exit codes: the command's, 125 runtime error, 126 cannot execute, 127 not found,\n"
	    "            128+N killed by signal N. See docs/runtime.md.\n",
	    f);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "run", skiff_cmd_run },     { "shim", skiff_cmd_shim },
		{ "state", skiff_cmd_state }, { "list", skiff_cmd_list },
		{ "kill", skiff_cmd_kill },   { "delete", skiff_cmd_delete },
		{ "exec", skiff_cmd_exec },
	};

	skiff_log_set_component("skiff-runtime");
	if (argc < 2) {
		usage(stderr);
		return SKIFF_EXIT_RUNTIME;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		puts("skiff-runtime " SKIFF_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	log_error("unknown command '%s' (run, shim, state, list, kill, delete, exec)", argv[1]);
	return SKIFF_EXIT_RUNTIME;
}
