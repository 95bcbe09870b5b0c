/* `gannet probe [options] TARGET...`: footprints IMAP/POP3 services
 * (src/probe/, docs/probe.md). */
#include "cli/commands.h"
#include "lib/number.h"
#include "probe/probe.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void probe_usage(FILE *out)
{
    fputs("usage: gannet probe [--json] [--trace] [--source ADDR] [--ca FILE]\n"
          "                    [--user U --password P] [--intrusive] [--timeout SECS]\n"
          "                    [--concurrency N] [--fail-on SEVERITY] [--no-tls-scan] TARGET...\n"
          "TARGET: host (ports 143, 993, 110, 995), host:port, [v6addr]:port,\n"
          "        imap://, imaps://, pop3://, pop3s://host[:port]\n"
          "exit: 0 when nothing at --fail-on (default medium) or above failed, 2 when\n"
          "something did, 1 on an error\n",
          out);
}

static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    uint32_t v;
    if (!str_to_uint32(s, &v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int cmd_probe(int argc, char **argv)
{
    struct probe_options opt = {.timeout_ms = 5000, .concurrency = 32, .fail_on = SEV_MEDIUM};
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"trace", no_argument, NULL, 't'},
        {"source", required_argument, NULL, 's'},
        {"ca", required_argument, NULL, 'c'},
        {"user", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 'p'},
        {"intrusive", no_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 'T'},
        {"concurrency", required_argument, NULL, 'n'},
        {"fail-on", required_argument, NULL, 'f'},
        {"no-tls-scan", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    unsigned v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            opt.json = true;
            break;
        case 't':
            opt.trace = true;
            break;
        case 's':
            opt.source = optarg;
            break;
        case 'c':
            opt.ca_file = optarg;
            break;
        case 'u':
            opt.user = optarg;
            break;
        case 'p':
            opt.password = optarg;
            break;
        case 'i':
            opt.intrusive = true;
            break;
        case 'N':
            opt.no_tls_scan = true;
            break;
        case 'T':
            if (!parse_uint(optarg, 1, 300, &v)) {
                fprintf(stderr, "gannet probe: --timeout takes 1 to 300 seconds\n");
                return 1;
            }
            opt.timeout_ms = v * 1000;
            break;
        case 'n':
            if (!parse_uint(optarg, 1, 1024, &v)) {
                fprintf(stderr, "gannet probe: --concurrency takes 1 to 1024\n");
                return 1;
            }
            opt.concurrency = v;
            break;
        case 'f':
            if (!probe_severity_parse(optarg, &opt.fail_on)) {
                fprintf(stderr,
                        "gannet probe: --fail-on takes info, low, medium, high or critical\n");
                return 1;
            }
            break;
        case 'h':
            probe_usage(stdout);
            return 0;
        default:
            probe_usage(stderr);
            return 1;
        }
    }
    if (optind >= argc) {
        probe_usage(stderr);
        return 1;
    }
    if ((opt.user == NULL) != (opt.password == NULL)) {
        fprintf(stderr, "gannet probe: --user and --password go together\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct probe_run run;
    if (probe_run(&run, &opt, argv + optind, (size_t)(argc - optind)) < 0)
        return 1;
    if (opt.json)
        probe_report_json(stdout, &run);
    else
        probe_report_text(stdout, &run);
    int rc = probe_exit_status(&run);
    probe_run_free(&run);
    return rc;
}
