/* The secret that keys scram_user_salt() (auth/password.h), kept in a file
 * under state_dir so that it stays the same from one start to the next: the
 * made-up salt of an unknown user is then as stable as a real user's stored
 * one, and an attacker who compares salts before and after a restart cannot
 * tell which names are real. */
#ifndef GANNET_AUTH_SCRAM_SECRET_H
#define GANNET_AUTH_SCRAM_SECRET_H

#include "lib/buf.h"

#include <stdbool.h>

#define SCRAM_SECRET_LEN 32
#define SCRAM_SECRET_FILE "scram-salt.key"

/* Reads DIR/scram-salt.key, or creates it with fresh random bytes (mode 0600,
 * and DIR with mode 0700 when it is missing). *created tells which. Returns 0,
 * or -1 with err (the file cannot be read or written, or is not exactly
 * SCRAM_SECRET_LEN bytes long). */
int scram_secret_load(const char *dir, unsigned char secret[SCRAM_SECRET_LEN], bool *created,
                      struct buf *err);

#endif
