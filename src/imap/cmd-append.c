/* APPEND (RFC 9051 §6.3.12, RFC 4315 APPENDUID, RFC 3516 literal8): the
 * message literal is streamed into the store as it arrives, never held: the
 * parser stops at it (IMAP_CMD_FLAG_STREAMS), each chunk read from the input
 * goes to the store's temporary file through the session's queue, and the
 * input is not read further while a chunk is being written, so the server
 * holds one chunk per APPEND whatever the message size. */
#include "imap/imap-store.h"
#include "imap/imap-resp.h"
#include "imap/session.h"
#include "lib-imap/imap-arg.h"
#include "lib/settings.h"
#include "store/mailbox-name.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* What one write job takes from the input. */
#define APPEND_CHUNK (64u * 1024u)

_Static_assert((unsigned)STORE_FLAG_SEEN == (unsigned)IMAP_FLAG_SEEN &&
                   (unsigned)STORE_FLAG_DRAFT == (unsigned)IMAP_FLAG_DRAFT &&
                   (unsigned)STORE_FLAG_DELETED == (unsigned)IMAP_FLAG_DELETED,
               "the store's flag bits are IMAP's");

enum append_state {
    APPEND_OPENING,    /* the mailbox is being opened and the temporary file made */
    APPEND_LITERAL,    /* reading the message into the store */
    APPEND_WRITING,    /* a chunk is being written */
    APPEND_REST,       /* the literal is in; the command line goes on */
    APPEND_COMMITTING, /* the message is being made durable */
    APPEND_DISCARDING, /* refused, the client's bytes still come: skip them */
    APPEND_ABORTING,   /* the store forgets the message, then the answer */
};

/* In the command's arena. */
struct append_cmd {
    enum append_state state;
    uint64_t left; /* literal bytes still to read */
    bool sync;     /* the literal waits for "+" */
    /* the answer for a refused APPEND, given when its bytes are skipped */
    bool answer_set;
    enum imap_status status;
    enum imap_code code;
    const char *text;
};

/* Jobs' data: owned by the job, since a job may outlive the command. */
struct begin_job {
    char *mailbox;
    struct store_append_options opt;
    char **keywords;
};

struct write_job {
    size_t len;
    char data[APPEND_CHUNK];
};

struct commit_job {
    uint32_t uid, uidvalidity;
};

static void free_begin_job(void *arg)
{
    struct begin_job *job = arg;
    for (size_t i = 0; i < job->opt.keyword_count; i++)
        free(job->keywords[i]);
    free(job->keywords);
    free(job->mailbox);
    free(job);
}

static void forget_append(struct imap_store_side *side)
{
    if (side->append)
        store_append_abort(side->append);
    side->append = NULL;
    store_mailbox_close(side->append_box);
    side->append_box = NULL;
}

static int begin_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    (void)out;
    struct begin_job *job = data;
    forget_append(side);
    int r = store_mailbox_open(side->store, job->mailbox, &side->append_box, err);
    if (r == 0)
        r = store_append_begin(side->append_box, &job->opt, &side->append, err);
    if (r < 0)
        forget_append(side);
    return r;
}

static int write_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    (void)out;
    struct write_job *job = data;
    if (!side->append)
        return -EIO;
    int r = store_append_write(side->append, job->data, job->len, err);
    if (r < 0)
        forget_append(side);
    return r;
}

static int commit_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    (void)out;
    struct commit_job *job = data;
    if (!side->append)
        return -EIO;
    job->uidvalidity = store_mailbox_uidvalidity(side->append_box);
    int r = store_append_commit(side->append, &job->uid, err);
    side->append = NULL; /* commit frees it whatever it returns */
    forget_append(side);
    return r;
}

static int abort_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    (void)out;
    (void)data;
    (void)err;
    forget_append(side);
    return 0;
}

/* The answer given when the command ends. */
static void set_answer(struct append_cmd *a, enum imap_status status, enum imap_code code,
                       const char *text)
{
    a->answer_set = true;
    a->status = status;
    a->code = code;
    a->text = text;
}

/* A store error as APPEND answers it: RFC 9051 §6.3.12 wants TRYCREATE, not
 * NONEXISTENT, for a mailbox that does not exist. */
static void set_store_error(struct append_cmd *a, int err)
{
    if (err == -ENOENT) {
        set_answer(a, IMAP_NO, IMAP_CODE_TRYCREATE, "Mailbox does not exist.");
        return;
    }
    const char *text;
    enum imap_code code = imap_store_error_code(err, &text);
    set_answer(a, IMAP_NO, code, text);
}

static enum imap_cmd_result answer(struct imap_cmd *cmd)
{
    struct append_cmd *a = cmd->data;
    if (a->answer_set)
        imap_cmd_reply(cmd, a->status, a->code, "%s", a->text);
    return IMAP_CMD_DONE;
}

static enum imap_cmd_result append_continue(struct imap_cmd *cmd);

/* Refuses the APPEND: at once when the client waits for "+" (it then sends
 * nothing more of the command), else after skipping what it sends anyway. */
static enum imap_cmd_result refuse(struct imap_cmd *cmd, enum imap_status status,
                                   enum imap_code code, const char *text)
{
    struct append_cmd *a = cmd->data;
    set_answer(a, status, code, text);
    if (a->sync)
        return answer(cmd);
    a->state = APPEND_DISCARDING;
    cmd->resume = append_continue;
    return append_continue(cmd);
}

/* The store forgets the message, then the answer. */
static enum imap_cmd_result abort_with(struct imap_cmd *cmd, enum imap_status status,
                                       const char *text)
{
    struct append_cmd *a = cmd->data;
    set_answer(a, status, IMAP_CODE_NONE, text);
    a->state = APPEND_ABORTING;
    cmd->resume = append_continue;
    imap_store_job(cmd, abort_work, NULL, NULL);
    return IMAP_CMD_WAIT_EXTERNAL;
}

/* Reads the next chunk of the literal and hands it to the store. */
static enum imap_cmd_result read_literal(struct imap_cmd *cmd)
{
    struct append_cmd *a = cmd->data;
    struct evbuffer *in = imap_cmd_input(cmd);
    size_t avail = evbuffer_get_length(in);
    if (a->left == 0) {
        imap_parser_literal_done(cmd->session->parser);
        a->state = APPEND_REST;
        return append_continue(cmd);
    }
    if (avail == 0)
        return IMAP_CMD_WAIT_INPUT;
    struct write_job *job = xmalloc(sizeof(*job));
    job->len = avail < APPEND_CHUNK ? avail : APPEND_CHUNK;
    if (job->len > a->left)
        job->len = (size_t)a->left;
    evbuffer_remove(in, job->data, job->len);
    a->left -= job->len;
    a->state = APPEND_WRITING;
    imap_store_job(cmd, write_work, job, free);
    return IMAP_CMD_WAIT_EXTERNAL;
}

/* The command line after the literal. */
static enum imap_cmd_result read_rest(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    struct append_cmd *a = cmd->data;
    size_t literal_index = cmd->n_args - 1;
    switch (imap_cmd_parse_more(cmd)) {
    case IMAP_PARSE_NEED_MORE:
    case IMAP_PARSE_CONTINUATION:
        return IMAP_CMD_WAIT_INPUT;
    case IMAP_PARSE_COMMAND:
        if (cmd->n_args != literal_index + 1)
            return abort_with(cmd, IMAP_BAD, "Unexpected arguments after the message.");
        a->state = APPEND_COMMITTING;
        imap_store_job(cmd, commit_work, xcalloc(1, sizeof(struct commit_job)), free);
        return IMAP_CMD_WAIT_EXTERNAL;
    case IMAP_PARSE_LITERAL_STREAM: {
        /* RFC 3502 MULTIAPPEND is not offered: skip the other messages too */
        const struct imap_arg *next = &cmd->args[cmd->n_args - 1];
        a->sync = next->sync;
        a->left = next->len;
        set_answer(a, IMAP_BAD, IMAP_CODE_NONE, "One message per APPEND.");
        /* a client waiting for "+" sends nothing more; else skip what comes */
        a->state = a->sync ? APPEND_ABORTING : APPEND_DISCARDING;
        imap_store_job(cmd, abort_work, NULL, NULL);
        return IMAP_CMD_WAIT_EXTERNAL;
    }
    case IMAP_PARSE_BAD:
        return abort_with(cmd, IMAP_BAD, imap_parser_error(s->parser));
    case IMAP_PARSE_FATAL:
        return imap_bye(s, imap_parser_error(s->parser));
    }
    return IMAP_CMD_DONE;
}

/* Skips a refused APPEND's bytes: its literals and the rest of its line. */
static enum imap_cmd_result discard(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    struct append_cmd *a = cmd->data;
    struct evbuffer *in = imap_cmd_input(cmd);
    for (;;) {
        if (a->left > 0) {
            size_t avail = evbuffer_get_length(in);
            size_t n = avail < a->left ? avail : (size_t)a->left;
            evbuffer_drain(in, n);
            a->left -= n;
            if (a->left > 0)
                return IMAP_CMD_WAIT_INPUT;
            imap_parser_literal_done(s->parser);
        }
        switch (imap_cmd_parse_more(cmd)) {
        case IMAP_PARSE_NEED_MORE:
        case IMAP_PARSE_CONTINUATION:
            return IMAP_CMD_WAIT_INPUT;
        case IMAP_PARSE_LITERAL_STREAM:
            a->left = cmd->args[cmd->n_args - 1].len;
            continue;
        case IMAP_PARSE_COMMAND:
        case IMAP_PARSE_BAD:
            return answer(cmd);
        case IMAP_PARSE_FATAL:
            return imap_bye(s, imap_parser_error(s->parser));
        }
    }
}

static enum imap_cmd_result append_continue(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    struct append_cmd *a = cmd->data;
    switch (a->state) {
    case APPEND_OPENING:
        if (cmd->job_result < 0) {
            set_store_error(a, cmd->job_result);
            if (a->sync)
                return answer(cmd);
            a->state = APPEND_DISCARDING;
            return discard(cmd);
        }
        if (a->sync)
            imap_continue(s, "Ready for literal data");
        a->state = APPEND_LITERAL;
        return read_literal(cmd);
    case APPEND_WRITING:
        if (cmd->job_result < 0) {
            /* the store gave up the message; skip what the client still sends */
            set_store_error(a, cmd->job_result);
            a->state = APPEND_DISCARDING;
            return discard(cmd);
        }
        a->state = APPEND_LITERAL;
        return read_literal(cmd);
    case APPEND_LITERAL:
        return read_literal(cmd);
    case APPEND_REST:
        return read_rest(cmd);
    case APPEND_COMMITTING: {
        if (cmd->job_result < 0) {
            set_store_error(a, cmd->job_result);
            return answer(cmd);
        }
        const struct commit_job *job = cmd->job_data;
        /* RFC 4315 §3 */
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "[APPENDUID %u %u] APPEND completed.",
                       job->uidvalidity, job->uid);
        return IMAP_CMD_DONE;
    }
    case APPEND_DISCARDING:
        return discard(cmd);
    case APPEND_ABORTING:
        return answer(cmd);
    }
    return IMAP_CMD_DONE;
}

/* APPEND mailbox [flag-list] [date-time] literal: run when the parser stops
 * at the literal, with the arguments before it. */
enum imap_cmd_result cmd_append(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    if (cmd->args_complete || cmd->n_args < 2 || cmd->n_args > 4) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE,
                       "APPEND expects a mailbox, optional flags and date, and a message literal.");
        return IMAP_CMD_DONE;
    }
    struct append_cmd *a = arena_alloc(cmd->arena, sizeof(*a));
    cmd->data = a;
    cmd->resume = append_continue;
    const struct imap_arg *literal = &cmd->args[cmd->n_args - 1];
    a->sync = literal->sync;
    a->left = literal->len;

    const char *mailbox;
    size_t mailbox_len;
    struct imap_flags flags = {0};
    time_t date = 0;
    bool ok = imap_arg_get_astring(&cmd->args[0], &mailbox, &mailbox_len);
    size_t i = 1;
    if (ok && i < cmd->n_args - 1 && cmd->args[i].type == IMAP_ARG_LIST)
        ok = imap_arg_get_flag_list(&cmd->args[i++], cmd->arena, &flags);
    if (ok && i < cmd->n_args - 1)
        ok = imap_arg_get_datetime(&cmd->args[i++], &date, NULL);
    if (!ok || i != cmd->n_args - 1)
        return refuse(cmd, IMAP_BAD, IMAP_CODE_NONE, "Invalid flags or date in APPEND.");
    if (literal->len == 0)
        return refuse(cmd, IMAP_NO, IMAP_CODE_NONE, "Can't save a zero byte message.");
    if (literal->len > s->conn->settings->mail_max_message_size)
        return refuse(cmd, IMAP_NO, IMAP_CODE_TOOBIG, "Message too large.");

    struct buf name = BUF_INIT, why = BUF_INIT;
    int r = mailbox_name_from_imap(mailbox, mailbox_len, false, false, &name, &why);
    buf_free(&why);
    if (r < 0) {
        buf_free(&name);
        return refuse(cmd, IMAP_NO, IMAP_CODE_CANNOT, "Invalid mailbox name.");
    }
    struct begin_job *job = xcalloc(1, sizeof(*job));
    job->mailbox = buf_steal(&name);
    job->opt.flags = flags.system;
    job->opt.internal_date = date;
    if (flags.n_keywords) {
        job->keywords = xcalloc(flags.n_keywords, sizeof(*job->keywords));
        for (size_t k = 0; k < flags.n_keywords; k++)
            job->keywords[k] = xstrdup(flags.keywords[k]);
        job->opt.keywords = (const char *const *)job->keywords;
        job->opt.keyword_count = flags.n_keywords;
    }
    a->state = APPEND_OPENING;
    imap_store_job(cmd, begin_work, job, free_begin_job);
    return IMAP_CMD_WAIT_EXTERNAL;
}
