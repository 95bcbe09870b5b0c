/* LIST (RFC 9051 §6.3.9 with LIST-EXTENDED's options, RFC 5258; SPECIAL-USE,
 * RFC 6154; LIST-STATUS, RFC 5819), LSUB (IMAP4rev1, RFC 3501 §6.3.9) and
 * NAMESPACE (RFC 9051 §6.3.10). */
#include "imap/imap-resp.h"
#include "imap/imap-store.h"
#include "imap/session.h"
#include "lib-imap/imap-arg.h"
#include "lib-imap/imap-match.h"
#include "lib-imap/imap-quote.h"
#include "lib-imap/mutf7.h"
#include "store/mailbox-name.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum list_option {
    LIST_SUBSCRIBED = 1u << 0,       /* selection: subscribed names only */
    LIST_SPECIAL_ONLY = 1u << 1,     /* selection: SPECIAL-USE */
    LIST_RETURN_SUBSCRIBED = 1u << 2,
    LIST_RETURN_CHILDREN = 1u << 3,
    LIST_RETURN_SPECIAL = 1u << 4,
    LIST_RETURN_STATUS = 1u << 5,
    LIST_LSUB = 1u << 6, /* answer as LSUB */
};

/* STATUS items (RFC 9051 §6.3.11), as bits; shared by STATUS and LIST-STATUS. */
enum status_item {
    STATUS_MESSAGES = 1u << 0,
    STATUS_UIDNEXT = 1u << 1,
    STATUS_UIDVALIDITY = 1u << 2,
    STATUS_UNSEEN = 1u << 3,
    STATUS_DELETED = 1u << 4,
    STATUS_SIZE = 1u << 5,
    STATUS_RECENT = 1u << 6,
    STATUS_HIGHESTMODSEQ = 1u << 7,
};

static const struct {
    const char *name;
    unsigned bit;
} status_item_names[] = {
    {"MESSAGES", STATUS_MESSAGES}, {"UIDNEXT", STATUS_UIDNEXT},
    {"UIDVALIDITY", STATUS_UIDVALIDITY}, {"UNSEEN", STATUS_UNSEEN},
    {"DELETED", STATUS_DELETED},   {"SIZE", STATUS_SIZE},
    {"RECENT", STATUS_RECENT},     {"HIGHESTMODSEQ", STATUS_HIGHESTMODSEQ},
};

/* The items of a STATUS list; false for an unknown one or an empty list. */
static bool parse_status_items(const struct imap_arg *arg, unsigned *items)
{
    const struct imap_arg *list;
    size_t n;
    *items = 0;
    if (!imap_arg_get_list(arg, &list, &n) || n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < sizeof(status_item_names) / sizeof(status_item_names[0]) &&
               !imap_arg_is(&list[i], status_item_names[k].name))
            k++;
        if (k == sizeof(status_item_names) / sizeof(status_item_names[0]))
            return false;
        *items |= status_item_names[k].bit;
    }
    return true;
}

/* "* STATUS name (MESSAGES 3 ...)" from the index (job side). */
static int write_status(struct store *store, const char *name, unsigned items, bool utf8,
                        struct buf *out, struct buf *err)
{
    struct store_status st;
    int r = store_mailbox_status(store, name, &st, err);
    if (r < 0)
        return r;
    struct buf wire = BUF_INIT;
    mailbox_name_to_imap(name, utf8, &wire);
    buf_puts(out, "* STATUS ");
    imap_astring(out, wire.data ? wire.data : "", wire.len);
    buf_free(&wire);
    buf_puts(out, " (");
    const uint64_t values[] = {st.messages, st.uidnext,        st.uidvalidity, st.unseen,
                               st.deleted,  st.size,           st.recent,      st.highestmodseq};
    bool first = true;
    for (size_t k = 0; k < sizeof(status_item_names) / sizeof(status_item_names[0]); k++) {
        if (!(items & status_item_names[k].bit))
            continue;
        buf_printf(out, "%s%s %llu", first ? "" : " ", status_item_names[k].name,
                   (unsigned long long)values[k]);
        first = false;
    }
    buf_puts(out, ")\r\n");
    return 0;
}

/* ---- LIST ---- */

struct list_job {
    char **patterns; /* UTF-8, the reference joined */
    size_t n_patterns;
    unsigned options;
    unsigned status_items;
    bool utf8;
};

static void free_list_job(void *arg)
{
    struct list_job *job = arg;
    for (size_t i = 0; i < job->n_patterns; i++)
        free(job->patterns[i]);
    free(job->patterns);
    free(job);
}

static bool matches_any(const struct list_job *job, const char *name)
{
    for (size_t i = 0; i < job->n_patterns; i++)
        if (imap_list_match(job->patterns[i], name, MAILBOX_SEPARATOR))
            return true;
    return false;
}

static void write_list_line(const struct list_job *job, const struct store_mailbox_info *mb,
                            struct buf *out)
{
    buf_printf(out, "* %s (", job->options & LIST_LSUB ? "LSUB" : "LIST");
    const char *sep = "";
    if (!(job->options & LIST_LSUB)) {
        /* CHILDREN: always told, as Dovecot does; RFC 9051 §7.3.1 allows it */
        buf_printf(out, "%s%s", sep, mb->has_children ? "\\HasChildren" : "\\HasNoChildren");
        sep = " ";
    }
    if (!(job->options & LIST_LSUB) &&
        (job->options & (LIST_RETURN_SUBSCRIBED | LIST_SUBSCRIBED)) && mb->subscribed) {
        buf_printf(out, "%s\\Subscribed", sep);
        sep = " ";
    }
    if (!(job->options & LIST_LSUB)) {
        for (unsigned bit = 1; bit <= STORE_SPECIAL_FLAGGED; bit <<= 1)
            if (mb->special_use & bit) {
                buf_printf(out, "%s%s", sep, store_special_use_name(bit));
                sep = " ";
            }
    }
    buf_puts(out, ") \"/\" ");
    struct buf wire = BUF_INIT;
    mailbox_name_to_imap(mb->name, job->utf8, &wire);
    imap_astring(out, wire.data ? wire.data : "", wire.len);
    buf_free(&wire);
    buf_puts(out, "\r\n");
}

static int list_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    struct list_job *job = data;
    struct store_mailbox_info *list;
    size_t count;
    int r = store_mailbox_list(side->store, &list, &count, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < count && r == 0; i++) {
        const struct store_mailbox_info *mb = &list[i];
        if ((job->options & LIST_SUBSCRIBED) && !mb->subscribed)
            continue;
        if ((job->options & LIST_SPECIAL_ONLY) && !mb->special_use)
            continue;
        if (!matches_any(job, mb->name))
            continue;
        write_list_line(job, mb, out);
        if (job->options & LIST_RETURN_STATUS)
            r = write_status(side->store, mb->name, job->status_items, job->utf8, out, err);
    }
    store_mailbox_list_free(list, count);
    return r;
}

static enum imap_cmd_result list_done(struct imap_cmd *cmd)
{
    if (cmd->job_result < 0) {
        imap_cmd_store_error(cmd, cmd->job_result);
        return IMAP_CMD_DONE;
    }
    imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "%s completed.", cmd->def->name);
    return IMAP_CMD_DONE;
}

/* Reads a mailbox name or pattern from the wire into UTF-8: modified UTF-7
 * unless the client enabled UTF8=ACCEPT. */
static bool wire_to_utf8(const char *wire, size_t len, bool utf8, struct buf *out)
{
    if (!utf8)
        return mutf7_decode(wire, len, true, out) == 0;
    buf_append(out, wire, len);
    return true;
}

static bool add_pattern(struct list_job *job, const char *ref, size_t ref_len, const char *pat,
                        size_t pat_len)
{
    struct buf joined = BUF_INIT;
    /* RFC 9051 §6.3.9: the reference is the prefix of the pattern; a pattern
     * starting at the root ignores it */
    if (!(pat_len > 0 && pat[0] == MAILBOX_SEPARATOR) &&
        !wire_to_utf8(ref, ref_len, job->utf8, &joined)) {
        buf_free(&joined);
        return false;
    }
    if (!wire_to_utf8(pat, pat_len, job->utf8, &joined)) {
        buf_free(&joined);
        return false;
    }
    job->patterns = xrealloc(job->patterns, (job->n_patterns + 1) * sizeof(*job->patterns));
    job->patterns[job->n_patterns++] = buf_steal(&joined);
    return true;
}

/* Selection and return options of LIST-EXTENDED (RFC 5258 §3). */
static bool parse_options(const struct imap_arg *arg, bool selection, unsigned *options,
                          unsigned *status_items)
{
    const struct imap_arg *list;
    size_t n;
    if (!imap_arg_get_list(arg, &list, &n))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (selection && imap_arg_is(&list[i], "SUBSCRIBED"))
            *options |= LIST_SUBSCRIBED | LIST_RETURN_SUBSCRIBED;
        else if (selection && imap_arg_is(&list[i], "SPECIAL-USE"))
            *options |= LIST_SPECIAL_ONLY;
        else if (selection && imap_arg_is(&list[i], "REMOTE"))
            ; /* no remote mailboxes here */
        else if (selection && imap_arg_is(&list[i], "RECURSIVEMATCH"))
            ; /* parents of matches are listed all the same */
        else if (!selection && imap_arg_is(&list[i], "SUBSCRIBED"))
            *options |= LIST_RETURN_SUBSCRIBED;
        else if (!selection && imap_arg_is(&list[i], "CHILDREN"))
            *options |= LIST_RETURN_CHILDREN;
        else if (!selection && imap_arg_is(&list[i], "SPECIAL-USE"))
            *options |= LIST_RETURN_SPECIAL;
        else if (!selection && imap_arg_is(&list[i], "STATUS") && i + 1 < n &&
                 parse_status_items(&list[i + 1], status_items))
            *options |= LIST_RETURN_STATUS, i++;
        else
            return false;
    }
    return true;
}

static enum imap_cmd_result list_or_lsub(struct imap_cmd *cmd, bool lsub)
{
    struct imap_session *s = cmd->session;
    struct list_job *job = xcalloc(1, sizeof(*job));
    job->options = lsub ? LIST_LSUB | LIST_SUBSCRIBED : 0;
    size_t i = 0;
    bool ok = true;
    if (!lsub && i < cmd->n_args && cmd->args[i].type == IMAP_ARG_LIST)
        ok = parse_options(&cmd->args[i++], true, &job->options, &job->status_items);
    const char *ref = NULL, *pat;
    size_t ref_len = 0, pat_len;
    ok = ok && i < cmd->n_args && imap_arg_get_astring(&cmd->args[i++], &ref, &ref_len);
    bool empty_pattern = false;
    if (ok && i < cmd->n_args && cmd->args[i].type == IMAP_ARG_LIST && !lsub) {
        const struct imap_arg *pats;
        size_t n;
        imap_arg_get_list(&cmd->args[i++], &pats, &n);
        ok = n > 0;
        for (size_t k = 0; ok && k < n; k++)
            ok = imap_arg_get_astring(&pats[k], &pat, &pat_len) &&
                 add_pattern(job, ref, ref_len, pat, pat_len);
    } else if (ok && i < cmd->n_args && imap_arg_get_astring(&cmd->args[i++], &pat, &pat_len)) {
        empty_pattern = pat_len == 0;
        ok = empty_pattern || add_pattern(job, ref, ref_len, pat, pat_len);
    } else {
        ok = false;
    }
    if (ok && !lsub && i < cmd->n_args) {
        ok = imap_arg_is(&cmd->args[i++], "RETURN") && i < cmd->n_args &&
             parse_options(&cmd->args[i++], false, &job->options, &job->status_items);
    }
    if (!ok || i != cmd->n_args) {
        free_list_job(job);
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "Invalid %s arguments.", cmd->def->name);
        return IMAP_CMD_DONE;
    }
    if (empty_pattern) {
        /* RFC 9051 §6.3.9: the hierarchy delimiter and the root */
        free_list_job(job);
        imap_untagged(s, "%s (\\Noselect) \"/\" \"\"", lsub ? "LSUB" : "LIST");
        imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "%s completed.", cmd->def->name);
        return IMAP_CMD_DONE;
    }
    cmd->resume = list_done;
    imap_store_job(cmd, list_work, job, free_list_job);
    return IMAP_CMD_WAIT_EXTERNAL;
}

enum imap_cmd_result cmd_list(struct imap_cmd *cmd)
{
    return list_or_lsub(cmd, false);
}

enum imap_cmd_result cmd_lsub(struct imap_cmd *cmd)
{
    return list_or_lsub(cmd, true);
}

enum imap_cmd_result cmd_namespace(struct imap_cmd *cmd)
{
    if (cmd->n_args != 0) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE, "NAMESPACE takes no arguments.");
        return IMAP_CMD_DONE;
    }
    /* one personal namespace, no prefix; no other users' or shared ones */
    imap_untagged(cmd->session, "NAMESPACE ((\"\" \"/\")) NIL NIL");
    imap_cmd_reply(cmd, IMAP_OK, IMAP_CODE_NONE, "NAMESPACE completed.");
    return IMAP_CMD_DONE;
}

/* ---- STATUS ---- */

struct status_job {
    char *name;
    unsigned items;
    bool utf8;
};

static void free_status_job(void *arg)
{
    struct status_job *job = arg;
    free(job->name);
    free(job);
}

static int status_work(struct imap_store_side *side, void *data, struct buf *out, struct buf *err)
{
    struct status_job *job = data;
    return write_status(side->store, job->name, job->items, job->utf8, out, err);
}

enum imap_cmd_result cmd_status(struct imap_cmd *cmd)
{
    const char *wire;
    size_t len;
    unsigned items;
    if (cmd->n_args != 2 || !imap_arg_get_astring(&cmd->args[0], &wire, &len) ||
        !parse_status_items(&cmd->args[1], &items)) {
        imap_cmd_reply(cmd, IMAP_BAD, IMAP_CODE_NONE,
                       "STATUS expects a mailbox and a list of status items.");
        return IMAP_CMD_DONE;
    }
    struct buf name = BUF_INIT;
    if (mailbox_name_from_imap(wire, len, false, false, &name, NULL) < 0) {
        buf_free(&name);
        imap_cmd_reply(cmd, IMAP_NO, IMAP_CODE_CANNOT, "Invalid mailbox name.");
        return IMAP_CMD_DONE;
    }
    /* RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) is a CONDSTORE enabling command */
    if (items & STATUS_HIGHESTMODSEQ)
        imap_session_enable_condstore(cmd->session);
    struct status_job *job = xcalloc(1, sizeof(*job));
    job->name = buf_steal(&name);
    job->items = items;
    cmd->resume = list_done;
    imap_store_job(cmd, status_work, job, free_status_job);
    return IMAP_CMD_WAIT_EXTERNAL;
}
