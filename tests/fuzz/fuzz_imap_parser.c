/* libFuzzer: the IMAP command parser, fed the input in chunks whose sizes
 * come from the input itself, as a network would split it, with the server's
 * real limits: before login (the first input byte chooses) or after, and
 * APPEND's literals streamed as the server does. */
#include "lib-imap/imap-parser.h"
#include "lib-imap/imap-quote.h"

#include <strings.h>

#include <stdint.h>
#include <string.h>

static bool streams_append(void *ctx, const char *name)
{
    (void)ctx;
    return strcasecmp(name, "APPEND") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* the defaults of login_max_line_length and imap_max_line_length */
    static const struct imap_parser_limits prelogin = {
        .max_bytes = 8192, .max_args = 64, .max_literals = 4, .max_depth = 1};
    static const struct imap_parser_limits authenticated = {
        .max_bytes = 65536, .max_args = 100000, .max_literals = 0, .max_depth = 16};
    struct imap_parser *p = imap_parser_new(data[0] & 0x80 ? &authenticated : &prelogin);
    imap_parser_set_stream(p, streams_append, NULL);
    size_t chunk = (size_t)(data[0] % 17) + 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1, pos = 0;
    while (pos < len) {
        size_t n = len - pos < chunk ? len - pos : chunk;
        size_t used = 0;
        enum imap_parse_result r = imap_parser_feed(p, in + pos, n, &used);
        if (used > n)
            __builtin_trap();
        pos += used;
        if (r == IMAP_PARSE_LITERAL_STREAM) {
            /* the command reads the literal itself */
            const struct imap_command *cmd = imap_parser_command(p);
            if (cmd->n_args == 0 || cmd->args[cmd->n_args - 1].type != IMAP_ARG_LITERAL_SIZE)
                __builtin_trap();
            size_t skip = cmd->args[cmd->n_args - 1].len;
            pos += len - pos < skip ? len - pos : skip;
            imap_parser_literal_done(p);
            continue;
        }
        if (r == IMAP_PARSE_COMMAND) {
            const struct imap_command *cmd = imap_parser_command(p);
            if (!cmd->tag || !cmd->name)
                __builtin_trap();
            struct buf out = BUF_INIT;
            for (size_t i = 0; i < cmd->n_args; i++)
                if (cmd->args[i].type == IMAP_ARG_STRING)
                    imap_quote(&out, cmd->args[i].str, cmd->args[i].len);
            buf_free(&out);
        }
        if (r == IMAP_PARSE_COMMAND || r == IMAP_PARSE_BAD || r == IMAP_PARSE_FATAL)
            imap_parser_reset(p);
        else if (r == IMAP_PARSE_NEED_MORE && used < n)
            __builtin_trap(); /* NEED_MORE must take everything */
    }
    imap_parser_free(p);
    return 0;
}
