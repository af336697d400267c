/* SPDX-License-Identifier: Apache-2.0
 * Operations endpoints: GET /ping (InfluxDB's liveness probe, 204 with the
 * version headers clients check), GET /health (JSON), GET /metrics
 * (Prometheus text exposition format 0.0.4).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "mqtt/broker.h"

/* Upper bounds (seconds) of the query latency histogram buckets; +Inf last. */
static const double query_buckets[12] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,   0.25,   0.5,   1,    2.5,   10};

void api_note_query(loom_api *api, int64_t ns, int failed) {
  atomic_fetch_add(&api->queries, 1);
  atomic_fetch_add(&api->query_ns_total, (uint64_t)ns);
  if (failed) atomic_fetch_add(&api->query_errors, 1);
  for (int i = 0; i < 12; i++)
    if ((double)ns / 1e9 <= query_buckets[i]) atomic_fetch_add(&api->query_hist[i], 1);
}

static void version_headers(http_req *req) {
  http_req_add_header(req, "X-Influxdb-Version", LOOM_INFLUX_COMPAT_VERSION);
  http_req_add_header(req, "X-Influxdb-Build", "OSS");
  http_req_add_header(req, "X-Loom-Version", LOOM_VERSION);
}

void api_ping(http_req *req, loom_api *api) {
  (void)api;
  version_headers(req);
  const char *verbose = http_req_param(req, "verbose");
  if (verbose && (!strcmp(verbose, "true") || !strcmp(verbose, "1"))) {
    static const char body[] = "{\"version\":\"" LOOM_INFLUX_COMPAT_VERSION "\"}";
    http_respond(req, 200, "application/json", body, sizeof body - 1);
    return;
  }
  http_respond(req, 204, NULL, NULL, 0);
}

void api_health(http_req *req, loom_api *api) {
  ts_engine_stats st;
  ts_engine_stats_get(api->engine, &st);
  version_headers(req);
  char body[512];
  int n = snprintf(body, sizeof body,
                   "{\"name\":\"loom\",\"message\":\"%s\",\"status\":\"%s\",\"checks\":[],"
                   "\"version\":\"%s\",\"uptime_s\":%lld}",
                   st.readonly ? "storage is read-only after an I/O error; restart needed"
                               : "ready for queries and writes",
                   st.readonly ? "fail" : "pass", LOOM_VERSION,
                   (long long)((loom_now_ns() - api->started_ns) / LOOM_NS_PER_S));
  http_respond(req, st.readonly ? 503 : 200, "application/json", body, (size_t)n);
}

static uint64_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &rss) != 2) rss = 0;
    fclose(f);
  }
  return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void metric(loom_buf *b, const char *name, const char *type, const char *help, double v) {
  loom_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

void api_metrics(http_req *req, loom_api *api) {
  ts_engine_stats st;
  ts_engine_stats_get(api->engine, &st);
  loom_buf b;
  loom_buf_init(&b);
  metric(&b, "loom_ingest_points_total", "counter", "Field values stored.", (double)st.points_written);
  metric(&b, "loom_ingest_lines_total", "counter", "Line-protocol lines stored.", (double)st.lines_written);
  metric(&b, "loom_ingest_rejected_total", "counter", "Points refused (type conflict, retention).",
         (double)st.points_rejected);
  metric(&b, "loom_series", "gauge", "Columns (series x field) known to the engine.", (double)st.columns);
  metric(&b, "loom_tag_sets", "gauge", "Series (measurement + tag set) known.", (double)st.series);
  metric(&b, "loom_databases", "gauge", "Databases.", (double)st.databases);
  metric(&b, "loom_head_points", "gauge", "Points held in memory, not yet in segments.", (double)st.head_points);
  metric(&b, "loom_head_bytes", "gauge", "Bytes held by the in-memory head.", (double)st.head_bytes);
  metric(&b, "loom_segments", "gauge", "Segment files.", (double)st.segments);
  metric(&b, "loom_segment_bytes", "gauge", "Bytes in segment files.", (double)st.segment_bytes);
  metric(&b, "loom_partitions_unmerged", "gauge",
         "Partitions with more than one segment (merged once cold).", (double)st.partitions_unmerged);
  metric(&b, "loom_wal_bytes_total", "counter", "Bytes written to the WAL.", (double)st.wal_bytes_written);
  metric(&b, "loom_wal_fsyncs_total", "counter", "WAL fsyncs.", (double)st.wal_fsyncs);
  metric(&b, "loom_wal_fsync_seconds_total", "counter", "Time spent in WAL fsyncs.",
         (double)st.wal_fsync_ns_total / 1e9);
  metric(&b, "loom_wal_fsync_seconds_max", "gauge", "Longest WAL fsync.", (double)st.wal_fsync_ns_max / 1e9);
  metric(&b, "loom_flushes_total", "counter", "Head flushes.", (double)st.flushes);
  metric(&b, "loom_compactions_total", "counter", "Partition compactions.", (double)st.compactions);
  metric(&b, "loom_recovery_wal_records", "gauge", "WAL records replayed at the last start.",
         (double)st.replay_records);
  metric(&b, "loom_recovery_wal_truncated_bytes", "gauge",
         "Bytes of torn WAL tail cut at the last start.", (double)st.replay_truncated_bytes);
  metric(&b, "loom_recovery_wal_corrupt_files", "gauge",
         "Older WAL files found damaged at the last start.", (double)st.replay_corrupt_files);
  metric(&b, "loom_storage_readonly", "gauge", "1 after an unrecoverable storage I/O error.", st.readonly);
  loom_buf_printf(&b, "# HELP loom_query_duration_seconds Query latency.\n"
                      "# TYPE loom_query_duration_seconds histogram\n");
  for (int i = 0; i < 12; i++)
    loom_buf_printf(&b, "loom_query_duration_seconds_bucket{le=\"%g\"} %llu\n", query_buckets[i],
                    (unsigned long long)atomic_load(&api->query_hist[i]));
  uint64_t nq = atomic_load(&api->queries);
  loom_buf_printf(&b,
                  "loom_query_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                  "loom_query_duration_seconds_sum %.9f\nloom_query_duration_seconds_count %llu\n",
                  (unsigned long long)nq, (double)atomic_load(&api->query_ns_total) / 1e9,
                  (unsigned long long)nq);
  metric(&b, "loom_query_errors_total", "counter", "Queries that failed.", (double)atomic_load(&api->query_errors));
  if (api->http) {
    http_server_stats hs;
    http_server_stats_get(api->http, &hs);
    loom_buf_printf(&b, "# HELP loom_http_responses_total HTTP responses by status class.\n"
                        "# TYPE loom_http_responses_total counter\n");
    const uint64_t cls[5] = {hs.responses_1xx, hs.responses_2xx, hs.responses_3xx, hs.responses_4xx,
                             hs.responses_5xx};
    for (int i = 0; i < 5; i++)
      loom_buf_printf(&b, "loom_http_responses_total{class=\"%dxx\"} %llu\n", i + 1,
                      (unsigned long long)cls[i]);
    metric(&b, "loom_http_bytes_received_total", "counter", "HTTP bytes read.", (double)hs.bytes_in);
    metric(&b, "loom_http_connections", "gauge", "Open HTTP connections.", (double)hs.conns_open);
  }
  if (api->mqtt) {
    mqtt_broker_stats ms;
    mqtt_broker_stats_get(api->mqtt, &ms);
    metric(&b, "loom_mqtt_connections", "gauge", "Open MQTT connections (TCP and WebSocket).",
           (double)ms.conns_open);
    metric(&b, "loom_mqtt_connections_total", "counter", "MQTT connections accepted.",
           (double)ms.conns_total);
    metric(&b, "loom_mqtt_messages_received_total", "counter", "MQTT PUBLISH packets received.",
           (double)ms.msgs_in);
    metric(&b, "loom_mqtt_messages_sent_total", "counter", "MQTT PUBLISH packets sent.",
           (double)ms.msgs_out);
    metric(&b, "loom_mqtt_messages_dropped_total", "counter",
           "MQTT messages dropped (queue full, expired, too large).", (double)ms.msgs_dropped);
    metric(&b, "loom_mqtt_sessions", "gauge", "MQTT sessions (connected and persistent).",
           (double)ms.sessions);
    metric(&b, "loom_mqtt_subscriptions", "gauge", "MQTT subscriptions.", (double)ms.subscriptions);
  }
  metric(&b, "loom_process_resident_memory_bytes", "gauge", "Resident set size.", (double)rss_bytes());
  metric(&b, "loom_memory_allocated_bytes", "gauge", "Bytes allocated through Loom's allocator.",
         (double)loom_mem_used());
  metric(&b, "loom_uptime_seconds", "gauge", "Seconds since start.",
         (double)(loom_now_ns() - api->started_ns) / 1e9);
  http_respond(req, 200, "text/plain; version=0.0.4", b.data, b.len);
  loom_buf_deinit(&b);
}
