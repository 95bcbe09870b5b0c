/* `gannet passwd [-s SCHEME] [-p PASSWORD]`: prints a `{SCHEME}hash` line for a
 * passwd-file, as Dovecot's `doveadm pw` does. From a terminal the password is
 * asked twice without echo; from a pipe it is the first line of stdin. */
#include "auth/password.h"
#include "cli/commands.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Longer than any password a person types or pastes; a line longer than this
 * is not a password but a mistake (a file piped in). */
#define PASSWORD_MAX 4096

static void usage(FILE *out)
{
    fputs("usage: gannet passwd [-s SCHEME] [-p PASSWORD]\n"
          "  -s SCHEME    SHA512-CRYPT (default), SHA256-CRYPT, BLF-CRYPT, ARGON2ID, ARGON2I,\n"
          "               SCRAM-SHA-256 (also allows SCRAM logins), PLAIN\n"
          "  -p PASSWORD  the password (visible to other users in `ps`: prefer stdin)\n"
          "Without -p the password is read from the terminal (twice, not echoed) or as\n"
          "one line from stdin.\n",
          out);
}

/* Reads one line from fd (without its "\n" or "\r\n") into out. Returns 0, or
 * -1 at end of input before any byte, -2 for an over-long line. */
static int read_line(int fd, struct buf *out)
{
    bool any = false;
    for (;;) {
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return any ? 0 : -1;
        any = true;
        if (c == '\n')
            break;
        if (out->len >= PASSWORD_MAX)
            return -2;
        buf_putc(out, c);
    }
    if (out->len > 0 && out->data[out->len - 1] == '\r')
        out->data[--out->len] = '\0';
    return 0;
}

/* Prompts on stderr and reads a line from the terminal with echo off; the
 * terminal's settings come back even when the read fails. */
static int read_hidden(const char *prompt, struct buf *out)
{
    struct termios saved, quiet;
    if (tcgetattr(STDIN_FILENO, &saved) < 0)
        return -1;
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    quiet.c_lflag |= ICANON;
    fputs(prompt, stderr);
    fflush(stderr);
    /* Ctrl-C while echo is off would leave the shell without echo: hold it
     * until the terminal is restored. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGTSTP);
    sigprocmask(SIG_BLOCK, &block, &old);
    int r = -1;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0) {
        r = read_line(STDIN_FILENO, out);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    fputc('\n', stderr);
    return r;
}

static int read_password(struct buf *pw)
{
    if (!isatty(STDIN_FILENO)) {
        int r = read_line(STDIN_FILENO, pw);
        if (r == -2)
            fputs("gannet passwd: the line on stdin is too long for a password\n", stderr);
        else if (r < 0)
            fputs("gannet passwd: no password on stdin\n", stderr);
        return r < 0 ? -1 : 0;
    }
    struct buf again = BUF_INIT;
    int r = read_hidden("Enter new password: ", pw);
    if (r == 0 && pw->len > 0)
        r = read_hidden("Retype new password: ", &again);
    if (r == -2)
        fputs("gannet passwd: password too long\n", stderr);
    else if (r < 0)
        fputs("gannet passwd: cannot read the password\n", stderr);
    else if (pw->len > 0 && (again.len != pw->len || memcmp(again.data, pw->data, pw->len) != 0)) {
        fputs("gannet passwd: the passwords do not match\n", stderr);
        r = -1;
    }
    buf_free_secret(&again);
    return r < 0 ? -1 : 0;
}

int cmd_passwd(int argc, char **argv)
{
    const char *scheme = "SHA512-CRYPT";
    struct buf pw = BUF_INIT, out = BUF_INIT;
    bool have_password = false;
    int ret = 1;

    /* By hand rather than getopt(): main() may have used getopt already, and
     * -p's argument should be wiped from argv once copied. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            ret = 0;
            goto done;
        } else if ((strcmp(a, "-s") == 0 || strcmp(a, "-p") == 0) && i + 1 < argc) {
            if (a[1] == 's') {
                scheme = argv[++i];
            } else {
                buf_reset(&pw);
                buf_puts(&pw, argv[++i]);
                /* Not visible in /proc/PID/cmdline from here on. */
                explicit_bzero(argv[i], strlen(argv[i]));
                have_password = true;
            }
        } else {
            fprintf(stderr, "gannet passwd: unexpected argument '%s'\n", a);
            usage(stderr);
            goto done;
        }
    }
    if (!password_scheme_can_hash(scheme)) {
        fprintf(stderr,
                "gannet passwd: unknown scheme '%s' (SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, "
                "ARGON2ID, ARGON2I, SCRAM-SHA-256, PLAIN)\n",
                scheme);
        goto done;
    }
    if (!have_password && read_password(&pw) < 0)
        goto done;
    if (pw.len == 0) {
        fputs("gannet passwd: empty passwords are not allowed\n", stderr);
        goto done;
    }
    if (memchr(pw.data, '\0', pw.len) != NULL) {
        fputs("gannet passwd: the password contains a NUL byte\n", stderr);
        goto done;
    }
    const char *err = NULL;
    if (password_hash(scheme, pw.data, &out, &err) < 0) {
        fprintf(stderr, "gannet passwd: %s\n", err);
        goto done;
    }
    if (password_scheme_is_weak(scheme))
        fprintf(stderr,
                "gannet passwd: warning: {%s} keeps the password readable by anyone who "
                "can read the passwd-file\n",
                scheme);
    if (strchr(out.data, ':') != NULL || strchr(out.data, '\n') != NULL)
        fputs("gannet passwd: warning: the result contains ':' or a newline, which a "
              "passwd-file cannot hold\n",
              stderr);
    puts(out.data);
    ret = fflush(stdout) == 0 ? 0 : 1;
done:
    buf_free_secret(&pw);
    buf_free_secret(&out);
    return ret;
}
