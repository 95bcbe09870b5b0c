/* The store benchmark (issue 3's acceptance; not a test): `make bench` runs it
 * and writes its Markdown to docs/BENCHMARKS.md.
 *
 *   store-bench [--gannet PATH] [--messages N] [--appends N] [--delivers N]
 *
 * Figures, each on a fresh store in a temporary directory:
 *   - delivery rate with fsync through the store API (store_append: file
 *     fsynced, renamed, directory fsynced, index committed, per message);
 *   - the same through `gannet deliver` (a process per message, as an MTA runs it);
 *   - the first sync of a Maildir of N messages that has no index yet (files
 *     written by the benchmark, so the page cache is warm);
 *   - STATUS of that N-message mailbox (from the index);
 *   - FETCH ENVELOPE of all N messages from the index. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct buf *err)
{
    fprintf(stderr, "store-bench: %s: %s\n", what, err ? buf_cstr(err) : strerror(errno));
    exit(1);
}

static void message(struct buf *b, unsigned i)
{
    static const char *const words[] = {"meeting", "report", "invoice", "lunch", "release",
                                        "review",  "budget", "travel",  "draft", "minutes"};
    buf_reset(b);
    buf_printf(b,
               "Return-Path: <sender%u@example.org>\r\n"
               "Received: from mx.example.org (mx.example.org [192.0.2.%u])\r\n"
               "\tby mail.example.net with ESMTPS id %08x; Thu, 26 Nov 2026 10:%02u:%02u +0000\r\n"
               "From: \"Sender %u\" <sender%u@example.org>\r\n"
               "To: Alice <alice@example.net>, bob@example.net\r\n"
               "Cc: \"Team list\" <team@example.net>\r\n"
               "Subject: =?UTF-8?Q?Re:_%s_n=C2=B0%u?=\r\n"
               "Date: Thu, 26 Nov 2026 10:%02u:%02u +0000\r\n"
               "Message-ID: <%u.%08x@example.org>\r\n"
               "In-Reply-To: <%u.parent@example.org>\r\n"
               "MIME-Version: 1.0\r\n",
               i % 97, i % 250, i * 2654435761u, (i / 60) % 60, i % 60, i % 97, i % 97,
               words[i % 10], i, (i / 60) % 60, i % 60, i, i * 40503u, i);
    if (i % 10 == 0) {
        buf_puts(b, "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                    "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    } else {
        buf_puts(b, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
    }
    for (unsigned l = 0; l < 12 + i % 20; l++)
        buf_printf(b, "Line %u of message %u about the %s, with some text to make it real.\r\n", l,
                   i, words[(i + l) % 10]);
    if (i % 10 == 0)
        buf_puts(b, "--b1\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n"
                    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--b1--\r\n");
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) < 0)
        die(path, NULL);
}

static void mkdirs(const char *base, const char *const *subs)
{
    struct buf p = BUF_INIT;
    for (size_t i = 0; subs[i]; i++) {
        buf_reset(&p);
        buf_printf(&p, "%s%s", base, subs[i]);
        if (mkdir(p.data, 0700) < 0 && errno != EEXIST)
            die(p.data, NULL);
    }
    buf_free(&p);
}

static void machine(void)
{
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "model name", 10) == 0) {
                const char *c = strchr(line, ':');
                if (c) {
                    snprintf(model, sizeof(model), "%s", c + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        fclose(f);
    }
    long mem_kb = 0;
    f = fopen("/proc/meminfo", "r");
    if (f) {
        if (fscanf(f, "MemTotal: %ld kB", &mem_kb) != 1)
            mem_kb = 0;
        fclose(f);
    }
    struct utsname u;
    uname(&u);
    printf("- CPU: %s, %ld online (`nproc`)\n", model, sysconf(_SC_NPROCESSORS_ONLN));
    printf("- memory: %ld MiB; kernel: %s %s\n", mem_kb / 1024, u.sysname, u.release);
}

/* `gannet deliver` a number of times; returns messages per second, or 0. */
static double bench_deliver(const char *gannet, const char *dir, unsigned n, struct buf *note)
{
    struct buf conf = BUF_INIT, path = BUF_INIT, users = BUF_INIT, msgfile = BUF_INIT;
    const char *mail_user, *mail_group;
    char uname_buf[64], gname_buf[64];
    if (geteuid() == 0) {
        mail_user = "nobody";
        mail_group = "nogroup";
    } else {
        struct passwd *pw = getpwuid(geteuid());
        struct group *gr = getgrgid(getegid());
        if (!pw || !gr) {
            buf_puts(note, "no passwd entry for the current user");
            return 0;
        }
        snprintf(uname_buf, sizeof(uname_buf), "%s", pw->pw_name);
        snprintf(gname_buf, sizeof(gname_buf), "%s", gr->gr_name);
        mail_user = uname_buf;
        mail_group = gname_buf;
    }
    buf_printf(&users, "%s/users", dir);
    write_file(users.data, "bench:{PLAIN}bench-pw::::::\n", 28);
    buf_printf(&path, "%s/home", dir);
    mkdir(path.data, 0755);
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam(mail_user);
        if (!pw || chown(path.data, pw->pw_uid, pw->pw_gid) < 0) {
            buf_puts(note, "cannot give the home to nobody");
            return 0;
        }
        chmod(dir, 0755);
        chmod(users.data, 0644);
    }
    buf_printf(&conf,
               "mail_location = maildir:%s/home/%%u/Maildir\nmail_uid = %s\nmail_gid = %s\n"
               "passdb {\n  driver = passwd-file\n  args = %s\n}\n"
               "userdb {\n  driver = static\n  args = uid=%s gid=%s home=%s/home/%%u\n}\n",
               dir, mail_user, mail_group, users.data, mail_user, mail_group, dir);
    buf_reset(&path);
    buf_printf(&path, "%s/gannet.conf", dir);
    write_file(path.data, conf.data, conf.len);
    chmod(path.data, 0644);
    struct buf m = BUF_INIT;
    message(&m, 7);
    buf_printf(&msgfile, "%s/message.eml", dir);
    write_file(msgfile.data, m.data, m.len);
    double t0 = now();
    unsigned ok = 0;
    for (unsigned i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open(msgfile.data, O_RDONLY);
            if (fd < 0 || dup2(fd, 0) < 0)
                _exit(71);
            execl(gannet, gannet, "deliver", "-u", "bench", "-c", path.data, (char *)NULL);
            _exit(72);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
            die("fork", NULL);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            ok++;
        else if (note->len == 0)
            buf_printf(note, "gannet deliver exited with %d",
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    double t = now() - t0;
    buf_free(&conf);
    buf_free(&path);
    buf_free(&users);
    buf_free(&msgfile);
    buf_free(&m);
    return ok == n ? n / t : 0;
}

int main(int argc, char **argv)
{
    const char *gannet = NULL;
    unsigned n_sync = 100000, n_append = 2000, n_deliver = 200;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--gannet") == 0 && i + 1 < argc)
            gannet = argv[++i];
        else if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc)
            n_sync = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--appends") == 0 && i + 1 < argc)
            n_append = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--delivers") == 0 && i + 1 < argc)
            n_deliver = (unsigned)strtoul(argv[++i], NULL, 10);
        else {
            fputs("usage: store-bench [--gannet PATH] [--messages N] [--appends N] "
                  "[--delivers N]\n",
                  stderr);
            return 64;
        }
    }
    const char *tmpdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    struct buf dir = BUF_INIT, root = BUF_INIT, err = BUF_INIT, msg = BUF_INIT;
    buf_printf(&dir, "%s/gannet-bench-XXXXXX", tmpdir);
    if (!mkdtemp(dir.data))
        die("mkdtemp", NULL);
    /* `gannet deliver` drops to nobody when run as root: it must reach its files. */
    if (geteuid() == 0)
        chmod(dir.data, 0755);

    /* 1. store_append with fsync */
    buf_printf(&root, "%s/append", dir.data);
    struct store *s;
    struct store_mailbox *m;
    if (store_open(root.data, STORE_OPEN_CREATE | STORE_OPEN_NO_SPECIAL_USE, &s, &err) < 0)
        die("store_open", &err);
    if (store_mailbox_open(s, "INBOX", &m, &err) < 0)
        die("store_mailbox_open", &err);
    double t0 = now();
    size_t bytes = 0;
    for (unsigned i = 0; i < n_append; i++) {
        message(&msg, i);
        bytes += msg.len;
        struct store_append_options opt = {0};
        if (store_append(m, msg.data, msg.len, &opt, NULL, &err) < 0)
            die("store_append", &err);
    }
    double t_append = now() - t0;
    store_mailbox_close(m);
    store_close(s);

    /* 2. gannet deliver */
    double deliver_rate = 0;
    struct buf deliver_note = BUF_INIT;
    if (gannet) {
        struct buf d = BUF_INIT;
        buf_printf(&d, "%s/deliver", dir.data);
        mkdir(d.data, 0755);
        deliver_rate = bench_deliver(gannet, d.data, n_deliver, &deliver_note);
        buf_free(&d);
    }

    /* 3. a Maildir of n_sync messages without an index */
    buf_reset(&root);
    buf_printf(&root, "%s/sync", dir.data);
    static const char *const subs[] = {"", "/cur", "/new", "/tmp", NULL};
    mkdirs(root.data, subs);
    struct buf name = BUF_INIT;
    uint64_t total = 0;
    for (unsigned i = 0; i < n_sync; i++) {
        message(&msg, i);
        buf_reset(&name);
        buf_printf(&name, "%s/cur/%u.M%uP1.bench:2,%s", root.data, 1764000000u + i, i,
                   i % 3 ? "S" : "");
        write_file(name.data, msg.data, msg.len);
        total += msg.len;
    }
    t0 = now();
    if (store_open(root.data, STORE_OPEN_CREATE | STORE_OPEN_NO_SPECIAL_USE, &s, &err) < 0)
        die("store_open", &err);
    if (store_mailbox_open(s, "INBOX", &m, &err) < 0)
        die("store_mailbox_open", &err);
    double t_sync = now() - t0;
    size_t synced = store_mailbox_view(m)->count;

    /* 4. STATUS */
    struct store_status st;
    unsigned status_rounds = 20;
    t0 = now();
    for (unsigned i = 0; i < status_rounds; i++)
        if (store_mailbox_status(s, "INBOX", &st, &err) < 0)
            die("store_mailbox_status", &err);
    double t_status = (now() - t0) / status_rounds;

    /* 5. FETCH ENVELOPE of all */
    t0 = now();
    struct store_fetch_iter *it;
    if (store_fetch_begin(m, NULL, 0, STORE_FETCH_ENVELOPE, &it, &err) < 0)
        die("store_fetch_begin", &err);
    const struct store_message *rec;
    size_t fetched = 0, env_bytes = 0;
    int r;
    while ((r = store_fetch_next(it, &rec, &err)) == 1) {
        fetched++;
        env_bytes += rec->envelope ? strlen(rec->envelope) : 0;
    }
    if (r < 0)
        die("store_fetch_next", &err);
    store_fetch_end(it);
    double t_fetch = now() - t0;
    store_mailbox_close(m);
    store_close(s);

    time_t when = time(NULL);
    char date[64];
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&when));
    printf("# Benchmarks\n\n"
           "Written by `make bench` (bench/store-bench.c and bench/*.py); figures from one "
           "run, not a test.\n"
           "Dovecot runs side by side only where a section says so (TLS logins, LMTP "
           "deliveries, POP3 sessions); the other figures are gannet's own.\n\n"
           "## Machine\n\n");
    printf("- run: %s, `", date);
    for (int i = 0; i < argc; i++)
        printf("%s%s", i ? " " : "", argv[i]);
    printf("`\n");
    machine();
    printf("- temporary directory: %s\n\n", tmpdir);
    printf("## Store (Maildir + SQLite index)\n\n"
           "| what | count | time | rate |\n| --- | ---: | ---: | ---: |\n");
    printf("| delivery through the store API (`store_append`, fsync per message) | %u | %.2f s | "
           "%.0f messages/s |\n",
           n_append, t_append, n_append / t_append);
    if (gannet && deliver_rate > 0)
        printf("| delivery through `gannet deliver` (one process per message) | %u | %.2f s | %.0f "
               "messages/s |\n",
               n_deliver, n_deliver / deliver_rate, deliver_rate);
    else if (gannet)
        printf("| delivery through `gannet deliver` | %u | failed: %s | |\n", n_deliver,
               buf_cstr(&deliver_note));
    printf("| first sync of a Maildir without an index (%.0f MB) | %zu | %.2f s | %.0f "
           "messages/s |\n",
           (double)total / 1e6, synced, t_sync, (double)synced / t_sync);
    printf("| STATUS of the mailbox (mean of %u) | %u | %.2f ms | |\n", status_rounds, st.messages,
           t_status * 1e3);
    printf("| FETCH ENVELOPE of all messages, from the index | %zu | %.2f s | %.0f messages/s |\n",
           fetched, t_fetch, (double)fetched / t_fetch);
    printf("\nAverage message: %zu bytes (appends), %.0f bytes (sync); ENVELOPE: %.0f bytes.\n",
           n_append ? bytes / n_append : 0, n_sync ? (double)total / n_sync : 0,
           fetched ? (double)env_bytes / (double)fetched : 0);
    if (synced != n_sync || fetched != n_sync)
        printf("\n**Warning**: %zu messages synced and %zu fetched of %u written.\n", synced,
               fetched, n_sync);

    struct buf rm = BUF_INIT;
    buf_printf(&rm, "rm -rf '%s'", dir.data);
    if (system(rm.data) != 0)
        fprintf(stderr, "store-bench: could not remove %s\n", dir.data);
    buf_free(&rm);
    buf_free(&dir);
    buf_free(&root);
    buf_free(&err);
    buf_free(&msg);
    buf_free(&name);
    buf_free(&deliver_note);
    return 0;
}
