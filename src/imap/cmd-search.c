/* SEARCH and UID SEARCH (RFC 9051 §6.4.4), answered with SEARCH (IMAP4rev1,
 * RFC 3501 §7.2.5) or ESEARCH (RFC 9051 §7.3.4, RFC 4731: RETURN MIN, MAX,
 * ALL, COUNT), saving the result for "$" (RFC 5182 SAVE), with MODSEQ in the
 * answer when a MODSEQ key was given (RFC 7162 §3.1.5, §3.1.6; RFC 4731
 * §3.2).
 *
 * The work is the session's store jobs' (a search of 100,000 messages never
 * runs on the loop): one job resolves the program against the view, then
 * each job evaluates the messages it can in SLICE_USECS, so that other
 * sessions' jobs on the pool get their turn, and the answer is written in
 * slices of about SLICE_BYTES from the bit set of messages found, waiting for
 * the connection to drain between slices: however big the mailbox, the
 * command holds one bit per message and one slice of the answer (and, for
 * SAVE, the UIDs it saves). Nothing syncs the view meanwhile; the session
 * core's sync at the end holds expunges back for SEARCH, which uses sequence
 * numbers (RFC 9051 §7.5.1), and tells them after UID SEARCH. */
#include "imap/imap-resp.h"
#include "imap/imap-search.h"
#include "imap/imap-store.h"
#include "imap/session.h"
#include "lib-imap/imap-arg.h"
#include "lib-imap/imap-quote.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SLICE_USECS 50000
#define SLICE_BYTES (64u * 1024u)
/* messages evaluated between two looks at the clock */
#define EVAL_STEP 1024

enum search_return {
    RETURN_MIN = 1u << 0,
    RETURN_MAX = 1u << 1,
    RETURN_ALL = 1u << 2,
    RETURN_COUNT = 1u << 3,
    RETURN_SAVE = 1u << 4,
};

enum search_phase { PHASE_PREPARE, PHASE_EVAL, PHASE_OUTPUT, PHASE_DONE };

/* One SEARCH command's state, on the heap: owned by the store job that is
 * queued or running with it (in_job), else by the command, whose arena frees
 * it when the command ends. */
struct search_state {
    struct search_program *prog;
    char *tag;
    bool uid;     /* UID SEARCH: the numbers are UIDs */
    bool esearch; /* ESEARCH (RETURN given, or IMAP4rev2), not SEARCH */
    unsigned ret; /* enum search_return */
    bool in_job;
    enum search_phase phase;
    size_t pos, end; /* the positions still to evaluate */
    struct search_matches matches;
    /* the answer, written a slice at a time */
    bool begun;
    size_t out_pos;
    bool have_run;
    uint32_t run_first, run_last;
    bool any_written;
    /* the result to save */
    struct store_uids *saved;
};

/* A job's data: the state, and whether the command took it back. */
struct search_job {
    struct search_state *st;
    bool taken;
};

static void state_free(struct search_state *st)
{
    imap_search_free(st->prog);
    search_matches_free(&st->matches);
    if (st->saved) {
        store_uids_free(st->saved);
        free(st->saved);
    }
    free(st->tag);
    free(st);
}

static void state_cleanup(void *arg)
{
    struct search_state *st = arg;
    if (!st->in_job) /* else the job frees it when it is over */
        state_free(st);
}

static void free_search_job(void *arg)
{
    struct search_job *job = arg;
    if (!job->taken)
        state_free(job->st);
    free(job);
}

/* ---- the saved result ---- */

const struct store_uids *imap_search_saved(const struct imap_session *s)
{
    return s->search_saved;
}

void imap_search_saved_set(struct imap_session *s, struct store_uids *uids)
{
    if (s->search_saved) {
        store_uids_free(s->search_saved);
        free(s->search_saved);
    }
    s->search_saved = uids;
}

void imap_search_saved_reset(struct imap_session *s)
{
    imap_search_saved_set(s, xcalloc(1, sizeof(struct store_uids)));
}

/* ---- the answer ---- */

static void save_position(struct search_state *st, const struct store_uids *view, size_t pos)
{
    struct store_uids *u = st->saved;
    if (u->count == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 64;
        u->uids = xrealloc(u->uids, u->cap * sizeof(*u->uids));
    }
    u->uids[u->count++] = view->uids[pos];
}

static uint32_t number_at(const struct search_state *st, const struct store_uids *view, size_t pos)
{
    return st->uid ? view->uids[pos] : (uint32_t)(pos + 1);
}

/* ESEARCH's ALL as a sequence set: runs of consecutive numbers as a:b. */
static void flush_run(struct search_state *st, struct buf *out)
{
    if (!st->have_run)
        return;
    if (st->any_written)
        buf_putc(out, ',');
    if (st->run_first == st->run_last)
        buf_printf(out, "%u", st->run_first);
    else
        buf_printf(out, "%u:%u", st->run_first, st->run_last);
    st->any_written = true;
    st->have_run = false;
}

static void add_to_run(struct search_state *st, uint32_t n, struct buf *out)
{
    if (st->have_run && n == st->run_last + 1) {
        st->run_last = n;
        return;
    }
    flush_run(st, out);
    st->have_run = true;
    st->run_first = st->run_last = n;
}

static bool save_all(unsigned ret)
{
    /* RFC 9051 §6.4.4.1 table 4: with MIN or MAX alone "$" holds those */
    return (ret & RETURN_SAVE) &&
           ((ret & (RETURN_ALL | RETURN_COUNT)) || !(ret & (RETURN_MIN | RETURN_MAX)));
}

/* The MODSEQ an answer carries (RFC 4731 §3.2). */
static uint64_t answer_modseq(const struct search_state *st)
{
    const struct search_matches *r = &st->matches;
    unsigned ret = st->ret;
    if (!st->esearch || (ret & (RETURN_ALL | RETURN_COUNT)) || !(ret & (RETURN_MIN | RETURN_MAX)))
        return r->highest_modseq;
    uint64_t v = 0;
    if ((ret & RETURN_MIN) && r->first_modseq > v)
        v = r->first_modseq;
    if ((ret & RETURN_MAX) && r->last_modseq > v)
        v = r->last_modseq;
    return v;
}

/* Writes the next slice of the answer; the last one ends the line. */
static void write_slice(struct search_state *st, const struct store_uids *view, struct buf *out)
{
    const struct search_matches *r = &st->matches;
    /* RETURN (SAVE) alone answers nothing but OK (RFC 9051 §6.4.4) */
    bool answer = !st->esearch || (st->ret & ~(unsigned)RETURN_SAVE);
    bool list = !st->esearch || (st->ret & RETURN_ALL);
    if (!st->begun) {
        st->begun = true;
        if (st->ret & RETURN_SAVE)
            st->saved = xcalloc(1, sizeof(*st->saved));
        if ((st->ret & RETURN_SAVE) && !save_all(st->ret) && r->count) {
            if (st->ret & RETURN_MIN)
                save_position(st, view, r->first);
            if ((st->ret & RETURN_MAX) && (!(st->ret & RETURN_MIN) || r->last != r->first))
                save_position(st, view, r->last);
        }
        if (answer && !st->esearch) {
            buf_puts(out, "* SEARCH");
        } else if (answer) {
            buf_puts(out, "* ESEARCH (TAG ");
            imap_quote(out, st->tag, strlen(st->tag));
            buf_putc(out, ')');
            if (st->uid)
                buf_puts(out, " UID");
            if ((st->ret & RETURN_MIN) && r->count)
                buf_printf(out, " MIN %u", number_at(st, view, r->first));
            if ((st->ret & RETURN_MAX) && r->count)
                buf_printf(out, " MAX %u", number_at(st, view, r->last));
            if (list && r->count)
                buf_puts(out, " ALL ");
        }
        st->out_pos = r->count ? r->first : r->n;
    }
    bool walk = (answer && list) || save_all(st->ret);
    size_t end = r->count && walk ? r->last + 1 : st->out_pos;
    while (st->out_pos < end && out->len < SLICE_BYTES) {
        size_t pos = st->out_pos++;
        if (!search_matches_has(r, pos))
            continue;
        if (save_all(st->ret))
            save_position(st, view, pos);
        if (!answer || !list)
            continue;
        uint32_t n = number_at(st, view, pos);
        if (st->esearch)
            add_to_run(st, n, out);
        else
            buf_printf(out, " %u", n);
    }
    if (st->out_pos < end)
        return; /* more in the next slice */
    if (answer) {
        flush_run(st, out);
        bool modseq = imap_search_has_modseq(st->prog) && r->count;
        if (st->esearch) {
            if (st->ret & RETURN_COUNT)
                buf_printf(out, " COUNT %zu", r->count);
            if (modseq)
                buf_printf(out, " MODSEQ %llu", (unsigned long long)answer_modseq(st));
        } else if (modseq) {
            buf_printf(out, " (MODSEQ %llu)", (unsigned long long)answer_modseq(st));
        }
        buf_puts(out, "\r\n");
    }
    st->phase = PHASE_DONE;
}

/* ---- the jobs ---- */

static uint64_t now_usecs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int search_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    struct search_state *st = ((struct search_job *)data)->st;
    struct store_mailbox *m = side->selected;
    if (!m) {
        buf_puts(err, "No mailbox selected.");
        return -ENOENT;
    }
    if (st->phase != PHASE_PREPARE && store_mailbox_view(m)->count != st->matches.n) {
        /* the numbers found are the view's: nothing may sync it meanwhile */
        buf_puts(err, "The mailbox changed during the search.");
        return -EAGAIN;
    }
    uint64_t deadline = now_usecs() + SLICE_USECS;
    int r = store_read_begin(m, err);
    if (r < 0)
        return r;
    if (st->phase == PHASE_PREPARE) {
        r = imap_search_prepare(st->prog, m, &st->matches, &st->pos, &st->end, err);
        st->phase = PHASE_EVAL;
    }
    while (r == 0 && st->phase == PHASE_EVAL) {
        if (st->pos >= st->end) {
            st->phase = PHASE_OUTPUT;
            break;
        }
        size_t next = st->end - st->pos > EVAL_STEP ? st->pos + EVAL_STEP : st->end;
        r = imap_search_run(st->prog, m, st->pos, next, &st->matches, err);
        st->pos = next;
        if (now_usecs() > deadline)
            break; /* the rest in the next job */
    }
    store_read_end(m);
    if (r == 0 && st->phase == PHASE_OUTPUT)
        write_slice(st, store_mailbox_view(m), out);
    return r;
}

static enum imap_cmd_result search_next_job(struct imap_cmd *cmd);

static enum imap_cmd_result search_job_done(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    struct search_job *job = cmd->job_data;
    struct search_state *st = job->st;
    job->taken = true;
    st->in_job = false;
    if (cmd->job_result < 0) {
        /* a failed SEARCH ... SAVE leaves "$" empty (RFC 9051 §6.4.4.1) */
        if (st->ret & RETURN_SAVE)
            imap_search_saved_reset(s);
        imap_cmd_store_error(cmd, cmd->job_result);
        return IMAP_CMD_DONE;
    }
    if (st->phase == PHASE_DONE) {
        if (st->ret & RETURN_SAVE) {
            imap_search_saved_set(s, st->saved);
            st->saved = NULL;
        }
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "%s completed.", cmd->def->name);
        return IMAP_CMD_DONE;
    }
    if (conn_output_pending(s->conn) > CONN_OUTPUT_HIGH_WATERMARK) {
        cmd->resume = search_next_job;
        return IMAP_CMD_WAIT_OUTPUT;
    }
    return search_next_job(cmd);
}

static enum imap_cmd_result search_next_job(struct imap_cmd *cmd)
{
    struct search_state *st = cmd->data;
    struct search_job *job = xcalloc(1, sizeof(*job));
    job->st = st;
    st->in_job = true;
    cmd->resume = search_job_done;
    imap_store_job(cmd, search_work, job, free_search_job);
    return IMAP_CMD_WAIT_EXTERNAL;
}

/* ---- the command ---- */

static enum imap_cmd_result bad(struct imap_cmd *cmd, const char *text)
{
    imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "%s", text);
    return IMAP_CMD_DONE;
}

/* search-return-opts (RFC 9051 §9, RFC 4731, RFC 5182). */
static bool parse_return(const struct imap_arg *arg, unsigned *ret)
{
    const struct imap_arg *opts;
    size_t n;
    if (!imap_arg_get_list(arg, &opts, &n))
        return false;
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"MIN", RETURN_MIN},
                 {"MAX", RETURN_MAX},
                 {"ALL", RETURN_ALL},
                 {"COUNT", RETURN_COUNT},
                 {"SAVE", RETURN_SAVE}};
    *ret = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < sizeof(names) / sizeof(names[0]) &&
               !(opts[i].type == IMAP_ARG_ATOM && imap_arg_is(&opts[i], names[k].name)))
            k++;
        if (k == sizeof(names) / sizeof(names[0]))
            return false;
        *ret |= names[k].bit;
    }
    /* "()" is ALL (RFC 4731 §3.1); so is SAVE alone, answering nothing */
    if (n == 0)
        *ret = RETURN_ALL;
    return true;
}

enum imap_cmd_result cmd_search(struct imap_cmd *cmd)
{
    struct imap_session *s = cmd->session;
    const struct imap_arg *args = cmd->args;
    size_t n = cmd->n_args, i = 0;
    unsigned ret = 0;
    bool esearch = s->enabled_imap4rev2;
    if (i < n && args[i].type == IMAP_ARG_ATOM && imap_arg_is(&args[i], "RETURN")) {
        if (i + 1 >= n || !parse_return(&args[i + 1], &ret))
            return bad(cmd, "Invalid RETURN options.");
        esearch = true;
        i += 2;
    }
    if (esearch && ret == 0)
        ret = RETURN_ALL; /* IMAP4rev2's SEARCH without RETURN (RFC 9051 §6.4.4) */
    if (i < n && args[i].type == IMAP_ARG_ATOM && imap_arg_is(&args[i], "CHARSET")) {
        const char *charset;
        size_t len;
        if (i + 1 >= n || !imap_arg_get_astring(&args[i + 1], &charset, &len))
            return bad(cmd, "CHARSET needs a charset name.");
        if (strcasecmp(charset, "UTF-8") != 0 && strcasecmp(charset, "US-ASCII") != 0) {
            if (ret & RETURN_SAVE)
                imap_search_saved_reset(s);
            imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_NONE,
                           "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset.");
            return IMAP_CMD_DONE;
        }
        i += 2;
    }
    if (i >= n)
        return bad(cmd, "Missing search keys.");
    const char *error = NULL;
    struct search_program *prog = imap_search_parse(args + i, n - i, imap_search_saved(s), &error);
    if (!prog)
        return bad(cmd, error);
    struct search_state *st = xcalloc(1, sizeof(*st));
    st->prog = prog;
    st->tag = xstrdup(cmd->tag);
    st->uid = cmd->uid;
    st->esearch = esearch;
    st->ret = ret;
    /* a SEARCH with MODSEQ enables CONDSTORE (RFC 7162 §3.1) */
    if (imap_search_has_modseq(prog))
        imap_session_enable_condstore(s);
    cmd->data = st;
    arena_on_reset(cmd->arena, state_cleanup, st);
    return search_next_job(cmd);
}
