#include "lib-imap/imap-arg.h"

#include "lib-imap/mutf7.h"
#include "lib/number.h"
#include "lib/utf8.h"

#include <string.h>
#include <strings.h>

bool imap_arg_is(const struct imap_arg *arg, const char *keyword)
{
    return (arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_STRING ||
            arg->type == IMAP_ARG_NIL) &&
           strlen(keyword) == arg->len && strcasecmp(arg->str, keyword) == 0;
}

bool imap_arg_get_atom(const struct imap_arg *arg, const char **out)
{
    if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL)
        return false;
    *out = arg->str;
    return true;
}

bool imap_arg_get_string(const struct imap_arg *arg, const char **out, size_t *len)
{
    if (arg->type != IMAP_ARG_STRING)
        return false;
    *out = arg->str;
    if (len)
        *len = arg->len;
    return true;
}

bool imap_arg_get_astring(const struct imap_arg *arg, const char **out, size_t *len)
{
    if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_STRING && arg->type != IMAP_ARG_NIL)
        return false;
    *out = arg->str;
    if (len)
        *len = arg->len;
    return true;
}

bool imap_arg_get_mailbox(const struct imap_arg *arg, bool utf8, struct buf *out)
{
    const char *name;
    size_t len;
    if (!imap_arg_get_astring(arg, &name, &len))
        return false;
    if (utf8) {
        /* a literal may hold a NUL, which no name may */
        if (memchr(name, '\0', len) != NULL || !utf8_valid(name, len))
            return false;
        buf_append(out, name, len);
        return true;
    }
    size_t start = out->len;
    if (mutf7_decode(name, len, false, out) < 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return false;
    }
    return true;
}

bool imap_arg_get_nstring(const struct imap_arg *arg, const char **out, size_t *len)
{
    if (arg->type == IMAP_ARG_NIL) {
        *out = NULL;
        if (len)
            *len = 0;
        return true;
    }
    return imap_arg_get_string(arg, out, len);
}

bool imap_arg_get_list(const struct imap_arg *arg, const struct imap_arg **list, size_t *n)
{
    if (arg->type != IMAP_ARG_LIST)
        return false;
    *list = arg->list;
    *n = arg->list_len;
    return true;
}

static bool digits_value(const struct imap_arg *arg, uint64_t max, uint64_t *out)
{
    uint64_t v;
    if (arg->type != IMAP_ARG_ATOM || !mem_to_uint64(arg->str, arg->len, &v) || v > max)
        return false;
    *out = v;
    return true;
}

bool imap_arg_get_number(const struct imap_arg *arg, uint32_t *out)
{
    uint64_t v;
    if (!digits_value(arg, UINT32_MAX, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool imap_arg_get_nz_number(const struct imap_arg *arg, uint32_t *out)
{
    return imap_arg_get_number(arg, out) && *out != 0;
}

bool imap_arg_get_number64(const struct imap_arg *arg, uint64_t *out)
{
    return digits_value(arg, INT64_MAX, out);
}

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Reads exactly n digits. */
static bool fixed_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool month_of(const char *s, int *out)
{
    for (int m = 0; m < 12; m++)
        if (strncasecmp(s, months[m], 3) == 0) {
            *out = m;
            return true;
        }
    return false;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month] + (month == 1 && leap);
}

/* "d-Mon-yyyy" or "dd-Mon-yyyy" at s, with the day possibly space-padded when
 * fixed; *used tells its length. */
static bool parse_day_month_year(const char *s, size_t len, bool fixed, struct tm *tm, size_t *used)
{
    size_t i = 0;
    int day;
    if (fixed) {
        if (len < 11)
            return false;
        if (s[0] == ' ') {
            if (!fixed_digits(s + 1, 1, &day))
                return false;
        } else if (!fixed_digits(s, 2, &day)) {
            return false;
        }
        i = 2;
    } else if (len >= 2 && s[1] == '-') {
        if (!fixed_digits(s, 1, &day))
            return false;
        i = 1;
    } else {
        if (len < 2 || !fixed_digits(s, 2, &day))
            return false;
        i = 2;
    }
    int month, year;
    if (len < i + 9 || s[i] != '-' || !month_of(s + i + 1, &month) || s[i + 4] != '-' ||
        !fixed_digits(s + i + 5, 4, &year))
        return false;
    if (day < 1 || day > days_in_month(year, month))
        return false;
    memset(tm, 0, sizeof(*tm));
    tm->tm_mday = day;
    tm->tm_mon = month;
    tm->tm_year = year - 1900;
    *used = i + 9;
    return true;
}

bool imap_arg_get_date(const struct imap_arg *arg, time_t *out)
{
    if (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_STRING)
        return false;
    struct tm tm;
    size_t used;
    if (!parse_day_month_year(arg->str, arg->len, false, &tm, &used) || used != arg->len)
        return false;
    *out = timegm(&tm);
    return true;
}

bool imap_arg_get_datetime(const struct imap_arg *arg, time_t *out, int *tz_minutes)
{
    /* RFC 9051 §9: date-time = DQUOTE date-day-fixed "-" date-month "-"
     * date-year SP time SP zone DQUOTE; 26 characters inside the quotes. */
    if (arg->type != IMAP_ARG_STRING || arg->literal || arg->len != 26)
        return false;
    const char *s = arg->str;
    struct tm tm;
    size_t used;
    if (!parse_day_month_year(s, arg->len, true, &tm, &used) || s[11] != ' ')
        return false;
    int h, m, sec, zh, zm;
    if (!fixed_digits(s + 12, 2, &h) || s[14] != ':' || !fixed_digits(s + 15, 2, &m) ||
        s[17] != ':' || !fixed_digits(s + 18, 2, &sec) || s[20] != ' ' ||
        (s[21] != '+' && s[21] != '-') || !fixed_digits(s + 22, 2, &zh) ||
        !fixed_digits(s + 24, 2, &zm))
        return false;
    if (h > 23 || m > 59 || sec > 60 || zm > 59)
        return false;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    int tz = (zh * 60 + zm) * (s[21] == '-' ? -1 : 1);
    *out = timegm(&tm) - (time_t)tz * 60;
    if (tz_minutes)
        *tz_minutes = tz;
    return true;
}

static const struct {
    const char *name;
    unsigned bit;
} system_flags[] = {
    {"\\Seen", IMAP_FLAG_SEEN},       {"\\Answered", IMAP_FLAG_ANSWERED},
    {"\\Flagged", IMAP_FLAG_FLAGGED}, {"\\Deleted", IMAP_FLAG_DELETED},
    {"\\Draft", IMAP_FLAG_DRAFT},
};

bool imap_flags_add(struct imap_flags *out, struct arena *a, const struct imap_arg *flag)
{
    if (flag->type != IMAP_ARG_ATOM && flag->type != IMAP_ARG_NIL)
        return false;
    if (flag->str[0] == '\\') {
        for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++)
            if (strcasecmp(flag->str, system_flags[i].name) == 0) {
                out->system |= system_flags[i].bit;
                return true;
            }
        return false; /* \Recent, \* or an unknown system flag */
    }
    /* flag-keyword = atom; '[' ']' (resp-specials) and '%' '*' have no place in one */
    if (strpbrk(flag->str, "[]%*"))
        return false;
    for (size_t i = 0; i < out->n_keywords; i++)
        if (strcasecmp(out->keywords[i], flag->str) == 0)
            return true;
    const char **bigger = arena_alloc(a, (out->n_keywords + 1) * sizeof(*bigger));
    if (out->n_keywords)
        memcpy(bigger, out->keywords, out->n_keywords * sizeof(*bigger));
    bigger[out->n_keywords++] = flag->str;
    out->keywords = bigger;
    return true;
}

bool imap_arg_get_flag_list(const struct imap_arg *arg, struct arena *a, struct imap_flags *out)
{
    memset(out, 0, sizeof(*out));
    const struct imap_arg *list;
    size_t n;
    if (!imap_arg_get_list(arg, &list, &n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!imap_flags_add(out, a, &list[i]))
            return false;
    return true;
}
