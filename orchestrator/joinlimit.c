/* joinlimit.c — JOIN failures rate limited per address (see joinlimit.h):
 * a record per address that failed (failures, when the next attempt may be
 * checked, the attempts held until then), and the glue that holds RPC calls
 * on the brain's loop and learns their outcome from a call observer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "joinlimit.h"
#include "log.h"
#include "map.h"
#include "util.h"

struct held {
	struct held *next;
	void *item;
};

struct addr_rec {
	char addr[64];
	unsigned failures; /* in a row */
	int64_t next_ms;   /* the next attempt is checked from then on */
	int64_t last_ms;   /* the last attempt or outcome */
	bool busy;	   /* an attempt is being checked */
	struct held *head, *tail;
	int nheld;
	unsigned unlogged; /* failures not logged yet */
	int64_t logged_ms; /* 0: never */
	char last_error[160];
};

struct gated; /* a held RPC call */

struct joinlimit {
	struct joinlimit_config cfg;
	struct skiff_map *addrs; /* address -> struct addr_rec */
	/* the glue */
	struct event_base *base;
	struct event *timer, *flush_timer;
	skiff_rpc_handler_fn run;
	void *run_userdata;
	struct skiff_rpc_call *releasing; /* the call being run again */
};

static void addr_of(const char *peer, char out[64])
{
	const char *colon = strrchr(peer, ':');
	size_t n = colon ? (size_t)(colon - peer) : strlen(peer);

	if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
		peer++;
		n -= 2;
	}
	if (n > 63)
		n = 63;
	memcpy(out, peer, n);
	out[n] = '\0';
}

struct joinlimit *joinlimit_new(const struct joinlimit_config *cfg)
{
	struct joinlimit *jl = xcalloc(1, sizeof(*jl));

	if (cfg)
		jl->cfg = *cfg;
	if (jl->cfg.base_delay_ms <= 0)
		jl->cfg.base_delay_ms = 250;
	if (jl->cfg.max_delay_ms <= 0)
		jl->cfg.max_delay_ms = 30000;
	if (jl->cfg.max_waiting <= 0)
		jl->cfg.max_waiting = 8;
	if (jl->cfg.forget_ms <= 0)
		jl->cfg.forget_ms = 600000;
	if (jl->cfg.log_interval_ms <= 0)
		jl->cfg.log_interval_ms = 60000;
	if (jl->cfg.max_addrs <= 0)
		jl->cfg.max_addrs = 4096;
	jl->addrs = skiff_map_new();
	return jl;
}

static void gated_free_all(struct joinlimit *jl);

/* Held items are the caller's (the glue frees its own first). */
static void rec_free(void *value)
{
	struct addr_rec *r = value;

	while (r->head) {
		struct held *h = r->head;
		r->head = h->next;
		free(h);
	}
	free(r);
}

void joinlimit_free(struct joinlimit *jl)
{
	if (!jl)
		return;
	if (jl->run)
		gated_free_all(jl);
	if (jl->timer)
		event_free(jl->timer);
	if (jl->flush_timer)
		event_free(jl->flush_timer);
	skiff_map_free(jl->addrs, rec_free);
	free(jl);
}

/* The wait after the n-th failure in a row: none after the first. */
static int64_t delay_after(const struct joinlimit *jl, unsigned n)
{
	int64_t d = jl->cfg.base_delay_ms;

	if (n <= 1)
		return 0;
	for (unsigned i = 2; i < n && d < jl->cfg.max_delay_ms; i++)
		d *= 2;
	return d < jl->cfg.max_delay_ms ? d : jl->cfg.max_delay_ms;
}

static bool rec_idle(const struct addr_rec *r)
{
	return !r->busy && !r->head;
}

/* Make room for one more address: forget the idle one seen longest ago. */
static bool make_room(struct joinlimit *jl)
{
	struct addr_rec *oldest = NULL;
	size_t i = 0;
	void *cursor = NULL, *value;
	const char *key;

	while (skiff_map_next(jl->addrs, &i, &cursor, &key, &value)) {
		struct addr_rec *r = value;
		if (rec_idle(r) && (!oldest || r->last_ms < oldest->last_ms))
			oldest = r;
	}
	if (!oldest)
		return false;
	free(skiff_map_remove(jl->addrs, oldest->addr));
	return true;
}

int joinlimit_submit(struct joinlimit *jl, const char *peer, void *item, int64_t now)
{
	char addr[64];
	struct addr_rec *r;

	addr_of(peer, addr);
	r = skiff_map_get(jl->addrs, addr);
	if (!r) {
		if ((int)skiff_map_size(jl->addrs) >= jl->cfg.max_addrs && !make_room(jl))
			return -EBUSY;
		r = xcalloc(1, sizeof(*r));
		snprintf(r->addr, sizeof(r->addr), "%s", addr);
		skiff_map_put(jl->addrs, addr, r);
	}
	if (rec_idle(r) && now - r->last_ms > jl->cfg.forget_ms) {
		r->failures = 0;
		r->next_ms = 0;
	}
	r->last_ms = now;
	if (rec_idle(r) && now >= r->next_ms) {
		r->busy = true;
		return JOINLIMIT_GO;
	}
	if (r->nheld >= jl->cfg.max_waiting) {
		r->unlogged++;
		return -EBUSY;
	}
	struct held *h = xcalloc(1, sizeof(*h));
	h->item = item;
	if (r->tail)
		r->tail->next = h;
	else
		r->head = h;
	r->tail = h;
	r->nheld++;
	return JOINLIMIT_HELD;
}

void *joinlimit_pop_due(struct joinlimit *jl, int64_t now)
{
	size_t i = 0;
	void *cursor = NULL, *value;
	const char *key;

	while (skiff_map_next(jl->addrs, &i, &cursor, &key, &value)) {
		struct addr_rec *r = value;
		if (r->busy || !r->head || now < r->next_ms)
			continue;
		struct held *h = r->head;
		void *item = h->item;
		r->head = h->next;
		if (!r->head)
			r->tail = NULL;
		r->nheld--;
		r->busy = true;
		r->last_ms = now;
		free(h);
		return item;
	}
	return NULL;
}

int64_t joinlimit_next_due(struct joinlimit *jl, int64_t now)
{
	int64_t best = -1;
	size_t i = 0;
	void *cursor = NULL, *value;
	const char *key;

	while (skiff_map_next(jl->addrs, &i, &cursor, &key, &value)) {
		struct addr_rec *r = value;
		if (r->busy || !r->head)
			continue;
		int64_t due = r->next_ms > now ? r->next_ms - now : 0;
		if (best < 0 || due < best)
			best = due;
	}
	return best;
}

void joinlimit_drop(struct joinlimit *jl, void *item)
{
	size_t i = 0;
	void *cursor = NULL, *value;
	const char *key;

	while (skiff_map_next(jl->addrs, &i, &cursor, &key, &value)) {
		struct addr_rec *r = value;
		for (struct held **p = &r->head, *prev = NULL; *p; prev = *p, p = &(*p)->next) {
			if ((*p)->item != item)
				continue;
			struct held *h = *p;
			*p = h->next;
			if (r->tail == h)
				r->tail = prev;
			r->nheld--;
			free(h);
			return;
		}
	}
}

void joinlimit_done(struct joinlimit *jl, const char *peer, int err, int64_t now,
		    struct joinlimit_report *ret)
{
	struct joinlimit_report rep = { 0 };
	char addr[64];
	struct addr_rec *r;

	addr_of(peer, addr);
	r = skiff_map_get(jl->addrs, addr);
	if (!r)
		goto out;
	r->busy = false;
	r->last_ms = now;
	if (err == -ECANCELED)
		goto out;
	if (err == 0) {
		r->failures = 0;
		r->next_ms = now;
		if (rec_idle(r) && r->unlogged == 0)
			free(skiff_map_remove(jl->addrs, addr));
		goto out;
	}
	r->failures++;
	rep.delay_ms = delay_after(jl, r->failures);
	r->next_ms = now + rep.delay_ms;
	r->unlogged++;
	if (!r->logged_ms || now - r->logged_ms >= jl->cfg.log_interval_ms) {
		rep.log = true;
		rep.count = r->unlogged;
		r->unlogged = 0;
		r->logged_ms = now;
	}
out:
	if (ret)
		*ret = rep;
}

void joinlimit_flush(struct joinlimit *jl, int64_t now,
		     void (*fn)(const char *addr, unsigned count, void *userdata), void *userdata)
{
	size_t i = 0;
	void *cursor = NULL, *value;
	const char *key;

	while (skiff_map_next(jl->addrs, &i, &cursor, &key, &value)) {
		struct addr_rec *r = value;
		if (!r->unlogged || now - r->logged_ms < jl->cfg.log_interval_ms)
			continue;
		fn(r->addr, r->unlogged, userdata);
		r->unlogged = 0;
		r->logged_ms = now;
	}
}

/* ---- on the brain's loop --------------------------------------------------- */

struct gated {
	struct joinlimit *jl;
	struct skiff_rpc_call *call;
	Skiff__Frame frame; /* the request, with its own copy of the payload */
	uint8_t *payload;
	char peer[64];
};

static void gated_free_all(struct joinlimit *jl)
{
	size_t i = 0;
	void *cursor = NULL, *value;
	const char *key;

	while (skiff_map_next(jl->addrs, &i, &cursor, &key, &value)) {
		for (struct held *h = ((struct addr_rec *)value)->head; h; h = h->next) {
			struct gated *g = h->item;
			skiff_rpc_call_set_cancel(g->call, NULL, NULL);
			free(g->payload);
			free(g);
			h->item = NULL;
		}
	}
}

static void arm(struct joinlimit *jl)
{
	int64_t ms = joinlimit_next_due(jl, skiff_mono_ms());

	if (ms < 0 || !jl->timer)
		return;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(jl->timer, &tv);
}

static void on_outcome(struct skiff_rpc_call *call, int err, const char *errmsg, void *userdata)
{
	struct joinlimit *jl = userdata;
	const struct skiff_rpc_peer *peer = skiff_rpc_call_peer(call);
	struct joinlimit_report rep;
	char addr[64];

	joinlimit_done(jl, peer->addr, err, skiff_mono_ms(), &rep);
	if (err < 0 && err != -ECANCELED) {
		addr_of(peer->addr, addr);
		struct addr_rec *r = skiff_map_get(jl->addrs, addr);
		if (r)
			snprintf(r->last_error, sizeof(r->last_error), "%s",
				 errmsg ? errmsg : strerror(-err));
		if (rep.log && rep.count <= 1)
			log_warn("join from %s refused: %s", peer->addr,
				 errmsg ? errmsg : strerror(-err));
		else if (rep.log)
			log_warn("join from %s refused %u times in the last %lld s (last: %s); the "
				 "next attempt from it waits %lld ms",
				 addr, rep.count, (long long)(jl->cfg.log_interval_ms / 1000),
				 errmsg ? errmsg : strerror(-err), (long long)rep.delay_ms);
	}
	arm(jl);
}

static void gated_cancel(struct skiff_rpc_call *call, void *userdata)
{
	struct gated *g = userdata;
	(void)call;
	joinlimit_drop(g->jl, g);
	free(g->payload);
	free(g);
}

static void release_cb(evutil_socket_t fd, short what, void *arg)
{
	struct joinlimit *jl = arg;
	struct gated *g;
	(void)fd;
	(void)what;

	while ((g = joinlimit_pop_due(jl, skiff_mono_ms()))) {
		skiff_rpc_call_set_cancel(g->call, NULL, NULL);
		jl->releasing = g->call;
		jl->run(g->call, &g->frame, jl->run_userdata);
		if (jl->releasing) {
			/* the handler did not come back to the gate */
			jl->releasing = NULL;
			joinlimit_done(jl, g->peer, -ECANCELED, skiff_mono_ms(), NULL);
		}
		free(g->payload);
		free(g);
	}
	arm(jl);
}

static void report_cb(const char *addr, unsigned count, void *userdata)
{
	struct joinlimit *jl = userdata;
	struct addr_rec *r = skiff_map_get(jl->addrs, addr);

	log_warn("join from %s refused %u more time(s) in the last %lld s (last: %s)", addr, count,
		 (long long)(jl->cfg.log_interval_ms / 1000),
		 r && r->last_error[0] ? r->last_error : "connection closed: too many waiting");
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct joinlimit *jl = arg;
	(void)fd;
	(void)what;
	joinlimit_flush(jl, skiff_mono_ms(), report_cb, jl);
}

void joinlimit_attach(struct joinlimit *jl, struct event_base *base, skiff_rpc_handler_fn run,
		      void *userdata)
{
	struct timeval every = { jl->cfg.log_interval_ms / 4000 + 1, 0 };

	jl->base = base;
	jl->run = run;
	jl->run_userdata = userdata;
	jl->timer = evtimer_new(base, release_cb, jl);
	jl->flush_timer = event_new(base, -1, EV_PERSIST, flush_cb, jl);
	event_add(jl->flush_timer, &every);
}

bool joinlimit_gate(struct joinlimit *jl, struct skiff_rpc_call *call, const Skiff__Frame *req)
{
	const struct skiff_rpc_peer *peer = skiff_rpc_call_peer(call);
	struct gated *g;
	int r;

	if (!jl)
		return false;
	if (jl->releasing == call) {
		jl->releasing = NULL;
		skiff_rpc_call_set_observer(call, on_outcome, jl);
		return false;
	}
	g = xcalloc(1, sizeof(*g));
	r = joinlimit_submit(jl, peer->addr, g, skiff_mono_ms());
	if (r == JOINLIMIT_GO) {
		free(g);
		skiff_rpc_call_set_observer(call, on_outcome, jl);
		return false;
	}
	if (r < 0) {
		free(g);
		log_debug("join from %s: too many attempts waiting; closing the connection",
			  peer->addr);
		skiff_rpc_conn_close(skiff_rpc_call_conn(call));
		return true;
	}
	g->jl = jl;
	g->call = call;
	snprintf(g->peer, sizeof(g->peer), "%s", peer->addr);
	g->frame = *req;
	g->payload = xmalloc(req->payload.len ? req->payload.len : 1);
	memcpy(g->payload, req->payload.data, req->payload.len);
	g->frame.payload.data = g->payload;
	g->frame.error = NULL;
	skiff_rpc_call_set_cancel(call, gated_cancel, g);
	arm(jl);
	return true;
}
