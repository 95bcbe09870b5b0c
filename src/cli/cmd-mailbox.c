/* `gannet mailbox list|create|delete|rename|status -u USER ...`: the mailbox
 * side of Dovecot's doveadm, on the store of one user (DESIGN.md "Storage"). */
#include "cli/commands.h"

#include "cli/mail-user.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

static const char mailbox_usage[] =
    "usage: gannet mailbox list   [-c FILE] -u USER\n"
    "       gannet mailbox create [-c FILE] -u USER NAME...\n"
    "       gannet mailbox delete [-c FILE] -u USER NAME...\n"
    "       gannet mailbox rename [-c FILE] -u USER OLD NEW\n"
    "       gannet mailbox status [-c FILE] -u USER [-f FIELDS] NAME\n"
    "Names are UTF-8 with / between levels. FIELDS (space or comma "
    "separated):\n"
    "messages recent unseen deleted uidnext uidvalidity size highestmodseq, or "
    "all.\n";

/* STATUS items, Dovecot's `doveadm mailbox status` names (vsize = size). */
enum status_field {
    F_MESSAGES,
    F_RECENT,
    F_UNSEEN,
    F_DELETED,
    F_UIDNEXT,
    F_UIDVALIDITY,
    F_SIZE,
    F_HIGHESTMODSEQ,
    F_COUNT
};
static const char *const field_names[F_COUNT] = {
    "messages", "recent", "unseen", "deleted", "uidnext", "uidvalidity", "size", "highestmodseq"};

static uint64_t field_value(const struct store_status *st, enum status_field f)
{
    switch (f) {
    case F_MESSAGES:
        return st->messages;
    case F_RECENT:
        return st->recent;
    case F_UNSEEN:
        return st->unseen;
    case F_DELETED:
        return st->deleted;
    case F_UIDNEXT:
        return st->uidnext;
    case F_UIDVALIDITY:
        return st->uidvalidity;
    case F_SIZE:
        return st->size;
    case F_HIGHESTMODSEQ:
    case F_COUNT:
        break;
    }
    return st->highestmodseq;
}

/* "messages unseen" or "messages,unseen" -> field list; -1 for an unknown name.
 */
static int parse_fields(const char *spec, enum status_field *out, size_t *n, struct buf *err)
{
    static const enum status_field defaults[] = {F_MESSAGES,    F_UNSEEN, F_UIDNEXT,
                                                 F_UIDVALIDITY, F_SIZE,   F_HIGHESTMODSEQ};
    *n = 0;
    if (!spec) {
        memcpy(out, defaults, sizeof(defaults));
        *n = sizeof(defaults) / sizeof(defaults[0]);
        return 0;
    }
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, " ,\t");
        if (len == 0) {
            p++;
            continue;
        }
        if (len == 3 && strncasecmp(p, "all", 3) == 0) {
            for (size_t f = 0; f < F_COUNT && *n < 2 * F_COUNT; f++)
                out[(*n)++] = (enum status_field)f;
        } else {
            size_t f;
            for (f = 0; f < F_COUNT; f++)
                if (strlen(field_names[f]) == len && strncasecmp(p, field_names[f], len) == 0)
                    break;
            if (f == F_COUNT && len == 5 && strncasecmp(p, "vsize", 5) == 0)
                f = F_SIZE;
            if (f == F_COUNT) {
                buf_printf(err, "unknown status field '%.*s'", (int)len, p);
                return -1;
            }
            if (*n < 2 * F_COUNT)
                out[(*n)++] = (enum status_field)f;
        }
        p += len;
    }
    if (*n == 0) {
        buf_puts(err, "no status field given");
        return -1;
    }
    return 0;
}

static int mailbox_list(struct mail_user *mu, struct buf *err)
{
    struct store_mailbox_info *list;
    size_t count;
    if (store_mailbox_list(mu->store, &list, &count, err) < 0)
        return 1;
    for (size_t i = 0; i < count; i++)
        printf("%s\n", list[i].name);
    store_mailbox_list_free(list, count);
    return 0;
}

static int mailbox_status(struct mail_user *mu, const char *name, const enum status_field *f,
                          size_t n, struct buf *err)
{
    /* Open (which syncs once with the Maildir), so that mail another program
     * put there is counted, as a client selecting the mailbox would see it. */
    struct store_mailbox *m;
    if (store_mailbox_open(mu->store, name, &m, err) < 0)
        return 1;
    struct store_status st;
    int rc = store_mailbox_get_status(m, &st, err);
    store_mailbox_close(m);
    if (rc < 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        printf("%s%s=%llu", i ? " " : "", field_names[f[i]],
               (unsigned long long)field_value(&st, f[i]));
    printf("\n");
    return 0;
}

int cmd_mailbox(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(mailbox_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EX_USAGE : 0;
    }
    /* The subcommand is the first argument that is not an option, so that
     * -c FILE may come before it too (`gannet mailbox -c FILE status ...`). */
    struct cli_opts o;
    int rc = cli_opts_parse(argc, argv, "u:f:", mailbox_usage, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    char **all_args = o.args;
    static const char *const subs[] = {"list", "create", "delete", "rename", "status"};
    const char *sub = o.n_args > 0 ? o.args[0] : NULL;
    size_t which = 0;
    while (sub && which < sizeof(subs) / sizeof(subs[0]) && strcmp(sub, subs[which]) != 0)
        which++;
    if (!sub || which == sizeof(subs) / sizeof(subs[0])) {
        if (sub)
            fprintf(stderr, "gannet mailbox: unknown command '%s'\n%s", sub, mailbox_usage);
        else
            fprintf(stderr, "gannet mailbox: list, create, delete, rename or status is needed\n%s",
                    mailbox_usage);
        free(all_args);
        return EX_USAGE;
    }
    o.args++;
    o.n_args--;
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "mailbox %s", sub);
    if (o.fields && which != 4) {
        fprintf(stderr, "gannet %s: unknown option '-f'\n%s", cmd, mailbox_usage);
        free(all_args);
        return EX_USAGE;
    }
    if (admin_opts_need_user(&o, cmd, mailbox_usage) != 0) {
        free(all_args);
        return EX_USAGE;
    }
    int want_min[] = {0, 1, 1, 2, 1}, want_max[] = {0, 1 << 20, 1 << 20, 2, 1};
    if (o.n_args < want_min[which] || o.n_args > want_max[which]) {
        fprintf(stderr, "gannet %s: wrong number of arguments\n%s", cmd, mailbox_usage);
        free(all_args);
        return EX_USAGE;
    }

    struct mail_user mu;
    struct buf err = BUF_INIT;
    enum status_field fields[2 * F_COUNT];
    size_t n_fields = 0;
    memset(&mu, 0, sizeof(mu));
    if (which == 4 && parse_fields(o.fields, fields, &n_fields, &err) < 0) {
        fprintf(stderr, "gannet %s: %s\n%s", cmd, buf_cstr(&err), mailbox_usage);
        rc = EX_USAGE;
        goto out;
    }
    rc = mail_user_init(&mu, o.config, o.user, &err);
    if (rc == 0)
        rc = mail_user_open_store(&mu, &err);
    if (rc != 0) {
        admin_error(cmd, buf_cstr(&err));
        goto out;
    }
    switch (which) {
    case 0:
        rc = mailbox_list(&mu, &err);
        break;
    case 1:
    case 2:
        /* Every name is tried; the exit code says whether one failed. */
        for (int i = 0; i < o.n_args; i++) {
            buf_reset(&err);
            int r = which == 1 ? store_mailbox_create(mu.store, o.args[i], STORE_SPECIAL_NONE, &err)
                               : store_mailbox_delete(mu.store, o.args[i], &err);
            if (r < 0) {
                struct buf line = BUF_INIT;
                buf_printf(&line, "%s: %s", o.args[i], buf_cstr(&err));
                admin_error(cmd, buf_cstr(&line));
                buf_free(&line);
                rc = 1;
            }
        }
        buf_reset(&err);
        break;
    case 3:
        if (store_mailbox_rename(mu.store, o.args[0], o.args[1], &err) < 0)
            rc = 1;
        break;
    default:
        rc = mailbox_status(&mu, o.args[0], fields, n_fields, &err);
        break;
    }
    if (rc != 0 && err.len > 0)
        admin_error(cmd, buf_cstr(&err));
    if (fflush(stdout) != 0 && rc == 0)
        rc = EX_IOERR;
out:
    mail_user_deinit(&mu);
    buf_free(&err);
    free(all_args);
    return rc;
}
