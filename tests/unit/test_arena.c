/* lib/arena: alignment, growth, reset keeping one small chunk, cleanups in
 * reverse order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/arena.h"

#include <stdalign.h>
#include <string.h>

static void test_alloc_aligned_zeroed(void **state)
{
    (void)state;
    struct arena a = ARENA_INIT;
    for (size_t i = 1; i < 200; i++) {
        unsigned char *p = arena_alloc(&a, i);
        assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
        for (size_t j = 0; j < i; j++)
            assert_int_equal(p[j], 0);
        memset(p, 0xaa, i);
    }
    char *s = arena_strndup(&a, "hello world", 5);
    assert_string_equal(s, "hello");
    assert_string_equal(arena_strdup(&a, "x"), "x");
    arena_free(&a);
    assert_null(a.chunks);
    assert_int_equal(a.allocated, 0);
}

static void test_big_allocation_and_reset(void **state)
{
    (void)state;
    struct arena a = ARENA_INIT;
    arena_alloc(&a, 100);
    size_t small = a.allocated;
    char *big = arena_alloc(&a, 1 << 20);
    big[(1 << 20) - 1] = 'x';
    assert_true(a.allocated >= small + (1 << 20));
    arena_reset(&a);
    /* only the first, small chunk stays for the next command */
    assert_int_equal(a.allocated, small);
    arena_alloc(&a, 10);
    assert_int_equal(a.allocated, small);
    arena_free(&a);

    /* a first allocation that is big is not kept */
    arena_alloc(&a, 1 << 16);
    arena_reset(&a);
    assert_int_equal(a.allocated, 0);
    arena_free(&a);
}

static char order[8];
static size_t n_order;
static void note(void *arg)
{
    order[n_order++] = *(char *)arg;
}

static void test_cleanups_newest_first(void **state)
{
    (void)state;
    struct arena a = ARENA_INIT;
    static char x = 'a', y = 'b', z = 'c';
    arena_on_reset(&a, note, &x);
    arena_on_reset(&a, note, &y);
    arena_on_reset(&a, note, &z);
    arena_reset(&a);
    assert_int_equal(n_order, 3);
    assert_memory_equal(order, "cba", 3);
    arena_reset(&a); /* each runs once */
    assert_int_equal(n_order, 3);
    arena_on_reset(&a, note, &x);
    arena_free(&a);
    assert_int_equal(n_order, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_aligned_zeroed),
        cmocka_unit_test(test_big_allocation_and_reset),
        cmocka_unit_test(test_cleanups_newest_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
