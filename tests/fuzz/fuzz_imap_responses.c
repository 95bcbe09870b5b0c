/* libFuzzer: the IMAP parser reading server responses, as `gannet probe`
 * does, fed the input in chunks whose sizes come from its first byte: status
 * responses with response codes and text, untagged data, literals. */
#include "lib-imap/imap-arg.h"
#include "lib-imap/imap-parser.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* the probe's limits (probe/parse.c) */
    static const struct imap_parser_limits limits = {
        .max_bytes = 128 * 1024, .max_args = 1024, .max_literals = 0, .max_depth = 8};
    struct imap_parser *p = imap_parser_new(&limits);
    imap_parser_set_responses(p, true);
    size_t chunk = (size_t)(data[0] % 17) + 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1, pos = 0;
    while (pos < len) {
        size_t n = len - pos < chunk ? len - pos : chunk;
        size_t used = 0;
        enum imap_parse_result r = imap_parser_feed(p, in + pos, n, &used);
        if (used > n || r == IMAP_PARSE_CONTINUATION || r == IMAP_PARSE_LITERAL_STREAM)
            __builtin_trap();
        pos += used;
        if (r == IMAP_PARSE_COMMAND) {
            const struct imap_command *cmd = imap_parser_command(p);
            if (!cmd->tag || !cmd->name || (cmd->code && !cmd->text))
                __builtin_trap();
            for (size_t i = 0; i < cmd->n_args; i++) {
                const struct imap_arg *list;
                size_t count;
                const char *s;
                size_t slen;
                if (imap_arg_get_list(&cmd->args[i], &list, &count))
                    for (size_t j = 0; j < count; j++)
                        imap_arg_get_nstring(&list[j], &s, &slen);
            }
        }
        if (r == IMAP_PARSE_COMMAND || r == IMAP_PARSE_BAD || r == IMAP_PARSE_FATAL)
            imap_parser_reset(p);
        else if (r == IMAP_PARSE_NEED_MORE && used < n)
            __builtin_trap(); /* NEED_MORE must take everything */
    }
    imap_parser_free(p);
    return 0;
}
