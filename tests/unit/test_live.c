/* SPDX-License-Identifier: Apache-2.0
 * The live hub: fan-out to matching subscribers only, the empty fast path,
 * refused events (full subscriber queues) marking the subscription
 * overflowed, unsubscribe stopping delivery, concurrent publishers and
 * subscribers, and the session registry's revocation by token and user.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "live/hub.h"

typedef struct sink {
  atomic_int n;
  int cap; /* refuse once n reaches cap (0 = never) */
  char last[64];
} sink;

static int on_ev(void *user, const live_event *ev) {
  sink *s = user;
  if (s->cap && atomic_load(&s->n) >= s->cap) return 1;
  size_t l = ev->json_len < sizeof s->last - 1 ? ev->json_len : sizeof s->last - 1;
  memcpy(s->last, ev->json, l);
  s->last[l] = 0;
  atomic_fetch_add(&s->n, 1);
  return 0;
}

static live_event ev(live_kind k, const char *db, const char *dev, const char *json) {
  live_event e = {k, db, dev, 1, json, strlen(json)};
  return e;
}

static void test_live_fanout_to_matching_subscribers(void **state) {
  (void)state;
  live_hub *h;
  assert_int_equal(live_hub_new(&h), 0);
  sink a = {0}, b = {0}, c = {0}, d = {0};
  live_sub *sa, *sb, *sc, *sd;
  assert_int_equal(live_subscribe(h, LIVE_TELEMETRY, "db1", "m1", on_ev, &a, &sa), 0);
  assert_int_equal(live_subscribe(h, LIVE_TELEMETRY, "db1", "m1", on_ev, &b, &sb), 0);
  assert_int_equal(live_subscribe(h, LIVE_TELEMETRY, "db2", "m1", on_ev, &c, &sc), 0);
  assert_int_equal(live_subscribe(h, LIVE_STATE, "db1", "m1", on_ev, &d, &sd), 0);
  live_event e = ev(LIVE_TELEMETRY, "db1", "m1", "{\"t\":1}");
  assert_int_equal(live_publish(h, &e), 2);
  assert_int_equal(a.n, 1);
  assert_int_equal(b.n, 1);
  assert_int_equal(c.n, 0);
  assert_int_equal(d.n, 0);
  assert_string_equal(a.last, "{\"t\":1}");
  e = ev(LIVE_TELEMETRY, "db1", "m2", "{}");
  assert_int_equal(live_publish(h, &e), 0);
  live_unsubscribe(h, sa);
  live_unsubscribe(h, sb);
  live_unsubscribe(h, sc);
  live_unsubscribe(h, sd);
  live_hub_free(h);
}

static void test_live_wants_only_subscribed_databases(void **state) {
  (void)state;
  live_hub *h;
  assert_int_equal(live_hub_new(&h), 0);
  assert_false(live_hub_wants(h, LIVE_TELEMETRY, "db1"));
  assert_false(live_hub_wants(NULL, LIVE_TELEMETRY, "db1"));
  sink a = {0};
  live_sub *s;
  assert_int_equal(live_subscribe(h, LIVE_TELEMETRY, "db1", "m1", on_ev, &a, &s), 0);
  assert_true(live_hub_wants(h, LIVE_TELEMETRY, "db1"));
  assert_false(live_hub_wants(h, LIVE_TELEMETRY, "db2"));
  assert_false(live_hub_wants(h, LIVE_RPC, "db1"));
  live_unsubscribe(h, s);
  assert_false(live_hub_wants(h, LIVE_TELEMETRY, "db1"));
  live_hub_free(h);
}

static void test_live_subscribe_rejects_bad_input(void **state) {
  (void)state;
  live_hub *h;
  live_sub *s = NULL;
  sink a = {0};
  assert_int_equal(live_hub_new(&h), 0);
  assert_int_equal(live_subscribe(h, 0, "db", "m", on_ev, &a, &s), LOOM_EINVAL);
  assert_int_equal(live_subscribe(h, LIVE_TELEMETRY, "", "m", on_ev, &a, &s), LOOM_EINVAL);
  assert_int_equal(live_subscribe(h, LIVE_TELEMETRY, "db", NULL, on_ev, &a, &s), LOOM_EINVAL);
  assert_int_equal(live_subscribe(h, LIVE_TELEMETRY, "db", "m", NULL, &a, &s), LOOM_EINVAL);
  assert_null(s);
  live_hub_free(h);
}

static void test_live_full_queue_marks_overflow(void **state) {
  (void)state;
  live_hub *h;
  assert_int_equal(live_hub_new(&h), 0);
  sink slow = {.cap = 2}, fast = {0};
  live_sub *ss, *sf;
  assert_int_equal(live_subscribe(h, LIVE_TELEMETRY, "db", "m", on_ev, &slow, &ss), 0);
  assert_int_equal(live_subscribe(h, LIVE_TELEMETRY, "db", "m", on_ev, &fast, &sf), 0);
  live_event e = ev(LIVE_TELEMETRY, "db", "m", "{}");
  for (int i = 0; i < 5; i++) live_publish(h, &e);
  assert_int_equal(slow.n, 2);
  assert_int_equal(fast.n, 5);
  assert_true(live_sub_overflowed(ss));
  assert_false(live_sub_overflowed(sf));
  assert_int_equal(live_hub_dropped(h), 1); /* refused once, then skipped */
  live_unsubscribe(h, ss);
  live_unsubscribe(h, sf);
  live_hub_free(h);
}

static void test_live_unsubscribe_stops_delivery(void **state) {
  (void)state;
  live_hub *h;
  assert_int_equal(live_hub_new(&h), 0);
  sink a = {0};
  live_sub *s;
  assert_int_equal(live_subscribe(h, LIVE_RPC, "t", "d", on_ev, &a, &s), 0);
  live_event e = ev(LIVE_RPC, "t", "d", "{}");
  live_publish(h, &e);
  live_unsubscribe(h, s);
  live_unsubscribe(h, NULL);
  assert_int_equal(live_publish(h, &e), 0);
  assert_int_equal(a.n, 1);
  live_hub_free(h);
}

typedef struct conc {
  live_hub *h;
  atomic_int stop;
  atomic_long published;
} conc;

static void *publisher(void *arg) {
  conc *c = arg;
  live_event e = ev(LIVE_TELEMETRY, "db", "m", "{\"v\":1}");
  while (!atomic_load(&c->stop)) {
    live_publish(c->h, &e);
    atomic_fetch_add(&c->published, 1);
  }
  return NULL;
}

static void test_live_concurrent_publish_and_subscribe(void **state) {
  (void)state;
  conc c = {0};
  assert_int_equal(live_hub_new(&c.h), 0);
  sink steady = {0};
  live_sub *st;
  assert_int_equal(live_subscribe(c.h, LIVE_TELEMETRY, "db", "m", on_ev, &steady, &st), 0);
  pthread_t th[3];
  for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&th[i], NULL, publisher, &c), 0);
  for (int i = 0; i < 300; i++) {
    sink tmp = {0};
    live_sub *s;
    assert_int_equal(live_subscribe(c.h, LIVE_TELEMETRY, "db", "m", on_ev, &tmp, &s), 0);
    live_unsubscribe(c.h, s); /* tmp is never touched after this returns */
    memset(&tmp, 0x55, sizeof tmp);
  }
  atomic_store(&c.stop, 1);
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  assert_int_equal((long)atomic_load(&steady.n), atomic_load(&c.published));
  live_unsubscribe(c.h, st);
  live_hub_free(c.h);
}

typedef struct kicked {
  int n, code;
  const char *reason;
} kicked;

static void on_kick(void *user, int code, const char *reason) {
  kicked *k = user;
  k->n++;
  k->code = code;
  k->reason = reason;
}

static void test_live_sessions_revoke_by_token_and_user(void **state) {
  (void)state;
  live_hub *h;
  assert_int_equal(live_hub_new(&h), 0);
  kicked k1 = {0}, k2 = {0}, k3 = {0};
  live_session *s1, *s2, *s3;
  assert_int_equal(live_session_add(h, "tokA", "userA", on_kick, &k1, &s1), 0);
  assert_int_equal(live_session_add(h, "tokB", "userA", on_kick, &k2, &s2), 0);
  assert_int_equal(live_session_add(h, "", "userB", on_kick, &k3, &s3), 0);
  assert_int_equal(live_session_count(h), 3);
  assert_int_equal(live_session_revoke_token(h, "tokA", "token revoked"), 1);
  assert_int_equal(k1.n, 1);
  assert_int_equal(k1.code, 1008);
  assert_string_equal(k1.reason, "token revoked");
  assert_int_equal(k2.n, 0);
  assert_int_equal(live_session_revoke_token(h, "", "x"), 0); /* the admin token has no id */
  assert_int_equal(live_session_revoke_user(h, "userA", "user disabled"), 2);
  assert_int_equal(k2.n, 1);
  assert_int_equal(k3.n, 0);
  live_session_remove(h, s1);
  live_session_remove(h, s2);
  assert_int_equal(live_session_revoke_user(h, "userA", "again"), 0);
  live_session_remove(h, s3);
  assert_int_equal(live_session_count(h), 0);
  assert_int_equal(live_session_revoke_user(NULL, "userA", "x"), 0);
  live_hub_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_live_fanout_to_matching_subscribers),
      cmocka_unit_test(test_live_wants_only_subscribed_databases),
      cmocka_unit_test(test_live_subscribe_rejects_bad_input),
      cmocka_unit_test(test_live_full_queue_marks_overflow),
      cmocka_unit_test(test_live_unsubscribe_stops_delivery),
      cmocka_unit_test(test_live_concurrent_publish_and_subscribe),
      cmocka_unit_test(test_live_sessions_revoke_by_token_and_user),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
