/* The crash test's driver (issue 3's acceptance, tests/integration/test_crash.py):
 * an endless loop of deliveries, copies, moves, flag changes and expunges on
 * two mailboxes of one store, to be killed with SIGKILL at any instant.
 *
 *   crash-driver MAILDIR LOG SEED
 *
 * After each store call has returned, one line goes to LOG and is fdatasync'ed
 * before the next call (so a line in the log means the store acknowledged it):
 *   UIDVALIDITY <mailbox> <n>      at start
 *   ACK <mailbox> <uid> <fnv64>    a message now stored (append, copy, move)
 *   INTENT <mailbox> <uid>         written BEFORE an expunge or a move
 *   GONE <mailbox> <uid>           after the expunge/move returned
 * fnv64 is FNV-1a over the message bytes, in hex. The checker then holds the
 * store to: every ACKed message that is not INTENTed is present and identical;
 * no (mailbox, uid) is ACKed twice; UIDVALIDITY never changes. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const names[2] = {"INBOX", "A"};
static int log_fd = -1;

static void die(const char *what, const struct buf *err)
{
    fprintf(stderr, "crash-driver: %s: %s\n", what, err ? buf_cstr(err) : strerror(errno));
    exit(1);
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
    struct buf b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    buf_putc(&b, '\n');
    if (write(log_fd, b.data, b.len) != (ssize_t)b.len || fdatasync(log_fd) < 0)
        die("log", NULL);
    buf_free(&b);
}

static uint64_t fnv64(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t rnd_state;
static uint32_t rnd(uint32_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return n ? (uint32_t)(rnd_state % n) : 0;
}

static void make_message(struct buf *m, uint64_t seed, unsigned counter)
{
    buf_reset(m);
    buf_printf(m,
               "From: driver@example.org\r\nTo: alice@example.org\r\n"
               "Subject: crash test %u/%" PRIu64 "\r\nMessage-ID: <%" PRIu64 ".%u@crash>\r\n\r\n",
               counter, seed, seed, counter);
    unsigned lines = 1 + rnd(60);
    for (unsigned i = 0; i < lines; i++) {
        unsigned len = rnd(70);
        for (unsigned j = 0; j < len; j++)
            buf_putc(m, (char)('a' + rnd(26)));
        buf_puts(m, "\r\n");
    }
}

/* The checksum of a stored message, read back from its file. */
static uint64_t stored_checksum(struct store_mailbox *m, uint32_t uid, struct buf *err)
{
    int fd;
    if (store_message_open(m, uid, &fd, NULL, err) < 0)
        die("store_message_open", err);
    struct buf data = BUF_INIT;
    char chunk[8192];
    ssize_t r;
    while ((r = read(fd, chunk, sizeof(chunk))) > 0)
        buf_append(&data, chunk, (size_t)r);
    close(fd);
    uint64_t h = fnv64(data.data ? data.data : "", data.len);
    buf_free(&data);
    return h;
}

/* A random UID of the mailbox's view, 0 when it is empty. */
static uint32_t pick(struct store_mailbox *m, struct buf *err)
{
    if (store_mailbox_sync(m, NULL, err) < 0)
        die("store_mailbox_sync", err);
    const struct store_uids *v = store_mailbox_view(m);
    return v->count ? v->uids[rnd((uint32_t)v->count)] : 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fputs("usage: crash-driver MAILDIR LOG SEED\n", stderr);
        return 64;
    }
    uint64_t seed = strtoull(argv[3], NULL, 10);
    rnd_state = seed * 2654435761ULL + 88172645463325252ULL;
    log_fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (log_fd < 0)
        die(argv[2], NULL);

    struct buf err = BUF_INIT;
    struct store *s;
    if (store_open(argv[1], STORE_OPEN_CREATE | STORE_OPEN_NO_SPECIAL_USE, &s, &err) < 0)
        die("store_open", &err);
    if (!store_mailbox_exists(s, "A") && store_mailbox_create(s, "A", 0, &err) < 0)
        die("store_mailbox_create", &err);
    struct store_mailbox *mb[2];
    for (int i = 0; i < 2; i++) {
        if (store_mailbox_open(s, names[i], &mb[i], &err) < 0)
            die("store_mailbox_open", &err);
        log_line("UIDVALIDITY %s %u", names[i], store_mailbox_uidvalidity(mb[i]));
    }

    struct buf msg = BUF_INIT;
    for (unsigned counter = 0;; counter++) {
        int from = (int)rnd(2), to = 1 - from;
        struct store_mailbox *m = mb[from];
        uint32_t op = rnd(100);
        size_t count = store_mailbox_view(m)->count;
        if (count > 150 && op < 40)
            op = 90; /* keep the mailboxes small: expunge instead */
        buf_reset(&err);
        if (op < 40) {
            make_message(&msg, seed, counter);
            struct store_append_options opt = {.flags = rnd(4) == 0 ? STORE_FLAG_SEEN : 0};
            uint32_t uid;
            if (store_append(m, msg.data, msg.len, &opt, &uid, &err) < 0)
                die("store_append", &err);
            log_line("ACK %s %u %016" PRIx64, names[from], uid, fnv64(msg.data, msg.len));
        } else if (op < 65) {
            bool move = op >= 55;
            uint32_t uid = pick(m, &err);
            if (!uid)
                continue;
            uint64_t sum = stored_checksum(m, uid, &err);
            if (move)
                log_line("INTENT %s %u", names[from], uid);
            struct store_copy_result res = {0};
            struct store_uid_range r = {uid, uid};
            if (store_copy(m, &r, 1, names[to], move, &res, &err) < 0)
                die(move ? "store_copy (move)" : "store_copy", &err);
            if (res.dst_uids.count != 1)
                die("store_copy returned no UID", NULL);
            log_line("ACK %s %u %016" PRIx64, names[to], res.dst_uids.uids[0], sum);
            if (move)
                log_line("GONE %s %u", names[from], uid);
            store_copy_result_free(&res);
        } else if (op < 85) {
            uint32_t uid = pick(m, &err);
            if (!uid)
                continue;
            static const unsigned choice[] = {STORE_FLAG_SEEN, STORE_FLAG_FLAGGED,
                                              STORE_FLAG_ANSWERED,
                                              STORE_FLAG_SEEN | STORE_FLAG_FLAGGED};
            struct store_uid_range r = {uid, uid};
            struct store_flags_result res = {0};
            if (store_set_flags(m, &r, 1, (enum store_flag_op)rnd(3), choice[rnd(4)], NULL, 0, 0,
                                &res, &err) < 0)
                die("store_set_flags", &err);
            store_flags_result_free(&res);
        } else {
            uint32_t uid = pick(m, &err);
            if (!uid)
                continue;
            log_line("INTENT %s %u", names[from], uid);
            struct store_uid_range r = {uid, uid};
            if (store_expunge(m, &r, 1, false, NULL, &err) < 0)
                die("store_expunge", &err);
            log_line("GONE %s %u", names[from], uid);
        }
    }
}
