/* Unit tests for sentinel/state.c and the vote rule of peer.c: the state
 * file round-trips (id, config epoch, master, vote); a vote, once
 * persisted, is never given to another candidate in the same epoch, even
 * after a restart; a damaged file refuses to load (forgetting a vote is
 * worse than not starting); an unwritable directory refuses the vote. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "peer.h"
#include "sentinel.h"
#include "state.h"

static char dir[256];

static const char ID_A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char ID_B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/* A fresh snt with groups g1 (nodes h:1, h:2) and g2 (h:3, h:4), as the
 * topology would build it: master = first node, epoch 0. */
static void fresh_snt(void)
{
    free(snt.groups);
    memset(&snt, 0, sizeof snt);
    snt.conf.dir = dir;
    snt.ngroups = 2;
    snt.groups = calloc(2, sizeof *snt.groups);
    for (int gi = 0; gi < 2; gi++) {
        struct sgroup *g = &snt.groups[gi];
        snprintf(g->name, sizeof g->name, "g%d", gi + 1);
        g->nnodes = 2;
        for (int i = 0; i < 2; i++) {
            snprintf(g->nodes[i].host, sizeof g->nodes[i].host, "h");
            g->nodes[i].port = 1 + 2 * gi + i;
        }
        snprintf(g->master_host, sizeof g->master_host, "h");
        g->master_port = g->nodes[0].port;
    }
    snt.nsentinels = 3;
    snt.quorum = 2;
}

static void state_file(char *out, size_t n)
{
    snprintf(out, n, "%s/sentinel.state", dir);
}

static void write_state(const char *text)
{
    char path[512];
    state_file(path, sizeof path);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/strata-test-sentinel-state-XXXXXX");
    assert_non_null(mkdtemp(dir));
    fresh_snt();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char path[512];
    state_file(path, sizeof path);
    unlink(path);
    snprintf(path, sizeof path, "%s/sentinel.state.tmp", dir);
    unlink(path);
    chmod(dir, 0700);
    rmdir(dir);
    free(snt.groups);
    snt.groups = NULL;
    snt.conf.dir = NULL;
    return 0;
}

static void test_new_id_and_round_trip(void **state)
{
    (void)state;
    assert_int_equal(state_load(), 0);           /* no file: a new id, saved */
    assert_int_equal(strlen(snt.myid), SNT_ID_LEN);
    char id[SNT_ID_LEN + 1];
    memcpy(id, snt.myid, sizeof id);
    struct sgroup *g = &snt.groups[1];
    g->config_epoch = 7;
    g->master_port = 4;
    g->vote_epoch = 9;
    snprintf(g->vote_leader, sizeof g->vote_leader, "%s", ID_A);
    assert_int_equal(state_save(), 0);

    fresh_snt();
    assert_int_equal(state_load(), 0);
    assert_string_equal(snt.myid, id);
    assert_int_equal(snt.groups[0].config_epoch, 0);
    assert_int_equal(snt.groups[0].master_port, 1);
    assert_string_equal(snt.groups[0].vote_leader, "");
    assert_int_equal(snt.groups[1].config_epoch, 7);
    assert_string_equal(snt.groups[1].master_host, "h");
    assert_int_equal(snt.groups[1].master_port, 4);
    assert_int_equal(snt.groups[1].vote_epoch, 9);
    assert_string_equal(snt.groups[1].vote_leader, ID_A);
    assert_true(snt.groups[1].vote_ms > 0);       /* counts as just voted */
}

static void test_vote_once_per_epoch_across_restart(void **state)
{
    (void)state;
    const char *leader;
    uint64_t le;
    assert_int_equal(state_load(), 0);
    peer_vote(0, 5, ID_A, &leader, &le);
    assert_string_equal(leader, ID_A);
    assert_int_equal(le, 5);
    peer_vote(0, 5, ID_B, &leader, &le);          /* same epoch: still A */
    assert_string_equal(leader, ID_A);
    /* Restart: the vote is on disk. */
    fresh_snt();
    assert_int_equal(state_load(), 0);
    peer_vote(0, 5, ID_B, &leader, &le);
    assert_string_equal(leader, ID_A);
    assert_int_equal(le, 5);
    peer_vote(0, 4, ID_B, &leader, &le);          /* older epoch: no */
    assert_string_equal(leader, ID_A);
    peer_vote(0, 6, ID_B, &leader, &le);          /* newer epoch: yes */
    assert_string_equal(leader, ID_B);
    assert_int_equal(le, 6);
    /* No vote at or below the config epoch. */
    snt.groups[1].config_epoch = 8;
    peer_vote(1, 8, ID_B, &leader, &le);
    assert_string_equal(leader, "*");
    assert_int_equal(le, 0);
}

static void test_vote_refused_when_not_durable(void **state)
{
    (void)state;
    const char *leader;
    uint64_t le;
    assert_int_equal(state_load(), 0);
    if (geteuid() == 0) {
        /* root writes through permissions: make the target a directory. */
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s/sentinel.state.tmp", dir);
        assert_int_equal(mkdir(tmp, 0700), 0);
        peer_vote(0, 3, ID_A, &leader, &le);
        rmdir(tmp);
    } else {
        chmod(dir, 0500);
        peer_vote(0, 3, ID_A, &leader, &le);
        chmod(dir, 0700);
    }
    assert_string_equal(leader, "*");
    assert_int_equal(le, 0);
    assert_int_equal(snt.groups[0].vote_epoch, 0);
}

static void test_unknown_group_and_master_are_dropped(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text,
             "strata-sentinel-state 1\nmyid %s\n"
             "group g1 3 h:999 3 -\n"          /* master no longer listed */
             "group gone 9 h:1 9 -\n"          /* group no longer listed */
             "group g2 2 h:4 2 %s\n",
             ID_A, ID_B);
    write_state(text);
    assert_int_equal(state_load(), 0);
    assert_string_equal(snt.myid, ID_A);
    assert_int_equal(snt.groups[0].config_epoch, 3);
    assert_int_equal(snt.groups[0].master_port, 1);      /* the first node */
    assert_int_equal(snt.groups[1].master_port, 4);
    assert_string_equal(snt.groups[1].vote_leader, ID_B);
}

static void test_corrupt_files_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",                                                        /* empty: no id */
        "strata-sentinel-state 2\nmyid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
        "strata-sentinel-state 1\n",                               /* no id */
        "strata-sentinel-state 1\nmyid xyz\n",
        "strata-sentinel-state 1\nmyid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
        "group g1 3 h:1 3\n",                                      /* truncated line */
        "strata-sentinel-state 1\nmyid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
        "group g1 x h:1 3 -\n",                                    /* bad epoch */
        "strata-sentinel-state 1\nmyid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
        "group g1 3 h 3 -\n",                                      /* bad address */
        "strata-sentinel-state 1\nmyid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
        "group g1 3 h:1 3 not-an-id\n",                            /* bad leader */
        "strata-sentinel-state 1\nmyid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
        "group\n",
        "strata-sentinel-state 1\nmyid aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\ngarbage\n",
    };
    char path[512], back[1024];
    state_file(path, sizeof path);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fresh_snt();
        write_state(bad[i]);
        if (state_load() != -1) fail_msg("state file %zu loaded: %s", i, bad[i]);
        /* Left as it was for the operator to look at, never replaced by a
         * fresh state (that would forget the votes it may hold). */
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        size_t n = fread(back, 1, sizeof back - 1, f);
        fclose(f);
        back[n] = '\0';
        assert_string_equal(back, bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_id_and_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vote_once_per_epoch_across_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vote_refused_when_not_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_group_and_master_are_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_files_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
