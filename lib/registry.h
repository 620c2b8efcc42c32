/* registry.h — pulling images from a registry over the OCI distribution API
 * (v2) into an image store (lib/image.h), with libcurl.
 *
 * A pull resolves the name's tag (or digest) to a manifest, asking for OCI
 * and Docker manifests and indexes; an index or manifest list is resolved to
 * its linux/amd64 manifest. The config and every layer the store lacks are
 * streamed into the store's verified blob writer (a blob whose bytes do not
 * hash to its digest is refused and never stored), following redirects (a
 * registry may send blobs to object storage). HTTPS is verified against the
 * configured CA (the cluster's, or a file) and the system's; plain HTTP is
 * used only for a registry configured insecure. A 401 with `WWW-Authenticate:
 * Bearer realm=…,service=…,scope=…` is answered by fetching a token from the
 * realm (anonymously, or with the configured user and password) and retrying.
 * A registry that stops sending for the configured time, or answers an
 * error, fails the pull with one line naming the image, the blob and the
 * registry.
 */
#ifndef SKIFF_REGISTRY_H
#define SKIFF_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image.h"

struct skiff_registry_opts {
	const char *ca_file; /* PEM file of CAs to trust (besides the system's) */
	const char *ca_pem;  /* or PEM text (the cluster CA) */
	/* "HOST[:PORT]" registries spoken to over plain HTTP, NULL-terminated */
	char *const *insecure;
	const char *username, *password; /* for the token endpoint (or Basic) */
	int timeout_s;			 /* no byte for this long: fail (0: 30) */
	/* progress: called as layer bytes arrive (may be NULL) */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	void *progress_arg;
};

/* Whether a name's first component names a registry host (Docker's rule: it
 * has a '.' or a ':', or is "localhost"). */
bool skiff_registry_name_has_host(const char *name);

/* Pull name ("host[:port]/repo[:tag|@sha256:…]") into the store and tag the
 * store's name for it. ret_digest (may be NULL) gets the manifest digest.
 * Errors: "ErrImagePull"-worthy -errno with a one-line message in err. */
int skiff_registry_pull(struct skiff_image_store *s, const char *name,
			const struct skiff_registry_opts *o,
			char ret_digest[SKIFF_IMAGE_DIGEST_MAX], char *err, size_t errlen);

/* Parse a WWW-Authenticate header's Bearer challenge (no I/O): realm,
 * service and scope (each malloc'd, NULL when absent). -EINVAL when the
 * header is not a Bearer challenge with a realm. */
int skiff_registry_parse_challenge(const char *header, char **ret_realm, char **ret_service,
				   char **ret_scope);

#endif
