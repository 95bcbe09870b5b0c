/* Flags and keywords (RFC 9051 §2.3.2) with MODSEQ (RFC 7162): STORE, and
 * the keyword letters of file names through dovecot-keywords. */
#include "store/store-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- keywords ---- */

/* Splits a space-separated keyword list. */
size_t split_words(char *s, char **out, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *w = strtok_r(s, " ", &save); w && n < max; w = strtok_r(NULL, " ", &save))
        out[n++] = w;
    return n;
}

int keywords_to_bits(const char *dir, const char *keywords, bool add_missing, uint32_t *bits,
                     struct buf *err)
{
    *bits = 0;
    if (!keywords || !*keywords)
        return 0;
    struct maildir_keywords k;
    maildir_keywords_read(dir, &k);
    char *copy = xstrdup(keywords);
    char *words[KEYWORDS_MAX];
    size_t n = split_words(copy, words, KEYWORDS_MAX);
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        int idx = maildir_keywords_find(&k, words[i]);
        if (idx < 0 && add_missing && k.count < MAILDIR_KEYWORDS_MAX) {
            idx = (int)k.count;
            k.names[k.count++] = xstrdup(words[i]);
            changed = true;
        }
        if (idx >= 0)
            *bits |= 1u << idx;
    }
    int r = 0;
    if (changed)
        r = maildir_keywords_write(dir, &k, err);
    free(copy);
    maildir_keywords_free(&k);
    return r;
}

void keywords_from_bits(const struct maildir_keywords *k, uint32_t bits, struct buf *out)
{
    for (size_t i = 0; i < k->count; i++) {
        if ((bits & (1u << i)) && k->names[i]) {
            if (out->len)
                buf_putc(out, ' ');
            buf_puts(out, k->names[i]);
        }
    }
}

/* RFC 9051 §2.3.2: a keyword is an atom; no flag-looking "\" names. */
bool keyword_valid(const char *k)
{
    if (!*k || strlen(k) > 128)
        return false;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("(){%*\"\\]", *p))
            return false;
    return true;
}

int keywords_join(const char *const *kw, size_t n, struct buf *out, struct buf *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!keyword_valid(kw[i]))
            return store_err(err, -EINVAL, "invalid keyword");
        bool dup = false;
        char *copy = xstrdup(buf_cstr(out));
        char *words[KEYWORDS_MAX];
        size_t nw = split_words(copy, words, KEYWORDS_MAX);
        for (size_t j = 0; j < nw; j++)
            if (strcasecmp(words[j], kw[i]) == 0)
                dup = true;
        free(copy);
        if (dup)
            continue;
        if (nw >= KEYWORDS_MAX)
            return store_err(err, -E2BIG, "too many keywords");
        if (out->len)
            buf_putc(out, ' ');
        buf_puts(out, kw[i]);
    }
    return 0;
}

/* ---- flags ---- */

void store_flags_result_free(struct store_flags_result *r)
{
    store_uids_free(&r->changed);
    store_uids_free(&r->modified);
}

/* Applies op to a keyword list (case-insensitive, RFC 9051 §2.3.2). */
static void keywords_apply(const char *cur, enum store_flag_op op, const char *const *kw,
                           size_t nkw, struct buf *out)
{
    char *copy = xstrdup(cur);
    char *words[KEYWORDS_MAX];
    size_t n = split_words(copy, words, KEYWORDS_MAX);
    if (op != STORE_FLAGS_REPLACE) {
        for (size_t i = 0; i < n; i++) {
            bool drop = false;
            for (size_t j = 0; op == STORE_FLAGS_REMOVE && j < nkw; j++)
                if (strcasecmp(words[i], kw[j]) == 0)
                    drop = true;
            if (!drop)
                keywords_join((const char *const *)&words[i], 1, out, NULL);
        }
    }
    if (op != STORE_FLAGS_REMOVE)
        keywords_join(kw, nkw, out, NULL);
    free(copy);
}

/* Same set of keywords, whatever the order and case. */
static bool keywords_equal(const char *a, const char *b)
{
    char *ca = xstrdup(a), *cb = xstrdup(b);
    char *wa[KEYWORDS_MAX], *wb[KEYWORDS_MAX];
    size_t na = split_words(ca, wa, KEYWORDS_MAX), nb = split_words(cb, wb, KEYWORDS_MAX);
    bool eq = na == nb;
    for (size_t i = 0; eq && i < na; i++) {
        bool found = false;
        for (size_t j = 0; j < nb && !found; j++)
            found = strcasecmp(wa[i], wb[j]) == 0;
        eq = found;
    }
    free(ca);
    free(cb);
    return eq;
}

int store_set_flags(struct store_mailbox *m, const struct store_uid_range *set, size_t nset,
                    enum store_flag_op op, unsigned flags, const char *const *keywords,
                    size_t keyword_count, uint64_t unchangedsince, struct store_flags_result *res,
                    struct buf *err)
{
    struct store *s = m->s;
    memset(res, 0, sizeof(*res));
    flags &= STORE_FLAGS_STORED;
    for (size_t i = 0; i < keyword_count; i++)
        if (!keyword_valid(keywords[i]))
            return store_err(err, -EINVAL, "invalid keyword");
    struct store_uids uids = {0};
    uids_in_set(m, set, nset, &uids);
    int r = index_begin(s->db, err);
    if (r < 0) {
        store_uids_free(&uids);
        return r;
    }
    uint64_t modseq = 0;
    sqlite3_stmt *sel = index_prepare(s->db,
                                      "SELECT id, base, filename, flags, keywords, modseq FROM"
                                      " messages WHERE mailbox_id = ? AND uid = ?",
                                      err);
    sqlite3_stmt *up = index_prepare(s->db,
                                     "UPDATE messages SET flags = ?, keywords = ?, modseq = ?,"
                                     " filename = ? WHERE id = ?",
                                     err);
    if (!sel || !up)
        r = -EIO;
    struct buf kw = BUF_INIT, name = BUF_INIT, from = BUF_INIT, to = BUF_INIT;
    bool renamed = false;
    for (size_t i = 0; r == 0 && i < uids.count; i++) {
        sqlite3_bind_int64(sel, 1, m->id);
        sqlite3_bind_int64(sel, 2, uids.uids[i]);
        if (sqlite3_step(sel) != SQLITE_ROW) {
            sqlite3_reset(sel);
            continue;
        }
        int64_t id = sqlite3_column_int64(sel, 0);
        const char *base = (const char *)sqlite3_column_text(sel, 1);
        const char *filename = (const char *)sqlite3_column_text(sel, 2);
        unsigned old = (unsigned)sqlite3_column_int(sel, 3);
        const char *oldkw = (const char *)sqlite3_column_text(sel, 4);
        uint64_t msg_modseq = (uint64_t)sqlite3_column_int64(sel, 5);
        /* RFC 7162 §3.1.3: UNCHANGEDSINCE leaves newer messages alone. */
        if (unchangedsince && msg_modseq > unchangedsince) {
            uids_push(&res->modified, uids.uids[i]);
            sqlite3_reset(sel);
            continue;
        }
        unsigned nf = op == STORE_FLAGS_REPLACE ? flags
                      : op == STORE_FLAGS_ADD   ? old | flags
                                                : old & ~flags;
        buf_reset(&kw);
        keywords_apply(oldkw, op, keywords, keyword_count, &kw);
        if (nf == old && keywords_equal(oldkw, buf_cstr(&kw))) {
            sqlite3_reset(sel);
            continue;
        }
        if (!modseq && (r = mailbox_row_next_modseq(s, m->id, &modseq, err)) < 0)
            break;
        uint32_t kwbits = 0;
        r = keywords_to_bits(m->dir, buf_cstr(&kw), true, &kwbits, err);
        buf_reset(&name);
        maildir_filename_build(&name, base, nf, kwbits);
        if (r == 0 && strcmp(buf_cstr(&name), filename) != 0) {
            buf_reset(&from);
            buf_reset(&to);
            buf_printf(&from, "%s/cur/%s", m->dir, filename);
            buf_printf(&to, "%s/cur/%s", m->dir, buf_cstr(&name));
            if (rename(buf_cstr(&from), buf_cstr(&to)) < 0) {
                /* renamed by another program: find it by base; if it is gone,
                 * the next sync expunges it */
                struct buf found = BUF_INIT;
                bool in_new = false;
                if (find_file_by_base(m->dir, base, &found, &in_new) == 0) {
                    buf_reset(&from);
                    buf_printf(&from, "%s/%s/%s", m->dir, in_new ? "new" : "cur", buf_cstr(&found));
                    rename(buf_cstr(&from), buf_cstr(&to));
                }
                buf_free(&found);
            }
            renamed = true;
        }
        sqlite3_bind_int(up, 1, (int)nf);
        sqlite3_bind_text(up, 2, buf_cstr(&kw), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(up, 3, (int64_t)modseq);
        sqlite3_bind_text(up, 4, buf_cstr(&name), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(up, 5, id);
        if (r == 0 && sqlite3_step(up) != SQLITE_DONE)
            r = index_error(s->db, sqlite3_errcode(s->db), "store flags", err);
        sqlite3_reset(up);
        sqlite3_reset(sel);
        if (r == 0)
            uids_push(&res->changed, uids.uids[i]);
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(up);
    buf_free(&kw);
    buf_free(&name);
    buf_free(&from);
    buf_free(&to);
    if (r == 0)
        r = index_commit(s->db, err);
    else
        index_rollback(s->db);
    store_uids_free(&uids);
    if (r < 0) {
        store_flags_result_free(res);
        return r;
    }
    (void)renamed;
    res->modseq = modseq;
    if (modseq)
        mailbox_touch_notify(m->dir);
    return 0;
}
