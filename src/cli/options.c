/* -c FILE anywhere, and the other options of the commands: see options.h. */
#include "cli/options.h"

#include "lib/buf.h"
#include "lib/settings.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static const char *global_config;

void cli_set_config(const char *path)
{
    global_config = path;
}

int cli_opts_parse(int argc, char **argv, const char *spec, const char *usage, struct cli_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->config = global_config ? global_config : GANNET_DEFAULT_CONFIG;
    /* "+": stop at the first positional argument (the loop below resumes);
     * ":": a missing value is told apart from an unknown option. */
    struct buf full = BUF_INIT;
    buf_printf(&full, "+:c:h%s", spec);
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    char **pos = xcalloc((size_t)argc + 1, sizeof(char *));
    int n_pos = 0, rc = 0;
    while (rc == 0 && optind < argc) {
        int before = optind;
        int c = getopt_long(argc, argv, buf_cstr(&full), longopts, NULL);
        if (c == -1) {
            /* "--" itself (not the value of an option): the rest is positional. */
            if (optind > before && strcmp(argv[optind - 1], "--") == 0) {
                while (optind < argc)
                    pos[n_pos++] = argv[optind++];
                break;
            }
            pos[n_pos++] = argv[optind++];
            continue;
        }
        switch (c) {
        case 'c':
            o->config = optarg; /* the last one counts */
            break;
        case 'u':
            o->user = optarg;
            break;
        case 'm':
            o->mailbox = optarg;
            break;
        case 'f':
            o->fields = optarg;
            break;
        case 'F':
            o->foreground = true;
            break;
        case 'h':
            fputs(usage, stdout);
            rc = 1;
            break;
        case ':':
            fprintf(stderr, "gannet %s: option -%c needs a value\n%s", argv[0], optopt, usage);
            rc = EX_USAGE;
            break;
        default:
            fprintf(stderr, "gannet %s: unknown option '%s'\n%s", argv[0], argv[optind - 1], usage);
            rc = EX_USAGE;
            break;
        }
    }
    buf_free(&full);
    if (rc != 0) {
        free(pos);
        return rc;
    }
    o->args = pos;
    o->n_args = n_pos;
    return 0;
}
