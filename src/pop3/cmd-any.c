/* Commands of either state: CAPA (RFC 2449 §5), QUIT (RFC 1939 §5, §6); and
 * NOOP (RFC 1939 §5). */
#include "pop3/pop3-commands.h"
#include "pop3/pop3-store.h"

#include "auth/auth-request.h"
#include "lib/settings.h"
#include "login/login.h"

#include <strings.h>

void pop3_cmd_capa(struct pop3_session *s, char *arg)
{
    (void)arg;
    const struct settings *set = s->conn->settings;
    struct buf b = BUF_INIT;
    /* RFC 2449 §6: RESP-CODES, PIPELINING, TOP, UIDL in both states;
     * RFC 3206 §6 AUTH-RESP-CODE; no IMPLEMENTATION (it would name the
     * product). The first lines stay in the order gannet probe knows. */
    buf_puts(&b, "+OK Capability list follows\r\nCAPA\r\nRESP-CODES\r\nPIPELINING\r\n"
                 "AUTH-RESP-CODE\r\nTOP\r\nUIDL\r\n");
    /* RFC 2449 §6.7, §6.5: the site's values, the same for every user */
    if (strcasecmp(set->pop3_expire, "never") == 0)
        buf_puts(&b, "EXPIRE NEVER\r\n");
    else
        buf_printf(&b, "EXPIRE %s\r\n", set->pop3_expire);
    buf_printf(&b, "LOGIN-DELAY %u\r\n", set->pop3_login_delay_ms / 1000);
    /* RFC 6856 §2: UTF8 mode (without the USER argument: user names and
     * passwords are taken as they come, without SASLprep) */
    buf_puts(&b, "UTF8\r\n");
    if (pop3_stls_available(s))
        buf_puts(&b, "STLS\r\n");
    /* RFC 2449 §6.2, §6.3: only where a login can be made now */
    if (s->state == POP3_AUTHORIZATION && login_plaintext_allowed(set, s->conn->secured)) {
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
    if (s->state == POP3_TRANSACTION) {
        /* RFC 1939 §6: the UPDATE state; it answers and closes */
        pop3_store_update(s);
        return;
    }
    pop3_close_with(s, "+OK Logging out.");
}

void pop3_cmd_noop(struct pop3_session *s, char *arg)
{
    (void)arg;
    conn_printf(s->conn, "+OK\r\n");
}
