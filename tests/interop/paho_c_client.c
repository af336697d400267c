/* SPDX-License-Identifier: Apache-2.0
 * A small MQTT client CLI on Eclipse Paho C's synchronous MQTTClient API
 * (libpaho-mqtt3c), MQTT 3.1, 3.1.1 or 5.0, for tests/integration/test_mqtt_interop.py.
 * It connects, subscribes, publishes, receives and reports every step as one
 * JSON line on stdout (the same protocol as mqttjs_client.js and
 * paho_py_client.py; see usage()). Built by the test itself:
 *   cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -o paho_c_client paho_c_client.c -lpaho-mqtt3c
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <MQTTClient.h>

#define MAX_OPS 16

typedef struct pub_op {
  const char *topic;
  int qos;
  int retain;
  const char *payload;
} pub_op;

typedef struct sub_op {
  const char *filter;
  int qos;
} sub_op;

typedef struct opts {
  const char *host, *id, *user, *pass;
  const char *ws;       /* --ws PATH: ws://host:port/PATH instead of tcp:// */
  int port, level, clean, count, hang;
  int keepalive_s;      /* --keepalive (30) */
  long expiry;          /* session expiry interval, s (level 5); -1 = not sent */
  long will_delay;      /* will delay interval, s (level 5); -1 = not sent */
  long timeout_ms;      /* how long to wait for --count messages */
  int has_will;
  pub_op will;
  sub_op subs[MAX_OPS];
  int n_subs;
  pub_op pubs[MAX_OPS];
  int n_pubs;
  pub_op burst;         /* --burst: topic, qos; retain = how many messages */
  int has_burst;
} opts;

static void usage(void)
{
  fprintf(stderr,
          "usage: paho_c_client --port P --level 3|4|5 [--host H] [--id ID] [--user U]\n"
          "  [--pass P] [--clean 0|1] [--expiry S] [--will TOPIC:QOS:RETAIN:PAYLOAD]\n"
          "  [--sub FILTER:QOS]... [--pub TOPIC:QOS:RETAIN:PAYLOAD]... [--count N]\n"
          "  [--timeout MS] [--hang] [--will-delay S] [--burst TOPIC:QOS:N] [--ws PATH]\n"
          "  [--keepalive S]\n"
          "--burst: N messages \"0\"..\"N-1\" published back to back (20 in flight)\n"
          "Prints JSON lines: connack, suback, ready, pubdone, msg, done, error.\n");
}

/* Print s as a JSON string (bytes outside printable ASCII as \u00XX). */
static void json_str(const char *s, size_t n)
{
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void emit_error(const char *what, int rc)
{
  printf("{\"ev\":\"error\",\"what\":");
  json_str(what, strlen(what));
  printf(",\"rc\":%d}\n", rc);
  fflush(stdout);
}

/* "TOPIC:QOS:RETAIN:PAYLOAD" -> op; the payload may contain ':'. */
static int parse_pub(char *s, pub_op *op)
{
  char *c1 = strchr(s, ':');
  if (!c1)
    return -1;
  char *c2 = strchr(c1 + 1, ':');
  if (!c2)
    return -1;
  char *c3 = strchr(c2 + 1, ':');
  if (!c3)
    return -1;
  *c1 = *c2 = *c3 = '\0';
  op->topic = s;
  op->qos = atoi(c1 + 1);
  op->retain = atoi(c2 + 1);
  op->payload = c3 + 1;
  return 0;
}

/* "FILTER:QOS", split at the last ':'. */
static int parse_sub(char *s, sub_op *op)
{
  char *c = strrchr(s, ':');
  if (!c)
    return -1;
  *c = '\0';
  op->filter = s;
  op->qos = atoi(c + 1);
  return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
  memset(o, 0, sizeof *o);
  o->host = "127.0.0.1";
  o->level = 4;
  o->clean = 1;
  o->expiry = -1;
  o->will_delay = -1;
  o->keepalive_s = 30;
  o->timeout_ms = 5000;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--hang")) {
      o->hang = 1;
      continue;
    }
    if (!v)
      return -1;
    i++;
    if (!strcmp(a, "--host"))
      o->host = v;
    else if (!strcmp(a, "--port"))
      o->port = atoi(v);
    else if (!strcmp(a, "--level"))
      o->level = atoi(v);
    else if (!strcmp(a, "--id"))
      o->id = v;
    else if (!strcmp(a, "--user"))
      o->user = v;
    else if (!strcmp(a, "--pass"))
      o->pass = v;
    else if (!strcmp(a, "--clean"))
      o->clean = atoi(v);
    else if (!strcmp(a, "--expiry"))
      o->expiry = atol(v);
    else if (!strcmp(a, "--keepalive"))
      o->keepalive_s = atoi(v);
    else if (!strcmp(a, "--ws"))
      o->ws = v;
    else if (!strcmp(a, "--will-delay"))
      o->will_delay = atol(v);
    else if (!strcmp(a, "--count"))
      o->count = atoi(v);
    else if (!strcmp(a, "--timeout"))
      o->timeout_ms = atol(v);
    else if (!strcmp(a, "--will")) {
      if (parse_pub(v, &o->will))
        return -1;
      o->has_will = 1;
    } else if (!strcmp(a, "--burst")) {
      /* TOPIC:QOS:N, kept as a publish whose retain field holds N. */
      char *c2 = strrchr(v, ':');
      if (!c2)
        return -1;
      *c2 = '\0';
      char *c1 = strrchr(v, ':');
      if (!c1)
        return -1;
      *c1 = '\0';
      o->burst.topic = v;
      o->burst.qos = atoi(c1 + 1);
      o->burst.retain = atoi(c2 + 1);
      if (o->burst.retain <= 0 || o->burst.retain > 100000)
        return -1;
      o->has_burst = 1;
    } else if (!strcmp(a, "--sub")) {
      if (o->n_subs == MAX_OPS || parse_sub(v, &o->subs[o->n_subs++]))
        return -1;
    } else if (!strcmp(a, "--pub")) {
      if (o->n_pubs == MAX_OPS || parse_pub(v, &o->pubs[o->n_pubs++]))
        return -1;
    } else
      return -1;
  }
  if (o->port <= 0 || o->level < 3 || o->level > 5)
    return -1;
  return 0;
}

static long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int do_connect(MQTTClient c, const opts *o)
{
  MQTTClient_connectOptions co = MQTTClient_connectOptions_initializer;
  MQTTClient_connectOptions co5 = MQTTClient_connectOptions_initializer5;
  MQTTClient_willOptions will = MQTTClient_willOptions_initializer;
  MQTTProperties props = MQTTProperties_initializer;
  MQTTProperties will_props = MQTTProperties_initializer;
  MQTTClient_connectOptions *cp = o->level == 5 ? &co5 : &co;
  int rc, session_present;

  cp->keepAliveInterval = o->keepalive_s;
  cp->username = o->user;
  cp->password = o->pass;
  cp->connectTimeout = 5;
  /* With the default (-1, no limit), a burst of QoS 1 publishes loses most
   * of its messages while every token reports completion (seen with Paho C
   * 1.3.11 against mosquitto 2.0.11): keep a window, as other clients do. */
  cp->maxInflightMessages = 20;
  if (o->has_will) {
    will.topicName = o->will.topic;
    will.message = o->will.payload;
    will.qos = o->will.qos;
    will.retained = o->will.retain;
    cp->will = &will;
  }
  if (o->level == 5) {
    co5.cleanstart = o->clean;
    if (o->expiry >= 0) {
      MQTTProperty p;
      memset(&p, 0, sizeof p);
      p.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
      p.value.integer4 = (unsigned int)o->expiry;
      MQTTProperties_add(&props, &p);
    }
    if (o->has_will && o->will_delay >= 0) {
      MQTTProperty p;
      memset(&p, 0, sizeof p);
      p.identifier = MQTTPROPERTY_CODE_WILL_DELAY_INTERVAL;
      p.value.integer4 = (unsigned int)o->will_delay;
      MQTTProperties_add(&will_props, &p);
    }
    MQTTResponse r = MQTTClient_connect5(c, &co5, &props, &will_props);
    rc = r.reasonCode;
    MQTTResponse_free(r);
    MQTTProperties_free(&props);
    MQTTProperties_free(&will_props);
    session_present = 0;
  } else {
    co.MQTTVersion = o->level == 3 ? MQTTVERSION_3_1 : MQTTVERSION_3_1_1;
    co.cleansession = o->clean;
    rc = MQTTClient_connect(c, &co);
    session_present = co.returned.sessionPresent;
  }
  if (rc != 0) {
    emit_error("connect", rc);
    return rc;
  }
  /* Paho C 1.3.11 fills returned.sessionPresent at 3.1.1 only (at 5.0 it
   * stays 0 even when the broker says 1; 3.1 has no such flag): report null,
   * "unknown". */
  printf("{\"ev\":\"connack\",\"rc\":0,\"session_present\":%s}\n",
         o->level != 4 ? "null" : session_present ? "true" : "false");
  fflush(stdout);
  return 0;
}

static int do_subscribe(MQTTClient c, const opts *o, const sub_op *s)
{
  int granted;
  if (o->level == 5) {
    MQTTSubscribe_options so = MQTTSubscribe_options_initializer;
    MQTTResponse r = MQTTClient_subscribe5(c, s->filter, s->qos, &so, NULL);
    granted = r.reasonCode;
    MQTTResponse_free(r);
  } else {
    char *filter = (char *)s->filter;
    int qos = s->qos;
    /* subscribeMany writes the granted QoS (or 0x80) back into qos. */
    int rc = MQTTClient_subscribeMany(c, 1, &filter, &qos);
    granted = qos;
    if (rc < 0 && qos != 0x80) {
      emit_error("subscribe", rc);
      return rc;
    }
  }
  printf("{\"ev\":\"suback\",\"filter\":");
  json_str(s->filter, strlen(s->filter));
  printf(",\"granted\":%d}\n", granted);
  fflush(stdout);
  return 0;
}

static int do_publish(MQTTClient c, const opts *o, const pub_op *p)
{
  MQTTClient_message m = MQTTClient_message_initializer;
  MQTTClient_deliveryToken tok = 0;
  int rc;

  m.payload = (void *)p->payload;
  m.payloadlen = (int)strlen(p->payload);
  m.qos = p->qos;
  m.retained = p->retain;
  if (o->level == 5) {
    MQTTResponse r = MQTTClient_publishMessage5(c, p->topic, &m, &tok);
    rc = r.reasonCode;
    MQTTResponse_free(r);
  } else {
    rc = MQTTClient_publishMessage(c, p->topic, &m, &tok);
  }
  if (rc == 0 && p->qos > 0)
    rc = MQTTClient_waitForCompletion(c, tok, 5000);
  if (rc != 0) {
    emit_error("publish", rc);
    return rc;
  }
  printf("{\"ev\":\"pubdone\",\"topic\":");
  json_str(p->topic, strlen(p->topic));
  printf(",\"qos\":%d}\n", p->qos);
  fflush(stdout);
  return 0;
}

/* --burst: publish "0".."N-1" without waiting, then await every completion
 * (the library keeps at most maxInflightMessages outstanding). */
static int do_burst(MQTTClient c, const opts *o)
{
  const pub_op *b = &o->burst;
  int n = b->retain, rc = 0;
  MQTTClient_deliveryToken *toks = calloc((size_t)n, sizeof *toks);
  char payload[16];

  if (!toks) {
    emit_error("burst", -1);
    return -1;
  }
  for (int i = 0; i < n && rc == 0; i++) {
    MQTTClient_message m = MQTTClient_message_initializer;
    snprintf(payload, sizeof payload, "%d", i);
    m.payload = payload;
    m.payloadlen = (int)strlen(payload);
    m.qos = b->qos;
    if (o->level == 5) {
      MQTTResponse r = MQTTClient_publishMessage5(c, b->topic, &m, &toks[i]);
      rc = r.reasonCode;
      MQTTResponse_free(r);
    } else {
      rc = MQTTClient_publishMessage(c, b->topic, &m, &toks[i]);
    }
  }
  for (int i = 0; i < n && rc == 0 && b->qos > 0; i++)
    rc = MQTTClient_waitForCompletion(c, toks[i], 10000);
  free(toks);
  if (rc != 0) {
    emit_error("burst", rc);
    return rc;
  }
  printf("{\"ev\":\"pubdone\",\"topic\":");
  json_str(b->topic, strlen(b->topic));
  printf(",\"qos\":%d,\"n\":%d}\n", b->qos, n);
  fflush(stdout);
  return 0;
}

/* Receive until o->count messages arrived or the timeout. 0 if all came. */
static int do_receive(MQTTClient c, const opts *o)
{
  long deadline = now_ms() + o->timeout_ms;
  int got = 0;
  while (got < o->count) {
    long left = deadline - now_ms();
    if (left <= 0)
      break;
    char *topic = NULL;
    int topic_len = 0;
    MQTTClient_message *m = NULL;
    /* Short slices: Paho C runs its keep-alive (PINGREQ) only between the
     * cycles of a receive call, so one long wait outlives 1.5 x Keep Alive. */
    unsigned long slice_ms = (unsigned long)(left < 200 ? left : 200);
    int rc = MQTTClient_receive(c, &topic, &topic_len, &m, slice_ms);
    if (rc != MQTTCLIENT_SUCCESS && rc != MQTTCLIENT_TOPICNAME_TRUNCATED) {
      emit_error("receive", rc);
      return rc;
    }
    if (!m)
      continue;
    printf("{\"ev\":\"msg\",\"topic\":");
    json_str(topic, topic_len > 0 ? (size_t)topic_len : strlen(topic));
    printf(",\"payload\":");
    json_str(m->payload, (size_t)m->payloadlen);
    printf(",\"qos\":%d,\"retain\":%s,\"dup\":%s}\n", m->qos, m->retained ? "true" : "false",
           m->dup ? "true" : "false");
    fflush(stdout);
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);
    got++;
  }
  if (got < o->count) {
    emit_error("timeout", got);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv)
{
  opts o;
  MQTTClient c = NULL;
  MQTTClient_createOptions cro = MQTTClient_createOptions_initializer;
  char uri[300], idbuf[64];
  int rc, status = 1, connected = 0;

  if (parse_args(argc, argv, &o)) {
    usage();
    return 2;
  }
  if (!o.id) {
    snprintf(idbuf, sizeof idbuf, "pahoc-%ld", (long)getpid());
    o.id = idbuf;
  }
  if (o.ws)
    snprintf(uri, sizeof uri, "ws://%s:%d/%s", o.host, o.port, o.ws);
  else
    snprintf(uri, sizeof uri, "tcp://%s:%d", o.host, o.port);
  cro.MQTTVersion = o.level == 5   ? MQTTVERSION_5
                    : o.level == 3 ? MQTTVERSION_3_1
                                   : MQTTVERSION_3_1_1;
  rc = MQTTClient_createWithOptions(&c, uri, o.id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &cro);
  if (rc != MQTTCLIENT_SUCCESS) {
    emit_error("create", rc);
    goto out;
  }
  if (do_connect(c, &o))
    goto out;
  connected = 1;
  for (int i = 0; i < o.n_subs; i++)
    if (do_subscribe(c, &o, &o.subs[i]))
      goto out;
  printf("{\"ev\":\"ready\"}\n");
  fflush(stdout);
  for (int i = 0; i < o.n_pubs; i++)
    if (do_publish(c, &o, &o.pubs[i]))
      goto out;
  if (o.has_burst && do_burst(c, &o))
    goto out;
  if (do_receive(c, &o))
    goto out;
  if (o.hang) {
    /* Wait to be killed: the broker must then send our will. */
    for (;;)
      pause();
  }
  status = 0;
out:
  if (connected) {
    if (o.level == 5)
      MQTTClient_disconnect5(c, 1000, MQTTREASONCODE_SUCCESS, NULL);
    else
      MQTTClient_disconnect(c, 1000);
  }
  if (c)
    MQTTClient_destroy(&c);
  if (status == 0) {
    printf("{\"ev\":\"done\"}\n");
    fflush(stdout);
  }
  return status;
}
