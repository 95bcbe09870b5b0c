#include "lib/netaddr.h"

#include "lib/number.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool netaddr_parse_cidr(const char *text, unsigned char addr[16], int *family, unsigned *prefix)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(text, '/');
    size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
    if (hlen == 0 || hlen >= sizeof(host))
        return false;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    memset(addr, 0, 16);
    unsigned max;
    if (inet_pton(AF_INET, host, addr) == 1) {
        *family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, host, addr) == 1) {
        *family = AF_INET6;
        max = 128;
    } else {
        return false;
    }
    *prefix = max;
    if (slash) {
        uint32_t p;
        if (!str_to_uint32(slash + 1, &p) || p > max)
            return false;
        *prefix = p;
    }
    return true;
}

static bool prefix_match(const unsigned char *a, const unsigned char *net, unsigned prefix)
{
    unsigned bytes = prefix / 8, bits = prefix % 8;
    if (memcmp(a, net, bytes) != 0)
        return false;
    if (bits == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - bits));
    return (a[bytes] & mask) == (net[bytes] & mask);
}

bool netaddr_in_networks(const struct sockaddr *sa, const char *list)
{
    if (!list)
        return false;
    unsigned char a4[4], a6[16];
    bool has4 = false, has6 = false;
    if (sa->sa_family == AF_INET) {
        memcpy(a4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        has4 = true;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        memcpy(a6, in6, 16);
        has6 = true;
        if (IN6_IS_ADDR_V4MAPPED(in6)) {
            memcpy(a4, a6 + 12, 4);
            has4 = true;
        }
    }
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        size_t n = strcspn(p, " ,\t");
        if (n == 0)
            break;
        char item[64];
        if (n < sizeof(item)) {
            memcpy(item, p, n);
            item[n] = '\0';
            unsigned char net[16];
            int family;
            unsigned prefix;
            if (netaddr_parse_cidr(item, net, &family, &prefix)) {
                if (family == AF_INET && has4 && prefix_match(a4, net, prefix))
                    return true;
                if (family == AF_INET6 && has6 && prefix_match(a6, net, prefix))
                    return true;
            }
        }
        p += n;
    }
    return false;
}

void netaddr_format(const struct sockaddr *sa, char *out, size_t size, int *port)
{
    *port = 0;
    snprintf(out, size, "?");
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, out, (socklen_t)size);
        *port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], out, (socklen_t)size);
        else
            inet_ntop(AF_INET6, &in6->sin6_addr, out, (socklen_t)size);
        *port = ntohs(in6->sin6_port);
    }
}
