/* `gannet config check [-c FILE]`: parses the configuration, prints the
 * settings that differ from the defaults and one warning per dangerous
 * setting (DESIGN.md "Configuration"). An error in the file is exit 1;
 * warnings are not, so that a deliberate choice does not break scripts. */
#include "cli/commands.h"

#include "cli/config-audit.h"
#include "cli/options.h"
#include "lib/buf.h"
#include "lib/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char config_usage[] = "usage: gannet config check [-c FILE]\n";

static void print_warning(const char *id, const char *setting, const char *message, void *ctx)
{
    (void)setting;
    fprintf(ctx, "warning: [%s] %s\n", id, message);
}

static int config_check(const char *path)
{
    struct settings s;
    struct buf err = BUF_INIT, out = BUF_INIT;
    if (settings_load(path, &s, &err) < 0) {
        fprintf(stderr, "%s\n", buf_cstr(&err));
        buf_free(&err);
        return 1;
    }
    buf_free(&err);
    printf("# gannet %s, %s\n", GANNET_VERSION, path);
    settings_dump_changed(&s, &out);
    fwrite(buf_cstr(&out), 1, out.len, stdout);
    buf_free(&out);
    config_audit(&s, print_warning, stdout);
    settings_free(&s);
    return fflush(stdout) == 0 ? 0 : 1;
}

int cmd_config(int argc, char **argv)
{
    /* "check" is the first argument that is not an option: -c FILE may come
     * before it (`gannet config -c FILE check`). */
    struct cli_opts o;
    int rc = cli_opts_parse(argc, argv, "", config_usage, &o);
    if (rc != 0)
        return rc == 1 ? 0 : 1;
    if (o.n_args == 0 || strcmp(o.args[0], "check") != 0) {
        fputs(config_usage, stderr);
        free(o.args);
        return 1;
    }
    if (o.n_args > 1) {
        fprintf(stderr, "gannet config check: unexpected argument '%s'\n%s", o.args[1],
                config_usage);
        free(o.args);
        return 1;
    }
    free(o.args);
    return config_check(o.config);
}
