/* The master process: binds, loads certificates, starts and watches workers.
 * It runs no event loop: it waits for signals with sigtimedwait, so that its
 * state never changes under a handler's feet. */
#include "net/server.h"

#include "lib/log.h"
#include "lib/shared-counter.h"
#include "net/tls.h"
#include "net/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_CONFIG 78
#define SHARED_COUNTER_SLOTS (1u << 16)
#define STOP_TIMEOUT_SECONDS 8
/* More deaths than this within RESTART_WINDOW seconds: wait before restarting. */
#define RESTART_BURST 5
#define RESTART_WINDOW 10

struct worker_proc {
    pid_t pid;
    unsigned generation;
};

/* The master's state; one per process. */
struct master {
    struct settings *set;
    const struct server_hooks *hooks;
    struct privs privs;
    struct listen_socket *socks;
    size_t n_socks;
    SSL_CTX **tls; /* one per protocol in hooks->protocols; NULL entries with ssl = no */
    size_t n_protocols;
    struct shared_counters *counters;
    struct worker_proc *workers;
    size_t n_workers, cap_workers;
    unsigned generation;
    unsigned wanted; /* workers of the current generation */
    time_t recent_deaths[RESTART_BURST];
    size_t n_deaths;
};

static const struct protocol *protocol_for_service(const struct server_hooks *hooks,
                                                   const char *service, size_t *index)
{
    for (size_t i = 0; hooks->protocols[i]; i++) {
        if (strcmp(hooks->protocols[i]->service, service) == 0) {
            *index = i;
            return hooks->protocols[i];
        }
    }
    return NULL;
}

/* `protocols = imap pop3`: is the protocol of this service enabled? */
static bool protocol_enabled(const struct settings *set, const struct protocol *p)
{
    const char *list = set->protocols ? set->protocols : "";
    size_t n = strlen(p->alpn);
    for (const char *s = list; (s = strstr(s, p->alpn)) != NULL; s += n) {
        bool start = s == list || s[-1] == ' ' || s[-1] == ',';
        bool end = s[n] == '\0' || s[n] == ' ' || s[n] == ',';
        if (start && end)
            return true;
    }
    return false;
}

static int bind_one(const char *address, int port, struct buf *err)
{
    const char *host = address;
    if (strcmp(address, "*") == 0)
        host = "0.0.0.0";
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    int rc = getaddrinfo(host, service, &hints, &ai);
    if (rc != 0) {
        buf_printf(err, "cannot listen on %s:%d: not an IP address (%s)", address, port,
                   gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 511) < 0) {
            buf_printf(err, "cannot listen on %s:%d: %s", address, port, strerror(errno));
            close(fd);
            fd = -1;
        }
    } else {
        buf_printf(err, "cannot listen on %s:%d: %s", address, port, strerror(errno));
    }
    freeaddrinfo(ai);
    return fd;
}

/* mkdir -p of the directories above path, mode 0755 (Dovecot's base_dir, or
 * a directory of the MTA's); the ones that exist are left as they are. */
static int make_parent_dirs(const char *path, struct buf *err)
{
    char *dir = xstrdup(path);
    int rc = 0;
    for (char *p = strchr(dir + 1, '/'); p && rc == 0; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
            buf_printf(err, "cannot create %s for a unix_listener: %s", dir, strerror(errno));
            rc = -1;
        }
        *p = '/';
    }
    free(dir);
    return rc;
}

/* A unix_listener (service lmtp): the socket at l->path with its mode, user
 * and group. A socket file left by a server that died is replaced; one that
 * another process still listens on, or a file that is not a socket, is an
 * error rather than something to remove. */
static int bind_unix(const struct listener_settings *l, struct buf *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(l->path) >= sizeof(sun.sun_path)) {
        buf_printf(err, "unix_listener path too long: %s", l->path);
        return -1;
    }
    memcpy(sun.sun_path, l->path, strlen(l->path) + 1);
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1, primary = (gid_t)-1;
    if (l->user && !privs_resolve_user(l->user, &uid, &primary)) {
        buf_printf(err, "unix_listener %s: unknown user '%s'", l->path, l->user);
        return -1;
    }
    if (l->group && !privs_resolve_group(l->group, &gid)) {
        buf_printf(err, "unix_listener %s: unknown group '%s'", l->path, l->group);
        return -1;
    }
    mode_t mode = l->mode ? (mode_t)strtoul(l->mode, NULL, 8) : 0666;
    if (make_parent_dirs(l->path, err) < 0)
        return -1;
    struct stat st;
    if (lstat(l->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            buf_printf(err, "cannot listen on %s: the file exists and is not a socket", l->path);
            return -1;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool alive = probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0;
        if (probe >= 0)
            close(probe);
        if (alive) {
            buf_printf(err, "cannot listen on %s: another process listens on it", l->path);
            return -1;
        }
        unlink(l->path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    bool owned = uid == (uid_t)-1 && gid == (gid_t)-1;
    /* Until the chmod below the socket has the umask's mode, never a wider one. */
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
        (!owned && chown(l->path, uid, gid) < 0) || chmod(l->path, mode) < 0 ||
        listen(fd, 511) < 0) {
        buf_printf(err, "cannot listen on %s: %s", l->path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(l->path);
        }
        return -1;
    }
    return fd;
}

static void add_socket(struct master *m, int fd, const struct protocol *p, size_t proto_index,
                       const struct listener_settings *l, const char *address)
{
    m->socks = xrealloc(m->socks, (m->n_socks + 1) * sizeof(*m->socks));
    struct listen_socket *s = &m->socks[m->n_socks++];
    memset(s, 0, sizeof(*s));
    s->fd = fd;
    s->protocol = p;
    s->ssl = l->ssl;
    s->tls = m->tls[proto_index];
    snprintf(s->label, sizeof(s->label), "%s", l->name);
    snprintf(s->address, sizeof(s->address), "%s", address);
    s->port = l->port;
    s->path = l->path ? xstrdup(l->path) : NULL;
}

static int bind_listeners(struct master *m, struct buf *err)
{
    const struct settings *set = m->set;
    for (size_t i = 0; i < set->n_listeners; i++) {
        const struct listener_settings *l = &set->listeners[i];
        size_t pi;
        const struct protocol *p = protocol_for_service(m->hooks, l->service, &pi);
        if (!p || !protocol_enabled(set, p))
            continue;
        if (l->path) {
            int fd = bind_unix(l, err);
            if (fd < 0)
                return -1;
            add_socket(m, fd, p, pi, l, l->path);
            continue;
        }
        if (l->port == 0)
            continue;
        if (l->ssl && set->ssl == SSL_MODE_NO) {
            buf_printf(err, "listener %s has ssl = yes, but ssl = no", l->name);
            return -1;
        }
        const char *addresses = l->address          ? l->address
                                : p->default_listen ? p->default_listen
                                                    : set->listen;
        for (const char *a = addresses; *a;) {
            a += strspn(a, ", \t");
            size_t n = strcspn(a, ", \t");
            if (n == 0)
                break;
            char address[64];
            snprintf(address, sizeof(address), "%.*s", (int)n, a);
            a += n;
            int fd = bind_one(address, l->port, err);
            if (fd < 0)
                return -1;
            add_socket(m, fd, p, pi, l, address);
        }
    }
    if (m->n_socks == 0) {
        buf_puts(err, "no listener: check `protocols` and the service sections");
        return -1;
    }
    return 0;
}

/* Makes one TLS context per protocol from the current settings. */
static int load_tls(struct master *m, SSL_CTX ***out, struct buf *err)
{
    SSL_CTX **tls = xcalloc(m->n_protocols, sizeof(*tls));
    if (m->set->ssl != SSL_MODE_NO) {
        for (size_t i = 0; i < m->n_protocols; i++) {
            tls[i] = tls_context_new(m->set, m->hooks->protocols[i]->alpn, err);
            if (!tls[i]) {
                for (size_t k = 0; k < i; k++)
                    SSL_CTX_free(tls[k]);
                free(tls);
                return -1;
            }
        }
    }
    *out = tls;
    return 0;
}

static void free_tls(struct master *m, SSL_CTX **tls)
{
    if (!tls)
        return;
    for (size_t i = 0; i < m->n_protocols; i++)
        SSL_CTX_free(tls[i]);
    free(tls);
}

static void spawn_worker(struct master *m)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error(NULL, "cannot start a worker: %s", strerror(errno));
        return;
    }
    if (pid == 0)
        worker_run(m->set, m->socks, m->n_socks, m->counters, m->hooks, &m->privs);
    if (m->n_workers == m->cap_workers) {
        m->cap_workers = m->cap_workers ? m->cap_workers * 2 : 8;
        m->workers = xrealloc(m->workers, m->cap_workers * sizeof(*m->workers));
    }
    m->workers[m->n_workers++] = (struct worker_proc){pid, m->generation};
}

static unsigned current_workers(const struct master *m)
{
    unsigned n = 0;
    for (size_t i = 0; i < m->n_workers; i++)
        if (m->workers[i].generation == m->generation)
            n++;
    return n;
}

static void signal_workers(struct master *m, int sig, bool only_old)
{
    for (size_t i = 0; i < m->n_workers; i++)
        if (!only_old || m->workers[i].generation != m->generation)
            kill(m->workers[i].pid, sig);
}

/* Reaps exited workers; returns false when a worker could not start for a
 * configuration reason (the server must stop). */
static bool reap_workers(struct master *m, bool stopping)
{
    bool ok = true;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < m->n_workers; i++) {
            if (m->workers[i].pid != pid)
                continue;
            bool current = m->workers[i].generation == m->generation;
            m->workers[i] = m->workers[--m->n_workers];
            if (stopping || !current)
                break;
            if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_CONFIG) {
                ok = false;
            } else if (WIFSIGNALED(status)) {
                log_error(NULL, "worker %d killed by signal %d; starting another", (int)pid,
                          WTERMSIG(status));
            } else {
                log_error(NULL, "worker %d exited with status %d; starting another", (int)pid,
                          WEXITSTATUS(status));
            }
            break;
        }
    }
    return ok;
}

/* Keeps the current generation at full strength, pausing when workers keep
 * dying (a crash at start-up must not become a fork storm). Returns how many
 * seconds to wait before trying again, 0 when done. */
static int replenish_workers(struct master *m)
{
    time_t now = time(NULL);
    while (current_workers(m) < m->wanted) {
        size_t recent = 0;
        for (size_t i = 0; i < m->n_deaths; i++)
            if (now - m->recent_deaths[i] < RESTART_WINDOW)
                recent++;
        if (recent >= RESTART_BURST)
            return 1;
        if (m->n_deaths < RESTART_BURST)
            m->n_deaths++;
        memmove(m->recent_deaths + 1, m->recent_deaths,
                (RESTART_BURST - 1) * sizeof(m->recent_deaths[0]));
        m->recent_deaths[0] = now;
        spawn_worker(m);
    }
    return 0;
}

static unsigned worker_count(const struct settings *set)
{
    if (set->workers)
        return set->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static bool same_listeners(const struct settings *a, const struct settings *b)
{
    if (a->n_listeners != b->n_listeners || strcmp(a->listen, b->listen) != 0 ||
        strcmp(a->protocols, b->protocols) != 0)
        return false;
    for (size_t i = 0; i < a->n_listeners; i++) {
        const struct listener_settings *x = &a->listeners[i], *y = &b->listeners[i];
        if (x->port != y->port || x->ssl != y->ssl || strcmp(x->service, y->service) != 0 ||
            strcmp(x->address ? x->address : "", y->address ? y->address : "") != 0 ||
            strcmp(x->path ? x->path : "", y->path ? y->path : "") != 0)
            return false;
    }
    return true;
}

/* SIGHUP: a new configuration and new certificates for new workers; the old
 * workers keep their connections to the end. On any error the running
 * configuration stays. */
static void reload(struct master *m)
{
    struct settings *next = xcalloc(1, sizeof(*next));
    struct buf err = BUF_INIT;
    if (settings_load(m->set->config_path, next, &err) < 0) {
        log_error(NULL, "reload failed, keeping the running configuration: %s", buf_cstr(&err));
        goto fail;
    }
    struct privs privs;
    if (privs_resolve(next, &privs, &err) < 0) {
        log_error(NULL, "reload failed, keeping the running configuration: %s", buf_cstr(&err));
        goto fail;
    }
    if (!same_listeners(m->set, next))
        log_warning(NULL, "reload: listener changes take effect at the next restart");
    struct settings *old = m->set;
    m->set = next;
    SSL_CTX **tls;
    if (load_tls(m, &tls, &err) < 0) {
        m->set = old;
        log_error(NULL, "reload failed, keeping the running configuration: %s", buf_cstr(&err));
        goto fail;
    }
    if (log_open(next->log_path) < 0)
        log_open(old->log_path);
    for (size_t i = 0; i < m->n_socks; i++) {
        size_t pi = 0;
        protocol_for_service(m->hooks, m->socks[i].protocol->service, &pi);
        m->socks[i].tls = tls[pi];
    }
    free_tls(m, m->tls);
    m->tls = tls;
    m->privs = privs;
    settings_free(old);
    free(old);
    m->hooks->settings_loaded(m->set);
    m->generation++;
    m->wanted = worker_count(m->set);
    replenish_workers(m);
    signal_workers(m, SIGUSR2, true);
    log_info(NULL, "configuration reloaded from %s", m->set->config_path);
    buf_free(&err);
    return;
fail:
    settings_free(next);
    free(next);
    buf_free(&err);
}

static void stop_workers(struct master *m)
{
    signal_workers(m, SIGTERM, false);
    time_t deadline = time(NULL) + STOP_TIMEOUT_SECONDS;
    while (m->n_workers > 0 && time(NULL) < deadline) {
        reap_workers(m, true);
        if (m->n_workers > 0)
            usleep(20000);
    }
    if (m->n_workers > 0) {
        signal_workers(m, SIGKILL, false);
        while (m->n_workers > 0 && waitpid(-1, NULL, 0) > 0)
            reap_workers(m, true);
    }
}

static int daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    setsid();
    if (chdir("/") < 0)
        return -1;
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    return 0;
}

int server_run(struct settings *set, bool foreground, const struct server_hooks *hooks)
{
    struct master m = {.set = set, .hooks = hooks};
    struct buf err = BUF_INIT;
    int rc = 1;
    while (hooks->protocols[m.n_protocols])
        m.n_protocols++;
    signal(SIGPIPE, SIG_IGN);
    if (privs_resolve(set, &m.privs, &err) < 0 || load_tls(&m, &m.tls, &err) < 0 ||
        bind_listeners(&m, &err) < 0) {
        fprintf(stderr, "gannet: %s\n", buf_cstr(&err));
        if (!log_to_stderr())
            log_error(NULL, "%s", buf_cstr(&err));
        goto out;
    }
    m.counters = shared_counters_create(SHARED_COUNTER_SLOTS);
    if (!m.counters) {
        fprintf(stderr, "gannet: cannot map the shared counters: %s\n", strerror(errno));
        goto out;
    }
    hooks->settings_loaded(set);
    if (!foreground && daemonize() < 0) {
        fprintf(stderr, "gannet: cannot detach: %s\n", strerror(errno));
        goto out;
    }
    log_set_process("master");
    for (size_t i = 0; i < m.n_socks; i++) {
        if (m.socks[i].path)
            log_info(NULL, "listening on %s (%s)", m.socks[i].path, m.socks[i].label);
        else
            log_info(NULL, "listening on %s:%d (%s%s)", m.socks[i].address, m.socks[i].port,
                     m.socks[i].label, m.socks[i].ssl ? ", TLS" : "");
    }

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGCHLD);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &sigs, NULL);

    m.wanted = worker_count(set);
    replenish_workers(&m);
    log_info(NULL, "gannet %s started with %u workers", GANNET_VERSION, m.wanted);
    rc = 0;
    for (;;) {
        struct timespec wait = {1, 0};
        int sig = sigtimedwait(&sigs, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info(NULL, "stopping");
            break;
        }
        if (sig == SIGHUP)
            reload(&m);
        if (!reap_workers(&m, false)) {
            log_error(NULL, "a worker could not start; stopping");
            rc = 1;
            break;
        }
        replenish_workers(&m);
    }
    stop_workers(&m);
out:
    for (size_t i = 0; i < m.n_socks; i++) {
        close(m.socks[i].fd);
        /* the socket file goes with the server, as Dovecot's do */
        if (m.socks[i].path)
            unlink(m.socks[i].path);
        free(m.socks[i].path);
    }
    free(m.socks);
    free_tls(&m, m.tls);
    free(m.workers);
    shared_counters_destroy(m.counters);
    settings_free(m.set);
    free(m.set);
    buf_free(&err);
    return rc;
}
