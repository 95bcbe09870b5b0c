/* The server's processes (DESIGN.md "Processes, concurrency, privileges"): a
 * master that binds the listeners, loads the certificates and starts one worker
 * per core; workers that drop to mail_uid/mail_gid and run an event loop of
 * connections. SIGTERM stops, SIGHUP reloads the configuration and certificates
 * (new workers take the new connections, the old ones finish theirs), and a
 * worker that dies is replaced. */
#ifndef GANNET_NET_SERVER_H
#define GANNET_NET_SERVER_H

#include "lib/settings.h"
#include "net/conn.h"

#include <stdbool.h>

struct event_base;
struct shared_counters;

/* What the layers above the network provide. */
struct server_hooks {
    const struct protocol *const *protocols; /* NULL-terminated */
    /* In each worker, after the privilege drop: build the per-worker state that
     * sessions use (conn_app() returns it). NULL stops the worker with an error. */
    void *(*worker_init)(struct event_base *base, const struct settings *set,
                         struct shared_counters *counters);
    void (*worker_done)(void *app);
    /* In the master, after every (re)load: log what is dangerous in the settings. */
    void (*settings_loaded)(const struct settings *set);
};

/* Runs until SIGTERM. Start-up problems are printed as one line on stderr and
 * give a non-zero return. `set` is owned by the server from now on. */
int server_run(struct settings *set, bool foreground, const struct server_hooks *hooks);

/* The per-worker state made by hooks->worker_init. */

#endif
