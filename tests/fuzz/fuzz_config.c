/* SPDX-License-Identifier: Apache-2.0
 * libFuzzer target: the configuration file parser over arbitrary bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/config.h"

static int count_cb(void *arg, const char *key, const char *value, unsigned line, char *err,
                    size_t errlen) {
  (void)err;
  (void)errlen;
  (void)line;
  *(size_t *)arg += strlen(key) + strlen(value);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  size_t total = 0;
  loom_config_parse((const char *)data, size, count_cb, &total, err, sizeof err);
  return 0;
}
