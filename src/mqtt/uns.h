/* SPDX-License-Identifier: Apache-2.0
 * Unified-namespace mapping rules: a tenant's list of rules that map plant
 * topics (e.g. "plant/+line/+machine/+metric") and their JSON or plain
 * payloads to a device, a measurement (profile) and telemetry key/values,
 * so existing publishers are stored without change. Pure: compiled once
 * (patterns and templates parsed, checked), applied to every PUBLISH that is
 * not a device topic; matching allocates nothing when no rule matches.
 * The registry side (kind "mqtt_rule", REST, per-tenant cache) is
 * api/mqtt_rules.h.
 */
#ifndef LOOM_MQTT_UNS_H
#define LOOM_MQTT_UNS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/tbjson.h"

/*
 * A rule is a JSON object (the registry's "mqtt_rule" entity; other members
 * such as id, tenant_id, created_ms are ignored):
 *   name      string, required: 1..255 bytes, named in every error
 *   pattern   string, required: '/'-separated levels, each one of
 *               literal     text without '+', '#', '{', '}' ("plant", "")
 *               +           any one level
 *               +name       any one level, captured as {name}
 *               #, #name    last level only: the rest of the topic (zero or
 *                           more levels, MQTT's rule: "a/#" matches "a"),
 *                           captured with its '/' separators
 *             names: 1..32 of [A-Za-z0-9_], unique in the pattern; at most
 *             UNS_LEVELS_MAX levels and UNS_CAPTURES_MAX captures. As in MQTT,
 *             a pattern whose first level is a wildcard does not match
 *             topics starting with '$'.
 *   device    template, required: text with {name} references to captures
 *             ("{line}-{machine}"); "{{" and "}}" are literal braces.
 *   profile   template, default "uns": the measurement the values go to.
 *   key       template, default "value": the telemetry key of a plain
 *             payload, of a JSON scalar payload, or of the JSON member
 *             selected by `value`.
 *   payload   "auto" (default: JSON if it parses, else plain), "json",
 *             "plain".
 *   value     null/absent or a member path ("value", "data.v", "arr.0": dot-
 *             separated object members, decimal array indices): the one
 *             JSON value stored under `key`. Absent: a JSON object payload
 *             stores every member as a key (as tbjson: {"k": v, ...} or
 *             ThingsBoard's {"ts": ms, "values": {...}}; an array of such
 *             objects gives several groups), a JSON scalar is stored under
 *             `key`.
 *   ts        null/absent or a member path holding the time, as ms since
 *             the epoch (a whole number) or an RFC 3339 string; when the
 *             member is missing the time is now_ns. With `value` absent and
 *             a one-segment path, that member is not stored as a key.
 *   enabled   boolean, default true: disabled rules are checked but skipped.
 *   priority  integer, default 0: lower first; equal priorities by name
 *             (byte order). The first matching rule wins, even when it
 *             then fails to read the payload.
 * Templates may only reference captures of their own pattern (compile
 * error naming the rule and field otherwise).
 *
 * Values (as tbjson, so a key keeps one type whatever the publisher prints):
 *   plain payload: a decimal number ("21.5", "-3", "1e3"; surrounding
 *   spaces allowed) -> float; "true"/"false" -> bool; any other valid UTF-8
 *   -> string; empty payload or invalid UTF-8 -> error.
 *   JSON: number -> float, true/false -> bool, string -> string, object or
 *   array selected by `value` -> string of its compact JSON, null -> error.
 * Device names, profiles and keys after expansion are checked as tbjson
 * checks keys: 1..255 bytes, no control characters, no backslash; keys are
 * not "time"; devices and profiles do not start with '#' (line protocol
 * would read a comment), so tbjson_format_lp(values, profile, tag, device)
 * accepts every hit. A JSON payload without any value ({} or []) is an
 * error too: a hit always carries at least one group.
 */

#define UNS_LEVELS_MAX 64   /* pattern levels */
#define UNS_CAPTURES_MAX 16 /* named captures in one pattern */
#define UNS_NAME_MAX 32     /* bytes of a capture name */

typedef struct uns_rules uns_rules;

/* Compile the array `rules` of rule objects (see above). Every rule is
 * checked, enabled or not; only enabled ones are kept. On success *out is a
 * new immutable object holding one reference (drop it with uns_rules_free)
 * that any number of threads may apply concurrently; an empty array gives
 * an object that matches nothing. Returns 0, LOOM_EINVAL (err names the rule, by name or index, the
 * field and why, e.g. `rule "line-temps": device: {cell} is not a capture of
 * the pattern`), LOOM_ENOMEM. err may be NULL. Pure; any thread. */
int uns_rules_compile(const json_t *rules, uns_rules **out, char *err, size_t errlen);

/* Take one more reference (atomic; any thread); returns r. NULL: no-op. */
const uns_rules *uns_rules_ref(const uns_rules *r);
/* Drop one reference; the last one frees. NULL is a no-op. Any thread. */
void uns_rules_free(const uns_rules *r);

/* Number of enabled rules kept by compile (0 for NULL). */
size_t uns_rules_count(const uns_rules *r);

/* A matched publish: strings are NUL-terminated; rule points into the
 * uns_rules the hit came from (valid while it lives); values holds one or
 * more groups (tbjson_batch_deinit through uns_hit_deinit). */
typedef struct uns_hit {
  char device[256];
  char profile[256];
  const char *rule;
  tbjson_batch values;
} uns_hit;

/* Apply r to a publish of topic[0..n) with payload[0..len) received at
 * now_ns. Returns 1 when a rule matched and read the payload (out filled;
 * the caller calls uns_hit_deinit), 0 when no rule matched (out untouched,
 * nothing allocated), LOOM_EINVAL when the first matching rule could not
 * read the payload or expanded a bad device/profile/key (err names the rule
 * and why; out holds nothing), LOOM_ENOMEM. r may be NULL (no rules: 0).
 * err may be NULL. Pure; any thread, concurrently on one r. */
int uns_rules_apply(const uns_rules *r, const char *topic, size_t n, const uint8_t *payload,
                    size_t len, int64_t now_ns, uns_hit *out, char *err, size_t errlen);

/* Release a hit filled by uns_rules_apply; it may be filled again. */
void uns_hit_deinit(uns_hit *h);

#endif
