/* The TRANSACTION state (RFC 1939 §5, §7): STAT, LIST, UIDL, RETR, TOP, DELE
 * and RSET, on the snapshot of the maildrop taken at login (pop3-store.h).
 * Only RETR and TOP reach the store (they read the message file); DELE and
 * RSET only mark, and QUIT does the deleting. */
#include "pop3/pop3-commands.h"
#include "pop3/pop3-store.h"

#include "lib/settings-pop3.h"
#include "lib/settings.h"

#include <stdlib.h>
#include <string.h>

/* A LIST or UIDL answer, written in slices as the output drains: a maildrop
 * of 100,000 messages is never one 2 MB answer in memory. */
struct pop3_listing {
    bool uidl;
    uint32_t next; /* index of the next message to list */
};

/* The next space-separated word of *p (NUL-terminated in place), or NULL. */
static char *next_word(char **p)
{
    char *w = *p;
    while (*w == ' ')
        w++;
    if (!*w) {
        *p = w;
        return NULL;
    }
    char *end = w + strcspn(w, " ");
    if (*end)
        *end++ = '\0';
    *p = end;
    return w;
}

/* RFC 1939 §3: a number is decimal digits. False for anything else or a
 * value above max. */
static bool parse_number(const char *w, uint64_t max, uint64_t *out)
{
    if (!*w || strspn(w, "0123456789") != strlen(w))
        return false;
    uint64_t n = 0;
    for (; *w; w++) {
        if (n > (max - (uint64_t)(*w - '0')) / 10)
            return false;
        n = n * 10 + (uint64_t)(*w - '0');
    }
    *out = n;
    return true;
}

static bool no_more_arguments(struct pop3_session *s, char *rest)
{
    if (!next_word(&rest))
        return true;
    conn_printf(s->conn, "-ERR Too many arguments.\r\n");
    return false;
}

/* A message number of the snapshot, not marked deleted (RFC 1939 §5: "may
 * NOT refer to a message marked as deleted"). Says why not when it is not. */
static bool message_number(struct pop3_session *s, const char *w, uint32_t *msgnum)
{
    uint64_t n;
    if (!w) {
        conn_printf(s->conn, "-ERR A message number is expected.\r\n");
        return false;
    }
    if (!parse_number(w, UINT32_MAX, &n)) {
        conn_printf(s->conn, "-ERR Invalid message number.\r\n");
        return false;
    }
    if (n == 0 || n > s->drop->count) {
        conn_printf(s->conn, "-ERR There is no message %llu.\r\n", (unsigned long long)n);
        return false;
    }
    if (s->drop->msgs[n - 1].deleted) {
        conn_printf(s->conn, "-ERR Message %llu is deleted.\r\n", (unsigned long long)n);
        return false;
    }
    *msgnum = (uint32_t)n;
    return true;
}

static void totals(const struct pop3_maildrop *d, uint32_t *count, uint64_t *size)
{
    *count = 0;
    *size = 0;
    for (uint32_t i = 0; i < d->count; i++) {
        if (!d->msgs[i].deleted) {
            ++*count;
            *size += d->msgs[i].size;
        }
    }
}

void pop3_cmd_stat(struct pop3_session *s, char *arg)
{
    if (!no_more_arguments(s, arg))
        return;
    uint32_t count;
    uint64_t size;
    totals(s->drop, &count, &size);
    /* RFC 1939 §5: "+OK nn mm", messages not marked deleted */
    conn_printf(s->conn, "+OK %u %llu\r\n", count, (unsigned long long)size);
}

static void listing_line(struct pop3_session *s, bool uidl, uint32_t msgnum, struct buf *out)
{
    const struct pop3_message *m = &s->drop->msgs[msgnum - 1];
    buf_printf(out, "%u ", msgnum);
    if (uidl)
        settings_uidl(s->conn->settings->pop3_uidl_format, m->uid, s->drop->uidvalidity, out);
    else
        buf_printf(out, "%llu", (unsigned long long)m->size);
    buf_puts(out, "\r\n");
}

bool pop3_listing_continue(struct pop3_session *s)
{
    struct pop3_listing *l = s->listing;
    if (!l)
        return false;
    struct buf b = BUF_INIT;
    while (l->next < s->drop->count &&
           conn_output_pending(s->conn) + b.len < CONN_OUTPUT_HIGH_WATERMARK) {
        if (!s->drop->msgs[l->next].deleted)
            listing_line(s, l->uidl, l->next + 1, &b);
        l->next++;
    }
    if (l->next == s->drop->count)
        buf_puts(&b, ".\r\n");
    conn_write(s->conn, b.data, b.len);
    buf_free(&b);
    if (l->next < s->drop->count) {
        conn_notify_drained(s->conn);
        return true;
    }
    free(l);
    s->listing = NULL;
    pop3_command_done(s);
    return true;
}

/* LIST and UIDL (RFC 1939 §5, §7): one message, or every one not deleted. */
static void listing(struct pop3_session *s, char *arg, bool uidl)
{
    char *w = next_word(&arg);
    if (w) {
        uint32_t msgnum;
        if (!message_number(s, w, &msgnum) || !no_more_arguments(s, arg))
            return;
        struct buf b = BUF_INIT;
        buf_puts(&b, "+OK ");
        listing_line(s, uidl, msgnum, &b);
        conn_write(s->conn, b.data, b.len);
        buf_free(&b);
        return;
    }
    if (uidl) {
        conn_printf(s->conn, "+OK\r\n");
    } else {
        uint32_t count;
        uint64_t size;
        totals(s->drop, &count, &size);
        conn_printf(s->conn, "+OK %u messages (%llu octets)\r\n", count, (unsigned long long)size);
    }
    s->listing = xcalloc(1, sizeof(*s->listing));
    s->listing->uidl = uidl;
    s->waiting = true;
    pop3_listing_continue(s);
}

void pop3_cmd_list(struct pop3_session *s, char *arg)
{
    listing(s, arg, false);
}

void pop3_cmd_uidl(struct pop3_session *s, char *arg)
{
    listing(s, arg, true);
}

void pop3_cmd_retr(struct pop3_session *s, char *arg)
{
    uint32_t msgnum;
    if (!message_number(s, next_word(&arg), &msgnum) || !no_more_arguments(s, arg))
        return;
    pop3_store_send(s, msgnum, false, 0);
}

void pop3_cmd_top(struct pop3_session *s, char *arg)
{
    uint32_t msgnum;
    uint64_t lines;
    if (!message_number(s, next_word(&arg), &msgnum))
        return;
    const char *w = next_word(&arg);
    if (!w) {
        conn_printf(s->conn, "-ERR A number of lines is expected.\r\n");
        return;
    }
    /* RFC 1939 §7: "a non-negative number of lines"; more than the body has
     * is the whole body */
    if (!parse_number(w, UINT64_MAX, &lines)) {
        if (strspn(w, "0123456789") == strlen(w)) {
            lines = UINT64_MAX;
        } else {
            conn_printf(s->conn, "-ERR Invalid number of lines.\r\n");
            return;
        }
    }
    if (!no_more_arguments(s, arg))
        return;
    pop3_store_send(s, msgnum, true, lines);
}

void pop3_cmd_dele(struct pop3_session *s, char *arg)
{
    uint32_t msgnum;
    if (!message_number(s, next_word(&arg), &msgnum) || !no_more_arguments(s, arg))
        return;
    /* RFC 1939 §5: marked now, deleted in the UPDATE state after QUIT */
    s->drop->msgs[msgnum - 1].deleted = true;
    conn_printf(s->conn, "+OK Message %u deleted.\r\n", msgnum);
}

void pop3_cmd_rset(struct pop3_session *s, char *arg)
{
    if (!no_more_arguments(s, arg))
        return;
    for (uint32_t i = 0; i < s->drop->count; i++)
        s->drop->msgs[i].deleted = false;
    uint32_t count;
    uint64_t size;
    totals(s->drop, &count, &size);
    conn_printf(s->conn, "+OK %u messages (%llu octets)\r\n", count, (unsigned long long)size);
}
