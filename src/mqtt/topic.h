/* SPDX-License-Identifier: Apache-2.0
 * MQTT topic names and topic filters (MQTT 3.1.1 section 4.7, MQTT 5.0
 * sections 4.7 and 4.8.2): validation, shared-subscription parsing and the
 * filter-matches-name test. Pure functions over (pointer, length) strings;
 * the strings need not be NUL-terminated. Used by the subscription tree
 * (subtree.h), the retained store (retain.h) and the broker. Any thread.
 */
#ifndef LOOM_MQTT_TOPIC_H
#define LOOM_MQTT_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

/* Longest topic name or filter: a UTF-8 string's 16-bit length prefix. */
#define MQTT_TOPIC_MAX_LEN 65535u

/* Checks that s[0..len) is well-formed MQTT UTF-8 [MQTT-1.5.4-1]: valid
 * UTF-8 (no overlong forms, no UTF-16 surrogates U+D800..U+DFFF, nothing
 * above U+10FFFF) and no U+0000 [MQTT-1.5.4-2]. Control characters and
 * non-characters are accepted (the spec says SHOULD NOT, not MUST NOT).
 * Returns 0 or LOOM_EINVAL. */
int mqtt_utf8_validate(const char *s, size_t len);

/* Validates a topic name as found in PUBLISH (and will topics):
 * at least one byte [MQTT-4.7.3-1], at most MQTT_TOPIC_MAX_LEN, well-formed
 * UTF-8 (mqtt_utf8_validate), and no '+' or '#' [MQTT-3.3.2-2].
 * Names starting with '$' are valid here: whether a client may publish to
 * them is the broker's policy. Empty levels ("a//b", "/a") are valid.
 * Returns 0, LOOM_EINVAL (bad content or empty) or LOOM_ERANGE (too long). */
int mqtt_topic_name_validate(const char *s, size_t len);

/* Validates a plain (non-shared) topic filter as found in SUBSCRIBE:
 * non-empty [MQTT-4.7.3-1], at most MQTT_TOPIC_MAX_LEN, well-formed UTF-8,
 * '+' occupies a whole level [MQTT-4.7.1-2], '#' occupies a whole level and
 * is the last character [MQTT-4.7.1-1]. "$share/..." is validated as a
 * plain filter here; use mqtt_topic_share_parse first for MQTT 5 sessions.
 * Returns 0, LOOM_EINVAL or LOOM_ERANGE. */
int mqtt_topic_filter_validate(const char *s, size_t len);

/* A parsed "$share/{group}/{filter}". Pointers point into the caller's
 * string and live as long as it. */
typedef struct mqtt_share {
  const char *group;  /* ShareName */
  size_t group_len;
  const char *filter; /* the topic filter after the second '/' */
  size_t filter_len;
} mqtt_share;

/* Recognises a shared subscription (MQTT 5.0 section 4.8.2). If s does not
 * start with "$share/" returns 0 and leaves *out untouched (a plain filter:
 * validate it with mqtt_topic_filter_validate). Otherwise checks the
 * ShareName is at least one character, holds no '/', '+' or '#'
 * [MQTT-4.8.2-1][MQTT-4.8.2-2], is followed by '/' and a non-empty valid
 * topic filter, and returns 1 with *out filled. The whole string is also
 * checked for length and UTF-8. Errors: LOOM_EINVAL, LOOM_ERANGE. */
int mqtt_topic_share_parse(const char *s, size_t len, mqtt_share *out);

/* True when the (valid) filter matches the (valid) name, per MQTT 4.7:
 * '+' matches exactly one level (possibly empty), '#' matches the parent
 * level and any number of child levels ("a/#" matches "a"), matching is
 * byte-exact (case-sensitive, no normalisation), and a filter whose first
 * character is '+' or '#' never matches a name whose first character is
 * '$' [MQTT-4.7.2-1]. Invalid inputs give an unspecified bool, never a
 * crash. Pure, any thread. */
bool mqtt_topic_matches(const char *filter, size_t filter_len,
                        const char *name, size_t name_len);

/* True when the filter contains '+' or '#' (valid filters only). */
bool mqtt_topic_has_wildcard(const char *filter, size_t len);

#endif
