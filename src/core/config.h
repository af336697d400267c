/* SPDX-License-Identifier: Apache-2.0
 * The configuration file: one `key = value` per line, `#` comments, values
 * optionally in double quotes (no escapes), keys [a-z0-9_.]. Every key has a
 * default, so no file is needed. Pure parser over a buffer; the daemon maps
 * keys to options and rejects unknown ones with the line number.
 */
#ifndef LOOM_CORE_CONFIG_H
#define LOOM_CORE_CONFIG_H

#include <stddef.h>

/* Called for each setting; returns 0 to go on, or an error (with err filled)
 * to stop: loom_config_parse then returns it. */
typedef int (*loom_config_cb)(void *arg, const char *key, const char *value, unsigned line,
                              char *err, size_t errlen);

/* Parse text[0..len). Returns 0, LOOM_EINVAL with err = "line N: why" for a
 * malformed line, or the callback's error. */
int loom_config_parse(const char *text, size_t len, loom_config_cb cb, void *arg, char *err,
                      size_t errlen);

#endif
