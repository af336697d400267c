/* SPDX-License-Identifier: Apache-2.0
 * The `loom` binary: parses the command line and configuration, wires the
 * subsystems together (engine, auth, HTTP API, demo plant) and waits for
 * SIGTERM/SIGINT to stop gracefully. Nothing else lives here.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "core/config.h"
#include "core/err.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "core/workpool.h"
#include "http/server.h"
#include "meta/meta.h"
#include "mqtt/broker.h"
#include "api/mqtt_platform.h"
#include "sec/audit.h"
#include "sec/auth.h"
#include "sim/plant.h"
#include "sim/register.h"
#include "ts/engine.h"

typedef struct settings {
  char data[1024];
  char http[256];
  char mqtt[256]; /* MQTT TCP listen address, "off" = none */
  char web_dir[1024]; /* serve the console from here ("" = the embedded copy) */
  mqtt_limits mqtt_limits; /* 0 = the broker's defaults */
  int durability;
  int log_level;
  uint64_t head_max_mb;
  unsigned http_threads;
  unsigned query_threads;
} settings;

static void usage(FILE *f) {
  fprintf(f,
          "usage: loom <command> [options]\n"
          "\n"
          "commands:\n"
          "  serve     run the platform\n"
          "  demo      run the platform with a simulated plant writing into database \"plant\"\n"
          "  version   print the version\n"
          "  routes    print the HTTP route table with each route's access rule as JSON\n"
          "  audit verify [--data DIR]  check the audit log's hash chain: exit 0 if intact,\n"
          "                                1 naming the first bad record\n"
          "\n"
          "options (each also a config-file key without the dashes):\n"
          "  --config FILE                 key = value settings (optional)\n"
          "  --data DIR                    data directory (default ./loom-data)\n"
          "  --http ADDR:PORT              HTTP listen address (default 127.0.0.1:8080)\n"
          "  --mqtt ADDR:PORT|off          MQTT listen address (default 127.0.0.1:1883); MQTT over\n"
          "                                WebSocket is on the HTTP port at /mqtt\n"
          "  --web-dir DIR                 serve the web console from DIR (development: edit and\n"
          "                                reload) instead of the copy built into the binary\n"
          "  --mqtt-max-packet BYTES       largest MQTT packet (default 1048576)\n"
          "  --mqtt-keepalive-max S        cap on client keep-alive (Server Keep Alive; default none)\n"
          "  --mqtt-session-expiry-max S   cap on Session Expiry (default 604800, 7 days)\n"
          "  --mqtt-max-queued N           queued messages per client (default 1000)\n"
          "  --mqtt-max-inflight N         QoS 1/2 messages in flight to an MQTT 3.1/3.1.1 client\n"
          "                                (default 20; 5.0 clients set their Receive Maximum)\n"
          "  --mqtt-max-conns N            open MQTT connections (default 100000)\n"
          "  --mqtt-conn-rate N            new MQTT connections per second (default 2000)\n"
          "  --durability durable|batched  acknowledge writes after fsync (default) or fsync\n"
          "                                every 100 ms\n"
          "  --log-level debug|info|warn|error\n"
          "  --head-max-mb N               flush the in-memory head past N MiB (default 24)\n"
          "  --http-threads N              HTTP event loops (default: one per core)\n"
          "  --query-threads N             query workers (default: one per core)\n"
          "\n"
          "environment: LOOM_ADMIN_TOKEN sets the admin API token instead of generating one;\n"
          "LOOM_PASSWORD_COST=min makes password hashing cheap (tests only, never in production).\n");
}

/* Numeric settings: name (config-file spelling) and where the value goes. */
static unsigned *numeric_setting(settings *s, const char *key, uint64_t **wide) {
  *wide = NULL;
  if (!strcmp(key, "http_threads")) return &s->http_threads;
  if (!strcmp(key, "query_threads")) return &s->query_threads;
  if (!strcmp(key, "head_max_mb")) *wide = &s->head_max_mb;
  return NULL;
}

/* MQTT limits: name (config-file spelling), largest value, where it goes. */
static int mqtt_setting(settings *s, const char *key, const char *opt, const char *val, char *err,
                        size_t errlen) {
  mqtt_limits *l = &s->mqtt_limits;
  struct {
    const char *name;
    unsigned long max;
  } const tab[] = {{"mqtt_max_packet", 268435455}, {"mqtt_keepalive_max", 65535},
                   {"mqtt_session_expiry_max", 4294967295ul}, {"mqtt_max_queued", 10000000},
                   {"mqtt_max_conns", 10000000}, {"mqtt_conn_rate", 10000000},
                   {"mqtt_max_inflight", 65535}};
  size_t i = 0;
  while (i < sizeof tab / sizeof tab[0] && strcmp(key, tab[i].name)) i++;
  if (i == sizeof tab / sizeof tab[0]) return 1; /* not an MQTT limit */
  char *end;
  errno = 0;
  unsigned long v = strtoul(val, &end, 10);
  if (!*val || *val == '-' || *end || errno || v < 1 || v > tab[i].max) {
    snprintf(err, errlen, "%s must be a number from 1 to %lu, not \"%s\"", opt, tab[i].max, val);
    return LOOM_EINVAL;
  }
  switch (i) {
  case 0: l->max_packet = (uint32_t)v; break;
  case 1: l->keepalive_max = (uint16_t)v; break;
  case 2: l->session_expiry_max = (uint32_t)v; break;
  case 3: l->max_queued_msgs = (uint32_t)v; break;
  case 4: l->max_conns = (uint32_t)v; break;
  case 5: l->conn_rate = (uint32_t)v; break;
  default: l->inflight_311 = (uint16_t)v; break;
  }
  return 0;
}

static int set_option(settings *s, const char *opt, const char *val, char *err, size_t errlen) {
  /* --log-level and log_level are the same setting */
  char key[64];
  size_t i = 0;
  for (; opt[i] && i < sizeof key - 1; i++) key[i] = opt[i] == '-' ? '_' : opt[i];
  key[i] = 0;
  uint64_t *wide;
  unsigned *narrow = numeric_setting(s, key, &wide);
  if (!strcmp(key, "data")) {
    snprintf(s->data, sizeof s->data, "%s", val);
  } else if (!strcmp(key, "http")) {
    snprintf(s->http, sizeof s->http, "%s", val);
  } else if (!strcmp(key, "mqtt")) {
    snprintf(s->mqtt, sizeof s->mqtt, "%s", val);
  } else if (!strcmp(key, "web_dir")) {
    snprintf(s->web_dir, sizeof s->web_dir, "%s", val);
  } else if (!strncmp(key, "mqtt_", 5)) {
    int rc = mqtt_setting(s, key, opt, val, err, errlen);
    if (rc == 1) {
      snprintf(err, errlen, "unknown setting \"%s\"", opt);
      return LOOM_EINVAL;
    }
    return rc;
  } else if (!strcmp(key, "durability")) {
    if (!strcmp(val, "durable")) s->durability = TS_DURABLE;
    else if (!strcmp(val, "batched")) s->durability = TS_BATCHED;
    else {
      snprintf(err, errlen, "durability must be \"durable\" or \"batched\", not \"%s\"", val);
      return LOOM_EINVAL;
    }
  } else if (!strcmp(key, "log_level")) {
    if ((s->log_level = loom_log_level_parse(val)) < 0) {
      snprintf(err, errlen, "log level must be debug, info, warn or error, not \"%s\"", val);
      return LOOM_EINVAL;
    }
  } else if (narrow || wide) {
    char *end;
    unsigned long v = strtoul(val, &end, 10);
    if (!*val || *end || v > 1000000) {
      snprintf(err, errlen, "%s must be a number, not \"%s\"", opt, val);
      return LOOM_EINVAL;
    }
    if (narrow) *narrow = (unsigned)v;
    else *wide = v;
  } else {
    snprintf(err, errlen, "unknown setting \"%s\"", opt);
    return LOOM_EINVAL;
  }
  return 0;
}

static int config_cb(void *arg, const char *key, const char *value, unsigned line, char *err,
                     size_t errlen) {
  char why[300];
  int rc = set_option(arg, key, value, why, sizeof why);
  if (rc) snprintf(err, errlen, "line %u: %s", line, why);
  return rc;
}

static int load_config(settings *s, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "loom: cannot read config %s: %s\n", path, strerror(errno));
    return 1;
  }
  char text[65536];
  size_t n = fread(text, 1, sizeof text, f);
  fclose(f);
  if (n == sizeof text) {
    fprintf(stderr, "loom: config %s is larger than 64 KiB\n", path);
    return 1;
  }
  char err[512];
  if (loom_config_parse(text, n, config_cb, s, err, sizeof err)) {
    fprintf(stderr, "loom: config %s: %s\n", path, err);
    return 1;
  }
  return 0;
}

static int parse_args(settings *s, int argc, char **argv) {
  /* a config file first, so command-line options override it */
  for (int i = 2; i < argc - 1; i++)
    if (!strcmp(argv[i], "--config") && load_config(s, argv[i + 1])) return 1;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    }
    if (strncmp(a, "--", 2) || i + 1 >= argc) {
      fprintf(stderr, "loom: unexpected argument \"%s\" (see loom --help)\n", a);
      return 1;
    }
    const char *val = argv[++i];
    if (!strcmp(a, "--config")) continue;
    char err[300];
    if (set_option(s, a + 2, val, err, sizeof err)) {
      fprintf(stderr, "loom: %s\n", err);
      return 1;
    }
  }
  return 0;
}

static void http_log(void *user, int level, const char *msg, const char *detail) {
  (void)user;
  loom_log(level, msg, "detail=\"%s\"", detail ? detail : "");
}

/* The MQTT broker with the platform's hooks (registry auth, tenant
 * namespaces, device topics, storage); its state lives in DATA/mqtt. */
static int start_mqtt(const settings *s, loom_api *api, api_mqtt **platform, mqtt_broker **out) {
  char dir[1200], err[256];
  snprintf(dir, sizeof dir, "%s/mqtt", s->data);
  int rc = loom_mkdir_p(dir);
  if (rc) {
    LOOM_ERROR("cannot create the MQTT state directory", "dir=\"%s\" err=\"%s\"", dir,
               loom_strerror(rc));
    return rc;
  }
  if ((rc = api_mqtt_new(api, platform))) {
    LOOM_ERROR("out of memory", NULL);
    return rc;
  }
  mqtt_broker_cfg cfg = {.listen = strcmp(s->mqtt, "off") ? s->mqtt : NULL,
                         .state_dir = dir,
                         .autosave_s = 60,
                         .sys_interval_s = 10,
                         .limits = s->mqtt_limits,
                         .hooks = api_mqtt_hooks(*platform)};
  if ((rc = mqtt_broker_start(&cfg, out, err, sizeof err))) {
    LOOM_ERROR("cannot start the MQTT broker", "addr=\"%s\" err=\"%s\"", s->mqtt, err);
    return rc;
  }
  api->mqtt = *out;
  api_mqtt_attach(*platform, *out);
  return 0;
}

/* Demo: the registered plant's devices are active whenever the sim writes,
 * with the values each wrote (the sim writes through ingest directly, not
 * through /write's device linking). Called on the plant's thread. */
typedef struct demo_ctx {
  loom_api *api;
  sim_demo reg;
} demo_ctx;

static void demo_tick(void *user, int64_t t_ns) {
  (void)t_ns;
  demo_ctx *d = user;
  for (size_t i = 0; i < d->reg.n_devices; i++)
    api_device_note_points(d->api, d->reg.device_ids[i], d->reg.tenant_id, d->reg.n_fields[i]);
}

static int run(const settings *s, bool demo) {
  int rc = 1;
  ts_engine *engine = NULL;
  http_server *http = NULL;
  loom_workpool *pool = NULL;
  sim_plant *plant = NULL;
  api_mqtt *mqtt_platform = NULL;
  mqtt_broker *broker = NULL;
  meta_store *meta = NULL;
  sec_audit *audit = NULL;
  bool api_ready = false;
  char *new_token = NULL;
  char err[1024];
  demo_ctx dc;
  sec_auth auth;
  loom_api api;
  memset(&api, 0, sizeof api);

  /* Signals are taken by sigwait in this thread only: block them before any thread starts. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (loom_mkdir_p(s->data)) {
    LOOM_ERROR("cannot create the data directory", "dir=\"%s\" err=\"%s\"", s->data, strerror(errno));
    return 1;
  }
  if (sec_auth_init(&auth, s->data, getenv("LOOM_ADMIN_TOKEN"), &new_token, err, sizeof err)) {
    LOOM_ERROR("cannot set up authentication", "err=\"%s\"", err);
    return 1;
  }
  ts_engine_options eo;
  ts_engine_options_default(&eo);
  eo.dir = s->data;
  eo.durability = s->durability;
  if (s->head_max_mb) eo.head_max_bytes = s->head_max_mb << 20;
  int64_t t0 = loom_mono_ns();
  if (ts_engine_open(&eo, &engine, err, sizeof err)) {
    LOOM_ERROR("cannot open the store", "dir=\"%s\" err=\"%s\"", s->data, err);
    goto out;
  }
  ts_engine_stats st;
  ts_engine_stats_get(engine, &st);
  LOOM_INFO("store open",
            "dir=\"%s\" durability=%s ms=%lld segments=%u series=%llu wal_records_replayed=%llu",
            s->data, s->durability == TS_DURABLE ? "durable" : "batched",
            (long long)((loom_mono_ns() - t0) / LOOM_NS_PER_MS), st.segments_loaded,
            (unsigned long long)st.columns, (unsigned long long)st.replay_records);
  if (st.replay_truncated_bytes)
    LOOM_WARN("recovery cut a torn WAL tail (a crash during a write that was never acknowledged)",
              "bytes=%llu", (unsigned long long)st.replay_truncated_bytes);
  if (st.replay_corrupt_files)
    LOOM_ERROR("recovery found damaged WAL files; records after the damage were skipped",
               "files=%u dir=\"%s/wal\"", st.replay_corrupt_files, s->data);
  if (ts_db_get(engine, "default", NULL) == LOOM_ENOTFOUND && ts_db_create(engine, "default", 0)) {
    LOOM_ERROR("cannot create the default database", NULL);
    goto out;
  }
  char meta_path[1200];
  snprintf(meta_path, sizeof meta_path, "%s/meta.db", s->data);
  if (meta_store_open(meta_path, &meta, err, sizeof err)) {
    LOOM_ERROR("cannot open the registry", "path=\"%s\" err=\"%s\"", meta_path, err);
    goto out;
  }
  if (sec_audit_open(s->data, NULL, &audit, NULL, err, sizeof err)) {
    LOOM_ERROR("cannot open the audit log", "dir=\"%s\" err=\"%s\"", s->data, err);
    goto out;
  }
  if (api_init(&api)) {
    LOOM_ERROR("out of memory", NULL);
    goto out;
  }
  api_ready = true;
  const char *cost = getenv("LOOM_PASSWORD_COST");
  if (cost && !strcmp(cost, "min")) {
    sec_password_limits_min(&api.pw_limits);
    LOOM_WARN("LOOM_PASSWORD_COST=min: new password hashes are weak (tests only)", NULL);
  }
  if (loom_workpool_new(s->query_threads, &pool)) {
    LOOM_ERROR("cannot start query workers", NULL);
    goto out;
  }
  api.engine = engine;
  api.auth = &auth;
  api.pool = pool;
  api.meta = meta;
  api.audit = audit;
  api.started_ns = loom_now_ns();
  api.web_dir = s->web_dir[0] ? s->web_dir : NULL;
  if (live_hub_new(&api.live)) {
    LOOM_ERROR("out of memory", NULL);
    goto out;
  }
  if (api_device_start(&api)) {
    LOOM_ERROR("cannot start the device API hub", NULL);
    goto out;
  }
  if (api_rpc_wait_start(&api)) {
    LOOM_ERROR("cannot start the RPC waiter", NULL);
    goto out;
  }
  http_server_options ho = {.listen = s->http, .n_threads = s->http_threads, .handler = api_handle,
                            .user = &api, .log = http_log};
  int hrc = http_server_new(&ho, &http);
  if (hrc) {
    LOOM_ERROR("cannot listen", "addr=\"%s\" err=\"%s\"", s->http, loom_strerror(hrc));
    goto out;
  }
  api.http = http;
  if (start_mqtt(s, &api, &mqtt_platform, &broker)) goto out;
  if (demo) {
    dc.api = &api;
    if (sim_demo_register(meta, "plant", 3, &api.pw_limits, s->data, &dc.reg, err, sizeof err)) {
      LOOM_ERROR("cannot register the simulated plant", "err=\"%s\"", err);
      goto out;
    }
    LOOM_INFO("demo plant registered", "tenant=%s devices=%zu created=%zu", dc.reg.tenant_id,
              dc.reg.n_devices, dc.reg.n_created);
    sim_plant_options po = {.db = "plant", .lines = 3, .interval_ms = 5000, .backfill_s = 7200,
                            .live = api.live, .on_tick = demo_tick, .user = &dc};
    if (sim_plant_new(engine, &po, &plant) || sim_plant_start(plant)) {
      LOOM_ERROR("cannot start the simulated plant", NULL);
      goto out;
    }
  }
  if ((hrc = http_server_start(http))) {
    LOOM_ERROR("cannot start HTTP", "err=\"%s\"", loom_strerror(hrc));
    goto out;
  }
  char host[256];
  snprintf(host, sizeof host, "%s", s->http);
  char *colon = strrchr(host, ':');
  if (colon) *colon = 0;
  if (!*host) snprintf(host, sizeof host, "127.0.0.1");
  int port = http_server_port(http);
  LOOM_INFO("listening", "http=\"http://%s:%d\"", host, port);
  if (mqtt_broker_port(broker))
    LOOM_INFO("listening", "mqtt=\"mqtt://%s:%d\" websocket=\"ws://%s:%d/mqtt\"", host,
              mqtt_broker_port(broker), host, port);
  if (new_token) {
    fprintf(stderr,
            "\nFirst start: an admin API token was created. It is shown only now and saved in\n"
            "%s/admin.token (mode 0600):\n\n    %s\n\n",
            s->data, new_token);
  }
  if (demo) {
    const char *tok = getenv("LOOM_ADMIN_TOKEN");
    char saved[256] = "";
    if (!tok || !*tok) {
      char path[1200];
      snprintf(path, sizeof path, "%s/admin.token", s->data);
      FILE *f = fopen(path, "r");
      if (f) {
        if (fgets(saved, sizeof saved, f)) saved[strcspn(saved, "\n")] = 0;
        fclose(f);
      }
      tok = saved;
    }
    printf("\nLoom demo is running: a simulated plant (3 lines of CNC machines, pumps, a compressor\n"
           "and energy meters) writes into database \"plant\" every 5 s; 2 hours of history are\n"
           "already there. It is registered as tenant \"演示工厂 Demo Plant\": assets, device profiles\n"
           "and %zu devices, shown in the web console.\n"
           "Loom 演示已启动：模拟工厂（3 条产线的数控机床、水泵、空压机和电表）每 5 秒写入数据库\n"
           "\"plant\"，已预置 2 小时历史数据；已注册为租户「演示工厂 Demo Plant」（资产、设备模板和\n"
           "%zu 台设备），可在 Web 控制台查看。\n\n"
           "  Console 控制台:   http://%s:%d/\n"
           "  Login 登录:       %s  /  %s   (saved in / 保存于 %s/" SIM_DEMO_LOGIN_FILE ")\n"
           "  API token 令牌:   %s\n\n"
           "Try / 试试:\n"
           "  curl -sG http://%s:%d/query -H 'Authorization: Token %s' --data-urlencode db=plant \\\n"
           "    --data-urlencode 'q=SHOW MEASUREMENTS'\n"
           "  curl -sG http://%s:%d/query -H 'Authorization: Token %s' --data-urlencode db=plant \\\n"
           "    --data-urlencode 'q=SELECT mean(spindle_temp_c) FROM cnc WHERE time > now() - 1h GROUP BY time(10m), machine'\n"
           "  curl -sG http://%s:%d/query -H 'Authorization: Token %s' --data-urlencode db=plant \\\n"
           "    --data-urlencode 'q=SELECT last(active_power_kw) FROM energy GROUP BY meter'\n"
           "  influx -host %s -port %d -password %s -username admin -database plant\n",
           dc.reg.n_devices, dc.reg.n_devices, host, port, dc.reg.email,
           dc.reg.password[0] ? dc.reg.password
                              : "(password shown at the first start / 密码见首次启动输出)",
           s->data,
           *tok ? tok : "(see LOOM_ADMIN_TOKEN or the data directory's admin.token)",
           host, port, tok, host, port, tok, host, port, tok, host, port, tok);
    if (mqtt_broker_port(broker))
      printf("\nMQTT broker / MQTT 代理: mqtt://%s:%d (WebSocket ws://%s:%d/mqtt); any user name,\n"
             "the token as password / 任意用户名，令牌作密码:\n"
             "  mosquitto_sub -h %s -p %d -u admin -P %s -t '$SYS/#' -v\n",
             host, mqtt_broker_port(broker), host, port, host, mqtt_broker_port(broker), tok);
    printf("\nStop with Ctrl-C. 按 Ctrl-C 停止。\n");
    fflush(stdout);
  }
  int sig = 0;
  sigwait(&sigs, &sig);
  LOOM_INFO("stopping", "signal=%d", sig);
  rc = 0;
out:
  sim_plant_free(plant);
  api_device_stop(&api); /* answers waiting RPC long polls, so the server's stop need not wait */
  api_rpc_wait_stop(&api); /* the same for callers waiting for two-way commands */
  if (http) {
    http_server_stop(http);
    http_server_free(http);
  }
  if (mqtt_platform) api_mqtt_detach(mqtt_platform); /* Sparkplug STATE death while the broker runs */
  mqtt_broker_stop(broker);
  api.mqtt = NULL;
  api_mqtt_free(mqtt_platform); /* completes telemetry batches still waiting for the engine */
  loom_workpool_free(pool);
  api_device_free(&api);
  live_hub_free(api.live); /* every WebSocket session ended with the server */
  api.live = NULL;
  if (api_ready) api_deinit(&api);
  sec_audit_close(audit);
  meta_store_close(meta);
  if (engine) {
    t0 = loom_mono_ns();
    ts_engine_close(engine);
    LOOM_INFO("store closed", "ms=%lld", (long long)((loom_mono_ns() - t0) / LOOM_NS_PER_MS));
  }
  loom_free(new_token);
  return rc;
}

/* `loom audit verify [--data DIR]`: 0 intact, 1 not (or unreadable), 2 usage. */
static int audit_command(int argc, char **argv) {
  const char *data = "./loom-data";
  sec_audit_report rep;
  if (argc < 3 || strcmp(argv[2], "verify")) {
    fprintf(stderr, "usage: loom audit verify [--data DIR]\n");
    return 2;
  }
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--data") && i + 1 < argc) {
      data = argv[++i];
    } else {
      fprintf(stderr, "loom: unexpected argument \"%s\" (usage: loom audit verify [--data DIR])\n",
              argv[i]);
      return 2;
    }
  }
  int rc = sec_audit_verify(data, &rep);
  if (rc == LOOM_ECORRUPT || rc == LOOM_EAUTH) {
    printf("audit: chain broken at record %llu (offset %llu): %s\n",
           (unsigned long long)rep.bad_seq, (unsigned long long)rep.bad_offset, rep.reason);
    return 1;
  }
  if (rc) {
    printf("audit: cannot verify: %s\n", rep.reason[0] ? rep.reason : loom_strerror(rc));
    return 1;
  }
  printf("audit: %llu records, chain intact\n", (unsigned long long)rep.records);
  if (rep.torn_bytes)
    printf("audit: note: %llu bytes of an unfinished append at the end (never acknowledged; "
           "removed at the next start)\n",
           (unsigned long long)rep.torn_bytes);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("loom %s (InfluxDB %s compatible API)\n", LOOM_VERSION, LOOM_INFLUX_COMPAT_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "audit")) return audit_command(argc, argv);
  if (!strcmp(cmd, "routes")) {
    json_t *r = api_routes_json();
    char *text = r ? json_dumps(r, JSON_INDENT(1)) : NULL;
    json_decref(r);
    if (!text) return 1;
    printf("%s\n", text);
    free(text);
    return 0;
  }
  if (strcmp(cmd, "serve") && strcmp(cmd, "demo")) {
    fprintf(stderr, "loom: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
  }
  settings s = {.durability = TS_DURABLE, .log_level = LOOM_LOG_INFO};
  snprintf(s.data, sizeof s.data, "%s", "./loom-data");
  snprintf(s.http, sizeof s.http, "%s", "127.0.0.1:8080");
  snprintf(s.mqtt, sizeof s.mqtt, "%s", "127.0.0.1:1883");
  if (parse_args(&s, argc, argv)) return 2;
  loom_log_set_level(s.log_level);
  return run(&s, !strcmp(cmd, "demo"));
}
