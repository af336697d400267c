/* SPDX-License-Identifier: Apache-2.0
 * /api/v1/devices and the secret-bearing parts of /api/v1/device-profiles.
 * A device's access token is generated ("lm_d_...") or chosen by the
 * caller ("accessToken", as ThingsBoard allows), shown once, stored as its
 * BLAKE2b-256 hash; POST .../credentials rotates it. MQTT passwords
 * ("mqtt_password") and profile provision secrets ("provision_secret") are
 * stored as argon2id hashes (verify with sec_password_verify).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "core/err.h"

/* Move the plain-text field `field` of in into secrets[hash_field] as an
 * argon2id hash. 0 (also when absent) or answered. */
static int hash_field(api_call *c, json_t *in, const char *field, const char *hash_field_name,
                      json_t *secrets) {
  json_t *v = json_object_get(in, field);
  if (!v) return 0;
  if (json_is_null(v)) {
    json_object_set_new(secrets, hash_field_name, json_null());
    json_object_del(in, field);
    return 0;
  }
  const char *s = json_string_value(v);
  if (!s || strlen(s) < 4 || strlen(s) > 256) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: must be a string of 4 to 256 bytes", field);
    api_error(c->req, 400, msg);
    return LOOM_EINVAL;
  }
  char hash[SEC_PASSWORD_HASH_MAX];
  int rc = sec_password_hash(&c->api->pw_limits, s, hash);
  if (rc) {
    api_error(c->req, 500, "cannot hash the secret");
    return rc;
  }
  json_object_set_new(secrets, hash_field_name, json_string(hash));
  json_object_del(in, field);
  return 0;
}

/* The device access token: accessToken from in (removed), or a new one. */
static int access_token(api_call *c, json_t *in, char *out, size_t cap, char hex[SEC_TOKEN_HEX_MAX]) {
  const char *given = in ? json_string_value(json_object_get(in, "accessToken")) : NULL;
  if (in && json_object_get(in, "accessToken") && (!given || !*given || strlen(given) >= cap)) {
    api_error(c->req, 400, "accessToken: must be a non-empty string of at most 255 bytes");
    return LOOM_EINVAL;
  }
  if (given) {
    snprintf(out, cap, "%s", given);
  } else if (sec_token_generate(SEC_TOKEN_DEVICE, out)) {
    api_error(c->req, 500, "cannot generate a token");
    return LOOM_EIO;
  }
  if (in) json_object_del(in, "accessToken");
  uint8_t h[SEC_TOKEN_HASH_LEN];
  sec_token_hash(out, strlen(out), h);
  sec_token_hash_hex(h, hex);
  return 0;
}

void rest_device_create(api_call *c) {
  json_t *in, *secrets = json_object();
  char token[256], hex[SEC_TOKEN_HEX_MAX];
  if (!secrets || api_body_object(c, &in)) {
    json_decref(secrets);
    return;
  }
  if (access_token(c, in, token, sizeof token, hex) ||
      hash_field(c, in, "mqtt_password", "mqtt_password_hash", secrets)) {
    json_decref(in);
    json_decref(secrets);
    return;
  }
  json_object_set_new(secrets, "token_hash", json_string(hex));
  json_t *dev = NULL;
  if (!rest_do_create(c, META_DEVICE, in, secrets, &dev)) {
    json_object_set_new(dev, "credentials", json_pack("{s:s}", "accessToken", token));
    api_reply_json(c->req, 201, dev);
  }
  sodium_memzero(token, sizeof token);
  json_decref(secrets);
}

void rest_device_update(api_call *c) {
  json_t *in, *secrets = json_object();
  if (!secrets || api_body_object(c, &in)) {
    json_decref(secrets);
    return;
  }
  if (json_object_get(in, "accessToken")) {
    json_decref(in);
    json_decref(secrets);
    api_error(c->req, 400, "accessToken: rotate it with POST /api/v1/devices/{id}/credentials");
    return;
  }
  if (hash_field(c, in, "mqtt_password", "mqtt_password_hash", secrets)) {
    json_decref(in);
    json_decref(secrets);
    return;
  }
  bool mqtt = json_object_size(secrets) > 0;
  rest_do_update(c, META_DEVICE, api_param(c, "id"), in, mqtt ? secrets : NULL,
                 mqtt ? "device.credentials.mqtt" : NULL, NULL, NULL);
  json_decref(secrets);
}

void rest_device_delete(api_call *c) { rest_do_delete(c, META_DEVICE, api_param(c, "id"), false); }

void rest_device_credentials(api_call *c) {
  json_t *in, *secrets = NULL, *dev = NULL;
  char token[256], hex[SEC_TOKEN_HEX_MAX];
  if (api_body_object(c, &in)) return;
  if (access_token(c, in, token, sizeof token, hex)) {
    json_decref(in);
    return;
  }
  json_t *upd = json_object();
  secrets = json_pack("{s:s}", "token_hash", hex);
  if (!upd || !secrets) {
    api_error(c->req, 500, "out of memory");
    json_decref(upd);
    goto out;
  }
  /* audited as a credential change; the update itself carries no fields */
  if (!rest_do_update(c, META_DEVICE, api_param(c, "id"), upd, secrets,
                      "device.credentials.rotate", NULL, &dev)) {
    json_decref(dev);
    api_reply_json(c->req, 200, json_pack("{s:s}", "accessToken", token));
  }
out:
  sodium_memzero(token, sizeof token);
  json_decref(in);
  json_decref(secrets);
}

/* ---- device profiles: provision secrets ---- */

static void profile_write(api_call *c, bool create) {
  json_t *in, *secrets = json_object();
  if (!secrets || api_body_object(c, &in)) {
    json_decref(secrets);
    return;
  }
  if (hash_field(c, in, "provision_secret", "provision_secret_hash", secrets)) {
    json_decref(in);
    json_decref(secrets);
    return;
  }
  const json_t *s = json_object_size(secrets) ? secrets : NULL;
  if (create) rest_do_create(c, META_PROFILE, in, s, NULL);
  else rest_do_update(c, META_PROFILE, api_param(c, "id"), in, s, NULL, NULL, NULL);
  json_decref(secrets);
}

void rest_profile_create(api_call *c) { profile_write(c, true); }
void rest_profile_update(api_call *c) { profile_write(c, false); }
