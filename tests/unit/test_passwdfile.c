/* passwd-file parsing and the passdb/userdb lookups over real files in a
 * temporary directory: Dovecot's format, errors with PATH:LINE, reloads when
 * the file changes, per-domain files, and names that try to leave their
 * directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/passdb.h"
#include "auth/password.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/gannet-test-passwd-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* tmpdir/name, into a static buffer of the caller's. */
static const char *tmp_path(char *buf, size_t size, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", tmpdir, name);
    assert_true(n > 0 && (size_t)n < size);
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* Rewrites path with text of the same length and pushes its mtime forward,
 * so that only the content and mtime tell the change. */
static void rewrite_with_mtime(const char *path, const char *text, time_t shift)
{
    struct stat before;
    assert_int_equal(stat(path, &before), 0);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, text, strlen(text), 0), (ssize_t)strlen(text));
    assert_int_equal(close(fd), 0);
    struct timespec ts[2] = {before.st_atim, before.st_mtim};
    ts[1].tv_sec += shift;
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* ---- the parser ------------------------------------------------------------ */

static const char users_text[] =
    "# gannet users\n"
    "   # an indented comment\n"
    "\n"
    "alice:{PLAIN}secret:1000:1001:Alice Liddell:/home/alice:/bin/sh:quota_rule=*:storage=1G\n"
    "bob:{SHA512-CRYPT}$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACt"
    "Ltip/cZ/1GM/O6IND4WQhG.::::/var/mail/bob\n"
    "carol:secret\n"
    "dave::2000:2001::/home/dave\n"
    "erin:{PLAIN}x\r\n"
    "frank@example.com:{PLAIN}f::::::\n"
    "   \t  \n"
    "gina:{PLAIN}no newline at the end";

static void test_parse(void **state)
{
    (void)state;
    struct passwd_file f;
    struct buf err = BUF_INIT;
    assert_int_equal(passwd_file_parse("users", users_text, strlen(users_text), &f, &err), 0);
    assert_int_equal(err.len, 0);
    assert_int_equal(f.n_entries, 7);
    assert_string_equal(f.path, "users");

    const struct passwd_entry *e = passwd_file_find(&f, "alice");
    assert_non_null(e);
    assert_string_equal(e->user, "alice");
    assert_string_equal(e->password, "{PLAIN}secret");
    assert_int_equal(e->uid, 1000);
    assert_int_equal(e->gid, 1001);
    assert_string_equal(e->home, "/home/alice");
    assert_string_equal(e->extra, "quota_rule=*:storage=1G");
    assert_int_equal(e->line, 4);

    e = passwd_file_find(&f, "bob");
    assert_non_null(e);
    assert_int_equal(strncmp(e->password, "{SHA512-CRYPT}$6$abcdefgh$", 26), 0);
    assert_int_equal(e->uid, -1);
    assert_int_equal(e->gid, -1);
    assert_string_equal(e->home, "/var/mail/bob");
    assert_null(e->extra);

    e = passwd_file_find(&f, "carol");
    assert_non_null(e);
    assert_string_equal(e->password, "secret");
    assert_null(e->home);

    e = passwd_file_find(&f, "dave");
    assert_non_null(e);
    assert_null(e->password);
    assert_int_equal(e->uid, 2000);
    assert_string_equal(e->home, "/home/dave");

    e = passwd_file_find(&f, "erin");
    assert_non_null(e);
    assert_string_equal(e->password, "{PLAIN}x"); /* CR of a CRLF line dropped */

    e = passwd_file_find(&f, "frank@example.com");
    assert_non_null(e);
    assert_string_equal(e->password, "{PLAIN}f");
    assert_null(e->home);
    assert_null(e->extra);

    e = passwd_file_find(&f, "gina");
    assert_non_null(e);
    assert_string_equal(e->password, "{PLAIN}no newline at the end");
    assert_int_equal(e->line, 11);

    /* Exact names only: no case folding, no prefix match. */
    assert_null(passwd_file_find(&f, "Alice"));
    assert_null(passwd_file_find(&f, "alic"));
    assert_null(passwd_file_find(&f, "frank"));
    assert_null(passwd_file_find(&f, ""));
    passwd_file_free(&f);

    /* An empty file and a comment-only file are valid and empty. */
    assert_int_equal(passwd_file_parse("empty", "", 0, &f, &err), 0);
    assert_int_equal(f.n_entries, 0);
    assert_null(passwd_file_find(&f, "alice"));
    passwd_file_free(&f);
    assert_int_equal(passwd_file_parse("c", "# x\n\n", 5, &f, &err), 0);
    assert_int_equal(f.n_entries, 0);
    passwd_file_free(&f);
    buf_free(&err);
}

static void expect_parse_error(const char *text, size_t len, const char *want)
{
    struct passwd_file f;
    struct buf err = BUF_INIT;
    assert_int_equal(passwd_file_parse("/etc/gannet/users", text, len, &f, &err), -1);
    assert_string_equal(buf_cstr(&err), want);
    assert_int_equal(f.n_entries, 0);
    assert_null(f.entries);
    buf_free(&err);
}

#define PARSE_ERROR(text, want) expect_parse_error(text, sizeof(text) - 1, want)

static void test_parse_errors(void **state)
{
    (void)state;
    PARSE_ERROR("alice:x\nnocolon\n", "/etc/gannet/users:2: expected "
                                      "user:password[:uid:gid:gecos:home:shell:extra_fields]");
    PARSE_ERROR("# c\n:pw\n", "/etc/gannet/users:2: empty user name");
    PARSE_ERROR("al ice:pw\n",
                "/etc/gannet/users:1: user name contains a space or a control character");
    PARSE_ERROR(" alice:pw\n",
                "/etc/gannet/users:1: user name contains a space or a control character");
    PARSE_ERROR("a\x01:pw\n",
                "/etc/gannet/users:1: user name contains a space or a control character");
    PARSE_ERROR("alice:x:no-such-user-gannet-test\n",
                "/etc/gannet/users:1: uid 'no-such-user-gannet-test': no such user");
    PARSE_ERROR("alice:x:1000:no-such-group-gannet-test\n",
                "/etc/gannet/users:1: gid 'no-such-group-gannet-test': no such group");
}

static void test_parse_errors_ids(void **state)
{
    (void)state;
    PARSE_ERROR("\n\nalice:x:0\n", "/etc/gannet/users:3: uid '0': root (0) is not allowed");
    PARSE_ERROR("alice:x:1000:0\n", "/etc/gannet/users:1: gid '0': root (0) is not allowed");
    PARSE_ERROR("alice:x:root\n", "/etc/gannet/users:1: uid 'root': root (0) is not allowed");
    PARSE_ERROR("alice:x:12x\n", "/etc/gannet/users:1: uid '12x': not a valid number");
    PARSE_ERROR("alice:x:99999999999\n",
                "/etc/gannet/users:1: uid '99999999999': not a valid number");
    PARSE_ERROR("alice:x:1:-1\n", "/etc/gannet/users:1: gid '-1': no such group");
    PARSE_ERROR("alice:{PLAIN:1\n",
                "/etc/gannet/users:1: password has a '{' but no '}' closing the scheme");
    PARSE_ERROR("a:x\nb:y\n#\na:z\n", "/etc/gannet/users:4: user a is already defined on line 1");
    PARSE_ERROR("a:x\nb:y\0z\n", "/etc/gannet/users:2: NUL byte in line");
}

static void test_load(void **state)
{
    (void)state;
    char path[128];
    struct passwd_file f;
    struct buf err = BUF_INIT;
    tmp_path(path, sizeof(path), "load.passwd");
    write_file(path, users_text);
    assert_int_equal(passwd_file_load(path, &f, &err), 0);
    assert_int_equal(f.n_entries, 7);
    assert_string_equal(f.path, path);
    passwd_file_free(&f);

    tmp_path(path, sizeof(path), "missing.passwd");
    assert_int_equal(passwd_file_load(path, &f, &err), -1);
    struct buf want = BUF_INIT;
    buf_printf(&want, "%s: No such file or directory", path);
    assert_string_equal(buf_cstr(&err), buf_cstr(&want));

    /* A directory is not a passwd-file. */
    buf_reset(&err);
    buf_reset(&want);
    assert_int_equal(passwd_file_load(tmpdir, &f, &err), -1);
    buf_printf(&want, "%s: not a regular file", tmpdir);
    assert_string_equal(buf_cstr(&err), buf_cstr(&want));

    /* Errors inside a loaded file name the file and the line. */
    buf_reset(&err);
    buf_reset(&want);
    tmp_path(path, sizeof(path), "bad.passwd");
    write_file(path, "ok:x\n\nbroken\n");
    assert_int_equal(passwd_file_load(path, &f, &err), -1);
    buf_printf(&want, "%s:3: expected user:password[:uid:gid:gecos:home:shell:extra_fields]", path);
    assert_string_equal(buf_cstr(&err), buf_cstr(&want));
    buf_free(&want);
    buf_free(&err);
}

/* ---- authdb ----------------------------------------------------------------- */

struct test_config {
    struct settings set;
    struct db_settings passdb[2];
    struct db_settings userdb[2];
};

static void config(struct test_config *c, const char *passdb_driver, const char *passdb_args,
                   const char *userdb_driver, const char *userdb_args)
{
    memset(c, 0, sizeof(*c));
    c->set.config_path = "/etc/gannet/gannet.conf";
    c->passdb[0] = (struct db_settings){(char *)passdb_driver, (char *)passdb_args,
                                        "/etc/gannet/gannet.conf", 10};
    c->userdb[0] = (struct db_settings){(char *)userdb_driver, (char *)userdb_args,
                                        "/etc/gannet/conf.d/auth.conf", 20};
    c->set.passdbs = c->passdb;
    c->set.n_passdbs = passdb_driver ? 1 : 0;
    c->set.userdbs = c->userdb;
    c->set.n_userdbs = userdb_driver ? 1 : 0;
}

/* The typical password of a file: of the kind (scheme and cost) most entries
 * have, and the most common SCRAM iteration count, whatever the order. */
static void test_find_typical(void **state)
{
    (void)state;
    static const char text[] =
        "a:{BLF-CRYPT}$2y$10$lKAEARZc3Az7Y0TOkHbpMusWZ/64TyRp95fc.L40l7mh2LCJTf3Yy\n"
        "b:{SCRAM-SHA-256}50000,c2FsdA==,AAAA,AAAA\n"
        "c:{BLF-CRYPT}$2y$05$lKAEARZc3Az7Y0TOkHbpMusWZ/64TyRp95fc.L40l7mh2LCJTf3Yy\n"
        "d:{BLF-CRYPT}$2y$10$mKAEARZc3Az7Y0TOkHbpMusWZ/64TyRp95fc.L40l7mh2LCJTf3Yy\n"
        "e:{SCRAM-SHA-256}4096,c2FsdA==,AAAA,AAAA\n"
        "f:{SCRAM-SHA-256}50000,c2FsdB==,AAAA,AAAA\n"
        "g:{PLAIN}x\n"
        "h::1000:1000\n";
    struct passwd_file f;
    struct buf err = BUF_INIT;
    assert_int_equal(passwd_file_parse("t", text, strlen(text), &f, &err), 0);
    assert_null(f.typical);
    passwd_file_find_typical(&f, NULL);
    /* Two of "$2y$10$" (a, d), one of "$2y$05$": a, the first of the kind. */
    assert_non_null(f.typical);
    assert_string_equal(f.typical->user, "a");
    assert_int_equal(f.scram_iterations, 50000);
    passwd_file_free(&f);

    /* No passwords, no SCRAM: nothing typical. */
    assert_int_equal(passwd_file_parse("t", "x::1000\ny:{PLAIN}p\n", 19, &f, &err), 0);
    passwd_file_find_typical(&f, NULL);
    assert_string_equal(f.typical->user, "y");
    assert_int_equal(f.scram_iterations, 0);
    passwd_file_free(&f);
    assert_int_equal(passwd_file_parse("t", "x::1000\n", 8, &f, &err), 0);
    passwd_file_find_typical(&f, NULL);
    assert_null(f.typical);
    passwd_file_free(&f);
    /* scheme= decides the kind of entries without a prefix. */
    assert_int_equal(passwd_file_parse("t", "x:9000,c2FsdA==,AAAA,AAAA\n", 26, &f, &err), 0);
    passwd_file_find_typical(&f, "SCRAM-SHA-256");
    assert_int_equal(f.scram_iterations, 9000);
    passwd_file_free(&f);
    buf_free(&err);
}

/* A lookup, found or not, carries the passdb's typical password and SCRAM
 * count: what an unknown user's check is made to cost. */
static void test_authdb_typical(void **state)
{
    (void)state;
    char path[128], args[256];
    struct test_config c;
    struct authdb *db = NULL;
    struct buf err = BUF_INIT;
    tmp_path(path, sizeof(path), "typical");
    write_file(path, "u1:{SHA512-CRYPT}$6$rounds=9000$abc$x\n"
                     "u2:{SHA512-CRYPT}$6$rounds=9000$abd$y\n"
                     "u3:{SCRAM-SHA-256}20000,c2FsdA==,AAAA,AAAA\n");
    snprintf(args, sizeof(args), "scheme=PLAIN %s", path);
    config(&c, "passwd-file", args, "static", "uid=1234 gid=1235 home=/var/mail/%d/%n");
    assert_int_equal(authdb_open(&c.set, &db, &err), 0);
    struct passdb_result pr;
    assert_int_equal(authdb_passdb_lookup(db, "nosuchuser", &pr, &err), 0);
    assert_null(pr.password);
    assert_string_equal(pr.typical_password, "{SHA512-CRYPT}$6$rounds=9000$abc$x");
    assert_string_equal(pr.typical_scheme, "PLAIN");
    assert_int_equal(pr.scram_iterations, 20000);
    passdb_result_free(&pr);
    assert_int_equal(authdb_passdb_lookup(db, "u3", &pr, &err), 1);
    assert_int_equal(pr.scram_iterations, 20000);
    assert_non_null(pr.typical_password);
    passdb_result_free(&pr);
    authdb_free(db);
    buf_free(&err);
}

static void test_authdb_static(void **state)
{
    (void)state;
    char path[128], args[256];
    struct test_config c;
    struct authdb *db = NULL;
    struct buf err = BUF_INIT;
    tmp_path(path, sizeof(path), "users");
    write_file(path, "alice@example.com:{PLAIN}secret\n"
                     "plainuser:secret2\n"
                     "nopass@example.com::1500:1500::/home/np\n");
    snprintf(args, sizeof(args), "scheme=PLAIN username_format=%%u %s", path);
    config(&c, "passwd-file", args, "static", "uid=1234 gid=1235 home=/var/mail/%d/%n");
    assert_int_equal(authdb_open(&c.set, &db, &err), 0);
    assert_non_null(db);

    struct passdb_result pr;
    assert_int_equal(authdb_passdb_lookup(db, "alice@example.com", &pr, &err), 1);
    assert_string_equal(pr.user, "alice@example.com");
    assert_string_equal(pr.password, "{PLAIN}secret");
    assert_string_equal(pr.default_scheme, "PLAIN");
    const char *why = NULL;
    assert_int_equal(password_verify(pr.password, pr.default_scheme, "secret", 6, &why), 1);
    passdb_result_free(&pr);

    /* scheme= applies to entries without a prefix. */
    assert_int_equal(authdb_passdb_lookup(db, "plainuser", &pr, &err), 1);
    assert_int_equal(password_verify(pr.password, pr.default_scheme, "secret2", 7, &why), 1);
    assert_int_equal(password_verify(pr.password, pr.default_scheme, "secret", 6, &why), 0);
    passdb_result_free(&pr);

    assert_int_equal(authdb_passdb_lookup(db, "ALICE@example.com", &pr, &err), 0);
    assert_null(pr.user);
    passdb_result_free(&pr);
    assert_int_equal(authdb_passdb_lookup(db, "nobody", &pr, &err), 0);
    passdb_result_free(&pr);
    /* No password field: not a login. */
    assert_int_equal(authdb_passdb_lookup(db, "nopass@example.com", &pr, &err), 0);
    passdb_result_free(&pr);
    assert_int_equal(err.len, 0);

    struct userdb_result ur;
    assert_int_equal(authdb_userdb_lookup(db, "alice@example.com", &ur, &err), 1);
    assert_string_equal(ur.user, "alice@example.com");
    assert_int_equal(ur.uid, 1234);
    assert_int_equal(ur.gid, 1235);
    assert_string_equal(ur.home, "/var/mail/example.com/alice");
    userdb_result_free(&ur);
    /* Without allow_all_users, static knows only the passdb's users. */
    assert_int_equal(authdb_userdb_lookup(db, "bob@example.com", &ur, &err), 0);
    assert_null(ur.home);
    authdb_free(db);

    config(&c, "passwd-file", args, "static",
           "uid=1234 gid=1235 home=/var/mail/%d/%n allow_all_users=yes");
    assert_int_equal(authdb_open(&c.set, &db, &err), 0);
    assert_int_equal(authdb_userdb_lookup(db, "bob@example.com", &ur, &err), 1);
    assert_string_equal(ur.home, "/var/mail/example.com/bob");
    userdb_result_free(&ur);
    /* Names that would leave /var/mail are nobody. */
    assert_int_equal(authdb_userdb_lookup(db, "bob@..", &ur, &err), 0);
    assert_int_equal(authdb_userdb_lookup(db, "..@example.com", &ur, &err), 0);
    assert_int_equal(authdb_userdb_lookup(db, "a/../../etc@x", &ur, &err), 0);
    assert_int_equal(authdb_userdb_lookup(db, "a\n@x", &ur, &err), 0);
    assert_int_equal(authdb_userdb_lookup(db, "@example.com", &ur, &err), 0); /* %n empty */
    assert_int_equal(authdb_userdb_lookup(db, "bob@", &ur, &err), 0);         /* %d empty */
    /* No domain at all: %d is empty, the home still under /var/mail. */
    assert_int_equal(authdb_userdb_lookup(db, "bob", &ur, &err), 1);
    assert_string_equal(ur.home, "/var/mail//bob");
    userdb_result_free(&ur);
    assert_int_equal(err.len, 0);
    authdb_free(db);

    /* uid/gid by name. */
    config(&c, "passwd-file", args, "static", "uid=nobody gid=nogroup home=/srv/%u");
    assert_int_equal(authdb_open(&c.set, &db, &err), 0);
    assert_int_equal(authdb_userdb_lookup(db, "plainuser", &ur, &err), 1);
    struct passwd *nobody = getpwnam("nobody");
    struct group *nogroup = getgrnam("nogroup");
    assert_non_null(nobody);
    assert_non_null(nogroup);
    assert_int_equal(ur.uid, nobody->pw_uid);
    assert_int_equal(ur.gid, nogroup->gr_gid);
    assert_string_equal(ur.home, "/srv/plainuser");
    userdb_result_free(&ur);
    authdb_free(db);
    buf_free(&err);
}

static void test_authdb_passwd_file_userdb(void **state)
{
    (void)state;
    char path[128];
    struct test_config c;
    struct authdb *db = NULL;
    struct buf err = BUF_INIT;
    tmp_path(path, sizeof(path), "userdb");
    write_file(path, "bob@ex.org:{PLAIN}p:2000:2001::/srv/%d/%n\n"
                     "carl:{PLAIN}p::::\n");
    char args[256];
    snprintf(args, sizeof(args), "scheme=PLAIN %s", path); /* scheme= is harmless here */
    config(&c, "passwd-file", path, "passwd-file", args);
    assert_int_equal(authdb_open(&c.set, &db, &err), 0);
    struct userdb_result ur;
    assert_int_equal(authdb_userdb_lookup(db, "bob@ex.org", &ur, &err), 1);
    assert_string_equal(ur.user, "bob@ex.org");
    assert_int_equal(ur.uid, 2000);
    assert_int_equal(ur.gid, 2001);
    assert_string_equal(ur.home, "/srv/ex.org/bob");
    userdb_result_free(&ur);
    /* Empty fields: mail_uid/mail_gid apply, no home. */
    assert_int_equal(authdb_userdb_lookup(db, "carl", &ur, &err), 1);
    assert_int_equal(ur.uid, -1);
    assert_int_equal(ur.gid, -1);
    assert_null(ur.home);
    userdb_result_free(&ur);
    assert_int_equal(authdb_userdb_lookup(db, "dan", &ur, &err), 0);
    authdb_free(db);
    buf_free(&err);
}

static void test_authdb_reload(void **state)
{
    (void)state;
    char path[128], tmp[128];
    struct test_config c;
    struct authdb *db = NULL;
    struct buf err = BUF_INIT, want = BUF_INIT;
    struct passdb_result pr;
    tmp_path(path, sizeof(path), "reload");
    write_file(path, "alice:{PLAIN}one\n");
    config(&c, "passwd-file", path, "static", "home=/var/mail/%u allow_all_users=yes");
    assert_int_equal(authdb_open(&c.set, &db, &err), 0);
    assert_int_equal(authdb_passdb_lookup(db, "alice", &pr, &err), 1);
    assert_string_equal(pr.password, "{PLAIN}one");
    passdb_result_free(&pr);

    /* Same size, same inode: the mtime tells. */
    rewrite_with_mtime(path, "alice:{PLAIN}two\n", 10);
    assert_int_equal(authdb_passdb_lookup(db, "alice", &pr, &err), 1);
    assert_string_equal(pr.password, "{PLAIN}two");
    passdb_result_free(&pr);

    /* A new file renamed into place, with the very same mtime and size. */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    tmp_path(tmp, sizeof(tmp), "reload.new");
    write_file(tmp, "alice:{PLAIN}six\n");
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, tmp, ts, 0), 0);
    assert_int_equal(rename(tmp, path), 0);
    assert_int_equal(authdb_passdb_lookup(db, "alice", &pr, &err), 1);
    assert_string_equal(pr.password, "{PLAIN}six");
    passdb_result_free(&pr);

    /* A broken edit: a temporary failure naming the line, not the old copy. */
    rewrite_with_mtime(path, "alice:{PLAIN}six\nbroken\n", 20);
    assert_int_equal(authdb_passdb_lookup(db, "alice", &pr, &err), -1);
    assert_null(pr.password);
    buf_printf(&want, "%s:2: expected user:password[:uid:gid:gecos:home:shell:extra_fields]", path);
    assert_string_equal(buf_cstr(&err), buf_cstr(&want));

    /* The file gone: a temporary failure too, as it was there at start-up. */
    buf_reset(&err);
    buf_reset(&want);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(authdb_passdb_lookup(db, "alice", &pr, &err), -1);
    buf_printf(&want, "%s: No such file or directory", path);
    assert_string_equal(buf_cstr(&err), buf_cstr(&want));
    struct userdb_result ur;
    buf_reset(&err);
    assert_int_equal(authdb_userdb_lookup(db, "alice", &ur, &err), 1); /* allow_all_users */
    userdb_result_free(&ur);

    /* Back again. */
    buf_reset(&err);
    write_file(path, "alice:{PLAIN}seven\n");
    assert_int_equal(authdb_passdb_lookup(db, "alice", &pr, &err), 1);
    assert_string_equal(pr.password, "{PLAIN}seven");
    passdb_result_free(&pr);
    authdb_free(db);
    buf_free(&want);
    buf_free(&err);
}

static void test_authdb_per_domain(void **state)
{
    (void)state;
    char dir[128], path[160], args[256];
    struct test_config c;
    struct authdb *db = NULL;
    struct buf err = BUF_INIT;
    struct passdb_result pr;
    tmp_path(dir, sizeof(dir), "one.org");
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/passwd", dir);
    write_file(path, "amy:{PLAIN}amy1\n");
    /* A file the traversal would reach if it were allowed. */
    tmp_path(path, sizeof(path), "passwd");
    write_file(path, "amy:{PLAIN}wrong\n");
    snprintf(args, sizeof(args), "username_format=%%n %s/%%d/passwd", tmpdir);
    /* The path has variables: not read (and not required) at start-up. */
    config(&c, "passwd-file", args, "static", "home=/var/mail/%d/%n");
    assert_int_equal(authdb_open(&c.set, &db, &err), 0);

    assert_int_equal(authdb_passdb_lookup(db, "amy@one.org", &pr, &err), 1);
    assert_string_equal(pr.user, "amy@one.org"); /* the name as the client gave it */
    assert_string_equal(pr.password, "{PLAIN}amy1");
    assert_null(pr.default_scheme);
    passdb_result_free(&pr);
    /* No file for the domain: nobody there, not an error. */
    assert_int_equal(authdb_passdb_lookup(db, "amy@two.org", &pr, &err), 0);
    passdb_result_free(&pr);
    /* No domain: %d empty would make tmpdir//passwd, that is tmpdir/passwd. */
    assert_int_equal(authdb_passdb_lookup(db, "amy", &pr, &err), 0);
    passdb_result_free(&pr);
    /* %d = "." would read tmpdir/./passwd, ".." the parent: refused. */
    assert_int_equal(authdb_passdb_lookup(db, "amy@.", &pr, &err), 0);
    passdb_result_free(&pr);
    assert_int_equal(authdb_passdb_lookup(db, "amy@..", &pr, &err), 0);
    passdb_result_free(&pr);
    assert_int_equal(authdb_passdb_lookup(db, "amy@one.org/..", &pr, &err), 0);
    passdb_result_free(&pr);
    assert_int_equal(err.len, 0);
    authdb_free(db);
    buf_free(&err);
}

static void expect_open_error(struct test_config *c, const char *want)
{
    struct authdb *db = (struct authdb *)&db;
    struct buf err = BUF_INIT;
    assert_int_equal(authdb_open(&c->set, &db, &err), -1);
    assert_null(db);
    assert_string_equal(buf_cstr(&err), want);
    buf_free(&err);
}

static void test_authdb_open_errors(void **state)
{
    (void)state;
    struct test_config c;
    char path[128], args[256], want[512];
    tmp_path(path, sizeof(path), "open-ok");
    write_file(path, "x:{PLAIN}x\n");

    config(&c, "ldap", "/etc/dovecot/ldap.conf", "static", "home=/x");
    expect_open_error(&c, "/etc/gannet/gannet.conf:10: unknown passdb driver 'ldap' (gannet has "
                          "passwd-file)");
    config(&c, "passwd-file", path, "sql", "x");
    expect_open_error(&c, "/etc/gannet/conf.d/auth.conf:20: unknown userdb driver 'sql' (gannet "
                          "has passwd-file and static)");
    config(&c, "static", "x", "static", "home=/x");
    expect_open_error(&c, "/etc/gannet/gannet.conf:10: unknown passdb driver 'static' (gannet has "
                          "passwd-file)");

    tmp_path(path, sizeof(path), "no-such-file");
    config(&c, "passwd-file", path, "static", "home=/x");
    snprintf(want, sizeof(want),
             "/etc/gannet/gannet.conf:10: passdb passwd-file: %s: No such file or directory", path);
    expect_open_error(&c, want);

    tmp_path(path, sizeof(path), "open-bad");
    write_file(path, "x:{PLAIN}x\nx:{PLAIN}y\n");
    config(&c, "passwd-file", path, "static", "home=/x");
    snprintf(want, sizeof(want),
             "/etc/gannet/gannet.conf:10: passdb passwd-file: %s:2: user x is already defined on "
             "line 1",
             path);
    expect_open_error(&c, want);

    tmp_path(path, sizeof(path), "open-ok");
    config(&c, "passwd-file", path, "static", "uid=1000 gid=1000");
    expect_open_error(&c, "/etc/gannet/conf.d/auth.conf:20: userdb static: home= is required "
                          "(e.g. home=/var/mail/%d/%n)");
    config(&c, "passwd-file", path, "static", "home=/x mail=maildir:~/Maildir");
    expect_open_error(&c, "/etc/gannet/conf.d/auth.conf:20: userdb static: unknown argument "
                          "'mail'");
    config(&c, "passwd-file", path, "static", "home=/x uid=no-such-user-gannet-test");
    expect_open_error(&c, "/etc/gannet/conf.d/auth.conf:20: userdb static: uid "
                          "'no-such-user-gannet-test': no such user");
    config(&c, "passwd-file", path, "static", "home=/x uid=0");
    expect_open_error(&c, "/etc/gannet/conf.d/auth.conf:20: userdb static: uid '0': root (0) is "
                          "not allowed");
    config(&c, "passwd-file", path, "static", "home=/x allow_all_users=maybe");
    expect_open_error(&c, "/etc/gannet/conf.d/auth.conf:20: userdb static: allow_all_users must "
                          "be yes or no");

    snprintf(args, sizeof(args), "scheme=ROT13 %s", path);
    config(&c, "passwd-file", args, "static", "home=/x");
    expect_open_error(&c, "/etc/gannet/gannet.conf:10: passdb passwd-file: unknown scheme 'ROT13'");
    config(&c, "passwd-file", "scheme=PLAIN", "static", "home=/x");
    expect_open_error(&c, "/etc/gannet/gannet.conf:10: passdb passwd-file: the file's path is "
                          "missing from args");
    snprintf(args, sizeof(args), "%s %s", path, path);
    config(&c, "passwd-file", args, "static", "home=/x");
    snprintf(want, sizeof(want),
             "/etc/gannet/gannet.conf:10: passdb passwd-file: unknown argument '%s'", path);
    expect_open_error(&c, want);
    config(&c, "passwd-file", NULL, "static", "home=/x");
    expect_open_error(&c, "/etc/gannet/gannet.conf:10: passdb passwd-file: the file's path is "
                          "missing from args");

    config(&c, NULL, NULL, "static", "home=/x");
    expect_open_error(&c, "/etc/gannet/gannet.conf: no passdb configured (add a passdb { driver "
                          "= ... } section)");
    config(&c, "passwd-file", path, NULL, NULL);
    expect_open_error(&c, "/etc/gannet/gannet.conf: no userdb configured (add a userdb { driver "
                          "= ... } section)");
}

static void test_authdb_several_dbs(void **state)
{
    (void)state;
    char p1[128], p2[128];
    struct test_config c;
    struct authdb *db = NULL;
    struct buf err = BUF_INIT;
    struct passdb_result pr;
    tmp_path(p1, sizeof(p1), "first");
    tmp_path(p2, sizeof(p2), "second");
    write_file(p1, "a:{PLAIN}from-first\n");
    write_file(p2, "a:{PLAIN}from-second\nb:{PLAIN}b\n");
    config(&c, "passwd-file", p1, "static", "home=/x/%u allow_all_users=yes");
    c.passdb[1] = (struct db_settings){"passwd-file", p2, "/etc/gannet/gannet.conf", 14};
    c.set.n_passdbs = 2;
    assert_int_equal(authdb_open(&c.set, &db, &err), 0);
    assert_int_equal(authdb_passdb_lookup(db, "a", &pr, &err), 1);
    assert_string_equal(pr.password, "{PLAIN}from-first");
    passdb_result_free(&pr);
    assert_int_equal(authdb_passdb_lookup(db, "b", &pr, &err), 1);
    assert_string_equal(pr.password, "{PLAIN}b");
    passdb_result_free(&pr);
    /* The first db failing is a failure, not a reason to ask the second. */
    assert_int_equal(unlink(p1), 0);
    assert_int_equal(authdb_passdb_lookup(db, "b", &pr, &err), -1);
    authdb_free(db);
    buf_free(&err);
}

struct thread_arg {
    struct authdb *db;
    int bad;
};

static void *lookup_thread(void *p)
{
    struct thread_arg *a = p;
    struct buf err = BUF_INIT;
    for (int i = 0; i < 2000; i++) {
        struct passdb_result pr;
        int r = authdb_passdb_lookup(a->db, "alice", &pr, &err);
        if (r != 1 ||
            (strcmp(pr.password, "{PLAIN}aaaa") != 0 && strcmp(pr.password, "{PLAIN}bbbb") != 0))
            a->bad++;
        passdb_result_free(&pr);
    }
    buf_free(&err);
    return NULL;
}

static void test_authdb_threads(void **state)
{
    (void)state;
    char path[128], tmp[128];
    struct test_config c;
    struct authdb *db = NULL;
    struct buf err = BUF_INIT;
    tmp_path(path, sizeof(path), "threads");
    tmp_path(tmp, sizeof(tmp), "threads.new");
    write_file(path, "alice:{PLAIN}aaaa\nbob:{PLAIN}b\n");
    config(&c, "passwd-file", path, "static", "home=/x/%u");
    assert_int_equal(authdb_open(&c.set, &db, &err), 0);
    pthread_t t[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){db, 0};
        assert_int_equal(pthread_create(&t[i], NULL, lookup_thread, &args[i]), 0);
    }
    /* Replace the file under the readers, atomically, many times. */
    for (int i = 0; i < 200; i++) {
        write_file(tmp, i % 2 ? "alice:{PLAIN}aaaa\nbob:{PLAIN}b\n"
                              : "alice:{PLAIN}bbbb\nbob:{PLAIN}bb\n");
        assert_int_equal(rename(tmp, path), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(args[i].bad, 0);
    }
    authdb_free(db);
    buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_errors_ids),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_authdb_static),
        cmocka_unit_test(test_authdb_passwd_file_userdb),
        cmocka_unit_test(test_authdb_reload),
        cmocka_unit_test(test_authdb_per_domain),
        cmocka_unit_test(test_authdb_open_errors),
        cmocka_unit_test(test_authdb_several_dbs),
        cmocka_unit_test(test_authdb_threads),
        cmocka_unit_test(test_find_typical),
        cmocka_unit_test(test_authdb_typical),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
