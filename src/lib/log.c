#include "lib/log.h"

#include "lib/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static int log_fd = STDERR_FILENO;
static bool log_syslog;
static const char *log_process = "gannet";
static bool log_debug_enabled;

void log_set_debug(bool enabled)
{
    log_debug_enabled = enabled;
}

int log_open(const char *target)
{
    log_close();
    if (!target || !*target)
        return 0;
    if (strcmp(target, "syslog") == 0) {
        openlog("gannet", LOG_PID | LOG_NDELAY, LOG_MAIL);
        log_syslog = true;
        return 0;
    }
    int fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    log_fd = fd;
    return 0;
}

void log_close(void)
{
    if (log_syslog)
        closelog();
    log_syslog = false;
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = STDERR_FILENO;
}

bool log_to_stderr(void)
{
    return !log_syslog && log_fd == STDERR_FILENO;
}

void log_set_process(const char *name)
{
    log_process = name;
}

static const char *const level_names[] = {"Error", "Warning", "Info", "Debug"};

void log_vmsg(enum log_level level, const char *conn_id, const char *fmt, va_list ap)
{
    if (level == LOG_LEVEL_DEBUG && !log_debug_enabled)
        return;
    char line[2048];
    size_t n = 0;
    if (!log_syslog) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
    }
    int w = snprintf(line + n, sizeof(line) - n, "%s[%d]: %s: ", log_process, (int)getpid(),
                     level_names[level]);
    if (w > 0)
        n += (size_t)w;
    if (conn_id && n < sizeof(line)) {
        w = snprintf(line + n, sizeof(line) - n, "<%s> ", conn_id);
        if (w > 0)
            n += (size_t)w;
    }
    if (n < sizeof(line)) {
        w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        if (w > 0)
            n += (size_t)w;
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    /* A line of the log is one line: control characters a client sent (user
     * names are logged) must not forge further lines. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    if (log_syslog) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        line[n] = '\0';
        syslog(prio[level], "%s", line);
        return;
    }
    line[n++] = '\n';
    /* One write per line: workers share the file, O_APPEND keeps lines whole. */
    ssize_t r = write(log_fd, line, n);
    (void)r;
}

void log_msg(enum log_level level, const char *conn_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, conn_id, fmt, ap);
    va_end(ap);
}
