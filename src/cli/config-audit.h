/* `gannet config check` and the server's start-up log: one warning per setting
 * that exposes passwords, mail or the server, with a stable identifier
 * (docs/findings.md) that `gannet probe` reuses for what it sees from outside. */
#ifndef GANNET_CLI_CONFIG_AUDIT_H
#define GANNET_CLI_CONFIG_AUDIT_H

#include "lib/settings.h"

/* id: "log.passwords", "tls.weak_cipher", ... (never changes once published);
 * setting: the setting that causes it ("auth_debug_passwords", "passdb", ...);
 * message: one sentence saying what is exposed. Never contains a password. */
typedef void config_audit_cb(const char *id, const char *setting, const char *message, void *ctx);

/* Calls cb once per dangerous setting, in a fixed order. Reads the passwd-files
 * and stats the key file named in the settings; a file it cannot read is
 * skipped (settings_load and authdb_open report those). */
void config_audit(const struct settings *s, config_audit_cb *cb, void *ctx);

#endif
