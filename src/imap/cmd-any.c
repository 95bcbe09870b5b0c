/* Commands valid in every state (RFC 9051 §6.1) and the small ones of the
 * authenticated state that need no mailbox: ID (RFC 2971), ENABLE (RFC 5161). */
#include "imap/imap-resp.h"
#include "imap/session.h"
#include "lib-imap/imap-arg.h"

#include "lib/log.h"

#include <string.h>

#define ID_MAX_PAIRS 30 /* RFC 2971 §3.3 */
#define ID_MAX_FIELD 30
#define ID_MAX_VALUE 1024

enum imap_cmd_result cmd_capability(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    if (cmd->n_args != 0) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "CAPABILITY takes no arguments.");
        return IMAP_CMD_DONE;
    }
    struct buf caps = BUF_INIT;
    imap_capabilities(s, &caps);
    imap_untagged(s, "CAPABILITY %s", buf_cstr(&caps));
    buf_free(&caps);
    imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "CAPABILITY completed.");
    return IMAP_CMD_DONE;
}

enum imap_cmd_result cmd_logout(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    if (cmd->n_args != 0) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "LOGOUT takes no arguments.");
        return IMAP_CMD_DONE;
    }
    imap_untagged(s, "BYE Logging out.");
    imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "LOGOUT completed.");
    s->state = IMAP_STATE_LOGOUT;
    conn_close(s->conn);
    return IMAP_CMD_CLOSING;
}

/* RFC 2971: the client's identification is checked for form; ours names the
 * product and nothing else (a version would help an attacker, not a client). */
enum imap_cmd_result cmd_id(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    const struct imap_arg *arg = cmd->n_args == 1 ? &cmd->args[0] : NULL;
    bool ok = arg && (arg->type == IMAP_ARG_NIL || arg->type == IMAP_ARG_LIST);
    if (ok && arg->type == IMAP_ARG_LIST) {
        ok = arg->list_len % 2 == 0 && arg->list_len / 2 <= ID_MAX_PAIRS;
        for (size_t i = 0; ok && i < arg->list_len; i += 2) {
            const struct imap_arg *field = &arg->list[i], *value = &arg->list[i + 1];
            ok = field->type == IMAP_ARG_STRING && field->len <= ID_MAX_FIELD &&
                 (value->type == IMAP_ARG_NIL ||
                  (value->type == IMAP_ARG_STRING && value->len <= ID_MAX_VALUE));
        }
    }
    if (!ok) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE,
                       "ID expects NIL or a list of field and value strings.");
        return IMAP_CMD_DONE;
    }
    imap_untagged(s, "ID (\"name\" \"gannet\")");
    imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "ID completed.");
    return IMAP_CMD_DONE;
}

/* RFC 5161: only extensions this server has and that change its behaviour
 * are enabled and listed (IMAP4rev2, CONDSTORE, QRESYNC); the others are
 * ignored. With a mailbox selected, enabling CONDSTORE owes its
 * HIGHESTMODSEQ (RFC 7162 §3.1), which the sync before the completion tells. */
enum imap_cmd_result cmd_enable(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    if (cmd->n_args == 0) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "ENABLE needs at least one capability.");
        return IMAP_CMD_DONE;
    }
    struct buf enabled = BUF_INIT;
    bool had_condstore = s->enabled_condstore;
    for (size_t i = 0; i < cmd->n_args; i++) {
        if (cmd->args[i].type != IMAP_ARG_ATOM) {
            buf_free(&enabled);
            imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "ENABLE takes capability names.");
            return IMAP_CMD_DONE;
        }
        if (imap_arg_is(&cmd->args[i], "IMAP4rev2") && !s->enabled_imap4rev2) {
            s->enabled_imap4rev2 = true;
            buf_puts(&enabled, " IMAP4rev2");
        }
        /* RFC 7162 §3.2.3: QRESYNC implies CONDSTORE; each is listed once,
         * when this command enabled it */
        if (imap_arg_is(&cmd->args[i], "QRESYNC") && !s->enabled_qresync) {
            s->enabled_qresync = true;
            imap_session_enable_condstore(s);
            buf_puts(&enabled, " QRESYNC");
        }
        if (imap_arg_is(&cmd->args[i], "CONDSTORE") && !had_condstore &&
            !strstr(buf_cstr(&enabled), " CONDSTORE")) {
            imap_session_enable_condstore(s);
            buf_puts(&enabled, " CONDSTORE");
        }
    }
    imap_untagged(s, "ENABLED%s", buf_cstr(&enabled));
    buf_free(&enabled);
    imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "ENABLE completed.");
    return IMAP_CMD_DONE;
}
