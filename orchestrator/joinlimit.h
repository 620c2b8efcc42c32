/* joinlimit.h — JOIN failures rate limited per address.
 *
 * A JOIN needs no certificate, only the token, so anyone who can reach the
 * brain may try one. Each failure (a bad token, a refused name, a bad CSR)
 * makes the next attempt from that address wait longer: none after the
 * first, then 250 ms doubling up to 30 s; a success, or 10 minutes without
 * a failure, forgets it. Attempts from one address are checked one at a
 * time; while one waits its reply is delayed (the loop is never blocked),
 * and past 8 waiting the connection of the next one is closed. Failures are
 * logged once per address per minute with a count, not once per attempt.
 *
 * The core (submit, pop_due, done) takes the time as an argument so that
 * tests drive it with a fake clock; joinlimit_gate() ties it to the brain's
 * loop and RPC calls.
 */
#ifndef SKIFF_JOINLIMIT_H
#define SKIFF_JOINLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "rpc.h"

struct joinlimit_config {
	int64_t base_delay_ms;	 /* the wait after the second failure (250) */
	int64_t max_delay_ms;	 /* the longest wait (30000) */
	int max_waiting;	 /* attempts held per address (8) */
	int64_t forget_ms;	 /* failures forgotten after this quiet time (600000) */
	int64_t log_interval_ms; /* one log line per address per interval (60000) */
	int max_addrs;		 /* addresses tracked (4096) */
};

struct joinlimit;

/* cfg may be NULL (the defaults); 0 fields take the default. */
struct joinlimit *joinlimit_new(const struct joinlimit_config *cfg);
/* Frees held attempts too (without answering them: their connections are
 * being closed). Accepts NULL. */
void joinlimit_free(struct joinlimit *jl);

/* ---- the core ------------------------------------------------------------ */

#define JOINLIMIT_GO   0 /* check the attempt now, then call joinlimit_done() */
#define JOINLIMIT_HELD 1 /* held: joinlimit_pop_due() hands it out later */

/* An attempt (item, the caller's) from addr ("ip:port"; the port is not
 * part of the address) at now: JOINLIMIT_GO, JOINLIMIT_HELD, or -EBUSY when
 * too many wait already (refuse it). */
int joinlimit_submit(struct joinlimit *jl, const char *addr, void *item, int64_t now);
/* A held attempt whose time has come (its address is then busy until
 * joinlimit_done()), or NULL. */
void *joinlimit_pop_due(struct joinlimit *jl, int64_t now);
/* Milliseconds until joinlimit_pop_due() has something, or -1 for never
 * (nothing held, or only behind attempts still being checked). */
int64_t joinlimit_next_due(struct joinlimit *jl, int64_t now);
/* A held attempt went away (its connection closed). */
void joinlimit_drop(struct joinlimit *jl, void *item);

struct joinlimit_report {
	bool log;	  /* log this failure now */
	unsigned count;	  /* failures from the address since the last line, this one included */
	int64_t delay_ms; /* the next attempt from the address waits this long */
};
/* The attempt from addr that went is over: err 0 (joined), -ECANCELED (its
 * connection went away: neither), or a failure. ret (may be NULL) says
 * whether and what to log. */
void joinlimit_done(struct joinlimit *jl, const char *addr, int err, int64_t now,
		    struct joinlimit_report *ret);
/* Failures counted but not logged, once their interval is over: fn runs
 * for each such address with the count. */
void joinlimit_flush(struct joinlimit *jl, int64_t now,
		     void (*fn)(const char *addr, unsigned count, void *userdata), void *userdata);

/* ---- on the brain's loop --------------------------------------------------- */

/* Held attempts are run again through run (the RPC handler, which calls
 * joinlimit_gate() again and is let through), with its userdata. */
void joinlimit_attach(struct joinlimit *jl, struct event_base *base, skiff_rpc_handler_fn run,
		      void *userdata);
/* At the top of the JOIN handler: true when the limiter took the call (held
 * for later, or its connection closed), false to handle it now. */
bool joinlimit_gate(struct joinlimit *jl, struct skiff_rpc_call *call, const Skiff__Frame *req);

#endif
