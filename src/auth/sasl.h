/* Server side of the SASL mechanisms (RFC 4422): PLAIN (RFC 4616), LOGIN
 * (draft-murchison-sasl-login) and SCRAM-SHA-256 (RFC 5802, RFC 7677). The
 * protocol layer decodes base64 and feeds the raw client messages in; this
 * module never touches passwords on disk and never logs. */
#ifndef GANNET_AUTH_SASL_H
#define GANNET_AUTH_SASL_H

#include "auth/password.h"
#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>

enum sasl_mech { SASL_MECH_PLAIN, SASL_MECH_LOGIN, SASL_MECH_SCRAM_SHA_256 };

/* "PLAIN" -> SASL_MECH_PLAIN, case-insensitive; false when unknown. */
bool sasl_mech_from_name(const char *name, enum sasl_mech *out);
const char *sasl_mech_name(enum sasl_mech mech);

enum sasl_status {
    SASL_CONTINUE,            /* send `out` as the next challenge, wait for a response */
    SASL_NEED_PASSWORD_CHECK, /* PLAIN/LOGIN: verify sasl_password() for sasl_authcid() */
    SASL_NEED_CREDENTIALS,    /* SCRAM: call sasl_scram_set_credentials() for sasl_authcid() */
    SASL_SUCCESS,             /* authenticated; `out` holds additional data for the
                                 client (SCRAM's server-final), possibly empty */
    SASL_FAIL,                /* malformed or wrong: *err says why (safe to log) */
};

struct sasl_server;

struct sasl_server *sasl_server_new(enum sasl_mech mech);
void sasl_server_free(struct sasl_server *s); /* wipes secrets */

/* Feeds one client message (already base64-decoded; the initial response counts
 * as the first). `in` may be NULL with len 0 for "no initial response". Appends
 * the next server message, raw, to out. */
enum sasl_status sasl_server_step(struct sasl_server *s, const unsigned char *in, size_t len,
                                  struct buf *out, const char **err);

/* After SASL_NEED_CREDENTIALS: the user's SCRAM credentials, or NULL for an
 * unknown user (the exchange then goes on with made-up credentials and fails
 * at the proof, so that user names can't be probed). Returns SASL_CONTINUE with
 * the server-first message in out. */
enum sasl_status sasl_scram_set_credentials(struct sasl_server *s,
                                            const struct scram_credentials *cred, struct buf *out);
/* The same for a user who cannot log in with SCRAM (unknown, or no SCRAM-capable
 * password), with made-up credentials from scram_fake_credentials(): they cost
 * the PBKDF2 run a real user's take, and their salt and iteration count look
 * like a real user's, where NULL above costs nothing and always says
 * SCRAM_DEFAULT_ITERATIONS. The exchange fails at the proof, whatever it is. */
enum sasl_status sasl_scram_set_fake_credentials(struct sasl_server *s,
                                                 const struct scram_credentials *fake,
                                                 struct buf *out);

/* The authentication identity, once known; NULL before. */
const char *sasl_authcid(const struct sasl_server *s);
/* The authorization identity requested, or NULL/"" when none. */
const char *sasl_authzid(const struct sasl_server *s);
/* PLAIN/LOGIN: the password, once known (may contain no NUL; length in *len). */
const char *sasl_password(const struct sasl_server *s, size_t *len);

/* For tests: replaces the random server nonce part of SCRAM. */
void sasl_scram_set_server_nonce(struct sasl_server *s, const char *nonce);

#endif
