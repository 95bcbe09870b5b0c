/* libFuzzer: the SASL server mechanisms with arbitrary client messages. The
 * first byte picks the mechanism, NUL-separated pieces are the messages. */
#include "auth/sasl.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum sasl_mech mech = (enum sasl_mech)(data[0] % 3);
    struct sasl_server *s = sasl_server_new(mech);
    const unsigned char *p = data + 1;
    size_t left = size - 1;
    static const struct scram_credentials cred = {
        .iterations = 4096, .salt = "0123456789abcdef", .salt_len = 16};
    for (int step = 0; step < 6; step++) {
        const unsigned char *sep = memchr(p, 0xff, left);
        size_t n = sep ? (size_t)(sep - p) : left;
        struct buf out = BUF_INIT;
        const char *err = NULL;
        enum sasl_status st = sasl_server_step(s, step == 0 && n == 0 ? NULL : p, n, &out, &err);
        if (st == SASL_NEED_CREDENTIALS) {
            buf_reset(&out);
            st = sasl_scram_set_credentials(s, (step & 1) ? &cred : NULL, &out);
        }
        buf_free(&out);
        if (st == SASL_FAIL || st == SASL_SUCCESS || st == SASL_NEED_PASSWORD_CHECK || !sep)
            break;
        p = sep + 1;
        left -= n + 1;
    }
    sasl_server_free(s);
    return 0;
}
