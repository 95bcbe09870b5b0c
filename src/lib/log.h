/* Logging: to stderr (serve -F and the other subcommands), a file, or syslog
 * (log_path = syslog). Every line about a connection carries its id, so that one
 * session can be followed through a busy log. Never pass a password, a SASL
 * message or message content here unless auth_debug_passwords allows it. */
#ifndef GANNET_LIB_LOG_H
#define GANNET_LIB_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* target: NULL or "" for stderr, "syslog", or a file path (appended to).
 * Returns 0, or -errno when the file cannot be opened (stderr stays in use). */
int log_open(const char *target);
void log_close(void);
/* True while lines go to stderr (no log_path, or serve -F). */
bool log_to_stderr(void);
/* Debug lines are dropped unless enabled (auth_debug enables them). */
void log_set_debug(bool enabled);
/* The process name shown in each line: "master", "imap", ... */
void log_set_process(const char *name);

__attribute__((format(printf, 3, 4))) void log_msg(enum log_level level, const char *conn_id,
                                                   const char *fmt, ...);
void log_vmsg(enum log_level level, const char *conn_id, const char *fmt, va_list ap);

#define log_error(id, ...) log_msg(LOG_LEVEL_ERROR, id, __VA_ARGS__)
#define log_warning(id, ...) log_msg(LOG_LEVEL_WARNING, id, __VA_ARGS__)
#define log_info(id, ...) log_msg(LOG_LEVEL_INFO, id, __VA_ARGS__)
#define log_debug(id, ...) log_msg(LOG_LEVEL_DEBUG, id, __VA_ARGS__)

#endif
