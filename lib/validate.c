/* validate.c — the rules and defaults every applied object passes, shared by
 * the brain (the authority) and skiffctl (see validate.h). */
#include "validate.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cron.h"
#include "image.h"
#include "util.h"

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		*ret_errmsg = xasprintf(__VA_ARGS__);                                              \
		return -EINVAL;                                                                    \
	} while (0)

#define CHECK(call)                                                                                \
	do {                                                                                       \
		if ((call) < 0)                                                                    \
			return -EINVAL;                                                            \
	} while (0)

struct vctx {
	const struct skiff_validate_opts *opts;
	char **ret_errmsg;
};

/* ---- small rules --------------------------------------------------------- */

bool skiff_name_valid(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && i > 0 && i < n - 1))
			return false;
	}
	return true;
}

static bool ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A label name or value: 1-63 of [A-Za-z0-9-_.], alphanumeric at both ends. */
static bool label_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !ascii_alnum(s[0]) || !ascii_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ascii_alnum(s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/* A DNS-1123 subdomain: dot-separated DNS labels, at most 253 in all. */
static bool dns_subdomain_valid(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		size_t len = i - start;
		if (len == 0 || len > 63 || s[start] == '-' || s[i - 1] == '-')
			return false;
		for (size_t j = start; j < i; j++)
			if (!((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= '0' && s[j] <= '9') ||
			      s[j] == '-'))
				return false;
		start = i + 1;
	}
	return true;
}

bool skiff_label_key_valid(const char *s)
{
	if (!s)
		return false;
	const char *slash = strchr(s, '/');
	if (!slash)
		return label_name_valid(s, strlen(s));
	return dns_subdomain_valid(s, (size_t)(slash - s)) &&
	       label_name_valid(slash + 1, strlen(slash + 1));
}

bool skiff_label_value_valid(const char *s)
{
	return !s || !*s || label_name_valid(s, strlen(s));
}

bool skiff_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* overlong forms, surrogates and beyond U+10FFFF */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n + 1;
	}
	return true;
}

int skiff_int_or_percent(const char *s, int total, bool round_up, int *ret)
{
	int64_t v;
	if (!s || !*s)
		return -EINVAL;
	size_t n = strlen(s);
	if (s[n - 1] == '%') {
		_cleanup_free_ char *num = xstrndup(s, n - 1);
		if (skiff_parse_int64(num, &v) < 0 || v < 0 || v > 100)
			return -EINVAL;
		int64_t p = (int64_t)total * v;
		*ret = (int)(round_up ? (p + 99) / 100 : p / 100);
		return 0;
	}
	if (skiff_parse_int64(s, &v) < 0 || v < 0 || v > 1000000)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

void skiff_set_str(char **field, const char *value)
{
	if (*field && *field != protobuf_c_empty_string)
		free(*field);
	*field = xstrdup(value ? value : "");
}

const char *skiff_kv_get(Skiff__KeyValue *const *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (kv[i]->key && streq(kv[i]->key, key))
			return kv[i]->value;
	return NULL;
}

bool skiff_selector_match(Skiff__KeyValue *const *sel, size_t nsel, Skiff__KeyValue *const *labels,
			  size_t nlabels)
{
	if (nsel == 0)
		return false;
	for (size_t i = 0; i < nsel; i++) {
		const char *v = skiff_kv_get(labels, nlabels, sel[i]->key);
		if (!v || !streq(v, sel[i]->value))
			return false;
	}
	return true;
}

Skiff__KeyValue **skiff_kv_copy(Skiff__KeyValue *const *src, size_t n)
{
	Skiff__KeyValue **dst = xcalloc(n ? n : 1, sizeof(*dst));
	for (size_t i = 0; i < n; i++) {
		dst[i] = xmalloc(sizeof(**dst));
		skiff__key_value__init(dst[i]);
		dst[i]->key = xstrdup(src[i]->key ? src[i]->key : "");
		dst[i]->value = xstrdup(src[i]->value ? src[i]->value : "");
	}
	return dst;
}

void skiff_camel_case(const char *name, char *out, size_t len)
{
	size_t j = 0;
	bool up = false;
	for (const char *p = name; *p && j + 1 < len; p++) {
		if (*p == '_') {
			up = true;
			continue;
		}
		out[j++] = up ? (char)toupper((unsigned char)*p) : *p;
		up = false;
	}
	out[j] = 0;
}

/* A user's string inside a message: control characters shown as '?', long
 * ones cut (it is already known to be valid UTF-8). */
static const char *shown(const char *s, char *buf, size_t len)
{
	size_t j = 0, n = s ? strlen(s) : 0;
	for (size_t i = 0; i < n && j + 4 < len; i++)
		buf[j++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (j < n && j >= 3)
		memcpy(buf + j - 3, "...", 3);
	buf[j] = 0;
	return buf;
}

/* ---- every string is UTF-8 ------------------------------------------------ */

static int check_utf8(const ProtobufCMessage *msg, const char *path, char **ret_errmsg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	char key[64];

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		const char *slot = (const char *)msg + fd->offset;
		if (fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		skiff_camel_case(fd->name, key, sizeof(key));
		_cleanup_free_ char *p = *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
		bool rep = fd->label == PROTOBUF_C_LABEL_REPEATED;
		size_t n = rep ? *(const size_t *)((const char *)msg + fd->quantifier_offset) : 1;
		for (size_t j = 0; j < n; j++) {
			const void *v =
			    rep ? (*(void *const *)slot ? (*(void *const **)slot)[j] : NULL)
				: *(void *const *)slot;
			if (!v)
				continue;
			_cleanup_free_ char *ep = NULL;
			if (fd->descriptor == &skiff__key_value__descriptor) {
				const Skiff__KeyValue *kv = v;
				bool key_ok =
				    !kv->key || skiff_utf8_valid(kv->key, strlen(kv->key));
				ep = key_ok ? xasprintf("%s.%s", p, kv->key ? kv->key : "")
					    : xasprintf("%s[%zu]", p, j);
				if (!key_ok)
					FAIL("%s: key is not valid UTF-8", ep);
				if (kv->value && !skiff_utf8_valid(kv->value, strlen(kv->value)))
					FAIL("%s: not valid UTF-8", ep);
				continue;
			}
			ep = rep ? xasprintf("%s[%zu]", p, j) : xstrdup(p);
			if (fd->type == PROTOBUF_C_TYPE_STRING) {
				if (!skiff_utf8_valid(v, strlen(v)))
					FAIL("%s: not valid UTF-8", ep);
			} else {
				CHECK(check_utf8(v, ep, ret_errmsg));
			}
		}
	}
	return 0;
}

/* ---- the objects ----------------------------------------------------------- */

static int check_labels(Skiff__KeyValue **kv, size_t n, const char *field, char **ret_errmsg)
{
	char b1[80], b2[80];
	if (n > SKIFF_VALIDATE_MAX_LABELS)
		FAIL("%s: at most %d labels, got %zu", field, SKIFF_VALIDATE_MAX_LABELS, n);
	for (size_t i = 0; i < n; i++) {
		const char *k = kv[i]->key ? kv[i]->key : "", *v = kv[i]->value;
		if (!skiff_label_key_valid(k))
			FAIL("%s: '%s' is not a valid label key (an optional DNS subdomain prefix "
			     "of at most 253 characters and '/', then a name of 1-63 letters, "
			     "digits, '-', '_' or '.', starting and ending with a letter or digit)",
			     field, shown(k, b1, sizeof(b1)));
		if (!skiff_label_value_valid(v))
			FAIL(
			    "%s.%s: '%s' is not a valid label value (empty, or at most 63 letters, "
			    "digits, '-', '_' or '.', starting and ending with a letter or digit)",
			    field, k, shown(v, b2, sizeof(b2)));
		for (size_t j = 0; j < i; j++)
			if (streq(kv[j]->key ? kv[j]->key : "", k))
				FAIL("%s: duplicate key '%s'", field, k);
	}
	return 0;
}

static int check_name_field(const char *field, const char *name, size_t max, bool required,
			    char **ret_errmsg)
{
	char buf[80];
	if (!name || !*name) {
		if (required)
			FAIL("%s: required field is missing", field);
		return 0;
	}
	if (!skiff_name_valid(name, max))
		FAIL("%s: '%s' is not a valid name (lower-case letters, digits and '-', starting "
		     "and ending with a letter or digit, at most %zu characters)",
		     field, shown(name, buf, sizeof(buf)), max);
	return 0;
}

static int check_meta(ProtobufCMessage *msg, size_t max, char **ret_errmsg)
{
	Skiff__ObjectMeta *m = ((Skiff__Pod *)msg)->metadata;
	char buf[80];
	if (!m || !m->name || !*m->name)
		FAIL("metadata.name: required field is missing");
	if (!skiff_name_valid(m->name, max))
		FAIL("metadata.name: '%s' is not a valid name (lower-case letters, digits and '-', "
		     "starting and ending with a letter or digit, at most %zu characters)",
		     shown(m->name, buf, sizeof(buf)), max);
	CHECK(check_name_field("metadata.namespace", m->namespace_, 63, false, ret_errmsg));
	CHECK(check_labels(m->labels, m->n_labels, "metadata.labels", ret_errmsg));
	size_t bytes = 0;
	for (size_t i = 0; i < m->n_annotations; i++)
		bytes += strlen(m->annotations[i]->key ? m->annotations[i]->key : "") +
			 strlen(m->annotations[i]->value ? m->annotations[i]->value : "");
	if (bytes > SKIFF_VALIDATE_MAX_ANNOTATIONS)
		FAIL("metadata.annotations: at most %d bytes in all, got %zu",
		     SKIFF_VALIDATE_MAX_ANNOTATIONS, bytes);
	return 0;
}

/* value one of "A|B|C"; empty takes def. */
static int check_enum(char **value, const char *def, const char *values, const char *field,
		      char **ret_errmsg)
{
	char buf[80];
	if (!*value || !**value) {
		skiff_set_str(value, def);
		return 0;
	}
	_cleanup_free_ char *list = xstrdup(values);
	char *save = NULL;
	for (char *t = strtok_r(list, "|", &save); t; t = strtok_r(NULL, "|", &save))
		if (streq(t, *value))
			return 0;
	_cleanup_free_ char *shown_list = xstrdup(values);
	for (char *p = shown_list; *p; p++)
		if (*p == '|')
			*p = ',';
	FAIL("%s: must be one of %s, got '%s'", field, shown_list, shown(*value, buf, sizeof(buf)));
}

static int check_port(uint32_t port, bool required, const char *field, char **ret_errmsg)
{
	if ((port == 0 && required) || port > 65535)
		FAIL("%s: must be 1-65535, got %u", field, port);
	return 0;
}

static int check_count(size_t n, size_t max, const char *field, const char *what, char **ret_errmsg)
{
	if (n > max)
		FAIL("%s: at most %zu %s, got %zu", field, max, what, n);
	return 0;
}

static int check_resources(Skiff__ResourceList *r, const char *field, char **ret_errmsg)
{
	if (!r)
		return 0;
	if (r->cpu_milli < 0 || r->cpu_milli > SKIFF_VALIDATE_MAX_CPU_MILLI)
		FAIL("%s.cpu: must be 0-%lld (millicores), got %lld", field,
		     SKIFF_VALIDATE_MAX_CPU_MILLI, (long long)r->cpu_milli);
	if (r->memory < 0 || r->memory > SKIFF_VALIDATE_MAX_MEMORY)
		FAIL("%s.memory: must be 0-%lld bytes (64Ti), got %lld", field,
		     SKIFF_VALIDATE_MAX_MEMORY, (long long)r->memory);
	if (r->ephemeral_storage < 0 || r->ephemeral_storage > SKIFF_VALIDATE_MAX_MEMORY)
		FAIL("%s.ephemeral-storage: must be 0-%lld bytes (64Ti), got %lld", field,
		     SKIFF_VALIDATE_MAX_MEMORY, (long long)r->ephemeral_storage);
	return 0;
}

/* Kubernetes' IANA_SVC_NAME: 1-15 of [a-z0-9-], at least one letter, no
 * '-' at either end or twice in a row. */
bool skiff_port_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	bool letter = false;
	if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return false;
	}
	return letter;
}

uint32_t skiff_container_port_by_name(const Skiff__Container *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->n_ports; i++)
		if (c->ports[i]->name && streq(c->ports[i]->name, name))
			return c->ports[i]->container_port;
	return 0;
}

/* A probe's port given by name: one of the container's ports. */
static int resolve_port_name(const Skiff__Container *c, const char *name, uint32_t *port,
			     const char *field, char **ret_errmsg)
{
	char buf[80];
	if (!name || !*name)
		return 0;
	*port = skiff_container_port_by_name(c, name);
	if (*port == 0)
		FAIL("%s: no port named '%s' in this container's ports", field,
		     shown(name, buf, sizeof(buf)));
	return 0;
}

static int check_probe(const Skiff__Container *c, Skiff__Probe *p, const char *field,
		       char **ret_errmsg)
{
	char f[320];
	if (!p)
		return 0;
	int n = !!p->exec + !!p->tcp_socket + !!p->http_get;
	if (n != 1)
		FAIL("%s: exactly one of exec, tcpSocket, httpGet is required, got %d", field, n);
	if (p->exec && p->exec->n_command == 0)
		FAIL("%s.exec.command: required field is missing", field);
	if (p->exec)
		CHECK(check_count(p->exec->n_command, SKIFF_VALIDATE_MAX_ARGS, field, "arguments",
				  ret_errmsg));
	snprintf(f, sizeof(f), "%s.tcpSocket.port", field);
	if (p->tcp_socket) {
		CHECK(resolve_port_name(c, p->tcp_socket->port_name, &p->tcp_socket->port, f,
					ret_errmsg));
		CHECK(check_port(p->tcp_socket->port, true, f, ret_errmsg));
	}
	snprintf(f, sizeof(f), "%s.httpGet.port", field);
	if (p->http_get) {
		CHECK(resolve_port_name(c, p->http_get->port_name, &p->http_get->port, f,
					ret_errmsg));
		CHECK(check_port(p->http_get->port, true, f, ret_errmsg));
		if (!*p->http_get->path)
			skiff_set_str(&p->http_get->path, "/");
	}
	if (p->initial_delay_ms < 0 || p->period_ms < 0 || p->timeout_ms < 0 ||
	    p->failure_threshold < 0 || p->success_threshold < 0)
		FAIL("%s: times and thresholds must be >= 0", field);
	if (p->period_ms == 0)
		p->period_ms = 10000;
	if (p->timeout_ms == 0)
		p->timeout_ms = 1000;
	if (p->failure_threshold == 0)
		p->failure_threshold = 3;
	if (p->success_threshold == 0)
		p->success_threshold = 1;
	return 0;
}

/* Kubernetes' environment variable names: [-._a-zA-Z][-._a-zA-Z0-9]* */
static bool env_name_valid(const char *s)
{
	if (*s >= '0' && *s <= '9')
		return false;
	for (; *s; s++)
		if (!ascii_alnum(*s) && !strchr("-._", *s))
			return false;
	return true;
}

static int check_container(struct vctx *v, Skiff__PodSpec *s, Skiff__Container *c,
			   const char *field)
{
	char **ret_errmsg = v->ret_errmsg;
	char f[256], buf[80];

	snprintf(f, sizeof(f), "%s.name", field);
	CHECK(check_name_field(f, c->name, 63, true, ret_errmsg));
	if (!c->image || !*c->image)
		FAIL("%s.image: required field is missing", field);
	_cleanup_free_ char *why = NULL;
	if (skiff_image_reference_check(c->image, &why) < 0)
		FAIL("%s.image: '%s' is not a valid image reference ([HOST[:PORT]/]NAME[:TAG]"
		     "[@sha256:DIGEST]): %s",
		     field, shown(c->image, buf, sizeof(buf)), why);
	snprintf(f, sizeof(f), "%s.command", field);
	CHECK(check_count(c->n_command, SKIFF_VALIDATE_MAX_ARGS, f, "arguments", ret_errmsg));
	snprintf(f, sizeof(f), "%s.args", field);
	CHECK(check_count(c->n_args, SKIFF_VALIDATE_MAX_ARGS, f, "arguments", ret_errmsg));
	snprintf(f, sizeof(f), "%s.imagePullPolicy", field);
	CHECK(check_enum(&c->image_pull_policy, skiff_image_default_pull_policy(c->image),
			 "Always|IfNotPresent|Never", f, ret_errmsg));
	bool entrypoint = v->opts && v->opts->image_has_entrypoint &&
			  v->opts->image_has_entrypoint(c->image, v->opts->userdata);
	if (c->n_command == 0 && !entrypoint)
		FAIL("%s.command: required field is missing (image '%s' names no entrypoint)",
		     field, c->image);
	if (c->n_command > 0 && !*c->command[0])
		FAIL("%s.command[0]: must not be empty", field);
	snprintf(f, sizeof(f), "%s.env", field);
	CHECK(check_count(c->n_env, SKIFF_VALIDATE_MAX_ENV, f, "variables", ret_errmsg));
	for (size_t j = 0; j < c->n_env; j++) {
		const char *name = c->env[j]->name;
		if (!name || !*name)
			FAIL("%s.env[%zu].name: required field is missing", field, j);
		if (!env_name_valid(name))
			FAIL("%s.env[%zu].name: '%s' is not a valid environment variable name "
			     "(letters, digits, '_', '-' and '.', not starting with a digit)",
			     field, j, shown(name, buf, sizeof(buf)));
	}
	snprintf(f, sizeof(f), "%s.ports", field);
	CHECK(check_count(c->n_ports, SKIFF_VALIDATE_MAX_PORTS, f, "ports", ret_errmsg));
	for (size_t j = 0; j < c->n_ports; j++) {
		Skiff__ContainerPort *p = c->ports[j];
		snprintf(f, sizeof(f), "%s.ports[%zu].containerPort", field, j);
		CHECK(check_port(p->container_port, true, f, ret_errmsg));
		snprintf(f, sizeof(f), "%s.ports[%zu].protocol", field, j);
		CHECK(check_enum(&p->protocol, "TCP", "TCP|UDP", f, ret_errmsg));
		snprintf(f, sizeof(f), "%s.ports[%zu].name", field, j);
		if (p->name && *p->name && !skiff_port_name_valid(p->name))
			FAIL("%s: '%s' is not a valid port name (1-15 lower-case letters, digits "
			     "and '-', with at least one letter)",
			     f, shown(p->name, buf, sizeof(buf)));
		/* a name picks one port of the pod (services and probes use it):
		 * none before this one may have it */
		for (size_t k = 0; p->name && *p->name && k < s->n_containers; k++) {
			Skiff__Container *o = s->containers[k];
			for (size_t l = 0; l < (o == c ? j : o->n_ports); l++)
				if (o->ports[l]->name && streq(o->ports[l]->name, p->name))
					FAIL("%s: port name '%s' is used twice in the pod", f,
					     p->name);
			if (o == c)
				break;
		}
	}
	if (c->resources) {
		snprintf(f, sizeof(f), "%s.resources.requests", field);
		CHECK(check_resources(c->resources->requests, f, ret_errmsg));
		snprintf(f, sizeof(f), "%s.resources.limits", field);
		CHECK(check_resources(c->resources->limits, f, ret_errmsg));
		Skiff__ResourceList *rq = c->resources->requests, *lm = c->resources->limits;
		if (rq && lm && lm->memory > 0 && rq->memory > lm->memory)
			FAIL("%s.resources.requests.memory: must not exceed the limit", field);
		if (rq && lm && lm->cpu_milli > 0 && rq->cpu_milli > lm->cpu_milli)
			FAIL("%s.resources.requests.cpu: must not exceed the limit", field);
		if (rq && lm && lm->ephemeral_storage > 0 &&
		    rq->ephemeral_storage > lm->ephemeral_storage)
			FAIL("%s.resources.requests.ephemeral-storage: must not exceed the limit",
			     field);
	}
	snprintf(f, sizeof(f), "%s.livenessProbe", field);
	CHECK(check_probe(c, c->liveness_probe, f, ret_errmsg));
	snprintf(f, sizeof(f), "%s.readinessProbe", field);
	CHECK(check_probe(c, c->readiness_probe, f, ret_errmsg));
	snprintf(f, sizeof(f), "%s.volumeMounts", field);
	CHECK(check_count(c->n_volume_mounts, SKIFF_VALIDATE_MAX_VOLUMES, f, "mounts", ret_errmsg));
	for (size_t j = 0; j < c->n_volume_mounts; j++) {
		Skiff__VolumeMount *vm = c->volume_mounts[j];
		bool found = false;
		for (size_t k = 0; k < s->n_volumes; k++)
			found |= streq(s->volumes[k]->name, vm->name ? vm->name : "");
		if (!found)
			FAIL("%s.volumeMounts[%zu].name: no volume named '%s' in volumes", field, j,
			     vm->name ? vm->name : "");
		if (!vm->mount_path || vm->mount_path[0] != '/')
			FAIL("%s.volumeMounts[%zu].mountPath: must be an absolute path", field, j);
		for (size_t k = 0; k < j; k++)
			if (streq(c->volume_mounts[k]->mount_path, vm->mount_path))
				FAIL("%s.volumeMounts[%zu].mountPath: '%s' is mounted twice in "
				     "this container",
				     field, j, shown(vm->mount_path, buf, sizeof(buf)));
	}
	return 0;
}

static int check_pod_spec(struct vctx *v, Skiff__PodSpec *s, const char *f)
{
	char **ret_errmsg = v->ret_errmsg;
	char field[128];

	if (!s || s->n_containers == 0)
		FAIL("%s.containers: at least one container is required", f);
	snprintf(field, sizeof(field), "%s.containers", f);
	CHECK(check_count(s->n_containers, SKIFF_VALIDATE_MAX_CONTAINERS, field, "containers",
			  ret_errmsg));
	snprintf(field, sizeof(field), "%s.volumes", f);
	CHECK(check_count(s->n_volumes, SKIFF_VALIDATE_MAX_VOLUMES, field, "volumes", ret_errmsg));
	for (size_t i = 0; i < s->n_volumes; i++) {
		Skiff__Volume *vol = s->volumes[i];
		snprintf(field, sizeof(field), "%s.volumes[%zu].name", f, i);
		CHECK(check_name_field(field, vol->name, 63, true, ret_errmsg));
		for (size_t j = 0; j < i; j++)
			if (streq(s->volumes[j]->name, vol->name))
				FAIL("%s: volume name '%s' is used twice", field, vol->name);
		if (vol->empty_dir && vol->host_path)
			FAIL("%s.volumes[%zu]: exactly one of emptyDir, hostPath is allowed, got "
			     "both",
			     f, i);
		if (!vol->empty_dir && !vol->host_path) {
			vol->empty_dir = xmalloc(sizeof(*vol->empty_dir));
			skiff__empty_dir_volume_source__init(vol->empty_dir);
		}
		if (vol->host_path && (!vol->host_path->path || vol->host_path->path[0] != '/'))
			FAIL("%s.volumes[%zu].hostPath.path: must be an absolute path", f, i);
		if (vol->empty_dir && (vol->empty_dir->size_limit < 0 ||
				       vol->empty_dir->size_limit > SKIFF_VALIDATE_MAX_MEMORY))
			FAIL("%s.volumes[%zu].emptyDir.sizeLimit: must be 0-%lld bytes (64Ti), got "
			     "%lld",
			     f, i, SKIFF_VALIDATE_MAX_MEMORY,
			     (long long)vol->empty_dir->size_limit);
		if (vol->empty_dir && vol->empty_dir->medium && vol->empty_dir->medium[0] &&
		    !streq(vol->empty_dir->medium, "Memory"))
			FAIL("%s.volumes[%zu].emptyDir.medium: must be \"\" (the node's disk) or "
			     "Memory, got '%s'",
			     f, i, vol->empty_dir->medium);
	}
	for (size_t i = 0; i < s->n_containers; i++) {
		Skiff__Container *c = s->containers[i];
		snprintf(field, sizeof(field), "%s.containers[%zu]", f, i);
		CHECK(check_container(v, s, c, field));
		for (size_t j = 0; j < i; j++)
			if (streq(s->containers[j]->name, c->name))
				FAIL("%s.name: container name '%s' is used twice", field, c->name);
	}
	snprintf(field, sizeof(field), "%s.restartPolicy", f);
	CHECK(
	    check_enum(&s->restart_policy, "Always", "Always|OnFailure|Never", field, ret_errmsg));
	if (s->termination_grace_ms < 0)
		FAIL("%s.terminationGracePeriodSeconds: must be >= 0", f);
	if (s->termination_grace_ms == 0)
		s->termination_grace_ms = 10000;
	snprintf(field, sizeof(field), "%s.hostname", f);
	CHECK(check_name_field(field, s->hostname, 63, false, ret_errmsg));
	snprintf(field, sizeof(field), "%s.nodeSelector", f);
	return check_labels(s->node_selector, s->n_node_selector, field, ret_errmsg);
}

/* The selector and the template's labels default to each other (or to
 * app=<name>) and must agree. */
static int check_selector(const char *name, Skiff__KeyValue ***sel, size_t *nsel,
			  Skiff__PodTemplate *t, char **ret_errmsg)
{
	if (!t->metadata) {
		t->metadata = xmalloc(sizeof(Skiff__ObjectMeta));
		skiff__object_meta__init(t->metadata);
	}
	Skiff__ObjectMeta *tm = t->metadata;
	if (*nsel == 0 && tm->n_labels == 0) {
		Skiff__KeyValue app = SKIFF__KEY_VALUE__INIT, *p = &app;
		app.key = "app";
		app.value = (char *)name;
		*sel = skiff_kv_copy(&p, 1);
		*nsel = 1;
		tm->labels = skiff_kv_copy(&p, 1);
		tm->n_labels = 1;
	} else if (*nsel == 0) {
		*sel = skiff_kv_copy(tm->labels, tm->n_labels);
		*nsel = tm->n_labels;
	} else if (tm->n_labels == 0) {
		tm->labels = skiff_kv_copy(*sel, *nsel);
		tm->n_labels = *nsel;
	}
	CHECK(check_labels(tm->labels, tm->n_labels, "spec.template.metadata.labels", ret_errmsg));
	CHECK(check_labels(*sel, *nsel, "spec.selector.matchLabels", ret_errmsg));
	if (!skiff_selector_match(*sel, *nsel, tm->labels, tm->n_labels))
		FAIL("spec.selector.matchLabels: does not match spec.template.metadata.labels "
		     "(every selector label must be a template label)");
	return 0;
}

/* Deployments and daemon sets keep their pods running: Kubernetes allows
 * only restartPolicy Always in their templates; jobs the other two. */
static int check_template_restart(const Skiff__PodSpec *s, const char *f, bool runs_to_end,
				  const char *kind, char **ret_errmsg)
{
	bool always = streq(s->restart_policy, "Always");
	if (runs_to_end == always)
		FAIL("%s.restartPolicy: must be %s for a %s, got '%s'", f,
		     runs_to_end ? "OnFailure or Never" : "Always", kind, s->restart_policy);
	if (*s->node_name)
		FAIL("%s.nodeName: must be empty (the cluster sets it)", f);
	return 0;
}

static int validate_strategy(Skiff__DeploymentSpec *s, char **ret_errmsg)
{
	if (!s->strategy) {
		s->strategy = xmalloc(sizeof(*s->strategy));
		skiff__deployment_strategy__init(s->strategy);
	}
	Skiff__DeploymentStrategy *st = s->strategy;
	CHECK(check_enum(&st->type, "RollingUpdate", "RollingUpdate|Recreate", "spec.strategy.type",
			 ret_errmsg));
	if (streq(st->type, "Recreate")) {
		if (st->rolling_update)
			FAIL("spec.strategy.rollingUpdate: only allowed with type RollingUpdate");
		return 0;
	}
	if (!st->rolling_update) {
		st->rolling_update = xmalloc(sizeof(Skiff__RollingUpdateStrategy));
		skiff__rolling_update_strategy__init(st->rolling_update);
	}
	Skiff__RollingUpdateStrategy *ru = st->rolling_update;
	if (!*ru->max_surge)
		skiff_set_str(&ru->max_surge, "25%");
	if (!*ru->max_unavailable)
		skiff_set_str(&ru->max_unavailable, "25%");
	int surge, unavail;
	char buf[80];
	if (skiff_int_or_percent(ru->max_surge, 100, true, &surge) < 0)
		FAIL("spec.strategy.rollingUpdate.maxSurge: must be an integer or a percentage "
		     "(like 1 or 25%%), got '%s'",
		     shown(ru->max_surge, buf, sizeof(buf)));
	if (skiff_int_or_percent(ru->max_unavailable, 100, false, &unavail) < 0)
		FAIL("spec.strategy.rollingUpdate.maxUnavailable: must be an integer or a "
		     "percentage (like 1 or 25%%), got '%s'",
		     shown(ru->max_unavailable, buf, sizeof(buf)));
	if (surge == 0 && unavail == 0)
		FAIL("spec.strategy.rollingUpdate: maxSurge and maxUnavailable may not both be 0");
	return 0;
}

static int validate_deployment(struct vctx *v, Skiff__Deployment *d)
{
	char **ret_errmsg = v->ret_errmsg;
	Skiff__DeploymentSpec *s = d->spec;
	if (!s)
		FAIL("spec: required field is missing");
	if (s->replicas < 0 || s->replicas > SKIFF_VALIDATE_MAX_REPLICAS)
		FAIL("spec.replicas: must be 0-%d, got %d", SKIFF_VALIDATE_MAX_REPLICAS,
		     s->replicas);
	if (!s->template_ || !s->template_->spec)
		FAIL("spec.template.spec: required field is missing");
	CHECK(check_selector(d->metadata->name, &s->selector, &s->n_selector, s->template_,
			     ret_errmsg));
	CHECK(check_pod_spec(v, s->template_->spec, "spec.template.spec"));
	CHECK(check_template_restart(s->template_->spec, "spec.template.spec", false, "Deployment",
				     ret_errmsg));
	CHECK(validate_strategy(s, ret_errmsg));
	if (s->revision_history_limit < 0)
		FAIL("spec.revisionHistoryLimit: must be >= 0, got %d", s->revision_history_limit);
	if (s->revision_history_limit == 0)
		s->revision_history_limit = 10;
	if (s->min_ready_ms < 0)
		FAIL("spec.minReadySeconds: must be >= 0");
	if (s->progress_deadline_ms <= 0)
		s->progress_deadline_ms = 600000;
	return 0;
}

static int validate_daemonset(struct vctx *v, Skiff__DaemonSet *ds)
{
	char **ret_errmsg = v->ret_errmsg;
	Skiff__DaemonSetSpec *s = ds->spec;
	char buf[80];
	if (!s)
		FAIL("spec: required field is missing");
	if (!s->template_ || !s->template_->spec)
		FAIL("spec.template.spec: required field is missing");
	CHECK(check_selector(ds->metadata->name, &s->selector, &s->n_selector, s->template_,
			     ret_errmsg));
	CHECK(check_pod_spec(v, s->template_->spec, "spec.template.spec"));
	CHECK(check_template_restart(s->template_->spec, "spec.template.spec", false, "DaemonSet",
				     ret_errmsg));
	if (!s->update_strategy) {
		s->update_strategy = xmalloc(sizeof(*s->update_strategy));
		skiff__deployment_strategy__init(s->update_strategy);
	}
	Skiff__DeploymentStrategy *st = s->update_strategy;
	CHECK(check_enum(&st->type, "RollingUpdate", "RollingUpdate|OnDelete",
			 "spec.updateStrategy.type", ret_errmsg));
	if (streq(st->type, "OnDelete")) {
		if (st->rolling_update)
			FAIL("spec.updateStrategy.rollingUpdate: only allowed with type "
			     "RollingUpdate");
	} else {
		if (!st->rolling_update) {
			st->rolling_update = xmalloc(sizeof(Skiff__RollingUpdateStrategy));
			skiff__rolling_update_strategy__init(st->rolling_update);
		}
		Skiff__RollingUpdateStrategy *ru = st->rolling_update;
		if (!*ru->max_unavailable)
			skiff_set_str(&ru->max_unavailable, "1");
		if (!*ru->max_surge)
			skiff_set_str(&ru->max_surge, "0");
		int n;
		if (skiff_int_or_percent(ru->max_unavailable, 100, false, &n) < 0 || n < 1)
			FAIL("spec.updateStrategy.rollingUpdate.maxUnavailable: must be an integer "
			     "or a percentage above 0 (like 1 or 10%%), got '%s'",
			     shown(ru->max_unavailable, buf, sizeof(buf)));
		if (skiff_int_or_percent(ru->max_surge, 100, true, &n) < 0 || n != 0)
			FAIL("spec.updateStrategy.rollingUpdate.maxSurge: only 0 is supported (a "
			     "node's old pod stops before its new one starts), got '%s'",
			     shown(ru->max_surge, buf, sizeof(buf)));
	}
	if (s->min_ready_ms < 0)
		FAIL("spec.minReadySeconds: must be >= 0");
	if (s->revision_history_limit < 0)
		FAIL("spec.revisionHistoryLimit: must be >= 0, got %d", s->revision_history_limit);
	return 0;
}

/* A Job's spec, or a CronJob's spec.jobTemplate.spec (f: its path). */
static int check_job_spec(struct vctx *v, Skiff__JobSpec *s, const char *f)
{
	char **ret_errmsg = v->ret_errmsg;
	char field[128];
	if (!s)
		FAIL("%s: required field is missing", f);
	if (s->completions < 0 || s->completions > SKIFF_VALIDATE_MAX_REPLICAS)
		FAIL("%s.completions: must be 0-%d, got %d", f, SKIFF_VALIDATE_MAX_REPLICAS,
		     s->completions);
	if (s->parallelism < 0 || s->parallelism > SKIFF_VALIDATE_MAX_REPLICAS)
		FAIL("%s.parallelism: must be 0-%d, got %d", f, SKIFF_VALIDATE_MAX_REPLICAS,
		     s->parallelism);
	if (s->backoff_limit < 0)
		FAIL("%s.backoffLimit: must be >= 0, got %d", f, s->backoff_limit);
	if (s->active_deadline_seconds < 0)
		FAIL("%s.activeDeadlineSeconds: must be >= 0, got %lld", f,
		     (long long)s->active_deadline_seconds);
	int64_t ttl;
	char buf[80];
	if (*s->ttl_seconds_after_finished &&
	    (skiff_parse_int64(s->ttl_seconds_after_finished, &ttl) < 0 || ttl < 0 ||
	     ttl > INT32_MAX))
		FAIL("%s.ttlSecondsAfterFinished: must be a number of seconds >= 0, got '%s'", f,
		     shown(s->ttl_seconds_after_finished, buf, sizeof(buf)));
	if (!s->template_ || !s->template_->spec)
		FAIL("%s.template.spec: required field is missing", f);
	if (!s->template_->metadata) {
		s->template_->metadata = xmalloc(sizeof(Skiff__ObjectMeta));
		skiff__object_meta__init(s->template_->metadata);
	}
	snprintf(field, sizeof(field), "%s.template.metadata.labels", f);
	CHECK(check_labels(s->template_->metadata->labels, s->template_->metadata->n_labels, field,
			   ret_errmsg));
	snprintf(field, sizeof(field), "%s.template.spec", f);
	if (!s->template_->spec->restart_policy || !*s->template_->spec->restart_policy)
		FAIL("%s.restartPolicy: required for a Job (OnFailure or Never)", field);
	CHECK(check_pod_spec(v, s->template_->spec, field));
	return check_template_restart(s->template_->spec, field, true, "Job", ret_errmsg);
}

static int validate_cronjob(struct vctx *v, Skiff__CronJob *cj)
{
	char **ret_errmsg = v->ret_errmsg;
	Skiff__CronJobSpec *s = cj->spec;
	char buf[80];
	if (!s)
		FAIL("spec: required field is missing");
	struct skiff_cron c;
	_cleanup_free_ char *err = NULL;
	if (skiff_cron_parse(s->schedule, &c, &err) < 0)
		FAIL("spec.schedule: %s", err);
	if (*s->time_zone && !streq(s->time_zone, "UTC") && !streq(s->time_zone, "Etc/UTC"))
		FAIL("spec.timeZone: only UTC is supported, got '%s'",
		     shown(s->time_zone, buf, sizeof(buf)));
	CHECK(check_enum(&s->concurrency_policy, "Allow", "Allow|Forbid|Replace",
			 "spec.concurrencyPolicy", ret_errmsg));
	if (s->starting_deadline_seconds < 0)
		FAIL("spec.startingDeadlineSeconds: must be >= 0, got %lld",
		     (long long)s->starting_deadline_seconds);
	if (s->successful_jobs_history_limit < 0)
		FAIL("spec.successfulJobsHistoryLimit: must be >= 0, got %d",
		     s->successful_jobs_history_limit);
	if (s->failed_jobs_history_limit < 0)
		FAIL("spec.failedJobsHistoryLimit: must be >= 0, got %d",
		     s->failed_jobs_history_limit);
	if (!s->job_template)
		FAIL("spec.jobTemplate: required field is missing");
	if (s->job_template->metadata)
		CHECK(check_labels(s->job_template->metadata->labels,
				   s->job_template->metadata->n_labels,
				   "spec.jobTemplate.metadata.labels", ret_errmsg));
	return check_job_spec(v, s->job_template->spec, "spec.jobTemplate.spec");
}

static int validate_service(Skiff__Service *svc, char **ret_errmsg)
{
	Skiff__ServiceSpec *s = svc->spec;
	char f[96], buf[80];
	if (!s)
		FAIL("spec: required field is missing");
	if (s->n_selector == 0)
		FAIL("spec.selector: at least one label is required");
	CHECK(check_labels(s->selector, s->n_selector, "spec.selector", ret_errmsg));
	if (s->n_ports == 0)
		FAIL("spec.ports: at least one port is required");
	CHECK(check_count(s->n_ports, SKIFF_VALIDATE_MAX_PORTS, "spec.ports", "ports", ret_errmsg));
	for (size_t i = 0; i < s->n_ports; i++) {
		Skiff__ServicePort *p = s->ports[i];
		snprintf(f, sizeof(f), "spec.ports[%zu].port", i);
		CHECK(check_port(p->port, true, f, ret_errmsg));
		snprintf(f, sizeof(f), "spec.ports[%zu].targetPort", i);
		if (*p->target_port_name) {
			/* resolved per pod by the endpoints controller */
			if (!skiff_port_name_valid(p->target_port_name))
				FAIL("%s: '%s' is not a valid port name (1-15 lower-case letters, "
				     "digits and '-', with at least one letter)",
				     f, shown(p->target_port_name, buf, sizeof(buf)));
			p->target_port = 0;
		} else {
			CHECK(check_port(p->target_port, false, f, ret_errmsg));
			if (p->target_port == 0)
				p->target_port = p->port;
		}
		snprintf(f, sizeof(f), "spec.ports[%zu].protocol", i);
		CHECK(check_enum(&p->protocol, "TCP", "TCP|UDP", f, ret_errmsg));
		snprintf(f, sizeof(f), "spec.ports[%zu].name", i);
		CHECK(check_name_field(f, p->name, 63, false, ret_errmsg));
		if (!*p->name && s->n_ports > 1)
			FAIL("%s: required when a service has more than one port", f);
		for (size_t j = 0; *p->name && j < i; j++)
			if (streq(s->ports[j]->name, p->name))
				FAIL("%s: port name '%s' is used twice", f, p->name);
	}
	return 0;
}

int skiff_validate(ProtobufCMessage *msg, const struct skiff_validate_opts *opts, char **ret_errmsg)
{
	struct vctx v = { .opts = opts, .ret_errmsg = ret_errmsg };
	const ProtobufCMessageDescriptor *d = msg->descriptor;

	if (d == &skiff__event__descriptor)
		FAIL("kind: events are recorded by the cluster, not applied");
	if (d != &skiff__deployment__descriptor && d != &skiff__service__descriptor &&
	    d != &skiff__pod__descriptor && d != &skiff__node__descriptor &&
	    d != &skiff__namespace__descriptor && d != &skiff__daemon_set__descriptor &&
	    d != &skiff__job__descriptor && d != &skiff__cron_job__descriptor)
		FAIL("kind: unknown");
	CHECK(check_utf8(msg, "", ret_errmsg));
	if (d == &skiff__deployment__descriptor) {
		/* its pods are NAME-<10 hex>-<5 chars>: at most 63, a valid hostname */
		CHECK(check_meta(msg, 46, ret_errmsg));
		return validate_deployment(&v, (Skiff__Deployment *)msg);
	}
	/* their pods are NAME-<5 chars>; a cron job's jobs NAME-<minutes, 8 digits> */
	if (d == &skiff__daemon_set__descriptor) {
		CHECK(check_meta(msg, 57, ret_errmsg));
		return validate_daemonset(&v, (Skiff__DaemonSet *)msg);
	}
	if (d == &skiff__job__descriptor) {
		CHECK(check_meta(msg, 57, ret_errmsg));
		return check_job_spec(&v, ((Skiff__Job *)msg)->spec, "spec");
	}
	if (d == &skiff__cron_job__descriptor) {
		CHECK(check_meta(msg, 48, ret_errmsg));
		return validate_cronjob(&v, (Skiff__CronJob *)msg);
	}
	if (d == &skiff__service__descriptor) {
		CHECK(check_meta(msg, 63, ret_errmsg));
		return validate_service((Skiff__Service *)msg, ret_errmsg);
	}
	if (d == &skiff__pod__descriptor) {
		CHECK(check_meta(msg, 253, ret_errmsg));
		return check_pod_spec(&v, ((Skiff__Pod *)msg)->spec, "spec");
	}
	return check_meta(msg, 63, ret_errmsg);
}
