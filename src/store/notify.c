/* Change notification between processes (DESIGN.md: IDLE is pushed, not
 * polled): inotify on each watched mailbox's cur/ and new/ (appends, flag
 * renames, expunges, and deliveries by other programs) and on its directory
 * for gannet-notify, which every committed change touches. */
#include "store/store-private.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "store/mailbox-name.h"

int store_notify_fd(struct store *s)
{
    if (s->inotify_fd < 0)
        s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    return s->inotify_fd;
}

static bool add_watch(struct store *s, const char *path, bool mailbox_dir, const char *name)
{
    uint32_t mask = mailbox_dir ? IN_ATTRIB | IN_CREATE | IN_MOVED_TO
                                : IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE;
    int wd = inotify_add_watch(s->inotify_fd, path, mask);
    if (wd < 0)
        return false;
    s->watches = xrealloc(s->watches, (s->nwatches + 1) * sizeof(*s->watches));
    /* dirty: what happened before the watch is unknown until a scan */
    s->watches[s->nwatches] = (struct store_watch){
        .wd = wd, .mailbox_dir = mailbox_dir, .name = xstrdup(name), .dirty = true};
    s->nwatches++;
    return true;
}

int store_notify_watch(struct store *s, const char *name, struct buf *err)
{
    struct buf n = BUF_INIT;
    int r = mailbox_name_normalize(name, strlen(name), false, &n, err);
    struct mailbox_row row;
    if (r == 0)
        r = mailbox_row_lookup(s, buf_cstr(&n), &row, err);
    if (r == 0 && store_notify_fd(s) < 0)
        r = store_err(err, -errno, "inotify: %s", strerror(errno));
    if (r == 0) {
        store_notify_unwatch(s, buf_cstr(&n));
        struct buf dir = BUF_INIT, sub = BUF_INIT;
        mailbox_path(s, buf_cstr(&n), &dir);
        size_t first = s->nwatches;
        bool all = add_watch(s, buf_cstr(&dir), true, buf_cstr(&n));
        buf_printf(&sub, "%s/cur", buf_cstr(&dir));
        all = add_watch(s, buf_cstr(&sub), false, buf_cstr(&n)) && all;
        buf_reset(&sub);
        buf_printf(&sub, "%s/new", buf_cstr(&dir));
        all = add_watch(s, buf_cstr(&sub), false, buf_cstr(&n)) && all;
        /* a directory not watched: its changes are seen only by scanning */
        for (size_t i = first; !all && i < s->nwatches; i++)
            s->watches[i].broken = true;
        buf_free(&dir);
        buf_free(&sub);
    }
    buf_free(&n);
    return r;
}

int store_notify_unwatch(struct store *s, const char *name)
{
    struct buf n = BUF_INIT;
    if (mailbox_name_normalize(name, strlen(name), false, &n, NULL) < 0) {
        buf_free(&n);
        return -EINVAL;
    }
    size_t w = 0;
    for (size_t i = 0; i < s->nwatches; i++) {
        if (strcmp(s->watches[i].name, buf_cstr(&n)) == 0) {
            inotify_rm_watch(s->inotify_fd, s->watches[i].wd);
            free(s->watches[i].name);
        } else {
            s->watches[w++] = s->watches[i];
        }
    }
    s->nwatches = w;
    buf_free(&n);
    return 0;
}

/* Reads every pending event (never blocks) and marks the watches they
 * concern changed and dirty. */
static int notify_drain(struct store *s, struct buf *err)
{
    if (s->inotify_fd < 0)
        return 0;
    char ev[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(s->inotify_fd, ev, sizeof(ev));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return store_err(err, -errno, "inotify: %s", strerror(errno));
        }
        if (n == 0)
            break;
        for (char *p = ev; p < ev + n;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            p += sizeof(*e) + e->len;
            if (e->mask & IN_Q_OVERFLOW) {
                /* events were lost: every mailbox may have changed */
                for (size_t i = 0; i < s->nwatches; i++)
                    s->watches[i].changed = s->watches[i].dirty = true;
                continue;
            }
            for (size_t i = 0; i < s->nwatches; i++) {
                struct store_watch *w = &s->watches[i];
                if (w->wd != e->wd)
                    continue;
                if (e->mask & IN_IGNORED) {
                    /* the directory went away (mailbox deleted or renamed) */
                    w->broken = w->changed = true;
                    continue;
                }
                /* In the mailbox directory (the Maildir root for INBOX, with
                 * the index files) only gannet-notify means a change. */
                if (w->mailbox_dir && (e->len == 0 || strcmp(e->name, MAILDIR_NOTIFY) != 0))
                    continue;
                w->changed = w->dirty = true;
            }
        }
    }
    return 0;
}

int store_notify_changed(struct store *s, char ***names, size_t *count, struct buf *err)
{
    int r = notify_drain(s, err);
    if (r < 0)
        return r;
    int added = 0;
    for (size_t i = 0; i < s->nwatches; i++) {
        struct store_watch *w = &s->watches[i];
        if (!w->changed)
            continue;
        w->changed = false;
        bool dup = false;
        for (size_t k = 0; k < *count && !dup; k++)
            dup = strcmp((*names)[k], w->name) == 0;
        if (!dup) {
            *names = xrealloc(*names, (*count + 1) * sizeof(char *));
            (*names)[(*count)++] = xstrdup(w->name);
            added++;
        }
    }
    return added;
}

bool notify_need_scan(struct store *s, const char *name)
{
    if (notify_drain(s, NULL) < 0)
        return true;
    bool watched = false, scan = false;
    for (size_t i = 0; i < s->nwatches; i++) {
        struct store_watch *w = &s->watches[i];
        if (strcmp(w->name, name) != 0)
            continue;
        watched = true;
        scan = scan || w->dirty || w->broken;
        w->dirty = false;
    }
    return !watched || scan;
}

void notify_close(struct store *s)
{
    for (size_t i = 0; i < s->nwatches; i++)
        free(s->watches[i].name);
    free(s->watches);
    s->watches = NULL;
    s->nwatches = 0;
    if (s->inotify_fd >= 0)
        close(s->inotify_fd);
    s->inotify_fd = -1;
}
