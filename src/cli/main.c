/* gannet: one binary, subcommands (DESIGN.md "What a person does with it"). */
#include "cli/commands.h"

#include <stdio.h>
#include <string.h>

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("gannet %s\n", GANNET_VERSION);
    return 0;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} commands[] = {
    {"serve", cmd_serve, "serve [-c FILE] [-F]        run the server (-F: foreground, log to stderr)"},
    {"config", cmd_config, "config check [-c FILE]      check the configuration, warn about dangerous settings"},
    {"passwd", cmd_passwd, "passwd [-s SCHEME]          read a password, print a {SCHEME}hash line"},
    {"mailbox", cmd_mailbox, "mailbox list|create|delete|rename|status -u USER ...  a user's mailboxes"},
    {"fetch", cmd_fetch, "fetch -u USER MAILBOX SEQSET ITEMS  print messages as IMAP FETCH does"},
    {"import", cmd_import, "import -u USER PATH [-m MAILBOX]  import a Maildir, Dovecot Maildir or mbox"},
    {"index", cmd_index, "index rebuild -u USER       rebuild a user's index from the Maildir"},
    {"deliver", cmd_deliver, "deliver -u USER [-m MAILBOX]  deliver one message from stdin (an LDA)"},
    {"probe", cmd_probe, "probe [--json] [--intrusive] ... TARGET...  footprint and audit IMAP/POP3 services"},
    {"version", cmd_version, "version                     print the version"},
};

static void usage(FILE *out)
{
    fputs("usage: gannet COMMAND [OPTIONS]\n\ncommands:\n", out);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  gannet %s\n", commands[i].usage);
    fprintf(out, "\nThe default configuration file is %s.\n", GANNET_SYSCONFDIR "/gannet/gannet.conf");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "gannet: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 1;
}
