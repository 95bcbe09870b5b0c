/* SASL server mechanisms: PLAIN and LOGIN decoding with every kind of broken
 * input, and SCRAM-SHA-256 byte for byte against RFC 7677 §3's exchange. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/password.h"
#include "auth/sasl.h"
#include "lib/base64.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

/* Runs one step with `len` bytes of `in` (NULL for "no initial response"). */
static enum sasl_status step(struct sasl_server *s, const char *in, size_t len, struct buf *out,
                             const char **err)
{
    buf_reset(out);
    return sasl_server_step(s, (const unsigned char *)in, len, out, err);
}

/* ---- PLAIN ---------------------------------------------------------------- */

static void test_plain_ok(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    const char *err = NULL;
    size_t len = 0;
    struct sasl_server *s = sasl_server_new(SASL_MECH_PLAIN);
    assert_int_equal(step(s, "\0tim\0tanstaaftanstaaf", 21, &out, &err), SASL_NEED_PASSWORD_CHECK);
    assert_string_equal(sasl_authcid(s), "tim");
    assert_string_equal(sasl_authzid(s), "");
    const char *pw = sasl_password(s, &len);
    assert_int_equal(len, 16);
    assert_memory_equal(pw, "tanstaaftanstaaf", 16);
    /* Nothing more may follow. */
    assert_int_equal(step(s, "\0tim\0x", 6, &out, &err), SASL_FAIL);
    assert_non_null(err);
    sasl_server_free(s);

    /* RFC 4616 §4 example with an authzid, and UTF-8 in every field. */
    s = sasl_server_new(SASL_MECH_PLAIN);
    static const char msg[] = "Ursel\0Kurt\0xipj3plmq\xc3\xa9";
    assert_int_equal(step(s, msg, sizeof(msg) - 1, &out, &err), SASL_NEED_PASSWORD_CHECK);
    assert_string_equal(sasl_authzid(s), "Ursel");
    assert_string_equal(sasl_authcid(s), "Kurt");
    pw = sasl_password(s, &len);
    assert_int_equal(len, 11);
    assert_memory_equal(pw, "xipj3plmq\xc3\xa9", 11);
    sasl_server_free(s);

    /* No initial response: an empty challenge, then the message. */
    s = sasl_server_new(SASL_MECH_PLAIN);
    assert_int_equal(step(s, NULL, 0, &out, &err), SASL_CONTINUE);
    assert_int_equal(out.len, 0);
    assert_null(sasl_authcid(s));
    assert_int_equal(step(s, "\0u\0p", 4, &out, &err), SASL_NEED_PASSWORD_CHECK);
    assert_string_equal(sasl_authcid(s), "u");
    sasl_server_free(s);
    buf_free(&out);
}

static void expect_plain_fail(const char *msg, size_t len, const char *why)
{
    struct buf out = BUF_INIT;
    const char *err = NULL;
    size_t pwlen = 99;
    struct sasl_server *s = sasl_server_new(SASL_MECH_PLAIN);
    enum sasl_status st = step(s, msg, len, &out, &err);
    if (st != SASL_FAIL)
        fail_msg("expected SASL_FAIL for %s, got %d", why, st);
    assert_non_null(err);
    assert_null(sasl_password(s, &pwlen));
    assert_int_equal(pwlen, 0);
    sasl_server_free(s);
    buf_free(&out);
}

static void test_plain_malformed(void **state)
{
    (void)state;
    char big[1100];
    expect_plain_fail("", 0, "empty message");
    expect_plain_fail("userpass", 8, "no NUL");
    expect_plain_fail("\0userpass", 9, "one NUL");
    expect_plain_fail("\0\0pass", 6, "empty authcid");
    expect_plain_fail("\0user\0", 6, "empty password");
    expect_plain_fail("\0user\0pa\0ss", 11, "NUL in the password");
    expect_plain_fail("\0\0\0", 3, "three NULs");
    expect_plain_fail("\0us\xc3\x28r\0pass", 10, "bad UTF-8 in authcid");
    expect_plain_fail("\0user\0pa\xffss", 11, "bad UTF-8 in password");
    expect_plain_fail("\xc0\xaf\0user\0pass", 12, "overlong in authzid");
    expect_plain_fail("\0\xed\xa0\x80\0pass", 9, "surrogate in authcid");
    expect_plain_fail("\0\xf4\x90\x80\x80\0pass", 10, "above U+10FFFF");
    expect_plain_fail("\0user\0pass\xc3", 11, "truncated UTF-8");

    /* authcid: 255 bytes pass, 256 fail; password: 1024 pass, 1025 fail. */
    memset(big, 'a', sizeof(big));
    big[0] = '\0';
    big[256] = '\0';
    struct buf out = BUF_INIT;
    const char *err;
    struct sasl_server *s = sasl_server_new(SASL_MECH_PLAIN);
    assert_int_equal(step(s, big, 258, &out, &err), SASL_NEED_PASSWORD_CHECK);
    assert_int_equal(strlen(sasl_authcid(s)), 255);
    sasl_server_free(s);
    big[256] = 'a';
    big[257] = '\0';
    expect_plain_fail(big, 259, "authcid of 256 bytes");
    memset(big, 'a', sizeof(big));
    big[0] = '\0';
    big[2] = '\0';
    s = sasl_server_new(SASL_MECH_PLAIN);
    assert_int_equal(step(s, big, 3 + 1024, &out, &err), SASL_NEED_PASSWORD_CHECK);
    sasl_server_free(s);
    expect_plain_fail(big, 3 + 1025, "password of 1025 bytes");
    memset(big, 'a', sizeof(big));
    big[256] = '\0';
    big[258] = '\0';
    expect_plain_fail(big, 260, "authzid of 256 bytes");

    /* After the empty challenge the client must answer with a message. */
    s = sasl_server_new(SASL_MECH_PLAIN);
    assert_int_equal(step(s, NULL, 0, &out, &err), SASL_CONTINUE);
    assert_int_equal(step(s, "", 0, &out, &err), SASL_FAIL);
    sasl_server_free(s);
    buf_free(&out);
}

/* ---- LOGIN ---------------------------------------------------------------- */

static void test_login(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    const char *err = NULL;
    size_t len;
    struct sasl_server *s = sasl_server_new(SASL_MECH_LOGIN);
    assert_int_equal(step(s, NULL, 0, &out, &err), SASL_CONTINUE);
    assert_string_equal(buf_cstr(&out), "Username:");
    assert_int_equal(step(s, "alice@example.com", 17, &out, &err), SASL_CONTINUE);
    assert_string_equal(buf_cstr(&out), "Password:");
    assert_string_equal(sasl_authcid(s), "alice@example.com");
    assert_null(sasl_password(s, &len));
    assert_int_equal(step(s, "s3cret pass", 11, &out, &err), SASL_NEED_PASSWORD_CHECK);
    const char *pw = sasl_password(s, &len);
    assert_int_equal(len, 11);
    assert_memory_equal(pw, "s3cret pass", 11);
    assert_null(sasl_authzid(s));
    assert_int_equal(step(s, "more", 4, &out, &err), SASL_FAIL);
    sasl_server_free(s);

    /* With an initial response, it is the user name. */
    s = sasl_server_new(SASL_MECH_LOGIN);
    assert_int_equal(step(s, "bob", 3, &out, &err), SASL_CONTINUE);
    assert_string_equal(buf_cstr(&out), "Password:");
    /* A Latin-1 password from an old client is still a password. */
    assert_int_equal(step(s, "\xe9t\xe9", 3, &out, &err), SASL_NEED_PASSWORD_CHECK);
    assert_string_equal(sasl_authcid(s), "bob");
    pw = sasl_password(s, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(pw, "\xe9t\xe9", 3);
    sasl_server_free(s);
    buf_free(&out);
}

static void expect_login_fail(const char *user, size_t ulen, const char *pass, size_t plen)
{
    struct buf out = BUF_INIT;
    const char *err = NULL;
    struct sasl_server *s = sasl_server_new(SASL_MECH_LOGIN);
    assert_int_equal(step(s, NULL, 0, &out, &err), SASL_CONTINUE);
    enum sasl_status st = step(s, user, ulen, &out, &err);
    if (pass != NULL) {
        assert_int_equal(st, SASL_CONTINUE);
        st = step(s, pass, plen, &out, &err);
    }
    assert_int_equal(st, SASL_FAIL);
    assert_non_null(err);
    sasl_server_free(s);
    buf_free(&out);
}

static void test_login_malformed(void **state)
{
    (void)state;
    char big[1100];
    memset(big, 'x', sizeof(big));
    expect_login_fail("", 0, NULL, 0);
    expect_login_fail("us\0er", 5, NULL, 0);
    expect_login_fail("us\xffr", 4, NULL, 0);
    expect_login_fail(big, 256, NULL, 0);
    expect_login_fail("user", 4, "", 0);
    expect_login_fail("user", 4, "pa\0ss", 5);
    expect_login_fail("user", 4, big, 1025);

    /* An empty initial response is an empty user name. */
    struct buf out = BUF_INIT;
    const char *err = NULL;
    struct sasl_server *s = sasl_server_new(SASL_MECH_LOGIN);
    assert_int_equal(step(s, "", 0, &out, &err), SASL_FAIL);
    sasl_server_free(s);
    buf_free(&out);
}

static void test_mech_names(void **state)
{
    (void)state;
    enum sasl_mech m;
    assert_true(sasl_mech_from_name("plain", &m));
    assert_int_equal(m, SASL_MECH_PLAIN);
    assert_true(sasl_mech_from_name("Scram-Sha-256", &m));
    assert_int_equal(m, SASL_MECH_SCRAM_SHA_256);
    assert_true(sasl_mech_from_name("LOGIN", &m));
    assert_int_equal(m, SASL_MECH_LOGIN);
    assert_false(sasl_mech_from_name("SCRAM-SHA-256-PLUS", &m));
    assert_false(sasl_mech_from_name("CRAM-MD5", &m));
    assert_string_equal(sasl_mech_name(SASL_MECH_SCRAM_SHA_256), "SCRAM-SHA-256");
}

/* ---- SCRAM-SHA-256 --------------------------------------------------------- */

/* RFC 7677 §3. */
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SERVER_FIRST                                                                           \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL                                                                           \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+"               \
    "Ute9ytag9zjfMHg"                                                                              \
    "sqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void rfc_credentials(struct scram_credentials *c)
{
    struct buf salt = BUF_INIT;
    assert_true(base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, &salt));
    scram_credentials_from_password("pencil", (const unsigned char *)salt.data, salt.len, 4096, c);
    buf_free(&salt);
}

/* Starts an exchange up to server-first; returns the server. */
static struct sasl_server *scram_start(const char *client_first, const struct scram_credentials *c,
                                       struct buf *server_first)
{
    const char *err = NULL;
    struct sasl_server *s = sasl_server_new(SASL_MECH_SCRAM_SHA_256);
    buf_reset(server_first);
    assert_int_equal(step(s, client_first, strlen(client_first), server_first, &err),
                     SASL_NEED_CREDENTIALS);
    assert_int_equal(server_first->len, 0);
    buf_reset(server_first);
    assert_int_equal(sasl_scram_set_credentials(s, c, server_first), SASL_CONTINUE);
    return s;
}

static void test_scram_rfc7677(void **state)
{
    (void)state;
    struct scram_credentials c;
    struct buf out = BUF_INIT;
    const char *err = NULL;
    rfc_credentials(&c);

    struct sasl_server *s = sasl_server_new(SASL_MECH_SCRAM_SHA_256);
    sasl_scram_set_server_nonce(s, RFC_SERVER_NONCE);
    /* No initial response: an empty challenge first. */
    assert_int_equal(step(s, NULL, 0, &out, &err), SASL_CONTINUE);
    assert_int_equal(out.len, 0);
    assert_int_equal(step(s, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), &out, &err),
                     SASL_NEED_CREDENTIALS);
    assert_string_equal(sasl_authcid(s), "user");
    assert_null(sasl_authzid(s));
    buf_reset(&out);
    assert_int_equal(sasl_scram_set_credentials(s, &c, &out), SASL_CONTINUE);
    assert_string_equal(buf_cstr(&out), RFC_SERVER_FIRST);
    assert_int_equal(step(s, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), &out, &err), SASL_SUCCESS);
    assert_string_equal(buf_cstr(&out), RFC_SERVER_FINAL);
    size_t len;
    assert_null(sasl_password(s, &len));
    /* The exchange is over. */
    assert_int_equal(step(s, "", 0, &out, &err), SASL_FAIL);
    sasl_server_free(s);
    buf_free(&out);
}

/* Plays the client (RFC 5802 §3): the client-final for server_first. */
static void client_final(const char *password, const char *gs2_header,
                         const char *client_first_bare, const char *server_first, struct buf *out)
{
    const char *r = strstr(server_first, "r=") + 2;
    const char *s = strstr(server_first, ",s=") + 3;
    const char *i = strstr(server_first, ",i=") + 3;
    struct buf salt = BUF_INIT, without_proof = BUF_INIT, auth = BUF_INIT;
    assert_true(base64_decode(s, (size_t)(i - 3 - s), &salt));
    unsigned iter = (unsigned)strtoul(i, NULL, 10);
    unsigned char salted[32], client_key[32], stored[32], sig[32], proof[32];
    unsigned int mdlen = 32;
    assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password),
                                       (const unsigned char *)salt.data, (int)salt.len, (int)iter,
                                       EVP_sha256(), 32, salted),
                     1);
    HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10, client_key, &mdlen);
    SHA256(client_key, 32, stored);
    buf_puts(&without_proof, "c=");
    base64_encode(gs2_header, strlen(gs2_header), &without_proof);
    buf_puts(&without_proof, ",r=");
    buf_append(&without_proof, r, (size_t)(s - 3 - r));
    buf_printf(&auth, "%s,%s,%s", client_first_bare, server_first, without_proof.data);
    HMAC(EVP_sha256(), stored, 32, (const unsigned char *)auth.data, auth.len, sig, &mdlen);
    for (int k = 0; k < 32; k++)
        proof[k] = client_key[k] ^ sig[k];
    buf_reset(out);
    buf_printf(out, "%s,p=", without_proof.data);
    base64_encode(proof, 32, out);
    buf_free(&salt);
    buf_free(&without_proof);
    buf_free(&auth);
}

static void test_scram_wrong_proof(void **state)
{
    (void)state;
    struct scram_credentials c;
    struct buf fin = BUF_INIT;
    struct buf out = BUF_INIT;
    const char *err = NULL;
    rfc_credentials(&c);
    struct sasl_server *s = sasl_server_new(SASL_MECH_SCRAM_SHA_256);
    sasl_scram_set_server_nonce(s, RFC_SERVER_NONCE);
    assert_int_equal(step(s, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), &out, &err),
                     SASL_NEED_CREDENTIALS);
    assert_int_equal(sasl_scram_set_credentials(s, &c, &out), SASL_CONTINUE);
    /* The RFC's proof with its first byte changed ('d' -> 'e'). */
    char final[] = RFC_CLIENT_FINAL;
    char *p = strstr(final, ",p=") + 3;
    *p = 'e';
    assert_int_equal(step(s, final, strlen(final), &out, &err), SASL_FAIL);
    assert_string_equal(err, "wrong password (SCRAM proof)");
    assert_int_equal(out.len, 0);
    sasl_server_free(s);

    /* A proof computed for another password. */
    struct buf sf = BUF_INIT;
    s = scram_start("n,,n=user,r=abcdef", &c, &sf);
    client_final("pencil2", "n,,", "n=user,r=abcdef", sf.data, &fin);
    assert_int_equal(step(s, fin.data, fin.len, &out, &err), SASL_FAIL);
    assert_string_equal(err, "wrong password (SCRAM proof)");
    sasl_server_free(s);

    /* ...and the right password with a random server nonce: success, and the
     * server's nonce is 32 base64 characters after the client's. */
    s = scram_start("n,,n=user,r=abcdef", &c, &sf);
    assert_int_equal(strncmp(sf.data, "r=abcdef", 8), 0);
    assert_int_equal(strstr(sf.data, ",s=") - sf.data, 2 + 6 + 32);
    client_final("pencil", "n,,", "n=user,r=abcdef", sf.data, &fin);
    assert_int_equal(step(s, fin.data, fin.len, &out, &err), SASL_SUCCESS);
    assert_int_equal(strncmp(out.data, "v=", 2), 0);
    sasl_server_free(s);

    /* A proof of the wrong length. */
    s = scram_start("n,,n=user,r=abcdef", &c, &sf);
    client_final("pencil", "n,,", "n=user,r=abcdef", sf.data, &fin);
    fin.len -= 4;
    fin.data[fin.len] = '\0';
    assert_int_equal(step(s, fin.data, fin.len, &out, &err), SASL_FAIL);
    sasl_server_free(s);
    buf_free(&sf);
    buf_free(&out);
    buf_free(&fin);
}

static void test_scram_wrong_nonce(void **state)
{
    (void)state;
    struct scram_credentials c;
    struct buf out = BUF_INIT;
    const char *err = NULL;
    rfc_credentials(&c);
    struct sasl_server *s = sasl_server_new(SASL_MECH_SCRAM_SHA_256);
    sasl_scram_set_server_nonce(s, "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXX");
    assert_int_equal(step(s, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), &out, &err),
                     SASL_NEED_CREDENTIALS);
    assert_int_equal(sasl_scram_set_credentials(s, &c, &out), SASL_CONTINUE);
    /* The RFC's final message answers another server nonce. */
    assert_int_equal(step(s, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), &out, &err), SASL_FAIL);
    assert_string_equal(err, "SCRAM nonce mismatch");
    sasl_server_free(s);

    /* Only the client's part of the nonce. */
    s = sasl_server_new(SASL_MECH_SCRAM_SHA_256);
    sasl_scram_set_server_nonce(s, RFC_SERVER_NONCE);
    assert_int_equal(step(s, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), &out, &err),
                     SASL_NEED_CREDENTIALS);
    assert_int_equal(sasl_scram_set_credentials(s, &c, &out), SASL_CONTINUE);
    static const char short_nonce[] =
        "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHg"
        "sqmmiz7AndVQ=";
    assert_int_equal(step(s, short_nonce, strlen(short_nonce), &out, &err), SASL_FAIL);
    assert_string_equal(err, "SCRAM nonce mismatch");
    sasl_server_free(s);
    buf_free(&out);
}

static void test_scram_channel_binding(void **state)
{
    (void)state;
    struct scram_credentials c;
    struct buf fin = BUF_INIT;
    struct buf out = BUF_INIT, sf = BUF_INIT;
    const char *err = NULL;
    rfc_credentials(&c);

    /* "p=": the client wants channel binding, which only -PLUS offers. */
    struct sasl_server *s = sasl_server_new(SASL_MECH_SCRAM_SHA_256);
    static const char plus[] = "p=tls-server-end-point,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    assert_int_equal(step(s, plus, strlen(plus), &out, &err), SASL_FAIL);
    assert_non_null(strstr(err, "channel binding"));
    assert_null(sasl_authcid(s));
    sasl_server_free(s);

    /* "y": the client could bind but thinks we can't, which is true. */
    s = scram_start("y,,n=user,r=abc", &c, &sf);
    client_final("pencil", "y,,", "n=user,r=abc", sf.data, &fin);
    assert_int_equal(strncmp(fin.data, "c=eSws,", 7), 0);
    assert_int_equal(step(s, fin.data, fin.len, &out, &err), SASL_SUCCESS);
    sasl_server_free(s);

    /* c= must repeat the GS2 header that was sent: "n,," then "y,," is not. */
    s = scram_start("n,,n=user,r=abc", &c, &sf);
    client_final("pencil", "y,,", "n=user,r=abc", sf.data, &fin);
    assert_int_equal(step(s, fin.data, fin.len, &out, &err), SASL_FAIL);
    assert_string_equal(err, "SCRAM channel binding data does not match the GS2 header");
    sasl_server_free(s);

    /* With an authzid, c= carries it too. */
    s = scram_start("n,a=admin,n=user,r=abc", &c, &sf);
    assert_string_equal(sasl_authzid(s), "admin");
    client_final("pencil", "n,a=admin,", "n=user,r=abc", sf.data, &fin);
    assert_int_equal(step(s, fin.data, fin.len, &out, &err), SASL_SUCCESS);
    sasl_server_free(s);
    s = scram_start("n,a=admin,n=user,r=abc", &c, &sf);
    client_final("pencil", "n,,", "n=user,r=abc", sf.data, &fin);
    assert_int_equal(step(s, fin.data, fin.len, &out, &err), SASL_FAIL);
    sasl_server_free(s);
    buf_free(&sf);
    buf_free(&out);
    buf_free(&fin);
}

static void test_scram_unknown_user(void **state)
{
    (void)state;
    struct buf fin = BUF_INIT;
    struct buf out = BUF_INIT, sf = BUF_INIT, sf2 = BUF_INIT;
    const char *err = NULL;
    struct sasl_server *s = scram_start("n,,n=nobody,r=abc", NULL, &sf);
    /* Looks like any user: i=4096 and the salt a {PLAIN} user would get. */
    struct scram_credentials plain;
    assert_int_equal(password_scram_credentials("{PLAIN}pencil", NULL, "nobody", 0, &plain, &err),
                     0);
    struct buf expect = BUF_INIT;
    buf_puts(&expect, ",s=");
    base64_encode(plain.salt, plain.salt_len, &expect);
    buf_puts(&expect, ",i=4096");
    assert_non_null(strstr(sf.data, expect.data));
    client_final("pencil", "n,,", "n=nobody,r=abc", sf.data, &fin);
    assert_int_equal(step(s, fin.data, fin.len, &out, &err), SASL_FAIL);
    assert_string_equal(err, "unknown user");
    assert_int_equal(out.len, 0);
    sasl_server_free(s);

    /* A second try sees the same salt: nothing to tell it from a real user. */
    s = scram_start("n,,n=nobody,r=abc", NULL, &sf2);
    assert_non_null(strstr(sf2.data, expect.data));
    sasl_server_free(s);
    buf_free(&expect);
    buf_free(&sf);
    buf_free(&sf2);
    buf_free(&out);
    buf_free(&fin);
}

/* The server-first message for `name` with the given credentials (fake: as an
 * unknown user's), its "s=" and "i=" values into salt_b64 and iter. */
static void server_first_of(const char *name, const struct scram_credentials *c, bool fake,
                            struct buf *salt_b64, unsigned long *iter)
{
    struct buf first = BUF_INIT, out = BUF_INIT;
    const char *err = NULL;
    buf_printf(&first, "n,,n=%s,r=abc", name);
    struct sasl_server *s = sasl_server_new(SASL_MECH_SCRAM_SHA_256);
    assert_int_equal(step(s, first.data, first.len, &out, &err), SASL_NEED_CREDENTIALS);
    buf_reset(&out);
    if (fake)
        assert_int_equal(sasl_scram_set_fake_credentials(s, c, &out), SASL_CONTINUE);
    else
        assert_int_equal(sasl_scram_set_credentials(s, c, &out), SASL_CONTINUE);
    const char *sp = strstr(out.data, ",s="), *ip = strstr(out.data, ",i=");
    assert_non_null(sp);
    assert_non_null(ip);
    buf_reset(salt_b64);
    buf_append(salt_b64, sp + 3, (size_t)(ip - sp - 3));
    char *end;
    *iter = strtoul(ip + 3, &end, 10);
    assert_int_equal(*end, '\0');
    sasl_server_free(s);
    buf_free(&first);
    buf_free(&out);
}

/* The made-up credentials of a user who cannot do SCRAM: a salt derived from
 * the name (the same every time, another for another name), of the length
 * and form a real user's has, and the iteration count asked for. */
static void test_scram_fake_salt(void **state)
{
    (void)state;
    struct scram_credentials a, b, c, real;
    const char *err = NULL;
    scram_fake_credentials("nobody", 0, &a);
    scram_fake_credentials("nobody", 0, &b);
    scram_fake_credentials("nobodz", 0, &c);
    assert_int_equal(a.salt_len, SCRAM_DERIVED_SALT_LEN);
    assert_int_equal(a.iterations, SCRAM_DEFAULT_ITERATIONS);
    /* Deterministic per name... */
    assert_int_equal(b.salt_len, a.salt_len);
    assert_memory_equal(a.salt, b.salt, a.salt_len);
    /* ...with keys nobody knows, new each time... */
    assert_memory_not_equal(a.stored_key, b.stored_key, sizeof(a.stored_key));
    assert_memory_not_equal(a.server_key, b.server_key, sizeof(a.server_key));
    /* ...and different per name. */
    assert_memory_not_equal(a.salt, c.salt, a.salt_len);
    /* The salt a {PLAIN} entry of that name gets: an unknown user looks like one. */
    assert_int_equal(password_scram_credentials("{PLAIN}pencil", NULL, "nobody", 0, &real, &err),
                     0);
    assert_int_equal(real.salt_len, a.salt_len);
    assert_memory_equal(real.salt, a.salt, a.salt_len);

    /* A real user's stored credentials, as `gannet passwd -s SCRAM-SHA-256`
     * makes them: the server-first messages have the same form. */
    struct buf stored = BUF_INIT, real_salt = BUF_INIT, fake_salt = BUF_INIT, fake_salt2 = BUF_INIT,
               other_salt = BUF_INIT;
    assert_int_equal(password_hash("SCRAM-SHA-256", "pencil", &stored, &err), 0);
    assert_int_equal(password_scram_credentials(stored.data, NULL, "alice", 0, &real, &err), 0);
    unsigned long real_iter, fake_iter, iter;
    server_first_of("alice", &real, false, &real_salt, &real_iter);
    server_first_of("nobody", &a, true, &fake_salt, &fake_iter);
    assert_int_equal(fake_iter, real_iter);
    assert_int_equal(fake_salt.len, real_salt.len);
    assert_int_equal(fake_salt.len, 24); /* 16 bytes in base64 */
    assert_non_null(strstr(fake_salt.data, "=="));
    /* Another try for the same name: the same salt, as a stored user's. */
    server_first_of("nobody", &b, true, &fake_salt2, &iter);
    assert_string_equal(fake_salt.data, fake_salt2.data);
    server_first_of("nobodz", &c, true, &other_salt, &iter);
    assert_string_not_equal(fake_salt.data, other_salt.data);

    /* The passdb's iteration count, when its users have another one. */
    scram_fake_credentials("nobody", 50000, &c);
    assert_int_equal(c.iterations, 50000);
    assert_memory_equal(c.salt, a.salt, a.salt_len);
    server_first_of("nobody", &c, true, &other_salt, &iter);
    assert_int_equal(iter, 50000);
    assert_string_equal(other_salt.data, fake_salt.data);
    /* ...and a {PLAIN} entry gets that count too. */
    assert_int_equal(password_scram_credentials("{PLAIN}pencil", NULL, "carol", 50000, &real, &err),
                     0);
    assert_int_equal(real.iterations, 50000);
    buf_free(&stored);
    buf_free(&real_salt);
    buf_free(&fake_salt);
    buf_free(&fake_salt2);
    buf_free(&other_salt);
}

/* An exchange with made-up credentials fails at the proof, whatever the
 * client sends, as a wrong password does. */
static void test_scram_fake_credentials_fail(void **state)
{
    (void)state;
    struct scram_credentials fake;
    struct buf out = BUF_INIT, sf = BUF_INIT, fin = BUF_INIT;
    const char *err = NULL;
    scram_fake_credentials("nobody", 0, &fake);
    struct sasl_server *s = sasl_server_new(SASL_MECH_SCRAM_SHA_256);
    assert_int_equal(step(s, "n,,n=nobody,r=abc", 17, &out, &err), SASL_NEED_CREDENTIALS);
    assert_int_equal(sasl_scram_set_fake_credentials(s, &fake, &sf), SASL_CONTINUE);
    client_final("pencil", "n,,", "n=nobody,r=abc", sf.data, &fin);
    assert_int_equal(step(s, fin.data, fin.len, &out, &err), SASL_FAIL);
    assert_string_equal(err, "unknown user");
    assert_int_equal(out.len, 0);
    sasl_server_free(s);
    /* Unusable credentials end the exchange. */
    s = sasl_server_new(SASL_MECH_SCRAM_SHA_256);
    assert_int_equal(step(s, "n,,n=nobody,r=abc", 17, &out, &err), SASL_NEED_CREDENTIALS);
    assert_int_equal(sasl_scram_set_fake_credentials(s, NULL, &sf), SASL_FAIL);
    sasl_server_free(s);
    buf_free(&out);
    buf_free(&sf);
    buf_free(&fin);
}

static void test_scram_usernames(void **state)
{
    (void)state;
    struct buf out = BUF_INIT;
    const char *err = NULL;
    struct {
        const char *first;
        const char *authcid; /* NULL: must fail */
    } cases[] = {
        {"n,,n=a=2Cb=3Dc,r=x", "a,b=c"},
        {"n,,n=a=41,r=x", NULL},       /* only =2C and =3D exist */
        {"n,,n=a=2,r=x", NULL},        /* truncated escape */
        {"n,,n=,r=x", NULL},           /* empty user */
        {"n,,n=user", NULL},           /* no nonce */
        {"n,,n=user,r=", NULL},        /* empty nonce */
        {"n,,n=user,r=a\x7f", NULL},   /* nonce outside printable */
        {"n,,m=ext,n=user,r=x", NULL}, /* mandatory extension */
        {"n,,r=x,n=user", NULL},       /* wrong order */
        {"x,,n=user,r=x", NULL},       /* bad cbind flag */
        {"n,n=user,r=x", NULL},        /* GS2 header cut short */
        {"n,,n=us\xffr,r=x", NULL},    /* bad UTF-8 */
        {"n,,n=user,r=x,", NULL},      /* trailing comma */
        {"n,,n=user,r=x,e=1", "user"}, /* extensions are ignored */
        {"n,,n=user,r=x,1", NULL},     /* ...but must look like one */
        {"n,,n=I\xc2\xadX,r=x", "IX"}, /* SASLprep: U+00AD maps to nothing (RFC 4013 §3) */
        {"n,,n=\xc2\xaa,r=x", "a"},    /* SASLprep: NFKC (RFC 4013 §3) */
        {"n,,n=a\x07,r=x", NULL},      /* SASLprep: control character prohibited */
        {"n,a=,n=user,r=x", NULL},     /* empty authzid */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sasl_server *s = sasl_server_new(SASL_MECH_SCRAM_SHA_256);
        enum sasl_status st = step(s, cases[i].first, strlen(cases[i].first), &out, &err);
        if (cases[i].authcid == NULL) {
            if (st != SASL_FAIL)
                fail_msg("%s: expected SASL_FAIL, got %d", cases[i].first, st);
            assert_non_null(err);
        } else {
            if (st != SASL_NEED_CREDENTIALS)
                fail_msg("%s: expected NEED_CREDENTIALS, got %d (%s)", cases[i].first, st,
                         err ? err : "");
            assert_string_equal(sasl_authcid(s), cases[i].authcid);
        }
        sasl_server_free(s);
    }
    /* An empty client-first, and a step out of order. */
    struct sasl_server *s = sasl_server_new(SASL_MECH_SCRAM_SHA_256);
    assert_int_equal(step(s, "", 0, &out, &err), SASL_FAIL);
    sasl_server_free(s);
    s = sasl_server_new(SASL_MECH_SCRAM_SHA_256);
    assert_int_equal(step(s, "n,,n=u,r=x", 10, &out, &err), SASL_NEED_CREDENTIALS);
    assert_int_equal(step(s, "c=biws", 6, &out, &err), SASL_FAIL);
    sasl_server_free(s);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_ok),
        cmocka_unit_test(test_plain_malformed),
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_login_malformed),
        cmocka_unit_test(test_mech_names),
        cmocka_unit_test(test_scram_rfc7677),
        cmocka_unit_test(test_scram_wrong_proof),
        cmocka_unit_test(test_scram_wrong_nonce),
        cmocka_unit_test(test_scram_channel_binding),
        cmocka_unit_test(test_scram_unknown_user),
        cmocka_unit_test(test_scram_fake_salt),
        cmocka_unit_test(test_scram_fake_credentials_fail),
        cmocka_unit_test(test_scram_usernames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
