/* IP addresses and networks (login_trusted_networks). */
#ifndef GANNET_LIB_NETADDR_H
#define GANNET_LIB_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Parses "192.0.2.0/24", "2001:db8::/32" or a single address. */
bool netaddr_parse_cidr(const char *text, unsigned char addr[16], int *family, unsigned *prefix);
/* True when sa lies in one of the space or comma separated networks in list. */
bool netaddr_in_networks(const struct sockaddr *sa, const char *list);
/* "192.0.2.1" / "2001:db8::1" (IPv4-mapped IPv6 shown as IPv4), and the port. */
void netaddr_format(const struct sockaddr *sa, char *out, size_t size, int *port);

#endif
