/* Mailboxes (RFC 9051 §6.3.4-6.3.8): CREATE (with RFC 6154's USE), DELETE,
 * RENAME, SUBSCRIBE, UNSUBSCRIBE. */
#include "imap/imap-resp.h"
#include "imap/imap-store.h"
#include "imap/session.h"
#include "lib-imap/imap-arg.h"
#include "store/mailbox-name.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum mailbox_op { OP_CREATE, OP_DELETE, OP_RENAME, OP_SUBSCRIBE, OP_UNSUBSCRIBE };

struct mailbox_job {
    enum mailbox_op op;
    char *name, *new_name;
    unsigned special_use;
};

static void free_mailbox_job(void *arg)
{
    struct mailbox_job *job = arg;
    free(job->name);
    free(job->new_name);
    free(job);
}

static int mailbox_work(struct imap_store_side *side, void *data, struct buf *out,
                        struct buf *err)
{
    (void)out;
    struct mailbox_job *job = data;
    switch (job->op) {
    case OP_CREATE:
        return store_mailbox_create(side->store, job->name, job->special_use, err);
    case OP_DELETE:
        /* RFC 9051 §6.3.5: deleting the selected mailbox is allowed; the
         * session keeps a handle on what is gone until it leaves it */
        return store_mailbox_delete(side->store, job->name, err);
    case OP_RENAME:
        return store_mailbox_rename(side->store, job->name, job->new_name, err);
    case OP_SUBSCRIBE:
    case OP_UNSUBSCRIBE:
        /* RFC 9051 §6.3.7: a name that does not exist may be subscribed */
        return store_mailbox_subscribe(side->store, job->name, job->op == OP_SUBSCRIBE, err);
    }
    return -EINVAL;
}

static enum imap_cmd_result mailbox_done(struct imap_cmd *cmd)
{
    const struct mailbox_job *job = cmd->job_data;
    int r = cmd->job_result;
    if (r == -ENOTEMPTY) {
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_INUSE, "The mailbox has children.");
    } else if (r == -EPERM && job->op == OP_DELETE) {
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_CANNOT, "INBOX cannot be deleted.");
    } else if (r < 0) {
        imap_cmd_store_error(cmd, r);
    } else {
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "%s completed.", cmd->def->name);
    }
    return IMAP_CMD_DONE;
}

/* A mailbox name argument in the store's form; false after answering. */
static bool read_name(struct imap_cmd *cmd, const struct imap_arg *arg, bool for_create,
                      char **out)
{
    const char *wire;
    size_t len;
    if (!imap_arg_get_astring(arg, &wire, &len)) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s expects a mailbox name.",
                       cmd->def->name);
        return false;
    }
    struct buf name = BUF_INIT;
    if (mailbox_name_from_imap(wire, len, false, for_create, &name, NULL) < 0) {
        buf_free(&name);
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_CANNOT, "Invalid mailbox name.");
        return false;
    }
    *out = buf_steal(&name);
    return true;
}

/* RFC 6154 §3: CREATE name (USE (\Sent)). */
static bool read_use(const struct imap_arg *arg, unsigned *special_use)
{
    const struct imap_arg *list, *uses;
    size_t n, n_uses;
    if (!imap_arg_get_list(arg, &list, &n) || n != 2 || !imap_arg_is(&list[0], "USE") ||
        !imap_arg_get_list(&list[1], &uses, &n_uses))
        return false;
    for (size_t i = 0; i < n_uses; i++) {
        unsigned bit = 1;
        while (bit <= STORE_SPECIAL_FLAGGED && !imap_arg_is(&uses[i], store_special_use_name(bit)))
            bit <<= 1;
        if (bit > STORE_SPECIAL_FLAGGED)
            return false;
        *special_use |= bit;
    }
    return true;
}

static enum imap_cmd_result run(struct imap_cmd *cmd, enum mailbox_op op)
{
    size_t want = op == OP_RENAME ? 2 : 1;
    bool extra_use = op == OP_CREATE && cmd->n_args == 2;
    if (cmd->n_args != want && !extra_use) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "Wrong number of arguments for %s.",
                       cmd->def->name);
        return IMAP_CMD_DONE;
    }
    struct mailbox_job *job = xcalloc(1, sizeof(*job));
    job->op = op;
    if (extra_use && !read_use(&cmd->args[1], &job->special_use)) {
        free_mailbox_job(job);
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "CREATE takes (USE (special-use ...)).");
        return IMAP_CMD_DONE;
    }
    bool creating = op == OP_CREATE;
    if (!read_name(cmd, &cmd->args[0], creating, &job->name) ||
        (op == OP_RENAME && !read_name(cmd, &cmd->args[1], true, &job->new_name))) {
        free_mailbox_job(job);
        return IMAP_CMD_DONE;
    }
    cmd->resume = mailbox_done;
    imap_store_job(cmd, mailbox_work, job, free_mailbox_job);
    return IMAP_CMD_WAIT_EXTERNAL;
}

enum imap_cmd_result cmd_create(struct imap_cmd *cmd)
{
    return run(cmd, OP_CREATE);
}

enum imap_cmd_result cmd_delete(struct imap_cmd *cmd)
{
    return run(cmd, OP_DELETE);
}

enum imap_cmd_result cmd_rename(struct imap_cmd *cmd)
{
    return run(cmd, OP_RENAME);
}

enum imap_cmd_result cmd_subscribe(struct imap_cmd *cmd)
{
    return run(cmd, OP_SUBSCRIBE);
}

enum imap_cmd_result cmd_unsubscribe(struct imap_cmd *cmd)
{
    return run(cmd, OP_UNSUBSCRIBE);
}
