/* Password schemes, as Dovecot stores them: `{SCHEME}data`. Verifying and
 * hashing are slow on purpose: call them from the thread pool, never from the
 * event loop. */
#ifndef GANNET_AUTH_PASSWORD_H
#define GANNET_AUTH_PASSWORD_H

#include "lib/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Verifies `password` against `stored` ("{SHA512-CRYPT}$6$...", "{SCRAM-SHA-256}4096,...",
 * ...). `default_scheme` applies when `stored` has no {SCHEME} prefix (passwd-file's
 * scheme= argument; NULL means CRYPT, as in Dovecot). Returns 1 on a match, 0 on a
 * mismatch, -1 when `stored` is malformed or its scheme unknown (*err says which).
 * Compares in constant time. */
int password_verify(const char *stored, const char *default_scheme, const char *password,
                    size_t password_len, const char **err);

/* Appends "{SCHEME}hash" for `password` to out, with a fresh random salt.
 * Schemes: SHA512-CRYPT (default), SHA256-CRYPT, BLF-CRYPT, ARGON2ID, SCRAM-SHA-256, PLAIN.
 * Returns 0, or -1 with *err for an unknown scheme. */
int password_hash(const char *scheme, const char *password, struct buf *out, const char **err);

/* The scheme name of a stored password ("SHA512-CRYPT"), upper case, into out;
 * the default_scheme (or "CRYPT") when it has no prefix. */
void password_scheme_of(const char *stored, const char *default_scheme, struct buf *out);

/* True for schemes that keep the password recoverable or unsalted ({PLAIN},
 * {CLEAR}, {PLAIN-MD5}, {MD5}, {SHA1}, {SHA256}, {SHA512}, {CRAM-MD5}, {DIGEST-MD5}, ...):
 * `gannet config check` warns about them. */
bool password_scheme_is_weak(const char *scheme);

/* SCRAM-SHA-256 credentials (RFC 5802 §3), from a {SCRAM-SHA-256} entry (Dovecot's
 * "iterations,salt_b64,storedkey_b64,serverkey_b64") or derived from a {PLAIN}
 * (or {CLEAR}) entry with a salt that is stable per user and password. */
struct scram_credentials {
    unsigned iterations;
    unsigned char salt[64];
    size_t salt_len;
    unsigned char stored_key[32];
    unsigned char server_key[32];
};
/* Returns 0, or -1 when the stored scheme cannot give SCRAM credentials
 * (a crypt hash, say): *err explains. `iterations` is the count for credentials
 * derived from a {PLAIN} entry (0: SCRAM_DEFAULT_ITERATIONS); a passdb gives the
 * count most of its {SCRAM-SHA-256} entries have, so that a {PLAIN} user looks
 * like them. Every success costs one PBKDF2 run of the credentials' iteration
 * count: a {PLAIN} entry needs it, and a {SCRAM-SHA-256} entry, which does not,
 * pays it all the same, so that the time to the server-first message tells
 * neither kind apart from an unknown user (scram_fake_credentials()). */
int password_scram_credentials(const char *stored, const char *default_scheme, const char *user,
                               unsigned iterations, struct scram_credentials *out,
                               const char **err);

/* Made-up credentials for a user who cannot do SCRAM (unknown, or stored as a
 * crypt hash): scram_user_salt()'s salt for the name, `iterations` (0:
 * SCRAM_DEFAULT_ITERATIONS) and keys derived from a random password, at the
 * cost of the one PBKDF2 run a real user's credentials take. The server-first
 * message and its delay are then those of a real user; the proof cannot match. */
void scram_fake_credentials(const char *user, unsigned iterations, struct scram_credentials *out);

/* Derives SCRAM-SHA-256 credentials (RFC 5802 §3: SaltedPassword = Hi(password,
 * salt, i), StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey =
 * HMAC(SaltedPassword, "Server Key")). salt_len is at most sizeof(out->salt). */
void scram_credentials_from_password(const char *password, const unsigned char *salt,
                                     size_t salt_len, unsigned iterations,
                                     struct scram_credentials *out);

/* The salt that SCRAM uses for `user` when the stored password has none of its
 * own ({PLAIN}) and for unknown users, so that both look alike and stay the same
 * from one exchange to the next (RFC 5802 §9: user names must not be probeable).
 * Keyed with a secret random per process, never with the password: a salt that
 * depended on the password would let anyone who can name a user test password
 * guesses offline with one HMAC each. Writes 16 bytes. */
#define SCRAM_DERIVED_SALT_LEN 16
void scram_user_salt(const char *user, unsigned char salt[SCRAM_DERIVED_SALT_LEN]);
/* Keys scram_user_salt() with `secret` instead of a random key of this process,
 * so that every worker (and every restart) gives a user the same salt. Call it
 * once, before any thread starts (the master, before forking workers). */
void scram_user_salt_init(const void *secret, size_t len);

/* HMAC-SHA-256 into md (32 bytes); aborts if OpenSSL cannot compute it. */
void hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                 unsigned char md[32]);

/* The SCRAM iteration count gannet uses for new hashes and derived credentials
 * (RFC 7677 §4 asks for at least 4096). */
#define SCRAM_DEFAULT_ITERATIONS 4096

/* The kind of a stored password: its scheme and cost parameters, without salt
 * or hash ("SHA512-CRYPT $6$rounds=100000$", "BLF-CRYPT $2y$10$", "ARGON2ID
 * $argon2id$v=19$m=65536,t=3,p=1$", "SCRAM-SHA-256 4096", "PLAIN"), into out.
 * Two passwords of one kind cost the same to verify. */
void password_kind(const char *stored, const char *default_scheme, struct buf *out);

/* A {SHA512-CRYPT} hash of a random password, made once per process: what an
 * unknown user's password is checked against when the passdb offers no hash
 * of its own kind (an empty passwd-file, a domain without one), so that the
 * answer costs a hash all the same. */
const char *password_dummy_hash(void);

/* True when password_verify() knows `scheme` (case-insensitive, no braces). */
bool password_scheme_is_known(const char *scheme);
/* True when password_hash() can generate `scheme`. */
bool password_scheme_can_hash(const char *scheme);

#endif
