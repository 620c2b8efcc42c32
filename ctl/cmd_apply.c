/* cmd_apply.c — `skiffctl apply -f` and `skiffctl delete`: manifests are
 * parsed whole first, and nothing is sent while any file has an error. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "ctl.h"
#include "util.h"
#include "validate.h"

/* skiffctl cannot see which images name an entrypoint (the brain's store,
 * registries): a container without command is left for the brain to judge. */
static bool image_may_have_entrypoint(const char *image, void *userdata)
{
	(void)image;
	(void)userdata;
	return true;
}

/* Load every -f path; print all warnings and errors. Returns 0 or CTL_FAIL. */
static int load_all(char **files, size_t n_files, struct skiff_manifest *m)
{
	static const struct skiff_validate_opts opts = { .image_has_entrypoint =
							     image_may_have_entrypoint };
	long errors = 0;
	m->validate_opts = &opts;
	for (size_t i = 0; i < n_files; i++)
		errors += skiff_manifest_load_path(m, files[i]);
	for (size_t i = 0; i < m->n_warnings; i++)
		fprintf(stderr, "warning: %s\n", m->warnings[i]);
	if (errors > 0) {
		for (size_t i = 0; i < m->n_errors; i++)
			fprintf(stderr, "%s\n", m->errors[i]);
		return ctl_error("%ld error%s in the manifests; nothing was sent", errors,
				 errors == 1 ? "" : "s");
	}
	if (m->n == 0)
		return ctl_error("no objects in the manifests");
	return 0;
}

static const struct option file_options[] = { { "filename", required_argument, NULL, 'f' },
					      { "dry-run", no_argument, NULL, 'D' },
					      { "ignore-not-found", no_argument, NULL, 'I' },
					      { "output", required_argument, NULL, 'o' },
					      {} };

/* The namespace of a manifest's object: its metadata.namespace wins, -n
 * fills it in when it has none, and the two in conflict are an error (as
 * kubectl says it). Cluster-scoped kinds keep theirs (the brain drops it). */
static int resolve_namespace(struct skiff_manifest_object *mo, const char **ret_ns)
{
	ProtobufCMessage *msg = skiff_object_member(mo->object, NULL);
	Skiff__ObjectMeta *m = msg ? ((Skiff__Pod *)msg)->metadata : NULL;
	*ret_ns = "";
	if (!m || !mo->kind->namespaced)
		return 0;
	if (!m->namespace_ || !*m->namespace_)
		skiff_set_str(&m->namespace_, ctl_namespace());
	else if (ctl_namespace_flag && !streq(m->namespace_, ctl_namespace_flag))
		return ctl_error("%s: the namespace from the provided object \"%s\" does not match "
				 "the namespace \"%s\". You must pass '--namespace=%s' to perform "
				 "this operation.",
				 mo->source, m->namespace_, ctl_namespace_flag, m->namespace_);
	*ret_ns = m->namespace_;
	return 0;
}

int cmd_apply(int argc, char **argv)
{
	_cleanup_free_ char **files = NULL;
	size_t n_files = 0;
	bool dry_run = false;
	enum skiff_output fmt = SKIFF_OUTPUT_TABLE;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:", file_options, NULL)) != -1) {
		switch (c) {
		case 'f':
			files = xrealloc(files, (n_files + 1) * sizeof(*files));
			files[n_files++] = optarg;
			break;
		case 'D':
			dry_run = true;
			break;
		case 'o':
			if (skiff_output_parse(optarg, &fmt) < 0 || fmt == SKIFF_OUTPUT_WIDE)
				return ctl_usage_error("apply", "-o takes name, json or yaml");
			break;
		case 'I':
		default:
			return ctl_usage_error("apply", "unknown option");
		}
	}
	if (optind < argc)
		return ctl_usage_error("apply", "unexpected argument \"%s\"", argv[optind]);
	if (n_files == 0)
		return ctl_usage_error("apply", "-f FILE|DIR|- is required");

	struct skiff_manifest m = { 0 };
	int r = load_all(files, n_files, &m);
	for (size_t i = 0; r == 0 && i < m.n; i++) {
		const char *ns;
		r = resolve_namespace(&m.objects[i], &ns);
	}
	if (r == 0)
		r = ctl_connect();
	int ret = r;
	for (size_t i = 0; r == 0 && i < m.n; i++) {
		Skiff__ApplyRequest req = SKIFF__APPLY_REQUEST__INIT;
		Skiff__ApplyResponse *resp = NULL;
		_cleanup_free_ char *errmsg = NULL;
		req.object = m.objects[i].object;
		req.dry_run = dry_run;
		const char *name = skiff_object_name(m.objects[i].object);
		int k = ctl_call_quiet(SKIFF__MSG_TYPE__MSG_APPLY, &req.base,
				       &skiff__apply_response__descriptor,
				       (ProtobufCMessage **)&resp, &errmsg);
		if (k < 0) {
			if (k == -ENOTCONN || k == -ECONNRESET)
				r = CTL_FAIL; /* the brain went away: stop */
			ret = ctl_error("%s/%s (%s): %s", m.objects[i].kind->name, name,
					m.objects[i].source, errmsg ? errmsg : strerror(-k));
			continue;
		}
		if (fmt == SKIFF_OUTPUT_JSON || fmt == SKIFF_OUTPUT_YAML) {
			Skiff__Object *o = resp->object ? resp->object : m.objects[i].object;
			if (fmt == SKIFF_OUTPUT_YAML && m.n > 1)
				fputs("---\n", stdout); /* one stream of documents */
			skiff_output_objects(stdout, m.objects[i].kind, &o, 1, fmt, true, true, 0);
		} else if (fmt == SKIFF_OUTPUT_NAME) {
			printf("%s/%s\n", m.objects[i].kind->name, name);
		} else {
			printf("%s/%s %s%s\n", m.objects[i].kind->name, name,
			       *resp->result ? resp->result : "applied",
			       dry_run ? " (dry run)" : "");
		}
		skiff__apply_response__free_unpacked(resp, NULL);
	}
	fflush(stdout);
	skiff_manifest_clear(&m);
	return ret;
}

int cmd_create(int argc, char **argv)
{
	if (argc != 3 || !skiff_kind_lookup(argv[1]) ||
	    !streq(skiff_kind_lookup(argv[1])->name, "namespace"))
		return ctl_usage_error("create", "expected: create namespace NAME");
	const char *name = argv[2];
	if (!skiff_name_valid(name, 63))
		return ctl_usage_error("create",
				       "\"%s\" is not a valid namespace name (lower-case letters, "
				       "digits and '-', at most 63 characters)",
				       name);
	Skiff__Namespace ns = SKIFF__NAMESPACE__INIT;
	Skiff__ObjectMeta m = SKIFF__OBJECT_META__INIT;
	Skiff__Object obj = SKIFF__OBJECT__INIT;
	m.name = (char *)name;
	ns.metadata = &m;
	obj.namespace_ = &ns;
	Skiff__ApplyRequest req = SKIFF__APPLY_REQUEST__INIT;
	req.object = &obj;
	req.create_only = true; /* as kubectl create: an existing one is an error */
	Skiff__ApplyResponse *resp = NULL;
	if (ctl_connect() ||
	    ctl_call(SKIFF__MSG_TYPE__MSG_APPLY, &req.base, &skiff__apply_response__descriptor,
		     (ProtobufCMessage **)&resp))
		return CTL_FAIL;
	printf("namespace/%s created\n", name);
	skiff__apply_response__free_unpacked(resp, NULL);
	return CTL_OK;
}

int cmd_delete(int argc, char **argv)
{
	_cleanup_free_ char **files = NULL;
	size_t n_files = 0;
	bool ignore = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:", file_options, NULL)) != -1) {
		switch (c) {
		case 'f':
			files = xrealloc(files, (n_files + 1) * sizeof(*files));
			files[n_files++] = optarg;
			break;
		case 'I':
			ignore = true;
			break;
		default:
			return ctl_usage_error("delete", "unknown option");
		}
	}

	/* what to delete: (kind, name) pairs */
	struct target {
		const struct skiff_kind *kind;
		const char *name;
		char *ns; /* -f: the manifest's (NULL: -n's) */
	} *targets = NULL;
	size_t n = 0;
	struct skiff_manifest m = { 0 };
	int ret = 0;

	if (n_files > 0) {
		if (optind < argc) {
			ret = ctl_usage_error("delete", "give -f FILE or KIND NAME, not both");
			goto out;
		}
		ret = load_all(files, n_files, &m);
		if (ret)
			goto out;
		targets = xcalloc(m.n, sizeof(*targets));
		for (size_t i = 0; i < m.n; i++) {
			const char *ns;
			ret = resolve_namespace(&m.objects[i], &ns);
			if (ret)
				goto out;
			targets[n++] =
			    (struct target){ m.objects[i].kind,
					     skiff_object_name(m.objects[i].object), (char *)ns };
		}
	} else {
		const struct skiff_kind *kind;
		const char *name;
		int k = ctl_kind_name("delete", argc - optind, argv + optind, &kind, &name);
		if (k < 0) {
			ret = CTL_USAGE;
			goto out;
		}
		/* "delete pod a b c" */
		int rest = argc - optind - k;
		targets = xcalloc((size_t)rest + 1, sizeof(*targets));
		targets[n++] = (struct target){ kind, name, NULL };
		for (int i = 0; i < rest; i++)
			targets[n++] = (struct target){ kind, argv[optind + k + i], NULL };
	}

	ret = ctl_connect();
	for (size_t i = 0; ret != CTL_USAGE && i < n && ctl_connect() == 0; i++) {
		Skiff__DeleteRequest req = SKIFF__DELETE_REQUEST__INIT;
		_cleanup_free_ char *errmsg = NULL;
		req.kind = (char *)targets[i].kind->name;
		req.name = (char *)targets[i].name;
		req.namespace_ =
		    targets[i].ns ? targets[i].ns : (char *)ctl_ns_for(targets[i].kind);
		int k = ctl_call_quiet(SKIFF__MSG_TYPE__MSG_DELETE, &req.base, NULL, NULL, &errmsg);
		if (k == -ENOENT && ignore)
			continue;
		if (k < 0) {
			ret = ctl_error("%s/%s: %s", targets[i].kind->name, targets[i].name,
					errmsg ? errmsg : strerror(-k));
			continue;
		}
		printf("%s/%s deleted\n", targets[i].kind->name, targets[i].name);
	}
out:
	fflush(stdout);
	free(targets);
	skiff_manifest_clear(&m);
	return ret;
}
