#include "lib-imap/imap-match.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Compares one character, INBOX's own letters without regard to case. */
static bool same_char(char p, char n, bool inbox_part)
{
    return inbox_part ? tolower((unsigned char)p) == tolower((unsigned char)n) : p == n;
}

/* Matches pattern against name from position pi/ni; the first five
 * characters of a name that is INBOX or under it are INBOX's. When
 * prefix_ok, a name that runs out while the pattern could go on counts too. */
static bool match_from(const char *pat, size_t pi, const char *name, size_t ni, char sep,
                       size_t inbox_len, bool prefix_ok)
{
    while (pat[pi]) {
        char p = pat[pi];
        if (p == '*' || p == '%') {
            /* try every length the wildcard could take */
            for (size_t k = ni;; k++) {
                if (match_from(pat, pi + 1, name, k, sep, inbox_len, prefix_ok))
                    return true;
                if (!name[k] || (p == '%' && name[k] == sep))
                    return prefix_ok && !name[k];
            }
        }
        if (!name[ni])
            return prefix_ok;
        if (!same_char(p, name[ni], ni < inbox_len))
            return false;
        pi++;
        ni++;
    }
    return name[ni] == '\0';
}

static size_t inbox_prefix(const char *name, char sep)
{
    if (strncasecmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == sep))
        return 5;
    return 0;
}

bool imap_list_match(const char *pattern, const char *name, char sep)
{
    return match_from(pattern, 0, name, 0, sep, inbox_prefix(name, sep), false);
}

bool imap_list_match_prefix(const char *pattern, const char *name, char sep)
{
    size_t len = strlen(name);
    char child[1024];
    if (len + 2 > sizeof(child))
        return false;
    memcpy(child, name, len);
    child[len] = sep;
    child[len + 1] = '\0';
    return match_from(pattern, 0, child, 0, sep, inbox_prefix(name, sep), true);
}
