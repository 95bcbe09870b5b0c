/* Password schemes as Dovecot stores them (`{SCHEME}data`), so that a Dovecot
 * passwd-file works unchanged. crypt(3) schemes go through libxcrypt's
 * reentrant crypt_rn() (we run on a thread pool), Argon2 through libsodium,
 * SCRAM-SHA-256 through OpenSSL's PBKDF2 and HMAC. Every comparison of secret
 * material is constant time (CRYPTO_memcmp), and every intermediate secret is
 * wiped before its memory is released. */
#include "auth/password.h"

#include "lib/base64.h"
#include "lib/number.h"

#include <crypt.h>
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Dovecot's defaults for the schemes it generates, except bcrypt where Dovecot
 * still uses cost 5: 10 is the cost OpenBSD and libxcrypt recommend today. */
#define BCRYPT_COST 10
#define ARGON2_OPSLIMIT 3
#define ARGON2_MEMLIMIT (64u * 1024 * 1024)
#define SCRAM_SALT_LEN 16
/* Upper bound on a stored SCRAM iteration count, so that a typo in a
 * passwd-file cannot make every login spin for minutes. */
#define SCRAM_MAX_ITERATIONS 10000000u

#define MAX_SCHEME_LEN 32

enum scheme_id {
    SCHEME_UNKNOWN,
    SCHEME_SHA512_CRYPT,
    SCHEME_SHA256_CRYPT,
    SCHEME_BLF_CRYPT,
    SCHEME_CRYPT,
    SCHEME_ARGON2ID,
    SCHEME_ARGON2I,
    SCHEME_SCRAM_SHA_256,
    SCHEME_PLAIN,
};

static const struct {
    const char *name;
    enum scheme_id id;
    bool can_hash;
} schemes[] = {
    {"SHA512-CRYPT", SCHEME_SHA512_CRYPT, true},
    {"SHA256-CRYPT", SCHEME_SHA256_CRYPT, true},
    {"BLF-CRYPT", SCHEME_BLF_CRYPT, true},
    {"CRYPT", SCHEME_CRYPT, true},
    {"ARGON2ID", SCHEME_ARGON2ID, true},
    {"ARGON2I", SCHEME_ARGON2I, true},
    {"SCRAM-SHA-256", SCHEME_SCRAM_SHA_256, true},
    {"PLAIN", SCHEME_PLAIN, true},
    {"CLEAR", SCHEME_PLAIN, true},
    {"CLEARTEXT", SCHEME_PLAIN, false},
};

static enum scheme_id scheme_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strcasecmp(name, schemes[i].name) == 0)
            return schemes[i].id;
    return SCHEME_UNKNOWN;
}

bool password_scheme_is_known(const char *scheme)
{
    return scheme != NULL && scheme_lookup(scheme) != SCHEME_UNKNOWN;
}

bool password_scheme_can_hash(const char *scheme)
{
    if (scheme == NULL)
        return false;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strcasecmp(scheme, schemes[i].name) == 0)
            return schemes[i].can_hash;
    return false;
}

/* Splits `stored` into its scheme name (upper case, into scheme[]) and data.
 * Without a {prefix} the default scheme applies (Dovecot: CRYPT). Returns false
 * for a "{" without "}" or an absurdly long scheme name. */
static bool split_stored(const char *stored, const char *default_scheme,
                         char scheme[MAX_SCHEME_LEN], const char **data)
{
    const char *name = default_scheme ? default_scheme : "CRYPT";
    size_t name_len = strlen(name);
    *data = stored;
    if (stored[0] == '{') {
        const char *end = strchr(stored, '}');
        if (end == NULL)
            return false;
        name = stored + 1;
        name_len = (size_t)(end - name);
        *data = end + 1;
    }
    if (name_len == 0 || name_len >= MAX_SCHEME_LEN)
        return false;
    for (size_t i = 0; i < name_len; i++) {
        char c = name[i];
        scheme[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    scheme[name_len] = '\0';
    return true;
}

void password_scheme_of(const char *stored, const char *default_scheme, struct buf *out)
{
    char scheme[MAX_SCHEME_LEN];
    const char *data;
    if (split_stored(stored, default_scheme, scheme, &data))
        buf_puts(out, scheme);
    else
        buf_puts(out, default_scheme ? default_scheme : "CRYPT");
}

bool password_scheme_is_weak(const char *scheme)
{
    /* Recoverable (PLAIN, CRAM-MD5's HMAC state), unsalted or fast digests, or
     * broken designs (LANMAN, NTLM, DES). Salted single-round digests (SSHA,
     * SMD5) fall to a GPU just as fast as unsalted ones. */
    static const char *const weak[] = {
        "PLAIN",   "CLEAR",     "CLEARTEXT", "PLAIN-TRUNC", "PLAIN-MD4", "PLAIN-MD5",  "LDAP-MD5",
        "MD5",     "MD5-CRYPT", "SMD5",      "SHA",         "SHA1",      "SSHA",       "SHA256",
        "SSHA256", "SHA512",    "SSHA512",   "CRAM-MD5",    "HMAC-MD5",  "DIGEST-MD5", "LANMAN",
        "NTLM",    "OTP",       "SKEY",      "RPA",         "DES-CRYPT", "LDAP-CLEAR",
    };
    if (scheme == NULL)
        return false;
    size_t len = strlen(scheme);
    if (len >= 2 && scheme[0] == '{' && scheme[len - 1] == '}') {
        scheme++;
        len -= 2;
    }
    /* Dovecot's encoding suffixes ({PLAIN.b64}, {SHA1.hex}) change nothing. */
    const char *dot = memchr(scheme, '.', len);
    if (dot != NULL)
        len = (size_t)(dot - scheme);
    for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++)
        if (strlen(weak[i]) == len && strncasecmp(scheme, weak[i], len) == 0)
            return true;
    return false;
}

/* ---- crypt(3) ---------------------------------------------------------- */

static bool is_crypt64(char c)
{
    return c == '.' || c == '/' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
           (c >= 'a' && c <= 'z');
}

static size_t crypt64_span(const char *s)
{
    size_t n = 0;
    while (is_crypt64(s[n]))
        n++;
    return n;
}

/* Checks the layout of the hashes we know, because crypt() happily takes
 * "$6$abc" as a salt and returns a hash that merely fails to match: an entry
 * cut short by an editor should say "malformed", not "wrong password".
 * SHA-crypt: $5$/$6$[rounds=N$]salt$hash (Drepper's spec: salt up to 16
 * characters, hash 43 or 86); bcrypt: $2?$NN$ then 22 + 31 characters. */
static bool crypt_layout_ok(const char *h)
{
    if (strncmp(h, "$5$", 3) == 0 || strncmp(h, "$6$", 3) == 0) {
        size_t hash_len = h[1] == '5' ? 43 : 86;
        const char *p = h + 3;
        if (strncmp(p, "rounds=", 7) == 0) {
            p += 7;
            size_t digits = strspn(p, "0123456789");
            if (digits == 0 || digits > 9 || p[digits] != '$')
                return false;
            p += digits + 1;
        }
        size_t salt = crypt64_span(p);
        if (salt > 16 || p[salt] != '$')
            return false;
        p += salt + 1;
        return crypt64_span(p) == hash_len && p[hash_len] == '\0';
    }
    if (h[0] == '$' && h[1] == '2' && (h[2] == 'a' || h[2] == 'b' || h[2] == 'y') && h[3] == '$') {
        const char *p = h + 4;
        if (!(p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '9' && p[2] == '$'))
            return false;
        p += 3;
        return crypt64_span(p) == 53 && p[53] == '\0';
    }
    return true; /* another crypt(3) method: libxcrypt judges it */
}

/* Hashes `password` with `setting` (a full hash or a gensalt string) and
 * appends the result to out. Returns 0, or -1 when libxcrypt refuses the
 * setting (malformed) or the password (too long, contains NUL: -2). */
static int crypt_into(const char *password, size_t password_len, const char *setting,
                      struct buf *out)
{
    if (memchr(password, '\0', password_len) != NULL || password_len >= CRYPT_MAX_PASSPHRASE_SIZE)
        return -2;
    /* 32 KiB: too big for a pool thread's stack, so on the heap. Zeroed
     * first, as libxcrypt asks for a fresh struct crypt_data. */
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));
    memcpy(cd->input, password, password_len);
    cd->input[password_len] = '\0';
    const char *hash = crypt_rn(cd->input, setting, cd, (int)sizeof(*cd));
    int ret = -1;
    if (hash != NULL && hash[0] != '*') {
        buf_puts(out, hash);
        ret = 0;
    }
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return ret;
}

static int verify_crypt(const char *data, const char *required_prefix, const char *password,
                        size_t password_len, const char **err)
{
    if (required_prefix != NULL) {
        /* "$2" covers $2a$, $2b$ and $2y$ (checked by crypt_layout_ok). */
        if (strncmp(data, required_prefix, strlen(required_prefix)) != 0) {
            *err = "hash does not match its {SCHEME}";
            return -1;
        }
    }
    if (data[0] == '\0' || !crypt_layout_ok(data)) {
        *err = "malformed crypt hash";
        return -1;
    }
    struct buf computed = BUF_INIT;
    int r = crypt_into(password, password_len, data, &computed);
    if (r == -2) {
        /* A crypt hash cannot stand for such a password: no match. */
        buf_free_secret(&computed);
        return 0;
    }
    if (r < 0) {
        buf_free_secret(&computed);
        *err = "malformed crypt hash";
        return -1;
    }
    size_t len = strlen(data);
    int match = computed.len == len && CRYPTO_memcmp(computed.data, data, len) == 0;
    buf_free_secret(&computed);
    return match;
}

static int hash_crypt(const char *prefix, unsigned long cost, const char *password, struct buf *out,
                      const char **err)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    /* NULL random bytes: libxcrypt reads them from the kernel (getrandom). */
    if (crypt_gensalt_rn(prefix, cost, NULL, 0, setting, (int)sizeof(setting)) == NULL) {
        *err = "cannot generate a crypt salt";
        return -1;
    }
    int r = crypt_into(password, strlen(password), setting, out);
    if (r < 0) {
        *err = r == -2 ? "password too long for crypt" : "crypt failed";
        return -1;
    }
    return 0;
}

/* ---- Argon2 (libsodium) -------------------------------------------------- */

static void sodium_ready(void)
{
    /* Idempotent and thread-safe; fails only when the kernel gives no
     * randomness, and then nothing here can work. */
    if (sodium_init() < 0) {
        fputs("gannet: libsodium cannot initialise\n", stderr);
        abort();
    }
}

static int verify_argon2(const char *data, const char *prefix, const char *password,
                         size_t password_len, const char **err)
{
    char str[crypto_pwhash_STRBYTES];
    size_t len = strlen(data);
    if (strncmp(data, prefix, strlen(prefix)) != 0 || len >= sizeof(str)) {
        *err = "malformed argon2 hash";
        return -1;
    }
    sodium_ready();
    memset(str, 0, sizeof(str));
    memcpy(str, data, len);
    /* crypto_pwhash_str_verify() says -1 both for "no match" and for a string
     * it cannot decode; needs_rehash() decodes without hashing and tells the
     * two apart. */
    if (crypto_pwhash_str_needs_rehash(str, ARGON2_OPSLIMIT, ARGON2_MEMLIMIT) < 0) {
        *err = "malformed argon2 hash";
        return -1;
    }
    return crypto_pwhash_str_verify(str, password, password_len) == 0;
}

static int hash_argon2(int alg, const char *password, struct buf *out, const char **err)
{
    char str[crypto_pwhash_STRBYTES];
    sodium_ready();
    if (crypto_pwhash_str_alg(str, password, strlen(password), ARGON2_OPSLIMIT, ARGON2_MEMLIMIT,
                              alg) != 0) {
        *err = "argon2 failed (out of memory?)";
        return -1;
    }
    buf_puts(out, str);
    return 0;
}

/* ---- SCRAM-SHA-256 (RFC 5802 §3, RFC 7677) -------------------------------- */

void hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                 unsigned char md[SHA256_DIGEST_LENGTH])
{
    unsigned int md_len = SHA256_DIGEST_LENGTH;
    if (HMAC(EVP_sha256(), key, (int)key_len, data, len, md, &md_len) == NULL) {
        fputs("gannet: HMAC-SHA256 failed\n", stderr);
        abort();
    }
}

static void scram_derive(const char *password, size_t password_len, const unsigned char *salt,
                         size_t salt_len, unsigned iterations, struct scram_credentials *out)
{
    unsigned char salted[SHA256_DIGEST_LENGTH], client_key[SHA256_DIGEST_LENGTH];
    if (salt_len > sizeof(out->salt))
        salt_len = sizeof(out->salt);
    /* SaltedPassword := Hi(Normalize(password), salt, i): Hi is PBKDF2 with
     * HMAC-SHA-256 and a 32-byte output (RFC 5802 §2.2, RFC 7677 §3). */
    if (PKCS5_PBKDF2_HMAC(password, (int)password_len, salt, (int)salt_len, (int)iterations,
                          EVP_sha256(), (int)sizeof(salted), salted) != 1) {
        fputs("gannet: PBKDF2 failed\n", stderr);
        abort();
    }
    hmac_sha256(salted, sizeof(salted), "Client Key", 10, client_key);
    SHA256(client_key, sizeof(client_key), out->stored_key);
    hmac_sha256(salted, sizeof(salted), "Server Key", 10, out->server_key);
    memmove(out->salt, salt, salt_len);
    out->salt_len = salt_len;
    out->iterations = iterations;
    explicit_bzero(salted, sizeof(salted));
    explicit_bzero(client_key, sizeof(client_key));
}

void scram_credentials_from_password(const char *password, const unsigned char *salt,
                                     size_t salt_len, unsigned iterations,
                                     struct scram_credentials *out)
{
    scram_derive(password, strlen(password), salt, salt_len, iterations, out);
}

static pthread_once_t salt_key_once = PTHREAD_ONCE_INIT;
static unsigned char salt_key[32];

static void salt_key_init(void)
{
    if (RAND_bytes(salt_key, (int)sizeof(salt_key)) != 1) {
        fputs("gannet: no randomness for the SCRAM salt key\n", stderr);
        abort();
    }
}

void scram_user_salt_init(const void *secret, size_t len)
{
    static const char label[] = "gannet-scram-salt-key";
    pthread_once(&salt_key_once, salt_key_init);
    hmac_sha256(secret, len, label, sizeof(label) - 1, salt_key);
}

void scram_user_salt(const char *user, unsigned char salt[SCRAM_DERIVED_SALT_LEN])
{
    static const char label[] = "gannet-scram-salt:";
    unsigned char md[SHA256_DIGEST_LENGTH];
    struct buf msg = BUF_INIT;
    pthread_once(&salt_key_once, salt_key_init);
    buf_append(&msg, label, sizeof(label) - 1);
    buf_puts(&msg, user);
    hmac_sha256(salt_key, sizeof(salt_key), msg.data, msg.len, md);
    memcpy(salt, md, SCRAM_DERIVED_SALT_LEN);
    buf_free(&msg);
}

/* Decodes base64 `s` of length len into dst, which must come out exactly
 * `want` bytes long (or between 1 and `want` when exact is false). */
static bool b64_field(const char *s, size_t len, unsigned char *dst, size_t want, bool exact,
                      size_t *got)
{
    struct buf b = BUF_INIT;
    bool ok = base64_decode(s, len, &b) && b.len > 0 && b.len <= want && (!exact || b.len == want);
    if (ok) {
        memcpy(dst, b.data, b.len);
        if (got)
            *got = b.len;
    }
    buf_free_secret(&b);
    return ok;
}

/* Dovecot's stored form: "iterations,salt_b64,storedkey_b64,serverkey_b64". */
static int scram_parse(const char *data, struct scram_credentials *out, const char **err)
{
    const char *field[4];
    size_t field_len[4];
    const char *p = data;
    for (int i = 0; i < 4; i++) {
        const char *comma = strchr(p, ',');
        if ((comma == NULL) != (i == 3)) {
            *err = "malformed SCRAM-SHA-256 entry (want iterations,salt,storedkey,serverkey)";
            return -1;
        }
        field[i] = p;
        field_len[i] = comma ? (size_t)(comma - p) : strlen(p);
        p = comma ? comma + 1 : p + field_len[i];
    }
    uint64_t iter = 0;
    if (!mem_to_uint64(field[0], field_len[0], &iter) || iter == 0 || iter > SCRAM_MAX_ITERATIONS) {
        *err = "malformed SCRAM-SHA-256 entry (iteration count)";
        return -1;
    }
    out->iterations = (unsigned)iter;
    if (!b64_field(field[1], field_len[1], out->salt, sizeof(out->salt), false, &out->salt_len) ||
        !b64_field(field[2], field_len[2], out->stored_key, sizeof(out->stored_key), true, NULL) ||
        !b64_field(field[3], field_len[3], out->server_key, sizeof(out->server_key), true, NULL)) {
        explicit_bzero(out, sizeof(*out));
        *err = "malformed SCRAM-SHA-256 entry (base64)";
        return -1;
    }
    return 0;
}

static int verify_scram(const char *data, const char *password, size_t password_len,
                        const char **err)
{
    struct scram_credentials stored, computed;
    if (scram_parse(data, &stored, err) < 0)
        return -1;
    scram_derive(password, password_len, stored.salt, stored.salt_len, stored.iterations,
                 &computed);
    int match = CRYPTO_memcmp(stored.stored_key, computed.stored_key, 32) == 0 &&
                CRYPTO_memcmp(stored.server_key, computed.server_key, 32) == 0;
    explicit_bzero(&stored, sizeof(stored));
    explicit_bzero(&computed, sizeof(computed));
    return match;
}

static int hash_scram(const char *password, struct buf *out, const char **err)
{
    unsigned char salt[SCRAM_SALT_LEN];
    struct scram_credentials c;
    if (RAND_bytes(salt, (int)sizeof(salt)) != 1) {
        *err = "no randomness for the salt";
        return -1;
    }
    scram_derive(password, strlen(password), salt, sizeof(salt), SCRAM_DEFAULT_ITERATIONS, &c);
    buf_printf(out, "%u,", c.iterations);
    base64_encode(c.salt, c.salt_len, out);
    buf_putc(out, ',');
    base64_encode(c.stored_key, sizeof(c.stored_key), out);
    buf_putc(out, ',');
    base64_encode(c.server_key, sizeof(c.server_key), out);
    explicit_bzero(&c, sizeof(c));
    return 0;
}

/* ---- PLAIN ---------------------------------------------------------------- */

static int verify_plain(const char *data, const char *password, size_t password_len)
{
    /* Compare digests, so that neither the time nor the branch taken depends
     * on the length or content of the stored password. */
    unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
    size_t data_len = strlen(data);
    SHA256((const unsigned char *)data, data_len, a);
    SHA256((const unsigned char *)password, password_len, b);
    int match = CRYPTO_memcmp(a, b, sizeof(a)) == 0;
    explicit_bzero(a, sizeof(a));
    explicit_bzero(b, sizeof(b));
    return match;
}

/* ---- the interface ------------------------------------------------------ */

int password_verify(const char *stored, const char *default_scheme, const char *password,
                    size_t password_len, const char **err)
{
    char scheme[MAX_SCHEME_LEN];
    const char *data;
    if (stored == NULL || !split_stored(stored, default_scheme, scheme, &data)) {
        *err = "malformed {SCHEME} prefix";
        return -1;
    }
    switch (scheme_lookup(scheme)) {
    case SCHEME_SHA512_CRYPT:
        return verify_crypt(data, "$6$", password, password_len, err);
    case SCHEME_SHA256_CRYPT:
        return verify_crypt(data, "$5$", password, password_len, err);
    case SCHEME_BLF_CRYPT:
        return verify_crypt(data, "$2", password, password_len, err);
    case SCHEME_CRYPT:
        return verify_crypt(data, NULL, password, password_len, err);
    case SCHEME_ARGON2ID:
        return verify_argon2(data, "$argon2id$", password, password_len, err);
    case SCHEME_ARGON2I:
        return verify_argon2(data, "$argon2i$", password, password_len, err);
    case SCHEME_SCRAM_SHA_256:
        return verify_scram(data, password, password_len, err);
    case SCHEME_PLAIN:
        return verify_plain(data, password, password_len);
    case SCHEME_UNKNOWN:
        break;
    }
    *err = "unknown password scheme";
    return -1;
}

int password_hash(const char *scheme, const char *password, struct buf *out, const char **err)
{
    if (scheme == NULL)
        scheme = "SHA512-CRYPT";
    if (!password_scheme_can_hash(scheme)) {
        *err = "unknown password scheme";
        return -1;
    }
    struct buf hash = BUF_INIT;
    int r;
    switch (scheme_lookup(scheme)) {
    case SCHEME_SHA512_CRYPT:
    case SCHEME_CRYPT:
        r = hash_crypt("$6$", 0, password, &hash, err);
        break;
    case SCHEME_SHA256_CRYPT:
        r = hash_crypt("$5$", 0, password, &hash, err);
        break;
    case SCHEME_BLF_CRYPT:
        r = hash_crypt("$2y$", BCRYPT_COST, password, &hash, err);
        break;
    case SCHEME_ARGON2ID:
        r = hash_argon2(crypto_pwhash_ALG_ARGON2ID13, password, &hash, err);
        break;
    case SCHEME_ARGON2I:
        r = hash_argon2(crypto_pwhash_ALG_ARGON2I13, password, &hash, err);
        break;
    case SCHEME_SCRAM_SHA_256:
        r = hash_scram(password, &hash, err);
        break;
    case SCHEME_PLAIN:
        buf_puts(&hash, password);
        r = 0;
        break;
    default:
        *err = "unknown password scheme";
        r = -1;
        break;
    }
    if (r == 0) {
        buf_putc(out, '{');
        for (const char *c = scheme; *c; c++)
            buf_putc(out, (*c >= 'a' && *c <= 'z') ? (char)(*c - 'a' + 'A') : *c);
        buf_putc(out, '}');
        buf_append(out, hash.data, hash.len);
    }
    buf_free_secret(&hash);
    return r;
}

/* A password nobody knows, for made-up credentials and thrown-away work. */
static void random_password(char pw[33])
{
    unsigned char rnd[24];
    struct buf b = BUF_INIT;
    if (RAND_bytes(rnd, (int)sizeof(rnd)) != 1) {
        fputs("gannet: no randomness for a dummy password\n", stderr);
        abort();
    }
    base64_encode(rnd, sizeof(rnd), &b); /* 32 characters */
    memcpy(pw, b.data, 32);
    pw[32] = '\0';
    explicit_bzero(rnd, sizeof(rnd));
    buf_free_secret(&b);
}

void scram_fake_credentials(const char *user, unsigned iterations, struct scram_credentials *out)
{
    unsigned char salt[SCRAM_DERIVED_SALT_LEN];
    char pw[33];
    scram_user_salt(user, salt);
    random_password(pw);
    scram_derive(pw, strlen(pw), salt, sizeof(salt),
                 iterations ? iterations : SCRAM_DEFAULT_ITERATIONS, out);
    explicit_bzero(pw, sizeof(pw));
}

int password_scram_credentials(const char *stored, const char *default_scheme, const char *user,
                               unsigned iterations, struct scram_credentials *out, const char **err)
{
    char scheme[MAX_SCHEME_LEN];
    const char *data;
    if (stored == NULL || !split_stored(stored, default_scheme, scheme, &data)) {
        *err = "malformed {SCHEME} prefix";
        return -1;
    }
    switch (scheme_lookup(scheme)) {
    case SCHEME_SCRAM_SHA_256: {
        if (scram_parse(data, out, err) < 0)
            return -1;
        /* The PBKDF2 run a {PLAIN} entry or an unknown user costs, thrown
         * away: the stored keys need none, and a fast answer would tell. */
        struct scram_credentials waste;
        scram_fake_credentials(user, out->iterations, &waste);
        explicit_bzero(&waste, sizeof(waste));
        return 0;
    }
    case SCHEME_PLAIN: {
        unsigned char salt[SCRAM_DERIVED_SALT_LEN];
        scram_user_salt(user, salt);
        scram_derive(data, strlen(data), salt, sizeof(salt),
                     iterations ? iterations : SCRAM_DEFAULT_ITERATIONS, out);
        return 0;
    }
    default:
        *err = "SCRAM needs {SCRAM-SHA-256} or {PLAIN} credentials";
        return -1;
    }
}

/* The '$'-separated fields of a modular crypt string up to its salt: "$6$",
 * "$6$rounds=N$", "$2y$10$", "$argon2id$v=19$m=...,t=...,p=...$". */
static void crypt_cost_prefix(const char *data, struct buf *out)
{
    if (data[0] != '$')
        return; /* traditional DES crypt: one cost */
    size_t fields = 0;
    for (const char *p = data; *p; p++)
        if (*p == '$')
            fields++;
    /* bcrypt's salt and hash share the last field; the others have a salt
     * field and a hash field after the parameters. */
    size_t keep = (data[1] == '2') ? 2 : (fields >= 3 ? fields - 2 : 1);
    size_t seen = 0;
    const char *p = data;
    for (; *p; p++)
        if (*p == '$' && ++seen > keep)
            break;
    buf_append(out, data, (size_t)(p - data));
    if (*p == '$')
        buf_putc(out, '$');
}

void password_kind(const char *stored, const char *default_scheme, struct buf *out)
{
    char scheme[MAX_SCHEME_LEN];
    const char *data;
    if (stored == NULL || !split_stored(stored, default_scheme, scheme, &data)) {
        buf_puts(out, "?");
        return;
    }
    buf_puts(out, scheme);
    switch (scheme_lookup(scheme)) {
    case SCHEME_SHA512_CRYPT:
    case SCHEME_SHA256_CRYPT:
    case SCHEME_BLF_CRYPT:
    case SCHEME_CRYPT:
    case SCHEME_ARGON2ID:
    case SCHEME_ARGON2I:
        buf_putc(out, ' ');
        crypt_cost_prefix(data, out);
        break;
    case SCHEME_SCRAM_SHA_256:
        buf_putc(out, ' ');
        buf_append(out, data, strspn(data, "0123456789"));
        break;
    default:
        break;
    }
}

static pthread_once_t dummy_hash_once = PTHREAD_ONCE_INIT;
static char *dummy_hash;

static void dummy_hash_init(void)
{
    char pw[33];
    struct buf b = BUF_INIT;
    const char *err;
    random_password(pw);
    if (password_hash("SHA512-CRYPT", pw, &b, &err) < 0) {
        fprintf(stderr, "gannet: cannot make a dummy password hash: %s\n", err);
        abort();
    }
    explicit_bzero(pw, sizeof(pw));
    dummy_hash = buf_steal(&b);
}

const char *password_dummy_hash(void)
{
    pthread_once(&dummy_hash_once, dummy_hash_init);
    return dummy_hash;
}
