/* protmode: the start-time check of protected mode.  See protmode.h. */
#include "protmode.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

int protmode_is_loopback(const char *host)
{
    if (!host || !*host || !strcmp(host, "*")) return 0;
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, host, &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &v6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
    /* A name: loopback only if everything it resolves to is (a name that
     * does not resolve cannot be listened on anyway). */
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) return 0;
    int all = 1;
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (!addr_is_loopback(ai->ai_addr)) all = 0;
    freeaddrinfo(res);
    return all;
}

int protmode_check(const char *program, const char *setting, const char *host, int open, int protected_mode,
                   const char *fix, buf *errs)
{
    if (!protected_mode || !open || protmode_is_loopback(host)) return 0;
    buf_printf(errs,
               "%s: refusing to start in protected mode: %s is %s, not a loopback address, and clients "
               "need no password. Set %s, listen on 127.0.0.1, or set protected-mode no "
               "(protected_mode: no) if every client that can reach it may use it.\n",
               program, setting, *host ? host : "every address", fix);
    return -1;
}
