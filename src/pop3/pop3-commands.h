/* The one registry of POP3 commands (RFC 1939 §4-§7, RFC 2449, RFC 2595,
 * RFC 5034): name, states it is allowed in, handler. Adding a command means
 * adding a handler in its family's file and a row in pop3-commands.c. */
#ifndef GANNET_POP3_POP3_COMMANDS_H
#define GANNET_POP3_POP3_COMMANDS_H

#include "pop3/session.h"

/* `arg` is the rest of the line after the command and one space ("" when
 * none), writable; the line is wiped after the handler returns. */
typedef void pop3_cmd_fn(struct pop3_session *s, char *arg);

struct pop3_command_def {
    const char *name;
    unsigned states; /* enum pop3_state bits where it is allowed */
    pop3_cmd_fn *run;
};

/* The row for a command name (any case), or NULL. */
const struct pop3_command_def *pop3_command_find(const char *name);

/* Handlers, by family (one file each). */
/* cmd-any.c */
pop3_cmd_fn pop3_cmd_capa, pop3_cmd_quit, pop3_cmd_noop;
/* cmd-login.c */
pop3_cmd_fn pop3_cmd_stls, pop3_cmd_user, pop3_cmd_pass, pop3_cmd_auth, pop3_cmd_apop,
    pop3_cmd_utf8;
/* cmd-mail.c */
pop3_cmd_fn pop3_cmd_stat, pop3_cmd_list, pop3_cmd_uidl, pop3_cmd_retr, pop3_cmd_top, pop3_cmd_dele,
    pop3_cmd_rset;

/* A LIST or UIDL answer waits for the output to drain: its next lines. False
 * when none is under way (cmd-mail.c). */
bool pop3_listing_continue(struct pop3_session *s);

/* How POP3 words the answers of a login (cmd-login.c). */
struct login_callbacks;
extern const struct login_callbacks pop3_login_callbacks;

#endif
