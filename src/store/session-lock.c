#include "store/session-lock.h"

#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct store_session_lock {
    int fd;
};

int store_session_lock(struct store *s, const char *name, bool exclusive,
                       struct store_session_lock **out, struct buf *err)
{
    *out = NULL;
    struct buf path = BUF_INIT;
    buf_printf(&path, "%s/gannet-%s.lock", store_root(s), name);
    int fd = open(buf_cstr(&path), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        if (err)
            buf_printf(err, "cannot open %s: %s", buf_cstr(&path), strerror(e));
        buf_free(&path);
        return -e;
    }
    buf_free(&path);
    /* Each open has its own open file description, so two sessions of one
     * process exclude each other as two processes do. */
    while (exclusive && flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if (e == EINTR)
            continue;
        close(fd);
        if (e == EWOULDBLOCK)
            e = EAGAIN;
        if (err)
            buf_puts(err, e == EAGAIN ? "the mailbox is in use by another session" : strerror(e));
        return -e;
    }
    struct store_session_lock *l = xcalloc(1, sizeof(*l));
    l->fd = fd;
    *out = l;
    return 0;
}

time_t store_session_last_touch(const struct store_session_lock *l)
{
    struct stat st;
    if (fstat(l->fd, &st) < 0 || st.st_size == 0)
        return 0;
    return st.st_mtime;
}

int store_session_touch(struct store_session_lock *l, struct buf *err)
{
    /* One byte marks the file as touched once (a fresh file is empty). */
    if (pwrite(l->fd, "1", 1, 0) != 1 || futimens(l->fd, NULL) < 0) {
        int e = errno;
        if (err)
            buf_printf(err, "cannot record the login time: %s", strerror(e));
        return -e;
    }
    return 0;
}

void store_session_unlock(struct store_session_lock *l)
{
    if (!l)
        return;
    close(l->fd); /* releases the flock */
    free(l);
}
