/* image-json.c — OCI / Docker v2 manifests, indexes and image configs read
 * with jansson; bytes in, structs out, no I/O (fuzz/fuzz_image.c). */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "image.h"
#include "util.h"

#define _cleanup_json_ _cleanup_(json_decrefp)

static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int r, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

void skiff_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

bool skiff_image_digest_valid(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return false;
	for (const char *p = s + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static json_t *parse(const char *json, size_t len, const char *what, char *err, size_t errlen)
{
	if (len > SKIFF_IMAGE_JSON_MAX) {
		fail(err, errlen, 0, "%s: %zu bytes, more than the %u allowed", what, len,
		     SKIFF_IMAGE_JSON_MAX);
		return NULL;
	}
	json_error_t je;
	json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		fail(err, errlen, 0, "%s: invalid JSON at line %d: %s", what, je.line, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		fail(err, errlen, 0, "%s: not a JSON object", what);
		return NULL;
	}
	return j;
}

static int parse_descriptor(json_t *d, const char *what, struct skiff_image_descriptor *ret,
			    char *err, size_t errlen)
{
	if (!json_is_object(d))
		return fail(err, errlen, -EBADMSG, "%s: not an object", what);
	json_t *mt = json_object_get(d, "mediaType");
	json_t *dg = json_object_get(d, "digest");
	json_t *sz = json_object_get(d, "size");
	if (!json_is_string(dg) || !skiff_image_digest_valid(json_string_value(dg)))
		return fail(err, errlen, -EBADMSG, "%s: digest missing or not sha256:<64 hex>",
			    what);
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return fail(err, errlen, -EBADMSG, "%s %s: size missing or negative", what,
			    json_string_value(dg));
	if ((uint64_t)json_integer_value(sz) > SKIFF_IMAGE_LAYER_MAX)
		return fail(err, errlen, -EFBIG, "%s %s: declared size %lld is more than %llu",
			    what, json_string_value(dg), (long long)json_integer_value(sz),
			    SKIFF_IMAGE_LAYER_MAX);
	if (mt && !json_is_string(mt))
		return fail(err, errlen, -EBADMSG, "%s %s: mediaType is not a string", what,
			    json_string_value(dg));
	ret->media_type = mt ? xstrdup(json_string_value(mt)) : NULL;
	snprintf(ret->digest, sizeof(ret->digest), "%s", json_string_value(dg));
	ret->size = (uint64_t)json_integer_value(sz);
	return 0;
}

static bool is_index_type(const char *mt)
{
	return mt &&
	       (strcmp(mt, SKIFF_MEDIA_OCI_INDEX) == 0 || strcmp(mt, SKIFF_MEDIA_DOCKER_LIST) == 0);
}

/* The index entry for linux/amd64 (or the only entry when none has a platform). */
static json_t *pick_manifest(json_t *manifests)
{
	json_t *e, *only = NULL;
	size_t i, n_plain = 0;
	json_array_foreach(manifests, i, e)
	{
		json_t *p = json_object_get(e, "platform");
		if (!p) {
			/* attestation manifests (buildkit) carry an annotation and no platform */
			json_t *ann = json_object_get(e, "annotations");
			if (!json_object_get(ann, "vnd.docker.reference.type")) {
				n_plain++;
				only = e;
			}
			continue;
		}
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "architecture"));
		if (streq_ptr(os, "linux") && streq_ptr(arch, "amd64"))
			return e;
	}
	return n_plain == 1 ? only : NULL;
}

int skiff_image_parse_index(const char *json, size_t len, struct skiff_image_descriptor *ret,
			    char *err, size_t errlen)
{
	_cleanup_json_ json_t *j = parse(json, len, "image index", err, errlen);
	if (!j)
		return -EBADMSG;
	json_t *ms = json_object_get(j, "manifests");
	if (!json_is_array(ms))
		return fail(err, errlen, -EBADMSG, "image index: no \"manifests\" array");
	json_t *e = pick_manifest(ms);
	if (!e)
		return fail(err, errlen, -ENOENT,
			    "image index: no manifest for linux/amd64 among its %zu entries",
			    json_array_size(ms));
	struct skiff_image_descriptor d = { 0 };
	int r = parse_descriptor(e, "image index entry", &d, err, errlen);
	if (r < 0)
		return r;
	*ret = d;
	return 0;
}

char *skiff_image_index_name(const char *json, size_t len)
{
	_cleanup_json_ json_t *j = parse(json, len, "image index", NULL, 0);
	if (!j)
		return NULL;
	json_t *e = pick_manifest(json_object_get(j, "manifests"));
	json_t *ann = json_object_get(e, "annotations");
	const char *n = json_string_value(json_object_get(ann, "io.containerd.image.name"));
	if (!n)
		n = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
	return n && *n ? xstrdup(n) : NULL;
}

int skiff_image_parse_manifest(const char *json, size_t len, struct skiff_image *img, char *err,
			       size_t errlen)
{
	_cleanup_json_ json_t *j = parse(json, len, "image manifest", err, errlen);
	if (!j)
		return -EBADMSG;
	const char *mt = json_string_value(json_object_get(j, "mediaType"));
	if (is_index_type(mt) || (!mt && json_is_array(json_object_get(j, "manifests"))))
		return -EMEDIUMTYPE;
	json_t *sv = json_object_get(j, "schemaVersion");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return fail(
		    err, errlen, -EPROTONOSUPPORT,
		    "image manifest: schemaVersion is not 2 (Docker schema 1 images are not "
		    "supported; re-push the image with a current tool)");
	struct skiff_image_descriptor cfg = { 0 };
	int r = parse_descriptor(json_object_get(j, "config"), "image config", &cfg, err, errlen);
	if (r < 0)
		return r;
	json_t *ls = json_object_get(j, "layers");
	if (!json_is_array(ls)) {
		free(cfg.media_type);
		return fail(err, errlen, -EBADMSG, "image manifest: no \"layers\" array");
	}
	size_t n = json_array_size(ls);
	if (n > SKIFF_IMAGE_MAX_LAYERS) {
		free(cfg.media_type);
		return fail(err, errlen, -E2BIG, "image manifest: %zu layers, more than %d", n,
			    SKIFF_IMAGE_MAX_LAYERS);
	}
	struct skiff_image_descriptor *layers = xcalloc(n ? n : 1, sizeof(*layers));
	for (size_t i = 0; i < n; i++) {
		char what[32];
		snprintf(what, sizeof(what), "layer %zu", i + 1);
		r = parse_descriptor(json_array_get(ls, i), what, &layers[i], err, errlen);
		if (r < 0) {
			for (size_t k = 0; k < i; k++)
				free(layers[k].media_type);
			free(layers);
			free(cfg.media_type);
			return r;
		}
	}
	free(img->config_desc.media_type);
	img->config_desc = cfg;
	img->layers = layers;
	img->n_layers = n;
	img->size = cfg.size + len;
	for (size_t i = 0; i < n; i++)
		img->size += layers[i].size;
	return 0;
}

/* A JSON array of strings as a NULL-terminated vector; NULL for null/absent. */
static int strv_from_json(json_t *a, const char *what, char ***ret, size_t *ret_n, char *err,
			  size_t errlen)
{
	*ret = NULL;
	if (ret_n)
		*ret_n = 0;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return fail(err, errlen, -EBADMSG, "image config: %s is not an array of strings",
			    what);
	size_t n = json_array_size(a), i;
	char **v = xcalloc(n + 1, sizeof(char *));
	json_t *e;
	json_array_foreach(a, i, e)
	{
		if (!json_is_string(e)) {
			skiff_strv_free(v);
			return fail(err, errlen, -EBADMSG, "image config: %s[%zu] is not a string",
				    what, i);
		}
		v[i] = xstrdup(json_string_value(e));
	}
	*ret = v;
	if (ret_n)
		*ret_n = n;
	return 0;
}

static char *opt_string(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? xstrdup(s) : NULL;
}

void skiff_image_config_clear(struct skiff_image_config *c)
{
	skiff_strv_free(c->entrypoint);
	skiff_strv_free(c->cmd);
	skiff_strv_free(c->env);
	skiff_strv_free(c->exposed_ports);
	skiff_strv_free(c->diff_ids);
	free(c->working_dir);
	free(c->user);
	free(c->os);
	free(c->architecture);
	*c = (struct skiff_image_config){ 0 };
}

int skiff_image_parse_config(const char *json, size_t len, struct skiff_image_config *ret,
			     char *err, size_t errlen)
{
	_cleanup_json_ json_t *j = parse(json, len, "image config", err, errlen);
	if (!j)
		return -EBADMSG;
	struct skiff_image_config c = { 0 };
	json_t *cfg = json_object_get(j, "config");
	if (cfg && !json_is_object(cfg) && !json_is_null(cfg))
		return fail(err, errlen, -EBADMSG, "image config: \"config\" is not an object");
	int r;
	if ((r = strv_from_json(json_object_get(cfg, "Entrypoint"), "Entrypoint", &c.entrypoint,
				NULL, err, errlen)) < 0 ||
	    (r = strv_from_json(json_object_get(cfg, "Cmd"), "Cmd", &c.cmd, NULL, err, errlen)) <
		0 ||
	    (r = strv_from_json(json_object_get(cfg, "Env"), "Env", &c.env, NULL, err, errlen)) <
		0 ||
	    (r = strv_from_json(json_object_get(json_object_get(j, "rootfs"), "diff_ids"),
				"rootfs.diff_ids", &c.diff_ids, &c.n_diff_ids, err, errlen)) < 0) {
		skiff_image_config_clear(&c);
		return r;
	}
	for (size_t i = 0; c.env && c.env[i]; i++)
		if (!strchr(c.env[i], '=') || c.env[i][0] == '=') {
			r = fail(err, errlen, -EBADMSG,
				 "image config: Env[%zu] \"%s\" is not NAME=value", i, c.env[i]);
			skiff_image_config_clear(&c);
			return r;
		}
	for (size_t i = 0; i < c.n_diff_ids; i++)
		if (!skiff_image_digest_valid(c.diff_ids[i])) {
			r = fail(err, errlen, -EBADMSG,
				 "image config: rootfs.diff_ids[%zu] is not sha256:<64 hex>", i);
			skiff_image_config_clear(&c);
			return r;
		}
	json_t *ports = json_object_get(cfg, "ExposedPorts");
	if (json_is_object(ports)) {
		size_t n = json_object_size(ports), i = 0;
		const char *k;
		json_t *v;
		c.exposed_ports = xcalloc(n + 1, sizeof(char *));
		json_object_foreach(ports, k, v) c.exposed_ports[i++] = xstrdup(k);
	}
	c.working_dir = opt_string(cfg, "WorkingDir");
	c.user = opt_string(cfg, "User");
	c.os = opt_string(j, "os");
	c.architecture = opt_string(j, "architecture");
	*ret = c;
	return 0;
}

char *skiff_image_manifest_json(const struct skiff_image *img)
{
	json_t *m = json_object();
	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType", json_string(SKIFF_MEDIA_OCI_MANIFEST));
	json_t *cfg = json_object();
	json_object_set_new(cfg, "mediaType",
			    json_string(img->config_desc.media_type ? img->config_desc.media_type
								    : SKIFF_MEDIA_OCI_CONFIG));
	json_object_set_new(cfg, "digest", json_string(img->config_desc.digest));
	json_object_set_new(cfg, "size", json_integer((json_int_t)img->config_desc.size));
	json_object_set_new(m, "config", cfg);
	json_t *ls = json_array();
	for (size_t i = 0; i < img->n_layers; i++) {
		json_t *l = json_object();
		json_object_set_new(l, "mediaType",
				    json_string(img->layers[i].media_type
						    ? img->layers[i].media_type
						    : SKIFF_MEDIA_OCI_LAYER));
		json_object_set_new(l, "digest", json_string(img->layers[i].digest));
		json_object_set_new(l, "size", json_integer((json_int_t)img->layers[i].size));
		json_array_append_new(ls, l);
	}
	json_object_set_new(m, "layers", ls);
	char *s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	if (!s)
		abort();
	return s;
}

static bool ascii_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] |
 * "__" | "-"+ */
static bool path_component_valid(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (!lower_alnum(p[i]))
			return false;
		while (i < n && lower_alnum(p[i]))
			i++;
		if (i == n)
			return true;
		size_t sep = i;
		if (p[i] == '-')
			while (i < n && p[i] == '-')
				i++;
		else if (p[i] == '_' && i + 1 < n && p[i + 1] == '_')
			i += 2;
		else if (p[i] == '.' || p[i] == '_')
			i++;
		if (i == sep || i == n)
			return false;
	}
	return n > 0;
}

/* domain := host [":" port], host := DNS labels of [A-Za-z0-9-] (no '-' at
 * the ends) joined by '.', or "[" IPv6 "]" */
static bool domain_valid(const char *p, size_t n)
{
	const char *colon = NULL;
	size_t hn = n;
	if (n > 0 && p[0] == '[') {
		const char *close = memchr(p, ']', n);
		if (!close || close == p + 1)
			return false;
		for (const char *q = p + 1; q < close; q++)
			if (!strchr("0123456789abcdefABCDEF:.", *q))
				return false;
		hn = (size_t)(close - p) + 1;
		if (hn < n && p[hn] != ':')
			return false;
	} else {
		colon = memchr(p, ':', n);
		hn = colon ? (size_t)(colon - p) : n;
		size_t start = 0;
		for (size_t i = 0; i <= hn; i++) {
			if (i < hn && p[i] != '.') {
				char c = p[i];
				if (!lower_alnum(c) && !(c >= 'A' && c <= 'Z') && c != '-')
					return false;
				continue;
			}
			if (i == start || p[start] == '-' || p[i - 1] == '-')
				return false;
			start = i + 1;
		}
	}
	if (hn == n)
		return true;
	if (hn + 1 == n)
		return false; /* "host:" */
	for (size_t i = hn + 1; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

int skiff_image_reference_check(const char *name, char **ret_errmsg)
{
	const char *why = NULL;
	size_t len = name ? strlen(name) : 0;
	if (len == 0)
		why = "it is empty";
	else if (len > 255)
		why = "longer than 255 characters";
	if (why)
		goto bad;
	const char *at = strchr(name, '@');
	size_t end = at ? (size_t)(at - name) : len;
	if (at && strchr(at + 1, '@')) {
		why = "more than one '@'";
		goto bad;
	}
	if (at && !skiff_image_digest_valid(at + 1)) {
		why = "a digest after '@' is sha256: and 64 lower-case hex digits";
		goto bad;
	}
	/* a tag is after the last ':' that follows the last '/' */
	const char *tail = memrchr(name, '/', end);
	tail = tail ? tail : name;
	const char *colon = memrchr(tail, ':', end - (size_t)(tail - name));
	if (colon) {
		const char *t = colon + 1;
		size_t tl = end - (size_t)(t - name);
		if (tl == 0) {
			why = "the tag after ':' is empty";
			goto bad;
		}
		bool ok = tl <= 128 && (ascii_word(t[0]));
		for (size_t i = 1; ok && i < tl; i++)
			ok = ascii_word(t[i]) || t[i] == '.' || t[i] == '-';
		if (!ok) {
			why = "a tag is 1-128 letters, digits, '_', '.' and '-', not starting with "
			      "'.' or '-'";
			goto bad;
		}
		end = (size_t)(colon - name);
	}
	/* [domain "/"] path-component ("/" path-component)* */
	const char *p = name;
	for (bool first = true;; first = false) {
		const char *e = memchr(p, '/', end - (size_t)(p - name));
		size_t n = e ? (size_t)(e - p) : end - (size_t)(p - name);
		if (n == 0) {
			why = end == 0 ? "the name before ':' or '@' is empty"
				       : "a '/' without a name on both sides";
			goto bad;
		}
		if (!path_component_valid(p, n) && !(first && e && domain_valid(p, n))) {
			why = first && e ? "the first component is neither a registry host "
					   "(HOST or HOST:PORT) nor a name of lower-case letters "
					   "and digits, separated by '.', '_', '__' or '-'"
					 : "a name is lower-case letters and digits, separated by "
					   "'.', '_', '__' or '-'";
			goto bad;
		}
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
bad:
	if (ret_errmsg)
		*ret_errmsg = xstrdup(why);
	return -EINVAL;
}

int skiff_image_name_parse(const char *name, char **ret_repo, char **ret_ref)
{
	if (skiff_image_reference_check(name, NULL) < 0)
		return -EINVAL;
	_cleanup_free_ char *s = xstrdup(name);
	_cleanup_free_ char *ref = NULL;
	char *at = strchr(s, '@');
	if (at) {
		*at = '\0';
		ref = xstrdup(at + 1);
	}
	char *slash = strrchr(s, '/');
	char *colon = strrchr(slash ? slash : s, ':');
	if (colon) {
		*colon = '\0';
		if (!ref)
			ref = xstrdup(colon + 1);
	}
	if (ret_repo)
		*ret_repo = TAKE_PTR(s);
	if (ret_ref)
		*ret_ref = ref ? TAKE_PTR(ref) : xstrdup("latest");
	return 0;
}

const char *skiff_image_default_pull_policy(const char *name)
{
	_cleanup_free_ char *repo = NULL, *ref = NULL;
	if (skiff_image_name_parse(name, &repo, &ref) < 0)
		return "IfNotPresent";
	return strcmp(ref, "latest") == 0 ? "Always" : "IfNotPresent";
}
