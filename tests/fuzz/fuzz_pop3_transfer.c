/* libFuzzer: RETR and TOP's conversion of a message (pop3/pop3-transfer.h)
 * with arbitrary bytes. The first byte picks RETR or TOP and its line count,
 * the second the size of the pieces the message is fed in. Checked: the
 * answer is the same whatever the pieces, it ends with CRLF "." CRLF, every
 * LF in it is preceded by a CR, no line in it but the last is a lone ".",
 * and a RETR is as long as the message plus one CR per bare LF plus one "."
 * per line that starts with one (what LIST's size promises). */
#include "pop3/pop3-transfer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void convert(const uint8_t *msg, size_t len, bool top, uint64_t lines, size_t step,
                    struct buf *out)
{
    struct pop3_transfer t;
    pop3_transfer_init(&t, top, lines);
    for (size_t off = 0; off < len;) {
        size_t n = step && step < len - off ? step : len - off;
        if (pop3_transfer_feed(&t, (const char *)msg + off, n, out))
            break;
        off += n;
    }
    pop3_transfer_finish(&t, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    bool top = data[0] & 0x80;
    uint64_t lines = data[0] & 0x7f;
    size_t step = data[1];
    const uint8_t *msg = data + 2;
    size_t len = size - 2;

    struct buf whole = BUF_INIT, pieces = BUF_INIT;
    convert(msg, len, top, lines, 0, &whole);
    convert(msg, len, top, lines, step, &pieces);
    if (whole.len != pieces.len || memcmp(whole.data, pieces.data, whole.len) != 0)
        abort();
    if (whole.len < 3 || memcmp(whole.data + whole.len - 3, ".\r\n", 3) != 0 ||
        (whole.len > 3 && memcmp(whole.data + whole.len - 5, "\r\n", 2) != 0))
        abort();
    for (size_t i = 0; i < whole.len; i++) {
        if (whole.data[i] == '\n' && (i == 0 || whole.data[i - 1] != '\r'))
            abort();
        bool line_start = i == 0 || whole.data[i - 1] == '\n';
        if (line_start && i + 3 < whole.len && memcmp(whole.data + i, ".\r\n", 3) == 0)
            abort();
    }
    if (!top) {
        size_t want = len + 3, at_start = 1;
        for (size_t i = 0; i < len; i++) {
            if (at_start && msg[i] == '.')
                want++;
            if (msg[i] == '\n' && (i == 0 || msg[i - 1] != '\r'))
                want++;
            at_start = msg[i] == '\n';
        }
        if (len && msg[len - 1] != '\n')
            want += msg[len - 1] == '\r' ? 1 : 2;
        if (whole.len != want)
            abort();
    }
    buf_free(&whole);
    buf_free(&pieces);
    return 0;
}
