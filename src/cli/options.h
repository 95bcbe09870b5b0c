/* The options of the commands that read the configuration (serve, config
 * check, and the mail admin commands of cli/mail-user.h). -c FILE may come
 * before the command (`gannet -c FILE mailbox status ...`, as with doveadm),
 * between a command and its subcommand, or among the options and arguments;
 * given more than once, the last one counts, as with doveadm. */
#ifndef GANNET_CLI_OPTIONS_H
#define GANNET_CLI_OPTIONS_H

#include <stdbool.h>

struct cli_opts {
    const char *config;  /* -c FILE; GANNET_DEFAULT_CONFIG when none was given */
    const char *user;    /* -u USER */
    const char *mailbox; /* -m MAILBOX */
    const char *fields;  /* -f FIELDS */
    bool foreground;     /* -F */
    char **args;         /* what is left (positional), in order; free() it */
    int n_args;
};

/* The -c FILE given before the command (main.c): the starting value of every
 * later cli_opts_parse(), which a -c among the command's options replaces. */
void cli_set_config(const char *path);

/* Parses argv (argv[0] is the command's name). `spec` lists, as getopt() does,
 * the options this command takes besides -c FILE and -h: "u:f:" (values),
 * "F" (a flag). Options may come before, between and after the positional
 * arguments; "--" ends them. Returns 0; 1 for -h or --help (the usage went to
 * stdout: exit 0); EX_USAGE after one line and the usage on stderr. */
int cli_opts_parse(int argc, char **argv, const char *spec, const char *usage, struct cli_opts *o);

#endif
