/* SPDX-License-Identifier: Apache-2.0
 * The subscription tree: a trie with one node per topic level mapping MQTT
 * topic filters to subscribers (opaque pointers, e.g. sessions) with their
 * subscription options, plus MQTT 5 shared subscriptions ($share/g/filter).
 * Matching a topic name returns every normal subscriber once (MQTT 5 rule,
 * see mqtt_subtree_match) and one member per matching shared group (round
 * robin). Not thread-safe: one owner (the broker loop) calls everything.
 */
#ifndef LOOM_MQTT_SUBTREE_H
#define LOOM_MQTT_SUBTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest filter accepted by mqtt_subtree_add (levels = '/' count + 1).
 * Bounds the matcher's recursion; names may be deeper. */
#define MQTT_SUBTREE_MAX_LEVELS 256u

/* Options of one subscription (MQTT 5 SUBSCRIBE options + identifier). */
typedef struct mqtt_sub_opts {
  uint8_t qos;                /* maximum QoS 0..2 */
  bool no_local;              /* do not send the subscriber's own messages */
  bool retain_as_published;   /* keep the RETAIN flag when forwarding */
  uint8_t retain_handling;    /* 0..2, used by the broker at subscribe time */
  uint32_t sub_id;            /* subscription identifier, 0 = none */
} mqtt_sub_opts;

typedef struct mqtt_subtree mqtt_subtree;

/* One normal subscriber in a match result. */
typedef struct mqtt_match {
  void *sub;                  /* the subscriber pointer given to add */
  uint8_t qos;                /* maximum QoS over its matching filters */
  bool retain_as_published;   /* true if any matching filter has it */
  const uint32_t *sub_ids;    /* its non-zero identifiers, in match order */
  size_t n_sub_ids;
} mqtt_match;

/* One shared-subscription delivery: the member chosen in one group. */
typedef struct mqtt_shared_match {
  void *sub;
  mqtt_sub_opts opts;         /* that member's options for this filter */
  const char *group;          /* ShareName, owned by the tree: valid until */
  size_t group_len;           /* the subscription is removed */
  bool eligible;              /* the member passed the eligibility predicate
                                 (always true without one); false: no member
                                 of the group did, sub is the round-robin pick */
} mqtt_shared_match;

/* A caller-owned result buffer, reused across matches to avoid
 * allocation: init once, match many times, deinit once. Arrays are owned
 * by the buffer and valid until the next match on it or deinit. */
typedef struct mqtt_matches {
  mqtt_match *items;
  size_t n;
  mqtt_shared_match *shared;
  size_t n_shared;
  /* private */
  struct mqtt_hit *hits;
  size_t n_hits, cap_hits, cap_items, cap_shared;
  uint32_t *ids;
  size_t cap_ids;
  uint32_t *table;
  size_t cap_table;
} mqtt_matches;

void mqtt_matches_init(mqtt_matches *m);
void mqtt_matches_deinit(mqtt_matches *m);

/* Creates an empty tree. max_subs bounds the number of subscriptions
 * (normal + shared; 0 = no bound). Errors: LOOM_ENOMEM. */
int mqtt_subtree_new(size_t max_subs, mqtt_subtree **out);

/* Frees the tree and everything it owns (not the subscribers). NULL ok. */
void mqtt_subtree_free(mqtt_subtree *t);

/* Subscribes sub to filter (plain, or "$share/{group}/{filter}"; the
 * caller decides whether a protocol version allows shared ones). The
 * filter string is copied. If sub already has this exact filter (same
 * group for shared ones), its options are replaced and 1 is returned
 * (MQTT 5 3.8.4: retained messages then depend on retain_handling);
 * a new subscription returns 0. Errors: LOOM_EINVAL (invalid filter, QoS
 * > 2, retain_handling > 2, sub NULL, no_local on a shared subscription
 * [MQTT-3.8.3-4]), LOOM_ERANGE (too long, deeper than
 * MQTT_SUBTREE_MAX_LEVELS, or max_subs reached), LOOM_ENOMEM (the tree is
 * left unchanged). */
int mqtt_subtree_add(mqtt_subtree *t, const char *filter, size_t len,
                     void *sub, const mqtt_sub_opts *opts);

/* Unsubscribes sub from filter (exact string, as given to add). Nodes left
 * empty are freed. Returns 0, LOOM_ENOTFOUND, or LOOM_EINVAL. */
int mqtt_subtree_remove(mqtt_subtree *t, const char *filter, size_t len,
                        void *sub);

/* Removes every subscription of sub (session end); returns how many.
 * Cost is proportional to sub's own subscriptions, not to the tree. */
size_t mqtt_subtree_remove_all(mqtt_subtree *t, void *sub);

/* Finds the subscribers for a PUBLISH to the topic name (not validated
 * here: the codec validates names). Fills m:
 * - m->items: each normal subscriber ONCE, even when several of its
 *   filters match (MQTT 5 section 3.3.4: the server delivers one copy with
 *   the maximum QoS of the matching subscriptions and all their
 *   subscription identifiers; retain_as_published is OR-ed);
 *   subscriptions with no_local whose subscriber == publisher are skipped
 *   one by one before merging ([MQTT-3.8.3-3]; publisher may be NULL).
 * - m->shared: for each matching shared subscription (group + filter),
 *   one member chosen round robin (the choice advances on every match),
 *   among the eligible members when a predicate is set (see
 *   mqtt_subtree_set_eligible).
 * The order of entries is unspecified. Errors: LOOM_ENOMEM (m then holds
 * no entries). */
int mqtt_subtree_match(mqtt_subtree *t, const char *name, size_t len,
                       const void *publisher, mqtt_matches *m);

/* Optional predicate for shared subscriptions, e.g. "the member's client
 * is connected": called during mqtt_subtree_match with a member's
 * subscriber pointer; must not modify the tree. */
typedef bool (*mqtt_subtree_eligible_fn)(void *ud, const void *sub);

/* Sets (fn non-NULL) or clears (NULL) the predicate. With one, a group's
 * pick is the first eligible member in round-robin order starting at the
 * group's cursor (the cursor moves past it), so deliveries rotate over the
 * eligible members; when no member is eligible the plain round-robin
 * member is returned with eligible = false (the caller decides: queue or
 * drop). Costs at most one call per member per matching group. */
void mqtt_subtree_set_eligible(mqtt_subtree *t, mqtt_subtree_eligible_fn fn, void *ud);

/* Trie nodes currently allocated, root excluded (0 for an empty tree). */
size_t mqtt_subtree_node_count(const mqtt_subtree *t);

/* Subscriptions currently held (normal + shared). */
size_t mqtt_subtree_sub_count(const mqtt_subtree *t);

#endif
