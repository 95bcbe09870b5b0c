/* What a worker gives the sessions of every protocol (conn_app()): the
 * authentication service, and the thread pool that runs the sessions' store
 * work off the event loop (DESIGN.md "The way a byte travels"). */
#ifndef GANNET_LOGIN_SERVICES_H
#define GANNET_LOGIN_SERVICES_H

struct auth_service;
struct threadpool;

/* Owned by the worker, for its whole life. */
struct session_services {
    struct auth_service *auth;
    struct threadpool *store_pool;
};

#endif
