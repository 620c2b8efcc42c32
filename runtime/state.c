/* state.c — DIR/ID/state, the JSON record of one shim-run container (see
 * CONTRACTS.md): written atomically (temp file + rename) by the shim when the
 * container starts and when it ends, read by `state`, `list`, `kill`,
 * `delete` and by the agent. The reader understands exactly the flat object
 * the writer produces (strings, integers, booleans, null).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "runtime.h"
#include "util.h"

static void json_str(FILE *f, const char *key, const char *v, bool comma)
{
	fprintf(f, "\"%s\":", key);
	if (!v) {
		fputs("null", f);
	} else {
		fputc('"', f);
		for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
			if (*p == '"' || *p == '\\')
				fprintf(f, "\\%c", *p);
			else if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
		fputc('"', f);
	}
	if (comma)
		fputc(',', f);
}

char *skiff_state_to_json(const struct skiff_state *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	fputc('{', f);
	json_str(f, "id", s->id, true);
	json_str(f, "status", s->status, true);
	fprintf(f,
		"\"pid\":%d,\"shim_pid\":%d,\"started_ms\":%" PRId64 ",\"finished_ms\":%" PRId64
		",\"exit_code\":%d,\"signal\":%d,\"oom\":%s,",
		(int)s->pid, (int)s->shim_pid, s->started_ms, s->finished_ms, s->exit_code,
		s->signal, s->oom ? "true" : "false");
	json_str(f, "reason", s->reason, true);
	json_str(f, "rootfs", s->rootfs, true);
	json_str(f, "cgroup", s->cgroup, true);
	json_str(f, "ip", s->ip, true);
	fprintf(f, "\"pid_starttime\":%" PRIu64 ",\"shim_starttime\":%" PRIu64 "}\n",
		s->pid_starttime, s->shim_starttime);
	fclose(f);
	return buf;
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
	*s = (struct skiff_state){ 0 };
}

/* Parse a JSON string starting at *p (on the opening quote). */
static char *parse_string(const char **p)
{
	const char *s = *p + 1;
	char *out = xmalloc(strlen(s) + 1), *o = out;

	while (*s && *s != '"') {
		if (*s == '\\' && s[1]) {
			s++;
			if (*s == 'u' && strlen(s) >= 5) {
				*o++ = (char)strtol((char[]){ s[3], s[4], 0 }, NULL, 16);
				s += 5;
				continue;
			}
			*o++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
			s++;
			continue;
		}
		*o++ = *s++;
	}
	*o = 0;
	*p = *s ? s + 1 : s;
	return out;
}

int skiff_state_read(const char *dir, const char *id, struct skiff_state *s)
{
	_cleanup_free_ char *path = xasprintf("%s/%s/state", dir, id);
	_cleanup_free_ char *text = NULL;
	const char *p;
	int r;

	r = skiff_read_file(path, 65536, &text, NULL);
	if (r < 0)
		return r;
	*s = (struct skiff_state){ 0 };
	p = strchr(text, '{');
	if (!p)
		return -EBADMSG;
	p++;
	for (;;) {
		p += strspn(p, " \t\r\n,");
		if (*p == '}' || !*p)
			break;
		if (*p != '"')
			goto bad;
		_cleanup_free_ char *key = parse_string(&p);
		p += strspn(p, " \t\r\n");
		if (*p != ':')
			goto bad;
		p++;
		p += strspn(p, " \t\r\n");
		char *sval = NULL;
		long long ival = 0;
		bool bval = false;
		if (*p == '"') {
			sval = parse_string(&p);
		} else if (strncmp(p, "true", 4) == 0) {
			bval = true;
			p += 4;
		} else if (strncmp(p, "false", 5) == 0) {
			p += 5;
		} else if (strncmp(p, "null", 4) == 0) {
			p += 4;
		} else {
			char *end;
			ival = strtoll(p, &end, 10);
			if (end == p)
				goto bad;
			p = end;
		}
		char **field = strcmp(key, "id") == 0	    ? &s->id
			       : strcmp(key, "status") == 0 ? &s->status
			       : strcmp(key, "reason") == 0 ? &s->reason
			       : strcmp(key, "rootfs") == 0 ? &s->rootfs
			       : strcmp(key, "cgroup") == 0 ? &s->cgroup
			       : strcmp(key, "ip") == 0	    ? &s->ip
							    : NULL;
		if (field && sval) {
			free(*field);
			*field = TAKE_PTR(sval);
		} else if (strcmp(key, "pid") == 0) {
			s->pid = (pid_t)ival;
		} else if (strcmp(key, "shim_pid") == 0) {
			s->shim_pid = (pid_t)ival;
		} else if (strcmp(key, "started_ms") == 0) {
			s->started_ms = ival;
		} else if (strcmp(key, "finished_ms") == 0) {
			s->finished_ms = ival;
		} else if (strcmp(key, "exit_code") == 0) {
			s->exit_code = (int)ival;
		} else if (strcmp(key, "signal") == 0) {
			s->signal = (int)ival;
		} else if (strcmp(key, "oom") == 0) {
			s->oom = bval;
		} else if (strcmp(key, "pid_starttime") == 0) {
			s->pid_starttime = (uint64_t)ival;
		} else if (strcmp(key, "shim_starttime") == 0) {
			s->shim_starttime = (uint64_t)ival;
		}
		free(sval);
	}
	if (!s->id || !s->status)
		goto bad;
	return 0;
bad:
	skiff_state_done(s);
	return -EBADMSG;
}
