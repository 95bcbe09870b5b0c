#include "auth/auth-request.h"

#include "auth/passdb.h"
#include "auth/password.h"
#include "auth/sasl.h"
#include "lib/base64.h"
#include "lib/log.h"
#include "lib/shared-counter.h"
#include "lib/threadpool.h"

#include <event2/event.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define AUTH_THREADS 4
/* Failures from one address older than this are forgotten. */
#define PENALTY_MEMORY_SECONDS (15 * 60)
/* The delay doubles with each recent failure from an address, up to this. */
#define PENALTY_MAX_MS 15000
#define ANONYMOUS_TRACE_MAX 255

/* One per worker. */
struct auth_service {
    struct event_base *base;
    const struct settings *set;
    struct shared_counters *counters;
    struct threadpool *pool;
    struct authdb *db;
    const char *mechanisms[8];
};

/* What the pool thread does for a request. */
enum auth_job {
    JOB_VERIFY_PASSWORD, /* passdb lookup, password check, then userdb */
    JOB_SCRAM_CREDENTIALS,
    JOB_USERDB, /* a mechanism that needs no password check (SCRAM, ANONYMOUS) succeeded */
};

/* Owned by the session that started it until done() or auth_abort(); while a
 * job or a timer is pending, the request outlives an abort and frees itself. */
struct auth_request {
    struct auth_service *svc;
    struct auth_client client;
    auth_challenge_fn *challenge;
    auth_done_fn *done;
    void *ctx;
    char mech_name[32];
    bool anonymous;
    struct sasl_server *sasl;
    bool busy;               /* a job or the failure delay is pending */
    bool aborted;            /* the session is gone */
    bool awaiting_final_ack; /* SCRAM's server-final was sent; an empty line ends it */
    bool starting;           /* inside auth_start_*: done() must not run before it returns */
    enum auth_status deferred_status;
    const char *deferred_text;

    /* job input */
    enum auth_job job;
    char *user;
    char *password;
    size_t password_len;

    /* job output */
    enum auth_status status;
    char *fail_reason; /* for the log only */
    char *canonical_user;
    char *home;
    bool scram_known; /* cred are the user's own, not made up */
    struct scram_credentials cred;

    struct event *delay;
};

static const char *const all_mechanisms[] = {"PLAIN", "LOGIN", "SCRAM-SHA-256", "ANONYMOUS"};

static bool mechanism_configured(const struct settings *set, const char *mech)
{
    const char *list = set->auth_mechanisms ? set->auth_mechanisms : "";
    size_t n = strlen(mech);
    for (const char *p = list; *p;) {
        p += strspn(p, " ,\t");
        size_t len = strcspn(p, " ,\t");
        if (len == n && strncasecmp(p, mech, n) == 0)
            return true;
        p += len;
    }
    return false;
}

struct auth_service *auth_service_new(struct event_base *base, const struct settings *set,
                                      struct shared_counters *counters, struct buf *err)
{
    struct authdb *db;
    if (authdb_open(set, &db, err) < 0)
        return NULL;
    struct auth_service *svc = xcalloc(1, sizeof(*svc));
    svc->base = base;
    svc->set = set;
    svc->counters = counters;
    svc->db = db;
    svc->pool = threadpool_new(base, AUTH_THREADS);
    /* Made now, so that the first unknown user does not pay for it. */
    (void)password_dummy_hash();
    size_t n = 0;
    for (size_t i = 0; i < sizeof(all_mechanisms) / sizeof(all_mechanisms[0]); i++) {
        if (!mechanism_configured(set, all_mechanisms[i]))
            continue;
        if (strcmp(all_mechanisms[i], "ANONYMOUS") == 0 && !set->auth_anonymous_username)
            continue;
        svc->mechanisms[n++] = all_mechanisms[i];
    }
    svc->mechanisms[n] = NULL;
    return svc;
}

void auth_service_free(struct auth_service *svc)
{
    if (!svc)
        return;
    threadpool_free(svc->pool);
    authdb_free(svc->db);
    free(svc);
}

struct authdb *auth_service_db(struct auth_service *svc)
{
    return svc->db;
}

const char *const *auth_service_mechanisms(const struct auth_service *svc)
{
    return svc->mechanisms;
}

static void request_free(struct auth_request *req)
{
    sasl_server_free(req->sasl);
    free(req->user);
    if (req->password) {
        explicit_bzero(req->password, req->password_len);
        free(req->password);
    }
    free(req->fail_reason);
    free(req->canonical_user);
    free(req->home);
    explicit_bzero(&req->cred, sizeof(req->cred));
    if (req->delay)
        event_free(req->delay);
    free(req);
}

/* ---- penalty: failures per address, shared by all workers ---- */

static void penalty_key(const struct auth_request *req, struct buf *key)
{
    buf_printf(key, "authfail:%s", req->client.peer_ip);
}

static unsigned penalty_record_failure(struct auth_request *req)
{
    struct auth_service *svc = req->svc;
    struct buf key = BUF_INIT;
    penalty_key(req, &key);
    uint32_t now = (uint32_t)time(NULL);
    uint32_t stamp;
    if (shared_counter_get(svc->counters, key.data, key.len, &stamp) > 0 &&
        now - stamp > PENALTY_MEMORY_SECONDS)
        shared_counter_clear(svc->counters, key.data, key.len);
    int32_t failures = shared_counter_add(svc->counters, key.data, key.len, 1, now);
    buf_free(&key);
    unsigned delay = svc->set->auth_failure_delay_ms;
    for (int32_t i = 1; i < failures && delay < PENALTY_MAX_MS; i++)
        delay *= 2;
    if (delay > PENALTY_MAX_MS && svc->set->auth_failure_delay_ms <= PENALTY_MAX_MS)
        delay = PENALTY_MAX_MS;
    return delay;
}

static void penalty_clear(struct auth_request *req)
{
    struct buf key = BUF_INIT;
    penalty_key(req, &key);
    shared_counter_clear(req->svc->counters, key.data, key.len);
    buf_free(&key);
}

/* ---- logging ---- */

static const char *method_name(const struct auth_request *req)
{
    if (req->mech_name[0])
        return req->mech_name;
    return strcmp(req->client.protocol, "pop3") == 0 ? "USER" : "LOGIN";
}

static void log_failure(struct auth_request *req, const char *user, const char *reason)
{
    const struct settings *set = req->svc->set;
    if (!set->auth_verbose && !set->auth_debug) {
        log_info(req->client.conn_id, "%s: authentication failed, rip=%s", req->client.protocol,
                 req->client.peer_ip);
        return;
    }
    struct buf given = BUF_INIT;
    bool show = set->auth_debug_passwords ||
                (set->auth_verbose_passwords && strcmp(set->auth_verbose_passwords, "no") != 0);
    if (show && req->password) {
        if (set->auth_verbose_passwords && strcmp(set->auth_verbose_passwords, "sha1") == 0 &&
            !set->auth_debug_passwords) {
            unsigned char md[SHA_DIGEST_LENGTH];
            SHA1((const unsigned char *)req->password, req->password_len, md);
            buf_puts(&given, " (SHA1 of given password: ");
            for (int i = 0; i < 4; i++)
                buf_printf(&given, "%02x", md[i]);
            buf_puts(&given, ")");
        } else {
            buf_printf(&given, " (given password: %.*s)", (int)req->password_len, req->password);
        }
    }
    log_info(req->client.conn_id, "%s: authentication failed: user=<%s>, method=%s, rip=%s: %s%s",
             req->client.protocol, user ? user : "", method_name(req), req->client.peer_ip, reason,
             buf_cstr(&given));
    buf_free_secret(&given);
}

/* ---- finishing ---- */

static void deferred_finish(evutil_socket_t fd, short what, void *arg);

static void finish(struct auth_request *req, enum auth_status status, const char *text)
{
    if (req->starting) {
        /* The session has not even got the request pointer yet. */
        req->deferred_status = status;
        req->deferred_text = text;
        req->busy = true;
        struct timeval now = {0, 0};
        event_base_once(req->svc->base, -1, EV_TIMEOUT, deferred_finish, req, &now);
        return;
    }
    struct auth_result res = {
        .status = status, .user = req->canonical_user, .home = req->home, .text = text};
    if (!req->aborted)
        req->done(req->ctx, &res);
    request_free(req);
}

static void deferred_finish(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct auth_request *req = arg;
    finish(req, req->deferred_status, req->deferred_text);
}

static void delay_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct auth_request *req = arg;
    finish(req, AUTH_FAILED, "Authentication failed.");
}

/* A failure is answered only after the penalty delay, so guessing is slow;
 * the timer keeps everyone else's sessions going meanwhile. */
static void fail_after_delay(struct auth_request *req, const char *user, const char *reason)
{
    log_failure(req, user, reason);
    unsigned ms = penalty_record_failure(req);
    if (req->svc->set->auth_debug)
        log_debug(req->client.conn_id, "auth: failure answered after %u ms", ms);
    req->busy = true;
    req->delay = evtimer_new(req->svc->base, delay_done, req);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(req->delay, &tv);
}

static void userip_key(struct buf *key, const char *user, const char *ip)
{
    buf_printf(key, "userip:%s", user);
    buf_putc(key, '\0');
    buf_puts(key, ip);
}

static void succeed(struct auth_request *req)
{
    struct auth_service *svc = req->svc;
    penalty_clear(req);
    if (svc->set->mail_max_userip_connections) {
        struct buf key = BUF_INIT;
        userip_key(&key, req->canonical_user, req->client.peer_ip);
        int32_t n = shared_counter_add(svc->counters, key.data, key.len, 1, (uint32_t)time(NULL));
        if (n > (int32_t)svc->set->mail_max_userip_connections) {
            shared_counter_add(svc->counters, key.data, key.len, -1, 0);
            buf_free(&key);
            log_info(req->client.conn_id,
                     "%s: login refused: user=<%s>, rip=%s: mail_max_userip_connections (%u) "
                     "reached",
                     req->client.protocol, req->canonical_user, req->client.peer_ip,
                     svc->set->mail_max_userip_connections);
            finish(req, AUTH_LIMIT, "Maximum number of connections from user+IP exceeded.");
            return;
        }
        buf_free(&key);
    }
    log_info(req->client.conn_id, "%s: login: user=<%s>, method=%s, rip=%s%s", req->client.protocol,
             req->canonical_user, method_name(req), req->client.peer_ip,
             req->client.tls ? ", TLS" : "");
    finish(req, AUTH_OK, "Logged in");
}

void auth_logout(struct auth_service *svc, const char *user, const char *peer_ip)
{
    if (!svc->set->mail_max_userip_connections)
        return;
    struct buf key = BUF_INIT;
    userip_key(&key, user, peer_ip);
    shared_counter_add(svc->counters, key.data, key.len, -1, 0);
    buf_free(&key);
}

/* ---- work on the pool ---- */

static void set_fail_reason(struct auth_request *req, enum auth_status status, const char *reason)
{
    free(req->fail_reason);
    req->fail_reason = xstrdup(reason);
    req->status = status;
}

/* The userdb decides the home and whether the user may be served by this
 * server at all: everyone's mail belongs to mail_uid/mail_gid. */
static void job_userdb(struct auth_request *req, const char *user)
{
    struct userdb_result u = {0};
    struct buf err = BUF_INIT;
    int rc = authdb_userdb_lookup(req->svc->db, user, &u, &err);
    if (rc < 0) {
        set_fail_reason(req, AUTH_TEMPFAIL, buf_cstr(&err));
    } else if (rc == 0) {
        set_fail_reason(req, AUTH_TEMPFAIL, "the user is in the passdb but not in the userdb");
    } else if ((u.uid >= 0 && (uid_t)u.uid != getuid()) ||
               (u.gid >= 0 && (gid_t)u.gid != getgid())) {
        struct buf b = BUF_INIT;
        buf_printf(&b,
                   "userdb gives uid %ld gid %ld, but all mail is served as mail_uid %ld "
                   "mail_gid %ld: login refused",
                   u.uid, u.gid, (long)getuid(), (long)getgid());
        free(req->fail_reason);
        req->fail_reason = buf_steal(&b);
        req->status = AUTH_TEMPFAIL;
    } else {
        req->status = AUTH_OK;
        req->canonical_user = xstrdup(u.user ? u.user : user);
        req->home = u.home ? xstrdup(u.home) : NULL;
    }
    userdb_result_free(&u);
    buf_free(&err);
}

/* An unknown user's password is checked all the same, against a hash of the
 * kind most of the passdb's users have (or a SHA512-CRYPT one when it has
 * none), and the answer thrown away: a failure costs one password hash
 * whether the user exists or not, so its time does not tell. */
static void check_unknown_user_password(const struct auth_request *req,
                                        const struct passdb_result *p)
{
    const char *why = NULL;
    if (p->typical_password != NULL)
        (void)password_verify(p->typical_password, p->typical_scheme, req->password,
                              req->password_len, &why);
    else
        (void)password_verify(password_dummy_hash(), NULL, req->password, req->password_len, &why);
}

static void job_work(void *arg)
{
    struct auth_request *req = arg;
    struct passdb_result p = {0};
    struct buf err = BUF_INIT;
    const char *why = NULL;
    if (req->job == JOB_USERDB) {
        job_userdb(req, req->user);
        goto out;
    }
    int rc = authdb_passdb_lookup(req->svc->db, req->user, &p, &err);
    if (rc < 0) {
        set_fail_reason(req, AUTH_TEMPFAIL, buf_cstr(&err));
        goto out;
    }
    if (req->job == JOB_SCRAM_CREDENTIALS) {
        /* Every exchange costs one PBKDF2 run here, whoever the user is, and
         * a user who cannot do SCRAM gets a salt and an iteration count like
         * everyone else's: the server-first message and its delay say
         * nothing about who exists. */
        req->status = AUTH_OK;
        if (rc == 0) {
            set_fail_reason(req, AUTH_OK, "unknown user");
        } else if (password_scram_credentials(p.password, p.default_scheme, p.user,
                                              p.scram_iterations, &req->cred, &why) == 0) {
            req->scram_known = true;
        } else {
            set_fail_reason(req, AUTH_OK, why);
        }
        if (!req->scram_known)
            scram_fake_credentials(req->user, p.scram_iterations, &req->cred);
        goto out;
    }
    if (rc == 0 || !p.password) {
        check_unknown_user_password(req, &p);
        set_fail_reason(req, AUTH_FAILED, "unknown user");
        goto out;
    }
    rc = password_verify(p.password, p.default_scheme, req->password, req->password_len, &why);
    if (rc < 0) {
        /* A stored password that cannot be checked fails fast: make it cost
         * what a real check costs, or the time tells the user exists. */
        check_unknown_user_password(req, &p);
        set_fail_reason(req, AUTH_FAILED, why);
    } else if (rc == 0) {
        set_fail_reason(req, AUTH_FAILED, "password mismatch");
    } else {
        job_userdb(req, p.user);
    }
out:
    passdb_result_free(&p);
    buf_free(&err);
}

static void sasl_reply(struct auth_request *req, enum sasl_status st, struct buf *out,
                       const char *err);

static void job_done(void *arg)
{
    struct auth_request *req = arg;
    req->busy = false;
    if (req->aborted) {
        request_free(req);
        return;
    }
    if (req->job == JOB_SCRAM_CREDENTIALS) {
        struct buf out = BUF_INIT;
        enum sasl_status st = req->scram_known
                                  ? sasl_scram_set_credentials(req->sasl, &req->cred, &out)
                                  : sasl_scram_set_fake_credentials(req->sasl, &req->cred, &out);
        sasl_reply(req, st, &out, NULL);
        buf_free(&out);
        return;
    }
    switch (req->status) {
    case AUTH_OK:
        succeed(req);
        break;
    case AUTH_TEMPFAIL:
        log_error(req->client.conn_id, "%s: user=<%s>: %s", req->client.protocol, req->user,
                  req->fail_reason ? req->fail_reason : "temporary failure");
        finish(req, AUTH_TEMPFAIL, "Temporary authentication failure.");
        break;
    default:
        fail_after_delay(req, req->user, req->fail_reason ? req->fail_reason : "failed");
        break;
    }
}

static void submit(struct auth_request *req, enum auth_job job)
{
    req->job = job;
    req->busy = true;
    if (req->svc->set->auth_debug)
        log_debug(req->client.conn_id, "auth: %s lookup for user=<%s>",
                  job == JOB_VERIFY_PASSWORD     ? "password"
                  : job == JOB_SCRAM_CREDENTIALS ? "credentials"
                                                 : "userdb",
                  req->user);
    threadpool_submit(req->svc->pool, job_work, job_done, req);
}

/* ---- SASL ---- */

static void send_challenge(struct auth_request *req, const struct buf *raw)
{
    struct buf b64 = BUF_INIT;
    base64_encode(raw->data ? raw->data : "", raw->len, &b64);
    req->challenge(req->ctx, buf_cstr(&b64));
    buf_free(&b64);
}

static void sasl_reply(struct auth_request *req, enum sasl_status st, struct buf *out,
                       const char *err)
{
    const char *authzid;
    switch (st) {
    case SASL_CONTINUE:
        send_challenge(req, out);
        return;
    case SASL_NEED_PASSWORD_CHECK: {
        size_t len;
        const char *pw = sasl_password(req->sasl, &len);
        authzid = sasl_authzid(req->sasl);
        req->user = xstrdup(sasl_authcid(req->sasl));
        if (authzid && *authzid && strcmp(authzid, req->user) != 0) {
            log_failure(req, req->user, "authorization identity differs (no master users)");
            finish(req, AUTH_AUTHZ, "Not allowed to act as another user.");
            return;
        }
        req->password = xmalloc(len + 1);
        memcpy(req->password, pw, len);
        req->password[len] = '\0';
        req->password_len = len;
        submit(req, JOB_VERIFY_PASSWORD);
        return;
    }
    case SASL_NEED_CREDENTIALS:
        req->user = xstrdup(sasl_authcid(req->sasl));
        submit(req, JOB_SCRAM_CREDENTIALS);
        return;
    case SASL_SUCCESS:
        authzid = sasl_authzid(req->sasl);
        if (authzid && *authzid && strcmp(authzid, req->user) != 0) {
            log_failure(req, req->user, "authorization identity differs (no master users)");
            finish(req, AUTH_AUTHZ, "Not allowed to act as another user.");
            return;
        }
        if (out->len > 0) {
            /* RFC 9051 §6.2.2: additional data with success goes out as a
             * challenge, which the client acknowledges with an empty line. */
            req->awaiting_final_ack = true;
            send_challenge(req, out);
            return;
        }
        submit(req, JOB_USERDB);
        return;
    case SASL_FAIL:
        if (req->user) {
            /* A complete exchange that failed (a wrong SCRAM proof): the same
             * answer, after the same delay, for a user who does not exist or
             * cannot do SCRAM, and the log says which (fail_reason). */
            fail_after_delay(req, req->user,
                             req->fail_reason ? req->fail_reason : (err ? err : "failed"));
            return;
        }
        log_failure(req, NULL, err ? err : "malformed");
        finish(req, AUTH_MALFORMED, "Invalid authentication data.");
        return;
    }
}

static void sasl_input(struct auth_request *req, const unsigned char *data, size_t len, bool none)
{
    if (req->anonymous) {
        /* RFC 4505: the trace is informational only; logged, never trusted. */
        if (len > ANONYMOUS_TRACE_MAX) {
            finish(req, AUTH_MALFORMED, "Trace too long.");
            return;
        }
        if (none) {
            struct buf empty = BUF_INIT;
            send_challenge(req, &empty);
            return;
        }
        req->user = xstrdup(req->svc->set->auth_anonymous_username);
        submit(req, JOB_USERDB);
        return;
    }
    struct buf out = BUF_INIT;
    const char *err = NULL;
    enum sasl_status st = sasl_server_step(req->sasl, none ? NULL : data, len, &out, &err);
    sasl_reply(req, st, &out, err);
    buf_free(&out);
}

static bool mechanism_enabled(const struct auth_service *svc, const char *mech)
{
    for (size_t i = 0; svc->mechanisms[i]; i++)
        if (strcasecmp(svc->mechanisms[i], mech) == 0)
            return true;
    return false;
}

static struct auth_request *request_new(struct auth_service *svc, const struct auth_client *client,
                                        auth_done_fn *done, void *ctx)
{
    struct auth_request *req = xcalloc(1, sizeof(*req));
    req->svc = svc;
    req->client = *client;
    req->done = done;
    req->ctx = ctx;
    return req;
}

/* Decodes a client's base64 line; "=" is the empty response (RFC 4959). */
static bool decode_response(const char *line, size_t len, struct buf *out)
{
    if (len == 1 && line[0] == '=') {
        buf_append(out, "", 0);
        return true;
    }
    return base64_decode(line, len, out);
}

struct auth_request *auth_start_sasl(struct auth_service *svc, const struct auth_client *client,
                                     const char *mech, const char *initial,
                                     auth_challenge_fn *challenge, auth_done_fn *done, void *ctx)
{
    struct auth_request *req = request_new(svc, client, done, ctx);
    req->challenge = challenge;
    req->starting = true;
    snprintf(req->mech_name, sizeof(req->mech_name), "%s", mech);
    for (char *p = req->mech_name; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    enum sasl_mech m;
    if (!mechanism_enabled(svc, req->mech_name)) {
        finish(req, AUTH_UNSUPPORTED, "Unsupported authentication mechanism.");
        req->starting = false;
        return req;
    }
    if (strcmp(req->mech_name, "ANONYMOUS") == 0) {
        req->anonymous = true;
    } else if (sasl_mech_from_name(req->mech_name, &m)) {
        req->sasl = sasl_server_new(m);
    } else {
        finish(req, AUTH_UNSUPPORTED, "Unsupported authentication mechanism.");
        req->starting = false;
        return req;
    }
    if (svc->set->auth_debug)
        log_debug(client->conn_id, "auth: mechanism %s started%s", req->mech_name,
                  initial ? " with an initial response" : "");
    if (!initial) {
        sasl_input(req, NULL, 0, true);
    } else {
        struct buf raw = BUF_INIT;
        if (!decode_response(initial, strlen(initial), &raw)) {
            log_failure(req, NULL, "invalid base64 in the initial response");
            finish(req, AUTH_MALFORMED, "Invalid base64 data in the initial response.");
            req->starting = false;
            return req;
        }
        sasl_input(req, (const unsigned char *)raw.data, raw.len, false);
        buf_free_secret(&raw);
    }
    /* An exchange that already ended above is answered from the loop. */
    req->starting = false;
    return req;
}

void auth_continue(struct auth_request *req, const char *line, size_t len)
{
    if (req->busy)
        return; /* the session does not read while a job runs */
    if (len == 1 && line[0] == '*') {
        finish(req, AUTH_CANCELLED, "Authentication cancelled.");
        return;
    }
    if (req->awaiting_final_ack) {
        if (len != 0) {
            finish(req, AUTH_MALFORMED, "Expected an empty response.");
            return;
        }
        req->awaiting_final_ack = false;
        submit(req, JOB_USERDB);
        return;
    }
    struct buf raw = BUF_INIT;
    if (!base64_decode(line, len, &raw)) {
        log_failure(req, req->user, "invalid base64 in a response");
        finish(req, AUTH_MALFORMED, "Invalid base64 data.");
        return;
    }
    sasl_input(req, (const unsigned char *)raw.data, raw.len, false);
    buf_free_secret(&raw);
}

struct auth_request *auth_start_password(struct auth_service *svc, const struct auth_client *client,
                                         const char *user, const char *password,
                                         size_t password_len, auth_done_fn *done, void *ctx)
{
    struct auth_request *req = request_new(svc, client, done, ctx);
    req->user = xstrdup(user);
    req->password = xmalloc(password_len + 1);
    memcpy(req->password, password, password_len);
    req->password[password_len] = '\0';
    req->password_len = password_len;
    submit(req, JOB_VERIFY_PASSWORD);
    return req;
}

void auth_abort(struct auth_request *req)
{
    if (!req)
        return;
    if (req->busy)
        req->aborted = true; /* the job or timer frees it */
    else
        request_free(req);
}
