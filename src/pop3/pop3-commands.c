/* The one registry of POP3 commands. */
#include "pop3/pop3-commands.h"

#include <strings.h>

static const struct pop3_command_def commands[] = {
    /* either state */
    {"CAPA", POP3_STATES_ANY, pop3_cmd_capa}, /* RFC 2449 §5 */
    {"QUIT", POP3_STATES_ANY, pop3_cmd_quit}, /* RFC 1939 §5, §6 */
    /* AUTHORIZATION (RFC 1939 §4, §7) */
    {"STLS", POP3_AUTHORIZATION, pop3_cmd_stls}, /* RFC 2595 §4 */
    {"USER", POP3_AUTHORIZATION, pop3_cmd_user},
    {"PASS", POP3_AUTHORIZATION, pop3_cmd_pass},
    {"AUTH", POP3_AUTHORIZATION, pop3_cmd_auth}, /* RFC 5034 */
    {"APOP", POP3_AUTHORIZATION, pop3_cmd_apop},
    {"UTF8", POP3_AUTHORIZATION, pop3_cmd_utf8}, /* RFC 6856 §2.1 */
    /* TRANSACTION (RFC 1939 §5, §7) */
    {"NOOP", POP3_TRANSACTION, pop3_cmd_noop},
    {"STAT", POP3_TRANSACTION, pop3_cmd_stat},
    {"LIST", POP3_TRANSACTION, pop3_cmd_list},
    {"UIDL", POP3_TRANSACTION, pop3_cmd_uidl},
    {"RETR", POP3_TRANSACTION, pop3_cmd_retr},
    {"TOP", POP3_TRANSACTION, pop3_cmd_top},
    {"DELE", POP3_TRANSACTION, pop3_cmd_dele},
    {"RSET", POP3_TRANSACTION, pop3_cmd_rset},
};

const struct pop3_command_def *pop3_command_find(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcasecmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}
