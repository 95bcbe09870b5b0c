/* The signature table of `gannet probe` (see fingerprint.h). The wording comes
 * from the products' sources and documentation and from recorded sessions
 * (tests/integration/probe_fakeserver.py replays some of them). */
#include "probe/fingerprint.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum sig_kind {
    SIG_END,
    SIG_GREETING,    /* substring of the greeting */
    SIG_GREETING_RE, /* POSIX extended regex on the greeting; group 1 is the version */
    SIG_ID_NAME,     /* IMAP ID "name" equals (case-insensitive); its "version" is the version */
    SIG_CAP,         /* a capability (IMAP atom, or POP3 CAPA line prefix) */
    SIG_CAPS_PREFIX, /* the capability list, joined by spaces, starts with this */
    SIG_CAP_OK,      /* substring of the tagged OK text to CAPABILITY */
    SIG_BOGUS,       /* substring of the answer to a bogus command */
    SIG_EMPTY,       /* substring of the answer to an empty line */
    SIG_HTTP,        /* substring of the answer to GET / HTTP/1.0 */
};

enum sig_proto { P_ANY, P_IMAP, P_POP3 };

struct sig_rule {
    enum sig_kind kind;
    enum sig_proto proto;
    const char *pattern;
    unsigned weight;
};

#define MAX_RULES 10

struct signature {
    const char *product;
    struct sig_rule rules[MAX_RULES];
};

static const struct signature signatures[] = {
    {"Dovecot",
     {{SIG_GREETING_RE, P_ANY, "Dovecot (\\(Debian\\) |\\(Ubuntu\\) )?([0-9]+\\.[0-9.]+ )?ready\\.",
       70},
      {SIG_GREETING_RE, P_ANY, "Dovecot ([0-9]+\\.[0-9][0-9.]*)", 20},
      {SIG_ID_NAME, P_IMAP, "Dovecot", 80},
      {SIG_CAPS_PREFIX, P_IMAP, "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE", 40},
      {SIG_CAP_OK, P_IMAP, "Pre-login capabilities listed, post-login capabilities have more.", 50},
      {SIG_BOGUS, P_IMAP, "Unknown command.", 5},
      {SIG_BOGUS, P_IMAP, "Error in IMAP command received by server.", 30},
      {SIG_BOGUS, P_POP3, "-ERR Unknown command:", 20},
      {SIG_END, P_ANY, NULL, 0}}},
    {"Cyrus",
     {{SIG_GREETING_RE, P_ANY, "Cyrus (IMAP|POP3)[^ ]* (v|version )?([0-9]+\\.[0-9][0-9.]*)", 70},
      {SIG_GREETING, P_ANY, "Cyrus", 50},
      {SIG_ID_NAME, P_IMAP, "Cyrus IMAPD", 80},
      {SIG_CAP, P_IMAP, "X-NETSCAPE", 15},
      {SIG_CAP, P_IMAP, "URLAUTHA0001", 15},
      {SIG_CAP, P_IMAP, "SCAN", 5},
      {SIG_CAP_OK, P_IMAP, "Completed", 10},
      {SIG_BOGUS, P_IMAP, "Unrecognized command", 20},
      {SIG_END, P_ANY, NULL, 0}}},
    {"Courier",
     {{SIG_GREETING, P_IMAP, "Courier-IMAP ready", 80},
      {SIG_GREETING, P_POP3, "Hello there.", 60},
      {SIG_GREETING, P_ANY, "Copyright 1998-", 10},
      {SIG_CAP, P_IMAP, "ACL2=UNION", 10},
      {SIG_CAP, P_IMAP, "THREAD=ORDEREDSUBJECT", 5},
      {SIG_CAP_OK, P_IMAP, "CAPABILITY completed", 5},
      {SIG_BOGUS, P_IMAP, "Error in IMAP command received by server.", 10},
      {SIG_END, P_ANY, NULL, 0}}},
    {"UW-IMAP",
     {{SIG_GREETING_RE, P_ANY, "IMAP4rev1 ([0-9]{4}[a-z]?(\\.[0-9]+)*) at ", 80},
      {SIG_GREETING_RE, P_POP3, "POP3 .*(20[0-9]{2}[a-z]?(\\.[0-9]+)*) server ready", 70},
      {SIG_CAP, P_IMAP, "SCAN", 10},
      {SIG_CAP, P_IMAP, "MAILBOX-REFERRALS", 15},
      {SIG_CAP_OK, P_IMAP, "CAPABILITY completed", 5},
      {SIG_END, P_ANY, NULL, 0}}},
    {"Microsoft Exchange",
     {{SIG_GREETING_RE, P_ANY, "Microsoft Exchange Server (20[0-9]{2})", 80},
      {SIG_GREETING, P_ANY, "The Microsoft Exchange IMAP4 service is ready", 80},
      {SIG_GREETING, P_ANY, "The Microsoft Exchange POP3 service is ready", 80},
      {SIG_CAP, P_IMAP, "AUTH=NTLM", 15},
      {SIG_CAP, P_IMAP, "AUTH=GSSAPI", 5},
      {SIG_CAP, P_POP3, "SASL NTLM", 15},
      {SIG_CAPS_PREFIX, P_IMAP, "IMAP4 IMAP4rev1", 20},
      {SIG_BOGUS, P_IMAP, "Command Error. 12", 40},
      {SIG_END, P_ANY, NULL, 0}}},
    {"Gmail",
     {{SIG_GREETING, P_IMAP, "Gimap ready for requests from", 90},
      {SIG_GREETING, P_POP3, "Gpop ready for requests from", 90},
      {SIG_CAP, P_IMAP, "X-GM-EXT-1", 60},
      {SIG_CAP, P_IMAP, "AUTH=XOAUTH2", 10},
      {SIG_END, P_ANY, NULL, 0}}},
    {"Yahoo",
     {{SIG_GREETING, P_IMAP, "IMAP4rev1 Hello", 40},
      {SIG_CAP, P_IMAP, "XYMHIGHESTMODSEQ", 60},
      {SIG_GREETING, P_POP3, "hello from popgate", 80},
      {SIG_END, P_ANY, NULL, 0}}},
    {"iCloud",
     {{SIG_GREETING, P_ANY, "iSCREAM ready", 80},
      {SIG_CAP, P_IMAP, "XAPPLEPUSHSERVICE", 40},
      {SIG_CAP, P_IMAP, "AUTH=ATOKEN", 40},
      {SIG_END, P_ANY, NULL, 0}}},
    {"Yandex",
     {{SIG_GREETING, P_ANY, "Yandex IMAP4rev1", 80},
      {SIG_GREETING, P_POP3, "POP3 ready", 10},
      {SIG_GREETING, P_ANY, "Yandex", 40},
      {SIG_ID_NAME, P_IMAP, "Yandex Mail", 80},
      {SIG_END, P_ANY, NULL, 0}}},
    {"Zoho",
     {{SIG_GREETING, P_ANY, "Zoho Mail", 80},
      {SIG_ID_NAME, P_IMAP, "Zoho Mail", 80},
      {SIG_END, P_ANY, NULL, 0}}},
    {"HCL/IBM Domino",
     {{SIG_GREETING_RE, P_ANY, "Domino (IMAP4|POP3) Server Release ([0-9][^ ]*)", 90},
      {SIG_GREETING, P_ANY, "Domino", 40},
      {SIG_END, P_ANY, NULL, 0}}},
    {"Zimbra",
     {{SIG_GREETING_RE, P_ANY, "Zimbra (IMAP4rev1|POP3) server ready", 80},
      {SIG_GREETING, P_ANY, "Zimbra", 40},
      {SIG_ID_NAME, P_IMAP, "Zimbra", 80},
      {SIG_CAP, P_IMAP, "XLIST", 5},
      {SIG_END, P_ANY, NULL, 0}}},
    {"hMailServer",
     {{SIG_GREETING, P_IMAP, "* OK IMAPrev1", 70},
      {SIG_GREETING, P_ANY, "hMailServer", 80},
      {SIG_GREETING, P_POP3, "+OK POP3", 20},
      {SIG_END, P_ANY, NULL, 0}}},
    {"SmarterMail", {{SIG_GREETING, P_ANY, "SmarterMail", 90}, {SIG_END, P_ANY, NULL, 0}}},
    {"Stalwart",
     {{SIG_GREETING, P_ANY, "Stalwart", 80},
      {SIG_ID_NAME, P_IMAP, "Stalwart", 80},
      {SIG_ID_NAME, P_IMAP, "Stalwart IMAP", 80},
      {SIG_END, P_ANY, NULL, 0}}},
    {"gannet",
     {{SIG_GREETING_RE, P_ANY, "gannet ([0-9]+\\.[0-9][0-9.]*[^ ]* )?ready\\.", 70},
      {SIG_ID_NAME, P_IMAP, "gannet", 80},
      {SIG_CAPS_PREFIX, P_IMAP, "IMAP4rev1 IMAP4rev2 LITERAL+ ID ENABLE", 30},
      {SIG_CAP_OK, P_IMAP, "CAPABILITY completed.", 5},
      {SIG_CAPS_PREFIX, P_POP3, "CAPA RESP-CODES PIPELINING AUTH-RESP-CODE", 30},
      {SIG_END, P_ANY, NULL, 0}}},
};

/* Matches re on s; copies the last non-empty group that looks like a version. */
static bool regex_match(const char *re, const char *s, char *version, size_t vlen)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED) != 0)
        return false;
    regmatch_t m[4];
    bool ok = regexec(&r, s, 4, m, 0) == 0;
    if (ok) {
        for (int g = 3; g >= 1; g--) {
            if (m[g].rm_so < 0 || m[g].rm_eo <= m[g].rm_so)
                continue;
            const char *v = s + m[g].rm_so;
            size_t n = (size_t)(m[g].rm_eo - m[g].rm_so);
            while (n > 0 && v[n - 1] == ' ')
                n--;
            if (n == 0 || !(v[0] >= '0' && v[0] <= '9') || n >= vlen)
                continue;
            memcpy(version, v, n);
            version[n] = '\0';
            break;
        }
    }
    regfree(&r);
    return ok;
}

static bool has_cap(const struct probe_strlist *caps, const char *c, bool pop3)
{
    if (!caps)
        return false;
    size_t cl = strlen(c);
    for (size_t i = 0; i < caps->n; i++) {
        if (!pop3 && strcasecmp(caps->v[i], c) == 0)
            return true;
        if (pop3 && strncasecmp(caps->v[i], c, cl) == 0 &&
            (caps->v[i][cl] == '\0' || caps->v[i][cl] == ' '))
            return true;
    }
    return false;
}

static bool contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

static void add_signal(struct buf *b, const char *kind, const char *what)
{
    if (b->len)
        buf_puts(b, "; ");
    buf_printf(b, "%s:%s", kind, what);
}

static int cmp_match(const void *a, const void *b)
{
    const struct probe_match *x = a, *y = b;
    return (int)y->confidence - (int)x->confidence;
}

size_t probe_fingerprint(const struct probe_signals *s, struct probe_match *out, size_t max)
{
    size_t n_sig = sizeof(signatures) / sizeof(signatures[0]);
    struct probe_match *all = xcalloc(n_sig, sizeof(*all));
    struct buf joined = BUF_INIT;
    if (s->caps)
        probe_strlist_join(s->caps, " ", &joined);
    size_t found = 0;
    for (size_t i = 0; i < n_sig; i++) {
        const struct signature *sig = &signatures[i];
        struct probe_match *m = &all[found];
        memset(m, 0, sizeof(*m));
        unsigned score = 0;
        char version[64] = "";
        for (const struct sig_rule *r = sig->rules; r->kind != SIG_END; r++) {
            if ((r->proto == P_IMAP && s->pop3) || (r->proto == P_POP3 && !s->pop3))
                continue;
            bool hit = false;
            const char *kind = "";
            switch (r->kind) {
            case SIG_GREETING:
                hit = contains(s->greeting, r->pattern);
                kind = "greeting";
                break;
            case SIG_GREETING_RE:
                hit = s->greeting && regex_match(r->pattern, s->greeting, version, sizeof(version));
                kind = "greeting";
                break;
            case SIG_ID_NAME:
                hit = s->id_name && strcasecmp(s->id_name, r->pattern) == 0;
                if (hit && s->id_version && *s->id_version &&
                    strlen(s->id_version) < sizeof(version)) {
                    memcpy(version, s->id_version, strlen(s->id_version) + 1);
                }
                kind = "id.name";
                break;
            case SIG_CAP:
                hit = has_cap(s->caps, r->pattern, s->pop3);
                kind = "capability";
                break;
            case SIG_CAPS_PREFIX:
                hit = joined.len && strncasecmp(joined.data, r->pattern, strlen(r->pattern)) == 0;
                kind = "capability order";
                break;
            case SIG_CAP_OK:
                hit = contains(s->caps_ok_text, r->pattern);
                kind = "capability ok text";
                break;
            case SIG_BOGUS:
                hit = contains(s->bogus, r->pattern);
                kind = "bogus command answer";
                break;
            case SIG_EMPTY:
                hit = contains(s->empty, r->pattern);
                kind = "empty line answer";
                break;
            case SIG_HTTP:
                hit = contains(s->http, r->pattern);
                kind = "http answer";
                break;
            case SIG_END:
                break;
            }
            if (hit) {
                score += r->weight;
                add_signal(&m->signals, kind, r->pattern);
            }
        }
        /* A version alone, or weak hints, are not an identification. */
        if (score >= 30) {
            m->product = sig->product;
            m->confidence = score > 100 ? 100 : score;
            memcpy(m->version, version, sizeof(m->version));
            found++;
        } else {
            buf_free(&m->signals);
        }
    }
    buf_free(&joined);
    qsort(all, found, sizeof(*all), cmp_match);
    size_t n = found < max ? found : max;
    memcpy(out, all, n * sizeof(*all));
    for (size_t i = n; i < found; i++)
        probe_match_free(&all[i]);
    free(all);
    return n;
}

void probe_match_free(struct probe_match *m)
{
    buf_free(&m->signals);
}
