/* gannet: one binary, subcommands (DESIGN.md "What a person does with it"). */
#include "cli/commands.h"

#include "cli/options.h"

#include <stdbool.h>
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
    bool takes_config; /* parses its options with cli_opts_parse(), -c FILE among them */
    const char *usage;
} commands[] = {
    {"serve", cmd_serve, true,
     "serve [-c FILE] [-F]        run the server (-F: foreground, log to stderr)"},
    {"config", cmd_config, true,
     "config check [-c FILE]      check the configuration, warn about dangerous settings"},
    {"passwd", cmd_passwd, false,
     "passwd [-s SCHEME]          read a password, print a {SCHEME}hash line"},
    {"mailbox", cmd_mailbox, true,
     "mailbox list|create|delete|rename|status -u USER ...  a user's mailboxes"},
    {"fetch", cmd_fetch, true,
     "fetch -u USER MAILBOX SEQSET ITEMS  print messages as IMAP FETCH does"},
    {"import", cmd_import, true,
     "import -u USER PATH [-m MAILBOX]  import a Maildir, Dovecot Maildir or mbox"},
    {"index", cmd_index, true,
     "index rebuild -u USER       rebuild a user's index from the Maildir"},
    {"deliver", cmd_deliver, true,
     "deliver -u USER [-m MAILBOX]  deliver one message from stdin (an LDA)"},
    {"probe", cmd_probe, false,
     "probe [--json] [--intrusive] ... TARGET...  footprint and audit IMAP/POP3 services"},
    {"version", cmd_version, false, "version                     print the version"},
};

static void usage(FILE *out)
{
    fputs("usage: gannet [-c FILE] COMMAND [OPTIONS]\n\ncommands:\n", out);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  gannet %s\n", commands[i].usage);
    fprintf(out,
            "\n-c FILE names the configuration file, before the command or among its options\n"
            "(the last one given counts). The default is %s.\n",
            GANNET_SYSCONFDIR "/gannet/gannet.conf");
}

int main(int argc, char **argv)
{
    /* Options before the command: -c FILE (-cFILE), as doveadm takes it. */
    const char *config = NULL;
    int i = 1;
    while (i < argc && argv[i][0] == '-' && argv[i][1] == 'c') {
        if (argv[i][2] != '\0') {
            config = argv[i] + 2;
        } else if (i + 1 < argc) {
            config = argv[++i];
        } else {
            fprintf(stderr, "gannet: option -c needs a value\n");
            usage(stderr);
            return 1;
        }
        i++;
    }
    if (i >= argc) {
        usage(stderr);
        return 1;
    }
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ||
        strcmp(argv[i], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[i], "--version") == 0)
        return cmd_version(argc - i, argv + i);
    for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
        if (strcmp(argv[i], commands[k].name) != 0)
            continue;
        if (config && !commands[k].takes_config) {
            fprintf(stderr, "gannet %s: reads no configuration file (-c)\n", commands[k].name);
            return 1;
        }
        cli_set_config(config);
        return commands[k].run(argc - i, argv + i);
    }
    if (argv[i][0] == '-')
        fprintf(stderr, "gannet: unknown option '%s'\n", argv[i]);
    else
        fprintf(stderr, "gannet: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return 1;
}
