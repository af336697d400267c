/* SPDX-License-Identifier: Apache-2.0
 * The retained-message store, in memory: one message per topic name,
 * replaced by each retained PUBLISH, deleted by an empty payload
 * (MQTT 5 section 3.3.1.3), and listed by topic filter when a
 * subscription is made. Bounded by a message count and a byte total given
 * at creation. Payloads and properties are copied and owned by the store.
 * Not thread-safe: one owner (the broker loop). No persistence here.
 */
#ifndef LOOM_MQTT_RETAIN_H
#define LOOM_MQTT_RETAIN_H

#include <stddef.h>
#include <stdint.h>

typedef struct mqtt_retain mqtt_retain;

/* One retained message. In mqtt_retain_set the caller owns the pointers
 * (they are copied); in the iteration callback they are owned by the store
 * and valid only during the callback. */
typedef struct mqtt_retain_msg {
  const char *topic;      /* topic name, not NUL-terminated */
  size_t topic_len;
  const uint8_t *payload;
  size_t payload_len;     /* 0 in set = delete the topic's message */
  uint8_t qos;            /* 0..2, QoS it was published with */
  const uint8_t *props;   /* opaque encoded MQTT 5 properties to keep */
  size_t props_len;       /* (e.g. expiry, content type); may be 0 */
} mqtt_retain_msg;

/* Called once per matching message; return 0 to continue, anything else
 * stops the iteration and is returned by mqtt_retain_match. The callback
 * must not call set on the same store. */
typedef int (*mqtt_retain_each_cb)(void *ud, const mqtt_retain_msg *msg);

/* Creates an empty store holding at most max_count messages and
 * max_bytes bytes (sum of topic + payload + props lengths); 0 = no bound.
 * Errors: LOOM_ENOMEM. */
int mqtt_retain_new(size_t max_count, size_t max_bytes, mqtt_retain **out);

/* Frees the store and all messages. NULL ok. */
void mqtt_retain_free(mqtt_retain *r);

/* Stores (replaces) the message for msg->topic, or deletes it when
 * payload_len is 0 (deleting an absent topic is not an error). The topic
 * must be a valid topic name (mqtt_topic_name_validate). Returns 0, or:
 * LOOM_EINVAL (bad topic, qos > 2, NULL pointer with non-zero length),
 * LOOM_ERANGE (the store is full by count or bytes: nothing changed, the
 * previous message for the topic, if any, is kept), LOOM_ENOMEM. */
int mqtt_retain_set(mqtt_retain *r, const mqtt_retain_msg *msg);

/* Calls cb for every stored message whose topic matches filter (a valid
 * plain topic filter, '$' rule included: "#" does not list "$SYS/x").
 * A filter without wildcards is one hash lookup; a wildcard filter scans
 * every message (O(count)). Order unspecified. Returns 0 when all were
 * visited, the callback's non-zero value if it stopped, or LOOM_EINVAL for
 * an invalid filter. */
int mqtt_retain_match(mqtt_retain *r, const char *filter, size_t len,
                      mqtt_retain_each_cb cb, void *ud);

/* Calls cb for every stored message, '$' topics included (snapshots).
 * Same callback rules as mqtt_retain_match. Returns 0, the callback's
 * non-zero value, or LOOM_EINVAL (NULL r or cb). */
int mqtt_retain_each(mqtt_retain *r, mqtt_retain_each_cb cb, void *ud);

/* Resumable mqtt_retain_each, for work done in slices: visits at most max
 * messages (0 = no bound) from position *pos (start with 0) and advances
 * *pos past those visited; the iteration is complete when *pos >=
 * mqtt_retain_count(r). Between slices the store may change: a message set
 * or deleted meanwhile may be visited twice or not at all (a deletion moves
 * the last message into the hole), every other message exactly once.
 * Returns as mqtt_retain_each. */
int mqtt_retain_each_from(mqtt_retain *r, size_t *pos, size_t max, mqtt_retain_each_cb cb,
                          void *ud);

/* Number of messages / bytes (as bounded by max_bytes) held. */
size_t mqtt_retain_count(const mqtt_retain *r);
size_t mqtt_retain_bytes(const mqtt_retain *r);

#endif
