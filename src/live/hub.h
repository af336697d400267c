/* SPDX-License-Identifier: Apache-2.0
 * The live fan-out hub: subscribers register interest in a kind of event
 * (telemetry, device state, command status) of one device (tenant database +
 * device name); publishers (ingest after a write is acknowledged, the device
 * API, the RPC handlers) hand events over and the hub calls each matching
 * subscriber's callback on the publisher's thread. Keys: telemetry events
 * are keyed by (tenant database, device name), as points carry them; state
 * and command events by (tenant id, device id), as the registry knows them. When nobody subscribes,
 * live_hub_wants costs one atomic load, so the write path pays nothing.
 * Also the registry of live sessions (WebSocket now, MQTT later) by token id
 * and user id, so revoking a token or disabling a user cuts them at once.
 */
#ifndef LOOM_LIVE_HUB_H
#define LOOM_LIVE_HUB_H

#include <stddef.h>
#include <stdint.h>

typedef struct live_hub live_hub;
typedef struct live_sub live_sub;
typedef struct live_session live_session;

typedef enum live_kind {
  LIVE_TELEMETRY = 1, /* json: {"key": value, ...} of one point */
  LIVE_STATE = 2,     /* json: {"state": "online"|"offline", ...} */
  LIVE_RPC = 3        /* json: {"rpc_id": "...", "status": "...", ...} */
} live_kind;

/* One event. Every pointer is valid only during the callback. */
typedef struct live_event {
  live_kind kind;
  const char *db;     /* telemetry: the tenant's engine database; state, rpc: the tenant id */
  const char *device; /* telemetry: the device name; state, rpc: the device id */
  int64_t ts_ns;      /* event time, ns since the Unix epoch */
  const char *json;   /* a JSON object, json_len bytes, not NUL-terminated */
  size_t json_len;
} live_event;

/* Subscriber callback: publisher's thread, under the hub's read lock (it
 * must not subscribe or unsubscribe; it should only queue). Returns 0, or
 * non-zero when its queue is full: the hub then counts a drop and marks the
 * subscription overflowed (live_sub_overflowed), and calls it no more. */
typedef int (*live_event_cb)(void *user, const live_event *ev);

/* 0 and *out, or LOOM_ENOMEM. free: no subscriber or session may remain
 * registered (NULL is a no-op). */
int live_hub_new(live_hub **out);
void live_hub_free(live_hub *h);

/* Register interest in events of `kind` for (db, device). Any thread.
 * 0 and *out; LOOM_EINVAL (bad kind, empty names); LOOM_ENOMEM. */
int live_subscribe(live_hub *h, live_kind kind, const char *db, const char *device,
                   live_event_cb cb, void *user, live_sub **out);

/* Remove and free a subscription. When it returns, the callback is not
 * running and will never run again. Any thread except inside a callback.
 * NULL is a no-op. */
void live_unsubscribe(live_hub *h, live_sub *s);

/* Non-zero once the subscription's callback refused an event. Any thread. */
int live_sub_overflowed(const live_sub *s);

/* Is anybody subscribed to `kind` events of database db? One atomic load
 * when the hub has no subscriber at all. Any thread. */
int live_hub_wants(live_hub *h, live_kind kind, const char *db);

/* Deliver ev to every matching subscriber. Returns the number of callbacks
 * that accepted it. Any thread. */
size_t live_publish(live_hub *h, const live_event *ev);

/* Events refused by full subscriber queues so far (for /metrics). */
uint64_t live_hub_dropped(live_hub *h);

/* ---- live sessions (revocation) ---- */

/* Called (on the revoking thread) to end a session: code is a WebSocket
 * close code (1008), reason a short static text ("token revoked"). It must
 * only queue the close. */
typedef void (*live_kick_cb)(void *user, int code, const char *reason);

/* Register a session authenticated with token id token_id ("" for the admin
 * token) of user user_id ("" if none). 0 and *out, LOOM_ENOMEM. Any thread. */
int live_session_add(live_hub *h, const char *token_id, const char *user_id, live_kick_cb cb,
                     void *user, live_session **out);

/* Unregister (the kick callback is not running when it returns). NULL: no-op. */
void live_session_remove(live_hub *h, live_session *s);

/* Kick every session of a token / of a user with 1008 and the reason.
 * Returns how many were kicked. Any thread. */
size_t live_session_revoke_token(live_hub *h, const char *token_id, const char *reason);
size_t live_session_revoke_user(live_hub *h, const char *user_id, const char *reason);

/* Sessions registered now. */
size_t live_session_count(live_hub *h);

#endif
