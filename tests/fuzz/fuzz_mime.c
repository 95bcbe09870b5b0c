/* libFuzzer: the streaming message parser, fed in chunks whose size the input
 * picks, must describe any bytes without crashing and give a parenthesized
 * ENVELOPE and BODYSTRUCTURE. */
#include "mail/message.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)(data[0] % 64) + 1;
    struct mail_parser *p = mail_parser_new();
    for (size_t off = 1; off < size; off += chunk)
        mail_parser_feed(p, data + off, size - off < chunk ? size - off : chunk);
    struct mail_summary s;
    mail_parser_finish(p, &s);
    mail_parser_free(p);
    if (s.envelope[0] != '(' || s.bodystructure[0] != '(' || s.size != size - 1)
        __builtin_trap();
    mail_summary_free(&s);
    return 0;
}
