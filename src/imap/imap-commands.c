/* The one registry of IMAP commands (RFC 9051 §6). */
#include "imap/imap-commands.h"

#include "imap/session.h"

#include <stdio.h>
#include <strings.h>

static const struct imap_command_def commands[] = {
    /* any state (§6.1) */
    {"CAPABILITY", IMAP_STATES_ANY, 0, cmd_capability},
    {"NOOP", IMAP_STATES_ANY, 0, cmd_noop},
    {"LOGOUT", IMAP_STATES_ANY, IMAP_CMD_FLAG_NO_SYNC, cmd_logout},
    {"ID", IMAP_STATES_ANY, 0, cmd_id},
    /* not authenticated (§6.2) */
    {"STARTTLS", IMAP_STATE_NOT_AUTHENTICATED, 0, cmd_starttls},
    {"LOGIN", IMAP_STATE_NOT_AUTHENTICATED, 0, cmd_login},
    {"AUTHENTICATE", IMAP_STATE_NOT_AUTHENTICATED, 0, cmd_authenticate},
    /* authenticated (§6.3) */
    {"ENABLE", IMAP_STATES_AUTHENTICATED, 0, cmd_enable},
    {"APPEND", IMAP_STATES_AUTHENTICATED, IMAP_CMD_FLAG_STREAMS, cmd_append},
    {"SELECT", IMAP_STATES_AUTHENTICATED, IMAP_CMD_FLAG_NO_SYNC, cmd_select},
    {"EXAMINE", IMAP_STATES_AUTHENTICATED, IMAP_CMD_FLAG_NO_SYNC, cmd_examine},
    {"CREATE", IMAP_STATES_AUTHENTICATED, 0, cmd_create},
    {"DELETE", IMAP_STATES_AUTHENTICATED, 0, cmd_delete},
    {"RENAME", IMAP_STATES_AUTHENTICATED, 0, cmd_rename},
    {"SUBSCRIBE", IMAP_STATES_AUTHENTICATED, 0, cmd_subscribe},
    {"UNSUBSCRIBE", IMAP_STATES_AUTHENTICATED, 0, cmd_unsubscribe},
    {"LIST", IMAP_STATES_AUTHENTICATED, 0, cmd_list},
    {"LSUB", IMAP_STATES_AUTHENTICATED, 0, cmd_lsub},
    {"NAMESPACE", IMAP_STATES_AUTHENTICATED, 0, cmd_namespace},
    {"STATUS", IMAP_STATES_AUTHENTICATED, 0, cmd_status},
    {"IDLE", IMAP_STATES_AUTHENTICATED, IMAP_CMD_FLAG_NO_SYNC, cmd_idle},
    /* selected (§6.4) */
    {"CHECK", IMAP_STATE_SELECTED, 0, cmd_noop},
    {"CLOSE", IMAP_STATE_SELECTED, IMAP_CMD_FLAG_BREAKS_SEQS | IMAP_CMD_FLAG_NO_SYNC, cmd_close},
    {"UNSELECT", IMAP_STATE_SELECTED, IMAP_CMD_FLAG_NO_SYNC, cmd_unselect},
    {"EXPUNGE", IMAP_STATE_SELECTED, IMAP_CMD_FLAG_BREAKS_SEQS, cmd_expunge},
    {"FETCH", IMAP_STATE_SELECTED, IMAP_CMD_FLAG_USES_SEQS, cmd_msg_fetch},
    {"STORE", IMAP_STATE_SELECTED, IMAP_CMD_FLAG_USES_SEQS, cmd_store},
    {"COPY", IMAP_STATE_SELECTED, IMAP_CMD_FLAG_USES_SEQS, cmd_copy},
    {"MOVE", IMAP_STATE_SELECTED, IMAP_CMD_FLAG_USES_SEQS | IMAP_CMD_FLAG_BREAKS_SEQS, cmd_move},
    /* UID forms (§6.4.9; UID EXPUNGE: RFC 4315 §2.1) */
    {"UID FETCH", IMAP_STATE_SELECTED, 0, cmd_msg_fetch},
    {"UID STORE", IMAP_STATE_SELECTED, 0, cmd_store},
    {"UID COPY", IMAP_STATE_SELECTED, 0, cmd_copy},
    {"UID MOVE", IMAP_STATE_SELECTED, IMAP_CMD_FLAG_BREAKS_SEQS, cmd_move},
    {"UID EXPUNGE", IMAP_STATE_SELECTED, IMAP_CMD_FLAG_BREAKS_SEQS, cmd_expunge},
    {"SEARCH", IMAP_STATE_SELECTED, IMAP_CMD_FLAG_USES_SEQS, cmd_search},
    {"UID SEARCH", IMAP_STATE_SELECTED, 0, cmd_search},
};

const struct imap_command_def *imap_command_find(const char *name, const char *uid_subcommand)
{
    char folded[64];
    if (uid_subcommand) {
        int n = snprintf(folded, sizeof(folded), "UID %s", uid_subcommand);
        if (n < 0 || (size_t)n >= sizeof(folded))
            return NULL;
        name = folded;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcasecmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}
