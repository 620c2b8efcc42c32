/* validate.h — the one set of rules and defaults an object must pass before
 * the cluster stores it.
 *
 * The brain runs skiff_validate() on every APPLY and is the authority: the
 * agent runs what the brain accepted. skiffctl runs the same function on
 * what it parsed before sending, so a user sees the same message, with the
 * file:line:col of the field added. Messages are "field.path: what is wrong",
 * with paths in manifest spelling (spec.containers[0].resources.limits.memory).
 * The rules and limits are listed in docs/manifests.md.
 */
#ifndef SKIFF_VALIDATE_H
#define SKIFF_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "skiff.pb-c.h"

/* Caps on what one object may hold: every list a user fills is bounded, and
 * quantities stay far enough below INT64_MAX that sums over a node cannot
 * overflow. */
#define SKIFF_VALIDATE_MAX_CONTAINERS  32	       /* per pod */
#define SKIFF_VALIDATE_MAX_VOLUMES     64	       /* per pod, and mounts per container */
#define SKIFF_VALIDATE_MAX_ENV	       1024	       /* per container */
#define SKIFF_VALIDATE_MAX_ARGS	       1024	       /* command, and args, per container */
#define SKIFF_VALIDATE_MAX_PORTS       128	       /* per container, and per service */
#define SKIFF_VALIDATE_MAX_LABELS      256	       /* per object, selector or nodeSelector */
#define SKIFF_VALIDATE_MAX_ANNOTATIONS (256 * 1024)    /* bytes of keys and values */
#define SKIFF_VALIDATE_MAX_CPU_MILLI   (1024LL * 1000) /* 1024 cores */
#define SKIFF_VALIDATE_MAX_MEMORY      (1LL << 46)     /* 64Ti */
#define SKIFF_VALIDATE_MAX_REPLICAS    100000

struct skiff_validate_opts {
	/* Whether an image's own config names an entrypoint, so a container
	 * may leave out command. NULL: no image does (images are flat root
	 * filesystems today, with no config), so command is required. */
	bool (*image_has_entrypoint)(const char *image, void *userdata);
	void *userdata;
};

/* Check msg (a Pod, Deployment, Service or Node; an Event is refused) and
 * fill in the documented defaults in place. opts may be NULL. Returns 0, or
 * -EINVAL with *ret_errmsg (free()) set to "field.path: message". */
int skiff_validate(ProtobufCMessage *msg, const struct skiff_validate_opts *opts,
		   char **ret_errmsg);

/* DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most max chars. */
bool skiff_name_valid(const char *s, size_t max);
/* Kubernetes label key: [DNS-1123 subdomain (<= 253) "/"] name (<= 63 of
 * [A-Za-z0-9-_.], alphanumeric at both ends). */
bool skiff_label_key_valid(const char *s);
/* Kubernetes label value: empty, or like a key's name part. */
bool skiff_label_value_valid(const char *s);
bool skiff_utf8_valid(const char *s, size_t len);
/* A port name as Kubernetes' IANA_SVC_NAME: 1-15 of [a-z0-9-], a letter
 * among them, no '-' at the ends or twice in a row. */
bool skiff_port_name_valid(const char *s);
/* The number of c's port called name; 0 when it has none. */
uint32_t skiff_container_port_by_name(const Skiff__Container *c, const char *name);

/* Resolve an int-or-percent ("25%", "2") against total; round_up for
 * maxSurge, down for maxUnavailable. -EINVAL when malformed. */
int skiff_int_or_percent(const char *s, int total, bool round_up, int *ret);

/* Replace a string field (frees the old value unless it is protobuf-c's
 * shared empty string). */
void skiff_set_str(char **field, const char *value);
const char *skiff_kv_get(Skiff__KeyValue *const *kv, size_t n, const char *key);
/* Every selector pair is among labels (an empty selector matches nothing). */
bool skiff_selector_match(Skiff__KeyValue *const *sel, size_t nsel, Skiff__KeyValue *const *labels,
			  size_t nlabels);
/* A deep copy of n pairs (free each with skiff__key_value__free_unpacked). */
Skiff__KeyValue **skiff_kv_copy(Skiff__KeyValue *const *src, size_t n);
/* "restart_policy" -> "restartPolicy" into out (len bytes). */
void skiff_camel_case(const char *name, char *out, size_t len);

#endif
