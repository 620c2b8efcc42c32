/* manifest.h — Kubernetes-shaped YAML manifests <-> Skiff's protobuf objects.
 *
 * One schema drives both directions: every field of the object model
 * (proto/skiff.proto) is written in camelCase as Kubernetes does, with a few
 * rules for the fields people write differently from how they are stored
 * (labels as maps, cpu/memory quantities, seconds or durations for *_ms).
 * Parsing reports every syntax error of a file as "file:line:col:
 * field.path: …", then runs each object through the brain's own rules
 * (validate.h: the same message, with the place added), and printing produces
 * documents that parse back to the same objects (skiffctl -o yaml|json).
 */
#ifndef SKIFF_MANIFEST_H
#define SKIFF_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "doc.h"
#include "skiff.pb-c.h"
#include "validate.h"

#define SKIFF_API_VERSION "skiff/v1"

/* The kinds of objects, with the names people type. */
struct skiff_kind {
	const char *name;   /* request kind: "deployment" */
	const char *title;  /* manifest kind: "Deployment" */
	const char *plural; /* "deployments" */
	const char *short_name;
	const ProtobufCMessageDescriptor *desc;
	bool applicable;	 /* may appear in manifests */
	const char *api_version; /* Kubernetes' apiVersion for the kind ("apps/v1");
				    SKIFF_API_VERSION is accepted for every kind */
	bool namespaced;	 /* its objects live in a namespace */
};

/* Whether objects of the kind named name ("pod") live in a namespace (false
 * for unknown names: cluster-scoped). */
bool skiff_kind_namespaced(const char *name);

/* "po", "pods", "Pod", "pod" … -> the kind; NULL when unknown. */
const struct skiff_kind *skiff_kind_lookup(const char *word);
const struct skiff_kind *skiff_kind_all(size_t *ret_n);
/* The member of obj that is set, and its kind (NULL when none). */
ProtobufCMessage *skiff_object_member(const Skiff__Object *obj, const struct skiff_kind **ret_kind);
/* A new Object (free with skiff__object__free_unpacked(o, NULL)) that owns msg. */
Skiff__Object *skiff_object_wrap(const struct skiff_kind *kind, ProtobufCMessage *msg);
/* The object's metadata (NULL when none; owned by obj). */
Skiff__ObjectMeta *skiff_object_meta(const Skiff__Object *obj);
/* The object's metadata.name ("" when none). */
const char *skiff_object_name(const Skiff__Object *obj);

struct skiff_manifest_object {
	const struct skiff_kind *kind;
	Skiff__Object *object;
	char *source; /* "file:line" of the document */
};

struct skiff_manifest {
	struct skiff_manifest_object *objects;
	size_t n;
	char **errors; /* "file:line:col: path: message" */
	size_t n_errors;
	/* Kubernetes fields accepted and ignored: "file:line:col: path is
	 * ignored by Skiff (why)" (docs/manifests.md lists them). */
	char **warnings;
	size_t n_warnings;
	size_t peak_allocated; /* the most the document trees held (tests) */
	/* Every object passes skiff_validate() (the brain's rules, which also
	 * fill the defaults) with these options (NULL: the defaults) ... */
	const struct skiff_validate_opts *validate_opts;
	/* ... unless set: objects as written, for a test to hand to the brain. */
	bool no_validate;
};

/* Parse one buffer of YAML/JSON documents; objects and errors are appended
 * to m. Returns the number of new errors (0 when all is well). */
int skiff_manifest_parse_buffer(struct skiff_manifest *m, const char *name, const char *buf,
				size_t len);
/* A file, a directory (its *.yaml, *.yml and *.json files, sorted, not
 * recursive) or "-" for stdin. Returns the number of new errors. */
int skiff_manifest_load_path(struct skiff_manifest *m, const char *path);
void skiff_manifest_clear(struct skiff_manifest *m);

/* The object as a manifest document tree: apiVersion, kind, metadata, spec,
 * status (caller frees with skiff_doc_free()). */
struct skiff_doc_node *skiff_object_to_doc(const Skiff__Object *obj);
/* Any message of the object model as a tree, with the same rules. */
struct skiff_doc_node *skiff_message_to_doc(const ProtobufCMessage *msg);

/* The Kubernetes fields Skiff knows of but does not implement: refused with
 * "PATH is not supported by Skiff", or accepted and ignored with a warning
 * (docs/manifests.md has the same list). */
struct skiff_k8s_field {
	const char *message; /* protobuf message the key would belong to */
	const char *key;     /* manifest key */
	bool ignored;	     /* false: refused */
	const char *value;   /* ignored only with this value (NULL: any value) */
	const char *why;
};
const struct skiff_k8s_field *skiff_k8s_fields(size_t *ret_n);

/* Edit distance (for "did you mean"). */
size_t skiff_edit_distance(const char *a, const char *b);

#endif
