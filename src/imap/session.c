#include "imap/session.h"

#include "imap/imap-resp.h"
#include "imap/imap-store.h"
#include "imap/imap-sync.h"
#include "login/services.h"
#include "store/store.h"

#include "lib/log.h"
#include "lib/settings.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 9051 §5.4: the autologout timer of an authenticated session is at least 30 minutes. */
#define AUTHENTICATED_TIMEOUT_MS (30u * 60u * 1000u)
/* Before login a command is small: LOGIN with two literals at most, ID with
 * one level of list (Dovecot's login process allows as little). */
#define PRELOGIN_MAX_ARGS 64
#define PRELOGIN_MAX_LITERALS 4
#define PRELOGIN_MAX_DEPTH 1
#define AUTHENTICATED_MAX_ARGS 100000
#define AUTHENTICATED_MAX_DEPTH 16

enum imap_cmd_result imap_bye(struct imap_session *s, const char *text)
{
    imap_untagged(s, "BYE %s", text);
    s->state = IMAP_STATE_LOGOUT;
    conn_close(s->conn);
    return IMAP_CMD_CLOSING;
}

void imap_capabilities(const struct imap_session *s, struct buf *out)
{
    buf_puts(out, "IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE");
    if (s->state != IMAP_STATE_NOT_AUTHENTICATED) {
        /* RFC 3516's BINARY is part of IMAP4rev2; IMAP4rev1 clients learn it here */
        buf_puts(out, " UIDPLUS MOVE IDLE CONDSTORE QRESYNC BINARY ESEARCH SEARCHRES");
        return;
    }
    buf_puts(out, " SASL-IR");
    if (conn_can_starttls(s->conn))
        buf_puts(out, " STARTTLS");
    if (!login_plaintext_allowed(s->conn->settings, s->conn->secured)) {
        buf_puts(out, " LOGINDISABLED");
        return;
    }
    for (const char *const *m = auth_service_mechanisms(s->auth); *m; m++)
        buf_printf(out, " AUTH=%s", *m);
}

static void set_parser_limits(struct imap_session *s)
{
    const struct settings *set = s->conn->settings;
    struct imap_parser_limits limits;
    if (s->state == IMAP_STATE_NOT_AUTHENTICATED) {
        limits = (struct imap_parser_limits){.max_bytes = set->login_max_line_length,
                                             .max_args = PRELOGIN_MAX_ARGS,
                                             .max_literals = PRELOGIN_MAX_LITERALS,
                                             .max_depth = PRELOGIN_MAX_DEPTH};
    } else {
        limits = (struct imap_parser_limits){.max_bytes = set->imap_max_line_length,
                                             .max_args = AUTHENTICATED_MAX_ARGS,
                                             .max_literals = 0,
                                             .max_depth = AUTHENTICATED_MAX_DEPTH};
    }
    imap_parser_set_limits(s->parser, &limits);
}

/* Which commands read their literals themselves: asked by the parser. */
static bool command_streams(void *ctx, const char *name)
{
    struct imap_session *s = ctx;
    const struct imap_command_def *def = imap_command_find(name, NULL);
    return def && (def->flags & IMAP_CMD_FLAG_STREAMS) && (def->states & s->state);
}

static void new_parser(struct imap_session *s)
{
    imap_parser_free(s->parser);
    struct imap_parser_limits none = {0};
    s->parser = imap_parser_new(&none);
    imap_parser_set_stream(s->parser, command_streams, s);
    set_parser_limits(s);
}

void imap_session_logged_in(struct imap_session *s, const char *user, const char *home)
{
    s->state = IMAP_STATE_AUTHENTICATED;
    s->user = xstrdup(user);
    s->home = home ? xstrdup(home) : NULL;
    /* What was only for logging in goes (this runs from its callback, its last call). */
    login_free(&s->login);
    set_parser_limits(s);
    conn_set_authenticated(s->conn);
    conn_set_timeout(s->conn, AUTHENTICATED_TIMEOUT_MS);
    imap_store_start(s, user, home);
}

void imap_session_enable_condstore(struct imap_session *s)
{
    if (s->enabled_condstore)
        return;
    s->enabled_condstore = true;
    if (s->state == IMAP_STATE_SELECTED)
        s->announce_highestmodseq = true;
}

static enum imap_cmd_result bad_command(struct imap_session *s, const char *tag, const char *text)
{
    imap_tagged_bad(s, tag, text);
    bool too_many =
        s->login ? login_bad_command(s->login) : ++s->bad_commands >= SESSION_MAX_BAD_COMMANDS;
    if (too_many)
        return imap_bye(s, "Too many invalid commands.");
    return IMAP_CMD_DONE;
}

/* The command is over: its arena goes with the parser's reset. */
static void end_command(struct imap_session *s)
{
    s->cmd = NULL;
    imap_parser_reset(s->parser);
    if (s->renew_parser) {
        /* RFC 9051 §6.2.1: after STARTTLS nothing sent in clear survives. */
        s->renew_parser = false;
        new_parser(s);
    }
}

/* The completion imap_cmd_reply() held back goes out now. */
static void send_held_reply(struct imap_cmd *cmd)
{
    if (!cmd->held_reply)
        return;
    conn_write(cmd->session->conn, cmd->held_reply, strlen(cmd->held_reply));
    cmd->held_reply = NULL;
}

static enum imap_cmd_result synced_reply(struct imap_cmd *cmd)
{
    if (cmd->job_result < 0)
        log_warning(cmd->session->conn->id, "imap: sync: %s", cmd->job_error);
    imap_sync_job_done(cmd);
    send_held_reply(cmd);
    return IMAP_CMD_DONE;
}

/* RFC 9051 §5.2, §7.4.1: the changes made elsewhere are told at the end of
 * the command, before its completion (imap-commands.h). */
static enum imap_cmd_result sync_before_reply(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    if (s->state != IMAP_STATE_SELECTED || conn_is_closing(s->conn)) {
        send_held_reply(cmd);
        return IMAP_CMD_DONE;
    }
    cmd->resume = synced_reply;
    imap_sync_job(cmd, cmd->sync == IMAP_CMD_SYNC_NO_EXPUNGE);
    return IMAP_CMD_WAIT_EXTERNAL;
}

static enum imap_cmd_result synced_first(struct imap_cmd *cmd)
{
    imap_sync_job_done(cmd);
    return cmd->def->run(cmd);
}

/* IMAP_CMD_FLAG_SYNC_FIRST: the same sync before the handler runs. */
static enum imap_cmd_result sync_first(struct imap_cmd *cmd)
{
    cmd->resume = synced_first;
    imap_sync_job(cmd, cmd->sync == IMAP_CMD_SYNC_NO_EXPUNGE);
    return IMAP_CMD_WAIT_EXTERNAL;
}

static void command_result(struct imap_session *s, struct imap_cmd *cmd, enum imap_cmd_result r)
{
    cmd->waiting = r;
    switch (r) {
    case IMAP_CMD_DONE:
        end_command(s);
        break;
    case IMAP_CMD_WAIT_OUTPUT:
        conn_notify_drained(s->conn);
        break;
    case IMAP_CMD_CLOSING:
        send_held_reply(cmd);
        break;
    case IMAP_CMD_WAIT_INPUT:
    case IMAP_CMD_WAIT_EXTERNAL:
        break;
    }
}

/* Runs fn (the handler, or its resume) and what the command asks next. */
static void run_command(struct imap_session *s, struct imap_cmd *cmd, imap_cmd_fn *fn)
{
    enum imap_cmd_result r;
    for (;;) {
        cmd->woken = false;
        cmd->running = true;
        r = fn(cmd);
        cmd->running = false;
        /* answered, its completion held back: the sync goes first */
        if (r == IMAP_CMD_DONE && cmd->held_reply) {
            fn = sync_before_reply;
            continue;
        }
        /* outside work that finished before the handler returned */
        if (r != IMAP_CMD_WAIT_EXTERNAL || !cmd->woken)
            break;
        fn = cmd->resume;
    }
    command_result(s, cmd, r);
    /* Woken from outside the input path: input that waited may go on now. */
    if (!s->in_input && !conn_is_closing(s->conn) && (s->cmd == NULL || r == IMAP_CMD_WAIT_INPUT))
        conn_resume_input(s->conn);
}

void imap_cmd_wake(struct imap_cmd *cmd)
{
    if (cmd->running) {
        cmd->woken = true;
        return;
    }
    run_command(cmd->session, cmd, cmd->resume);
}

struct evbuffer *imap_cmd_input(struct imap_cmd *cmd)
{
    return conn_input(cmd->session->conn);
}

/* Feeds the parser from the input until it has something to say. */
static enum imap_parse_result parse_input(struct imap_session *s)
{
    struct evbuffer *in = conn_input(s->conn);
    while (!conn_is_closing(s->conn) && evbuffer_get_length(in) > 0) {
        struct evbuffer_iovec vec;
        if (evbuffer_peek(in, -1, NULL, &vec, 1) < 1)
            break;
        size_t used = 0;
        enum imap_parse_result r = imap_parser_feed(s->parser, vec.iov_base, vec.iov_len, &used);
        evbuffer_drain(in, used);
        if (r == IMAP_PARSE_CONTINUATION) {
            imap_continue(s, "Ready for literal data");
            continue;
        }
        if (r != IMAP_PARSE_NEED_MORE)
            return r;
    }
    return IMAP_PARSE_NEED_MORE;
}

/* The parser's command, with "UID x" folded into one name (RFC 9051 §6.4.9). */
static const struct imap_command_def *lookup(const struct imap_command *pc,
                                             const struct imap_arg **args, size_t *n_args)
{
    *args = pc->args;
    *n_args = pc->n_args;
    if (strcasecmp(pc->name, "UID") != 0)
        return imap_command_find(pc->name, NULL);
    if (pc->n_args == 0 || pc->args[0].type != IMAP_ARG_ATOM)
        return NULL;
    (*args)++;
    (*n_args)--;
    return imap_command_find(pc->name, pc->args[0].str);
}

enum imap_parse_result imap_cmd_parse_more(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    enum imap_parse_result r = parse_input(s);
    if (r == IMAP_PARSE_COMMAND || r == IMAP_PARSE_LITERAL_STREAM) {
        lookup(imap_parser_command(s->parser), &cmd->args, &cmd->n_args);
        cmd->args_complete = r == IMAP_PARSE_COMMAND;
    }
    return r;
}

static void start_command(struct imap_session *s, bool complete)
{
    const struct imap_command *pc = imap_parser_command(s->parser);
    const struct imap_arg *args;
    size_t n_args;
    const struct imap_command_def *def = lookup(pc, &args, &n_args);
    enum imap_cmd_result r = IMAP_CMD_DONE;
    if (!def) {
        r = bad_command(s, pc->tag, "Unknown command.");
    } else if (!(def->states & s->state)) {
        r = bad_command(s, pc->tag,
                        s->state == IMAP_STATE_NOT_AUTHENTICATED ? "Log in first."
                                                                 : "Not allowed once logged in.");
    }
    if (!def || !(def->states & s->state)) {
        if (r != IMAP_CMD_CLOSING)
            imap_parser_reset(s->parser);
        return;
    }
    s->bad_commands = 0; /* a command that runs ends a run of bad ones */
    struct arena *arena = imap_parser_arena(s->parser);
    struct imap_cmd *cmd = arena_alloc(arena, sizeof(*cmd));
    *cmd = (struct imap_cmd){.session = s,
                             .def = def,
                             .tag = pc->tag,
                             .uid = args != pc->args,
                             .args = args,
                             .n_args = n_args,
                             .args_complete = complete,
                             .arena = arena};
    if (def->flags & IMAP_CMD_FLAG_NO_SYNC)
        cmd->sync = IMAP_CMD_SYNC_NONE;
    else if (def->flags & IMAP_CMD_FLAG_USES_SEQS)
        cmd->sync = IMAP_CMD_SYNC_NO_EXPUNGE;
    s->cmd = cmd;
    bool first = (def->flags & IMAP_CMD_FLAG_SYNC_FIRST) && s->state == IMAP_STATE_SELECTED;
    run_command(s, cmd, first ? sync_first : def->run);
}

static void imap_input(struct conn *c, struct evbuffer *in)
{
    struct imap_session *s = c->session;
    s->in_input = true;
    while (!conn_is_closing(c) && evbuffer_get_length(in) > 0) {
        if (s->cmd) {
            /* A command in progress owns the input, or nobody reads it yet. */
            struct imap_cmd *cmd = s->cmd;
            if (cmd->waiting != IMAP_CMD_WAIT_INPUT)
                break;
            size_t before = evbuffer_get_length(in);
            run_command(s, cmd, cmd->resume);
            if (s->cmd == cmd && cmd->waiting == IMAP_CMD_WAIT_INPUT &&
                evbuffer_get_length(in) == before)
                break; /* it needs more than there is */
            continue;
        }
        enum imap_parse_result r = parse_input(s);
        if (r == IMAP_PARSE_NEED_MORE)
            break;
        if (r == IMAP_PARSE_BAD) {
            if (bad_command(s, imap_parser_tag(s->parser), imap_parser_error(s->parser)) ==
                IMAP_CMD_CLOSING)
                break;
            imap_parser_reset(s->parser);
        } else if (r == IMAP_PARSE_FATAL) {
            imap_bye(s, imap_parser_error(s->parser));
            break;
        } else {
            start_command(s, r == IMAP_PARSE_COMMAND);
        }
    }
    s->in_input = false;
}

static void imap_output_drained(struct conn *c)
{
    struct imap_session *s = c->session;
    if (s->cmd && s->cmd->waiting == IMAP_CMD_WAIT_OUTPUT)
        run_command(s, s->cmd, s->cmd->resume);
}

static void imap_timeout(struct conn *c)
{
    imap_bye(c->session, "Disconnected for inactivity.");
}

static void imap_shutdown(struct conn *c)
{
    imap_bye(c->session, "Server shutting down.");
}

static void imap_closed(struct conn *c)
{
    struct imap_session *s = c->session;
    if (!s)
        return;
    if (s->user)
        login_session_closed(s->auth, c, "imap", s->user);
    imap_store_stop(s);
    /* An attempt to log in in progress is aborted: no callback runs. */
    login_free(&s->login);
    /* The running command's cleanups run here. */
    s->cmd = NULL;
    imap_parser_free(s->parser);
    if (s->search_saved) {
        store_uids_free(s->search_saved);
        free(s->search_saved);
    }
    free(s->user);
    free(s->home);
    free(s);
    c->session = NULL;
}

static const struct conn_ops imap_conn_ops = {
    .input = imap_input,
    .timeout = imap_timeout,
    .shutdown = imap_shutdown,
    .closed = imap_closed,
    .output_drained = imap_output_drained,
};

static void imap_accept(struct conn *c)
{
    struct imap_session *s = xcalloc(1, sizeof(*s));
    s->conn = c;
    s->auth = ((const struct session_services *)conn_app(c))->auth;
    s->state = IMAP_STATE_NOT_AUTHENTICATED;
    s->login = login_new(c, s->auth, "imap", &imap_login_callbacks);
    c->session = s;
    c->ops = &imap_conn_ops;
    new_parser(s);
    if (c->refused) {
        imap_bye(s, c->refused);
        return;
    }
    conn_set_timeout(c, c->settings->login_timeout_ms);
    struct buf caps = BUF_INIT;
    imap_capabilities(s, &caps);
    /* RFC 9051 §7.1.1: the greeting may carry the capabilities, saving a round trip. */
    imap_untagged(s, "OK [CAPABILITY %s] %s", buf_cstr(&caps), c->settings->login_greeting);
    buf_free(&caps);
}

const struct protocol imap_protocol = {
    .service = "imap-login",
    .alpn = "imap",
    .accept = imap_accept,
};
