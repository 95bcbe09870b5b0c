/* Password schemes: hashes made by Dovecot 2.3.19's `doveadm pw` and OpenSSL
 * must verify, near misses must not, broken entries must say so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/password.h"
#include "auth/scram-secret.h"
#include "lib/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* `doveadm pw -s SCHEME -p secret` (Dovecot 2.3.19). */
static const char *const dovecot_secret[] = {
    "{SCRAM-SHA-256}4096,syre6BSApot3qeKL+ArMHQ==,9K3bvrG1gjgt9g5QiPSRKxMaI59Fp0jl8YtYV+ToT1s=,"
    "qHvVdPXVunYbZS0o9/qzY5pOi7UR0Y8r3T/8myrvWQg=",
    "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$sGVRk+LWfvjyNaE3BIGGdQ$wH7wS8qKZp9MkqnasoUK/"
    "2K8rxtJyH+0jbnwGmtLN9g",
    "{BLF-CRYPT}$2y$05$lKAEARZc3Az7Y0TOkHbpMusWZ/64TyRp95fc.L40l7mh2LCJTf3Yy",
    "{SHA256-CRYPT}$5$3ro07a7PVqMHa0Vd$i/xoOsiPS0ry/EIvr9J0FGIdOto34uTPt3Bq.9zuMB/",
    "{SHA512-CRYPT}$6$g/HL/5Mk7X8y.7bH$UuP1qx1ifdVlpqEh/doghlVL7A665IwapQ9Gwmd/"
    "vWOTK0ldzIPE1aRF0.OKzlrctbN8NYolSJeKh93xj5DBW1",
    /* `openssl passwd -6 -salt abcdefgh secret`, as {CRYPT} and bare (default CRYPT) */
    "{CRYPT}$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/"
    "cZ/1GM/O6IND4WQhG.",
    "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/"
    "O6IND4WQhG.",
    "{PLAIN}secret",
    "{CLEAR}secret",
    "{plain}secret",
};

static int verify(const char *stored, const char *default_scheme, const char *pw)
{
    const char *err = NULL;
    return password_verify(stored, default_scheme, pw, strlen(pw), &err);
}

static void test_known_hashes_verify(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(dovecot_secret) / sizeof(dovecot_secret[0]); i++) {
        const char *s = dovecot_secret[i];
        const char *err = NULL;
        assert_int_equal(password_verify(s, NULL, "secret", 6, &err), 1);
        assert_int_equal(verify(s, NULL, "Secret"), 0);
        assert_int_equal(verify(s, NULL, "secret "), 0);
        assert_int_equal(verify(s, NULL, "secre"), 0);
        assert_int_equal(verify(s, NULL, ""), 0);
        /* An embedded NUL is not a shorter password. */
        assert_int_equal(password_verify(s, NULL, "secret\0x", 8, &err), 0);
    }
}

static void test_default_scheme(void **state)
{
    (void)state;
    /* passwd-file's scheme= applies to entries without a prefix. */
    assert_int_equal(verify("secret", "PLAIN", "secret"), 1);
    assert_int_equal(verify("secret", "PLAIN", "Secret"), 0);
    assert_int_equal(verify("$5$3ro07a7PVqMHa0Vd$i/xoOsiPS0ry/EIvr9J0FGIdOto34uTPt3Bq.9zuMB/",
                            "SHA256-CRYPT", "secret"),
                     1);
    /* ...but an explicit prefix wins over it. */
    assert_int_equal(verify("{PLAIN}secret", "SHA512-CRYPT", "secret"), 1);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{SHA512-CRYPT}",
        "{SHA512-CRYPT}$6$abc",
        "{SHA512-CRYPT}$6$g/HL/5Mk7X8y.7bH$UuP1qx1ifdVlpqEh", /* cut short */
        "{SHA512-CRYPT}$5$3ro07a7PVqMHa0Vd$i/xoOsiPS0ry/EIvr9J0FGIdOto34uTPt3Bq.9zuMB/",
        "{SHA256-CRYPT}$5$3ro07a7PVqMHa0Vd$i/xoOsiPS0ry/EIvr9J0FGIdOto34uTPt3Bq.9zuMB/x",
        "{BLF-CRYPT}$2y$05$lKAEARZc3Az7Y0TOkHbpMusWZ/64TyRp95fc",
        "{BLF-CRYPT}$2q$05$lKAEARZc3Az7Y0TOkHbpMusWZ/64TyRp95fc.L40l7mh2LCJTf3Yy",
        "{CRYPT}",
        "{CRYPT}*",
        "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$sGVRk+LWfvjyNaE3BIGGdQ",
        "{ARGON2ID}$argon2i$v=19$m=65536,t=3,p=1$sGVRk+LWfvjyNaE3BIGGdQ$wH7wS8qKZp9MkqnasoUK/"
        "2K8rxtJyH+0jbnwGmtLN9g",
        "{ARGON2ID}garbage",
        "{SCRAM-SHA-256}4096,syre6BSApot3qeKL+ArMHQ==,9K3bvrG1gjgt9g5QiPSRKxMaI59Fp0jl8YtYV+ToT1s=",
        "{SCRAM-SHA-256}0,syre6BSApot3qeKL+ArMHQ==,9K3bvrG1gjgt9g5QiPSRKxMaI59Fp0jl8YtYV+ToT1s=,"
        "qHvVdPXVunYbZS0o9/qzY5pOi7UR0Y8r3T/8myrvWQg=",
        "{SCRAM-SHA-256}x4096,syre6BSApot3qeKL+ArMHQ==,9K3bvrG1gjgt9g5QiPSRKxMaI59Fp0jl8YtYV+ToT1s="
        ","
        "qHvVdPXVunYbZS0o9/qzY5pOi7UR0Y8r3T/8myrvWQg=",
        "{SCRAM-SHA-256}4096,syre6BSApot3qeKL+ArMHQ=,9K3bvrG1gjgt9g5QiPSRKxMaI59Fp0jl8YtYV+ToT1s=,"
        "qHvVdPXVunYbZS0o9/qzY5pOi7UR0Y8r3T/8myrvWQg=",
        "{SCRAM-SHA-256}4096,syre6BSApot3qeKL+ArMHQ==,9K3bvrG1gjgt9g5QiPSRKxMaI59Fp0jl8YtYV+ToT1s=,"
        "qHvVdPXVunYbZS0o9/qzY5pOi7UR0Y8r3T/8myrvWQ==", /* 31-byte key */
        "{SCRAM-SHA-256}4096,,9K3bvrG1gjgt9g5QiPSRKxMaI59Fp0jl8YtYV+ToT1s=,"
        "qHvVdPXVunYbZS0o9/qzY5pOi7UR0Y8r3T/8myrvWQg=",
        "{NOSUCH}secret",
        "{PLAIN",
        "{}secret",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = NULL;
        int r = password_verify(bad[i], NULL, "secret", 6, &err);
        if (r != -1)
            fail_msg("expected -1 for %s, got %d", bad[i], r);
        assert_non_null(err);
    }
    const char *err = NULL;
    assert_int_equal(password_verify("{NOSUCH}x", NULL, "x", 1, &err), -1);
    assert_string_equal(err, "unknown password scheme");
    assert_int_equal(password_verify("secret", "NOSUCH", "secret", 6, &err), -1);
}

static void round_trip(const char *scheme, const char *expect_prefix)
{
    struct buf out = BUF_INIT, again = BUF_INIT;
    const char *err = NULL;
    const char *pw = "correct horse: battery staple \xc3\xa9";
    assert_int_equal(password_hash(scheme, pw, &out, &err), 0);
    if (strncmp(out.data, expect_prefix, strlen(expect_prefix)) != 0)
        fail_msg("%s: got %s", scheme, out.data);
    assert_int_equal(verify(out.data, NULL, pw), 1);
    assert_int_equal(verify(out.data, NULL, "correct horse: battery staple"), 0);
    assert_int_equal(verify(out.data, NULL, ""), 0);
    /* A fresh salt each time: two hashes of one password differ (except PLAIN). */
    assert_int_equal(password_hash(scheme, pw, &again, &err), 0);
    if (strncmp(expect_prefix, "{PLAIN}", 7) != 0)
        assert_string_not_equal(out.data, again.data);
    buf_free(&out);
    buf_free(&again);
}

static void test_round_trips(void **state)
{
    (void)state;
    round_trip("SHA512-CRYPT", "{SHA512-CRYPT}$6$");
    round_trip("sha256-crypt", "{SHA256-CRYPT}$5$");
    round_trip("BLF-CRYPT", "{BLF-CRYPT}$2y$10$");
    round_trip("CRYPT", "{CRYPT}$6$");
    round_trip("ARGON2ID", "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$");
    round_trip("ARGON2I", "{ARGON2I}$argon2i$v=19$m=65536,t=3,p=1$");
    round_trip("SCRAM-SHA-256", "{SCRAM-SHA-256}4096,");
    round_trip("PLAIN", "{PLAIN}correct horse");
    round_trip(NULL, "{SHA512-CRYPT}$6$");

    struct buf out = BUF_INIT;
    const char *err = NULL;
    assert_int_equal(password_hash("MD5", "x", &out, &err), -1);
    assert_string_equal(err, "unknown password scheme");
    assert_int_equal(password_hash("NOSUCH", "x", &out, &err), -1);
    assert_int_equal(out.len, 0);
    buf_free(&out);
}

static void test_scheme_of(void **state)
{
    (void)state;
    struct buf b = BUF_INIT;
    password_scheme_of("{sha512-crypt}$6$x", NULL, &b);
    assert_string_equal(buf_cstr(&b), "SHA512-CRYPT");
    buf_reset(&b);
    password_scheme_of("$6$x", NULL, &b);
    assert_string_equal(buf_cstr(&b), "CRYPT");
    buf_reset(&b);
    password_scheme_of("secret", "PLAIN", &b);
    assert_string_equal(buf_cstr(&b), "PLAIN");
    buf_free(&b);
}

static void test_weak(void **state)
{
    (void)state;
    assert_true(password_scheme_is_weak("PLAIN"));
    assert_true(password_scheme_is_weak("clear"));
    assert_true(password_scheme_is_weak("{PLAIN-MD5}"));
    assert_true(password_scheme_is_weak("PLAIN.b64"));
    assert_true(password_scheme_is_weak("SHA1"));
    assert_true(password_scheme_is_weak("SSHA512"));
    assert_true(password_scheme_is_weak("CRAM-MD5"));
    assert_true(password_scheme_is_weak("DIGEST-MD5"));
    assert_true(password_scheme_is_weak("MD5"));
    assert_false(password_scheme_is_weak("SHA512-CRYPT"));
    assert_false(password_scheme_is_weak("BLF-CRYPT"));
    assert_false(password_scheme_is_weak("ARGON2ID"));
    assert_false(password_scheme_is_weak("SCRAM-SHA-256"));
    assert_false(password_scheme_is_weak("PLAINX"));
    assert_false(password_scheme_is_weak(NULL));
}

static void test_scram_credentials(void **state)
{
    (void)state;
    struct scram_credentials c, d;
    const char *err = NULL;
    assert_int_equal(password_scram_credentials(dovecot_secret[0], NULL, "u", 0, &c, &err), 0);
    assert_int_equal(c.iterations, 4096);
    assert_int_equal(c.salt_len, 16);
    struct buf b = BUF_INIT;
    base64_encode(c.stored_key, sizeof(c.stored_key), &b);
    assert_string_equal(b.data, "9K3bvrG1gjgt9g5QiPSRKxMaI59Fp0jl8YtYV+ToT1s=");
    buf_reset(&b);

    /* Derived by hand from the same salt: the keys Dovecot stored. */
    scram_credentials_from_password("secret", c.salt, c.salt_len, 4096, &d);
    assert_memory_equal(c.stored_key, d.stored_key, 32);
    assert_memory_equal(c.server_key, d.server_key, 32);

    /* {PLAIN}: the same salt for a user every time, a different one per user. */
    assert_int_equal(password_scram_credentials("{PLAIN}pencil", NULL, "alice", 0, &c, &err), 0);
    assert_int_equal(password_scram_credentials("pencil", "CLEAR", "alice", 0, &d, &err), 0);
    assert_int_equal(c.iterations, SCRAM_DEFAULT_ITERATIONS);
    assert_int_equal(c.salt_len, SCRAM_DERIVED_SALT_LEN);
    assert_memory_equal(c.salt, d.salt, c.salt_len);
    assert_memory_equal(c.stored_key, d.stored_key, 32);
    unsigned char salt[SCRAM_DERIVED_SALT_LEN];
    scram_user_salt("alice", salt);
    assert_memory_equal(salt, c.salt, sizeof(salt));
    scram_credentials_from_password("pencil", salt, sizeof(salt), 4096, &d);
    assert_memory_equal(c.stored_key, d.stored_key, 32);
    /* The salt does not depend on the password (no offline guessing oracle). */
    assert_int_equal(password_scram_credentials("{PLAIN}other", NULL, "alice", 0, &d, &err), 0);
    assert_memory_equal(c.salt, d.salt, c.salt_len);
    assert_memory_not_equal(c.stored_key, d.stored_key, 32);
    assert_int_equal(password_scram_credentials("{PLAIN}pencil", NULL, "bob", 0, &d, &err), 0);
    assert_memory_not_equal(c.salt, d.salt, c.salt_len);

    assert_int_equal(password_scram_credentials(dovecot_secret[4], NULL, "u", 0, &c, &err), -1);
    assert_string_equal(err, "SCRAM needs {SCRAM-SHA-256} or {PLAIN} credentials");
    assert_int_equal(password_scram_credentials("{SCRAM-SHA-256}4096,x", NULL, "u", 0, &c, &err),
                     -1);
    buf_free(&b);
}

static void test_scheme_predicates(void **state)
{
    (void)state;
    assert_true(password_scheme_is_known("sha512-crypt"));
    assert_true(password_scheme_is_known("CLEAR"));
    assert_false(password_scheme_is_known("MD5"));
    assert_true(password_scheme_can_hash("ARGON2ID"));
    assert_false(password_scheme_can_hash("NOSUCH"));
}

static void test_kind(void **state)
{
    (void)state;
    static const struct {
        const char *stored, *default_scheme, *kind;
    } cases[] = {
        {"{SHA512-CRYPT}$6$g/HL/5Mk7X8y.7bH$UuP1", NULL, "SHA512-CRYPT $6$"},
        {"{SHA512-CRYPT}$6$rounds=100000$abc$def", NULL, "SHA512-CRYPT $6$rounds=100000$"},
        {"$5$rounds=9$abc$def", NULL, "CRYPT $5$rounds=9$"},
        {"{BLF-CRYPT}$2y$05$lKAEARZc3Az7Y0TOkHbpMusWZ", NULL, "BLF-CRYPT $2y$05$"},
        {"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$sGVRk$wH7w", NULL,
         "ARGON2ID $argon2id$v=19$m=65536,t=3,p=1$"},
        {"{SCRAM-SHA-256}4096,syre6BSA,9K3b,qHvV", NULL, "SCRAM-SHA-256 4096"},
        {"15000,syre6BSA,9K3b,qHvV", "scram-sha-256", "SCRAM-SHA-256 15000"},
        {"{PLAIN}secret", NULL, "PLAIN"},
        {"secret", "CLEAR", "CLEAR"},
        {"{broken", NULL, "?"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = BUF_INIT;
        password_kind(cases[i].stored, cases[i].default_scheme, &b);
        if (strcmp(buf_cstr(&b), cases[i].kind) != 0)
            fail_msg("%s: kind '%s', expected '%s'", cases[i].stored, buf_cstr(&b), cases[i].kind);
        buf_free(&b);
    }
}

static void test_dummy_hash(void **state)
{
    (void)state;
    const char *h = password_dummy_hash();
    assert_non_null(h);
    assert_ptr_equal(h, password_dummy_hash());
    assert_int_equal(strncmp(h, "{SHA512-CRYPT}$6$", 17), 0);
    /* A real hash: checking a password against it costs what it should. */
    assert_int_equal(verify(h, NULL, "anything"), 0);
}

/* The install's secret: made once, then the same bytes at every start. */
static void test_scram_secret_file(void **state)
{
    (void)state;
    char dir[64], sub[96], path[128];
    snprintf(dir, sizeof(dir), "/tmp/gannet-test-secret-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/state", dir);
    snprintf(path, sizeof(path), "%s/%s", sub, SCRAM_SECRET_FILE);
    unsigned char a[SCRAM_SECRET_LEN], b[SCRAM_SECRET_LEN];
    bool created = false;
    struct buf err = BUF_INIT;
    /* The directory is made when missing, the file with mode 0600. */
    assert_int_equal(scram_secret_load(sub, a, &created, &err), 0);
    assert_true(created);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, SCRAM_SECRET_LEN);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(scram_secret_load(sub, b, &created, &err), 0);
    assert_false(created);
    assert_memory_equal(a, b, sizeof(a));
    /* A file of the wrong size is an error, never silently replaced. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("short", f);
    fclose(f);
    assert_int_equal(scram_secret_load(sub, b, &created, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "not a file of 32 bytes"));
    /* A directory that cannot be made. */
    buf_reset(&err);
    snprintf(sub, sizeof(sub), "%s/no/such", dir);
    assert_int_equal(scram_secret_load(sub, b, &created, &err), -1);
    assert_non_null(strstr(buf_cstr(&err), "No such file or directory"));
    buf_free(&err);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Last: it changes the process's salt key. */
static void test_scram_user_salt_init(void **state)
{
    (void)state;
    unsigned char a[SCRAM_DERIVED_SALT_LEN], b[SCRAM_DERIVED_SALT_LEN], c[SCRAM_DERIVED_SALT_LEN];
    scram_user_salt_init("key one", 7);
    scram_user_salt("alice", a);
    scram_user_salt_init("key two", 7);
    scram_user_salt("alice", b);
    assert_memory_not_equal(a, b, sizeof(a));
    /* Another process with the same secret: the same salt. */
    scram_user_salt_init("key one", 7);
    scram_user_salt("alice", c);
    assert_memory_equal(a, c, sizeof(a));
    scram_user_salt("alicf", c);
    assert_memory_not_equal(a, c, sizeof(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_hashes_verify),
        cmocka_unit_test(test_default_scheme),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_scheme_of),
        cmocka_unit_test(test_weak),
        cmocka_unit_test(test_scram_credentials),
        cmocka_unit_test(test_scheme_predicates),
        cmocka_unit_test(test_kind),
        cmocka_unit_test(test_dummy_hash),
        cmocka_unit_test(test_scram_secret_file),
        cmocka_unit_test(test_scram_user_salt_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
