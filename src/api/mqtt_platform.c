/* SPDX-License-Identifier: Apache-2.0
 * The MQTT platform hooks (mqtt_platform.h). Work in progress.
 */
#include "api/mqtt_platform.h"

void api_mqtt_rpc_notify(api_mqtt *p, const char *device_id) {
  (void)p;
  (void)device_id;
}
