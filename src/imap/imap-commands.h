/* The IMAP command core: one registry of commands (name, states, flags,
 * handler), and the context each running command gets (Dovecot's
 * client_command_context, with an explicit arena and result states).
 *
 * A command runs from its handler; when it cannot finish at once it returns
 * what it waits for and sets `resume`, which the session calls again when that
 * has come: input (the command in progress owns the input: SASL responses,
 * IDLE's DONE, APPEND's literal), drained output, or outside work (a login
 * checked, a store job done), which calls imap_cmd_wake(). Adding a command
 * means adding a handler in its family's file and a row in imap-commands.c. */
#ifndef GANNET_IMAP_IMAP_COMMANDS_H
#define GANNET_IMAP_IMAP_COMMANDS_H

#include "lib-imap/imap-parser.h"
#include "lib/arena.h"

#include <stdbool.h>
#include <stddef.h>

struct imap_session;
struct evbuffer;

enum imap_cmd_result {
    IMAP_CMD_DONE,          /* answered; the next command may start */
    IMAP_CMD_WAIT_INPUT,    /* call resume when the client sent more */
    IMAP_CMD_WAIT_OUTPUT,   /* call resume when the output has drained */
    IMAP_CMD_WAIT_EXTERNAL, /* outside work will imap_cmd_wake() it */
    IMAP_CMD_CLOSING,       /* the connection is closing */
};

/* What the registry says of a command. In the selected state the session
 * core tells the changes made elsewhere (new messages, flags, expunges: RFC
 * 9051 §5.2, §7.4.1) at the end of every command, before its tagged OK or NO:
 * imap_cmd_reply() holds the completion back, the core runs a sync job
 * (imap-sync.h), then sends it. A command opts out with NO_SYNC, and holds
 * back expunges with USES_SEQS (or by setting cmd->sync at run time). */
enum imap_cmd_flag {
    /* Its arguments or answers use message sequence numbers (FETCH, STORE,
     * SEARCH, COPY, MOVE, not their UID forms): the sync at its end tells new
     * messages but holds back expunges, whose UIDs keep their sequence numbers
     * in the session's view until a later command can tell them (RFC 9051
     * §7.5.1). */
    IMAP_CMD_FLAG_USES_SEQS = 1u << 0,
    IMAP_CMD_FLAG_BREAKS_SEQS = 1u << 1, /* may expunge, renumbering messages */
    /* Syncs before running too, so that its answer already counts what came
     * meanwhile (with expunges held back if USES_SEQS). */
    IMAP_CMD_FLAG_SYNC_FIRST = 1u << 2,
    IMAP_CMD_FLAG_STREAMS = 1u << 3, /* reads its top-level literals itself (APPEND) */
    /* No sync at its end: it leaves or replaces the selected mailbox (SELECT,
     * EXAMINE, CLOSE, UNSELECT, LOGOUT) or tells changes itself (IDLE). */
    IMAP_CMD_FLAG_NO_SYNC = 1u << 4,
};

/* The sync the session core runs before a command's completion; set from the
 * registry flags when the command starts, and a handler may change it (a UID
 * SEARCH whose criteria name sequence numbers holds back expunges, RFC 7162
 * §3.2.10.2). */
enum imap_cmd_sync {
    IMAP_CMD_SYNC_FULL,       /* expunges, new messages, flag changes */
    IMAP_CMD_SYNC_NO_EXPUNGE, /* new messages only, and flag changes if nothing is held back */
    IMAP_CMD_SYNC_NONE,
};

struct imap_cmd;
typedef enum imap_cmd_result imap_cmd_fn(struct imap_cmd *cmd);

struct imap_command_def {
    const char *name; /* upper case; "UID FETCH" for the UID form */
    unsigned states;  /* enum imap_state bits where it is allowed */
    unsigned flags;   /* enum imap_cmd_flag */
    imap_cmd_fn *run;
};

/* One running command. Lives in its own arena (the parser's, which also holds
 * the tag and arguments); everything goes in one call when it ends. */
struct imap_cmd {
    struct imap_session *session;
    const struct imap_command_def *def;
    const char *tag;
    bool uid; /* sent as "UID name" */
    const struct imap_arg *args;
    size_t n_args;
    /* false while the parser stopped at a literal this command streams */
    bool args_complete;
    struct arena *arena;
    imap_cmd_fn *resume;
    enum imap_cmd_result waiting;
    void *data; /* the handler's own state, in the arena */
    /* outside work's answer, for resume: a store job's result and reason,
     * and its data (valid during that resume only) */
    int job_result;
    const char *job_error;
    void *job_data;
    /* the session's bookkeeping: a wake-up that came while it was running */
    bool running, woken;
    /* the sync before its completion, and the completion it waits for (in
     * the arena) */
    enum imap_cmd_sync sync;
    const char *held_reply;
};

/* The row for a command name ("FETCH", or "UID" + "FETCH" folded), or NULL. */
const struct imap_command_def *imap_command_find(const char *name, const char *uid_subcommand);

/* Outside work for a command in IMAP_CMD_WAIT_EXTERNAL has finished: runs its
 * resume now and carries on with what it returns. */
void imap_cmd_wake(struct imap_cmd *cmd);

/* For a command that owns the input: the client's bytes not yet taken. */
struct evbuffer *imap_cmd_input(struct imap_cmd *cmd);
/* For a streaming command: parses on from the input after its literal was
 * read (or when it needs more of the command line). NEED_MORE: wait for input;
 * LITERAL_STREAM: the next streamed literal (cmd->args updated); COMMAND: the
 * line is complete (cmd->args_complete); BAD/FATAL as the parser says.
 * "+" for synchronizing literals the parser holds is sent here. */
enum imap_parse_result imap_cmd_parse_more(struct imap_cmd *cmd);

/* Handlers, by family (one file each). */
imap_cmd_fn cmd_capability, cmd_logout, cmd_id, cmd_enable;             /* cmd-any.c */
imap_cmd_fn cmd_starttls, cmd_login, cmd_authenticate;                  /* cmd-login.c */
imap_cmd_fn cmd_append;                                                 /* cmd-append.c */
imap_cmd_fn cmd_msg_fetch;                                              /* cmd-fetch.c */
imap_cmd_fn cmd_select, cmd_examine, cmd_close, cmd_unselect, cmd_noop; /* cmd-select.c */
imap_cmd_fn cmd_create, cmd_delete, cmd_rename, cmd_subscribe, cmd_unsubscribe; /* cmd-mailbox.c */
imap_cmd_fn cmd_list, cmd_lsub, cmd_namespace, cmd_status;                     /* cmd-list.c */
imap_cmd_fn cmd_store;                                                  /* cmd-store.c */
imap_cmd_fn cmd_expunge;                                                /* cmd-expunge.c */
imap_cmd_fn cmd_copy, cmd_move;                                         /* cmd-copy.c */
imap_cmd_fn cmd_idle;                                                   /* cmd-idle.c */
imap_cmd_fn cmd_search;                                                 /* cmd-search.c */

/* How IMAP words the answers of a login (cmd-login.c). */
struct login_callbacks;
extern const struct login_callbacks imap_login_callbacks;

#endif
