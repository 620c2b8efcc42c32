/* registry.c — the OCI distribution API (v2) client: manifests and blobs
 * pulled into an image store with libcurl (see registry.h).
 */
#include "registry.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

#define ACCEPT_MANIFESTS                                                                           \
	"Accept: " SKIFF_MEDIA_OCI_MANIFEST ", " SKIFF_MEDIA_OCI_INDEX                             \
	", " SKIFF_MEDIA_DOCKER_MANIFEST ", " SKIFF_MEDIA_DOCKER_LIST
#define ERR_BODY_MAX 4096
#ifndef SKIFF_VERSION
#define SKIFF_VERSION "dev"
#endif

bool skiff_registry_name_has_host(const char *name)
{
	const char *slash = name ? strchr(name, '/') : NULL;
	if (!slash)
		return false;
	size_t n = (size_t)(slash - name);
	if (n == 9 && strncmp(name, "localhost", 9) == 0)
		return true;
	return memchr(name, '.', n) || memchr(name, ':', n);
}

/* One pull: the registry, the repository and what the errors name. */
struct pull {
	CURL *curl;
	const struct skiff_registry_opts *o;
	struct skiff_image_store *store;
	const char *name; /* as the user wrote it */
	char *host;	  /* "registry.local:5000" */
	char *repo;	  /* "team/web" */
	char *shown;	  /* "web:1.5": what errors call the image */
	char *base;	  /* "https://registry.local:5000/v2/team/web" */
	char *token;	  /* bearer token, once fetched */
	bool basic;	  /* the registry asked for Basic auth */
	char *challenge;  /* the last WWW-Authenticate */
	char *err;
	size_t errlen;
	uint64_t done, total; /* layer bytes, for progress */
};

/* Where a response's body goes: a capped buffer or a blob writer. */
struct sink {
	struct pull *p;
	char *buf;
	size_t len, cap;
	struct skiff_blob_writer *w;
	int w_error;
	bool progress;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *k = arg;
	size_t n = size * nmemb;
	long code = 0;
	curl_easy_getinfo(k->p->curl, CURLINFO_RESPONSE_CODE, &code);
	if (k->w && code == 200) {
		int r = skiff_blob_writer_write(k->w, data, n);
		if (r < 0) {
			k->w_error = r;
			return 0;
		}
		if (k->progress && k->p->o->progress) {
			k->p->done += n;
			k->p->o->progress(k->p->o->progress_arg, k->p->done, k->p->total);
		}
		return n;
	}
	/* a JSON document, or an error body (kept short) */
	size_t cap = k->w ? ERR_BODY_MAX : SKIFF_IMAGE_JSON_MAX;
	if (k->len + n > cap) {
		if (k->w)
			return n; /* an error body's head is enough */
		k->w_error = -EFBIG;
		return 0;
	}
	if (k->len + n + 1 > k->cap) {
		k->cap = (k->len + n + 1) * 2;
		k->buf = xrealloc(k->buf, k->cap);
	}
	memcpy(k->buf + k->len, data, n);
	k->len += n;
	k->buf[k->len] = '\0';
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct pull *p = arg;
	size_t n = size * nmemb;
	static const char h[] = "www-authenticate:";
	if (n > sizeof(h) - 1 && strncasecmp(data, h, sizeof(h) - 1) == 0) {
		const char *v = data + sizeof(h) - 1;
		size_t vl = n - (sizeof(h) - 1);
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
			vl--;
		free(p->challenge);
		p->challenge = xstrndup(v, vl);
	}
	return n;
}

/* --- the Bearer challenge ------------------------------------------------ */

int skiff_registry_parse_challenge(const char *header, char **ret_realm, char **ret_service,
				   char **ret_scope)
{
	*ret_realm = *ret_service = *ret_scope = NULL;
	if (!header || strncasecmp(header, "Bearer ", 7) != 0)
		return -EINVAL;
	const char *p = header + 7;
	char *realm = NULL, *service = NULL, *scope = NULL;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *eq = strchr(p, '=');
		if (!eq)
			break;
		const char *key = p;
		size_t kl = (size_t)(eq - p);
		const char *v = eq + 1;
		char *val;
		if (*v == '"') {
			v++;
			const char *end = strchr(v, '"');
			if (!end)
				break;
			val = xstrndup(v, (size_t)(end - v));
			p = end + 1;
		} else {
			size_t vl = strcspn(v, ",");
			val = xstrndup(v, vl);
			p = v + vl;
		}
		char **slot = NULL;
		if (kl == 5 && strncasecmp(key, "realm", 5) == 0)
			slot = &realm;
		else if (kl == 7 && strncasecmp(key, "service", 7) == 0)
			slot = &service;
		else if (kl == 5 && strncasecmp(key, "scope", 5) == 0)
			slot = &scope;
		if (slot) {
			free(*slot);
			*slot = val;
		} else {
			free(val);
		}
	}
	if (!realm || strncmp(realm, "http", 4) != 0) {
		free(realm);
		free(service);
		free(scope);
		return -EINVAL;
	}
	*ret_realm = realm;
	*ret_service = service;
	*ret_scope = scope;
	return 0;
}

/* --- requests ------------------------------------------------------------ */

static int fail(struct pull *p, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct pull *p, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return r;
}

/* The message of a registry's error body ({"errors":[{"message":…}]}), or
 * "HTTP <code>". */
static char *error_text(const char *body, size_t len, long code)
{
	json_error_t je;
	_cleanup_(json_decrefp) json_t *root = body ? json_loadb(body, len, 0, &je) : NULL;
	json_t *e0 = json_array_get(json_object_get(root, "errors"), 0);
	const char *m = json_string_value(json_object_get(e0, "message"));
	if (m && *m)
		return xasprintf("%s (HTTP %ld)", m, code);
	return xasprintf("HTTP %ld", code);
}

static void setup(struct pull *p, const char *url, struct curl_slist *hdrs, struct sink *k)
{
	CURL *c = p->curl;
	int t = p->o->timeout_s > 0 ? p->o->timeout_s : 30;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, p);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)t);
	/* a registry that stops sending: less than 1 byte/s for t seconds */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)t);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "skiff/" SKIFF_VERSION);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (p->o->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, p->o->ca_file);
	if (p->o->ca_pem) {
		struct curl_blob b = { .data = (void *)p->o->ca_pem,
				       .len = strlen(p->o->ca_pem),
				       .flags = CURL_BLOB_COPY };
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
	}
	if (p->basic && p->o->username) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, p->o->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, p->o->password ? p->o->password : "");
	}
}

/* Fetch a token from the challenge's realm (anonymously, or with the
 * configured user) for this repository. */
static int fetch_token(struct pull *p)
{
	_cleanup_free_ char *realm = NULL, *service = NULL, *scope = NULL;
	if (skiff_registry_parse_challenge(p->challenge, &realm, &service, &scope) < 0)
		return fail(p, -EACCES,
			    "%s at %s: access denied, and no Bearer token realm offered", p->shown,
			    p->host);
	_cleanup_free_ char *dscope = scope ? NULL : xasprintf("repository:%s:pull", p->repo);
	char *es = curl_easy_escape(p->curl, service ? service : "", 0);
	char *ec = curl_easy_escape(p->curl, scope ? scope : dscope, 0);
	_cleanup_free_ char *url =
	    xasprintf("%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?", es, ec);
	curl_free(es);
	curl_free(ec);
	struct sink k = { .p = p };
	setup(p, url, NULL, &k);
	if (p->o->username) {
		curl_easy_setopt(p->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(p->curl, CURLOPT_USERNAME, p->o->username);
		curl_easy_setopt(p->curl, CURLOPT_PASSWORD, p->o->password ? p->o->password : "");
	}
	CURLcode cc = curl_easy_perform(p->curl);
	long code = 0;
	curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &code);
	_cleanup_free_ char *body = k.buf;
	if (cc != CURLE_OK)
		return fail(p, -EIO, "%s at %s: token from %s: %s", p->shown, p->host, realm,
			    curl_easy_strerror(cc));
	if (code != 200) {
		_cleanup_free_ char *t = error_text(body, k.len, code);
		return fail(p, -EACCES, "%s at %s: token from %s: %s", p->shown, p->host, realm, t);
	}
	json_error_t je;
	_cleanup_(json_decrefp) json_t *root = json_loadb(body ? body : "", k.len, 0, &je);
	const char *tok = json_string_value(json_object_get(root, "token"));
	if (!tok)
		tok = json_string_value(json_object_get(root, "access_token"));
	if (!tok || !*tok || strpbrk(tok, "\r\n"))
		return fail(p, -EBADMSG, "%s at %s: token from %s: no token in the answer",
			    p->shown, p->host, realm);
	free(p->token);
	p->token = xstrdup(tok);
	return 0;
}

/* GET url into k, answering one 401 with a token (or Basic credentials).
 * Returns the HTTP code (>= 0) or a curl failure (-EIO, -ETIMEDOUT) with
 * err set; what names the object in errors. */
static int get(struct pull *p, const char *url, const char *accept, struct sink *k,
	       const char *what)
{
	for (int attempt = 0;; attempt++) {
		struct curl_slist *h = NULL;
		if (accept)
			h = curl_slist_append(h, accept);
		_cleanup_free_ char *auth =
		    p->token ? xasprintf("Authorization: Bearer %s", p->token) : NULL;
		if (auth)
			h = curl_slist_append(h, auth);
		free(p->challenge);
		p->challenge = NULL;
		setup(p, url, h, k);
		CURLcode cc = curl_easy_perform(p->curl);
		curl_slist_free_all(h);
		if (cc == CURLE_WRITE_ERROR && k->w_error)
			return k->w_error;
		if (cc == CURLE_OPERATION_TIMEDOUT)
			return fail(p, -ETIMEDOUT,
				    "%s of %s at %s: the registry sent nothing for %d s", what,
				    p->shown, p->host, p->o->timeout_s > 0 ? p->o->timeout_s : 30);
		if (cc != CURLE_OK)
			return fail(p, -EIO, "%s of %s at %s: %s", what, p->shown, p->host,
				    curl_easy_strerror(cc));
		long code = 0;
		curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &code);
		if (code != 401 || attempt > 0 || !p->challenge)
			return (int)code;
		/* authenticate, then try once more */
		if (strncasecmp(p->challenge, "Basic", 5) == 0 && p->o->username) {
			p->basic = true;
		} else {
			int r = fetch_token(p);
			if (r < 0)
				return r;
		}
		k->len = 0;
		if (k->w)
			return fail(p, -EPROTO, "%s of %s at %s: authentication needed mid-pull",
				    what, p->shown, p->host);
	}
}

static int digest_of(const void *data, size_t len, char out[SKIFF_IMAGE_DIGEST_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1)
		abort();
	int o = snprintf(out, SKIFF_IMAGE_DIGEST_MAX, "sha256:");
	for (unsigned int i = 0; i < n; i++)
		o += snprintf(out + o, (size_t)(SKIFF_IMAGE_DIGEST_MAX - o), "%02x", md[i]);
	return 0;
}

/* GET a manifest or index by tag or digest into the store; *ret_json (the
 * body) and its digest. A digest reference must match the bytes. */
static int get_manifest(struct pull *p, const char *ref, char **ret_json, size_t *ret_len,
			char ret_digest[SKIFF_IMAGE_DIGEST_MAX])
{
	_cleanup_free_ char *url = xasprintf("%s/manifests/%s", p->base, ref);
	struct sink k = { .p = p };
	int code = get(p, url, ACCEPT_MANIFESTS, &k, "manifest");
	_cleanup_free_ char *body = k.buf;
	if (code == -EFBIG)
		return fail(p, code, "manifest of %s at %s: larger than %u bytes", p->shown,
			    p->host, SKIFF_IMAGE_JSON_MAX);
	if (code < 0)
		return code;
	if (code != 200) {
		_cleanup_free_ char *t = error_text(body, k.len, code);
		if (code == 404 && strstr(t, "HTTP 404") == t)
			return fail(p, -ENOENT, "manifest unknown for %s at %s (HTTP 404)",
				    p->shown, p->host);
		/* "manifest unknown (HTTP 404) for web:1.5 at registry.local:5000" */
		char *paren = strstr(t, " (HTTP");
		if (paren)
			*paren = '\0';
		return fail(p,
			    code == 404			 ? -ENOENT
			    : code == 401 || code == 403 ? -EACCES
							 : -EIO,
			    "%s for %s at %s%s%s", t, p->shown, p->host, paren ? " (HTTP" : "",
			    paren ? paren + 6 : "");
	}
	if (!body)
		return fail(p, -EBADMSG, "manifest of %s at %s: empty answer", p->shown, p->host);
	char d[SKIFF_IMAGE_DIGEST_MAX];
	digest_of(body, k.len, d);
	if (skiff_image_digest_valid(ref) && strcmp(ref, d) != 0)
		return fail(p, -EBADMSG, "manifest %s of %s at %s: the registry's bytes hash to %s",
			    ref, p->shown, p->host, d);
	int r = skiff_image_blob_put(p->store, body, k.len, NULL);
	if (r < 0)
		return fail(p, r, "manifest of %s: cannot store it: %s", p->shown, strerror(-r));
	snprintf(ret_digest, SKIFF_IMAGE_DIGEST_MAX, "%s", d);
	*ret_json = TAKE_PTR(body);
	*ret_len = k.len;
	return 0;
}

/* Stream one blob into the store, verified against its digest. */
static int get_blob(struct pull *p, const struct skiff_image_descriptor *d, const char *what)
{
	if (skiff_image_blob_exists(p->store, d->digest)) {
		p->done += d->size;
		return 0;
	}
	_cleanup_free_ char *url = xasprintf("%s/blobs/%s", p->base, d->digest);
	struct sink k = { .p = p, .progress = true };
	int r = skiff_blob_writer_new(p->store, d->digest, d->size, &k.w);
	if (r < 0)
		return fail(p, r, "%s %s of %s: cannot write to the image store: %s", what,
			    d->digest, p->shown, strerror(-r));
	int code = get(p, url, NULL, &k, what);
	_cleanup_free_ char *body = k.buf;
	if (code == -EFBIG)
		r = fail(p, -EFBIG,
			 "%s %s of %s at %s: more bytes than the %" PRIu64 " the manifest declares",
			 what, d->digest, p->shown, p->host, d->size);
	else if (code < 0 && !strstr(p->err, d->digest)) {
		/* say which blob failed */
		_cleanup_free_ char *e = xstrdup(p->err[0] ? p->err : strerror(-code));
		r = fail(p, code, "%s %s: %s", what, d->digest, e);
	} else if (code < 0)
		r = code;
	else if (code != 200) {
		_cleanup_free_ char *t = error_text(body, k.len, code);
		r = fail(p, code == 404 ? -ENOENT : -EIO, "%s %s of %s at %s: %s", what, d->digest,
			 p->shown, p->host, t);
	} else {
		r = skiff_blob_writer_commit(k.w, NULL);
		if (r == -EILSEQ)
			fail(p, r, "%s %s of %s at %s: the bytes received do not match the digest",
			     what, d->digest, p->shown, p->host);
		else if (r < 0)
			fail(p, r,
			     "%s %s of %s at %s: %s (%" PRIu64 " bytes received, %" PRIu64
			     " declared)",
			     what, d->digest, p->shown, p->host, strerror(-r),
			     skiff_blob_writer_size(k.w), d->size);
	}
	skiff_blob_writer_free(k.w);
	return r;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool host_insecure(const struct skiff_registry_opts *o, const char *host)
{
	for (char *const *h = o->insecure; h && *h; h++)
		if (strcmp(*h, host) == 0)
			return true;
	return false;
}

int skiff_registry_pull(struct skiff_image_store *s, const char *name,
			const struct skiff_registry_opts *o,
			char ret_digest[SKIFF_IMAGE_DIGEST_MAX], char *err, size_t errlen)
{
	static const struct skiff_registry_opts none = { 0 };
	_cleanup_free_ char *full = NULL, *ref = NULL;
	if (!skiff_registry_name_has_host(name) || skiff_image_name_parse(name, &full, &ref) < 0) {
		snprintf(err, errlen, "image %s: not HOST[:PORT]/NAME[:TAG|@sha256:DIGEST]", name);
		return -EINVAL;
	}
	pthread_once(&curl_once, curl_init);
	struct pull p = {
		.o = o ? o : &none, .store = s, .name = name, .err = err, .errlen = errlen
	};
	const char *slash = strchr(full, '/');
	p.host = xstrndup(full, (size_t)(slash - full));
	p.repo = xstrdup(slash + 1);
	const char *last = strrchr(p.repo, '/');
	p.shown = xasprintf("%s%s%s", last ? last + 1 : p.repo,
			    skiff_image_digest_valid(ref) ? "@" : ":", ref);
	p.base = xasprintf("%s://%s/v2/%s", host_insecure(p.o, p.host) ? "http" : "https", p.host,
			   p.repo);
	p.curl = curl_easy_init();
	if (!p.curl)
		abort();

	_cleanup_free_ char *mj = NULL;
	size_t ml = 0;
	char mdigest[SKIFF_IMAGE_DIGEST_MAX];
	struct skiff_image *img = xcalloc(1, sizeof(*img));
	char sub[SKIFF_IMAGE_ERR_MAX] = "";
	int r = get_manifest(&p, ref, &mj, &ml, mdigest);
	if (r >= 0) {
		r = skiff_image_parse_manifest(mj, ml, img, sub, sizeof(sub));
		if (r == -EMEDIUMTYPE) {
			struct skiff_image_descriptor d = { 0 };
			r = skiff_image_parse_index(mj, ml, &d, sub, sizeof(sub));
			free(d.media_type);
			free(TAKE_PTR(mj));
			if (r >= 0)
				r = get_manifest(&p, d.digest, &mj, &ml, mdigest);
			if (r >= 0)
				r = skiff_image_parse_manifest(mj, ml, img, sub, sizeof(sub));
			if (r == -EMEDIUMTYPE)
				snprintf(sub, sizeof(sub), "an index inside an index");
		}
		if (r < 0 && sub[0])
			fail(&p, r, "manifest of %s at %s: %s", p.shown, p.host, sub);
	}
	if (r >= 0) {
		for (size_t i = 0; i < img->n_layers; i++)
			p.total += img->layers[i].size;
		r = get_blob(&p, &img->config_desc, "config");
		p.done = 0;
	}
	for (size_t i = 0; r >= 0 && i < img->n_layers; i++)
		r = get_blob(&p, &img->layers[i], "layer");
	if (r >= 0 && !skiff_image_digest_valid(ref)) {
		_cleanup_free_ char *tagged = xasprintf("%s:%s", full, ref);
		r = skiff_image_tag(s, tagged, mdigest);
		if (r < 0)
			fail(&p, r, "image %s: cannot tag it in the store: %s", name, strerror(-r));
	}
	if (r >= 0 && ret_digest)
		snprintf(ret_digest, SKIFF_IMAGE_DIGEST_MAX, "%s", mdigest);
	skiff_image_free(img);
	curl_easy_cleanup(p.curl);
	free(p.host);
	free(p.repo);
	free(p.shown);
	free(p.base);
	free(p.token);
	free(p.challenge);
	return r;
}
