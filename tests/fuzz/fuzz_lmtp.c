/* libFuzzer: LMTP's parsers on arbitrary bytes: the paths and parameters of
 * MAIL FROM and RCPT TO, LHLO's domain, and the DATA decoder fed in pieces
 * whose sizes come from the input. The decoder must never write more than it
 * promises, never consume past the end of the data, and give the same
 * message whatever the pieces. */
#include "lmtp/dot-decoder.h"
#include "lmtp/smtp-syntax.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void decode(const uint8_t *data, size_t size, size_t step, struct buf *out, size_t *used)
{
    struct dot_decoder d;
    dot_decoder_init(&d);
    char *tmp = malloc(step + 1);
    size_t i = 0;
    while (i < size && !dot_decoder_done(&d)) {
        size_t n = size - i < step ? size - i : step;
        size_t got = 0;
        size_t k = dot_decoder_feed(&d, (const char *)data + i, n, tmp, &got);
        if (got > n + 1 || k > n || (k < n && !dot_decoder_done(&d)))
            abort();
        buf_append(out, tmp, got);
        i += k;
    }
    free(tmp);
    *used = i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the text of a command line: up to the first NUL */
    size_t line_len = strnlen((const char *)data, size);
    char *line = malloc(line_len + 1);
    memcpy(line, data, line_len);
    line[line_len] = '\0';
    for (int flags = 0; flags < 8; flags++) {
        struct smtp_path p = {0};
        const char *s = line, *why;
        if (smtp_parse_path(&s, flags & 1, flags & 2, flags & 4, &p, &why)) {
            struct buf kw = BUF_INIT, val = BUF_INIT;
            while (smtp_next_param(&s, &kw, &val) > 0)
                ;
            buf_free(&kw);
            buf_free(&val);
        }
        smtp_path_free(&p);
    }
    (void)smtp_valid_helo(line);
    free(line);

    struct buf whole = BUF_INIT, pieces = BUF_INIT;
    size_t used_whole, used_pieces;
    decode(data, size, size ? size : 1, &whole, &used_whole);
    decode(data, size, size ? (size_t)data[0] % 7 + 1 : 1, &pieces, &used_pieces);
    if (used_whole != used_pieces || whole.len != pieces.len ||
        (whole.len && memcmp(whole.data, pieces.data, whole.len) != 0))
        abort();
    buf_free(&whole);
    buf_free(&pieces);
    return 0;
}
