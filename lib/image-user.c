/* image-user.c — an image config's User ("name", "uid", "name:group",
 * "uid:gid") resolved to numbers with the image's own /etc/passwd and
 * /etc/group, read from its unpacked layers (never the host's), as Docker
 * and the kubelet do.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "image.h"
#include "util.h"

#define ID_FILE_MAX (4u << 20)

static bool parse_id(const char *s, size_t len, uint32_t *ret)
{
	if (len == 0 || len > 10)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > 0xfffffffeu)
		return false;
	*ret = (uint32_t)v;
	return true;
}

/* Find the line of db ("name:x:id:..." per line) whose name (field 0) or id
 * (field 2) is key; write its id and, for passwd, its gid (field 3). */
static bool db_find(const char *db, const char *key, size_t keylen, bool by_id, uint32_t *ret_id,
		    uint32_t *ret_gid)
{
	for (const char *line = db; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t ll = nl ? (size_t)(nl - line) : strlen(line);
		const char *f[5] = { line };
		size_t nf = 1;
		for (size_t i = 0; i < ll && nf < 5; i++)
			if (line[i] == ':')
				f[nf++] = line + i + 1;
		if (nf >= 3) {
			size_t l0 = (size_t)(f[1] - f[0] - 1);
			const char *e2 = memchr(f[2], ':', (size_t)(line + ll - f[2]));
			size_t l2 = e2 ? (size_t)(e2 - f[2]) : (size_t)(line + ll - f[2]);
			uint32_t id, gid = 0;
			bool match = by_id ? (l2 == keylen && memcmp(f[2], key, keylen) == 0)
					   : (l0 == keylen && memcmp(f[0], key, keylen) == 0);
			if (match && parse_id(f[2], l2, &id)) {
				if (nf >= 4) {
					const char *e3 =
					    memchr(f[3], ':', (size_t)(line + ll - f[3]));
					size_t l3 =
					    e3 ? (size_t)(e3 - f[3]) : (size_t)(line + ll - f[3]);
					if (!parse_id(f[3], l3, &gid))
						gid = 0;
				}
				*ret_id = id;
				if (ret_gid)
					*ret_gid = gid;
				return true;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

int skiff_image_user_lookup(const char *user, const char *passwd, const char *group,
			    uint32_t *ret_uid, uint32_t *ret_gid, char *err, size_t errlen)
{
	if (!user || !*user) {
		*ret_uid = 0;
		*ret_gid = 0;
		return 0;
	}
	const char *colon = strchr(user, ':');
	size_t ul = colon ? (size_t)(colon - user) : strlen(user);
	const char *g = colon ? colon + 1 : NULL;
	uint32_t uid, gid = 0, pw_gid = 0;
	if (ul == 0 || (g && !*g) || (g && strchr(g, ':'))) {
		snprintf(err, errlen, "user '%s': expected NAME, UID, NAME:GROUP or UID:GID", user);
		return -EINVAL;
	}
	if (parse_id(user, ul, &uid)) {
		/* a uid need not be in passwd; its primary group is when it is */
		uint32_t u2;
		if (db_find(passwd, user, ul, true, &u2, &pw_gid))
			gid = pw_gid;
	} else if (db_find(passwd, user, ul, false, &uid, &pw_gid)) {
		gid = pw_gid;
	} else {
		snprintf(err, errlen, "user '%.*s' not found in the image's /etc/passwd", (int)ul,
			 user);
		return -ENOENT;
	}
	if (g && !parse_id(g, strlen(g), &gid) &&
	    !db_find(group, g, strlen(g), false, &gid, NULL)) {
		snprintf(err, errlen, "group '%s' not found in the image's /etc/group", g);
		return -ENOENT;
	}
	*ret_uid = uid;
	*ret_gid = gid;
	return 0;
}

/* Read etc/NAME from the topmost layer that has it (nothing, when a layer
 * whites it out). Paths resolve inside each layer (RESOLVE_IN_ROOT), so a
 * symlink in the image cannot reach the host's files. */
static int read_layered(char *const *layers, size_t n, const char *name, char **ret)
{
	_cleanup_free_ char *rel = xasprintf("etc/%s", name);
	for (size_t i = n; i-- > 0;) {
		_cleanup_close_ int root = open(layers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			return -errno;
		struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
					.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
		struct stat st;
		/* a whiteout (0:0 character device) hides lower layers' file */
		if (fstatat(root, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode)) {
			*ret = xstrdup("");
			return 0;
		}
		_cleanup_close_ int fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
		if (fd < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			return -errno;
		}
		if (fstat(fd, &st) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > ID_FILE_MAX)
			return -EINVAL;
		char *buf = xmalloc((size_t)st.st_size + 1);
		size_t got = 0;
		while (got < (size_t)st.st_size) {
			ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		buf[got] = '\0';
		*ret = buf;
		return 0;
	}
	*ret = xstrdup("");
	return 0;
}

int skiff_image_user_resolve(char *const *layers, size_t n_layers, const char *user,
			     uint32_t *ret_uid, uint32_t *ret_gid, char *err, size_t errlen)
{
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	int r = read_layered(layers, n_layers, "passwd", &passwd);
	if (r >= 0)
		r = read_layered(layers, n_layers, "group", &group);
	if (r < 0) {
		snprintf(err, errlen,
			 "user '%s': cannot read the image's /etc/passwd or /etc/group: %s", user,
			 strerror(-r));
		return r;
	}
	return skiff_image_user_lookup(user, passwd, group, ret_uid, ret_gid, err, errlen);
}
