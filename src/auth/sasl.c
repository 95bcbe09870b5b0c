/* Server side of PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login) and
 * SCRAM-SHA-256 (RFC 5802, RFC 7677). Pure state machines over the decoded
 * client messages: no I/O, no logging, no password files. Every message is
 * checked against explicit limits before anything is kept from it. */
#include "auth/sasl.h"

#include "lib/base64.h"
#include "lib/utf8.h"

#include <gsasl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Dovecot's limits for the PLAIN fields; LOGIN and SCRAM use the same. */
#define SASL_MAX_IDENTITY 255
#define SASL_MAX_PASSWORD 1024
/* A SCRAM message is a few short attributes; anything longer is not SCRAM. */
#define SCRAM_MAX_MESSAGE 4096
#define SCRAM_MAX_NONCE 256
#define SCRAM_SERVER_NONCE_BYTES 24

enum sasl_state {
    STATE_START,
    STATE_PLAIN_RESPONSE, /* PLAIN: sent the empty challenge */
    STATE_LOGIN_USER,     /* LOGIN: sent "Username:" */
    STATE_LOGIN_PASSWORD, /* LOGIN: sent "Password:" */
    STATE_SCRAM_FIRST,    /* SCRAM: sent the empty challenge */
    STATE_SCRAM_CREDS,    /* SCRAM: waiting for sasl_scram_set_credentials() */
    STATE_SCRAM_FINAL,    /* SCRAM: sent server-first */
    STATE_DONE,
};

/* One exchange. Owned by the connection that runs it; sasl_server_free()
 * wipes the password and the SCRAM keys. */
struct sasl_server {
    enum sasl_mech mech;
    enum sasl_state state;
    char *authcid;
    char *authzid;
    char *password;
    size_t password_len;
    /* SCRAM */
    char *gs2_header;        /* "n,," or "y,a=admin," (RFC 5802 §7) */
    char *client_first_bare; /* for AuthMessage (RFC 5802 §3) */
    char *client_nonce;
    char *nonce;              /* client nonce + server nonce */
    char *server_nonce_fixed; /* tests only */
    char *server_first;
    struct scram_credentials cred;
    bool unknown_user;
};

bool sasl_mech_from_name(const char *name, enum sasl_mech *out)
{
    static const enum sasl_mech all[] = {SASL_MECH_PLAIN, SASL_MECH_LOGIN, SASL_MECH_SCRAM_SHA_256};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcasecmp(name, sasl_mech_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

const char *sasl_mech_name(enum sasl_mech mech)
{
    switch (mech) {
    case SASL_MECH_PLAIN:
        return "PLAIN";
    case SASL_MECH_LOGIN:
        return "LOGIN";
    case SASL_MECH_SCRAM_SHA_256:
        return "SCRAM-SHA-256";
    }
    return "?";
}

struct sasl_server *sasl_server_new(enum sasl_mech mech)
{
    struct sasl_server *s = xcalloc(1, sizeof(*s));
    s->mech = mech;
    s->state = STATE_START;
    return s;
}

static void free_secret_str(char *p, size_t len)
{
    if (p != NULL) {
        explicit_bzero(p, len);
        free(p);
    }
}

void sasl_server_free(struct sasl_server *s)
{
    if (s == NULL)
        return;
    free(s->authcid);
    free(s->authzid);
    free_secret_str(s->password, s->password_len);
    free(s->gs2_header);
    free(s->client_first_bare);
    free(s->client_nonce);
    free(s->nonce);
    free(s->server_nonce_fixed);
    free(s->server_first);
    explicit_bzero(&s->cred, sizeof(s->cred));
    free(s);
}

const char *sasl_authcid(const struct sasl_server *s)
{
    return s->authcid;
}

const char *sasl_authzid(const struct sasl_server *s)
{
    return s->authzid;
}

const char *sasl_password(const struct sasl_server *s, size_t *len)
{
    *len = s->password ? s->password_len : 0;
    return s->password;
}

void sasl_scram_set_server_nonce(struct sasl_server *s, const char *nonce)
{
    free(s->server_nonce_fixed);
    s->server_nonce_fixed = nonce ? xstrdup(nonce) : NULL;
}

/* Well-formed UTF-8 (lib/utf8.h) without NUL: none of our strings may hold one. */
static bool utf8_text(const unsigned char *p, size_t len)
{
    return memchr(p, '\0', len) == NULL && utf8_valid((const char *)p, len);
}

static enum sasl_status fail(struct sasl_server *s, const char **err, const char *why)
{
    s->state = STATE_DONE;
    *err = why;
    return SASL_FAIL;
}

/* An empty challenge, still a valid (empty) string in out. */
static void empty_challenge(struct buf *out)
{
    buf_append(out, "", 0);
}

/* ---- PLAIN (RFC 4616 §2) ------------------------------------------------- */

static enum sasl_status plain_response(struct sasl_server *s, const unsigned char *in, size_t len,
                                       const char **err)
{
    /* message = [authzid] UTF8NUL authcid UTF8NUL passwd: exactly two NULs,
     * so a NUL inside the password is malformed too. */
    const unsigned char *nul1 = memchr(in, '\0', len);
    const unsigned char *nul2 = nul1 ? memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - in)) : NULL;
    if (nul1 == NULL || nul2 == NULL)
        return fail(s, err, "malformed PLAIN message: expected [authzid] NUL authcid NUL password");
    const unsigned char *pw = nul2 + 1;
    size_t zid_len = (size_t)(nul1 - in), cid_len = (size_t)(nul2 - nul1 - 1);
    size_t pw_len = len - (size_t)(pw - in);
    if (memchr(pw, '\0', pw_len) != NULL)
        return fail(s, err, "malformed PLAIN message: more than two NULs");
    if (cid_len == 0)
        return fail(s, err, "malformed PLAIN message: empty authentication identity");
    if (pw_len == 0)
        return fail(s, err, "malformed PLAIN message: empty password");
    if (zid_len > SASL_MAX_IDENTITY || cid_len > SASL_MAX_IDENTITY || pw_len > SASL_MAX_PASSWORD)
        return fail(s, err, "malformed PLAIN message: a field is too long");
    if (!utf8_text(in, zid_len) || !utf8_text(nul1 + 1, cid_len) || !utf8_text(pw, pw_len))
        return fail(s, err, "malformed PLAIN message: not UTF-8");
    s->authzid = xstrndup((const char *)in, zid_len);
    s->authcid = xstrndup((const char *)nul1 + 1, cid_len);
    s->password = xstrndup((const char *)pw, pw_len);
    s->password_len = pw_len;
    s->state = STATE_DONE;
    return SASL_NEED_PASSWORD_CHECK;
}

static enum sasl_status plain_step(struct sasl_server *s, const unsigned char *in, size_t len,
                                   struct buf *out, const char **err)
{
    if (s->state == STATE_START && in == NULL) {
        /* No initial response: RFC 4422 §5 has the server send an empty
         * challenge, and the client answers with the message. */
        s->state = STATE_PLAIN_RESPONSE;
        empty_challenge(out);
        return SASL_CONTINUE;
    }
    if (in == NULL)
        return fail(s, err, "expected a PLAIN message");
    if (len == 0)
        return fail(s, err, "malformed PLAIN message: empty");
    return plain_response(s, in, len, err);
}

/* ---- LOGIN (draft-murchison-sasl-login-00) -------------------------------- */

static enum sasl_status login_step(struct sasl_server *s, const unsigned char *in, size_t len,
                                   struct buf *out, const char **err)
{
    if (s->state == STATE_START) {
        if (in == NULL) {
            s->state = STATE_LOGIN_USER;
            buf_puts(out, "Username:");
            return SASL_CONTINUE;
        }
        /* An initial response is the user name (what Thunderbird sends with
         * SASL-IR, and what Dovecot accepts). */
        s->state = STATE_LOGIN_USER;
    }
    if (in == NULL)
        return fail(s, err, "expected a LOGIN response");
    if (s->state == STATE_LOGIN_USER) {
        if (len == 0)
            return fail(s, err, "malformed LOGIN user name: empty");
        if (len > SASL_MAX_IDENTITY)
            return fail(s, err, "malformed LOGIN user name: too long");
        if (!utf8_text(in, len))
            return fail(s, err, "malformed LOGIN user name: not UTF-8 or contains NUL");
        s->authcid = xstrndup((const char *)in, len);
        s->state = STATE_LOGIN_PASSWORD;
        buf_puts(out, "Password:");
        return SASL_CONTINUE;
    }
    /* STATE_LOGIN_PASSWORD. LOGIN predates any charset rule: old clients
     * send Latin-1 passwords, so any byte but NUL is accepted here. */
    if (len == 0)
        return fail(s, err, "malformed LOGIN password: empty");
    if (len > SASL_MAX_PASSWORD)
        return fail(s, err, "malformed LOGIN password: too long");
    if (memchr(in, '\0', len) != NULL)
        return fail(s, err, "malformed LOGIN password: contains NUL");
    s->password = xstrndup((const char *)in, len);
    s->password_len = len;
    s->state = STATE_DONE;
    return SASL_NEED_PASSWORD_CHECK;
}

/* ---- SCRAM-SHA-256 (RFC 5802, RFC 7677) ----------------------------------- */

/* saslname (RFC 5802 §5.1): ',' and '=' travel as "=2C" and "=3D"; any other
 * '=' is malformed. Appends the decoded name to out. */
static bool saslname_decode(const char *p, size_t len, struct buf *out)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '=') {
            buf_putc(out, p[i]);
        } else if (len - i >= 3 && p[i + 1] == '2' && p[i + 2] == 'C') {
            buf_putc(out, ',');
            i += 2;
        } else if (len - i >= 3 && p[i + 1] == '3' && p[i + 2] == 'D') {
            buf_putc(out, '=');
            i += 2;
        } else {
            return false;
        }
    }
    return true;
}

/* printable = %x21-2B / %x2D-7E (RFC 5802 §7): the nonce alphabet. */
static bool nonce_valid(const char *p, size_t len)
{
    if (len == 0 || len > SCRAM_MAX_NONCE)
        return false;
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
            return false;
    return true;
}

/* The attribute at *p ("x=value"), up to the next ',' or the end. */
static bool next_attr(const char **p, const char *end, char name, const char **value,
                      size_t *value_len)
{
    if (end - *p < 2 || (*p)[0] != name || (*p)[1] != '=')
        return false;
    const char *v = *p + 2;
    const char *comma = memchr(v, ',', (size_t)(end - v));
    *value = v;
    *value_len = comma ? (size_t)(comma - v) : (size_t)(end - v);
    *p = comma ? comma + 1 : end;
    return true;
}

static enum sasl_status scram_client_first(struct sasl_server *s, const char *msg, size_t len,
                                           const char **err)
{
    const char *p = msg, *end = msg + len, *v;
    size_t vlen;
    struct buf name = BUF_INIT;

    if (len == 0)
        return fail(s, err, "malformed SCRAM client-first: empty");
    if (len > SCRAM_MAX_MESSAGE || memchr(msg, '\0', len) != NULL)
        return fail(s, err, "malformed SCRAM client-first: too long or contains NUL");
    if (msg[len - 1] == ',')
        return fail(s, err, "malformed SCRAM client-first: trailing comma");
    /* gs2-header = gs2-cbind-flag "," [authzid] "," (RFC 5802 §7). We offer no
     * -PLUS mechanism, so "p=" is a client asking for what we did not
     * advertise (§6); "y" means the client could bind but believes we can't,
     * which is true, so it is no downgrade. */
    if (len >= 2 && p[0] == 'p' && p[1] == '=')
        return fail(s, err, "SCRAM channel binding requested, but only SCRAM-SHA-256 is offered");
    if (len < 3 || (p[0] != 'n' && p[0] != 'y') || p[1] != ',')
        return fail(s, err, "malformed SCRAM client-first: bad GS2 header");
    p += 2;
    if (p < end && p[0] == 'a') {
        if (!next_attr(&p, end, 'a', &v, &vlen) || vlen == 0 || p == end ||
            !saslname_decode(v, vlen, &name) || name.len > SASL_MAX_IDENTITY ||
            !utf8_text((const unsigned char *)buf_cstr(&name), name.len)) {
            buf_free(&name);
            return fail(s, err, "malformed SCRAM client-first: bad authzid");
        }
        s->authzid = buf_steal(&name);
    } else if (p < end && p[0] == ',') {
        p++;
    } else {
        return fail(s, err, "malformed SCRAM client-first: bad GS2 header");
    }
    s->gs2_header = xstrndup(msg, (size_t)(p - msg));
    const char *bare = p;

    /* client-first-message-bare = [reserved-mext ","] username "," nonce
     * ["," extensions]. "m=" is reserved for mandatory extensions we cannot
     * know: the server must fail (§5.1). */
    if (end - p >= 2 && p[0] == 'm' && p[1] == '=')
        return fail(s, err, "SCRAM mandatory extension (m=) not supported");
    if (!next_attr(&p, end, 'n', &v, &vlen) || vlen == 0 || !saslname_decode(v, vlen, &name) ||
        name.len > SASL_MAX_IDENTITY ||
        !utf8_text((const unsigned char *)buf_cstr(&name), name.len)) {
        buf_free(&name);
        return fail(s, err, "malformed SCRAM client-first: bad user name");
    }
    /* The user name is SASLprep'ed as a query string (RFC 5802 §5.1,
     * RFC 4013): that is how the client prepared it on its side. */
    char *prepped = NULL;
    int stringprep_rc = 0;
    int rc = gsasl_saslprep(buf_cstr(&name), GSASL_ALLOW_UNASSIGNED, &prepped, &stringprep_rc);
    buf_free(&name);
    if (rc != GSASL_OK || prepped == NULL || prepped[0] == '\0') {
        if (prepped)
            gsasl_free(prepped);
        return fail(s, err, "SCRAM user name fails SASLprep");
    }
    s->authcid = xstrdup(prepped);
    gsasl_free(prepped);

    if (!next_attr(&p, end, 'r', &v, &vlen) || !nonce_valid(v, vlen))
        return fail(s, err, "malformed SCRAM client-first: bad nonce");
    s->client_nonce = xstrndup(v, vlen);
    /* Optional extensions (",x=...") are allowed and ignored (§5.1), but each
     * must still look like one. */
    while (p < end) {
        if (end - p < 2 || p[1] != '=' ||
            !((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')))
            return fail(s, err, "malformed SCRAM client-first: bad extension");
        const char *comma = memchr(p, ',', (size_t)(end - p));
        p = comma ? comma + 1 : end;
    }
    s->client_first_bare = xstrndup(bare, (size_t)(end - bare));
    s->state = STATE_SCRAM_CREDS;
    return SASL_NEED_CREDENTIALS;
}

static void random_or_die(unsigned char *p, size_t len)
{
    if (RAND_bytes(p, (int)len) != 1) {
        fputs("gannet: no randomness for SCRAM\n", stderr);
        abort();
    }
}

static bool cred_usable(const struct scram_credentials *cred)
{
    return cred != NULL && cred->iterations > 0 && cred->salt_len > 0 &&
           cred->salt_len <= sizeof(cred->salt);
}

static enum sasl_status scram_server_first(struct sasl_server *s, struct buf *out);

enum sasl_status sasl_scram_set_fake_credentials(struct sasl_server *s,
                                                 const struct scram_credentials *fake,
                                                 struct buf *out)
{
    if (s->mech != SASL_MECH_SCRAM_SHA_256 || s->state != STATE_SCRAM_CREDS || !cred_usable(fake)) {
        s->state = STATE_DONE;
        return SASL_FAIL;
    }
    s->unknown_user = true;
    s->cred = *fake;
    return scram_server_first(s, out);
}

enum sasl_status sasl_scram_set_credentials(struct sasl_server *s,
                                            const struct scram_credentials *cred, struct buf *out)
{
    if (s->mech != SASL_MECH_SCRAM_SHA_256 || s->state != STATE_SCRAM_CREDS) {
        s->state = STATE_DONE;
        return SASL_FAIL;
    }
    if (cred_usable(cred)) {
        s->cred = *cred;
    } else {
        /* An unknown user gets a salt that is as stable as a real user's
         * (the same derivation a {PLAIN} user's salt has) and keys nobody
         * knows: the exchange looks the same and fails at the proof, so the
         * user name cannot be probed (RFC 5802 §9, RFC 7677 §4). */
        s->unknown_user = true;
        memset(&s->cred, 0, sizeof(s->cred));
        s->cred.iterations = SCRAM_DEFAULT_ITERATIONS;
        scram_user_salt(s->authcid, s->cred.salt);
        s->cred.salt_len = SCRAM_DERIVED_SALT_LEN;
        random_or_die(s->cred.stored_key, sizeof(s->cred.stored_key));
        random_or_die(s->cred.server_key, sizeof(s->cred.server_key));
    }
    return scram_server_first(s, out);
}

static enum sasl_status scram_server_first(struct sasl_server *s, struct buf *out)
{
    struct buf nonce = BUF_INIT, msg = BUF_INIT;
    buf_puts(&nonce, s->client_nonce);
    if (s->server_nonce_fixed != NULL) {
        buf_puts(&nonce, s->server_nonce_fixed);
    } else {
        unsigned char rnd[SCRAM_SERVER_NONCE_BYTES];
        random_or_die(rnd, sizeof(rnd));
        base64_encode(rnd, sizeof(rnd), &nonce); /* 32 characters, no '=' nor ',' */
    }
    s->nonce = buf_steal(&nonce);
    /* server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count */
    buf_printf(&msg, "r=%s,s=", s->nonce);
    base64_encode(s->cred.salt, s->cred.salt_len, &msg);
    buf_printf(&msg, ",i=%u", s->cred.iterations);
    buf_append(out, msg.data, msg.len);
    s->server_first = buf_steal(&msg);
    s->state = STATE_SCRAM_FINAL;
    return SASL_CONTINUE;
}

static enum sasl_status scram_client_final(struct sasl_server *s, const char *msg, size_t len,
                                           struct buf *out, const char **err)
{
    const char *p = msg, *end = msg + len, *v;
    size_t vlen;
    if (len == 0 || len > SCRAM_MAX_MESSAGE || memchr(msg, '\0', len) != NULL)
        return fail(s, err, "malformed SCRAM client-final");

    /* client-final-message-without-proof = channel-binding "," nonce
     * ["," extensions]; channel-binding = "c=" base64(gs2-header), with no
     * cbind-data since we do not do -PLUS (RFC 5802 §7). */
    struct buf cbind = BUF_INIT;
    bool cbind_ok = next_attr(&p, end, 'c', &v, &vlen) && base64_decode(v, vlen, &cbind) &&
                    cbind.len == strlen(s->gs2_header) &&
                    memcmp(cbind.data, s->gs2_header, cbind.len) == 0;
    buf_free(&cbind);
    if (!cbind_ok)
        return fail(s, err, "SCRAM channel binding data does not match the GS2 header");
    if (!next_attr(&p, end, 'r', &v, &vlen) || vlen != strlen(s->nonce) ||
        memcmp(v, s->nonce, vlen) != 0)
        return fail(s, err, "SCRAM nonce mismatch");
    /* Extensions, then the proof, which must come last. */
    const char *proof_attr = NULL;
    while (p < end) {
        if (end - p >= 2 && p[0] == 'p' && p[1] == '=') {
            proof_attr = p;
            break;
        }
        const char *comma = memchr(p, ',', (size_t)(end - p));
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    if (proof_attr == NULL)
        return fail(s, err, "malformed SCRAM client-final: no proof");
    const char *proof_b64 = proof_attr + 2;
    size_t proof_b64_len = (size_t)(end - proof_b64);
    if (memchr(proof_b64, ',', proof_b64_len) != NULL)
        return fail(s, err, "malformed SCRAM client-final: proof is not last");
    struct buf proof = BUF_INIT;
    if (!base64_decode(proof_b64, proof_b64_len, &proof) || proof.len != SHA256_DIGEST_LENGTH) {
        buf_free(&proof);
        return fail(s, err, "malformed SCRAM client-final: bad proof");
    }

    /* AuthMessage = client-first-message-bare + "," + server-first-message +
     * "," + client-final-message-without-proof (RFC 5802 §3). */
    struct buf auth = BUF_INIT;
    buf_printf(&auth, "%s,%s,", s->client_first_bare, s->server_first);
    buf_append(&auth, msg, (size_t)(proof_attr - 1 - msg));

    /* ClientSignature = HMAC(StoredKey, AuthMessage); ClientKey = ClientProof
     * XOR ClientSignature; the proof holds when H(ClientKey) == StoredKey. */
    unsigned char sig[SHA256_DIGEST_LENGTH], client_key[SHA256_DIGEST_LENGTH],
        stored[SHA256_DIGEST_LENGTH];
    hmac_sha256(s->cred.stored_key, sizeof(s->cred.stored_key), auth.data, auth.len, sig);
    for (size_t i = 0; i < sizeof(client_key); i++)
        client_key[i] = (unsigned char)(proof.data[i] ^ sig[i]);
    SHA256(client_key, sizeof(client_key), stored);
    bool ok = CRYPTO_memcmp(stored, s->cred.stored_key, sizeof(stored)) == 0;
    explicit_bzero(client_key, sizeof(client_key));
    explicit_bzero(sig, sizeof(sig));
    buf_free_secret(&proof);

    enum sasl_status status;
    if (s->unknown_user || !ok) {
        /* The same answer for both: only the log learns which. */
        status = fail(s, err, s->unknown_user ? "unknown user" : "wrong password (SCRAM proof)");
    } else {
        /* server-final-message = "v=" base64(ServerSignature), with
         * ServerSignature = HMAC(ServerKey, AuthMessage). */
        unsigned char server_sig[SHA256_DIGEST_LENGTH];
        hmac_sha256(s->cred.server_key, sizeof(s->cred.server_key), auth.data, auth.len,
                    server_sig);
        buf_puts(out, "v=");
        base64_encode(server_sig, sizeof(server_sig), out);
        s->state = STATE_DONE;
        status = SASL_SUCCESS;
    }
    buf_free(&auth);
    explicit_bzero(&s->cred, sizeof(s->cred));
    return status;
}

static enum sasl_status scram_step(struct sasl_server *s, const unsigned char *in, size_t len,
                                   struct buf *out, const char **err)
{
    switch (s->state) {
    case STATE_START:
        if (in == NULL) {
            /* SCRAM is client-first: ask for client-first with an empty
             * challenge (RFC 4422 §5). */
            s->state = STATE_SCRAM_FIRST;
            empty_challenge(out);
            return SASL_CONTINUE;
        }
        return scram_client_first(s, (const char *)in, len, err);
    case STATE_SCRAM_FIRST:
        if (in == NULL)
            return fail(s, err, "expected SCRAM client-first");
        return scram_client_first(s, (const char *)in, len, err);
    case STATE_SCRAM_FINAL:
        if (in == NULL)
            return fail(s, err, "expected SCRAM client-final");
        return scram_client_final(s, (const char *)in, len, out, err);
    case STATE_SCRAM_CREDS:
        return fail(s, err, "SCRAM step before sasl_scram_set_credentials()");
    default:
        return fail(s, err, "SASL exchange already finished");
    }
}

enum sasl_status sasl_server_step(struct sasl_server *s, const unsigned char *in, size_t len,
                                  struct buf *out, const char **err)
{
    *err = NULL;
    if (s->state == STATE_DONE)
        return fail(s, err, "SASL exchange already finished");
    switch (s->mech) {
    case SASL_MECH_PLAIN:
        return plain_step(s, in, len, out, err);
    case SASL_MECH_LOGIN:
        return login_step(s, in, len, out, err);
    case SASL_MECH_SCRAM_SHA_256:
        return scram_step(s, in, len, out, err);
    }
    return fail(s, err, "unknown SASL mechanism");
}
