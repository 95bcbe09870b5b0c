/* store/: Maildir++ with the SQLite index: append/fetch, UIDs never reused,
 * copy/move with UIDPLUS mapping, sync with outside changes, rebuild, Dovecot
 * import, status, special-use, notification between two handles. Each test
 * works in its own temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/buf.h"
#include "lib/serial-queue.h"
#include "lib/threadpool.h"
#include "store/mail-location.h"
#include "store/maildir.h"
#include "store/store.h"

#include <dirent.h>
#include <event2/event.h>
#include <pthread.h>
#include <errno.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char msg1[] = "From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\n"
                           "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\nbody one zebra\r\n";
static const char msg2[] = "From: c@example.com\nSubject: second\n\nbody two\n";

struct ctx {
    char root[64];
    char maildir[96];
};

static void rm_rf(const char *path)
{
    maildir_remove_tree(path);
}

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    snprintf(c->root, sizeof(c->root), "/tmp/gannet-store-XXXXXX");
    if (!mkdtemp(c->root))
        return -1;
    snprintf(c->maildir, sizeof(c->maildir), "%s/Maildir", c->root);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    rm_rf(c->root);
    free(c);
    return 0;
}

static struct store *open_store(struct ctx *c, unsigned flags)
{
    struct store *s = NULL;
    struct buf err = BUF_INIT;
    int r = store_open(c->maildir, STORE_OPEN_CREATE | flags, &s, &err);
    if (r < 0)
        fail_msg("store_open: %s", buf_cstr(&err));
    buf_free(&err);
    return s;
}

static struct store_mailbox *open_mbox(struct store *s, const char *name)
{
    struct store_mailbox *m = NULL;
    struct buf err = BUF_INIT;
    if (store_mailbox_open(s, name, &m, &err) < 0)
        fail_msg("open %s: %s", name, buf_cstr(&err));
    buf_free(&err);
    return m;
}

static uint32_t append(struct store_mailbox *m, const char *data, unsigned flags)
{
    uint32_t uid = 0;
    struct buf err = BUF_INIT;
    struct store_append_options o = {.flags = flags, .internal_date = 1700000000};
    if (store_append(m, data, strlen(data), &o, &uid, &err) < 0)
        fail_msg("append: %s", buf_cstr(&err));
    buf_free(&err);
    return uid;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    if (!b.data)
        buf_puts(&b, "");
    return buf_steal(&b);
}

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

/* The file name in dir/sub that starts with prefix, or NULL. */
static char *find_in(const char *dir, const char *sub, const char *contains)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, sub);
    DIR *d = opendir(p);
    if (!d)
        return NULL;
    struct dirent *de;
    char *found = NULL;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && strstr(de->d_name, contains)) {
            free(found);
            found = strdup(de->d_name);
        }
    closedir(d);
    return found;
}

static void test_open_special_use(void **state)
{
    struct ctx *c = *state;
    struct store *s = open_store(c, 0);
    struct store_mailbox_info *list;
    size_t n;
    assert_int_equal(store_mailbox_list(s, &list, &n, NULL), 0);
    assert_int_equal(n, 6);
    assert_string_equal(list[0].name, "INBOX");
    unsigned seen = 0;
    for (size_t i = 0; i < n; i++) {
        seen |= list[i].special_use;
        if (strcmp(list[i].name, "Sent") == 0)
            assert_int_equal(list[i].special_use, STORE_SPECIAL_SENT);
        assert_true(list[i].subscribed);
    }
    assert_int_equal(seen, STORE_SPECIAL_DRAFTS | STORE_SPECIAL_SENT | STORE_SPECIAL_TRASH |
                               STORE_SPECIAL_JUNK | STORE_SPECIAL_ARCHIVE);
    store_mailbox_list_free(list, n);
    char p[256];
    snprintf(p, sizeof(p), "%s/.Sent/maildirfolder", c->maildir);
    assert_int_equal(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/cur", c->maildir);
    assert_int_equal(access(p, F_OK), 0);
    assert_string_equal(store_special_use_name(STORE_SPECIAL_JUNK), "\\Junk");
    store_close(s);
    /* opening again does not add anything */
    s = open_store(c, 0);
    assert_int_equal(store_mailbox_list(s, &list, &n, NULL), 0);
    assert_int_equal(n, 6);
    store_mailbox_list_free(list, n);
    store_close(s);
}

static void test_append_fetch(void **state)
{
    struct ctx *c = *state;
    struct store *s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    struct store_mailbox *m = open_mbox(s, "inbox");
    assert_string_equal(store_mailbox_name(m), "INBOX");
    const char *kw[] = {"$Forwarded", "Work"};
    struct store_append_options o = {.flags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED,
                                     .keywords = kw,
                                     .keyword_count = 2,
                                     .internal_date = 1600000000};
    uint32_t uid1 = 0, uid2;
    assert_int_equal(store_append(m, msg1, strlen(msg1), &o, &uid1, NULL), 0);
    uid2 = append(m, msg2, 0);
    assert_int_equal(uid1, 1);
    assert_int_equal(uid2, 2);
    assert_int_equal(store_mailbox_sync(m, NULL, NULL), 0);
    assert_int_equal(store_mailbox_view(m)->count, 2);

    struct store_fetch_iter *it;
    const struct store_message *msg;
    assert_int_equal(store_fetch_begin(m, NULL, 0, STORE_FETCH_ENVELOPE, &it, NULL), 0);
    assert_int_equal(store_fetch_next(it, &msg, NULL), 1);
    assert_int_equal(msg->uid, 1);
    assert_int_equal(msg->flags & STORE_FLAGS_STORED, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
    assert_int_equal(msg->keyword_count, 2);
    assert_string_equal(msg->keywords[0], "$Forwarded");
    assert_int_equal(msg->size, strlen(msg1));
    assert_int_equal(msg->virtual_size, strlen(msg1));
    assert_int_equal(msg->internal_date, 1600000000);
    /* cached at append time by the parser (src/mail/) */
    assert_non_null(msg->envelope);
    assert_non_null(strstr(msg->envelope, "\"hello\""));
    assert_true(msg->sent_date > 0);
    size_t len;
    char *bytes = read_file(msg->path, &len);
    assert_non_null(bytes);
    assert_int_equal(len, strlen(msg1));
    assert_memory_equal(bytes, msg1, len);
    free(bytes);
    assert_non_null(strstr(msg->path, ",U=1"));
    assert_non_null(strstr(msg->path, ":2,FSab")); /* \Flagged \Seen $Forwarded Work */
    assert_int_equal(store_fetch_next(it, &msg, NULL), 1);
    assert_int_equal(msg->uid, 2);
    /* bare LFs count as CRLF in RFC822.SIZE */
    assert_int_equal(msg->virtual_size, strlen(msg2) + 4);
    assert_int_equal(store_fetch_next(it, &msg, NULL), 0);
    store_fetch_end(it);

    /* the path and an fd for FETCH BODY[] */
    int fd;
    uint64_t size;
    assert_int_equal(store_message_open(m, 2, &fd, &size, NULL), 0);
    assert_int_equal(size, strlen(msg2));
    close(fd);
    assert_int_equal(store_message_open(m, 99, &fd, &size, NULL), -ENOENT);

    /* append from an fd */
    char p[256];
    snprintf(p, sizeof(p), "%s/in.eml", c->root);
    write_file(p, msg2);
    fd = open(p, O_RDONLY);
    uint32_t uid3 = 0;
    assert_int_equal(store_append_fd(m, fd, NULL, &uid3, NULL), 0);
    close(fd);
    assert_int_equal(uid3, 3);

    /* status from the index */
    struct store_status st;
    assert_int_equal(store_mailbox_status(s, "INBOX", &st, NULL), 0);
    assert_int_equal(st.messages, 3);
    assert_int_equal(st.unseen, 2);
    assert_int_equal(st.uidnext, 4);
    assert_true(st.uidvalidity > 0);
    assert_int_equal(st.size, strlen(msg1) + 2 * (strlen(msg2) + 4));
    assert_true(st.highestmodseq >= 3);

    /* the uid file was written before the UIDs were used */
    uint32_t uv, next;
    assert_int_equal(maildir_uidlist_read(c->maildir, &uv, &next), 0);
    assert_int_equal(uv, st.uidvalidity);
    assert_int_equal(next, 4);

    /* unknown mailbox, bad names */
    struct store_mailbox *none = NULL;
    assert_int_equal(store_mailbox_open(s, "Nope", &none, NULL), -ENOENT);
    assert_int_equal(store_mailbox_create(s, "../x", 0, NULL), -EINVAL);
    assert_int_equal(store_mailbox_create(s, "a/../../b", 0, NULL), -EINVAL);
    store_mailbox_close(m);
    store_close(s);
}

static void test_uids_never_reused(void **state)
{
    struct ctx *c = *state;
    struct store *s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    struct store_mailbox *m = open_mbox(s, "INBOX");
    for (int i = 0; i < 3; i++)
        append(m, msg1, 0);
    /* a handle's view changes only at a sync (EXISTS after APPEND) */
    assert_int_equal(store_mailbox_view(m)->count, 0);
    assert_int_equal(store_mailbox_sync(m, NULL, NULL), 0);
    assert_int_equal(store_mailbox_view(m)->count, 3);
    struct store_flags_result fr;
    struct store_uid_range r3 = {3, 3};
    assert_int_equal(
        store_set_flags(m, &r3, 1, STORE_FLAGS_ADD, STORE_FLAG_DELETED, NULL, 0, 0, &fr, NULL), 0);
    assert_int_equal(fr.changed.count, 1);
    store_flags_result_free(&fr);
    struct store_uids ex = {0};
    assert_int_equal(store_expunge(m, NULL, 0, true, &ex, NULL), 0);
    assert_int_equal(ex.count, 1);
    assert_int_equal(ex.uids[0], 3);
    store_uids_free(&ex);
    assert_int_equal(append(m, msg1, 0), 4); /* not 3 */
    struct store_status st;
    assert_int_equal(store_mailbox_get_status(m, &st, NULL), 0);
    uint32_t uidvalidity = st.uidvalidity;
    store_mailbox_close(m);
    store_close(s);

    /* the index goes away: rebuilt from the Maildir, same UIDVALIDITY and UIDs */
    char p[256];
    snprintf(p, sizeof(p), "%s/gannet.index.sqlite", c->maildir);
    assert_int_equal(unlink(p), 0);
    snprintf(p, sizeof(p), "%s/gannet.index.sqlite-wal", c->maildir);
    unlink(p);
    s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    m = open_mbox(s, "INBOX");
    assert_int_equal(store_mailbox_uidvalidity(m), uidvalidity);
    const struct store_uids *v = store_mailbox_view(m);
    assert_int_equal(v->count, 3);
    assert_int_equal(v->uids[0], 1);
    assert_int_equal(v->uids[1], 2);
    assert_int_equal(v->uids[2], 4);
    assert_int_equal(append(m, msg2, 0), 5);
    store_mailbox_close(m);
    store_close(s);

    /* a corrupt index file is rebuilt on open */
    snprintf(p, sizeof(p), "%s/gannet.index.sqlite", c->maildir);
    write_file(p, "this is not an SQLite database, not at all, no............");
    snprintf(p, sizeof(p), "%s/gannet.index.sqlite-wal", c->maildir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/gannet.index.sqlite-shm", c->maildir);
    unlink(p);
    s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    m = open_mbox(s, "INBOX");
    assert_int_equal(store_mailbox_uidvalidity(m), uidvalidity);
    assert_int_equal(store_mailbox_view(m)->count, 4);
    assert_int_equal(store_mailbox_view(m)->uids[3], 5);
    assert_int_equal(append(m, msg2, 0), 6);
    /* store_rebuild on a live store too */
    assert_int_equal(store_rebuild(s, NULL, NULL, NULL), 0);
    store_mailbox_close(m);
    m = open_mbox(s, "INBOX");
    assert_int_equal(store_mailbox_view(m)->count, 5);
    assert_int_equal(append(m, msg2, 0), 7);
    store_mailbox_close(m);
    store_close(s);
}

static void test_copy_move(void **state)
{
    struct ctx *c = *state;
    struct store *s = open_store(c, 0);
    struct store_mailbox *m = open_mbox(s, "INBOX");
    for (int i = 0; i < 4; i++)
        append(m, i % 2 ? msg2 : msg1, STORE_FLAG_SEEN);
    assert_int_equal(store_mailbox_sync(m, NULL, NULL), 0);
    struct store_copy_result res;
    struct store_uid_range set[] = {{2, 3}};
    assert_int_equal(store_copy(m, set, 1, "Archive", false, &res, NULL), 0);
    assert_int_equal(res.src_uids.count, 2);
    assert_int_equal(res.src_uids.uids[0], 2);
    assert_int_equal(res.dst_uids.uids[0], 1);
    assert_int_equal(res.dst_uids.uids[1], 2);
    struct store_status st;
    assert_int_equal(store_mailbox_status(s, "Archive", &st, NULL), 0);
    assert_int_equal(res.uidvalidity, st.uidvalidity);
    assert_int_equal(st.messages, 2);
    assert_int_equal(st.unseen, 0);
    store_copy_result_free(&res);

    /* move 1 and 4:* ("*" is the largest UID) into Trash */
    struct store_uid_range mv[] = {{1, 1}, {UINT32_MAX, 4}};
    assert_int_equal(store_copy(m, mv, 2, "Trash", true, &res, NULL), 0);
    assert_int_equal(res.src_uids.count, 2);
    assert_int_equal(res.src_uids.uids[1], 4);
    assert_int_equal(res.dst_uids.uids[1], 2);
    store_copy_result_free(&res);
    assert_int_equal(store_mailbox_view(m)->count, 2);
    assert_int_equal(store_mailbox_status(s, "INBOX", &st, NULL), 0);
    assert_int_equal(st.messages, 2);

    /* the bytes survive the move */
    struct store_mailbox *t = open_mbox(s, "Trash");
    struct store_fetch_iter *it;
    const struct store_message *msg;
    assert_int_equal(store_fetch_begin(t, NULL, 0, 0, &it, NULL), 0);
    assert_int_equal(store_fetch_next(it, &msg, NULL), 1);
    size_t len;
    char *bytes = read_file(msg->path, &len);
    assert_int_equal(len, strlen(msg1));
    assert_memory_equal(bytes, msg1, len);
    free(bytes);
    store_fetch_end(it);
    assert_int_equal(store_copy(m, set, 1, "Nope", false, &res, NULL), -ENOENT);
    store_mailbox_close(t);
    store_mailbox_close(m);
    store_close(s);
}

/* Flag changes seen during a STORE: another handle's and this one's, once,
 * with the view left alone (no expunge, no new message) and the next sync
 * not listing them again. */
static void test_flag_changes(void **state)
{
    struct ctx *c = *state;
    struct store *s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    struct store_mailbox *a = open_mbox(s, "INBOX");
    for (int i = 0; i < 3; i++)
        append(a, msg1, 0);
    assert_int_equal(store_mailbox_sync(a, NULL, NULL), 0);
    struct store_mailbox *b = open_mbox(s, "INBOX");
    struct store_uids changed = {0};
    assert_int_equal(store_mailbox_flag_changes(a, true, &changed, NULL), 0);
    assert_int_equal(changed.count, 0);

    /* b flags 2, expunges 3 and appends one */
    struct store_flags_result fr;
    struct store_uid_range two = {2, 2}, three = {3, 3}, one = {1, 1};
    assert_int_equal(
        store_set_flags(b, &two, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, NULL, 0, 0, &fr, NULL), 0);
    store_flags_result_free(&fr);
    assert_int_equal(store_expunge(b, &three, 1, false, NULL, NULL), 0);
    append(b, msg2, 0);
    /* looked at without counting them as told: listed again */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(store_mailbox_flag_changes(a, false, &changed, NULL), 0);
        assert_int_equal(changed.count, 1);
        assert_int_equal(changed.uids[0], 2);
        store_uids_free(&changed);
    }
    assert_int_equal(store_mailbox_flag_changes(a, true, &changed, NULL), 0);
    assert_int_equal(changed.count, 1);
    assert_int_equal(changed.uids[0], 2);
    store_uids_free(&changed);
    assert_int_equal(store_mailbox_view(a)->count, 3);

    /* a's own change is listed too, once */
    assert_int_equal(
        store_set_flags(a, &one, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, 0, &fr, NULL), 0);
    store_flags_result_free(&fr);
    assert_int_equal(store_mailbox_flag_changes(a, true, &changed, NULL), 0);
    assert_int_equal(changed.count, 1);
    assert_int_equal(changed.uids[0], 1);
    store_uids_free(&changed);
    assert_int_equal(store_mailbox_flag_changes(a, true, &changed, NULL), 0);
    assert_int_equal(changed.count, 0);

    /* the sync reports the expunge and the new message, not the flags again */
    struct store_sync_result res;
    assert_int_equal(store_mailbox_sync(a, &res, NULL), 0);
    assert_int_equal(res.expunged.count, 1);
    assert_int_equal(res.expunged.uids[0], 3);
    assert_int_equal(res.added.count, 1);
    assert_int_equal(res.flags_changed.count, 0);
    store_sync_result_free(&res);
    store_mailbox_close(b);
    store_mailbox_close(a);
    store_close(s);
}

static void test_sync_outside(void **state)
{
    struct ctx *c = *state;
    struct store *s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    struct store_mailbox *m = open_mbox(s, "INBOX");
    append(m, msg1, 0);
    append(m, msg1, 0);
    assert_int_equal(store_mailbox_sync(m, NULL, NULL), 0);
    /* another program delivers into new/ and cur/ */
    char p[512];
    snprintf(p, sizeof(p), "%s/new/1700000000.P1.otherhost", c->maildir);
    write_file(p, msg2);
    snprintf(p, sizeof(p), "%s/cur/1700000001.P2.otherhost:2,S", c->maildir);
    write_file(p, msg2);
    /* and a client of another program sets \Flagged on UID 1 by renaming */
    char *f1 = find_in(c->maildir, "cur", ",U=1:");
    assert_non_null(f1);
    char from[512], to[512];
    snprintf(from, sizeof(from), "%s/cur/%s", c->maildir, f1);
    snprintf(to, sizeof(to), "%s/cur/%.*sF", c->maildir, (int)(strchr(f1, ':') + 3 - f1), f1);
    assert_int_equal(rename(from, to), 0);
    free(f1);
    /* and removes UID 2 */
    char *f2 = find_in(c->maildir, "cur", ",U=2:");
    snprintf(from, sizeof(from), "%s/cur/%s", c->maildir, f2);
    assert_int_equal(unlink(from), 0);
    free(f2);

    struct store_sync_result res;
    assert_int_equal(store_mailbox_sync(m, &res, NULL), 0);
    assert_int_equal(res.added.count, 2);
    assert_int_equal(res.added.uids[0], 3);
    assert_int_equal(res.added.uids[1], 4);
    assert_int_equal(res.expunged.count, 1);
    assert_int_equal(res.expunged.uids[0], 2);
    assert_int_equal(res.flags_changed.count, 1);
    assert_int_equal(res.flags_changed.uids[0], 1);
    assert_int_equal(res.uidnext, 5);
    store_sync_result_free(&res);
    /* the file from new/ is in cur/ now, with its UID in the name */
    char *moved = find_in(c->maildir, "cur", "otherhost");
    assert_non_null(moved);
    free(moved);
    assert_null(find_in(c->maildir, "new", "otherhost"));

    struct store_fetch_iter *it;
    const struct store_message *msg;
    struct store_uid_range one = {1, 1};
    assert_int_equal(store_fetch_begin(m, &one, 1, 0, &it, NULL), 0);
    assert_int_equal(store_fetch_next(it, &msg, NULL), 1);
    assert_int_equal(msg->flags & STORE_FLAGS_STORED, STORE_FLAG_FLAGGED);
    store_fetch_end(it);
    /* the file put in cur/ with :2,S keeps \Seen; the one from new/ is \Recent */
    struct store_uid_range four = {4, 4}, new_ones = {3, 4};
    assert_int_equal(store_fetch_begin(m, &new_ones, 1, 0, &it, NULL), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(store_fetch_next(it, &msg, NULL), 1);
        if (strstr(msg->path, "1700000001.P2"))
            assert_int_equal(msg->flags, STORE_FLAG_SEEN);
        else
            assert_int_equal(msg->flags, STORE_FLAG_RECENT);
    }
    store_fetch_end(it);
    /* a second sync finds nothing */
    assert_int_equal(store_mailbox_sync(m, &res, NULL), 0);
    assert_int_equal(res.added.count + res.expunged.count + res.flags_changed.count, 0);
    store_sync_result_free(&res);
    /* flags set through the store rename the file */
    struct store_flags_result fr;
    assert_int_equal(store_set_flags(m, &four, 1, STORE_FLAGS_REPLACE, STORE_FLAG_ANSWERED, NULL, 0,
                                     0, &fr, NULL),
                     0);
    assert_true(fr.modseq > 0);
    store_flags_result_free(&fr);
    char *f4 = find_in(c->maildir, "cur", ",U=4:2,R");
    assert_non_null(f4);
    free(f4);
    /* UNCHANGEDSINCE (RFC 7162) */
    assert_int_equal(
        store_set_flags(m, &four, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, 1, &fr, NULL), 0);
    assert_int_equal(fr.modified.count, 1);
    assert_int_equal(fr.changed.count, 0);
    store_flags_result_free(&fr);
    store_mailbox_close(m);
    store_close(s);
}

/* Runs SQL on the index file as another program would. */
static void index_sql(struct ctx *c, const char *sql)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/gannet.index.sqlite", c->maildir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

static char *index_schema(struct ctx *c)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/gannet.index.sqlite", c->maildir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema'", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char *v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* s with every `from` replaced by `to`, as an SQL string literal. */
static char *sql_replace(const char *s, const char *from, const char *to)
{
    struct buf b = BUF_INIT;
    buf_putc(&b, '\'');
    size_t flen = strlen(from);
    while (*s) {
        if (strncmp(s, from, flen) == 0) {
            buf_puts(&b, to);
            s += flen;
        } else {
            if (*s == '\'')
                buf_putc(&b, '\'');
            buf_putc(&b, *s++);
        }
    }
    buf_putc(&b, '\'');
    return buf_steal(&b);
}

/* An index of schema 1 cached the ENVELOPE of repeated To/Cc fields with the
 * last field's addresses only: opened by this version it is migrated in place
 * (the cached ENVELOPE, BODY and BODYSTRUCTURE recomputed from the files),
 * not rebuilt, so MODSEQs and a special-use set by a client stay. */
static void test_schema_migration(void **state)
{
    struct ctx *c = *state;
    static const char msg[] = "From: a@example.com\r\nTo: a@x.org\r\nTo: b@y.org\r\n"
                              "Subject: two To lines\r\nMIME-Version: 1.0\r\n"
                              "Content-Type: message/rfc822\r\n\r\n"
                              "From: c@example.com\r\nCc: c1@x.org\r\nCc: c2@y.org\r\n"
                              "Subject: inner\r\n\r\ninner body\r\n";
    struct store *s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    assert_int_equal(store_mailbox_create(s, "Projects", STORE_SPECIAL_FLAGGED, NULL), 0);
    struct store_mailbox *m = open_mbox(s, "INBOX");
    assert_int_equal(append(m, msg, 0), 1);
    assert_int_equal(store_mailbox_sync(m, NULL, NULL), 0);
    struct store_uid_range one = {1, 1};
    struct store_flags_result fr;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_set_flags(m, &one, 1, i % 2 ? STORE_FLAGS_REMOVE : STORE_FLAGS_ADD,
                                         STORE_FLAG_SEEN, NULL, 0, 0, &fr, NULL),
                         0);
        assert_int_equal(fr.changed.count, 1);
        store_flags_result_free(&fr);
    }
    struct store_status before;
    assert_int_equal(store_mailbox_status(s, "INBOX", &before, NULL), 0);
    assert_true(before.highestmodseq > 3);
    struct store_fetch_iter *it;
    const struct store_message *fm;
    unsigned want = STORE_FETCH_ENVELOPE | STORE_FETCH_BODY | STORE_FETCH_BODYSTRUCTURE;
    assert_int_equal(store_fetch_begin(m, NULL, 0, want, &it, NULL), 0);
    assert_int_equal(store_fetch_next(it, &fm, NULL), 1);
    uint64_t modseq = fm->modseq;
    char *envelope = strdup(fm->envelope), *body = strdup(fm->body),
         *bodystructure = strdup(fm->bodystructure);
    store_fetch_end(it);
    store_mailbox_close(m);
    store_close(s);
    assert_non_null(
        strstr(envelope, "((NIL NIL \"a\" \"x.org\")(NIL NIL \"b\" \"y.org\")) NIL NIL NIL NIL)"));
    assert_non_null(
        strstr(bodystructure, "((NIL NIL \"c1\" \"x.org\")(NIL NIL \"c2\" \"y.org\"))"));

    /* what the code of schema 1 stored, and its version number */
    char *old_env =
        sql_replace(envelope, "(NIL NIL \"a\" \"x.org\")(NIL NIL \"b\"", "(NIL NIL \"b\"");
    char *old_body =
        sql_replace(body, "(NIL NIL \"c1\" \"x.org\")(NIL NIL \"c2\"", "(NIL NIL \"c2\"");
    char *old_bs =
        sql_replace(bodystructure, "(NIL NIL \"c1\" \"x.org\")(NIL NIL \"c2\"", "(NIL NIL \"c2\"");
    assert_null(strstr(old_env, "\"a\" \"x.org\""));
    assert_null(strstr(old_body, "\"c1\""));
    assert_null(strstr(old_bs, "\"c1\""));
    struct buf sql = BUF_INIT;
    buf_printf(&sql,
               "UPDATE meta SET value = '1' WHERE key = 'schema';"
               " UPDATE messages SET envelope = %s, body = %s, bodystructure = %s;",
               old_env, old_body, old_bs);
    index_sql(c, buf_cstr(&sql));
    buf_free(&sql);
    free(old_env);
    free(old_body);
    free(old_bs);
    char *v = index_schema(c);
    assert_string_equal(v, "1");
    free(v);

    s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    v = index_schema(c);
    assert_string_equal(v, "2");
    free(v);
    m = open_mbox(s, "INBOX");
    assert_int_equal(store_fetch_begin(m, NULL, 0, want, &it, NULL), 0);
    assert_int_equal(store_fetch_next(it, &fm, NULL), 1);
    assert_string_equal(fm->envelope, envelope);
    assert_string_equal(fm->body, body);
    assert_string_equal(fm->bodystructure, bodystructure);
    /* migrated, not rebuilt: nothing moved aside, the index's own state kept */
    assert_int_equal(fm->modseq, modseq);
    store_fetch_end(it);
    char p[256];
    snprintf(p, sizeof(p), "%s/gannet.index.sqlite.corrupt", c->maildir);
    assert_int_equal(access(p, F_OK), -1);
    struct store_status after;
    assert_int_equal(store_mailbox_status(s, "INBOX", &after, NULL), 0);
    assert_int_equal(after.highestmodseq, before.highestmodseq);
    struct store_mailbox_info *list;
    size_t n;
    assert_int_equal(store_mailbox_list(s, &list, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[1].name, "Projects");
    assert_int_equal(list[1].special_use, STORE_SPECIAL_FLAGGED);
    store_mailbox_list_free(list, n);
    store_mailbox_close(m);
    store_close(s);

    /* a schema version it does not know is rebuilt from the Maildir */
    index_sql(c, "UPDATE meta SET value = '99' WHERE key = 'schema';"
                 " UPDATE messages SET envelope = 'stale'");
    s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    assert_int_equal(access(p, F_OK), 0);
    v = index_schema(c);
    assert_string_equal(v, "2");
    free(v);
    m = open_mbox(s, "INBOX");
    assert_int_equal(store_fetch_begin(m, NULL, 0, want, &it, NULL), 0);
    assert_int_equal(store_fetch_next(it, &fm, NULL), 1);
    assert_int_equal(fm->uid, 1);
    assert_string_equal(fm->envelope, envelope);
    store_fetch_end(it);
    store_mailbox_close(m);
    store_close(s);

    /* so is a version that is not a number ("2junk" is not schema 2) */
    index_sql(c, "UPDATE meta SET value = '2junk' WHERE key = 'schema';"
                 " UPDATE messages SET envelope = 'stale'");
    s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    v = index_schema(c);
    assert_string_equal(v, "2");
    free(v);
    m = open_mbox(s, "INBOX");
    assert_int_equal(store_fetch_begin(m, NULL, 0, want, &it, NULL), 0);
    assert_int_equal(store_fetch_next(it, &fm, NULL), 1);
    assert_string_equal(fm->envelope, envelope);
    store_fetch_end(it);
    store_mailbox_close(m);
    store_close(s);
    free(envelope);
    free(body);
    free(bodystructure);
}

static void test_mailboxes(void **state)
{
    struct ctx *c = *state;
    struct store *s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    assert_int_equal(store_mailbox_create(s, "Work/2026/Q1", 0, NULL), 0);
    assert_int_equal(store_mailbox_create(s, "Work", 0, NULL), -EEXIST);
    assert_int_equal(store_mailbox_create(s, "台北", 0, NULL), 0);
    char p[256];
    snprintf(p, sizeof(p), "%s/.&U,BTFw-/cur", c->maildir);
    assert_int_equal(access(p, F_OK), 0);
    struct store_mailbox *m = open_mbox(s, "Work/2026");
    append(m, msg1, 0);
    store_mailbox_close(m);
    struct store_status before;
    assert_int_equal(store_mailbox_status(s, "Work/2026", &before, NULL), 0);
    assert_int_equal(store_mailbox_rename(s, "Work", "Old/Work", NULL), 0);
    assert_false(store_mailbox_exists(s, "Work/2026"));
    assert_true(store_mailbox_exists(s, "Old/Work/2026/Q1"));
    struct store_status after;
    assert_int_equal(store_mailbox_status(s, "Old/Work/2026", &after, NULL), 0);
    assert_int_equal(after.uidvalidity, before.uidvalidity);
    assert_int_equal(after.messages, 1);
    snprintf(p, sizeof(p), "%s/.Old.Work.2026.Q1/cur", c->maildir);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(store_mailbox_delete(s, "Old/Work", NULL), -ENOTEMPTY);
    assert_int_equal(store_mailbox_delete(s, "INBOX", NULL), -EPERM);
    assert_int_equal(store_mailbox_delete(s, "Old/Work/2026/Q1", NULL), 0);
    assert_false(store_mailbox_exists(s, "Old/Work/2026/Q1"));
    /* subscriptions survive a rebuild */
    assert_int_equal(store_mailbox_subscribe(s, "台北", true, NULL), 0);
    struct store_mailbox_info *list;
    size_t n;
    assert_int_equal(store_mailbox_list(s, &list, &n, NULL), 0);
    bool old_children = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, "Old") == 0)
            old_children = list[i].has_children;
    assert_true(old_children);
    store_mailbox_list_free(list, n);
    /* recreating a deleted mailbox gives a new UIDVALIDITY */
    assert_int_equal(store_mailbox_create(s, "X", 0, NULL), 0);
    struct store_status sx1, sx2;
    store_mailbox_status(s, "X", &sx1, NULL);
    assert_int_equal(store_mailbox_delete(s, "X", NULL), 0);
    assert_int_equal(store_mailbox_create(s, "X", 0, NULL), 0);
    store_mailbox_status(s, "X", &sx2, NULL);
    assert_int_not_equal(sx1.uidvalidity, sx2.uidvalidity);
    assert_int_equal(store_rebuild(s, NULL, NULL, NULL), 0);
    assert_int_equal(store_mailbox_list(s, &list, &n, NULL), 0);
    bool sub = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, "台北") == 0)
            sub = list[i].subscribed;
    assert_true(sub);
    store_mailbox_list_free(list, n);
    store_close(s);
}

static void test_dovecot_import(void **state)
{
    struct ctx *c = *state;
    /* A Dovecot Maildir written by hand: INBOX with two messages and a keyword,
     * a folder with one. */
    char src[256], p[512];
    snprintf(src, sizeof(src), "%s/dovecot", c->root);
    assert_int_equal(maildir_create_dirs(src, false, NULL), 0);
    snprintf(p, sizeof(p), "%s/dovecot-uidlist", src);
    write_file(p, "3 V1234567890 N12 G3085f01b7f11094c501100008c4a11c1\n"
                  "5 :1700000000.M1P1.dove,S=50,W=52\n"
                  "11 :1700000001.M2P1.dove\n");
    snprintf(p, sizeof(p), "%s/dovecot-keywords", src);
    write_file(p, "0 $Forwarded\n1 Important\n");
    snprintf(p, sizeof(p), "%s/cur/1700000000.M1P1.dove,S=50,W=52:2,Sa", src);
    write_file(p, msg1);
    snprintf(p, sizeof(p), "%s/cur/1700000001.M2P1.dove:2,b", src);
    write_file(p, msg2);
    snprintf(p, sizeof(p), "%s/.Lists", src);
    assert_int_equal(maildir_create_dirs(p, true, NULL), 0);
    snprintf(p, sizeof(p), "%s/.Lists/dovecot-uidlist", src);
    write_file(p, "3 V1234567999 N3\n2 :1700000002.M3P1.dove\n");
    snprintf(p, sizeof(p), "%s/.Lists/new/1700000002.M3P1.dove", src);
    write_file(p, msg2);

    struct store *s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    struct buf err = BUF_INIT;
    int n = store_import_maildir(s, src, NULL, NULL, &err);
    if (n < 0)
        fail_msg("import: %s", buf_cstr(&err));
    buf_free(&err);
    assert_int_equal(n, 3);
    struct store_mailbox *m = open_mbox(s, "INBOX");
    assert_int_equal(store_mailbox_uidvalidity(m), 1234567890);
    const struct store_uids *v = store_mailbox_view(m);
    assert_int_equal(v->count, 2);
    assert_int_equal(v->uids[0], 5);
    assert_int_equal(v->uids[1], 11);
    struct store_fetch_iter *it;
    const struct store_message *msg;
    assert_int_equal(store_fetch_begin(m, NULL, 0, 0, &it, NULL), 0);
    assert_int_equal(store_fetch_next(it, &msg, NULL), 1);
    assert_int_equal(msg->keyword_count, 1);
    assert_string_equal(msg->keywords[0], "$Forwarded");
    assert_true(msg->flags & STORE_FLAG_SEEN);
    assert_int_equal(store_fetch_next(it, &msg, NULL), 1);
    assert_int_equal(msg->keyword_count, 1);
    assert_string_equal(msg->keywords[0], "Important");
    store_fetch_end(it);
    struct store_status st;
    assert_int_equal(store_mailbox_get_status(m, &st, NULL), 0);
    assert_int_equal(st.uidnext, 12);
    assert_int_equal(append(m, msg1, 0), 12);
    store_mailbox_close(m);
    m = open_mbox(s, "Lists");
    assert_int_equal(store_mailbox_uidvalidity(m), 1234567999);
    assert_int_equal(store_mailbox_view(m)->count, 1);
    assert_int_equal(store_mailbox_view(m)->uids[0], 2);
    store_mailbox_close(m);
    store_close(s);

    /* the same Dovecot Maildir used in place: opened with no index, kept */
    s = NULL;
    assert_int_equal(store_open(src, 0, &s, NULL), 0);
    m = open_mbox(s, "INBOX");
    assert_int_equal(store_mailbox_uidvalidity(m), 1234567890);
    assert_int_equal(store_mailbox_view(m)->uids[1], 11);
    store_mailbox_close(m);
    store_close(s);
}

/* dovecot-uidlist comes from outside (imports): a number that does not fit in
 * 32 bits is refused, never cut to its low bits (V4294967297 is not
 * UIDVALIDITY 1). */
static void test_dovecot_uidlist_numbers(void **state)
{
    struct ctx *c = *state;
    char src[256], p[512];
    snprintf(src, sizeof(src), "%s/dovecot", c->root);
    assert_int_equal(maildir_create_dirs(src, false, NULL), 0);
    snprintf(p, sizeof(p), "%s/dovecot-uidlist", src);
    static const char *const bad_headers[] = {
        "3 V4294967297 N12\n5 :a\n",
        "3 V1234567890 N4294967301\n5 :a\n",
        "3 V12x N5\n5 :a\n",
        "3 V-1 N5\n5 :a\n",
        "3 V N5\n5 :a\n",
        "1 4294967297 5\n5 a\n",
        "1 1234 18446744073709551621\n5 a\n",
    };
    struct dovecot_uidlist l;
    for (size_t i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++) {
        write_file(p, bad_headers[i]);
        if (dovecot_uidlist_read(src, &l) != -EINVAL)
            fail_msg("header %zu read as UIDVALIDITY %u, next UID %u", i, l.uidvalidity, l.nextuid);
        dovecot_uidlist_free(&l);
    }
    /* Entries whose UID does not fit are left out, not wrapped. */
    write_file(p, "3 V1234567890 N12\n"
                  "4294967301 :wrapped\n"
                  "18446744073709551623 :wrapped64\n"
                  "7x :junk\n"
                  "7 :kept\n");
    assert_int_equal(dovecot_uidlist_read(src, &l), 0);
    assert_int_equal(l.uidvalidity, 1234567890);
    assert_int_equal(l.nextuid, 12);
    assert_int_equal(l.count, 1);
    assert_int_equal(dovecot_uidlist_lookup(&l, "kept"), 7);
    assert_int_equal(dovecot_uidlist_lookup(&l, "wrapped"), 0);
    assert_int_equal(dovecot_uidlist_lookup(&l, "wrapped64"), 0);
    dovecot_uidlist_free(&l);

    /* Imported, the mailbox gets a UIDVALIDITY of its own, not 1. */
    write_file(p, "3 V4294967297 N12\n5 :1700000000.M1P1.dove\n");
    snprintf(p, sizeof(p), "%s/cur/1700000000.M1P1.dove:2,S", src);
    write_file(p, msg1);
    struct store *s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    struct buf err = BUF_INIT;
    int n = store_import_maildir(s, src, NULL, NULL, &err);
    if (n < 0)
        fail_msg("import: %s", buf_cstr(&err));
    buf_free(&err);
    assert_int_equal(n, 1);
    struct store_mailbox *m = open_mbox(s, "INBOX");
    assert_int_not_equal(store_mailbox_uidvalidity(m), 1);
    store_mailbox_close(m);
    store_close(s);
}

/* Numbers in file names, gannet-uidlist and dovecot-keywords: digits only,
 * and a number too big for its field leaves the field unset, never wrapped. */
static void test_maildir_numbers(void **state)
{
    struct ctx *c = *state;
    struct maildir_filename fn;
    assert_true(maildir_filename_parse("1700000000.M1P1.h,S=50,W=52,U=7:2,S", &fn));
    assert_int_equal(fn.size, 50);
    assert_int_equal(fn.vsize, 52);
    assert_int_equal(fn.uid, 7);
    maildir_filename_free(&fn);
    /* 2^64 + 1 and 2^64 + 2 would wrap to 1 and 2 */
    assert_true(maildir_filename_parse(
        "1700000000.M1P1.h,S=18446744073709551617,W=18446744073709551618,U=4294967297:2,", &fn));
    assert_int_equal(fn.size, 0);
    assert_int_equal(fn.vsize, 0);
    assert_int_equal(fn.uid, 0);
    maildir_filename_free(&fn);

    char dir[256], p[512];
    snprintf(dir, sizeof(dir), "%s/numbers", c->root);
    assert_int_equal(maildir_create_dirs(dir, false, NULL), 0);
    snprintf(p, sizeof(p), "%s/gannet-uidlist", dir);
    uint32_t uv = 0, next = 0;
    write_file(p, "gannet-uidlist 1\nV 12\nN 5\n");
    assert_int_equal(maildir_uidlist_read(dir, &uv, &next), 0);
    assert_int_equal(uv, 12);
    assert_int_equal(next, 5);
    static const char *const bad_uidlists[] = {
        "gannet-uidlist 1\nV 12x\nN 5\n",
        "gannet-uidlist 1\nV 12\nN +5\n",
        "gannet-uidlist 1\nV  12\nN 5\n",
        "gannet-uidlist 1\nV 18446744073709551628\nN 5\n",
    };
    for (size_t i = 0; i < sizeof(bad_uidlists) / sizeof(bad_uidlists[0]); i++) {
        write_file(p, bad_uidlists[i]);
        if (maildir_uidlist_read(dir, &uv, &next) != -EINVAL)
            fail_msg("gannet-uidlist %zu read as V %u N %u", i, uv, next);
    }

    snprintf(p, sizeof(p), "%s/dovecot-keywords", dir);
    write_file(p, "0 $Forwarded\n 1 Spaced\n+2 Plus\n3x Junk\n4 Kept\n");
    struct maildir_keywords kw;
    assert_int_equal(maildir_keywords_read(dir, &kw), 0);
    assert_int_equal(kw.count, 5);
    assert_string_equal(kw.names[0], "$Forwarded");
    assert_null(kw.names[1]);
    assert_null(kw.names[2]);
    assert_null(kw.names[3]);
    assert_string_equal(kw.names[4], "Kept");
    maildir_keywords_free(&kw);
}

static void test_search(void **state)
{
    struct ctx *c = *state;
    struct store *s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    struct store_mailbox *m = open_mbox(s, "INBOX");
    append(m, msg1, 0);
    append(m, msg2, 0);
    assert_int_equal(store_mailbox_sync(m, NULL, NULL), 0);
    struct store_uids u = {0};
    assert_int_equal(store_search_text(m, STORE_SEARCH_TEXT, "zebra", &u, NULL), 0);
    assert_int_equal(u.count, 1);
    assert_int_equal(u.uids[0], 1);
    store_uids_free(&u);
    assert_int_equal(store_search_text(m, STORE_SEARCH_HEADER, "second", &u, NULL), 0);
    assert_int_equal(u.count, 1);
    assert_int_equal(u.uids[0], 2);
    store_uids_free(&u);
    assert_int_equal(store_search_text(m, STORE_SEARCH_BODY, "second", &u, NULL), 0);
    assert_int_equal(u.count, 0);
    assert_int_equal(store_search_text(m, STORE_SEARCH_BODY, "\"quoted\" OR NEAR(", &u, NULL), 0);
    store_uids_free(&u);
    store_mailbox_close(m);
    store_close(s);
}

/* Two processes on one mailbox: each change is seen through inotify in well
 * under a second. */
/* SEARCH's substring semantics: the index narrows to a superset of the
 * messages holding the needle, or says it cannot; the text it keeps is there
 * to confirm each candidate. */
static void test_search_substring(void **state)
{
    struct ctx *c = *state;
    struct store *s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    struct store_mailbox *m = open_mbox(s, "INBOX");
    static const char *const msgs[] = {
        "Subject: one\r\n\r\nthe meeting tomorrow morning\r\n",
        "Subject: two\r\n\r\nno meetings tomorrow\r\n",
        "Subject: three\r\n\r\nshell of a nut\r\n",
        "Subject: =?utf-8?q?K=C3=A4se?=\r\n\r\n=?utf-8?q?not_decoded_in_a_body?=\r\n",
    };
    for (size_t i = 0; i < 4; i++)
        append(m, msgs[i], 0);
    assert_int_equal(store_mailbox_sync(m, NULL, NULL), 0);
    struct store_uids u = {0};
    bool narrowed = true;
    /* one word: "ello" may be inside any word, the index cannot tell */
    assert_int_equal(store_search_substring(m, STORE_SEARCH_BODY, "ello", 4, &u, &narrowed, NULL),
                     0);
    assert_false(narrowed);
    assert_int_equal(u.count, 0);
    /* "meeting tom": "meeting" may end a longer word, "tom" starts one */
    assert_int_equal(
        store_search_substring(m, STORE_SEARCH_BODY, "meeting tom", 11, &u, &narrowed, NULL), 0);
    assert_true(narrowed);
    assert_int_equal(u.count, 2);
    assert_int_equal(u.uids[0], 1);
    assert_int_equal(u.uids[1], 2);
    store_uids_free(&u);
    /* " nut": a whole word, or the start of one, after a separator */
    assert_int_equal(store_search_substring(m, STORE_SEARCH_BODY, " NU", 3, &u, &narrowed, NULL),
                     0);
    assert_true(narrowed);
    assert_int_equal(u.count, 1);
    assert_int_equal(u.uids[0], 3);
    store_uids_free(&u);
    /* " - ": nothing the index keeps, no narrowing (not "no message") */
    assert_int_equal(
        store_search_substring(m, STORE_SEARCH_TEXT, "x \xe2\x80\x94 ", 6, &u, &narrowed, NULL), 0);
    assert_false(narrowed);
    /* the header field words are decoded: "k\xc3\xa4se" in the headers only */
    assert_int_equal(
        store_search_substring(m, STORE_SEARCH_HEADER, ": K\xc3\xa4se", 8, &u, &narrowed, NULL), 0);
    assert_true(narrowed);
    assert_int_equal(u.count, 1);
    assert_int_equal(u.uids[0], 4);
    store_uids_free(&u);
    /* a prefix word: "morn*" */
    assert_int_equal(store_search_text(m, STORE_SEARCH_BODY, "morn*", &u, NULL), 0);
    assert_int_equal(u.count, 1);
    store_uids_free(&u);

    /* the text it keeps, for the UIDs asked, in order */
    struct store_uid_range set[] = {{4, 4}, {2, 2}};
    struct store_text_iter *it;
    const struct store_text *t;
    assert_int_equal(store_text_begin(m, set, 2, &it, NULL), 0);
    assert_int_equal(store_text_next(it, &t, NULL), 1);
    assert_int_equal(t->uid, 2);
    assert_string_equal(t->body, "no meetings tomorrow\r\n");
    assert_int_equal(t->body_len, strlen("no meetings tomorrow\r\n"));
    assert_int_equal(store_text_next(it, &t, NULL), 1);
    assert_int_equal(t->uid, 4);
    assert_string_equal(t->headers, "Subject: K\xc3\xa4se\n");
    assert_int_equal(store_text_next(it, &t, NULL), 0);
    store_text_end(it);

    /* one read transaction over many reads; the handle writes again after */
    assert_int_equal(store_read_begin(m, NULL), 0);
    struct store_fetch_iter *fit;
    const struct store_message *msg;
    assert_int_equal(store_fetch_begin(m, NULL, 0, 0, &fit, NULL), 0);
    int n = 0;
    while (store_fetch_next(fit, &msg, NULL) > 0)
        n++;
    store_fetch_end(fit);
    store_read_end(m);
    assert_int_equal(n, 4);
    append(m, msgs[0], 0);
    store_mailbox_close(m);
    store_close(s);
}

/* One pass over the index's records of the view, in UID order. */
static void test_scan(void **state)
{
    struct ctx *c = *state;
    struct store *s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    struct store_mailbox *m = open_mbox(s, "INBOX");
    append(m, msg1, STORE_FLAG_SEEN);
    append(m, msg2, 0);
    append(m, msg1, STORE_FLAG_FLAGGED);
    assert_int_equal(store_mailbox_sync(m, NULL, NULL), 0);
    /* in the index, not yet in the view */
    append(m, msg2, 0);
    const char *kw[] = {"$Work"};
    struct store_uid_range two = {2, 2};
    struct store_flags_result res = {0};
    assert_int_equal(store_set_flags(m, &two, 1, STORE_FLAGS_ADD, 0, kw, 1, 0, &res, NULL), 0);
    store_flags_result_free(&res);
    struct store_scan_iter *it;
    const struct store_message *msg;
    assert_int_equal(store_scan_begin(m, 1, UINT32_MAX - 1, 0, &it, NULL), 0);
    assert_int_equal(store_scan_next(it, &msg, NULL), 1);
    assert_int_equal(msg->uid, 1);
    assert_int_equal(msg->flags & STORE_FLAGS_STORED, STORE_FLAG_SEEN);
    assert_int_equal(msg->internal_date, 1700000000);
    assert_int_equal(msg->virtual_size, strlen(msg1));
    assert_int_not_equal(msg->sent_date, 0);
    assert_int_equal(store_scan_next(it, &msg, NULL), 1);
    assert_int_equal(msg->uid, 2);
    assert_int_equal(msg->keyword_count, 1);
    assert_string_equal(msg->keywords[0], "$Work");
    assert_int_equal(msg->sent_date, 0);
    uint64_t modseq2 = msg->modseq;
    assert_int_equal(store_scan_next(it, &msg, NULL), 1);
    assert_int_equal(msg->uid, 3);
    assert_true(msg->modseq < modseq2);
    assert_int_equal(store_scan_next(it, &msg, NULL), 0);
    store_scan_end(it);
    assert_int_equal(store_scan_begin(m, 2, 2, STORE_FETCH_HEADERS, &it, NULL), 0);
    assert_int_equal(store_scan_next(it, &msg, NULL), 1);
    assert_int_equal(msg->uid, 2);
    assert_string_equal(store_scan_headers(it), "From: c@example.com\nSubject: second\n\r\n");
    assert_int_equal(store_scan_next(it, &msg, NULL), 0);
    store_scan_end(it);
    store_mailbox_close(m);
    store_close(s);
}

static void test_notify(void **state)
{
    struct ctx *c = *state;
    struct store *s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    struct store_mailbox *m = open_mbox(s, "INBOX");
    append(m, msg1, 0);
    store_mailbox_close(m);
    int fd = store_notify_fd(s);
    assert_true(fd >= 0);
    assert_int_equal(store_notify_watch(s, "INBOX", NULL), 0);
    m = open_mbox(s, "INBOX");
    char **names = NULL;
    size_t count = 0;
    store_notify_changed(s, &names, &count, NULL); /* drain our own */
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);

    for (int step = 0; step < 4; step++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            struct store *s2 = NULL;
            if (store_open(c->maildir, 0, &s2, NULL) < 0)
                _exit(1);
            struct store_mailbox *m2 = NULL;
            if (store_mailbox_open(s2, "INBOX", &m2, NULL) < 0)
                _exit(2);
            struct store_uid_range one = {1, 1};
            struct store_flags_result fr;
            int r = 0;
            if (step == 0)
                r = store_append(m2, msg2, strlen(msg2), NULL, NULL, NULL);
            else if (step == 1)
                r = store_set_flags(m2, &one, 1, STORE_FLAGS_ADD, STORE_FLAG_SEEN, NULL, 0, 0, &fr,
                                    NULL);
            else if (step == 2)
                r = store_expunge(m2, &one, 1, false, NULL, NULL);
            if (step == 3) {
                /* a delivery by another program */
                char p[512];
                snprintf(p, sizeof(p), "%s/new/1700000009.P9.mta", c->maildir);
                write_file(p, msg2);
            }
            if (step == 1)
                store_flags_result_free(&fr);
            store_mailbox_close(m2);
            store_close(s2);
            _exit(r < 0 ? 3 : 0);
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, 1000), 1);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        names = NULL;
        count = 0;
        assert_true(store_notify_changed(s, &names, &count, NULL) >= 1);
        assert_string_equal(names[0], "INBOX");
        for (size_t i = 0; i < count; i++)
            free(names[i]);
        free(names);
        struct store_sync_result res;
        assert_int_equal(store_mailbox_sync(m, &res, NULL), 0);
        if (step == 0 || step == 3)
            assert_int_equal(res.added.count, 1);
        if (step == 1)
            assert_int_equal(res.flags_changed.count, 1);
        if (step == 2)
            assert_int_equal(res.expunged.count, 1);
        store_sync_result_free(&res);
    }
    store_mailbox_close(m);
    store_close(s);
}

/* Bytes this process read so far, from every read(2) and pread(2)
 * (/proc/self/io "rchar"). */
static uint64_t bytes_read(void)
{
    FILE *f = fopen("/proc/self/io", "re");
    assert_non_null(f);
    char line[128];
    unsigned long long v = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "rchar: %llu", &v) == 1)
            break;
    fclose(f);
    return v;
}

/* Resident set size in bytes (/proc/self/status "VmRSS"). */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    assert_non_null(f);
    char line[128];
    unsigned long kb = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %lu kB", &kb) == 1)
            break;
    fclose(f);
    return (size_t)kb * 1024;
}

/* A ~52 MB message appended through begin/write/commit in 64 KiB chunks, as
 * an APPEND literal arrives: the message parser is fed as the data comes, so
 * the heap does not grow with the message, and the commit does not read the
 * file again (it would do so inside the index's write lock, which every other
 * session of the user waits for). */
static void test_append_streaming_big(void **state)
{
    struct ctx *c = *state;
    static char chunk[65536];
    const char *head =
        "From: a@b.example\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\n"
        "Content-Type: text/plain\r\n\r\nhello zebra\r\n--zz\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    const char *tail = "\r\n--zz--\r\n";
    for (size_t i = 0; i < sizeof(chunk); i += 78) {
        size_t n = sizeof(chunk) - i < 78 ? sizeof(chunk) - i : 78;
        memset(chunk + i, 'A', n);
        if (n == 78)
            memcpy(chunk + i + 76, "\r\n", 2);
    }
    struct store *s = open_store(c, STORE_OPEN_NO_SPECIAL_USE);
    struct store_mailbox *m = open_mbox(s, "INBOX");
    append(m, msg1, 0); /* the index's statements and pages are in use once */
    struct store_append_options o = {.internal_date = 1700000000};
    struct store_append_ctx *ac = NULL;
    struct buf err = BUF_INIT;
    assert_int_equal(store_append_begin(m, &o, &ac, &err), 0);
    assert_int_equal(store_append_write(ac, head, strlen(head), &err), 0);
    assert_int_equal(store_append_write(ac, chunk, sizeof(chunk), &err), 0);
    size_t heap_first = mallinfo2().uordblks, rss_first = rss_bytes();
    const int rounds = 800;
    for (int i = 1; i < rounds; i++)
        assert_int_equal(store_append_write(ac, chunk, sizeof(chunk), &err), 0);
    assert_int_equal(store_append_write(ac, tail, strlen(tail), &err), 0);
    size_t heap_written = mallinfo2().uordblks;
    uint64_t read_before = bytes_read();
    uint32_t uid = 0;
    if (store_append_commit(ac, &uid, &err) < 0)
        fail_msg("commit: %s", buf_cstr(&err));
    uint64_t read_in_commit = bytes_read() - read_before;
    size_t heap_committed = mallinfo2().uordblks, rss_committed = rss_bytes();
    print_message("52 MB append: heap +%zu bytes while writing, +%zu after the commit;"
                  " RSS +%zu kB; the commit read %llu bytes\n",
                  heap_written > heap_first ? heap_written - heap_first : 0,
                  heap_committed > heap_first ? heap_committed - heap_first : 0,
                  rss_committed > rss_first ? (rss_committed - rss_first) / 1024 : 0,
                  (unsigned long long)read_in_commit);
    assert_true(heap_written < heap_first + 2 * 1024 * 1024);
    assert_true(heap_committed < heap_first + 2 * 1024 * 1024);
    assert_true(rss_committed < rss_first + 2 * 1024 * 1024);
    assert_true(read_in_commit < 1024 * 1024);
    assert_int_equal(uid, 2);

    /* What the streaming parse gave is what the index holds. */
    assert_int_equal(store_mailbox_sync(m, NULL, NULL), 0);
    uint64_t total = strlen(head) + (uint64_t)rounds * sizeof(chunk) + strlen(tail);
    struct store_uid_range one = {uid, uid};
    struct store_fetch_iter *it = NULL;
    const struct store_message *msg = NULL;
    assert_int_equal(
        store_fetch_begin(m, &one, 1, STORE_FETCH_ENVELOPE | STORE_FETCH_BODYSTRUCTURE, &it, NULL),
        0);
    assert_int_equal(store_fetch_next(it, &msg, NULL), 1);
    assert_int_equal(msg->size, total);
    assert_int_equal(msg->virtual_size, total);
    assert_non_null(strstr(msg->envelope, "\"big\""));
    char want[512];
    snprintf(want, sizeof(want),
             "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 0 NIL NIL NIL"
             " NIL)(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" %llu NIL NIL NIL"
             " NIL) \"mixed\" (\"boundary\" \"zz\") NIL NIL NIL)",
             (unsigned long long)rounds * sizeof(chunk));
    assert_string_equal(msg->bodystructure, want);
    struct stat st;
    assert_int_equal(stat(msg->path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, total);
    store_fetch_end(it);
    struct store_uids found = {0};
    assert_int_equal(store_search_text(m, STORE_SEARCH_BODY, "zebra", &found, NULL), 0);
    assert_int_equal(found.count, 2);
    store_uids_free(&found);
    buf_free(&err);
    store_mailbox_close(m);
    store_close(s);
}

/* A session's store work on its serial queue, as IMAP does it: the store is
 * opened by the first job and closed by the final job of the queue's close,
 * each job runs on a pool thread and its answer comes back on the loop; a job
 * still waiting when the session ends never runs. */
struct session_store {
    struct ctx *c;
    struct event_base *base;
    pthread_t loop;
    struct store *store;         /* used by the queue's jobs only */
    struct store_mailbox *inbox; /* idem */
    int open_r, append_r, status_r;
    uint32_t uids[3];
    uint32_t messages;
    int answers;
    bool answer_off_loop, work_on_loop;
    bool late_ran, late_cancelled;
    bool closed;
};

static void job_open(void *arg)
{
    struct session_store *ss = arg;
    ss->work_on_loop |= pthread_equal(pthread_self(), ss->loop) != 0;
    struct store_user u = {.user = "bob", .home = ss->c->root, .uid = -1, .gid = -1};
    ss->open_r = store_user_open(&u, "maildir:~/Maildir", STORE_OPEN_CREATE, &ss->store, NULL);
    if (ss->open_r == 0)
        ss->open_r = store_mailbox_open(ss->store, "INBOX", &ss->inbox, NULL);
}

static void job_append(void *arg)
{
    struct session_store *ss = arg;
    ss->work_on_loop |= pthread_equal(pthread_self(), ss->loop) != 0;
    const char *msgs[3] = {msg1, msg2, msg1};
    for (int i = 0; i < 3 && ss->append_r == 0; i++)
        ss->append_r = store_append(ss->inbox, msgs[i], strlen(msgs[i]), NULL, &ss->uids[i], NULL);
}

static void job_status(void *arg)
{
    struct session_store *ss = arg;
    ss->work_on_loop |= pthread_equal(pthread_self(), ss->loop) != 0;
    struct store_status st;
    ss->status_r = store_mailbox_get_status(ss->inbox, &st, NULL);
    ss->messages = st.messages;
}

static void job_late(void *arg)
{
    struct session_store *ss = arg;
    ss->late_ran = true;
}

static void late_done(void *arg, bool cancelled)
{
    struct session_store *ss = arg;
    ss->late_cancelled = cancelled;
}

static void job_close_store(void *arg)
{
    struct session_store *ss = arg;
    ss->work_on_loop |= pthread_equal(pthread_self(), ss->loop) != 0;
    store_mailbox_close(ss->inbox);
    store_close(ss->store);
    ss->inbox = NULL;
    ss->store = NULL;
}

static void store_closed(void *arg)
{
    struct session_store *ss = arg;
    ss->closed = true;
    event_base_loopbreak(ss->base);
}

static struct serial_queue *session_queue;

static void answered(void *arg, bool cancelled)
{
    struct session_store *ss = arg;
    assert_false(cancelled);
    ss->answer_off_loop |= pthread_equal(pthread_self(), ss->loop) == 0;
    if (++ss->answers == 3) {
        /* the session ends with one more command queued */
        serial_queue_submit(session_queue, job_late, late_done, ss);
        serial_queue_close(session_queue, job_close_store, store_closed, ss);
    }
}

static void test_store_on_serial_queue(void **state)
{
    struct ctx *c = *state;
    struct session_store ss = {.c = c, .loop = pthread_self()};
    ss.base = event_base_new();
    struct threadpool *pool = threadpool_new(ss.base, 2);
    session_queue = serial_queue_new(pool);
    serial_queue_submit(session_queue, job_open, answered, &ss);
    serial_queue_submit(session_queue, job_append, answered, &ss);
    serial_queue_submit(session_queue, job_status, answered, &ss);
    event_base_dispatch(ss.base);
    assert_int_equal(ss.open_r, 0);
    assert_int_equal(ss.append_r, 0);
    assert_int_equal(ss.status_r, 0);
    assert_int_equal(ss.uids[0], 1);
    assert_int_equal(ss.uids[2], 3);
    assert_int_equal(ss.messages, 3);
    assert_false(ss.work_on_loop);
    assert_false(ss.answer_off_loop);
    assert_false(ss.late_ran);
    assert_true(ss.late_cancelled);
    assert_true(ss.closed);
    assert_null(ss.store);
    threadpool_free(pool);
    event_base_free(ss.base);
    /* what the session's jobs did is durable: another opening sees it */
    struct store *s = open_store(c, 0);
    struct store_status st;
    assert_int_equal(store_mailbox_status(s, "INBOX", &st, NULL), 0);
    assert_int_equal(st.messages, 3);
    store_close(s);
}

/* Many sessions of a new user open the store at once (threads here, workers
 * and the LDA in real life): each gets a working store, none finds a
 * half-made index and moves it aside, INBOX and the special-use folders are
 * made once. */
#define FIRST_OPENERS 12
struct first_open {
    const char *maildir;
    int result;
};

static void *open_concurrently(void *arg)
{
    struct first_open *fo = arg;
    struct store *s = NULL;
    struct buf err = BUF_INIT;
    fo->result = store_open(fo->maildir, STORE_OPEN_CREATE, &s, &err);
    if (fo->result == 0) {
        struct store_mailbox *m = NULL;
        fo->result = store_mailbox_open(s, "INBOX", &m, &err);
        store_mailbox_close(m);
    }
    store_close(s);
    buf_free(&err);
    return NULL;
}

static void test_concurrent_first_open(void **state)
{
    struct ctx *c = *state;
    for (int round = 0; round < 5; round++) {
        rm_rf(c->maildir);
        pthread_t t[FIRST_OPENERS];
        struct first_open fo[FIRST_OPENERS];
        for (int i = 0; i < FIRST_OPENERS; i++) {
            fo[i] = (struct first_open){.maildir = c->maildir, .result = 1};
            assert_int_equal(pthread_create(&t[i], NULL, open_concurrently, &fo[i]), 0);
        }
        for (int i = 0; i < FIRST_OPENERS; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(fo[i].result, 0);
        }
        char p[512];
        snprintf(p, sizeof(p), "%s/gannet.index.sqlite.corrupt", c->maildir);
        assert_int_equal(access(p, F_OK), -1);
        struct store *s = open_store(c, 0);
        struct store_mailbox_info *list;
        size_t count;
        assert_int_equal(store_mailbox_list(s, &list, &count, NULL), 0);
        assert_int_equal(count, 6); /* INBOX and the five special-use folders, once */
        store_mailbox_list_free(list, count);
        store_close(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_special_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_first_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_fetch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uids_never_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flag_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_outside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_migration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mailboxes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dovecot_import, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dovecot_uidlist_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maildir_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_substring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_streaming_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_on_serial_queue, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
