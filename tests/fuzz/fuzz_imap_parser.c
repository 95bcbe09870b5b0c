/* libFuzzer: the IMAP command parser, fed the input in chunks whose sizes
 * come from the input itself, as a network would split it. */
#include "imap/parser.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct imap_parser_limits limits = {.max_line = 1024, .max_literal = 512, .max_args = 64};
    struct imap_parser *p = imap_parser_new(&limits);
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
