/* caps.c — capabilities through libcap: Docker's default set without
 * CAP_NET_RAW (plus --cap-add), every other capability dropped from the
 * bounding, permitted, effective, inheritable and ambient sets.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/capability.h>

#include "runtime.h"

static const cap_value_t default_caps[] = {
	CAP_CHOWN,	CAP_DAC_OVERRIDE, CAP_FSETID,	   CAP_FOWNER,	CAP_MKNOD,
	CAP_SETGID,	CAP_SETUID,	  CAP_SETFCAP,	   CAP_SETPCAP, CAP_NET_BIND_SERVICE,
	CAP_SYS_CHROOT, CAP_KILL,	  CAP_AUDIT_WRITE,
};

int skiff_cap_parse(const char *name, int *ret_cap)
{
	cap_value_t v;
	char buf[64];

	if (!name || strlen(name) + 5 > sizeof(buf))
		return -EINVAL;
	if (strncasecmp(name, "CAP_", 4) != 0)
		snprintf(buf, sizeof(buf), "cap_%s", name);
	else
		snprintf(buf, sizeof(buf), "%s", name);
	for (char *p = buf; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	if (cap_from_name(buf, &v) < 0 || v < 0 || v >= 64)
		return -EINVAL;
	*ret_cap = v;
	return 0;
}

/* Runs in the container after fork, before exec: no logging, -errno only. */
int skiff_caps_apply(uint64_t add)
{
	uint64_t keep = add;
	cap_value_t list[64];
	int n = 0, r = 0;
	cap_t caps;

	for (size_t i = 0; i < sizeof(default_caps) / sizeof(default_caps[0]); i++)
		keep |= UINT64_C(1) << default_caps[i];
	for (cap_value_t c = 0; c <= CAP_LAST_CAP; c++) {
		if (keep & (UINT64_C(1) << c)) {
			list[n++] = c;
			continue;
		}
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	caps = cap_init(); /* all clear */
	if (!caps)
		return -ENOMEM;
	if (cap_set_flag(caps, CAP_PERMITTED, n, list, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, n, list, CAP_SET) < 0 || cap_set_proc(caps) < 0)
		r = -errno;
	cap_free(caps);
	return r;
}
