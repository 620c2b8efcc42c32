/* cmd_pki.c — skiffctl token, certificate and config: join tokens (create
 * with a TTL and a use count, list, delete), join requests waiting for an
 * admin (list, approve, deny), issued certificates (list, revoke), and
 * further admin or read-only (view) configs. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl.h"
#include "pki.h"
#include "quantity.h"
#include "util.h"

static char *when(int64_t ms)
{
	if (!ms)
		return xstrdup("<never>");
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

static int list_kind(const char *kind, Skiff__ListResponse **ret)
{
	Skiff__ListRequest lr = SKIFF__LIST_REQUEST__INIT;
	lr.kind = (char *)kind;
	if (ctl_connect() != 0)
		return CTL_FAIL;
	return ctl_call(SKIFF__MSG_TYPE__MSG_LIST, &lr.base, &skiff__list_response__descriptor,
			(ProtobufCMessage **)ret);
}

/* ---- token ------------------------------------------------------------------ */

static int token_list(void)
{
	Skiff__ListResponse *l = NULL;
	if (list_kind("token", &l) != 0)
		return CTL_FAIL;
	static const char *const h[] = { "ID", "EXPIRES", "USES", "USED", "DESCRIPTION" };
	struct skiff_table *t = skiff_table_new(5, h);
	for (size_t i = 0; i < l->n_items; i++) {
		const Skiff__JoinToken *k = l->items[i]->join_token;
		if (!k)
			continue;
		_cleanup_free_ char *exp = when(k->expires_ms);
		char uses[16], used[16];
		snprintf(uses, sizeof(uses), "%d", k->usage_limit);
		snprintf(used, sizeof(used), "%d", k->used);
		const char *row[] = { k->metadata->name, exp, k->usage_limit ? uses : "unlimited",
				      used, k->description };
		skiff_table_add(t, row);
	}
	if (l->n_items)
		skiff_table_print(t, stdout, true);
	else
		printf("No join tokens (make one with skiffctl token create).\n");
	skiff_table_free(t);
	skiff__list_response__free_unpacked(l, NULL);
	return CTL_OK;
}

static int token_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ttl", required_argument, NULL, 't' },
		{ "uses", required_argument, NULL, 'u' },
		{ "description", required_argument, NULL, 'd' },
		{ 0 },
	};
	Skiff__TokenRequest tr = SKIFF__TOKEN_REQUEST__INIT;
	tr.action = (char *)"create";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int64_t v;
		switch (c) {
		case 't':
			if (streq(optarg, "0") || streq(optarg, "never"))
				tr.ttl_ms = -1;
			else if (skiff_parse_duration(optarg, &v) < 0 || v <= 0)
				return ctl_usage_error("token",
						       "--ttl: '%s' is not a duration "
						       "(e.g. 1h, 30m; 0: never expires)",
						       optarg);
			else
				tr.ttl_ms = v;
			break;
		case 'u':
			if (skiff_parse_int64(optarg, &v) < 0 || v < 0 || v > 1000000)
				return ctl_usage_error("token",
						       "--uses: '%s' is not a number of joins "
						       "(0: no limit)",
						       optarg);
			tr.uses = (int32_t)v;
			break;
		case 'd':
			tr.description = optarg;
			break;
		default:
			return ctl_usage_error("token", "unknown option");
		}
	}
	if (optind < argc)
		return ctl_usage_error("token", "unexpected argument '%s'", argv[optind]);
	Skiff__TokenResponse *resp = NULL;
	if (ctl_connect() != 0 ||
	    ctl_call(SKIFF__MSG_TYPE__MSG_TOKEN, &tr.base, &skiff__token_response__descriptor,
		     (ProtobufCMessage **)&resp) != 0)
		return CTL_FAIL;
	printf("%s\n", resp->token);
	skiff__token_response__free_unpacked(resp, NULL);
	return CTL_OK;
}

int cmd_token(int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage_error("token", "needs create, list or delete");
	const char *what = argv[1];
	if (streq(what, "create"))
		return token_create(argc - 1, argv + 1);
	if (streq(what, "list") && argc == 2)
		return token_list();
	if (streq(what, "delete") && argc >= 3) {
		for (int i = 2; i < argc; i++) {
			Skiff__TokenRequest tr = SKIFF__TOKEN_REQUEST__INIT;
			tr.action = (char *)"delete";
			tr.id = argv[i];
			if (ctl_connect() != 0 ||
			    ctl_call(SKIFF__MSG_TYPE__MSG_TOKEN, &tr.base, NULL, NULL) != 0)
				return CTL_FAIL;
			printf("token %s deleted\n", argv[i]);
		}
		return CTL_OK;
	}
	return ctl_usage_error("token", "expected create [--ttl D] [--uses N], list or delete ID");
}

/* ---- certificate ---------------------------------------------------------- */

static int requests_list(void)
{
	Skiff__ListResponse *l = NULL;
	if (list_kind("certificaterequest", &l) != 0)
		return CTL_FAIL;
	static const char *const h[] = { "NODE", "CONDITION", "REQUESTER", "TOKEN",
					 "KEY",	 "AGE",	      "REASON" };
	struct skiff_table *t = skiff_table_new(7, h);
	int64_t now = skiff_now_ms();
	for (size_t i = 0; i < l->n_items; i++) {
		const Skiff__CertificateRequest *q = l->items[i]->certificate_request;
		if (!q)
			continue;
		char age[32], key[20];
		skiff_format_age(now, q->requested_ms, age, sizeof(age));
		snprintf(key, sizeof(key), "%.16s", q->key_sha256);
		const char *row[] = { q->metadata->name, q->condition, q->requester,
				      q->token_id,	 key,	       age,
				      q->reason };
		skiff_table_add(t, row);
	}
	if (l->n_items)
		skiff_table_print(t, stdout, true);
	else
		printf("No join requests waiting.\n");
	skiff_table_free(t);
	skiff__list_response__free_unpacked(l, NULL);
	return CTL_OK;
}

static int issued_list(void)
{
	Skiff__ListResponse *l = NULL;
	if (list_kind("certificate", &l) != 0)
		return CTL_FAIL;
	static const char *const h[] = { "SERIAL",  "SUBJECT", "ROLE",
					 "EXPIRES", "REVOKED", "ISSUED FOR" };
	struct skiff_table *t = skiff_table_new(6, h);
	for (size_t i = 0; i < l->n_items; i++) {
		const Skiff__Certificate *c = l->items[i]->certificate;
		if (!c)
			continue;
		_cleanup_free_ char *exp = when(c->not_after_ms);
		_cleanup_free_ char *rev = c->revoked_ms ? when(c->revoked_ms) : xstrdup("-");
		const char *row[] = { c->metadata->name, c->subject, c->role, exp, rev,
				      c->issued_for };
		skiff_table_add(t, row);
	}
	skiff_table_print(t, stdout, true);
	skiff_table_free(t);
	skiff__list_response__free_unpacked(l, NULL);
	return CTL_OK;
}

int cmd_certificate(int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage_error("certificate", "needs list, approve, deny or revoke");
	const char *what = argv[1];
	if (streq(what, "list") && argc == 2)
		return requests_list();
	if (streq(what, "list") && argc == 3 && streq(argv[2], "--issued"))
		return issued_list();
	if ((streq(what, "approve") || streq(what, "deny") || streq(what, "revoke")) && argc >= 3) {
		for (int i = 2; i < argc; i++) {
			Skiff__CertificateAction a = SKIFF__CERTIFICATE_ACTION__INIT;
			a.action = (char *)what;
			a.name = argv[i];
			Skiff__CertificateActionResponse *resp = NULL;
			if (ctl_connect() != 0 ||
			    ctl_call(SKIFF__MSG_TYPE__MSG_CERTIFICATE, &a.base,
				     &skiff__certificate_action_response__descriptor,
				     (ProtobufCMessage **)&resp) != 0)
				return CTL_FAIL;
			if (resp->request)
				printf("join request of node %s %s\n", argv[i],
				       streq(what, "approve") ? "approved" : "denied");
			for (size_t k = 0; k < resp->n_revoked; k++)
				printf("certificate %s (%s '%s') revoked\n",
				       resp->revoked[k]->metadata->name, resp->revoked[k]->role,
				       resp->revoked[k]->subject);
			skiff__certificate_action_response__free_unpacked(resp, NULL);
		}
		return CTL_OK;
	}
	return ctl_usage_error("certificate", "expected list [--issued], approve NODE, deny NODE "
					      "or revoke SERIAL|NAME");
}

/* ---- config new-admin -------------------------------------------------------- */

int cmd_config(int argc, char **argv)
{
	if (argc < 3 || !streq(argv[1], "new-admin"))
		return ctl_usage_error("config", "expected new-admin NAME [--role view|admin] "
						 "[--output FILE]");
	static const struct option opts[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "output", required_argument, NULL, 'o' },
		{ 0 },
	};
	const char *role = SKIFF_ROLE_ADMIN, *out = NULL;
	int c;
	optind = 1;
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			role = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return ctl_usage_error("config", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return ctl_usage_error("config", "new-admin needs exactly one NAME");
	if (!streq(role, SKIFF_ROLE_ADMIN) && !streq(role, SKIFF_ROLE_VIEW))
		return ctl_usage_error("config", "--role: must be view or admin, got '%s'", role);
	const char *name = argv[optind];
	_cleanup_free_ char *looked = NULL, *path = ctl_config_find(&looked), *errmsg = NULL;
	struct skiff_client_config mine = { 0 };
	if (!path || skiff_client_config_read(path, &mine, &errmsg) < 0)
		return ctl_error("cannot read the cluster config (%s)", errmsg ? errmsg : looked);
	_cleanup_free_ char *key = NULL, *csr = NULL;
	if (skiff_pki_key_and_csr(name, &key, &csr) < 0) {
		skiff_client_config_clear(&mine);
		return ctl_usage_error("config", "NAME: '%s' is not a valid name", name);
	}
	Skiff__NewConfigRequest nc = SKIFF__NEW_CONFIG_REQUEST__INIT;
	nc.name = (char *)name;
	nc.role = (char *)role;
	nc.csr_pem.data = (uint8_t *)csr;
	nc.csr_pem.len = strlen(csr);
	Skiff__IssuedCertificate *ic = NULL;
	if (ctl_connect() != 0 ||
	    ctl_call(SKIFF__MSG_TYPE__MSG_NEW_CONFIG, &nc.base,
		     &skiff__issued_certificate__descriptor, (ProtobufCMessage **)&ic) != 0) {
		skiff_client_config_clear(&mine);
		return CTL_FAIL;
	}
	struct skiff_client_config cfg = {
		.server = mine.server,
		.ca_pem = xstrndup((char *)ic->ca_pem.data, ic->ca_pem.len),
		.cert_pem = xstrndup((char *)ic->cert_pem.data, ic->cert_pem.len),
		.key_pem = TAKE_PTR(key),
	};
	mine.server = NULL;
	skiff_client_config_clear(&mine);
	_cleanup_free_ char *serial = xstrdup(ic->serial), *exp = when(ic->not_after_ms);
	skiff__issued_certificate__free_unpacked(ic, NULL);
	int r;
	if (out) {
		r = skiff_client_config_write(out, &cfg);
		if (r < 0)
			r = ctl_error("cannot write %s: %s", out, strerror(-r));
		else
			fprintf(stderr,
				"wrote %s: %s config '%s' (certificate %s, valid until %s)\n", out,
				role, name, serial, exp);
	} else {
		_cleanup_free_ char *tmp = xstrdup("/tmp/skiffctl-config-XXXXXX");
		int fd = mkstemp(tmp);
		r = fd < 0 ? -errno : skiff_client_config_write(tmp, &cfg);
		if (fd >= 0)
			close(fd);
		_cleanup_free_ char *text = NULL;
		if (r >= 0)
			r = skiff_read_file(tmp, 1 << 20, &text, NULL);
		unlink(tmp);
		if (r < 0)
			r = ctl_error("cannot write the config: %s", strerror(-r));
		else
			fputs(text, stdout);
	}
	skiff_client_config_clear(&cfg);
	return r < 0 ? CTL_FAIL : CTL_OK;
}
