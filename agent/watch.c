/* watch.c — the agent's one inotify service: one inotify fd on the event
 * loop, shared by the log followers (logs.c: a container's log growing or
 * rotated) and the exit-record watcher (pods.c: an old shim's state file
 * renamed into place). Several watches on one directory share the kernel's
 * watch descriptor: their masks are added up (IN_MASK_ADD) and each watch
 * gets only the events of its own mask; the descriptor is removed with its
 * last watch. A watch removed while events are being delivered (from a
 * callback) is only marked, and freed once the delivery is over.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "util.h"

struct agent_watch {
	struct agent_watch *next;
	int wd; /* -1: the kernel dropped it (directory gone) */
	uint32_t mask;
	watch_fn fn;
	void *arg;
	bool dead;
};

static bool wd_shared(struct agent *a, const struct agent_watch *w)
{
	for (struct agent_watch *o = a->watches; o; o = o->next)
		if (o != w && !o->dead && o->wd == w->wd)
			return true;
	return false;
}

static void sweep(struct agent *a)
{
	for (struct agent_watch **pp = &a->watches; *pp;) {
		struct agent_watch *w = *pp;
		if (!w->dead) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		free(w);
	}
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	(void)what;
	a->watch_delivering++;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (char *e = buf; e < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)e;
			e += sizeof(*ev) + ev->len;
			for (struct agent_watch *w = a->watches; w; w = w->next) {
				if (w->dead || w->wd != ev->wd)
					continue;
				if (ev->mask & IN_IGNORED) {
					w->wd = -1; /* the number may be handed out again */
					continue;
				}
				if (ev->mask & w->mask)
					w->fn(w->arg, ev->mask, ev->len ? ev->name : "");
			}
		}
	}
	if (--a->watch_delivering == 0)
		sweep(a);
}

struct agent_watch *watch_add(struct agent *a, const char *dir, uint32_t mask, watch_fn fn,
			      void *arg)
{
	if (a->inotify_fd < 0) {
		int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (fd < 0)
			return NULL;
		a->inotify_fd = fd;
		a->ev_inotify = event_new(a->base, fd, EV_READ | EV_PERSIST, on_inotify, a);
		event_add(a->ev_inotify, NULL);
	}
	int wd = inotify_add_watch(a->inotify_fd, dir, mask | IN_MASK_ADD);
	if (wd < 0) {
		log_debug("inotify: cannot watch %s: %m", dir);
		return NULL;
	}
	struct agent_watch *w = xcalloc(1, sizeof(*w));
	w->wd = wd;
	w->mask = mask;
	w->fn = fn;
	w->arg = arg;
	w->next = a->watches;
	a->watches = w;
	return w;
}

void watch_remove(struct agent *a, struct agent_watch *w)
{
	if (!w || w->dead)
		return;
	if (w->wd >= 0 && !wd_shared(a, w))
		inotify_rm_watch(a->inotify_fd, w->wd);
	w->dead = true;
	if (!a->watch_delivering)
		sweep(a);
}
