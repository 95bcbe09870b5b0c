/* SEARCH's substring semantics (RFC 9051 §6.4.4) on top of the word index:
 * the FTS5 table narrows, the text it keeps confirms. */
#include "store/store-private.h"

#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

/* FTS5's unicode61 tokenizer (the table's default) makes words of letters,
 * digits and private-use characters; every other character separates them.
 * Here a word is a run of ASCII letters and digits and of any non-ASCII
 * character: what is not a separator here is not one there either, so that a
 * word of the needle is never split where the index's words are not. A run
 * with nothing but non-ASCII characters that the index may take for
 * separators (dashes, quotes) would be an empty phrase, which matches
 * nothing: such a run is left out. */
static bool is_word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static locale_t word_locale;
static pthread_once_t word_once = PTHREAD_ONCE_INIT;

static void word_init(void)
{
    word_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Does the run hold a letter or digit the index surely keeps? */
static bool run_has_word_char(const unsigned char *s, size_t len)
{
    pthread_once(&word_once, word_init);
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x80) {
            if (is_word_byte(s[i]))
                return true;
            i++;
            continue;
        }
        if (word_locale == (locale_t)0)
            return false;
        unsigned char c = s[i];
        size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
        if (n == 1 || i + n > len) {
            i++;
            continue;
        }
        wint_t w = c & (0xff >> (n + 1));
        for (size_t k = 1; k < n; k++)
            w = (w << 6) | (s[i + k] & 0x3f);
        if (iswalnum_l(w, word_locale))
            return true;
        i += n;
    }
    return false;
}

int store_search_substring(struct store_mailbox *m, enum store_search_field field,
                           const char *needle, size_t len, struct store_uids *out, bool *narrowed,
                           struct buf *err)
{
    /* A text holding the needle holds each of its words that has a
     * separator on both sides in the needle as a whole word, and the last
     * one, with a separator before it, as the start of a word. The first word
     * may be the end of a longer one and tells nothing, nor does a needle
     * that is one word ("ello" in "hello"). */
    const unsigned char *s = (const unsigned char *)needle;
    struct buf words = BUF_INIT;
    size_t i = 0;
    while (i < len) {
        if (!is_word_byte(s[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && is_word_byte(s[i]))
            i++;
        if (start == 0 || !run_has_word_char(s + start, i - start))
            continue;
        if (words.len)
            buf_putc(&words, ' ');
        buf_append(&words, s + start, i - start);
        if (i == len)
            buf_putc(&words, '*');
    }
    *narrowed = words.len > 0;
    int r = 0;
    if (*narrowed)
        r = store_search_text(m, field, buf_cstr(&words), out, err);
    buf_free(&words);
    return r;
}

struct store_text_iter {
    struct store_mailbox *m;
    sqlite3_stmt *st;
    struct store_uids uids;
    size_t pos;
    struct store_text text;
};

int store_text_begin(struct store_mailbox *m, const struct store_uid_range *set, size_t nset,
                     struct store_text_iter **out, struct buf *err)
{
    *out = NULL;
    struct store_text_iter *it = xcalloc(1, sizeof(*it));
    it->m = m;
    uids_in_set(m, set, nset, &it->uids);
    it->st = index_prepare(m->s->db,
                           "SELECT t.headers, t.body FROM messages m LEFT JOIN message_text t"
                           " ON t.rowid = m.id WHERE m.mailbox_id = ? AND m.uid = ?",
                           err);
    if (!it->st) {
        store_text_end(it);
        return -EIO;
    }
    *out = it;
    return 0;
}

int store_text_next(struct store_text_iter *it, const struct store_text **text, struct buf *err)
{
    while (it->pos < it->uids.count) {
        uint32_t uid = it->uids.uids[it->pos++];
        sqlite3_reset(it->st);
        sqlite3_bind_int64(it->st, 1, it->m->id);
        sqlite3_bind_int64(it->st, 2, uid);
        int rc = sqlite3_step(it->st);
        if (rc == SQLITE_DONE)
            continue; /* expunged by another process since the last sync */
        if (rc != SQLITE_ROW)
            return index_error(it->m->s->db, rc, "text", err);
        struct store_text *t = &it->text;
        t->uid = uid;
        t->headers = (const char *)sqlite3_column_text(it->st, 0);
        t->headers_len = (size_t)sqlite3_column_bytes(it->st, 0);
        t->body = (const char *)sqlite3_column_text(it->st, 1);
        t->body_len = (size_t)sqlite3_column_bytes(it->st, 1);
        if (!t->headers)
            t->headers = "";
        if (!t->body)
            t->body = "";
        *text = t;
        return 1;
    }
    return 0;
}

void store_text_end(struct store_text_iter *it)
{
    if (!it)
        return;
    sqlite3_finalize(it->st);
    store_uids_free(&it->uids);
    free(it);
}

struct store_scan_iter {
    struct store_mailbox *m;
    sqlite3_stmt *st;
    size_t pos; /* in the view: the next UID it may have */
    struct store_message msg;
    char *kwcopy;
    char *kw[KEYWORDS_MAX];
};

int store_scan_begin(struct store_mailbox *m, uint32_t first, uint32_t last, unsigned want,
                     struct store_scan_iter **out, struct buf *err)
{
    *out = NULL;
    struct store_scan_iter *it = xcalloc(1, sizeof(*it));
    it->m = m;
    /* the UNIQUE (mailbox_id, uid) index gives the order; a column the
     * caller does not read is not read from the row either */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT uid, modseq, flags, keywords, size, vsize, internal_date, sent_date,"
             " recent, %s FROM messages WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3"
             " ORDER BY uid",
             want & STORE_FETCH_HEADERS ? "headers" : "NULL");
    it->st = index_prepare(m->s->db, sql, err);
    if (!it->st) {
        store_scan_end(it);
        return -EIO;
    }
    sqlite3_bind_int64(it->st, 1, m->id);
    sqlite3_bind_int64(it->st, 2, first);
    sqlite3_bind_int64(it->st, 3, last);
    size_t lo = 0, hi = m->view.count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->view.uids[mid] < first)
            lo = mid + 1;
        else
            hi = mid;
    }
    it->pos = lo;
    *out = it;
    return 0;
}

int store_scan_next(struct store_scan_iter *it, const struct store_message **msg, struct buf *err)
{
    const struct store_uids *view = &it->m->view;
    int rc;
    while ((rc = sqlite3_step(it->st)) == SQLITE_ROW) {
        uint32_t uid = (uint32_t)sqlite3_column_int64(it->st, 0);
        /* rows and view both go up: a row the view has not got yet (another
         * process added it since the last sync) is skipped */
        while (it->pos < view->count && view->uids[it->pos] < uid)
            it->pos++;
        if (it->pos >= view->count)
            return 0;
        if (view->uids[it->pos] != uid)
            continue;
        it->pos++;
        struct store_message *m = &it->msg;
        memset(m, 0, sizeof(*m));
        m->uid = uid;
        m->modseq = (uint64_t)sqlite3_column_int64(it->st, 1);
        m->flags = (unsigned)sqlite3_column_int(it->st, 2);
        free(it->kwcopy);
        const char *kw = (const char *)sqlite3_column_text(it->st, 3);
        it->kwcopy = xstrdup(kw ? kw : "");
        m->keyword_count = split_words(it->kwcopy, it->kw, KEYWORDS_MAX);
        m->keywords = (const char *const *)it->kw;
        m->size = (uint64_t)sqlite3_column_int64(it->st, 4);
        m->virtual_size = (uint64_t)sqlite3_column_int64(it->st, 5);
        m->internal_date = (time_t)sqlite3_column_int64(it->st, 6);
        m->sent_date = (time_t)sqlite3_column_int64(it->st, 7);
        if (sqlite3_column_int(it->st, 8))
            m->flags |= STORE_FLAG_RECENT;
        *msg = m;
        return 1;
    }
    if (rc != SQLITE_DONE)
        return index_error(it->m->s->db, rc, "scan", err);
    return 0;
}

const char *store_scan_headers(struct store_scan_iter *it)
{
    return (const char *)sqlite3_column_text(it->st, 9);
}

void store_scan_end(struct store_scan_iter *it)
{
    if (!it)
        return;
    sqlite3_finalize(it->st);
    free(it->kwcopy);
    free(it);
}

int store_read_begin(struct store_mailbox *m, struct buf *err)
{
    return index_exec(m->s->db, "BEGIN", err);
}

void store_read_end(struct store_mailbox *m)
{
    if (!sqlite3_get_autocommit(m->s->db))
        sqlite3_exec(m->s->db, "COMMIT", NULL, NULL, NULL);
}
