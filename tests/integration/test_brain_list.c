/* test_brain_list.c — LIST paging against a real skiff-orchestrator holding
 * 30,000 pods (one deployment, no nodes: the pods stay Pending):
 *  - every page fits under the frame cap, pages come in name order and all
 *    carry the first page's revision; together they hold every pod once;
 *  - skiffctl's ctl_list() gathers all 30,000 through its paging code (by the
 *    byte cap alone and with a count limit);
 *  - a paged list is consistent: a pod deleted after page 1 still shows on
 *    page 2 (its revision), an invalid token is refused.
 * No root needed; everything runs on 127.0.0.1 in a temporary directory. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "ctl.h"
#include "log.h"
#include "pki.h"
#include "rpc.h"
#include "util.h"

#define NPODS 30000

#include "brain_harness.h"

/* One LIST page; returns 0 or the error (message in *ret_err). */
static int list_page(struct skiff_rpc_sync *s, uint32_t limit, const char *cont,
		     Skiff__ListResponse **ret, size_t *ret_bytes, char **ret_err)
{
	Skiff__ListRequest req = SKIFF__LIST_REQUEST__INIT;
	req.kind = (char *)"pod";
	req.limit = limit;
	if (cont)
		req.continue_ = (char *)cont;
	Skiff__Frame *f = NULL;
	int r = skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_LIST, &req.base, 30000, &f, ret_err);
	if (r < 0)
		return r;
	*ret_bytes = f->payload.len;
	*ret = skiff__list_response__unpack(NULL, f->payload.len, f->payload.data);
	skiff__frame__free_unpacked(f, NULL);
	ck_assert_ptr_nonnull(*ret);
	return 0;
}

static const char *item_name(const Skiff__Object *o)
{
	ck_assert_ptr_nonnull(o->pod);
	return o->pod->metadata->name;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

TEST(test_list_pages)
{
	start_brain("3s");
	struct skiff_rpc_sync *s = connect_admin(10000);
	harness_apply(s, "big", NPODS, 60000);

	/* wait until the controller created them all */
	int64_t deadline = skiff_mono_ms() + 60000;
	for (;;) {
		Skiff__ListResponse *p = NULL;
		size_t bytes;
		_cleanup_free_ char *err = NULL;
		uint64_t n = 0;
		if (list_page(s, 1, NULL, &p, &bytes, &err) == 0) {
			n = p->n_items + p->remaining;
			skiff__list_response__free_unpacked(p, NULL);
		} else {
			/* the brain's loop may be busy longer than the keepalive
			 * while it creates the pods (sanitizer builds) */
			skiff_rpc_sync_free(s);
			s = connect_admin(10000);
		}
		if (n == NPODS)
			break;
		if (skiff_mono_ms() > deadline) {
			dump_log();
			ck_abort_msg("only %" PRIu64 " pods after 60 s", n);
		}
		usleep(200000);
	}

	/* raw pages, byte cap only */
	char **names = xcalloc(NPODS + 1, sizeof(*names));
	size_t n = 0, pages = 0;
	uint64_t revision = 0;
	_cleanup_free_ char *cont = NULL;
	do {
		Skiff__ListResponse *p = NULL;
		size_t bytes;
		_cleanup_free_ char *err = NULL;
		ck_assert_msg(list_page(s, 0, cont, &p, &bytes, &err) == 0, "page %zu: %s", pages,
			      err);
		ck_assert_uint_le(bytes, SKIFF_RPC_MAX_FRAME);
		ck_assert_uint_gt(p->n_items, 0);
		if (pages == 0)
			revision = p->revision;
		ck_assert_uint_eq(p->revision, revision);
		for (size_t i = 0; i < p->n_items; i++) {
			ck_assert_uint_lt(n, NPODS);
			names[n] = xstrdup(item_name(p->items[i]));
			if (n > 0)
				ck_assert_msg(strcmp(names[n - 1], names[n]) < 0, "%s before %s",
					      names[n - 1], names[n]);
			n++;
		}
		free(cont);
		cont = *p->continue_ ? xstrdup(p->continue_) : NULL;
		if (cont)
			ck_assert_uint_eq(p->remaining, NPODS - n);
		skiff__list_response__free_unpacked(p, NULL);
		pages++;
	} while (cont);
	ck_assert_uint_eq(n, NPODS);
	ck_assert_uint_ge(pages, 2); /* 30,000 pods do not fit in one frame */

	/* skiffctl's paging: by the byte cap, then with a count limit */
	_cleanup_free_ char *conf = xasprintf("%s/data/admin.conf", tmpdir);
	ctl_config_flag = conf;
	for (int round = 0; round < 2; round++) {
		ctl_list_page_limit = round == 0 ? 0 : 7000;
		Skiff__ListResponse *all = NULL;
		ck_assert_int_eq(
		    ctl_list(skiff_kind_lookup("pod"), NULL, 0, NULL, NULL, NULL, &all), 0);
		ck_assert_uint_eq(all->n_items, NPODS);
		char **got = xcalloc(all->n_items, sizeof(*got));
		for (size_t i = 0; i < all->n_items; i++)
			got[i] = (char *)item_name(all->items[i]);
		qsort(got, all->n_items, sizeof(*got), cmp_str);
		for (size_t i = 0; i < NPODS; i++)
			ck_assert_str_eq(got[i], names[i]);
		free(got);
		skiff__list_response__free_unpacked(all, NULL);
	}
	ctl_disconnect();

	/* consistency: page 1, delete a pod of page 2, page 2 still shows it */
	Skiff__ListResponse *p1 = NULL, *p2 = NULL;
	size_t bytes;
	_cleanup_free_ char *err = NULL;
	ck_assert_int_eq(list_page(s, 100, NULL, &p1, &bytes, &err), 0);
	ck_assert_uint_eq(p1->n_items, 100);
	ck_assert_str_eq(item_name(p1->items[99]), names[99]);
	Skiff__DeleteRequest del = SKIFF__DELETE_REQUEST__INIT;
	del.kind = (char *)"pod";
	del.name = names[150];
	ck_assert_int_eq(
	    skiff_rpc_sync_call(s, SKIFF__MSG_TYPE__MSG_DELETE, &del.base, 5000, NULL, &err), 0);
	ck_assert_int_eq(list_page(s, 100, p1->continue_, &p2, &bytes, &err), 0);
	ck_assert_uint_eq(p2->revision, p1->revision);
	ck_assert_uint_eq(p2->n_items, 100);
	ck_assert_str_eq(item_name(p2->items[0]), names[100]);
	ck_assert_str_eq(item_name(p2->items[50]), names[150]);
	skiff__list_response__free_unpacked(p2, NULL);
	/* a fresh list no longer has it */
	ck_assert_int_eq(list_page(s, 200, NULL, &p2, &bytes, &err), 0);
	ck_assert_uint_gt(p2->revision, p1->revision);
	for (size_t i = 0; i < p2->n_items; i++)
		ck_assert_str_ne(item_name(p2->items[i]), names[150]);
	skiff__list_response__free_unpacked(p2, NULL);
	skiff__list_response__free_unpacked(p1, NULL);

	/* a bad token is refused with a sentence */
	Skiff__ListResponse *bad = NULL;
	free(err);
	err = NULL;
	ck_assert_int_eq(list_page(s, 0, "12.zz", &bad, &bytes, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "continue token"));

	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	skiff_rpc_sync_free(s);
}
END_TEST

TEST_SUITE(.setup = harness_setup, .teardown = harness_teardown, .timeout = 240);
