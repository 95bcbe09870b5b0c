/* Commands of either state: CAPA (RFC 2449 §5), QUIT (RFC 1939 §5, §6); and
 * NOOP (RFC 1939 §5). */
#include "pop3/pop3-commands.h"

#include "auth/auth-request.h"
#include "login/login.h"

void pop3_cmd_capa(struct pop3_session *s, char *arg)
{
    (void)arg;
    struct buf b = BUF_INIT;
    buf_puts(
        &b,
        "+OK Capability list follows\r\nCAPA\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n");
    if (pop3_stls_available(s))
        buf_puts(&b, "STLS\r\n");
    if (s->state == POP3_AUTHORIZATION &&
        login_plaintext_allowed(s->conn->settings, s->conn->secured)) {
        buf_puts(&b, "USER\r\n");
        const char *const *mechs = auth_service_mechanisms(s->auth);
        if (*mechs) {
            buf_puts(&b, "SASL");
            for (; *mechs; mechs++)
                buf_printf(&b, " %s", *mechs);
            buf_puts(&b, "\r\n");
        }
    }
    buf_puts(&b, ".\r\n");
    conn_write(s->conn, b.data, b.len);
    buf_free(&b);
}

void pop3_cmd_quit(struct pop3_session *s, char *arg)
{
    (void)arg;
    pop3_close_with(s, "+OK Logging out.");
}

void pop3_cmd_noop(struct pop3_session *s, char *arg)
{
    (void)arg;
    conn_printf(s->conn, "+OK\r\n");
}
