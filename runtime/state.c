/* state.c — DIR/ID/state, the JSON record of one shim-run container (see
 * CONTRACTS.md): written atomically (temp file + rename) by the shim when the
 * container starts and when it ends, read by `state`, `list`, `kill`,
 * `delete` and by the agent. Written and read with jansson: one flat object
 * of strings (null when unset), integers and a boolean; strings that are
 * not valid UTF-8 are written with U+FFFD in place of the bad bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "json.h"
#include "runtime.h"
#include "util.h"

char *skiff_state_to_json(const struct skiff_state *s)
{
	json_t *o = json_object();
	char *text, *out;

	if (!o)
		abort();
	json_object_set_new(o, "id", skiff_json_string(s->id));
	json_object_set_new(o, "status", skiff_json_string(s->status));
	json_object_set_new(o, "pid", json_integer(s->pid));
	json_object_set_new(o, "shim_pid", json_integer(s->shim_pid));
	json_object_set_new(o, "started_ms", json_integer(s->started_ms));
	json_object_set_new(o, "finished_ms", json_integer(s->finished_ms));
	json_object_set_new(o, "exit_code", json_integer(s->exit_code));
	json_object_set_new(o, "signal", json_integer(s->signal));
	json_object_set_new(o, "oom", json_boolean(s->oom));
	json_object_set_new(o, "reason", skiff_json_string(s->reason));
	json_object_set_new(o, "rootfs", skiff_json_string(s->rootfs));
	json_object_set_new(o, "cgroup", skiff_json_string(s->cgroup));
	json_object_set_new(o, "ip", skiff_json_string(s->ip));
	json_object_set_new(o, "layer", skiff_json_string(s->layer));
	if (s->layer) {
		json_object_set_new(o, "layer_bytes", json_integer(s->layer_bytes));
		json_object_set_new(o, "layer_free", json_integer(s->layer_free));
	}
	json_object_set_new(o, "pid_starttime", json_integer((json_int_t)s->pid_starttime));
	json_object_set_new(o, "shim_starttime", json_integer((json_int_t)s->shim_starttime));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!text)
		abort();
	out = xasprintf("%s\n", text);
	free(text);
	return out;
}

/* Atomic (temp file + rename) but not fsync'ed: the record only matters
 * while the machine is up (a reboot ends every container anyway), and an
 * fsync would sit on the path of every container start. */
int skiff_state_write(const char *dir, const struct skiff_state *s)
{
	_cleanup_free_ char *path = xasprintf("%s/%s/state", dir, s->id);
	_cleanup_free_ char *tmp = xasprintf("%s/%s/.state.tmp", dir, s->id);
	_cleanup_free_ char *json = skiff_state_to_json(s);
	int fd, r;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = skiff_write_full(fd, json, strlen(json));
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

void skiff_state_done(struct skiff_state *s)
{
	free(s->id);
	free(s->status);
	free(s->reason);
	free(s->rootfs);
	free(s->cgroup);
	free(s->ip);
	free(s->layer);
	*s = (struct skiff_state){ 0 };
}

static char *dup_str(const json_t *o, const char *key)
{
	const char *v = skiff_json_get_str(o, key);
	return v ? xstrdup(v) : NULL;
}

static int64_t get_int(const json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

int skiff_state_read(const char *dir, const char *id, struct skiff_state *s)
{
	_cleanup_free_ char *path = xasprintf("%s/%s/state", dir, id);
	_cleanup_free_ char *text = NULL;
	json_error_t jerr;
	json_t *o;
	size_t len;
	int r;

	r = skiff_read_file(path, 65536, &text, &len);
	if (r < 0)
		return r;
	*s = (struct skiff_state){ 0 };
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return -EBADMSG;
	if (!json_is_object(o)) {
		json_decref(o);
		return -EBADMSG;
	}
	s->id = dup_str(o, "id");
	s->status = dup_str(o, "status");
	s->reason = dup_str(o, "reason");
	s->rootfs = dup_str(o, "rootfs");
	s->cgroup = dup_str(o, "cgroup");
	s->ip = dup_str(o, "ip");
	s->layer = dup_str(o, "layer");
	s->layer_bytes = json_object_get(o, "layer_bytes") ? get_int(o, "layer_bytes") : -1;
	s->layer_free = json_object_get(o, "layer_free") ? get_int(o, "layer_free") : -1;
	s->pid = (pid_t)get_int(o, "pid");
	s->shim_pid = (pid_t)get_int(o, "shim_pid");
	s->started_ms = get_int(o, "started_ms");
	s->finished_ms = get_int(o, "finished_ms");
	s->exit_code = (int)get_int(o, "exit_code");
	s->signal = (int)get_int(o, "signal");
	s->oom = json_is_true(json_object_get(o, "oom"));
	s->pid_starttime = (uint64_t)get_int(o, "pid_starttime");
	s->shim_starttime = (uint64_t)get_int(o, "shim_starttime");
	json_decref(o);
	if (!s->id || !s->status) {
		skiff_state_done(s);
		return -EBADMSG;
	}
	return 0;
}
