/* cleanup.h — scope-bound cleanup for memory, fds and files (systemd/crun style).
 *
 * Declare with an initial value, hand ownership on with TAKE_PTR()/TAKE_FD():
 *
 *	_cleanup_free_ char *buf = NULL;
 *	_cleanup_close_ int fd = -EBADF;
 */
#ifndef SKIFF_CLEANUP_H
#define SKIFF_CLEANUP_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

static inline void skiff_freep(void *p)
{
	free(*(void **)p);
}

static inline void skiff_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -EBADF;
}

static inline void skiff_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
	*f = NULL;
}

static inline void skiff_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
	*d = NULL;
}

#define _cleanup_(f)	   __attribute__((cleanup(f)))
#define _cleanup_free_	   _cleanup_(skiff_freep)
#define _cleanup_close_	   _cleanup_(skiff_closep)
#define _cleanup_fclose_   _cleanup_(skiff_fclosep)
#define _cleanup_closedir_ _cleanup_(skiff_closedirp)

/* Define a cleanup function for a type whose destructor accepts NULL. */
#define DEFINE_CLEANUP_FUNC(type, func)                                                            \
	static inline void func##p(type **p)                                                       \
	{                                                                                          \
		if (*p)                                                                            \
			func(*p);                                                                  \
		*p = NULL;                                                                         \
	}

/* Move a pointer out of a cleanup variable. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _tp_ = (p);                                                          \
		(p) = NULL;                                                                        \
		_tp_;                                                                              \
	})

/* Move an fd out of a cleanup variable. */
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _tfd_ = (fd);                                                                  \
		(fd) = -EBADF;                                                                     \
		_tfd_;                                                                             \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
