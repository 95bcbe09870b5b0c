/* The install's SCRAM salt secret: SCRAM_SECRET_LEN random bytes in a file of
 * their own, made on the first start and read on every later one. */
#include "auth/scram-secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads exactly SCRAM_SECRET_LEN bytes from path: 1 done, 0 no such file, -1 with err. */
static int read_secret(const char *path, unsigned char secret[SCRAM_SECRET_LEN], struct buf *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        buf_printf(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != SCRAM_SECRET_LEN) {
        buf_printf(err, "%s: not a file of %d bytes (remove it, and gannet makes a new one)", path,
                   SCRAM_SECRET_LEN);
        close(fd);
        return -1;
    }
    size_t got = 0;
    while (got < SCRAM_SECRET_LEN) {
        ssize_t n = read(fd, secret + got, SCRAM_SECRET_LEN - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            buf_printf(err, "%s: %s", path, n < 0 ? strerror(errno) : "shorter than it was");
            close(fd);
            explicit_bzero(secret, SCRAM_SECRET_LEN);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    return 1;
}

/* Writes a new secret to a temporary file, then links it into place, so that
 * nobody ever reads a half-written one and two starts racing agree on one. */
static int create_secret(const char *dir, const char *path, unsigned char secret[SCRAM_SECRET_LEN],
                         struct buf *err)
{
    struct buf tmp = BUF_INIT;
    buf_printf(&tmp, "%s/.%s.%ld", dir, SCRAM_SECRET_FILE, (long)getpid());
    unlink(buf_cstr(&tmp));
    int fd = open(buf_cstr(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        buf_printf(err, "%s: %s", buf_cstr(&tmp), strerror(errno));
        buf_free(&tmp);
        return -1;
    }
    int ret = -1;
    if (RAND_bytes(secret, SCRAM_SECRET_LEN) != 1) {
        buf_puts(err, "no randomness for the SCRAM salt secret");
        goto out;
    }
    size_t done = 0;
    while (done < SCRAM_SECRET_LEN) {
        ssize_t n = write(fd, secret + done, SCRAM_SECRET_LEN - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            buf_printf(err, "%s: %s", buf_cstr(&tmp), strerror(errno));
            goto out;
        }
        done += (size_t)n;
    }
    if (fsync(fd) < 0) {
        buf_printf(err, "%s: %s", buf_cstr(&tmp), strerror(errno));
        goto out;
    }
    if (link(buf_cstr(&tmp), path) < 0) {
        if (errno == EEXIST) {
            /* Another start made one first: theirs it is. */
            ret = read_secret(path, secret, err) == 1 ? 0 : -1;
            if (ret < 0 && err->len == 0)
                buf_printf(err, "%s: vanished while being made", path);
            goto out;
        }
        buf_printf(err, "%s: %s", path, strerror(errno));
        goto out;
    }
    ret = 1;
out:
    close(fd);
    unlink(buf_cstr(&tmp));
    buf_free(&tmp);
    if (ret < 0)
        explicit_bzero(secret, SCRAM_SECRET_LEN);
    return ret;
}

int scram_secret_load(const char *dir, unsigned char secret[SCRAM_SECRET_LEN], bool *created,
                      struct buf *err)
{
    struct buf path = BUF_INIT;
    *created = false;
    buf_printf(&path, "%s/%s", dir, SCRAM_SECRET_FILE);
    int r = read_secret(buf_cstr(&path), secret, err);
    if (r == 0) {
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            buf_printf(err, "%s: %s", dir, strerror(errno));
            r = -1;
        } else {
            r = create_secret(dir, buf_cstr(&path), secret, err);
            *created = r == 1;
        }
    }
    buf_free(&path);
    return r < 0 ? -1 : 0;
}
