/* Tests for net/climit.c: protected mode's decision for a peer. Loopback
 * addresses (127.0.0.0/8, ::1, ::ffff:127.x) and Unix sockets are let in;
 * other addresses are refused, and so is a peer whose address could not
 * be read (getpeername failed), as Redis refuses it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "net/net_internal.h"

static struct sockaddr_storage addr(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &a->sin_addr), 1);
    }
    return ss;
}

static void test_loopback_let_in(void **st)
{
    (void)st;
    const char *ok[] = {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct sockaddr_storage ss = addr(ok[i]);
        assert_int_equal(climit_peer_refused(0, &ss), 0);
    }
    struct sockaddr_storage un;
    memset(&un, 0, sizeof un);
    un.ss_family = AF_UNIX;
    assert_int_equal(climit_peer_refused(0, &un), 0);
}

static void test_remote_refused(void **st)
{
    (void)st;
    const char *bad[] = {"10.0.0.1", "192.168.1.5",     "128.0.0.1",
                         "::2",      "::ffff:10.0.0.1", "fe80::1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sockaddr_storage ss = addr(bad[i]);
        assert_int_equal(climit_peer_refused(0, &ss), 1);
    }
}

/* getpeername failed (ENOTCONN: the peer reset before we asked; ENOBUFS):
 * whatever the buffer holds, the client is refused. */
static void test_unknown_peer_refused(void **st)
{
    (void)st;
    struct sockaddr_storage ss = addr("127.0.0.1");
    assert_int_equal(climit_peer_refused(-1, &ss), 1);
    memset(&ss, 0, sizeof ss);
    assert_int_equal(climit_peer_refused(-1, &ss), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_let_in),
        cmocka_unit_test(test_remote_refused),
        cmocka_unit_test(test_unknown_peer_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
