/* SPDX-License-Identifier: Apache-2.0
 * Tests for the broker's platform hooks (mqtt/broker.h): authentication
 * (refusal codes per level, asynchronous completion from another thread,
 * revocation with mqtt_broker_kick), topic mapping both ways (map_in
 * rewrite and refusal, map_out strip and filter), PENDING publishes
 * acknowledged in arrival order whatever order done() comes in, the
 * connect / disconnect / principal_free calls, on_unsubscribe and
 * on_resume (the subscriptions of a resumed session), the tick hook run
 * again after the delay it asks for and once with final set at the stop.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "mqtt/broker.h"
#include "mqtt_client_util.h"

#define MAXP 16

typedef struct hx {
  mqtt_broker *b;
  int port;
  pthread_mutex_t mu;
  /* behaviour */
  bool async_auth;
  bool pending;
  /* observations */
  atomic_int n_connect, n_disconnect, n_principal_free, n_publish, n_unsub, n_resume;
  atomic_int n_tick, n_tick_final;
  atomic_int tick_wait_ms; /* what the tick hook returns */
  char unsubs[256];  /* filters given to on_unsubscribe, ';'-terminated */
  char resumed[256]; /* last on_resume: "filter:qos;" each, under mu */
  char resume_id[64];
  char last_user[64];
  char last_pass[64];
  /* pending publishes */
  mqtt_ack_done_fn done[MAXP];
  void *done_arg[MAXP];
  int n_pending;
  /* async auth */
  mqtt_auth_done_fn adone;
  void *adone_arg;
} hx;

static void *auth_thread(void *arg) {
  hx *h = arg;
  usleep(100 * 1000);
  mqtt_auth_result r = {.reason = 0, .principal = strdup("async"), .key = "cred-1"};
  h->adone(h->adone_arg, &r);
  return NULL;
}

static void h_auth(void *ud, const mqtt_auth_req *req, mqtt_auth_done_fn done, void *arg) {
  hx *h = ud;
  pthread_mutex_lock(&h->mu);
  snprintf(h->last_user, sizeof(h->last_user), "%s", req->username ? req->username : "");
  snprintf(h->last_pass, sizeof(h->last_pass), "%.*s", (int)req->password_len,
           req->password ? (const char *)req->password : "");
  pthread_mutex_unlock(&h->mu);
  if (req->username && strcmp(req->username, "bad") == 0) {
    mqtt_auth_result r = {.reason = MQTT_RC_BAD_USER_PASS};
    done(arg, &r);
    return;
  }
  if (h->async_auth) {
    h->adone = done;
    h->adone_arg = arg;
    pthread_t t;
    pthread_create(&t, NULL, auth_thread, h);
    pthread_detach(t);
    return;
  }
  mqtt_auth_result r = {.reason = 0, .principal = strdup("p"), .key = "cred-1"};
  done(arg, &r);
}

/* client topic t -> "tn/" t; "deny/..." refused */
static int h_map_in(void *ud, void *principal, bool is_filter, const char *t, size_t n,
                    loom_buf *out) {
  (void)ud;
  (void)principal;
  (void)is_filter;
  if (n >= 5 && memcmp(t, "deny/", 5) == 0) return MQTT_RC_NOT_AUTHORIZED;
  loom_buf_append(out, "tn/", 3);
  loom_buf_append(out, t, n);
  return 0;
}

static int h_map_out(void *ud, void *principal, const char *t, size_t n, const char **out,
                     size_t *out_n) {
  (void)ud;
  (void)principal;
  if (n < 3 || memcmp(t, "tn/", 3) != 0) return LOOM_ENOTFOUND;
  *out = t + 3;
  *out_n = n - 3;
  return 0;
}

static int h_on_publish(void *ud, void *principal, const mqtt_pub_view *m, mqtt_ack_done_fn done,
                        void *arg) {
  hx *h = ud;
  (void)principal;
  (void)m;
  atomic_fetch_add(&h->n_publish, 1);
  if (!h->pending || m->qos == 0) return MQTT_HOOK_ROUTE;
  pthread_mutex_lock(&h->mu);
  h->done[h->n_pending] = done;
  h->done_arg[h->n_pending] = arg;
  h->n_pending++;
  pthread_mutex_unlock(&h->mu);
  return MQTT_HOOK_ROUTE | MQTT_HOOK_PENDING;
}

static void h_on_connect(void *ud, void *principal, const char *id) {
  (void)principal;
  (void)id;
  atomic_fetch_add(&((hx *)ud)->n_connect, 1);
}

static void h_on_disconnect(void *ud, void *principal, const char *id) {
  (void)principal;
  (void)id;
  atomic_fetch_add(&((hx *)ud)->n_disconnect, 1);
}

static void h_on_unsubscribe(void *ud, void *principal, const char *f, size_t n) {
  hx *h = ud;
  assert_non_null(principal);
  pthread_mutex_lock(&h->mu);
  size_t l = strlen(h->unsubs);
  snprintf(h->unsubs + l, sizeof(h->unsubs) - l, "%.*s;", (int)n, f);
  pthread_mutex_unlock(&h->mu);
  atomic_fetch_add(&h->n_unsub, 1);
}

static void h_on_resume(void *ud, void *principal, const char *id, const mqtt_sub_view *subs,
                        size_t n) {
  hx *h = ud;
  assert_non_null(principal);
  pthread_mutex_lock(&h->mu);
  h->resumed[0] = 0;
  snprintf(h->resume_id, sizeof(h->resume_id), "%s", id);
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(h->resumed);
    snprintf(h->resumed + l, sizeof(h->resumed) - l, "%.*s:%u;", (int)subs[i].len,
             subs[i].filter, subs[i].qos);
  }
  pthread_mutex_unlock(&h->mu);
  atomic_fetch_add(&h->n_resume, 1);
}

static void h_principal_free(void *ud, void *principal) {
  atomic_fetch_add(&((hx *)ud)->n_principal_free, 1);
  free(principal);
}

static int h_tick(void *ud, bool final) {
  hx *h = ud;
  atomic_fetch_add(final ? &h->n_tick_final : &h->n_tick, 1);
  return atomic_load(&h->tick_wait_ms);
}

static int setup_opts(void **state, bool async_auth, bool pending) {
  hx *h = calloc(1, sizeof(*h));
  pthread_mutex_init(&h->mu, NULL);
  atomic_store(&h->tick_wait_ms, -1);
  h->async_auth = async_auth;
  h->pending = pending;
  mqtt_hooks hooks = {.ud = h,
                      .authenticate = h_auth,
                      .map_in = h_map_in,
                      .map_out = h_map_out,
                      .on_publish = h_on_publish,
                      .on_connect = h_on_connect,
                      .on_disconnect = h_on_disconnect,
                      .on_unsubscribe = h_on_unsubscribe,
                      .on_resume = h_on_resume,
                      .tick = h_tick,
                      .principal_free = h_principal_free};
  mqtt_broker_cfg cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.listen = "127.0.0.1:0";
  cfg.hooks = &hooks;
  if (mqtt_broker_start(&cfg, &h->b, NULL, 0) != 0) return -1;
  h->port = mqtt_broker_port(h->b);
  *state = h;
  return 0;
}

static int setup(void **state) { return setup_opts(state, false, false); }
static int setup_async(void **state) { return setup_opts(state, true, false); }
static int setup_pending(void **state) { return setup_opts(state, false, true); }

static int teardown(void **state) {
  hx *h = *state;
  mqtt_broker_stop(h->b);
  pthread_mutex_destroy(&h->mu);
  free(h);
  return 0;
}

static int connect_user(tc *c, int port, uint8_t level, const char *id, const char *user,
                        const char *pass) {
  if (tc_open(c, port, level)) return -2;
  mqtt_packet w;
  memset(&w, 0, sizeof(w));
  w.has_username = true;
  w.username.p = (const uint8_t *)user;
  w.username.len = strlen(user);
  w.has_password = true;
  w.password.p = (const uint8_t *)pass;
  w.password.len = strlen(pass);
  return tc_connect_ex(c, id, true, 60, NULL, 0, &w);
}

static void test_auth_refused_v311(void **state) {
  hx *h = *state;
  tc c;
  assert_int_equal(connect_user(&c, h->port, MQTT_LEVEL_311, "c", "bad", "x"), 4);
  assert_true(tc_wait_closed(&c, 2000));
  tc_close(&c);
}

static void test_auth_refused_v5(void **state) {
  hx *h = *state;
  tc c;
  assert_int_equal(connect_user(&c, h->port, MQTT_LEVEL_5, "c", "bad", "x"),
                   MQTT_RC_BAD_USER_PASS);
  tc_close(&c);
}

static void test_auth_sees_credentials(void **state) {
  hx *h = *state;
  tc c;
  assert_int_equal(connect_user(&c, h->port, MQTT_LEVEL_311, "c", "dev", "secret"), 0);
  pthread_mutex_lock(&h->mu);
  assert_string_equal(h->last_user, "dev");
  assert_string_equal(h->last_pass, "secret");
  pthread_mutex_unlock(&h->mu);
  tc_close(&c);
}

static void test_auth_async_then_kick(void **state) {
  hx *h = *state;
  tc c;
  assert_int_equal(connect_user(&c, h->port, MQTT_LEVEL_5, "c", "dev", "secret"), 0);
  /* a packet sent right after CONNECT (before CONNACK) is handled after auth */
  assert_int_equal(tc_ack(&c, MQTT_PINGREQ, 0), 0);
  assert_int_equal(tc_expect(&c, MQTT_PINGRESP, 3000), 0);
  assert_int_equal(atomic_load(&h->n_connect), 1);
  assert_int_equal(mqtt_broker_kick(h->b, "cred-1"), 0);
  assert_int_equal(tc_expect(&c, MQTT_DISCONNECT, 3000), 0);
  assert_int_equal(c.pk.reason, MQTT_RC_NOT_AUTHORIZED);
  assert_true(tc_wait_closed(&c, 2000));
  usleep(100 * 1000);
  assert_int_equal(atomic_load(&h->n_disconnect), 1);
  assert_int_equal(atomic_load(&h->n_principal_free), 1);
  tc_close(&c);
}

static void test_auth_async_client_gone(void **state) {
  hx *h = *state;
  tc c;
  assert_int_equal(tc_open(&c, h->port, MQTT_LEVEL_311), 0);
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_CONNECT;
  pk.clean_start = true;
  pk.client_id.p = (const uint8_t *)"gone";
  pk.client_id.len = 4;
  assert_int_equal(tc_send(&c, &pk), 0);
  tc_close(&c); /* before the auth result arrives */
  usleep(300 * 1000);
  /* the late principal was freed, no connection was made */
  assert_int_equal(atomic_load(&h->n_principal_free), 1);
  assert_int_equal(atomic_load(&h->n_connect), 0);
}

static void test_map_in_and_out(void **state) {
  hx *h = *state;
  tc s, p;
  assert_int_equal(connect_user(&s, h->port, MQTT_LEVEL_5, "s", "u", "p"), 0);
  assert_int_equal(tc_subscribe(&s, "a/#", 1), 1);
  assert_int_equal(connect_user(&p, h->port, MQTT_LEVEL_5, "p", "u", "p"), 0);
  assert_int_equal(tc_publish(&p, "a/b", "x", 0, false), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_topic_is(&s, "a/b")); /* mapped in to tn/a/b, back out to a/b */
  /* a server publish in the broker's space reaches the mapped subscription */
  assert_int_equal(mqtt_broker_publish(h->b, "tn/a/c", "srv", 3, 0, false), 0);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_topic_is(&s, "a/c"));
  tc_close(&s);
  tc_close(&p);
}

static void test_map_in_refusal(void **state) {
  hx *h = *state;
  tc c;
  assert_int_equal(connect_user(&c, h->port, MQTT_LEVEL_5, "c", "u", "p"), 0);
  assert_int_equal(tc_subscribe(&c, "deny/#", 0), MQTT_RC_NOT_AUTHORIZED);
  assert_int_equal(tc_publish(&c, "deny/x", "x", 1, false), 0);
  assert_int_equal(tc_expect(&c, MQTT_PUBACK, 3000), 0);
  assert_int_equal(c.pk.reason, MQTT_RC_NOT_AUTHORIZED);
  tc_close(&c);
  assert_int_equal(connect_user(&c, h->port, MQTT_LEVEL_311, "c3", "u", "p"), 0);
  assert_int_equal(tc_subscribe(&c, "deny/#", 0), 0x80);
  tc_close(&c);
}

static void test_pending_acks_in_order(void **state) {
  hx *h = *state;
  tc c;
  assert_int_equal(connect_user(&c, h->port, MQTT_LEVEL_5, "c", "u", "p"), 0);
  assert_int_equal(tc_publish_ex(&c, "t", "1", 1, false, 11, NULL, 0), 0);
  assert_int_equal(tc_publish_ex(&c, "t", "2", 2, false, 12, NULL, 0), 0);
  assert_int_equal(tc_publish_ex(&c, "t", "3", 1, false, 13, NULL, 0), 0);
  for (int i = 0; i < 100; i++) {
    pthread_mutex_lock(&h->mu);
    int n = h->n_pending;
    pthread_mutex_unlock(&h->mu);
    if (n == 3) break;
    usleep(10 * 1000);
  }
  assert_int_equal(h->n_pending, 3);
  assert_int_equal(tc_recv(&c, 200), -1); /* nothing acknowledged yet */
  /* done() in reverse order, from this thread; the last one refuses */
  h->done[2](h->done_arg[2], MQTT_RC_QUOTA_EXCEEDED, "full");
  h->done[1](h->done_arg[1], 0, NULL);
  assert_int_equal(tc_recv(&c, 200), -1); /* still waiting for the first */
  h->done[0](h->done_arg[0], 0, NULL);
  assert_int_equal(tc_recv(&c, 3000), 0);
  assert_int_equal(c.pk.type, MQTT_PUBACK);
  assert_int_equal(c.pk.packet_id, 11);
  assert_int_equal(tc_recv(&c, 3000), 0);
  assert_int_equal(c.pk.type, MQTT_PUBREC);
  assert_int_equal(c.pk.packet_id, 12);
  assert_int_equal(tc_recv(&c, 3000), 0);
  assert_int_equal(c.pk.type, MQTT_PUBACK);
  assert_int_equal(c.pk.packet_id, 13);
  assert_int_equal(c.pk.reason, MQTT_RC_QUOTA_EXCEEDED);
  tc_close(&c);
}

static int wait_pending(hx *h, int n) {
  for (int i = 0; i < 200; i++) {
    pthread_mutex_lock(&h->mu);
    int k = h->n_pending;
    pthread_mutex_unlock(&h->mu);
    if (k >= n) return k;
    usleep(10 * 1000);
  }
  return h->n_pending;
}

static void test_reason_string_and_problem_info(void **state) {
  hx *h = *state;
  tc c, q;
  mqtt_prop p;
  /* default: the refusal carries its Reason String */
  assert_int_equal(connect_user(&c, h->port, MQTT_LEVEL_5, "c", "u", "p"), 0);
  assert_int_equal(tc_publish_ex(&c, "t", "1", 1, false, 1, NULL, 0), 0);
  assert_int_equal(wait_pending(h, 1), 1);
  h->done[0](h->done_arg[0], MQTT_RC_QUOTA_EXCEEDED, "disk full");
  assert_int_equal(tc_expect(&c, MQTT_PUBACK, 3000), 0);
  assert_int_equal(c.pk.reason, MQTT_RC_QUOTA_EXCEEDED);
  assert_int_equal(mqtt_props_find(c.pk.props.p, c.pk.props.len, MQTT_P_REASON_STRING, &p), 0);
  assert_int_equal(p.s_len, 9);
  tc_close(&c);
  /* Request Problem Information 0: no Reason String on PUBACK [MQTT-3.1.2-29] */
  assert_int_equal(tc_open(&q, h->port, MQTT_LEVEL_5), 0);
  loom_buf cp;
  loom_buf_init(&cp);
  assert_int_equal(mqtt_prop_append_num(&cp, MQTT_P_REQUEST_PROBLEM_INFO, 0), 0);
  mqtt_packet w;
  memset(&w, 0, sizeof(w));
  w.has_username = true;
  w.username.p = (const uint8_t *)"u";
  w.username.len = 1;
  assert_int_equal(tc_connect_ex(&q, "q", true, 60, cp.data, cp.len, &w), 0);
  assert_int_equal(tc_publish_ex(&q, "t", "1", 1, false, 1, NULL, 0), 0);
  assert_int_equal(wait_pending(h, 2), 2);
  h->done[1](h->done_arg[1], MQTT_RC_QUOTA_EXCEEDED, "disk full");
  assert_int_equal(tc_expect(&q, MQTT_PUBACK, 3000), 0);
  assert_int_equal(q.pk.reason, MQTT_RC_QUOTA_EXCEEDED);
  assert_int_equal(mqtt_props_find(q.pk.props.p, q.pk.props.len, MQTT_P_REASON_STRING, &p),
                   LOOM_ENOTFOUND);
  loom_buf_deinit(&cp);
  tc_close(&q);
}

static void test_pending_qos2_resent_after_reconnect(void **state) {
  hx *h = *state;
  tc c;
  loom_buf cp;
  loom_buf_init(&cp);
  assert_int_equal(mqtt_prop_append_num(&cp, MQTT_P_SESSION_EXPIRY, 60), 0);
  mqtt_packet w;
  memset(&w, 0, sizeof(w));
  w.has_username = true;
  w.username.p = (const uint8_t *)"u";
  w.username.len = 1;
  assert_int_equal(tc_open(&c, h->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&c, "q2", true, 60, cp.data, cp.len, &w), 0);
  assert_int_equal(tc_publish_ex(&c, "t", "1", 2, false, 7, NULL, 0), 0);
  assert_int_equal(wait_pending(h, 1), 1);
  tc_close(&c); /* before it was stored */
  usleep(100 * 1000);
  assert_int_equal(tc_open(&c, h->port, MQTT_LEVEL_5), 0);
  assert_int_equal(tc_connect_ex(&c, "q2", false, 60, cp.data, cp.len, &w), 0);
  assert_true(c.pk.session_present);
  mqtt_packet dup;
  memset(&dup, 0, sizeof(dup));
  dup.type = MQTT_PUBLISH;
  dup.topic.p = (const uint8_t *)"t";
  dup.topic.len = 1;
  dup.payload.p = (const uint8_t *)"1";
  dup.payload.len = 1;
  dup.qos = 2;
  dup.dup = true;
  dup.packet_id = 7;
  assert_int_equal(tc_send(&c, &dup), 0);
  /* handled anew: the platform sees it again; no PUBREC until it is stored */
  assert_int_equal(wait_pending(h, 2), 2);
  assert_int_equal(tc_recv(&c, 200), -1);
  h->done[0](h->done_arg[0], 0, NULL); /* the old connection's: ignored */
  assert_int_equal(tc_recv(&c, 200), -1);
  h->done[1](h->done_arg[1], 0, NULL);
  assert_int_equal(tc_expect(&c, MQTT_PUBREC, 3000), 0);
  assert_int_equal(c.pk.packet_id, 7);
  loom_buf_deinit(&cp);
  tc_close(&c);
}

static void test_pending_refusal_closes_v311(void **state) {
  hx *h = *state;
  tc c;
  assert_int_equal(connect_user(&c, h->port, MQTT_LEVEL_311, "c", "u", "p"), 0);
  assert_int_equal(tc_publish_ex(&c, "t", "1", 1, false, 1, NULL, 0), 0);
  assert_int_equal(wait_pending(h, 1), 1);
  h->done[0](h->done_arg[0], MQTT_RC_UNSPECIFIED, NULL);
  assert_true(tc_wait_closed(&c, 3000)); /* 3.1.1 cannot carry the refusal */
  tc_close(&c);
}

static void test_pending_done_after_close(void **state) {
  hx *h = *state;
  tc c;
  assert_int_equal(connect_user(&c, h->port, MQTT_LEVEL_5, "c", "u", "p"), 0);
  assert_int_equal(tc_publish_ex(&c, "t", "1", 1, false, 1, NULL, 0), 0);
  for (int i = 0; i < 100 && h->n_pending < 1; i++) usleep(10 * 1000);
  assert_int_equal(h->n_pending, 1);
  tc_close(&c);
  usleep(100 * 1000);
  h->done[0](h->done_arg[0], 0, NULL); /* the connection is gone: ignored safely */
  usleep(100 * 1000);
  assert_int_equal(atomic_load(&h->n_disconnect), 1);
}

static void test_will_through_on_publish(void **state) {
  hx *h = *state;
  tc s, w;
  assert_int_equal(connect_user(&s, h->port, MQTT_LEVEL_311, "s", "u", "p"), 0);
  assert_int_equal(tc_subscribe(&s, "will", 0), 0);
  assert_int_equal(tc_open(&w, h->port, MQTT_LEVEL_311), 0);
  mqtt_packet wp;
  memset(&wp, 0, sizeof(wp));
  wp.has_will = true;
  wp.will_topic.p = (const uint8_t *)"will";
  wp.will_topic.len = 4;
  wp.will_payload.p = (const uint8_t *)"w";
  wp.will_payload.len = 1;
  wp.has_username = true;
  wp.username.p = (const uint8_t *)"u";
  wp.username.len = 1;
  assert_int_equal(tc_connect_ex(&w, "w", true, 60, NULL, 0, &wp), 0);
  int before = atomic_load(&h->n_publish);
  tc_close(&w);
  assert_int_equal(tc_expect(&s, MQTT_PUBLISH, 3000), 0);
  assert_true(tc_topic_is(&s, "will"));
  assert_int_equal(atomic_load(&h->n_publish), before + 1);
  tc_close(&s);
}

static int unsubscribe(tc *c, uint16_t pid, const char *filter) {
  mqtt_sub s = {.filter = {(const uint8_t *)filter, strlen(filter)}};
  mqtt_packet pk;
  memset(&pk, 0, sizeof(pk));
  pk.type = MQTT_UNSUBSCRIBE;
  pk.packet_id = pid;
  pk.subs = &s;
  pk.n_subs = 1;
  if (tc_send(c, &pk)) return -2;
  int rc = tc_expect(c, MQTT_UNSUBACK, 3000);
  if (rc) return rc;
  return c->pk.list.len ? c->pk.list.p[0] : 0;
}

static void test_unsubscribe_hook(void **state) {
  hx *h = *state;
  tc c;
  assert_int_equal(tc_connect(&c, h->port, MQTT_LEVEL_5, "u", true), 0);
  assert_int_equal(tc_subscribe(&c, "cmd/#", 1), 1);
  assert_int_equal(tc_subscribe(&c, "$share/g/job", 0), 0);
  assert_int_equal(unsubscribe(&c, 2, "never"), MQTT_RC_NO_SUBSCRIPTION_EXISTED);
  assert_int_equal(atomic_load(&h->n_unsub), 0); /* not for a filter it did not have */
  assert_int_equal(unsubscribe(&c, 3, "cmd/#"), 0);
  assert_int_equal(unsubscribe(&c, 4, "$share/g/job"), 0);
  assert_int_equal(atomic_load(&h->n_unsub), 2);
  pthread_mutex_lock(&h->mu);
  assert_string_equal(h->unsubs, "tn/cmd/#;$share/g/tn/job;"); /* broker filters */
  pthread_mutex_unlock(&h->mu);
  tc_close(&c);
}

static void test_resume_hook_lists_subscriptions(void **state) {
  hx *h = *state;
  tc c;
  /* a new session: no on_resume */
  assert_int_equal(tc_connect(&c, h->port, MQTT_LEVEL_311, "dev", false), 0);
  assert_false(c.pk.session_present);
  assert_int_equal(tc_subscribe(&c, "cmd/#", 1), 1);
  assert_int_equal(tc_subscribe(&c, "att", 0), 0);
  assert_int_equal(atomic_load(&h->n_resume), 0);
  assert_int_equal(tc_ack(&c, MQTT_DISCONNECT, 0), 0);
  assert_true(tc_wait_closed(&c, 2000));
  tc_close(&c);
  /* resumed: on_connect then on_resume with both subscriptions */
  assert_int_equal(tc_connect(&c, h->port, MQTT_LEVEL_311, "dev", false), 0);
  assert_true(c.pk.session_present);
  assert_int_equal(tc_ack(&c, MQTT_PINGREQ, 0), 0);
  assert_int_equal(tc_expect(&c, MQTT_PINGRESP, 3000), 0); /* hooks ran before */
  assert_int_equal(atomic_load(&h->n_resume), 1);
  assert_int_equal(atomic_load(&h->n_connect), 2);
  pthread_mutex_lock(&h->mu);
  assert_string_equal(h->resume_id, "dev");
  assert_string_equal(h->resumed, "tn/cmd/#:1;tn/att:0;");
  pthread_mutex_unlock(&h->mu);
  tc_close(&c);
  usleep(100 * 1000);
  /* Clean Start discards the session: no on_resume */
  assert_int_equal(tc_connect(&c, h->port, MQTT_LEVEL_311, "dev", true), 0);
  assert_false(c.pk.session_present);
  assert_int_equal(tc_ack(&c, MQTT_PINGREQ, 0), 0);
  assert_int_equal(tc_expect(&c, MQTT_PINGRESP, 3000), 0);
  assert_int_equal(atomic_load(&h->n_resume), 1);
  tc_close(&c);
}

static void test_resume_hook_without_subscriptions(void **state) {
  hx *h = *state;
  tc c;
  assert_int_equal(tc_connect(&c, h->port, MQTT_LEVEL_311, "bare", false), 0);
  assert_int_equal(tc_ack(&c, MQTT_DISCONNECT, 0), 0);
  assert_true(tc_wait_closed(&c, 2000));
  tc_close(&c);
  assert_int_equal(tc_connect(&c, h->port, MQTT_LEVEL_311, "bare", false), 0);
  assert_true(c.pk.session_present);
  assert_int_equal(tc_ack(&c, MQTT_PINGREQ, 0), 0);
  assert_int_equal(tc_expect(&c, MQTT_PINGRESP, 3000), 0);
  assert_int_equal(atomic_load(&h->n_resume), 1); /* resumed, with n = 0 */
  pthread_mutex_lock(&h->mu);
  assert_string_equal(h->resumed, "");
  pthread_mutex_unlock(&h->mu);
  tc_close(&c);
}

/* A tick asking to run again in 5 ms is run again without any I/O (the
 * sweep alone would run it about 4 times a second); -1 stops that; the stop
 * runs it once with final set. */
static void test_tick_timer_and_final(void **state) {
  hx *h = *state;
  atomic_store(&h->tick_wait_ms, 5);
  tc c;
  assert_int_equal(connect_user(&c, h->port, 5, "t", "u", "p"), 0); /* I/O: a first tick */
  int before = atomic_load(&h->n_tick);
  usleep(1000 * 1000);
  int timed = atomic_load(&h->n_tick) - before;
  assert_true(timed >= 50);
  atomic_store(&h->tick_wait_ms, -1);
  usleep(50 * 1000);
  before = atomic_load(&h->n_tick);
  usleep(600 * 1000);
  assert_true(atomic_load(&h->n_tick) - before <= 12); /* sweep and $SYS passes only */
  assert_int_equal(atomic_load(&h->n_tick_final), 0);
  tc_close(&c);
  mqtt_broker_stop(h->b);
  h->b = NULL;
  assert_int_equal(atomic_load(&h->n_tick_final), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_auth_refused_v311, setup, teardown),
      cmocka_unit_test_setup_teardown(test_auth_refused_v5, setup, teardown),
      cmocka_unit_test_setup_teardown(test_auth_sees_credentials, setup, teardown),
      cmocka_unit_test_setup_teardown(test_auth_async_then_kick, setup_async, teardown),
      cmocka_unit_test_setup_teardown(test_auth_async_client_gone, setup_async, teardown),
      cmocka_unit_test_setup_teardown(test_map_in_and_out, setup, teardown),
      cmocka_unit_test_setup_teardown(test_map_in_refusal, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pending_acks_in_order, setup_pending, teardown),
      cmocka_unit_test_setup_teardown(test_pending_done_after_close, setup_pending, teardown),
      cmocka_unit_test_setup_teardown(test_reason_string_and_problem_info, setup_pending,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_pending_refusal_closes_v311, setup_pending, teardown),
      cmocka_unit_test_setup_teardown(test_pending_qos2_resent_after_reconnect, setup_pending,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_will_through_on_publish, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unsubscribe_hook, setup, teardown),
      cmocka_unit_test_setup_teardown(test_resume_hook_lists_subscriptions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_resume_hook_without_subscriptions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tick_timer_and_final, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
