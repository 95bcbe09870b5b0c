/* gannet serve [-c FILE] [-F]: load the configuration, then hand over to the
 * master process (net/server.c) with the protocols and the per-worker state. */
#include "auth/auth-request.h"
#include "auth/password.h"
#include "auth/scram-secret.h"
#include "cli/commands.h"
#include "cli/config-audit.h"
#include "cli/options.h"
#include "imap/session.h"
#include "lib/log.h"
#include "lib/settings.h"
#include "lib/threadpool.h"
#include "lmtp/session.h"
#include "login/services.h"
#include "net/server.h"
#include "pop3/session.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct protocol *const protocols[] = {&imap_protocol, &pop3_protocol, &lmtp_protocol,
                                                   NULL};

/* Threads for the sessions' store work: a job may wait on a disk or on
 * another process's index lock, so there are more than cores. */
#define STORE_THREADS 8

static void *worker_init(struct event_base *base, const struct settings *set,
                         struct shared_counters *counters)
{
    struct buf err = BUF_INIT;
    struct auth_service *auth = auth_service_new(base, set, counters, &err);
    if (!auth) {
        log_error(NULL, "%s", buf_cstr(&err));
        buf_free(&err);
        return NULL;
    }
    buf_free(&err);
    struct session_services *services = xcalloc(1, sizeof(*services));
    services->auth = auth;
    services->store_pool = threadpool_new(base, STORE_THREADS);
    return services;
}

static void worker_done(void *app)
{
    struct session_services *services = app;
    /* the sessions' last store jobs (closing their stores) and their ends */
    threadpool_drain(services->store_pool);
    threadpool_free(services->store_pool);
    auth_service_free(services->auth);
    free(services);
}

static void log_warning_line(const char *id, const char *setting, const char *message, void *ctx)
{
    (void)setting;
    (void)ctx;
    log_warning(NULL, "[%s] %s", id, message);
}

/* The start-up log says plainly what a dangerous setting exposes. */
static void settings_loaded(const struct settings *set)
{
    log_set_debug(set->auth_debug);
    config_audit(set, log_warning_line, NULL);
    if (set->auth_debug_passwords ||
        (set->auth_verbose_passwords && strcmp(set->auth_verbose_passwords, "no") != 0))
        log_warning(NULL, "passwords given by clients are written to this log "
                          "(auth_debug_passwords / auth_verbose_passwords)");
}

int cmd_serve(int argc, char **argv)
{
    static const char serve_usage[] = "usage: gannet serve [-c FILE] [-F]\n";
    struct cli_opts o;
    int rc = cli_opts_parse(argc, argv, "F", serve_usage, &o);
    if (rc != 0)
        return rc == 1 ? 0 : 1;
    if (o.n_args != 0) {
        fprintf(stderr, "gannet serve: unexpected argument '%s'\n%s", o.args[0], serve_usage);
        free(o.args);
        return 1;
    }
    free(o.args);
    const char *config = o.config;
    bool foreground = o.foreground;
    /* SIGHUP re-reads the file after the daemon has moved to /. */
    char *absolute = realpath(config, NULL);
    if (absolute)
        config = absolute;
    struct settings *set = xcalloc(1, sizeof(*set));
    struct buf err = BUF_INIT;
    int loaded = settings_load(config, set, &err);
    free(absolute);
    if (loaded < 0) {
        fprintf(stderr, "gannet: %s\n", buf_cstr(&err));
        buf_free(&err);
        free(set);
        return 1;
    }
    buf_free(&err);
    /* -F: stderr, for systemd and for the terminal; otherwise log_path. */
    const char *target = foreground ? NULL : (set->log_path ? set->log_path : "syslog");
    if (log_open(target) < 0) {
        fprintf(stderr, "gannet: cannot open log_path %s: %m\n", set->log_path);
        settings_free(set);
        free(set);
        return 1;
    }
    /* One key for every worker and every start, so that the SCRAM salts of
     * {PLAIN} and unknown users stay what they were, like a stored user's
     * (RFC 5802 §9): a salt that changed with a restart would single out the
     * names that do not exist. Without a state_dir it still holds within
     * this run. */
    unsigned char salt_secret[SCRAM_SECRET_LEN];
    struct buf why = BUF_INIT;
    bool created = false;
    if (scram_secret_load(set->state_dir, salt_secret, &created, &why) < 0) {
        log_warning(NULL,
                    "cannot keep the SCRAM salt secret in state_dir: %s; the SCRAM salts of "
                    "unknown users change at each restart, which lets a client who compares "
                    "them tell which users exist",
                    buf_cstr(&why));
        if (RAND_bytes(salt_secret, sizeof(salt_secret)) != 1) {
            fprintf(stderr, "gannet: no randomness available\n");
            buf_free(&why);
            return 1;
        }
    } else if (created) {
        log_info(NULL, "made a new SCRAM salt secret in %s/%s", set->state_dir, SCRAM_SECRET_FILE);
    }
    buf_free(&why);
    scram_user_salt_init(salt_secret, sizeof(salt_secret));
    explicit_bzero(salt_secret, sizeof(salt_secret));
    struct server_hooks hooks = {
        .protocols = protocols,
        .worker_init = worker_init,
        .worker_done = worker_done,
        .settings_loaded = settings_loaded,
    };
    return server_run(set, foreground, &hooks);
}
