/* SPDX-License-Identifier: Apache-2.0
 * Sparkplug B 3.0 host application "loom" inside the broker: the platform
 * (mqtt_platform.c) hands every PUBLISH under `spBv1.0/` to api_spb_on_publish.
 * Births define devices and aliases, DATA becomes telemetry (api_mqtt_store),
 * deaths mark devices offline, gaps and DATA before a birth ask the edge node
 * for a rebirth (NCMD), births are retained under `$sparkplug/certificates/`
 * (Sparkplug-aware broker), and STATE announces the host. Registry commands
 * to a Sparkplug device become NCMD/DCMD (api_spb_command).
 *
 * Device names (valid registry device names, no '/'):
 *   edge node        <group>:<node>
 *   device of a node <group>:<node>:<device>
 * profile "sparkplug" (so the measurement is "sparkplug", tag device=<name>).
 * Metric names (which contain '/') are the telemetry keys; the metric's
 * timestamp (else the payload's, else now) is the point time.
 *
 * Values stored, by Sparkplug datatype:
 *   Int8..Int64, UInt8..UInt32, DateTime (ms)   integer
 *   UInt64                                      integer; above INT64_MAX a float
 *   Float, Double                               float (NaN/Inf skipped); a Float as the
 *                                               shortest decimal of the float (0.1f -> 0.1)
 *   Boolean                                     boolean
 *   String, Text, UUID                          string
 *   arrays, DataSet, Template                   string holding JSON (see mqtt/spb.h)
 *   Bytes                                       string of hex, up to 4 KiB (larger skipped)
 *   File, PropertySet(List), unknown datatypes  skipped
 * Metrics with is_null or is_transient, unknown aliases, or names line
 * protocol cannot carry (control bytes, backslash, "time", > 255 bytes) are
 * skipped.
 *
 * Commands (api_spb_command): a metric of the last NBIRTH/DBIRTH, params a
 * JSON integer for Int8..Int64 (range checked), a non-negative integer for
 * UInt8..UInt64 (UInt64 also a decimal string), a number for Float/Double,
 * true/false for Boolean, a string for String/Text/UUID, a non-negative
 * integer (ms) for DateTime. The command carries the metric's name (no
 * alias), its birth datatype and the payload timestamp; NCMD/DCMD carry no
 * seq. Other datatypes are refused (LOOM_EUNSUP). Sparkplug commands have no
 * answer: a published command is "successful".
 */
#ifndef LOOM_API_MQTT_SPARKPLUG_H
#define LOOM_API_MQTT_SPARKPLUG_H

#include <stddef.h>

#include "mqtt/broker.h"

struct api_mqtt;
typedef struct api_mqtt_client api_mqtt_client; /* mqtt_platform.h */

typedef struct api_spb api_spb;

/* The Sparkplug host id (STATE topic `spBv1.0/STATE/loom`). */
#define API_SPB_HOST_ID "loom"

/* Create the Sparkplug host on top of the platform p (borrowed; must outlive
 * the result) and publish its STATE birth: retained
 * `spBv1.0/STATE/loom` {"online":true,"timestamp":<ms>} (global topic, no
 * tenant mount). Call once the broker runs. 0, LOOM_EINVAL (p NULL),
 * LOOM_ENOMEM. Any thread. */
int api_spb_new(struct api_mqtt *p, api_spb **out);

/* Publish the STATE death (retained {"online":false,"timestamp":<ms>}) once,
 * and from then on api_spb_on_publish only routes (nothing decoded or
 * stored) and api_spb_command answers LOOM_ECLOSED. Idempotent; any thread;
 * call while the broker still runs. NULL ok. */
void api_spb_stop(api_spb *s);

/* api_spb_stop (if not done yet) and free. No other call may be running or
 * follow: free after the broker thread stopped calling hooks and worker jobs
 * (commands) finished. NULL ok. */
void api_spb_free(api_spb *s);

/* A PUBLISH from client c whose topic (without the tenant mount) starts with
 * `spBv1.0/`. Returns the broker's MQTT_HOOK_* flags (ROUTE always: Sparkplug
 * messages are delivered to other subscribers too; PENDING when the payload
 * is being stored and done will be called once from any thread), or a
 * negative MQTT reason (-0x99 payload format invalid: not a Sparkplug
 * payload; -0x87 not authorized: the client may not publish there).
 * Malformed topics (not `spBv1.0/<group>/<type>/<node>[/<device>]`) and
 * message types a host ignores (NCMD/DCMD from other hosts) are routed
 * untouched. Broker thread only. */
int api_spb_on_publish(api_spb *s, const api_mqtt_client *c, const mqtt_pub_view *m,
                       mqtt_ack_done_fn done, void *arg);

/* A registry command (RPC) for a Sparkplug device: device_name is
 * "<group>:<node>" (NCMD) or "<group>:<node>:<device>" (DCMD) in the tenant
 * whose topic mount is mount ("" = none); method is a metric name from the
 * last birth; params_json its new value as JSON (number, true/false, string).
 * The command is encoded with the metric's birth datatype and published
 * (QoS 0) to `<mount>spBv1.0/<group>/NCMD/<node>[/<device>]`.
 * 0; LOOM_ENOTFOUND (no birth seen for that node/device, or no such metric);
 * LOOM_EINVAL (value does not fit the datatype; err says why);
 * LOOM_EUNSUP (datatype not writable: DataSet, Template, arrays, File);
 * LOOM_ENOMEM. err may be NULL. Any thread. */
int api_spb_command(api_spb *s, const char *mount, const char *device_name, const char *method,
                    const char *params_json, char *err, size_t errlen);

#endif
